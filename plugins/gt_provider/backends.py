"""The labeling-backend contract: what every labeling backend does, in one interface.

Standard library only (no Airflow, no boto3). A backend runs labeling jobs described by a
:class:`~gt_provider.labeling_request.LabelingJobSpec`:

- :meth:`LabelingBackend.create_or_attach` starts the job, or finds the one an earlier try
  of the same task started (same deterministic name) and re-attaches to it; a different
  request under that name is refused, naming the differences. Nothing is paid twice.
- :meth:`LabelingBackend.describe` returns a :class:`LabelingJobState`: the one status
  vocabulary of ``status.py`` and the one progress shape (``312/1000 labeled ...``).
- :meth:`LabelingBackend.stop` asks the job to stop; what was labeled stays collectable.
- :meth:`LabelingBackend.collect` says where the job's output is, always in Ground
  Truth's output layout (the output augmented manifest above all), so the ledger,
  datasets and training never know which backend labeled.
- :attr:`LabelingBackend.capabilities` declares what the backend can run, so an
  unsupported request is refused before anything is created, naming the backend and the
  feature (:meth:`BackendCapabilities.check`).

Ground Truth (on AWS and the embedded local one) implements it in
:class:`gt_provider.hooks.ground_truth.GroundTruthHook`; the operators, the sensor and the
trigger talk to this interface only.
"""

from __future__ import annotations

import abc
import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

from gt_provider.exceptions import LabelingJobFailedError, UnsupportedByBackendError
from gt_provider.status import FAILURE_STATES, NON_TERMINAL_STATES, STOPPED_STATES, format_progress, waiting_message

if TYPE_CHECKING:
    from gt_provider.labeling_request import LabelingJobSpec

#: The backends a labeling operator runs jobs on (its ``backend`` argument; the DAGs' ``backend`` param).
BACKENDS: tuple[str, ...] = ("ground_truth", "label_studio")

#: What ``create_or_attach`` does when a job of the spec's name exists already.
IfJobExists = Literal["reattach", "fail", "timestamp"]
ACTIONS_IF_JOB_EXISTS: tuple[str, ...] = ("reattach", "fail", "timestamp")


@dataclass(frozen=True)
class BackendCapabilities:
    """What a backend can run, declared up front instead of discovered by a failed job.

    :param backend: The backend's name, as errors show it (``"Ground Truth"``).
    :param task_types: Task type names it runs; ``None`` means every built-in type.
    :param review: Verification / adjustment (audit) jobs of an earlier job's labels.
    :param automated_labeling: Machine labels with active learning (``auto_labeling``).
    :param streaming: Jobs fed by an input topic that run until stopped.
    """

    backend: str
    task_types: frozenset[str] | None = None
    review: bool = True
    automated_labeling: bool = False
    streaming: bool = False

    def problems(self, spec: LabelingJobSpec) -> list[str]:
        """Each feature of ``spec`` this backend cannot run, one sentence each."""
        problems = []
        if self.task_types is not None and spec.task_type not in self.task_types:
            problems.append(f"task type {spec.task_type} (it runs {sorted(self.task_types)})")
        if spec.info.is_review and not self.review:
            problems.append(f"review jobs ({spec.task_type})")
        if spec.auto_labeling and not self.automated_labeling:
            problems.append("automated labeling (auto_labeling=True)")
        return problems

    def check(self, spec: LabelingJobSpec) -> None:
        """Raise :class:`UnsupportedByBackendError` before anything is created."""
        problems = self.problems(spec)
        if problems:
            raise UnsupportedByBackendError(
                f"The {self.backend} backend cannot run labeling job {spec.job_name}: it does not support "
                + "; ".join(problems)
            )


@dataclass(frozen=True)
class LabelingJobState:
    """A labeling job as ``describe`` tells it, whatever the backend.

    :param job_name: The job's name.
    :param status: One of ``status.ALL_STATES``.
    :param counters: ``LabelCounters``' shape (``TotalLabeled``, ``HumanLabeled``,
        ``MachineLabeled``, ``FailedNonRetryableError``, ``Unlabeled``).
    :param failure_reason: Why the job failed, when it did.
    :param job_arn: The backend's id of the job (an ARN on Ground Truth).
    :param output_manifest_uri: Where the output augmented manifest is (or will be).
    :param description: The backend's own description, for callers that need more.
    """

    job_name: str
    status: str
    counters: Mapping[str, int] = field(default_factory=dict)
    failure_reason: str | None = None
    job_arn: str | None = None
    output_manifest_uri: str | None = None
    description: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def terminal(self) -> bool:
        return self.status not in NON_TERMINAL_STATES

    @property
    def progress(self) -> str:
        """``312/1000 labeled (300 human, 12 machine), 4 failed``."""
        return format_progress(self.counters)


@dataclass(frozen=True)
class LabelingJobOutput:
    """Where a job's results are, in Ground Truth's output layout.

    :param job_name: The job's name.
    :param output_manifest_uri: The output augmented manifest.
    :param worker_responses_uri: Prefix of ``iteration-N/<object>/<time>.json`` worker responses.
    :param confidence_thresholds: Automated labeling's confidence threshold per iteration,
        where the backend reports it (the local Ground Truth's job events); empty otherwise.
    """

    job_name: str
    output_manifest_uri: str
    worker_responses_uri: str
    confidence_thresholds: tuple[float, ...] = ()


@dataclass(frozen=True)
class Attachment:
    """What ``create_or_attach`` did: the spec it ran (its name may carry a timestamp) and the job."""

    spec: LabelingJobSpec
    state: LabelingJobState
    created: bool


class LabelingBackend(abc.ABC):
    """The interface every labeling backend implements (see the module docstring)."""

    capabilities: ClassVar[BackendCapabilities]

    @abc.abstractmethod
    def create_or_attach(self, spec: LabelingJobSpec, *, if_exists: IfJobExists = "reattach") -> Attachment:
        """Start the job of ``spec``, or re-attach to the one of the same name and request."""

    @abc.abstractmethod
    def describe(self, job_name: str) -> LabelingJobState:
        """Status, counters and failure reason of a job."""

    @abc.abstractmethod
    def stop(self, job_name: str) -> None:
        """Ask the job to stop; what was labeled is still collected."""

    @abc.abstractmethod
    def collect(self, job_name: str) -> LabelingJobOutput:
        """Where the job's output (Ground Truth's layout) is."""


def check_final_state(
    state: LabelingJobState, log: logging.Logger | logging.LoggerAdapter, *, allow_stopped: bool = False
) -> LabelingJobState:
    """Raise for Failed (and Stopped unless allowed); warn about objects that failed.

    The one place that decides whether an end state is a failure (blocking waits, the
    triggers' resumption and the sensor alike, on every backend).
    """
    if state.status in FAILURE_STATES:
        raise LabelingJobFailedError(
            f"Labeling job {state.job_name} failed: {state.failure_reason or 'no reason given'} ({state.progress})"
        )
    if state.status in STOPPED_STATES and not allow_stopped:
        raise LabelingJobFailedError(
            f"Labeling job {state.job_name} was stopped ({state.progress}); "
            "pass allow_stopped=True to use its partial output."
        )
    failed = state.counters.get("FailedNonRetryableError", 0)
    if failed:
        log.warning(
            "Labeling job %s: %d objects failed labeling and carry a failure-reason in the output manifest",
            state.job_name,
            failed,
        )
    log.info("Labeling job %s is %s: %s", state.job_name, state.status, state.progress)
    return state


@dataclass(frozen=True)
class WaitOutcome:
    """How a wait ended: ``success`` (Completed or Stopped), ``failure`` (Failed), ``error``
    (the check itself failed) or ``timeout`` (still running after the last check)."""

    status: str
    message: str | None = None
    job_status: str | None = None

    def event(self, job_name: str) -> dict[str, Any]:
        """The trigger event's payload: status and job name, and why when it did not succeed."""
        payload: dict[str, Any] = {"status": self.status, "job_name": job_name}
        if self.status == "failure":
            payload["job_status"] = self.job_status
        if self.message:
            payload["message"] = self.message
        return payload


class PollingWait:
    """The wait loop's decisions for a backend read by ``describe`` (no AWS waiter), blocking or in a trigger.

    The same outcomes as Ground Truth's waiter: ``success`` when the job is Completed or
    Stopped, ``failure`` when it Failed, ``timeout`` after the last check; progress is
    logged at each check in the same words.
    """

    def __init__(
        self, job_name: str, delay: int, max_attempts: int, log: logging.Logger | logging.LoggerAdapter
    ) -> None:
        self.job_name = job_name
        self.delay = delay
        self.max_attempts = max_attempts
        self.log = log

    def attempts(self) -> range:
        return range(1, self.max_attempts + 1)

    def after_check(self, attempt: int, state: LabelingJobState) -> WaitOutcome | None:
        """The outcome after one ``describe``, or None to sleep ``delay`` and check again."""
        if state.status in FAILURE_STATES:
            return WaitOutcome("failure", message=state.failure_reason, job_status=state.status)
        if state.terminal:
            return WaitOutcome("success")
        description = {"LabelingJobStatus": state.status, "LabelCounters": state.counters}
        self.log.info(waiting_message(self.job_name, description, attempt, self.max_attempts, self.delay))
        return None

    def timed_out(self) -> WaitOutcome:
        return WaitOutcome(
            "timeout",
            message=f"Labeling job {self.job_name} was still running after {self.max_attempts} checks "
            f"{self.delay} s apart; it keeps running. Raise waiter_max_attempts or wait for it with a sensor.",
        )


class WaitDecisions(Protocol):
    """What a wait loop asks of its decisions (``PollingWait``, ``GroundTruthHook``'s ``LabelingJobWait``)."""

    delay: int

    def attempts(self) -> range: ...

    def timed_out(self) -> WaitOutcome: ...


async def wait_in_event_loop(wait: WaitDecisions, check: Callable[[int], Awaitable[WaitOutcome | None]]) -> WaitOutcome:
    """A trigger's wait: ``await check(attempt)`` until it gives an outcome, ``wait.delay`` seconds apart.

    The event loop keeps running between checks (``asyncio.sleep``); after the last attempt,
    the wait's timeout. Each trigger supplies only its check (an AWS waiter, a ``describe``).
    """
    for attempt in wait.attempts():
        outcome = await check(attempt)
        if outcome is not None:
            return outcome
        await asyncio.sleep(wait.delay)
    return wait.timed_out()


def wait_by_polling(
    backend: LabelingBackend,
    job_name: str,
    *,
    delay: int,
    max_attempts: int,
    log: logging.Logger | logging.LoggerAdapter,
    sleep: Any = None,
) -> LabelingJobState:
    """Block until the job is terminal, checking every ``delay`` seconds; its last state."""
    import time

    wait = PollingWait(job_name, delay, max_attempts, log)
    for attempt in wait.attempts():
        state = backend.describe(job_name)
        outcome = wait.after_check(attempt, state)
        if outcome is not None:
            return state
        (sleep or time.sleep)(delay)
    raise LabelingJobFailedError(wait.timed_out().message)
