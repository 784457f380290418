"""Finding a run's data objects in S3 and turning the chosen ones into manifest lines.

No Airflow: callers pass a boto3 S3 client. ``BuildManifestOperator`` is template fields
around these functions and the ledger (``gt_provider.ledger``):

- :func:`prefix_candidates` -- every object under an S3 prefix whose key matches the
  suffixes / glob (and, optionally, was modified in a time window);
- :func:`object_candidates` -- the rows of a .txt, .csv or .jsonl drop object;
- :func:`manifest_lines` -- the ``source-ref`` / ``source`` lines of the chosen candidates,
  carrying S3 user metadata or drop columns.
"""

from __future__ import annotations

import csv
import fnmatch
import io
import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from gt_provider.exceptions import InvalidLabelingJobConfigError
from gt_provider.manifests.build import manifest_line
from gt_provider.manifests.gold import is_gold
from gt_provider.s3io import parse_s3_argument

#: HEAD requests in flight when S3 metadata is carried onto lines.
METADATA_CONCURRENCY = 16


def prefix_candidates(
    client: Any,
    source_prefix: str,
    *,
    suffixes: Sequence[str] = (),
    glob: str | None = None,
    modified_between: tuple[datetime, datetime] | None = None,
) -> dict[str, dict[str, Any]]:
    """``{s3 uri: {"bucket", "key"}}`` of the objects under ``source_prefix`` that match."""
    bucket, prefix = parse_s3_argument(source_prefix, "source_prefix", object_key=False)
    endings = tuple(suffix.lower() for suffix in suffixes)
    records: dict[str, dict[str, Any]] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            key = item["Key"]
            if endings and not key.lower().endswith(endings):
                continue
            if glob and not fnmatch.fnmatch(key, glob):
                continue
            if modified_between is not None and not modified_between[0] <= item["LastModified"] < modified_between[1]:
                continue
            records[f"s3://{bucket}/{key}"] = {"bucket": bucket, "key": key}
    return records


def object_candidates(
    client: Any, source_object: str, *, text_field: str | None = None, carry_fields: Sequence[str] = ()
) -> dict[str, dict[str, Any]]:
    """``{text: {"text", "fields"}}`` of a .txt (a text per line), .csv or .jsonl drop object."""
    bucket, key = parse_s3_argument(source_object, "source_object")
    text = client.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
    field = "source" if key.lower().endswith(".txt") else text_field
    if not field:
        raise InvalidLabelingJobConfigError(f"text_field is required to read {source_object}")
    records = {}
    for number, row in enumerate(_rows(source_object, key.lower(), text), 1):
        value = row.get(field)
        if not isinstance(value, str) or not value.strip():
            raise InvalidLabelingJobConfigError(
                f"{source_object} row {number} has no text in {field!r} (columns: {sorted(row)})"
            )
        records[value] = {"text": value, "fields": {name: row.get(name) for name in carry_fields}}
    return records


def _rows(source_object: str, lower_key: str, text: str) -> list[dict[str, Any]]:
    if lower_key.endswith(".txt"):
        return [{"source": line} for line in text.splitlines() if line.strip()]
    if lower_key.endswith(".csv"):
        return list(csv.DictReader(io.StringIO(text)))
    if not lower_key.endswith((".jsonl", ".json", ".ndjson")):
        raise InvalidLabelingJobConfigError(f"source_object must end in .txt, .csv or .jsonl, got {source_object}")
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except ValueError:
                raise InvalidLabelingJobConfigError(f"{source_object} line {number} is not JSON") from None
    return rows


def manifest_lines(
    client: Any, chosen: Sequence[str], records: dict[str, dict[str, Any]], *, carry_metadata: Sequence[str] = ()
) -> list[str]:
    """The manifest lines of ``chosen``: ``source`` lines for drop rows, ``source-ref`` for objects."""
    if chosen and "text" in records[chosen[0]]:
        return [
            json.dumps({"source": source, **records[source]["fields"]}, ensure_ascii=False, separators=(",", ":"))
            for source in chosen
        ]
    if not carry_metadata:
        return [manifest_line(source) for source in chosen]

    def line(source: str) -> str:
        record = records[source]
        metadata = client.head_object(Bucket=record["bucket"], Key=record["key"]).get("Metadata", {})
        return manifest_line(source, {name: metadata[name] for name in carry_metadata if name in metadata})

    with ThreadPoolExecutor(max_workers=METADATA_CONCURRENCY) as pool:
        return list(pool.map(line, chosen))


def manifest_sources(manifest: str) -> list[str]:
    """The sources of a manifest's lines (``source-ref``, or ``source`` for text), as the ledger keys them.

    Gold items (:mod:`gt_provider.manifests.gold`) are not data: the ledger never claims them.
    """
    sources = []
    for line in manifest.splitlines():
        if line.strip():
            record = json.loads(line)
            if not is_gold(record):
                sources.append(record.get("source-ref", record.get("source")))
    return sources
