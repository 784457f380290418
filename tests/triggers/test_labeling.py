"""GroundTruthLabelingJobTrigger: serialize round trip and a real run() through aiobotocore."""

from __future__ import annotations

import asyncio

from airflow.sdk.serde import deserialize, serialize

from gt_provider.triggers.labeling import GroundTruthLabelingJobTrigger
from tests.labeling_fixtures import labeling_request, put_classification_inputs


def _first_event(trigger: GroundTruthLabelingJobTrigger) -> dict:
    async def first() -> dict:
        async for event in trigger.run():
            return event.payload
        raise AssertionError("the trigger yielded nothing")

    return asyncio.run(first())


def test_serialize_round_trip():
    trigger = GroundTruthLabelingJobTrigger(
        job_name="job-1", waiter_delay=5, waiter_max_attempts=7, region_name="eu-west-1"
    )
    classpath, kwargs = trigger.serialize()
    assert classpath == "gt_provider.triggers.labeling.GroundTruthLabelingJobTrigger"
    rebuilt = GroundTruthLabelingJobTrigger(**deserialize(serialize(kwargs)))
    assert rebuilt.serialize() == (classpath, kwargs)
    assert kwargs["job_name"] == "job-1"
    assert kwargs["waiter_max_attempts"] == 7


def test_run_waits_logs_progress_and_fires_success(aws, capsys, monkeypatch):
    aws.configure(speed=1, manual_clock=True, initializing_seconds=0, objects_per_second=1)
    aws.client("sagemaker").create_labeling_job(**labeling_request(aws, put_classification_inputs(aws, 10)))
    aws.advance(3)
    sleeps = aws.advance_while_waiting(monkeypatch, 60)

    event = _first_event(GroundTruthLabelingJobTrigger(job_name="job-1", waiter_delay=1, waiter_max_attempts=20))

    assert sleeps == [1]  # one check found it InProgress, the sleep moved the clock, the next saw Completed
    assert event == {"status": "success", "job_name": "job-1"}
    assert "job-1 is InProgress: 3/10 labeled (3 human, 0 machine), 0 failed" in capsys.readouterr().out


def test_run_fires_failure_for_a_failed_job(aws):
    uris = put_classification_inputs(aws, 3)
    uris["manifest"] = aws.put_text("input/empty.manifest", "")
    aws.client("sagemaker").create_labeling_job(**labeling_request(aws, uris))
    event = _first_event(GroundTruthLabelingJobTrigger(job_name="job-1", waiter_delay=1, waiter_max_attempts=3))
    assert event == {"status": "failure", "job_name": "job-1", "job_status": "Failed"}


def test_run_times_out_when_the_job_keeps_running(aws):
    aws.configure(speed=1, manual_clock=True)
    aws.client("sagemaker").create_labeling_job(**labeling_request(aws, put_classification_inputs(aws, 3)))
    event = _first_event(GroundTruthLabelingJobTrigger(job_name="job-1", waiter_delay=1, waiter_max_attempts=2))
    assert event["status"] == "timeout"
    assert "still running after 2 checks" in event["message"]
