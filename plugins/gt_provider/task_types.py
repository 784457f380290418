"""The one registry of Amazon SageMaker Ground Truth built-in task types.

Every other part of gt_provider (operators, the manifest and output readers, the local
AWS) asks this module what a task type needs, so a fact about Ground Truth lives in
exactly one row of ``TASK_TYPES``. Rows are data, not branches: adding or correcting a
task type is an edit to the table, and the tests cross-check the whole table against the
ARNs that botocore's SageMaker model documents.

Standard library only: the DAG processor imports this module, and so does the local AWS.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum, StrEnum
from types import MappingProxyType
from typing import Any

from gt_provider.exceptions import UnknownTaskTypeError, UnsupportedRegionError

#: Region -> AWS account that owns the built-in PRE-/ACS- Lambdas there. Ground Truth
#: publishes no other regions; elsewhere users must pass the ARNs themselves.
LAMBDA_ACCOUNTS: Mapping[str, str] = MappingProxyType(
    {
        "us-east-1": "432418664414",
        "us-east-2": "266458841044",
        "us-west-2": "081040173940",
        "ca-central-1": "918755190332",
        "eu-west-1": "568282634449",
        "eu-west-2": "487402164563",
        "eu-central-1": "203001061592",
        "ap-northeast-1": "477331159723",
        "ap-northeast-2": "845288260483",
        "ap-south-1": "565803892007",
        "ap-southeast-1": "377565633583",
        "ap-southeast-2": "454466003867",
    }
)
#: Owner of the Ground Truth-rendered worker UIs (same account in every region).
HUMAN_TASK_UI_ACCOUNT = "394669845002"
#: Owner of the automated-labeling (active learning) algorithms.
AUTO_LABELING_ACCOUNT = "027400017018"

# CreateLabelingJob's LabelAttributeName constraints (botocore shape of that name).
_LABEL_ATTRIBUTE_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,126}$")
_LABEL_ATTRIBUTE_MAX_LENGTH = 127
# Input manifest keys: naming the label after them would overwrite the data object.
_RESERVED_LABEL_ATTRIBUTES = frozenset({"source", "source-ref"})

_LAMBDA_ARN = re.compile(
    r"^arn:aws:lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"function:(?:PRE|ACS)-(?P<task>[A-Za-z0-9]+)$"
)
_HUMAN_TASK_UI_ARN = re.compile(
    r"^arn:aws:sagemaker:[a-z0-9-]+:(?P<account>\d{12}):human-task-ui/(?P<ui>[A-Za-z0-9]+)$"
)

_EIGHT_HOURS = 8 * 3600
# botocore (HumanTaskConfig.TaskTimeLimitInSeconds): "For 3D point cloud and video frame
# labeling jobs, the maximum is 30 days". The developer guide still says 7 days; the
# API model is authoritative for what CreateLabelingJob accepts.
_THIRTY_DAYS = 30 * 24 * 3600


class LabelAttributeRule(Enum):
    """What the task type requires of the ``-ref`` suffix of ``LabelAttributeName``.

    Ground Truth uses ``-ref`` to mark attributes whose value is an S3 URI (a mask
    PNG, a ``SeqLabel.json``) rather than the label itself, and refuses the job when
    the suffix does not match what the task type writes.
    """

    ANY = "any"
    MUST_END_WITH_REF = "must_end_with_ref"
    MUST_NOT_END_WITH_REF = "must_not_end_with_ref"


class TaskFamily(StrEnum):
    """The kind of data workers see: it decides the manifest key and the limits."""

    IMAGE = "image"
    TEXT = "text"
    VIDEO = "video"
    POINT_CLOUD = "point_cloud"
    CUSTOM = "custom"


@dataclass(frozen=True)
class TaskType:
    """Everything gt_provider must know about one Ground Truth task type before a call.

    Defaults describe an image/text task with a worker template; rows override only what
    differs, so an unusual value in the table stands out.
    """

    name: str
    lambda_name: str | None
    family: TaskFamily
    output_type: str | None
    human_task_ui_name: str | None = None
    label_attribute_rule: LabelAttributeRule = LabelAttributeRule.ANY
    min_labels: int = 1
    max_labels: int | None = None
    max_label_name_length: int | None = None
    max_dataset_objects: int = 100_000
    auto_labeling_algorithm: str | None = None
    max_task_time_limit_seconds: int = _EIGHT_HOURS
    is_review: bool = False
    multi_label: bool = False
    label_config_document_version: str = "2018-11-28"

    @property
    def supports_auto_labeling(self) -> bool:
        """Whether ``LabelingJobAlgorithmsConfig`` may be set for this type."""
        return self.auto_labeling_algorithm is not None

    @property
    def requires_audit_label_attribute_name(self) -> bool:
        """Whether the label category config must name the earlier job's attribute.

        botocore: video frame and 3D point cloud adjustment/verification jobs read
        the labels to review through ``auditLabelAttributeName``; image review jobs
        show them through their own worker template instead.
        """
        return self.is_review and self.human_task_ui_name is not None

    def pre_human_task_lambda_arn(self, region: str) -> str | None:
        """The built-in pre-annotation Lambda; None for custom workflows."""
        return self._builtin_lambda_arn(region, "PRE")

    def annotation_consolidation_lambda_arn(self, region: str) -> str | None:
        """The built-in consolidation Lambda; None for custom workflows."""
        return self._builtin_lambda_arn(region, "ACS")

    def _builtin_lambda_arn(self, region: str, prefix: str) -> str | None:
        """Ground Truth's ``<prefix>-<lambda_name>`` function in the region's Ground Truth account."""
        if self.lambda_name is None:
            return None
        account = self._require_supported_region(region)
        return f"arn:aws:lambda:{region}:{account}:function:{prefix}-{self.lambda_name}"

    def human_task_ui_arn(self, region: str) -> str | None:
        """The Ground Truth-rendered worker UI; None when the job brings a template."""
        if self.human_task_ui_name is None:
            return None
        self._require_supported_region(region)  # published where the Lambdas are
        return f"arn:aws:sagemaker:{region}:{HUMAN_TASK_UI_ACCOUNT}:human-task-ui/{self.human_task_ui_name}"

    def auto_labeling_algorithm_arn(self, region: str) -> str | None:
        """The automated-labeling algorithm; None when the type has no auto-labeling."""
        if self.auto_labeling_algorithm is None:
            return None
        self._require_supported_region(region)
        return (
            f"arn:aws:sagemaker:{region}:{AUTO_LABELING_ACCOUNT}:"
            f"labeling-job-algorithm-specification/{self.auto_labeling_algorithm}"
        )

    def check_label_attribute_name(self, name: str) -> str | None:
        """Return why ``name`` would be refused as LabelAttributeName, or None if valid.

        A reason rather than an exception, so a caller can collect every problem of a
        job configuration into one error message.
        """
        if not name or len(name) > _LABEL_ATTRIBUTE_MAX_LENGTH:
            return (
                f"LabelAttributeName {name!r} is {len(name)} characters long; "
                f"it must be 1-{_LABEL_ATTRIBUTE_MAX_LENGTH}"
            )
        if not _LABEL_ATTRIBUTE_PATTERN.match(name):
            return (
                f"LabelAttributeName {name!r} may contain only letters, digits and "
                "hyphens, and must start and end with a letter or digit"
            )
        if name.endswith("-metadata"):
            return (
                f"LabelAttributeName {name!r} must not end in '-metadata': Ground "
                "Truth writes the label's metadata under '<name>-metadata'"
            )
        if name in _RESERVED_LABEL_ATTRIBUTES:
            return (
                f"LabelAttributeName {name!r} is reserved: 'source' and 'source-ref' "
                "hold the data object in the input manifest"
            )
        ends_with_ref = name.endswith("-ref")
        rule = self.label_attribute_rule
        if rule is LabelAttributeRule.MUST_END_WITH_REF and not ends_with_ref:
            return (
                f"LabelAttributeName {name!r} must end in '-ref' for {self.name} jobs, "
                f"whose label is an S3 URI (for example {name + '-ref'!r})"
            )
        if rule is LabelAttributeRule.MUST_NOT_END_WITH_REF and ends_with_ref:
            return f"LabelAttributeName {name!r} must not end in '-ref' for {self.name} jobs"
        return None

    def check_label_count(self, count: int) -> str | None:
        """Return why ``count`` label categories would be refused, or None if valid."""
        if count < self.min_labels:
            return f"{self.name} needs at least {self.min_labels} label categories, got {count}"
        if self.max_labels is not None and count > self.max_labels:
            return f"{self.name} allows at most {self.max_labels} label categories, got {count}"
        return None

    def label_problems(self, labels: Sequence[str]) -> list[str]:
        """Every reason ``labels`` would be refused for this task type, one sentence each.

        The one check of label lists: the job spec, the Trigger form's check task, the label
        category config, the manifest schemas and the local Ground Truth all call it.
        """
        if isinstance(labels, str) or not all(isinstance(label, str) for label in labels):
            return [f"expected a list of non-empty strings, got {labels!r}"]
        problems = [self.check_label_count(len(labels)), *(self.check_label_name(label) for label in labels)]
        blank = [label for label in labels if not label.strip()]
        if blank:
            problems.append(f"label names must not be blank, got {blank}")
        repeated = sorted({label for label in labels if list(labels).count(label) > 1})
        if repeated:
            problems.append(f"labels must be unique; repeated: {', '.join(repeated)}")
        return [problem for problem in problems if problem]

    def check_label_name(self, label: str) -> str | None:
        """Return why one label category name would be refused, or None if valid."""
        limit = self.max_label_name_length
        if limit is not None and len(label) > limit:
            return f"label {label!r} is {len(label)} characters long; {self.name} allows at most {limit}"
        return None

    def _require_supported_region(self, region: str) -> str:
        """The built-in Lambda account of ``region``: every ARN method's region gate."""
        try:
            return LAMBDA_ACCOUNTS[region]
        except KeyError:
            raise UnsupportedRegionError(
                f"Ground Truth publishes no built-in {self.name} ARNs for region "
                f"{region!r}. Supported regions: {', '.join(supported_regions())}. "
                "In another region, pass the ARNs explicitly with the operator "
                "arguments pre_human_task_lambda_arn, "
                "annotation_consolidation_lambda_arn and human_task_ui_arn."
            ) from None


def _builtin(name: str, family: TaskFamily, output_type: str, **facts: Any) -> TaskType:
    """A built-in type: its Lambdas are named ``PRE-<name>`` and ``ACS-<name>``."""
    return TaskType(name, name, family, output_type, **facts)


_IMAGE, _TEXT, _VIDEO = TaskFamily.IMAGE, TaskFamily.TEXT, TaskFamily.VIDEO
_3D = TaskFamily.POINT_CLOUD
_REF = LabelAttributeRule.MUST_END_WITH_REF
# Video frame and 3D point cloud jobs: Ground Truth renders the UI, workers may take
# days, and labels are at most 30 names of <= 16 characters in a 2020-03-01 config.
_FRAME_TASK: dict[str, Any] = {
    "max_labels": 30,
    "max_label_name_length": 16,
    "max_task_time_limit_seconds": _THIRTY_DAYS,
    "label_config_document_version": "2020-03-01",
}
_SEMSEG_QUOTA: dict[str, Any] = {"max_dataset_objects": 20_000}

# fmt: off
_TABLE: tuple[TaskType, ...] = (
    _builtin("ImageMultiClass", _IMAGE, "groundtruth/image-classification",
             min_labels=2, auto_labeling_algorithm="image-classification"),
    _builtin("ImageMultiClassMultiLabel", _IMAGE,
             "groundtruth/image-classification-multilabel",
             min_labels=2, max_labels=50, multi_label=True),
    _builtin("BoundingBox", _IMAGE, "groundtruth/object-detection",
             max_labels=50, auto_labeling_algorithm="object-detection"),
    _builtin("SemanticSegmentation", _IMAGE, "groundtruth/semantic-segmentation",
             label_attribute_rule=_REF, auto_labeling_algorithm="semantic-segmentation",
             **_SEMSEG_QUOTA),
    _builtin("VerificationBoundingBox", _IMAGE, "groundtruth/label-verification",
             is_review=True),
    _builtin("AdjustmentBoundingBox", _IMAGE, "groundtruth/object-detection",
             max_labels=50, is_review=True),
    _builtin("VerificationSemanticSegmentation", _IMAGE,
             "groundtruth/label-verification",
             label_attribute_rule=LabelAttributeRule.MUST_NOT_END_WITH_REF,
             is_review=True, **_SEMSEG_QUOTA),
    _builtin("AdjustmentSemanticSegmentation", _IMAGE,
             "groundtruth/semantic-segmentation",
             label_attribute_rule=_REF, is_review=True, **_SEMSEG_QUOTA),
    _builtin("TextMultiClass", _TEXT, "groundtruth/text-classification",
             min_labels=2, auto_labeling_algorithm="text-classification"),
    _builtin("TextMultiClassMultiLabel", _TEXT,
             "groundtruth/text-classification-multilabel",
             min_labels=2, max_labels=50, multi_label=True),
    _builtin("NamedEntityRecognition", _TEXT, "groundtruth/text-span",
             human_task_ui_name="NamedEntityRecognition"),
    # Whole-video classification uses a worker template, like image classification:
    # the frame-task limits (30 labels, 30 days, 2020-03-01 config) do not apply.
    _builtin("VideoMultiClass", _VIDEO, "groundtruth/video-classification"),
    _builtin("VideoObjectDetection", _VIDEO, "groundtruth/video-object-detection",
             human_task_ui_name="VideoObjectDetection", label_attribute_rule=_REF,
             **_FRAME_TASK),
    _builtin("VideoObjectTracking", _VIDEO, "groundtruth/video-object-tracking",
             human_task_ui_name="VideoObjectTracking", label_attribute_rule=_REF,
             **_FRAME_TASK),
    _builtin("AdjustmentVideoObjectDetection", _VIDEO,
             "groundtruth/video-object-detection",
             human_task_ui_name="VideoObjectDetection", label_attribute_rule=_REF,
             is_review=True, **_FRAME_TASK),
    _builtin("AdjustmentVideoObjectTracking", _VIDEO,
             "groundtruth/video-object-tracking",
             human_task_ui_name="VideoObjectTracking", label_attribute_rule=_REF,
             is_review=True, **_FRAME_TASK),
    # 3D object detection writes its cuboids inline: botocore does not require '-ref'.
    _builtin("3DPointCloudObjectDetection", _3D, "groundtruth/lidar_object_detection",
             human_task_ui_name="PointCloudObjectDetection", **_FRAME_TASK),
    _builtin("3DPointCloudObjectTracking", _3D, "groundtruth/lidar_object_tracking",
             human_task_ui_name="PointCloudObjectTracking", label_attribute_rule=_REF,
             **_FRAME_TASK),
    _builtin("3DPointCloudSemanticSegmentation", _3D,
             "groundtruth/lidar_single_frame_semantic_segmentation",
             human_task_ui_name="PointCloudSemanticSegmentation",
             label_attribute_rule=_REF, **_FRAME_TASK),
    _builtin("Adjustment3DPointCloudObjectDetection", _3D,
             "groundtruth/lidar_object_detection",
             human_task_ui_name="PointCloudObjectDetection",
             is_review=True, **_FRAME_TASK),
    _builtin("Adjustment3DPointCloudObjectTracking", _3D,
             "groundtruth/lidar_object_tracking",
             human_task_ui_name="PointCloudObjectTracking", label_attribute_rule=_REF,
             is_review=True, **_FRAME_TASK),
    _builtin("Adjustment3DPointCloudSemanticSegmentation", _3D,
             "groundtruth/lidar_single_frame_semantic_segmentation",
             human_task_ui_name="PointCloudSemanticSegmentation",
             label_attribute_rule=_REF, is_review=True, **_FRAME_TASK),
    # A custom workflow brings its own template and Lambdas and defines its own output.
    TaskType("Custom", None, TaskFamily.CUSTOM, None, min_labels=0),
)
# fmt: on

#: Task type name -> TaskType, in table order.
TASK_TYPES: Mapping[str, TaskType] = MappingProxyType({t.name: t for t in _TABLE})
_BY_LAMBDA_NAME: Mapping[str, TaskType] = MappingProxyType(
    {t.lambda_name: t for t in _TABLE if t.lambda_name is not None}
)
# Adjustment types share their base type's UI; the base type is the one to report.
_BY_HUMAN_TASK_UI: Mapping[str, TaskType] = MappingProxyType(
    {t.human_task_ui_name: t for t in _TABLE if t.human_task_ui_name and not t.is_review}
)


def get_task_type(name: str) -> TaskType:
    """Look up a task type by its exact name, failing with the closest valid names."""
    try:
        return TASK_TYPES[name]
    except KeyError:
        pass
    by_lower = {known.lower(): known for known in TASK_TYPES}
    close = difflib.get_close_matches(str(name).lower(), list(by_lower), n=1)
    hint = f" Did you mean {by_lower[close[0]]!r}?" if close else ""
    raise UnknownTaskTypeError(
        f"Unknown Ground Truth task type {name!r}.{hint} Valid task types: {', '.join(TASK_TYPES)}."
    )


def supported_regions() -> list[str]:
    """Regions with published built-in ARNs, sorted for stable messages."""
    return sorted(LAMBDA_ACCOUNTS)


def task_type_from_lambda_arn(arn: str) -> TaskType | None:
    """The task type of a built-in PRE-/ACS- Lambda ARN, or None for any other Lambda.

    The account must be Ground Truth's for that region: a user's own function that
    happens to be called ``PRE-BoundingBox`` is a custom workflow, not the built-in one.
    """
    match = _LAMBDA_ARN.match(arn)
    if match is None or LAMBDA_ACCOUNTS.get(match["region"]) != match["account"]:
        return None
    return _BY_LAMBDA_NAME.get(match["task"])


def task_type_from_human_task_ui_arn(arn: str) -> TaskType | None:
    """The base (non-review) task type of a Ground Truth worker UI ARN, or None."""
    match = _HUMAN_TASK_UI_ARN.match(arn)
    if match is None or match["account"] != HUMAN_TASK_UI_ACCOUNT:
        return None
    return _BY_HUMAN_TASK_UI.get(match["ui"])
