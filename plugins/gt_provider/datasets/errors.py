"""Exceptions of the dataset library, under gt_provider's one base class."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gt_provider.exceptions import GroundTruthProviderError


@dataclass(frozen=True, slots=True)
class LineProblem:
    """Why one line of an output manifest could not be read as a labeled object."""

    line: int
    reason: str
    #: The output manifest (path or S3 URI) the line belongs to, when known.
    manifest: str = ""

    def __str__(self) -> str:
        where = f"{self.manifest} line {self.line}" if self.manifest else f"line {self.line}"
        return f"{where}: {self.reason}"


class DatasetError(GroundTruthProviderError, ValueError):
    """A dataset cannot be built as asked (bad ratios, unknown format, version already exists...)."""


class MalformedOutputManifestError(DatasetError):
    """Lines of an output manifest are not Ground Truth output (bad JSON, missing metadata,
    unknown type, a label id missing from the class map...).

    Raised after the whole manifest was read, so the message lists the first problems with
    their line numbers and how many there are in all, and nothing was written.
    """

    def __init__(self, problems: Sequence[LineProblem], total: int | None = None, shown: int = 20) -> None:
        self.problems = list(problems)
        self.total = total if total is not None else len(self.problems)
        lines = [f"{self.total} malformed line(s) in the output manifest; the first {min(shown, len(self.problems))}:"]
        lines += [f"  {problem}" for problem in self.problems[:shown]]
        super().__init__("\n".join(lines))

    @property
    def line_numbers(self) -> list[int]:
        return [problem.line for problem in self.problems]


class DatasetVersionExistsError(DatasetError):
    """The dataset version being written is already committed; versions are never overwritten."""


class DatasetReadError(GroundTruthProviderError, OSError):
    """An output manifest, label artifact or earlier dataset version cannot be read."""
