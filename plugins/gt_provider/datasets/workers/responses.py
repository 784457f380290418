"""Reading a labeling job's worker responses: every worker's answer to every object.

Ground Truth keeps them under
``<job output>/annotations/worker-response/iteration-N/<object-id>/<timestamp>.json``;
:mod:`gt_provider.datasets.workers.statistics` compares them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson

from gt_provider.datasets.errors import DatasetReadError
from gt_provider.s3io import S3ClientProvider, is_s3_uri, split_s3_uri

log = logging.getLogger(__name__)

#: Where worker responses live under a job's output prefix (``<S3OutputPath>/<job-name>/``).
WORKER_RESPONSE_FOLDER = "annotations/worker-response/"
#: Objects fetched from S3 at once while reading responses (one small JSON file per object).
READ_CONCURRENCY = 16


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
