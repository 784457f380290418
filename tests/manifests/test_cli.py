"""``python -m gt_provider.manifests validate``: output, exit codes, and a fast start."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from gt_provider.manifests.__main__ import main
from tests.manifests.conftest import ManifestWriter, image_line


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gt_provider.manifests", *args], capture_output=True, text=True, timeout=60
    )


def test_importing_the_library_imports_neither_airflow_nor_boto3() -> None:
    code = (
        "import sys, gt_provider, gt_provider.manifests; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'airflow', 'boto3', 'botocore', 'jsonschema'}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)

    assert result.stdout.strip() == "[]"


def test_command_exits_0_for_a_valid_manifest_and_1_for_an_invalid_one(write_manifest: ManifestWriter) -> None:
    good = write_manifest([image_line("a.jpg"), image_line("b.jpg")], "good.manifest")
    bad = write_manifest([image_line("a.jpg"), "{oops", image_line("a.jpg")], "bad.manifest")

    valid = _run("validate", str(good), "--task-type", "BoundingBox")
    invalid = _run("validate", str(bad), "--task-type", "BoundingBox")

    assert (valid.returncode, invalid.returncode) == (0, 1)
    assert "is valid: 2 objects on 2 lines" in valid.stdout
    assert "line 2: invalid_json" in invalid.stdout and "line 3: duplicate_source" in invalid.stdout
    assert "Traceback" not in invalid.stdout + invalid.stderr


def test_json_output_is_the_report(write_manifest: ManifestWriter, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_manifest([image_line("a.jpg"), '{"source_ref": "s3://gt-bucket/b.jpg"}'])

    code = main(["validate", str(path), "--task-type", "ImageMultiClass", "--json"])

    report = json.loads(capsys.readouterr().out)
    assert code == 1
    assert report["valid"] is False and report["lines"] == 2 and report["objects"] == 1
    assert report["error_counts"] == {"missing_source": 1}
    assert report["errors"][0]["line"] == 2 and report["errors"][0]["kind"] == "missing_source"


def test_review_type_and_drop_mode(write_manifest: ManifestWriter, capsys: pytest.CaptureFixture[str]) -> None:
    metadata = {
        "job-name": "labeling-job/boxes",
        "type": "groundtruth/object-detection",
        "human-annotated": "yes",
        "creation-date": "2026-01-01T00:00:00",
    }
    good = image_line("a.jpg", boxes={"annotations": []}, **{"boxes-metadata": metadata})
    path = write_manifest([good, image_line("b.jpg")])

    code = main(
        [
            "validate",
            str(path),
            "--task-type",
            "AdjustmentBoundingBox",
            "--review-attribute",
            "boxes",
            "--drop",
        ]
    )

    assert code == 1
    assert "dropped 1 of 2 lines, 1 object remains in" in capsys.readouterr().out
    assert path.with_name("input.cleaned.manifest").read_text() == good + "\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--task-type", "BoundingBoxes"], "Did you mean 'BoundingBox'?"),
        (["--task-type", "AdjustmentBoundingBox"], "pass review_attribute"),
    ],
)
def test_command_exits_2_when_it_cannot_validate(
    write_manifest: ManifestWriter, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    path = write_manifest([image_line("a.jpg")])

    assert main(["validate", str(path), *args]) == 2
    assert message in capsys.readouterr().err


def test_missing_file_exits_2(tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "/nonexistent/input.manifest", "--task-type", "BoundingBox"]) == 2
    assert "cannot read manifest /nonexistent/input.manifest" in capsys.readouterr().err
