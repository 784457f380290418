"""Counts of a dataset, gathered while it is written, for ``dataset.json`` (see :mod:`.card`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gt_provider.datasets.errors import DatasetError
from gt_provider.datasets.records import LabeledObject

#: Confidence histogram bins: [0.0, 0.1), [0.1, 0.2), ..., [0.9, 1.0] (the last one closed).
CONFIDENCE_BINS = 10
_BIN_EDGES = tuple(index / CONFIDENCE_BINS for index in range(CONFIDENCE_BINS + 1))

#: Bins of the machine labels' confidence histogram, per split: their median is read from it,
#: to 1 / MACHINE_CONFIDENCE_BINS (the midpoint of the bin holding the middle value).
MACHINE_CONFIDENCE_BINS = 100


class DatasetStatistics:
    """Counts of a dataset, accumulated one object at a time while it is written.

    Memory is O(splits x classes) whatever the number of objects, and :meth:`add` does a
    handful of dictionary updates, so statistics of a million-object dataset cost about a
    second. Objects are counted per split and per split x class: an object counts once for
    each class it carries, and for labels with several parts (boxes, entities, cuboids) the
    parts are counted too, as instances.
    """

    __slots__ = (
        "_confidence_bins",
        "_confidence_count",
        "_confidence_min",
        "_confidence_sum",
        "_dropped",
        "_machine",
        "_placed",
        "_shape_ids",
        "_shapes",
        "_splits",
        "_without_confidence",
    )

    def __init__(self, splits: Sequence[str]) -> None:
        self._splits = tuple(splits)
        #: Shape id -> (failed, class names, extra instances per name, has no label, human).
        self._shapes: list[tuple[bool, tuple[str, ...], tuple[tuple[str, int], ...], bool, bool]] = []
        self._shape_ids: dict[Any, int] = {}
        #: Per split: shape id -> objects placed in the split with that shape.
        self._placed: dict[str, dict[int, int]] = {split: {} for split in self._splits}
        self._confidence_bins = [0] * CONFIDENCE_BINS
        self._confidence_count = 0
        self._confidence_sum = 0.0
        self._confidence_min: float | None = None
        self._without_confidence = 0
        self._dropped: dict[str, int] = {}
        #: Per split, machine-labeled objects' confidence: [bins..., count, sum, min] (min None when count is 0).
        self._machine: dict[str, list[Any]] = {split: _machine_confidence() for split in self._splits}

    def add(self, split: str, obj: LabeledObject) -> None:
        """Count ``obj``, written to ``split``."""
        classes = obj.classes
        if len(classes) == 1 and obj.failure_reason is None and not obj.boxes and not obj.entities and not obj.cuboids:
            shape = self._shape_ids.get((classes[0].name, obj.human_annotated))  # most objects: a known shape
            if shape is not None:
                self.place(split, shape, classes[0].confidence)
                return
        self.place(split, self.shape(obj), obj.confidence)

    def shape(self, obj: LabeledObject) -> int:
        """What ``obj`` adds to the per-split counts (classes, instances, human or machine), as a small id.

        Objects of a dataset come in few shapes (a class and who labeled it, for
        classification), so a build that must decide an object's split later can keep the id
        and the confidence instead of the object, and :meth:`place` it then.
        """
        classes = obj.classes
        if obj.failure_reason is None and len(classes) == 1 and not obj.boxes and not obj.entities and not obj.cuboids:
            # The common case, one class per object: no name lists built, instances = objects.
            key: Any = (classes[0].name, obj.human_annotated)
        elif obj.failure_reason is not None:  # kept as is (an augmented-manifest export); has no label
            key = (True, (), (), True, obj.human_annotated)
        else:
            parts = [label.name for label in classes]
            parts += [box.name for box in obj.boxes]
            parts += [entity.label for entity in obj.entities]
            parts += [cuboid.label for cuboid in obj.cuboids]
            names = dict.fromkeys(parts) if parts else dict.fromkeys(obj.label_names)  # masks: the class map
            extra: dict[str, int] = {}
            for name in parts:
                extra[name] = extra.get(name, 0) + 1
            extras = tuple((name, count - 1) for name, count in extra.items() if count > 1)
            key = (False, tuple(names), extras, not names, obj.human_annotated)
        shape = self._shape_ids.get(key)
        if shape is None:
            shape = self._shape_ids[key] = len(self._shapes)
            self._shapes.append(key if len(key) == 5 else (False, (key[0],), (), False, key[1]))
        return shape

    def place(self, split: str, shape: int, confidence: float | None) -> None:
        """Count an object of ``shape`` (from :meth:`shape`) with ``confidence``, written to ``split``."""
        placed = self._placed.get(split)
        if placed is None:
            raise DatasetError(f"unknown split {split!r}; the dataset's splits are {list(self._splits)}")
        placed[shape] = placed.get(shape, 0) + 1
        key = self._shapes[shape]
        if not key[0]:
            self._count_confidence(confidence)
            if not key[4] and confidence is not None and confidence == confidence:  # machine-labeled, a number
                _count_machine_confidence(self._machine[split], confidence)

    def _count_confidence(self, value: float | None) -> None:
        if value is None or not 0.0 <= value <= 1.0:  # None, NaN, or not a probability
            if value is None or value != value:
                self._without_confidence += 1
                return
            value = min(max(value, 0.0), 1.0)
        index = int(value * CONFIDENCE_BINS)
        # value * 10 can round across an edge: settle on the edges themselves ([0.9, 1.0] is closed).
        if index == CONFIDENCE_BINS or value < _BIN_EDGES[index]:
            index -= 1
        elif value >= _BIN_EDGES[index + 1]:
            index += 1
        self._confidence_bins[index] += 1
        self._confidence_count += 1
        self._confidence_sum += value
        if self._confidence_min is None or value < self._confidence_min:
            self._confidence_min = value

    def merge(self, other: DatasetStatistics) -> None:
        """Add the counts ``other`` gathered from other objects of the same dataset (same splits)."""
        if other._splits != self._splits:
            raise DatasetError(f"cannot merge the statistics of splits {list(other._splits)} into {list(self._splits)}")
        shape_of = {key: shape for shape, key in enumerate(self._shapes)}
        for split, placed in other._placed.items():
            mine = self._placed[split]
            for other_shape, count in placed.items():
                key = other._shapes[other_shape]
                shape = shape_of.get(key)
                if shape is None:
                    shape = shape_of[key] = self._shape_ids[key] = len(self._shapes)
                    self._shapes.append(key)
                mine[shape] = mine.get(shape, 0) + count
        for index, count in enumerate(other._confidence_bins):
            self._confidence_bins[index] += count
        self._confidence_count += other._confidence_count
        self._confidence_sum += other._confidence_sum
        if other._confidence_min is not None and (
            self._confidence_min is None or other._confidence_min < self._confidence_min
        ):
            self._confidence_min = other._confidence_min
        self._without_confidence += other._without_confidence
        for reason, count in other._dropped.items():
            self._dropped[reason] = self._dropped.get(reason, 0) + count
        for split, theirs in other._machine.items():
            mine = self._machine[split]
            for index in range(MACHINE_CONFIDENCE_BINS + 2):  # the bins, the count and the sum
                mine[index] += theirs[index]
            if theirs[-1] is not None and (mine[-1] is None or theirs[-1] < mine[-1]):
                mine[-1] = theirs[-1]

    def drop(self, reason: str) -> None:
        """Count an object left out of the dataset, by why (``failed``, ``low-confidence``, ``duplicate``...)."""
        self._dropped[reason] = self._dropped.get(reason, 0) + 1

    @property
    def total(self) -> int:
        """Objects in the dataset, over all splits."""
        return sum(sum(placed.values()) for placed in self._placed.values())

    def to_dict(self) -> dict[str, Any]:
        """The ``counts``, ``confidence`` and ``annotation`` sections of ``dataset.json``.

        Classes are sorted by name so that two builds of the same data give the same card.
        ``counts.failed`` is every failed object seen, dropped or kept;
        ``counts.instances_per_split_class`` is there only when labels have several parts, and
        ``counts.without_labels`` only when some kept object has no label.
        """
        objects: dict[str, dict[str, int]] = {split: {} for split in self._splits}
        extra_instances: dict[str, dict[str, int]] = {split: {} for split in self._splits}
        without_labels = dict.fromkeys(self._splits, 0)
        human = machine = failed_kept = 0
        #: split -> class -> [human, machine] objects.
        by_whom: dict[str, dict[str, list[int]]] = {split: {} for split in self._splits}
        for split, placed in self._placed.items():
            for shape, count in placed.items():
                failed, names, extras, labelless, by_human = self._shapes[shape]
                if failed:
                    failed_kept += count
                    without_labels[split] += count
                    continue
                human += count if by_human else 0
                machine += 0 if by_human else count
                who = by_whom[split]
                for name in names:
                    objects[split][name] = objects[split].get(name, 0) + count
                    pair = who.get(name)
                    if pair is None:
                        pair = who[name] = [0, 0]
                    pair[0 if by_human else 1] += count
                for name, extra in extras:
                    extra_instances[split][name] = extra_instances[split].get(name, 0) + extra * count
                without_labels[split] += count if labelless else 0
        counts: dict[str, Any] = {
            "total": self.total,
            "per_split": {split: sum(placed.values()) for split, placed in self._placed.items()},
            "per_split_class": {split: _sorted(objects[split]) for split in self._splits},
        }
        if any(any(extra.values()) for extra in extra_instances.values()):
            counts["instances_per_split_class"] = {
                split: {name: n + extra_instances[split].get(name, 0) for name, n in _sorted(objects[split]).items()}
                for split in self._splits
            }
        if any(without_labels.values()):
            counts["without_labels"] = without_labels
        counts["dropped"] = _sorted(self._dropped)
        counts["failed"] = self._dropped.get("failed", 0) + failed_kept
        histogram = [
            {"from": _BIN_EDGES[index], "to": _BIN_EDGES[index + 1], "count": count}
            for index, count in enumerate(self._confidence_bins)
        ]
        mean = self._confidence_sum / self._confidence_count if self._confidence_count else None
        return {
            "counts": counts,
            "confidence": {
                "histogram": histogram,
                "without_confidence": self._without_confidence,
                "min": self._confidence_min,
                "mean": None if mean is None else round(mean, 6),
            },
            "annotation": self._annotation(human, machine, by_whom),
        }

    def _annotation(self, human: int, machine: int, by_whom: Mapping[str, Mapping[str, list[int]]]) -> dict[str, Any]:
        """``annotation``: objects labeled by people and by the model; per split and class when some are machine's.

        ``per_split`` (split -> class -> ``{"human", "machine"}`` objects, classes by name) and
        ``machine_confidence`` (``min``/``median``/``mean``/``count`` of the machine-labeled
        objects' confidence, overall and ``per_split``) are there only when the model labeled
        something, so a human-only dataset's card is as before.
        """
        annotation: dict[str, Any] = {"human": human, "machine": machine}
        if not machine:
            return annotation
        annotation["per_split"] = {
            split: {name: {"human": pair[0], "machine": pair[1]} for name, pair in sorted(by_whom[split].items())}
            for split in self._splits
        }
        overall = _machine_confidence()
        for values in self._machine.values():
            for index in range(MACHINE_CONFIDENCE_BINS + 2):
                overall[index] += values[index]
            if values[-1] is not None and (overall[-1] is None or values[-1] < overall[-1]):
                overall[-1] = values[-1]
        annotation["machine_confidence"] = {
            **_summarize_machine_confidence(overall),
            "per_split": {split: _summarize_machine_confidence(self._machine[split]) for split in self._splits},
        }
        return annotation


def _machine_confidence() -> list[Any]:
    return [0] * MACHINE_CONFIDENCE_BINS + [0, 0.0, None]


def _count_machine_confidence(values: list[Any], value: float) -> None:
    value = min(max(value, 0.0), 1.0)
    index = int(value * MACHINE_CONFIDENCE_BINS)
    # value * 100 can round across an edge (0.29 * 100 < 29): settle on the edges themselves.
    if index and value < index / MACHINE_CONFIDENCE_BINS:
        index -= 1
    elif value >= (index + 1) / MACHINE_CONFIDENCE_BINS:
        index += 1
    values[min(index, MACHINE_CONFIDENCE_BINS - 1)] += 1  # [0.99, 1.0] is closed
    values[MACHINE_CONFIDENCE_BINS] += 1
    values[MACHINE_CONFIDENCE_BINS + 1] += value
    if values[-1] is None or value < values[-1]:
        values[-1] = value


def _summarize_machine_confidence(values: list[Any]) -> dict[str, Any]:
    """min, median (the midpoint of the bin of the lower middle value), mean and count; None without any."""
    count = values[MACHINE_CONFIDENCE_BINS]
    if not count:
        return {"min": None, "median": None, "mean": None, "count": 0}
    middle = (count + 1) // 2  # the lower median: the middle value's rank, from 1
    seen = 0
    for index in range(MACHINE_CONFIDENCE_BINS):
        seen += values[index]
        if seen >= middle:
            break
    median = (index + 0.5) / MACHINE_CONFIDENCE_BINS
    return {
        "min": values[-1],
        "median": round(median, 6),
        "mean": round(values[MACHINE_CONFIDENCE_BINS + 1] / count, 6),
        "count": count,
    }


def _sorted(counts: Mapping[str, int]) -> dict[str, int]:
    return {name: counts[name] for name in sorted(counts)}
