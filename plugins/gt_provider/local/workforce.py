"""The simulated private workforce: who answers which object, and the one-coin Dawid-Skene model.

Pure functions on plain data: no moto, no S3. ``models.py`` feeds them the parsed input
manifest, ``annotations`` says how a worker of a task type answers and how answers are
consolidated, and ``output.py`` writes the result in Ground Truth's output layout.

Each data object goes to N distinct workers of a pool, drawn from one random stream seeded
by the job, so a run is reproducible. A worker's ``accuracy`` is how often it gives the
reference answer (or how closely it draws it, for geometric tasks), so workers really
disagree and consolidation has something to resolve.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Worker:
    worker_id: str
    sub: str
    accuracy: float


@dataclass(frozen=True)
class Answer:
    """One worker's answer to one object; ``content`` is the task type's own form of it."""

    worker: Worker
    content: Any
    seconds_spent: float
    #: When the worker submitted, where the backend knows it (Label Studio); else the object's time.
    submitted_at: datetime | None = None


@dataclass(frozen=True)
class ObjectOutcome:
    """What happened to one data object: its task and answers, or why it failed.

    ``task`` is what the task type's simulation parsed from the manifest line (reference
    answer, earlier label, image size...); consolidation needs it again at output time.
    """

    index: int
    answers: tuple[Answer, ...] = ()
    failure_reason: str | None = None
    task: Any = None


#: An object to answer, or the reason it fails before any worker sees it.
PreparedObject = tuple[Any, str | None]


def worker_pool(region: str, size: int, accuracies: Sequence[float]) -> list[Worker]:
    """A stable pool: the same ids for the same region, accuracy cycling through the list."""
    pool = []
    for number in range(size):
        digest = hashlib.sha256(f"{region}/{number}".encode()).hexdigest()
        pool.append(
            Worker(
                worker_id=f"private.{region}.{digest[:16]}",
                sub=f"{digest[16:24]}-{digest[24:28]}-{digest[28:32]}-{digest[32:36]}-{digest[36:48]}",
                accuracy=accuracies[number % len(accuracies)],
            )
        )
    return pool


def simulate_answers(
    *,
    objects: Sequence[PreparedObject],
    workers_per_object: int,
    pool: Sequence[Worker],
    failure_rate: float,
    seed: str,
    answer: Callable[[Any, Worker, random.Random], Any],
    seconds: tuple[int, int] = (3, 40),
) -> list[ObjectOutcome]:
    """Answer every object with ``workers_per_object`` distinct workers of ``pool`` (all of them if fewer).

    ``answer(task, worker, rng)`` is the task type's worker; objects that already carry a
    failure reason get no answers, and a share ``failure_rate`` of the others expire, as
    tasks do when no worker takes them in time.
    """
    rng = random.Random(seed)
    outcomes = []
    for index, (task, failure) in enumerate(objects):
        if failure:
            outcomes.append(ObjectOutcome(index, failure_reason=failure))
            continue
        if failure_rate and rng.random() < failure_rate:
            outcomes.append(ObjectOutcome(index, failure_reason="ClientError: Annotation tasks expired."))
            continue
        if not pool:  # a team with no members: nobody takes the task before it expires
            outcomes.append(ObjectOutcome(index, failure_reason="ClientError: Annotation tasks expired."))
            continue
        answers = []
        for worker in rng.sample(list(pool), min(workers_per_object, len(pool))):
            content = answer(task, worker, rng)
            answers.append(Answer(worker, content, rng.randint(*seconds)))
        outcomes.append(ObjectOutcome(index, tuple(answers), task=task))
    return outcomes


def dawid_skene(
    votes: Mapping[Any, Sequence[tuple[str, int]]], n_classes: int, iterations: int = 20
) -> dict[Any, list[float]]:
    """Posterior class probabilities per item from ``(worker_id, class)`` votes.

    The one-coin model: each worker has one accuracy, wrong answers spread evenly over the
    other classes. Expectation maximization estimates accuracies and class priors together,
    so a worker who often disagrees with the rest counts for less. This is the family of
    methods Ground Truth documents for classification consolidation.
    """
    workers = {worker for item_votes in votes.values() for worker, _ in item_votes}
    accuracy = dict.fromkeys(workers, 0.7)
    priors = [1.0 / n_classes] * n_classes
    posteriors: dict[Any, list[float]] = {}
    for _ in range(iterations):
        for item, item_votes in votes.items():
            scores = list(priors)
            for worker, label in item_votes:
                right = accuracy[worker]
                wrong = (1 - right) / max(n_classes - 1, 1)
                scores = [s * (right if c == label else wrong) for c, s in enumerate(scores)]
            total = sum(scores) or 1.0
            posteriors[item] = [s / total for s in scores]
        correct = dict.fromkeys(workers, 0.0)
        seen = dict.fromkeys(workers, 0)
        for item, item_votes in votes.items():
            for worker, label in item_votes:
                correct[worker] += posteriors[item][label]
                seen[worker] += 1
        accuracy = {w: min(max(correct[w] / seen[w], 0.01), 0.99) for w in workers}
        counts = [sum(p[c] for p in posteriors.values()) for c in range(n_classes)]
        priors = [(count + 1) / (len(votes) + n_classes) for count in counts]
    return posteriors


def consolidate_single_label(
    votes: Mapping[int, Sequence[tuple[str, int]]], n_labels: int
) -> dict[int, tuple[int, float]]:
    """Consolidated label index and confidence per object, by Dawid-Skene.

    With one answer per object there is nothing to weigh, and Ground Truth reports a
    confidence of 0.00; we do the same.
    """
    posteriors = dawid_skene(votes, n_labels)
    result = {}
    for item, posterior in posteriors.items():
        best = max(range(n_labels), key=lambda c: (posterior[c], -c))
        confidence = 0.0 if len(votes[item]) == 1 else round(posterior[best], 2)
        result[item] = (best, confidence)
    return result
