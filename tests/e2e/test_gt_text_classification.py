"""gt_text_classification with dag.test() against the local AWS: a text drop in S3 -> labels -> dataset."""

from __future__ import annotations

import json

import pytest

from tests.e2e.helpers import PUBLIC_WORKFORCE, asset_events, example_dag

pytestmark = pytest.mark.e2e

DAG_ID = "gt_text_classification"


def _only_job(aws) -> dict:
    sagemaker = aws.client("sagemaker")
    [summary] = sagemaker.list_labeling_jobs()["LabelingJobSummaryList"]
    return sagemaker.describe_labeling_job(LabelingJobName=summary["LabelingJobName"])


def test_labels_the_new_texts_of_the_drop_into_a_dataset_version_then_skips_when_nothing_is_new(aws, airflow_db):
    aws.configure(speed=50)  # a labeling job that really moves through its states, fast
    dag = example_dag(DAG_ID)
    events_before = len(asset_events("gt_dataset_tickets"))

    run = dag.test(run_conf={"max_objects": 40, "workers_per_object": 2})

    assert run.state == "success"
    job = _only_job(aws)
    assert job["LabelingJobStatus"] == "Completed"
    assert job["LabelCounters"]["TotalLabeled"] == 40
    assert job["HumanTaskConfig"]["NumberOfHumanWorkersPerDataObject"] == 2
    assert job["HumanTaskConfig"]["PreHumanTaskLambdaArn"].endswith("PRE-TextMultiClass")
    drop = aws.get_text(f"s3://{aws.bucket}/raw/tickets/tickets.jsonl").splitlines()
    assert len(drop) == 40  # the demo drop is seeded with max_objects tickets
    input_lines = [json.loads(line) for line in aws.get_text(job["InputConfig"]["DataSource"]["S3DataSource"]["ManifestS3Uri"]).splitlines()]  # fmt: skip
    assert {"source", "ticket_id", "gt-local-answer"} <= set(input_lines[0])

    card = json.loads(aws.get_text(f"s3://{aws.bucket}/datasets/tickets/v=1/dataset.json"))
    assert card["counts"]["total"] == 40 and sum(card["counts"]["per_split"].values()) == 40
    assert card["job_names"] == [job["LabelingJobName"]]
    assert sorted(card["label_map"].values()) == ["account", "billing", "shipping", "technical"]
    assert {"jsonl", "csv", "fasttext"} <= set(card["files"])
    fasttext = aws.get_text(f"s3://{aws.bucket}/datasets/tickets/v=1/fasttext/train.txt").splitlines()
    assert len(fasttext) == card["counts"]["per_split"]["train"]
    assert all(line.startswith("__label__") for line in fasttext)
    csv_header = aws.get_text(f"s3://{aws.bucket}/datasets/tickets/v=1/csv/train.csv").splitlines()[0]
    assert csv_header.startswith("source,")

    [(extra, source_dag)] = asset_events("gt_dataset_tickets")[events_before:]
    assert source_dag == DAG_ID
    assert extra["version"] == 1 and extra["uri"] == f"s3://{aws.bucket}/datasets/tickets/v=1/"
    assert extra["counts"] == card["counts"]["per_split"] and extra["total"] == 40
    # All human, priced: no saving, and no thresholds to show.
    assert extra["cost"]["actual_usd"] == card["cost"]["actual_usd"] > 0 and extra["cost"]["saved_usd"] == 0
    assert card["confidence_thresholds"] == {}

    second = dag.test(run_conf={"max_objects": 40, "workers_per_object": 2})

    assert second.state == "success"
    states = {ti.task_id: ti.state for ti in second.get_task_instances()}
    assert states["check_params"] == states["seed_sample_text"] == "success"
    assert states["build_input_manifest"] == "skipped"
    assert states["label_texts"] == states["build_dataset"] == "skipped"
    assert len(aws.client("sagemaker").list_labeling_jobs()["LabelingJobSummaryList"]) == 1
    ledger = aws.get_text(f"s3://{aws.bucket}/labeling/ledger/gt_text_classification.jsonl").splitlines()
    assert len(ledger) == 40
    assert len(asset_events("gt_dataset_tickets")) == events_before + 1  # no new version, no event


def test_multi_label_run_writes_several_labels_per_ticket(aws, airflow_db):
    run = example_dag(DAG_ID).test(
        run_conf={"task_type": "TextMultiClassMultiLabel", "max_objects": 30, "workers_per_object": 1}
    )

    assert run.state == "success"
    job = _only_job(aws)
    assert job["HumanTaskConfig"]["PreHumanTaskLambdaArn"].endswith("PRE-TextMultiClassMultiLabel")
    assert job["LabelCounters"]["TotalLabeled"] == 30
    card = json.loads(aws.get_text(f"s3://{aws.bucket}/datasets/tickets/v=1/dataset.json"))
    assert card["output_type"] == "groundtruth/text-classification-multilabel"
    assert card["counts"]["total"] == 30
    fasttext = []
    for split in card["counts"]["per_split"]:
        fasttext += aws.get_text(f"s3://{aws.bucket}/datasets/tickets/v=1/fasttext/{split}.txt").splitlines()
    # fastText has no line for a ticket whose workers chose no class at all; the card has
    # ``without_labels`` only when there are such tickets (the simulated workers differ per run).
    assert len(fasttext) == 30 - sum(card["counts"].get("without_labels", {}).values())
    assert any(line.split(" ", 2)[1].startswith("__label__") for line in fasttext)  # a ticket about two things


def test_the_form_refuses_the_public_workforce_and_impossible_values(aws, airflow_db):
    from airflow.sdk.definitions.param import ParamValidationError

    dag = example_dag(DAG_ID)

    for conf in (
        {"workteam_arn": PUBLIC_WORKFORCE},
        {"workers_per_object": 0},
        {"task_type": "ImageMultiClass"},
        {"labels": ["only-one"]},
        {"labels": ["billing", "billing"]},
        {"short_instructions": "x" * 1001},
    ):
        with pytest.raises(ParamValidationError):
            dag.test(run_conf=conf)
    assert aws.client("sagemaker").list_labeling_jobs()["LabelingJobSummaryList"] == []


def test_a_public_workforce_variable_fails_the_first_task_naming_it(aws, airflow_db, monkeypatch):
    """The form cannot see Variables: check_params refuses them, says which, and is not retried."""
    from gt_provider import callbacks

    monkeypatch.setenv("AIRFLOW_VAR_GT_WORKTEAM_ARN", PUBLIC_WORKFORCE)
    monkeypatch.setattr(callbacks, "_handlers", [])
    failures: list = []
    callbacks.on_failure(failures.append)

    run = example_dag(DAG_ID).test(run_conf={"labels": ["billing", "  "]})

    assert run.state == "failed"
    states = {ti.task_id: (ti.state, ti.try_number) for ti in run.get_task_instances()}
    assert states["check_params"] == ("failed", 1)
    assert states["seed_sample_text"][0] == states["label_texts"][0] == "upstream_failed"
    [context] = failures
    message = str(context["exception"])
    assert "Variable 'gt_workteam_arn'" in message and "public workforce" in message
    assert "param 'labels': label names must not be blank" in message
    assert aws.client("sagemaker").list_labeling_jobs()["LabelingJobSummaryList"] == []


def test_automated_labeling_chains_the_model_from_night_to_night(aws, airflow_db):
    from include.sample_text import ticket_drop

    # A drop of 2,600 tickets: two nights of 1,300 new ones, each over Ground Truth's 1,250 minimum.
    aws.put_text("raw/tickets/tickets.jsonl", ticket_drop(2600))
    dag = example_dag(DAG_ID)
    conf = {"max_objects": 1300, "automated_labeling": True}

    first = dag.test(run_conf=conf)
    second = dag.test(run_conf=conf)

    assert first.state == second.state == "success"
    sagemaker = aws.client("sagemaker")
    names = [job["LabelingJobName"] for job in sagemaker.list_labeling_jobs(SortBy="CreationTime")["LabelingJobSummaryList"]]  # fmt: skip
    tonight, last_night = (sagemaker.describe_labeling_job(LabelingJobName=name) for name in reversed(names))
    model = last_night["LabelingJobOutput"]["FinalActiveLearningModelArn"]
    assert "InitialActiveLearningModelArn" not in last_night["LabelingJobAlgorithmsConfig"]
    assert tonight["LabelingJobAlgorithmsConfig"]["InitialActiveLearningModelArn"] == model
    assert last_night["LabelCounters"]["MachineLabeled"] > 0
    assert tonight["LabelCounters"]["HumanLabeled"] < last_night["LabelCounters"]["HumanLabeled"]
    kept = json.loads(aws.get_text(f"s3://{aws.bucket}/labeling/ledger/gt_text_classification.model.json"))
    assert kept == {
        "final_active_learning_model_arn": tonight["LabelingJobOutput"]["FinalActiveLearningModelArn"],
        "job_name": tonight["LabelingJobName"],
    }
    labeled = second.get_task_instance("label_texts").xcom_pull(task_ids="label_texts")
    cost = labeled["cost"]
    assert cost["saved_usd"] > 0
    # The thresholds come from the job's IterationCompleted events, one per iteration that machine-labeled.
    assert labeled["confidence_thresholds"] and all(0 < t <= 1 for t in labeled["confidence_thresholds"])

    # The version tonight built carries what tonight's job cost (the parent's objects were paid for before).
    card = json.loads(aws.get_text(f"s3://{aws.bucket}/datasets/tickets/v=2/dataset.json"))
    assert card["cost"]["jobs"] == {tonight["LabelingJobName"]: round(cost["actual_usd"], 2)}
    assert card["cost"]["saved_usd"] == round(cost["saved_usd"], 2)
    assert card["confidence_thresholds"] == {tonight["LabelingJobName"]: labeled["confidence_thresholds"]}
    readme = aws.get_text(f"s3://{aws.bucket}/datasets/tickets/v=2/README.md")
    assert f"This version cost ${card['cost']['actual_usd']:,.2f} to label" in readme
    assert f"automation saved ${card['cost']['saved_usd']:,.2f}" in readme
    assert f"{labeled['confidence_thresholds'][0]:.3f}" in readme
    extra = next(e for e, _ in asset_events("gt_dataset_tickets") if e.get("version") == 2)
    assert extra["cost"] == {
        "currency": "USD",
        "actual_usd": card["cost"]["actual_usd"],
        "saved_usd": card["cost"]["saved_usd"],
        "all_human_usd": card["cost"]["all_human_usd"],
    }

    assert second.get_task_instance("previous_model").xcom_pull(task_ids="previous_model") == model
    fresh = dag.test(run_conf={**conf, "start_fresh": True})
    assert fresh.get_task_instance("previous_model").xcom_pull(task_ids="previous_model") is None


def test_automated_labeling_under_1250_objects_fails_before_any_job(aws, airflow_db):
    run = example_dag(DAG_ID).test(run_conf={"max_objects": 40, "automated_labeling": True})

    assert run.state == "failed"
    assert {ti.task_id: ti.state for ti in run.get_task_instances()}["label_texts"] == "failed"
    assert aws.client("sagemaker").list_labeling_jobs()["LabelingJobSummaryList"] == []
