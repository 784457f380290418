"""The provider's Airflow plugin: a "Labeling jobs" page in the Airflow UI.

Registered through the ``airflow.plugins`` entry point. Every Airflow process loads
plugins, so this module imports nothing heavy: the FastAPI app is built only when the API
server asks for it.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from airflow.plugins_manager import AirflowPlugin

URL_PREFIX = "/gt-provider"


class GroundTruthUiPlugin(AirflowPlugin):
    """Labeling jobs of every DAG run, with progress, backend and a link to each job."""

    name = "gt_provider"
    external_views = [
        {
            "name": "Labeling jobs",
            "href": f"{URL_PREFIX}/labeling-jobs",
            "destination": "nav",
            "category": "browse",
            "url_route": "labeling-jobs",
        }
    ]

    @cached_property
    def fastapi_apps(self) -> list[dict[str, Any]]:  # type: ignore[override]
        from gt_provider.ui.app import create_app

        return [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "Ground Truth labeling jobs"}]
