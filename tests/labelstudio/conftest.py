"""A real Label Studio server for the session, and simulated annotators on it.

The server is installed (first run: its own virtualenv, about a minute) and started once
per session on a free port of 127.0.0.1, with a data directory under pytest's temporary
directory (a developer's ``.labelstudio`` is never touched), and stopped by its PID at the
end. Nothing is mocked: the tests talk to it over HTTP as the provider does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from gt_provider.labelstudio import server
from gt_provider.labelstudio.simulate import SimulatedAnnotator, with_accuracies
from gt_provider.labelstudio.users import create_annotators


@pytest.fixture(scope="session")
def label_studio_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[server.LabelStudioServer]:
    running = server.start(data_dir=tmp_path_factory.mktemp("label-studio"))
    try:
        yield running
    finally:
        server.stop(running.data_dir)


@pytest.fixture(scope="session")
def label_studio_annotators(label_studio_server: server.LabelStudioServer) -> list[SimulatedAnnotator]:
    """Three annotators, 95 %, 85 % and 75 % accurate: consolidation has disagreement to resolve."""
    accounts = create_annotators(label_studio_server.url, label_studio_server.token, 3)
    return with_accuracies(accounts)


@pytest.fixture
def label_studio(
    label_studio_server: server.LabelStudioServer, monkeypatch: pytest.MonkeyPatch
) -> server.LabelStudioServer:
    """The server, with the ``label_studio_default`` connection pointing at it."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_LABEL_STUDIO_DEFAULT",
        json.dumps(
            {"conn_type": "labelstudio", "host": label_studio_server.url, "password": label_studio_server.token}
        ),
    )
    return label_studio_server
