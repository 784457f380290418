"""One typed record for a line of any Ground Truth output augmented manifest.

Ground Truth writes a different shape per task type (a class id string, a list of ids, a box
document, an entity document, an S3 URI to a mask or a ``SeqLabel.json``). Everything after
the parser -- filters, splits, exporters, the dataset card -- works on :class:`LabeledObject`
only, so a new output type is one parser function, not a change everywhere.

Standard library only: the same records serve Airflow operators, the CLI and benchmarks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class LabelKind(StrEnum):
    """What an object's label is, whatever task type wrote it."""

    #: One class per object (image, text or video classification).
    CLASS = "class"
    #: Zero or more classes per object (the ``-multilabel`` types).
    MULTI_LABEL = "multi-label"
    #: 2D bounding boxes on an image (object detection, box adjustment).
    BOXES = "boxes"
    #: A PNG mask in S3 (image semantic segmentation; the attribute ends in ``-ref``).
    MASK = "mask"
    #: A reviewer's verdict on an earlier label (label verification).
    VERIFICATION = "verification"
    #: Character spans in a text (named entity recognition).
    ENTITIES = "entities"
    #: 3D cuboids written inline (3D point cloud object detection).
    CUBOIDS = "cuboids"
    #: An S3 artifact holding per-frame labels: a ``SeqLabel.json`` (video, 3D tracking)
    #: or a compressed per-point class array (3D semantic segmentation).
    SEQUENCE = "sequence"


@dataclass(frozen=True, slots=True)
class ClassLabel:
    """A class an object was given, with the consolidated confidence when Ground Truth wrote one."""

    class_id: int
    name: str
    confidence: float | None = None


@dataclass(frozen=True, slots=True)
class ImageSize:
    width: int
    height: int
    depth: int = 3


@dataclass(frozen=True, slots=True)
class Box:
    """An axis-aligned box in pixels, top-left origin, as Ground Truth writes it."""

    class_id: int
    name: str
    left: float
    top: float
    width: float
    height: float
    confidence: float | None = None


@dataclass(frozen=True, slots=True)
class Entity:
    """A labeled character span ``text[start:end]``."""

    label: str
    start: int
    end: int
    confidence: float | None = None


@dataclass(frozen=True, slots=True)
class Cuboid:
    """A 3D box in the point cloud's frame, as Ground Truth writes it inline.

    ``centre`` is (center-x, center-y, center-z), ``size`` (length, width, height) and
    ``rotation`` (roll, pitch, yaw) in radians -- the order of Ground Truth's keys.
    """

    label: str
    centre: tuple[float, float, float]
    size: tuple[float, float, float]
    rotation: tuple[float, float, float] = (0.0, 0.0, 0.0)
    confidence: float | None = None


@dataclass(slots=True)
class LabeledObject:
    """One line of an output augmented manifest, parsed.

    ``raw`` keeps the line as Ground Truth wrote it, so an augmented-manifest export can
    write it back unchanged (or with renamed labels) and keys a team added pass through.
    A failed object has ``failure_reason`` set and no label.
    """

    #: 1-based line number in the output manifest this object came from.
    line: int
    #: The labeled object: the value of ``source-ref`` (an S3 URI) or ``source`` (inline text).
    source: str
    #: ``"source-ref"`` or ``"source"``.
    source_field: str
    #: The label attribute name as it appears in the line (with ``-ref`` when it has one).
    attribute: str
    #: The metadata's ``type``, e.g. ``groundtruth/image-classification``.
    output_type: str
    kind: LabelKind
    job_name: str
    human_annotated: bool
    creation_date: str
    failure_reason: str | None = None
    #: Classes (CLASS: one; MULTI_LABEL: zero or more; VERIFICATION: the verdict class).
    classes: tuple[ClassLabel, ...] = ()
    boxes: tuple[Box, ...] = ()
    image_size: ImageSize | None = None
    entities: tuple[Entity, ...] = ()
    cuboids: tuple[Cuboid, ...] = ()
    #: S3 URI of a mask, ``SeqLabel.json`` or point-class array (MASK, SEQUENCE).
    ref: str | None = None
    #: Class id -> name as the metadata gives it (``class-map``, ``class_map`` or the color map;
    #: NER: ``annotations.labels`` in order). Records with the same label may share one dict:
    #: read it, never modify it.
    class_map: Mapping[int, str] = field(default_factory=dict)
    #: ``adjusted`` / ``unadjusted`` on the output of an adjustment job; None elsewhere.
    adjustment_status: str | None = None
    #: Comments reviewers left on a verification job.
    worker_feedback: tuple[str, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, repr=False)
    #: The line's bytes as read, while ``raw`` is unchanged; None once anything rewrote it.
    #: Lets the augmented-manifest export copy a line instead of serializing it again.
    source_line: bytes | None = field(default=None, repr=False, compare=False)

    @property
    def failed(self) -> bool:
        return self.failure_reason is not None

    @property
    def label_names(self) -> tuple[str, ...]:
        """Every class name present on the object, in label order, without repeats."""
        names: list[str] = [label.name for label in self.classes]
        names += [box.name for box in self.boxes]
        names += [entity.label for entity in self.entities]
        names += [cuboid.label for cuboid in self.cuboids]
        if not names and self.kind in (LabelKind.MASK, LabelKind.SEQUENCE):
            names = list(self.class_map.values())
        return tuple(dict.fromkeys(names))

    @property
    def confidence(self) -> float | None:
        """The lowest confidence of any part of the label; None when Ground Truth wrote none."""
        if len(self.classes) == 1 and not (self.boxes or self.entities or self.cuboids):
            return self.classes[0].confidence  # classification and verification: a filter's hot path
        present = [
            part.confidence
            for parts in (self.classes, self.boxes, self.entities, self.cuboids)
            for part in parts
            if part.confidence is not None
        ]
        return min(present) if present else None

    @property
    def stratum(self) -> str:
        """The class a stratified split balances on: the object's first label, or ``""`` for none."""
        names = self.label_names
        return names[0] if names else ""
