"""S3 URIs, S3 clients and streamed reading, shared by ``manifests/``, ``datasets/`` and the operators.

The one parser of ``s3://bucket/key`` URIs lives here (:func:`split_s3_uri`,
:func:`parse_s3_argument` for operator arguments); nothing else in the package splits one.
Reading a manifest in chunks from a local file or S3, and writing the cleaned copy beside it.

A manifest can be larger than the memory of the worker that checks it, so it is read as a
stream of fixed-size chunks and never held whole. boto3 is imported only when an ``s3://``
URI is actually read or written, and callers (an Airflow hook, a test) may pass the client to
use, with its credentials and endpoint.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Container, Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

from gt_provider.exceptions import ManifestReadError

#: Bytes read at a time: large enough that per-chunk work is negligible, small enough to not matter.
CHUNK_BYTES = 1 << 20
_CLEANED_SUFFIX = ".cleaned"
_AnyPath = TypeVar("_AnyPath", Path, PurePosixPath)


#: S3's bucket naming rule (3-63 lower-case letters, digits, dots and hyphens).
BUCKET_PATTERN = re.compile(r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]")


def is_s3_uri(value: object) -> bool:
    return isinstance(value, str) and value.startswith("s3://")


def split_s3_prefix(uri: str) -> tuple[str, str]:
    """``s3://bucket[/prefix]`` -> (bucket, prefix); the prefix may be empty."""
    bucket, _, key = uri[5:].partition("/") if is_s3_uri(uri) else ("", "", "")
    if not bucket:
        raise ValueError(f"{uri!r} is not an S3 URI s3://<bucket>/<prefix>")
    return bucket, key


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> (bucket, key); refuse anything without both."""
    bucket, key = split_s3_prefix(uri) if is_s3_uri(uri) else ("", "")
    if not key:
        raise ValueError(f"{uri!r} is not an S3 object URI s3://<bucket>/<key>")
    return bucket, key


def is_valid_s3_uri(value: object) -> bool:
    """A well-formed ``s3://bucket[/key]`` whose bucket name S3 would accept."""
    if not is_s3_uri(value):
        return False
    bucket, _, _ = value[5:].partition("/")  # type: ignore[index]
    return bool(BUCKET_PATTERN.fullmatch(bucket))


def parse_s3_argument(uri: object, argument: str, *, object_key: bool = True) -> tuple[str, str]:
    """(bucket, key) of an operator argument, or InvalidLabelingJobConfigError naming the argument."""
    from gt_provider.exceptions import InvalidLabelingJobConfigError

    if is_valid_s3_uri(uri):
        bucket, key = split_s3_prefix(uri)  # type: ignore[arg-type]
        if key or not object_key:
            return bucket, key
    wanted = "s3://<bucket>/<key>" if object_key else "s3://<bucket>/<prefix>"
    raise InvalidLabelingJobConfigError(f"{argument} must be an S3 URI {wanted}, got {uri!r}")


def endpoint_s3_client(endpoint_url: str | None) -> Any | None:
    """The S3 client of a command line's ``--endpoint-url`` (such as the local AWS), or None.

    None leaves the choice to :class:`S3ClientProvider`: boto3's default client, created only
    when an ``s3://`` URI is read, so a command on local files never imports boto3.
    """
    if not endpoint_url:
        return None
    import boto3

    return boto3.client("s3", endpoint_url=endpoint_url)


class S3ClientProvider:
    """The caller's boto3 S3 client, or a default one created on first use (never at import)."""

    def __init__(self, client: Any | None = None) -> None:
        self._client = client

    def __call__(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("s3")
        return self._client


@contextlib.contextmanager
def open_chunks(manifest: str, s3: S3ClientProvider) -> Iterator[Iterable[bytes]]:
    """The manifest's bytes as an iterable of chunks; errors say which manifest and why."""
    if is_s3_uri(manifest):
        with _s3_chunks(manifest, s3) as chunks:
            yield chunks
        return
    try:
        handle = open(manifest, "rb")  # noqa: SIM115 - closed below, after the caller's loop
    except OSError as error:
        raise ManifestReadError(f"cannot read manifest {manifest}: {error.strerror or error}") from error
    with handle:
        yield _file_chunks(manifest, handle)


def _file_chunks(manifest: str, handle: Any) -> Iterator[bytes]:
    try:
        while chunk := handle.read(CHUNK_BYTES):
            yield chunk
    except OSError as error:
        raise ManifestReadError(f"cannot read manifest {manifest}: {error}") from error


@contextlib.contextmanager
def _s3_chunks(manifest: str, s3: S3ClientProvider) -> Iterator[Iterable[bytes]]:
    body = _s3_body(manifest, s3)
    try:
        yield _streamed(manifest, body.iter_chunks(CHUNK_BYTES))
    finally:
        body.close()


def s3_range_chunks(
    uri: str, s3: S3ClientProvider, start: int, end: int | None, *, etag: str | None = None
) -> Iterator[bytes]:
    """The bytes of ``[start, end)`` of an S3 object (to its end when ``end`` is None), streamed.

    One ranged GET. With ``etag``, the object must still be that version: one that changed
    since (between a dataset build's two passes, say) is an error, not a mix of two files.
    """
    if end is not None and end <= start:
        return
    request: dict[str, Any] = {}
    if start or end is not None:
        request["Range"] = _range_header(start, end)
    if etag:
        request["IfMatch"] = etag
    body = _s3_body(uri, s3, **request)
    try:
        yield from _streamed(uri, body.iter_chunks(CHUNK_BYTES))
    finally:
        body.close()


def _s3_body(uri: str, s3: S3ClientProvider, **request: str) -> Any:
    """The streaming body of a GET of ``uri`` (``Range``, ``IfMatch`` in ``request``); errors name the object."""
    bucket, key = split_s3_uri(uri)
    try:
        return s3().get_object(Bucket=bucket, Key=key, **request)["Body"]
    except Exception as error:  # botocore's ClientError and connection errors alike
        code = str(getattr(error, "response", {}).get("Error", {}).get("Code", ""))
        if "IfMatch" in request and code in ("412", "PreconditionFailed"):
            raise ManifestReadError(_changed(uri, request["IfMatch"])) from error
        raise ManifestReadError(f"cannot read manifest {uri}: {_aws_reason(error)}") from error


def _range_header(start: int, end: int | None) -> str:
    """``Range`` of the bytes ``[start, end)`` (to the end when ``end`` is None)."""
    return f"bytes={start}-{'' if end is None else end - 1}"


#: How long a presigned GET stays valid: a dataset build's pass takes minutes.
PRESIGNED_SECONDS = 3600


def presigned_get_url(uri: str, s3: S3ClientProvider, expires: int = PRESIGNED_SECONDS) -> str:
    """A presigned GET URL of an S3 object: another process reads it with no client and no credentials."""
    bucket, key = split_s3_uri(uri)
    return str(s3().generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires))


def url_range_chunks(url: str, uri: str, start: int, end: int | None, *, etag: str | None = None) -> Iterator[bytes]:
    """The bytes of ``[start, end)`` of the S3 object ``uri``, streamed from its presigned ``url``.

    The standard library's HTTP client: a process that only reads needs neither boto3 nor
    credentials. ``etag`` as in :func:`s3_range_chunks`.
    """
    import urllib.error
    import urllib.request

    if end is not None and end <= start:
        return
    headers = {"Range": _range_header(start, end)}
    if etag:
        headers["If-Match"] = etag
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=60)
    except urllib.error.HTTPError as error:
        if error.code == 412:
            raise ManifestReadError(_changed(uri, etag)) from error
        reason = re.search(rb"<Code>([^<]+)</Code>", error.read(2048))
        raise ManifestReadError(
            f"cannot read manifest {uri}: HTTP {error.code} {reason.group(1).decode() if reason else error.reason}"
        ) from error
    except OSError as error:  # no connection
        raise ManifestReadError(f"cannot read manifest {uri}: {error}") from error
    with response:
        try:
            while chunk := response.read(CHUNK_BYTES):
                yield chunk
        except OSError as error:
            raise ManifestReadError(f"reading manifest {uri} failed part way: {error}") from error


def _changed(uri: str, etag: str | None) -> str:
    return f"{uri} changed while it was read (its ETag is no longer {etag}): read it again once nothing writes it"


def file_range_chunks(path: str, start: int, end: int | None) -> Iterator[bytes]:
    """The bytes of ``[start, end)`` of a local file (to its end when ``end`` is None), in chunks."""
    try:
        with open(path, "rb") as handle:
            handle.seek(start)
            remaining = None if end is None else end - start
            while remaining is None or remaining > 0:
                chunk = handle.read(CHUNK_BYTES if remaining is None else min(CHUNK_BYTES, remaining))
                if not chunk:
                    return
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk
    except OSError as error:
        raise ManifestReadError(f"cannot read manifest {path}: {error.strerror or error}") from error


def _streamed(manifest: str, chunks: Iterator[bytes]) -> Iterator[bytes]:
    try:
        yield from chunks
    except Exception as error:  # a connection that breaks mid-stream
        raise ManifestReadError(f"reading manifest {manifest} failed part way: {_aws_reason(error)}") from error


def _aws_reason(error: Exception) -> str:
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        details = response.get("Error", {})
        code, message = details.get("Code", ""), details.get("Message", "")
        if code in ("404", "NoSuchKey", "NotFound"):
            return "no such object"
        if code in ("NoSuchBucket",):
            return "no such bucket"
        if code in ("403", "AccessDenied", "Forbidden"):
            return "access denied"
        return f"{code} {message}".strip() or str(error)
    return str(error)


def cleaned_destination(manifest: str) -> str:
    """Where drop mode writes by default: beside the original, ``.cleaned`` before the extension.

    ``s3://b/runs/1/input.manifest`` -> ``s3://b/runs/1/input.cleaned.manifest``.
    """
    if is_s3_uri(manifest):
        bucket, key = split_s3_uri(manifest)
        return f"s3://{bucket}/{_cleaned_name(PurePosixPath(key))}"
    return str(_cleaned_name(Path(manifest)))


def _cleaned_name(path: _AnyPath) -> _AnyPath:
    return path.with_name(f"{path.stem}{_CLEANED_SUFFIX}{path.suffix}" if path.suffix else path.name + _CLEANED_SUFFIX)


def same_location(first: str, second: str) -> bool:
    if is_s3_uri(first) or is_s3_uri(second):
        return first == second
    return os.path.realpath(first) == os.path.realpath(second)


class CleanedManifestWriter:
    """Collects the kept lines in a local temporary file and publishes them at the destination.

    The temporary file lives beside a local destination (so publishing is an atomic rename) or
    in the temp directory for S3 (uploaded with boto3's managed, multipart-capable transfer).
    Lines found invalid only after the whole file was read (duplicates, objects over the
    limit, failed object checks) are left out while publishing, by their object index.
    """

    def __init__(self, destination: str, s3: S3ClientProvider) -> None:
        self.destination = destination
        self._s3 = s3
        directory = None if is_s3_uri(destination) else Path(destination).parent
        try:
            descriptor, self._path = tempfile.mkstemp(prefix=".gt-manifest-", suffix=".tmp", dir=directory)
        except OSError as error:
            raise ManifestReadError(f"cannot write the cleaned manifest {destination}: {error}") from error
        self._file = os.fdopen(descriptor, "wb")

    def write(self, lines: list[bytes]) -> None:
        if lines:
            self._file.write(b"\n".join(lines))
            self._file.write(b"\n")

    def publish(self, drop_objects: Container[int]) -> str:
        """Write the kept lines minus ``drop_objects`` (0-based object indexes) to the destination.

        ``drop_objects`` is any sized or truthy container (a set, the validator's late rejects);
        when it is empty the file is published as written.
        """
        self._file.close()
        path = self._path
        try:
            if drop_objects:
                path = self._filtered(drop_objects)
                os.unlink(self._path)
            if is_s3_uri(self.destination):
                bucket, key = split_s3_uri(self.destination)
                self._s3().upload_file(path, bucket, key)
                os.unlink(path)
            else:
                os.chmod(path, 0o644)  # mkstemp makes it private; the manifest is for the pipeline to read
                os.replace(path, self.destination)
        except Exception as error:
            self._remove(path, self._path)
            raise ManifestReadError(f"cannot write the cleaned manifest {self.destination}: {error}") from error
        return self.destination

    def _filtered(self, drop_objects: Container[int]) -> str:
        descriptor, target = tempfile.mkstemp(prefix=".gt-manifest-", suffix=".tmp", dir=os.path.dirname(self._path))
        with open(self._path, "rb") as source, os.fdopen(descriptor, "wb") as sink:
            sink.writelines(line for index, line in enumerate(source) if index not in drop_objects)
        return target

    def discard(self) -> None:
        self._file.close()
        self._remove(self._path)

    @staticmethod
    def _remove(*paths: str) -> None:
        for path in paths:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
