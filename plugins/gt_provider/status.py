"""Labeling-job statuses and how progress is told, defined once.

The waiter JSON (``waiters/ground_truth.json``) encodes the same sets; a test checks that
the two agree, so the sensor, the trigger and the blocking wait cannot drift apart.
Standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

NON_TERMINAL_STATES = frozenset({"Initializing", "InProgress", "Stopping"})
SUCCESS_STATES = frozenset({"Completed"})
FAILURE_STATES = frozenset({"Failed"})
#: Terminal, and a failure unless the caller allows it (``allow_stopped``).
STOPPED_STATES = frozenset({"Stopped"})
ALL_STATES = NON_TERMINAL_STATES | SUCCESS_STATES | FAILURE_STATES | STOPPED_STATES


def objects_total(counters: Mapping[str, int]) -> int:
    """The job's objects from ``LabelCounters``: labeled, failed and not yet labeled."""
    return (
        int(counters.get("TotalLabeled", 0))
        + int(counters.get("FailedNonRetryableError", 0))
        + int(counters.get("Unlabeled", 0))
    )


def format_progress(counters: Mapping[str, int] | None) -> str:
    """``312/1000 labeled (300 human, 12 machine), 4 failed`` from ``LabelCounters``."""
    counters = counters or {}
    labeled = counters.get("TotalLabeled", 0)
    failed = counters.get("FailedNonRetryableError", 0)
    total = objects_total(counters)
    return (
        f"{labeled}/{total} labeled ({counters.get('HumanLabeled', 0)} human, "
        f"{counters.get('MachineLabeled', 0)} machine), {failed} failed"
    )


def waiting_message(job_name: str, description: Mapping[str, Any], attempt: int, max_attempts: int, delay: int) -> str:
    """The line logged at each check while a labeling job runs (blocking wait and trigger alike)."""
    return (
        f"Labeling job {job_name} is {description.get('LabelingJobStatus', 'unknown')}: "
        f"{format_progress(description.get('LabelCounters'))} (check {attempt} of {max_attempts}, next in {delay} s)"
    )
