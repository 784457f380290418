"""The output-manifest parser: the developer guide's published samples, reading files, malformed lines.

Outputs of the local Ground Truth are parsed in ``test_local_outputs.py``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gt_provider.datasets.errors import DatasetReadError, LineProblem
from gt_provider.datasets.reading.output_types import OUTPUT_TYPES
from gt_provider.datasets.reading.parse import OutputManifestParser, read_output_manifest
from gt_provider.datasets.records import Box, ClassLabel, Cuboid, Entity, ImageSize, LabeledObject, LabelKind
from gt_provider.task_types import TASK_TYPES

GUIDE = Path(__file__).parent / "fixtures" / "developer_guide"
NER_TEXT_WORDS = ["cloud machine-learning platform", "edge-devices", "launched", "deploy", "November 2017"]


def guide_line(name: str, index: int = 0) -> bytes:
    return (GUIDE / name).read_bytes().splitlines()[index]


# What each published sample must parse to: file -> [(attribute to pass, expected record fields)].
EXPECTED: dict[str, list[tuple[str | None, dict]]] = {
    "image-classification.jsonl": [
        (None, {"attribute": "species", "kind": LabelKind.CLASS, "classes": (ClassLabel(0, "dog", 0.0),),
                "class_map": {0: "dog"}, "source_field": "source-ref", "job_name": "identify-dog-breeds"}),
    ],
    "text-classification.jsonl": [
        (None, {"attribute": "mood", "kind": LabelKind.CLASS, "classes": (ClassLabel(1, "positive", 0.8),),
                "source": "The food was delicious", "source_field": "source"}),
    ],
    "image-classification-multilabel.jsonl": [
        (None, {"kind": LabelKind.MULTI_LABEL, "classes": (ClassLabel(1, "cat", 0.95), ClassLabel(4, "dog", 0.22)),
                "class_map": {1: "cat", 4: "dog"}, "source": "AWSDOC-EXAMPLE-BUCKET/example_image.jpg",
                "confidence": 0.22}),
    ],
    "text-classification-multilabel.jsonl": [
        (None, {"kind": LabelKind.MULTI_LABEL, "classes": (ClassLabel(1, "positive", 0.8),), "source_field": "source"}),
    ],
    "object-detection.jsonl": [
        (None, {"kind": LabelKind.BOXES, "image_size": ImageSize(500, 400, 3), "adjustment_status": None,
                "boxes": (Box(0, "dog", 111, 134, 61, 128, 0.8), Box(5, "bone", 161, 250, 30, 30, 0.9),
                          Box(5, "bone", 20, 20, 30, 30, 0.9)),
                "label_names": ("dog", "bone"), "confidence": 0.8, "class_map": {0: "dog", 5: "bone"}}),
        (None, {"kind": LabelKind.BOXES, "adjustment_status": "adjusted", "label_names": ("dog", "bone")}),
    ],
    "label-verification.jsonl": [
        ("verify-bounding-box", {"kind": LabelKind.VERIFICATION, "classes": (ClassLabel(1, "bad", 0.93),),
                                 "worker_feedback": ("The bounding box on the bird is too wide on the right side.",
                                                     "The bird on the upper right is not labeled."),
                                 "job_name": "verify-bounding-boxes"}),
        ("bounding-box-attribute-name", {"kind": LabelKind.BOXES, "label_names": ("dog", "bone")}),
    ],
    "semantic-segmentation.jsonl": [
        ("city-streets-ref", {"kind": LabelKind.MASK, "ref": "S3 bucket location",
                              "class_map": {0: "BACKGROUND", 1: "buildings", 2: "road"},
                              "classes": (ClassLabel(0, "BACKGROUND", 0.9), ClassLabel(1, "buildings", 0.9),
                                          ClassLabel(2, "road", 0.9))}),
        ("verify-city-streets-ref", {"kind": LabelKind.VERIFICATION, "classes": (ClassLabel(1, "bad", 0.93),)}),
    ],
    "text-span.jsonl": [
        (None, {"kind": LabelKind.ENTITIES, "class_map": {0: "Date", 1: "Verb", 2: "Thing", 3: "People"},
                "label_names": ("Thing", "Verb", "Date", "People"), "confidence": 0.0}),
    ],
    "video-object-detection.jsonl": [
        (None, {"attribute": "CarObjectDetection-ref", "kind": LabelKind.SEQUENCE, "class_map": {0: "car", 1: "bus"},
                "ref": "s3://amzn-s3-demo-bucket/output/labeling-job-name/annotations/consolidated-annotation/output/0/SeqLabel.json",
                "label_names": ("car", "bus"), "confidence": None}),
    ],
    "video-object-tracking.jsonl": [
        (None, {"attribute": "CarObjectTracking-ref", "kind": LabelKind.SEQUENCE, "class_map": {0: "car", 1: "bus"},
                "output_type": "groundtruth/video-object-tracking"}),
    ],
    "point_cloud_single_frame_semantic_segmentation.jsonl": [
        (None, {"attribute": "lidar-ss-label-attribute-ref", "kind": LabelKind.SEQUENCE,
                "class_map": {0: "Background", 1: "Car", 2: "Pedestrian", 3: "Tree"}, "adjustment_status": "adjusted",
                "worker_feedback": ("worker feedback",), "confidence": 0.0,
                "ref": "s3://AWSDOC-EXAMPLE-BUCKET/labeling-job-name/annotations/consolidated-annotation/output/dataset-object-id/filename.zlib"}),
    ],
    "point_cloud_object_detection.jsonl": [
        (None, {"attribute": "3d-bounding-box", "kind": LabelKind.CUBOIDS, "class_map": {0: "Car"},
                "adjustment_status": "adjusted", "confidence": None,
                "cuboids": (Cuboid("Car", (-2.616382013657516, 125.04149850484193, 0.311272296465834),
                                   (2.993000265181146, 1.8355260519692056, 1.3233490884304047), (0, 0, 1.6479308313703527)),
                            Cuboid("Car", (-5.188984560617168, 99.7954483288783, 0.2226435567445657), (4, 2, 2),
                                   (0, 0, 1.6243170732068055)))}),
    ],
    "point_cloud_object_tracking.jsonl": [
        (None, {"attribute": "lidar-label-attribute-ref", "kind": LabelKind.SEQUENCE,
                "class_map": {0: "Car", 1: "Person"}, "adjustment_status": "adjusted"}),
    ],
}  # fmt: skip
CASES = [(name, index, attribute, fields) for name, cases in EXPECTED.items() for index, (attribute, fields) in enumerate(cases)]  # fmt: skip


def test_every_published_sample_has_expectations():
    assert {path.name for path in GUIDE.glob("*.jsonl")} == set(EXPECTED)


@pytest.mark.parametrize(("name", "index", "attribute", "fields"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_developer_guide_sample_parses_to_its_record(name, index, attribute, fields):
    lines = (GUIDE / name).read_bytes().splitlines()
    line = lines[index] if len(lines) > index else lines[0]
    record = OutputManifestParser(attribute, manifest=name).parse(line, index + 1)

    assert isinstance(record, LabeledObject), record
    assert record.output_type == orjson.loads(line)[f"{record.attribute}-metadata"]["type"]
    assert record.failure_reason is None and record.human_annotated and record.line == index + 1
    for key, value in fields.items():
        assert getattr(record, key) == value, key


def test_ner_sample_spans_are_the_words_of_the_text():
    record = OutputManifestParser().parse(guide_line("text-span.jsonl"), 1)
    spans = [record.source[entity.start : entity.end] for entity in record.entities]
    assert spans[:5] == NER_TEXT_WORDS
    assert record.entities[0] == Entity("Thing", 22, 53, 0.0)
    assert len(record.entities) == 10


def test_every_type_the_local_aws_writes_is_known_and_the_guide_spellings_too():
    assert {info.output_type for info in TASK_TYPES.values() if info.output_type} <= OUTPUT_TYPES
    published = {orjson.loads(line)[key]["type"] for path in GUIDE.glob("*.jsonl") for line in path.read_bytes().splitlines()
                 for key in orjson.loads(line) if key.endswith("-metadata") and "type" in orjson.loads(line)[key]}  # fmt: skip
    assert published <= OUTPUT_TYPES
    assert "groundtruth/point_cloud_object_detection" in published


def test_record_fields_keep_the_order_the_parser_builds_them_in():
    """The parser builds records positionally (the fastest call): a reordered field would mislabel data."""
    assert [f.name for f in dataclasses.fields(LabeledObject)] == [
        "line", "source", "source_field", "attribute", "output_type", "kind", "job_name", "human_annotated",
        "creation_date", "failure_reason", "classes", "boxes", "image_size", "entities", "cuboids", "ref",
        "class_map", "adjustment_status", "worker_feedback", "raw", "source_line",
    ]  # fmt: skip


# ------------------------------------------------------------------ which attribute


def test_a_chained_line_without_attribute_names_the_candidates():
    problem = OutputManifestParser(manifest="out.manifest").parse(guide_line("label-verification.jsonl"), 7)
    assert isinstance(problem, LineProblem) and problem.line == 7 and problem.manifest == "out.manifest"
    assert "'bounding-box-attribute-name' (groundtruth/object-detection)" in problem.reason
    assert "'verify-bounding-box' (groundtruth/label-verification)" in problem.reason
    assert "attribute=" in problem.reason


def test_the_attribute_found_on_the_first_line_is_kept():
    parser = OutputManifestParser()
    assert parser.attribute is None
    assert isinstance(parser.parse(guide_line("image-classification.jsonl"), 1), LabeledObject)
    assert parser.attribute == "species"
    other = parser.parse(guide_line("text-classification.jsonl"), 2)
    assert isinstance(other, LineProblem) and other.reason == "'species-metadata' is missing"


def test_input_metadata_without_a_groundtruth_type_is_not_a_label():
    line = orjson.loads(guide_line("point_cloud_object_detection.jsonl"))
    assert "source-ref-metadata" in line
    del line["3d-bounding-box-metadata"]
    problem = OutputManifestParser().parse(orjson.dumps(line), 1)
    assert isinstance(problem, LineProblem) and problem.reason.startswith("no label attribute")


@pytest.mark.parametrize("attribute", ["", "animal-metadata"])
def test_an_attribute_that_cannot_be_a_label_attribute_is_refused(attribute):
    with pytest.raises(ValueError, match="label attribute name"):
        OutputManifestParser(attribute)


# ------------------------------------------------------------------ failed objects


def test_a_failed_object_is_a_record_with_its_reason_not_a_problem():
    line = orjson.loads(guide_line("object-detection.jsonl"))
    del line["bounding-box-attribute-name"]
    metadata = line["bounding-box-attribute-name-metadata"]
    for key in ("objects", "class-map"):
        del metadata[key]
    metadata["failure-reason"] = "ClientError: The task expired before workers finished"
    record = OutputManifestParser().parse(orjson.dumps(line), 3)

    assert isinstance(record, LabeledObject) and record.failed
    assert record.failure_reason == "ClientError: The task expired before workers finished"
    assert record.kind is LabelKind.BOXES and record.boxes == () and record.label_names == ()


def test_parse_decoded_reads_an_already_decoded_line():
    obj = orjson.loads(guide_line("image-classification.jsonl"))
    record = OutputManifestParser().parse_decoded(obj, 4)
    assert record.raw is obj and record.classes == (ClassLabel(0, "dog", 0.0),)


def test_records_share_labels_but_not_lines():
    parser = OutputManifestParser()
    first, second = parser.parse(guide_line("image-classification.jsonl"), 1), parser.parse(guide_line("image-classification.jsonl"), 2)  # fmt: skip
    assert first.classes[0] is second.classes[0]  # one ClassLabel per distinct label: the fast path
    assert first.raw is not second.raw and (first.line, second.line) == (1, 2)


# ------------------------------------------------------------------ reading files


def _write(tmp_path: Path, data: bytes) -> str:
    path = tmp_path / "output.manifest"
    path.write_bytes(data)
    return str(path)


def test_blank_lines_are_skipped_but_counted(tmp_path):
    line = guide_line("image-classification.jsonl")
    path = _write(tmp_path, b"\n" + line + b"\r\n  \n\n" + line)  # CRLF, whitespace, no final newline
    results = list(read_output_manifest(path))
    assert [r.line for r in results] == [2, 5]
    assert all(isinstance(r, LabeledObject) for r in results)


def test_lines_longer_than_a_read_chunk_come_whole(tmp_path):
    line = orjson.loads(guide_line("object-detection.jsonl"))
    metadata = line["bounding-box-attribute-name-metadata"]
    box = line["bounding-box-attribute-name"]["annotations"][0]
    line["bounding-box-attribute-name"]["annotations"] = [box] * 40_000  # about 2.4 MB on one line
    metadata["objects"] = [{"confidence": 0.5}] * 40_000
    path = _write(tmp_path, orjson.dumps(line) + b"\n" + guide_line("object-detection.jsonl") + b"\n")
    results = list(read_output_manifest(path, attribute="bounding-box-attribute-name"))
    assert [len(r.boxes) for r in results] == [40_000, 3]


def test_problems_carry_the_manifest_they_come_from(tmp_path):
    path = _write(tmp_path, b"not json\n")
    (problem,) = read_output_manifest(path)
    assert problem.manifest == path and problem.line == 1 and problem.reason.startswith("not valid JSON")
    assert str(problem).startswith(f"{path} line 1: ")


def test_a_missing_manifest_raises_naming_it(tmp_path):
    missing = str(tmp_path / "nope.manifest")
    with pytest.raises(DatasetReadError, match=r"nope\.manifest"):
        list(read_output_manifest(missing))
    with pytest.raises(DatasetReadError, match="s3://bucket-only"):
        list(read_output_manifest("s3://bucket-only"))


# ------------------------------------------------------------------ malformed lines

MALFORMED_DIR = Path(__file__).parent / "fixtures" / "malformed"
#: file -> {line: words its reason must contain}; lines not listed (but blank ones) must parse.
MALFORMED = {
    "classification.manifest": {
        3: "not valid JSON", 4: "JSON array, not an object", 5: "JSON string, not an object",
        6: "neither 'source-ref' nor 'source'", 7: "'animal-metadata' is missing", 8: "'animal-metadata' is 'yes', not an object",
        9: "unknown output type 'groundtruth/image-captioning'", 10: "'animal-metadata' has no 'type'",
        11: "'job-name'", 12: "the label must be a class id", 13: "no label 'animal' and no 'failure-reason'",
        14: "not valid JSON", 15: "metadata 'confidence' must be a confidence between 0 and 1, got 1.5",
        16: "no label 'animal'",
    },
    "boxes.manifest": {
        2: "annotations[0] is class id 3, which metadata 'class-map' does not list",
        3: "annotations[0].width must be a number, got '10'", 4: "annotations must be a list",
        5: "metadata 'objects' has 2 entries for 1 labeled items", 6: "image_size must be a list",
        7: "annotations[0].height must be >= 0", 8: "adjustment-status", 9: "annotations[0] must be an object",
    },
    "ner.manifest": {
        2: "0 <= startOffset < endOffset, got 5..0", 3: "endOffset 40 is past the end of the 23-character source",
        4: "'animal' is not one of annotations.labels", 5: "integer offsets",
    },
    "multilabel.manifest": {
        2: "label[1] is class id 7, which metadata 'class-map' does not list", 3: "the label must be a list",
        4: "metadata has no 'class-map'",
    },
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_lines_are_reported_with_line_and_reason(name):
    path = str(MALFORMED_DIR / name)
    results = list(read_output_manifest(path))
    problems = {r.line: r.reason for r in results if isinstance(r, LineProblem)}

    assert set(problems) == set(MALFORMED[name]), problems
    for line, words in MALFORMED[name].items():
        assert words in problems[line], (line, problems[line])
    assert all(r.manifest == path for r in results if isinstance(r, LineProblem))
    good = [r for r in results if isinstance(r, LabeledObject)]
    assert good and good[0].line == 1
    blank = {i for i, text in enumerate(Path(path).read_bytes().split(b"\n")[:-1], 1) if not text.strip()}
    assert {r.line for r in results} | blank == set(range(1, len(results) + len(blank) + 1))


def test_the_failed_object_among_broken_lines_is_a_record():
    failed = [
        r for r in read_output_manifest(str(MALFORMED_DIR / "classification.manifest")) if getattr(r, "failed", False)
    ]
    assert [(r.line, r.failure_reason) for r in failed] == [(17, "ClientError: expired")]


def test_a_label_shape_no_check_foresaw_is_still_a_line_problem(monkeypatch):
    """The parser's safety net: an unexpected exception inside a type's parse becomes a LineProblem."""
    from gt_provider.datasets.reading import parse

    def broken(*args):
        raise ZeroDivisionError("boom")

    monkeypatch.setitem(parse._TYPES, "groundtruth/image-classification", (LabelKind.CLASS, broken))
    problem = OutputManifestParser().parse(guide_line("image-classification.jsonl"), 1)
    assert isinstance(problem, LineProblem) and "unreadable label (ZeroDivisionError: boom)" in problem.reason


# ------------------------------------------------------------------ never raises

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
SAMPLES = [(path.name, line) for path in sorted(GUIDE.glob("*.jsonl")) for line in path.read_bytes().splitlines()]


def _paths(value, prefix=()):
    """Every (path of keys/indexes) inside a decoded JSON value."""
    yield prefix
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        yield from _paths(child, (*prefix, key))


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_parse_never_raises_on_a_published_sample_with_one_part_replaced(data):
    name, line = data.draw(st.sampled_from(SAMPLES))
    obj = orjson.loads(line)
    path = data.draw(st.sampled_from(list(_paths(obj))[1:]))
    parent = obj
    for key in path[:-1]:
        parent = parent[key]
    if data.draw(st.booleans()) and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = data.draw(json_values)
    attribute = EXPECTED[name][0][0]
    result = OutputManifestParser(attribute).parse(orjson.dumps(obj), 1)
    assert isinstance(result, LabeledObject | LineProblem)


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(max_size=200) | st.text(max_size=200), line=st.integers(1, 10**6))
def test_parse_never_raises_on_arbitrary_bytes(raw, line):
    result = OutputManifestParser().parse(raw, line)
    assert isinstance(result, LabeledObject | LineProblem) and result.line == line


@settings(max_examples=300, deadline=None)
@given(
    output_type=st.sampled_from(sorted(OUTPUT_TYPES)) | st.text(max_size=12),
    value=json_values,
    metadata=st.dictionaries(st.sampled_from(["class-name", "confidence", "class-map", "class_map", "objects",
                                              "internal-color-map", "color-map", "entities", "confidence-map",
                                              "adjustment-status", "worker-feedback", "failure-reason"]), json_values),
)  # fmt: skip
def test_parse_never_raises_on_any_label_of_any_type(output_type, value, metadata):
    line = {"source": "some text", "a": value, "a-metadata": {**metadata, "type": output_type, "job-name": "j",
            "human-annotated": "yes", "creation-date": "2026-01-01T00:00:00"}}  # fmt: skip
    result = OutputManifestParser("a").parse_decoded(line, 1)
    assert isinstance(result, LabeledObject | LineProblem)
