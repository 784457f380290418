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
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gt_provider.datasets.errors import LineProblem
from gt_provider.datasets.exporters import exporters_for
from gt_provider.datasets.filters import LabelMapping, ObjectFilter, ReviewFilter
from gt_provider.datasets.parse import OUTPUT_KINDS, OutputManifestParser, output_manifest_lines
from gt_provider.datasets.records import LabeledObject, LabelKind
from gt_provider.datasets.split import SplitAllocator, source_digest
from gt_provider.datasets.statistics import DatasetStatistics

#: Kinds whose split is stratified by class.
STRATIFIED_KINDS = frozenset({LabelKind.CLASS, LabelKind.MULTI_LABEL, LabelKind.VERIFICATION})
_JOB_NAME_PREFIX = "labeling-job/"
_PROGRESS_EVERY = 250_000
_MAX_PROBLEMS = 20
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
    #: Per source, the line number of each of its rows.
    lines: list[array] = field(default_factory=list)
    stratum_names: dict[str, int] = field(default_factory=dict)
    #: Class name -> the class id Ground Truth gave it (names without one sort after).
    label_ids: dict[str, float] = field(default_factory=dict)
    #: Sources labeled more than once (rare): digest -> their rows, in reading order.
    repeats: dict[int, list[int]] = field(default_factory=dict)
    #: The first row of every labeled source.
    unique_rows: list[int] = field(default_factory=list)
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

    def problem(self, item: LineProblem) -> None:
        self.problem_total += 1
        if len(self.problems) < _MAX_PROBLEMS:
            self.problems.append(item)

    def same_kind(self, item: LabeledObject) -> bool:
        """The first object fixes the dataset's type; a line of another type is a problem."""
        if self.output_type is None:
            self.output_type, self.kind = item.output_type, item.kind
            self.attribute, self.source_field = item.attribute, item.source_field
            return True
        if item.output_type == self.output_type and item.attribute == self.attribute:
            return True
        self.problem(
            LineProblem(
                item.line,
                f"label attribute {item.attribute!r} of type {item.output_type} differs from the dataset's "
                f"{self.attribute!r} of type {self.output_type}; build one dataset per label attribute",
            )
        )
        return False


def scan(sources: Sequence[Source], selection: Selection, s3_client: Any | None, log: Callable[[str], None]) -> Scan:
    """The first pass (see the module docstring)."""
    result = Scan()
    first_row: dict[int, int] = {}
    digests, status, strata = result.digests, result.status, result.strata
    stratum_names, repeats, label_ids = result.stratum_names, result.repeats, result.label_ids
    rename = selection.label_mapping.name if selection.label_mapping is not None else None
    parser = OutputManifestParser(selection.attribute)
    for source in sources:
        lines = array("I")
        result.lines.append(lines)
        for number, raw in output_manifest_lines(source.uri, s3_client=s3_client):
            scanned = parser.scan(raw)
            if scanned is None:
                continue  # no source: writing reports the line
            row = len(digests)
            lines.append(number)
            digest = source_digest(scanned.source)
            digests.append(digest)
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
            earlier = first_row.setdefault(digest, row)
            if earlier != row:
                repeats.setdefault(digest, [earlier]).append(row)
            for name, class_id in names:
                if name not in label_ids:
                    label_ids[name] = class_id if class_id >= 0 else 1e9 + len(label_ids)
            if row and row % _PROGRESS_EVERY == 0:
                log(f"scanned {row:,} objects")
    result.unique_rows = list(first_row.values())
    return result


def allocate(
    result: Scan, ratios: Mapping[str, float], seed: str, stratify: bool, pinned_index: Mapping[int, int]
) -> tuple[SplitAllocator, array, int]:
    """A split for every labeled source (all of its rows get it); how many kept an earlier split."""
    allocator = SplitAllocator(ratios, seed)
    names = allocator.names
    stratified = stratify and result.kind in STRATIFIED_KINDS
    stratum_of = {index: name for name, index in result.stratum_names.items()}
    pinned_total = 0
    for row in result.unique_rows:
        digest = result.digests[row]
        pinned = pinned_index.get(digest)
        pinned_total += pinned is not None
        # A source labeled more than once is balanced by its last label, the likely winner.
        stratum_row = result.repeats[digest][-1] if digest in result.repeats else row
        stratum = stratum_of[result.strata[stratum_row]] if stratified else ""
        allocator.add(row, digest, stratum, names[pinned] if pinned is not None else None)
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
    """The second pass (see the module docstring)."""
    written = Written(consolidated={uri: {} for uri in worker_data})
    kind = result.kind
    exporters = []
    if kind is not None:  # else every line is malformed: nothing to export, all to report
        classes = exporters_for(selection.formats, kind, source_field=None)
        exporters = [cls(staging / cls.name, names, label_map) for cls in classes]
    wanted = {uri: {object_id for object_id, _ in responses} for uri, (_, responses) in worker_data.items()}
    repeated = {row: digest for digest, rows in result.repeats.items() for row in rows}
    held: dict[int, list[tuple[int, LabeledObject]]] = {}
    known = set(label_map)
    mapping, filtering = selection.label_mapping, selection.filtering
    class_kind = LabelKind.CLASS

    def emit(row: int, item: LabeledObject) -> None:
        reason = selection.drop_reason(item) if filtering else None
        if reason is not None:
            statistics.drop(reason)
            return
        classes = item.classes
        if item.kind is class_kind and classes[0].name in known:  # the common case, checked cheaply
            pass
        elif not known.issuperset(item.label_names):  # a name the scan could not see (odd shapes)
            for name in item.label_names:
                if name not in known:
                    known.add(name)
                    label_map.append(name)
        split = names[assignment[row]]
        for exporter in exporters:
            exporter.write(split, item)
        statistics.add(split, item)

    first_row = 0
    for index, source in enumerate(sources):
        lines, cursor, last_job = result.lines[index], 0, None
        want = wanted.get(source.uri)
        parse = OutputManifestParser(selection.attribute, manifest=source.uri).parse
        for number, raw in output_manifest_lines(source.uri, s3_client=s3_client):
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
            same = item.output_type == written.output_type and item.attribute == written.attribute
            if not same and not written.same_kind(item):
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
                waiting = held.setdefault(digest, [])
                waiting.append((row, item))
                if len(waiting) == len(result.repeats[digest]):
                    del held[digest]
                    latest = max(waiting, key=lambda pair: (_stamp(pair[1].creation_date), pair[0]))
                    for _ in range(len(waiting) - 1):
                        statistics.drop("duplicate")
                    emit(*latest)
            if row and row % _PROGRESS_EVERY == 0:
                log(f"wrote {row:,} objects")
        first_row += len(lines)
    written.files = {exporter.name: exporter.close() for exporter in exporters}
    return written


def _stamp(creation_date: str) -> int:
    """Microseconds since the epoch of a metadata ``creation-date`` (naive = UTC); 0 when unreadable."""
    try:
        moment = datetime.fromisoformat(creation_date.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return 0
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1_000_000)
