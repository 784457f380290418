"""Named entity recognition: highlighting text spans, and keeping the spans most workers agree on.

A worker highlights each reference span, sometimes misses it, slips its boundary by a
few characters or picks the wrong label, and now and then highlights a word that is no
entity. A span (label, start, end) is kept when most workers highlighted exactly it;
overlapping survivors are resolved in favor of the better supported one.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gt_provider.local.annotations.base import (
    Consolidated,
    JobSpec,
    ObjectSource,
    ReferenceFormatError,
    Simulation,
    confidence,
    kept_by_vote,
    label_index,
    mapping,
    sequence,
    slipped_label,
)
from gt_provider.local.workforce import ObjectOutcome, Worker
from gt_provider.s3io import is_s3_uri

_WORD = re.compile(r"\S+")


@dataclass(frozen=True, order=True)
class Span:
    start: int
    end: int
    label: int


@dataclass(frozen=True)
class SpanTask:
    text: str | None
    reference: tuple[Span, ...] | None


def vote_spans(answers: Sequence[Sequence[Span]]) -> list[tuple[Span, float]]:
    """The spans most workers highlighted, without overlaps, by start offset, with confidence."""
    n_workers = len(answers)
    votes = Counter(span for spans in answers for span in set(spans))
    kept: list[tuple[Span, int]] = []
    for span, count in sorted(votes.items(), key=lambda item: (-item[1], item[0])):
        if kept_by_vote(count, n_workers) and all(span.end <= k.start or span.start >= k.end for k, _ in kept):
            kept.append((span, count))
    return [(span, confidence(count / n_workers, n_workers)) for span, count in sorted(kept)]


def _offset(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ReferenceFormatError(f"{where} must be an integer character offset, got {value!r}")
    return value


def _random_word(text: str, label: int, rng: random.Random) -> Span | None:
    words = [match.span() for match in _WORD.finditer(text)]
    if not words:
        return None
    start, end = rng.choice(words)
    return Span(start, end, label)


class NamedEntityRecognition(Simulation):
    """Highlight the entities of a text; the label lists the spans and the job's labels."""

    element = "crowd-entity-annotation"
    seconds = (20, 180)

    def prepare(self, source: ObjectSource, spec: JobSpec) -> SpanTask:
        text = source.line.get("source")
        if not isinstance(text, str):
            uri = source.line.get("source-ref")
            body = source.fetch(uri) if is_s3_uri(uri) else None
            text = None if body is None else body.decode("utf-8", errors="replace")
        raw = source.reference
        if raw is None:
            return SpanTask(text, None)
        spans = []
        for position, entry in enumerate(sequence(raw, "the reference answer (a list of entities)")):
            at = f"the reference answer[{position}]"
            entry = mapping(entry, at)
            span = Span(
                _offset(entry.get("startOffset"), f"{at}.startOffset"),
                _offset(entry.get("endOffset"), f"{at}.endOffset"),
                label_index(entry.get("label"), spec, at),
            )
            if not 0 <= span.start < span.end:
                raise ReferenceFormatError(f"{at} needs 0 <= startOffset < endOffset, got {span.start}..{span.end}")
            if text is not None and span.end > len(text):
                raise ReferenceFormatError(f"{at} ends at {span.end}, past the end of the {len(text)}-character text")
            spans.append(span)
        return SpanTask(text, tuple(spans))

    def answer(self, task: SpanTask, worker: Worker, rng: random.Random, spec: JobSpec) -> tuple[Span, ...]:
        n_labels = len(spec.labels)
        if task.reference is None:
            if not task.text:
                return ()
            spans = {_random_word(task.text, rng.randrange(n_labels), rng) for _ in range(rng.randint(0, 2))}
            return tuple(sorted(span for span in spans if span is not None))
        error = 1 - worker.accuracy
        length = (
            len(task.text)
            if task.text is not None
            else max(span.end for span in task.reference)
            if task.reference
            else 0
        )
        spans = set()
        for span in task.reference:
            if rng.random() < error / 2:
                continue
            start, end = span.start, span.end
            if rng.random() < error / 2:  # boundary slip
                shift = rng.choice((-1, 1)) * rng.randint(1, 3)
                if rng.random() < 0.5:
                    start = min(max(start + shift, 0), end - 1)
                else:
                    end = min(max(end + shift, start + 1), length)
            spans.add(Span(start, end, slipped_label(span.label, n_labels, error, rng)))
        if task.text and rng.random() < error / 3:
            extra = _random_word(task.text, rng.randrange(n_labels), rng)
            if extra is not None and all(extra.end <= s.start or extra.start >= s.end for s in spans):
                spans.add(extra)
        return tuple(sorted(spans))

    def answer_content(self, task: SpanTask, content: tuple[Span, ...], spec: JobSpec) -> dict[str, Any]:
        return {self.element: {"entities": [_entity(span, spec) for span in content]}}

    def consolidate(self, outcomes: Sequence[ObjectOutcome], spec: JobSpec) -> dict[int, Consolidated]:
        labels = []
        for entry in spec.label_entries:
            label = {"label": entry["label"]}
            if "shortDisplayName" in entry:
                label["shortDisplayName"] = entry["shortDisplayName"]
            labels.append(label)
        results = {}
        for outcome in outcomes:
            spans = vote_spans([answer.content for answer in outcome.answers])
            value = {"annotations": {"labels": labels, "entities": [_entity(span, spec) for span, _ in spans]}}
            metadata = {"entities": [{"confidence": score} for _, score in spans]}
            results[outcome.index] = Consolidated(value, metadata)
        return results


def _entity(span: Span, spec: JobSpec) -> dict[str, Any]:
    return {"label": spec.labels[span.label], "startOffset": span.start, "endOffset": span.end}
