"""Sample images for the object detection demo: the handwritten digits, one box around each.

The images are ``include.sample_data.digit_images`` (scikit-learn's digits as 32x32 PNGs,
no download). The box is the tight rectangle around the digit's ink, labeled with the
digit's name, in the reference-answer format of ``BoundingBox`` jobs that the local AWS's
simulated workers read (``gt_provider.local.annotations``)::

    {"image_size": {"width": 32, "height": 32, "depth": 1},
     "boxes": [{"label": "seven", "left": 8, "top": 4, "width": 16, "height": 28}]}

S3 user metadata holds strings only, so the seed task stores it JSON-encoded; the local
AWS decodes it from the manifest line. Real Ground Truth ignores the field.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from include.sample_data import DIGIT_NAMES, REFERENCE_METADATA_KEY, digit_images, upload_pngs

__all__ = ["DIGIT_NAMES", "REFERENCE_METADATA_KEY", "digit_box_images", "upload_digit_boxes"]

#: A pixel is ink when darker than this (white paper is 255; the faintest strokes are left out).
_INK_BELOW = 208


def _ink_box(png: bytes) -> dict[str, int]:
    import io

    import numpy as np
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        pixels = np.asarray(image.convert("L"))
    rows = np.flatnonzero((pixels < _INK_BELOW).any(axis=1))
    columns = np.flatnonzero((pixels < _INK_BELOW).any(axis=0))
    if rows.size == 0:  # a blank image: the whole frame
        return {"left": 0, "top": 0, "width": int(pixels.shape[1]), "height": int(pixels.shape[0])}
    return {
        "left": int(columns[0]),
        "top": int(rows[0]),
        "width": int(columns[-1] - columns[0] + 1),
        "height": int(rows[-1] - rows[0] + 1),
    }


def digit_box_images(count: int, size: int = 32) -> Iterator[tuple[str, bytes, dict[str, Any]]]:
    """``count`` (file name, PNG bytes, reference answer) triples, the same on every call."""
    for name, png, digit in digit_images(count, size):
        reference = {
            "image_size": {"width": size, "height": size, "depth": 1},
            "boxes": [{"label": digit, **_ink_box(png)}],
        }
        yield name, png, reference


def upload_digit_boxes(s3_client: Any, bucket: str, prefix: str, count: int) -> int:
    """Upload ``count`` digits (at most 1,797) under ``prefix``, each with its true box as metadata."""
    import json

    # S3 metadata holds strings: the box goes JSON-encoded (the local AWS decodes it).
    images = (
        (name, png, json.dumps(reference, separators=(",", ":")))
        for name, png, reference in digit_box_images(min(count, 1797))
    )
    return upload_pngs(s3_client, bucket, prefix, images, "sample images with boxes")
