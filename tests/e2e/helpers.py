"""What the example-DAG tests share: loading a DAG from dags/ and reading Asset events back."""

from __future__ import annotations

from typing import Any

PUBLIC_WORKFORCE = "arn:aws:sagemaker:us-east-1:394669845002:workteam/public-crowd/default"


def example_dag(dag_id: str) -> Any:
    """A DAG of dags/, parsed as the DAG processor would (dag.test() needs its bundle)."""
    from airflow.dag_processing.dagbag import DagBag

    from tests.conftest import REPO

    return DagBag(dag_folder=str(REPO / "dags")).dags[dag_id]


def asset_events(asset_name: str) -> list[tuple[dict, str]]:
    """(extra, source DAG) of every event of the Asset named ``asset_name``, oldest first."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        query = (
            select(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.name == asset_name)
            .order_by(AssetEvent.id)
        )
        return [(event.extra, event.source_dag_id) for event in session.scalars(query)]
