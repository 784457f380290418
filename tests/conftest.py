"""Shared fixtures: an Airflow home per session and the local AWS on a free port.

The environment is set here, at import, before anything imports Airflow: Airflow reads its
configuration once per process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="gt-provider-airflow-"))
os.environ.update(
    {
        "AIRFLOW_HOME": str(_AIRFLOW_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_AIRFLOW_HOME}/airflow.db",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "GT_POLL_SECONDS": "1",
    }
)
os.environ.pop("AWS_PROFILE", None)
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # include/ is importable as in the Airflow image


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A migrated SQLite metadata database for dag.test()."""
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        check=True,
        capture_output=True,
        env=os.environ.copy(),
    )
    return _AIRFLOW_HOME


@pytest.fixture(scope="session")
def label_studio_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real Label Studio server for the session (its own virtualenv, installed on first use).

    Started once on a free port of 127.0.0.1 with a data directory under pytest's temporary
    directory (a developer's ``.labelstudio`` is never touched), stopped by its PID at the end.
    """
    from gt_provider.labelstudio import server

    running = server.start(data_dir=tmp_path_factory.mktemp("label-studio"))
    try:
        yield running
    finally:
        server.stop(running.data_dir)


@pytest.fixture(scope="session")
def local_aws_endpoint() -> Iterator[str]:
    from gt_provider.local.server import LocalAws

    with LocalAws() as aws:
        yield aws.endpoint_url


@dataclass
class LocalAwsSession:
    """The local AWS of one test: endpoint, demo resources and boto3 clients."""

    endpoint_url: str
    bucket: str
    role_arn: str
    workteam_arn: str

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(service, endpoint_url=self.endpoint_url, region_name="us-east-1")

    def put_text(self, key: str, text: str) -> str:
        self.client("s3").put_object(Bucket=self.bucket, Key=key, Body=text.encode())
        return f"s3://{self.bucket}/{key}"

    def get_text(self, uri: str) -> str:
        bucket, _, key = uri[5:].partition("/")
        return self.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode()

    def configure(self, **settings: Any) -> None:
        from gt_provider.local import control

        control.configure(self.endpoint_url, **settings)

    def advance(self, seconds: float) -> None:
        from gt_provider.local import control

        control.advance(self.endpoint_url, seconds)

    def advance_while_waiting(self, monkeypatch: pytest.MonkeyPatch, seconds: float) -> list[float]:
        """Make the blocking wait's and the trigger's sleeps move the manual clock by ``seconds``.

        No wall-clock timer: a job on the manual clock ends only when the code under test
        really sleeps between checks, so a test can tell that it waited. Returns the list of
        sleeps taken (one entry per sleep), for the test to assert on.
        """
        import asyncio
        from types import SimpleNamespace

        sleeps: list[float] = []

        def sleep(delay: float) -> None:
            sleeps.append(delay)
            self.advance(seconds)

        async def async_sleep(delay: float) -> None:
            sleep(delay)
            await asyncio.sleep(0)

        monkeypatch.setattr("gt_provider.hooks.ground_truth.time", SimpleNamespace(sleep=sleep))
        monkeypatch.setattr("gt_provider.backends.asyncio", SimpleNamespace(sleep=async_sleep))
        return sleeps


@pytest.fixture
def aws(local_aws_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> LocalAwsSession:
    """A clean local AWS (instant jobs, demo bucket/role/workteam) that aws_default points at."""
    from gt_provider.local import control
    from gt_provider.local.server import bootstrap
    from gt_provider.local.settings import Settings

    control.reset(local_aws_endpoint)
    control.configure(
        local_aws_endpoint,
        # Every setting back to its default first: what one test configured (say
        # stopping_seconds=0) must not leak into the next, whatever the order.
        **Settings().as_dict(),
    )
    control.configure(
        local_aws_endpoint,
        speed="instant",
        manual_clock=False,
        object_failure_rate=0.0,
        throttle_rate=0.0,
        server_error_rate=0.0,
        response_delays={},
        worker_accuracies=[0.97, 0.92, 0.88, 0.8, 0.7],
        seed=0,
    )
    resources = bootstrap(local_aws_endpoint)
    monkeypatch.setenv(
        "AIRFLOW_CONN_AWS_DEFAULT",
        json.dumps(
            {
                "conn_type": "aws",
                "login": "testing",
                "password": "testing",
                "extra": {"endpoint_url": local_aws_endpoint, "region_name": "us-east-1"},
            }
        ),
    )
    return LocalAwsSession(local_aws_endpoint, resources["bucket"], resources["role_arn"], resources["workteam_arn"])
