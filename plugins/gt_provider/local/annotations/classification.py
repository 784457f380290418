"""Classification-shaped task types: single-label, multi-label, and label verification.

All three are consolidated with the one-coin Dawid-Skene model over the whole job, so a
worker who often disagrees with the others weighs less everywhere, as in Ground Truth.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from gt_provider.local.annotations.base import (
    Consolidated,
    JobSpec,
    ObjectSource,
    ReferenceFormatError,
    Simulation,
    confidence,
    earlier_label,
    image_size,
    label_index,
    mapping,
    number,
    other_label,
    sequence,
)
from gt_provider.local.workforce import ObjectOutcome, Worker, consolidate_single_label, dawid_skene
from gt_provider.s3io import is_s3_uri


@dataclass(frozen=True)
class ClassTask:
    #: Class id of the reference answer; None when the line has none.
    reference: int | None
    #: What a verifying worker looked at, for its comment ("3 boxes", "the mask").
    reviewed: str = ""


def _pick(reference: int | None, worker: Worker, n_labels: int, rng: random.Random) -> int:
    """The reference with the worker's accuracy, another label otherwise, any label without one."""
    if reference is None:
        return rng.randrange(n_labels)
    if rng.random() < worker.accuracy or n_labels == 1:
        return reference
    return other_label(reference, n_labels, rng)


class SingleLabel(Simulation):
    """Image, text and whole-video classification: one label per object."""

    def __init__(self, element: str) -> None:
        self.element = element

    def prepare(self, source: ObjectSource, spec: JobSpec) -> ClassTask:
        reference = source.reference
        return ClassTask(None if reference is None else label_index(reference, spec, "the reference answer"))

    def answer(self, task: ClassTask, worker: Worker, rng: random.Random, spec: JobSpec) -> int:
        return _pick(task.reference, worker, len(spec.labels), rng)

    def answer_content(self, task: ClassTask, content: int, spec: JobSpec) -> dict[str, Any]:
        return {self.element: {"label": spec.labels[content]}}

    def consolidate(self, outcomes: Sequence[ObjectOutcome], spec: JobSpec) -> dict[int, Consolidated]:
        votes = {o.index: [(a.worker.worker_id, a.content) for a in o.answers] for o in outcomes}
        return {
            index: Consolidated(str(label), {"class-name": spec.labels[label], "confidence": score})
            for index, (label, score) in consolidate_single_label(votes, len(spec.labels)).items()
        }


class Verification(Simulation):
    """Bounding box and semantic segmentation verification: workers judge an earlier label.

    The answer is one of the job's labels (say "correct" / "incorrect"); some workers leave
    a comment, which Ground Truth collects as ``worker-feedback``. The reference is the
    verdict; in a chained job the line may instead still carry the earlier job's truth
    (boxes or shapes): then the true verdict is the first label when the earlier label
    matches that truth and the second label when it does not.
    """

    #: Earlier boxes match the truth when each overlaps its own true box this much.
    box_iou = 0.5
    #: An earlier mask matches the truth when this share of its pixels is right.
    mask_agreement = 0.95

    element = "crowd-image-classifier"
    comment_rate = 0.3

    def __init__(self, reviews: str) -> None:
        #: Output ``type`` of the labels this job verifies.
        self.reviews = reviews

    def prepare(self, source: ObjectSource, spec: JobSpec) -> ClassTask:
        attribute, value, _ = earlier_label(source, spec, (self.reviews,))
        if self.reviews == "groundtruth/semantic-segmentation":
            if not (is_s3_uri(value)):
                raise ReferenceFormatError(f"the earlier label {attribute!r} is not the S3 URI of a mask")
            reviewed = "mask"
        else:
            boxes = value.get("annotations") if isinstance(value, dict) else None
            if not isinstance(boxes, list):
                raise ReferenceFormatError(f"the earlier label {attribute!r} has no 'annotations' list of boxes")
            reviewed = f"{len(boxes)} boxes"
        reference = source.reference
        if isinstance(reference, Mapping):
            right = self._earlier_is_right(source, spec, value, reference, attribute)
            return ClassTask(0 if right else min(1, len(spec.labels) - 1), reviewed)
        return ClassTask(None if reference is None else label_index(reference, spec, "the reference answer"), reviewed)

    def _earlier_is_right(
        self, source: ObjectSource, spec: JobSpec, value: Any, truth: Mapping[str, Any], attribute: str
    ) -> bool:
        """Whether the earlier label matches the earlier job's truth, comparing class names."""
        from gt_provider.local.annotations.boxes import Box, iou
        from gt_provider.local.annotations.segmentation import decode_mask, parse_shapes, rasterize

        metadata = source.line.get(f"{attribute}-metadata") or {}
        if self.reviews == "groundtruth/semantic-segmentation":
            colors = metadata.get("internal-color-map")
            entries = (
                sorted(colors.items(), key=lambda item: str(item[0]).zfill(9)) if isinstance(colors, Mapping) else []
            )
            names = [e.get("class-name") for _, e in entries if isinstance(e, Mapping)]
            names += [s.get("label") for s in truth.get("shapes") or [] if isinstance(s, Mapping)]
            classes = tuple(dict.fromkeys(n for n in names if isinstance(n, str) and n != "BACKGROUND"))
            names_spec = replace(spec, labels=classes)
            body = source.fetch(value)
            if body is None:
                raise ReferenceFormatError(f"the earlier mask {value} does not exist")
            earlier = decode_mask(body, metadata, names_spec, f"the earlier mask {value}")
            size = image_size(truth, source)
            shapes = parse_shapes(truth.get("shapes"), names_spec, size, "the reference answer's shapes")
            if earlier.shape != (size.height, size.width):
                return False
            return float((rasterize(shapes, size.width, size.height) == earlier).mean()) >= self.mask_agreement
        class_map = metadata.get("class-map")
        class_map = class_map if isinstance(class_map, Mapping) else {}

        def parse(entries: Any, where: str, name_of: Any) -> list[tuple[Any, Box]]:
            boxes = []
            for position, entry in enumerate(sequence(entries, where)):
                at = f"{where}[{position}]"
                entry = mapping(entry, at)
                box = Box(0, *(number(entry.get(k), f"{at}.{k}") for k in ("left", "top", "width", "height")))
                boxes.append((name_of(entry), box))
            return boxes

        earlier = parse(value["annotations"], "the earlier label's annotations",
                        lambda e: class_map.get(str(e.get("class_id")), e.get("class_id")))  # fmt: skip
        expected = parse(truth.get("boxes"), "the reference answer's boxes", lambda e: e.get("label"))
        if len(earlier) != len(expected):
            return False
        unmatched = list(earlier)
        for name, box in expected:
            match = next((e for e in unmatched if e[0] == name and iou(e[1], box) >= self.box_iou), None)
            if match is None:
                return False
            unmatched.remove(match)
        return True

    def answer(self, task: ClassTask, worker: Worker, rng: random.Random, spec: JobSpec) -> tuple[int, str | None]:
        verdict = _pick(task.reference, worker, len(spec.labels), rng)
        comment = None
        if rng.random() < self.comment_rate:
            comment = f"Chose {spec.labels[verdict]!r} after checking the {task.reviewed} against the image."
        return verdict, comment

    def answer_content(self, task: ClassTask, content: tuple[int, str | None], spec: JobSpec) -> dict[str, Any]:
        verdict, comment = content
        answer: dict[str, Any] = {"label": spec.labels[verdict]}
        if comment:
            answer["comment"] = comment
        return {self.element: answer}

    def consolidate(self, outcomes: Sequence[ObjectOutcome], spec: JobSpec) -> dict[int, Consolidated]:
        votes = {o.index: [(a.worker.worker_id, a.content[0]) for a in o.answers] for o in outcomes}
        consolidated = consolidate_single_label(votes, len(spec.labels))
        results = {}
        for outcome in outcomes:
            label, score = consolidated[outcome.index]
            metadata: dict[str, Any] = {"class-name": spec.labels[label], "confidence": score}
            comments = [{"comment": a.content[1]} for a in outcome.answers if a.content[1]]
            if comments:  # Ground Truth leaves the field out when nobody commented
                metadata["worker-feedback"] = comments
            results[outcome.index] = Consolidated(str(label), metadata)
        return results


class MultiLabel(Simulation):
    """Multi-label image and text classification: any number of labels per object.

    Consolidation runs Dawid-Skene on each (object, label) pair a worker selected, as a
    yes/no question: a label is in the consolidated set when the weighted vote says yes.
    """

    def __init__(self, element: str) -> None:
        self.element = element

    def prepare(self, source: ObjectSource, spec: JobSpec) -> frozenset[int] | None:
        reference = source.reference
        if reference is None:
            return None
        names = sequence(reference, "the reference answer (a list of label names)")
        indices = [label_index(name, spec, "the reference answer") for name in names]
        if len(set(indices)) != len(indices):
            raise ReferenceFormatError(f"the reference answer {names} names a label twice")
        return frozenset(indices)

    def answer(self, task: frozenset[int] | None, worker: Worker, rng: random.Random, spec: JobSpec) -> tuple[int, ...]:
        n_labels = len(spec.labels)
        if task is None:
            return tuple(sorted(rng.sample(range(n_labels), rng.randint(1, min(3, n_labels)))))
        chosen = {label for label in sorted(task) if rng.random() < worker.accuracy}
        wrong = [label for label in range(n_labels) if label not in task]
        if wrong and rng.random() > worker.accuracy:
            chosen.add(rng.choice(wrong))
        return tuple(sorted(chosen))

    def answer_content(self, task: Any, content: tuple[int, ...], spec: JobSpec) -> dict[str, Any]:
        return {self.element: {"labels": [spec.labels[label] for label in content]}}

    def consolidate(self, outcomes: Sequence[ObjectOutcome], spec: JobSpec) -> dict[int, Consolidated]:
        votes = {}
        for outcome in outcomes:
            selected = {label for answer in outcome.answers for label in answer.content}
            for label in selected:
                votes[(outcome.index, label)] = [
                    (answer.worker.worker_id, int(label in answer.content)) for answer in outcome.answers
                ]
        by_object: dict[int, dict[int, float]] = {}
        for (index, label), posterior in dawid_skene(votes, 2).items():
            by_object.setdefault(index, {})[label] = posterior[1]
        results = {}
        for outcome in outcomes:
            n_workers = len(outcome.answers)
            chosen = {
                label: confidence(yes, n_workers)
                for label, yes in by_object.get(outcome.index, {}).items()
                if yes > 0.5 or n_workers == 1
            }
            labels = sorted(chosen)
            results[outcome.index] = Consolidated(
                labels,
                {
                    "class-map": {str(label): spec.labels[label] for label in labels},
                    "confidence-map": {str(label): chosen[label] for label in labels},
                },
            )
        return results
