"""Operators that create and wait for Ground Truth labeling jobs."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils import validate_execute_complete_event
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import conf

from gt_provider.exceptions import InvalidLabelingJobConfigError, LabelingJobConflictError, LabelingJobFailedError
from gt_provider.hooks.ground_truth import GroundTruthHook
from gt_provider.labeling_request import (
    LabelingJobSpec,
    default_job_name,
    request_differences,
    timestamped_job_name,
)
from gt_provider.status import format_progress
from gt_provider.templates import label_category_config, render_worker_template
from gt_provider.triggers.labeling import GroundTruthLabelingJobTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context


ACTIONS_IF_JOB_EXISTS = ("reattach", "fail", "timestamp")


class GroundTruthLabelingJobOperator(AwsBaseOperator[GroundTruthHook]):
    """Create an Amazon SageMaker Ground Truth labeling job from high-level arguments.

    The operator checks every argument against Ground Truth's limits before any AWS call,
    uploads the label category configuration and the worker task template beside the
    output (``<output_path>/_gt_provider/<job_name>/``), creates the job and, by default,
    waits for it, logging how far along it is.

    A retried or cleared task never pays twice: the default job name is derived from the
    DAG, task, run and map index, and when a job of that name exists the operator
    re-attaches to it instead of creating another.

    :param task_type: Built-in task type: ``"ImageMultiClass"`` or ``"TextMultiClass"``. (templated)
    :param input_manifest_uri: S3 URI of the input manifest (JSON Lines). (templated)
    :param output_path: S3 prefix under which Ground Truth writes ``<job_name>/...``. (templated)
    :param labels: The label names workers choose from (2 or more). (templated)
    :param workteam_arn: ARN of a private or vendor workteam. The public workforce (Mechanical
        Turk) closed on 2026-09-30 and is refused. (templated)
    :param role_arn: IAM role Ground Truth assumes to read input and write output. (templated)
    :param short_instructions: Shown beside every task. (templated)
    :param full_instructions: Shown when the worker opens the instructions; defaults to the
        short ones. (templated)
    :param job_name: Labeling job name; default: deterministic per task instance. (templated)
    :param label_attribute_name: Key of the label in the output manifest (default ``"label"``). (templated)
    :param workers_per_object: Workers who label each object, 1-9 (default 3). (templated)
    :param task_title: Title workers see in the task list; default from the labels. (templated)
    :param task_description: Description workers see; default: the short instructions. (templated)
    :param task_time_limit: Seconds a worker has for one task, 30-28,800 (default 300). (templated)
    :param task_availability_lifetime: Seconds a task stays offered, 60 s to 30 days
        (default 10 days). (templated)
    :param max_concurrent_tasks: Tasks offered at once, 1-5,000 (default: Ground Truth's). (templated)
    :param tags: Tags for the labeling job. (templated)
    :param wait_for_completion: Wait until the job is terminal (default True).
    :param deferrable: Wait in the triggerer instead of holding a worker slot (default:
        ``[operators] default_deferrable``). Implies waiting. Needs aiobotocore.
    :param waiter_delay: Seconds between status checks (default 60). (templated)
    :param waiter_max_attempts: Status checks before giving up waiting (default 14,400:
        10 days at the default delay); the job keeps running in AWS. (templated)
    :param allow_stopped: Succeed when the job ends Stopped, with partial output (default False).
    :param action_if_job_exists: When a job with the name exists: ``"reattach"`` (default; wait
        for it, provided it was created with the same data, workteam, role and labels, else
        fail), ``"fail"``, or ``"timestamp"`` (start a new job named ``<job_name>-<UTC time>``).
    :param aws_conn_id: The Airflow connection used for AWS credentials (default ``aws_default``).
    :param region_name: AWS region; default: the connection's.

    :return: ``{"job_name", "labeling_job_arn", "status", "task_type", "label_attribute_name",
        "input_manifest_uri", "output_path", "output_manifest_uri", "label_counters"}``
    """

    aws_hook_class = GroundTruthHook
    template_fields: Sequence[str] = aws_template_fields(
        "ground_truth_task_type",
        "input_manifest_uri",
        "output_path",
        "labels",
        "workteam_arn",
        "role_arn",
        "short_instructions",
        "full_instructions",
        "job_name",
        "label_attribute_name",
        "workers_per_object",
        "task_title",
        "task_description",
        "task_time_limit",
        "task_availability_lifetime",
        "max_concurrent_tasks",
        "tags",
        "waiter_delay",
        "waiter_max_attempts",
    )
    template_fields_renderers: ClassVar[dict[str, str]] = {"labels": "json", "tags": "json"}
    ui_color = "#f0e4ff"

    def __init__(
        self,
        *,
        task_type: str,
        input_manifest_uri: str,
        output_path: str,
        labels: Sequence[str],
        workteam_arn: str,
        role_arn: str,
        short_instructions: str,
        full_instructions: str = "",
        job_name: str | None = None,
        label_attribute_name: str = "label",
        workers_per_object: int = 3,
        task_title: str | None = None,
        task_description: str | None = None,
        task_time_limit: int = 300,
        task_availability_lifetime: int = 10 * 24 * 3600,
        max_concurrent_tasks: int | None = None,
        tags: Mapping[str, str] | None = None,
        wait_for_completion: bool = True,
        waiter_delay: int = 60,
        waiter_max_attempts: int = 14_400,
        allow_stopped: bool = False,
        action_if_job_exists: str = "reattach",
        deferrable: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        # BaseOperator.task_type is Airflow's own (the operator class name): keep ours apart.
        self.ground_truth_task_type = task_type
        self.input_manifest_uri = input_manifest_uri
        self.output_path = output_path
        self.labels = labels
        self.workteam_arn = workteam_arn
        self.role_arn = role_arn
        self.short_instructions = short_instructions
        self.full_instructions = full_instructions
        self.job_name = job_name
        self.label_attribute_name = label_attribute_name
        self.workers_per_object = workers_per_object
        self.task_title = task_title
        self.task_description = task_description
        self.task_time_limit = task_time_limit
        self.task_availability_lifetime = task_availability_lifetime
        self.max_concurrent_tasks = max_concurrent_tasks
        self.tags = tags
        self.wait_for_completion = wait_for_completion
        self.waiter_delay = waiter_delay
        self.waiter_max_attempts = waiter_max_attempts
        self.allow_stopped = allow_stopped
        if action_if_job_exists not in ACTIONS_IF_JOB_EXISTS:
            raise InvalidLabelingJobConfigError(
                f"action_if_job_exists must be one of {ACTIONS_IF_JOB_EXISTS}, got {action_if_job_exists!r}"
            )
        self.action_if_job_exists = action_if_job_exists
        self.deferrable = (
            conf.getboolean("operators", "default_deferrable", fallback=False) if deferrable is None else deferrable
        )

    def build_spec(self, context: Context) -> LabelingJobSpec:
        """The validated job description; raises before any AWS call on bad arguments."""
        ti = context["ti"]
        return LabelingJobSpec(
            task_type=self.ground_truth_task_type,
            job_name=self.job_name or default_job_name(ti.dag_id, ti.task_id, ti.run_id, ti.map_index),
            input_manifest_uri=self.input_manifest_uri,
            output_path=self.output_path,
            labels=tuple(self.labels),
            workteam_arn=self.workteam_arn,
            role_arn=self.role_arn,
            short_instructions=self.short_instructions,
            full_instructions=self.full_instructions,
            label_attribute_name=self.label_attribute_name,
            workers_per_object=self.workers_per_object,
            task_title=self.task_title,
            task_description=self.task_description,
            task_time_limit=self.task_time_limit,
            task_availability_lifetime=self.task_availability_lifetime,
            max_concurrent_tasks=self.max_concurrent_tasks,
            tags=dict(self.tags or {}),
        )

    def execute(self, context: Context) -> dict[str, Any]:
        spec = self.build_spec(context)
        region = self.hook.conn_region_name
        existing = self.hook.find_labeling_job(spec.job_name)
        if existing is not None and self.action_if_job_exists == "timestamp":
            spec = dataclasses.replace(spec, job_name=timestamped_job_name(spec.job_name, datetime.now(UTC)))
            existing = None
        request = spec.request(region)
        if existing is not None:
            self._check_can_reattach(spec, request, existing)
            self.log.info(
                "Labeling job %s exists already (%s, %s): re-attaching to it instead of starting another",
                spec.job_name,
                existing["LabelingJobStatus"],
                format_progress(existing.get("LabelCounters")),
            )
        else:
            self.hook.upload_json(label_category_config(spec.labels), spec.label_config_uri)
            self.hook.upload_text(
                render_worker_template(
                    spec.task_type,
                    header=spec.title,
                    short_instructions=spec.short_instructions,
                    full_instructions=spec.full_instructions,
                ),
                spec.ui_template_uri,
            )
            self.hook.create_labeling_job(request)
        if self.deferrable:
            self.defer(
                trigger=GroundTruthLabelingJobTrigger(
                    job_name=spec.job_name,
                    waiter_delay=int(self.waiter_delay),
                    waiter_max_attempts=int(self.waiter_max_attempts),
                    aws_conn_id=self.aws_conn_id,
                    region_name=self.region_name,
                    verify=self.verify,
                    botocore_config=self.botocore_config,
                ),
                method_name="execute_complete",
            )
        if self.wait_for_completion:
            description = self.hook.wait_for_labeling_job(
                spec.job_name,
                waiter_delay=int(self.waiter_delay),
                waiter_max_attempts=int(self.waiter_max_attempts),
                allow_stopped=self.allow_stopped,
            )
        else:
            description = self.hook.describe_labeling_job(spec.job_name)
        return self.result(spec, description)

    def _check_can_reattach(self, spec: LabelingJobSpec, request: dict[str, Any], existing: dict[str, Any]) -> None:
        if self.action_if_job_exists == "fail":
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

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Resume after the trigger fired; may run on another worker, so only the event is trusted."""
        event = validate_execute_complete_event(event)
        spec = self.build_spec(context)
        job_name = event.get("job_name")
        if (
            self.action_if_job_exists == "timestamp"
            and isinstance(job_name, str)
            and job_name.startswith(spec.job_name[:40])
        ):
            spec = dataclasses.replace(spec, job_name=job_name)  # execute() started a timestamped job
        if job_name != spec.job_name:
            raise LabelingJobFailedError(f"Trigger event is for job {job_name!r}, not {spec.job_name!r}")
        if event["status"] in ("error", "timeout"):
            raise LabelingJobFailedError(event.get("message", f"Waiting for labeling job {spec.job_name} failed"))
        description = self.hook.check_final_state(
            self.hook.describe_labeling_job(spec.job_name), allow_stopped=self.allow_stopped
        )
        return self.result(spec, description)

    @staticmethod
    def result(spec: LabelingJobSpec, description: Mapping[str, Any]) -> dict[str, Any]:
        """The small dict this operator returns (and pushes to XCom)."""
        output = description.get("LabelingJobOutput") or {}
        return {
            "job_name": spec.job_name,
            "labeling_job_arn": description["LabelingJobArn"],
            "status": description["LabelingJobStatus"],
            "task_type": spec.task_type,
            "label_attribute_name": spec.label_attribute_name,
            "input_manifest_uri": spec.input_manifest_uri,
            "output_path": spec.output_path,
            "output_manifest_uri": output.get("OutputDatasetS3Uri", spec.output_manifest_uri),
            "label_counters": dict(description.get("LabelCounters") or {}),
        }
