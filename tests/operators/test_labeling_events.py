"""A Failed or Stopped labeling job's last CloudWatch Logs events in the task log, against the local AWS."""

from __future__ import annotations

import json

import pytest

from gt_provider.exceptions import LabelingJobFailedError
from gt_provider.hooks.ground_truth import JOB_EVENTS_LOG_GROUP, GroundTruthHook, event_text
from tests.operators.test_labeling import _context, _operator

STOPPED_BY_CONDITION = "stopped: stopping condition MaxHumanLabeledObjectCount (5) reached"


@pytest.fixture
def manifest(aws) -> str:
    lines = [
        {"source-ref": f"s3://{aws.bucket}/i/{i}.png", "gt-local-answer": ["cat", "dog", "bird"][i % 3]}
        for i in range(9)
    ]
    return aws.put_text("in/events.manifest", "".join(json.dumps(line) + "\n" for line in lines))


@pytest.fixture
def broken_manifest(aws) -> str:
    return aws.put_text("in/broken.manifest", '{"source-ref": "s3://b/1.png"}\n{not json\n')


def _task_log(capsys: pytest.CaptureFixture[str]) -> str:
    """What the task logged: Airflow 3 logs through structlog to stdout, which caplog does not see."""
    return capsys.readouterr().out


class TestFailedJob:
    def test_blocking_wait_logs_the_failed_event_then_raises(self, aws, broken_manifest, capsys):
        with pytest.raises(LabelingJobFailedError, match="line 2 is not valid JSON"):
            _operator(aws, broken_manifest).execute(_context())
        log = _task_log(capsys)
        events = log.split("events of labeling job", 1)[1]
        assert "created:" in events
        assert "failed: ClientError: The input manifest line 2 is not valid JSON." in events

    def test_deferred_resumption_logs_the_failed_event_then_raises(self, aws, broken_manifest, capsys):
        from airflow.providers.common.compat.sdk import TaskDeferred

        operator = _operator(aws, broken_manifest, deferrable=True)
        with pytest.raises(TaskDeferred) as deferred:
            operator.execute(_context())
        job_name = deferred.value.trigger.job_name
        _task_log(capsys)  # only what execute_complete logs, below
        with pytest.raises(LabelingJobFailedError, match="line 2 is not valid JSON"):
            operator.execute_complete(_context(), {"status": "failure", "job_name": job_name, "job_status": "Failed"})
        assert "is not valid JSON" in _task_log(capsys).split("events of labeling job", 1)[1]

    def test_hook_reads_the_events_oldest_first(self, aws, broken_manifest):
        with pytest.raises(LabelingJobFailedError):
            _operator(aws, broken_manifest).execute(_context())
        job_name = aws.client("sagemaker").list_labeling_jobs()["LabelingJobSummaryList"][0]["LabelingJobName"]
        events = GroundTruthHook(aws_conn_id="aws_default").last_job_events(job_name)
        assert events[0].startswith(f"Labeling job {job_name} created")
        assert events[-1].startswith(f"Labeling job {job_name} failed:")
        assert GroundTruthHook(aws_conn_id="aws_default").last_job_events(job_name, limit=1) == events[-1:]


class TestStoppedJob:
    @pytest.mark.parametrize("allow_stopped", [True, False])
    def test_stopping_condition_event_is_logged(self, aws, manifest, capsys, allow_stopped):
        operator = _operator(
            aws,
            manifest,
            stopping_conditions={"MaxHumanLabeledObjectCount": 5},
            allow_stopped=allow_stopped,
        )
        if allow_stopped:
            result = operator.execute(_context())
            assert result["status"] == "Stopped"
        else:
            with pytest.raises(LabelingJobFailedError, match="was stopped"):
                operator.execute(_context())
        assert STOPPED_BY_CONDITION in _task_log(capsys)

    def test_completed_job_logs_no_events(self, aws, manifest, capsys):
        assert _operator(aws, manifest).execute(_context())["status"] == "Completed"
        assert "events of labeling job" not in _task_log(capsys)


class TestMissingEvents:
    def test_unknown_job_gives_no_events_and_a_note(self, aws, manifest, capsys):
        _operator(aws, manifest).execute(_context())  # the log group exists; the stream does not
        assert GroundTruthHook(aws_conn_id="aws_default").last_job_events("no-such-job") == []
        assert "No events of labeling job no-such-job" in _task_log(capsys)

    def test_missing_log_group_does_not_mask_the_failure(self, aws, broken_manifest, capsys):
        """The log group is deleted while the task is deferred, before the operator reads the job's events."""
        from airflow.providers.common.compat.sdk import TaskDeferred

        operator = _operator(aws, broken_manifest, deferrable=True)
        with pytest.raises(TaskDeferred) as deferred:
            operator.execute(_context())
        aws.client("logs").delete_log_group(logGroupName=JOB_EVENTS_LOG_GROUP)
        event = {"status": "failure", "job_name": deferred.value.trigger.job_name, "job_status": "Failed"}
        with pytest.raises(LabelingJobFailedError, match="line 2 is not valid JSON"):
            operator.execute_complete(_context(), event)
        assert "no such log group or stream" in _task_log(capsys)


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ('{"event": "LabelingJobFailed", "message": "it failed"}', "it failed"),
        (
            '{"LabelingJobStatus": "Failed", "FailureReason": "x"}',
            '{"LabelingJobStatus": "Failed", "FailureReason": "x"}',
        ),
        ("Plain text from AWS\n", "Plain text from AWS"),
        ("[1, 2]", "[1, 2]"),
    ],
)
def test_event_text(raw, text):
    assert event_text(raw) == text
