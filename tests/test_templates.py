"""Tests of the worker templates and label category configurations.

The set of types that must ship a template comes from the task-type registry, so a new
template-based type without a template fails here, not in a user's CreateLabelingJob.
Rendered templates are parsed as HTML: an instruction or a header that broke out of its
attribute or element would show up as a wrong attribute set or a changed value.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from importlib import resources
from typing import Any

import pytest

from gt_provider.exceptions import InvalidLabelingJobConfigError, UnknownTaskTypeError
from gt_provider.task_types import TASK_TYPES, TaskFamily, get_task_type
from gt_provider.templates import (
    ANSWER_ELEMENTS,
    TEMPLATE_FILES,
    label_category_config,
    render_worker_template,
)

TEMPLATE_TYPES = [
    name
    for name, info in TASK_TYPES.items()
    if info.human_task_ui_name is None and info.family is not TaskFamily.CUSTOM
]
HUMAN_TASK_UI_TYPES = [name for name, info in TASK_TYPES.items() if info.human_task_ui_name is not None]
REVIEW_TEMPLATE_TYPES = [name for name in TEMPLATE_TYPES if TASK_TYPES[name].is_review]
CLASSIC_TYPES = [name for name, info in TASK_TYPES.items() if info.label_config_document_version == "2018-11-28"]
FRAME_TYPES = [name for name, info in TASK_TYPES.items() if info.label_config_document_version == "2020-03-01"]
FRAME_REVIEW_TYPES = [name for name in FRAME_TYPES if TASK_TYPES[name].is_review]

# What the simulated workforce and the consolidation Lambdas read a worker's answer under.
EXPECTED_ELEMENTS = {
    "ImageMultiClass": "crowd-image-classifier",
    "ImageMultiClassMultiLabel": "crowd-image-classifier-multi-select",
    "BoundingBox": "crowd-bounding-box",
    "SemanticSegmentation": "crowd-semantic-segmentation",
    "VerificationBoundingBox": "crowd-image-classifier",
    "AdjustmentBoundingBox": "crowd-bounding-box",
    "VerificationSemanticSegmentation": "crowd-image-classifier",
    "AdjustmentSemanticSegmentation": "crowd-semantic-segmentation",
    "TextMultiClass": "crowd-classifier",
    "TextMultiClassMultiLabel": "crowd-classifier-multi-select",
    "VideoMultiClass": "crowd-classifier",
}
# The earlier job's labels that a review template shows: boxes, or a mask (an S3 URI).
EXPECTED_REVIEW_ATTRIBUTE = {
    "VerificationBoundingBox": ("overlay", "prior-boxes"),
    "AdjustmentBoundingBox": ("initial-value", "prior-boxes"),
    "VerificationSemanticSegmentation": ("overlay", "prior-mask-ref"),
    "AdjustmentSemanticSegmentation": ("initial-value", "prior-mask-ref"),
}

HEADER = 'Is this a "cat" <or> a dog?'
SHORT = "Look <b>closely</b> & pick one"
FULL = "Full <i>instructions</i>"


class _Elements(HTMLParser):
    """Start tags with their (unescaped) attributes, and the text inside each element."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: dict[str, str] = {}
        self._open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._open:
            del self._open[len(self._open) - 1 - self._open[::-1].index(tag) :]

    def handle_data(self, data: str) -> None:
        if self._open:
            self.text[self._open[-1]] = self.text.get(self._open[-1], "") + data


def _audit_name(task_type: str) -> str | None:
    if not TASK_TYPES[task_type].is_review:
        return None
    return EXPECTED_REVIEW_ATTRIBUTE[task_type][1]


def _render(task_type: str, **overrides: Any) -> str:
    arguments: dict[str, Any] = {
        "header": HEADER,
        "short_instructions": SHORT,
        "full_instructions": FULL,
        "audit_label_attribute_name": _audit_name(task_type),
    }
    return render_worker_template(get_task_type(task_type), **{**arguments, **overrides})


def _parse(page: str) -> _Elements:
    parser = _Elements()
    parser.feed(page)
    parser.close()
    return parser


def test_every_template_based_type_has_a_template_and_no_other_type_does():
    assert sorted(TEMPLATE_FILES) == sorted(TEMPLATE_TYPES)
    assert sorted(EXPECTED_ELEMENTS) == sorted(TEMPLATE_TYPES)


def test_every_shipped_file_is_used_and_ships_as_package_data():
    shipped = {
        entry.name for entry in resources.files("gt_provider.templates").iterdir() if entry.name.endswith(".html")
    }
    assert shipped == set(TEMPLATE_FILES.values())
    # pyproject ships templates/*.html; Ground Truth does not care, but our S3 key does.
    assert all(name.endswith(".liquid.html") for name in shipped)


def test_every_partial_is_included_by_a_template_and_an_instruction_is_never_one():
    partials = resources.files("gt_provider.templates").joinpath("partials")
    names = {entry.name.removesuffix(".liquid.html") for entry in partials.iterdir() if entry.name.endswith(".html")}
    sources = [resources.files("gt_provider.templates").joinpath(name).read_text() for name in TEMPLATE_FILES.values()]
    assert names == {name for name in names if any(f"${{{name}}}\n" in source for source in sources)}
    # Partials go in before the instructions are filled in, so a worker never sees one in their place.
    parsed = _parse(_render("BoundingBox", short_instructions="${instructions}", full_instructions="${prior}"))
    assert parsed.text["short-instructions"] == "${instructions}"
    assert parsed.text["full-instructions"] == "${prior}"


@pytest.mark.parametrize("task_type", TEMPLATE_TYPES)
def test_template_renders_the_crowd_element_with_escaped_instructions(task_type):
    page = _render(task_type)
    element = EXPECTED_ELEMENTS[task_type]
    assert ANSWER_ELEMENTS[task_type] == element

    assert "<crowd-form>" in page
    assert f'name="{element}"' in page
    assert "{{ task.input" in page  # Liquid is left for Ground Truth to render
    assert "&lt;b&gt;closely&lt;/b&gt; &amp; pick one" in page
    assert "<b>" not in page and "<i>" not in page
    assert "${" not in page

    parsed = _parse(page)
    crowd = [(tag, attrs) for tag, attrs in parsed.tags if tag.startswith("crowd-") and tag != "crowd-form"]
    assert [tag for tag, _ in crowd] == [element]
    attributes = crowd[0][1]
    assert attributes["name"] == element
    assert attributes["header"] == HEADER  # survived the attribute intact, quotes and all
    assert parsed.text["short-instructions"] == SHORT
    assert parsed.text["full-instructions"] == FULL


@pytest.mark.parametrize("task_type", TEMPLATE_TYPES)
def test_template_keeps_liquid_balanced_and_inside_quoted_attributes(task_type):
    page = _render(task_type)
    assert page.count("{{") == page.count("}}")
    for opening, closing in (("for", "endfor"), ("if", "endif"), ("capture", "endcapture")):
        assert len(re.findall(rf"{{%\s*{opening}\b", page)) == len(re.findall(rf"{{%\s*{closing}\b", page))
    attributes = dict(_parse(page).tags)[EXPECTED_ELEMENTS[task_type]]
    expected = {"name", "header", "src", "categories", "labels", "overlay", "initial-value"}
    assert set(attributes) <= expected  # a stray quote inside an attribute would add junk ones


@pytest.mark.parametrize("task_type", TEMPLATE_TYPES)
def test_full_instructions_default_to_the_short_ones(task_type):
    parsed = _parse(_render(task_type, full_instructions=""))
    assert parsed.text["full-instructions"] == SHORT


@pytest.mark.parametrize("task_type", REVIEW_TEMPLATE_TYPES)
def test_review_template_shows_the_earlier_labels_from_the_manifest_line(task_type):
    attribute, prior = EXPECTED_REVIEW_ATTRIBUTE[task_type]
    page = _render(task_type)
    assert f'task.input.manifestLine["{prior}"]' in page
    assert f'task.input.manifestLine["{prior}-metadata"]' in page
    element_attributes = dict(_parse(page).tags)[EXPECTED_ELEMENTS[task_type]]
    assert "prior" in element_attributes[attribute]


@pytest.mark.parametrize("task_type", REVIEW_TEMPLATE_TYPES)
def test_review_template_needs_a_valid_earlier_label_attribute(task_type):
    with pytest.raises(InvalidLabelingJobConfigError, match="audit_label_attribute_name"):
        _render(task_type, audit_label_attribute_name=None)
    # Anything but letters, digits and hyphens could break out of the Liquid string.
    with pytest.raises(InvalidLabelingJobConfigError, match="letters, digits and hyphens"):
        _render(task_type, audit_label_attribute_name='x"] %}{{ evil }}{% assign y = a["')


@pytest.mark.parametrize("task_type", ["VerificationSemanticSegmentation", "AdjustmentSemanticSegmentation"])
def test_segmentation_review_needs_the_ref_attribute_of_a_segmentation_job(task_type):
    with pytest.raises(InvalidLabelingJobConfigError, match="must end in '-ref'"):
        _render(task_type, audit_label_attribute_name="prior-mask")


def test_non_review_template_refuses_an_earlier_label_attribute():
    with pytest.raises(InvalidLabelingJobConfigError, match="only for verification and adjustment"):
        _render("BoundingBox", audit_label_attribute_name="prior")


def test_existing_call_without_the_audit_argument_still_works():
    page = render_worker_template(get_task_type("ImageMultiClass"), header="h", short_instructions="s")
    assert 'name="crowd-image-classifier"' in page


@pytest.mark.parametrize("task_type", HUMAN_TASK_UI_TYPES)
def test_human_task_ui_types_are_told_to_use_their_human_task_ui_arn(task_type):
    ui_name = TASK_TYPES[task_type].human_task_ui_name
    with pytest.raises(UnknownTaskTypeError, match=rf"HumanTaskUiArn \(.*human-task-ui/{ui_name}\b"):
        render_worker_template(get_task_type(task_type), header="h", short_instructions="s")


def test_custom_and_unknown_types_have_no_template():
    with pytest.raises(UnknownTaskTypeError, match="brings its own worker template"):
        render_worker_template(get_task_type("Custom"), header="h", short_instructions="s")
    with pytest.raises(UnknownTaskTypeError, match="Did you mean 'BoundingBox'"):
        render_worker_template(get_task_type("BoundingBoxes"), header="h", short_instructions="s")


# Label category configurations.


def test_plain_call_keeps_the_2018_form():
    assert label_category_config(["cat", "dog"]) == {
        "document-version": "2018-11-28",
        "labels": [{"label": "cat"}, {"label": "dog"}],
    }


@pytest.mark.parametrize("task_type", [name for name in TASK_TYPES if name != "Custom"])
def test_the_registry_decides_the_form(task_type):
    info = TASK_TYPES[task_type]
    audit = "prior-ref" if info.is_review else None  # "-ref" suits every reviewed type
    config = label_category_config(
        ["car", "truck"],
        task_type=get_task_type(task_type),
        audit_label_attribute_name=audit,
        short_instructions="Label <all>",
    )
    if info.label_config_document_version == "2020-03-01":
        assert config["documentVersion"] == "2020-03-01"
        assert "document-version" not in config
    else:
        assert config["document-version"] == "2018-11-28"
        assert "documentVersion" not in config
    assert config["labels"] == [{"label": "car"}, {"label": "truck"}]
    assert config.get("auditLabelAttributeName") == audit
    # Instructions go where workers see them: the config only when Ground Truth renders the UI.
    if info.human_task_ui_name is None:
        assert "instructions" not in config
    else:
        assert config["instructions"] == {
            "shortInstruction": "Label &lt;all&gt;",
            "fullInstruction": "Label &lt;all&gt;",
        }


@pytest.mark.parametrize("task_type", [t for t in CLASSIC_TYPES if TASK_TYPES[t].is_review])
def test_image_review_config_names_the_earlier_attribute(task_type):
    audit = EXPECTED_REVIEW_ATTRIBUTE[task_type][1]
    config = label_category_config(["cat", "dog"], task_type=get_task_type(task_type), audit_label_attribute_name=audit)
    assert config == {
        "document-version": "2018-11-28",
        "labels": [{"label": "cat"}, {"label": "dog"}],
        "auditLabelAttributeName": audit,
    }


@pytest.mark.parametrize("task_type", [name for name in TASK_TYPES if TASK_TYPES[name].is_review])
def test_review_config_requires_the_earlier_attribute(task_type):
    with pytest.raises(InvalidLabelingJobConfigError, match="pass audit_label_attribute_name"):
        label_category_config(["cat", "dog"], task_type=get_task_type(task_type))


def test_non_review_config_refuses_the_earlier_attribute():
    with pytest.raises(InvalidLabelingJobConfigError, match="only for verification and adjustment"):
        label_category_config(
            ["cat", "dog"], task_type=get_task_type("BoundingBox"), audit_label_attribute_name="prior"
        )


def test_named_entity_recognition_config_carries_the_instructions_it_requires():
    config = label_category_config(
        ["person", {"label": "organization", "shortDisplayName": "org"}],
        task_type=get_task_type("NamedEntityRecognition"),
        short_instructions="Highlight names",
        full_instructions="Highlight every <name>",
    )
    assert config == {
        "document-version": "2018-11-28",
        "labels": [{"label": "person"}, {"label": "organization", "shortDisplayName": "org"}],
        "instructions": {"shortInstruction": "Highlight names", "fullInstruction": "Highlight every &lt;name&gt;"},
    }
    with pytest.raises(InvalidLabelingJobConfigError, match="pass short_instructions"):
        label_category_config(["person"], task_type=get_task_type("NamedEntityRecognition"))


def test_whole_video_classification_uses_the_2018_form():
    assert (
        label_category_config(["a", "b"], task_type=get_task_type("VideoMultiClass"))["document-version"]
        == "2018-11-28"
    )


def test_frame_config_carries_attributes_and_escaped_instructions():
    wheels = {"name": "wheels", "type": "number", "minimum": 0, "maximum": 18}
    weather = {"name": "weather", "description": "What is the weather?", "type": "string", "enum": ["sun", "rain"]}
    config = label_category_config(
        ["Car", {"label": "Pedestrian", "categoryAttributes": [{"name": "pose", "type": "string"}]}],
        task_type=get_task_type("VideoObjectTracking"),
        short_instructions="Box <every> car",
        full_instructions="Track each car & each person",
        category_global_attributes=[wheels],
        frame_attributes=[weather],
        annotation_type="Polygon",
    )
    assert config == {
        "documentVersion": "2020-03-01",
        "labels": [
            {"label": "Car"},
            {"label": "Pedestrian", "categoryAttributes": [{"name": "pose", "type": "string"}]},
        ],
        "categoryGlobalAttributes": [wheels],
        "frameAttributes": [weather],
        "annotationType": "Polygon",
        "instructions": {
            "shortInstruction": "Box &lt;every&gt; car",
            "fullInstruction": "Track each car &amp; each person",
        },
    }


@pytest.mark.parametrize("task_type", FRAME_REVIEW_TYPES)
def test_frame_review_config_carries_the_earlier_attribute_and_can_verify(task_type):
    audit = "prior-ref"
    adjust = label_category_config(
        ["Car", "Truck"], task_type=get_task_type(task_type), audit_label_attribute_name=audit
    )
    assert adjust["documentVersion"] == "2020-03-01"
    assert adjust["auditLabelAttributeName"] == audit
    assert all("editsAllowed" not in label for label in adjust["labels"])

    verify = label_category_config(
        ["Car", "Truck"], task_type=get_task_type(task_type), audit_label_attribute_name=audit, allow_label_edits=False
    )
    assert [label["editsAllowed"] for label in verify["labels"]] == ["none", "none"]


def test_frame_labels_follow_the_registry_limits():
    with pytest.raises(InvalidLabelingJobConfigError, match="at most 30"):
        label_category_config([f"l{i}" for i in range(31)], task_type=get_task_type("3DPointCloudObjectDetection"))
    with pytest.raises(InvalidLabelingJobConfigError, match="at most 16"):
        label_category_config(["a-very-long-label-name"], task_type=get_task_type("3DPointCloudObjectDetection"))
    with pytest.raises(InvalidLabelingJobConfigError, match="repeated"):
        label_category_config(["Car", "Car"], task_type=get_task_type("3DPointCloudObjectDetection"))


def test_frame_options_are_checked():
    with pytest.raises(InvalidLabelingJobConfigError, match="no label category attributes"):
        label_category_config(
            ["Car"],
            task_type=get_task_type("3DPointCloudSemanticSegmentation"),
            category_global_attributes=[{"name": "x", "type": "string"}],
        )
    with pytest.raises(InvalidLabelingJobConfigError, match="needs a description"):
        label_category_config(
            ["Car"], task_type=get_task_type("VideoObjectDetection"), frame_attributes=[{"name": "x", "type": "string"}]
        )
    with pytest.raises(InvalidLabelingJobConfigError, match="needs a type"):
        label_category_config(
            ["Car"],
            task_type=get_task_type("VideoObjectDetection"),
            category_global_attributes=[{"name": "x", "type": "bool"}],
        )
    with pytest.raises(InvalidLabelingJobConfigError, match="annotation_type is for video frame jobs"):
        label_category_config(["Car"], task_type=get_task_type("3DPointCloudObjectTracking"), annotation_type="Polygon")
    with pytest.raises(InvalidLabelingJobConfigError, match="annotation_type must be one of"):
        label_category_config(["Car"], task_type=get_task_type("VideoObjectDetection"), annotation_type="Cuboid")
    with pytest.raises(InvalidLabelingJobConfigError, match="reviews no earlier labels"):
        label_category_config(["Car"], task_type=get_task_type("VideoObjectDetection"), allow_label_edits=False)
    with pytest.raises(InvalidLabelingJobConfigError, match="short_instructions must be 1 to 254"):
        label_category_config(["Car"], task_type=get_task_type("VideoObjectDetection"), short_instructions="x" * 255)


def test_frame_options_are_refused_for_template_types():
    with pytest.raises(InvalidLabelingJobConfigError, match="frame_attributes: BoundingBox jobs take no such option"):
        label_category_config(
            ["cat"],
            task_type=get_task_type("BoundingBox"),
            frame_attributes=[{"name": "x", "type": "string", "description": "d"}],
        )
    with pytest.raises(InvalidLabelingJobConfigError, match="must be names"):
        label_category_config([{"label": "cat"}, {"label": "dog"}], task_type=get_task_type("ImageMultiClass"))
