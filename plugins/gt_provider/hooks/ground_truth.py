"""GroundTruthHook: the Ground Truth labeling backend (AWS and the local one) and its S3 objects."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from airflow.providers.amazon.aws.hooks.logs import AwsLogsHook
from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from botocore.exceptions import BotoCoreError, ClientError, WaiterError

from gt_provider.backends import (
    Attachment,
    BackendCapabilities,
    IfJobExists,
    LabelingBackend,
    LabelingJobOutput,
    LabelingJobState,
    WaitOutcome,
    check_final_state,
)
from gt_provider.exceptions import InvalidLabelingJobConfigError, LabelingJobConflictError, LabelingJobFailedError
from gt_provider.labeling_request import timestamped_job_name
from gt_provider.limits import MIN_AUTO_LABELING_OBJECTS
from gt_provider.s3io import split_s3_uri
from gt_provider.status import FAILURE_STATES, STOPPED_STATES, format_progress, waiting_message
from gt_provider.templates import label_category_config, render_worker_template

if TYPE_CHECKING:
    import logging

    from gt_provider.labeling_request import LabelingJobSpec

WAITERS_FILE = Path(__file__).resolve().parents[1] / "waiters" / "ground_truth.json"
WAITER_NAME = "labeling_job_complete"
#: Where Ground Truth (on AWS and the local one) writes a labeling job's events: one stream per job name.
JOB_EVENTS_LOG_GROUP = "/aws/sagemaker/LabelingJobs"


def event_text(message: str) -> str:
    """What a person reads of one CloudWatch event: its JSON's ``message`` if it has one, else the raw text."""
    try:
        body = json.loads(message)
    except ValueError:
        return message.rstrip()
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body["message"]
    return message.rstrip()


class LabelingJobWait:
    """The one wait loop's decisions, shared by the blocking wait and the trigger.

    Each check is one ``labeling_job_complete`` waiter attempt; the two drivers differ only
    in how they call it and sleep (``time.sleep`` / ``await asyncio.sleep``). "Done" and
    "failed" come from the waiter JSON; progress is logged as a person reads it.
    """

    def __init__(self, job_name: str, delay: int, max_attempts: int, log: logging.Logger) -> None:
        self.job_name = job_name
        self.delay = delay
        self.max_attempts = max_attempts
        self.log = log
        self.waiter_args: dict[str, Any] = {"LabelingJobName": job_name, "WaiterConfig": {"MaxAttempts": 1}}

    def attempts(self) -> range:
        return range(1, self.max_attempts + 1)

    def after_check(self, attempt: int, error: WaiterError | None) -> WaitOutcome | None:
        """The outcome after one check, or None to sleep ``delay`` and check again."""
        if error is None:
            return WaitOutcome("success")
        last = error.last_response or {}
        if "terminal failure" in str(error):
            return WaitOutcome("failure", job_status=last.get("LabelingJobStatus"))
        if "Max attempts exceeded" not in str(error) or "LabelingJobStatus" not in last:
            return WaitOutcome("error", message=f"Labeling job {self.job_name} failed: {error}")
        self.log.info(waiting_message(self.job_name, last, attempt, self.max_attempts, self.delay))
        return None

    def timed_out(self) -> WaitOutcome:
        return WaitOutcome(
            "timeout",
            message=f"Labeling job {self.job_name} was still running after {self.max_attempts} checks "
            f"{self.delay} s apart; it keeps running in AWS. Raise waiter_max_attempts or wait for it "
            "with a sensor.",
        )


#: What must match for a retried task to re-attach to an existing job: where the data
#: comes from and goes to, who labels it and how. Titles and tags may differ.
_COMPARED_FIELDS = (
    ("LabelAttributeName",),
    ("InputConfig", "DataSource", "S3DataSource", "ManifestS3Uri"),
    ("OutputConfig", "S3OutputPath"),
    ("RoleArn",),
    ("LabelCategoryConfigS3Uri",),
    ("HumanTaskConfig", "WorkteamArn"),
    ("HumanTaskConfig", "PreHumanTaskLambdaArn"),
    ("HumanTaskConfig", "NumberOfHumanWorkersPerDataObject"),
    ("HumanTaskConfig", "AnnotationConsolidationConfig", "AnnotationConsolidationLambdaArn"),
)


def request_differences(request: Mapping[str, Any], description: Mapping[str, Any]) -> list[str]:
    """How an existing job (DescribeLabelingJob) differs from the request a task would send."""
    differences = []
    for path in _COMPARED_FIELDS:
        wanted: Any = request
        existing: Any = description
        for key in path:
            wanted = wanted.get(key) if isinstance(wanted, Mapping) else None
            existing = existing.get(key) if isinstance(existing, Mapping) else None
        if wanted != existing:
            differences.append(f"{'.'.join(path)} is {existing!r} there, {wanted!r} here")
    return differences


class GroundTruthHook(AwsBaseHook, LabelingBackend):
    """Amazon SageMaker Ground Truth labeling jobs: the Ground Truth labeling backend.

    Implements :class:`gt_provider.backends.LabelingBackend` (create-or-attach, describe,
    stop, collect, capabilities) for Ground Truth on AWS and the embedded local Ground
    Truth alike: only the connection's endpoint differs.

    A thin layer over the boto3 SageMaker client (``hook.conn``) that adds what every
    caller needs: a missing job as ``None`` instead of an exception, pagination, a blocking
    wait that logs progress, and manifest / config I/O on S3.

    Additional arguments (such as ``aws_conn_id``) may be specified and are passed down
    to the underlying AwsBaseHook.

    .. seealso::
        - :class:`airflow.providers.amazon.aws.hooks.base_aws.AwsBaseHook`
    """

    capabilities: ClassVar[BackendCapabilities] = BackendCapabilities(
        backend="Ground Truth", review=True, automated_labeling=True, streaming=False
    )

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

    @cached_property
    def logs_hook(self) -> AwsLogsHook:
        """CloudWatch Logs on the same connection, region and endpoint (the job's events)."""
        return AwsLogsHook(
            aws_conn_id=self.aws_conn_id,
            region_name=self.region_name,
            verify=self.verify,
            config=self.config,
        )

    # ------------------------------------------------------ the backend contract
    def create_or_attach(self, spec: LabelingJobSpec, *, if_exists: IfJobExists = "reattach") -> Attachment:
        """Start the job of ``spec``, or re-attach to the job an earlier try started.

        A job of the same name is re-attached to when it was created from the same request
        (``request_differences``); otherwise refused, naming the differences. With
        ``if_exists="timestamp"`` a new job ``<name>-<UTC time>`` starts instead, with
        ``"fail"`` an existing job is an error. The input's object count, the configuration
        upload and the capability check all happen before CreateLabelingJob.
        """
        self.capabilities.check(spec)
        existing = self.find_labeling_job(spec.job_name)
        if existing is not None and if_exists == "timestamp":
            spec = dataclasses.replace(spec, job_name=timestamped_job_name(spec.job_name, datetime.now(UTC)))
            existing = None
        request = spec.request(self.conn_region_name)
        if existing is not None:
            self._check_can_reattach(spec, request, existing, if_exists)
            self.log.info(
                "Labeling job %s exists already (%s, %s): re-attaching to it instead of starting another",
                spec.job_name,
                existing["LabelingJobStatus"],
                format_progress(existing.get("LabelCounters")),
            )
            return Attachment(spec=spec, state=self.job_state(existing), created=False)
        self._check_input_size(spec)
        self._upload_configuration(spec)
        created = self._create(spec, request)
        return Attachment(spec=spec, state=self.describe(spec.job_name), created=created)

    def describe(self, job_name: str) -> LabelingJobState:
        return self.job_state(self.describe_labeling_job(job_name))

    def stop(self, job_name: str) -> None:
        self.stop_labeling_job(job_name)

    def collect(self, job_name: str) -> LabelingJobOutput:
        description = self.describe_labeling_job(job_name)
        output_path = description["OutputConfig"]["S3OutputPath"].rstrip("/")
        return LabelingJobOutput(
            job_name=job_name,
            output_manifest_uri=self.job_state(description).output_manifest_uri,  # type: ignore[arg-type]
            worker_responses_uri=f"{output_path}/{job_name}/annotations/worker-response/",
            confidence_thresholds=tuple(self.confidence_thresholds(job_name))
            if (description.get("LabelCounters") or {}).get("MachineLabeled")
            else (),
        )

    @staticmethod
    def job_state(description: Mapping[str, Any]) -> LabelingJobState:
        """A DescribeLabelingJob response in the contract's shape."""
        output_path = ((description.get("OutputConfig") or {}).get("S3OutputPath") or "").rstrip("/")
        job_name = description["LabelingJobName"]
        default_manifest = f"{output_path}/{job_name}/manifests/output/output.manifest" if output_path else None
        return LabelingJobState(
            job_name=job_name,
            status=description["LabelingJobStatus"],
            counters=dict(description.get("LabelCounters") or {}),
            failure_reason=description.get("FailureReason"),
            job_arn=description.get("LabelingJobArn"),
            output_manifest_uri=(description.get("LabelingJobOutput") or {}).get(
                "OutputDatasetS3Uri", default_manifest
            ),
            description=description,
        )

    def _create(self, spec: LabelingJobSpec, request: dict[str, Any]) -> bool:
        """CreateLabelingJob; a ResourceInUse here is a retried call whose first try went through."""
        try:
            self.create_labeling_job(request)
            return True
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ResourceInUse":
                raise
            differences = request_differences(request, self.describe_labeling_job(spec.job_name))
            if differences:
                raise LabelingJobConflictError(
                    f"Labeling job {spec.job_name} was created meanwhile from a different request: "
                    f"{'; '.join(differences)}"
                ) from error
            self.log.info("Labeling job %s was created by an earlier try of the same call: using it", spec.job_name)
            return False

    @staticmethod
    def _check_can_reattach(
        spec: LabelingJobSpec, request: dict[str, Any], existing: Mapping[str, Any], if_exists: IfJobExists
    ) -> None:
        if if_exists == "fail":
            raise LabelingJobConflictError(
                f"Labeling job {spec.job_name} exists already ({existing['LabelingJobStatus']}) and "
                'action_if_job_exists="fail"'
            )
        differences = request_differences(request, existing)
        if differences:
            raise LabelingJobConflictError(
                f"Labeling job {spec.job_name} exists but was created from a different request, so this task "
                f"will not re-attach to it: {'; '.join(differences)}. Give this task another job_name, or pass "
                'action_if_job_exists="timestamp" to start a new job.'
            )

    def _check_input_size(self, spec: LabelingJobSpec) -> None:
        """Object-count limits, checked on the manifest before a job (and its bill) exists."""
        count = self.count_manifest_objects(spec.input_manifest_uri)
        limit = spec.info.max_dataset_objects
        if count == 0:
            raise InvalidLabelingJobConfigError(f"input manifest {spec.input_manifest_uri} has no objects")
        if count > limit:
            raise InvalidLabelingJobConfigError(
                f"input manifest {spec.input_manifest_uri} has {count} objects; {spec.task_type} jobs take at most {limit}"
            )
        if spec.auto_labeling and count < MIN_AUTO_LABELING_OBJECTS:
            raise InvalidLabelingJobConfigError(
                f"auto_labeling needs at least {MIN_AUTO_LABELING_OBJECTS} objects; "
                f"{spec.input_manifest_uri} has {count}"
            )

    def _upload_configuration(self, spec: LabelingJobSpec) -> None:
        """The label category config and (for template-based types) the worker template, beside the output."""
        texts = {
            "short_instructions": spec.short_instructions,
            "full_instructions": spec.full_instructions,
            "audit_label_attribute_name": spec.audit_label_attribute_name,
        }
        self.upload_json(label_category_config(spec.labels, spec.info, **texts), spec.label_config_uri)
        if spec.uploads_template:
            self.upload_text(render_worker_template(spec.info, header=spec.title, **texts), spec.ui_template_uri)

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
        """Block until the job is terminal; return its final description (see :class:`LabelingJobWait`)."""
        wait = LabelingJobWait(job_name, waiter_delay, waiter_max_attempts, self.log)
        waiter = self.get_waiter(WAITER_NAME)
        for attempt in wait.attempts():
            try:
                waiter.wait(**wait.waiter_args)
                outcome = wait.after_check(attempt, None)
            except WaiterError as error:
                outcome = wait.after_check(attempt, error)
                if outcome is not None and outcome.status == "error":
                    raise
            if outcome is not None:
                break
            time.sleep(waiter_delay)
        else:
            raise LabelingJobFailedError(wait.timed_out().message)
        return dict(self.check_final_state(self.describe(job_name), allow_stopped=allow_stopped).description)

    def check_final_state(self, state: LabelingJobState, *, allow_stopped: bool = False) -> LabelingJobState:
        """Raise for Failed (and Stopped unless allowed): :func:`gt_provider.backends.check_final_state`.

        A Failed or Stopped job's last events (CloudWatch Logs) are logged first, so the
        task log says what happened to it whether or not it raises.
        """
        if state.status in FAILURE_STATES | STOPPED_STATES:
            self.log_last_job_events(state.job_name)
        return check_final_state(state, self.log, allow_stopped=allow_stopped)

    # ------------------------------------------------------------- job events
    def last_job_events(self, job_name: str, limit: int = 10) -> list[str]:
        """The job's last ``limit`` events in CloudWatch Logs, oldest first, as a person reads them.

        Each is the ``message`` of the event's JSON when it has one (the local Ground Truth's
        events), else the event's raw text (AWS writes other shapes, and plain text). When
        the events cannot be read (no log group or stream, access denied, no endpoint) a
        short note is logged and the list is empty: reading them never fails the caller.
        """
        return [event_text(message) for message in self._read_job_events(job_name, limit) or []]

    def confidence_thresholds(self, job_name: str, limit: int = 100) -> list[float]:
        """The confidence threshold of each automated-labeling iteration, oldest first, from the job's events.

        The local Ground Truth's ``IterationCompleted`` events carry the threshold its
        model's machine labels had to reach; AWS does not publish it, so this is empty on
        AWS (and when the events cannot be read, as for :meth:`last_job_events`).
        """
        thresholds = []
        for message in self._read_job_events(job_name, limit) or []:
            try:
                body = json.loads(message)
            except ValueError:
                continue
            if isinstance(body, dict) and body.get("event") == "IterationCompleted":
                threshold = body.get("threshold")
                if isinstance(threshold, int | float):
                    thresholds.append(float(threshold))
        return thresholds

    def log_last_job_events(self, job_name: str, limit: int = 10) -> None:
        """Log the job's last ``limit`` events (see :meth:`last_job_events`), or a note why none; never raises."""
        try:
            messages = self._read_job_events(job_name, limit)
        except Exception as error:  # the job's own end is what matters: its events are only context
            self.log.info("No events of labeling job %s: %s", job_name, error)
            return
        if messages is None:  # unreadable: _read_job_events said why
            return
        events = [event_text(message) for message in messages]
        if not events:
            self.log.info("Labeling job %s has no events in CloudWatch Logs %s", job_name, JOB_EVENTS_LOG_GROUP)
            return
        self.log.info(
            "Last %d events of labeling job %s (CloudWatch Logs %s):\n%s",
            len(events),
            job_name,
            JOB_EVENTS_LOG_GROUP,
            "\n".join(f"  {text}" for text in events),
        )

    def _read_job_events(self, job_name: str, limit: int) -> list[str] | None:
        """The last events' raw messages, or None (and a note logged) when CloudWatch Logs cannot be read."""
        try:
            response = self.logs_hook.conn.get_log_events(
                logGroupName=JOB_EVENTS_LOG_GROUP, logStreamName=job_name, limit=limit, startFromHead=False
            )
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            self.log.info(
                "No events of labeling job %s: CloudWatch Logs %s, stream %s, cannot be read (%s)",
                job_name,
                JOB_EVENTS_LOG_GROUP,
                job_name,
                "no such log group or stream" if code == "ResourceNotFoundException" else code or error,
            )
            return None
        except BotoCoreError as error:
            self.log.info("No events of labeling job %s: CloudWatch Logs cannot be reached (%s)", job_name, error)
            return None
        events = sorted(response.get("events", []), key=lambda event: event.get("timestamp", 0))
        return [event.get("message", "") for event in events[-limit:]]

    # ------------------------------------------------------------------- S3 I/O
    def upload_text(self, text: str, s3_uri: str) -> str:
        """Write ``text`` to ``s3_uri`` (replacing an object gt_provider wrote there earlier)."""
        bucket, key = split_s3_uri(s3_uri)
        self.s3_hook.load_string(text, key=key, bucket_name=bucket, replace=True)
        return s3_uri

    def count_manifest_objects(self, s3_uri: str) -> int:
        """Non-blank lines of a JSON Lines manifest, streamed (never read whole into memory)."""
        bucket, key = split_s3_uri(s3_uri)
        body = self.s3_hook.get_key(key, bucket_name=bucket).get()["Body"]
        return sum(1 for line in body.iter_lines() if line.strip())

    def upload_json(self, document: Any, s3_uri: str) -> str:
        return self.upload_text(json.dumps(document, indent=2), s3_uri)
