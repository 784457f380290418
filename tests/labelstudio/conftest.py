"""Simulated annotators on the session's real Label Studio server (``label_studio_server``, tests/conftest.py).

Nothing is mocked: the tests talk to it over HTTP as the provider does.
"""

from __future__ import annotations

import json

import pytest

from gt_provider.labelstudio import server
from gt_provider.labelstudio.simulate import SimulatedAnnotator, with_accuracies
from gt_provider.labelstudio.users import create_annotators


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
