"""Reading the S3 artifact a ``-ref`` label points to, only when a caller asks.

Parsing a manifest never reads artifacts: a million masks are a million S3 requests, and most
dataset builds only copy the URIs. :func:`load_artifact` reads one, by what the label is:

- image semantic segmentation: the mask PNG. With Pillow installed, a 2D grid of class ids
  (``grid[y][x]``), decoded through the line's ``internal-color-map`` (each pixel's color is a
  class's ``hex-color``); without Pillow (or with ``raw_png=True``) the PNG's bytes;
- video object detection / tracking and 3D object tracking: the ``SeqLabel.json``, parsed;
- 3D semantic segmentation: the zlib-compressed array of one unsigned byte per point (the
  class id of the point, an id of the line's ``color-map``), as a list of ints.

Standard library and orjson; Pillow and boto3 only inside the functions that need them.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Mapping
from typing import Any

import orjson

from gt_provider.datasets.errors import DatasetError, DatasetReadError
from gt_provider.datasets.reading.output_types import POINT_CLASS_TYPES
from gt_provider.datasets.records import LabeledObject, LabelKind
from gt_provider.s3io import S3ClientProvider, is_s3_uri, split_s3_uri


def load_artifact(obj: LabeledObject, *, s3_client: Any | None = None, raw_png: bool = False) -> Any:
    """The content of ``obj.ref`` (see the module docstring for what each kind gives).

    ``obj.ref`` may be an ``s3://`` URI (read with ``s3_client``, or boto3's default client) or
    a local path (outputs copied to disk). Raises :class:`DatasetReadError` naming the URI when
    it cannot be read or is not what its label type says, and :class:`DatasetError` for an
    object that has no artifact.
    """
    if obj.ref is None:
        raise DatasetError(
            f"line {obj.line}: a {obj.output_type} label has no artifact"
            + (f" (the object failed: {obj.failure_reason})" if obj.failed else "")
        )
    body = _read(obj.ref, S3ClientProvider(s3_client))
    if obj.kind is LabelKind.MASK:
        return body if raw_png else _mask(obj, body)
    return _points(obj, body) if obj.output_type in POINT_CLASS_TYPES else _sequence(obj, body)


def _read(uri: str, s3: S3ClientProvider) -> bytes:
    try:
        if is_s3_uri(uri):
            bucket, key = split_s3_uri(uri)
            response = s3().get_object(Bucket=bucket, Key=key)
            try:
                return response["Body"].read()
            finally:
                response["Body"].close()
        with open(uri, "rb") as handle:
            return handle.read()
    except Exception as error:  # botocore's ClientError, connection and file errors alike
        raise DatasetReadError(f"cannot read label artifact {uri}: {_reason(error)}") from error


def _reason(error: Exception) -> str:
    """botocore's error code and message when it has them (``NoSuchKey The specified key...``)."""
    response = getattr(error, "response", None)
    details = response.get("Error") if isinstance(response, dict) else None
    if isinstance(details, dict) and details:
        return f"{details.get('Code', '')} {details.get('Message', '')}".strip()
    return str(error)


def _sequence(obj: LabeledObject, body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise DatasetReadError(f"label artifact {obj.ref} is not JSON: {error}") from error


def _points(obj: LabeledObject, body: bytes) -> list[int]:
    try:
        return list(zlib.decompress(body))
    except zlib.error as error:
        raise DatasetReadError(f"label artifact {obj.ref} is not zlib-compressed point labels: {error}") from error


def _mask(obj: LabeledObject, body: bytes) -> Any:
    """The mask as ``grid[y][x]`` class ids when Pillow can decode it; its bytes otherwise."""
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        return body
    try:
        image = Image.open(io.BytesIO(body))
        image.load()
    except (UnidentifiedImageError, OSError) as error:
        raise DatasetReadError(f"label artifact {obj.ref} is not an image: {error}") from error
    ids_by_color = _ids_by_color(obj)
    width, height = image.size
    if image.mode == "P":
        # Pixels are palette indexes: map each index used through its palette color, in C.
        palette = image.getpalette() or []
        pixels = image.tobytes()
        table = bytearray(256)
        for index in set(pixels):
            table[index] = _class_of(obj, tuple(palette[3 * index : 3 * index + 3]), ids_by_color)
        data = pixels.translate(bytes(table))
        return [list(data[row * width : (row + 1) * width]) for row in range(height)]
    rgb = image.convert("RGB")
    seen: dict[tuple[int, int, int], int] = {}
    values = [
        seen[color] if color in seen else seen.setdefault(color, _class_of(obj, color, ids_by_color))
        for color in rgb.getdata()
    ]
    return [values[row * width : (row + 1) * width] for row in range(height)]


def _ids_by_color(obj: LabeledObject) -> dict[tuple[int, ...], int]:
    """(r, g, b) -> class id, from the line's ``internal-color-map``."""
    colors = obj.raw.get(f"{obj.attribute}-metadata", {}).get("internal-color-map", {})
    found: dict[tuple[int, ...], int] = {}
    for class_id, entry in colors.items():
        value = str(entry.get("hex-color", "")).lstrip("#") if isinstance(entry, dict) else ""
        if len(value) == 6:
            try:
                found[tuple(bytes.fromhex(value))] = int(class_id)
            except ValueError:
                continue
    return found


def _class_of(obj: LabeledObject, color: tuple[int, ...], ids_by_color: Mapping[tuple[int, ...], int]) -> int:
    try:
        return ids_by_color[color]
    except KeyError:
        hex_color = "#" + "".join(f"{part:02x}" for part in color)
        raise DatasetReadError(
            f"mask {obj.ref} has color {hex_color}, which its internal-color-map does not list"
        ) from None
