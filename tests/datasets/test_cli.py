"""``python -m gt_provider.datasets build``: the same dataset as the operator, exit codes, no Airflow."""

from __future__ import annotations

import json
import subprocess
import sys

from gt_provider.datasets.__main__ import main
from tests.datasets.test_build import job_output, output_line, write


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gt_provider.datasets", *args], capture_output=True, text=True, timeout=120
    )


def test_building_a_dataset_imports_neither_airflow_nor_boto3(tmp_path):
    manifest = job_output(tmp_path, "job-a", 12)
    code = (
        "import sys; from gt_provider.datasets.__main__ import main; "
        f"main(['build', {manifest!r}, '--out', {str(tmp_path / 'ds')!r}]); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'airflow', 'boto3', 'botocore'}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)

    assert result.stdout.strip().splitlines()[-1] == "[]"
    assert (tmp_path / "ds" / "v=1" / "dataset.json").exists()


def test_command_writes_the_version_with_the_formats_asked_for(tmp_path):
    manifest = job_output(tmp_path, "job-a", 50)

    result = _run(
        "build", manifest, "--out", str(tmp_path / "animals"), "--split", "0.6,0.2,0.2", "--format", "jsonl,csv"
    )

    assert result.returncode == 0, result.stderr
    assert "animals v=1 written" in result.stdout
    card = json.loads((tmp_path / "animals" / "v=1" / "dataset.json").read_text())
    assert card["name"] == "animals" and card["splits"]["ratios"] == {"train": 0.6, "validation": 0.2, "test": 0.2}
    per_split = card["counts"]["per_split"]
    assert sum(per_split.values()) == 50
    # Three classes of 16-17 images, each split within one image of its share per class.
    assert all(
        abs(per_split[name] - 50 * share) <= 3 for name, share in (("train", 0.6), ("validation", 0.2), ("test", 0.2))
    )
    assert set(card["files"]) >= {"augmented-manifest", "jsonl", "csv"}


def test_malformed_input_exits_1_naming_the_lines_and_writes_nothing(tmp_path):
    manifest = write(
        tmp_path / "bad.manifest",
        [output_line("s3://b/1.png", "cat"), "[1, 2]", "{", output_line("s3://b/2.png", "dog")],
    )

    result = _run("build", manifest, "--out", str(tmp_path / "ds"))

    assert result.returncode == 1
    assert "line 2" in result.stderr and "line 3" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "ds").exists()


def test_bad_arguments_and_unreadable_input_exit_2(tmp_path, capsys):
    manifest = job_output(tmp_path, "job-a", 10)

    assert main(["build", manifest, "--out", str(tmp_path / "ds"), "--split", "0.9,0.9"]) == 2
    assert "must sum to 1" in capsys.readouterr().err
    assert main(["build", str(tmp_path / "missing.manifest"), "--out", str(tmp_path / "ds")]) == 2
    assert "missing.manifest" in capsys.readouterr().err
    assert main(["build", manifest, "--out", str(tmp_path / "ds"), "--min-confidence", "2"]) == 2
    assert "confidence" in capsys.readouterr().err


def test_json_output_and_a_rebuild_that_reuses_the_version(tmp_path, capsys):
    manifest = job_output(tmp_path, "job-a", 20)
    out = str(tmp_path / "ds")

    assert main(["build", manifest, "--out", out, "--json", "--min-confidence", "0.5"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert main(["build", manifest, "--out", out, "--min-confidence", "0.5"]) == 0

    assert card["version"] == 1 and card["filters"]["min_confidence"] == 0.5
    assert "v=1 already built" in capsys.readouterr().out
