"""gt_image_classification on the whole stack of docker-compose.yaml, run natively.

CeleryExecutor with Redis, PostgreSQL, a scheduler, a dag-processor, a triggerer, one
Celery worker and the local AWS, each its own process, driven only through Airflow's REST
API and the local AWS's boto3 API, as a team would drive its deployment.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.stack.runner import NativeStack

pytestmark = pytest.mark.stack

DAG_ID = "gt_image_classification"
TRAIN_DAG_ID = "gt_train_on_dataset"
LABELING_TASK = "label_images"
CONF = {"max_objects": 60, "workers_per_object": 2}
#: A run takes well under a minute here; generous for a loaded CI machine, still bounded.
RUN_TIMEOUT = 300
#: State changes that the Execution API records in the audit log, one event each.
_STATE_EVENTS = {"queued", "running", "deferred", "success", "failed", "up_for_retry", "heartbeat timeout"}


def _state_events(stack: NativeStack, run_id: str, task_id: str) -> list[tuple[str, int]]:
    return [
        (event["event"], event["try_number"])
        for event in stack.api.events(DAG_ID, run_id, task_id)
        if event["event"] in _STATE_EVENTS
    ]


def _messages(records: list[dict[str, Any]]) -> list[str]:
    return [str(record.get("event", "")) for record in records]


def _index_of(messages: list[str], fragment: str) -> int:
    return next(i for i, message in enumerate(messages) if fragment in message)


def _labeling_jobs(stack: NativeStack) -> list[str]:
    summaries = stack.aws_client("sagemaker").list_labeling_jobs()["LabelingJobSummaryList"]
    return [summary["LabelingJobName"] for summary in summaries]


def test_triggered_run_waits_for_labeling_in_the_triggerer_and_its_dataset_triggers_training(stack: NativeStack):
    assert stack.api is not None
    stack.wait_for_idle(DAG_ID)
    stack.reset_local_aws()
    # Scheduled on the dataset Asset: unpaused, it runs when (and only when) an event arrives.
    stack.api.wait_for_dag(TRAIN_DAG_ID)
    stack.api.unpause(TRAIN_DAG_ID)
    run_id = stack.start_run(DAG_ID, CONF)

    stack.wait_for_run(DAG_ID, run_id, timeout=RUN_TIMEOUT)

    # The labeling wait deferred and was resumed within the same try: the Execution API
    # records each state change of the task instance in the audit log.
    assert _state_events(stack, run_id, LABELING_TASK) == [
        ("running", 1),
        ("deferred", 1),
        ("running", 1),
        ("success", 1),
    ]
    # ... and the triggerer fired it: its part of the try's log sits between the worker's
    # "deferred" and the worker's resumed execute_complete.
    messages = _messages(stack.api.task_log(DAG_ID, run_id, LABELING_TASK, 1))
    deferred = _index_of(messages, "Pausing task as DEFERRED")
    fired = _index_of(messages, "Trigger fired event")
    completed = _index_of(messages, "is Completed: 60/60 labeled")
    assert deferred < fired < completed
    result = stack.api.xcom(DAG_ID, run_id, LABELING_TASK)
    assert _labeling_jobs(stack) == [result["job_name"]]
    assert result["status"] == "Completed"
    assert result["label_counters"]["TotalLabeled"] == 60

    # The dataset version's Asset event started the training DAG, which read the event's extra.
    dataset = stack.api.xcom(DAG_ID, run_id, "build_dataset")
    api = stack.api
    [training_run] = stack.wait_until(
        lambda: api.runs(TRAIN_DAG_ID), what=f"an asset-triggered run of {TRAIN_DAG_ID}", timeout=120, interval=2
    )
    assert training_run["run_type"] == "asset_triggered"
    stack.wait_for_run(TRAIN_DAG_ID, training_run["dag_run_id"], timeout=RUN_TIMEOUT)
    resolved = stack.api.xcom(TRAIN_DAG_ID, training_run["dag_run_id"], "resolve_dataset")
    assert (resolved["version"], resolved["uri"]) == (dataset["version"], dataset["uri"])
    sagemaker = stack.aws_client("sagemaker")
    [summary] = sagemaker.list_training_jobs()["TrainingJobSummaries"]
    training = sagemaker.describe_training_job(TrainingJobName=summary["TrainingJobName"])
    assert training["TrainingJobStatus"] == "Completed"
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in training["InputDataConfig"]}
    assert channels["train"] == f"{dataset['uri']}augmented-manifest/train.manifest"
    evaluation = stack.api.xcom(TRAIN_DAG_ID, training_run["dag_run_id"], "evaluate")
    assert evaluation["better"] is True  # nothing was registered before
    packages = sagemaker.list_model_packages(ModelPackageGroupName="digits-classifier")["ModelPackageSummaryList"]
    assert len(packages) == 1
    stack.wait_for_idle(TRAIN_DAG_ID)


def test_worker_killed_while_creating_the_job_retries_and_reattaches_to_it(stack: NativeStack):
    [worker] = stack.services("celery-worker")
    stack.wait_for_idle(DAG_ID)
    stack.reset_local_aws()
    # The worker is killed while it waits for CreateLabelingJob's answer: the job exists in
    # AWS, the task never heard of it. (45 s: under botocore's 60 s read timeout.)
    stack.configure_local_aws(response_delays={"CreateLabelingJob": 45})
    try:
        run_id = stack.start_run(DAG_ID, CONF)
        [job_name] = stack.wait_until(
            lambda: (
                stack.api.task_instance(DAG_ID, run_id, LABELING_TASK)["state"] == "running" and _labeling_jobs(stack)
            ),
            what=f"{LABELING_TASK} running on the worker, its labeling job created",
            timeout=RUN_TIMEOUT,
        )
        stack.kill_service(worker)
    finally:
        stack.configure_local_aws(response_delays={})
    stack.start_service(worker)  # what `restart: always` does for the container
    stack.wait_healthy(worker)

    stack.wait_for_run(DAG_ID, run_id, timeout=RUN_TIMEOUT)

    # The scheduler noticed that the task had stopped heartbeating, failed the try and
    # retried it; the retry deferred and was resumed like any labeling wait...
    tries = stack.api.tries(DAG_ID, run_id, LABELING_TASK)
    assert [(t["try_number"], t["state"]) for t in tries] == [(1, "failed"), (2, "success")]
    assert _state_events(stack, run_id, LABELING_TASK) == [
        ("running", 1),
        ("heartbeat timeout", 1),
        ("failed", 1),
        ("running", 2),
        ("deferred", 2),
        ("running", 2),
        ("success", 2),
    ]
    # ... and the retry waited for the job that the killed try had created, not a second one.
    messages = _messages(stack.api.task_log(DAG_ID, run_id, LABELING_TASK, 2))
    assert any(f"Labeling job {job_name} exists already" in m and "re-attaching" in m for m in messages)
    assert _labeling_jobs(stack) == [job_name]
    assert stack.api.xcom(DAG_ID, run_id, LABELING_TASK)["job_name"] == job_name
