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
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from gt_provider.exceptions import UnsupportedByBackendError
from gt_provider.status import NON_TERMINAL_STATES, format_progress

if TYPE_CHECKING:
    from gt_provider.labeling_request import LabelingJobSpec

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
    """

    job_name: str
    output_manifest_uri: str
    worker_responses_uri: str


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
