"""load_artifact on local copies of -ref artifacts (the S3 path runs against the local AWS in test_local_outputs)."""

from __future__ import annotations

import dataclasses
import json
import re
import sys
import zlib

import pytest

from gt_provider.datasets.errors import DatasetError, DatasetReadError
from gt_provider.datasets.reading.artifacts import load_artifact
from gt_provider.datasets.reading.parse import OutputManifestParser
from tests.datasets.test_parse import guide_line

# The guide's semantic segmentation sample: 0 BACKGROUND #ffffff, 1 buildings #2acf59, 2 road #f28333.
COLORS = {0: (255, 255, 255), 1: (0x2A, 0xCF, 0x59), 2: (0xF2, 0x83, 0x33)}
IDS = [[0, 1, 1], [2, 2, 0]]


def record(name: str, attribute: str | None, ref: str):
    parsed = OutputManifestParser(attribute).parse(guide_line(name), 1)
    return dataclasses.replace(parsed, ref=ref)


def mask_png(tmp_path, mode: str, ids=IDS, colors=COLORS) -> str:
    from PIL import Image

    height, width = len(ids), len(ids[0])
    if mode == "P":
        image = Image.new("P", (width, height))
        # Palette order differs from class ids on purpose: pixels are read through their colors.
        order = [2, 0, 1]
        image.putpalette([part for class_id in order for part in colors[class_id]])
        image.putdata([order.index(class_id) for row in ids for class_id in row])
    else:
        image = Image.new("RGB", (width, height))
        image.putdata([colors[class_id] for row in ids for class_id in row])
    path = tmp_path / f"mask-{mode}.png"
    image.save(path, format="PNG")
    return str(path)


@pytest.mark.parametrize("mode", ["P", "RGB"])
def test_a_mask_decodes_to_class_ids_through_its_color_map(tmp_path, mode):
    mask = record("semantic-segmentation.jsonl", "city-streets-ref", mask_png(tmp_path, mode))
    assert load_artifact(mask) == IDS


def test_a_mask_comes_as_png_bytes_when_asked_or_without_pillow(tmp_path, monkeypatch):
    path = mask_png(tmp_path, "RGB")
    mask = record("semantic-segmentation.jsonl", "city-streets-ref", path)
    with open(path, "rb") as handle:
        png = handle.read()
    assert load_artifact(mask, raw_png=True) == png
    monkeypatch.setitem(sys.modules, "PIL", None)  # import PIL now fails as if it were not installed
    assert load_artifact(mask) == png


def test_a_mask_color_missing_from_the_color_map_is_an_error_naming_it(tmp_path):
    path = mask_png(tmp_path, "RGB", colors={**COLORS, 2: (1, 2, 3)})
    with pytest.raises(DatasetReadError, match=r"has color #010203, which its internal-color-map does not list"):
        load_artifact(record("semantic-segmentation.jsonl", "city-streets-ref", path))


def test_a_mask_that_is_not_an_image_is_an_error_naming_it(tmp_path):
    path = tmp_path / "mask.png"
    path.write_bytes(b"not a png")
    with pytest.raises(DatasetReadError, match=r"mask\.png is not an image"):
        load_artifact(record("semantic-segmentation.jsonl", "city-streets-ref", str(path)))


def test_a_sequence_label_file_is_parsed(tmp_path):
    document = {"detection-annotations": [{"annotations": [], "frame-no": "0", "frame": "frame_0000.jpeg"}]}
    path = tmp_path / "SeqLabel.json"
    path.write_text(json.dumps(document))
    assert load_artifact(record("video-object-detection.jsonl", None, str(path))) == document
    path.write_text("{not json")
    with pytest.raises(DatasetReadError, match=r"SeqLabel\.json is not JSON"):
        load_artifact(record("video-object-detection.jsonl", None, str(path)))


def test_3d_point_labels_decompress_to_one_class_id_per_point(tmp_path):
    path = tmp_path / "labels.zlib"
    path.write_bytes(zlib.compress(bytes([0, 1, 1, 3, 2, 0])))
    points = record("point_cloud_single_frame_semantic_segmentation.jsonl", None, str(path))
    assert load_artifact(points) == [0, 1, 1, 3, 2, 0]
    path.write_bytes(b"\x00not zlib")
    with pytest.raises(DatasetReadError, match=r"labels\.zlib is not zlib-compressed"):
        load_artifact(points)


def test_an_unreadable_artifact_is_an_error_naming_its_uri(tmp_path):
    missing = str(tmp_path / "gone" / "SeqLabel.json")
    with pytest.raises(DatasetReadError, match=re.escape(f"cannot read label artifact {missing}")):
        load_artifact(record("video-object-tracking.jsonl", None, missing))


def test_an_object_without_artifact_is_a_usage_error():
    boxes = OutputManifestParser().parse(guide_line("object-detection.jsonl"), 1)
    with pytest.raises(DatasetError, match="groundtruth/object-detection label has no artifact"):
        load_artifact(boxes)
    failed = dataclasses.replace(record("video-object-tracking.jsonl", None, "x"), ref=None, failure_reason="expired")
    with pytest.raises(DatasetError, match="the object failed: expired"):
        load_artifact(failed)
