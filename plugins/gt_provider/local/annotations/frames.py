"""Video frame and 3D point cloud task types: sequences of frames with named objects.

Ground Truth renders these UIs itself (HumanTaskUiArn). The simulation keeps to what the
output needs: each frame lists objects (a 2D box in video, a cuboid in a point cloud),
each object has a class and an instance name (``car:1``) that stays the same from frame to
frame, which is what tracking labels. A worker draws each reference object with jitter and
sometimes misses one; consolidation averages each instance over the workers who drew it in
that frame and keeps it when most did. Point cloud semantic segmentation (labels per
point, voted point by point like pixels) is in ``point_segmentation.py``.

Output (developer guide, "Output Data"): video detection and tracking write a
``SeqLabel.json`` (``detection-annotations`` / ``tracking-annotations``) whose S3 URI is the
label; 3D object detection writes its cuboids inline; 3D object tracking a ``SeqLabel.json``
with ``frame-number`` / ``frame-name``; 3D semantic segmentation a zlib-compressed array of
one class id per point.

The worker responses of these Ground Truth-rendered UIs are not documented; ours carry the
worker's own version of the label under a made-up key (``video-frame-annotations``,
``point-cloud-annotations``, ``point-cloud-segmentation``), in the output's structure.
"""

from __future__ import annotations

import json
import random
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gt_provider.local.annotations.base import (
    Artifact,
    Consolidated,
    JobSpec,
    ObjectSource,
    ReferenceFormatError,
    Simulation,
    confidence,
    earlier_class_index,
    earlier_file,
    earlier_label,
    kept_by_vote,
    label_index,
    mapping,
    number,
    sequence,
    used_class_map,
)
from gt_provider.local.workforce import ObjectOutcome, Worker

SEQUENCE_LABEL_FILE = "SeqLabel.json"
CUBOID_FIELDS = ("center-x", "center-y", "center-z", "length", "width", "height", "roll", "pitch", "yaw")
_ANGLES = ("roll", "pitch", "yaw")


@dataclass(frozen=True)
class FrameObject:
    label: int
    #: The instance, ``<label>:<n>``: the same object in every frame it appears in.
    name: str
    geometry: tuple[float, ...]
    attributes: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class Frame:
    number: int
    name: str
    objects: tuple[FrameObject, ...]


def consolidate_frames(answers: Sequence[Sequence[Frame]], integral: bool) -> list[tuple[Frame, list[float]]]:
    """Each frame's instances that most workers drew, averaged, with one confidence per instance.

    Instances are matched by name within a frame (workers label the same objects); the
    class is the most common one among the workers who drew it.
    """
    n_workers = len(answers)
    frames: dict[int, str] = {}
    drawn: dict[int, dict[str, list[FrameObject]]] = {}
    for sequence_ in answers:
        for frame in sequence_:
            frames.setdefault(frame.number, frame.name)
            per_name = drawn.setdefault(frame.number, {})
            for item in frame.objects:
                per_name.setdefault(item.name, []).append(item)
    consolidated = []
    for number_ in sorted(frames):
        objects, scores = [], []
        for name, members in drawn.get(number_, {}).items():
            if not kept_by_vote(len(members), n_workers):
                continue
            label = Counter(member.label for member in members).most_common(1)[0][0]
            agreeing = [member for member in members if member.label == label]
            mean = tuple(sum(values) / len(values) for values in zip(*(m.geometry for m in agreeing), strict=True))
            if integral:
                mean = tuple(float(round(value)) for value in mean)
            objects.append(FrameObject(label, name, mean, agreeing[0].attributes))
            scores.append(confidence(len(agreeing) / n_workers, n_workers))
        consolidated.append((Frame(number_, frames[number_], tuple(objects)), scores))
    return consolidated


@dataclass(frozen=True)
class FrameTask:
    reference: tuple[Frame, ...] | None
    earlier: tuple[Frame, ...] | None = None


class _FrameObjects(Simulation):
    """Shared by video and point cloud object detection / tracking (and their adjustment)."""

    seconds = (60, 900)
    integral: bool
    default_frame_name: str
    #: Output ``type`` of (detection, tracking) labels: what an adjustment job reviews.
    output_types: tuple[str, str]

    def __init__(self, *, tracking: bool, adjustment: bool = False) -> None:
        self.tracking = tracking
        self.adjustment = adjustment
        self.reviews = self.output_types[tracking]

    # ---------------------------------------------------------------- geometry
    def _geometry(self, entry: Mapping[str, Any], at: str) -> tuple[float, ...]:
        raise NotImplementedError

    def _jitter(self, geometry: tuple[float, ...], sigma: float, rng: random.Random) -> tuple[float, ...]:
        raise NotImplementedError

    def _close(self, a: tuple[float, ...], b: tuple[float, ...]) -> bool:
        """Whether an adjusting worker would leave ``a`` where it is, the truth being ``b``."""
        raise NotImplementedError

    # ---------------------------------------------------------------- parsing
    def _frames(
        self, raw: Any, where: str, frame_key: str, number_key: str, class_of: Any, spec: JobSpec
    ) -> tuple[Frame, ...]:
        frames = []
        for position, entry in enumerate(sequence(raw, where)):
            at = f"{where}[{position}]"
            entry = mapping(entry, at)
            number_ = _int(entry.get(number_key, position), f"{at}.{number_key}")
            name = entry.get(frame_key, self.default_frame_name.format(number_))
            objects = self._objects(entry.get("annotations", []), f"{at}.annotations", class_of, spec)
            frames.append(Frame(number_, str(name), objects))
        return tuple(frames)

    def _objects(self, raw: Any, where: str, class_of: Any, spec: JobSpec) -> tuple[FrameObject, ...]:
        """Objects of one frame; an object without an instance name is the n-th of its class."""
        objects, seen = [], Counter()
        for position, entry in enumerate(sequence(raw, where)):
            at = f"{where}[{position}]"
            entry = mapping(entry, at)
            label = class_of(entry, at)
            seen[label] += 1
            name = entry.get("object", entry.get("object-name")) or f"{spec.labels[label]}:{seen[label]}"
            attributes = entry.get("label-category-attributes") or {}
            if not isinstance(attributes, Mapping):
                raise ReferenceFormatError(f"{at}.label-category-attributes must be a JSON object")
            objects.append(FrameObject(label, str(name), self._geometry(entry, at), tuple(sorted(attributes.items()))))
        names = [item.name for item in objects]
        if len(set(names)) != len(names):
            raise ReferenceFormatError(f"{where} names an object twice in one frame")
        return tuple(objects)

    def _reference(self, raw: Any, spec: JobSpec) -> tuple[Frame, ...]:
        reference = mapping(raw, "the reference answer")
        return self._frames(
            reference.get("frames"), "the reference answer's frames", "frame", "frame-no", _reference_class(spec), spec
        )

    def _earlier(self, source: ObjectSource, spec: JobSpec) -> tuple[Frame, ...]:
        raise NotImplementedError

    def prepare(self, source: ObjectSource, spec: JobSpec) -> FrameTask:
        earlier = self._earlier(source, spec) if self.adjustment else None
        raw = source.reference
        return FrameTask(None if raw is None else self._reference(raw, spec), earlier)

    # ---------------------------------------------------------------- workers
    def answer(self, task: FrameTask, worker: Worker, rng: random.Random, spec: JobSpec) -> tuple[Frame, ...]:
        error = 1 - worker.accuracy
        if task.reference is None:
            return task.earlier or ()  # nothing known to draw: the earlier label, or no objects
        if task.earlier is not None:
            if rng.random() >= worker.accuracy:
                return task.earlier
            return self._adjust(task.earlier, task.reference, 0.01 + 0.05 * error, rng)
        frames = []
        for frame in task.reference:
            objects = tuple(
                FrameObject(
                    item.label, item.name, self._jitter(item.geometry, 0.02 + 0.15 * error, rng), item.attributes
                )
                for item in frame.objects
                if rng.random() >= error / 2
            )
            frames.append(Frame(frame.number, frame.name, objects))
        return tuple(frames)

    def _adjust(
        self, earlier: tuple[Frame, ...], truth: tuple[Frame, ...], sigma: float, rng: random.Random
    ) -> tuple[Frame, ...]:
        before = {(frame.number, item.name): item for frame in earlier for item in frame.objects}
        frames = []
        for frame in truth:
            objects = []
            for item in frame.objects:
                old = before.get((frame.number, item.name))
                if old is not None and old.label == item.label and self._close(old.geometry, item.geometry):
                    objects.append(old)
                else:
                    objects.append(
                        FrameObject(item.label, item.name, self._jitter(item.geometry, sigma, rng), item.attributes)
                    )
            frames.append(Frame(frame.number, frame.name, tuple(objects)))
        return tuple(frames)

    def answer_content(self, task: FrameTask, content: tuple[Frame, ...], spec: JobSpec) -> dict[str, Any]:
        return {self.element: self._render([(frame, []) for frame in content], spec, 0)[0]}

    # ---------------------------------------------------------------- output
    def _render(
        self, frames: list[tuple[Frame, list[float]]], spec: JobSpec, index: int
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """(label document, metadata extras) of a consolidated sequence."""
        raise NotImplementedError

    def _object_id(self, spec: JobSpec, index: int, name: str) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"gt-local/{spec.name}/{index}/{name}"))

    def consolidate(self, outcomes: Sequence[ObjectOutcome], spec: JobSpec) -> dict[int, Consolidated]:
        results = {}
        for outcome in outcomes:
            frames = consolidate_frames([answer.content for answer in outcome.answers], self.integral)
            document, metadata = self._render(frames, spec, outcome.index)
            if self.adjustment:
                changed = any(answer.content != outcome.task.earlier for answer in outcome.answers)
                metadata["adjustment-status"] = "adjusted" if changed else "unadjusted"
            results[outcome.index] = self._result(document, metadata)
        return results

    def _result(self, document: dict[str, Any], metadata: dict[str, Any]) -> Consolidated:
        body = json.dumps(document, separators=(",", ":")).encode()
        return Consolidated(None, metadata, Artifact(SEQUENCE_LABEL_FILE, body))

    def _earlier_frames(
        self, source: ObjectSource, spec: JobSpec, key: str, frame_key: str, number_key: str
    ) -> tuple[Frame, ...]:
        """The frames of an earlier label's ``SeqLabel.json``, listed under ``key``."""
        _, value, metadata, body = earlier_file(source, spec, (self.reviews,), f"a {SEQUENCE_LABEL_FILE}")
        try:
            document = json.loads(body)
        except ValueError:
            raise ReferenceFormatError(f"the earlier label's {value} is not JSON") from None
        frames = mapping(document, value).get(key)
        if frames is None:
            raise ReferenceFormatError(f"the earlier label's {value} has no {key!r}")
        return self._frames(frames, f"{value} {key}", frame_key, number_key, _earlier_class(metadata, spec), spec)


def _int(value: Any, where: str) -> int:
    """A frame number: an integer >= 0, or its decimal string (video output writes strings)."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    raise ReferenceFormatError(f"{where} must be a frame number, got {value!r}")


def _reference_class(spec: JobSpec) -> Any:
    """The class of a reference answer's object: its label name."""

    def class_of(entry: Mapping[str, Any], at: str) -> int:
        return label_index(entry.get("label"), spec, at)

    return class_of


def _earlier_class(metadata: Mapping[str, Any], spec: JobSpec) -> Any:
    """The class of an earlier label's object: its class id, mapped by name to this job's."""

    def class_of(entry: Mapping[str, Any], at: str) -> int:
        return earlier_class_index(entry.get("class-id"), metadata, spec, at)

    return class_of


class VideoFrameObjects(_FrameObjects):
    """Video frame object detection and tracking: a box per object per frame."""

    element = "video-frame-annotations"
    integral = True
    default_frame_name = "frame_{:04d}.jpeg"
    output_types = ("groundtruth/video-object-detection", "groundtruth/video-object-tracking")

    @property
    def _key(self) -> str:
        return "tracking-annotations" if self.tracking else "detection-annotations"

    def _geometry(self, entry: Mapping[str, Any], at: str) -> tuple[float, ...]:
        return (
            number(entry.get("left"), f"{at}.left", minimum=0),
            number(entry.get("top"), f"{at}.top", minimum=0),
            number(entry.get("width"), f"{at}.width", positive=True),
            number(entry.get("height"), f"{at}.height", positive=True),
        )

    def _jitter(self, geometry: tuple[float, ...], sigma: float, rng: random.Random) -> tuple[float, ...]:
        left, top, width, height = geometry
        return (
            float(max(round(left + rng.gauss(0, sigma * width)), 0)),
            float(max(round(top + rng.gauss(0, sigma * height)), 0)),
            float(max(round(width * (1 + rng.gauss(0, sigma))), 1)),
            float(max(round(height * (1 + rng.gauss(0, sigma))), 1)),
        )

    def _close(self, a: tuple[float, ...], b: tuple[float, ...]) -> bool:
        from gt_provider.local.annotations.boxes import Box, iou

        return iou(Box(0, *a), Box(0, *b)) >= 0.9

    def _earlier(self, source: ObjectSource, spec: JobSpec) -> tuple[Frame, ...]:
        return self._earlier_frames(source, spec, self._key, "frame", "frame-no")

    def _render(
        self, frames: list[tuple[Frame, list[float]]], spec: JobSpec, index: int
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        document = []
        for frame, _ in frames:
            annotations = []
            for item in frame.objects:
                left, top, width, height = (int(value) for value in item.geometry)
                annotation: dict[str, Any] = {
                    "height": height,
                    "width": width,
                    "top": top,
                    "left": left,
                    "class-id": str(item.label),
                    "label-category-attributes": dict(item.attributes),
                }
                if self.tracking:
                    annotation["object-id"] = self._object_id(spec, index, item.name)
                    annotation["object-name"] = item.name
                annotations.append(annotation)
            document.append({"annotations": annotations, "frame-no": str(frame.number), "frame": frame.name})
        labels = [item.label for frame, _ in frames for item in frame.objects]
        return {self._key: document}, {"class-map": used_class_map(labels, spec)}


class PointCloudObjects(_FrameObjects):
    """3D point cloud object detection (one frame, cuboids inline) and tracking (a sequence)."""

    element = "point-cloud-annotations"
    integral = False
    default_frame_name = "{}.txt.pcd"
    output_types = ("groundtruth/lidar_object_detection", "groundtruth/lidar_object_tracking")

    def _geometry(self, entry: Mapping[str, Any], at: str) -> tuple[float, ...]:
        values = []
        for name in CUBOID_FIELDS:
            if name in _ANGLES:
                values.append(number(entry.get(name, 0), f"{at}.{name}"))
            elif name in ("length", "width", "height"):
                values.append(number(entry.get(name), f"{at}.{name}", positive=True))
            else:
                values.append(number(entry.get(name), f"{at}.{name}"))
        return tuple(values)

    def _jitter(self, geometry: tuple[float, ...], sigma: float, rng: random.Random) -> tuple[float, ...]:
        x, y, z, length, width, height, roll, pitch, yaw = geometry
        return (
            x + rng.gauss(0, sigma * length),
            y + rng.gauss(0, sigma * width),
            z + rng.gauss(0, sigma * height),
            length * (1 + rng.gauss(0, sigma)),
            width * (1 + rng.gauss(0, sigma)),
            height * (1 + rng.gauss(0, sigma)),
            roll,
            pitch,
            yaw + rng.gauss(0, sigma / 2),
        )

    def _close(self, a: tuple[float, ...], b: tuple[float, ...]) -> bool:
        size = max(b[3], b[4], b[5])
        return all(abs(p - q) <= 0.05 * size for p, q in zip(a[:6], b[:6], strict=True)) and abs(a[8] - b[8]) <= 0.05

    def _reference(self, raw: Any, spec: JobSpec) -> tuple[Frame, ...]:
        if self.tracking:
            return super()._reference(raw, spec)
        reference = mapping(raw, "the reference answer")
        where = "the reference answer's annotations"
        objects = self._objects(reference.get("annotations"), where, _reference_class(spec), spec)
        return (Frame(0, "", objects),)

    def _earlier(self, source: ObjectSource, spec: JobSpec) -> tuple[Frame, ...]:
        if self.tracking:
            return self._earlier_frames(source, spec, "tracking-annotations", "frame-name", "frame-number")
        attribute, value, metadata = earlier_label(source, spec, (self.reviews,))
        inline = mapping(value, f"the earlier label {attribute!r}")
        where = f"the earlier label {attribute!r}'s annotations"
        return (Frame(0, "", self._objects(inline.get("annotations"), where, _earlier_class(metadata, spec), spec)),)

    def _cuboid(self, item: FrameObject, spec: JobSpec, index: int) -> dict[str, Any]:
        cuboid: dict[str, Any] = {
            "label-category-attributes": dict(item.attributes),
            "object-name": item.name,
            "class-id": item.label,
        }
        cuboid.update(zip(CUBOID_FIELDS, item.geometry, strict=True))
        if self.tracking:
            cuboid["object-id"] = self._object_id(spec, index, item.name)
        return cuboid

    def _render(
        self, frames: list[tuple[Frame, list[float]]], spec: JobSpec, index: int
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        labels = [item.label for frame, _ in frames for item in frame.objects]
        if not self.tracking:
            frame, scores = frames[0] if frames else (Frame(0, "", ()), [])
            document = {"annotations": [self._cuboid(item, spec, index) for item in frame.objects]}
            # The developer guide's sample spells it class_map for this type.
            return document, {
                "objects": [{"confidence": score} for score in scores],
                "class_map": used_class_map(labels, spec),
            }
        document = {
            "tracking-annotations": [
                {
                    "frame-number": frame.number,
                    "frame-name": frame.name,
                    "annotations": [self._cuboid(item, spec, index) for item in frame.objects],
                }
                for frame, _ in frames
            ]
        }
        objects = [{"frame-no": frame.number, "confidence": scores} for frame, scores in frames]
        return document, {"objects": objects, "class-map": used_class_map(labels, spec)}

    def _result(self, document: dict[str, Any], metadata: dict[str, Any]) -> Consolidated:
        if self.tracking:
            return super()._result(document, metadata)
        return Consolidated(document, metadata)
