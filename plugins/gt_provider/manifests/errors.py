"""Exceptions of the manifest library, under gt_provider's one base class.

Invalid content is never an exception inside the validator: every problem of a line becomes
part of the report. These exceptions are for the caller that decides to stop (an operator
before any labeling job exists) and for a manifest that cannot be read at all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gt_provider.exceptions import GroundTruthProviderError, ManifestReadError

__all__ = ["InvalidManifestError", "ManifestReadError"]

if TYPE_CHECKING:
    from gt_provider.manifests.report import ManifestReport


class InvalidManifestError(GroundTruthProviderError, ValueError):
    """The input manifest cannot be labeled as it is.

    Raised by ``ManifestReport.raise_if_invalid()`` before a labeling job is created. The
    message is the report's multi-line summary (what, where, how many, what to do) so that
    the person reading the task log sees the lines to fix without opening XCom; ``report``
    carries the whole report for code.
    """

    def __init__(self, report: ManifestReport) -> None:
        super().__init__(report.summary())
        self.report = report
