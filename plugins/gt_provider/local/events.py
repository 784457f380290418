"""A labeling job's events in CloudWatch Logs, as Ground Truth writes them.

Group ``/aws/sagemaker/LabelingJobs``, one stream per job name. Each event is one JSON
object: ``event`` (``LabelingJobCreated``, ``IterationCompleted``, ``LabelingJobStopped``,
``LabelingJobCompleted``, ``LabelingJobFailed``), ``labeling-job-name``, a ``message`` a
person reads, and the figures behind it. Written into moto's CloudWatch Logs backend of
the job's account and region, so ``logs.get_log_events`` over the API reads them.
"""

from __future__ import annotations

import json
import time
from typing import Any

from moto.logs.models import logs_backends

LOG_GROUP = "/aws/sagemaker/LabelingJobs"


class JobEvents:
    """The labeling-job log group of one account and region."""

    def __init__(self, account_id: str, region: str) -> None:
        self._backend = logs_backends[account_id][region]

    def put(self, job_name: str, event: str, message: str, **figures: Any) -> None:
        """Append one event to the job's stream (creating the group and stream on first use)."""
        if LOG_GROUP not in self._backend.groups:
            self._backend.create_log_group(LOG_GROUP, {})
        group = self._backend.groups[LOG_GROUP]
        if job_name not in group.streams:
            self._backend.create_log_stream(LOG_GROUP, job_name)
        body = {"event": event, "labeling-job-name": job_name, "message": message, **figures}
        self._backend.put_log_events(
            LOG_GROUP, job_name, [{"timestamp": int(time.time() * 1000), "message": json.dumps(body)}]
        )
