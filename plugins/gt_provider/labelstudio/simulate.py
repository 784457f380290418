"""Simulated annotators for Label Studio: distinct users posting annotations through its real API.

For tests and the demo, where no person labels. Each annotator is a real Label Studio user
(``users.create_annotators``) with an accuracy; it answers a task the way the local Ground
Truth's simulated workers do -- from the reference answer the object carries
(``gt-local-answer``, travelling in the task's manifest line) with its accuracy, so that
consolidation has real disagreement -- and posts the answer as an annotation with its own
token (``completed_by`` is that user, ``lead_time`` the seconds it "spent"). Nothing is
written to Label Studio's database directly.

:class:`AnnotatorTeam` watches the server for projects gt_provider created and annotates
every task that still needs annotations, as a team of people working through a queue.
"""

from __future__ import annotations

import hashlib
import logging
import random
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from gt_provider.labelstudio.answers import annotator_id
from gt_provider.labelstudio.client import LabelStudioClient
from gt_provider.labelstudio.codecs import CODECS, INDEX_KEY, LINE_KEY
from gt_provider.labelstudio.records import job_record, job_spec
from gt_provider.local.annotations import SIMULATIONS, ObjectSource, ReferenceFormatError
from gt_provider.local.workforce import Worker
from gt_provider.s3io import split_s3_uri

#: Accuracies of the simulated annotators, cycled (as the local Ground Truth's workers').
DEFAULT_ACCURACIES = (0.95, 0.85, 0.75)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SimulatedAnnotator:
    """A Label Studio user who answers with ``accuracy``."""

    user_id: int
    token: str
    accuracy: float

    @property
    def worker(self) -> Worker:
        return Worker(worker_id=f"labelstudio.{self.user_id}", sub=str(self.user_id), accuracy=self.accuracy)


def with_accuracies(
    annotators: Sequence[Any], accuracies: Sequence[float] = DEFAULT_ACCURACIES
) -> list[SimulatedAnnotator]:
    """``users.Annotator`` accounts as simulated annotators, accuracy cycling through ``accuracies``."""
    return [
        SimulatedAnnotator(annotator.user_id, annotator.token, accuracies[number % len(accuracies)])
        for number, annotator in enumerate(annotators)
    ]


def annotate_project(
    url: str,
    admin: LabelStudioClient,
    project_id: int,
    annotators: Sequence[SimulatedAnnotator],
    *,
    fetch: Callable[[str], bytes | None] = lambda uri: None,
    threads: int = 8,
    limit: int | None = None,
    log: logging.Logger | logging.LoggerAdapter = logger,
) -> int:
    """Give every task of the project the annotations it still needs; returns how many were posted.

    Each task gets ``maximum_annotations`` distinct annotators (chosen per task by a seeded
    draw, so a run is reproducible); an annotator who annotated a task already is not asked
    again. A task's annotators answer in turn (``threads`` tasks at a time). ``limit`` stops
    after that many annotations (a job stopped half-way, in tests).
    """
    project = admin.project(project_id)
    record = job_record(project)
    if record is None:
        return 0
    wanted = int(project.get("maximum_annotations") or record["workers_per_object"])
    if wanted > len(annotators):
        raise ValueError(f"project {project_id} needs {wanted} annotators per task; the team has {len(annotators)}")
    spec, simulation, codec = job_spec(record), SIMULATIONS[record["task_type"]], CODECS[record["task_type"]]
    clients = {a.user_id: LabelStudioClient(url, a.token, where=f"annotator {a.user_id}") for a in annotators}
    work: list[tuple[dict[str, Any], int, list[tuple[SimulatedAnnotator, float]]]] = []
    for task in admin.export(project_id):
        index = task["data"].get(INDEX_KEY)
        if index is None:
            continue
        done = {
            annotator_id(annotation)
            for annotation in task.get("annotations") or []
            if not annotation.get("was_cancelled")
        }
        if len(done) >= wanted:
            continue
        rng = random.Random(hashlib.sha256(f"{record['job_name']}/{index}".encode()).digest())
        free = [a for a in annotators if a.user_id not in done]
        work.append((task, index, [(annotator, rng.random()) for annotator in rng.sample(free, wanted - len(done))]))
    if limit is not None:  # the first ``limit`` annotations, task by task
        kept, left = [], limit
        for task, index, turns in work:
            if left > 0:
                kept.append((task, index, turns[:left]))
                left -= len(turns[:left])
        work = kept

    def post(item: tuple[dict[str, Any], int, list[tuple[SimulatedAnnotator, float]]]) -> int:
        # One task's annotators answer one after the other, as people do, never at the same instant.
        task, index, turns = item
        source = ObjectSource(task["data"][LINE_KEY], index + 1, fetch)
        try:
            prepared = simulation.prepare(source, spec)
        except ReferenceFormatError as error:
            log.warning("Task %s (line %d): %s; answering without a reference", task["id"], index + 1, error)
            prepared = codec.task(source, [])
        for annotator, seed in turns:
            rng = random.Random(seed)
            answer = simulation.answer(prepared, annotator.worker, rng, spec)
            clients[annotator.user_id].create_annotation(
                task["id"], codec.results(answer, spec, prepared), lead_time=float(rng.randint(*simulation.seconds))
            )
        return len(turns)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        posted = sum(pool.map(post, work))
    if posted:
        log.info("Project %s (%s): %d annotations posted", project_id, record["job_name"], posted)
    return posted


class AnnotatorTeam:
    """Annotate, every ``interval`` seconds, each gt_provider project on the server that needs it.

    ``start()`` runs it in a daemon thread (tests), ``run()`` in the caller (the
    ``python -m gt_provider.labelstudio annotate`` command); ``stop()`` ends it.
    """

    def __init__(
        self,
        url: str,
        admin_token: str,
        annotators: Sequence[SimulatedAnnotator],
        *,
        fetch: Callable[[str], bytes | None] = lambda uri: None,
        interval: float = 2.0,
        log: logging.Logger | logging.LoggerAdapter = logger,
    ) -> None:
        self.url = url
        self.admin = LabelStudioClient(url, admin_token, where="the simulated annotators' admin")
        self.annotators = list(annotators)
        self.fetch = fetch
        self.interval = interval
        self.log = log
        self.posted = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sweep(self) -> int:
        """One pass over the server's projects; annotations posted."""
        posted = 0
        for project in self.admin.projects():
            record = job_record(project)
            if record is None or record.get("status") == "Stopped":
                continue
            if project.get("finished_task_number", 0) >= project.get("task_number", 0) and project.get("task_number"):
                continue
            posted += annotate_project(
                self.url, self.admin, project["id"], self.annotators, fetch=self.fetch, log=self.log
            )
        self.posted += posted
        return posted

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                self.sweep()
            except Exception:  # keep annotating: a project deleted mid-sweep, a restart of the server
                self.log.exception("Simulated annotators: a sweep failed; trying again in %s s", self.interval)
            self._stop.wait(self.interval)

    def start(self) -> AnnotatorTeam:
        self._thread = threading.Thread(target=self.run, name="label-studio-annotators", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)


def s3_fetch(client: Any) -> Callable[[str], bytes | None]:
    """An annotator's ``fetch``: the object at an S3 URI through a boto3 S3 client, ``None`` when it is missing."""

    def fetch(uri: str) -> bytes | None:
        bucket, key = split_s3_uri(uri)
        try:
            return client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except client.exceptions.NoSuchKey:
            return None

    return fetch
