"""Semantic segmentation: painting masks, adjusting them, and the per-pixel vote.

The truth is a list of labeled rectangles and polygons; a worker paints them with its
vertices off by a few pixels (more as its accuracy falls), sometimes misses one or paints
it with the wrong class. Consolidation is a per-pixel vote in which each worker weighs as
much as it agrees with the plain majority, so a careless worker is outvoted where it
matters. The consolidated mask is a palette PNG: pixel value = class id (0 = background),
palette = the ``internal-color-map`` colors, so it reads both as an image and as labels.
"""

from __future__ import annotations

import base64
import io
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gt_provider.local.annotations.base import (
    BACKGROUND_COLOR,
    BACKGROUND_NAME,
    Artifact,
    Consolidated,
    ImageSize,
    JobSpec,
    ObjectSource,
    ReferenceFormatError,
    Simulation,
    color_map,
    color_map_id,
    confidence,
    earlier_label,
    image_size,
    image_truth,
    label_color,
    label_index,
    mapping,
    number,
    rgb,
    sequence,
    slipped_label,
)
from gt_provider.local.workforce import ObjectOutcome, Worker
from gt_provider.s3io import is_s3_uri

MASK_FILE = "mask.png"
#: An earlier mask that agrees with the truth on this share of pixels is left alone.
_GOOD_ENOUGH_AGREEMENT = 0.98


@dataclass(frozen=True)
class Shape:
    """A labeled polygon, in image pixels; a rectangle is a four-point polygon."""

    label: int
    points: tuple[tuple[float, float], ...]


def rasterize(shapes: Sequence[Shape], width: int, height: int) -> Any:
    """A ``height x width`` uint8 array of class ids (0 = background): later shapes paint over earlier ones."""
    import numpy as np
    from PIL import Image, ImageDraw

    canvas = Image.new("L", (width, height), 0)
    pen = ImageDraw.Draw(canvas)
    for shape in shapes:
        pen.polygon([(x, y) for x, y in shape.points], fill=shape.label + 1)
    return np.asarray(canvas, dtype=np.uint8)


def vote_masks(masks: Sequence[Any]) -> tuple[Any, float]:
    """Per-element vote over label arrays of equal shape: (consolidated array, confidence).

    Each worker's weight is its agreement with the unweighted majority; the confidence is
    the mean share of weight behind each element's winning class.
    """
    import numpy as np

    stack = np.stack([np.asarray(mask) for mask in masks])
    classes = np.unique(stack)

    def winner(weights: Any) -> tuple[Any, Any]:
        best_score = np.full(stack.shape[1:], -1.0)
        best_class = np.zeros(stack.shape[1:], dtype=stack.dtype)
        column = weights.reshape((-1,) + (1,) * (stack.ndim - 1))
        for label in classes:
            score = ((stack == label) * column).sum(axis=0)
            better = score > best_score
            best_score[better] = score[better]
            best_class[better] = label
        return best_class, best_score

    majority, _ = winner(np.ones(len(stack)))
    weights = np.array([(mask == majority).mean() if majority.size else 1.0 for mask in stack]) + 1e-9
    consolidated, score = winner(weights)
    share = float((score / weights.sum()).mean()) if score.size else 1.0
    return consolidated, share


def encode_png(mask: Any, spec: JobSpec) -> bytes:
    """A palette PNG of a class-id mask, colored like ``internal-color-map``."""
    from PIL import Image

    height, width = mask.shape
    image = Image.frombytes("P", (width, height), mask.astype("uint8").tobytes())
    palette = [*rgb(BACKGROUND_COLOR)]
    for index in range(len(spec.labels)):
        palette.extend(rgb(label_color(index)))
    image.putpalette(palette)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def decode_mask(body: bytes, metadata: Mapping[str, Any], spec: JobSpec, where: str) -> Any:
    """An earlier mask PNG as this job's class ids, matched by class name through its color map.

    Palette PNGs (ours) carry class ids; RGB PNGs carry the color map's colors.
    """
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(body))
        image.load()
    except (UnidentifiedImageError, OSError):
        raise ReferenceFormatError(f"{where} is not a PNG mask Pillow can read") from None
    colors = metadata.get("internal-color-map") or {}
    if not isinstance(colors, Mapping):
        colors = {}
    to_current: dict[Any, int] = {}
    for class_id, entry in colors.items():
        if not isinstance(entry, Mapping):
            continue
        name = entry.get("class-name")
        current = 0 if name == BACKGROUND_NAME else label_index(name, spec, f"{where}'s internal-color-map") + 1
        key = (
            str(entry.get("hex-color", "")).lower()
            if image.mode in ("RGB", "RGBA")
            else color_map_id(class_id, f"{where}'s internal-color-map")
        )
        to_current[key] = current
    if image.mode in ("RGB", "RGBA"):
        pixels = np.asarray(image.convert("RGB"), dtype=np.uint32)
        packed = (pixels[..., 0] << 16) | (pixels[..., 1] << 8) | pixels[..., 2]
        mask = np.zeros(packed.shape, dtype=np.uint8)
        for color in np.unique(packed):
            key = f"#{int(color):06x}"
            if key not in to_current:
                raise ReferenceFormatError(f"{where} has color {key}, which its internal-color-map does not list")
            mask[packed == color] = to_current[key]
        return mask
    ids = np.asarray(image.convert("L") if image.mode not in ("P", "L") else image, dtype=np.uint8)
    if not to_current:
        if ids.size and int(ids.max()) > len(spec.labels):
            raise ReferenceFormatError(f"{where} has class id {int(ids.max())}; the job has {len(spec.labels)} labels")
        return ids
    lookup = np.zeros(256, dtype=np.uint8)
    for class_id, current in to_current.items():
        lookup[class_id] = current
    unknown = set(np.unique(ids).tolist()) - set(to_current)
    if unknown:
        raise ReferenceFormatError(f"{where} has class ids {sorted(unknown)} that its internal-color-map does not list")
    return lookup[ids]


def _point(value: Any, where: str) -> tuple[float, float]:
    point = sequence(value, where)
    if len(point) != 2:
        raise ReferenceFormatError(f"{where} must be [x, y]")
    return number(point[0], f"{where}[0]", minimum=0), number(point[1], f"{where}[1]", minimum=0)


def parse_shapes(value: Any, spec: JobSpec, size: ImageSize, where: str) -> tuple[Shape, ...]:
    """``[{"label", "rect": [left, top, width, height]} | {"label", "polygon": [[x, y], ...]}]``."""
    shapes = []
    for position, raw in enumerate(sequence(value, where)):
        at = f"{where}[{position}]"
        entry = mapping(raw, at)
        label = label_index(entry.get("label"), spec, at)
        if "rect" in entry:
            rect = sequence(entry["rect"], f"{at}.rect")
            if len(rect) != 4:
                raise ReferenceFormatError(f"{at}.rect must be [left, top, width, height]")
            left, top = number(rect[0], f"{at}.rect[0]", minimum=0), number(rect[1], f"{at}.rect[1]", minimum=0)
            width, height = (
                number(rect[2], f"{at}.rect[2]", positive=True),
                number(rect[3], f"{at}.rect[3]", positive=True),
            )
            points = (
                (left, top),
                (left + width - 1, top),
                (left + width - 1, top + height - 1),
                (left, top + height - 1),
            )
        elif "polygon" in entry:
            vertices = sequence(entry["polygon"], f"{at}.polygon")
            if len(vertices) < 3:
                raise ReferenceFormatError(f"{at}.polygon needs at least 3 points")
            points = tuple(_point(vertex, f"{at}.polygon[{i}]") for i, vertex in enumerate(vertices))
        else:
            raise ReferenceFormatError(f"{at} needs a 'rect' or a 'polygon'")
        if any(x > size.width or y > size.height for x, y in points):
            raise ReferenceFormatError(f"{at} reaches outside the {size.width}x{size.height} image")
        shapes.append(Shape(label, points))
    return tuple(shapes)


def paint(
    reference: Sequence[Shape], worker: Worker, size: ImageSize, n_labels: int, rng: random.Random
) -> tuple[Shape, ...]:
    """A worker's shapes for an image whose truth is ``reference``."""
    error = 1 - worker.accuracy
    sigma = (0.01 + 0.08 * error) * min(size.width, size.height)
    shapes = []
    for shape in reference:
        if rng.random() < error / 2:
            continue
        label = slipped_label(shape.label, n_labels, error, rng)
        shapes.append(Shape(label, _jitter_points(shape.points, sigma, size, rng)))
    return tuple(shapes)


def _jitter_points(
    points: Sequence[tuple[float, float]], sigma: float, size: ImageSize, rng: random.Random
) -> tuple[tuple[float, float], ...]:
    return tuple(
        (min(max(round(x + rng.gauss(0, sigma)), 0), size.width - 1), min(max(round(y + rng.gauss(0, sigma)), 0), size.height - 1))
        for x, y in points
    )  # fmt: skip


def _random_shapes(size: ImageSize, n_labels: int, rng: random.Random) -> tuple[Shape, ...]:
    shapes = []
    for _ in range(rng.randint(1, 2)):
        width, height = rng.randint(1, max(1, size.width // 2)), rng.randint(1, max(1, size.height // 2))
        left, top = rng.randint(0, size.width - width), rng.randint(0, size.height - height)
        corners = ((left, top), (left + width - 1, top), (left + width - 1, top + height - 1), (left, top + height - 1))
        shapes.append(Shape(rng.randrange(n_labels), corners))
    return tuple(shapes)


@dataclass(frozen=True, eq=False)
class SegmentationTask:
    size: ImageSize
    reference: tuple[Shape, ...] | None
    #: The earlier job's mask, as this job's class ids (adjustment only).
    earlier: Any = None
    #: Whether the earlier mask already matches the truth (an adjusting worker keeps it).
    earlier_is_right: bool = False


class SemanticSegmentation(Simulation):
    """Paint every pixel of the job's classes; the label is the S3 URI of the mask PNG."""

    element = "crowd-semantic-segmentation"
    seconds = (30, 300)

    def prepare(self, source: ObjectSource, spec: JobSpec) -> SegmentationTask:
        size, shapes = image_truth(source, spec, "shapes", parse_shapes)
        return SegmentationTask(size, shapes)

    def answer(
        self, task: SegmentationTask, worker: Worker, rng: random.Random, spec: JobSpec
    ) -> tuple[Shape, ...] | None:
        if task.reference is None:
            return _random_shapes(task.size, len(spec.labels), rng)
        return paint(task.reference, worker, task.size, len(spec.labels), rng)

    def render(self, task: SegmentationTask, content: tuple[Shape, ...] | None) -> Any:
        """A worker's mask: its shapes on a blank image (``None``: the earlier mask, kept)."""
        if content is None:
            return task.earlier
        return rasterize(content, task.size.width, task.size.height)

    def answer_content(self, task: SegmentationTask, content: Any, spec: JobSpec) -> dict[str, Any]:
        import numpy as np

        mask = self.render(task, content)
        used = [int(class_id) - 1 for class_id in np.unique(mask) if class_id]
        return {
            self.element: {
                "inputImageProperties": {"height": task.size.height, "width": task.size.width},
                "labelMappings": {spec.labels[index]: {"color": label_color(index)} for index in used},
                "labeledImage": {"pngImageData": base64.b64encode(encode_png(mask, spec)).decode()},
            }
        }

    def consolidate(self, outcomes: Sequence[ObjectOutcome], spec: JobSpec) -> dict[int, Consolidated]:
        results = {}
        for outcome in outcomes:
            masks = [self.render(outcome.task, answer.content) for answer in outcome.answers]
            mask, share = vote_masks(masks)
            metadata: dict[str, Any] = {"internal-color-map": color_map(spec, confidence(share, len(masks)))}
            if outcome.task.earlier is not None:
                changed = any(answer.content is not None for answer in outcome.answers)
                metadata["adjustment-status"] = "adjusted" if changed else "unadjusted"
            results[outcome.index] = Consolidated(None, metadata, Artifact(MASK_FILE, encode_png(mask, spec)))
        return results


class AdjustmentSemanticSegmentation(SemanticSegmentation):
    """Workers start from an earlier job's mask and repaint it where it is wrong.

    A worker repaints with its accuracy (otherwise it submits the earlier mask as is),
    unless the earlier mask already matches the truth.
    """

    def prepare(self, source: ObjectSource, spec: JobSpec) -> SegmentationTask:
        import numpy as np

        attribute, value, metadata = earlier_label(source, spec, ("groundtruth/semantic-segmentation",))
        where = f"the earlier mask {value!r} ({attribute})"
        if not (is_s3_uri(value)):
            raise ReferenceFormatError(f"the earlier label {attribute!r} is not the S3 URI of a mask")
        body = source.fetch(value)
        if body is None:
            raise ReferenceFormatError(f"{where} does not exist")
        earlier = decode_mask(body, metadata, spec, where)
        earlier_size = ImageSize(earlier.shape[1], earlier.shape[0])
        raw = source.reference
        if raw is None:
            return SegmentationTask(earlier_size, None, earlier)
        reference = mapping(raw, "the reference answer")
        size = image_size(reference, source, earlier_size)
        if (size.width, size.height) != (earlier_size.width, earlier_size.height):
            raise ReferenceFormatError(
                f"{where} is {earlier_size.width}x{earlier_size.height}, the image {size.width}x{size.height}"
            )
        shapes = parse_shapes(reference.get("shapes"), spec, size, "the reference answer's shapes")
        truth = rasterize(shapes, size.width, size.height)
        right = float(np.mean(truth == earlier)) >= _GOOD_ENOUGH_AGREEMENT
        return SegmentationTask(size, shapes, earlier, right)

    def answer(
        self, task: SegmentationTask, worker: Worker, rng: random.Random, spec: JobSpec
    ) -> tuple[Shape, ...] | None:
        if task.reference is None or task.earlier_is_right or rng.random() >= worker.accuracy:
            return None  # submits the earlier mask unchanged
        sigma = (0.005 + 0.03 * (1 - worker.accuracy)) * min(task.size.width, task.size.height)
        return tuple(Shape(s.label, _jitter_points(s.points, sigma, task.size, rng)) for s in task.reference)
