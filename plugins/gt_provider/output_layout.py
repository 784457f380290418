"""Ground Truth's output layout, written from workers' answers: one writer for every backend.

The local Ground Truth (simulated workers) and the Label Studio backend (real people) both
end with the same thing: per data object, the answers of its workers and why an object
failed. This module consolidates them with the task type's consolidation (Dawid-Skene,
IoU clustering, span votes: ``gt_provider.local.annotations``) and writes what Ground
Truth writes under ``<S3OutputPath>/<job-name>/`` (developer guide, "Output Data"):

- ``annotations/worker-response/iteration-1/<id>/<time>.json``: every worker's answer;
- ``annotations/consolidated-annotation/consolidation-response/iteration-1/<time>.json``:
  the consolidated labels, in batches of 1,000 objects;
- ``annotations/consolidated-annotation/output/<id>/<name>``: label artifacts (mask PNG...),
  whose S3 URI is then the object's label;
- ``manifests/output/output.manifest``: the input lines with ``<attr>`` and
  ``<attr>-metadata`` added, failed objects carrying a ``failure-reason``.

The output manifest is written last, in one PUT: a reader that finds it finds every file
it refers to, and never a partial manifest.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gt_provider.local.annotations import Consolidated, JobSpec, Simulation
    from gt_provider.local.workforce import Answer, ObjectOutcome

#: Objects per consolidation response file.
CONSOLIDATION_BATCH_SIZE = 1000

#: ``put(s3_uri, body)``: how the writer stores one file.
Put = Callable[[str, bytes], None]


@dataclass(frozen=True)
class Identity:
    """Who a worker is, as a worker response's ``workerMetadata.identityData`` says."""

    provider_type: str
    issuer: str


@dataclass(frozen=True)
class OutputJob:
    """What the writer needs to know of a finished job.

    :param name: The job's name (``job-name`` is ``labeling-job/<name>``).
    :param output_prefix: ``<S3OutputPath>/<name>``.
    :param label_attribute_name: The ``<attr>`` key.
    :param output_type: The task type's output ``type`` (``groundtruth/image-classification``).
    :param simulation: The task type's answers and consolidation.
    :param spec: The labels and the rest consolidation needs.
    :param lines: The input manifest's lines, by object index (a list, or a mapping when some are absent).
    :param identity: Who the workers are (Cognito on Ground Truth, the server on Label Studio).
    """

    name: str
    output_prefix: str
    label_attribute_name: str
    output_type: str
    simulation: Simulation
    spec: JobSpec
    lines: Sequence[Mapping[str, Any]] | Mapping[int, Mapping[str, Any]]
    identity: Identity

    @property
    def output_manifest_uri(self) -> str:
        return f"{self.output_prefix}/manifests/output/output.manifest"


@dataclass(frozen=True)
class MachineLabeled:
    """An object a model labeled (automated data labeling): its label and when."""

    index: int
    result: Consolidated
    labeled_at: datetime


def write_layout(
    job: OutputJob,
    outcomes: Sequence[ObjectOutcome],
    labeled_at: Callable[[ObjectOutcome], datetime],
    put: Put,
    *,
    started: datetime,
    machine: Sequence[MachineLabeled] = (),
    iteration_of: Callable[[int], int] = lambda index: 1,
) -> int:
    """Consolidate ``outcomes`` and write all of the job's output files; returns the lines written.

    ``labeled_at(outcome)`` is when the object's last worker submitted; ``started`` names
    the consolidation response files. ``machine`` are the objects a model labeled
    (``human-annotated: "no"``, no worker responses); ``iteration_of(index)`` is the
    automated-labeling iteration in which humans labeled an object (its
    ``iteration-N`` folder).
    """
    consolidated = job.simulation.consolidate([outcome for outcome in outcomes if not outcome.failure_reason], job.spec)
    attribute = job.label_attribute_name
    manifest_lines, consolidation = [], []
    entries: list[ObjectOutcome | MachineLabeled] = sorted([*outcomes, *machine], key=lambda entry: entry.index)
    for entry in entries:
        metadata: dict[str, Any] = {}
        line = dict(job.lines[entry.index])
        human = "yes"
        if isinstance(entry, MachineLabeled):
            moment, human = entry.labeled_at, "no"
            line[attribute] = entry.result.value
            metadata.update(entry.result.metadata)
        elif entry.failure_reason:
            moment = labeled_at(entry)
            metadata["failure-reason"] = entry.failure_reason
        else:
            moment = labeled_at(entry)
            result = consolidated[entry.index]
            line[attribute] = result.value
            if result.artifact is not None:
                uri = f"{job.output_prefix}/annotations/consolidated-annotation/output/{entry.index}/{result.artifact.name}"
                put(uri, result.artifact.body)
                line[attribute] = uri
            metadata.update(result.metadata)
            _write_worker_response(job, entry, moment, put, iteration_of(entry.index))
        metadata.update(
            {
                "type": job.output_type,
                "job-name": f"labeling-job/{job.name}",
                "human-annotated": human,
                "creation-date": moment.replace(tzinfo=None).isoformat(timespec="microseconds"),
            }
        )
        line[f"{attribute}-metadata"] = metadata
        manifest_lines.append(json.dumps(line, separators=(",", ":"), ensure_ascii=False))
        if human == "yes" and "failure-reason" not in metadata:
            consolidation.append(
                {
                    "datasetObjectId": str(entry.index),
                    "consolidatedAnnotation": {
                        "content": {attribute: line[attribute], f"{attribute}-metadata": metadata}
                    },
                }
            )
    for start in range(0, len(consolidation), CONSOLIDATION_BATCH_SIZE):
        stamp = (started + timedelta(seconds=start)).strftime("%Y-%m-%d_%H:%M:%S")
        put(
            f"{job.output_prefix}/annotations/consolidated-annotation/consolidation-response/iteration-1/{stamp}.json",
            json.dumps(consolidation[start : start + CONSOLIDATION_BATCH_SIZE]).encode(),
        )
    put(job.output_manifest_uri, "".join(f"{line}\n" for line in manifest_lines).encode())
    return len(manifest_lines)


def _write_worker_response(
    job: OutputJob, outcome: ObjectOutcome, labeled_at: datetime, put: Put, iteration: int
) -> None:
    """One object's worker responses."""
    answers = [_worker_answer(job, outcome, answer, labeled_at) for answer in outcome.answers]
    stamp = labeled_at.strftime("%Y-%m-%d_%H:%M:%S")
    put(
        f"{job.output_prefix}/annotations/worker-response/iteration-{iteration}/{outcome.index}/{stamp}.json",
        json.dumps({"answers": answers}).encode(),
    )


def _worker_answer(job: OutputJob, outcome: ObjectOutcome, answer: Answer, labeled_at: datetime) -> dict[str, Any]:
    submitted = answer.submitted_at or labeled_at
    accepted = submitted - timedelta(seconds=answer.seconds_spent)
    return {
        "workerId": answer.worker.worker_id,
        "answerContent": job.simulation.answer_content(outcome.task, answer.content, job.spec),
        "acceptanceTime": api_time(accepted),
        "submissionTime": api_time(submitted),
        "timeSpentInSeconds": float(answer.seconds_spent),
        "workerMetadata": {
            "identityData": {
                "identityProviderType": job.identity.provider_type,
                "issuer": job.identity.issuer,
                "sub": answer.worker.sub,
            }
        },
    }


def api_time(moment: datetime) -> str:
    """``2026-01-02T03:04:05.678Z``: milliseconds, as worker responses spell times."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
