"""The provider's pages in the Airflow UI (see :mod:`gt_provider.ui.plugin`)."""
