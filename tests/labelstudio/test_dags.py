"""The labeling DAGs on Label Studio, unchanged: the form's ``backend`` is the only difference.

``dag.test()`` runs the real DAGs against the local AWS (images, manifests, datasets,
training) and a real Label Studio server (projects, annotations), while simulated
annotators -- three real Label Studio users -- label through the API in a thread, as
people would in the browser.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from gt_provider.labelstudio.client import LabelStudioClient
from gt_provider.labelstudio.simulate import AnnotatorTeam, s3_fetch
from tests.e2e.helpers import example_dag

pytestmark = pytest.mark.e2e


@pytest.fixture
def annotator_team(aws, label_studio, label_studio_annotators) -> Iterator[AnnotatorTeam]:
    fetch = s3_fetch(aws.client("s3"))
    team = AnnotatorTeam(label_studio.url, label_studio.token, label_studio_annotators, fetch=fetch, interval=1).start()
    yield team
    team.stop()


def _output(aws, labeling: dict) -> list[dict]:
    return [json.loads(line) for line in aws.get_text(labeling["output_manifest_uri"]).splitlines()]


def test_the_image_dag_labels_on_label_studio_into_a_dataset_and_a_model(aws, airflow_db, label_studio, annotator_team):
    dags = {dag_id: example_dag(dag_id) for dag_id in ("gt_image_classification", "gt_train_on_dataset")}

    run = dags["gt_image_classification"].test(
        run_conf={"max_objects": 50, "workers_per_object": 3, "backend": "label_studio"}
    )

    assert run.state == "success"
    assert aws.client("sagemaker").list_labeling_jobs()["LabelingJobSummaryList"] == []  # no Ground Truth job
    [labeling_ti] = [ti for ti in run.get_task_instances() if ti.task_id == "label_images"]
    labeling = labeling_ti.xcom_pull(task_ids="label_images")
    client = LabelStudioClient(label_studio.url, label_studio.token)
    project = client.find_project(labeling["job_name"])
    assert labeling_ti.xcom_pull(task_ids="label_images", key="gt_label_studio_project").endswith(
        f"/projects/{project['id']}/data"
    )
    assert labeling_ti.xcom_pull(task_ids="label_images", key="gt_labeling_job") is None  # no console page
    assert project["task_number"] == 50 and labeling["labeling_job_arn"].endswith(f"/projects/{project['id']}/data")
    lines = _output(aws, labeling)
    assert len(lines) == 50 and all(line["label-metadata"]["human-annotated"] == "yes" for line in lines)
    card = json.loads(aws.get_text(f"s3://{aws.bucket}/datasets/digits/v=1/dataset.json"))
    assert card["counts"]["total"] == 50 and card["job_names"] == [labeling["job_name"]]

    training_run = dags["gt_train_on_dataset"].test()

    assert training_run.state == "success"
    [training] = aws.client("sagemaker").list_training_jobs()["TrainingJobSummaries"]
    assert training["TrainingJobStatus"] == "Completed"
