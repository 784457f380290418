"""Label Studio as a labeling backend: labeling configs, its REST API, conversion to Ground Truth's output.

Standard library and ``requests`` only (no Airflow, no Label Studio import): the provider
talks to a Label Studio server over HTTP, exactly as it would to a team's own server.
"""
