"""Operators that create, wait for and stop labeling jobs, through the labeling-backend contract."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils import validate_execute_complete_event
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import AirflowFailException, conf

from gt_provider import pricing as costs
from gt_provider.backends import (
    ACTIONS_IF_JOB_EXISTS,
    BACKENDS,
    IfJobExists,
    LabelingBackend,
    LabelingJobState,
    check_final_state,
    wait_by_polling,
)
from gt_provider.exceptions import (
    InvalidLabelingJobConfigError,
    LabelingBudgetExceededError,
    LabelingJobFailedError,
)
from gt_provider.hooks.ground_truth import GroundTruthHook
from gt_provider.job_records import JOB_RECORD_KEY, JobRecord
from gt_provider.labeling_request import JOB_ARGUMENTS, LabelingJobSpec, default_job_name
from gt_provider.lineage import remember
from gt_provider.links.labeling import GroundTruthLabelingJobLink, LabelStudioProjectLink, persist_no_link
from gt_provider.triggers.labeling import GroundTruthLabelingJobTrigger

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context

#: Spec field -> operator attribute, where they differ (BaseOperator.task_type is Airflow's own).
_ATTRIBUTES = {"task_type": "ground_truth_task_type"}
_OPERATOR_ONLY_TEMPLATED = (
    "audit_of",
    "waiter_delay",
    "waiter_max_attempts",
    "backend",
    "label_studio_conn_id",
    "max_cost_usd",
    "pricing",
    "objects_labeled_this_month",
)
#: The Airflow Variable (JSON) whose pricing overrides the pricing file for every labeling task.
PRICING_VARIABLE = "gt_provider_pricing"


class BudgetRefusal(AirflowFailException, LabelingBudgetExceededError):
    """:class:`LabelingBudgetExceededError` as the task raises it: failed, not retried (a retry
    would make the same estimate and refuse it again, two retry delays later)."""


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


class _OnABackend:
    """What both labeling operators share: the backend their ``backend`` names, and its links.

    ``"ground_truth"`` is the operator's own hook (Ground Truth on AWS, or the local one);
    ``"label_studio"`` a :class:`~gt_provider.hooks.label_studio.LabelStudioHook` on the
    ``label_studio_conn_id`` connection, with the same ``aws_conn_id`` for S3.
    """

    backend: str
    label_studio_conn_id: str

    @property
    def labeling_backend(self) -> LabelingBackend:
        if self.backend == "ground_truth":
            return self.hook  # type: ignore[attr-defined]
        if self.backend == "label_studio":
            from gt_provider.hooks.label_studio import LabelStudioHook

            return LabelStudioHook(self.label_studio_conn_id, aws_conn_id=self.aws_conn_id)  # type: ignore[attr-defined]
        raise InvalidLabelingJobConfigError(f"backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")

    def _persist_link(self, context: Context, backend: LabelingBackend, state: LabelingJobState) -> None:
        """The job's page on the task: the console (Ground Truth) or the project (Label Studio)."""
        if self.backend == "label_studio":
            persist_no_link(context, self, GroundTruthLabelingJobLink)  # type: ignore[arg-type]
            if state.job_arn:
                LabelStudioProjectLink.persist(context=context, operator=self, url=state.job_arn)  # type: ignore[arg-type]
            return
        persist_no_link(context, self, LabelStudioProjectLink)  # type: ignore[arg-type]
        GroundTruthLabelingJobLink.persist(
            context=context,
            operator=self,  # type: ignore[arg-type]
            region_name=self.hook.conn_region_name,  # type: ignore[attr-defined]
            aws_partition=self.hook.conn_partition,  # type: ignore[attr-defined]
            job_name=state.job_name,
        )

    def _persist_job_record(self, context: Context, state: LabelingJobState) -> None:
        """What the Labeling jobs page lists: the job, its page, and the connections to ask about it."""
        if not self.do_xcom_push:  # type: ignore[attr-defined]
            return
        if self.backend == "label_studio":
            record = JobRecord(
                backend=self.backend,
                job_name=state.job_name,
                job_url=state.job_arn,
                aws_conn_id=self.aws_conn_id,  # type: ignore[attr-defined]
                label_studio_conn_id=self.label_studio_conn_id,
            )
        else:
            region = self.hook.conn_region_name  # type: ignore[attr-defined]
            record = JobRecord(
                backend=self.backend,
                job_name=state.job_name,
                job_url=GroundTruthLabelingJobLink().format_link(
                    aws_domain=GroundTruthLabelingJobLink.get_aws_domain(self.hook.conn_partition),  # type: ignore[attr-defined]
                    region_name=region,
                    job_name=state.job_name,
                ),
                aws_conn_id=self.aws_conn_id,  # type: ignore[attr-defined]
                region_name=region,
            )
        context["ti"].xcom_push(key=JOB_RECORD_KEY, value=record.to_xcom())

    def _wait(
        self, backend: LabelingBackend, job_name: str, delay: int, attempts: int, allow_stopped: bool
    ) -> LabelingJobState:
        """Block until the job ends (Ground Truth's waiter, or polling ``describe``), then judge its end."""
        if self.backend == "ground_truth":
            return self.hook.job_state(  # type: ignore[attr-defined]
                self.hook.wait_for_labeling_job(  # type: ignore[attr-defined]
                    job_name, waiter_delay=delay, waiter_max_attempts=attempts, allow_stopped=allow_stopped
                )
            )
        state = wait_by_polling(backend, job_name, delay=delay, max_attempts=attempts, log=self.log)  # type: ignore[attr-defined]
        return self._check_final_state(backend, state, allow_stopped)

    def _check_final_state(
        self, backend: LabelingBackend, state: LabelingJobState, allow_stopped: bool
    ) -> LabelingJobState:
        """Judge the job's end; Ground Truth's hook logs a Failed or Stopped job's last events first."""
        if self.backend == "ground_truth":
            return self.hook.check_final_state(state, allow_stopped=allow_stopped)  # type: ignore[attr-defined]
        return check_final_state(state, self.log, allow_stopped=allow_stopped)  # type: ignore[attr-defined]

    def _trigger(self, job_name: str, delay: int, attempts: int) -> Any:
        """The trigger that waits for the job in the triggerer."""
        if self.backend == "label_studio":
            from gt_provider.triggers.label_studio import LabelStudioProjectTrigger

            return LabelStudioProjectTrigger(
                job_name=job_name,
                label_studio_conn_id=self.label_studio_conn_id,
                aws_conn_id=self.aws_conn_id,  # type: ignore[attr-defined]
                waiter_delay=delay,
                waiter_max_attempts=attempts,
            )
        return GroundTruthLabelingJobTrigger(
            job_name=job_name,
            waiter_delay=delay,
            waiter_max_attempts=attempts,
            aws_conn_id=self.aws_conn_id,  # type: ignore[attr-defined]
            region_name=self.region_name,  # type: ignore[attr-defined]
            verify=self.verify,  # type: ignore[attr-defined]
            botocore_config=self.botocore_config,  # type: ignore[attr-defined]
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


class GroundTruthLabelingJobOperator(_OnABackend, AwsBaseOperator[GroundTruthHook]):
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
    :param backend: Where the job runs: ``"ground_truth"`` (default: Ground Truth on AWS, or the
        local one the ``aws`` connection points at) or ``"label_studio"`` (a project on the
        ``label_studio_conn_id`` server; images, manifests and output stay in S3). (templated)
    :param label_studio_conn_id: The ``labelstudio`` connection (default ``label_studio_default``). (templated)
    :param max_cost_usd: Refuse to create the job when its estimate's high figure is above this
        many US dollars (default None: no limit, the estimate is only logged). The high figure
        is what the job costs if people label every object -- plus, with ``auto_labeling``,
        the training and inference instances, since the model may end up labeling nothing:
        the best case is a hope, the ceiling is what a budget must hold. Re-attaching to a job
        an earlier try created (``action_if_job_exists="reattach"``) is never refused: it is paid
        for already; only creating a job is.
        (templated)
    :param pricing: Overrides of the pricing file ``gt_provider/data/ground_truth_pricing.json``
        (a mapping deep-merged over it, or the path of a JSON / YAML file), applied over the
        ``gt_provider_pricing`` Variable (JSON), e.g. ``{{"private_workforce": {{"usd_per_hour": 35}}}}``.
        An unknown key or a negative price fails the task before anything is created. (templated)
    :param objects_labeled_this_month: Objects the account has labeled this month already
        (default 0), for Ground Truth's volume tiers: 0 prices the job at the first, dearest
        tier. (templated)
    :param aws_conn_id: The Airflow connection used for AWS credentials (default ``aws_default``).
    :param region_name: AWS region; default: the connection's.

    ``max_cost_usd``, ``pricing`` and ``objects_labeled_this_month`` are the operator's own
    arguments, not LabelingJobSpec fields: they are not part of the CreateLabelingJob request
    (so they do not decide whether a retry may re-attach) and no backend sees them.

    Before anything is created the operator counts the input manifest's objects and logs
    the estimate in one line (objects x workers, the range with and without automated
    labeling, the pricing's date). Once the job has ended it prices it from its final
    ``LabelCounters`` and the workers' ``timeSpentInSeconds`` in its worker responses, and
    logs what it cost and what automated labeling saved.

    :return: ``{{"job_name", "labeling_job_arn", "status", "task_type", "label_attribute_name",
        "input_manifest_uri", "output_path", "output_manifest_uri", "label_counters",
        "final_active_learning_model_arn", "cost", "confidence_thresholds"}}``
        (``confidence_thresholds``: automated labeling's per iteration, where the backend
        reports it -- the local Ground Truth does, AWS does not);
        ``cost`` is ``{{"currency": "USD", "estimate_usd": {{... "low_usd", "high_usd",
        "without_automation_usd", "service_fee_usd", "people_usd", "automation_usd" ...}},
        "actual_usd", "all_human_usd", "saved_usd", "worker_seconds", "actual_breakdown_usd":
        {{"service_fee", "people", "automation"}}, "pricing_source", "pricing_as_of"}}`` (the actual
        figures None until the job has ended). Prices are quoted in public material and
        unverified here: an estimate, not a bill.
    """

    aws_hook_class = GroundTruthHook
    template_fields: Sequence[str] = aws_template_fields(
        *(_attribute(argument.name) for argument in JOB_ARGUMENTS), *_OPERATOR_ONLY_TEMPLATED
    )
    template_fields_renderers: ClassVar[dict[str, str]] = {
        "audit_of": "json",
        "pricing": "json",
        **{argument.name: argument.metadata["renderer"] for argument in JOB_ARGUMENTS if argument.metadata["renderer"]},
    }
    operator_extra_links = (GroundTruthLabelingJobLink(), LabelStudioProjectLink())
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
        backend: str = "ground_truth",
        label_studio_conn_id: str = "label_studio_default",
        max_cost_usd: float | None = None,
        pricing: Mapping[str, Any] | str | None = None,
        objects_labeled_this_month: int = 0,
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
        self.backend = backend
        self.label_studio_conn_id = label_studio_conn_id
        self.max_cost_usd = max_cost_usd
        self.pricing = pricing
        self.objects_labeled_this_month = objects_labeled_this_month
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
        backend = self.labeling_backend
        spec = self.build_spec(context)
        pricing = self._pricing()
        estimate = self._estimate(spec, pricing)
        self._check_budget(backend, spec, estimate)
        attached = backend.create_or_attach(spec, if_exists=self.action_if_job_exists)
        spec = attached.spec
        self._started_job_name = spec.job_name
        self._persist_link(context, backend, attached.state)
        self._persist_job_record(context, attached.state)
        delay, attempts = int(self.waiter_delay), int(self.waiter_max_attempts)
        estimated = estimate.as_dict() if estimate is not None else None
        if self.deferrable:
            self.defer(
                trigger=self._trigger(spec.job_name, delay, attempts),
                method_name="execute_complete",
                kwargs={"estimate": estimated},
            )
        if not self.wait_for_completion:
            return remember(self, self.result(spec, attached.state, cost=costs.cost_report(pricing, estimated, None)))
        state = self._wait(backend, spec.job_name, delay, attempts, self.allow_stopped)
        return remember(self, self._ended(backend, spec, state, pricing, estimated))

    def execute_complete(
        self, context: Context, event: dict[str, Any] | None = None, estimate: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Resume after the trigger fired; may run on another worker, so only the event is trusted.

        ``estimate`` is the one ``execute`` logged before creating the job (passed along with
        the deferral); the job's actual cost is computed here, from its final counters.
        """
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
        backend = self.labeling_backend
        state = self._check_final_state(backend, backend.describe(spec.job_name), self.allow_stopped)
        pricing = self._pricing(log=False)
        if estimate is None:  # deferred by a version that passed no estimate: make it again
            made = self._estimate(spec, pricing)
            estimate = made.as_dict() if made is not None else None
        return remember(self, self._ended(backend, spec, state, pricing, estimate))

    # ------------------------------------------------------------------- cost
    def _pricing(self, *, log: bool = True) -> dict[str, Any]:
        """The pricing file, then the ``gt_provider_pricing`` Variable, then the ``pricing`` argument."""
        from airflow.sdk import Variable

        costs.check_budget_arguments(self.max_cost_usd, self.objects_labeled_this_month)
        variable = Variable.get(PRICING_VARIABLE, default=None)
        pricing, layers = costs.layered_pricing(variable, self.pricing, variable_name=PRICING_VARIABLE)
        if log:
            self.log.info(
                "Pricing: %s, as of %s (%s; figures quoted in public material, unverified)",
                " + ".join(layers),
                pricing["as_of"],
                pricing["source"],
            )
        return pricing

    def _estimate(self, spec: LabelingJobSpec, pricing: Mapping[str, Any]) -> costs.CostEstimate | None:
        """The job's estimate from its input's object count, logged; None when the input cannot be counted."""
        try:
            objects = self.hook.count_manifest_objects(spec.input_manifest_uri)
        except Exception as error:  # no such object, access denied: the backend names it if it needs the input
            if self.max_cost_usd is not None:
                raise InvalidLabelingJobConfigError(
                    f"max_cost_usd cannot be checked: the objects of input manifest {spec.input_manifest_uri} "
                    f"cannot be counted ({error})"
                ) from error
            self.log.warning(
                "No cost estimate for %s: cannot count %s (%s)", spec.job_name, spec.input_manifest_uri, error
            )
            return None
        estimate = costs.estimate(
            pricing,
            objects=objects,
            workers_per_object=spec.workers_per_object,
            workteam_arn=spec.workteam_arn,
            task_type=spec.task_type,
            backend=self.backend,
            auto_labeling=spec.auto_labeling,
            objects_labeled_this_month=self.objects_labeled_this_month,
            stopping_conditions=spec.stopping_conditions,
        )
        self.log.info("Labeling job %s estimate: %s", spec.job_name, estimate.summary())
        return estimate

    def _check_budget(
        self, backend: LabelingBackend, spec: LabelingJobSpec, estimate: costs.CostEstimate | None
    ) -> None:
        """Refuse to create a job whose estimate's high figure is above ``max_cost_usd``; never refuse a re-attach."""
        limit = self.max_cost_usd
        if limit is None or estimate is None or estimate.high_usd <= limit:
            return
        if self.action_if_job_exists == "reattach" and self._job_exists(backend, spec.job_name):
            self.log.warning(
                "Labeling job %s could cost up to $%.2f, above max_cost_usd=$%.2f, but a job of that name exists "
                "already (an earlier try created it: it is paid for): re-attaching to it, if it was created from "
                "the same request, rather than refusing",
                spec.job_name,
                estimate.high_usd,
                limit,
            )
            return
        raise BudgetRefusal(
            f"Labeling job {spec.job_name} was not created: it could cost up to ${estimate.high_usd:,.2f}, above "
            f"max_cost_usd=${limit:,.2f} ({estimate.summary()}; pricing as of {estimate.pricing_as_of}). Raise "
            "max_cost_usd, label fewer objects or with fewer workers per object, or correct the pricing "
            f"(the {PRICING_VARIABLE} Variable or the pricing argument)."
        )

    def _job_exists(self, backend: LabelingBackend, job_name: str) -> bool:
        if self.backend == "ground_truth":
            return self.hook.find_labeling_job(job_name) is not None
        return backend.describe(job_name).job_arn is not None  # Label Studio: a missing project has no URL

    def _ended(
        self,
        backend: LabelingBackend,
        spec: LabelingJobSpec,
        state: LabelingJobState,
        pricing: Mapping[str, Any],
        estimate: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        """The result of an ended job: its output manifest, and what it cost (logged)."""
        output = backend.collect(spec.job_name)
        cost = None
        try:
            worker = self._worker_time(output.worker_responses_uri)
        except Exception as error:  # the job is done and paid for: a cost we cannot read must not fail it
            self.log.warning("No actual cost for %s: its worker responses cannot be read (%s)", spec.job_name, error)
        else:
            cost = costs.actual(
                pricing,
                counters=state.counters,
                worker_seconds=worker.seconds,
                worker_answers=worker.answers,
                workers_per_object=spec.workers_per_object,
                workteam_arn=spec.workteam_arn,
                task_type=spec.task_type,
                backend=self.backend,
                auto_labeling=spec.auto_labeling,
                objects_labeled_this_month=self.objects_labeled_this_month,
            )
            self.log.info("Labeling job %s (%s): %s", spec.job_name, state.progress, cost.summary())
        if output.confidence_thresholds:
            self.log.info(
                "Machine labels of %s met confidence thresholds %s (one per iteration)",
                spec.job_name,
                ", ".join(f"{threshold:.3f}" for threshold in output.confidence_thresholds),
            )
        return self.result(
            spec,
            state,
            output.output_manifest_uri,
            cost=costs.cost_report(pricing, estimate, cost),
            confidence_thresholds=output.confidence_thresholds,
        )

    def _worker_time(self, worker_responses_uri: str) -> costs.WorkerTime:
        from gt_provider.datasets.workers.responses import WORKER_RESPONSE_FOLDER, read_worker_responses

        job_output = worker_responses_uri.rstrip("/").removesuffix(WORKER_RESPONSE_FOLDER.rstrip("/"))
        return costs.worker_time(read_worker_responses(job_output, s3_client=self.hook.s3_hook.get_conn()))

    def on_kill(self) -> None:
        """Stop the job this task started or re-attached to, so a killed task stops the bill."""
        if self.stop_on_kill and self._started_job_name:
            self.labeling_backend.stop(self._started_job_name)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        """Lineage: the input manifest goes in, the output augmented manifest comes out."""
        from gt_provider import lineage

        result = lineage.remembered(self)
        source_field = lineage.source_field(result.get("task_type"))
        read, written = result.get("input_manifest_uri"), result.get("output_manifest_uri")
        attribute = result.get("label_attribute_name") or "label"
        return lineage.lineage(
            inputs=[lineage.dataset(read, lineage.manifest_fields(source_field))] if read else [],
            outputs=[lineage.dataset(written, lineage.output_manifest_fields(attribute, source_field))]
            if written
            else [],
        )

    @staticmethod
    def result(
        spec: LabelingJobSpec,
        state: LabelingJobState,
        output_manifest_uri: str | None = None,
        *,
        cost: Mapping[str, Any] | None = None,
        confidence_thresholds: Sequence[float] = (),
    ) -> dict[str, Any]:
        """The small dict this operator returns (and pushes to XCom); the output manifest once collected."""
        return {
            "job_name": spec.job_name,
            "labeling_job_arn": state.job_arn,
            "status": state.status,
            "task_type": spec.task_type,
            "label_attribute_name": spec.label_attribute_name,
            "input_manifest_uri": spec.input_manifest_uri,
            "output_path": spec.output_path,
            "output_manifest_uri": output_manifest_uri or state.output_manifest_uri or spec.output_manifest_uri,
            "label_counters": dict(state.counters),
            "final_active_learning_model_arn": (state.description.get("LabelingJobOutput") or {}).get(
                "FinalActiveLearningModelArn"
            ),
            "cost": dict(cost) if cost is not None else None,
            "confidence_thresholds": list(confidence_thresholds),
        }


class GroundTruthStopLabelingJobOperator(_OnABackend, AwsBaseOperator[GroundTruthHook]):
    """Stop a labeling job; what was labeled so far stays in its (partial) output manifest.

    :param job_name: The labeling job to stop. (templated)
    :param wait_for_completion: Wait until the job is Stopped (default True).
    :param waiter_delay: Seconds between status checks (default 30). (templated)
    :param waiter_max_attempts: Status checks before giving up waiting (default 120). (templated)
    :param backend: ``"ground_truth"`` (default) or ``"label_studio"``, as for the labeling operator. (templated)
    :param label_studio_conn_id: The ``labelstudio`` connection (default ``label_studio_default``). (templated)
    :param aws_conn_id: The Airflow connection used for AWS credentials (default ``aws_default``).
    :param region_name: AWS region; default: the connection's.

    :return: ``{"job_name", "status", "label_counters", "output_manifest_uri"}``; the output
        manifest (what was labeled before the stop) once the job is Stopped.
    """

    aws_hook_class = GroundTruthHook
    template_fields: Sequence[str] = aws_template_fields(
        "job_name", "waiter_delay", "waiter_max_attempts", "backend", "label_studio_conn_id"
    )
    operator_extra_links = (GroundTruthLabelingJobLink(), LabelStudioProjectLink())
    ui_color = "#f0e4ff"

    def __init__(
        self,
        *,
        job_name: str,
        wait_for_completion: bool = True,
        waiter_delay: int = 30,
        waiter_max_attempts: int = 120,
        backend: str = "ground_truth",
        label_studio_conn_id: str = "label_studio_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.job_name = job_name
        self.wait_for_completion = wait_for_completion
        self.waiter_delay = waiter_delay
        self.waiter_max_attempts = waiter_max_attempts
        self.backend = backend
        self.label_studio_conn_id = label_studio_conn_id

    def execute(self, context: Context) -> dict[str, Any]:
        backend = self.labeling_backend
        backend.stop(self.job_name)
        state = backend.describe(self.job_name)
        self._persist_link(context, backend, state)
        if self.wait_for_completion:
            state = self._wait(backend, self.job_name, int(self.waiter_delay), int(self.waiter_max_attempts), True)
        return {
            "job_name": self.job_name,
            "status": state.status,
            "label_counters": dict(state.counters),
            "output_manifest_uri": backend.collect(self.job_name).output_manifest_uri if state.terminal else None,
        }
