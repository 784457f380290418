"""State and lifecycle of the local Ground Truth: private workteams and labeling jobs.

``responses.py`` only parses requests and serializes what this module returns;
``validation.py`` refuses what CreateLabelingJob refuses. The state
hangs off moto's SageMaker backend of the account and region, so moto's reset (and the end
of ``mock_aws``) clears it together with everything else.

A labeling job's status is derived, never slept on: :class:`LabelingTimeline` maps the
emulated seconds since creation (see ``settings.Clock``) to a state and a number of labeled
objects. The job's output is written to S3 the first time the job is seen in a terminal
state, by :mod:`gt_provider.local.output`, in Ground Truth's layout under
``<S3OutputPath>/<job-name>/``.

What workers answer and how answers consolidate is the task type's business
(:mod:`gt_provider.local.annotations`); this module reads the inputs, decides which objects
fail and draws every answer when the job is created. Who labels which object, in which
order, is the job's plan (:mod:`gt_provider.local.automation`: humans in manifest order, or
the automated-labeling loop, cut short by ``StoppingConditions``); the timeline plays the
plan out one object per tick, and the job's events go to CloudWatch Logs
(:mod:`gt_provider.local.events`) as it passes each iteration and ends.
"""

from __future__ import annotations

import dataclasses
import math
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from gt_provider import task_types
from gt_provider.local import settings as local_settings
from gt_provider.local import teams

# Imported by name: ``from gt_provider.local import annotations`` would find the package's
# ``from __future__ import annotations`` feature object instead of the submodule.
from gt_provider.local.annotations import SIMULATIONS, JobSpec, ObjectSource, ReferenceFormatError, Simulation
from gt_provider.local.automation import (
    IMAGE_SIZE,
    MODELED_ALGORITHMS,
    ActiveLearningModel,
    LabelingPlan,
    LoopInputs,
    MachineLabel,
    automated_plan,
    human_plan,
)
from gt_provider.local.events import JobEvents
from gt_provider.local.exceptions import ResourceInUse, ResourceNotFound, ValidationException, constraint_error
from gt_provider.local.listing import Workteam, paginate, sorted_by
from gt_provider.local.output import write_output
from gt_provider.local.s3 import S3Store
from gt_provider.local.training import LOCAL_IMAGE_REPOSITORY, read_model_archive
from gt_provider.local.validation import (
    CreateLabelingJobChecks,
    LabelConfig,
    check_length,
    check_name,
    check_range,
)
from gt_provider.local.workforce import ObjectOutcome, PreparedObject, Worker, simulate_answers, worker_pool
from gt_provider.status import ALL_STATES, FAILURE_STATES, STOPPED_STATES, SUCCESS_STATES, format_progress

TERMINAL = SUCCESS_STATES | FAILURE_STATES | STOPPED_STATES


def _now() -> datetime:
    """Now, at the millisecond precision that the API returns (so time filters round-trip)."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


@dataclass(frozen=True)
class LabelingTimeline:
    """Emulated seconds -> (status, objects labeled so far)."""

    initializing_seconds: float
    objects_per_second: float
    stopping_seconds: float
    n_objects: int
    #: The plan ends on a stopping condition: once its objects are labeled the job stops.
    stops_early: bool = False

    def at(self, elapsed: float, stopped_at: float | None = None) -> tuple[str, int]:
        def labeled(t: float) -> int:
            if t <= self.initializing_seconds:
                return 0
            if math.isinf(t):
                return self.n_objects
            return min(self.n_objects, int((t - self.initializing_seconds) * self.objects_per_second))

        if self.stops_early:
            end = self.initializing_seconds + self.n_objects / self.objects_per_second
            if (stopped_at is None or stopped_at > end) and elapsed >= end:
                finished = elapsed >= end + self.stopping_seconds
                return ("Stopped" if finished else "Stopping"), self.n_objects
        if stopped_at is not None:
            done = labeled(stopped_at)
            if done < self.n_objects:
                finished = elapsed >= stopped_at + self.stopping_seconds
                return ("Stopped" if finished else "Stopping"), done
        done = labeled(elapsed)
        if elapsed <= self.initializing_seconds:
            return "Initializing", 0
        return ("Completed" if done >= self.n_objects else "InProgress"), done


@dataclass
class LabelingJob:
    request: dict[str, Any]
    arn: str
    region: str
    task_type: task_types.TaskType | None
    label_config: LabelConfig
    lines: list[dict[str, Any]]
    timeline: LabelingTimeline
    created_mark: tuple[float, float]
    created: datetime
    #: 1-based line number of each entry of ``lines`` in the input manifest (blank lines skipped).
    line_numbers: list[int] = field(default_factory=list)
    #: Set when the input is unusable: the job fails once initialization is over.
    failure_reason: str | None = None
    outcomes: list[ObjectOutcome] = field(default_factory=list)
    #: Who labels what, in which order (see ``automation``); the timeline plays it out.
    plan: LabelingPlan = field(default_factory=lambda: LabelingPlan(()))
    order: list[tuple[int, MachineLabel | None]] = field(default_factory=list)
    #: Iteration events already written to CloudWatch Logs.
    events_sent: int = 0
    final_model_arn: str | None = None
    stopped_at: float | None = None
    status: str = "Initializing"
    labeled: int = 0
    last_modified: datetime = field(default_factory=_now)
    output_written: bool = False

    @property
    def name(self) -> str:
        return self.request["LabelingJobName"]

    @property
    def labels(self) -> list[str]:
        return self.label_config.labels

    @property
    def simulation(self) -> Simulation:
        return SIMULATIONS[self.task_type.name]  # type: ignore[union-attr]

    def spec(self) -> JobSpec:
        """What the task type's simulation needs to know of this job."""
        return JobSpec(
            name=self.name,
            task_type=self.task_type,  # type: ignore[arg-type]
            labels=tuple(self.label_config.labels),
            label_entries=tuple(self.label_config.entries),
            audit_label_attribute_name=self.label_config.audit_label_attribute_name,
        )

    @property
    def label_attribute_name(self) -> str:
        return self.request["LabelAttributeName"]

    @property
    def output_prefix(self) -> str:
        return f"{self.request['OutputConfig']['S3OutputPath'].rstrip('/')}/{self.name}"

    @property
    def output_manifest_uri(self) -> str:
        return f"{self.output_prefix}/manifests/output/output.manifest"

    @property
    def reference_code(self) -> str:
        """What workers see instead of the job name (stable per job)."""
        return self.arn.rsplit("/", 1)[-1][:8] + "local"

    def workteam_summary(self) -> dict[str, Any]:
        """A LabelingJobForWorkteamSummary: counts as the workteam sees them."""
        counters = self.counters()
        total = len(self.lines)
        return {
            "LabelingJobName": self.name,
            "JobReferenceCode": self.reference_code,
            "WorkRequesterAccountId": self.arn.split(":")[4],
            "CreationTime": self.created,
            "LabelCounters": {
                "HumanLabeled": counters["HumanLabeled"],
                "PendingHuman": counters["Unlabeled"] if self.status in ("Initializing", "InProgress") else 0,
                "Total": total,
            },
            "NumberOfHumanWorkersPerDataObject": self.request["HumanTaskConfig"]["NumberOfHumanWorkersPerDataObject"],
        }

    def counters(self, labeled: int | None = None) -> dict[str, int]:
        """LabelCounters after the first ``labeled`` objects of the plan (default: so far)."""
        processed = self.order[: self.labeled if labeled is None else labeled]
        machine = sum(1 for _, label in processed if label is not None)
        failed = sum(1 for index, label in processed if label is None and self.outcomes[index].failure_reason)
        human = len(processed) - machine - failed
        return {
            "TotalLabeled": human + machine,
            "HumanLabeled": human,
            "MachineLabeled": machine,
            "FailedNonRetryableError": failed,
            "Unlabeled": len(self.lines) - len(processed),
        }

    @property
    def iterations_done(self) -> int:
        """Iterations of the plan whose every object is labeled."""
        return sum(1 for end in self.plan.iteration_ends() if end <= self.labeled)

    def summary(self) -> dict[str, Any]:
        summary = {
            "LabelingJobName": self.name,
            "LabelingJobArn": self.arn,
            "CreationTime": self.created,
            "LastModifiedTime": self.last_modified,
            "LabelingJobStatus": self.status,
            "LabelCounters": self.counters(),
            "WorkteamArn": self.request["HumanTaskConfig"]["WorkteamArn"],
            "PreHumanTaskLambdaArn": self.request["HumanTaskConfig"].get("PreHumanTaskLambdaArn"),
            "AnnotationConsolidationLambdaArn": self.request["HumanTaskConfig"]
            .get("AnnotationConsolidationConfig", {})
            .get("AnnotationConsolidationLambdaArn"),
            "InputConfig": self.request["InputConfig"],
        }
        if self.status == "Failed":
            summary["FailureReason"] = self.failure_reason
        if self.output_written:
            summary["LabelingJobOutput"] = {"OutputDatasetS3Uri": self.output_manifest_uri}
            if self.final_model_arn:
                summary["LabelingJobOutput"]["FinalActiveLearningModelArn"] = self.final_model_arn
        return {key: value for key, value in summary.items() if value is not None}

    def describe(self) -> dict[str, Any]:
        described = {
            **{key: value for key, value in self.request.items() if value is not None},
            **self.summary(),
            "JobReferenceCode": self.reference_code,
        }
        described.pop("WorkteamArn", None)
        described.pop("PreHumanTaskLambdaArn", None)
        described.pop("AnnotationConsolidationLambdaArn", None)
        return described


def _notification_topic(request: dict[str, Any]) -> str | None:
    """The topic of ``NotificationConfiguration`` (None or "" to stop notifications), checked as AWS does."""
    topic = (request.get("NotificationConfiguration") or {}).get("NotificationTopicArn")
    if topic and not re.fullmatch(r"arn:aws[a-z\-]*:sns:[a-z0-9\-]*:[0-9]{12}:[a-zA-Z0-9_.-]+", topic):
        raise constraint_error(
            topic,
            "notificationConfiguration.notificationTopicArn",
            "Member must satisfy regular expression pattern: arn:aws[a-z\\-]*:sns:[a-z0-9\\-]*:[0-9]{12}:[a-zA-Z0-9_.-]+",
        )
    return topic or None


class GroundTruthBackend:
    """Workteams and labeling jobs of one account and region."""

    def __init__(self, account_id: str, region: str, sagemaker: Any = None) -> None:
        self.account_id = account_id
        self.region = region
        self.workteams: dict[str, Workteam] = {}
        self.jobs: dict[str, LabelingJob] = {}
        self._lock = threading.RLock()
        self._s3 = S3Store(account_id)
        self._events = JobEvents(account_id, region)
        #: moto's SageMaker backend: where the final active-learning models are registered.
        self._sagemaker = sagemaker

    # ---------------------------------------------------------------- workteams
    def create_workteam(self, request: dict[str, Any]) -> Workteam:
        name = check_name(request.get("WorkteamName"), "workteamName")
        check_length(request.get("Description"), "description", 1, 200)
        members = request.get("MemberDefinitions") or []
        check_range(len(members), "memberDefinitions", 1, 10)
        teams.check_member_definitions(self.account_id, self.region, members)
        topic = _notification_topic(request)
        with self._lock:
            if name.lower() in self.workteams:
                raise ResourceInUse(f"Workteam {name} already exists.")
            prefix = f"arn:aws:sagemaker:{self.region}:{self.account_id}"
            team = Workteam(
                name=name,
                arn=f"{prefix}:workteam/private-crowd/{name}",
                workforce_arn=f"{prefix}:workforce/{request.get('WorkforceName') or 'default'}",
                member_definitions=members,
                description=request["Description"],
                created=_now(),
                tags=request.get("Tags") or [],
                notification_topic_arn=topic,
            )
            self.workteams[name.lower()] = team
            return team

    def update_workteam(self, request: dict[str, Any]) -> Workteam:
        """UpdateWorkteam: members, description and the notification topic, each only if given."""
        with self._lock:
            team = self.describe_workteam(request.get("WorkteamName"))
            if "Description" in request:
                check_length(request["Description"], "description", 1, 200)
            if "MemberDefinitions" in request:
                check_range(len(request["MemberDefinitions"] or []), "memberDefinitions", 1, 10)
                teams.check_member_definitions(self.account_id, self.region, request["MemberDefinitions"])
            topic = _notification_topic(request)
            team.description = request.get("Description", team.description)
            team.member_definitions = request.get("MemberDefinitions", team.member_definitions)
            if "NotificationConfiguration" in request:
                team.notification_topic_arn = topic
            team.updated = _now()
            return team

    def delete_workteam(self, name: str) -> None:
        with self._lock:
            team = self.describe_workteam(name)
            busy = []
            for job in self.jobs.values():
                if job.request["HumanTaskConfig"]["WorkteamArn"] == team.arn:
                    self._refresh(job)
                    if job.status not in TERMINAL:
                        busy.append(job.name)
            if busy:
                raise ResourceInUse(f"Workteam {team.name} has labeling jobs in progress: {', '.join(sorted(busy))}.")
            del self.workteams[team.name.lower()]

    def describe_workteam(self, name: str) -> Workteam:
        team = self.workteams.get((name or "").lower())
        if team is None:
            raise ResourceNotFound(f"Workteam {name} does not exist.")
        return team

    def list_workteams(self, request: dict[str, Any]) -> tuple[list[Workteam], str | None]:
        teams = [
            team for team in self.workteams.values() if (request.get("NameContains") or "").lower() in team.name.lower()
        ]
        sort_by = request.get("SortBy") or "CreateDate"
        key = (lambda t: t.name) if sort_by == "Name" else (lambda t: t.created)
        return paginate(
            sorted_by(teams, key, request.get("SortOrder")), request.get("NextToken"), request.get("MaxResults")
        )

    # ----------------------------------------------------------- labeling jobs
    def create_labeling_job(self, request: dict[str, Any]) -> LabelingJob:
        name = check_name(request.get("LabelingJobName"), "labelingJobName")
        with self._lock:
            if name.lower() in self.jobs:
                raise ResourceInUse(
                    "Job name must be unique within an AWS account and region, and a job with "
                    f"this name already exists ({self.jobs[name.lower()].arn})"
                )
            job = self._validated_job(request)
            self.jobs[name.lower()] = job
            automated = "LabelingJobAlgorithmsConfig" in request and request["LabelingJobAlgorithmsConfig"]
            self._events.put(
                job.name,
                "LabelingJobCreated",
                f"Labeling job {job.name} created: {len(job.lines)} objects, "
                f"{request['HumanTaskConfig']['NumberOfHumanWorkersPerDataObject']} workers per object, "
                + ("automated data labeling on." if automated else "automated data labeling off.")
                + (f" {job.plan.note}." if job.plan.note else ""),
                objects=len(job.lines),
                automated_labeling=bool(automated),
            )
            return job

    def describe_labeling_job(self, name: str) -> LabelingJob:
        with self._lock:
            job = self.jobs.get((name or "").lower())
            if job is None:
                raise ResourceNotFound(
                    f"Could not find labeling job 'arn:aws:sagemaker:{self.region}:"
                    f"{self.account_id}:labeling-job/{(name or '').lower()}'."
                )
            self._refresh(job)
            return job

    def stop_labeling_job(self, name: str) -> None:
        with self._lock:
            job = self.describe_labeling_job(name)
            if job.status in TERMINAL or job.stopped_at is not None:
                return
            job.stopped_at = local_settings.current().clock.elapsed(job.created_mark)
            job.last_modified = _now()
            self._refresh(job)

    def list_labeling_jobs(self, request: dict[str, Any]) -> tuple[list[LabelingJob], str | None]:
        status = request.get("StatusEquals")
        if status and status not in ALL_STATES:
            raise constraint_error(
                status, "statusEquals", f"Member must satisfy enum value set: [{', '.join(sorted(ALL_STATES))}]"
            )
        sort_by = request.get("SortBy") or "CreationTime"
        keys = {"Name": lambda j: j.name, "CreationTime": lambda j: j.created, "Status": lambda j: j.status}
        if sort_by not in keys:
            raise constraint_error(
                sort_by, "sortBy", "Member must satisfy enum value set: [Name, CreationTime, Status]"
            )
        with self._lock:
            for job in self.jobs.values():
                self._refresh(job)
            jobs = [job for job in self.jobs.values() if self._matches(job, request)]
        return paginate(
            sorted_by(jobs, keys[sort_by], request.get("SortOrder")),
            request.get("NextToken"),
            request.get("MaxResults"),
        )

    def list_labeling_jobs_for_workteam(self, request: dict[str, Any]) -> tuple[list[LabelingJob], str | None]:
        """Jobs that send tasks to one workteam, as its workers' side of the console sees them."""
        arn = request.get("WorkteamArn")
        if not arn:
            raise ValidationException("WorkteamArn is required.")
        code = request.get("JobReferenceCodeContains")
        if (request.get("SortBy") or "CreationTime") != "CreationTime":
            raise constraint_error(request["SortBy"], "sortBy", "Member must satisfy enum value set: [CreationTime]")
        with self._lock:
            for job in self.jobs.values():
                self._refresh(job)
            jobs = [
                job
                for job in self.jobs.values()
                if job.request["HumanTaskConfig"]["WorkteamArn"] == arn
                and (not code or code in job.reference_code)
                and self._matches(job, {key: request.get(key) for key in ("CreationTimeAfter", "CreationTimeBefore")})
            ]
        return paginate(
            sorted_by(jobs, lambda j: j.created, request.get("SortOrder")),
            request.get("NextToken"),
            request.get("MaxResults"),
        )

    @staticmethod
    def _matches(job: LabelingJob, request: dict[str, Any]) -> bool:
        request = {
            key: value.replace(tzinfo=UTC) if isinstance(value, datetime) and value.tzinfo is None else value
            for key, value in request.items()
        }
        checks = [
            (request.get("CreationTimeAfter"), lambda t: job.created > t),
            (request.get("CreationTimeBefore"), lambda t: job.created < t),
            (request.get("LastModifiedTimeAfter"), lambda t: job.last_modified > t),
            (request.get("LastModifiedTimeBefore"), lambda t: job.last_modified < t),
            (request.get("NameContains"), lambda text: text.lower() in job.name.lower()),
            (request.get("StatusEquals"), lambda status: job.status == status),
        ]
        return all(check(value) for value, check in checks if value is not None)

    # ---------------------------------------------------------------- lifecycle
    def _refresh(self, job: LabelingJob) -> None:
        if job.status in TERMINAL:
            return
        elapsed = max(0.0, local_settings.current().clock.elapsed(job.created_mark))
        status, labeled = job.timeline.at(elapsed, job.stopped_at)
        if job.failure_reason and status != "Initializing":
            status, labeled = "Failed", 0
        if (status, labeled) != (job.status, job.labeled):
            job.status, job.labeled, job.last_modified = status, labeled, _now()
        self._send_iteration_events(job)
        if status in ("Completed", "Stopped") and not job.output_written:
            model = write_output(job, self._s3)
            if model is not None:
                job.final_model_arn = self._register_model(job, model)
            job.output_written = True
        if status in TERMINAL:
            self._send_end_event(job)

    def _send_iteration_events(self, job: LabelingJob) -> None:
        ends = job.plan.iteration_ends()
        while job.events_sent < job.iterations_done:
            iteration = job.plan.iterations[job.events_sent]
            counters = job.counters(ends[job.events_sent])
            self._events.put(
                job.name,
                "IterationCompleted",
                iteration.event((counters["HumanLabeled"], counters["MachineLabeled"], counters["Unlabeled"])),
                iteration=iteration.number,
                human=len(iteration.human),
                machine=len(iteration.machine),
                threshold=iteration.threshold,
                validation_accuracy=iteration.validation_accuracy,
                label_counters=counters,
            )
            job.events_sent += 1

    def _send_end_event(self, job: LabelingJob) -> None:
        counters = job.counters()
        progress = format_progress(counters)
        if job.status == "Failed":
            self._events.put(job.name, "LabelingJobFailed", f"Labeling job {job.name} failed: {job.failure_reason}")
        elif job.status == "Stopped":
            why = (
                f"stopping condition {job.plan.stopped_by} "
                f"({job.request['StoppingConditions'][job.plan.stopped_by]}) reached"
                if job.plan.stopped_by and job.stopped_at is None
                else "StopLabelingJob was called"
            )
            self._events.put(
                job.name,
                "LabelingJobStopped",
                f"Labeling job {job.name} stopped: {why}; {progress}.",
                label_counters=counters,
            )
        else:
            self._events.put(
                job.name,
                "LabelingJobCompleted",
                f"Labeling job {job.name} completed: {progress}.",
                label_counters=counters,
                final_model_arn=job.final_model_arn,
            )

    def _register_model(self, job: LabelingJob, artifact_uri: str) -> str | None:
        """The final active-learning model as a SageMaker model of the local AWS; its ARN."""
        if self._sagemaker is None:
            return None
        name = f"{job.name[:50]}-final-model"
        model = self._sagemaker.create_model(
            model_name=name,
            execution_role_arn=job.request["RoleArn"],
            primary_container={
                "Image": f"{LOCAL_IMAGE_REPOSITORY}/{job.task_type.auto_labeling_algorithm}:latest",  # type: ignore[union-attr]
                "ModelDataUrl": artifact_uri,
            },
            vpc_config=None,
            containers=None,
            tags=[{"Key": "gt-provider:labeling-job", "Value": job.name}],
        )
        return model.arn

    # --------------------------------------------------------------- validation
    def _validated_job(self, request: dict[str, Any]) -> LabelingJob:
        checks = CreateLabelingJobChecks(self.region, self._s3, self.workteams)
        task_type, label_config, lines, line_numbers, failure = checks.check(request)
        initial = self._initial_model(request, task_type)
        config = local_settings.current()
        job = LabelingJob(
            request=request,
            arn=f"arn:aws:sagemaker:{self.region}:{self.account_id}:labeling-job/{request['LabelingJobName'].lower()}",
            region=self.region,
            task_type=task_type,
            label_config=label_config,
            lines=lines if isinstance(lines, list) else [],
            line_numbers=line_numbers,
            timeline=LabelingTimeline(
                config.initializing_seconds,
                config.objects_per_second,
                config.stopping_seconds,
                len(lines) if isinstance(lines, list) else 0,
            ),
            created_mark=config.clock.mark(),
            created=_now(),
            failure_reason=failure,
        )
        if failure is None:
            job.outcomes = self._simulate(job, config)
            job.plan = self._plan(job, initial)
            job.order = job.plan.order()
            job.timeline = dataclasses.replace(
                job.timeline, n_objects=len(job.order), stops_early=job.plan.stopped_by is not None
            )
        return job

    # ---------------------------------------------------------------- the plan
    def _plan(self, job: LabelingJob, initial: ActiveLearningModel | None) -> LabelingPlan:
        """Who labels which object: humans in manifest order, or the automated-labeling loop."""
        stopping = job.request.get("StoppingConditions")
        failing = {outcome.index for outcome in job.outcomes if outcome.failure_reason}
        algorithm = job.task_type.auto_labeling_algorithm if job.request.get("LabelingJobAlgorithmsConfig") else None  # type: ignore[union-attr]
        if algorithm is None:
            return human_plan(len(job.lines), stopping, failing)
        if algorithm not in MODELED_ALGORITHMS:
            return human_plan(
                len(job.lines),
                stopping,
                failing,
                note=f"the local Ground Truth has no {algorithm} model, so humans label every object",
            )

        simulation, spec = job.simulation, job.spec()

        def human_labels(indices: Sequence[int]) -> dict[int, int]:
            consolidated = simulation.consolidate([job.outcomes[index] for index in indices], spec)
            return {index: int(result.value) for index, result in consolidated.items()}

        return automated_plan(
            LoopInputs(
                algorithm=algorithm,
                n_objects=len(job.lines),
                failing=failing,
                features=self._features(job, algorithm),
                human_labels=human_labels,
                classes=tuple(job.labels),
                stopping=stopping,
                seed=f"{local_settings.current().seed}/{job.name}/active-learning",
                initial=initial,
            )
        )

    def _features(self, job: LabelingJob, algorithm: str) -> dict[int, Any]:
        """What the model reads of each object it can read: grey pixels, or the text."""
        if algorithm == "text-classification":
            return {index: str(line["source"]) for index, line in enumerate(job.lines) if "source" in line}
        from gt_provider.local.training import image_vectors

        features = {}
        for index, line in enumerate(job.lines):
            body = self._read_input(str(line.get("source-ref", "")))
            if body is None:
                continue
            try:
                features[index] = image_vectors([body], IMAGE_SIZE)[0]
            except OSError:  # not an image Pillow reads: humans get it
                continue
        return features

    def _initial_model(
        self, request: dict[str, Any], task_type: task_types.TaskType | None
    ) -> ActiveLearningModel | None:
        """The model ``InitialActiveLearningModelArn`` names, refused as AWS would when unusable."""
        arn = (request.get("LabelingJobAlgorithmsConfig") or {}).get("InitialActiveLearningModelArn")
        if not arn:
            return None
        name = arn.rsplit("/", 1)[-1]
        models = getattr(self._sagemaker, "_models", {})
        if name not in models or models[name].arn != arn:
            raise ValidationException(f"InitialActiveLearningModelArn: could not find model '{arn}'.")
        uri = models[name].primary_container.get("ModelDataUrl", "")
        body = self._read_input(uri) if uri else None
        try:
            model = read_model_archive(body) if body is not None else None
        except (ValueError, OSError, EOFError):
            model = None
        if not isinstance(model, ActiveLearningModel):
            raise ValidationException(
                f"InitialActiveLearningModelArn '{arn}' is not the final model of an automated labeling job "
                f"(its ModelDataUrl {uri or '(none)'} holds no active-learning model)."
            )
        expected = task_type.auto_labeling_algorithm if task_type else None
        if model.algorithm != expected:
            raise ValidationException(
                f"InitialActiveLearningModelArn '{arn}' was trained by {model.algorithm}; "
                f"this job's task type uses {expected}."
            )
        return model

    # ------------------------------------------------------------------ workers
    def _simulate(self, job: LabelingJob, config: local_settings.Settings) -> list[ObjectOutcome]:
        """Prepare every object (a bad line fails only itself) and draw all workers' answers.

        Everything random happens here, at creation, from one seed per job, so that the
        counters are known while the job runs and a rerun gives the same output.
        """
        simulation, spec = job.simulation, job.spec()
        workers_per_object = job.request["HumanTaskConfig"]["NumberOfHumanWorkersPerDataObject"]
        pool = self._workers(job, config, workers_per_object)
        objects: list[PreparedObject] = []
        for line, number in zip(job.lines, job.line_numbers, strict=True):
            source = ObjectSource(line, number, self._read_input)
            try:
                objects.append((simulation.prepare(source, spec), None))
            except ReferenceFormatError as error:
                objects.append((None, f"ClientError: gt_provider.local: input manifest line {number}: {error}."))
        return simulate_answers(
            objects=objects,
            workers_per_object=workers_per_object,
            pool=pool,
            failure_rate=config.object_failure_rate,
            seed=f"{config.seed}/{job.name}",
            answer=lambda task, worker, rng: simulation.answer(task, worker, rng, spec),
            seconds=simulation.seconds,
        )

    def _workers(self, job: LabelingJob, config: local_settings.Settings, workers_per_object: int) -> list[Worker]:
        """The team's members (one simulated worker each), or the anonymous pool for a team of no known pool."""
        arn = job.request["HumanTaskConfig"]["WorkteamArn"]
        team = next((team for team in self.workteams.values() if team.arn == arn), None)
        found = teams.members(self.account_id, self.region, team.member_definitions) if team else None
        if found is None:
            size = max(len(config.worker_accuracies), workers_per_object)
            return worker_pool(self.region, size, config.worker_accuracies)
        workers = teams.member_workers(self.region, found, config.worker_accuracies, config.member_accuracies)
        if len(workers) < workers_per_object:
            assert team is not None
            self._events.put(
                job.name,
                "WorkteamTooSmall",
                f"Workteam {team.name} has {len(workers)} member(s), fewer than the {workers_per_object} workers per "
                "object the job asks for: each object gets the answers of those there are, or expires with none.",
                members=len(workers),
                workers_per_object=workers_per_object,
            )
        return workers

    def _read_input(self, uri: str) -> bytes | None:
        """An object a manifest line points at (image, text, earlier label), or None."""
        try:
            return self._s3.get(uri)
        except ValueError:
            return None


_backends_lock = threading.Lock()


def ground_truth_backend(sagemaker_backend: Any) -> GroundTruthBackend:
    """The Ground Truth state kept on moto's SageMaker backend of one account and region."""
    with _backends_lock:
        backend = sagemaker_backend.__dict__.get("_gt_local")
        if backend is None:
            backend = GroundTruthBackend(sagemaker_backend.account_id, sagemaker_backend.region_name, sagemaker_backend)
            sagemaker_backend.__dict__["_gt_local"] = backend
        return backend
