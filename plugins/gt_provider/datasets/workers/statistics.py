"""Per-worker agreement and accuracy, from a labeling job's worker responses.

Consolidation hides who labeled what. A worker who clicks through tasks, or misread the
instructions, still pulls labels their way; the consolidated confidence shows that objects
were disputed, not who disputed them. Ground Truth keeps every worker's answer under
``<job output>/annotations/worker-response/iteration-N/<object-id>/<timestamp>.json``, and
comparing those answers with the consolidated label, and with each other, shows it.

Match measures (``agreement.py``), one per label kind (an answer scores 0 to 1 against another label):

* class, verification: 1 when the class names are equal, else 0.
* multi-label: Jaccard index of the two sets of class names (two empty sets: 1).
* boxes: F1 of boxes matched one-to-one, same class and IoU >= 0.5, greedily by IoU
  (two answers without boxes: 1).
* entities: F1 of exact span matches, same label, start and end (no spans on either: 1).
* masks, 3D cuboids, video and point-cloud sequences: not computed. The answers there are
  encoded images or frame documents, and the consolidated label sits in another S3 object;
  a measure that only looked at class names would look meaningful and not be.

Answers to an object that only one worker answered are not scored: Ground Truth's label
for it *is* that answer, so agreement would be 1 by construction.

*Agreement* is a worker's mean score against the consolidated label. That label includes
the worker's own vote, so agreement is biased upward, most with few workers per object.
For single-class labels, *accuracy* is therefore estimated separately with the one-coin
Dawid-Skene model (the consolidation family Ground Truth documents for classification):
each worker's chance of being right, estimated from all answers together, weighing every
worker by how reliable the others show them to be. For the other kinds accuracy is the
agreement, said so in ``accuracy_method``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gt_provider.datasets.records import LabeledObject, LabelKind
from gt_provider.datasets.workers.agreement import (
    _NOT_COMPUTED,
    MEASURES,
    _Measure,
)
from gt_provider.datasets.workers.gold import (
    DEFAULT_MIN_ACCURACY,
    DEFAULT_MIN_ANSWERS,
    flagged_workers,
    gold_scores,
    worker_id,
)
from gt_provider.manifests.gold import GOLD_KEY

log = logging.getLogger(__name__)

_DAWID_SKENE_ITERATIONS = 50
_DAWID_SKENE_TOLERANCE = 1e-6
_DIGITS = 4


@dataclass
class _Tally:
    answers: int = 0
    scored: int = 0
    score_sum: float = 0.0
    seconds_sum: float = 0.0
    seconds_count: int = 0


def worker_statistics(
    responses: Iterable[tuple[str, Mapping[str, Any]]],
    consolidated: Mapping[str, LabeledObject],
    *,
    label_mapping: Mapping[str, str] | None = None,
    gold_min_accuracy: float = DEFAULT_MIN_ACCURACY,
    gold_min_answers: int = DEFAULT_MIN_ANSWERS,
    excluded: bool = False,
) -> dict[str, Any] | None:
    """Per-worker answers, agreement with the consolidated label and accuracy; pairwise agreement.

    Where the job had gold items (records whose line carries ``gt-gold-label``), each worker's
    accuracy on them too, and the workers flagged under ``gold_min_accuracy`` (with at least
    ``gold_min_answers`` gold answers; ``excluded`` says the build left their answers out).

    ``responses`` yields ``(object_id, response document)`` as :func:`read_worker_responses`
    reads them; ``consolidated`` maps an object id (the 0-based line index in the job's
    input manifest, i.e. output manifest line - 1) to the object's consolidated record.
    Answers in a shape the label kind's measure cannot read are counted as skipped, never
    fatal. ``label_mapping`` ({old: new}) renames the classes in workers' answers the way the
    consolidated records were renamed, so a renamed class still matches. Returns None when
    there was no response at all.
    """
    responses = list(responses)
    kind = next((record.kind for record in consolidated.values() if not record.failed), None)
    measure = MEASURES.get(kind) if kind is not None else None
    tallies: dict[str, _Tally] = {}
    documents = unreadable = skipped = unscored = pairs = 0
    pair_sum = 0.0
    votes: list[list[tuple[int, str]]] = []  # per shared object: (worker index, class) for Dawid-Skene
    worker_index: dict[str, int] = {}

    for object_id, document in responses:
        answers = document.get("answers") if isinstance(document, Mapping) else None
        if not isinstance(answers, list):
            unreadable += 1
            continue
        documents += 1
        parsed: list[tuple[str, Any]] = []
        for answer in answers:
            if not isinstance(answer, Mapping):
                skipped += 1
                continue
            worker = worker_id(answer)
            tally = tallies.setdefault(worker, _Tally())
            tally.answers += 1
            seconds = answer.get("timeSpentInSeconds")
            if isinstance(seconds, int | float) and not isinstance(seconds, bool):
                tally.seconds_sum += seconds
                tally.seconds_count += 1
            if measure is None:
                if kind is not None:
                    continue
                kind = _kind_of_answer(answer.get("answerContent"))  # no consolidated label at all
                measure = MEASURES.get(kind) if kind is not None else None
                if measure is None:
                    continue
            value = measure.parse(answer.get("answerContent"))
            if value is None:
                skipped += 1
                continue
            if label_mapping:
                value = measure.rename(value, label_mapping)
            parsed.append((worker, value))
        if measure is None:
            continue
        if len(parsed) < 2:
            unscored += len(parsed)
            continue
        for i in range(len(parsed)):
            for j in range(i + 1, len(parsed)):
                pair_sum += measure.score(parsed[i][1], parsed[j][1])
                pairs += 1
        if measure.dawid_skene:
            votes.append([(worker_index.setdefault(worker, len(worker_index)), value) for worker, value in parsed])
        record = _lookup(consolidated, object_id)
        truth = None if record is None or record.failed else measure.consolidated(record)
        if truth is None:
            unscored += len(parsed)
            continue
        for worker, value in parsed:
            tally = tallies[worker]
            tally.scored += 1
            tally.score_sum += measure.score(value, truth)

    if not documents and not unreadable:
        return None
    accuracies: dict[str, float] = {}
    if measure is not None and measure.dawid_skene and votes:
        estimates = _one_coin_accuracies(votes, len(worker_index))
        accuracies = {worker: estimates[index] for worker, index in worker_index.items()}

    gold = {
        str(object_id): record.raw[GOLD_KEY]
        for object_id, record in consolidated.items()
        if isinstance(record.raw.get(GOLD_KEY), str)
    }
    scores = gold_scores(responses, gold, label_mapping) if gold and kind in _GOLD_KINDS else {}
    flagged = flagged_workers(scores, gold_min_accuracy, gold_min_answers)
    workers = []
    for worker in sorted(tallies):
        tally = tallies[worker]
        agreement = tally.score_sum / tally.scored if tally.scored else None
        accuracy = accuracies.get(worker) if measure is not None and measure.dawid_skene else agreement
        workers.append(
            {
                "worker_id": worker,
                "answers": tally.answers,
                "scored": tally.scored,
                "agreement": _round(agreement),
                "accuracy": _round(accuracy),
                "mean_seconds": _round(tally.seconds_sum / tally.seconds_count if tally.seconds_count else None),
            }
        )
        if gold:
            score = scores.get(worker)
            workers[-1].update(
                gold_answers=score.answers if score else 0,
                gold_accuracy=_round(score.accuracy if score else None),
                flagged=worker in flagged,
            )
    note = None
    if measure is None:
        note = _NOT_COMPUTED.get(kind, "the label kind is unknown") if kind is not None else "no consolidated label"
    elif not pairs:
        note = "every object was answered by one worker, so there is nothing to compare"
    result = {
        "label_kind": None if kind is None else str(kind),
        "measure": None if measure is None else measure.description,
        "accuracy_method": _accuracy_method(measure),
        "note": note,
        "objects": documents,
        "answers": sum(tally.answers for tally in tallies.values()),
        "scored_answers": sum(tally.scored for tally in tallies.values()),
        "skipped_answers": skipped,
        "unscored_answers": unscored,
        "unreadable_responses": unreadable,
        "pairwise_agreement": _round(pair_sum / pairs if pairs else None),
        "pairs": pairs,
        "workers": workers,
    }
    if gold:
        result["gold"] = {
            "objects": len(gold),
            "scored": kind in _GOLD_KINDS,
            "min_accuracy": gold_min_accuracy,
            "min_answers": gold_min_answers,
            "flagged": sorted(flagged),
            "excluded": excluded and bool(flagged),
        }
    return result


def _kind_of_answer(content: Any) -> LabelKind | None:
    """The label kind an answer's shape shows, for a job none of whose objects has a consolidated label."""
    for kind in (LabelKind.ENTITIES, LabelKind.BOXES, LabelKind.MULTI_LABEL, LabelKind.CLASS):
        if MEASURES[kind].parse(content) is not None:
            return kind
    return None


def _accuracy_method(measure: _Measure | None) -> str | None:
    if measure is None:
        return None
    if measure.dawid_skene:
        return "one-coin Dawid-Skene estimate of how often the worker gives the true class"
    return "same as agreement (no independent estimate for this label kind)"


#: Label kinds whose gold answers are scored (a class name against the known one).
_GOLD_KINDS = frozenset({LabelKind.CLASS, LabelKind.VERIFICATION})


def _lookup(consolidated: Mapping[Any, LabeledObject], object_id: str) -> LabeledObject | None:
    record = consolidated.get(object_id)
    if record is None and object_id.isdigit():
        record = consolidated.get(int(object_id))  # type: ignore[call-overload]
    return record


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, _DIGITS)


def _one_coin_accuracies(items: Sequence[Sequence[tuple[int, str]]], n_workers: int) -> list[float | None]:
    """Each worker's probability of answering the true class, by expectation maximization.

    One-coin model: a worker is right with probability ``a_w`` and otherwise picks any other
    class evenly. Only classes someone voted for on an item differ from the rest, so an
    iteration costs O(votes), not O(votes x classes): a job with hundreds of classes is fine.
    """
    classes = sorted({label for votes in items for _, label in votes})
    index = {label: position for position, label in enumerate(classes)}
    n_classes = len(classes)
    coded = [[(worker, index[label]) for worker, label in votes] for votes in items]
    accuracy = [0.7] * n_workers
    prior = [1.0 / n_classes] * n_classes
    seen = [0] * n_workers
    for votes in coded:
        for worker, _ in votes:
            seen[worker] += 1
    if n_classes < 2:  # everybody gave the same class: nothing to tell workers apart by
        return [1.0 if seen[worker] else None for worker in range(n_workers)]
    for _ in range(_DAWID_SKENE_ITERATIONS):
        log_right = [math.log(a) for a in accuracy]
        log_wrong = [math.log((1 - a) / (n_classes - 1)) for a in accuracy]
        correct = [0.0] * n_workers
        class_mass = [0.0] * n_classes
        rest = 0.0  # sum over items of the posterior weight of one unit of prior on an unvoted class
        for votes in coded:
            bonus: dict[int, float] = {}
            for worker, label in votes:
                bonus[label] = bonus.get(label, 0.0) + log_right[worker] - log_wrong[worker]
            shift = max(0.0, *bonus.values())
            unvoted = (1.0 - sum(prior[label] for label in bonus)) * math.exp(-shift)
            weights = {label: prior[label] * math.exp(value - shift) for label, value in bonus.items()}
            total = unvoted + sum(weights.values())
            rest += math.exp(-shift) / total
            for label, weight in weights.items():
                posterior = weight / total
                class_mass[label] += posterior - prior[label] * math.exp(-shift) / total
                weights[label] = posterior
            for worker, label in votes:
                correct[worker] += weights[label]
        updated = [min(max(correct[w] / seen[w], 0.01), 0.99) if seen[w] else 0.7 for w in range(n_workers)]
        prior = [(class_mass[c] + prior[c] * rest + 1.0) / (len(coded) + n_classes) for c in range(n_classes)]
        change = max(abs(new - old) for new, old in zip(updated, accuracy, strict=True))
        accuracy = updated
        if change < _DAWID_SKENE_TOLERANCE:
            break
    return [accuracy[worker] if seen[worker] else None for worker in range(n_workers)]
