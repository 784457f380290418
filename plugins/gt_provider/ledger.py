"""Which data objects a recurring pipeline has had labeled already (standard library only).

A ledger is one JSON Lines object per pipeline in S3, a line per labeled source:
``{"source": "s3://bucket/raw/1.png", "job": "<labeling job>", "labeled_at": "<ISO time>"}``.
The manifest builder leaves out what the ledger holds, so nobody pays twice for the same
object; the ledger grows only after a labeling job succeeded, and only by the objects
that job really labeled, so a failed run (or a failed object) is offered again next time.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from datetime import datetime


def read_sources(ledger_text: str) -> set[str]:
    """The sources recorded in a ledger's text (blank or malformed lines named in the error)."""
    sources = set()
    for number, line in enumerate(ledger_text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            sources.add(json.loads(line)["source"])
        except (ValueError, KeyError, TypeError):
            raise ValueError(f"ledger line {number} is not {{'source': ...}}: {line[:120]!r}") from None
    return sources


def entries(sources: Iterable[str], job_name: str, labeled_at: datetime) -> Iterator[str]:
    """Ledger lines for ``sources`` labeled by ``job_name``."""
    stamp = labeled_at.isoformat()
    for source in sources:
        yield json.dumps({"source": source, "job": job_name, "labeled_at": stamp}, ensure_ascii=False)


def labeled_sources(output_manifest_text: str, label_attribute_name: str) -> list[str]:
    """Sources the job labeled: output lines that carry the label (failed objects do not)."""
    labeled = []
    for line in output_manifest_text.splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        if label_attribute_name in record:
            labeled.append(record.get("source-ref", record.get("source")))
    return [source for source in labeled if source is not None]


def sample(sources: Iterable[str], max_objects: int | None, seed: str = "") -> list[str]:
    """At most ``max_objects`` sources, the same choice for the same input (by hash, not position)."""
    ordered = sorted(sources)
    if max_objects is None or len(ordered) <= max_objects:
        return ordered
    ranked = sorted(ordered, key=lambda source: hashlib.sha256(f"{seed}\n{source}".encode()).digest())
    return sorted(ranked[:max_objects])
