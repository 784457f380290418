"""A finished labeling job's output, written in Ground Truth's layout under ``<S3OutputPath>/<job-name>/``.

``models.py`` decides when a job is finished and which objects failed; this module only
turns the job's answers into the files Ground Truth writes, as its developer guide
("Output Data") lays them out:

- ``annotations/worker-response/iteration-1/<id>/<time>.json``: every worker's answer;
- ``annotations/consolidated-annotation/consolidation-response/iteration-1/<time>.json``:
  the consolidated labels, in batches of 1,000 objects;
- ``annotations/consolidated-annotation/output/<id>/<name>``: label artifacts (mask PNG,
  ``SeqLabel.json``...), whose S3 URI is then the object's label;
- ``manifests/output/output.manifest``: the input lines with ``<attr>`` and
  ``<attr>-metadata`` added, failed objects carrying a ``failure-reason``.

Times are derived from the job's timeline (object ``i`` is labeled ``i / objects_per_second``
after initialization), so the same job writes the same files.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gt_provider.local.models import LabelingJob
    from gt_provider.local.s3 import S3Store
    from gt_provider.local.workforce import ObjectOutcome

#: Objects per consolidation response file.
CONSOLIDATION_BATCH_SIZE = 1000


def write_output(job: LabelingJob, s3: S3Store) -> None:
    """Consolidate the labeled objects of ``job`` and write all of its output files."""
    processed = job.outcomes[: job.labeled]
    consolidated = job.simulation.consolidate(
        [outcome for outcome in processed if not outcome.failure_reason], job.spec()
    )
    attribute = job.label_attribute_name
    started = job.created + timedelta(seconds=job.timeline.initializing_seconds)
    manifest_lines, consolidation = [], []
    for outcome in processed:
        labeled_at = started + timedelta(seconds=outcome.index / job.timeline.objects_per_second)
        metadata: dict[str, Any] = {}
        line = dict(job.lines[outcome.index])
        if outcome.failure_reason:
            metadata["failure-reason"] = outcome.failure_reason
        else:
            result = consolidated[outcome.index]
            line[attribute] = result.value
            if result.artifact is not None:
                uri = (
                    f"{job.output_prefix}/annotations/consolidated-annotation/output/"
                    f"{outcome.index}/{result.artifact.name}"
                )
                s3.put(uri, result.artifact.body)
                line[attribute] = uri
            metadata.update(result.metadata)
            _write_worker_response(job, outcome, labeled_at, s3)
        metadata.update(
            {
                "type": job.task_type.output_type,  # type: ignore[union-attr]
                "job-name": f"labeling-job/{job.name}",
                "human-annotated": "yes",
                "creation-date": labeled_at.replace(tzinfo=None).isoformat(timespec="microseconds"),
            }
        )
        line[f"{attribute}-metadata"] = metadata
        manifest_lines.append(json.dumps(line, separators=(",", ":"), ensure_ascii=False))
        if not outcome.failure_reason:
            consolidation.append(
                {
                    "datasetObjectId": str(outcome.index),
                    "consolidatedAnnotation": {
                        "content": {attribute: line[attribute], f"{attribute}-metadata": metadata}
                    },
                }
            )
    for start in range(0, len(consolidation), CONSOLIDATION_BATCH_SIZE):
        stamp = (started + timedelta(seconds=start)).strftime("%Y-%m-%d_%H:%M:%S")
        s3.put(
            f"{job.output_prefix}/annotations/consolidated-annotation/consolidation-response/iteration-1/{stamp}.json",
            json.dumps(consolidation[start : start + CONSOLIDATION_BATCH_SIZE]).encode(),
        )
    body = "".join(f"{line}\n" for line in manifest_lines)
    s3.put(job.output_manifest_uri, body.encode())


def _write_worker_response(job: LabelingJob, outcome: ObjectOutcome, labeled_at: datetime, s3: S3Store) -> None:
    """One object's worker responses: every worker submits when the object is labeled."""
    simulation, spec = job.simulation, job.spec()
    answers = []
    submitted = labeled_at
    for answer in outcome.answers:
        accepted = submitted - timedelta(seconds=answer.seconds_spent)
        answers.append(
            {
                "workerId": answer.worker.worker_id,
                "answerContent": simulation.answer_content(outcome.task, answer.content, spec),
                "acceptanceTime": _api_time(accepted),
                "submissionTime": _api_time(submitted),
                "timeSpentInSeconds": float(answer.seconds_spent),
                "workerMetadata": {
                    "identityData": {
                        "identityProviderType": "Cognito",
                        "issuer": f"https://cognito-idp.{job.region}.amazonaws.com/{job.region}_gtlocal",
                        "sub": answer.worker.sub,
                    }
                },
            }
        )
    stamp = labeled_at.strftime("%Y-%m-%d_%H:%M:%S")
    s3.put(
        f"{job.output_prefix}/annotations/worker-response/iteration-1/{outcome.index}/{stamp}.json",
        json.dumps({"answers": answers}).encode(),
    )


def _api_time(moment: datetime) -> str:
    """``2026-01-02T03:04:05.678Z``: milliseconds, as worker responses spell times."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
