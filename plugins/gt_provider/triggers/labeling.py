"""Wait for a labeling job in the triggerer: no worker slot is held for the days it may take."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from airflow.providers.amazon.aws.triggers.base import AwsBaseWaiterTrigger
from airflow.triggers.base import TriggerEvent

from gt_provider.hooks.ground_truth import GroundTruthHook, waiter_outcome
from gt_provider.status import waiting_message


class GroundTruthLabelingJobTrigger(AwsBaseWaiterTrigger):
    """Fire when a labeling job is terminal (Completed, Stopped or Failed).

    The ``labeling_job_complete`` waiter, the same one the blocking wait uses, decides what
    is done and what failed. ``run()`` is ours only to log progress as a person reads it.
    The event carries the job name and status; the task, resumed, describes the job itself.

    :param job_name: The labeling job to wait for.
    :param waiter_delay: Seconds between checks (default 60).
    :param waiter_max_attempts: Checks before giving up (default 14,400: 10 days at 60 s).
    :param aws_conn_id: The Airflow connection used for AWS credentials.
    :param region_name: The AWS region of the job.
    :param verify: Whether or not to verify SSL certificates.
    :param botocore_config: Configuration dictionary (key-values) for botocore client.
    """

    aws_hook_class = GroundTruthHook

    def __init__(
        self,
        *,
        job_name: str,
        waiter_delay: int = 60,
        waiter_max_attempts: int = 14_400,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        verify: bool | str | None = None,
        botocore_config: dict | None = None,
    ) -> None:
        super().__init__(
            serialized_fields={"job_name": job_name},
            waiter_name="labeling_job_complete",
            waiter_args={"LabelingJobName": job_name},
            failure_message=f"Labeling job {job_name} failed",
            status_message=f"Labeling job {job_name}",
            status_queries=["LabelingJobStatus"],
            return_key="job_name",
            return_value=job_name,
            waiter_delay=waiter_delay,
            waiter_max_attempts=waiter_max_attempts,
            aws_conn_id=aws_conn_id,
            region_name=region_name,
            verify=verify,
            botocore_config=botocore_config,
        )
        self.job_name = job_name

    def _event(self, status: str, **details: Any) -> TriggerEvent:
        return TriggerEvent({"status": status, "job_name": self.job_name, **details})

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from botocore.exceptions import WaiterError

        hook = self.hook()
        async with await hook.get_async_conn() as client:
            waiter = hook.get_waiter(self.waiter_name, deferrable=True, client=client)
            for attempt in range(1, self.attempts + 1):
                try:
                    await waiter.wait(**self.waiter_args, WaiterConfig={"MaxAttempts": 1})
                except WaiterError as error:
                    last = error.last_response or {}
                    outcome = waiter_outcome(error)
                    if outcome == "terminal":
                        yield self._event("failure", job_status=last.get("LabelingJobStatus"))
                        return
                    if outcome == "error":
                        yield self._event("error", message=f"{self.failure_message}: {error}")
                        return
                    self.log.info(waiting_message(self.job_name, last, attempt, self.attempts, self.waiter_delay))
                    await asyncio.sleep(self.waiter_delay)
                else:
                    yield self._event("success")
                    return
        yield self._event(
            "timeout",
            message=f"Labeling job {self.job_name} was still running after {self.attempts} checks "
            f"{self.waiter_delay} s apart; it keeps running in AWS.",
        )
