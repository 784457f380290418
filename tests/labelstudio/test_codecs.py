"""Each task type's Label Studio config and the round trip answer -> annotation result -> answer.

Pure functions, no server: the server-side checks of the same configs and results are in
test_backend.py, against a real Label Studio.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree

import pytest

from gt_provider import task_types
from gt_provider.labelstudio.codecs import CAPABILITIES, CODECS, AnnotationFormatError
from gt_provider.local.annotations import JobSpec
from gt_provider.local.annotations.base import ImageSize
from gt_provider.local.annotations.boxes import Box, BoxTask
from gt_provider.local.annotations.segmentation import SegmentationTask, Shape
from gt_provider.local.annotations.text_spans import Span, SpanTask

LABELS = ("cat", "dog & co", 'say "hi"')


def _spec(task_type: str) -> JobSpec:
    return JobSpec(
        name="job",
        task_type=task_types.get_task_type(task_type),
        labels=LABELS,
        label_entries=tuple({"label": label} for label in LABELS),
    )


@pytest.mark.parametrize("task_type", sorted(CODECS))
def test_every_config_is_xml_with_the_labels_and_the_header(task_type):
    config = CODECS[task_type].label_config(LABELS, "Pick <one> & only one")
    root = ElementTree.fromstring(config)

    assert root.tag == "View"
    assert root.find("Header").get("value") == "Pick <one> & only one"
    values = [element.get("value") for element in root.iter() if element.tag in ("Choice", "Label")]
    assert values == list(LABELS)
    control = next(element for element in root if element.get("name") == "label")
    assert control.get("toName") in {element.get("name") for element in root if element.tag in ("Image", "Text")}


@pytest.mark.parametrize(
    ("task_type", "answer", "task"),
    [
        ("ImageMultiClass", 2, None),
        ("TextMultiClass", 0, None),
        ("ImageMultiClassMultiLabel", (0, 2), None),
        ("TextMultiClassMultiLabel", (), None),
        ("BoundingBox", (Box(1, 10, 20, 30, 40), Box(0, 0, 0, 64, 48)), BoxTask(ImageSize(64, 48), None)),
        (
            "SemanticSegmentation",
            (Shape(2, ((1.0, 2.0), (30.0, 2.0), (30.0, 40.0))),),
            SegmentationTask(ImageSize(64, 48), None),
        ),
        ("NamedEntityRecognition", (Span(0, 5, 0), Span(10, 14, 1)), SpanTask("Alice met Bob there", None)),
    ],
)
def test_an_answer_survives_the_round_trip_through_an_annotation(task_type, answer, task):
    codec, spec = CODECS[task_type], _spec(task_type)

    results = codec.results(answer, spec, task)
    back = codec.answer(results, spec, task)

    assert back == answer


def test_a_label_outside_the_job_is_refused_by_name():
    codec, spec = CODECS["ImageMultiClass"], _spec("ImageMultiClass")
    results = [{"from_name": "label", "to_name": "image", "type": "choices", "value": {"choices": ["horse"]}}]

    with pytest.raises(AnnotationFormatError, match=r"label 'horse' is not one of the job's labels"):
        codec.answer(results, spec, None)


def test_a_single_label_annotation_needs_exactly_one_choice():
    codec, spec = CODECS["TextMultiClass"], _spec("TextMultiClass")
    results = [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": ["cat", "dog & co"]}}]

    with pytest.raises(AnnotationFormatError, match="exactly one choice"):
        codec.answer(results, spec, None)


@pytest.mark.parametrize(
    "task_type", ["VideoObjectDetection", "3DPointCloudObjectDetection", "VerificationBoundingBox"]
)
def test_what_label_studio_cannot_run_is_named_before_anything_is_created(task_type):
    class Spec:
        job_name = "job-1"
        auto_labeling = False

    Spec.task_type = task_type
    Spec.info = task_types.get_task_type(task_type)

    problems = CAPABILITIES.problems(Spec)

    assert problems and task_type in problems[0]
