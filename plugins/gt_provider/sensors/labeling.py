"""Wait for a labeling job someone else started: poke, reschedule or deferrable."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.sensors.base_aws import AwsBaseSensor
from airflow.providers.amazon.aws.utils import validate_execute_complete_event
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import conf

from gt_provider.exceptions import LabelingJobFailedError
from gt_provider.hooks.ground_truth import GroundTruthHook
from gt_provider.triggers.labeling import GroundTruthLabelingJobTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context


class GroundTruthLabelingJobSensor(AwsBaseSensor[GroundTruthHook]):
    """Succeed when a labeling job is Completed; fail when it Failed (or Stopped, unless allowed).

    Terminal states come from the same ``status`` sets as the ``labeling_job_complete``
    waiter (a test keeps the two in step).

    :param job_name: The labeling job to wait for. (templated)
    :param allow_stopped: Succeed when the job ends Stopped (default False).
    :param deferrable: Wait in the triggerer (default: ``[operators] default_deferrable``).
    :param poke_interval: Seconds between checks (default 60).
    :param aws_conn_id: The Airflow connection used for AWS credentials (default ``aws_default``).
    :param region_name: AWS region; default: the connection's.
    """

    aws_hook_class = GroundTruthHook
    template_fields: Sequence[str] = aws_template_fields("job_name")
    ui_color = "#f0e4ff"

    def __init__(
        self,
        *,
        job_name: str,
        allow_stopped: bool = False,
        deferrable: bool | None = None,
        poke_interval: float = 60,
        **kwargs: Any,
    ) -> None:
        super().__init__(poke_interval=poke_interval, **kwargs)
        self.job_name = job_name
        self.allow_stopped = allow_stopped
        self.deferrable = (
            conf.getboolean("operators", "default_deferrable", fallback=False) if deferrable is None else deferrable
        )

    def poke(self, context: Context) -> bool:
        state = self.hook.describe(self.job_name)
        if not state.terminal:
            self.log.info("Labeling job %s is %s: %s", self.job_name, state.status, state.progress)
            return False
        self.hook.check_final_state(state, allow_stopped=self.allow_stopped)
        return True

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        self.defer(
            trigger=GroundTruthLabelingJobTrigger(
                job_name=self.job_name,
                waiter_delay=int(self.poke_interval),
                waiter_max_attempts=max(1, int(self.timeout // max(self.poke_interval, 1))),
                aws_conn_id=self.aws_conn_id,
                region_name=self.region_name,
                verify=self.verify,
                botocore_config=self.botocore_config,
            ),
            method_name="execute_complete",
            timeout=self.execution_timeout,
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> None:
        event = validate_execute_complete_event(event)
        if event.get("job_name") != self.job_name:
            raise LabelingJobFailedError(f"Trigger event is for job {event.get('job_name')!r}, not {self.job_name!r}")
        if event["status"] in ("error", "timeout"):
            raise LabelingJobFailedError(event.get("message", f"Waiting for labeling job {self.job_name} failed"))
        self.hook.check_final_state(self.hook.describe(self.job_name), allow_stopped=self.allow_stopped)
