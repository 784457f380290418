"""What both passes read: the sources, their parts (whole, or byte ranges) and what to keep."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gt_provider.datasets.errors import DatasetReadError
from gt_provider.datasets.filters import LabelMapping, ObjectFilter, ReviewFilter
from gt_provider.datasets.reading.parse import numbered_lines, output_manifest_lines
from gt_provider.datasets.records import LabeledObject
from gt_provider.exceptions import ManifestReadError
from gt_provider.s3io import S3ClientProvider, file_range_chunks, is_s3_uri, s3_range_chunks, url_range_chunks

#: Rows between two progress lines of a pass.
PROGRESS_EVERY = 250_000

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
    #: The S3 object's ETag when its parts are read by ranged GETs: every GET asks for that version.
    etag: str | None = None
    #: A presigned GET URL of the S3 object, for a build process (which has no S3 client).
    url: str | None = None


@dataclass(frozen=True)
class Part:
    """The lines of one source a pass reads: all of them, or those starting in ``[start, end)``."""

    #: Index of the source in the build's list of sources.
    source: int
    #: Byte offset of the part's first line (0, or just after a newline).
    start: int = 0
    #: Byte offset past its last line (a line start, or the end of the source); None to the end.
    end: int | None = None
    #: Line number of the part's first line; None until the lines before it have been counted
    #: (:func:`number_parts`, after the first pass): until then its lines are numbered from 1.
    first_line: int | None = 1
    #: A local copy of the part's bytes, made while the first pass read it from S3: the second
    #: pass reads that instead of S3 again (half the GETs and the transfer).
    spool: str | None = None

    def lines(
        self, source: Source, s3_client: Any | None, *, spool_to: str | None = None
    ) -> Iterator[tuple[int, bytes]]:
        """(line number, bytes) of the part's lines; with ``spool_to``, their bytes are copied there as read."""
        number = self.first_line or 1
        if self.spool is not None:
            return _range_lines(Source(self.spool), 0, None, number, None)
        if self.start == 0 and self.end is None and source.url is None and spool_to is None:
            return output_manifest_lines(source.uri, s3_client=s3_client)
        return _range_lines(source, self.start, self.end, number, s3_client, spool_to)

    @staticmethod
    def spooled(source: Source, spool_to: str | None) -> str | None:
        """``spool_to`` for a part of an S3 source (worth a local copy), None for a local file."""
        return spool_to if spool_to and (source.url is not None or is_s3_uri(source.uri)) else None


def whole_sources(sources: Sequence[Source]) -> list[Part]:
    return [Part(index) for index in range(len(sources))]


def number_parts(parts: Sequence[Part], line_counts: Sequence[int]) -> list[Part]:
    """``parts`` (in reading order) with the line number of each one's first line, from the lines before it.

    ``line_counts`` are the lines each part holds. Each process counts only its own range, so
    a part cut in the middle of a source learns its first line number here, once the first
    pass of every process has counted the lines of the ranges before it.
    """
    numbered = []
    next_line: dict[int, int] = {}
    for part, count in zip(parts, line_counts, strict=True):
        first = part.first_line if part.start == 0 else next_line.get(part.source, part.first_line)
        if first is None:
            raise ValueError(f"the lines before byte {part.start} of source {part.source} were not counted")
        numbered.append(part if first == part.first_line else dataclasses.replace(part, first_line=first))
        next_line[part.source] = first + count
    return numbered


def _range_lines(
    source: Source, start: int, end: int | None, number: int, s3_client: Any | None, spool_to: str | None = None
) -> Iterator[tuple[int, bytes]]:
    """The lines of a source that start in ``[start, end)``, numbered from ``number``; copied to ``spool_to``."""
    try:
        if source.url is not None:
            chunks = url_range_chunks(source.url, source.uri, start, end, etag=source.etag)
        elif is_s3_uri(source.uri):
            chunks = s3_range_chunks(source.uri, S3ClientProvider(s3_client), start, end, etag=source.etag)
        else:
            chunks = file_range_chunks(source.uri, start, end)
        if spool_to is None:
            yield from numbered_lines(chunks, number)
            return
        with open(spool_to, "wb") as copy:
            yield from numbered_lines(_copied(chunks, copy), number)
    except ManifestReadError as error:
        raise DatasetReadError(str(error)) from error


def _copied(chunks: Iterator[bytes], copy: Any) -> Iterator[bytes]:
    for chunk in chunks:
        copy.write(chunk)
        yield chunk


@dataclass
class Selection:
    """What to keep: filters, review and label renaming, as the dataset spec says."""

    attribute: str | None
    object_filter: ObjectFilter
    review: ReviewFilter | None
    label_mapping: LabelMapping | None
    formats: Sequence[str]
    #: Output manifest URI -> object id -> the class (and confidence) its unflagged workers gave
    #: it, or None to leave it out (``DatasetSpec.exclude_flagged_workers``).
    relabels: Mapping[str, Mapping[str, tuple[str, float] | None]] = field(default_factory=dict)

    @property
    def filtering(self) -> bool:
        return self.review is not None or self.object_filter != ObjectFilter()

    def drop_reason(self, item: LabeledObject) -> str | None:
        reason = self.object_filter.drop_reason(item)
        if reason is None and self.review is not None:
            reason = self.review.drop_reason(item)
        return reason
