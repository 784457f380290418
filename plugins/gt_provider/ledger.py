"""Which data objects a recurring pipeline has had labeled, or has claimed for a running job.

Standard library only (callers pass a boto3 S3 client). A ledger is one JSON Lines object per
pipeline in S3, a line per source, readable by people:

- ``{"source": "s3://bucket/raw/1.png", "job": "<labeling job>", "labeled_at": "<ISO time>"}``
  -- labeled (lines written before claims existed have this form too);
- ``{"source": ..., "claimed_by": "<dag>/<run>", "claimed_at": "<ISO time>"}`` -- in the
  manifest of a run whose labeling job has not ended yet (with ``"was"``: the labeled entry
  it replaces, when the run labels the object again, restored if the run fails);
- a labeled entry with ``"relabel": "<why>"`` -- its label is doubtful (low consolidated
  confidence), so a later run may offer it again (``max_relabel``), once: the entry it then
  gets says ``"relabeled": true`` and is never offered again, whatever its confidence.

The manifest builder leaves out what is labeled and what another run has claimed, so nobody
pays twice for the same object and no object is in two jobs; the run that claimed objects
turns its claims into labeled lines for what its job really labeled (failed objects are
released), and a failed run releases its claims, so they are offered again.

Concurrent writers (two DAGs sharing a ledger, a manual run beside a scheduled one, a second
deployment) lose nothing: every change is a compare-and-swap on the object's ETag
(``PutObject`` with ``IfMatch``, or ``IfNoneMatch="*"`` for a new ledger), retried from a
fresh read when another writer got there first (HTTP 412). Chosen over append-only per-run
records because the ledger stays one object that a person can read and that a build reads
with one GET, and S3 has offered conditional writes since 2024 (``If-Match`` on PutObject).
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from gt_provider.manifests.gold import is_gold
from gt_provider.s3io import split_s3_uri

#: Compare-and-swap attempts before giving up (each after a fresh read); contention is runs, not requests.
MAX_ATTEMPTS = 50
_PRECONDITION_CODES = frozenset({"PreconditionFailed", "412", "ConditionalRequestConflict"})

T = TypeVar("T")


class LedgerConflictError(RuntimeError):
    """Other writers kept changing the ledger for ``MAX_ATTEMPTS`` tries in a row."""


@dataclass
class Ledger:
    """The ledger's entries by source, in file order (one entry per source)."""

    entries: dict[str, dict[str, Any]]

    @classmethod
    def parse(cls, text: str) -> Ledger:
        """Entries of a ledger's text; a malformed line is named in the error."""
        entries: dict[str, dict[str, Any]] = {}
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                entries[entry["source"]] = entry
            except (ValueError, KeyError, TypeError):
                raise ValueError(f"ledger line {number} is not {{'source': ...}}: {line[:120]!r}") from None
        return cls(entries)

    def text(self) -> str:
        return "".join(json.dumps(entry, ensure_ascii=False) + "\n" for entry in self.entries.values())

    def labeled(self) -> set[str]:
        return {source for source, entry in self.entries.items() if "claimed_by" not in entry}

    def unavailable(self, claimant: str | None = None) -> set[str]:
        """Sources a build of ``claimant`` must leave out: labeled, or claimed by another run."""
        return {
            source
            for source, entry in self.entries.items()
            if "claimed_by" not in entry or entry["claimed_by"] != claimant
        }

    def claimed_by(self, claimant: str) -> list[str]:
        return [source for source, entry in self.entries.items() if entry.get("claimed_by") == claimant]

    def relabel_candidates(self) -> list[str]:
        """Labeled sources whose label is doubtful and that were not labeled again yet, in file order."""
        return [
            source
            for source, entry in self.entries.items()
            if "claimed_by" not in entry and entry.get("relabel") and not entry.get("relabeled")
        ]

    def claim(self, sources: Iterable[str], claimant: str, at: datetime) -> None:
        """Claim ``sources`` (new ones, or :meth:`relabel_candidates`, whose entry the claim keeps)."""
        for source in sources:
            claim: dict[str, Any] = {"source": source, "claimed_by": claimant, "claimed_at": at.isoformat()}
            previous = self.entries.get(source)
            if previous is not None and "claimed_by" not in previous:
                claim["was"] = previous
            self.entries[source] = claim

    def reclaim(self, sources: Iterable[str], claimant: str, at: datetime) -> list[str]:
        """Claim again the sources of a manifest ``claimant`` wrote earlier (a cleared or retried run).

        Returns the sources another run has labeled or claimed since ``claimant`` released
        them, in order; nothing is claimed then, so the caller can refuse the manifest.
        """
        sources = list(sources)
        # An object the run was labeling again is still offered if its earlier try released it.
        unavailable = self.unavailable(claimant) - set(self.relabel_candidates())
        taken = [source for source in sources if source in unavailable]
        if not taken:
            for source in sources:
                if self.entries.get(source, {}).get("claimed_by") != claimant:
                    self.claim([source], claimant, at)
        return taken

    def record(
        self,
        sources: Iterable[str],
        job_name: str,
        at: datetime,
        claimant: str | None = None,
        doubtful: Mapping[str, str] | None = None,
    ) -> int:
        """Mark ``sources`` labeled by ``job_name``; release ``claimant``'s other claims. Returns how many are new.

        ``doubtful``: source -> why its label is doubtful; such a source may be offered again
        (:meth:`relabel_candidates`), unless this was already its second label.
        """
        added = 0
        for source in sources:
            current = self.entries.get(source)
            if current is not None and "claimed_by" not in current:
                continue
            entry: dict[str, Any] = {"source": source, "job": job_name, "labeled_at": at.isoformat()}
            if current is not None and "was" in current:
                entry["relabeled"] = True  # labeled twice now: never offered again
            elif doubtful and source in doubtful:
                entry["relabel"] = doubtful[source]
            self.entries[source] = entry
            added += 1
        if claimant is not None:
            self.release(claimant)
        return added

    def release(self, claimant: str) -> int:
        """Drop ``claimant``'s claims (its job failed or left them unlabeled); an object labeled before
        gets its labeled entry back. Returns how many."""
        released = self.claimed_by(claimant)
        for source in released:
            previous = self.entries[source].get("was")
            if previous is not None:
                self.entries[source] = previous
            else:
                del self.entries[source]
        return len(released)


def read_ledger(client: Any, uri: str) -> tuple[Ledger, str | None]:
    """The ledger at ``uri`` and its ETag (None when there is no ledger yet)."""
    bucket, key = split_s3_uri(uri)
    try:
        response = client.get_object(Bucket=bucket, Key=key)
    except client.exceptions.NoSuchKey:
        return Ledger({}), None
    return Ledger.parse(response["Body"].read().decode("utf-8")), response["ETag"]


def update_ledger(client: Any, uri: str, change: Callable[[Ledger], T], *, max_attempts: int = MAX_ATTEMPTS) -> T:
    """Apply ``change`` to the ledger and write it back only if nobody wrote in between.

    ``change`` mutates the ledger it is given and returns a result; on a lost race it runs
    again on a fresh read, so it must decide from the ledger alone (no side effects).
    """
    from botocore.exceptions import ClientError

    bucket, key = split_s3_uri(uri)
    for attempt in range(max_attempts):
        ledger, etag = read_ledger(client, uri)
        before = ledger.text() if etag else None
        result = change(ledger)
        if before is not None and ledger.text() == before:
            return result  # nothing changed: no write, no new version of the ledger
        condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
        try:
            client.put_object(Bucket=bucket, Key=key, Body=ledger.text().encode("utf-8"), **condition)
            return result
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in _PRECONDITION_CODES:
                raise
        time.sleep(random.uniform(0, min(1.0, 0.02 * 2**attempt)))  # another writer won: back off, re-read
    raise LedgerConflictError(f"ledger {uri} kept changing under {max_attempts} attempts to update it")


def claimant(dag_id: str, run_id: str) -> str:
    """Who claims a run's objects: the DAG and the run (the same on every try of the run)."""
    return f"{dag_id}/{run_id}"


def read_sources(ledger_text: str) -> set[str]:
    """The sources labeled in a ledger's text (blank or malformed lines named in the error)."""
    return Ledger.parse(ledger_text).labeled()


def labeled_records(output_manifest_text: str, label_attribute_name: str) -> list[tuple[str, dict[str, Any]]]:
    """(source, output line) of the objects the job labeled: lines that carry the label (failed objects do
    not; gold items are not data)."""
    labeled = []
    for line in output_manifest_text.splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        source = record.get("source-ref", record.get("source"))
        if label_attribute_name in record and not is_gold(record) and source is not None:
            labeled.append((source, record))
    return labeled


def doubtful_labels(
    labeled: Iterable[tuple[str, Mapping[str, Any]]], label_attribute_name: str, below: float
) -> dict[str, str]:
    """Source -> why, for the :func:`labeled_records` whose consolidated confidence is above 0 and below ``below``.

    A confidence of 0.00 is what Ground Truth writes with one worker per object: nothing to
    judge by, so such a label is not doubted. Lines without a single ``confidence`` (boxes,
    masks, multi-label) are not judged either.
    """
    doubtful = {}
    for source, record in labeled:
        metadata = record.get(f"{label_attribute_name}-metadata")
        confidence = metadata.get("confidence") if isinstance(metadata, dict) else None
        if isinstance(confidence, int | float) and not isinstance(confidence, bool) and 0 < confidence < below:
            doubtful[source] = f"confidence {confidence:.2f} < {below:.2f}"
    return doubtful


def sample(sources: Iterable[str] | Mapping[str, Any], max_objects: int | None, seed: str = "") -> list[str]:
    """At most ``max_objects`` sources, the same choice for the same input (by hash, not position)."""
    ordered = sorted(sources)
    if max_objects is None or len(ordered) <= max_objects:
        return ordered
    ranked = sorted(ordered, key=lambda source: hashlib.sha256(f"{seed}\n{source}".encode()).digest())
    return sorted(ranked[:max_objects])
