"""A Label Studio project as a labeling job: its title, its page, and the job record it keeps.

A project gt_provider creates is titled after the job (deterministic, so a retried task
finds it) and records in its description, on a line of its own, the job it runs (the
request it was created from, how many tasks, whether they were imported, a stop). No
Airflow, no HTTP: functions of a project's JSON.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from gt_provider import task_types
from gt_provider.local.annotations import JobSpec

#: Label Studio's project titles are at most 50 characters.
TITLE_LENGTH = 50
#: The line of a project's description that records the job (JSON after the marker).
_MARKER = "gt_provider-job: "
_MARKER_LINE = re.compile(rf"^{re.escape(_MARKER)}(\{{.*\}})\s*$", re.MULTILINE)


def project_title(job_name: str) -> str:
    """The project's title: the job name, shortened with a hash when Label Studio's 50 characters are too few."""
    if len(job_name) <= TITLE_LENGTH:
        return job_name
    import hashlib

    return f"{job_name[: TITLE_LENGTH - 9]}-{hashlib.sha256(job_name.encode()).hexdigest()[:8]}"


def project_url(server_url: str, project_id: int) -> str:
    """Where a person opens a project's tasks (the data manager)."""
    return f"{server_url.rstrip('/')}/projects/{project_id}/data"


def job_record(project: Mapping[str, Any]) -> dict[str, Any] | None:
    """The labeling job a project runs, from its description; None for a project gt_provider did not create."""
    match = _MARKER_LINE.search(project.get("description") or "")
    return None if match is None else json.loads(match.group(1))


def job_spec(record: Mapping[str, Any]) -> JobSpec:
    """What the task type's consolidation (and a simulated annotator) needs to know of the job."""
    return JobSpec(
        name=record["job_name"],
        task_type=task_types.get_task_type(record["task_type"]),
        labels=tuple(record["labels"]),
        label_entries=tuple(record["label_entries"]),
    )


def new_job_record(spec: Any) -> dict[str, Any]:
    """The record a new project keeps of the ``LabelingJobSpec`` it runs."""
    return {
        "job_name": spec.job_name,
        "task_type": spec.task_type,
        "labels": list(spec.labels),
        "input_manifest_uri": spec.input_manifest_uri,
        "output_path": spec.output_path,
        "label_attribute_name": spec.label_attribute_name,
        "workers_per_object": spec.workers_per_object,
        "label_entries": [{"label": label} for label in spec.labels],
    }


def description(record: Mapping[str, Any]) -> str:
    """A project's description: a sentence for people, and the job record on a line of its own."""
    return (
        f"Labeling job {record['job_name']} ({record['task_type']}), run by gt_provider. "
        "The line below lets a retried task re-attach to this project; keep it.\n"
        f"{_MARKER}{json.dumps(record, separators=(',', ':'))}\n"
    )


def parse_time(text: str) -> datetime:
    """A time as Label Studio writes it (ISO 8601, ``Z`` or naive for UTC), timezone-aware."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
