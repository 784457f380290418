"""Label Studio behind the labeling-backend contract: one project per labeling job.

- **create or attach**: the project is titled after the job (deterministic, so a retried
  or cleared task finds it) and records, in its description, the job it runs: the
  request it was created from (compared on re-attach, as Ground Truth's job request is),
  the input manifest and how many tasks were imported. Tasks are imported from the input
  manifest once; a re-attach after a crash between create and import imports only the
  lines that are missing (each task carries its manifest line and index).
- **describe**: the project's own counters -- ``finished_task_number`` tasks have the
  ``maximum_annotations`` (= workers per object) annotations they need -- in the one
  progress shape; Completed when every task is finished. Label Studio recomputes a task's
  finished flag on each annotation save, so two annotators submitting one task at the same
  moment can leave it unset for good; when the counter is short but the project holds
  enough annotations for every task, the tasks are counted from their annotations. A
  project deleted or emptied while a job waits is Failed, with the reason.
- **stop**: the project is marked stopped (and unpublished); annotations made after the
  stop are not collected, so what was labeled at the stop is the job's output.
- **collect**: the export's annotations, consolidated with the local Ground Truth's
  consolidation (``gt_provider.output_layout``), written as Ground Truth's output layout
  under ``<output_path>/<job_name>/``; the output manifest last, in one PUT. A second
  collect of a finished job finds the manifest and writes nothing.

The project's title and job record are ``records``; annotations as workers' answers are
``answers``. Standard library, ``requests`` and a boto3 S3 client (given); no Airflow import.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from gt_provider import task_types
from gt_provider.backends import (
    Attachment,
    IfJobExists,
    LabelingBackend,
    LabelingJobOutput,
    LabelingJobState,
)
from gt_provider.exceptions import (
    InvalidLabelingJobConfigError,
    LabelingJobConflictError,
    LabelingJobFailedError,
)
from gt_provider.labeling_request import timestamped_job_name
from gt_provider.labelstudio.answers import finished_tasks, task_outcomes
from gt_provider.labelstudio.client import LabelStudioClient, LabelStudioError, LabelStudioNotFoundError
from gt_provider.labelstudio.codecs import (
    CAPABILITIES,
    CODECS,
    INDEX_KEY,
    ImageUrl,
    header,
    instructions_html,
)
from gt_provider.labelstudio.records import (
    description,
    job_record,
    job_spec,
    new_job_record,
    parse_time,
    project_title,
    project_url,
)
from gt_provider.local.annotations import SIMULATIONS
from gt_provider.output_layout import Identity, OutputJob, write_layout
from gt_provider.s3io import split_s3_uri

#: What must match for a retried task to re-attach to an existing project.
_COMPARED = ("task_type", "labels", "input_manifest_uri", "output_path", "label_attribute_name", "workers_per_object")

logger = logging.getLogger(__name__)


class LabelStudioBackend(LabelingBackend):
    """Labeling jobs as Label Studio projects (see the module docstring).

    :param client: The server, as the connection's token sees it.
    :param s3: A boto3 S3 client (the ``aws`` connection's): reads input, writes output.
    :param image_url: What an image task shows for an ``s3://`` object (a presigned URL, or
        the URI itself when the server resolves it through its S3 storage).
    :param log: Where progress is told.
    """

    capabilities = CAPABILITIES

    def __init__(
        self,
        client: LabelStudioClient,
        s3: Any,
        image_url: ImageUrl,
        *,
        log: logging.Logger | logging.LoggerAdapter = logger,
    ) -> None:
        self.client = client
        self.s3 = s3
        self.image_url = image_url
        self.log = log

    # ------------------------------------------------------ the backend contract
    def create_or_attach(self, spec: Any, *, if_exists: IfJobExists = "reattach") -> Attachment:
        """Create the job's project and import its tasks, or re-attach to the project an earlier try made."""
        self.capabilities.check(spec)
        project = self.client.find_project(project_title(spec.job_name))
        if project is not None and if_exists == "timestamp":
            spec = dataclasses.replace(spec, job_name=timestamped_job_name(spec.job_name, datetime.now(UTC)))
            project = None
        lines = self._read_manifest(spec)
        created = project is None
        if project is None:
            project = self._create_project(spec, len(lines))
        else:
            self._check_can_reattach(spec, project, if_exists)
        self._import_missing(project, spec, lines)
        state = self.describe(spec.job_name)
        self.log.info(
            "%s %s: project %s (%s), %s",
            "Created" if created else "Re-attached to",
            spec.job_name,
            self.project_url(project["id"]),
            state.status,
            state.progress,
        )
        return Attachment(spec=spec, state=state, created=created)

    def describe(self, job_name: str) -> LabelingJobState:
        project = self.client.find_project(project_title(job_name))
        if project is None:
            return LabelingJobState(
                job_name=job_name,
                status="Failed",
                failure_reason=f"{self.client.origin} has no project titled {project_title(job_name)!r}: "
                "it was deleted, or never created",
            )
        record = self._record(project)
        return self._state(project, record)

    def stop(self, job_name: str) -> None:
        project, record = self._project(job_name)
        if record.get("status") == "Stopped":
            return
        record.update(status="Stopped", stopped_at=datetime.now(UTC).isoformat())
        self.client.update_project(project["id"], description=description(record), is_published=False)
        self.log.info("Stopped %s (project %s): annotations from now on are not collected", job_name, project["id"])

    def collect(self, job_name: str) -> LabelingJobOutput:
        """Write the job's output in Ground Truth's layout (once) and say where it is."""
        project, record = self._project(job_name)
        output = self._output_job(record)
        location = LabelingJobOutput(
            job_name=job_name,
            output_manifest_uri=output.output_manifest_uri,
            worker_responses_uri=f"{output.output_prefix}/annotations/worker-response/",
        )
        if self._exists(output.output_manifest_uri):
            self.log.info("%s has its output already: %s", job_name, output.output_manifest_uri)
            return location
        tasks = self.client.export(project["id"])
        outcomes, labeled_at, lines = task_outcomes(
            f"{self.client.origin}: project {project['id']}", record, output, tasks, self._fetch, self.log
        )
        output = dataclasses.replace(output, lines=lines)
        written = write_layout(
            output,
            outcomes,
            lambda outcome: labeled_at[outcome.index],
            self._put,
            started=parse_time(project["created_at"]),
        )
        self.log.info("%s: wrote %d labeled objects to %s", job_name, written, output.output_manifest_uri)
        return location

    def project_url(self, project_id: int) -> str:
        return project_url(self.client.url, project_id)

    # ----------------------------------------------------------------- projects
    def _create_project(self, spec: Any, task_count: int) -> dict[str, Any]:
        record = {**new_job_record(spec), "tasks": task_count, "status": "InProgress"}
        codec = CODECS[spec.task_type]
        return self.client.create_project(
            title=project_title(spec.job_name),
            description=description(record),
            label_config=codec.label_config(spec.labels, header(spec.short_instructions)),
            expert_instruction=instructions_html(spec.short_instructions, spec.full_instructions),
            show_instruction=True,
            maximum_annotations=spec.workers_per_object,
            show_skip_button=False,
            enable_empty_annotation=False,
            sampling="Uniform sampling",
        )

    def _record(self, project: Mapping[str, Any]) -> dict[str, Any]:
        record = job_record(project)
        if record is None:
            raise LabelingJobConflictError(
                f"{self.client.origin}: project {project['id']} ({project.get('title')!r}) was not created by "
                "gt_provider (its description has no job record); rename it or give this task another job_name"
            )
        return record

    def _project(self, job_name: str) -> tuple[dict[str, Any], dict[str, Any]]:
        project = self.client.find_project(project_title(job_name))
        if project is None:
            raise LabelingJobFailedError(f"{self.client.origin} has no project for labeling job {job_name}")
        return project, self._record(project)

    def _check_can_reattach(self, spec: Any, project: Mapping[str, Any], if_exists: IfJobExists) -> None:
        where = f"{self.client.origin}: project {project['id']}"
        if if_exists == "fail":
            raise LabelingJobConflictError(
                f'{where} for labeling job {spec.job_name} exists already and action_if_job_exists="fail"'
            )
        record, wanted = self._record(project), new_job_record(spec)
        differences = [
            f"{key}: {record.get(key)!r} -> {wanted[key]!r}" for key in _COMPARED if record.get(key) != wanted[key]
        ]
        if differences:
            raise LabelingJobConflictError(
                f"{where} for labeling job {spec.job_name} was created from a different request, so this task will "
                f"not re-attach to it: {'; '.join(differences)}. Give this task another job_name, or pass "
                'action_if_job_exists="timestamp" to start a new job.'
            )

    def _state(self, project: Mapping[str, Any], record: Mapping[str, Any]) -> LabelingJobState:
        total = int(record.get("tasks") or 0)
        present = int(project.get("task_number") or 0)
        finished = self._finished(project, record, total)
        counters = {
            "TotalLabeled": finished,
            "HumanLabeled": finished,
            "MachineLabeled": 0,
            "FailedNonRetryableError": 0,
            "Unlabeled": total - finished,
        }
        failure = None
        if record.get("status") == "Stopped":
            status = "Stopped"
        elif present < total and project.get("id") is not None and record.get("imported"):
            status = "Failed"
            failure = (
                f"{self.client.origin}: project {project['id']} has {present} of the job's {total} tasks: "
                "tasks were deleted while the job ran"
            )
        elif not record.get("imported"):
            status = "Initializing"
        elif finished >= total:
            status = "Completed"
        else:
            status = "InProgress"
        output = self._output_job(record)
        return LabelingJobState(
            job_name=record["job_name"],
            status=status,
            counters=counters,
            failure_reason=failure,
            job_arn=self.project_url(project["id"]),
            output_manifest_uri=output.output_manifest_uri,
            description={"project": dict(project), "record": dict(record)},
        )

    # -------------------------------------------------------------------- tasks
    def _finished(self, project: Mapping[str, Any], record: Mapping[str, Any], total: int) -> int:
        """Tasks with every annotation they need: Label Studio's counter, checked against the annotations.

        The counter comes from each task's ``is_labeled``, which Label Studio recomputes by
        counting annotations when one is saved: saves of the same task that overlap (two
        people submitting at once) each count before the other commits, and the task stays
        unfinished although it has all its annotations. Only when the counter is short and the
        project has ``total * workers_per_object`` annotations or more are the tasks counted
        from the export, one annotation per annotator, as collect consolidates them.
        """
        finished = min(int(project.get("finished_task_number") or 0), total)
        wanted = int(record.get("workers_per_object") or 1)
        if finished >= total or int(project.get("total_annotations_number") or 0) < total * wanted:
            return finished
        counted = finished_tasks(self.client.export(project["id"]), record)
        if counted > finished:
            self.log.info(
                "%s: Label Studio counts %d finished tasks, their annotations %d (its counter missed "
                "annotations saved at the same moment)",
                record["job_name"],
                finished,
                counted,
            )
        return min(max(finished, counted), total)

    def _read_manifest(self, spec: Any) -> list[dict[str, Any]]:
        """The input manifest's lines, checked against the task type's limit before anything is created."""
        bucket, key = split_s3_uri(spec.input_manifest_uri)
        body = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
        lines = []
        for number, text in enumerate(body.splitlines(), 1):
            if not text.strip():
                continue
            try:
                line = json.loads(text)
            except ValueError as error:
                raise InvalidLabelingJobConfigError(f"{spec.input_manifest_uri} line {number}: {error}") from None
            wanted = "source-ref" if CODECS[spec.task_type].object_tag == "Image" else "source"
            if wanted not in line:
                raise InvalidLabelingJobConfigError(
                    f"{spec.input_manifest_uri} line {number}: {spec.task_type} on Label Studio needs {wanted!r}"
                )
            lines.append(line)
        limit = spec.info.max_dataset_objects
        if not lines or len(lines) > limit:
            raise InvalidLabelingJobConfigError(
                f"input manifest {spec.input_manifest_uri} has {len(lines)} objects; {spec.task_type} jobs take 1 to {limit}"
            )
        return lines

    def _import_missing(self, project: dict[str, Any], spec: Any, lines: Sequence[Mapping[str, Any]]) -> None:
        """Import the lines the project lacks (all of them, unless an earlier try was cut short)."""
        record = self._record(project)
        if record.get("imported"):
            return
        present = set()
        if project.get("task_number"):
            present = {task["data"].get(INDEX_KEY) for task in self.client.tasks(project["id"])}
        codec = CODECS[spec.task_type]
        tasks = [
            {"data": codec.task_data(line, index, self.image_url)}
            for index, line in enumerate(lines)
            if index not in present
        ]
        if tasks:
            self.client.import_tasks(project["id"], tasks)
        record["imported"] = True
        updated = self.client.update_project(project["id"], description=description(record))
        project.update(updated)
        self.log.info("Project %s: %d tasks imported (%d were there already)", project["id"], len(tasks), len(present))

    # ------------------------------------------------------------------ output
    def _output_job(self, record: Mapping[str, Any]) -> OutputJob:
        info = task_types.get_task_type(record["task_type"])
        return OutputJob(
            name=record["job_name"],
            output_prefix=f"{record['output_path'].rstrip('/')}/{record['job_name']}",
            label_attribute_name=record["label_attribute_name"],
            output_type=info.output_type,  # type: ignore[arg-type]
            simulation=SIMULATIONS[info.name],
            spec=job_spec(record),
            lines=(),
            identity=Identity("LabelStudio", self.client.url),
        )

    def _fetch(self, uri: str) -> bytes | None:
        bucket, key = split_s3_uri(uri)
        try:
            return self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except self.s3.exceptions.NoSuchKey:
            return None

    def _exists(self, uri: str) -> bool:
        bucket, key = split_s3_uri(uri)
        try:
            self.s3.head_object(Bucket=bucket, Key=key)
        except Exception as error:  # botocore's ClientError: 404 Not Found
            if getattr(error, "response", {}).get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def _put(self, uri: str, body: bytes) -> None:
        bucket, key = split_s3_uri(uri)
        self.s3.put_object(Bucket=bucket, Key=key, Body=body)


__all__ = [
    "LabelStudioBackend",
    "LabelStudioError",
    "LabelStudioNotFoundError",
    "job_record",
    "job_spec",
    "project_title",
]
