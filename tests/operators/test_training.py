"""The training operators against the local AWS: a retry never trains or registers a model twice."""

from __future__ import annotations

import asyncio
import threading

import pytest

from gt_provider.operators import training as training_module
from gt_provider.operators.training import (
    GroundTruthRegisterModelVersionOperator,
    GroundTruthTrainingOperator,
    registered_model_packages,
)
from tests.local.test_training import _put_digits, _training_request, _wait

IMAGE = "gt-provider-local/image-classification:latest"
GROUP = "digits-classifier"


def _operator(config: dict, **kwargs) -> GroundTruthTrainingOperator:
    kwargs.setdefault("wait_for_completion", True)
    return GroundTruthTrainingOperator(
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


def test_a_retry_during_the_job_waits_for_that_job(aws, request_body, held_training, monkeypatch):
    aws.client("sagemaker").create_training_job(**request_body)
    operator = _operator(request_body)
    statuses: list[str] = []
    describe = operator.hook.describe_training_job

    def describe_and_step(name: str) -> dict:
        description = describe(name)
        statuses.append(description["TrainingJobStatus"])
        if len(statuses) == 2:  # the retry found the job running and is now waiting on it: let it finish
            held_training.set()
        return description

    monkeypatch.setattr(operator.hook, "describe_training_job", describe_and_step)

    result = operator.execute({})

    assert statuses[:2] == ["InProgress", "InProgress"] and statuses[-1] == "Completed"
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


def test_the_old_name_still_imports_with_a_deprecation_warning():
    with pytest.warns(DeprecationWarning, match="use GroundTruthTrainingOperator"):
        from gt_provider.operators.training import ReattachingTrainingOperator

    assert ReattachingTrainingOperator is GroundTruthTrainingOperator
    with pytest.raises(AttributeError):
        training_module.NoSuchOperator  # noqa: B018


def _register(training_job: str, accuracy: str, **kwargs) -> GroundTruthRegisterModelVersionOperator:
    return GroundTruthRegisterModelVersionOperator(
        task_id="register_model",
        image_uri=IMAGE,
        model_url=f"s3://gt-provider-demo/models/digits/{training_job}/output/model.tar.gz",
        package_group_name=GROUP,
        package_desc=training_job,
        training_job=training_job,
        metadata={"validation:accuracy": accuracy, "dataset_version": "1"},
        **kwargs,
    )


class TestGroundTruthRegisterModelVersionOperator:
    def test_template_fields(self):
        assert {"image_uri", "model_url", "package_group_name", "training_job", "metadata", "extras"} <= set(
            GroundTruthRegisterModelVersionOperator.template_fields
        )

    def test_registers_a_version_pending_approval_with_its_metadata(self, aws):
        arn = _register("train-v1-a", "0.9100").execute({})

        [package] = registered_model_packages(aws.client("sagemaker"), GROUP)
        assert package["ModelPackageArn"] == arn
        assert package["ModelApprovalStatus"] == "PendingManualApproval"
        assert package["CustomerMetadataProperties"] == {
            "validation:accuracy": "0.9100",
            "dataset_version": "1",
            "training_job": "train-v1-a",
        }
        [container] = package["InferenceSpecification"]["Containers"]
        assert container["Image"] == IMAGE and container["ModelDataUrl"].endswith("/train-v1-a/output/model.tar.gz")

    def test_a_retry_returns_the_version_the_earlier_try_registered(self, aws):
        first = _register("train-v1-a", "0.9100").execute({})

        again = _register("train-v1-a", "0.9100").execute({})  # the retry: the version exists already

        assert again == first
        assert len(registered_model_packages(aws.client("sagemaker"), GROUP)) == 1

    def test_another_training_job_registers_a_new_version(self, aws):
        first = _register("train-v1-a", "0.9100").execute({})

        second = _register("train-v2-b", "0.9400").execute({})

        assert second != first
        packages = registered_model_packages(aws.client("sagemaker"), GROUP)
        assert sorted(p["CustomerMetadataProperties"]["training_job"] for p in packages) == ["train-v1-a", "train-v2-b"]

    def test_extras_metadata_is_kept_but_cannot_rename_the_training_job(self, aws):
        _register(
            "train-v1-a", "0.9100", extras={"CustomerMetadataProperties": {"owner": "ml", "training_job": "other"}}
        ).execute({})

        [package] = registered_model_packages(aws.client("sagemaker"), GROUP)
        assert package["CustomerMetadataProperties"]["owner"] == "ml"
        assert package["CustomerMetadataProperties"]["training_job"] == "train-v1-a"

    def test_no_group_yet_means_nothing_registered(self, aws):
        assert registered_model_packages(aws.client("sagemaker"), "no-such-group") == []
