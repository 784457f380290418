"""How each Ground Truth output ``type`` stores its label, and the parse function of each.

One function per shape (class id, multi-label, boxes, mask, entities, sequence, cuboids),
chosen by the metadata's ``type`` from ``_TYPES``; each raises ``_Bad`` naming the field,
which the parser (:mod:`gt_provider.datasets.reading.parse`) turns into a line problem.

Standard library and orjson only: the DAG processor may import this module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType
from typing import Any

import orjson

from gt_provider.datasets.records import Box, ClassLabel, Cuboid, Entity, ImageSize, LabelKind

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
