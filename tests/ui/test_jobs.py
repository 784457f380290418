"""The Labeling jobs page's parts that need no browser: job records, bounded live status, cost columns.

The cost columns are tested from real XCom rows: a real labeling task run with ``dag.test()``
on the local AWS. The page itself (login, rows, filters, access, an unanswering backend, the
cost of a job triggered from the form) is tested in a real browser against the native
stack: tests/stack/test_browser.py.
"""

from __future__ import annotations

import json
import re
import threading
import time
from html import unescape
from types import SimpleNamespace

import pytest

from gt_provider.backends import LabelingJobState
from gt_provider.job_records import JobRecord
from gt_provider.ui.jobs import JobRow, LiveStatus, format_usd, labeling_job_rows

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


# ------------------------------------------------------------------ cost columns
#: A DAG of one real labeling task; the test's local AWS and manifest come in as params.
COST_DAG = """
import pendulum
from airflow.sdk import DAG

from gt_provider.operators.labeling import GroundTruthLabelingJobOperator

with DAG(
    "gt_ui_cost_columns",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    render_template_as_native_obj=True,
    params={"manifest": "", "output": "", "workteam": "", "role": ""},
):
    GroundTruthLabelingJobOperator(
        task_id="label",
        task_type="ImageMultiClass",
        input_manifest_uri="{{ params.manifest }}",
        output_path="{{ params.output }}",
        labels=["cat", "dog", "bird"],
        workteam_arn="{{ params.workteam }}",
        role_arn="{{ params.role }}",
        short_instructions="Pick the animal.",
        workers_per_object=2,
        waiter_delay=1,
    )
"""
COST_DAG_ID = "gt_ui_cost_columns"


def _never_described(record: JobRecord) -> LabelingJobState:
    raise AssertionError(f"{record.job_name} ended: its row needs no backend")


@pytest.fixture
def labeled_run(aws, airflow_db, tmp_path) -> dict:
    """A real run of a real labeling task on the local AWS: its job record and result in XCom."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

    DagBundlesManager().sync_bundles_to_db()  # the bundle a DAG is written under must exist first
    (tmp_path / "cost_dag.py").write_text(COST_DAG)
    bag = DagBag(dag_folder=str(tmp_path))
    assert not bag.import_errors, bag.import_errors
    sync_bag_to_db(bag, "dags-folder", None)
    lines = [{"source-ref": f"s3://{aws.bucket}/i/{i}.png", "gt-local-answer": "cat"} for i in range(6)]
    manifest_uri = aws.put_text("ui/input.manifest", "".join(json.dumps(line) + "\n" for line in lines))
    run = bag.dags[COST_DAG_ID].test(
        run_conf={
            "manifest": manifest_uri,
            "output": f"s3://{aws.bucket}/ui/output",
            "workteam": aws.workteam_arn,
            "role": aws.role_arn,
        }
    )
    assert str(run.state) == "success"
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        value = session.scalar(
            select(XComModel.value).where(
                XComModel.dag_id == COST_DAG_ID, XComModel.run_id == run.run_id, XComModel.key == "return_value"
            )
        )
    return {"run_id": run.run_id, "result": XComModel.deserialize_value(SimpleNamespace(value=value))}


def _rows(describe=_never_described) -> list[JobRow]:
    from airflow.utils.session import create_session

    with create_session() as session:
        return labeling_job_rows(session, dag_ids={COST_DAG_ID}, live=LiveStatus(describe, timeout=2))


def test_an_ended_job_shows_its_estimate_and_what_it_cost(labeled_run, monkeypatch):
    cost = labeled_run["result"]["cost"]
    estimate = cost["estimate_usd"]
    assert cost["actual_usd"] > 0 and estimate["objects"] == 6  # what the operator measured and predicted
    [row] = [row for row in _rows() if row.run_id == labeled_run["run_id"]]
    assert row.status == "Completed"
    assert row.estimated_usd == (estimate["low_usd"], estimate["high_usd"])
    assert row.actual_usd == cost["actual_usd"]
    assert row.as_json()["cost"] == {
        "currency": "USD",
        "estimated_low_usd": estimate["low_usd"],
        "estimated_high_usd": estimate["high_usd"],
        "actual_usd": cost["actual_usd"],
        "saved_usd": 0.0,  # people labeled everything: automation saved nothing
        "pricing_as_of": cost["pricing_as_of"],
    }

    # The page (its login is tested in the browser): the figures in dollars, no saving claimed.
    from fastapi.testclient import TestClient

    from gt_provider.ui import app as ui_app

    monkeypatch.setattr(ui_app, "_readable_dag_ids", lambda user, session: {COST_DAG_ID})
    site = ui_app.create_app(LiveStatus(_never_described))
    site.dependency_overrides[ui_app._user] = lambda: object()
    html = TestClient(site).get(ui_app.JOBS_PATH).text
    cells = _cells(html, row.job_name)
    assert "<th>Estimated</th><th>Cost</th>" in html
    assert cells["estimated"] == format_usd(estimate["high_usd"])  # human-only: low == high, one figure
    assert cells["cost"] == format_usd(cost["actual_usd"])
    assert "saved" not in cells["cost"]


def test_a_deferred_job_shows_the_estimate_it_deferred_with_and_no_cost_yet(labeled_run):
    """While its task is deferred, a job's row has the estimate the task handed to its deferral."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import delete, update

    estimate = labeled_run["result"]["cost"]["estimate_usd"]
    same_task = {"dag_id": COST_DAG_ID, "run_id": labeled_run["run_id"], "task_id": "label"}
    with create_session() as session:  # the task instance as Airflow keeps it while the trigger waits
        session.execute(
            update(TaskInstance)
            .filter_by(**same_task)
            .values(state="deferred", end_date=None, next_method="execute_complete", next_kwargs={"estimate": estimate})
        )
        session.execute(delete(XComModel).filter_by(**same_task, key="return_value"))

    def running(record: JobRecord) -> LabelingJobState:
        return LabelingJobState(record.job_name, "InProgress", {"TotalLabeled": 2, "HumanLabeled": 2, "Unlabeled": 4})

    [row] = [row for row in _rows(running) if row.run_id == labeled_run["run_id"]]
    assert (row.status, row.labeled, row.total) == ("InProgress", 2, 6)
    assert row.estimated_usd == (estimate["low_usd"], estimate["high_usd"])
    assert row.actual_usd is None and row.as_json()["cost"]["actual_usd"] is None


def _cells(html: str, job_name: str) -> dict[str, str]:
    """The text of each classed cell of a job's row on the page."""
    found = re.search(rf'<tr data-job="{re.escape(job_name)}".*?</tr>', html, re.DOTALL)
    assert found, f"no row for {job_name}"
    cells = re.findall(r'<td class="num (\w+)"[^>]*>(.*?)</td>', found.group(0), re.DOTALL)
    return {name: unescape(re.sub(r"<[^>]+>", " ", text)).strip() for name, text in cells}


def _page(rows: list[JobRow]) -> str:
    from gt_provider.ui.app import page_templates

    return (
        page_templates()
        .get_template("labeling_jobs.html")
        .render(rows=rows, dag_choices=[], status_choices=[], backend_names={}, updated="now")
    )


def _row(cost: object, status: str = "Completed") -> JobRow:
    row = JobRow("dag", "run", "task", -1, "ground_truth", "job-1", None, "success", None, None, status)
    row.take_cost(cost)
    return row


def test_automation_savings_are_shown_and_odd_cost_values_are_not():
    automated = _row(
        {
            "estimate_usd": {"low_usd": 12.5, "high_usd": 40.0},
            "actual_usd": 21.25,
            "saved_usd": 9.75,
            "pricing_as_of": "2025-06",
        }
    )
    assert automated.estimated_usd == (12.5, 40.0)
    assert (automated.actual_usd, automated.saved_usd, automated.pricing_as_of) == (21.25, 9.75, "2025-06")
    cells = _cells(_page([automated]), "job-1")
    assert cells["estimated"] == "$12.50\u2013$40.00"
    assert cells["cost"] == "$21.25 saved $9.75 by automation"
    # The task could not read its worker responses: an estimate, no actual cost, nothing saved.
    unread = _row({"estimate_usd": {"low_usd": 3, "high_usd": 3}, "actual_usd": None, "saved_usd": None})
    assert (unread.estimated_usd, unread.actual_usd, unread.saved_usd) == ((3.0, 3.0), None, None)
    # Values this page did not write (an older result, text, a negative amount) show no figure.
    for odd in ("$21", {"estimate_usd": "12", "actual_usd": "21"}, {"estimate_usd": {"low_usd": -1, "high_usd": 2}}):
        row = _row(odd)
        assert (row.estimated_usd, row.actual_usd) == (None, None)
    assert _row(None).as_json()["cost"]["estimated_low_usd"] is None


@pytest.mark.parametrize(
    ("amount", "shown"), [(0, "$0.00"), (0.004, "<$0.01"), (1234.5, "$1,234.50"), (-2.5, "-$2.50")]
)
def test_amounts_in_dollars_never_round_a_cost_to_nothing(amount, shown):
    assert format_usd(amount) == shown
