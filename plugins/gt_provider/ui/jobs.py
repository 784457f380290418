"""The rows of the Labeling jobs page: every labeling job of every DAG run a user may read.

A row starts from the job record that the labeling task pushed when its job came to exist
(:mod:`gt_provider.job_records`), joined with the task instance. A job whose task returned a
final state shows that result; any other job is described live by its backend, through the
connections the task used, with a time limit: an unreachable backend makes the row say so
instead of making the page hang or fail.

Cost comes from the labeling operator too (:func:`gt_provider.pricing.cost_report`, the
``cost`` of its result): the estimate made before the job was created, and the actual cost
once it ended. While a deferred task waits, its estimate is the one it handed to its
deferral (the task instance's ``next_kwargs``). What a running job has cost so far is not
shown: the actual cost needs the time its workers spent, read from every worker response in
S3 when the job ends -- too much to read on each refresh of the page.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from gt_provider.job_records import JOB_RECORD_KEY, JobRecord
from gt_provider.status import ALL_STATES, NON_TERMINAL_STATES, objects_total
from gt_provider.ui.datasets import BuiltDataset, built_datasets
from gt_provider.ui.plugin import URL_PREFIX

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from gt_provider.backends import LabelingJobState

#: Seconds one backend may take to describe a job before its row says it did not answer.
DESCRIBE_TIMEOUT = 5.0
#: Seconds a live description is reused (the page refreshes every few seconds while jobs run).
DESCRIBE_CACHE_SECONDS = 3.0
#: Rows shown at most, newest first.
MAX_ROWS = 500
#: Statuses a user can filter on.
STATUSES = tuple(sorted(ALL_STATES))
#: How the page names each backend.
BACKEND_NAMES = {"ground_truth": "Ground Truth", "label_studio": "Label Studio"}

Describer = Callable[[JobRecord], "LabelingJobState"]


@dataclass
class JobRow:
    """One labeling job as the page shows it."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    backend: str
    job_name: str
    job_url: str | None
    task_state: str | None
    started: datetime | None
    ended: datetime | None
    status: str = "Unknown"
    counters: Mapping[str, int] = field(default_factory=dict)
    #: Why the row has no live status (the backend did not answer), or why the job failed.
    problem: str | None = None
    live: bool = False
    #: The dataset version the job's run built (once its build task returned).
    dataset: BuiltDataset | None = None
    #: The estimate made before the job was created (``CostEstimate.as_dict``), when known.
    estimate: Mapping[str, Any] | None = None
    #: The ``cost`` of the task's result (:func:`gt_provider.pricing.cost_report`), once it returned.
    cost: Mapping[str, Any] | None = None

    @property
    def labeled(self) -> int:
        return int(self.counters.get("TotalLabeled", 0))

    @property
    def total(self) -> int | None:
        if not self.counters:
            return None
        return objects_total(self.counters)

    @property
    def failed(self) -> int:
        return int(self.counters.get("FailedNonRetryableError", 0))

    @property
    def human(self) -> int:
        return int(self.counters.get("HumanLabeled", 0))

    @property
    def machine(self) -> int:
        return int(self.counters.get("MachineLabeled", 0))

    @property
    def settled(self) -> bool:
        """The job's final state is known (its task returned it); nothing to ask the backend."""
        return self.status in ALL_STATES and self.status not in NON_TERMINAL_STATES

    @property
    def active(self) -> bool:
        """Still moving: the page keeps refreshing while a row is."""
        return self.status in NON_TERMINAL_STATES or self.task_state in ("running", "deferred", "queued", "scheduled")

    def take_cost(self, cost: object) -> None:
        """The ``cost`` of the task's result, and its estimate; a value of another shape is ignored."""
        self.cost = _mapping(cost)
        self.estimate = None if self.cost is None else _mapping(self.cost.get("estimate_usd"))

    @property
    def estimated_usd(self) -> tuple[float, float] | None:
        """The estimate's range: automated labeling's best case (low) to people labeling everything (high)."""
        if self.estimate is None:
            return None
        low, high = _usd_amount(self.estimate.get("low_usd")), _usd_amount(self.estimate.get("high_usd"))
        if low is None or high is None:
            return None
        return (min(low, high), max(low, high))

    @property
    def actual_usd(self) -> float | None:
        """What the job cost, once it ended (None while it runs, or when its worker responses could not be read)."""
        return None if self.cost is None else _usd_amount(self.cost.get("actual_usd"))

    @property
    def saved_usd(self) -> float | None:
        """What automated labeling saved against people labeling everything (may be negative)."""
        if self.actual_usd is None or self.cost is None:
            return None
        saved = self.cost.get("saved_usd")
        return float(saved) if isinstance(saved, int | float) and not isinstance(saved, bool) else None

    @property
    def pricing_as_of(self) -> str | None:
        """When the prices behind the figures were quoted."""
        for source in (self.cost, self.estimate):
            if source is not None and isinstance(source.get("pricing_as_of"), str):
                return source["pricing_as_of"]
        return None

    @property
    def run_path(self) -> str:
        """The run's page in the Airflow UI (a path on the API server)."""
        return f"/dags/{quote(self.dag_id, safe='')}/runs/{quote(self.run_id, safe='')}"

    @property
    def dataset_path(self) -> str | None:
        """The card page of the dataset version the run built."""
        if self.dataset is None:
            return None
        return f"{URL_PREFIX}{dataset_card_path(self.dag_id, self.run_id)}"

    def as_json(self) -> dict[str, Any]:
        return {
            "dag_id": self.dag_id,
            "run_id": self.run_id,
            "task_id": self.task_id,
            "map_index": self.map_index,
            "backend": self.backend,
            "job_name": self.job_name,
            "job_url": self.job_url,
            "run_url": self.run_path,
            "task_state": self.task_state,
            "status": self.status,
            "labeled": self.labeled,
            "total": self.total,
            "failed": self.failed,
            "human_labeled": self.human,
            "machine_labeled": self.machine,
            "started": self.started.isoformat() if self.started else None,
            "ended": self.ended.isoformat() if self.ended else None,
            "problem": self.problem,
            "live": self.live,
            "cost": {
                "currency": "USD",
                "estimated_low_usd": None if self.estimated_usd is None else self.estimated_usd[0],
                "estimated_high_usd": None if self.estimated_usd is None else self.estimated_usd[1],
                "actual_usd": self.actual_usd,
                "saved_usd": self.saved_usd,
                "pricing_as_of": self.pricing_as_of,
            },
            "dataset": None
            if self.dataset is None
            else {
                "name": self.dataset.name,
                "version": self.dataset.version,
                "uri": self.dataset.uri,
                "card_url": self.dataset_path,
            },
        }


def _usd_amount(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return None
    return float(value)


def format_usd(amount: float) -> str:
    """``$1,234.56``; an amount under a cent is ``<$0.01``, not a misleading ``$0.00``."""
    if 0 < abs(amount) < 0.01:
        return "<$0.01" if amount > 0 else "-<$0.01"
    return f"-${-amount:,.2f}" if amount < 0 else f"${amount:,.2f}"


#: The dataset card page (under the plugin's prefix).
DATASET_CARD_PATH = "/dataset-card"


def dataset_card_path(dag_id: str, run_id: str) -> str:
    return f"{DATASET_CARD_PATH}?dag_id={quote(dag_id, safe='')}&run_id={quote(run_id, safe='')}"


def describe_with_hooks(record: JobRecord) -> LabelingJobState:
    """Describe a job through the backend and connections its task used."""
    if record.backend == "label_studio":
        from gt_provider.hooks.label_studio import LabelStudioHook

        return LabelStudioHook(
            record.label_studio_conn_id or LabelStudioHook.default_conn_name, aws_conn_id=record.aws_conn_id
        ).describe(record.job_name)
    from botocore.config import Config

    from gt_provider.hooks.ground_truth import GroundTruthHook

    # One quick try: the page asks again in a few seconds anyway.
    config = Config(connect_timeout=2, read_timeout=DESCRIBE_TIMEOUT, retries={"max_attempts": 1, "mode": "standard"})
    hook = GroundTruthHook(aws_conn_id=record.aws_conn_id, region_name=record.region_name, config=config)
    return hook.describe(record.job_name)


class LiveStatus:
    """Backends' descriptions, each bounded by a time limit and reused for a few seconds.

    A backend that does not answer in time leaves its call running on a small pool (a stuck
    call cannot block the page, and at most ``workers`` of them run at once).
    """

    def __init__(
        self,
        describe: Describer = describe_with_hooks,
        *,
        timeout: float = DESCRIBE_TIMEOUT,
        cache_seconds: float = DESCRIBE_CACHE_SECONDS,
        workers: int = 8,
    ) -> None:
        self._describe = describe
        self._timeout = timeout
        self._cache_seconds = cache_seconds
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gt-describe")
        self._lock = threading.Lock()
        self._cache: dict[JobRecord, tuple[float, concurrent.futures.Future[LabelingJobState]]] = {}

    def _future(self, record: JobRecord) -> concurrent.futures.Future[LabelingJobState]:
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(record)
            if cached is not None and (not cached[1].done() or now - cached[0] < self._cache_seconds):
                return cached[1]
            future = self._pool.submit(self._describe, record)
            self._cache[record] = (now, future)
            return future

    def describe(self, records: Iterable[JobRecord]) -> dict[JobRecord, LabelingJobState | BaseException]:
        """Each record's state, or the error (``TimeoutError`` when its backend did not answer in time)."""
        futures = {record: self._future(record) for record in set(records)}
        concurrent.futures.wait(futures.values(), timeout=self._timeout)
        results: dict[JobRecord, LabelingJobState | BaseException] = {}
        for record, future in futures.items():
            if not future.done():
                results[record] = TimeoutError(f"no answer in {self._timeout:g} s")
            elif future.exception() is not None:
                results[record] = future.exception()  # type: ignore[assignment]
            else:
                results[record] = future.result()
        return results


def _unreachable(backend: str, error: BaseException) -> str:
    name = BACKEND_NAMES.get(backend, backend)
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return f"{name} did not answer: {text[:300]}"


def labeling_job_rows(
    session: Session,
    *,
    dag_ids: set[str],
    live: LiveStatus,
    dag_id: str | None = None,
    status: str | None = None,
    limit: int = MAX_ROWS,
) -> list[JobRow]:
    """The jobs of the DAGs in ``dag_ids`` (those the user may read), newest first, filtered."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from sqlalchemy import and_, select

    readable = {dag_id} & dag_ids if dag_id else dag_ids
    if not readable:
        return []
    same_task = and_(
        TaskInstance.dag_id == XComModel.dag_id,
        TaskInstance.run_id == XComModel.run_id,
        TaskInstance.task_id == XComModel.task_id,
        TaskInstance.map_index == XComModel.map_index,
    )
    query = (
        select(
            XComModel.dag_id,
            XComModel.run_id,
            XComModel.task_id,
            XComModel.map_index,
            XComModel.value,
            XComModel.timestamp,
            TaskInstance.state,
            TaskInstance.end_date,
            TaskInstance.next_kwargs,
        )
        .join(TaskInstance, same_task)
        .where(XComModel.key == JOB_RECORD_KEY, XComModel.dag_id.in_(readable))
        .order_by(XComModel.timestamp.desc())
        .limit(limit)
    )
    found = session.execute(query).all()
    results = _results(session, found)
    rows: list[tuple[JobRow, JobRecord]] = []
    for entry in found:
        record = JobRecord.from_xcom(XComModel.deserialize_value(entry))
        if record is None:
            continue
        key = (entry.dag_id, entry.run_id, entry.task_id, entry.map_index)
        row = JobRow(
            dag_id=entry.dag_id,
            run_id=entry.run_id,
            task_id=entry.task_id,
            map_index=entry.map_index,
            backend=record.backend,
            job_name=record.job_name,
            job_url=record.job_url,
            task_state=str(entry.state) if entry.state else None,
            started=entry.timestamp,
            ended=entry.end_date,
        )
        result = results.get(key)
        if isinstance(result, Mapping) and result.get("job_name") == record.job_name and result.get("status"):
            row.status = str(result["status"])
            row.counters = dict(result.get("label_counters") or {})
            row.take_cost(result.get("cost"))
        if row.estimate is None:
            row.estimate = _deferred_estimate(entry.next_kwargs)
        rows.append((row, record))
    _describe_live(live, [(row, record) for row, record in rows if not row.settled])
    datasets = built_datasets(session, {(row.dag_id, row.run_id) for row, _ in rows})
    for row, _ in rows:
        row.dataset = datasets.get((row.dag_id, row.run_id))
    return [row for row, _ in rows if status is None or row.status == status]


def _results(session: Session, found: list[Any]) -> dict[tuple[str, str, str, int], Any]:
    """The labeling tasks' return values (their job's final state), by task instance."""
    from airflow.models.xcom import XComModel
    from sqlalchemy import select, tuple_

    keys = [(entry.dag_id, entry.run_id, entry.task_id, entry.map_index) for entry in found]
    if not keys:
        return {}
    query = select(XComModel.dag_id, XComModel.run_id, XComModel.task_id, XComModel.map_index, XComModel.value).where(
        XComModel.key == "return_value",
        tuple_(XComModel.dag_id, XComModel.run_id, XComModel.task_id, XComModel.map_index).in_(keys),
    )
    return {
        (entry.dag_id, entry.run_id, entry.task_id, entry.map_index): XComModel.deserialize_value(entry)
        for entry in session.execute(query).all()
    }


def _mapping(value: object) -> Mapping[str, Any] | None:
    return value if isinstance(value, Mapping) else None


def _deferred_estimate(next_kwargs: object) -> Mapping[str, Any] | None:
    """The estimate a deferred labeling task handed to ``execute_complete`` (its ``estimate`` argument)."""
    return _mapping(next_kwargs.get("estimate")) if isinstance(next_kwargs, Mapping) else None


def _describe_live(live: LiveStatus, pending: list[tuple[JobRow, JobRecord]]) -> None:
    states = live.describe(record for _, record in pending)
    for row, record in pending:
        state = states[record]
        if isinstance(state, BaseException):
            row.problem = _unreachable(record.backend, state)
            continue
        row.status = state.status
        row.counters = dict(state.counters)
        row.live = True
        if state.status in NON_TERMINAL_STATES:
            row.ended = None
        if state.failure_reason:
            row.problem = state.failure_reason
