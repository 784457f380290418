"""Line- and table-shaped formats: augmented manifest, JSON Lines, CSV and the class listing."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, TextIO

import orjson

from gt_provider.datasets.exporters.base import BUFFER_SIZE, Exporter
from gt_provider.datasets.filters import DatasetClassIds
from gt_provider.datasets.records import LabeledObject, LabelKind

_dumps = orjson.dumps
_NEWLINE = orjson.OPT_APPEND_NEWLINE


class AugmentedManifestExporter(Exporter):
    """``augmented-manifest/<split>.manifest``: each line is the object's output line, as Ground Truth wrote it,
    with the dataset's class ids.

    The canonical copy: the next dataset version re-reads it, and SageMaker's built-in
    algorithms train on it directly (see :func:`gt_provider.datasets.channels.training_channels`).
    A line nothing rewrote is copied byte for byte. Class ids written in the line (the label of
    classification and verification, multi-label lists, box and cuboid ``class_id`` s, and
    their class maps) are the dataset's label-map positions: a line whose job numbered a class
    otherwise (another label order, a merge's gap) is rewritten (:class:`DatasetClassIds`), so
    one class has one id in every split and version. A rewritten line is ``obj.raw`` as
    compact JSON.
    """

    name = "augmented-manifest"
    concatenable = True
    kinds = frozenset(LabelKind)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._dataset_ids = DatasetClassIds(self.label_map)

    def write(self, split: str, obj: LabeledObject) -> None:
        handle = self._handles.get(split) or self.handle(split, f"{split}.manifest")
        if self._dataset_ids.changes(obj):
            obj = self._dataset_ids.apply(obj)
        line = obj.source_line
        if line is None:
            handle.write(_dumps(obj.raw, option=_NEWLINE))
        else:  # unchanged since it was read: copied (compact JSON or not, it is the same object)
            handle.write(line if line.endswith(b"\n") else line + b"\n")

    def close(self) -> dict[str, list[str]]:
        return self.close_handles()


def _boxes(obj: LabeledObject, record: dict[str, Any]) -> None:
    size = obj.image_size
    record["image_size"] = None if size is None else {"width": size.width, "height": size.height, "depth": size.depth}
    record["boxes"] = [
        {
            "label": box.name,
            "left": box.left,
            "top": box.top,
            "width": box.width,
            "height": box.height,
            "confidence": box.confidence,
        }
        for box in obj.boxes
    ]


def _entities(obj: LabeledObject, record: dict[str, Any]) -> None:
    text = obj.source
    record["entities"] = [
        {
            "label": entity.label,
            "start": entity.start,
            "end": entity.end,
            "text": text[entity.start : entity.end],
            "confidence": entity.confidence,
        }
        for entity in obj.entities
    ]


def _cuboids(obj: LabeledObject, record: dict[str, Any]) -> None:
    record["cuboids"] = [
        {
            "label": cuboid.label,
            "centre": cuboid.centre,
            "size": cuboid.size,
            "rotation": cuboid.rotation,
            "confidence": cuboid.confidence,
        }
        for cuboid in obj.cuboids
    ]


def _class_map(obj: LabeledObject, record: dict[str, Any]) -> None:
    record["class_map"] = {str(class_id): name for class_id, name in obj.class_map.items()}


#: What each kind adds to the common keys (kinds absent here add nothing).
_KIND_FIELDS = {
    LabelKind.BOXES: _boxes,
    LabelKind.ENTITIES: _entities,
    LabelKind.CUBOIDS: _cuboids,
    LabelKind.MASK: _class_map,
    LabelKind.SEQUENCE: _class_map,
}
#: Kinds whose label is ``classes`` alone: names and confidence without the records' general properties.
_CLASS_ONLY = frozenset({LabelKind.CLASS, LabelKind.MULTI_LABEL, LabelKind.VERIFICATION})


def normalized_record(obj: LabeledObject, split: str | None = None) -> dict[str, Any]:
    """The task-independent view of an object: the same keys whatever Ground Truth task labeled it.

    Keys: ``source``, ``source_field``, ``split``, ``kind``, ``labels`` (class names), ``confidence``
    (the lowest of the label, or null), ``human_annotated``, ``job_name``, ``creation_date``; then per
    kind ``image_size`` and ``boxes`` ({label, left, top, width, height, confidence}, pixels),
    ``entities`` ({label, start, end, text, confidence}), ``cuboids``, ``ref`` and ``class_map``
    (masks, sequences), ``worker_feedback`` (verification), ``adjustment_status`` and
    ``failure_reason`` when set.

    Runs once per object of a million-object build, hence the fast path for class labels.
    """
    kind = obj.kind
    classes = obj.classes
    if kind in _CLASS_ONLY and len(classes) == 1:
        label = classes[0]
        labels: list[str] = [label.name]
        confidence = label.confidence
    else:
        labels = list(obj.label_names)
        confidence = obj.confidence
    record: dict[str, Any] = {"source": obj.source, "source_field": obj.source_field}
    if split is not None:
        record["split"] = split
    record["kind"] = kind  # a StrEnum: equal to its value, and orjson writes the value
    record["labels"] = labels
    record["confidence"] = confidence
    record["human_annotated"] = obj.human_annotated
    record["job_name"] = obj.job_name
    record["creation_date"] = obj.creation_date
    extra = _KIND_FIELDS.get(kind)
    if extra is not None:
        extra(obj, record)
    if obj.ref is not None:
        record["ref"] = obj.ref
    if obj.worker_feedback:
        record["worker_feedback"] = list(obj.worker_feedback)
    if obj.adjustment_status is not None:
        record["adjustment_status"] = obj.adjustment_status
    if obj.failure_reason is not None:
        record["failure_reason"] = obj.failure_reason
    return record


class JsonLinesExporter(Exporter):
    """``jsonl/<split>.jsonl``: one :func:`normalized_record` per line (the file says the split).

    For consumers that should not have to know Ground Truth's per-task output shapes (pandas,
    Hugging Face ``datasets``, custom training code).
    """

    name = "jsonl"
    concatenable = True
    kinds = frozenset(LabelKind)

    def write(self, split: str, obj: LabeledObject) -> None:
        handle = self._handles.get(split) or self.handle(split, f"{split}.jsonl")
        handle.write(_dumps(normalized_record(obj), option=_NEWLINE))

    def close(self) -> dict[str, list[str]]:
        return self.close_handles()


class CsvExporter(Exporter):
    """``csv/<split>.csv`` with a header ``source,labels,confidence``: one row per object.

    ``labels`` is the class name (single-label, verification) or the names joined by ``;``
    (multi-label; empty when none). ``confidence`` is the lowest label confidence, empty when
    Ground Truth wrote none. Text sources are quoted by the csv module, newlines included.
    Failed objects (no label) are left out.
    """

    name = "csv"
    kinds = frozenset({LabelKind.CLASS, LabelKind.MULTI_LABEL, LabelKind.VERIFICATION})
    HEADER = ("source", "labels", "confidence")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._files: dict[str, TextIO] = {}
        self._writers: dict[str, Any] = {}

    def write(self, split: str, obj: LabeledObject) -> None:
        if obj.failed:
            return
        writer = self._writers.get(split)
        if writer is None:
            self.check_split(split)
            text = self._files[split] = open(  # noqa: SIM115 -- closed in close()
                self.path(f"{split}.csv"), "w", encoding="utf-8", newline="", buffering=BUFFER_SIZE
            )
            writer = self._writers[split] = csv.writer(text)
            writer.writerow(self.HEADER)
        confidence = obj.confidence
        writer.writerow((obj.source, ";".join(obj.label_names), "" if confidence is None else confidence))

    def close(self) -> dict[str, list[str]]:
        files: dict[str, list[str]] = {}
        for split in self.splits:
            text = self._files.pop(split, None)
            if text is not None:
                text.close()
                files[split] = [self.relative(Path(text.name))]
        self._writers.clear()
        self._closed = True
        return files

    def __exit__(self, *exc_info: object) -> None:
        if exc_info[0] is not None:
            for text in self._files.values():
                text.close()
            self._files.clear()
        super().__exit__(*exc_info)


class ClassListingExporter(Exporter):
    """``class-listing/<split>.json``: ``{class name: [sources...]}`` for every class of the label map.

    The layout of a folder-per-class image dataset, without copying images: a multi-label
    object is listed under each of its classes. Classes keep label-map order; one with no
    object in the split has an empty list. Sources are kept in memory until ``close()`` (one
    string per object and class).
    """

    name = "class-listing"
    kinds = frozenset({LabelKind.CLASS, LabelKind.MULTI_LABEL})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._listings: dict[str, dict[str, list[str]]] = {}

    def write(self, split: str, obj: LabeledObject) -> None:
        listing = self._listings.get(split)
        if listing is None:
            self.check_split(split)
            listing = self._listings[split] = {name: [] for name in self.label_map}
        for name in obj.label_names:
            self.class_id(name, obj)
            listing.setdefault(name, []).append(obj.source)

    def close(self) -> dict[str, list[str]]:
        files: dict[str, list[str]] = {}
        for split in self.splits:
            listing = self._listings.pop(split, None)
            if listing is None:
                continue
            path: Path = self.path(f"{split}.json")
            path.write_bytes(_dumps(listing, option=orjson.OPT_INDENT_2 | _NEWLINE))
            files[split] = [self.relative(path)]
        self._closed = True
        return files
