"""Wait for a labeling job in the triggerer: no worker slot is held for the days it may take."""

from __future__ import annotations

from collections.abc import AsyncIterator

from airflow.providers.amazon.aws.triggers.base import AwsBaseWaiterTrigger
from airflow.triggers.base import TriggerEvent

from gt_provider.backends import WaitOutcome, wait_in_event_loop
from gt_provider.hooks.ground_truth import WAITER_NAME, GroundTruthHook, LabelingJobWait


class GroundTruthLabelingJobTrigger(AwsBaseWaiterTrigger):
    """Fire when a labeling job is terminal (Completed, Stopped or Failed).

    The ``labeling_job_complete`` waiter decides what is done and what failed, and
    :class:`~gt_provider.hooks.ground_truth.LabelingJobWait` -- the same decisions as the
    blocking wait -- what each check means and how progress is logged.
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
            waiter_name=WAITER_NAME,
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

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from botocore.exceptions import WaiterError

        wait = LabelingJobWait(self.job_name, self.waiter_delay, self.attempts, self.log)
        hook = self.hook()
        async with await hook.get_async_conn() as client:
            waiter = hook.get_waiter(self.waiter_name, deferrable=True, client=client)

            async def check(attempt: int) -> WaitOutcome | None:
                try:
                    await waiter.wait(**wait.waiter_args)
                except WaiterError as error:
                    return wait.after_check(attempt, error)
                return wait.after_check(attempt, None)

            outcome = await wait_in_event_loop(wait, check)
        yield TriggerEvent(outcome.event(self.job_name))
