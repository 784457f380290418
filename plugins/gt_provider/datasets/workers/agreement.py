"""Match measures between worker answers and consolidated labels, one per label kind.

How an answer's content is read (class, labels, boxes, entities) and scored against another
label (equality, Jaccard, box F1 at IoU >= ``BOX_MATCH_IOU``, span F1); see
:mod:`gt_provider.datasets.workers.statistics` for what the scores are used for. Standard library and orjson only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from gt_provider.datasets.records import LabeledObject, LabelKind
from gt_provider.geometry import box_iou

#: Boxes of two answers show the same object when they overlap at least this much (and share a class).
BOX_MATCH_IOU = 0.5


# ---------------------------------------------------------------- answer parsing


def _element_value(content: Any, key: str) -> Any:
    """The value under ``key`` of the answer's UI element, whatever the element is named.

    Built-in templates name the element after its tag (``crowd-image-classifier``), the
    bounding-box template calls it ``boundingBox``, custom templates anything at all: so the
    key is looked for in the answer itself and in each of its object values.
    """
    if isinstance(content, str):
        try:
            content = orjson.loads(content)
        except orjson.JSONDecodeError:
            return None
    if not isinstance(content, Mapping):
        return None
    if key in content:
        return content[key]
    for value in content.values():
        if isinstance(value, Mapping) and key in value:
            return value[key]
    return None


def _parse_class(content: Any) -> str | None:
    label = _element_value(content, "label")
    return label if isinstance(label, str) else None


def _parse_labels(content: Any) -> frozenset[str] | None:
    labels = _element_value(content, "labels")
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        return None
    return frozenset(labels)


_BoxTuple = tuple[str, float, float, float, float]


def _parse_boxes(content: Any) -> tuple[_BoxTuple, ...] | None:
    boxes = _element_value(content, "boundingBoxes")
    if not isinstance(boxes, list):
        return None
    parsed = []
    for box in boxes:
        if not isinstance(box, Mapping) or not isinstance(box.get("label"), str):
            return None
        numbers = [box.get(key) for key in ("left", "top", "width", "height")]
        if not all(isinstance(n, int | float) and not isinstance(n, bool) for n in numbers):
            return None
        parsed.append((box["label"], *(float(n) for n in numbers)))
    return tuple(parsed)


_Span = tuple[str, int, int]


def _parse_entities(content: Any) -> frozenset[_Span] | None:
    entities = _element_value(content, "entities")
    if not isinstance(entities, list):
        return None
    spans = set()
    for entity in entities:
        if not isinstance(entity, Mapping):
            return None
        label, start, end = entity.get("label"), entity.get("startOffset"), entity.get("endOffset")
        if not isinstance(label, str) or not all(isinstance(n, int) and not isinstance(n, bool) for n in (start, end)):
            return None
        spans.add((label, start, end))
    return frozenset(spans)


# ----------------------------------------------------------------- match scores


def _class_score(first: str, second: str) -> float:
    return 1.0 if first == second else 0.0


def _jaccard(first: frozenset[Any], second: frozenset[Any]) -> float:
    union = len(first | second)
    return len(first & second) / union if union else 1.0


def _f1(matched: int, first: int, second: int) -> float:
    return 2 * matched / (first + second) if first + second else 1.0


def _span_f1(first: frozenset[_Span], second: frozenset[_Span]) -> float:
    return _f1(len(first & second), len(first), len(second))


def _iou(first: _BoxTuple, second: _BoxTuple) -> float:
    return box_iou(first[1:], second[1:])


def _box_f1(first: Sequence[_BoxTuple], second: Sequence[_BoxTuple]) -> float:
    """F1 of a one-to-one matching of same-class boxes at IoU >= BOX_MATCH_IOU, best overlaps first."""
    candidates = sorted(
        (
            (iou, i, j)
            for i, a in enumerate(first)
            for j, b in enumerate(second)
            if a[0] == b[0] and (iou := _iou(a, b)) >= BOX_MATCH_IOU
        ),
        reverse=True,
    )
    used_first, used_second = set(), set()
    for _, i, j in candidates:
        if i not in used_first and j not in used_second:
            used_first.add(i)
            used_second.add(j)
    return _f1(len(used_first), len(first), len(second))


# -------------------------------------------------------- consolidated labels


def _consolidated_class(record: LabeledObject) -> str | None:
    return record.classes[0].name if len(record.classes) == 1 else None


def _consolidated_labels(record: LabeledObject) -> frozenset[str]:
    return frozenset(label.name for label in record.classes)


def _consolidated_boxes(record: LabeledObject) -> tuple[_BoxTuple, ...]:
    return tuple((box.name, box.left, box.top, box.width, box.height) for box in record.boxes)


def _consolidated_entities(record: LabeledObject) -> frozenset[_Span]:
    return frozenset((entity.label, entity.start, entity.end) for entity in record.entities)


@dataclass(frozen=True)
class _Measure:
    """How answers of one label kind are read from ``answerContent`` and scored."""

    description: str
    parse: Callable[[Any], Any]
    consolidated: Callable[[LabeledObject], Any]
    score: Callable[[Any, Any], float]
    rename: Callable[[Any, Mapping[str, str]], Any]
    #: Whether accuracy is estimated with Dawid-Skene (one class per answer) or is the agreement.
    dawid_skene: bool = False


def _rename_class(label: str, mapping: Mapping[str, str]) -> str:
    return mapping.get(label, label)


def _rename_labels(labels: frozenset[str], mapping: Mapping[str, str]) -> frozenset[str]:
    return frozenset(mapping.get(label, label) for label in labels)


def _rename_boxes(boxes: tuple[_BoxTuple, ...], mapping: Mapping[str, str]) -> tuple[_BoxTuple, ...]:
    return tuple((mapping.get(box[0], box[0]), *box[1:]) for box in boxes)  # type: ignore[misc]


def _rename_spans(spans: frozenset[_Span], mapping: Mapping[str, str]) -> frozenset[_Span]:
    return frozenset((mapping.get(label, label), start, end) for label, start, end in spans)


_CLASS = _Measure(
    "exact class match (1 or 0)", _parse_class, _consolidated_class, _class_score, _rename_class, dawid_skene=True
)
#: Label kind -> how its answers are compared. Kinds absent here get no agreement (see the module docstring).
MEASURES: Mapping[LabelKind, _Measure] = {
    LabelKind.CLASS: _CLASS,
    LabelKind.VERIFICATION: _CLASS,
    LabelKind.MULTI_LABEL: _Measure(
        "Jaccard index of the label sets", _parse_labels, _consolidated_labels, _jaccard, _rename_labels
    ),
    LabelKind.BOXES: _Measure(
        f"F1 of same-class boxes matched at IoU >= {BOX_MATCH_IOU}",
        _parse_boxes,
        _consolidated_boxes,
        _box_f1,
        _rename_boxes,
    ),
    LabelKind.ENTITIES: _Measure(
        "F1 of exactly matching spans (label, start, end)",
        _parse_entities,
        _consolidated_entities,
        _span_f1,
        _rename_spans,
    ),
}
_NOT_COMPUTED = {
    LabelKind.MASK: "masks are compared pixel by pixel, which needs every worker's mask and the consolidated one",
    LabelKind.SEQUENCE: "video and point-cloud labels are per-frame documents in other S3 objects",
    LabelKind.CUBOIDS: "there is no agreed match measure for 3D cuboids here",
}


# ----------------------------------------------------------------- statistics
