"""Bounding boxes: drawing, adjusting, and consolidation by IoU clustering.

A worker draws each reference box with jitter that grows as its accuracy falls, sometimes
misses one, picks a wrong class, or draws a box where there is nothing. Consolidation
groups the boxes of different workers that overlap (IoU >= 0.5, same class, at most one box
per worker in a group), keeps a group when most workers drew it, and averages it.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gt_provider.geometry import box_iou
from gt_provider.local.annotations.base import (
    Consolidated,
    ImageSize,
    JobSpec,
    ObjectSource,
    ReferenceFormatError,
    Simulation,
    confidence,
    earlier_class_index,
    earlier_label,
    image_size,
    image_truth,
    kept_by_vote,
    label_index,
    mapping,
    number,
    sequence,
    slipped_label,
    used_class_map,
)
from gt_provider.local.workforce import ObjectOutcome, Worker

#: Boxes of two workers overlapping at least this much (same class) show the same object.
IOU_THRESHOLD = 0.5
#: An earlier box that overlaps the truth this much is left alone by an adjusting worker.
_GOOD_ENOUGH_IOU = 0.9


@dataclass(frozen=True)
class Box:
    label: int
    left: float
    top: float
    width: float
    height: float

    def rounded(self) -> Box:
        return Box(self.label, round(self.left), round(self.top), round(self.width), round(self.height))

    def as_output(self) -> dict[str, int]:
        return {
            "class_id": self.label,
            "left": int(self.left),
            "top": int(self.top),
            "width": int(self.width),
            "height": int(self.height),
        }


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes (class ignored)."""
    return box_iou((a.left, a.top, a.width, a.height), (b.left, b.top, b.width, b.height))


def _mean_box(boxes: Sequence[Box]) -> Box:
    n = len(boxes)
    return Box(
        boxes[0].label,
        sum(b.left for b in boxes) / n,
        sum(b.top for b in boxes) / n,
        sum(b.width for b in boxes) / n,
        sum(b.height for b in boxes) / n,
    )


def cluster_boxes(answers: Sequence[Sequence[Box]], threshold: float = IOU_THRESHOLD) -> list[tuple[Box, int, float]]:
    """Group the boxes of all workers (one sequence per worker) that show the same object.

    Returns each group's mean box, how many workers drew it, and the mean IoU of its
    members with the mean box, in the order the groups were first drawn.
    """
    groups: list[tuple[set[int], list[Box]]] = []
    means: list[Box] = []
    for worker, boxes in enumerate(answers):
        for box in boxes:
            best, best_overlap = None, threshold
            for position, (workers, members) in enumerate(groups):
                if members[0].label != box.label or worker in workers:
                    continue
                overlap = iou(box, means[position])
                if overlap >= best_overlap:
                    best, best_overlap = position, overlap
            if best is None:
                groups.append(({worker}, [box]))
                means.append(box)
            else:
                groups[best][0].add(worker)
                groups[best][1].append(box)
                means[best] = _mean_box(groups[best][1])
    return [
        (mean, len(members), sum(iou(member, mean) for member in members) / len(members))
        for mean, (_, members) in zip(means, groups, strict=True)
    ]


def consolidate_boxes(answers: Sequence[Sequence[Box]]) -> list[tuple[Box, float]]:
    """The consolidated boxes (rounded to pixels) and each one's confidence."""
    n_workers = len(answers)
    return [
        (mean.rounded(), confidence(votes / n_workers * overlap, n_workers))
        for mean, votes, overlap in cluster_boxes(answers)
        if kept_by_vote(votes, n_workers)
    ]


def jitter(box: Box, sigma: float, size: ImageSize, rng: random.Random) -> Box:
    """``box`` as a worker draws it: edges off by ~``sigma`` of its size, inside the image, in pixels."""
    left = box.left + rng.gauss(0, sigma * box.width)
    top = box.top + rng.gauss(0, sigma * box.height)
    width = box.width * (1 + rng.gauss(0, sigma))
    height = box.height * (1 + rng.gauss(0, sigma))
    left = min(max(round(left), 0), size.width - 1)
    top = min(max(round(top), 0), size.height - 1)
    width = min(max(round(width), 1), size.width - left)
    height = min(max(round(height), 1), size.height - top)
    return Box(box.label, left, top, width, height)


def random_box(label: int, size: ImageSize, rng: random.Random) -> Box:
    width = rng.randint(max(1, size.width // 8), max(1, size.width // 3))
    height = rng.randint(max(1, size.height // 8), max(1, size.height // 3))
    return Box(label, rng.randint(0, size.width - width), rng.randint(0, size.height - height), width, height)


def draw(
    reference: Sequence[Box], worker: Worker, size: ImageSize, n_labels: int, rng: random.Random
) -> tuple[Box, ...]:
    """A worker's boxes for an image whose true boxes are ``reference``."""
    error = 1 - worker.accuracy
    boxes = []
    for box in reference:
        if rng.random() < error / 2:
            continue  # missed
        label = slipped_label(box.label, n_labels, error, rng)
        boxes.append(jitter(Box(label, box.left, box.top, box.width, box.height), 0.02 + 0.2 * error, size, rng))
    if rng.random() < error / 3:
        boxes.append(random_box(rng.randrange(n_labels), size, rng))
    return tuple(boxes)


def parse_boxes(value: Any, spec: JobSpec, size: ImageSize, where: str) -> tuple[Box, ...]:
    """Reference boxes ``[{"label", "left", "top", "width", "height"}]``, checked against the image."""
    boxes = []
    for position, raw in enumerate(sequence(value, where)):
        at = f"{where}[{position}]"
        entry = mapping(raw, at)
        box = Box(
            label_index(entry.get("label"), spec, at),
            number(entry.get("left"), f"{at}.left", minimum=0),
            number(entry.get("top"), f"{at}.top", minimum=0),
            number(entry.get("width"), f"{at}.width", positive=True),
            number(entry.get("height"), f"{at}.height", positive=True),
        )
        if box.left + box.width > size.width or box.top + box.height > size.height:
            raise ReferenceFormatError(f"{at} reaches outside the {size.width}x{size.height} image")
        boxes.append(box)
    return tuple(boxes)


@dataclass(frozen=True)
class BoxTask:
    size: ImageSize
    reference: tuple[Box, ...] | None
    earlier: tuple[Box, ...] = ()


class BoundingBox(Simulation):
    """Draw a box around every object of the job's classes."""

    element = "crowd-bounding-box"
    seconds = (10, 120)

    def prepare(self, source: ObjectSource, spec: JobSpec) -> BoxTask:
        size, boxes = image_truth(source, spec, "boxes", parse_boxes)
        return BoxTask(size, boxes)

    def answer(self, task: BoxTask, worker: Worker, rng: random.Random, spec: JobSpec) -> tuple[Box, ...]:
        if task.reference is None:
            return tuple(random_box(rng.randrange(len(spec.labels)), task.size, rng) for _ in range(rng.randint(0, 2)))
        return draw(task.reference, worker, task.size, len(spec.labels), rng)

    def answer_content(self, task: BoxTask, content: tuple[Box, ...], spec: JobSpec) -> dict[str, Any]:
        return {
            self.element: {
                "boundingBoxes": [
                    {"label": spec.labels[box.label], **{k: v for k, v in box.as_output().items() if k != "class_id"}}
                    for box in content
                ],
                "inputImageProperties": {"width": task.size.width, "height": task.size.height},
            }
        }

    def consolidate(self, outcomes: Sequence[ObjectOutcome], spec: JobSpec) -> dict[int, Consolidated]:
        results = {}
        for outcome in outcomes:
            task: BoxTask = outcome.task
            boxes = consolidate_boxes([answer.content for answer in outcome.answers])
            metadata = {
                "objects": [{"confidence": score} for _, score in boxes],
                "class-map": used_class_map([box.label for box, _ in boxes], spec),
            }
            metadata.update(self._review_metadata(outcome))
            value = {"image_size": [task.size.as_output()], "annotations": [box.as_output() for box, _ in boxes]}
            results[outcome.index] = Consolidated(value, metadata)
        return results

    def _review_metadata(self, outcome: ObjectOutcome) -> dict[str, Any]:
        return {}


class AdjustmentBoundingBox(BoundingBox):
    """Workers start from an earlier job's boxes and fix the ones that are wrong.

    A worker fixes the earlier label with its accuracy (otherwise it submits it as is):
    boxes that match the truth well are kept, the others are redrawn, extra ones removed.
    """

    def prepare(self, source: ObjectSource, spec: JobSpec) -> BoxTask:
        attribute, value, metadata = earlier_label(source, spec, ("groundtruth/object-detection",))
        where = f"the earlier label {attribute!r}"
        earlier = mapping(value, where)
        earlier_size = None
        sizes = earlier.get("image_size")
        if isinstance(sizes, list) and sizes and isinstance(sizes[0], Mapping):
            earlier_size = image_size({"image_size": sizes[0]}, source)
        raw = source.reference
        reference = None if raw is None else mapping(raw, "the reference answer")
        size = image_size(reference, source, earlier_size)
        boxes = []
        for position, entry in enumerate(sequence(earlier.get("annotations"), f"{where}.annotations")):
            at = f"{where}.annotations[{position}]"
            entry = mapping(entry, at)
            boxes.append(
                Box(
                    earlier_class_index(entry.get("class_id"), metadata, spec, at),
                    number(entry.get("left"), f"{at}.left"),
                    number(entry.get("top"), f"{at}.top"),
                    number(entry.get("width"), f"{at}.width", positive=True),
                    number(entry.get("height"), f"{at}.height", positive=True),
                )
            )
        truth = (
            None
            if reference is None
            else parse_boxes(reference.get("boxes"), spec, size, "the reference answer's boxes")
        )
        return BoxTask(size, truth, tuple(boxes))

    def answer(self, task: BoxTask, worker: Worker, rng: random.Random, spec: JobSpec) -> tuple[Box, ...]:
        if task.reference is None or rng.random() >= worker.accuracy:
            return task.earlier
        sigma = 0.01 + 0.05 * (1 - worker.accuracy)
        adjusted = []
        for truth in task.reference:
            matches = [box for box in task.earlier if box.label == truth.label]
            best = max(matches, key=lambda box: iou(box, truth), default=None)
            if best is not None and iou(best, truth) >= _GOOD_ENOUGH_IOU:
                adjusted.append(best)
            else:
                adjusted.append(jitter(truth, sigma, task.size, rng))
        return tuple(adjusted)

    def _review_metadata(self, outcome: ObjectOutcome) -> dict[str, Any]:
        # "adjusted" when at least one worker changed the earlier label (developer guide).
        changed = any(answer.content != outcome.task.earlier for answer in outcome.answers)
        return {"adjustment-status": "adjusted" if changed else "unadjusted"}
