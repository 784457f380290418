"""Worker UI templates and label category configurations (standard library only).

Templates are Liquid files that Ground Truth renders for each task; we fill in only the
instructions, HTML-escaped, with ``string.Template`` (``${...}``) so Liquid's ``{{ }}``
stays untouched. Review templates (verification and adjustment of image labels) also get
the earlier job's label attribute name: Ground Truth passes the whole manifest line to the
template, and only the template knows which of its attributes holds the labels to show.

Which template and which label category configuration a task type gets is decided by the
task-type registry (``gt_provider.task_types``), so the two cannot disagree about a type.

What several templates share (the instructions, the image element's attributes, reading
and drawing the earlier job's labels) is written once in ``partials/``: a line that is
only ``${name}`` of a partial is replaced by that partial, indented like the line, before
anything is filled in. Ground Truth receives one self-contained page: its Liquid cannot
include other files.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from importlib import resources
from string import Template
from types import MappingProxyType
from typing import Any

from gt_provider import task_types
from gt_provider.exceptions import InvalidLabelingJobConfigError, UnknownTaskTypeError

#: The label category configuration form of image, text and whole-video jobs.
LABEL_CONFIG_DOCUMENT_VERSION = "2018-11-28"
#: The form of video frame and 3D point cloud jobs (labels, attributes, instructions).
FRAME_LABEL_CONFIG_DOCUMENT_VERSION = "2020-03-01"

# Task type -> (template file shipped in this package, the crowd element that collects the
# answer). The element's name= is the element itself: a worker response is keyed by it
# ({"crowd-bounding-box": {...}}), and so is the local AWS's simulated workforce.
# fmt: off
_TEMPLATES: Mapping[str, tuple[str, str]] = MappingProxyType({
    "ImageMultiClass": ("image_classification.liquid.html", "crowd-image-classifier"),
    "ImageMultiClassMultiLabel": ("image_classification_multilabel.liquid.html",
                                  "crowd-image-classifier-multi-select"),
    "BoundingBox": ("bounding_box.liquid.html", "crowd-bounding-box"),
    "SemanticSegmentation": ("semantic_segmentation.liquid.html", "crowd-semantic-segmentation"),
    "VerificationBoundingBox": ("bounding_box_verification.liquid.html", "crowd-image-classifier"),
    "AdjustmentBoundingBox": ("bounding_box_adjustment.liquid.html", "crowd-bounding-box"),
    "VerificationSemanticSegmentation": ("semantic_segmentation_verification.liquid.html",
                                         "crowd-image-classifier"),
    "AdjustmentSemanticSegmentation": ("semantic_segmentation_adjustment.liquid.html",
                                       "crowd-semantic-segmentation"),
    "TextMultiClass": ("text_classification.liquid.html", "crowd-classifier"),
    "TextMultiClassMultiLabel": ("text_classification_multilabel.liquid.html", "crowd-classifier-multi-select"),
    "VideoMultiClass": ("video_classification.liquid.html", "crowd-classifier"),
})
# fmt: on

#: Task type -> template file shipped in this package, for every type that brings a
#: worker template (the others name a HumanTaskUiArn instead).
TEMPLATE_FILES: Mapping[str, str] = MappingProxyType({name: row[0] for name, row in _TEMPLATES.items()})
#: Task type -> the crowd element (and its name=) under which a worker's answer arrives.
ANSWER_ELEMENTS: Mapping[str, str] = MappingProxyType({name: row[1] for name, row in _TEMPLATES.items()})

#: ``annotationType`` values of a video frame label category configuration.
VIDEO_FRAME_ANNOTATION_TYPES = ("BoundingBox", "Polyline", "Polygon", "Keypoint")
# Each document version spells its version key its own way.
_VERSION_KEYS: Mapping[str, str] = MappingProxyType(
    {LABEL_CONFIG_DOCUMENT_VERSION: "document-version", FRAME_LABEL_CONFIG_DOCUMENT_VERSION: "documentVersion"}
)
# A line that is only ${name}: where a template includes the partial partials/<name>.liquid.html.
_PARTIAL_LINE = re.compile(r"^(?P<indent>[ \t]*)\$\{(?P<name>[a-z_]+)\}[ \t]*$", re.MULTILINE)
_PARTIALS_DIRECTORY = "partials"
_PARTIAL_SUFFIX = ".liquid.html"
# Ground Truth's limits on a 2020-03-01 configuration (developer guide, "Label category
# configuration file schema"): instructions are under 255 / 2,048 characters, attributes
# are a name and a type, frame attributes also a description.
_FRAME_INSTRUCTION_LIMITS = {"short_instructions": 255, "full_instructions": 2048}
_ATTRIBUTE_TYPES = ("string", "number")
# 3D point cloud semantic segmentation ignores label category attributes; we refuse them
# instead, so that a user does not wait days for answers that lack them.
_NO_CATEGORY_ATTRIBUTES_UI = "PointCloudSemanticSegmentation"


def render_worker_template(
    info: task_types.TaskType,
    *,
    header: str,
    short_instructions: str,
    full_instructions: str = "",
    audit_label_attribute_name: str | None = None,
) -> str:
    """The worker task template of ``task_type`` with the instructions filled in.

    ``audit_label_attribute_name`` is required for verification and adjustment types and
    refused for the others: it is the LabelAttributeName of the job whose labels workers
    review, which the template reads from each manifest line.
    """
    try:
        filename = TEMPLATE_FILES[info.name]
    except KeyError:
        raise UnknownTaskTypeError(_no_template_reason(info)) from None
    substitutions = {
        "answer_element": ANSWER_ELEMENTS[info.name],
        "header": html.escape(header),
        "short_instructions": html.escape(short_instructions),
        "full_instructions": html.escape(full_instructions or short_instructions),
    }
    audit = _checked_audit_label_attribute_name(info, audit_label_attribute_name)
    if audit is not None:
        substitutions["audit_label_attribute_name"] = audit
    source = _with_partials(resources.files(__package__).joinpath(filename).read_text(encoding="utf-8"))
    return Template(source).substitute(substitutions)


def _with_partials(source: str) -> str:
    """``source`` with each partial's line replaced by the partial, indented like that line.

    Partials go in before anything is substituted, so an instruction that reads ``${name}``
    stays text. A ``${name}`` line that names no partial is left as a value to substitute
    (and ``substitute`` refuses a name it has no value for).
    """
    partials = resources.files(__package__).joinpath(_PARTIALS_DIRECTORY)

    def include(line: re.Match[str]) -> str:
        partial = partials.joinpath(line["name"] + _PARTIAL_SUFFIX)
        if not partial.is_file():
            return line[0]
        text = _with_partials(partial.read_text(encoding="utf-8")).rstrip("\n")
        return "\n".join(line["indent"] + row if row else row for row in text.split("\n"))

    return _PARTIAL_LINE.sub(include, source)


def label_category_config(
    labels: Sequence[str | Mapping[str, Any]],
    task_type: task_types.TaskType | None = None,
    *,
    audit_label_attribute_name: str | None = None,
    short_instructions: str | None = None,
    full_instructions: str = "",
    category_global_attributes: Sequence[Mapping[str, Any]] = (),
    frame_attributes: Sequence[Mapping[str, Any]] = (),
    annotation_type: str | None = None,
    allow_label_edits: bool = True,
) -> dict[str, Any]:
    """The JSON document that ``LabelCategoryConfigS3Uri`` points at, in the form ``task_type`` needs.

    Without ``task_type``: the plain 2018-11-28 form of ``labels``, unchecked. With it, the
    registry decides the form (``label_config_document_version``) and the document is
    checked as Ground Truth would check it:

    - ``{"document-version": "2018-11-28", "labels": [...]}`` for image, text and
      whole-video types; ``{"documentVersion": "2020-03-01", ...}`` for video frame and
      3D point cloud types, which may add ``categoryGlobalAttributes``, ``frameAttributes``,
      label objects with ``categoryAttributes`` and (video frame) ``annotationType``.
    - ``auditLabelAttributeName`` for every verification and adjustment type: Ground
      Truth reads it for video frame and 3D point cloud reviews, and for image reviews it
      records which labels the worker template showed.
    - ``instructions`` where Ground Truth renders the worker UI (HumanTaskUiArn types; named
      entity recognition requires them). Template types get theirs from
      ``render_worker_template``, so the same arguments may be passed for every type.
      Instructions are plain text, HTML-escaped as in the templates.
    - ``allow_label_edits=False`` makes a video frame or 3D point cloud adjustment type a
      verification job: every label gets ``editsAllowed: "none"``.
    """
    if task_type is None:
        return {
            _VERSION_KEYS[LABEL_CONFIG_DOCUMENT_VERSION]: LABEL_CONFIG_DOCUMENT_VERSION,
            "labels": [{"label": label} for label in labels],
        }
    info = task_type
    _check_labels(info, labels)
    audit = _checked_audit_label_attribute_name(info, audit_label_attribute_name)
    renders_ui = info.human_task_ui_name is not None
    objects = [label for label in labels if not isinstance(label, str)]
    if objects and not renders_ui:
        raise InvalidLabelingJobConfigError(
            f"labels of {info.name} jobs must be names (the worker template shows names only), got {objects[0]!r}"
        )

    version = info.label_config_document_version
    config: dict[str, Any] = {
        _VERSION_KEYS[version]: version,
        "labels": [{"label": label} if isinstance(label, str) else dict(label) for label in labels],
    }
    if version == FRAME_LABEL_CONFIG_DOCUMENT_VERSION:
        _add_frame_options(
            config,
            info,
            category_global_attributes=category_global_attributes,
            frame_attributes=frame_attributes,
            annotation_type=annotation_type,
            allow_label_edits=allow_label_edits,
        )
    else:
        frame_only = {
            "category_global_attributes": bool(category_global_attributes),
            "frame_attributes": bool(frame_attributes),
            "annotation_type": annotation_type is not None,
            "allow_label_edits": not allow_label_edits,
        }
        given = [name for name, is_given in frame_only.items() if is_given]
        if given:
            raise InvalidLabelingJobConfigError(
                f"{', '.join(given)}: {info.name} jobs take no such option; only video frame and 3D point cloud jobs do"
            )
    if renders_ui:
        instructions = _instructions(info, short_instructions, full_instructions)
        if instructions is not None:
            config["instructions"] = instructions
    if audit is not None:
        config["auditLabelAttributeName"] = audit
    return config


def _no_template_reason(info: task_types.TaskType) -> str:
    if info.human_task_ui_name is not None:
        return (
            f"task type {info.name!r} has no worker template: Ground Truth renders its worker UI, so the job "
            f"names a HumanTaskUiArn (.../human-task-ui/{info.human_task_ui_name}, "
            f"TaskType.human_task_ui_arn(region)) instead of a UiTemplateS3Uri"
        )
    return (
        f"task type {info.name!r} brings its own worker template (UiTemplateS3Uri); gt_provider ships templates "
        f"for {', '.join(TEMPLATE_FILES)}"
    )


def _checked_audit_label_attribute_name(info: task_types.TaskType, name: str | None) -> str | None:
    """The earlier job's label attribute, required exactly for review types and checked.

    It is checked with the rules of the task type that wrote those labels (a semantic
    segmentation attribute ends in '-ref'), which also keeps it safe to place in a Liquid
    string: label attribute names are letters, digits and hyphens.
    """
    if not info.is_review:
        if name is not None:
            raise InvalidLabelingJobConfigError(
                f"audit_label_attribute_name is only for verification and adjustment jobs, not {info.name}"
            )
        return None
    if name is None:
        raise InvalidLabelingJobConfigError(
            f"{info.name} jobs review earlier labels: pass audit_label_attribute_name, the LabelAttributeName "
            "of the job that wrote them (the key of those labels in the input manifest)"
        )
    reviewed = _reviewed_task_type(info)
    reason = reviewed.check_label_attribute_name(name) if isinstance(name, str) else f"{name!r} is not a string"
    if reason:
        raise InvalidLabelingJobConfigError(
            f"audit_label_attribute_name must be the label attribute of a {reviewed.name} job: {reason}"
        )
    return name


def _reviewed_task_type(info: task_types.TaskType) -> task_types.TaskType:
    """The task type whose labels a verification or adjustment type reviews.

    Ground Truth names review types after the reviewed type (``AdjustmentBoundingBox``
    reviews ``BoundingBox``), so the registry needs no extra column for it.
    """
    return task_types.get_task_type(info.name.removeprefix("Adjustment").removeprefix("Verification"))


def _check_labels(info: task_types.TaskType, labels: Sequence[str | Mapping[str, Any]]) -> None:
    if isinstance(labels, str | Mapping):
        raise InvalidLabelingJobConfigError(f"labels must be a list, got {labels!r}")
    problems = info.label_problems([_label_name(label) for label in labels])
    if problems:
        raise InvalidLabelingJobConfigError(f"labels: {'; '.join(problems)}")


def _label_name(label: str | Mapping[str, Any]) -> str:
    name = label.get("label") if isinstance(label, Mapping) else label
    if not isinstance(name, str) or not name.strip():
        raise InvalidLabelingJobConfigError(
            f'each label must be a non-empty name or an object with a "label" name, got {label!r}'
        )
    return name


def _add_frame_options(
    config: dict[str, Any],
    info: task_types.TaskType,
    *,
    category_global_attributes: Sequence[Mapping[str, Any]],
    frame_attributes: Sequence[Mapping[str, Any]],
    annotation_type: str | None,
    allow_label_edits: bool,
) -> None:
    """Add the 2020-03-01 options to ``config``, refusing what Ground Truth would refuse or ignore."""
    labels = config["labels"]
    has_category_attributes = bool(category_global_attributes) or any("categoryAttributes" in label for label in labels)
    if has_category_attributes and info.human_task_ui_name == _NO_CATEGORY_ATTRIBUTES_UI:
        raise InvalidLabelingJobConfigError(
            f"{info.name} jobs take no label category attributes (Ground Truth ignores them); "
            "use frame_attributes to ask about a whole point cloud"
        )
    for label in labels:
        _check_attributes(f"categoryAttributes of {label['label']!r}", label.get("categoryAttributes", ()))
    _check_attributes("category_global_attributes", category_global_attributes)
    _check_attributes("frame_attributes", frame_attributes, description_required=True)
    if category_global_attributes:
        config["categoryGlobalAttributes"] = [dict(attribute) for attribute in category_global_attributes]
    if frame_attributes:
        config["frameAttributes"] = [dict(attribute) for attribute in frame_attributes]
    if annotation_type is not None:
        if info.family is not task_types.TaskFamily.VIDEO:
            raise InvalidLabelingJobConfigError(
                f"annotation_type is for video frame jobs; {info.name} jobs draw what their worker UI draws"
            )
        if annotation_type not in VIDEO_FRAME_ANNOTATION_TYPES:
            raise InvalidLabelingJobConfigError(
                f"annotation_type must be one of {', '.join(VIDEO_FRAME_ANNOTATION_TYPES)}, got {annotation_type!r}"
            )
        config["annotationType"] = annotation_type
    if not allow_label_edits:
        if not info.is_review:
            raise InvalidLabelingJobConfigError(
                f"allow_label_edits=False makes a verification job; {info.name} reviews no earlier labels"
            )
        for label in labels:
            label["editsAllowed"] = "none"


def _instructions(
    info: task_types.TaskType, short_instructions: str | None, full_instructions: str
) -> dict[str, str] | None:
    """Both instruction texts for a UI that Ground Truth renders, escaped like the templates'."""
    if short_instructions is None:
        if full_instructions:
            raise InvalidLabelingJobConfigError("full_instructions needs short_instructions too")
        if info.label_config_document_version == LABEL_CONFIG_DOCUMENT_VERSION:
            raise InvalidLabelingJobConfigError(
                f"{info.name} jobs show workers the instructions of their label category configuration: "
                "pass short_instructions"
            )
        return None
    texts = {
        "short_instructions": html.escape(short_instructions),
        "full_instructions": html.escape(full_instructions or short_instructions),
    }
    limits = (
        _FRAME_INSTRUCTION_LIMITS if info.label_config_document_version == FRAME_LABEL_CONFIG_DOCUMENT_VERSION else {}
    )
    for name, text in texts.items():
        limit = limits.get(name)
        if not text or (limit is not None and len(text) >= limit):
            within = f"1 to {limit - 1}" if limit else "at least 1"
            raise InvalidLabelingJobConfigError(
                f"{name} must be {within} characters once HTML-escaped, got {len(text)}"
            )
    return {"shortInstruction": texts["short_instructions"], "fullInstruction": texts["full_instructions"]}


def _check_attributes(
    where: str, attributes: Sequence[Mapping[str, Any]], *, description_required: bool = False
) -> None:
    """Refuse attributes that Ground Truth would refuse for lack of a name, type or description."""
    for attribute in attributes:
        if not isinstance(attribute, Mapping) or not isinstance(attribute.get("name"), str):
            raise InvalidLabelingJobConfigError(f"{where}: each attribute needs a name, got {attribute!r}")
        if attribute.get("type") not in _ATTRIBUTE_TYPES:
            raise InvalidLabelingJobConfigError(
                f"{where}: attribute {attribute['name']!r} needs a type of {' or '.join(_ATTRIBUTE_TYPES)}"
            )
        if description_required and not attribute.get("description"):
            raise InvalidLabelingJobConfigError(f"{where}: attribute {attribute['name']!r} needs a description")
