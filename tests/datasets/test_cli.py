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


def _night_two(tmp_path) -> str:
    """Job b: objects 0-2 again with other labels (a relabel), and objects 20-29, new."""
    relabeled = [
        output_line(f"s3://b/img/{i}.png", "bird", job="job-b", date="2026-11-02T00:00:00.000000") for i in (0, 1)
    ]
    relabeled.append(output_line("s3://b/img/2.png", "cat", job="job-b", date="2026-11-02T00:00:00.000000"))
    new = [output_line(f"s3://b/img/{i}.png", "dog", job="job-b") for i in range(20, 30)]
    return write(tmp_path / "job-b.manifest", [*relabeled, *new])


def test_diff_lists_added_relabeled_and_removed_objects_with_the_jobs(tmp_path, capsys):
    out = str(tmp_path / "animals")
    assert main(["build", job_output(tmp_path, "job-a", 20), "--out", out]) == 0
    night_two = _night_two(tmp_path)
    assert main(["build", night_two, "--out", out]) == 0  # v=2: carries v=1 forward
    assert main(["build", night_two, "--out", out, "--no-carry-forward"]) == 0  # v=3: job b's only
    capsys.readouterr()

    assert main(["diff", out, "1", "v=2", "--json"]) == 0
    diff = json.loads(capsys.readouterr().out)
    assert diff["name"] == "animals" and (diff["old_version"], diff["new_version"]) == (1, 2)
    assert sorted(change["source"] for change in diff["added"]) == sorted(f"s3://b/img/{i}.png" for i in range(20, 30))
    assert all(change["new"] == "dog" and change["job"] == "job-b" for change in diff["added"])
    # CLASSES cycle cat, dog, bird: 0 was cat, 1 dog, 2 bird; 2 -> cat and 0 -> bird changed, and 1 -> bird.
    relabeled = {change["source"]: (change["old"], change["new"], change["job"]) for change in diff["relabeled"]}
    assert relabeled == {
        "s3://b/img/0.png": ("cat", "bird", "job-b"),
        "s3://b/img/1.png": ("dog", "bird", "job-b"),
        "s3://b/img/2.png": ("bird", "cat", "job-b"),
    }
    assert diff["removed"] == [] and diff["unchanged"] == 17

    assert main(["diff", out, "v2", "3", "--limit", "2"]) == 0
    text = capsys.readouterr().out.splitlines()
    assert text[0] == "animals v=2 -> v=3: 0 added, 0 relabeled, 17 removed, 13 unchanged"
    assert text[-4:-3] == ["removed (17):"] and text[-1] == "  ... and 15 more"
    assert all("(job job-a)" in line and line.split()[2] in ("cat", "dog", "bird") for line in text[-3:-1])


def test_diff_refuses_a_version_that_is_not_there_or_not_a_version(tmp_path, capsys):
    out = str(tmp_path / "animals")
    assert main(["build", job_output(tmp_path, "job-a", 6), "--out", out]) == 0
    capsys.readouterr()
    assert main(["diff", out, "1", "2"]) == 2
    assert "v=2/dataset.json" in capsys.readouterr().err
    result = _run("diff", out, "1", "latest")
    assert result.returncode == 2 and "a version is a number from 1" in result.stderr


def test_a_moved_box_is_a_new_label_and_boxes_read_as_their_classes():
    from gt_provider.datasets.diff import _signature, label_text
    from tests.datasets.test_exporters import boxes

    drawn = boxes("s3://b/x.jpg", (100, 100), ("cat", 10, 10, 20, 20), ("cat", 50, 50, 5, 5), ("dog", 0, 0, 9, 9))
    moved = boxes("s3://b/x.jpg", (100, 100), ("cat", 12, 10, 20, 20), ("cat", 50, 50, 5, 5), ("dog", 0, 0, 9, 9))
    assert label_text(drawn) == "3 boxes: cat x2, dog"
    assert _signature(drawn) != _signature(moved)
    assert _signature(drawn) == _signature(
        boxes("s3://b/x.jpg", (100, 100), *[("cat", 10, 10, 20, 20), ("cat", 50, 50, 5, 5), ("dog", 0, 0, 9, 9)])
    )
    assert label_text(boxes("s3://b/y.jpg", (10, 10))) == "0 boxes"
