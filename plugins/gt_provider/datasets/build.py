"""Output augmented manifests -> one versioned training dataset, streaming.

``build_dataset`` reads its inputs in two passes (:mod:`gt_provider.datasets.passes`) and
never holds them: the first scans every line quickly (its source and class) and decides every
object's split; the second parses every line fully, reports malformed lines (all of them,
before anything is committed), applies filters and label renaming, and writes every kept
object to its split in each format, the latest label of each source winning, feeding the
dataset card. Per object it keeps a few machine words, so a million-line manifest builds
within 300 MB.

A new version starts from its parent (the latest committed version):

- the parent's objects are carried forward (read back from its augmented manifests), so
  nightly jobs that each labeled only the new objects add up to one dataset;
- a source labeled again keeps only its latest label (metadata ``creation-date``; on a tie,
  the later input wins);
- every object keeps the split it had in any earlier version (``splits.tsv`` is carried
  forward in full), so nothing that was ever in ``test`` is trained on later.

Large inputs (local files or S3 objects) are read by several processes, each its own byte range
(:mod:`gt_provider.datasets.passes.parallel`); the dataset is the same.

Standard library only (plus orjson through the parser); no Airflow.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import tempfile
from array import array
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gt_provider.datasets.card import write_card_files
from gt_provider.datasets.card.plots import Plotter
from gt_provider.datasets.card.statistics import DatasetStatistics
from gt_provider.datasets.errors import DatasetError, DatasetVersionExistsError, MalformedOutputManifestError
from gt_provider.datasets.exporters import EXPORTERS
from gt_provider.datasets.filters import LabelMapping, ObjectFilter, ReviewFilter
from gt_provider.datasets.passes.inputs import Selection, Source, WorkerResponses
from gt_provider.datasets.passes.parallel import Pool, default_workers, plan, scan_parts, write_parts
from gt_provider.datasets.passes.scan import STRATIFIED_KINDS, Scan, allocate, find_repeats, scan
from gt_provider.datasets.passes.write import Destination, write
from gt_provider.datasets.reading.parse import output_manifest_lines
from gt_provider.datasets.records import LabeledObject
from gt_provider.datasets.split import DEFAULT_RATIOS, UNASSIGNED, digest_hex, parse_ratios
from gt_provider.datasets.storage import CARD_FILE, DatasetLocation
from gt_provider.datasets.workers.gold import (
    DEFAULT_MIN_ACCURACY,
    DEFAULT_MIN_ANSWERS,
    flagged_workers,
    gold_labels,
    gold_scores,
    reconsolidated,
)
from gt_provider.datasets.workers.responses import read_worker_responses
from gt_provider.datasets.workers.statistics import worker_statistics
from gt_provider.s3io import S3ClientProvider, is_s3_uri, split_s3_uri

SCHEMA_VERSION = 1
#: The canonical copy of every version: later versions read their parent back from it.
CANONICAL_FORMAT = "augmented-manifest"
DEFAULT_FORMATS: tuple[str, ...] = (CANONICAL_FORMAT, "jsonl")
SPLITS_INDEX = "splits.tsv"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_OUTPUT_MANIFEST_SUFFIX = "/manifests/output/output.manifest"


@dataclass(frozen=True)
class DatasetSpec:
    """What to build: the dataset's name, its splits, formats, filters and label renaming.

    Everything here is part of the version's fingerprint: building again with the same
    inputs and the same spec returns the committed version instead of writing a new one.
    """

    name: str
    ratios: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_RATIOS))
    seed: str = ""
    #: Stratify the split by class (classification and verification outputs only).
    stratify: bool = True
    formats: tuple[str, ...] = DEFAULT_FORMATS
    #: The label attribute to read; None detects it from the output lines.
    label_attribute: str | None = None
    object_filter: ObjectFilter = field(default_factory=ObjectFilter)
    #: Keep only objects a later verification job accepted (chained review).
    review: ReviewFilter | None = None
    label_mapping: LabelMapping | None = None
    #: Include the parent version's objects (the nightly, incremental case).
    carry_forward: bool = True
    #: Compute per-worker agreement from ``annotations/worker-response`` when present.
    worker_statistics: bool = True
    #: Gold items (``gt_provider.manifests.gold``): a worker is flagged below this accuracy on them...
    gold_min_accuracy: float = DEFAULT_MIN_ACCURACY
    #: ...over at least this many gold answers.
    gold_min_answers: int = DEFAULT_MIN_ANSWERS
    #: Consolidate the objects flagged workers answered again, from the other workers' answers.
    exclude_flagged_workers: bool = False

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise DatasetError(
                f"dataset name {self.name!r}: use 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit"
            )
        if isinstance(self.gold_min_accuracy, bool) or not 0 < self.gold_min_accuracy <= 1:
            raise DatasetError(f"gold_min_accuracy must be above 0 and at most 1, got {self.gold_min_accuracy!r}")
        if (
            isinstance(self.gold_min_answers, bool)
            or not isinstance(self.gold_min_answers, int)
            or self.gold_min_answers < 1
        ):
            raise DatasetError(f"gold_min_answers must be a whole number of at least 1, got {self.gold_min_answers!r}")
        if self.exclude_flagged_workers and not self.worker_statistics:
            raise DatasetError(
                "exclude_flagged_workers needs worker_statistics: workers are flagged from their answers"
            )
        object.__setattr__(self, "ratios", parse_ratios(self.ratios))
        formats = tuple(dict.fromkeys((CANONICAL_FORMAT, *self.formats)))
        unknown = [name for name in formats if name not in EXPORTERS]
        if unknown:  # whether a known format fits the labels is checked once their kind is known
            raise DatasetError(f"unknown dataset format(s) {unknown}; known formats: {', '.join(EXPORTERS)}")
        object.__setattr__(self, "formats", formats)

    def describe(self) -> dict[str, Any]:
        """The spec as JSON-friendly data, for the card and the fingerprint."""
        return {
            "name": self.name,
            "ratios": dict(self.ratios),
            "seed": self.seed,
            "stratify": self.stratify,
            "formats": list(self.formats),
            "label_attribute": self.label_attribute,
            "filters": _describe(self.object_filter),
            "review": _describe(self.review) if self.review else None,
            "label_mapping": dict(self.label_mapping.rename) if self.label_mapping else {},
            "carry_forward": self.carry_forward,
            # Only when asked for: the fingerprints of datasets built without gold stay as they were.
            **(
                {"gold": _describe_gold(self)}
                if self.exclude_flagged_workers
                or (self.gold_min_accuracy, self.gold_min_answers) != (DEFAULT_MIN_ACCURACY, DEFAULT_MIN_ANSWERS)
                else {}
            ),
        }


@dataclass(frozen=True)
class BuiltDataset:
    """A committed dataset version (new, or the existing one a retry found)."""

    version: int
    uri: str
    card: Mapping[str, Any]
    #: True when an identical build was already committed and nothing was written.
    reused: bool = False

    @property
    def counts(self) -> dict[str, int]:
        return dict(self.card["counts"]["per_split"])

    def asset_extra(self) -> dict[str, Any]:
        """What an Asset event carries: enough for a training DAG to find and judge the data."""
        return {
            "name": self.card["name"],
            "version": self.version,
            "uri": self.uri,
            "card_uri": f"{self.uri}{CARD_FILE}",
            "counts": self.counts,
            "total": self.card["counts"]["total"],
            "label_attribute": self.card["label_attribute"],
            "source_field": self.card["source_field"],
            "output_type": self.card["output_type"],
            "job_names": list(self.card["job_names"]),
            "cost": _cost_extra(self.card.get("cost")),
            "gold": _gold_extra(self.card.get("workers")),
        }


def build_dataset(
    output_manifests: Sequence[str],
    destination: str,
    spec: DatasetSpec,
    *,
    s3_client: Any | None = None,
    version: int | None = None,
    log: Callable[[str], None] = lambda message: None,
    now: datetime | None = None,
    workers: int | None = None,
    labeling: Sequence[Mapping[str, Any]] = (),
) -> BuiltDataset:
    """Build the next version of ``spec.name`` under ``destination`` from ``output_manifests``.

    ``destination`` is the dataset's root (a folder or ``s3://bucket/prefix``) that holds
    ``v=1/``, ``v=2/``...; ``output_manifests`` are output augmented manifests (files or S3
    URIs), in the order their labels were made. Raises ``MalformedOutputManifestError``
    (line numbers) before writing anything, and ``DatasetVersionExistsError`` rather than
    overwrite a committed version.

    ``workers`` processes read large inputs (local files or S3 objects), each its own byte range (see
    :mod:`gt_provider.datasets.passes.parallel`; the dataset is the same); the default is
    :func:`~gt_provider.datasets.passes.parallel.default_workers`, and 1 keeps the build in this process.

    ``labeling``: the labeling operator's results of the jobs that made ``output_manifests``;
    their ``cost`` and ``confidence_thresholds`` go into the card (what this version cost to
    label, what automated labeling saved, the thresholds its machine labels met).
    """
    if not output_manifests:
        raise DatasetError("no output manifest to build a dataset from")
    s3 = S3ClientProvider(s3_client)
    location = DatasetLocation(destination, s3_client=s3_client)
    committed = location.committed_versions()
    fingerprint = _fingerprint(output_manifests, spec, s3)
    if committed and version is None:
        latest = location.read_card(committed[-1])
        if latest.get("fingerprint") == fingerprint:
            log(f"{location.version_uri(committed[-1])} was built from the same inputs and settings: reusing it")
            return BuiltDataset(committed[-1], location.version_uri(committed[-1]), latest, reused=True)
    if version is not None and version in committed:
        raise DatasetVersionExistsError(f"{location.version_uri(version)} exists; versions are never overwritten")
    new_version = version if version is not None else (committed[-1] + 1 if committed else 1)
    parent_version = max((v for v in committed if v < new_version), default=None)
    parent = location.read_card(parent_version) if parent_version is not None else None

    sources = [Source(uri) for uri in output_manifests]
    pinned_index: dict[int, int] = {}
    if parent is not None:
        pinned_index = _read_splits_index(location, parent_version, list(spec.ratios))
        if spec.carry_forward:
            for split, paths in parent["files"][CANONICAL_FORMAT].items():
                sources[:0] = [Source(location.uri_of(f"v={parent_version}/{path}"), pinned=split) for path in paths]
        log(f"parent version v={parent_version}: {len(pinned_index):,} split assignments carried forward")

    worker_data = _worker_responses(sources, spec, s3_client)
    selection = Selection(
        spec.label_attribute,
        spec.object_filter,
        spec.review,
        spec.label_mapping,
        spec.formats,
        relabels=_reconsolidation(worker_data, spec, s3_client, log),
    )
    statistics = DatasetStatistics(list(spec.ratios))
    groups = plan(sources, spec.formats, default_workers() if workers is None else workers, s3=s3) or []
    with contextlib.ExitStack() as stack:
        # Started now, while this process is small; it draws the card's plots at the end.
        plotter = stack.enter_context(Plotter())
        pool = stack.enter_context(Pool(len(groups))) if groups else None
        # What the first pass reads from S3 is copied here, and the second pass reads the copy.
        spool = None
        if any(is_s3_uri(source.uri) for source in sources):
            spool = stack.enter_context(tempfile.TemporaryDirectory(prefix=f"gt-dataset-{spec.name}-s3-"))
        if pool is None:
            scanned = scan(sources, selection, s3_client, log, spool=spool)
        else:
            log(f"reading {len(sources)} output manifest(s) in {len(groups)} processes")
            scanned = scan_parts(pool, groups, sources, selection, s3, spool)
        find_repeats(scanned)
        label_map = _label_map(parent, scanned.label_ids)
        allocator, assignment, pinned_total = allocate(scanned, spec.ratios, spec.seed, spec.stratify, pinned_index)
        names = allocator.names
        stratified = spec.stratify and scanned.kind in STRATIFIED_KINDS
        log(f"split {len(scanned.unique_rows):,} objects ({pinned_total:,} keep an earlier version's split)")
        staging = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=f"gt-dataset-{spec.name}-")))

        def write_splits_index() -> None:
            _write_splits_index(staging / SPLITS_INDEX, pinned_index, scanned, assignment, names)

        destination = Destination(
            assignment, names, label_map, staging, statistics, parent_rows=_parent_rows(scanned, sources)
        )
        if pool is None:
            written = write(scanned, sources, selection, destination, worker_data, s3_client, log)
            write_splits_index()
        else:  # the index is written while the other processes write the objects
            written = write_parts(
                pool, groups, scanned, sources, selection, destination, worker_data, write_splits_index, s3
            )
            pool.close()
        if written.problem_total:
            raise MalformedOutputManifestError(written.problems, written.problem_total)
        if statistics.total == 0 and not written.output_type:
            raise DatasetError(f"the output manifests hold no objects: {', '.join(output_manifests)}")
        version_uri = location.version_uri(new_version)
        card: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "name": spec.name,
            "version": new_version,
            "uri": version_uri,
            "parent_version": parent_version,
            "created": (now or datetime.now(UTC)).isoformat(timespec="seconds"),
            "output_type": written.output_type,
            "label_kind": str(written.kind),
            "label_attribute": written.attribute,
            "source_field": written.source_field,
            "sources": [
                {
                    "manifest": s.uri,
                    "job_names": sorted(s.job_names),
                    "objects": s.objects,
                    "carried_forward": bool(s.pinned),
                }
                for s in sources
            ],
            "job_names": sorted({name for s in sources for name in s.job_names}),
            "label_map": {str(index): name for index, name in enumerate(label_map)},
            "splits": {"ratios": dict(spec.ratios), "seed": spec.seed, "stratified": stratified, "index": SPLITS_INDEX},
            **statistics.to_dict(),
            "workers": _worker_card(worker_data, written.consolidated, spec),
            "files": written.files,
            "filters": spec.describe()["filters"],
            "review": spec.describe()["review"],
            "label_mapping": spec.describe()["label_mapping"],
            "fingerprint": fingerprint,
            **_labeling_card(labeling),
        }
        if parent_version is not None and spec.carry_forward:
            card["changes"] = written.changes.card(parent_version)
        card["files"]["card"] = {"all": write_card_files(staging, card, plotter=plotter)}
        location.clear_uncommitted(new_version)
        location.write_version(new_version, staging, card)
    log(f"committed {version_uri}: {_counts_line(card)}")
    return BuiltDataset(new_version, version_uri, card)


def _parent_rows(scanned: Scan, sources: Sequence[Source]) -> frozenset[int]:
    """The rows of sources labeled more than once that the parent version's carried-forward files hold."""
    repeated = sorted(row for rows in scanned.repeats.values() for row in rows)
    if not repeated:
        return frozenset()
    parent: list[int] = []
    first_row, index = 0, 0
    for part, lines in zip(scanned.parts, scanned.lines, strict=True):
        end = first_row + len(lines)
        while index < len(repeated) and repeated[index] < end:
            if sources[part.source].pinned is not None:
                parent.append(repeated[index])
            index += 1
        first_row = end
    return frozenset(parent)


def _labeling_card(results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """``cost`` (this version's labeling jobs, summed) and ``confidence_thresholds`` (per job) of the card.

    ``cost`` is None when no job's actual cost is known (another backend's results, or worker
    responses that could not be read); a job without one is listed under ``unpriced_jobs``.
    """
    priced = [r for r in results if (r.get("cost") or {}).get("actual_usd") is not None]
    thresholds = {r["job_name"]: list(r["confidence_thresholds"]) for r in results if r.get("confidence_thresholds")}
    card: dict[str, Any] = {"confidence_thresholds": thresholds}
    if not priced:
        card["cost"] = None
        return card

    def total(key: str) -> float:
        return round(sum(float(r["cost"].get(key) or 0.0) for r in priced), 2)

    card["cost"] = {
        "currency": "USD",
        "actual_usd": total("actual_usd"),
        "all_human_usd": total("all_human_usd"),
        "saved_usd": total("saved_usd"),
        "jobs": {r["job_name"]: round(float(r["cost"]["actual_usd"]), 2) for r in priced},
        "unpriced_jobs": sorted(r["job_name"] for r in results if r not in priced),
        "pricing_source": priced[-1]["cost"].get("pricing_source"),
        "pricing_as_of": priced[-1]["cost"].get("pricing_as_of"),
    }
    return card


def _cost_extra(cost: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The Asset event's ``cost``: what this version cost to label and what automation saved."""
    if not cost:
        return None
    return {key: cost[key] for key in ("currency", "actual_usd", "saved_usd", "all_human_usd")}


def _label_map(parent: Mapping[str, Any] | None, label_ids: Mapping[str, float]) -> list[str]:
    """Class names, id = position: the parent's first (ids never change), then new ones by class id."""
    names = [parent["label_map"][key] for key in sorted(parent["label_map"], key=int)] if parent else []
    known = set(names)
    names += [name for name, _ in sorted(label_ids.items(), key=lambda item: (item[1], item[0])) if name not in known]
    return names


def _read_splits_index(location: DatasetLocation, version: int, names: Sequence[str]) -> dict[int, int]:
    """digest -> split index of every object any earlier version assigned (splits unknown here are kept out)."""
    index: dict[int, int] = {}
    position = {name: number for number, name in enumerate(names)}
    for line in location.read_bytes(f"v={version}/{SPLITS_INDEX}").decode().splitlines():
        digest, _, split = line.partition("\t")
        if split in position:
            index[int(digest, 16)] = position[split]
    return index


def _write_splits_index(
    path: Path, pinned_index: Mapping[int, int], scanned: Scan, assignment: array, names: Sequence[str]
) -> None:
    """``<digest>\t<split>`` for every object ever assigned: this version's, then earlier ones' not seen again."""
    suffixes = [f"\t{name}\n" for name in names]
    digests = scanned.digests
    with path.open("w", encoding="ascii") as handle:
        handle.writelines(
            f"{digests[row]:016x}{suffixes[assignment[row]]}"
            for row in scanned.unique_rows
            if assignment[row] != UNASSIGNED
        )
        if pinned_index:
            seen = {digests[row] for row in scanned.unique_rows}
            handle.writelines(
                f"{digest_hex(digest)}{suffixes[split]}" for digest, split in pinned_index.items() if digest not in seen
            )


def _gold_extra(workers: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """What the card says of gold items, in short: how many, who was flagged, whether their answers were left out."""
    jobs = [statistics["gold"] for statistics in (workers or {}).values() if statistics.get("gold")]
    if not jobs:
        return None
    return {
        "objects": sum(gold["objects"] for gold in jobs),
        "flagged_workers": sorted({worker for gold in jobs for worker in gold["flagged"]}),
        "excluded": any(gold["excluded"] for gold in jobs),
    }


def _describe_gold(spec: DatasetSpec) -> dict[str, Any]:
    return {
        "min_accuracy": spec.gold_min_accuracy,
        "min_answers": spec.gold_min_answers,
        "exclude_flagged_workers": spec.exclude_flagged_workers,
    }


def _reconsolidation(
    worker_data: Mapping[str, WorkerResponses], spec: DatasetSpec, s3_client: Any | None, log: Callable[[str], None]
) -> dict[str, dict[str, tuple[str, float] | None]]:
    """Per output manifest, the objects flagged workers answered, consolidated from the others' answers."""
    if not spec.exclude_flagged_workers:
        return {}
    rename = dict(spec.label_mapping.rename) if spec.label_mapping else None
    found = {}
    for uri, (_, responses) in worker_data.items():
        gold = gold_labels(output_manifest_lines(uri, s3_client=s3_client))
        flagged = flagged_workers(gold_scores(responses, gold, rename), spec.gold_min_accuracy, spec.gold_min_answers)
        labels = reconsolidated(responses, flagged, gold, rename)
        if flagged:
            log(
                f"{uri}: {len(flagged)} worker(s) below {spec.gold_min_accuracy:g} on {len(gold)} gold items "
                f"({', '.join(sorted(flagged))}): {len(labels)} objects they answered consolidated again without "
                f"them, {sum(label is None for label in labels.values())} left with no other answer"
            )
        found[uri] = labels
    return found


def _worker_responses(sources: list[Source], spec: DatasetSpec, s3_client: Any | None) -> dict[str, WorkerResponses]:
    """Output manifest URI -> (job output prefix, worker responses) for inputs in Ground Truth's layout."""
    found: dict[str, WorkerResponses] = {}
    if not spec.worker_statistics:
        return found
    for source in sources:
        if source.pinned is None and source.uri.endswith(_OUTPUT_MANIFEST_SUFFIX):
            prefix = source.uri[: -len(_OUTPUT_MANIFEST_SUFFIX)]
            responses = list(read_worker_responses(prefix, s3_client=s3_client))
            if responses:
                found[source.uri] = (prefix, responses)
    return found


def _worker_card(
    worker_data: Mapping[str, WorkerResponses],
    consolidated: Mapping[str, Mapping[str, LabeledObject]],
    spec: DatasetSpec,
) -> dict[str, Any] | None:
    """Per job: per-worker agreement and accuracy against the consolidated labels, and on gold items.

    Workers answered with the job's own label names; the spec's label mapping renames their
    answers as it renamed the consolidated labels, so a renamed class is not counted as a
    disagreement.
    """
    jobs: dict[str, Any] = {}
    mapping = spec.label_mapping
    for uri, (prefix, responses) in worker_data.items():
        renames = dict(mapping.rename) if mapping else None
        statistics = worker_statistics(
            responses,
            consolidated.get(uri, {}),
            label_mapping=renames,
            gold_min_accuracy=spec.gold_min_accuracy,
            gold_min_answers=spec.gold_min_answers,
            excluded=spec.exclude_flagged_workers,
        )
        if statistics is not None:
            jobs[prefix.rstrip("/").rsplit("/", 1)[-1]] = statistics
    return jobs or None


def _fingerprint(output_manifests: Sequence[str], spec: DatasetSpec, s3: S3ClientProvider) -> str:
    """Same inputs (by content identity) and same spec -> same fingerprint."""
    identity = [(uri, _identity(uri, s3)) for uri in output_manifests]
    text = json.dumps({"inputs": identity, "spec": spec.describe()}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _identity(uri: str, s3: S3ClientProvider) -> str:
    try:
        if is_s3_uri(uri):
            bucket, key = split_s3_uri(uri)
            head = s3().head_object(Bucket=bucket, Key=key)
            return f"{head.get('ETag', '')}:{head.get('ContentLength', '')}"
        stat = Path(uri).stat()
        return f"{stat.st_size}:{stat.st_mtime_ns}"
    except Exception:  # unreadable inputs are reported, with their cause, by the first pass
        return "unreadable"


def _describe(value: Any) -> dict[str, Any]:
    """A frozen dataclass of settings as JSON-friendly data (sets sorted)."""
    described = {}
    for name, spec_field in getattr(value, "__dataclass_fields__", {}).items():
        if name.startswith("_") or not spec_field.init:  # caches and other internals are not settings
            continue
        item = getattr(value, name)
        if isinstance(item, frozenset | set):
            item = sorted(item)
        elif isinstance(item, Mapping):
            item = dict(item)
        described[name] = item
    return described


def _counts_line(card: Mapping[str, Any]) -> str:
    counts = card["counts"]
    per_split = ", ".join(f"{name} {count:,}" for name, count in counts["per_split"].items())
    dropped = sum(counts.get("dropped", {}).values())
    return f"{counts['total']:,} objects ({per_split}); {dropped:,} left out"
