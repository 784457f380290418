"""The labeling-backend contract (gt_provider.backends) and its Ground Truth implementation.

Against the local AWS with real boto3 (through GroundTruthHook), as the operators use it.
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from gt_provider.backends import BackendCapabilities, LabelingBackend, LabelingJobState
from gt_provider.exceptions import InvalidLabelingJobConfigError, LabelingJobConflictError, UnsupportedByBackendError
from gt_provider.hooks.ground_truth import GroundTruthHook
from gt_provider.labeling_request import JOB_ARGUMENTS, LabelingJobSpec


@pytest.fixture
def hook(aws) -> GroundTruthHook:
    return GroundTruthHook(aws_conn_id="aws_default")


@pytest.fixture
def spec(aws) -> LabelingJobSpec:
    lines = [
        {"source-ref": f"s3://{aws.bucket}/i/{i}.png", "gt-local-answer": "cat" if i % 2 else "dog"} for i in range(6)
    ]
    manifest = aws.put_text("in/input.manifest", "".join(json.dumps(line) + "\n" for line in lines))
    return LabelingJobSpec(
        task_type="ImageMultiClass",
        job_name="contract-1",
        input_manifest_uri=manifest,
        output_path=f"s3://{aws.bucket}/out",
        labels=["cat", "dog"],
        workteam_arn=aws.workteam_arn,
        role_arn=aws.role_arn,
        short_instructions="Pick the animal.",
        workers_per_object=2,
    )


def _job_names(aws) -> list[str]:
    summaries = aws.client("sagemaker").list_labeling_jobs()["LabelingJobSummaryList"]
    return sorted(summary["LabelingJobName"] for summary in summaries)


def test_ground_truth_hook_is_a_labeling_backend():
    assert issubclass(GroundTruthHook, LabelingBackend)
    capabilities = GroundTruthHook.capabilities
    assert (capabilities.review, capabilities.automated_labeling, capabilities.streaming) == (True, True, False)


def test_create_or_attach_twice_is_one_job_and_one_bill(aws, hook, spec):
    first = hook.create_or_attach(spec)
    second = hook.create_or_attach(spec)

    assert (first.created, second.created) == (True, False)
    assert _job_names(aws) == ["contract-1"]
    assert second.state.job_arn == first.state.job_arn


def test_a_different_request_under_the_same_name_is_refused_naming_the_difference(aws, hook, spec):
    hook.create_or_attach(spec)
    with pytest.raises(LabelingJobConflictError, match="NumberOfHumanWorkersPerDataObject is 2 there, 3 here"):
        hook.create_or_attach(dataclasses.replace(spec, workers_per_object=3))
    assert _job_names(aws) == ["contract-1"]


def test_timestamp_starts_a_second_job_and_fail_refuses(aws, hook, spec):
    hook.create_or_attach(spec)
    with pytest.raises(LabelingJobConflictError, match='action_if_job_exists="fail"'):
        hook.create_or_attach(spec, if_exists="fail")
    renamed = hook.create_or_attach(spec, if_exists="timestamp")

    assert renamed.created and renamed.spec.job_name.startswith("contract-1-")
    assert _job_names(aws) == sorted(["contract-1", renamed.spec.job_name])


def test_describe_and_collect_speak_the_contract_shapes(aws, hook, spec):
    hook.create_or_attach(spec)  # instant local AWS: the job is Completed at once
    state = hook.describe("contract-1")
    output = hook.collect("contract-1")

    assert isinstance(state, LabelingJobState)
    assert (state.status, state.terminal) == ("Completed", True)
    assert state.progress == "6/6 labeled (6 human, 0 machine), 0 failed"
    assert output.output_manifest_uri == f"s3://{aws.bucket}/out/contract-1/manifests/output/output.manifest"
    assert len(aws.get_text(output.output_manifest_uri).splitlines()) == 6
    responses = aws.client("s3").list_objects_v2(
        Bucket=aws.bucket, Prefix=output.worker_responses_uri.removeprefix(f"s3://{aws.bucket}/")
    )
    assert responses["KeyCount"] == 6  # one worker-response file per object


def test_stop_ends_the_job_as_stopped(aws, hook, spec):
    aws.configure(speed=1, manual_clock=True, stopping_seconds=0)
    hook.create_or_attach(spec)
    hook.stop("contract-1")
    assert hook.describe("contract-1").status == "Stopped"


def test_unsupported_features_are_refused_before_anything_is_created(aws, spec):
    capabilities = BackendCapabilities(backend="Tiny", task_types=frozenset({"TextMultiClass"}), review=False)
    with pytest.raises(
        UnsupportedByBackendError, match=r"Tiny backend cannot run labeling job contract-1.*ImageMultiClass"
    ):
        capabilities.check(spec)
    no_automation = BackendCapabilities(backend="Tiny")
    assert no_automation.problems(dataclasses.replace(spec, auto_labeling=True)) == [
        "automated labeling (auto_labeling=True)"
    ]
    assert _job_names(aws) == []


def test_nothing_is_created_for_an_input_the_backend_refuses(aws, hook, spec):
    empty = aws.put_text("in/empty.manifest", "")
    with pytest.raises(InvalidLabelingJobConfigError, match="has no objects"):
        hook.create_or_attach(dataclasses.replace(spec, input_manifest_uri=empty))
    assert _job_names(aws) == []


def test_every_job_argument_is_documented():
    assert len(JOB_ARGUMENTS) >= 30
    for argument in JOB_ARGUMENTS:
        assert argument.metadata["doc"].strip(), argument.name
