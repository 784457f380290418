"""The second pass: every line parsed fully; each kept object handed to the exporters and statistics."""

from __future__ import annotations

from array import array
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gt_provider.datasets.card.statistics import DatasetStatistics
from gt_provider.datasets.diff import Changes
from gt_provider.datasets.errors import LineProblem
from gt_provider.datasets.exporters import exporters_for
from gt_provider.datasets.filters import with_single_class
from gt_provider.datasets.passes.inputs import PROGRESS_EVERY, Part, Selection, Source, WorkerResponses
from gt_provider.datasets.passes.scan import Scan
from gt_provider.datasets.reading.parse import OutputManifestParser
from gt_provider.datasets.records import LabeledObject, LabelKind
from gt_provider.manifests.gold import GOLD_KEY

_CLASS = LabelKind.CLASS
_JOB_NAME_PREFIX = "labeling-job/"
#: Kinds whose objects can be consolidated again from workers' answers (a class name each).
_SINGLE_CLASS = frozenset({LabelKind.CLASS, LabelKind.VERIFICATION})
#: Written into the metadata of a label consolidated again (``exclude_flagged_workers``).
RECONSOLIDATED_NOTE = "consolidated again without workers flagged on gold items"
_AS_IS = object()
_MAX_PROBLEMS = 20


@dataclass
class Written:
    """What writing found and wrote."""

    files: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    output_type: str | None = None
    kind: LabelKind | None = None
    attribute: str | None = None
    source_field: str | None = None
    #: Objects the worker statistics compare answers with: manifest URI -> object id -> record.
    consolidated: dict[str, dict[str, LabeledObject]] = field(default_factory=dict)
    problems: list[LineProblem] = field(default_factory=list)
    problem_total: int = 0
    #: Labels of sources labeled more than once whose other rows this writer did not read.
    held: dict[int, list[tuple[int, LabeledObject]]] = field(default_factory=dict)
    #: What changed since the parent version (counted only when its objects are carried forward).
    changes: Changes = field(default_factory=Changes)

    def problem(self, item: LineProblem) -> None:
        self.problem_total += 1
        if len(self.problems) < _MAX_PROBLEMS:
            self.problems.append(item)

    def same_kind(self, item: LabeledObject) -> bool:
        """The first object fixes the dataset's type (unless set before); a line of another type is a problem."""
        if self.output_type is None:
            self.output_type, self.kind, self.attribute = item.output_type, item.kind, item.attribute
        if item.output_type == self.output_type and item.attribute == self.attribute:
            if self.source_field is None:
                self.source_field = item.source_field
            return True
        self.problem(
            LineProblem(
                item.line,
                f"label attribute {item.attribute!r} of type {item.output_type} differs from the dataset's "
                f"{self.attribute!r} of type {self.output_type}; build one dataset per label attribute",
            )
        )
        return False


@dataclass
class Destination:
    """Where the second pass puts each kept object: its split, the label map, the files and the counts."""

    #: Per row, the position in ``names`` of its split.
    assignment: array
    names: Sequence[str]
    #: Class names in label-map order; a name the scan could not see is appended when met.
    label_map: list[str]
    #: The folder the exporters write into (one folder per format).
    staging: Path
    statistics: DatasetStatistics
    #: Rows of sources labeled more than once that come from the parent version (its carried-forward objects).
    parent_rows: frozenset[int] = frozenset()


def write(
    result: Scan,
    sources: Sequence[Source],
    selection: Selection,
    destination: Destination,
    worker_data: Mapping[str, WorkerResponses],
    s3_client: Any | None,
    log: Callable[[str], None],
) -> Written:
    """The second pass (see :mod:`gt_provider.datasets.passes`) over every part of ``result``, in this process."""
    writer = Writer(result.kind, result.repeats, selection, destination)
    writer.want({uri: [object_id for object_id, _ in responses] for uri, (_, responses) in worker_data.items()})
    writer.read(sources, result.parts, result.lines, 0, s3_client, log)
    return writer.close()


class Writer:
    """The second pass: parses lines fully and hands each kept object to the exporters and statistics.

    ``read`` takes parts with the rows the scan gave their lines, starting at row
    ``first_row``; several writers can share the rows of one build (one per process), each
    writing its own files. A source labeled more than once is held until all its rows were
    read; rows another writer reads stay in :attr:`Written.held` for the caller to settle.
    """

    def __init__(
        self,
        kind: LabelKind | None,
        repeats: Mapping[int, list[int]],
        selection: Selection,
        destination: Destination,
    ) -> None:
        assignment, names, label_map = destination.assignment, destination.names, destination.label_map
        self.repeats = repeats
        self.selection = selection
        self.assignment = assignment
        self.names = names
        self.label_map = label_map
        self.statistics = destination.statistics
        self.written = Written()
        self.exporters = []
        if kind is not None:  # else every line is malformed: nothing to export, all to report
            classes = exporters_for(selection.formats, kind, source_field=None)
            self.exporters = [cls(destination.staging / cls.name, names, label_map) for cls in classes]
        self._repeated = {row: digest for digest, rows in repeats.items() for row in rows}
        self._parent_rows = destination.parent_rows
        self._held: dict[int, list[tuple[int, LabeledObject]]] = {}
        self._known = set(label_map)
        self._filtering = selection.filtering
        self._wanted: dict[str, set[str]] = {}

    def want(self, object_ids: Mapping[str, Sequence[str]]) -> None:
        """Keep the records of these objects (output manifest URI -> object ids) for worker statistics."""
        self._wanted = {uri: set(ids) for uri, ids in object_ids.items()}
        self.written.consolidated = {uri: {} for uri in object_ids}

    def read(
        self,
        sources: Sequence[Source],
        parts: Sequence[Part],
        lines_per_part: Sequence[array],
        first_row: int,
        s3_client: Any | None,
        log: Callable[[str], None],
    ) -> None:
        """Write the objects of ``parts``, whose scanned lines are ``lines_per_part``."""
        written, statistics, selection = self.written, self.statistics, self.selection
        mapping, repeated, emit, changes = selection.label_mapping, self._repeated, self.emit, self.written.changes
        for part, lines in zip(parts, lines_per_part, strict=True):
            source = sources[part.source]
            from_parent = source.pinned is not None
            cursor, last_job = 0, None
            want = self._wanted.get(source.uri)
            relabel = selection.relabels.get(source.uri)
            parse = OutputManifestParser(selection.attribute, manifest=source.uri).parse
            for number, raw in part.lines(source, s3_client):
                item = parse(raw, number)
                scanned = cursor < len(lines) and lines[cursor] == number
                row = first_row + cursor
                cursor += scanned
                if item.__class__ is not LabeledObject:
                    if not raw.isspace():
                        written.problem(item)  # type: ignore[arg-type]
                    continue
                assert isinstance(item, LabeledObject)
                if not scanned:  # pragma: no cover - a line with a source always has a row
                    written.problem(LineProblem(number, "the line changed while the dataset was built", source.uri))
                    continue
                if mapping is not None:
                    item = mapping.apply(item)
                if (
                    item.output_type != written.output_type
                    or item.attribute != written.attribute
                    or written.source_field is None
                ) and not written.same_kind(item):
                    continue
                if item.job_name != last_job:
                    last_job = item.job_name
                    source.job_names.add(last_job.removeprefix(_JOB_NAME_PREFIX))
                if want is not None and str(number - 1) in want:
                    written.consolidated[source.uri][str(number - 1)] = item
                if GOLD_KEY in item.raw:  # a known-answer item that scored the workers: not data
                    statistics.drop("gold")
                    continue
                source.objects += 1
                if item.failure_reason is not None:
                    statistics.drop("failed")
                    continue
                if relabel and item.kind in _SINGLE_CLASS:
                    new_label = relabel.get(str(number - 1), _AS_IS)
                    if new_label is None:  # only flagged workers answered it
                        statistics.drop("flagged-workers-only")
                        continue
                    if new_label is not _AS_IS:
                        item = self._relabeled(item, *new_label)
                digest = repeated.get(row)
                if digest is None:
                    if emit(row, item):
                        if from_parent:
                            changes.unchanged += 1
                        else:
                            changes.added += 1
                    elif from_parent:
                        changes.removed += 1
                else:  # hold a repeated source's labels until its last one is read, then keep the newest
                    waiting = self._held.setdefault(digest, [])
                    waiting.append((row, item))
                    if len(waiting) == len(self.repeats[digest]):
                        self.settle(self._held.pop(digest))
                if row and row % PROGRESS_EVERY == 0:
                    log(f"wrote {row:,} objects")
            first_row += len(lines)

    def _relabeled(self, item: LabeledObject, name: str, confidence: float) -> LabeledObject:
        """``item`` with the class its unflagged workers gave it (the dataset's id for it, when it has one)."""
        class_id = self.label_map.index(name) if name in self._known else len(self.label_map)
        return with_single_class(item, name, confidence, class_id, note=RECONSOLIDATED_NOTE)

    def emit(self, row: int, item: LabeledObject) -> bool:
        """Write ``item`` (at ``row``) in its split, unless the selection drops it; whether it was written."""
        if self._filtering:
            reason = self.selection.drop_reason(item)
            if reason is not None:
                self.statistics.drop(reason)
                return False
        known = self._known
        if item.kind is _CLASS and item.classes[0].name in known:  # the common case, checked cheaply
            pass
        elif not known.issuperset(item.label_names):  # a name the scan could not see (odd shapes)
            for name in item.label_names:
                if name not in known:
                    known.add(name)
                    self.label_map.append(name)
        split = self.names[self.assignment[row]]
        for exporter in self.exporters:
            exporter.write(split, item)
        self.statistics.add(split, item)
        return True

    def settle(self, labels: list[tuple[int, LabeledObject]]) -> None:
        """Every label of one source, (row, record): keep the newest, count the others as duplicates.

        A parent version's label among them makes the source unchanged, relabeled or removed
        in :attr:`Written.changes`; without one it is added.
        """
        latest = max(labels, key=lambda pair: (_stamp(pair[1].creation_date), pair[0]))
        for _ in range(len(labels) - 1):
            self.statistics.drop("duplicate")
        parent = [item for row, item in labels if row in self._parent_rows]
        changes = self.written.changes
        if not self.emit(*latest):
            changes.removed += bool(parent)
        elif not parent:
            changes.added += 1
        else:
            changes.compare(parent[-1], latest[1], self.names[self.assignment[latest[0]]])

    def close(self) -> Written:
        """Finish the files; what is returned lists them, with the labels still held."""
        self.written.files = {exporter.name: exporter.close() for exporter in self.exporters}
        self.written.held = self._held
        return self.written


def _stamp(creation_date: str) -> int:
    """Microseconds since the epoch of a metadata ``creation-date`` (naive = UTC); 0 when unreadable."""
    try:
        moment = datetime.fromisoformat(creation_date.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return 0
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1_000_000)
