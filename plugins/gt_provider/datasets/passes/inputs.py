"""What both passes read: the sources, their parts (whole, or byte ranges) and what to keep."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from gt_provider.datasets.errors import DatasetReadError
from gt_provider.datasets.filters import LabelMapping, ObjectFilter, ReviewFilter
from gt_provider.datasets.reading.parse import output_manifest_lines
from gt_provider.datasets.records import LabeledObject
from gt_provider.s3io import CHUNK_BYTES

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
