"""Response delays: the local AWS processes a call, then holds its answer back.

A worker killed while it waits for CreateLabelingJob's answer leaves a job behind that the
retry must re-attach to; ``response_delays`` makes that window as wide as a test needs.
"""

from __future__ import annotations

import urllib.error
from collections.abc import Iterator

import pytest

from tests.labeling_fixtures import labeling_request, put_classification_inputs


def _impatient_client(aws, read_timeout: float):
    """A SageMaker client that waits ``read_timeout`` seconds for an answer and never retries."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "sagemaker",
        endpoint_url=aws.endpoint_url,
        region_name="us-east-1",
        config=Config(read_timeout=read_timeout, retries={"mode": "standard", "max_attempts": 1}),
    )


@pytest.fixture
def delays_cleared(aws) -> Iterator[None]:
    """The local AWS is shared by the session: never leave a delay behind for the next test."""
    yield
    aws.configure(response_delays={})


def test_the_job_exists_although_the_client_gave_up_waiting_for_the_answer(aws, delays_cleared):
    from botocore.exceptions import ReadTimeoutError

    uris = put_classification_inputs(aws, 6)
    aws.configure(response_delays={"CreateLabelingJob": 5})

    with pytest.raises(ReadTimeoutError):
        _impatient_client(aws, read_timeout=1).create_labeling_job(**labeling_request(aws, uris, name="held-back"))

    # Answered at once while the other answer is still held back: only the chosen action waits,
    # and the server keeps serving.
    jobs = aws.client("sagemaker").list_labeling_jobs()["LabelingJobSummaryList"]
    assert [job["LabelingJobName"] for job in jobs] == ["held-back"]


def test_other_actions_are_not_delayed(aws, delays_cleared):
    uris = put_classification_inputs(aws, 6)
    aws.client("sagemaker").create_labeling_job(**labeling_request(aws, uris, name="quick"))
    aws.configure(response_delays={"CreateLabelingJob": 30})

    assert (
        _impatient_client(aws, read_timeout=5).describe_labeling_job(LabelingJobName="quick")["LabelingJobName"]
        == "quick"
    )


def test_the_setting_is_reported_and_cleared(aws, delays_cleared):
    from gt_provider.local import control

    reported = control.configure(aws.endpoint_url, response_delays={"CreateLabelingJob": 2.5})
    assert reported["response_delays"] == {"CreateLabelingJob": 2.5}
    assert control.configure(aws.endpoint_url, speed="instant")["response_delays"] == {"CreateLabelingJob": 2.5}

    assert control.configure(aws.endpoint_url, response_delays={})["response_delays"] == {}


@pytest.mark.parametrize(
    ("delays", "message"),
    [
        ({"create_labeling_job": 1}, "is not an action name"),
        ({"CreateLabelingJob": -1}, "must be in [0, 600]"),
        ({"CreateLabelingJob": 3600}, "must be in [0, 600]"),
        ({"CreateLabelingJob": "soon"}, "must be a number of seconds"),
        (["CreateLabelingJob"], "must be a mapping"),
    ],
)
def test_bad_delays_are_refused_with_the_reason(aws, delays_cleared, delays, message):
    from gt_provider.local import control

    with pytest.raises(urllib.error.HTTPError) as refused:
        control.configure(aws.endpoint_url, response_delays=delays)

    assert refused.value.code == 400
    assert message in refused.value.read().decode()
