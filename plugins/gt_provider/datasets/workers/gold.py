"""Workers scored on gold items, and a job's labels consolidated again without the workers who fail them.

Gold items (:mod:`gt_provider.manifests.gold`) are objects of a job whose answer is known:
the line carries it under ``gt-gold-label``. Each worker's answers on them give an accuracy
that does not depend on the other workers (agreement does). A worker is **flagged** when that
accuracy is below a threshold over at least a few gold answers; a dataset built with
``exclude_flagged_workers`` consolidates every object a flagged worker answered again from
the other workers' answers (a rebuild: nothing is labeled again, nothing paid twice).

Single-label classes only (classification and verification verdicts): a gold box or mask
would need a tolerance this module does not define. Standard library only.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from gt_provider.datasets.records import LabelKind
from gt_provider.datasets.workers.agreement import MEASURES
from gt_provider.manifests.gold import GOLD_KEY, GOLD_MARK

#: Below this share of right answers on gold, a worker is flagged...
DEFAULT_MIN_ACCURACY = 0.8
#: ...once it has answered at least this many gold items (fewer say too little).
DEFAULT_MIN_ANSWERS = 3

_PARSE_CLASS = MEASURES[LabelKind.CLASS].parse


@dataclass
class GoldScore:
    answers: int = 0
    right: int = 0

    @property
    def accuracy(self) -> float | None:
        return self.right / self.answers if self.answers else None


def gold_labels(lines: Iterable[tuple[int, bytes]]) -> dict[str, str]:
    """Object id (output line - 1) -> known answer, from an output manifest's numbered lines.

    Only lines that mention the gold key are parsed, so a manifest without gold costs one
    byte search per line.
    """
    found = {}
    for number, line in lines:
        if GOLD_MARK in line:
            try:
                label = json.loads(line).get(GOLD_KEY)
            except (ValueError, AttributeError):
                continue  # the build reports the line
            if isinstance(label, str):
                found[str(number - 1)] = label
    return found


def worker_id(answer: Mapping[str, Any]) -> str:
    """The worker of one answer: ``workerId``, else the identity's ``sub``."""
    worker = answer.get("workerId")
    if isinstance(worker, str) and worker:
        return worker
    identity = (answer.get("workerMetadata") or {}).get("identityData") or {}
    sub = identity.get("sub") if isinstance(identity, Mapping) else None
    return sub if isinstance(sub, str) and sub else "unknown"


def answered_classes(document: Mapping[str, Any], rename: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """(worker, class name) of every readable single-class answer of one worker-response document."""
    answers = document.get("answers") if isinstance(document, Mapping) else None
    found = []
    for answer in answers if isinstance(answers, list) else ():
        if isinstance(answer, Mapping):
            name = _PARSE_CLASS(answer.get("answerContent"))
            if name is not None:
                found.append((worker_id(answer), (rename or {}).get(name, name)))
    return found


def gold_scores(
    responses: Iterable[tuple[str, Mapping[str, Any]]],
    gold: Mapping[str, str],
    rename: Mapping[str, str] | None = None,
) -> dict[str, GoldScore]:
    """Per worker, answers on gold items and how many were the known answer."""
    scores: dict[str, GoldScore] = {}
    for object_id, document in responses:
        known = gold.get(object_id)
        if known is None:
            continue
        known = (rename or {}).get(known, known)
        for worker, name in answered_classes(document, rename):
            score = scores.setdefault(worker, GoldScore())
            score.answers += 1
            score.right += name == known
    return scores


def flagged_workers(
    scores: Mapping[str, GoldScore], min_accuracy: float = DEFAULT_MIN_ACCURACY, min_answers: int = DEFAULT_MIN_ANSWERS
) -> set[str]:
    return {
        worker
        for worker, score in scores.items()
        if score.answers >= min_answers and (score.accuracy or 0.0) < min_accuracy
    }


def reconsolidated(
    responses: Iterable[tuple[str, Mapping[str, Any]]],
    flagged: set[str],
    gold: Mapping[str, str],
    rename: Mapping[str, str] | None = None,
) -> dict[str, tuple[str, float] | None]:
    """Object id -> (class, confidence) from the answers of unflagged workers, for objects a flagged one answered.

    The class most of them gave (ties: the first in name order, so a rebuild is the same
    every time), its confidence the share of their answers it got; None when only flagged
    workers answered (the object leaves the dataset). Gold items are left out: they are not data.
    """
    labels: dict[str, tuple[str, float] | None] = {}
    if not flagged:
        return labels
    for object_id, document in responses:
        if object_id in gold:
            continue
        answers = answered_classes(document, rename)
        if not any(worker in flagged for worker, _ in answers):
            continue
        kept = Counter(name for worker, name in answers if worker not in flagged)
        if not kept:
            labels[object_id] = None
            continue
        name, votes = min(kept.items(), key=lambda item: (-item[1], item[0]))
        labels[object_id] = (name, round(votes / sum(kept.values()), 2))
    return labels
