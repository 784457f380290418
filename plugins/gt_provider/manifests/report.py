"""The validation report: small, JSON-serializable, and readable by a person.

A report is what the validator returns, what an operator pushes to XCom and what the command
line prints. It holds counts for everything and the details of the first ``max_errors``
errors only (by line number), so its size does not grow with a broken million-line file.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from gt_provider.manifests.errors import InvalidManifestError
from gt_provider.manifests.kinds import ErrorKind

OnInvalid = Literal["fail", "drop"]
ON_INVALID_MODES: tuple[str, ...] = ("fail", "drop")


@dataclass(frozen=True)
class ManifestIssue:
    """One error: where (1-based line number; None for the whole file), what kind, and why."""

    line: int | None
    kind: ErrorKind
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "kind": str(self.kind), "reason": self.reason}

    def __str__(self) -> str:
        where = "file" if self.line is None else f"line {self.line}"
        return f"{where}: {self.kind}: {self.reason}"


class ErrorCollector:
    """Counts every error and keeps the details of the ``limit`` with the lowest line numbers.

    Line errors arrive in line order, duplicate and object-check errors after the whole file
    was read; a bounded heap keeps the first ``limit`` either way. ``wants()`` lets the caller
    skip building a reason (a ``jsonschema`` run, say) that would not be kept.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.counts: Counter[ErrorKind] = Counter()
        self._heap: list[tuple[int, int, ManifestIssue]] = []  # max-heap on (line, arrival) via negation
        self._arrivals = 0

    def wants(self, line: int | None) -> bool:
        if len(self._heap) < self.limit:
            return True
        return (line or 0) < -self._heap[0][0]

    def add(self, line: int | None, kind: ErrorKind, reason: str | Callable[[], str]) -> None:
        self.counts[kind] += 1
        if not self.wants(line):
            return
        self._arrivals += 1
        text = reason() if callable(reason) else reason
        issue = ManifestIssue(line, kind, _one_line(text))
        entry = (-(line or 0), -self._arrivals, issue)
        if len(self._heap) < self.limit:
            heapq.heappush(self._heap, entry)
        else:
            heapq.heapreplace(self._heap, entry)

    def issues(self) -> list[ManifestIssue]:
        return [issue for _, _, issue in sorted(self._heap, key=lambda entry: (-entry[0], -entry[1]))]


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def _one_line(text: str, limit: int = 500) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass
class ManifestReport:
    """What the validation of one input manifest found.

    ``valid`` is True when the manifest had no error at all. ``objects`` counts the lines
    that pass every check: what Ground Truth receives after invalid lines are dropped. In
    ``drop`` mode ``cleaned_manifest`` is where those lines were written (None when nothing
    had to be dropped); ``labeling_manifest`` is the manifest a labeling job should read, or
    None when there is none to label.
    """

    manifest: str
    task_type: str
    on_invalid: str
    valid: bool
    lines: int
    objects: int
    invalid_lines: int
    error_counts: dict[str, int]
    errors: list[ManifestIssue]
    max_errors: int
    dropped_lines: int = 0
    cleaned_manifest: str | None = None
    review_attribute: str | None = None
    #: ``off``, ``all`` or ``sample``: which referenced S3 objects were checked.
    object_checks: str = "off"
    objects_checked: int = 0
    seconds: float = 0.0

    @property
    def errors_total(self) -> int:
        return sum(self.error_counts.values())

    @property
    def labeling_manifest(self) -> str | None:
        if self.on_invalid == "drop":
            if self.objects == 0:
                return None
            return self.cleaned_manifest or self.manifest
        return self.manifest if self.valid else None

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-serializable data (XCom, ``--json``)."""
        return {
            "manifest": self.manifest,
            "task_type": self.task_type,
            "review_attribute": self.review_attribute,
            "on_invalid": self.on_invalid,
            "valid": self.valid,
            "labeling_manifest": self.labeling_manifest,
            "lines": self.lines,
            "objects": self.objects,
            "invalid_lines": self.invalid_lines,
            "errors_total": self.errors_total,
            "error_counts": dict(self.error_counts),
            "errors": [issue.to_dict() for issue in self.errors],
            "max_errors": self.max_errors,
            "dropped_lines": self.dropped_lines,
            "cleaned_manifest": self.cleaned_manifest,
            "object_checks": self.object_checks,
            "objects_checked": self.objects_checked,
            "seconds": round(self.seconds, 3),
        }

    def summary(self, max_issues: int = 20) -> str:
        """A few lines for a person: the verdict, the first errors, counts by kind, what to do next."""
        head = self._headline()
        if self.valid:
            return head
        shown = [f"  {issue}" for issue in self.errors[:max_issues]]
        hidden = self.errors_total - len(shown)
        if hidden > 0:
            shown.append(f"  ... and {hidden:,} more")
        counts = ", ".join(f"{kind} {count:,}" for kind, count in sorted(self.error_counts.items()))
        lines = [head, *shown, f"Errors by kind: {counts}."]
        if self.on_invalid == "fail":
            lines.append(
                'Fix these lines and validate again, or validate with on_invalid="drop" to label only the valid lines.'
            )
        return "\n".join(lines)

    def _headline(self) -> str:
        what = f"Input manifest {self.manifest} ({self.task_type})"
        if self.valid:
            return f"{what} is valid: {_count(self.objects, 'object')} on {_count(self.lines, 'line')}."
        errors = _count(self.errors_total, "error")
        if self.on_invalid == "drop":
            if self.objects == 0:
                return f"{what} has no valid object to label ({errors} on {_count(self.lines, 'line')})."
            kept = self.cleaned_manifest or self.manifest
            return (
                f"{what}: {errors}; dropped {self.dropped_lines:,} of {self.lines:,} lines, "
                f"{_count(self.objects, 'object')} {'remains' if self.objects == 1 else 'remain'} in {kept}."
            )
        return f"{what} is not valid: {errors} on {self.invalid_lines:,} of {self.lines:,} lines."

    def raise_if_invalid(self) -> None:
        """Raise ``InvalidManifestError`` (message: ``summary()``) unless a labeling job can use the result.

        In ``fail`` mode that is any error; in ``drop`` mode only an empty result, since the
        cleaned manifest holds the valid lines. Call it before creating the labeling job.
        """
        if self.labeling_manifest is None:
            raise InvalidManifestError(self)
