"""GroundTruthHook against the local AWS (real boto3 through the aws_default connection)."""

from __future__ import annotations

import json

import pytest

from gt_provider.exceptions import LabelingJobFailedError
from gt_provider.hooks.ground_truth import GroundTruthHook
from gt_provider.status import ALL_STATES, FAILURE_STATES, NON_TERMINAL_STATES, STOPPED_STATES, SUCCESS_STATES
from tests.labeling_fixtures import labeling_request, put_classification_inputs


@pytest.fixture
def hook(aws) -> GroundTruthHook:
    return GroundTruthHook(aws_conn_id="aws_default")


def test_waiter_json_and_status_sets_agree():
    """The waiter JSON and status.py are the two definitions of done; they must not drift."""
    with open(GroundTruthHook().waiter_path) as waiters:
        acceptors = json.load(waiters)["waiters"]["labeling_job_complete"]["acceptors"]
    by_state: dict[str, set[str]] = {}
    for acceptor in acceptors:
        by_state.setdefault(acceptor["state"], set()).add(acceptor["expected"])
    assert by_state["retry"] == NON_TERMINAL_STATES
    assert by_state["failure"] == FAILURE_STATES
    assert by_state["success"] == SUCCESS_STATES | STOPPED_STATES
    assert set().union(*by_state.values()) == ALL_STATES


def test_create_describe_find_and_list(aws, hook):
    uris = put_classification_inputs(aws, 5)
    for name in ("first", "second", "third"):
        hook.create_labeling_job(labeling_request(aws, uris, name=name))

    assert hook.describe_labeling_job("first")["LabelingJobStatus"] == "Completed"
    assert hook.find_labeling_job("missing") is None
    assert hook.find_labeling_job("second")["LabelingJobName"] == "second"
    assert sorted(job["LabelingJobName"] for job in hook.list_labeling_jobs(MaxResults=1)) == [
        "first",
        "second",
        "third",
    ]


def test_wait_logs_progress_and_returns_the_final_description(aws, hook, capsys, monkeypatch):
    aws.configure(speed=1, manual_clock=True, initializing_seconds=0, objects_per_second=1)
    uris = put_classification_inputs(aws, 10)
    hook.create_labeling_job(labeling_request(aws, uris))
    aws.advance(4)
    # The clock moves on only while the hook sleeps between checks, as time does in AWS.
    sleeps = aws.advance_while_waiting(monkeypatch, 60)
    description = hook.wait_for_labeling_job("job-1", waiter_delay=1, waiter_max_attempts=30)
    assert sleeps == [1]
    logged = capsys.readouterr().out  # Airflow 3 logs through structlog to stdout

    assert description["LabelingJobStatus"] == "Completed"
    assert "job-1 is InProgress: 4/10 labeled (4 human, 0 machine), 0 failed" in logged
    assert "job-1 is Completed: 10/10 labeled (10 human, 0 machine), 0 failed" in logged


def test_wait_raises_with_the_failure_reason(aws, hook):
    uris = put_classification_inputs(aws, 3)
    uris["manifest"] = aws.put_text("input/empty.manifest", "\n")
    hook.create_labeling_job(labeling_request(aws, uris))
    with pytest.raises(LabelingJobFailedError, match="input manifest is empty"):
        hook.wait_for_labeling_job("job-1", waiter_delay=1, waiter_max_attempts=5)


def test_stopped_fails_unless_allowed(aws, hook):
    aws.configure(speed=1, manual_clock=True)
    hook.create_labeling_job(labeling_request(aws, put_classification_inputs(aws, 3)))
    hook.stop_labeling_job("job-1")
    aws.advance(3600)
    with pytest.raises(LabelingJobFailedError, match="allow_stopped=True"):
        hook.wait_for_labeling_job("job-1", waiter_delay=1, waiter_max_attempts=3)
    assert (
        hook.wait_for_labeling_job("job-1", waiter_delay=1, waiter_max_attempts=3, allow_stopped=True)[
            "LabelingJobStatus"
        ]
        == "Stopped"
    )


def test_wait_gives_up_after_max_attempts(aws, hook):
    aws.configure(speed=1, manual_clock=True)
    hook.create_labeling_job(labeling_request(aws, put_classification_inputs(aws, 3)))
    with pytest.raises(LabelingJobFailedError, match="still running after 2 checks"):
        hook.wait_for_labeling_job("job-1", waiter_delay=1, waiter_max_attempts=2)


def test_failed_objects_are_warned_about(aws, hook, capsys):
    aws.configure(speed="instant", object_failure_rate=0.5)
    hook.create_labeling_job(labeling_request(aws, put_classification_inputs(aws, 20)))
    description = hook.wait_for_labeling_job("job-1", waiter_delay=1, waiter_max_attempts=3)
    failed = description["LabelCounters"]["FailedNonRetryableError"]
    assert failed > 0
    assert f"{failed} objects failed labeling" in capsys.readouterr().out
