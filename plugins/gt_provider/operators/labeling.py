"""Operators that create, wait for and stop labeling jobs, through the labeling-backend contract."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils import validate_execute_complete_event
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import conf

from gt_provider.backends import ACTIONS_IF_JOB_EXISTS, IfJobExists, LabelingJobState
from gt_provider.exceptions import InvalidLabelingJobConfigError, LabelingJobFailedError
from gt_provider.hooks.ground_truth import GroundTruthHook
from gt_provider.labeling_request import JOB_ARGUMENTS, LabelingJobSpec, default_job_name
from gt_provider.links.labeling import GroundTruthLabelingJobLink
from gt_provider.s3io import split_s3_uri
from gt_provider.triggers.labeling import GroundTruthLabelingJobTrigger

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context

#: Spec field -> operator attribute, where they differ (BaseOperator.task_type is Airflow's own).
_ATTRIBUTES = {"task_type": "ground_truth_task_type"}
_OPERATOR_ONLY_TEMPLATED = ("audit_of", "waiter_delay", "waiter_max_attempts")


def _attribute(name: str) -> str:
    return _ATTRIBUTES.get(name, name)


def _job_parameters() -> list[inspect.Parameter]:
    """The operator's job arguments, keyword-only, from LabelingJobSpec's fields."""
    parameters = []
    for argument in JOB_ARGUMENTS:
        default = argument.metadata["operator_default"]
        if default is dataclasses.MISSING:
            default = argument.default
            if argument.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
                default = None
        parameters.append(
            inspect.Parameter(
                argument.name,
                inspect.Parameter.KEYWORD_ONLY,
                default=inspect.Parameter.empty if default is dataclasses.MISSING else default,
                annotation=argument.type,
            )
        )
    return parameters


def _with_job_arguments(init: Any) -> Any:
    """Give ``init`` (which takes job arguments through ``**kwargs``) their real signature.

    Airflow reads it to apply ``default_args``, to name missing required arguments and to
    check ``partial()``/``expand()`` arguments, so the operator behaves as if every job
    argument were written out -- while the list itself lives once, in LabelingJobSpec.
    """
    own = inspect.signature(init).parameters.values()
    variadic = [parameter for parameter in own if parameter.kind is inspect.Parameter.VAR_KEYWORD]
    fixed = [parameter for parameter in own if parameter.kind is not inspect.Parameter.VAR_KEYWORD]
    init.__signature__ = inspect.Signature([*fixed, *_job_parameters(), *variadic])
    return init


def _job_arguments_doc() -> str:
    return "\n".join(
        f"    :param {argument.name}: {argument.metadata['doc']} (templated)" for argument in JOB_ARGUMENTS
    )


def _persist_link(operator: AwsBaseOperator[GroundTruthHook], context: Context, job_name: str) -> None:
    """The job's console page on the task (both labeling operators)."""
    GroundTruthLabelingJobLink.persist(
        context=context,
        operator=operator,
        region_name=operator.hook.conn_region_name,
        aws_partition=operator.hook.conn_partition,
        job_name=job_name,
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
    __doc__ = f"""Create a labeling job from high-level arguments, and wait for it.

    Every argument is checked against Ground Truth's limits before any AWS call (the input
    manifest's object count included), so a bad value never costs a job. The backend
    (:class:`~gt_provider.hooks.ground_truth.GroundTruthHook`, the labeling-backend
    contract of ``gt_provider.backends``) uploads the label category configuration and,
    for template-based task types, the worker task template beside the output
    (``<output_path>/_gt_provider/<job_name>/``), creates the job -- or re-attaches to the
    one an earlier try created -- and the operator waits for it (blocking, or in the
    triggerer with ``deferrable``), logging how far along it is.

    Retries never pay twice: the default job name is derived from the DAG, task, run and
    map index; when a job of that name exists the operator re-attaches to it, provided it
    was created from the same request (see ``action_if_job_exists``).

    The job arguments are LabelingJobSpec's fields (``gt_provider.labeling_request``), the
    one definition of them:

{_job_arguments_doc()}
    :param audit_of: For verification / adjustment jobs: the reviewed labeling task's result
        (its XCom), or ``{{"output_manifest_uri", "label_attribute_name"}}``. Fills the input
        manifest and ``auditLabelAttributeName``. (templated)
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

    :return: ``{{"job_name", "labeling_job_arn", "status", "task_type", "label_attribute_name",
        "input_manifest_uri", "output_path", "output_manifest_uri", "label_counters"}}``
    """

    aws_hook_class = GroundTruthHook
    template_fields: Sequence[str] = aws_template_fields(
        *(_attribute(argument.name) for argument in JOB_ARGUMENTS), *_OPERATOR_ONLY_TEMPLATED
    )
    template_fields_renderers: ClassVar[dict[str, str]] = {
        "audit_of": "json",
        **{argument.name: argument.metadata["renderer"] for argument in JOB_ARGUMENTS if argument.metadata["renderer"]},
    }
    operator_extra_links = (GroundTruthLabelingJobLink(),)
    ui_color = "#f0e4ff"

    @_with_job_arguments
    def __init__(
        self,
        *,
        audit_of: Mapping[str, Any] | None = None,
        action_if_job_exists: IfJobExists = "reattach",
        stop_on_kill: bool = True,
        wait_for_completion: bool = True,
        deferrable: bool | None = None,
        waiter_delay: int = 60,
        waiter_max_attempts: int = 14_400,
        allow_stopped: bool = False,
        **kwargs: Any,
    ) -> None:
        job_arguments = {argument.name: kwargs.pop(argument.name, None) for argument in JOB_ARGUMENTS}
        super().__init__(**kwargs)
        for name, value in job_arguments.items():
            setattr(self, _attribute(name), value)
        if action_if_job_exists not in ACTIONS_IF_JOB_EXISTS:
            raise InvalidLabelingJobConfigError(
                f"action_if_job_exists must be one of {ACTIONS_IF_JOB_EXISTS}, got {action_if_job_exists!r}"
            )
        self.audit_of = audit_of
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
        arguments = {
            argument.name: getattr(self, _attribute(argument.name))
            for argument in JOB_ARGUMENTS
            if getattr(self, _attribute(argument.name)) is not None
        }
        arguments.setdefault("input_manifest_uri", audited_manifest)
        if arguments["input_manifest_uri"] is None:
            raise InvalidLabelingJobConfigError("input_manifest_uri is required (or audit_of, for a review job)")
        arguments.setdefault("job_name", default_job_name(ti.dag_id, ti.task_id, ti.run_id, ti.map_index))
        return LabelingJobSpec(**arguments, audit_label_attribute_name=audited_attribute)

    def execute(self, context: Context) -> dict[str, Any]:
        attached = self.hook.create_or_attach(self.build_spec(context), if_exists=self.action_if_job_exists)
        spec = attached.spec
        self._started_job_name = spec.job_name
        _persist_link(self, context, spec.job_name)
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
        state = attached.state
        if self.wait_for_completion:
            state = self.hook.job_state(
                self.hook.wait_for_labeling_job(
                    spec.job_name,
                    waiter_delay=int(self.waiter_delay),
                    waiter_max_attempts=int(self.waiter_max_attempts),
                    allow_stopped=self.allow_stopped,
                )
            )
        return self.result(spec, state)

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
        state = self.hook.check_final_state(self.hook.describe(spec.job_name), allow_stopped=self.allow_stopped)
        return self.result(spec, state)

    def on_kill(self) -> None:
        """Stop the job this task started or re-attached to, so a killed task stops the bill."""
        if self.stop_on_kill and self._started_job_name:
            self.hook.stop(self._started_job_name)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        """Lineage: the input manifest goes in, the output augmented manifest comes out."""
        from airflow.providers.common.compat.openlineage.facet import Dataset
        from airflow.providers.openlineage.extractors import OperatorLineage

        result = task_instance.xcom_pull(task_ids=task_instance.task_id) or {}

        def dataset(uri: str | None) -> list[Dataset]:
            if not uri:
                return []
            bucket, key = split_s3_uri(uri)
            return [Dataset(namespace=f"s3://{bucket}", name=key)]

        return OperatorLineage(
            inputs=dataset(result.get("input_manifest_uri")),
            outputs=dataset(result.get("output_manifest_uri")),
        )

    @staticmethod
    def result(spec: LabelingJobSpec, state: LabelingJobState) -> dict[str, Any]:
        """The small dict this operator returns (and pushes to XCom)."""
        return {
            "job_name": spec.job_name,
            "labeling_job_arn": state.job_arn,
            "status": state.status,
            "task_type": spec.task_type,
            "label_attribute_name": spec.label_attribute_name,
            "input_manifest_uri": spec.input_manifest_uri,
            "output_path": spec.output_path,
            "output_manifest_uri": state.output_manifest_uri or spec.output_manifest_uri,
            "label_counters": dict(state.counters),
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
        self.hook.stop(self.job_name)
        _persist_link(self, context, self.job_name)
        if self.wait_for_completion:
            state = self.hook.job_state(
                self.hook.wait_for_labeling_job(
                    self.job_name,
                    waiter_delay=int(self.waiter_delay),
                    waiter_max_attempts=int(self.waiter_max_attempts),
                    allow_stopped=True,
                )
            )
        else:
            state = self.hook.describe(self.job_name)
        return {
            "job_name": self.job_name,
            "status": state.status,
            "label_counters": dict(state.counters),
            "output_manifest_uri": (state.description.get("LabelingJobOutput") or {}).get("OutputDatasetS3Uri"),
        }
