"""Reading Ground Truth output augmented manifests into :class:`LabeledObject` records.

Ground Truth writes one line per data object: the input keys, the label under the job's
``LabelAttributeName`` and ``<attr>-metadata`` whose ``type`` says the label's shape
(developer guide, "Output Data"). One parse function per type, chosen from ``_TYPES`` by
that ``type``; nothing in a line's content raises: whatever is not Ground Truth output becomes
a :class:`LineProblem` with the line number and which field is wrong, so a dataset build can
report every bad line at once instead of dying on the first.

Which attribute holds the label
===============================
Pass ``attribute=`` (the job's ``LabelAttributeName``, with its ``-ref`` when it has one).
Without it the parser looks at the first line that has any: the label attribute is the key
``X`` whose ``X-metadata`` is an object with a ``groundtruth/...`` ``type`` (``source-ref-metadata``
of 3D inputs has no ``type``, so it is never taken). A line of a chained job carries several
(the boxes of the first job and the verdict of a verification job): the parser does not guess
which one is wanted, it reports that line naming the candidates, so pass ``attribute=``. Once
found, the attribute is kept for every later line of the manifest.

Standard library and orjson only: the DAG processor may import this module.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

import orjson

from gt_provider.datasets.errors import DatasetReadError, LineProblem
from gt_provider.datasets.records import Box, ClassLabel, Cuboid, Entity, ImageSize, LabeledObject, LabelKind
from gt_provider.manifests.errors import ManifestReadError
from gt_provider.s3io import CHUNK_BYTES, S3ClientProvider, open_chunks

_METADATA = "-metadata"
_GROUNDTRUTH = "groundtruth/"
_ADJUSTMENT_STATUSES = frozenset({"adjusted", "unadjusted"})
#: Distinct (class id, name, confidence) labels remembered per parser: classification outputs
#: repeat a few hundred of them over millions of lines.
_LABEL_CACHE_SIZE = 4096

_loads = orjson.loads
_DecodeError = orjson.JSONDecodeError


class _Bad(Exception):
    """A label that does not have its type's shape; the message becomes the line's reason."""


# ------------------------------------------------------------------ field readers


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _number(value: Any, where: str, *, minimum: float | None = None) -> float:
    if value.__class__ is not int and value.__class__ is not float:
        raise _Bad(f"{where} must be a number, got {_show(value)}")
    if minimum is not None and value < minimum:
        raise _Bad(f"{where} must be >= {minimum:g}, got {value!r}")
    return value


def _class_id(value: Any, where: str) -> int:
    """A class id as Ground Truth writes it: an integer, or its decimal string (``"1"``)."""
    if value.__class__ is int and value >= 0:
        return value
    if value.__class__ is str and value.isascii() and value.isdigit():
        return int(value)
    raise _Bad(f"{where} must be a class id (an integer >= 0 or its decimal string), got {_show(value)}")


def _confidence(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if (value.__class__ is int or value.__class__ is float) and 0 <= value <= 1:
        return float(value)
    raise _Bad(f"{where} must be a confidence between 0 and 1, got {_show(value)}")


def _text(value: Any, where: str) -> str:
    if value.__class__ is not str or not value:
        raise _Bad(f"{where} must be a non-empty string, got {_show(value)}")
    return value


def _dict(value: Any, where: str) -> dict[str, Any]:
    if value.__class__ is not dict:
        raise _Bad(f"{where} must be an object, got {_show(value)}")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if value.__class__ is not list:
        raise _Bad(f"{where} must be a list, got {_show(value)}")
    return value


def _class_map(metadata: dict[str, Any], keys: tuple[str, ...], *, required: bool) -> dict[int, str]:
    """``{"0": "dog"}`` under the first of ``keys`` present -> ``{0: "dog"}``."""
    for key in keys:
        if key in metadata:
            names = _dict(metadata[key], f"metadata {key!r}")
            return {
                _class_id(k, f"a key of metadata {key!r}"): _text(v, f"metadata {key}[{k!r}]") for k, v in names.items()
            }
    if required:
        raise _Bad(f"metadata has no {' or '.join(repr(key) for key in keys)}")
    return {}


def _name_of(class_id: int, class_map: Mapping[int, str], where: str, map_key: str) -> str:
    try:
        return class_map[class_id]
    except KeyError:
        raise _Bad(f"{where} is class id {class_id}, which metadata {map_key!r} does not list") from None


def _confidences(metadata: dict[str, Any], key: str, count: int) -> list[float | None]:
    """Per-item confidences of metadata ``key`` ([{confidence}], aligned with the label's items).

    Missing or empty gives no confidence: the developer guide's 3D object detection sample
    writes ``"objects": []`` beside two cuboids.
    """
    entries = metadata.get(key)
    if not entries:
        return [None] * count
    entries = _list(entries, f"metadata {key!r}")
    if len(entries) != count:
        raise _Bad(f"metadata {key!r} has {len(entries)} entries for {count} labeled items")
    return [
        _confidence(_dict(entry, f"metadata {key}[{i}]").get("confidence"), f"metadata {key}[{i}].confidence")
        for i, entry in enumerate(entries)
    ]


def _items(
    items: list[Any], where: str, metadata: dict[str, Any], confidence_key: str
) -> Iterator[tuple[str, dict[str, Any], float | None]]:
    """Each item of a label's list (boxes, spans, cuboids): its path for messages, the item, its confidence."""
    scores = _confidences(metadata, confidence_key, len(items))
    for i, item in enumerate(items):
        at = f"{where}[{i}]"
        yield at, _dict(item, at), scores[i]


# ------------------------------------------------------------------ one parser per output type
# Each takes (label value, metadata, the inline ``source`` text or None, the parser's cache) and
# returns the label's fields as a ``_Label`` tuple, or raises _Bad naming the field that is
# wrong. A tuple in LabeledObject's field order (classes, boxes, image_size, entities, cuboids,
# ref, class_map), not keywords: the record is then built positionally, the cheapest call, once
# per line of a million-line manifest.
_Label = tuple[Any, ...]


def _label(
    classes: tuple[ClassLabel, ...] = (),
    boxes: tuple[Box, ...] = (),
    image_size: ImageSize | None = None,
    entities: tuple[Entity, ...] = (),
    cuboids: tuple[Cuboid, ...] = (),
    ref: str | None = None,
    class_map: dict[int, str] | None = None,
) -> _Label:
    return classes, boxes, image_size, entities, cuboids, ref, {} if class_map is None else class_map


def _single_class(value: Any, metadata: dict[str, Any], text: str | None, cache: dict[Any, Any]) -> _Label:
    """Classification and verification: ``"1"``, with ``class-name`` and ``confidence``.

    The hot path of the parser: the whole label (ClassLabel, class map) is built once per
    distinct (id, name, confidence) and shared by the records that have it -- ``class_map``
    is a read-only ``Mapping`` on the record for that reason.
    """
    name, confidence = metadata.get("class-name"), metadata.get("confidence")
    key = (value, name, confidence, confidence.__class__)
    try:
        label = cache.get(key)
    except TypeError:  # an unhashable name or confidence: the checks below say which
        label = None
    if label is None:
        class_label = ClassLabel(
            _class_id(value, "the label"),
            _text(name, "metadata 'class-name'"),
            _confidence(confidence, "metadata 'confidence'"),
        )
        label = _label(classes=(class_label,), class_map={class_label.class_id: class_label.name})
        if len(cache) < _LABEL_CACHE_SIZE:
            cache[key] = label
    return label


def _multi_label(value: Any, metadata: dict[str, Any], text: str | None, cache: dict[Any, Any]) -> _Label:
    """Multi-label classification: ``[1, 4]`` with ``class-map`` and ``confidence-map``."""
    class_map = _class_map(metadata, ("class-map",), required=True)
    scores = _dict(metadata.get("confidence-map") or {}, "metadata 'confidence-map'")
    classes = []
    for i, raw in enumerate(_list(value, "the label")):
        class_id = _class_id(raw, f"label[{i}]")
        name = _name_of(class_id, class_map, f"label[{i}]", "class-map")
        classes.append(
            ClassLabel(class_id, name, _confidence(scores.get(str(class_id)), f"confidence-map[{class_id}]"))
        )
    return _label(classes=tuple(classes), class_map=class_map)


def _boxes(value: Any, metadata: dict[str, Any], text: str | None, cache: dict[Any, Any]) -> _Label:
    """Bounding boxes: ``{"image_size": [{width, height, depth}], "annotations": [{class_id, left, ...}]}``."""
    value = _dict(value, "the label")
    sizes = _list(value.get("image_size"), "image_size")
    size = _dict(sizes[0] if sizes else None, "image_size[0]")
    image_size = ImageSize(
        int(_number(size.get("width"), "image_size[0].width", minimum=1)),
        int(_number(size.get("height"), "image_size[0].height", minimum=1)),
        int(_number(size.get("depth", 3), "image_size[0].depth", minimum=1)),
    )
    annotations = _list(value.get("annotations"), "annotations")
    class_map = _class_map(metadata, ("class-map",), required=bool(annotations))
    boxes = []
    for at, box, score in _items(annotations, "annotations", metadata, "objects"):
        class_id = _class_id(box.get("class_id"), f"{at}.class_id")
        left, top = _number(box.get("left"), f"{at}.left"), _number(box.get("top"), f"{at}.top")
        width = _number(box.get("width"), f"{at}.width", minimum=0)
        height = _number(box.get("height"), f"{at}.height", minimum=0)
        boxes.append(Box(class_id, _name_of(class_id, class_map, at, "class-map"), left, top, width, height, score))
    return _label(boxes=tuple(boxes), image_size=image_size, class_map=class_map)


def _color_map(metadata: dict[str, Any], keys: tuple[str, ...], ref: Any) -> _Label:
    """``internal-color-map`` (2D) / ``color-map`` (3D): the class map and a label per class."""
    for key in keys:
        if key in metadata:
            break
    else:
        raise _Bad(f"metadata has no {' or '.join(repr(key) for key in keys)}")
    colors = _dict(metadata[key], f"metadata {key!r}")
    labels = []
    for raw_id, entry in colors.items():
        where = f"metadata {key}[{raw_id!r}]"
        entry = _dict(entry, where)
        class_id = _class_id(raw_id, f"a key of metadata {key!r}")
        name = _text(entry.get("class-name"), f"{where}.class-name")
        labels.append(ClassLabel(class_id, name, _confidence(entry.get("confidence"), f"{where}.confidence")))
    labels.sort(key=lambda label: label.class_id)
    class_map = {label.class_id: label.name for label in labels}
    return _label(classes=tuple(labels), ref=_text(ref, "the label"), class_map=class_map)


def _mask(value: Any, metadata: dict[str, Any], text: str | None, cache: dict[Any, Any]) -> _Label:
    """2D semantic segmentation: the S3 URI of a PNG and its ``internal-color-map``."""
    return _color_map(metadata, ("internal-color-map",), value)


def _point_classes(value: Any, metadata: dict[str, Any], text: str | None, cache: dict[Any, Any]) -> _Label:
    """3D semantic segmentation: the S3 URI of a zlib per-point class array and its ``color-map``."""
    return _color_map(metadata, ("color-map", "internal-color-map"), value)


def _entities(value: Any, metadata: dict[str, Any], text: str | None, cache: dict[Any, Any]) -> _Label:
    """Named entities: ``{"annotations": {"labels": [{label}], "entities": [{label, startOffset, endOffset}]}}``.

    The class map numbers ``annotations.labels`` in their order (NER output has no class ids).
    """
    annotations = _dict(_dict(value, "the label").get("annotations"), "annotations")
    names = [
        _text(_dict(entry, f"annotations.labels[{i}]").get("label"), f"annotations.labels[{i}].label")
        for i, entry in enumerate(_list(annotations.get("labels", []), "annotations.labels"))
    ]
    known = set(names)
    spans = _list(annotations.get("entities", []), "annotations.entities")
    entities = []
    for at, span, score in _items(spans, "annotations.entities", metadata, "entities"):
        label = _text(span.get("label"), f"{at}.label")
        if known and label not in known:
            raise _Bad(f"{at}.label {label!r} is not one of annotations.labels {sorted(known)}")
        start, end = span.get("startOffset"), span.get("endOffset")
        if start.__class__ is not int or end.__class__ is not int or not 0 <= start < end:
            raise _Bad(f"{at} needs integer offsets 0 <= startOffset < endOffset, got {_show(start)}..{_show(end)}")
        if text is not None and end > len(text):
            raise _Bad(f"{at}.endOffset {end} is past the end of the {len(text)}-character source")
        entities.append(Entity(label, start, end, score))
    return _label(entities=tuple(entities), class_map=dict(enumerate(names)))


def _sequence(value: Any, metadata: dict[str, Any], text: str | None, cache: dict[Any, Any]) -> _Label:
    """Video and 3D tracking: the S3 URI of a ``SeqLabel.json``; ``class-map`` or ``class_map``."""
    return _label(ref=_text(value, "the label"), class_map=_class_map(metadata, _CLASS_MAP_KEYS, required=False))


_CLASS_MAP_KEYS = ("class-map", "class_map")
_CUBOID_CENTRE = ("center-x", "center-y", "center-z")
_CUBOID_SIZE = ("length", "width", "height")
_CUBOID_ROTATION = ("roll", "pitch", "yaw")


def _cuboids(value: Any, metadata: dict[str, Any], text: str | None, cache: dict[Any, Any]) -> _Label:
    """3D object detection, written inline: ``{"annotations": [{class-id, center-x, ..., yaw}]}``."""
    annotations = _list(_dict(value, "the label").get("annotations"), "annotations")
    class_map = _class_map(metadata, _CLASS_MAP_KEYS, required=bool(annotations))
    map_key = next((key for key in _CLASS_MAP_KEYS if key in metadata), "class-map")
    cuboids = []
    for at, cuboid, score in _items(annotations, "annotations", metadata, "objects"):
        class_id = _class_id(cuboid.get("class-id"), f"{at}.class-id")
        centre = tuple(_number(cuboid.get(key), f"{at}.{key}") for key in _CUBOID_CENTRE)
        size = tuple(_number(cuboid.get(key), f"{at}.{key}", minimum=0) for key in _CUBOID_SIZE)
        rotation = tuple(_number(cuboid.get(key, 0), f"{at}.{key}") for key in _CUBOID_ROTATION)
        name = _name_of(class_id, class_map, at, map_key)
        cuboids.append(Cuboid(name, centre, size, rotation, score))  # type: ignore[arg-type]
    return _label(cuboids=tuple(cuboids), class_map=class_map)


_Parse = Callable[[Any, dict[str, Any], "str | None", dict[Any, Any]], _Label]

# fmt: off
#: Output ``type`` -> (label kind, parse function). The 3D types are listed under both the
#: names the developer guide's samples use (``point_cloud_...``) and the ``lidar_...`` names
#: of ``task_types`` and the local AWS: either may be found in the wild.
_TYPES: dict[str, tuple[LabelKind, _Parse]] = {
    "groundtruth/image-classification": (LabelKind.CLASS, _single_class),
    "groundtruth/text-classification": (LabelKind.CLASS, _single_class),
    "groundtruth/video-classification": (LabelKind.CLASS, _single_class),
    "groundtruth/image-classification-multilabel": (LabelKind.MULTI_LABEL, _multi_label),
    "groundtruth/text-classification-multilabel": (LabelKind.MULTI_LABEL, _multi_label),
    "groundtruth/object-detection": (LabelKind.BOXES, _boxes),
    "groundtruth/semantic-segmentation": (LabelKind.MASK, _mask),
    "groundtruth/label-verification": (LabelKind.VERIFICATION, _single_class),
    "groundtruth/text-span": (LabelKind.ENTITIES, _entities),
    "groundtruth/video-object-detection": (LabelKind.SEQUENCE, _sequence),
    "groundtruth/video-object-tracking": (LabelKind.SEQUENCE, _sequence),
    "groundtruth/point_cloud_object_detection": (LabelKind.CUBOIDS, _cuboids),
    "groundtruth/lidar_object_detection": (LabelKind.CUBOIDS, _cuboids),
    "groundtruth/point_cloud_object_tracking": (LabelKind.SEQUENCE, _sequence),
    "groundtruth/lidar_object_tracking": (LabelKind.SEQUENCE, _sequence),
    "groundtruth/point_cloud_single_frame_semantic_segmentation": (LabelKind.SEQUENCE, _point_classes),
    "groundtruth/lidar_single_frame_semantic_segmentation": (LabelKind.SEQUENCE, _point_classes),
}
# fmt: on
#: Every output type the parser reads.
OUTPUT_TYPES: frozenset[str] = frozenset(_TYPES)
#: Output type -> the kind of label it holds.
OUTPUT_KINDS: Mapping[str, LabelKind] = MappingProxyType({name: kind for name, (kind, _) in _TYPES.items()})
#: The 3D semantic segmentation types, whose artifact is a per-point class array.
POINT_CLASS_TYPES: frozenset[str] = frozenset(t for t, (_, parse) in _TYPES.items() if parse is _point_classes)


def _json_kind(value: Any) -> str:
    return {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}.get(value.__class__, "null")


class OutputManifestParser:
    """Parses output manifest lines of one manifest; reuse one instance for all its lines.

    The instance remembers the label attribute once found and the class labels it has
    built (a classification line then costs one dictionary look-up beyond the JSON parse).
    """

    __slots__ = ("_attribute", "_cache", "_metadata_key", "manifest")

    def __init__(self, attribute: str | None = None, manifest: str = "") -> None:
        if attribute is not None and (not attribute or attribute.endswith(_METADATA)):
            raise ValueError(f"attribute must be a label attribute name, not {attribute!r}")
        self._attribute = attribute
        self._metadata_key = None if attribute is None else attribute + _METADATA
        self.manifest = manifest
        self._cache: dict[Any, Any] = {}

    @property
    def attribute(self) -> str | None:
        """The label attribute: as given, or as found on the first line that had one."""
        return self._attribute

    def parse(self, raw: bytes | str, line: int) -> LabeledObject | LineProblem:
        """One line (JSON text, with or without its newline) -> its record, or why it is not one."""
        try:
            obj = _loads(raw)
        except _DecodeError as error:
            blank = isinstance(raw, bytes | bytearray | str) and not raw.strip()
            return LineProblem(line, "the line is blank" if blank else f"not valid JSON: {error}", self.manifest)
        result = self.parse_decoded(obj, line)
        if raw.__class__ is bytes and result.__class__ is LabeledObject:
            result.source_line = raw  # type: ignore[union-attr]
        return result

    def parse_decoded(self, obj: Any, line: int) -> LabeledObject | LineProblem:
        """Like :meth:`parse`, for a line already decoded from JSON (a filter re-reading ``raw``)."""
        if obj.__class__ is not dict:
            return LineProblem(line, f"the line is a JSON {_json_kind(obj)}, not an object", self.manifest)
        source = obj.get("source-ref")
        if source.__class__ is str and source:
            source_field, text = "source-ref", None
        else:
            source = text = obj.get("source")
            source_field = "source"
            if source.__class__ is not str or not source:
                return LineProblem(
                    line, "no data object: neither 'source-ref' nor 'source' is a non-empty string", self.manifest
                )
        metadata_key = self._metadata_key
        if metadata_key is None:
            reason = self._detect(obj)
            if reason is not None:
                return LineProblem(line, reason, self.manifest)
            metadata_key = self._metadata_key
        attribute = self._attribute
        metadata = obj.get(metadata_key)
        if metadata.__class__ is not dict:
            found = "is missing" if metadata is None else f"is {_show(metadata)}, not an object"
            return LineProblem(line, f"{metadata_key!r} {found}", self.manifest)
        output_type = metadata.get("type")
        entry = _TYPES.get(output_type) if output_type.__class__ is str else None
        if entry is None:
            return LineProblem(line, self._type_reason(metadata_key, output_type), self.manifest)
        job_name, human, created = metadata.get("job-name"), metadata.get("human-annotated"), metadata.get("creation-date")  # fmt: skip
        if job_name.__class__ is not str or human not in ("yes", "no") or created.__class__ is not str:
            return LineProblem(line, self._common_reason(metadata_key, metadata), self.manifest)
        kind, parse_label = entry
        failure = metadata.get("failure-reason")
        if failure is not None:
            return LabeledObject(
                line, source, source_field, attribute, output_type, kind, job_name, human == "yes", created,
                failure_reason=str(failure), raw=obj,
            )  # fmt: skip
        value = obj.get(attribute)
        if value is None:
            reason = f"no label {attribute!r} and no 'failure-reason' in {metadata_key!r}"
            return LineProblem(line, reason, self.manifest)
        try:
            label = parse_label(value, metadata, text, self._cache)
            status = metadata.get("adjustment-status")
            if status is not None and status not in _ADJUSTMENT_STATUSES:
                raise _Bad(
                    f"metadata 'adjustment-status' must be one of {sorted(_ADJUSTMENT_STATUSES)}, got {_show(status)}"
                )
            feedback = metadata.get("worker-feedback")
            comments = () if feedback is None else _comments(feedback)
        except _Bad as error:
            return LineProblem(line, f"{attribute!r} ({output_type}): {error}", self.manifest)
        except Exception as error:  # a shape no check foresaw: still a line problem, never a crash
            reason = f"{attribute!r} ({output_type}): unreadable label ({error.__class__.__name__}: {error})"
            return LineProblem(line, reason, self.manifest)
        # Positional, in LabeledObject's field order (tests pin that order): the fastest call.
        return LabeledObject(
            line, source, source_field, attribute, output_type, kind, job_name, human == "yes", created, None,
            *label, status, comments, obj,
        )  # fmt: skip

    def scan(self, raw: bytes | str) -> LineScan | None:
        """What a dataset build must know of a line before it can split: a quick, lenient read.

        Source, type, whether the object failed, and its class names with their ids (the
        stratum is the first). None when the line has no source (``parse`` then says why);
        anything else odd is left for ``parse`` to report -- a scan never decides a line is
        fine.
        """
        try:
            obj = _loads(raw)
        except _DecodeError:
            return None
        if obj.__class__ is not dict:
            return None
        source = obj.get("source-ref") or obj.get("source")
        if source.__class__ is not str:
            return None
        if self._metadata_key is None and self._detect(obj) is not None:
            return LineScan(source, None, False, ())
        metadata = obj.get(self._metadata_key)
        if metadata.__class__ is not dict:
            return LineScan(source, None, False, ())
        output_type = metadata.get("type")
        if "failure-reason" in metadata:
            return LineScan(source, output_type, True, ())
        name = metadata.get("class-name")
        if name.__class__ is str:  # classification, verification: the value is the id
            value = obj.get(self._attribute)
            try:
                return LineScan(source, output_type, False, ((name, int(value)),))
            except (TypeError, ValueError):
                return LineScan(source, output_type, False, ((name, -1),))
        return LineScan(source, output_type, False, _scanned_names(obj.get(self._attribute), metadata))

    def _detect(self, obj: dict[str, Any]) -> str | None:
        """Find and remember the label attribute of ``obj``; the reason why not otherwise."""
        found = {
            key[: -len(_METADATA)]: value["type"]
            for key, value in obj.items()
            if key.endswith(_METADATA)
            and value.__class__ is dict
            and value.get("type").__class__ is str
            and value["type"].startswith(_GROUNDTRUTH)
        }
        if len(found) == 1:
            self._attribute = next(iter(found))
            self._metadata_key = self._attribute + _METADATA
            return None
        if not found:
            return "no label attribute: no '<attribute>-metadata' object with a 'groundtruth/...' type"
        listed = ", ".join(f"{name!r} ({kind})" for name, kind in sorted(found.items()))
        return f"several label attributes: {listed}; pass attribute= to say which one to read"

    @staticmethod
    def _type_reason(metadata_key: str, output_type: Any) -> str:
        if output_type is None:
            return f"{metadata_key!r} has no 'type'"
        known = ", ".join(sorted(_TYPES))
        return f"unknown output type {_show(output_type)} in {metadata_key!r}; known: {known}"

    @staticmethod
    def _common_reason(metadata_key: str, metadata: dict[str, Any]) -> str:
        human = metadata.get("human-annotated")
        if metadata.get("job-name").__class__ is not str:
            return f"{metadata_key!r} has no 'job-name' string"
        if human not in ("yes", "no"):
            return f"{metadata_key!r} has 'human-annotated' {_show(human)}; Ground Truth writes 'yes' or 'no'"
        return f"{metadata_key!r} has no 'creation-date' string"


class LineScan(NamedTuple):
    """What :meth:`OutputManifestParser.scan` read of a line."""

    source: str
    output_type: Any
    failed: bool
    #: (class name, class id or -1), in label order: class maps by id, then inline names.
    names: tuple[tuple[str, int], ...]


def _scanned_names(value: Any, metadata: dict[str, Any]) -> tuple[tuple[str, int], ...]:
    """Class names and ids from wherever a type keeps them (lenient: odd shapes give fewer names)."""
    names: dict[str, int] = {}
    class_map = metadata.get("class-map", metadata.get("class_map"))
    if class_map.__class__ is dict:
        ids = value if value.__class__ is list else []
        first = [str(item) for item in ids if str(item) in class_map]  # multi-label: its classes first
        for key in [*first, *sorted(class_map, key=lambda k: (len(str(k)), str(k)))]:
            if class_map[key].__class__ is str:
                names.setdefault(class_map[key], int(key) if str(key).isdigit() else -1)
    colors = metadata.get("internal-color-map")
    if colors.__class__ is dict:
        for key, entry in colors.items():
            if entry.__class__ is dict and entry.get("class-name").__class__ is str:
                names.setdefault(entry["class-name"], int(key) if str(key).isdigit() else -1)
    annotations = value.get("annotations") if value.__class__ is dict else None
    labels = annotations.get("labels") if annotations.__class__ is dict else None
    if labels.__class__ is list:  # named entities: the label list of the job
        for entry in labels:
            if entry.__class__ is dict and entry.get("label").__class__ is str:
                names.setdefault(entry["label"], -1)
    return tuple(names.items())


def _comments(feedback: Any) -> tuple[str, ...]:
    """``worker-feedback`` [{comment}] -> the comments."""
    return tuple(
        _text(_dict(entry, f"worker-feedback[{i}]").get("comment"), f"worker-feedback[{i}].comment")
        for i, entry in enumerate(_list(feedback, "metadata 'worker-feedback'"))
    )


class _ChunkStream(io.RawIOBase):
    """The chunks of ``open_chunks`` as a raw stream, so ``io.BufferedReader`` splits lines in C.

    Lines of any length come out whole: an output line carries inline labels (3D cuboids, many
    boxes) and is not bound by the input manifest's line limit.
    """

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._view = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._view:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._view = memoryview(chunk)
        size = min(len(buffer), len(self._view))
        buffer[:size] = self._view[:size]
        self._view = self._view[size:]
        return size


def read_output_manifest(
    path_or_uri: str, *, attribute: str | None = None, s3_client: Any | None = None
) -> Iterator[LabeledObject | LineProblem]:
    """Stream an output manifest (local path or ``s3://`` URI): one record or problem per line.

    The file is never held whole. Blank lines are skipped but counted, so line numbers are the
    ones an editor shows. ``attribute`` is the job's ``LabelAttributeName`` (see the module
    docstring for what happens without it); ``s3_client`` a boto3 S3 client to use, otherwise
    boto3's default client is created when S3 is first read. A manifest that cannot be read at
    all raises :class:`DatasetReadError` naming it.
    """
    parse = OutputManifestParser(attribute, manifest=path_or_uri).parse
    for number, line in output_manifest_lines(path_or_uri, s3_client=s3_client):
        result = parse(line, number)
        if result.__class__ is LineProblem and line.isspace():
            continue
        yield result


def output_manifest_lines(path_or_uri: str, *, s3_client: Any | None = None) -> Iterator[tuple[int, bytes]]:
    """(line number, bytes) of every line of an output manifest, streamed; see :func:`read_output_manifest`."""
    try:
        with open_chunks(path_or_uri, S3ClientProvider(s3_client)) as chunks:
            yield from enumerate(io.BufferedReader(_ChunkStream(chunks), CHUNK_BYTES), 1)
    except (ManifestReadError, ValueError) as error:  # ValueError: an s3:// URI without a key
        raise DatasetReadError(str(error)) from error
