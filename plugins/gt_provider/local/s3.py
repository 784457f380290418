"""Reading and writing S3 objects from inside the emulator, through moto's S3 backend.

The emulator runs in the server process (or under ``mock_aws``), so it reaches moto's S3
state directly rather than over HTTP: the same objects a boto3 client sees.
"""

from __future__ import annotations

from moto.s3.models import s3_backends

from gt_provider.s3io import split_s3_prefix, split_s3_uri


class S3Store:
    """Objects of one account, addressed by ``s3://`` URI."""

    def __init__(self, account_id: str, partition: str = "aws") -> None:
        self._backend = s3_backends[account_id][partition]

    def get(self, uri: str) -> bytes | None:
        """The object's bytes, or None when the bucket or the key does not exist."""
        bucket, key = split_s3_uri(uri)
        if bucket not in self._backend.buckets:
            return None
        found = self._backend.get_object(bucket, key)
        return None if found is None else bytes(found.value)

    def put(self, uri: str, body: bytes) -> None:
        bucket, key = split_s3_uri(uri)
        self._backend.put_object(bucket, key, body)

    def bucket_exists(self, uri: str) -> bool:
        return split_s3_prefix(uri)[0] in self._backend.buckets
