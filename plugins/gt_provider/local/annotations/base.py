"""What every task type's simulation shares: the job it works for, its results, its helpers.

A :class:`Simulation` answers three questions for ``models.py`` (which owns state) and
``output.py`` (which writes the job's files to S3): how to read one manifest line
(:meth:`Simulation.prepare`), how one worker answers it (:meth:`Simulation.answer` and the
worker response's ``answerContent``), and how the answers of all workers become the
``<attr>`` value and metadata of the output manifest (:meth:`Simulation.consolidate`).
Anything a line gets wrong raises :class:`ReferenceFormatError`, which fails that one
object, not the job.
"""

from __future__ import annotations

import io
import json
import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from gt_provider import task_types
from gt_provider.local.settings import REFERENCE_ANSWER_FIELD
from gt_provider.local.workforce import ObjectOutcome, Worker
from gt_provider.manifests.gold import GOLD_KEY
from gt_provider.s3io import is_s3_uri

_Truth = TypeVar("_Truth")


class ReferenceFormatError(ValueError):
    """A reference answer or earlier label that cannot be used: it fails only its object."""


@dataclass(frozen=True)
class JobSpec:
    """The parts of a labeling job a simulation needs, already validated by ``models.py``."""

    name: str
    task_type: task_types.TaskType
    labels: tuple[str, ...]
    #: The label category configuration's entries, as given (NER echoes ``shortDisplayName``).
    label_entries: tuple[Mapping[str, Any], ...]
    #: The earlier job's label attribute (``auditLabelAttributeName``) for review task types.
    audit_label_attribute_name: str | None = None


@dataclass(frozen=True)
class ObjectSource:
    """One input manifest line, where it was, and a reader of ``s3://`` URIs it points at."""

    line: Mapping[str, Any]
    line_number: int
    fetch: Callable[[str], bytes | None]

    @property
    def reference(self) -> Any:
        """The line's reference answer, or None: then workers answer without one.

        An object or list may come JSON-encoded in a string: S3 user metadata holds strings
        only, and ``BuildManifestOperator(carry_metadata=...)`` copies it as it is. A gold
        line's known answer (``gt-gold-label``) is the reference when the line has no other.
        """
        answer = self.line.get(REFERENCE_ANSWER_FIELD, self.line.get(GOLD_KEY))
        if isinstance(answer, str) and answer[:1] in ("{", "["):
            try:
                return json.loads(answer)
            except ValueError:
                return answer  # not JSON after all: the simulation reports the line
        return answer


@dataclass(frozen=True)
class Artifact:
    """A file Ground Truth writes next to the manifest (mask PNG, ``SeqLabel.json``...).

    ``output.py`` stores it under ``annotations/consolidated-annotation/output/<id>/<name>``
    and the ``<attr>`` value becomes its S3 URI.
    """

    name: str
    body: bytes


@dataclass(frozen=True)
class Consolidated:
    """One object's consolidated label: ``<attr>`` value and the type-specific metadata."""

    value: Any
    metadata: dict[str, Any]
    artifact: Artifact | None = None


@dataclass(frozen=True)
class ImageSize:
    width: int
    height: int
    depth: int = 3

    def as_output(self) -> dict[str, int]:
        return {"width": self.width, "height": self.height, "depth": self.depth}


class Simulation(ABC):
    """How the simulated workforce labels one family of task types, and how GT consolidates it."""

    #: The crowd element whose ``name=`` keys a worker's answer in ``answerContent``.
    element: str
    #: Seconds a worker spends on one task (low, high): drawn uniformly.
    seconds: tuple[int, int] = (3, 40)

    @abstractmethod
    def prepare(self, source: ObjectSource, spec: JobSpec) -> Any:
        """Parse the line's reference answer (and earlier label); raise ReferenceFormatError."""

    @abstractmethod
    def answer(self, task: Any, worker: Worker, rng: random.Random, spec: JobSpec) -> Any:
        """One worker's answer: right with the worker's accuracy, random without a reference."""

    @abstractmethod
    def answer_content(self, task: Any, content: Any, spec: JobSpec) -> dict[str, Any]:
        """The worker response's ``answerContent`` for one answer, as the UI submits it."""

    @abstractmethod
    def consolidate(self, outcomes: Sequence[ObjectOutcome], spec: JobSpec) -> dict[int, Consolidated]:
        """The consolidated label of every answered object, by object index."""


# ------------------------------------------------------------------- helpers


def label_index(name: Any, spec: JobSpec, where: str) -> int:
    """The class id of label ``name``: its position in the label category configuration."""
    if not isinstance(name, str) or name not in spec.labels:
        raise ReferenceFormatError(f"{where}: the label {name!r} is not one of the job's labels {list(spec.labels)}")
    return spec.labels.index(name)


def number(value: Any, where: str, *, minimum: float | None = None, positive: bool = False) -> float:
    """A JSON number (not a bool) within bounds, or a ReferenceFormatError saying where."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ReferenceFormatError(f"{where} must be a number, got {value!r}")
    if positive and value <= 0:
        raise ReferenceFormatError(f"{where} must be > 0, got {value!r}")
    if minimum is not None and value < minimum:
        raise ReferenceFormatError(f"{where} must be >= {minimum}, got {value!r}")
    return float(value)


def mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ReferenceFormatError(f"{where} must be a JSON object, got {type(value).__name__}")
    return value


def sequence(value: Any, where: str) -> Sequence[Any]:
    if not isinstance(value, list):
        raise ReferenceFormatError(f"{where} must be a JSON list, got {type(value).__name__}")
    return value


def image_size(
    reference: Mapping[str, Any] | None, source: ObjectSource, fallback: ImageSize | None = None
) -> ImageSize:
    """The image's size: from the reference, else an earlier label, else the image in S3.

    Reading the image is the last resort (and what Ground Truth does): the reference is
    cheaper and works when the images are not uploaded to the local AWS.
    """
    given = (reference or {}).get("image_size")
    if given is not None:
        size = mapping(given, f"{REFERENCE_ANSWER_FIELD}.image_size")
        return ImageSize(
            int(number(size.get("width"), "image_size.width", positive=True)),
            int(number(size.get("height"), "image_size.height", positive=True)),
            int(number(size.get("depth", 3), "image_size.depth", positive=True)),
        )
    if fallback is not None:
        return fallback
    uri = source.line.get("source-ref")
    body = source.fetch(uri) if is_s3_uri(uri) else None
    if body is not None:
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(io.BytesIO(body)) as image:
                return ImageSize(image.width, image.height, len(image.getbands()))
        except (UnidentifiedImageError, OSError):
            raise ReferenceFormatError(f"the image {uri} is not an image Pillow can read") from None
    raise ReferenceFormatError(
        f"the image size is unknown: give {REFERENCE_ANSWER_FIELD}.image_size "
        f'({{"width": ..., "height": ...}}) or upload the image to {uri}'
    )


def image_truth(
    source: ObjectSource,
    spec: JobSpec,
    key: str,
    parse: Callable[[Any, JobSpec, ImageSize, str], _Truth],
) -> tuple[ImageSize, _Truth | None]:
    """(image size, the reference answer's ``key`` parsed, or None) of an image task's line.

    ``parse(value, spec, size, where)`` checks the drawn objects against the image. Without
    a reference there is no truth, and the size comes from the image in S3.
    """
    raw = source.reference
    if raw is None:
        return image_size(None, source), None
    reference = mapping(raw, "the reference answer")
    size = image_size(reference, source)
    return size, parse(reference.get(key), spec, size, f"the reference answer's {key}")


def earlier_label(
    source: ObjectSource, spec: JobSpec, output_types: Sequence[str]
) -> tuple[str, Any, Mapping[str, Any]]:
    """(attribute, value, metadata) of the label a review job verifies or adjusts.

    The attribute is the label category configuration's ``auditLabelAttributeName``; without
    one (image review jobs may omit it) it is the line's only label whose metadata ``type``
    is one the review applies to.
    """
    line = source.line
    attribute = spec.audit_label_attribute_name
    if attribute is None:
        candidates = [
            key[: -len("-metadata")]
            for key, value in line.items()
            if key.endswith("-metadata")
            and isinstance(value, Mapping)
            and value.get("type") in output_types
            and key[: -len("-metadata")] in line
        ]
        if len(candidates) != 1:
            raise ReferenceFormatError(
                f"found {len(candidates)} earlier labels of type {' or '.join(output_types)} on the line; "
                "name the one to review with auditLabelAttributeName in the label category configuration"
            )
        attribute = candidates[0]
    if attribute not in line:
        raise ReferenceFormatError(f"the line has no earlier label {attribute!r} (auditLabelAttributeName) to review")
    metadata = line.get(f"{attribute}-metadata")
    if not isinstance(metadata, Mapping):
        metadata = {}
    if "failure-reason" in metadata:
        raise ReferenceFormatError(f"the earlier label {attribute!r} failed: {metadata['failure-reason']}")
    return attribute, line[attribute], metadata


def earlier_file(
    source: ObjectSource, spec: JobSpec, output_types: Sequence[str], kind: str
) -> tuple[str, str, Mapping[str, Any], bytes]:
    """(attribute, S3 URI, metadata, bytes) of an earlier label kept in a file (``kind``).

    Some output types write the label to S3 and put its URI on the line (``SeqLabel.json``,
    point labels); a review job reads that file back.
    """
    attribute, value, metadata = earlier_label(source, spec, output_types)
    if not (is_s3_uri(value)):
        raise ReferenceFormatError(f"the earlier label {attribute!r} is not the S3 URI of {kind}")
    body = source.fetch(value)
    if body is None:
        raise ReferenceFormatError(f"the earlier label's {value} does not exist")
    return attribute, value, metadata, body


def earlier_class_index(class_id: Any, metadata: Mapping[str, Any], spec: JobSpec, where: str) -> int:
    """This job's class id of an earlier label's class id, matched by class name.

    The earlier job may have listed its labels in another order; its ``class-map`` (or
    ``class_map``, as 3D point cloud output spells it) says which name an id meant.
    """
    class_map = metadata.get("class-map") or metadata.get("class_map")
    if isinstance(class_map, Mapping) and str(class_id) in class_map:
        return label_index(class_map[str(class_id)], spec, where)
    try:
        index = int(class_id)
    except (TypeError, ValueError):
        raise ReferenceFormatError(f"{where}: class id {class_id!r} is not a number") from None
    if not 0 <= index < len(spec.labels):
        raise ReferenceFormatError(f"{where}: class id {index} has no entry in the earlier label's class-map")
    return index


def color_map_id(class_id: Any, where: str) -> int:
    """A key of an earlier ``internal-color-map`` / ``color-map``: a class id a mask can hold."""
    if not (isinstance(class_id, str) and class_id.isdigit() and int(class_id) < 256):
        raise ReferenceFormatError(f"{where}: color map key {class_id!r} is not a class id 0-255")
    return int(class_id)


def confidence(value: float, n_workers: int) -> float:
    """Ground Truth's confidence: 0.00 when one worker answered (nothing to weigh)."""
    return 0.0 if n_workers <= 1 else round(min(max(value, 0.0), 1.0), 2)


def kept_by_vote(votes: int, n_workers: int) -> bool:
    """A drawn object (box, span, cuboid) survives consolidation when most workers drew it."""
    return n_workers <= 1 or votes * 2 > n_workers


def other_label(label: int, n_labels: int, rng: random.Random) -> int:
    """Any class but ``label``, uniformly: a worker's wrong class."""
    return rng.choice([i for i in range(n_labels) if i != label])


def slipped_label(label: int, n_labels: int, error: float, rng: random.Random) -> int:
    """The class a worker gives a drawn object of class ``label``: another with probability ``error / 4``."""
    if n_labels > 1 and rng.random() < error / 4:
        return other_label(label, n_labels, rng)
    return label


def used_class_map(class_ids: Sequence[int], spec: JobSpec) -> dict[str, str]:
    """``class-map`` of the classes that occur in a label, as Ground Truth lists it."""
    return {str(class_id): spec.labels[class_id] for class_id in sorted(set(class_ids))}


# Ground Truth's default label colors (the d3 "category10" palette); classes past ten get a
# color derived from their id, so every class of a 50-label job has a distinct one.
_CATEGORY10 = (
    "#2ca02c",
    "#1f77b4",
    "#ff7f0e",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
BACKGROUND_NAME = "BACKGROUND"
BACKGROUND_COLOR = "#ffffff"


def label_color(index: int) -> str:
    """The hex color of label ``index`` (class id ``index + 1`` in a mask)."""
    if index < len(_CATEGORY10):
        return _CATEGORY10[index]
    rng = random.Random(index)
    return "#" + "".join(f"{rng.randrange(32, 224):02x}" for _ in range(3))


def rgb(hex_color: str) -> tuple[int, int, int]:
    value = hex_color.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def color_map(spec: JobSpec, confidence_value: float, background: str = BACKGROUND_NAME) -> dict[str, dict[str, Any]]:
    """``internal-color-map`` / ``color-map``: class id -> name, color, confidence.

    Id 0 is the unlabeled background; label ``i`` of the configuration is id ``i + 1``.
    Ground Truth scores segmentation per image, so every class gets the same confidence.
    """
    colors = {"0": {"class-name": background, "hex-color": BACKGROUND_COLOR, "confidence": confidence_value}}
    for index, name in enumerate(spec.labels):
        colors[str(index + 1)] = {"class-name": name, "hex-color": label_color(index), "confidence": confidence_value}
    return colors
