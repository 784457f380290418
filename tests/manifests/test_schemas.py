"""The shipped JSON Schemas: valid draft 2020-12, one per task family, and in step with the house's config builder."""

from __future__ import annotations

import json
from importlib import resources

import pytest
from jsonschema import Draft202012Validator

from gt_provider import templates
from gt_provider.manifests import (
    SCHEMA_NAMES,
    frame_sequence_schema,
    label_category_config_errors,
    line_schema,
    line_validator,
    load_schema,
)
from gt_provider.manifests.layouts import TASK_DATA_KINDS, DataKind
from gt_provider.manifests.schema import validator_for
from gt_provider.task_types import TASK_TYPES, LabelAttributeRule, TaskFamily, get_task_type

REVIEWED = "earlier"
IMAGE_LINE = {"source-ref": "s3://gt-bucket/images/a.jpg"}
METADATA = {
    "job-name": "labeling-job/earlier",
    "type": "groundtruth/object-detection",
    "human-annotated": "yes",
    "creation-date": "2026-01-01T00:00:00.000000",
}
VALID_LINES = {
    DataKind.IMAGE: IMAGE_LINE,
    DataKind.VIDEO_CLIP: {"source-ref": "s3://gt-bucket/clips/a.mp4"},
    DataKind.VIDEO_FRAME_SEQUENCE: {"source-ref": "s3://gt-bucket/sequences/seq1.json"},
    DataKind.POINT_CLOUD_SEQUENCE: {"source-ref": "s3://gt-bucket/sequences/seq1.json"},
    DataKind.POINT_CLOUD_FRAME: {
        "source-ref": "s3://gt-bucket/frames/0001.bin",
        "source-ref-metadata": {"format": "binary/xyzi", "unix-timestamp": 1566861644.759115},
    },
    DataKind.TEXT: {"source": "The quick brown fox"},
    DataKind.CUSTOM: {"source-ref": "s3://gt-bucket/anything"},
}


def _review_attribute(name: str) -> str | None:
    info = get_task_type(name)
    return REVIEWED if info.is_review else None


def test_every_shipped_schema_is_a_valid_draft_2020_12_schema() -> None:
    shipped = sorted(path.name for path in resources.files("gt_provider.manifests").joinpath("schemas").iterdir())
    assert shipped == sorted(f"{name}.schema.json" for name in SCHEMA_NAMES)
    ids = set()
    for name in SCHEMA_NAMES:
        schema = load_schema(name)
        Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["title"] and schema["description"]
        ids.add(schema["$id"])
    assert len(ids) == len(SCHEMA_NAMES)


def test_every_task_type_has_a_data_layout() -> None:
    families = {
        DataKind.IMAGE: TaskFamily.IMAGE,
        DataKind.VIDEO_CLIP: TaskFamily.VIDEO,
        DataKind.VIDEO_FRAME_SEQUENCE: TaskFamily.VIDEO,
        DataKind.POINT_CLOUD_FRAME: TaskFamily.POINT_CLOUD,
        DataKind.POINT_CLOUD_SEQUENCE: TaskFamily.POINT_CLOUD,
        DataKind.TEXT: TaskFamily.TEXT,
        DataKind.CUSTOM: TaskFamily.CUSTOM,
    }
    assert set(TASK_DATA_KINDS) == set(TASK_TYPES)
    for name, kind in TASK_DATA_KINDS.items():
        info = get_task_type(name)
        assert families[kind] is info.family, name
        # Sequence files exactly where Ground Truth renders a frame-by-frame UI for a video or a track.
        is_sequence = kind in (DataKind.VIDEO_FRAME_SEQUENCE, DataKind.POINT_CLOUD_SEQUENCE)
        assert is_sequence == (info.family is TaskFamily.VIDEO and info.human_task_ui_name is not None) or (
            "Tracking" in name and is_sequence
        ), name


@pytest.mark.parametrize("name", TASK_TYPES)
def test_line_schema_of_every_task_type(name: str) -> None:
    attribute = _review_attribute(name)
    line = dict(VALID_LINES[TASK_DATA_KINDS[name]])
    validator = line_validator(name, attribute)

    if attribute is not None:
        assert not validator.is_valid(line)  # the labels to review are missing
        line |= {attribute: {"annotations": []}, f"{attribute}-metadata": METADATA}
    assert validator.is_valid(line), list(validator.iter_errors(line))
    for broken in ({}, {**line, "$x": 1}, {**line, "caption": "x" * 20_001}, [line]):
        assert not validator.is_valid(broken)


def test_review_lines_name_the_attribute_under_review() -> None:
    schema = line_schema("AdjustmentSemanticSegmentation", "masks-ref")

    assert schema["required"] == ["masks-ref", "masks-ref-metadata"]
    validator = validator_for(schema)
    line = {**IMAGE_LINE, "masks-ref": "s3://gt-bucket/masks/a.png", "masks-ref-metadata": METADATA}
    assert validator.is_valid(line)
    assert not validator.is_valid({**line, "masks-ref-metadata": {**METADATA, "human-annotated": "maybe"}})


def _labels(name: str) -> list[str]:
    info = get_task_type(name)
    return [f"class{index}" for index in range(max(info.min_labels, 2))]


def _audit_attribute(name: str) -> str | None:
    info = get_task_type(name)
    if not info.is_review:
        return None
    reviewed = get_task_type(name.removeprefix("Adjustment").removeprefix("Verification"))
    return "earlier-ref" if reviewed.label_attribute_rule is LabelAttributeRule.MUST_END_WITH_REF else "earlier"


@pytest.mark.parametrize("name", [name for name in TASK_TYPES if name != "Custom"])
def test_configs_built_by_the_templates_module_pass_for_every_task_type(name: str) -> None:
    """The schemas and gt_provider.templates.label_category_config agree on what a config is."""
    config = templates.label_category_config(
        _labels(name),
        task_type=get_task_type(name),
        audit_label_attribute_name=_audit_attribute(name),
        short_instructions="Label every object.",
    )

    assert label_category_config_errors(json.loads(json.dumps(config)), name) == []


def test_frame_config_with_attributes_passes() -> None:
    config = templates.label_category_config(
        [{"label": "Car", "categoryAttributes": [{"name": "color", "type": "string", "enum": ["red", "blue"]}]}],
        task_type=get_task_type("VideoObjectTracking"),
        category_global_attributes=[{"name": "occluded", "type": "string", "enum": ["yes", "no"]}],
        frame_attributes=[{"name": "weather", "type": "string", "description": "The weather", "enum": ["sun"]}],
        annotation_type="Polygon",
        short_instructions="Track the cars.",
    )

    assert label_category_config_errors(config, "VideoObjectTracking") == []


@pytest.mark.parametrize(
    ("config", "task_type", "problem"),
    [
        ([{"label": "a"}], None, "is a JSON object"),
        ({"labels": [{"label": "a"}]}, None, "exactly one of"),
        ({"document-version": "2020-03-01", "labels": [{"label": "a"}]}, None, "not a document version spelled"),
        ({"document-version": "2018-11-28", "labels": []}, None, "labels: [] should be non-empty"),
        ({"document-version": "2018-11-28", "labels": [{"name": "a"}]}, None, "'label' is a required property"),
        ({"document-version": "2018-11-28", "labels": [{"label": "cat"}]}, "ImageMultiClass", "at least 2"),
        (
            {"document-version": "2018-11-28", "labels": [{"label": "cat"}, {"label": "cat"}]},
            "ImageMultiClass",
            "repeated: cat",
        ),
        ({"document-version": "2018-11-28", "labels": [{"label": "car"}]}, "VideoObjectTracking", "2020-03-01"),
        (
            {"documentVersion": "2020-03-01", "labels": [{"label": "car"}], "annotationType": "Circle"},
            None,
            "annotationType: 'Circle' is not one of",
        ),
        ({"documentVersion": "2020-03-01", "labels": [{"label": "car"}]}, "AdjustmentVideoObjectTracking", "audit"),
        (
            {"documentVersion": "2020-03-01", "labels": [{"label": "a-very-long-label-name"}]},
            "VideoObjectTracking",
            "at most 16",
        ),
        (
            {"document-version": "2018-11-28", "labels": [{"label": "a"}], "auditLabelAttributeName": "x"},
            "BoundingBox",
            "only for verification and adjustment",
        ),
        ({"document-version": "2018-11-28", "labels": [{"label": "PERSON"}]}, "NamedEntityRecognition", "instructions"),
    ],
)
def test_bad_label_category_configs_say_why(config: object, task_type: str | None, problem: str) -> None:
    problems = label_category_config_errors(config, task_type)

    assert any(problem in text for text in problems), problems


def test_frame_sequence_schemas() -> None:
    video = {
        "seq-no": 1,
        "prefix": "s3://gt-bucket/prefix/video1/",
        "number-of-frames": 2,
        "frames": [
            {"frame-no": 1, "unix-timestamp": 1566861644, "frame": "frame0001.jpg"},
            {"frame-no": 2, "unix-timestamp": 1566861644, "frame": "frame0002.PNG"},
        ],
    }
    point_cloud = {
        "seq-no": 1,
        "prefix": "s3://gt-bucket/lidar/seq1/",
        "number-of-frames": 1,
        "frames": [
            {
                "frame-no": 300,
                "unix-timestamp": 1566861644.759115,
                "frame": "frames/frame300.bin",
                "format": "binary/xyzi",
                "ego-vehicle-pose": {
                    "position": {"x": -2.7, "y": 116.2, "z": 1.8},
                    "heading": {"qx": -0.02, "qy": -0.006, "qz": -0.008, "qw": 0.999},
                },
                "images": [{"image-path": "images/frame300_camera0.jpg"}],
            }
        ],
    }
    video_schema = validator_for(frame_sequence_schema("VideoObjectDetection") or {})
    point_cloud_schema = validator_for(frame_sequence_schema("3DPointCloudObjectTracking") or {})

    assert video_schema.is_valid(video) and point_cloud_schema.is_valid(point_cloud)
    assert not video_schema.is_valid({**video, "frames": [{"frame-no": 1, "frame": "frame0001.gif"}]})
    assert not video_schema.is_valid({**video, "prefix": "gt-bucket/prefix"})
    assert not point_cloud_schema.is_valid({**point_cloud, "frames": [{"frame-no": 1, "frame": "f.bin"}]})
    assert frame_sequence_schema("BoundingBox") is None
