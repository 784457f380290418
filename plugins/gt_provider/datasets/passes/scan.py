"""The first pass: every line scanned quickly; repeated sources found; every object's split decided."""

from __future__ import annotations

import dataclasses
import os
from array import array
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import compress
from operator import not_
from typing import Any

import orjson

from gt_provider.datasets.passes.inputs import PROGRESS_EVERY, Part, Selection, Source, whole_sources
from gt_provider.datasets.reading.output_types import OUTPUT_KINDS
from gt_provider.datasets.reading.parse import OutputManifestParser
from gt_provider.datasets.records import LabelKind
from gt_provider.datasets.split import SplitAllocator, source_digest
from gt_provider.manifests.gold import GOLD_KEY, GOLD_MARK

#: Kinds whose split is stratified by class.
STRATIFIED_KINDS = frozenset({LabelKind.CLASS, LabelKind.MULTI_LABEL, LabelKind.VERIFICATION})
#: Row status; keeping is 0 so that ``map(not_, status)`` selects the kept rows. Gold items
#: (``gt_provider.manifests.gold``) scored the workers and are not data: no split, no label.
_KEEP, _FAILED, _GOLD = 0, 1, 2


@dataclass
class Scan:
    """What scanning found: one row per line with a source, in reading order."""

    digests: array = field(default_factory=lambda: array("Q"))
    status: array = field(default_factory=lambda: array("b"))
    strata: array = field(default_factory=lambda: array("I"))
    #: The parts read, in order, and per part the line number of each of its rows.
    parts: list[Part] = field(default_factory=list)
    lines: list[array] = field(default_factory=list)
    #: Per part, the lines it holds (with and without a source, blank ones too).
    line_counts: list[int] = field(default_factory=list)
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


def scan(
    sources: Sequence[Source],
    selection: Selection,
    s3_client: Any | None,
    log: Callable[[str], None],
    parts: Sequence[Part] | None = None,
    spool: str | None = None,
) -> Scan:
    """The first pass (see :mod:`gt_provider.datasets.passes`) over ``parts`` (every source, whole, by default).

    Rows are numbered from 0 in reading order; :func:`find_repeats` then finds the sources
    labeled more than once (after the scans of all parts are merged, when they ran apart).
    With ``spool`` (a folder), the bytes of parts read from S3 are copied there as they are
    read, and the scan's parts name their copies (:attr:`Part.spool`) for the second pass.
    """
    result = Scan()
    digests, status, strata = result.digests, result.status, result.strata
    stratum_names, label_ids = result.stratum_names, result.label_ids
    rename = selection.label_mapping.name if selection.label_mapping is not None else None
    parser = OutputManifestParser(selection.attribute)
    scan_line = parser.scan
    for index, part in enumerate(whole_sources(sources) if parts is None else parts):
        lines = array("I")
        source = sources[part.source]
        spool_to = part.spooled(source, spool and os.path.join(spool, f"{os.getpid()}-{index}.part"))
        result.parts.append(dataclasses.replace(part, spool=spool_to) if spool_to else part)
        result.lines.append(lines)
        first = number = part.first_line or 1
        number -= 1  # (left as the last line's number by the loop)
        for number, raw in part.lines(source, s3_client, spool_to=spool_to):
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
            if GOLD_MARK in raw and GOLD_KEY in orjson.loads(raw):  # the mark alone could sit in a string
                status.append(_GOLD)
                continue
            status.append(_KEEP)
            for name, class_id in names:
                if name not in label_ids:
                    label_ids[name] = class_id if class_id >= 0 else 1e9 + len(label_ids)
            if row and row % PROGRESS_EVERY == 0:
                log(f"scanned {row:,} objects")
        result.line_counts.append(number - first + 1)
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
