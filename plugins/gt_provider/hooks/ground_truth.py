"""GroundTruthHook: the labeling-job API and the S3 objects a labeling job needs."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from botocore.exceptions import ClientError, WaiterError

from gt_provider.exceptions import LabelingJobFailedError
from gt_provider.status import FAILURE_STATES, STOPPED_STATES, format_progress, waiting_message

WAITERS_FILE = Path(__file__).resolve().parents[1] / "waiters" / "ground_truth.json"


def waiter_outcome(error: WaiterError) -> str:
    """What a one-attempt ``labeling_job_complete`` wait that raised tells: the job reached a
    failure state (``"terminal"``), is still running (``"running"``), or the call itself
    failed (``"error"``). Shared by the blocking wait and the trigger."""
    if "terminal failure" in str(error):
        return "terminal"
    if "Max attempts exceeded" in str(error) and "LabelingJobStatus" in (error.last_response or {}):
        return "running"
    return "error"


class GroundTruthHook(AwsBaseHook):
    """Interact with Amazon SageMaker Ground Truth labeling jobs.

    A thin layer over the boto3 SageMaker client (``hook.conn``) that adds what every
    caller needs: a missing job as ``None`` instead of an exception, pagination, a blocking
    wait that logs progress, and manifest / config I/O on S3.

    Additional arguments (such as ``aws_conn_id``) may be specified and are passed down
    to the underlying AwsBaseHook.

    .. seealso::
        - :class:`airflow.providers.amazon.aws.hooks.base_aws.AwsBaseHook`
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["client_type"] = "sagemaker"
        super().__init__(*args, **kwargs)

    @property
    def waiter_path(self) -> Path:
        """Our waiters live beside the provider, not in the Amazon provider's folder."""
        return WAITERS_FILE

    @cached_property
    def s3_hook(self) -> S3Hook:
        return S3Hook(
            aws_conn_id=self.aws_conn_id,
            region_name=self.region_name,
            verify=self.verify,
            config=self.config,
        )

    # ------------------------------------------------------------- labeling jobs
    def create_labeling_job(self, config: dict[str, Any]) -> dict[str, Any]:
        """Start a labeling job; ``config`` is a CreateLabelingJob request."""
        response = self.conn.create_labeling_job(**config)
        self.log.info("Created labeling job %s (%s)", config["LabelingJobName"], response["LabelingJobArn"])
        return response

    def describe_labeling_job(self, job_name: str) -> dict[str, Any]:
        return self.conn.describe_labeling_job(LabelingJobName=job_name)

    def find_labeling_job(self, job_name: str) -> dict[str, Any] | None:
        """DescribeLabelingJob, or None when no job has that name."""
        try:
            return self.describe_labeling_job(job_name)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ResourceNotFound":
                return None
            raise

    def stop_labeling_job(self, job_name: str) -> None:
        self.conn.stop_labeling_job(LabelingJobName=job_name)
        self.log.info("Asked labeling job %s to stop", job_name)

    def list_labeling_jobs(self, **filters: Any) -> Iterator[dict[str, Any]]:
        """Every LabelingJobSummary matching ``filters`` (ListLabelingJobs arguments), all pages."""
        paginator = self.conn.get_paginator("list_labeling_jobs")
        for page in paginator.paginate(**filters):
            yield from page.get("LabelingJobSummaryList", [])

    def wait_for_labeling_job(
        self,
        job_name: str,
        *,
        waiter_delay: int = 60,
        waiter_max_attempts: int = 14_400,
        allow_stopped: bool = False,
    ) -> dict[str, Any]:
        """Block until the job is terminal; return its final description.

        "Done" and "failed" come from the ``labeling_job_complete`` waiter. The loop is
        ours rather than ``waiter_with_logging.wait`` only so that each poll logs progress
        as a person reads it (``312/1000 labeled (300 human, 12 machine), 4 failed``).
        """
        waiter = self.get_waiter("labeling_job_complete")
        for attempt in range(1, waiter_max_attempts + 1):
            try:
                waiter.wait(LabelingJobName=job_name, WaiterConfig={"Delay": waiter_delay, "MaxAttempts": 1})
                break
            except WaiterError as error:
                outcome = waiter_outcome(error)
                if outcome == "terminal":
                    break
                if outcome != "running":
                    raise
                self.log.info(
                    waiting_message(job_name, error.last_response, attempt, waiter_max_attempts, waiter_delay)
                )
                time.sleep(waiter_delay)
        else:
            raise LabelingJobFailedError(
                f"Labeling job {job_name} was still running after {waiter_max_attempts} checks "
                f"{waiter_delay} s apart; it keeps running in AWS. Raise waiter_max_attempts or "
                "wait for it with a sensor."
            )
        return self.check_final_state(self.describe_labeling_job(job_name), allow_stopped=allow_stopped)

    def check_final_state(self, description: dict[str, Any], *, allow_stopped: bool = False) -> dict[str, Any]:
        """Raise for Failed (and Stopped unless allowed); warn about objects that failed."""
        job_name = description["LabelingJobName"]
        status = description["LabelingJobStatus"]
        progress = format_progress(description.get("LabelCounters"))
        if status in FAILURE_STATES:
            raise LabelingJobFailedError(
                f"Labeling job {job_name} failed: {description.get('FailureReason', 'no reason given')} ({progress})"
            )
        if status in STOPPED_STATES and not allow_stopped:
            raise LabelingJobFailedError(
                f"Labeling job {job_name} was stopped ({progress}); pass allow_stopped=True to use its partial output."
            )
        failed = (description.get("LabelCounters") or {}).get("FailedNonRetryableError", 0)
        if failed:
            self.log.warning(
                "Labeling job %s: %d objects failed labeling and carry a failure-reason in the output manifest",
                job_name,
                failed,
            )
        self.log.info("Labeling job %s is %s: %s", job_name, status, progress)
        return description

    # ------------------------------------------------------------------- S3 I/O
    def upload_text(self, text: str, s3_uri: str) -> str:
        """Write ``text`` to ``s3_uri`` (replacing an object gt_provider wrote there earlier)."""
        bucket, key = S3Hook.parse_s3_url(s3_uri)
        self.s3_hook.load_string(text, key=key, bucket_name=bucket, replace=True)
        return s3_uri

    def count_manifest_objects(self, s3_uri: str) -> int:
        """Non-blank lines of a JSON Lines manifest, streamed (never read whole into memory)."""
        bucket, key = S3Hook.parse_s3_url(s3_uri)
        body = self.s3_hook.get_key(key, bucket_name=bucket).get()["Body"]
        return sum(1 for line in body.iter_lines() if line.strip())

    def upload_json(self, document: Any, s3_uri: str) -> str:
        return self.upload_text(json.dumps(document, indent=2), s3_uri)
