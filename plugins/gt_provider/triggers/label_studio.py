"""Wait for a Label Studio project in the triggerer: no worker slot is held while people label."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from gt_provider.backends import PollingWait, WaitOutcome, wait_in_event_loop


class LabelStudioProjectTrigger(BaseTrigger):
    """Fire when a labeling job on Label Studio is terminal (Completed, Stopped or Failed).

    Each check reads the project's counters (one small API call, in a thread so the
    triggerer's event loop never blocks); :class:`~gt_provider.backends.PollingWait` --
    the same decisions as the blocking wait -- says what each check means and logs the
    progress line (``312/1000 labeled ...``). The event carries the job name and status;
    the task, resumed, collects the output itself.

    :param job_name: The labeling job (its project is titled after it).
    :param label_studio_conn_id: The ``labelstudio`` connection.
    :param aws_conn_id: The AWS connection (the hook needs it for S3; checks do not use it).
    :param waiter_delay: Seconds between checks.
    :param waiter_max_attempts: Checks before giving up.
    """

    def __init__(
        self,
        *,
        job_name: str,
        label_studio_conn_id: str = "label_studio_default",
        aws_conn_id: str | None = "aws_default",
        waiter_delay: int = 60,
        waiter_max_attempts: int = 14_400,
    ) -> None:
        super().__init__()
        self.job_name = job_name
        self.label_studio_conn_id = label_studio_conn_id
        self.aws_conn_id = aws_conn_id
        self.waiter_delay = waiter_delay
        self.waiter_max_attempts = waiter_max_attempts

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "job_name": self.job_name,
                "label_studio_conn_id": self.label_studio_conn_id,
                "aws_conn_id": self.aws_conn_id,
                "waiter_delay": self.waiter_delay,
                "waiter_max_attempts": self.waiter_max_attempts,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from asgiref.sync import sync_to_async

        from gt_provider.hooks.label_studio import LabelStudioHook
        from gt_provider.labelstudio.client import LabelStudioError

        hook = LabelStudioHook(self.label_studio_conn_id, aws_conn_id=self.aws_conn_id)
        wait = PollingWait(self.job_name, self.waiter_delay, self.waiter_max_attempts, self.log)
        describe = sync_to_async(hook.describe, thread_sensitive=False)

        async def check(attempt: int) -> WaitOutcome | None:
            return wait.after_check(attempt, await describe(self.job_name))

        try:
            outcome = await wait_in_event_loop(wait, check)
        except LabelStudioError as error:
            outcome = WaitOutcome("error", message=str(error))
        yield TriggerEvent(outcome.event(self.job_name))
