"""Label Studio annotations as the answers of workers: one per annotator, as collect consolidates them.

No Airflow, no HTTP: functions of exported tasks (``GET /api/projects/<id>/export``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from gt_provider.labelstudio.codecs import CODECS, INDEX_KEY, AnnotationFormatError
from gt_provider.labelstudio.records import parse_time
from gt_provider.local.annotations import ObjectSource
from gt_provider.local.workforce import Answer, ObjectOutcome, Worker
from gt_provider.output_layout import OutputJob

#: The most annotation problems one error lists.
_MAX_PROBLEMS = 5


def task_outcomes(
    where: str,
    record: Mapping[str, Any],
    output: OutputJob,
    tasks: Sequence[Mapping[str, Any]],
    fetch: Callable[[str], bytes | None],
    log: logging.Logger | logging.LoggerAdapter,
) -> tuple[list[ObjectOutcome], dict[int, datetime], dict[int, Mapping[str, Any]]]:
    """Each exported task's annotations as workers' answers, for consolidation.

    Returns the outcomes, when each object was last annotated, and every task's manifest
    line by index. Annotations that do not fit the job are collected and raised together
    (``where`` names the server and project; each problem its task and manifest line).
    """
    codec = CODECS[record["task_type"]]
    stopped_at = _stopped_at(record)
    wanted = int(record["workers_per_object"])
    lines: dict[int, Mapping[str, Any]] = {}
    outcomes, labeled_at, problems, short = [], {}, [], []
    for task in sorted(tasks, key=lambda task: task["data"].get(INDEX_KEY, -1)):
        index = task["data"].get(INDEX_KEY)
        if index is None:
            continue  # a task someone added by hand is not part of the job
        line = task["data"]["gt_manifest_line"]
        lines[index] = line
        annotations = kept_annotations(task.get("annotations") or [], stopped_at, wanted)
        if not annotations:
            continue  # unlabeled (a stopped job): left out, as Ground Truth leaves it out
        if len(annotations) < wanted:
            short.append(task["id"])
        at = f"{where}, task {task['id']} (manifest line {index + 1})"
        try:
            source = ObjectSource(line, index + 1, fetch)
            prepared = codec.task(source, [annotation.get("result") or [] for annotation in annotations])
            answers = tuple(
                Answer(
                    _worker(annotation),
                    codec.answer(annotation.get("result") or [], output.spec, prepared),
                    float(annotation.get("lead_time") or 0.0),
                    submitted_at=parse_time(annotation["created_at"]),
                )
                for annotation in annotations
            )
        except (AnnotationFormatError, KeyError, TypeError, ValueError) as error:
            problems.append(f"{at}: {error}")
            continue
        outcomes.append(ObjectOutcome(index, answers, task=prepared))
        labeled_at[index] = max(answer.submitted_at for answer in answers)  # type: ignore[type-var]
    if problems:
        raise AnnotationFormatError(
            f"{len(problems)} annotations do not fit labeling job {record['job_name']}, so no output was "
            f"written: {'; '.join(problems[:_MAX_PROBLEMS])}" + ("; ..." if len(problems) > _MAX_PROBLEMS else "")
        )
    if short:
        log.warning(
            "%s (%s) was stopped with %d tasks annotated fewer than %d times (tasks %s); "
            "they are consolidated from the annotations they have",
            record["job_name"],
            where,
            len(short),
            wanted,
            ", ".join(map(str, short[:10])),
        )
    return outcomes, labeled_at, lines


def finished_tasks(tasks: Sequence[Mapping[str, Any]], record: Mapping[str, Any]) -> int:
    """How many of the job's tasks have an annotation from ``workers_per_object`` annotators (before a stop)."""
    stopped_at = _stopped_at(record)
    wanted = int(record.get("workers_per_object") or 1)
    return sum(
        1
        for task in tasks
        if task["data"].get(INDEX_KEY) is not None
        and len(kept_annotations(task.get("annotations") or [], stopped_at, wanted)) >= wanted
    )


def kept_annotations(
    annotations: Sequence[Mapping[str, Any]], stopped_at: datetime | None, wanted: int
) -> list[Mapping[str, Any]]:
    """One annotation per annotator (their latest), submitted before a stop, the first ``wanted`` of them."""
    latest: dict[Any, Mapping[str, Any]] = {}
    for annotation in sorted(annotations, key=lambda annotation: annotation["created_at"]):
        if annotation.get("was_cancelled") or (stopped_at and parse_time(annotation["created_at"]) > stopped_at):
            continue
        latest[annotator_id(annotation)] = annotation
    return sorted(latest.values(), key=lambda annotation: annotation["created_at"])[:wanted]


def annotator_id(annotation: Mapping[str, Any]) -> Any:
    """The Label Studio user who made an annotation (exports give an id, or the user)."""
    user = annotation.get("completed_by")
    return user.get("id") if isinstance(user, Mapping) else user


def _stopped_at(record: Mapping[str, Any]) -> datetime | None:
    """When the job was stopped (annotations after it are not collected), or None."""
    return parse_time(record["stopped_at"]) if record.get("stopped_at") else None


def _worker(annotation: Mapping[str, Any]) -> Worker:
    user = annotator_id(annotation)
    return Worker(worker_id=f"labelstudio.{user}", sub=str(user), accuracy=0.0)
