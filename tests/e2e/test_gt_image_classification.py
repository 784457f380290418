"""The walking skeleton, whole: gt_image_classification with dag.test() against the local AWS."""

from __future__ import annotations

import io
import json
import tarfile

import pytest

pytestmark = pytest.mark.e2e


def test_dag_labels_builds_a_dataset_and_trains_a_model(aws, airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    from tests.conftest import REPO

    aws.configure(speed=50)  # a labeling job that really moves through its states, fast
    dag = DagBag(dag_folder=str(REPO / "dags")).dags["gt_image_classification"]

    run = dag.test(run_conf={"max_objects": 120, "workers_per_object": 2})

    assert run.state == "success"
    sagemaker = aws.client("sagemaker")
    [job] = sagemaker.list_labeling_jobs()["LabelingJobSummaryList"]
    labeling = sagemaker.describe_labeling_job(LabelingJobName=job["LabelingJobName"])
    assert labeling["LabelingJobStatus"] == "Completed"
    assert labeling["LabelCounters"]["TotalLabeled"] == 120
    assert labeling["HumanTaskConfig"]["NumberOfHumanWorkersPerDataObject"] == 2  # the form's value, as an int

    [training_summary] = sagemaker.list_training_jobs()["TrainingJobSummaries"]
    training = sagemaker.describe_training_job(TrainingJobName=training_summary["TrainingJobName"])
    assert training["TrainingJobStatus"] == "Completed"
    metrics = {m["MetricName"]: m["Value"] for m in training["FinalMetricDataList"]}
    assert 0.5 < metrics["validation:accuracy"] <= 1.0

    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in training["InputDataConfig"]}
    train_lines = aws.get_text(channels["train"]).splitlines()
    validation_lines = aws.get_text(channels["validation"]).splitlines()
    assert len(train_lines) + len(validation_lines) == 120
    assert not {json.loads(x)["source-ref"] for x in train_lines} & {
        json.loads(x)["source-ref"] for x in validation_lines
    }

    bucket, _, key = training["ModelArtifacts"]["S3ModelArtifacts"][5:].partition("/")
    artifact = aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(artifact)) as tar:
        assert {"model.pkl", "metrics.json"} <= set(tar.getnames())


def test_dag_completes_under_30_percent_throttling_without_duplicate_jobs(aws, airflow_db, monkeypatch):
    """30 % of SageMaker calls throttled: botocore retries (configured on the connection, as a
    team facing throttling would), the run succeeds, and no call ends up creating a second job."""
    import os

    from airflow.dag_processing.dagbag import DagBag

    from tests.conftest import REPO

    connection = json.loads(os.environ["AIRFLOW_CONN_AWS_DEFAULT"])
    connection["extra"]["config_kwargs"] = {"retries": {"mode": "standard", "max_attempts": 15}}
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(connection))
    aws.configure(speed=50, throttle_rate=0.3)
    dag = DagBag(dag_folder=str(REPO / "dags")).dags["gt_image_classification"]

    run = dag.test(run_conf={"max_objects": 40, "workers_per_object": 1})

    aws.configure(speed=50, throttle_rate=0.0)
    assert run.state == "success"
    sagemaker = aws.client("sagemaker")
    assert len(sagemaker.list_labeling_jobs()["LabelingJobSummaryList"]) == 1
    assert len(sagemaker.list_training_jobs()["TrainingJobSummaries"]) == 1


def test_second_run_with_nothing_new_skips_instead_of_paying_twice(aws, airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    from tests.conftest import REPO

    dag = DagBag(dag_folder=str(REPO / "dags")).dags["gt_image_classification"]
    first = dag.test(run_conf={"max_objects": 30, "workers_per_object": 1})
    second = dag.test(run_conf={"max_objects": 30, "workers_per_object": 1})

    assert first.state == second.state == "success"
    states = {ti.task_id: ti.state for ti in second.get_task_instances()}
    assert states["build_input_manifest"] == "skipped"
    assert states["label_images"] == states["train_model"] == "skipped"
    sagemaker = aws.client("sagemaker")
    assert len(sagemaker.list_labeling_jobs()["LabelingJobSummaryList"]) == 1
    ledger = aws.get_text(f"s3://{aws.bucket}/labeling/ledger/gt_image_classification.jsonl").splitlines()
    assert len(ledger) == 30
