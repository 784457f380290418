"""The simulated private workforce and the consolidation of its answers.

Pure functions on plain data: no moto, no S3. ``models.py`` feeds them the parsed input
manifest and writes what they return in Ground Truth's output layout.

Each data object goes to N distinct workers of a pool; worker *w* gives the reference
answer with probability ``accuracy[w]`` and otherwise one of the other labels, so workers
really disagree. Consolidation is the one-coin Dawid-Skene model (expectation
maximization over per-worker accuracy and class priors), the family of methods Ground
Truth documents for classification; its posterior is the label's confidence.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Worker:
    worker_id: str
    sub: str
    accuracy: float


@dataclass(frozen=True)
class Answer:
    worker: Worker
    label_index: int
    seconds_spent: int


@dataclass(frozen=True)
class ObjectOutcome:
    """What happened to one data object: its answers, or why it failed."""

    index: int
    answers: tuple[Answer, ...] = ()
    failure_reason: str | None = None


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
    reference_indices: Sequence[int | None],
    n_labels: int,
    workers_per_object: int,
    pool: Sequence[Worker],
    failure_rate: float,
    seed: str,
) -> list[ObjectOutcome]:
    """Answer every object; ``None`` as reference means no truth known: workers guess."""
    rng = random.Random(seed)
    outcomes = []
    for index, reference in enumerate(reference_indices):
        if failure_rate and rng.random() < failure_rate:
            outcomes.append(ObjectOutcome(index, failure_reason="ClientError: Annotation tasks expired."))
            continue
        answers = []
        for worker in rng.sample(list(pool), workers_per_object):
            if reference is None:
                label = rng.randrange(n_labels)
            elif rng.random() < worker.accuracy or n_labels == 1:
                label = reference
            else:
                label = rng.choice([i for i in range(n_labels) if i != reference])
            answers.append(Answer(worker, label, rng.randint(3, 40)))
        outcomes.append(ObjectOutcome(index, tuple(answers)))
    return outcomes


def consolidate_single_label(
    outcomes: Sequence[ObjectOutcome], n_labels: int, iterations: int = 20
) -> dict[int, tuple[int, float]]:
    """Consolidated label index and confidence per object index (failed objects left out).

    With one answer per object there is nothing to weigh, and Ground Truth reports a
    confidence of 0.00; we do the same.
    """
    answered = [outcome for outcome in outcomes if outcome.answers]
    workers = {answer.worker.worker_id for outcome in answered for answer in outcome.answers}
    accuracy = dict.fromkeys(workers, 0.7)
    priors = [1.0 / n_labels] * n_labels
    posteriors: dict[int, list[float]] = {}
    for _ in range(iterations):
        for outcome in answered:
            scores = list(priors)
            for answer in outcome.answers:
                right = accuracy[answer.worker.worker_id]
                wrong = (1 - right) / max(n_labels - 1, 1)
                scores = [s * (right if c == answer.label_index else wrong) for c, s in enumerate(scores)]
            total = sum(scores) or 1.0
            posteriors[outcome.index] = [s / total for s in scores]
        correct = dict.fromkeys(workers, 0.0)
        seen = dict.fromkeys(workers, 0)
        for outcome in answered:
            for answer in outcome.answers:
                correct[answer.worker.worker_id] += posteriors[outcome.index][answer.label_index]
                seen[answer.worker.worker_id] += 1
        accuracy = {w: min(max(correct[w] / seen[w], 0.01), 0.99) for w in workers}
        counts = [sum(p[c] for p in posteriors.values()) for c in range(n_labels)]
        priors = [(count + 1) / (len(answered) + n_labels) for count in counts]
    result = {}
    for outcome in answered:
        posterior = posteriors[outcome.index]
        best = max(range(n_labels), key=lambda c: (posterior[c], -c))
        confidence = 0.0 if len(outcome.answers) == 1 else round(posterior[best], 2)
        result[outcome.index] = (best, confidence)
    return result
