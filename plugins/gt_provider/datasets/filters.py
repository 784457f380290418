"""Which labeled objects go into a dataset, and under which label names.

Filters never drop an object silently: ``drop_reason`` returns a short, stable key
(:data:`DROP_REASONS`) that the dataset build counts and writes in its card, so "why are 312
objects missing" has an answer. :class:`LabelMapping` renames and merges classes in the record
*and* in its ``raw`` line, so an augmented-manifest export shows the new names too;
:class:`DatasetClassIds` gives the classes of a line the dataset's ids the same way.

Standard library only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from types import MappingProxyType
from typing import Any

from gt_provider.datasets.errors import DatasetError, LineProblem
from gt_provider.datasets.reading.parse import OutputManifestParser
from gt_provider.datasets.records import ClassLabel, LabeledObject, LabelKind

#: Every key ``drop_reason`` may return, in the order the checks run.
DROP_REASONS = (
    "failed",
    "machine-annotated",
    "adjustment-status",
    "low-confidence",
    "not-reviewed",
    "malformed-review",
    "failed-review",
)
ADJUSTMENT_STATUSES = frozenset({"adjusted", "unadjusted"})
_LABEL_CACHE_SIZE = 4096


def _frozen_names(value: Iterable[str], what: str) -> frozenset[str]:
    """A set of names from any iterable but a bare string (which would be a set of characters)."""
    if isinstance(value, str | bytes):
        raise DatasetError(f"{what} must be a set of names, not the string {value!r}")
    names = frozenset(value)
    if not names or not all(isinstance(name, str) and name for name in names):
        raise DatasetError(f"{what} must be a non-empty set of non-empty names, got {sorted(map(repr, names))}")
    return names


@dataclass(frozen=True)
class ObjectFilter:
    """Keep objects by how they were labeled.

    ``min_confidence`` applies to the object's lowest confidence (:attr:`LabeledObject.confidence`):
    one doubtful box drops the whole image, since a training image with an unlabeled object
    teaches the model that the object is background. Objects for which Ground Truth wrote no
    confidence (video and 3D sequences) are kept. Beware: with one worker per object Ground Truth
    writes confidence 0.00, so any ``min_confidence`` above 0 drops all of them.
    ``adjustment_status`` keeps only objects of an adjustment job with one of those statuses (e.g.
    ``{"adjusted"}``); objects of other jobs have none and are dropped.
    """

    min_confidence: float | None = None
    human_annotated_only: bool = False
    adjustment_status: frozenset[str] | None = None

    def __post_init__(self) -> None:
        confidence = self.min_confidence
        if confidence is not None and (
            isinstance(confidence, bool) or not isinstance(confidence, int | float) or not 0 <= confidence <= 1
        ):
            raise DatasetError(f"min_confidence must be a number between 0 and 1, got {confidence!r}")
        if not isinstance(self.human_annotated_only, bool):
            raise DatasetError(f"human_annotated_only must be True or False, got {self.human_annotated_only!r}")
        if self.adjustment_status is not None:
            statuses = _frozen_names(self.adjustment_status, "adjustment_status")
            unknown = statuses - ADJUSTMENT_STATUSES
            if unknown:
                raise DatasetError(
                    f"adjustment_status {sorted(unknown)} unknown; Ground Truth writes {sorted(ADJUSTMENT_STATUSES)}"
                )
            object.__setattr__(self, "adjustment_status", statuses)

    def drop_reason(self, obj: LabeledObject) -> str | None:
        """Why ``obj`` is left out (a key of :data:`DROP_REASONS`), or None to keep it."""
        if obj.failure_reason is not None:
            return "failed"
        if self.human_annotated_only and not obj.human_annotated:
            return "machine-annotated"
        if self.adjustment_status is not None and obj.adjustment_status not in self.adjustment_status:
            return "adjustment-status"
        if self.min_confidence is not None:
            confidence = obj.confidence
            if confidence is not None and confidence < self.min_confidence:
                return "low-confidence"
        return None


@dataclass(frozen=True)
class ReviewFilter:
    """Keep objects whose label a later verification job accepted (chained jobs).

    A verification job chained on a labeling job's output writes its verdict beside the
    original label, under its own ``attribute``; ``accept`` names the verdicts that keep an
    object (the verification job's own labels: the developer guide's sample says ``"bad"``,
    teams often use ``"correct"``/``"incorrect"``). Objects without a verdict (the review did
    not reach them, or failed on them) are ``"not-reviewed"``; a verdict outside ``accept`` is
    ``"failed-review"``; a verdict that is not valid Ground Truth output is ``"malformed-review"``.
    """

    attribute: str
    accept: frozenset[str]
    _parser: OutputManifestParser = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.attribute, str) or not self.attribute:
            raise DatasetError(f"attribute must be the verification job's label attribute name, got {self.attribute!r}")
        object.__setattr__(self, "accept", _frozen_names(self.accept, "accept"))
        object.__setattr__(self, "_parser", OutputManifestParser(self.attribute))

    def drop_reason(self, obj: LabeledObject) -> str | None:
        """Why ``obj`` is left out, or None when its verdict is accepted.

        Raises :class:`DatasetError` when ``attribute`` holds something other than a verdict
        (the wrong attribute was named: every object would be dropped otherwise).
        """
        if obj.failure_reason is not None:
            return "failed"
        if f"{self.attribute}-metadata" not in obj.raw:
            return "not-reviewed"
        review = self._parser.parse_decoded(obj.raw, obj.line)
        if isinstance(review, LineProblem):
            return "malformed-review"
        if review.kind is not LabelKind.VERIFICATION:
            raise DatasetError(
                f"line {obj.line}: {self.attribute!r} is a {review.output_type} label, not a verdict of a "
                "label verification job; name the verification job's LabelAttributeName"
            )
        if review.failed:
            return "not-reviewed"
        return None if review.classes[0].name in self.accept else "failed-review"


# ------------------------------------------------------------------ renaming


@dataclass(frozen=True)
class LabelMapping:
    """Rename classes, and merge several into one: ``{"kitten": "cat", "puppy": "dog"}``.

    Names not in ``rename`` pass through unchanged. Class ids: pass ``class_map``, the job's
    full id -> name map (its label category configuration, or collected over the manifest), and
    merged classes share one id on every object -- see :meth:`remap_class_map` for which one.
    Without it ids are left as they are (a merged name may then keep several ids), because one
    line's class map lists only the classes on that line and cannot decide ids consistently.
    Labels kept in S3 artifacts (a mask PNG, a ``SeqLabel.json``, a 3D point array) hold ids
    this cannot rewrite: for those only names change, never ids.
    """

    rename: Mapping[str, str]
    class_map: Mapping[int, str] | None = None
    _ids: Mapping[int, int] | None = field(init=False, repr=False, compare=False, default=None)
    #: Renamed class labels by original label: classification outputs repeat a few hundred.
    _labels: dict[ClassLabel, ClassLabel] = field(init=False, repr=False, compare=False, default_factory=dict)

    def __post_init__(self) -> None:
        rename = dict(self.rename)
        for old, new in rename.items():
            if not isinstance(old, str) or not old:
                raise DatasetError(f"rename keys must be label names, got {old!r}")
            if not isinstance(new, str) or not new.strip():
                raise DatasetError(f"rename target of {old!r} is {new!r}; a label name cannot be empty")
        object.__setattr__(self, "rename", MappingProxyType(rename))
        if self.class_map is not None:
            original = dict(self.class_map)
            if not all(isinstance(k, int) and k >= 0 and isinstance(v, str) and v for k, v in original.items()):
                raise DatasetError(f"class_map must map class ids (int >= 0) to names, got {original!r}")
            object.__setattr__(self, "class_map", MappingProxyType(original))
            object.__setattr__(self, "_ids", MappingProxyType(self.remap_class_map(original)[1]))

    def name(self, old: str) -> str:
        """The new name of ``old``."""
        return self.rename.get(old, old)

    def remap_class_map(self, class_map: Mapping[int, str]) -> tuple[dict[int, str], dict[int, int]]:
        """The new class map (id -> name) and old id -> new id, for the original ``class_map``.

        Each new name takes the lowest original id among the classes mapped to it: a rename
        that merges nothing keeps every id, and a merge moves only the merged classes, onto
        the smallest id of their group (the others leave a gap). Ids never shift, so a model
        or a dataset version made before the mapping still reads the untouched classes.
        """
        first: dict[str, int] = {}
        for class_id in sorted(class_map):
            first.setdefault(self.name(class_map[class_id]), class_id)
        ids = {class_id: first[self.name(name)] for class_id, name in class_map.items()}
        return {class_id: name for name, class_id in sorted(first.items(), key=lambda item: item[1])}, ids

    def apply(self, obj: LabeledObject) -> LabeledObject:
        """A new record with the names (and, with ``class_map``, ids) mapped, ``raw`` rewritten to match."""
        if obj.failed or not self._changes(obj):
            return obj
        return _REWRITES[obj.kind](self, obj)

    def _changes(self, obj: LabeledObject) -> bool:
        """Whether ``apply`` has anything to do: most objects of a big manifest are left as they are."""
        rename = self.rename
        for name in obj.class_map.values():
            if name in rename:
                return True
        if self._ids is not None and obj.kind in _RENUMBERED:
            for class_id in obj.class_map:
                if self._id(obj, class_id) != class_id:
                    return True
        # Every other kind lists its names in the class map; NER spans may use labels it does not list.
        return obj.kind is LabelKind.ENTITIES and any(entity.label in rename for entity in obj.entities)

    def _class_label(self, obj: LabeledObject, label: ClassLabel) -> ClassLabel:
        new = self._labels.get(label)
        if new is None:
            new = ClassLabel(self._id(obj, label.class_id), self.name(label.name), label.confidence)
            if len(self._labels) < _LABEL_CACHE_SIZE:
                self._labels[label] = new
        return new

    def _id(self, obj: LabeledObject, class_id: int) -> int:
        if self._ids is None:
            return class_id
        try:
            return self._ids[class_id]
        except KeyError:
            raise DatasetError(
                f"line {obj.line}: class id {class_id} ({obj.class_map.get(class_id)!r}) is not in the class_map "
                f"given to LabelMapping ({dict(self.class_map or {})})"
            ) from None

    def _new_class_map(self, obj: LabeledObject, renumber: bool = True) -> dict[int, str]:
        return {
            (self._id(obj, class_id) if renumber else class_id): self.name(name)
            for class_id, name in obj.class_map.items()
        }


_FIELD_NAMES = tuple(f.name for f in dataclasses.fields(LabeledObject))
_FIELD_INDEX = {name: index for index, name in enumerate(_FIELD_NAMES)}
_field_values = attrgetter(*_FIELD_NAMES)


class DatasetClassIds(LabelMapping):
    """Renumber an object's classes to the dataset's ids -- positions in its label map -- names unchanged.

    Every labeling job numbers its classes in its own label order, and a LabelMapping merge
    leaves gaps. A dataset made of several jobs (a parent version and a new job whose form
    listed the labels in another order) must give each class one id, the label map's, or a
    model trained on its augmented manifest learns two ids for one class, or ids past
    ``num_classes``. Ids inside S3 artifacts (masks, sequences, 3D points) cannot be rewritten
    and stay as they are; NER labels carry no ids.

    ``label_map`` is read live: a name the build appends later gets its position then.
    """

    def __init__(self, label_map: Sequence[str]) -> None:
        super().__init__(rename={})
        object.__setattr__(self, "label_map", label_map)
        object.__setattr__(self, "_positions", {name: index for index, name in enumerate(label_map)})

    def changes(self, obj: LabeledObject) -> bool:
        """Whether any class of ``obj`` has another id than the dataset's (most objects: none)."""
        classes = obj.classes
        if len(classes) == 1 and obj.kind is LabelKind.CLASS:  # most objects: one class, checked cheaply
            return self._position(classes[0].name, classes[0].class_id) != classes[0].class_id
        return not obj.failed and self._changes(obj)

    def _changes(self, obj: LabeledObject) -> bool:
        if obj.kind not in _RENUMBERED:
            return False
        ids = {*obj.class_map, *(label.class_id for label in obj.classes), *(box.class_id for box in obj.boxes)}
        return any(self._id(obj, class_id) != class_id for class_id in ids)

    def _id(self, obj: LabeledObject, class_id: int) -> int:
        name = obj.class_map.get(class_id)
        if name is None:  # a record built without its class map: its labels name their ids
            named = [*((c.class_id, c.name) for c in obj.classes), *((b.class_id, b.name) for b in obj.boxes)]
            name = next((name for known, name in named if known == class_id), None)
            if name is None:
                return class_id
        return self._position(name, class_id)

    def _position(self, name: str, class_id: int) -> int:
        """``name``'s position in the label map (``class_id`` when it is not there)."""
        positions: dict[str, int] = self._positions  # type: ignore[attr-defined]
        position = positions.get(name)
        if position is None:  # a name appended since: catch up
            positions.update((known, index) for index, known in enumerate(self.label_map))  # type: ignore[attr-defined]
            position = positions.get(name, class_id)
        return position


def _with_raw(obj: LabeledObject, value: Any, metadata_changes: Mapping[str, Any], **fields: Any) -> LabeledObject:
    """``obj`` with ``fields`` replaced and its raw line rewritten (the original is left untouched).

    Not ``dataclasses.replace``, which is four times slower: a mapping may rename every object
    of a million-line manifest.
    """
    raw = obj.raw
    metadata_key = f"{obj.attribute}-metadata"
    if isinstance(raw.get(metadata_key), dict):
        raw = {**raw, metadata_key: {**raw[metadata_key], **metadata_changes}}
        if value is not None:
            raw[obj.attribute] = value
    values = list(_field_values(obj))
    values[_FIELD_INDEX["raw"]] = raw
    values[_FIELD_INDEX["source_line"]] = None  # the bytes read no longer match ``raw``
    for name, new in fields.items():
        values[_FIELD_INDEX[name]] = new
    return LabeledObject(*values)


def with_single_class(obj: LabeledObject, name: str, confidence: float, class_id: int, *, note: str) -> LabeledObject:
    """A classification (or verification) record given another class, its line rewritten to match.

    ``note`` goes into the line's metadata (``gt-provider-note``), so the augmented manifest
    says why its label is not the one the job consolidated.
    """
    label = ClassLabel(class_id, name, confidence)
    metadata = {"class-name": name, "confidence": confidence, "gt-provider-note": note}
    return _with_raw(obj, str(class_id), metadata, classes=(label,), class_map={class_id: name})


def _string_keys(class_map: Mapping[int, str]) -> dict[str, str]:
    return {str(class_id): name for class_id, name in class_map.items()}


def _single(mapping: LabelMapping, obj: LabeledObject) -> LabeledObject:
    """Classification, verification: ``"1"`` and ``class-name``."""
    new = mapping._class_label(obj, obj.classes[0])
    return _with_raw(
        obj, str(new.class_id), {"class-name": new.name}, classes=(new,), class_map={new.class_id: new.name}
    )


def _multi(mapping: LabelMapping, obj: LabeledObject) -> LabeledObject:
    """Multi-label: merged classes become one, with the highest confidence of those merged."""
    merged: dict[int, ClassLabel] = {}
    for label in obj.classes:
        class_id = mapping._id(obj, label.class_id)
        earlier = merged.get(class_id)
        scores = [c for c in (label.confidence, earlier and earlier.confidence) if c is not None]
        merged[class_id] = ClassLabel(class_id, mapping.name(label.name), max(scores) if scores else None)
    class_map = mapping._new_class_map(obj)
    scores_by_id = {str(k): v.confidence for k, v in merged.items() if v.confidence is not None}
    changes = {"class-map": _string_keys(class_map), "confidence-map": scores_by_id}
    return _with_raw(obj, list(merged), changes, classes=tuple(merged.values()), class_map=class_map)


def _boxes(mapping: LabelMapping, obj: LabeledObject) -> LabeledObject:
    boxes = tuple(
        dataclasses.replace(box, class_id=mapping._id(obj, box.class_id), name=mapping.name(box.name))
        for box in obj.boxes
    )
    class_map = mapping._new_class_map(obj)
    value = obj.raw.get(obj.attribute)
    if isinstance(value, dict):
        annotations = [{**a, "class_id": box.class_id} for a, box in zip(value["annotations"], boxes, strict=True)]
        value = {**value, "annotations": annotations}
    return _with_raw(obj, value, {"class-map": _string_keys(class_map)}, boxes=boxes, class_map=class_map)


def _cuboids(mapping: LabelMapping, obj: LabeledObject) -> LabeledObject:
    """3D cuboids: ids in ``class-id`` and in ``class-map`` or ``class_map``, whichever the line has."""
    cuboids = tuple(dataclasses.replace(cuboid, label=mapping.name(cuboid.label)) for cuboid in obj.cuboids)
    class_map = mapping._new_class_map(obj)
    value = obj.raw.get(obj.attribute)
    if isinstance(value, dict):
        annotations = [{**a, "class-id": mapping._id(obj, int(a["class-id"]))} for a in value["annotations"]]
        value = {**value, "annotations": annotations}
    metadata = obj.raw.get(f"{obj.attribute}-metadata") or {}
    key = "class_map" if "class_map" in metadata and "class-map" not in metadata else "class-map"
    return _with_raw(obj, value, {key: _string_keys(class_map)}, cuboids=cuboids, class_map=class_map)


def _entities(mapping: LabelMapping, obj: LabeledObject) -> LabeledObject:
    """NER: entity labels and ``annotations.labels`` (merged labels listed once, the first kept)."""
    entities = tuple(dataclasses.replace(entity, label=mapping.name(entity.label)) for entity in obj.entities)
    value = obj.raw.get(obj.attribute)
    names = list(dict.fromkeys(mapping.name(name) for name in obj.class_map.values()))
    if isinstance(value, dict):
        labels: dict[str, dict[str, Any]] = {}
        for entry in value["annotations"].get("labels", []):
            labels.setdefault(mapping.name(entry["label"]), {**entry, "label": mapping.name(entry["label"])})
        spans = [{**span, "label": entity.label} for span, entity in zip(value["annotations"].get("entities", []), entities, strict=True)]  # fmt: skip
        value = {**value, "annotations": {**value["annotations"], "labels": list(labels.values()), "entities": spans}}
    return _with_raw(obj, value, {}, entities=entities, class_map=dict(enumerate(names)))


def _artifact_classes(mapping: LabelMapping, obj: LabeledObject) -> LabeledObject:
    """Masks, sequences, 3D points: ids live in the S3 artifact, so only names change."""
    classes = tuple(ClassLabel(c.class_id, mapping.name(c.name), c.confidence) for c in obj.classes)
    class_map = mapping._new_class_map(obj, renumber=False)  # ids stay: they are pixel values / artifact ids
    metadata = obj.raw.get(f"{obj.attribute}-metadata") or {}
    changes: dict[str, Any] = {}
    for key in ("internal-color-map", "color-map"):
        if isinstance(metadata.get(key), dict):
            changes[key] = {
                k: {**entry, "class-name": mapping.name(entry["class-name"])} for k, entry in metadata[key].items()
            }
    for key in ("class-map", "class_map"):
        if isinstance(metadata.get(key), dict):
            changes[key] = {k: mapping.name(name) for k, name in metadata[key].items()}
    return _with_raw(obj, None, changes, classes=classes, class_map=class_map)


#: Kinds whose class ids are in the line itself, so a class_map renumbers them.
_RENUMBERED = frozenset(
    {LabelKind.CLASS, LabelKind.VERIFICATION, LabelKind.MULTI_LABEL, LabelKind.BOXES, LabelKind.CUBOIDS}
)
_REWRITES: Mapping[LabelKind, Callable[[LabelMapping, LabeledObject], LabeledObject]] = MappingProxyType(
    {
        LabelKind.CLASS: _single,
        LabelKind.VERIFICATION: _single,
        LabelKind.MULTI_LABEL: _multi,
        LabelKind.BOXES: _boxes,
        LabelKind.CUBOIDS: _cuboids,
        LabelKind.ENTITIES: _entities,
        LabelKind.MASK: _artifact_classes,
        LabelKind.SEQUENCE: _artifact_classes,
    }
)
