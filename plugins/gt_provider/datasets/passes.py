"""The two passes of a dataset build, and the split decided between them.

**Scanning** reads every line quickly (:meth:`OutputManifestParser.scan`: the source, whether
it failed, its class names): enough to find sources labeled more than once, to build the
label map and to decide every object's split -- which needs all objects of a class at once.

**Writing** then parses every line fully, once: it reports malformed lines (all of them;
the build raises before anything is committed), applies filters and label renaming, holds a
source labeled more than once until its last label is read so that the newest label wins
(metadata ``creation-date``; on a tie, the later one read), and hands each kept object to
the exporters and the statistics, in its split.

Per object the passes keep a few machine words in arrays (source digest, status, stratum,
line number), never the object.

Both passes read parts (:class:`Part`): a whole source, or one byte range of a local file, so that
:mod:`gt_provider.datasets.parallel` can hand each process its own range and merge what they
found; run in one process, every source is one part.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import compress
from operator import not_
from pathlib import Path
from typing import Any

from gt_provider.datasets.errors import DatasetReadError, LineProblem
from gt_provider.datasets.exporters import exporters_for
from gt_provider.datasets.filters import LabelMapping, ObjectFilter, ReviewFilter
from gt_provider.datasets.output_types import OUTPUT_KINDS
from gt_provider.datasets.parse import OutputManifestParser, output_manifest_lines
from gt_provider.datasets.records import LabeledObject, LabelKind
from gt_provider.datasets.split import SplitAllocator, source_digest
from gt_provider.datasets.statistics import DatasetStatistics
from gt_provider.s3io import CHUNK_BYTES

#: Kinds whose split is stratified by class.
STRATIFIED_KINDS = frozenset({LabelKind.CLASS, LabelKind.MULTI_LABEL, LabelKind.VERIFICATION})
_CLASS = LabelKind.CLASS
_JOB_NAME_PREFIX = "labeling-job/"
_PROGRESS_EVERY = 250_000
_MAX_PROBLEMS = 20
#: Row status; keeping is 0 so that ``map(not_, status)`` selects the kept rows.
_KEEP, _FAILED = 0, 1

#: Worker responses of one job's output manifest: (job output prefix, [(object id, response)]).
WorkerResponses = tuple[str, list[tuple[str, dict[str, Any]]]]


@dataclass
class Source:
    """One output manifest read by the build."""

    uri: str
    #: The split every object of this file had in the parent version (carried-forward files).
    pinned: str | None = None
    job_names: set[str] = field(default_factory=set)
    objects: int = 0


@dataclass(frozen=True)
class Part:
    """The lines of one source a pass reads: all of them, or those starting in ``[start, end)``."""

    #: Index of the source in the build's list of sources.
    source: int
    #: Byte offset of the part's first line (0, or just after a newline).
    start: int = 0
    #: Byte offset past its last line; None to the end of the source.
    end: int | None = None
    #: Line number of the part's first line.
    first_line: int = 1

    def lines(self, uri: str, s3_client: Any | None) -> Iterator[tuple[int, bytes]]:
        """(line number, bytes) of the part's lines."""
        if self.start == 0 and self.end is None:
            return output_manifest_lines(uri, s3_client=s3_client)
        return _range_lines(uri, self.start, self.end, self.first_line)


def whole_sources(sources: Sequence[Source]) -> list[Part]:
    return [Part(index) for index in range(len(sources))]


def _range_lines(path: str, start: int, end: int | None, number: int) -> Iterator[tuple[int, bytes]]:
    """The lines of a local file that start in ``[start, end)``, numbered from ``number``."""
    try:
        with open(path, "rb", buffering=CHUNK_BYTES) as handle:
            handle.seek(start)
            left = (end - start) if end is not None else float("inf")
            for line in handle:
                yield number, line
                left -= len(line)
                if left <= 0:
                    return
                number += 1
    except OSError as error:
        raise DatasetReadError(f"cannot read output manifest {path}: {error.strerror or error}") from error


@dataclass
class Selection:
    """What to keep: filters, review and label renaming, as the dataset spec says."""

    attribute: str | None
    object_filter: ObjectFilter
    review: ReviewFilter | None
    label_mapping: LabelMapping | None
    formats: Sequence[str]

    @property
    def filtering(self) -> bool:
        return self.review is not None or self.object_filter != ObjectFilter()

    def drop_reason(self, item: LabeledObject) -> str | None:
        reason = self.object_filter.drop_reason(item)
        if reason is None and self.review is not None:
            reason = self.review.drop_reason(item)
        return reason


@dataclass
class Scan:
    """What scanning found: one row per line with a source, in reading order."""

    digests: array = field(default_factory=lambda: array("Q"))
    status: array = field(default_factory=lambda: array("b"))
    strata: array = field(default_factory=lambda: array("I"))
    #: The parts read, in order, and per part the line number of each of its rows.
    parts: list[Part] = field(default_factory=list)
    lines: list[array] = field(default_factory=list)
    stratum_names: dict[str, int] = field(default_factory=dict)
    #: Class name -> the class id Ground Truth gave it (names without one sort after).
    label_ids: dict[str, float] = field(default_factory=dict)
    #: Sources labeled more than once (rare): digest -> their rows, in reading order.
    repeats: dict[int, list[int]] = field(default_factory=dict)
    #: The first row of every labeled source (see :func:`find_repeats`).
    unique_rows: array = field(default_factory=lambda: array("I"))
    output_type: str | None = None
    attribute: str | None = None

    @property
    def rows(self) -> int:
        return len(self.digests)

    @property
    def kind(self) -> LabelKind | None:
        return OUTPUT_KINDS.get(self.output_type) if self.output_type else None


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


def scan(
    sources: Sequence[Source],
    selection: Selection,
    s3_client: Any | None,
    log: Callable[[str], None],
    parts: Sequence[Part] | None = None,
) -> Scan:
    """The first pass (see the module docstring) over ``parts`` (every source, whole, by default).

    Rows are numbered from 0 in reading order; :func:`find_repeats` then finds the sources
    labeled more than once (after the scans of all parts are merged, when they ran apart).
    """
    result = Scan()
    digests, status, strata = result.digests, result.status, result.strata
    stratum_names, label_ids = result.stratum_names, result.label_ids
    rename = selection.label_mapping.name if selection.label_mapping is not None else None
    parser = OutputManifestParser(selection.attribute)
    scan_line = parser.scan
    for part in whole_sources(sources) if parts is None else parts:
        lines = array("I")
        result.parts.append(part)
        result.lines.append(lines)
        for number, raw in part.lines(sources[part.source].uri, s3_client):
            scanned = scan_line(raw)
            if scanned is None:
                continue  # no source: writing reports the line
            row = len(digests)
            lines.append(number)
            digests.append(source_digest(scanned.source))
            if result.output_type is None and scanned.output_type.__class__ is str:
                result.output_type, result.attribute = scanned.output_type, parser.attribute
            names = scanned.names
            if rename is not None and names:
                names = tuple((rename(name), class_id) for name, class_id in names)
            strata.append(stratum_names.setdefault(names[0][0] if names else "", len(stratum_names)))
            if scanned.failed:
                status.append(_FAILED)
                continue
            status.append(_KEEP)
            for name, class_id in names:
                if name not in label_ids:
                    label_ids[name] = class_id if class_id >= 0 else 1e9 + len(label_ids)
            if row and row % _PROGRESS_EVERY == 0:
                log(f"scanned {row:,} objects")
    return result


def find_repeats(result: Scan) -> None:
    """Set ``unique_rows`` (the first row of each labeled source) and ``repeats`` of ``result``."""
    digests = result.digests
    kept = array("I", compress(range(len(digests)), map(not_, result.status)))
    if len(set(compress(digests, map(not_, result.status)))) == len(kept):  # the common case: no repeats
        result.unique_rows, result.repeats = kept, {}
        return
    first_row: dict[int, int] = {}
    repeats: dict[int, list[int]] = {}
    for row in kept:
        digest = digests[row]
        earlier = first_row.setdefault(digest, row)
        if earlier != row:
            repeats.setdefault(digest, [earlier]).append(row)
    result.unique_rows, result.repeats = array("I", first_row.values()), repeats


def allocate(
    result: Scan, ratios: Mapping[str, float], seed: str, stratify: bool, pinned_index: Mapping[int, int]
) -> tuple[SplitAllocator, array, int]:
    """A split for every labeled source (all of its rows get it); how many kept an earlier split."""
    allocator = SplitAllocator(ratios, seed)
    names = allocator.names
    stratified = stratify and result.kind in STRATIFIED_KINDS
    digests, strata = result.digests, result.strata
    stratum_of = list(result.stratum_names) if stratified else [""] * len(result.stratum_names)
    # A source labeled more than once is balanced by its last label, the likely winner.
    stratum_row = {rows[0]: rows[-1] for rows in result.repeats.values()}
    new_rows: list[list[int]] = [[] for _ in stratum_of]
    pinned_total = 0
    if not pinned_index and not stratum_row:  # a first version: every object is new
        add = [rows.append for rows in new_rows]
        for row in result.unique_rows:
            add[strata[row]](row)
    else:
        for row in result.unique_rows:
            stratum = strata[stratum_row.get(row, row)]
            pinned = pinned_index.get(digests[row])
            if pinned is None:
                new_rows[stratum].append(row)
            else:
                pinned_total += 1
                allocator.add(row, digests[row], stratum_of[stratum], names[pinned])
    for index, rows in enumerate(new_rows):
        allocator.add_new(stratum_of[index], rows, digests)
    assignment = allocator.allocate(result.rows)
    for rows in result.repeats.values():
        for row in rows[1:]:
            assignment[row] = assignment[rows[0]]
    return allocator, assignment, pinned_total


def write(
    result: Scan,
    sources: Sequence[Source],
    selection: Selection,
    assignment: array,
    names: Sequence[str],
    label_map: list[str],
    staging: Path,
    statistics: DatasetStatistics,
    worker_data: Mapping[str, WorkerResponses],
    s3_client: Any | None,
    log: Callable[[str], None],
) -> Written:
    """The second pass (see the module docstring) over every part of ``result``, in this process."""
    writer = Writer(result.kind, result.repeats, selection, assignment, names, label_map, staging, statistics)
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
        assignment: array,
        names: Sequence[str],
        label_map: list[str],
        staging: Path,
        statistics: DatasetStatistics,
    ) -> None:
        self.repeats = repeats
        self.selection = selection
        self.assignment = assignment
        self.names = names
        self.label_map = label_map
        self.statistics = statistics
        self.written = Written()
        self.exporters = []
        if kind is not None:  # else every line is malformed: nothing to export, all to report
            classes = exporters_for(selection.formats, kind, source_field=None)
            self.exporters = [cls(staging / cls.name, names, label_map) for cls in classes]
        self._repeated = {row: digest for digest, rows in repeats.items() for row in rows}
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
        mapping, repeated, emit = selection.label_mapping, self._repeated, self.emit
        for part, lines in zip(parts, lines_per_part, strict=True):
            source = sources[part.source]
            cursor, last_job = 0, None
            want = self._wanted.get(source.uri)
            parse = OutputManifestParser(selection.attribute, manifest=source.uri).parse
            for number, raw in part.lines(source.uri, s3_client):
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
                source.objects += 1
                if item.job_name != last_job:
                    last_job = item.job_name
                    source.job_names.add(last_job.removeprefix(_JOB_NAME_PREFIX))
                if want is not None and str(number - 1) in want:
                    written.consolidated[source.uri][str(number - 1)] = item
                if item.failure_reason is not None:
                    statistics.drop("failed")
                    continue
                digest = repeated.get(row)
                if digest is None:
                    emit(row, item)
                else:  # hold a repeated source's labels until its last one is read, then keep the newest
                    waiting = self._held.setdefault(digest, [])
                    waiting.append((row, item))
                    if len(waiting) == len(self.repeats[digest]):
                        self.settle(self._held.pop(digest))
                if row and row % _PROGRESS_EVERY == 0:
                    log(f"wrote {row:,} objects")
            first_row += len(lines)

    def emit(self, row: int, item: LabeledObject) -> None:
        """Write ``item`` (at ``row``) in its split, unless the selection drops it."""
        if self._filtering:
            reason = self.selection.drop_reason(item)
            if reason is not None:
                self.statistics.drop(reason)
                return
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

    def settle(self, labels: list[tuple[int, LabeledObject]]) -> None:
        """Every label of one source, (row, record): keep the newest, count the others as duplicates."""
        latest = max(labels, key=lambda pair: (_stamp(pair[1].creation_date), pair[0]))
        for _ in range(len(labels) - 1):
            self.statistics.drop("duplicate")
        self.emit(*latest)

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
