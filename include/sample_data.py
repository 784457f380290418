"""Sample images for the demo: scikit-learn's handwritten digits, rendered to PNG.

The data set ships inside scikit-learn, so the demo needs no download. Each image carries
its true digit as S3 user metadata (``gt-local-answer``): the manifest builder copies it
onto the manifest line, where the local AWS's simulated workers read it and where real
Ground Truth ignores it.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from typing import Any

DIGIT_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
REFERENCE_METADATA_KEY = "gt-local-answer"


def digit_images(count: int, size: int = 32) -> Iterator[tuple[str, bytes, str]]:
    """``count`` (file name, PNG bytes, digit name) triples, the same on every call."""
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    if not 1 <= count <= len(digits.images):
        raise ValueError(f"count must be from 1 to {len(digits.images)}, got {count}")
    for index in range(count):
        pixels = (digits.images[index] * (255.0 / 16.0)).astype(np.uint8)
        image = Image.fromarray(255 - pixels, mode="L").resize((size, size), Image.Resampling.NEAREST)
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        yield f"digit-{index:05d}.png", buffer.getvalue(), DIGIT_NAMES[int(digits.target[index])]


def upload_pngs(s3_client: Any, bucket: str, prefix: str, images: Iterable[tuple[str, bytes, str]], what: str) -> int:
    """Upload ``(name, png, reference)`` images under ``prefix``, the reference as S3 metadata."""
    uploaded = 0
    for name, png, reference in images:
        s3_client.put_object(
            Bucket=bucket,
            Key=f"{prefix}{name}",
            Body=png,
            ContentType="image/png",
            Metadata={REFERENCE_METADATA_KEY: reference},
        )
        uploaded += 1
    print(f"Seeded {uploaded} {what} under s3://{bucket}/{prefix}")
    return uploaded


def upload_digits(s3_client: Any, bucket: str, prefix: str, count: int) -> int:
    """Upload ``count`` digits (at most 1,797) under ``prefix``, each with its true digit as metadata."""
    return upload_pngs(s3_client, bucket, prefix, digit_images(min(count, 1797)), "sample images")
