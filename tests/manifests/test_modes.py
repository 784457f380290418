"""fail and drop modes: what the caller raises, what drop mode writes, and that the original survives."""

from __future__ import annotations

from pathlib import Path

import pytest

from gt_provider.exceptions import GroundTruthProviderError
from gt_provider.manifests import InvalidManifestError, validate_manifest
from tests.manifests.conftest import ManifestWriter, found, image_line

MIXED = [
    image_line("a.jpg"),
    '{"source_ref": "s3://gt-bucket/b.jpg"}',
    image_line("c.jpg"),
    "",
    image_line("a.jpg"),
    image_line("d.png", **{"gt-local-answer": "dog"}),
]


def test_fail_mode_raises_a_readable_summary(write_manifest: ManifestWriter) -> None:
    report = validate_manifest(write_manifest(MIXED), "ImageMultiClass")

    with pytest.raises(InvalidManifestError) as raised:
        report.raise_if_invalid()

    assert isinstance(raised.value, GroundTruthProviderError)
    assert raised.value.report is report
    message = str(raised.value).splitlines()
    assert message[0].endswith("(ImageMultiClass) is not valid: 3 errors on 3 of 6 lines.")
    assert message[1:4] == [
        "  line 2: missing_source: no 'source-ref' key; found 'source_ref': did you mean 'source-ref'?",
        "  line 4: blank_line: the line is blank; each line must be one JSON object",
        "  line 5: duplicate_source: the same source-ref as line 1",
    ]
    assert message[4] == "Errors by kind: blank_line 1, duplicate_source 1, missing_source 1."
    assert 'on_invalid="drop"' in message[5]
    assert report.labeling_manifest is None


def test_valid_manifest_does_not_raise(write_manifest: ManifestWriter) -> None:
    report = validate_manifest(write_manifest([image_line("a.jpg")]), "ImageMultiClass")

    report.raise_if_invalid()
    assert report.summary().endswith("is valid: 1 object on 1 line.")


def test_drop_mode_writes_the_valid_lines_beside_the_original(write_manifest: ManifestWriter) -> None:
    path = write_manifest(b"\xef\xbb\xbf" + "\n".join(MIXED).encode() + b"\n")
    original = path.read_bytes()

    report = validate_manifest(path, "ImageMultiClass", on_invalid="drop")

    cleaned = path.with_name("input.cleaned.manifest")
    assert report.cleaned_manifest == str(cleaned) == report.labeling_manifest
    assert cleaned.read_text().splitlines() == [MIXED[0], MIXED[2], MIXED[5]]  # BOM removed, first of duplicates kept
    assert path.read_bytes() == original
    assert (report.objects, report.dropped_lines, report.valid) == (3, 3, False)
    assert found(report) == [(1, "bom"), (2, "missing_source"), (4, "blank_line"), (5, "duplicate_source")]
    report.raise_if_invalid()  # the cleaned manifest can be labeled
    assert "dropped 3 of 6 lines, 3 objects remain in" in report.summary()
    assert not list(path.parent.glob(".gt-manifest-*"))  # no temporary file left behind


def test_drop_mode_leaves_a_valid_manifest_alone(write_manifest: ManifestWriter) -> None:
    path = write_manifest([image_line("a.jpg"), image_line("b.jpg")])

    report = validate_manifest(path, "ImageMultiClass", on_invalid="drop")

    assert report.valid and report.cleaned_manifest is None
    assert report.labeling_manifest == str(path)
    assert sorted(p.name for p in path.parent.iterdir()) == ["input.manifest"]


def test_drop_mode_with_nothing_left_raises_and_writes_nothing(write_manifest: ManifestWriter) -> None:
    path = write_manifest(["not json", '{"source": "text"}'])

    report = validate_manifest(path, "ImageMultiClass", on_invalid="drop")

    assert report.objects == 0 and report.cleaned_manifest is None
    assert "has no valid object to label" in report.summary()
    with pytest.raises(InvalidManifestError):
        report.raise_if_invalid()
    assert sorted(p.name for p in path.parent.iterdir()) == ["input.manifest"]


def test_drop_mode_keeps_the_first_objects_up_to_the_limit(write_manifest: ManifestWriter) -> None:
    lines = [image_line(f"{index}.png") for index in range(20_003)]
    lines[5] = lines[4]  # a duplicate before the limit does not count towards it
    path = write_manifest(lines)

    report = validate_manifest(path, "SemanticSegmentation", on_invalid="drop")

    kept = Path(report.cleaned_manifest or "").read_text().splitlines()
    assert len(kept) == 20_000 == report.objects
    assert kept[-1] == lines[20_000] and lines[5] not in kept[5:]
    assert found(report) == [(6, "duplicate_source"), (20_002, "too_many_objects")]


def test_drop_mode_to_a_chosen_path_but_never_over_the_original(write_manifest: ManifestWriter, tmp_path: Path) -> None:
    path = write_manifest(MIXED)
    target = tmp_path / "out" / "clean.jsonl"
    target.parent.mkdir()

    report = validate_manifest(path, "ImageMultiClass", on_invalid="drop", cleaned_manifest=target)

    assert report.cleaned_manifest == str(target) and len(target.read_text().splitlines()) == 3
    with pytest.raises(ValueError, match="would overwrite the original"):
        validate_manifest(path, "ImageMultiClass", on_invalid="drop", cleaned_manifest=path)
