"""Per-worker agreement and accuracy, from a labeling job's worker responses.

Consolidation hides who labeled what. A worker who clicks through tasks, or misread the
instructions, still pulls labels their way; the consolidated confidence shows that objects
were disputed, not who disputed them. Ground Truth keeps every worker's answer under
``<job output>/annotations/worker-response/iteration-N/<object-id>/<timestamp>.json``, and
comparing those answers with the consolidated label, and with each other, shows it.

Match measures, one per label kind (an answer scores 0 to 1 against another label):

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
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from gt_provider.datasets.errors import DatasetReadError
from gt_provider.datasets.records import LabeledObject, LabelKind
from gt_provider.s3io import S3ClientProvider, is_s3_uri, split_s3_uri

log = logging.getLogger(__name__)

#: Boxes of two answers show the same object when they overlap at least this much (and share a class).
BOX_MATCH_IOU = 0.5
#: Where worker responses live under a job's output prefix (``<S3OutputPath>/<job-name>/``).
WORKER_RESPONSE_FOLDER = "annotations/worker-response/"
#: Objects fetched from S3 at once while reading responses (one small JSON file per object).
READ_CONCURRENCY = 16
_DAWID_SKENE_ITERATIONS = 50
_DAWID_SKENE_TOLERANCE = 1e-6
_DIGITS = 4


# ---------------------------------------------------------------- answer parsing


def _element_value(content: Any, key: str) -> Any:
    """The value under ``key`` of the answer's UI element, whatever the element is named.

    Built-in templates name the element after its tag (``crowd-image-classifier``), the
    bounding-box template calls it ``boundingBox``, custom templates anything at all: so the
    key is looked for in the answer itself and in each of its object values.
    """
    if isinstance(content, str):
        try:
            content = orjson.loads(content)
        except orjson.JSONDecodeError:
            return None
    if not isinstance(content, Mapping):
        return None
    if key in content:
        return content[key]
    for value in content.values():
        if isinstance(value, Mapping) and key in value:
            return value[key]
    return None


def _parse_class(content: Any) -> str | None:
    label = _element_value(content, "label")
    return label if isinstance(label, str) else None


def _parse_labels(content: Any) -> frozenset[str] | None:
    labels = _element_value(content, "labels")
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        return None
    return frozenset(labels)


_BoxTuple = tuple[str, float, float, float, float]


def _parse_boxes(content: Any) -> tuple[_BoxTuple, ...] | None:
    boxes = _element_value(content, "boundingBoxes")
    if not isinstance(boxes, list):
        return None
    parsed = []
    for box in boxes:
        if not isinstance(box, Mapping) or not isinstance(box.get("label"), str):
            return None
        numbers = [box.get(key) for key in ("left", "top", "width", "height")]
        if not all(isinstance(n, int | float) and not isinstance(n, bool) for n in numbers):
            return None
        parsed.append((box["label"], *(float(n) for n in numbers)))
    return tuple(parsed)


_Span = tuple[str, int, int]


def _parse_entities(content: Any) -> frozenset[_Span] | None:
    entities = _element_value(content, "entities")
    if not isinstance(entities, list):
        return None
    spans = set()
    for entity in entities:
        if not isinstance(entity, Mapping):
            return None
        label, start, end = entity.get("label"), entity.get("startOffset"), entity.get("endOffset")
        if not isinstance(label, str) or not all(isinstance(n, int) and not isinstance(n, bool) for n in (start, end)):
            return None
        spans.add((label, start, end))
    return frozenset(spans)


# ----------------------------------------------------------------- match scores


def _class_score(first: str, second: str) -> float:
    return 1.0 if first == second else 0.0


def _jaccard(first: frozenset[Any], second: frozenset[Any]) -> float:
    union = len(first | second)
    return len(first & second) / union if union else 1.0


def _f1(matched: int, first: int, second: int) -> float:
    return 2 * matched / (first + second) if first + second else 1.0


def _span_f1(first: frozenset[_Span], second: frozenset[_Span]) -> float:
    return _f1(len(first & second), len(first), len(second))


def _iou(first: _BoxTuple, second: _BoxTuple) -> float:
    _, left_a, top_a, width_a, height_a = first
    _, left_b, top_b, width_b, height_b = second
    width = min(left_a + width_a, left_b + width_b) - max(left_a, left_b)
    height = min(top_a + height_a, top_b + height_b) - max(top_a, top_b)
    if width <= 0 or height <= 0:
        return 0.0
    overlap = width * height
    union = width_a * height_a + width_b * height_b - overlap
    return overlap / union if union > 0 else 0.0


def _box_f1(first: Sequence[_BoxTuple], second: Sequence[_BoxTuple]) -> float:
    """F1 of a one-to-one matching of same-class boxes at IoU >= BOX_MATCH_IOU, best overlaps first."""
    candidates = sorted(
        (
            (iou, i, j)
            for i, a in enumerate(first)
            for j, b in enumerate(second)
            if a[0] == b[0] and (iou := _iou(a, b)) >= BOX_MATCH_IOU
        ),
        reverse=True,
    )
    used_first, used_second = set(), set()
    for _, i, j in candidates:
        if i not in used_first and j not in used_second:
            used_first.add(i)
            used_second.add(j)
    return _f1(len(used_first), len(first), len(second))


# -------------------------------------------------------- consolidated labels


def _consolidated_class(record: LabeledObject) -> str | None:
    return record.classes[0].name if len(record.classes) == 1 else None


def _consolidated_labels(record: LabeledObject) -> frozenset[str]:
    return frozenset(label.name for label in record.classes)


def _consolidated_boxes(record: LabeledObject) -> tuple[_BoxTuple, ...]:
    return tuple((box.name, box.left, box.top, box.width, box.height) for box in record.boxes)


def _consolidated_entities(record: LabeledObject) -> frozenset[_Span]:
    return frozenset((entity.label, entity.start, entity.end) for entity in record.entities)


@dataclass(frozen=True)
class _Measure:
    """How answers of one label kind are read from ``answerContent`` and scored."""

    description: str
    parse: Callable[[Any], Any]
    consolidated: Callable[[LabeledObject], Any]
    score: Callable[[Any, Any], float]
    rename: Callable[[Any, Mapping[str, str]], Any]
    #: Whether accuracy is estimated with Dawid-Skene (one class per answer) or is the agreement.
    dawid_skene: bool = False


def _rename_class(label: str, mapping: Mapping[str, str]) -> str:
    return mapping.get(label, label)


def _rename_labels(labels: frozenset[str], mapping: Mapping[str, str]) -> frozenset[str]:
    return frozenset(mapping.get(label, label) for label in labels)


def _rename_boxes(boxes: tuple[_BoxTuple, ...], mapping: Mapping[str, str]) -> tuple[_BoxTuple, ...]:
    return tuple((mapping.get(box[0], box[0]), *box[1:]) for box in boxes)  # type: ignore[misc]


def _rename_spans(spans: frozenset[_Span], mapping: Mapping[str, str]) -> frozenset[_Span]:
    return frozenset((mapping.get(label, label), start, end) for label, start, end in spans)


_CLASS = _Measure(
    "exact class match (1 or 0)", _parse_class, _consolidated_class, _class_score, _rename_class, dawid_skene=True
)
#: Label kind -> how its answers are compared. Kinds absent here get no agreement (see the module docstring).
MEASURES: Mapping[LabelKind, _Measure] = {
    LabelKind.CLASS: _CLASS,
    LabelKind.VERIFICATION: _CLASS,
    LabelKind.MULTI_LABEL: _Measure(
        "Jaccard index of the label sets", _parse_labels, _consolidated_labels, _jaccard, _rename_labels
    ),
    LabelKind.BOXES: _Measure(
        f"F1 of same-class boxes matched at IoU >= {BOX_MATCH_IOU}",
        _parse_boxes,
        _consolidated_boxes,
        _box_f1,
        _rename_boxes,
    ),
    LabelKind.ENTITIES: _Measure(
        "F1 of exactly matching spans (label, start, end)",
        _parse_entities,
        _consolidated_entities,
        _span_f1,
        _rename_spans,
    ),
}
_NOT_COMPUTED = {
    LabelKind.MASK: "masks are compared pixel by pixel, which needs every worker's mask and the consolidated one",
    LabelKind.SEQUENCE: "video and point-cloud labels are per-frame documents in other S3 objects",
    LabelKind.CUBOIDS: "there is no agreed match measure for 3D cuboids here",
}


# ----------------------------------------------------------------- statistics


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
) -> dict[str, Any] | None:
    """Per-worker answers, agreement with the consolidated label and accuracy; pairwise agreement.

    ``responses`` yields ``(object_id, response document)`` as :func:`read_worker_responses`
    reads them; ``consolidated`` maps an object id (the 0-based line index in the job's
    input manifest, i.e. output manifest line - 1) to the object's consolidated record.
    Answers in a shape the label kind's measure cannot read are counted as skipped, never
    fatal. ``label_mapping`` ({old: new}) renames the classes in workers' answers the way the
    consolidated records were renamed, so a renamed class still matches. Returns None when
    there was no response at all.
    """
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
            worker = _worker_id(answer)
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
    note = None
    if measure is None:
        note = _NOT_COMPUTED.get(kind, "the label kind is unknown") if kind is not None else "no consolidated label"
    elif not pairs:
        note = "every object was answered by one worker, so there is nothing to compare"
    return {
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


def _worker_id(answer: Mapping[str, Any]) -> str:
    worker = answer.get("workerId")
    if isinstance(worker, str) and worker:
        return worker
    identity = (answer.get("workerMetadata") or {}).get("identityData") or {}
    sub = identity.get("sub") if isinstance(identity, Mapping) else None
    return sub if isinstance(sub, str) and sub else "unknown"


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


# -------------------------------------------------------------------- reading


def read_worker_responses(
    job_output_prefix: str, *, s3_client: Any | None = None, concurrency: int = READ_CONCURRENCY
) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(object_id, response document)`` for every worker-response file of a labeling job.

    ``job_output_prefix`` is ``<S3OutputPath>/<job-name>`` (an ``s3://`` prefix or a local
    directory). Yields nothing when the job has no worker responses (a job that labeled
    everything automatically, or one whose output was cleaned up). A file that is not JSON
    is logged and skipped; a bucket that cannot be listed raises :class:`DatasetReadError`.
    S3 objects are fetched ``concurrency`` at a time, in listing order.
    """
    if is_s3_uri(job_output_prefix):
        yield from _read_s3(job_output_prefix, S3ClientProvider(s3_client), concurrency)
    else:
        yield from _read_local(Path(job_output_prefix) / WORKER_RESPONSE_FOLDER)


def _object_id(relative: str) -> str | None:
    """``iteration-1/12/2026-01-02_03:04:05.json`` -> ``"12"``; None for anything else."""
    parts = relative.split("/")
    if len(parts) != 3 or not parts[0].startswith("iteration-") or not parts[2].endswith(".json"):
        return None
    return parts[1]


def _decode(body: bytes, where: str) -> dict[str, Any] | None:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        log.warning("Skipping worker response %s: not JSON (%s)", where, error)
        return None
    if not isinstance(document, dict):
        log.warning("Skipping worker response %s: not a JSON object", where)
        return None
    return document


def _read_local(folder: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    if not folder.is_dir():
        return
    for iteration in sorted(folder.glob("iteration-*"), key=lambda path: _number(path.name.partition("-")[2])):
        for object_folder in sorted(iteration.iterdir(), key=lambda path: _number(path.name)):
            if not object_folder.is_dir():
                continue
            for path in sorted(object_folder.glob("*.json")):
                try:
                    body = path.read_bytes()
                except OSError as error:
                    raise DatasetReadError(f"cannot read worker response {path}: {error}") from error
                document = _decode(body, str(path))
                if document is not None:
                    yield object_folder.name, document


def _number(text: str) -> tuple[int, str]:
    return (int(text), "") if text.isdigit() else (1 << 62, text)


def _read_s3(prefix_uri: str, s3: S3ClientProvider, concurrency: int) -> Iterator[tuple[str, dict[str, Any]]]:
    bucket, key_prefix = split_s3_uri(prefix_uri.rstrip("/") + "/")
    key_prefix = key_prefix.rstrip("/") + "/" + WORKER_RESPONSE_FOLDER
    client = s3()

    def fetch(key: str) -> bytes | None:
        try:
            return client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except Exception as error:  # deleted since it was listed, or unreadable: skip that one object
            log.warning("Skipping worker response s3://%s/%s: %s", bucket, key, error)
            return None

    try:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key_prefix)
        with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
            for page in pages:
                keys = [
                    (item["Key"], object_id)
                    for item in page.get("Contents", ())
                    if (object_id := _object_id(item["Key"][len(key_prefix) :])) is not None
                ]
                for (key, object_id), body in zip(keys, pool.map(fetch, [key for key, _ in keys]), strict=True):
                    document = None if body is None else _decode(body, f"s3://{bucket}/{key}")
                    if document is not None:
                        yield object_id, document
    except DatasetReadError:
        raise
    except Exception as error:  # botocore's ClientError (no bucket, access denied) and connection errors
        raise DatasetReadError(f"cannot list worker responses under s3://{bucket}/{key_prefix}: {error}") from error
