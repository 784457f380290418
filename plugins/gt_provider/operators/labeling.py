"""Operators that create, wait for and stop Ground Truth labeling jobs."""

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
from gt_provider.limits import MIN_AUTO_LABELING_OBJECTS
from gt_provider.links.labeling import GroundTruthLabelingJobLink
from gt_provider.status import format_progress
from gt_provider.templates import label_category_config, render_worker_template
from gt_provider.triggers.labeling import GroundTruthLabelingJobTrigger

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context

ACTIONS_IF_JOB_EXISTS = ("reattach", "fail", "timestamp")

#: Operator attributes that become LabelingJobSpec fields of the same name.
_SPEC_FIELDS = (
    "output_path",
    "workteam_arn",
    "role_arn",
    "short_instructions",
    "full_instructions",
    "label_attribute_name",
    "workers_per_object",
    "task_title",
    "task_description",
    "task_keywords",
    "task_time_limit",
    "task_availability_lifetime",
    "max_concurrent_tasks",
    "stopping_conditions",
    "auto_labeling",
    "kms_key_id",
    "volume_kms_key_id",
    "vpc_config",
    "pre_human_task_lambda_arn",
    "annotation_consolidation_lambda_arn",
    "human_task_ui_arn",
    "ui_template_s3_uri",
)


def _audit_source(audit_of: Mapping[str, Any] | None) -> tuple[str | None, str | None]:
    """(output manifest URI, label attribute) of the job a review job reviews."""
    if audit_of is None:
        return None, None
    if not isinstance(audit_of, Mapping) or not {"output_manifest_uri", "label_attribute_name"} <= set(audit_of):
        raise InvalidLabelingJobConfigError(
            "audit_of must be the earlier labeling task's result (its XCom) or a dict with "
            f"'output_manifest_uri' and 'label_attribute_name', got {audit_of!r}"
        )
    return audit_of["output_manifest_uri"], audit_of["label_attribute_name"]


class GroundTruthLabelingJobOperator(AwsBaseOperator[GroundTruthHook]):
    """Create an Amazon SageMaker Ground Truth labeling job from high-level arguments.

    Every argument is checked against Ground Truth's limits before any AWS call (the input
    manifest's object count included), so a bad value never costs a job. The operator
    uploads the label category configuration and, for template-based task types, the
    worker task template beside the output (``<output_path>/_gt_provider/<job_name>/``),
    creates the job and waits for it (blocking, or in the triggerer with ``deferrable``),
    logging how far along it is.

    Retries never pay twice: the default job name is derived from the DAG, task, run and
    map index; when a job of that name exists the operator re-attaches to it, provided it
    was created from the same request (see ``action_if_job_exists``).

    :param task_type: Built-in task type (``gt_provider.task_types.TASK_TYPES``, e.g.
        ``"ImageMultiClass"``, ``"BoundingBox"``, ``"NamedEntityRecognition"``) or
        ``"Custom"``. (templated)
    :param input_manifest_uri: S3 URI of the input manifest; for review jobs it defaults to
        the reviewed job's output manifest. (templated)
    :param output_path: S3 prefix under which Ground Truth writes ``<job_name>/...``. (templated)
    :param labels: The label names workers choose from. (templated)
    :param workteam_arn: ARN of a private or vendor workteam. The public workforce (Mechanical
        Turk) closed on 2026-09-30 and is refused. (templated)
    :param role_arn: IAM role Ground Truth assumes to read input and write output. (templated)
    :param short_instructions: Shown beside every task. (templated)
    :param full_instructions: Shown when the worker opens the instructions. (templated)
    :param job_name: Labeling job name; default: deterministic per task instance. (templated)
    :param label_attribute_name: Key of the label in the output manifest (default ``"label"``,
        or ``"label-ref"`` for types whose attribute must end in ``-ref``). (templated)
    :param workers_per_object: Workers who label each object, 1-9 (default 3). (templated)
    :param task_title: Title workers see in the task list. (templated)
    :param task_description: Description workers see. (templated)
    :param task_keywords: 1-5 keywords workers can search for. (templated)
    :param task_time_limit: Seconds a worker has for one task (30 to the type's maximum). (templated)
    :param task_availability_lifetime: Seconds a task stays offered, 60 s to 30 days. (templated)
    :param max_concurrent_tasks: Tasks offered at once, 1-5,000. (templated)
    :param content_classifiers: ``FreeOfPersonallyIdentifiableInformation`` and/or
        ``FreeOfAdultContent``. (templated)
    :param stopping_conditions: ``{"MaxHumanLabeledObjectCount": n, "MaxPercentageOfInputDatasetLabeled": p}``. (templated)
    :param auto_labeling: Use automated data labeling (supported types only; >= 1,250 objects). (templated)
    :param kms_key_id: KMS key for the output. (templated)
    :param volume_kms_key_id: KMS key for the automated-labeling instances' volumes. (templated)
    :param vpc_config: ``{"SecurityGroupIds": [...], "Subnets": [...]}`` for automated labeling. (templated)
    :param tags: Tags for the labeling job. (templated)
    :param audit_of: For verification / adjustment jobs: the reviewed labeling task's result
        (its XCom), or ``{"output_manifest_uri", "label_attribute_name"}``. Fills the input
        manifest and ``auditLabelAttributeName``. (templated)
    :param pre_human_task_lambda_arn: Override the built-in Lambda (needed for Custom or for
        regions without built-in ARNs). (templated)
    :param annotation_consolidation_lambda_arn: Likewise for consolidation. (templated)
    :param human_task_ui_arn: Likewise for the worker UI of NER, video and 3D types. (templated)
    :param ui_template_s3_uri: Your own worker template in S3 (Custom, or to replace ours). (templated)
    :param config_overrides: Raw CreateLabelingJob fields merged over the built request. (templated)
    :param action_if_job_exists: ``"reattach"`` (default: wait for the existing job when it was
        created from the same request, fail otherwise), ``"fail"``, or ``"timestamp"`` (start a
        new job named ``<job_name>-<UTC time>``).
    :param stop_on_kill: Stop the labeling job when the task is killed (default True).
    :param wait_for_completion: Wait until the job is terminal (default True).
    :param deferrable: Wait in the triggerer instead of holding a worker slot (default:
        ``[operators] default_deferrable``). Implies waiting. Needs aiobotocore.
    :param waiter_delay: Seconds between status checks (default 60). (templated)
    :param waiter_max_attempts: Status checks before giving up waiting (default 14,400:
        10 days at the default delay); the job keeps running in AWS. (templated)
    :param allow_stopped: Succeed when the job ends Stopped, with partial output (default False).
    :param aws_conn_id: The Airflow connection used for AWS credentials (default ``aws_default``).
    :param region_name: AWS region; default: the connection's.

    :return: ``{"job_name", "labeling_job_arn", "status", "task_type", "label_attribute_name",
        "input_manifest_uri", "output_path", "output_manifest_uri", "label_counters"}``
    """

    aws_hook_class = GroundTruthHook
    template_fields: Sequence[str] = aws_template_fields(
        "ground_truth_task_type",
        "input_manifest_uri",
        "labels",
        "job_name",
        "content_classifiers",
        "tags",
        "audit_of",
        "config_overrides",
        "waiter_delay",
        "waiter_max_attempts",
        *_SPEC_FIELDS,
    )
    template_fields_renderers: ClassVar[dict[str, str]] = {
        "labels": "json",
        "tags": "json",
        "audit_of": "json",
        "config_overrides": "json",
        "stopping_conditions": "json",
        "vpc_config": "json",
    }
    operator_extra_links = (GroundTruthLabelingJobLink(),)
    ui_color = "#f0e4ff"

    def __init__(
        self,
        *,
        task_type: str,
        output_path: str,
        labels: Sequence[str],
        workteam_arn: str,
        role_arn: str,
        short_instructions: str,
        input_manifest_uri: str | None = None,
        full_instructions: str = "",
        job_name: str | None = None,
        label_attribute_name: str | None = None,
        workers_per_object: int = 3,
        task_title: str | None = None,
        task_description: str | None = None,
        task_keywords: Sequence[str] = ("labeling",),
        task_time_limit: int = 300,
        task_availability_lifetime: int = 10 * 24 * 3600,
        max_concurrent_tasks: int | None = None,
        content_classifiers: Sequence[str] = (),
        stopping_conditions: Mapping[str, int] | None = None,
        auto_labeling: bool = False,
        kms_key_id: str | None = None,
        volume_kms_key_id: str | None = None,
        vpc_config: Mapping[str, Sequence[str]] | None = None,
        tags: Mapping[str, str] | None = None,
        audit_of: Mapping[str, Any] | None = None,
        pre_human_task_lambda_arn: str | None = None,
        annotation_consolidation_lambda_arn: str | None = None,
        human_task_ui_arn: str | None = None,
        ui_template_s3_uri: str | None = None,
        config_overrides: Mapping[str, Any] | None = None,
        action_if_job_exists: str = "reattach",
        stop_on_kill: bool = True,
        wait_for_completion: bool = True,
        deferrable: bool | None = None,
        waiter_delay: int = 60,
        waiter_max_attempts: int = 14_400,
        allow_stopped: bool = False,
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
        self.task_keywords = task_keywords
        self.task_time_limit = task_time_limit
        self.task_availability_lifetime = task_availability_lifetime
        self.max_concurrent_tasks = max_concurrent_tasks
        self.content_classifiers = content_classifiers
        self.stopping_conditions = stopping_conditions
        self.auto_labeling = auto_labeling
        self.kms_key_id = kms_key_id
        self.volume_kms_key_id = volume_kms_key_id
        self.vpc_config = vpc_config
        self.tags = tags
        self.audit_of = audit_of
        self.pre_human_task_lambda_arn = pre_human_task_lambda_arn
        self.annotation_consolidation_lambda_arn = annotation_consolidation_lambda_arn
        self.human_task_ui_arn = human_task_ui_arn
        self.ui_template_s3_uri = ui_template_s3_uri
        self.config_overrides = config_overrides
        if action_if_job_exists not in ACTIONS_IF_JOB_EXISTS:
            raise InvalidLabelingJobConfigError(
                f"action_if_job_exists must be one of {ACTIONS_IF_JOB_EXISTS}, got {action_if_job_exists!r}"
            )
        self.action_if_job_exists = action_if_job_exists
        self.stop_on_kill = stop_on_kill
        self.wait_for_completion = wait_for_completion
        self.deferrable = (
            conf.getboolean("operators", "default_deferrable", fallback=False) if deferrable is None else deferrable
        )
        self.waiter_delay = waiter_delay
        self.waiter_max_attempts = waiter_max_attempts
        self.allow_stopped = allow_stopped
        self._started_job_name: str | None = None

    def build_spec(self, context: Context) -> LabelingJobSpec:
        """The validated job description; raises before any AWS call on bad arguments."""
        ti = context["ti"]
        audited_manifest, audited_attribute = _audit_source(self.audit_of)
        input_manifest_uri = self.input_manifest_uri or audited_manifest
        if input_manifest_uri is None:
            raise InvalidLabelingJobConfigError("input_manifest_uri is required (or audit_of, for a review job)")
        return LabelingJobSpec(
            task_type=self.ground_truth_task_type,
            job_name=self.job_name or default_job_name(ti.dag_id, ti.task_id, ti.run_id, ti.map_index),
            input_manifest_uri=input_manifest_uri,
            labels=tuple(self.labels),
            content_classifiers=tuple(self.content_classifiers),
            tags=dict(self.tags or {}),
            audit_label_attribute_name=audited_attribute,
            config_overrides=dict(self.config_overrides or {}),
            **{name: getattr(self, name) for name in _SPEC_FIELDS},
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
            self._check_input_size(spec)
            self._upload_configuration(spec)
            self._create(spec, request)
        self._started_job_name = spec.job_name
        GroundTruthLabelingJobLink.persist(
            context=context,
            operator=self,
            region_name=region,
            aws_partition=self.hook.conn_partition,
            job_name=spec.job_name,
        )
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

    def _create(self, spec: LabelingJobSpec, request: dict[str, Any]) -> None:
        """CreateLabelingJob; a ResourceInUse here means a retried call whose first try went through."""
        from botocore.exceptions import ClientError

        try:
            self.hook.create_labeling_job(request)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ResourceInUse":
                raise
            existing = self.hook.describe_labeling_job(spec.job_name)
            differences = request_differences(request, existing)
            if differences:
                raise LabelingJobConflictError(
                    f"Labeling job {spec.job_name} was created meanwhile from a different request: "
                    f"{'; '.join(differences)}"
                ) from error
            self.log.info("Labeling job %s was created by an earlier try of the same call: using it", spec.job_name)

    def _check_input_size(self, spec: LabelingJobSpec) -> None:
        """Object-count limits, checked on the manifest before a job (and its bill) exists."""
        count = self.hook.count_manifest_objects(spec.input_manifest_uri)
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
        self.hook.upload_json(
            label_category_config(
                spec.labels,
                task_type=spec.task_type,
                audit_label_attribute_name=spec.audit_label_attribute_name,
                short_instructions=spec.short_instructions,
                full_instructions=spec.full_instructions,
            ),
            spec.label_config_uri,
        )
        if spec.uploads_template:
            self.hook.upload_text(
                render_worker_template(
                    spec.task_type,
                    header=spec.title,
                    short_instructions=spec.short_instructions,
                    full_instructions=spec.full_instructions,
                    audit_label_attribute_name=spec.audit_label_attribute_name,
                ),
                spec.ui_template_uri,
            )

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
        self._started_job_name = spec.job_name
        description = self.hook.check_final_state(
            self.hook.describe_labeling_job(spec.job_name), allow_stopped=self.allow_stopped
        )
        return self.result(spec, description)

    def on_kill(self) -> None:
        """Stop the job this task started or re-attached to, so a killed task stops the bill."""
        if self.stop_on_kill and self._started_job_name:
            self.hook.stop_labeling_job(self._started_job_name)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        """Lineage: the input manifest goes in, the output augmented manifest comes out."""
        from airflow.providers.common.compat.openlineage.facet import Dataset
        from airflow.providers.openlineage.extractors import OperatorLineage

        result = task_instance.xcom_pull(task_ids=task_instance.task_id) or {}

        def dataset(uri: str | None) -> list[Dataset]:
            if not uri:
                return []
            bucket, _, key = uri.removeprefix("s3://").partition("/")
            return [Dataset(namespace=f"s3://{bucket}", name=key)]

        return OperatorLineage(
            inputs=dataset(result.get("input_manifest_uri")),
            outputs=dataset(result.get("output_manifest_uri")),
        )

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


class GroundTruthStopLabelingJobOperator(AwsBaseOperator[GroundTruthHook]):
    """Stop a labeling job; what was labeled so far stays in its (partial) output manifest.

    :param job_name: The labeling job to stop. (templated)
    :param wait_for_completion: Wait until the job is Stopped (default True).
    :param waiter_delay: Seconds between status checks (default 30). (templated)
    :param waiter_max_attempts: Status checks before giving up waiting (default 120). (templated)
    :param aws_conn_id: The Airflow connection used for AWS credentials (default ``aws_default``).
    :param region_name: AWS region; default: the connection's.

    :return: ``{"job_name", "status", "label_counters", "output_manifest_uri"}``
    """

    aws_hook_class = GroundTruthHook
    template_fields: Sequence[str] = aws_template_fields("job_name", "waiter_delay", "waiter_max_attempts")
    operator_extra_links = (GroundTruthLabelingJobLink(),)
    ui_color = "#f0e4ff"

    def __init__(
        self,
        *,
        job_name: str,
        wait_for_completion: bool = True,
        waiter_delay: int = 30,
        waiter_max_attempts: int = 120,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.job_name = job_name
        self.wait_for_completion = wait_for_completion
        self.waiter_delay = waiter_delay
        self.waiter_max_attempts = waiter_max_attempts

    def execute(self, context: Context) -> dict[str, Any]:
        self.hook.stop_labeling_job(self.job_name)
        GroundTruthLabelingJobLink.persist(
            context=context,
            operator=self,
            region_name=self.hook.conn_region_name,
            aws_partition=self.hook.conn_partition,
            job_name=self.job_name,
        )
        if self.wait_for_completion:
            description = self.hook.wait_for_labeling_job(
                self.job_name,
                waiter_delay=int(self.waiter_delay),
                waiter_max_attempts=int(self.waiter_max_attempts),
                allow_stopped=True,
            )
        else:
            description = self.hook.describe_labeling_job(self.job_name)
        return {
            "job_name": self.job_name,
            "status": description["LabelingJobStatus"],
            "label_counters": dict(description.get("LabelCounters") or {}),
            "output_manifest_uri": (description.get("LabelingJobOutput") or {}).get("OutputDatasetS3Uri"),
        }
