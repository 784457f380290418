"""Lineage through the real OpenLineage listener: raw objects -> input manifest -> output manifest -> dataset -> model.

The OpenLineage provider is turned on for these runs with its file transport (the events a
lineage backend such as Marquez would receive, one JSON line each), the nightly DAG and the
training DAG run with ``dag.test()`` against the local AWS -- in a fresh interpreter, since
the provider decides once per process, at plugin load, whether its listener runs -- and the
test follows the datasets from one task's outputs to the next task's inputs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.e2e


#: The two runs, in a fresh interpreter: OpenLineage's provider decides at plugin load, once
#: per process, whether its listener runs, so it must be on before Airflow starts there.
_RUNS = """
from tests.e2e.helpers import example_dag
nightly = example_dag("gt_image_classification").test(run_conf={"max_objects": 60, "workers_per_object": 1})
training = example_dag("gt_train_on_dataset").test()
print("STATES", nightly.state, training.state)
"""


@pytest.fixture
def lineage_events(tmp_path: Path) -> Path:
    return tmp_path / "openlineage.jsonl"


def _run_with_lineage(events: Path) -> str:
    transport = {"type": "file", "log_file_path": str(events), "append": True}
    env = {
        **os.environ,  # the test's Airflow home, metadata database and aws_default (the local AWS)
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(transport),
        "AIRFLOW__OPENLINEAGE__DISABLED": "False",
        "PYTHONPATH": os.pathsep.join(filter(None, (str(REPO), str(REPO / "plugins"), os.environ.get("PYTHONPATH")))),
    }
    done = subprocess.run(
        [sys.executable, "-c", _RUNS], env=env, cwd=REPO, capture_output=True, text=True, timeout=540, check=False
    )
    states = [line for line in done.stdout.splitlines() if line.startswith("STATES")]
    assert done.returncode == 0 and states, f"the runs did not finish:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return states[-1]


def _complete(events: Path) -> dict[str, dict]:
    """The COMPLETE event of each task (job name ``<dag>.<task>``)."""
    found = {}
    for line in events.read_text().splitlines():
        event = json.loads(line)
        if event.get("eventType") == "COMPLETE":
            found[event["job"]["name"]] = event
    return found


def _names(datasets: list[dict]) -> list[tuple[str, str]]:
    return [(dataset["namespace"], dataset["name"]) for dataset in datasets]


def _schema(dataset: dict) -> list[str]:
    return [field["name"] for field in dataset["facets"]["schema"]["fields"]]


def test_a_night_and_its_training_link_raw_objects_to_the_model(aws, airflow_db, lineage_events):
    aws.configure(speed=50)
    assert _run_with_lineage(lineage_events) == "STATES success success"

    events = _complete(lineage_events)
    bucket = f"s3://{aws.bucket}"
    manifest = events["gt_image_classification.build_input_manifest"]
    assert _names(manifest["inputs"]) == [(bucket, "raw/digits/")]
    [input_manifest] = manifest["outputs"]
    assert input_manifest["name"].endswith("/input.manifest")
    assert _schema(input_manifest)[0] == "source-ref"

    validated = events["gt_image_classification.validate_input_manifest"]
    assert _names(validated["inputs"]) == _names(validated["outputs"]) == _names([input_manifest])

    labeling = events["gt_image_classification.label_images"]
    assert _names(labeling["inputs"]) == _names([input_manifest])
    [output_manifest] = labeling["outputs"]
    assert output_manifest["name"].endswith("/manifests/output/output.manifest")
    assert _schema(output_manifest) == ["source-ref", "label", "label-metadata"]

    recorded = events["gt_image_classification.record_labeled_objects"]
    assert _names(recorded["inputs"]) == _names([output_manifest])
    assert _names(recorded["outputs"]) == [(bucket, "labeling/ledger/gt_image_classification.jsonl")]

    built = events["gt_image_classification.build_dataset"]
    assert _names(built["inputs"]) == _names([output_manifest])
    version_files = {name for namespace, name in _names(built["outputs"]) if namespace == bucket}
    assert "datasets/digits/v=1/dataset.json" in version_files
    channels = {name for name in version_files if name.startswith("datasets/digits/v=1/augmented-manifest/")}
    assert channels, version_files

    trained = events["gt_train_on_dataset.train_model"]
    # The Amazon provider's training operator names its channels: they are the version's files.
    assert {name for _, name in _names(trained["inputs"])} <= channels
    assert trained["inputs"] and trained["outputs"], trained
