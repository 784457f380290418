"""Gold items: objects whose answer is known, mixed into a job to measure its workers (no Airflow).

A gold manifest is an input manifest the user keeps, one known-answer object per line, the
answer under :data:`GOLD_KEY`::

    {"source-ref": "s3://bucket/gold/0007.png", "gt-gold-label": "seven"}

:func:`mix_gold` puts a share of them among a run's data objects. The key travels with the
line (Ground Truth passes input keys through to the output manifest untouched, and its
worker templates do not show them), so everything downstream knows a gold line by it: the
ledger never records it, a dataset never counts it, and worker statistics score each
worker's answers on gold against the known answer (:mod:`gt_provider.datasets.workers.gold`).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from gt_provider.exceptions import InvalidLabelingJobConfigError

#: The key of a gold line's known answer (a class name).
GOLD_KEY = "gt-gold-label"
#: As bytes, for a quick look at a line before parsing it.
GOLD_MARK = f'"{GOLD_KEY}"'.encode()
#: At most this share of a job's objects are gold (beyond it, workers label mostly known answers).
MAX_GOLD_RATE = 0.5
_SHOWN_PROBLEMS = 10


def is_gold(record: Mapping[str, Any]) -> bool:
    return GOLD_KEY in record


def check_gold_rate(rate: object) -> float:
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 < rate <= MAX_GOLD_RATE:
        raise InvalidLabelingJobConfigError(
            f"gold_rate must be a share of the job's objects above 0 and at most {MAX_GOLD_RATE:g}, got {rate!r}"
        )
    return float(rate)


def read_gold(text: str, where: str, labels: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """The lines of a gold manifest, checked: a source, a known answer among ``labels``, each source once.

    Raises :class:`InvalidLabelingJobConfigError` listing the bad lines by number (before any
    job exists).
    """
    problems: list[str] = []
    gold: list[dict[str, Any]] = []
    first_line: dict[str, int] = {}
    allowed = set(labels) if labels else None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as error:
            problems.append(f"line {number}: not JSON ({error.msg})")
            continue
        if not isinstance(record, dict):
            problems.append(f"line {number}: not a JSON object")
            continue
        source = record.get("source-ref", record.get("source"))
        label = record.get(GOLD_KEY)
        if not isinstance(source, str) or not source:
            problems.append(f"line {number}: no source-ref or source")
        elif not isinstance(label, str) or not label:
            problems.append(f"line {number}: no known answer ({GOLD_KEY}: a class name)")
        elif allowed is not None and label not in allowed:
            problems.append(f"line {number}: {GOLD_KEY} {label!r} is not one of the job's labels")
        elif source in first_line:
            problems.append(f"line {number}: {source} is gold already (line {first_line[source]})")
        else:
            first_line[source] = number
            gold.append(record)
    if problems:
        shown = "\n- ".join(problems[:_SHOWN_PROBLEMS])
        more = f"\n- and {len(problems) - _SHOWN_PROBLEMS} more" if len(problems) > _SHOWN_PROBLEMS else ""
        raise InvalidLabelingJobConfigError(f"gold manifest {where} has {len(problems)} bad line(s):\n- {shown}{more}")
    if not gold:
        raise InvalidLabelingJobConfigError(f"gold manifest {where} holds no gold item")
    return gold


def mix_gold(lines: Sequence[str], gold: Iterable[Mapping[str, Any]], rate: float, seed: str) -> tuple[list[str], int]:
    """``lines`` (a run's manifest lines) with ``ceil(rate * len(lines))`` gold lines among them; how many.

    The gold items and their places are drawn from ``seed`` (the run), so a retry makes the
    same manifest; a gold item that is also one of the run's data objects is not used (it
    would be labeled, and paid for, twice in one job).
    """
    sources = {_source(json.loads(line)) for line in lines}
    candidates = [item for item in gold if _source(item) not in sources]
    wanted = min(math.ceil(check_gold_rate(rate) * len(lines)), len(candidates))
    chosen = sorted(candidates, key=lambda item: _rank(seed, "item", _source(item)))[:wanted]
    mixed = list(lines)
    for item in chosen:
        position = int.from_bytes(_rank(seed, "place", _source(item))[:8], "big") % (len(mixed) + 1)
        mixed.insert(position, json.dumps(dict(item), ensure_ascii=False))
    return mixed, len(chosen)


def _source(record: Mapping[str, Any]) -> str:
    return str(record.get("source-ref", record.get("source")))


def _rank(seed: str, purpose: str, source: str) -> bytes:
    return hashlib.sha256(f"{seed}\n{purpose}\n{source}".encode()).digest()
