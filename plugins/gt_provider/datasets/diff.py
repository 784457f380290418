"""What changed between two versions of a dataset: objects added, relabeled and removed.

Each version's ``augmented-manifest/<split>.manifest`` files (what ``dataset.json`` lists)
are read and keyed by object (``source-ref`` or ``source``). An object in the new version
only is *added*; in the old only, *removed*; in both with another label, *relabeled* -- with
the old and new label and the job that gave the new one. "Another label" compares the whole
label: the classes, every box's class and geometry, entity spans, a mask's or sequence's
file; a box that a later adjustment job moved is relabeled even if its class stayed. An
object that only changed split is not counted (splits are stable from version to version
unless the split settings changed).

:class:`Changes` counts the same while a version is built (its card's ``changes``), from
the labels the build already reads: the parent's carried-forward objects and the new jobs'.

Memory: one small entry per object of each version (its split, a label signature and the
job name), so a million-object pair of versions needs a few hundred MB. Standard library
only, plus boto3 for ``s3://`` roots.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

from gt_provider.datasets.errors import DatasetReadError
from gt_provider.datasets.reading.parse import read_output_manifest
from gt_provider.datasets.records import LabeledObject, LabelKind
from gt_provider.datasets.storage import DatasetLocation

MANIFEST_FORMAT = "augmented-manifest"
#: Ground Truth writes ``job-name`` as ``labeling-job/<name>``; the diff shows the name.
JOB_PREFIX = "labeling-job/"


class _Entry(NamedTuple):
    split: str
    signature: Any
    text: str
    job: str


@dataclass(frozen=True)
class Change:
    """One object that differs between the versions."""

    source: str
    split: str
    #: The label in the old version (None: added).
    old: str | None
    #: The label in the new version (None: removed).
    new: str | None
    #: The job that gave the new label (for a removed object: the one that gave the old).
    job: str


@dataclass
class DatasetDiff:
    """Objects added, relabeled and removed from ``old_version`` to ``new_version``."""

    name: str
    old_version: int
    new_version: int
    added: list[Change] = field(default_factory=list)
    relabeled: list[Change] = field(default_factory=list)
    removed: list[Change] = field(default_factory=list)
    unchanged: int = 0

    def headline(self) -> str:
        return (
            f"{self.name} v={self.old_version} -> v={self.new_version}: {len(self.added):,} added, "
            f"{len(self.relabeled):,} relabeled, {len(self.removed):,} removed, {self.unchanged:,} unchanged"
        )

    def lines(self, limit: int | None = 50) -> Iterator[str]:
        """The headline, then each section, at most ``limit`` changes per section (None: all)."""
        yield self.headline()
        sections = (("added", self.added), ("relabeled", self.relabeled), ("removed", self.removed))
        for title, changes in sections:
            yield f"{title} ({len(changes):,}):"
            shown = changes if limit is None else changes[:limit]
            for change in shown:
                if title == "relabeled":
                    label = f"{change.old} -> {change.new}"
                else:
                    label = change.new if title == "added" else change.old
                yield f"  {change.split:<10} {change.source[:120]}  {label}  (job {change.job})"
            if len(shown) < len(changes):
                yield f"  ... and {len(changes) - len(shown):,} more"

    def relabel_counts(self) -> Counter[tuple[str | None, str | None]]:
        """How many objects went from each old label to each new one."""
        return Counter((change.old, change.new) for change in self.relabeled)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "old_version": self.old_version,
            "new_version": self.new_version,
            "unchanged": self.unchanged,
            **{title: [asdict(c) for c in getattr(self, title)] for title in ("added", "relabeled", "removed")},
        }


#: Relabeled objects a card lists by name; the rest are counted.
MAX_CARD_EXAMPLES = 10


@dataclass
class Changes:
    """Objects added, relabeled, removed and unchanged since the parent version, counted while a version is written.

    The dataset build's writer calls :meth:`compare` for a source with a parent label and a
    new one, and counts the rest; the counts of processes that wrote parts of one version
    are added up (:meth:`merge`). Only the commonest relabelings (old -> new label) and the
    :data:`MAX_CARD_EXAMPLES` relabeled objects first by source are kept; ``python -m gt_provider.datasets
    diff`` lists every change of two committed versions.
    """

    added: int = 0
    relabeled: int = 0
    removed: int = 0
    unchanged: int = 0
    relabelings: Counter[tuple[str, str]] = field(default_factory=Counter)
    examples: list[Change] = field(default_factory=list)

    def compare(self, old: LabeledObject, new: LabeledObject, split: str) -> None:
        """Count ``new`` (written to ``split``) against the parent's label ``old`` of the same source."""
        if same_label(old, new):
            self.unchanged += 1
            return
        self.relabeled += 1
        change = Change(new.source, split, label_text(old), label_text(new), new.job_name.removeprefix(JOB_PREFIX))
        self.relabelings[(change.old, change.new)] += 1  # type: ignore[index]
        self.examples.append(change)
        if len(self.examples) > 4 * MAX_CARD_EXAMPLES:
            self._keep_first_examples()

    def merge(self, other: Changes) -> None:
        self.added += other.added
        self.relabeled += other.relabeled
        self.removed += other.removed
        self.unchanged += other.unchanged
        self.relabelings.update(other.relabelings)
        self.examples += other.examples
        self._keep_first_examples()

    def _keep_first_examples(self) -> None:
        """The examples are the relabeled objects first by source: the same whichever process counted them."""
        self.examples = sorted(self.examples, key=lambda change: change.source)[:MAX_CARD_EXAMPLES]

    def card(self, since_version: int) -> dict[str, Any]:
        """The card's ``changes``: the counts, the ten commonest relabelings, the first relabeled objects."""
        return {
            "since_version": since_version,
            "added": self.added,
            "relabeled": self.relabeled,
            "removed": self.removed,
            "unchanged": self.unchanged,
            "relabelings": [
                {"old": old, "new": new, "objects": count}
                for (old, new), count in sorted(self.relabelings.items(), key=lambda item: (-item[1], item[0]))[:10]
            ],
            "relabeled_examples": [
                asdict(change) for change in sorted(self.examples, key=lambda c: c.source)[:MAX_CARD_EXAMPLES]
            ],
        }


def same_label(old: LabeledObject, new: LabeledObject) -> bool:
    """Whether two labels of one object are the same label (see the module docstring)."""
    return _signature(old) == _signature(new)


def label_text(obj: LabeledObject) -> str:
    """The label as a reviewer reads it: class names, or what the boxes, spans or file are."""
    if obj.kind in (LabelKind.CLASS, LabelKind.MULTI_LABEL, LabelKind.VERIFICATION):
        return ", ".join(label.name for label in obj.classes) or "(no label)"
    if obj.kind is LabelKind.BOXES:
        names = Counter(box.name for box in obj.boxes)
        listed = ", ".join(f"{name} x{count}" if count > 1 else name for name, count in names.items())
        return f"{len(obj.boxes)} box{'es' if len(obj.boxes) != 1 else ''}" + (f": {listed}" if listed else "")
    if obj.kind is LabelKind.ENTITIES:
        return ", ".join(f"{e.label}[{e.start}:{e.end}]" for e in obj.entities) or "(no entities)"
    if obj.kind is LabelKind.CUBOIDS:
        return f"{len(obj.cuboids)} cuboids: " + ", ".join(sorted({c.label for c in obj.cuboids}))
    return f"{obj.kind.value} {obj.ref or ''}".strip()


def _signature(obj: LabeledObject) -> Any:
    """What makes two labels of one object the same label."""
    return (
        tuple(label.name for label in obj.classes),
        tuple((b.name, round(b.left, 2), round(b.top, 2), round(b.width, 2), round(b.height, 2)) for b in obj.boxes),
        tuple((e.label, e.start, e.end) for e in obj.entities),
        tuple((c.label, c.centre, c.size, c.rotation) for c in obj.cuboids),
        obj.ref,
    )


def version_objects(location: DatasetLocation, version: int, *, s3_client: Any | None = None) -> dict[str, _Entry]:
    """Every object of a version by its source: split, label signature and text, and job."""
    card = location.read_card(version)
    manifests = (card.get("files") or {}).get(MANIFEST_FORMAT)
    if not manifests:
        raise DatasetReadError(f"{location.version_uri(version)} lists no {MANIFEST_FORMAT} files in its dataset.json")
    objects: dict[str, _Entry] = {}
    for split, paths in manifests.items():
        for path in paths:
            uri = location.uri_of(f"v={version}/{path}")
            for obj in read_output_manifest(uri, attribute=card.get("label_attribute"), s3_client=s3_client):
                if not isinstance(obj, LabeledObject):
                    raise DatasetReadError(f"{uri}: {obj}")
                objects[obj.source] = _Entry(
                    split, _signature(obj), label_text(obj), obj.job_name.removeprefix(JOB_PREFIX)
                )
    return objects


def diff_versions(root: str, old: int, new: int, *, s3_client: Any | None = None) -> DatasetDiff:
    """What changed from version ``old`` to ``new`` of the dataset under ``root`` (folder or ``s3://``)."""
    location = DatasetLocation(root, s3_client=s3_client)
    before = version_objects(location, old, s3_client=s3_client)
    after = version_objects(location, new, s3_client=s3_client)
    name = location.read_card(new).get("name") or location.root.rstrip("/").rsplit("/", 1)[-1]
    diff = DatasetDiff(name=name, old_version=old, new_version=new)
    for source, entry in after.items():
        previous = before.get(source)
        if previous is None:
            diff.added.append(Change(source, entry.split, None, entry.text, entry.job))
        elif previous.signature != entry.signature:
            diff.relabeled.append(Change(source, entry.split, previous.text, entry.text, entry.job))
        else:
            diff.unchanged += 1
    diff.removed = [
        Change(source, entry.split, entry.text, None, entry.job)
        for source, entry in before.items()
        if source not in after
    ]
    return diff
