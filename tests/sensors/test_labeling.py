"""GroundTruthLabelingJobSensor against the local AWS: poke, and defer."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from gt_provider.exceptions import LabelingJobFailedError
from gt_provider.sensors.labeling import GroundTruthLabelingJobSensor
from tests.labeling_fixtures import labeling_request, put_classification_inputs


def _sensor(**kwargs) -> GroundTruthLabelingJobSensor:
    return GroundTruthLabelingJobSensor(task_id="wait", job_name="job-1", poke_interval=1, **kwargs)


def test_template_fields():
    assert "job_name" in GroundTruthLabelingJobSensor.template_fields


def test_poke_is_false_while_running_and_true_when_completed(aws):
    aws.configure(speed=1, manual_clock=True)
    aws.client("sagemaker").create_labeling_job(**labeling_request(aws, put_classification_inputs(aws, 5)))
    sensor = _sensor()
    assert sensor.poke({}) is False
    aws.advance(3600)
    assert sensor.poke({}) is True


def test_poke_raises_for_a_failed_job(aws):
    uris = put_classification_inputs(aws, 3)
    uris["manifest"] = aws.put_text("input/empty.manifest", "")
    aws.client("sagemaker").create_labeling_job(**labeling_request(aws, uris))
    with pytest.raises(LabelingJobFailedError, match="empty"):
        _sensor().poke({})


@pytest.mark.parametrize(("allow_stopped", "succeeds"), [(False, False), (True, True)])
def test_stopped_job(aws, allow_stopped, succeeds):
    aws.configure(speed=1, manual_clock=True)
    sagemaker = aws.client("sagemaker")
    sagemaker.create_labeling_job(**labeling_request(aws, put_classification_inputs(aws, 3)))
    sagemaker.stop_labeling_job(LabelingJobName="job-1")
    aws.advance(3600)
    if succeeds:
        assert _sensor(allow_stopped=allow_stopped).poke({}) is True
    else:
        with pytest.raises(LabelingJobFailedError, match="stopped"):
            _sensor(allow_stopped=allow_stopped).poke({})


def test_deferrable_defers_to_the_trigger_and_resumes(aws):
    from airflow.providers.common.compat.sdk import TaskDeferred

    aws.client("sagemaker").create_labeling_job(**labeling_request(aws, put_classification_inputs(aws, 3)))
    sensor = _sensor(deferrable=True, timeout=30)
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({})
    kwargs = deferred.value.trigger.serialize()[1]
    assert kwargs["job_name"] == "job-1"
    assert kwargs["waiter_max_attempts"] == 30
    sensor.execute_complete({}, {"status": "success", "job_name": "job-1"})  # Completed: no error
    with pytest.raises(LabelingJobFailedError):
        sensor.execute_complete({}, {"status": "error", "job_name": "job-1", "message": "boom"})


@pytest.mark.parametrize("mode", ["poke", "reschedule"])
def test_execute_modes_while_the_job_runs(aws, mode):
    """poke keeps the slot and sleeps; reschedule gives the slot back until the next check."""
    from airflow.sdk.exceptions import AirflowRescheduleException, AirflowSensorTimeout

    aws.configure(speed=1, manual_clock=True)
    aws.client("sagemaker").create_labeling_job(**labeling_request(aws, put_classification_inputs(aws, 3)))
    sensor = _sensor(mode=mode, timeout=2)
    expected = AirflowRescheduleException if mode == "reschedule" else AirflowSensorTimeout
    with pytest.raises(expected):
        # The sensor reads only the try and reschedule bookkeeping of its task instance.
        ti = SimpleNamespace(try_number=1, start_date=None, get_first_reschedule_date=lambda *_: None)
        sensor.execute({"ti": ti})
