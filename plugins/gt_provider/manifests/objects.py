"""Checks of the S3 objects that manifest lines point at: exists, size, extension, sequence files.

A manifest can be perfectly formed and still name images that were never uploaded; Ground
Truth then fails those objects one by one, after the job was paid for. These checks ask S3
first. They are I/O bound, so they run in a thread pool with a bounded number of requests in
flight (and a bounded queue, so a million lines never wait in memory at once), or on a random
sample when checking every object would take too long. Extensions are checked on every line:
that needs no request.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Container
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

import orjson

from gt_provider.manifests.kinds import ErrorKind
from gt_provider.manifests.layouts import DataLayout
from gt_provider.manifests.schema import describe_schema_error, load_schema, validator_for
from gt_provider.s3io import S3ClientProvider, split_s3_uri

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

    from jsonschema.protocols import Validator

#: botocore's default connection pool size: more threads than this only queue for connections.
DEFAULT_MAX_CONCURRENCY = 10
#: Sequence files list frames; anything larger than this is not one.
MAX_SEQUENCE_FILE_BYTES = 16 * 1024 * 1024
_MISSING_CODES = frozenset({"404", "NoSuchKey", "NotFound"})
_DENIED_CODES = frozenset({"403", "AccessDenied", "Forbidden"})


@dataclass(frozen=True)
class ObjectFailure:
    """A referenced object that failed a check: which line (and object index), what kind, why."""

    index: int
    line: int
    kind: ErrorKind
    reason: str


class ObjectChecker:
    """Checks the objects of the lines offered to it, all of them or a reservoir sample.

    ``offer()`` is called from the validator's loop for every valid line with a ``source-ref``;
    ``finish()`` waits for the checks and returns the failures. The client is resolved in the
    constructor, on the caller's thread: boto3 sessions must not be created concurrently.
    """

    def __init__(
        self,
        layout: DataLayout,
        s3: S3ClientProvider,
        *,
        sample: int | None,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        seed: int = 0,
    ) -> None:
        if sample is not None and sample < 0:
            raise ValueError(f"sample must be None (check every object) or >= 0, got {sample}")
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency must be >= 1, got {max_concurrency}")
        self.layout = layout
        self.sample = sample
        self.checked = 0
        self._client = s3()
        self._failures: list[ObjectFailure] = []
        self._max_concurrency = max_concurrency
        self._slots = threading.BoundedSemaphore(2 * max_concurrency)
        self._pool: ThreadPoolExecutor | None = None
        self._reservoir: list[tuple[int, int, str]] = []
        self._offered = 0
        self._random = random.Random(seed)
        self._sequence_validator: Validator | None = (
            validator_for(load_schema(layout.sequence_schema)) if layout.sequence_schema else None
        )

    def offer(self, index: int, line: int, uri: str) -> None:
        extensions = self.layout.extensions
        if extensions is not None:
            suffix = PurePosixPath(uri).suffix.lower()
            if suffix not in extensions:
                shown = suffix or "no extension"
                self._failures.append(
                    ObjectFailure(
                        index,
                        line,
                        ErrorKind.BAD_EXTENSION,
                        f"{uri} has {shown}; {self.layout.kind} objects must be {', '.join(extensions)}",
                    )
                )
                return
        if self.sample is None:
            self._submit(index, line, uri)
            return
        self._offered += 1
        if len(self._reservoir) < self.sample:
            self._reservoir.append((index, line, uri))
        else:
            slot = self._random.randrange(self._offered)
            if slot < self.sample:
                self._reservoir[slot] = (index, line, uri)

    def finish(self, skip: Container[int]) -> list[ObjectFailure]:
        """Run the sampled checks (leaving out objects in ``skip``), wait for all, return the failures."""
        for index, line, uri in sorted(self._reservoir):
            if index not in skip:
                self._submit(index, line, uri)
        self.close()
        return sorted(self._failures, key=lambda failure: failure.index)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def _submit(self, index: int, line: int, uri: str) -> None:
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor  # only when objects are checked

            self._pool = ThreadPoolExecutor(self._max_concurrency, thread_name_prefix="gt-manifest-objects")
        self._slots.acquire()
        self.checked += 1
        future = self._pool.submit(self._check, index, line, uri)
        future.add_done_callback(self._done)

    def _done(self, future: Future[ObjectFailure | None]) -> None:
        self._slots.release()
        failure = future.result()
        if failure is not None:
            self._failures.append(failure)

    def _check(self, index: int, line: int, uri: str) -> ObjectFailure | None:
        """One object's checks; every error becomes a failure, none escapes the thread."""
        try:
            return self._check_object(index, line, uri)
        except Exception as error:  # a check must report, never break the validation
            return ObjectFailure(index, line, ErrorKind.OBJECT_UNREADABLE, f"{uri}: {type(error).__name__}: {error}")

    def _check_object(self, index: int, line: int, uri: str) -> ObjectFailure | None:
        bucket, key = split_s3_uri(uri)
        try:
            head = self._client.head_object(Bucket=bucket, Key=key)
        except Exception as error:
            code = _error_code(error)
            if code in _MISSING_CODES:
                return ObjectFailure(index, line, ErrorKind.OBJECT_MISSING, f"{uri} does not exist")
            if code in _DENIED_CODES:
                return ObjectFailure(
                    index,
                    line,
                    ErrorKind.OBJECT_UNREADABLE,
                    f"{uri}: access denied (the labeling job's role needs s3:GetObject on it)",
                )
            return ObjectFailure(index, line, ErrorKind.OBJECT_UNREADABLE, f"{uri}: {code or error}")
        size = int(head.get("ContentLength", 0))
        limit = self.layout.max_object_bytes
        if limit is not None and size > limit:
            return ObjectFailure(
                index,
                line,
                ErrorKind.OBJECT_TOO_LARGE,
                f"{uri} is {size / 2**20:,.1f} MiB; Ground Truth reads {self.layout.kind} objects up to "
                f"{limit / 2**20:,.0f} MiB",
            )
        if self._sequence_validator is not None:
            return self._check_sequence(self._sequence_validator, index, line, uri, size)
        return None

    def _check_sequence(self, validator: Validator, index: int, line: int, uri: str, size: int) -> ObjectFailure | None:
        def failure(reason: str) -> ObjectFailure:
            return ObjectFailure(index, line, ErrorKind.INVALID_FRAME_SEQUENCE, f"{uri}: {reason}")

        if size > MAX_SEQUENCE_FILE_BYTES:
            return failure(f"{size:,} bytes is too large for a sequence file")
        bucket, key = split_s3_uri(uri)
        body = self._client.get_object(Bucket=bucket, Key=key)["Body"]
        try:
            document = orjson.loads(body.read())
        except orjson.JSONDecodeError as error:
            return failure(f"not JSON: {error}")
        finally:
            body.close()
        detail = describe_schema_error(validator, document)
        if detail is not None:
            return failure(detail)
        declared, frames = document["number-of-frames"], len(document["frames"])
        if declared != frames:
            return failure(f"number-of-frames is {declared} but {frames} frames are listed")
        return None


def _error_code(error: Exception) -> str:
    response: Any = getattr(error, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""
