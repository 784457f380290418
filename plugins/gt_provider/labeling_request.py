"""A labeling job described by high-level arguments, checked, and turned into a request.

Standard library only. ``LabelingJobSpec`` refuses, on construction, every value Ground
Truth would refuse (or that would waste a paid job), naming the operator argument and the
allowed range, so the operator raises before any AWS call. ``request()`` builds the exact
CreateLabelingJob request.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, Field, dataclass, field, fields
from datetime import datetime
from typing import Any

from gt_provider import limits, task_types
from gt_provider.exceptions import InvalidLabelingJobConfigError, PublicWorkforceUnavailableError
from gt_provider.s3io import is_valid_s3_uri
from gt_provider.templates import TEMPLATE_FILES


def has_template(task_type: str) -> bool:
    """Whether gt_provider ships a worker template for ``task_type``."""
    return task_type in TEMPLATE_FILES


#: Where gt_provider writes a job's label category config and worker template:
#: ``<output_path>/_gt_provider/<job>/``. Job names cannot start with "_", so this never
#: collides with Ground Truth's own ``<output_path>/<job>/`` output.
CONFIG_FOLDER = "_gt_provider"
CONTENT_CLASSIFIERS = ("FreeOfPersonallyIdentifiableInformation", "FreeOfAdultContent")
STOPPING_CONDITIONS = ("MaxHumanLabeledObjectCount", "MaxPercentageOfInputDatasetLabeled")


def _slug(text: str) -> str:
    return re.sub(r"-+", "-", re.sub(r"[^a-zA-Z0-9]+", "-", text)).strip("-").lower()


def default_job_name(dag_id: str, task_id: str, run_id: str, map_index: int = -1) -> str:
    """A job name that is the same for every try of one task instance, and only for it.

    Readable prefix (DAG and task), then a hash of everything that identifies the task
    instance, within Ground Truth's 63 characters. A retried or cleared task computes the
    same name, which is what lets it re-attach instead of paying for a second job.
    """
    digest = hashlib.sha256(f"{dag_id}\n{task_id}\n{run_id}\n{map_index}".encode()).hexdigest()[:12]
    prefix = "-".join(part for part in (_slug(dag_id)[:28], _slug(task_id)[:21]) if part)
    return f"{prefix}-{digest}" if prefix else f"gt-{digest}"


def _check_int(name: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidLabelingJobConfigError(f"{name} must be an integer from {low} to {high}, got {value!r}")
    if not low <= value <= high:
        raise InvalidLabelingJobConfigError(f"{name} must be from {low} to {high}, got {value}")


def _check_text(name: str, value: object, low: int, high: int) -> None:
    if not isinstance(value, str) or not low <= len(value) <= high:
        length = len(value) if isinstance(value, str) else type(value).__name__
        raise InvalidLabelingJobConfigError(f"{name} must be {low} to {high} characters, got {length}: {value!r}")


def check_workteam_arn(workteam_arn: object) -> None:
    """Refuse the closed public workforce and anything that is not a workteam ARN."""
    match = limits.WORKTEAM_ARN_PATTERN.match(workteam_arn) if isinstance(workteam_arn, str) else None
    if match is None:
        raise InvalidLabelingJobConfigError(
            "workteam_arn must be a private or vendor workteam ARN "
            f"(arn:aws:sagemaker:<region>:<account>:workteam/private-crowd/<name>), got {workteam_arn!r}"
        )
    if match["kind"] == limits.PUBLIC_WORKFORCE_KIND:
        raise PublicWorkforceUnavailableError(
            f"workteam_arn {workteam_arn} is the public workforce (Amazon Mechanical Turk), which closed on "
            "2026-09-30. Use a private workteam (your own workers) or a vendor workforce."
        )


def _argument(
    default: Any = MISSING,
    *,
    doc: str,
    request: tuple[str, ...] | None = None,
    operator_default: Any = MISSING,
    renderer: str | None = None,
    factory: Any = MISSING,
) -> Any:
    """A labeling-job argument: its default, its documentation and where it goes in the request.

    This metadata is the one definition of the job surface: the operator's signature,
    template fields and docstring (``operators/labeling.py``), the Trigger form's ranges
    (``forms.py``) and the simple parts of the CreateLabelingJob request all derive from it.
    ``request`` is the path of a field copied as it is (omitted when None);
    ``operator_default`` is the operator's default where the spec needs a value the
    operator derives (``job_name``, ``input_manifest_uri``).
    """
    metadata = {"doc": doc, "request": request, "operator_default": operator_default, "renderer": renderer}
    if factory is not MISSING:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class LabelingJobSpec:
    """Everything a labeling job needs, in the operator's terms; validated on creation.

    ``None`` for an ARN means "the built-in one of this task type and region" (from the
    ``task_types`` registry); pass it explicitly for Custom jobs or regions outside the table.
    """

    task_type: str = _argument(
        doc='Built-in task type (``gt_provider.task_types.TASK_TYPES``, e.g. ``"ImageMultiClass"``, '
        '``"BoundingBox"``, ``"NamedEntityRecognition"``) or ``"Custom"``.'
    )
    job_name: str = _argument(
        doc="Labeling job name; default: deterministic per task instance.",
        request=("LabelingJobName",),
        operator_default=None,
    )
    input_manifest_uri: str = _argument(
        doc="S3 URI of the input manifest; for review jobs it defaults to the reviewed job's output manifest.",
        request=("InputConfig", "DataSource", "S3DataSource", "ManifestS3Uri"),
        operator_default=None,
    )
    output_path: str = _argument(
        doc="S3 prefix under which Ground Truth writes ``<job_name>/...``.", request=("OutputConfig", "S3OutputPath")
    )
    labels: Sequence[str] = _argument(doc="The label names workers choose from.", renderer="json")
    workteam_arn: str = _argument(
        doc="ARN of a private or vendor workteam. The public workforce (Mechanical Turk) closed on "
        "2026-09-30 and is refused.",
        request=("HumanTaskConfig", "WorkteamArn"),
    )
    role_arn: str = _argument(doc="IAM role Ground Truth assumes to read input and write output.", request=("RoleArn",))
    short_instructions: str = _argument(doc="Shown beside every task.")
    full_instructions: str = _argument("", doc="Shown when the worker opens the instructions.")
    label_attribute_name: str | None = _argument(
        None,
        doc='Key of the label in the output manifest (default ``"label"``, or ``"label-ref"`` for '
        "types whose attribute must end in ``-ref``).",
        request=("LabelAttributeName",),
    )
    workers_per_object: int = _argument(
        3,
        doc=f"Workers who label each object, {limits.WORKERS_PER_OBJECT[0]}-{limits.WORKERS_PER_OBJECT[1]}.",
        request=("HumanTaskConfig", "NumberOfHumanWorkersPerDataObject"),
    )
    task_title: str | None = _argument(None, doc="Title workers see in the task list.")
    task_description: str | None = _argument(None, doc="Description workers see.")
    task_keywords: Sequence[str] = _argument(("labeling",), doc="1-5 keywords workers can search for.")
    task_time_limit: int = _argument(
        300,
        doc="Seconds a worker has for one task (30 to the type's maximum).",
        request=("HumanTaskConfig", "TaskTimeLimitInSeconds"),
    )
    task_availability_lifetime: int = _argument(
        10 * 24 * 3600,
        doc="Seconds a task stays offered, 60 s to 30 days.",
        request=("HumanTaskConfig", "TaskAvailabilityLifetimeInSeconds"),
    )
    max_concurrent_tasks: int | None = _argument(
        None, doc="Tasks offered at once, 1-5,000.", request=("HumanTaskConfig", "MaxConcurrentTaskCount")
    )
    content_classifiers: Sequence[str] = _argument(
        (), doc="``FreeOfPersonallyIdentifiableInformation`` and/or ``FreeOfAdultContent``."
    )
    stopping_conditions: Mapping[str, int] | None = _argument(
        None,
        doc='``{"MaxHumanLabeledObjectCount": n, "MaxPercentageOfInputDatasetLabeled": p}``.',
        renderer="json",
    )
    auto_labeling: bool = _argument(False, doc="Use automated data labeling (supported types only; >= 1,250 objects).")
    initial_active_learning_model_arn: str | None = _argument(
        None,
        doc="Start automated labeling from this model (an earlier job's ``FinalActiveLearningModelArn``; "
        "only with ``auto_labeling``).",
    )
    kms_key_id: str | None = _argument(None, doc="KMS key for the output.", request=("OutputConfig", "KmsKeyId"))
    volume_kms_key_id: str | None = _argument(
        None, doc="KMS key for the automated-labeling instances' volumes (only with ``auto_labeling``)."
    )
    vpc_config: Mapping[str, Sequence[str]] | None = _argument(
        None,
        doc='``{"SecurityGroupIds": [...], "Subnets": [...]}`` for the automated-labeling instances '
        "(only with ``auto_labeling``).",
        renderer="json",
    )
    tags: Mapping[str, str] = _argument(doc="Tags for the labeling job.", factory=dict, renderer="json")
    audit_label_attribute_name: str | None = None
    pre_human_task_lambda_arn: str | None = _argument(
        None, doc="Override the built-in Lambda (needed for Custom or for regions without built-in ARNs)."
    )
    annotation_consolidation_lambda_arn: str | None = _argument(None, doc="Likewise for consolidation.")
    human_task_ui_arn: str | None = _argument(None, doc="Likewise for the worker UI of NER, video and 3D types.")
    ui_template_s3_uri: str | None = _argument(None, doc="Your own worker template in S3 (Custom, or to replace ours).")
    auto_labeling_algorithm_arn: str | None = _argument(
        None, doc="Override the built-in automated-labeling algorithm ARN (with ``auto_labeling``)."
    )
    config_overrides: Mapping[str, Any] = _argument(
        doc="Raw CreateLabelingJob fields merged over the built request.", factory=dict, renderer="json"
    )

    def __post_init__(self) -> None:
        info = task_types.get_task_type(self.task_type)  # unknown name: error with a suggestion
        for name, kind in (
            ("labels", tuple),
            ("content_classifiers", tuple),
            ("tags", dict),
            ("config_overrides", dict),
        ):
            value = getattr(self, name)
            if isinstance(value, list | tuple | Mapping) and not isinstance(value, kind):
                object.__setattr__(self, name, kind(value))
            elif value is None and kind is dict:
                object.__setattr__(self, name, {})
        if self.label_attribute_name is None:
            default = (
                "label-ref" if info.label_attribute_rule is task_types.LabelAttributeRule.MUST_END_WITH_REF else "label"
            )
            object.__setattr__(self, "label_attribute_name", default)
        if not isinstance(self.job_name, str) or not limits.NAME_PATTERN.match(self.job_name):
            raise InvalidLabelingJobConfigError(
                f"job_name must be 1-63 letters, digits and hyphens, starting and ending with a letter or digit, "
                f"got {self.job_name!r}"
            )
        for name in ("input_manifest_uri", "output_path", "ui_template_s3_uri"):
            value = getattr(self, name)
            if (value is not None or name != "ui_template_s3_uri") and not is_valid_s3_uri(value):
                raise InvalidLabelingJobConfigError(f"{name} must be an s3://bucket/key URI, got {value!r}")
        self._check_labels(info)
        reason = info.check_label_attribute_name(self.label_attribute_name)  # type: ignore[arg-type]
        if reason:
            raise InvalidLabelingJobConfigError(f"label_attribute_name {self.label_attribute_name!r}: {reason}")
        check_workteam_arn(self.workteam_arn)
        if not isinstance(self.role_arn, str) or not limits.ROLE_ARN_PATTERN.match(self.role_arn):
            raise InvalidLabelingJobConfigError(
                f"role_arn must be an IAM role ARN (arn:aws:iam::<account>:role/<name>), got {self.role_arn!r}"
            )
        self._check_task_settings(info)
        self._check_job_settings(info)

    def _check_labels(self, info: task_types.TaskType) -> None:
        problems = info.label_problems(self.labels)
        if problems:
            raise InvalidLabelingJobConfigError(f"labels: {'; '.join(problems)}")

    def _check_task_settings(self, info: task_types.TaskType) -> None:
        _check_int("workers_per_object", self.workers_per_object, *limits.WORKERS_PER_OBJECT)
        _check_int(
            "task_time_limit",
            self.task_time_limit,
            limits.MIN_TASK_TIME_LIMIT_SECONDS,
            info.max_task_time_limit_seconds,
        )
        _check_int("task_availability_lifetime", self.task_availability_lifetime, *limits.TASK_AVAILABILITY_SECONDS)
        if self.max_concurrent_tasks is not None:
            _check_int("max_concurrent_tasks", self.max_concurrent_tasks, *limits.MAX_CONCURRENT_TASKS)
        _check_text("short_instructions", self.short_instructions, 1, 20_000)
        _check_text("task_title", self.title, *limits.TASK_TITLE_LENGTH)
        _check_text("task_description", self.description, *limits.TASK_DESCRIPTION_LENGTH)
        low, high = limits.TASK_KEYWORDS
        if not low <= len(self.task_keywords) <= high:
            raise InvalidLabelingJobConfigError(
                f"task_keywords must have {low} to {high} items, got {len(self.task_keywords)}"
            )
        for keyword in self.task_keywords:
            if not (
                isinstance(keyword, str)
                and len(keyword) <= limits.TASK_KEYWORD_LENGTH[1]
                and limits.KEYWORD_PATTERN.match(keyword)
            ):
                raise InvalidLabelingJobConfigError(
                    f"task_keywords item {keyword!r} must be 1-30 letters, digits and single spaces"
                )

    def _check_job_settings(self, info: task_types.TaskType) -> None:
        if len(self.tags) > limits.MAX_TAGS:
            raise InvalidLabelingJobConfigError(
                f"tags must have at most {limits.MAX_TAGS} entries, got {len(self.tags)}"
            )
        unknown = sorted(set(self.content_classifiers) - set(CONTENT_CLASSIFIERS))
        if unknown:
            raise InvalidLabelingJobConfigError(f"content_classifiers: {unknown} not in {list(CONTENT_CLASSIFIERS)}")
        for key, value in (self.stopping_conditions or {}).items():
            if key == "MaxHumanLabeledObjectCount":
                _check_int(f"stopping_conditions[{key!r}]", value, 1, 10**9)
            elif key == "MaxPercentageOfInputDatasetLabeled":
                _check_int(f"stopping_conditions[{key!r}]", value, *limits.MAX_PERCENTAGE_LABELED)
            else:
                raise InvalidLabelingJobConfigError(
                    f"stopping_conditions: unknown key {key!r}; allowed: {list(STOPPING_CONDITIONS)}"
                )
        if self.auto_labeling and not info.supports_auto_labeling:
            supported = sorted(name for name, t in task_types.TASK_TYPES.items() if t.supports_auto_labeling)
            raise InvalidLabelingJobConfigError(
                f"auto_labeling is not available for {info.name}; Ground Truth supports it for {supported}"
            )
        if self.vpc_config is not None:
            for key, (low, high) in {"SecurityGroupIds": (1, 5), "Subnets": (1, 16)}.items():
                values = self.vpc_config.get(key)
                if isinstance(values, str) or not isinstance(values, Sequence) or not low <= len(values) <= high:
                    raise InvalidLabelingJobConfigError(f"vpc_config[{key!r}] must be a list of {low} to {high} ids")
        model = self.initial_active_learning_model_arn
        if model is not None and not (isinstance(model, str) and _MODEL_ARN.match(model)):
            raise InvalidLabelingJobConfigError(
                "initial_active_learning_model_arn must be a SageMaker model ARN "
                f"(arn:aws:sagemaker:<region>:<account>:model/<name>), got {model!r}"
            )
        if not self.auto_labeling:
            # Ground Truth takes both only in LabelingJobAlgorithmsConfig.LabelingJobResourceConfig:
            # they configure the automated-labeling instances, and a human-only job has none.
            if self.initial_active_learning_model_arn:
                raise InvalidLabelingJobConfigError(
                    "initial_active_learning_model_arn starts automated labeling from an earlier model; "
                    "pass auto_labeling=True with it, or leave it out"
                )
            given = [name for name in ("volume_kms_key_id", "vpc_config") if getattr(self, name)]
            if given:
                raise InvalidLabelingJobConfigError(
                    f"{' and '.join(given)}: Ground Truth uses {'them' if len(given) > 1 else 'it'} only for the "
                    "automated-labeling instances (LabelingJobAlgorithmsConfig.LabelingJobResourceConfig); pass "
                    "auto_labeling=True, or leave it out (the output's KMS key is kms_key_id)"
                )
        if info.is_review and not self.audit_label_attribute_name:
            raise InvalidLabelingJobConfigError(
                f"{info.name} reviews an earlier job's labels: pass audit_of=<the earlier job's result> "
                "(or audit_label_attribute_name and its output manifest as input_manifest_uri)"
            )
        if info.lambda_name is None and not (
            self.pre_human_task_lambda_arn and self.annotation_consolidation_lambda_arn
        ):
            raise InvalidLabelingJobConfigError(
                "task_type 'Custom' needs pre_human_task_lambda_arn and annotation_consolidation_lambda_arn"
            )
        if info.human_task_ui_name is None and self.ui_template_s3_uri is None and not has_template(info.name):
            raise InvalidLabelingJobConfigError(
                f"task_type {info.name!r} needs ui_template_s3_uri (your worker task template in S3)"
            )

    @property
    def info(self) -> task_types.TaskType:
        return task_types.get_task_type(self.task_type)

    @property
    def title(self) -> str:
        return self.task_title or f"{self.task_type}: {', '.join(self.labels)}"[:128]

    @property
    def description(self) -> str:
        return self.task_description or self.short_instructions[:255]

    @property
    def config_prefix(self) -> str:
        return f"{self.output_path.rstrip('/')}/{CONFIG_FOLDER}/{self.job_name}"

    @property
    def label_config_uri(self) -> str:
        return f"{self.config_prefix}/label-categories.json"

    @property
    def uploads_template(self) -> bool:
        """True when gt_provider renders and uploads the worker template (not a UI ARN, not the user's)."""
        return self.info.human_task_ui_name is None and self.ui_template_s3_uri is None

    @property
    def ui_template_uri(self) -> str:
        return self.ui_template_s3_uri or f"{self.config_prefix}/worker-template.liquid.html"

    @property
    def output_manifest_uri(self) -> str:
        """Where Ground Truth writes the augmented manifest of this job."""
        return f"{self.output_path.rstrip('/')}/{self.job_name}/manifests/output/output.manifest"

    def request(self, region: str) -> dict[str, Any]:
        """The CreateLabelingJob request (UnsupportedRegionError when a built-in ARN is unknown there).

        Fields whose metadata names a request path are copied there as they are; the rest
        (defaults from the task-type registry, lists, tags) is built below.
        """
        info = self.info
        request: dict[str, Any] = {}
        for argument in fields(self):
            path = argument.metadata.get("request")
            value = getattr(self, argument.name)
            if path and value is not None:
                _set_path(request, path, value)
        human_task_config = request["HumanTaskConfig"]
        human_task_config.update(
            {
                "UiConfig": (
                    {"HumanTaskUiArn": self.human_task_ui_arn or info.human_task_ui_arn(region)}
                    if info.human_task_ui_name and not self.ui_template_s3_uri
                    else {"UiTemplateS3Uri": self.ui_template_uri}
                ),
                "PreHumanTaskLambdaArn": self.pre_human_task_lambda_arn or info.pre_human_task_lambda_arn(region),
                "TaskKeywords": list(self.task_keywords),
                "TaskTitle": self.title,
                "TaskDescription": self.description,
                "AnnotationConsolidationConfig": {
                    "AnnotationConsolidationLambdaArn": self.annotation_consolidation_lambda_arn
                    or info.annotation_consolidation_lambda_arn(region)
                },
            }
        )
        request["LabelCategoryConfigS3Uri"] = self.label_config_uri
        if self.content_classifiers:
            request["InputConfig"]["DataAttributes"] = {"ContentClassifiers": list(self.content_classifiers)}
        if self.stopping_conditions:
            request["StoppingConditions"] = dict(self.stopping_conditions)
        if self.auto_labeling:
            request["LabelingJobAlgorithmsConfig"] = self._algorithms_config(region)
        if self.tags:
            request["Tags"] = [{"Key": key, "Value": value} for key, value in self.tags.items()]
        return _deep_merge(request, self.config_overrides)

    def _algorithms_config(self, region: str) -> dict[str, Any]:
        algorithms: dict[str, Any] = {
            "LabelingJobAlgorithmSpecificationArn": self.auto_labeling_algorithm_arn
            or self.info.auto_labeling_algorithm_arn(region)
        }
        if self.initial_active_learning_model_arn:
            algorithms["InitialActiveLearningModelArn"] = self.initial_active_learning_model_arn
        resources: dict[str, Any] = {}
        if self.volume_kms_key_id:
            resources["VolumeKmsKeyId"] = self.volume_kms_key_id
        if self.vpc_config:
            resources["VpcConfig"] = {key: list(value) for key, value in self.vpc_config.items()}
        if resources:
            algorithms["LabelingJobResourceConfig"] = resources
        return algorithms


#: A SageMaker model's ARN (``InitialActiveLearningModelArn``).
_MODEL_ARN = re.compile(r"^arn:aws[a-z\-]*:sagemaker:[a-z0-9\-]+:\d{12}:model/[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")

#: The fields of LabelingJobSpec that are arguments of the labeling operator (all but the
#: ones the operator derives itself), in declaration order.
JOB_ARGUMENTS: tuple[Field, ...] = tuple(f for f in fields(LabelingJobSpec) if "doc" in f.metadata)


def _set_path(document: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        document = document.setdefault(key, {})
    document[path[-1]] = value


def _deep_merge(base: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``overrides`` applied: nested dicts merged, anything else replaced."""
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def timestamped_job_name(job_name: str, now: datetime) -> str:
    """``job_name`` plus a UTC timestamp, within 63 characters (for action_if_job_exists="timestamp")."""
    suffix = now.strftime("%Y%m%d%H%M%S")
    return f"{job_name[: 62 - len(suffix)].rstrip('-')}-{suffix}"
