"""Where dataset versions live: a local folder or an S3 prefix, ``<root>/v=<N>/``.

A version is *committed* when its ``dataset.json`` exists; that file is written last, after
every data file, so a reader that finds it finds the whole version, and a build that died
half-way leaves only an uncommitted folder that the next build clears and reuses. A
committed version is never written again: the commit itself refuses to replace an existing
``dataset.json`` (an exclusive create locally, ``If-None-Match: *`` on S3).

boto3 is imported only when an ``s3://`` root is used without a client.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gt_provider.datasets.errors import DatasetReadError, DatasetVersionExistsError
from gt_provider.s3io import S3ClientProvider, is_s3_uri, split_s3_prefix

CARD_FILE = "dataset.json"
_VERSION_DIR = re.compile(r"^v=(\d+)$")


class DatasetLocation:
    """The versions of one dataset under ``root`` (a directory path or ``s3://bucket/prefix``)."""

    def __init__(self, root: str, *, s3_client: Any | None = None) -> None:
        self.root = root.rstrip("/") if is_s3_uri(root) else str(Path(root).expanduser())
        self._s3 = S3ClientProvider(s3_client)
        if is_s3_uri(self.root):
            try:
                self._bucket, self._prefix = split_s3_prefix(self.root)
            except ValueError:
                raise DatasetReadError(f"{root!r} is not an S3 prefix s3://<bucket>/<prefix>") from None

    @property
    def is_s3(self) -> bool:
        return is_s3_uri(self.root)

    def version_uri(self, version: int) -> str:
        """The version's root, with a trailing slash (``s3://b/datasets/digits/v=3/``)."""
        return f"{self.root}/v={version}/"

    # -- reading -------------------------------------------------------------------------

    def committed_versions(self) -> list[int]:
        """Versions whose ``dataset.json`` exists, ascending."""
        return sorted(v for v in self._version_dirs() if self._exists(f"v={v}/{CARD_FILE}"))

    def read_card(self, version: int) -> dict[str, Any]:
        try:
            return json.loads(self.read_bytes(f"v={version}/{CARD_FILE}"))
        except ValueError as error:
            raise DatasetReadError(f"{self.version_uri(version)}{CARD_FILE} is not JSON: {error}") from error

    def read_bytes(self, relative: str) -> bytes:
        target = f"{self.root}/{relative}"
        try:
            if self.is_s3:
                return self._s3().get_object(Bucket=self._bucket, Key=self._key(relative))["Body"].read()
            return Path(target).read_bytes()
        except Exception as error:  # OSError, botocore's ClientError alike
            raise DatasetReadError(f"cannot read {target}: {error}") from error

    def uri_of(self, relative: str) -> str:
        return f"{self.root}/{relative}"

    # -- writing -------------------------------------------------------------------------

    def clear_uncommitted(self, version: int) -> None:
        """Delete what a build that died left in ``v=<version>/``; refuse if it was committed."""
        if self._exists(f"v={version}/{CARD_FILE}"):
            raise DatasetVersionExistsError(f"{self.version_uri(version)} is committed; versions are never overwritten")
        if self.is_s3:
            keys = list(self._list_keys(f"v={version}/"))
            for start in range(0, len(keys), 1000):
                batch = [{"Key": key} for key in keys[start : start + 1000]]
                self._s3().delete_objects(Bucket=self._bucket, Delete={"Objects": batch, "Quiet": True})
        else:
            shutil.rmtree(Path(self.root, f"v={version}"), ignore_errors=True)

    def write_version(self, version: int, staging: Path, card: dict[str, Any]) -> str:
        """Copy every file of ``staging`` into ``v=<version>/``, then commit ``dataset.json``; its URI."""
        files = sorted(path for path in staging.rglob("*") if path.is_file() and path.name != CARD_FILE)
        for path in files:
            relative = f"v={version}/{path.relative_to(staging).as_posix()}"
            if self.is_s3:
                self._s3().upload_file(str(path), self._bucket, self._key(relative))
            else:
                target = Path(self.root, relative)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)
        self._commit(version, json.dumps(card, indent=2, sort_keys=False).encode() + b"\n")
        return self.version_uri(version)

    def _commit(self, version: int, body: bytes) -> None:
        relative = f"v={version}/{CARD_FILE}"
        taken = DatasetVersionExistsError(
            f"{self.version_uri(version)} was committed by another build meanwhile; versions are never overwritten"
        )
        if self.is_s3:
            from botocore.exceptions import ClientError

            try:
                self._s3().put_object(
                    Bucket=self._bucket,
                    Key=self._key(relative),
                    Body=body,
                    IfNoneMatch="*",
                    ContentType="application/json",
                )
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") in ("PreconditionFailed", "ConditionalRequestConflict"):
                    raise taken from error
                raise
            return
        target = Path(self.root, relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError as error:
            raise taken from error
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(body)

    # -- plumbing ------------------------------------------------------------------------

    def _key(self, relative: str) -> str:
        return f"{self._prefix}/{relative}" if self._prefix else relative

    def _exists(self, relative: str) -> bool:
        if not self.is_s3:
            return Path(self.root, relative).is_file()
        from botocore.exceptions import ClientError

        try:
            self._s3().head_object(Bucket=self._bucket, Key=self._key(relative))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise DatasetReadError(f"cannot read {self.root}/{relative}: {error}") from error
        return True

    def _version_dirs(self) -> list[int]:
        if not self.is_s3:
            root = Path(self.root)
            names = [entry.name for entry in root.iterdir() if entry.is_dir()] if root.is_dir() else []
        else:
            prefix = f"{self._prefix}/" if self._prefix else ""
            names = []
            paginator = self._s3().get_paginator("list_objects_v2")
            try:
                for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix, Delimiter="/"):
                    names += [entry["Prefix"][len(prefix) :].rstrip("/") for entry in page.get("CommonPrefixes", [])]
            except Exception as error:
                raise DatasetReadError(f"cannot list {self.root}/: {error}") from error
        return [int(match.group(1)) for name in names if (match := _VERSION_DIR.match(name))]

    def _list_keys(self, relative_prefix: str) -> Iterator[str]:
        paginator = self._s3().get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self._bucket, Prefix=self._key(relative_prefix)):
            yield from (entry["Key"] for entry in page.get("Contents", []))
