"""The Labeling jobs page's parts that need no browser: job records, and bounded live status.

The page itself (login, rows, filters, access, an unanswering backend) is tested in a real
browser against the native stack: tests/stack/test_browser.py.
"""

from __future__ import annotations

import threading
import time

import pytest

from gt_provider.backends import LabelingJobState
from gt_provider.job_records import JobRecord
from gt_provider.ui.jobs import JobRow, LiveStatus

RECORD = JobRecord(backend="ground_truth", job_name="job-1", job_url="https://console/job-1", aws_conn_id="aws_default")


def test_a_job_record_survives_xcom_and_foreign_values_are_ignored():
    assert JobRecord.from_xcom(RECORD.to_xcom()) == RECORD
    assert JobRecord.from_xcom({"job_name": "x"}) is None  # no backend
    assert JobRecord.from_xcom("https://console/job-1") is None
    assert JobRecord.from_xcom(None) is None


def test_live_status_answers_within_its_time_limit_when_a_backend_hangs():
    released = threading.Event()

    def hangs(record: JobRecord) -> LabelingJobState:
        released.wait(30)
        return LabelingJobState(record.job_name, "InProgress")

    live = LiveStatus(hangs, timeout=0.3)
    started = time.monotonic()
    [(record, answer)] = live.describe([RECORD]).items()
    took = time.monotonic() - started
    released.set()
    assert record == RECORD and isinstance(answer, TimeoutError)
    assert "no answer in 0.3 s" in str(answer)
    assert took < 5  # bounded by the limit, not by the backend


def test_live_status_reports_a_backend_error_and_reuses_answers_briefly():
    calls: list[str] = []

    def describe(record: JobRecord) -> LabelingJobState:
        calls.append(record.job_name)
        if record.job_name == "broken":
            raise ConnectionError("connection refused")
        return LabelingJobState(record.job_name, "InProgress", {"TotalLabeled": 2, "Unlabeled": 4})

    live = LiveStatus(describe, timeout=2, cache_seconds=60)
    broken = JobRecord(backend="label_studio", job_name="broken")
    answers = live.describe([RECORD, broken])
    assert isinstance(answers[broken], ConnectionError)
    assert answers[RECORD].counters["TotalLabeled"] == 2
    live.describe([RECORD])
    assert sorted(calls) == ["broken", "job-1"]  # the second page load asked no backend


@pytest.mark.parametrize(
    ("counters", "shown"),
    [
        ({}, (None, 0, 0)),
        (
            {"TotalLabeled": 5, "HumanLabeled": 4, "MachineLabeled": 1, "FailedNonRetryableError": 2, "Unlabeled": 3},
            (10, 5, 2),
        ),
    ],
)
def test_a_row_counts_objects_from_the_label_counters(counters, shown):
    row = JobRow(
        "dag", "run", "task", -1, "ground_truth", "job-1", None, "deferred", None, None, "InProgress", counters
    )
    assert (row.total, row.labeled, row.failed) == shown
    assert row.active and not row.settled
    assert row.run_path == "/dags/dag/runs/run"
