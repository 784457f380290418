"""Object filters, review filters and label renaming, on the developer guide's samples."""

from __future__ import annotations

import copy
import dataclasses

import orjson
import pytest

from gt_provider.datasets.errors import DatasetError
from gt_provider.datasets.filters import DROP_REASONS, LabelMapping, ObjectFilter, ReviewFilter
from gt_provider.datasets.reading.parse import OutputManifestParser
from gt_provider.datasets.records import ClassLabel, LabeledObject, LabelKind
from tests.datasets.test_parse import guide_line


def parse(name: str, attribute: str | None = None, index: int = 0, **changes) -> LabeledObject:
    """A guide sample, parsed, with record fields replaced."""
    record = OutputManifestParser(attribute).parse(guide_line(name, index), 1)
    assert isinstance(record, LabeledObject), record
    return dataclasses.replace(record, **changes) if changes else record


def reparsed(record: LabeledObject) -> LabeledObject:
    """The record's raw line written out and read again, as an augmented-manifest export would be."""
    again = OutputManifestParser(record.attribute).parse(orjson.dumps(record.raw), record.line)
    assert isinstance(again, LabeledObject), again
    return again


# ------------------------------------------------------------------ ObjectFilter


@pytest.mark.parametrize(
    "arguments",
    [{"min_confidence": 1.5}, {"min_confidence": -0.1}, {"min_confidence": True}, {"min_confidence": "0.5"},
     {"adjustment_status": frozenset({"weird"})}, {"adjustment_status": "adjusted"},
     {"adjustment_status": frozenset()}, {"human_annotated_only": "yes"}],
)  # fmt: skip
def test_object_filter_refuses_settings_outside_what_ground_truth_writes(arguments):
    with pytest.raises(DatasetError):
        ObjectFilter(**arguments)


def test_object_filter_takes_any_collection_of_statuses():
    assert ObjectFilter(adjustment_status=["adjusted"]).adjustment_status == frozenset({"adjusted"})


def test_failed_objects_are_always_dropped_as_failed():
    failed = parse("image-classification.jsonl", failure_reason="expired", classes=())
    assert ObjectFilter().drop_reason(failed) == "failed"
    strict = ObjectFilter(min_confidence=0.9, human_annotated_only=True, adjustment_status=frozenset({"adjusted"}))
    assert strict.drop_reason(failed) == "failed"


def test_machine_annotated_objects_are_dropped_when_asked():
    machine = parse("image-classification.jsonl", human_annotated=False)
    assert ObjectFilter().drop_reason(machine) is None
    assert ObjectFilter(human_annotated_only=True).drop_reason(machine) == "machine-annotated"


def test_adjustment_status_keeps_only_the_statuses_asked_for():
    plain, adjusted = parse("object-detection.jsonl"), parse("object-detection.jsonl", index=1)
    only_adjusted = ObjectFilter(adjustment_status=frozenset({"adjusted"}))
    assert only_adjusted.drop_reason(adjusted) is None
    assert only_adjusted.drop_reason(plain) == "adjustment-status"  # not an adjustment job's output
    assert (
        only_adjusted.drop_reason(dataclasses.replace(adjusted, adjustment_status="unadjusted")) == "adjustment-status"
    )


def test_min_confidence_looks_at_the_least_confident_part():
    boxes = parse("object-detection.jsonl")  # box confidences 0.8, 0.9, 0.9
    assert ObjectFilter(min_confidence=0.8).drop_reason(boxes) is None
    assert ObjectFilter(min_confidence=0.85).drop_reason(boxes) == "low-confidence"


def test_objects_without_a_confidence_pass_min_confidence():
    sequence = parse("video-object-tracking.jsonl")
    assert sequence.confidence is None
    assert ObjectFilter(min_confidence=1.0).drop_reason(sequence) is None


def test_every_reason_a_filter_returns_is_a_listed_one():
    assert len(set(DROP_REASONS)) == len(DROP_REASONS)
    assert {
        "failed",
        "low-confidence",
        "machine-annotated",
        "adjustment-status",
        "failed-review",
        "not-reviewed",
    } <= set(DROP_REASONS)


# ------------------------------------------------------------------ ReviewFilter

BOXES, VERDICT = "bounding-box-attribute-name", "verify-bounding-box"


def reviewed(verdict: dict | None = None, drop_verdict: bool = False) -> LabeledObject:
    """The guide's bounding box line with its verification verdict (``class-name`` "bad") changed."""
    line = orjson.loads(guide_line("label-verification.jsonl"))
    if drop_verdict:
        del line[VERDICT], line[f"{VERDICT}-metadata"]
    elif verdict is not None:
        line[f"{VERDICT}-metadata"].update(verdict)
    record = OutputManifestParser(BOXES).parse(orjson.dumps(line), 1)
    assert record.kind is LabelKind.BOXES
    return record


def test_review_filter_keeps_accepted_verdicts_only():
    assert ReviewFilter(VERDICT, frozenset({"bad"})).drop_reason(reviewed()) is None
    assert ReviewFilter(VERDICT, frozenset({"good"})).drop_reason(reviewed()) == "failed-review"
    assert ReviewFilter(VERDICT, {"correct"}).drop_reason(reviewed({"class-name": "correct"})) is None


def test_objects_the_review_did_not_reach_are_not_reviewed():
    review = ReviewFilter(VERDICT, frozenset({"good"}))
    assert review.drop_reason(reviewed(drop_verdict=True)) == "not-reviewed"
    line = orjson.loads(guide_line("label-verification.jsonl"))
    del line[VERDICT]
    line[f"{VERDICT}-metadata"] = {
        k: v for k, v in line[f"{VERDICT}-metadata"].items() if k not in ("class-name", "confidence")
    }
    line[f"{VERDICT}-metadata"]["failure-reason"] = "expired"
    assert review.drop_reason(OutputManifestParser(BOXES).parse(orjson.dumps(line), 1)) == "not-reviewed"


def test_a_broken_verdict_is_malformed_review_and_a_failed_object_failed():
    review = ReviewFilter(VERDICT, frozenset({"good"}))
    assert review.drop_reason(reviewed({"confidence": 7})) == "malformed-review"
    assert review.drop_reason(dataclasses.replace(reviewed(), failure_reason="expired")) == "failed"


def test_naming_an_attribute_that_is_not_a_verdict_fails_loudly():
    review = ReviewFilter(BOXES, frozenset({"good"}))
    with pytest.raises(DatasetError, match="not a verdict"):
        review.drop_reason(parse("label-verification.jsonl", VERDICT))


@pytest.mark.parametrize(
    ("attribute", "accept"), [("", {"good"}), (VERDICT, set()), (VERDICT, "good"), (VERDICT, {""})]
)
def test_review_filter_refuses_what_would_drop_everything(attribute, accept):
    with pytest.raises(DatasetError):
        ReviewFilter(attribute, accept)


# ------------------------------------------------------------------ LabelMapping


@pytest.mark.parametrize("rename", [{"cat": ""}, {"cat": "  "}, {"cat": None}, {"": "dog"}])
def test_label_mapping_refuses_empty_names(rename):
    with pytest.raises(DatasetError):
        LabelMapping(rename)


def test_class_ids_of_a_plain_rename_do_not_move():
    mapping = LabelMapping({"dog": "canine"})
    assert mapping.remap_class_map({0: "dog", 5: "bone"}) == ({0: "canine", 5: "bone"}, {0: 0, 5: 5})


def test_merged_classes_take_the_lowest_id_of_their_group_and_nothing_else_moves():
    mapping = LabelMapping({"kitten": "cat", "tomcat": "cat"})
    new_map, ids = mapping.remap_class_map({0: "dog", 1: "kitten", 2: "bird", 3: "cat", 4: "tomcat"})
    assert new_map == {0: "dog", 1: "cat", 2: "bird"}
    assert ids == {0: 0, 1: 1, 2: 2, 3: 1, 4: 1}


def test_classification_rename_with_class_map_renumbers_and_rewrites_raw():
    original = parse("text-classification.jsonl")  # "1" positive
    untouched = copy.deepcopy(original.raw)
    mapping = LabelMapping({"positive": "good", "happy": "good"}, class_map={0: "happy", 1: "positive"})
    new = mapping.apply(original)

    assert new.classes == (ClassLabel(0, "good", 0.8),) and new.class_map == {0: "good"}
    assert new.raw["mood"] == "0" and new.raw["mood-metadata"]["class-name"] == "good"
    assert original.raw == untouched  # the parsed line is never modified
    assert reparsed(new).classes == new.classes


def test_names_not_renamed_pass_through_unchanged():
    record = parse("image-classification.jsonl")
    assert LabelMapping({"cat": "feline"}).apply(record) is record
    failed = dataclasses.replace(record, failure_reason="expired", classes=())
    assert LabelMapping({"dog": "canine"}).apply(failed) is failed


def test_multi_label_merge_keeps_one_class_with_the_highest_confidence():
    record = parse("image-classification-multilabel.jsonl")  # [1 cat 0.95, 4 dog 0.22]
    new = LabelMapping({"cat": "pet", "dog": "pet"}, class_map={1: "cat", 4: "dog"}).apply(record)
    assert new.classes == (ClassLabel(1, "pet", 0.95),)
    assert new.raw["image-label-attribute-name"] == [1]
    metadata = new.raw["image-label-attribute-name-metadata"]
    assert metadata["class-map"] == {"1": "pet"} and metadata["confidence-map"] == {"1": 0.95}
    assert reparsed(new).classes == new.classes


def test_box_merge_renumbers_class_ids_in_annotations_and_class_map():
    record = parse("object-detection.jsonl")
    new = LabelMapping({"dog": "thing", "bone": "thing"}, class_map={0: "dog", 5: "bone"}).apply(record)
    assert {(box.class_id, box.name) for box in new.boxes} == {(0, "thing")}
    assert [a["class_id"] for a in new.raw["bounding-box-attribute-name"]["annotations"]] == [0, 0, 0]
    again = reparsed(new)
    assert again.boxes == new.boxes and again.class_map == {0: "thing"}


def test_without_class_map_ids_stay_and_names_change():
    new = LabelMapping({"bone": "toy"}).apply(parse("object-detection.jsonl"))
    assert [(box.class_id, box.name) for box in new.boxes] == [(0, "dog"), (5, "toy"), (5, "toy")]
    assert reparsed(new).label_names == ("dog", "toy")


def test_an_id_missing_from_the_class_map_given_is_an_error():
    with pytest.raises(DatasetError, match="class id 5"):
        LabelMapping({"dog": "canine"}, class_map={0: "dog"}).apply(parse("object-detection.jsonl"))


def test_entity_labels_are_renamed_and_merged_labels_listed_once():
    new = LabelMapping({"People": "Entity", "Thing": "Entity", "Verb": "Action"}).apply(parse("text-span.jsonl"))
    assert new.label_names == ("Entity", "Action", "Date")
    labels = new.raw["ner-labeling-job-attribute-name"]["annotations"]["labels"]
    assert [entry["label"] for entry in labels] == ["Date", "Action", "Entity"]
    assert labels[2]["shortDisplayName"] == "tng"  # the first merged label's entry is kept
    again = reparsed(new)
    assert again.entities == new.entities and again.class_map == {0: "Date", 1: "Action", 2: "Entity"}


def test_mask_classes_are_renamed_but_keep_their_pixel_ids():
    record = parse("semantic-segmentation.jsonl", "city-streets-ref")
    new = LabelMapping({"buildings": "building", "road": "building"}, class_map={0: "BACKGROUND"}).apply(record)
    assert new.class_map == {0: "BACKGROUND", 1: "building", 2: "building"}
    colors = new.raw["city-streets-ref-metadata"]["internal-color-map"]
    assert colors["1"]["hex-color"] == "#2acf59" and colors["2"]["class-name"] == "building"
    assert reparsed(new).class_map == new.class_map


@pytest.mark.parametrize(
    ("name", "rename", "key"),
    [("video-object-detection.jsonl", {"car": "vehicle"}, "class-map"),
     ("point_cloud_object_tracking.jsonl", {"Car": "Vehicle"}, "class-map"),
     ("point_cloud_single_frame_semantic_segmentation.jsonl", {"Car": "Vehicle"}, "color-map")],
)  # fmt: skip
def test_sequence_class_maps_are_renamed_in_place(name, rename, key):
    record = parse(name)
    new = LabelMapping(rename).apply(record)
    ((old, target),) = rename.items()
    assert target in new.label_names and old not in new.label_names
    assert set(new.class_map) == set(record.class_map)
    assert target in orjson.dumps(new.raw[f"{record.attribute}-metadata"][key]).decode()
    assert reparsed(new).class_map == new.class_map


def test_cuboids_keep_the_class_map_spelling_of_their_line():
    record = parse("point_cloud_object_detection.jsonl")  # class_map, with an underscore
    new = LabelMapping({"Car": "Vehicle"}, class_map={0: "Car"}).apply(record)
    metadata = new.raw["3d-bounding-box-metadata"]
    assert metadata["class_map"] == {"0": "Vehicle"} and "class-map" not in metadata
    again = reparsed(new)
    assert [c.label for c in again.cuboids] == ["Vehicle", "Vehicle"] and again.cuboids == new.cuboids


def test_verification_verdicts_can_be_renamed_too():
    new = LabelMapping({"bad": "rejected"}).apply(parse("label-verification.jsonl", VERDICT))
    assert new.classes[0].name == "rejected" and new.raw[f"{VERDICT}-metadata"]["class-name"] == "rejected"
    assert ReviewFilter(VERDICT, {"rejected"}).drop_reason(dataclasses.replace(new, attribute=BOXES)) is None
