"""ReattachingTrainingOperator against the local AWS: a retry never starts a second training job."""

from __future__ import annotations

import asyncio
import threading

import pytest

from gt_provider.operators.training import ReattachingTrainingOperator
from tests.local.test_training import _put_digits, _training_request, _wait

IMAGE = "gt-provider-local/image-classification:latest"


def _operator(config: dict, **kwargs) -> ReattachingTrainingOperator:
    kwargs.setdefault("wait_for_completion", True)
    return ReattachingTrainingOperator(
        task_id="train_model", config=config, print_log=False, check_interval=1, **kwargs
    )


def _jobs(aws) -> list[str]:
    return sorted(
        job["TrainingJobName"] for job in aws.client("sagemaker").list_training_jobs()["TrainingJobSummaries"]
    )


@pytest.fixture
def request_body(aws) -> dict:
    return _training_request(aws, IMAGE, _put_digits(aws, 60), name="digits-train-v1")


@pytest.fixture
def held_training(monkeypatch):
    """Keeps local training jobs InProgress until released.

    The local AWS fits a model in a thread as soon as the job is created; a real job takes
    minutes. Holding the fit (the emulator's, in this process) is the only way to find a
    job still running when the retry looks, so the fit waits for this event.
    """
    from gt_provider.local import training

    release = threading.Event()
    fit = training._fit

    def held_fit(*args, **kwargs):
        release.wait(timeout=60)
        return fit(*args, **kwargs)

    monkeypatch.setattr(training, "_fit", held_fit)
    yield release
    release.set()


def test_a_first_try_creates_the_job_and_waits_for_it(aws, request_body):
    result = _operator(request_body).execute({})

    assert result["Training"]["TrainingJobName"] == "digits-train-v1"
    assert result["Training"]["TrainingJobStatus"] == "Completed"
    assert _jobs(aws) == ["digits-train-v1"]


def test_a_retry_after_a_completed_job_returns_it_and_trains_nothing_again(aws, request_body):
    aws.client("sagemaker").create_training_job(**request_body)  # the earlier try, which then died
    first = _wait(aws.client("sagemaker"), "digits-train-v1")

    result = _operator(request_body).execute({})

    assert result["Training"]["TrainingJobArn"] == first["TrainingJobArn"]
    metrics = [(metric["MetricName"], metric["Value"]) for metric in result["Training"]["FinalMetricDataList"]]
    assert metrics == [(metric["MetricName"], metric["Value"]) for metric in first["FinalMetricDataList"]]
    assert _jobs(aws) == ["digits-train-v1"]


def test_a_retry_during_the_job_waits_for_that_job(aws, request_body, held_training):
    aws.client("sagemaker").create_training_job(**request_body)
    threading.Timer(2.0, held_training.set).start()  # the job finishes while the retry waits

    result = _operator(request_body).execute({})

    assert result["Training"]["TrainingJobStatus"] == "Completed"
    assert _jobs(aws) == ["digits-train-v1"]


def test_a_deferrable_retry_during_the_job_defers_on_that_job(aws, request_body, held_training):
    from airflow.providers.common.compat.sdk import TaskDeferred

    aws.client("sagemaker").create_training_job(**request_body)
    operator = _operator(request_body, deferrable=True)

    with pytest.raises(TaskDeferred) as deferred:
        operator.execute({})

    assert deferred.value.method_name == "execute_complete"
    trigger = deferred.value.trigger
    assert trigger.serialize()[1]["job_name"] == "digits-train-v1"
    held_training.set()

    async def first_event() -> dict:
        async for event in trigger.run():
            return event.payload
        raise AssertionError("the trigger yielded nothing")

    event = asyncio.run(first_event())  # the provider's SageMakerTrigger, for real, through aiobotocore
    result = operator.execute_complete({}, event)
    assert result["Training"]["TrainingJobStatus"] == "Completed"
    assert _jobs(aws) == ["digits-train-v1"]


def test_a_retry_after_a_failed_job_starts_a_new_one_under_another_name(aws, request_body):
    failing = dict(request_body, InputDataConfig=_training_request(
        aws, IMAGE, {"train": f"s3://{aws.bucket}/nothing.manifest"})["InputDataConfig"])  # fmt: skip
    aws.client("sagemaker").create_training_job(**failing)
    assert _wait(aws.client("sagemaker"), "digits-train-v1")["TrainingJobStatus"] == "Failed"

    result = _operator(request_body).execute({})

    new_name = result["Training"]["TrainingJobName"]
    assert new_name.startswith("digits-train-v1-") and result["Training"]["TrainingJobStatus"] == "Completed"
    assert _jobs(aws) == sorted(["digits-train-v1", new_name])
