"""3D point cloud semantic segmentation: one class id per point, voted point by point like pixels.

Output (developer guide, "Output Data"): a zlib-compressed array of one class id per point,
whose S3 URI is the label. The worker responses of this Ground Truth-rendered UI are not
documented; ours carry the worker's own label array under ``point-cloud-segmentation``.
"""

from __future__ import annotations

import random
import zlib
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
    color_map,
    color_map_id,
    confidence,
    earlier_file,
    label_index,
    mapping,
    number,
    sequence,
)
from gt_provider.local.workforce import ObjectOutcome, Worker

POINT_LABELS_FILE = "labels.zlib"


@dataclass(frozen=True, eq=False)
class PointTask:
    point_count: int
    #: (class id, first point, end point) ranges of the truth; None when unknown.
    reference: tuple[tuple[int, int, int], ...] | None
    earlier: Any = None
    #: Whether the earlier labels already match the truth (an adjusting worker keeps them).
    earlier_is_right: bool = False


class PointCloudSegmentation(Simulation):
    """3D point cloud semantic segmentation: a class per point, voted point by point."""

    element = "point-cloud-segmentation"
    seconds = (120, 1200)
    reviews = "groundtruth/lidar_single_frame_semantic_segmentation"

    def __init__(self, *, adjustment: bool = False) -> None:
        self.adjustment = adjustment

    def prepare(self, source: ObjectSource, spec: JobSpec) -> PointTask:
        import numpy as np

        earlier = None
        if self.adjustment:
            attribute, value, metadata, body = earlier_file(source, spec, (self.reviews,), "a .zlib label file")
            try:
                earlier_ids = np.frombuffer(zlib.decompress(body), dtype=np.uint8)
            except zlib.error:
                raise ReferenceFormatError(f"the earlier label's {value} is not zlib-compressed") from None
            lookup = np.arange(256, dtype=np.uint8)
            colors = metadata.get("color-map")
            for class_id, entry in colors.items() if isinstance(colors, Mapping) else ():
                name = entry.get("class-name") if isinstance(entry, Mapping) else None
                if name is None:
                    continue
                key = color_map_id(class_id, f"the earlier label {attribute!r}'s color-map")
                lookup[key] = spec.labels.index(name) + 1 if name in spec.labels else 0
            earlier = lookup[earlier_ids]
            if earlier.size and int(earlier.max()) > len(spec.labels):
                raise ReferenceFormatError(
                    f"the earlier label's {value} has class id {int(earlier.max())}, unknown here"
                )
        raw = source.reference
        if raw is None:
            return PointTask(0 if earlier is None else len(earlier), None, earlier)
        reference = mapping(raw, "the reference answer")
        count = int(number(reference.get("point_count"), "the reference answer's point_count", minimum=0))
        if earlier is not None and len(earlier) != count:
            raise ReferenceFormatError(f"the earlier label has {len(earlier)} points, the reference {count}")
        segments = []
        for position, entry in enumerate(sequence(reference.get("segments"), "the reference answer's segments")):
            at = f"the reference answer's segments[{position}]"
            entry = mapping(entry, at)
            start = int(number(entry.get("start"), f"{at}.start", minimum=0))
            end = int(number(entry.get("end"), f"{at}.end", minimum=0))
            if not start < end <= count:
                raise ReferenceFormatError(f"{at} needs start < end <= point_count ({count}), got {start}..{end}")
            segments.append((label_index(entry.get("label"), spec, at), start, end))
        task = PointTask(count, tuple(segments), earlier)
        if earlier is None:
            return task
        right = bool(np.array_equal(self.render(task, task.reference), earlier))
        return PointTask(count, task.reference, earlier, right)

    def answer(self, task: PointTask, worker: Worker, rng: random.Random, spec: JobSpec) -> Any:
        if task.reference is None:
            return None
        if task.earlier is not None and (task.earlier_is_right or rng.random() >= worker.accuracy):
            return None  # submits the earlier labels unchanged
        error = 1 - worker.accuracy
        painted = []
        for label, start, end in task.reference:
            if task.earlier is None and rng.random() < error / 2:
                continue
            sigma = (0.02 + 0.15 * error) * (end - start)
            new_start = min(max(round(start + rng.gauss(0, sigma)), 0), task.point_count - 1)
            new_end = min(max(round(end + rng.gauss(0, sigma)), new_start + 1), task.point_count)
            painted.append((label, new_start, new_end))
        return tuple(painted)

    def render(self, task: PointTask, content: Any) -> Any:
        import numpy as np

        if content is None:
            return task.earlier if task.earlier is not None else np.zeros(task.point_count, dtype=np.uint8)
        labels = np.zeros(task.point_count, dtype=np.uint8)
        for label, start, end in content:
            labels[start:end] = label + 1
        return labels

    def answer_content(self, task: PointTask, content: Any, spec: JobSpec) -> dict[str, Any]:
        labels = self.render(task, content)
        return {self.element: {"pointCount": len(labels), "labels": labels.tolist()}}

    def consolidate(self, outcomes: Sequence[ObjectOutcome], spec: JobSpec) -> dict[int, Consolidated]:
        from gt_provider.local.annotations.segmentation import vote_masks

        results = {}
        for outcome in outcomes:
            arrays = [self.render(outcome.task, answer.content) for answer in outcome.answers]
            labels, share = vote_masks(arrays)
            metadata: dict[str, Any] = {"color-map": color_map(spec, confidence(share, len(arrays)), "Background")}
            if self.adjustment:
                changed = any(answer.content is not None for answer in outcome.answers)
                metadata["adjustment-status"] = "adjusted" if changed else "unadjusted"
            body = zlib.compress(labels.astype("uint8").tobytes())
            results[outcome.index] = Consolidated(None, metadata, Artifact(POINT_LABELS_FILE, body))
        return results
