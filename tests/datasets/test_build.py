"""build_dataset end to end: versions, stickiness, merging, filters, atomic commits, S3 and real job output."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from gt_provider.datasets.build import DatasetSpec, build_dataset
from gt_provider.datasets.diff import diff_versions
from gt_provider.datasets.errors import DatasetError, DatasetVersionExistsError, MalformedOutputManifestError
from gt_provider.datasets.filters import LabelMapping, ObjectFilter
from gt_provider.datasets.storage import DatasetLocation
from tests.labeling_fixtures import CLASSES, labeling_request, put_classification_inputs

ATTRIBUTE = "animal"
#: A creation date after output_line's default: the later job's label wins.
LATER = "2026-11-02T00:00:00.000000"


def output_line(
    source: str,
    label: str | None,
    *,
    confidence: float = 0.9,
    date: str = "2026-11-01T00:00:00.000000",
    job: str = "job-a",
    human: bool = True,
    class_id: int | None = None,
) -> str:
    """One image-classification output line, as Ground Truth writes it (``label=None``: a failed object)."""
    metadata: dict[str, Any] = {
        "job-name": f"labeling-job/{job}",
        "type": "groundtruth/image-classification",
        "human-annotated": "yes" if human else "no",
        "creation-date": date,
    }
    line: dict[str, Any] = {"source-ref": source}
    if label is None:
        metadata["failure-reason"] = "ClientError: no worker answered"
    else:
        if class_id is None:  # the job's id: its label order, as in CLASSES
            class_id = CLASSES.index(label) if label in CLASSES else 7
        line[ATTRIBUTE] = str(class_id)
        metadata.update({"class-name": label, "confidence": confidence})
    line[f"{ATTRIBUTE}-metadata"] = metadata
    return json.dumps(line)


def write(path: Path, lines: list[str]) -> str:
    path.write_text("".join(f"{line}\n" for line in lines))
    return str(path)


def job_output(tmp_path: Path, name: str, count: int, *, start: int = 0, **kwargs: Any) -> str:
    lines = [
        output_line(f"s3://b/img/{i}.png", CLASSES[i % 3], job=name, **kwargs) for i in range(start, start + count)
    ]
    return write(tmp_path / f"{name}.manifest", lines)


def splits_of(root: Path, version: int) -> dict[str, str]:
    """source -> split, read back from the version's augmented manifests."""
    card = json.loads((root / f"v={version}" / "dataset.json").read_text())
    result = {}
    for split, paths in card["files"]["augmented-manifest"].items():
        for path in paths:
            for line in (root / f"v={version}" / path).read_text().splitlines():
                source = json.loads(line)["source-ref"]
                assert source not in result, f"{source} is in two splits"
                result[source] = split
    return result


def test_a_version_holds_splits_formats_and_a_card_written_last(tmp_path):
    manifest = job_output(tmp_path, "job-a", 90)
    write(tmp_path / "failed.manifest", [])
    root = tmp_path / "digits"

    built = build_dataset([manifest], str(root), DatasetSpec(name="digits", formats=("jsonl", "csv")))

    version = root / "v=1"
    card = json.loads((version / "dataset.json").read_text())
    assert built.version == 1 and built.uri == f"{root}/v=1/" and card == built.card
    assert card["counts"]["per_split"] == {"train": 72, "validation": 9, "test": 9}
    assert card["counts"]["per_split_class"]["test"] == {"cat": 3, "dog": 3, "bird": 3}  # stratified
    assert card["label_map"] == {"0": "cat", "1": "dog", "2": "bird"}
    assert card["job_names"] == ["job-a"] and card["parent_version"] is None
    assert card["label_attribute"] == ATTRIBUTE and card["source_field"] == "source-ref"
    assert set(card["files"]) >= {"augmented-manifest", "jsonl", "csv", "card"}
    for paths in card["files"].values():
        for path in [p for split_paths in paths.values() for p in split_paths]:
            assert (version / path).exists(), path
    assert (version / "README.md").read_text().startswith("#")
    assert len((version / "splits.tsv").read_text().splitlines()) == 90
    # The commit marker is the newest file: everything else was in place before it.
    newest = max(version.rglob("*"), key=lambda p: p.stat().st_mtime_ns)
    assert newest.name == "dataset.json"


def test_building_again_from_the_same_inputs_returns_the_committed_version(tmp_path):
    manifest = job_output(tmp_path, "job-a", 30)
    spec = DatasetSpec(name="digits")

    first = build_dataset([manifest], str(tmp_path / "ds"), spec)
    again = build_dataset([manifest], str(tmp_path / "ds"), spec)

    assert (first.version, first.reused) == (1, False)
    assert (again.version, again.reused) == (1, True)
    assert not (tmp_path / "ds" / "v=2").exists()


def _labeled(job: str, actual: float | None, saved: float = 0.0, thresholds: tuple[float, ...] = ()) -> dict:
    """A labeling operator's result as the dataset build receives it (only the keys it reads)."""
    cost = None
    if actual is not None:
        cost = {"actual_usd": actual, "all_human_usd": actual + saved, "saved_usd": saved}
        cost |= {
            "pricing_source": "https://aws.amazon.com/sagemaker/groundtruth/pricing/",
            "pricing_as_of": "2026-11-30",
        }
    return {"job_name": job, "cost": cost, "confidence_thresholds": list(thresholds)}


def test_the_card_and_the_asset_extra_carry_what_the_version_cost_to_label(tmp_path):
    manifests = [job_output(tmp_path, "job-a", 30), job_output(tmp_path, "job-b", 30, start=30)]
    labeling = [_labeled("job-a", 10.004, saved=4.5, thresholds=(0.91, 0.874)), _labeled("job-b", 2.5)]

    built = build_dataset(manifests, str(tmp_path / "ds"), DatasetSpec(name="ds"), labeling=labeling)

    cost = built.card["cost"]
    assert cost["jobs"] == {"job-a": 10.0, "job-b": 2.5} and cost["unpriced_jobs"] == []
    assert (cost["actual_usd"], cost["saved_usd"], cost["all_human_usd"]) == (12.5, 4.5, 17.0)
    assert built.card["confidence_thresholds"] == {"job-a": [0.91, 0.874]}
    assert built.asset_extra()["cost"] == {
        "currency": "USD",
        "actual_usd": 12.5,
        "saved_usd": 4.5,
        "all_human_usd": 17.0,
    }
    readme = (tmp_path / "ds" / "v=1" / "README.md").read_text()
    assert "This version cost $12.50 to label (`job-a` $10.00, `job-b` $2.50); automation saved $4.50" in readme
    assert "Prices of 2026-11-30" in readme
    assert json.loads((tmp_path / "ds" / "v=1" / "dataset.json").read_text())["cost"] == cost


def test_a_job_without_an_actual_cost_is_named_and_uris_alone_carry_no_cost(tmp_path):
    manifests = [job_output(tmp_path, "job-a", 30), job_output(tmp_path, "job-b", 30, start=30)]

    built = build_dataset(
        manifests,
        str(tmp_path / "ds"),
        DatasetSpec(name="ds"),
        labeling=[_labeled("job-a", 1.0), _labeled("job-b", None)],
    )
    assert built.card["cost"]["unpriced_jobs"] == ["job-b"] and built.card["cost"]["actual_usd"] == 1.0
    assert "Not priced: `job-b`." in (tmp_path / "ds" / "v=1" / "README.md").read_text()

    plain = build_dataset(manifests, str(tmp_path / "plain"), DatasetSpec(name="plain"))
    assert plain.card["cost"] is None and plain.asset_extra()["cost"] is None
    assert "to label" not in (tmp_path / "plain" / "v=1" / "README.md").read_text()


@pytest.mark.parametrize("workers", [1, 2])
def test_the_card_says_what_changed_since_the_parent_version(tmp_path, workers, monkeypatch):
    from gt_provider.datasets.passes import parallel

    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 0)  # tiny inputs, cut into ranges all the same
    root = tmp_path / "ds"
    first = build_dataset([job_output(tmp_path, "night-1", 30)], str(root), DatasetSpec(name="ds"), workers=workers)
    assert "changes" not in first.card
    # Night 2: ten new objects; objects 0-3 get another class (one along CLASSES), 4-5 the same one again.
    night2 = write(
        tmp_path / "night-2.manifest",
        [
            *(output_line(f"s3://b/img/{i}.png", CLASSES[(i + 1) % 3], job="night-2", date=LATER) for i in range(4)),
            *(output_line(f"s3://b/img/{i}.png", CLASSES[i % 3], job="night-2", date=LATER) for i in range(4, 6)),
            *(output_line(f"s3://b/img/{i}.png", CLASSES[i % 3], job="night-2") for i in range(30, 40)),
        ],
    )

    second = build_dataset([night2], str(root), DatasetSpec(name="ds"), workers=workers)

    changes = second.card["changes"]
    counts = tuple(changes[key] for key in ("since_version", "added", "relabeled", "removed", "unchanged"))
    assert counts == (1, 10, 4, 0, 26)
    expected = Counter((CLASSES[i % 3], CLASSES[(i + 1) % 3]) for i in range(4))
    assert {(r["old"], r["new"]): r["objects"] for r in changes["relabelings"]} == expected
    assert {e["source"] for e in changes["relabeled_examples"]} == {f"s3://b/img/{i}.png" for i in range(4)}
    assert {e["job"] for e in changes["relabeled_examples"]} == {"night-2"}
    readme = (root / "v=2" / "README.md").read_text()
    assert "Since v=1: 10 objects added, 4 relabeled, 0 removed, 26 unchanged" in readme
    split = splits_of(root, 2)["s3://b/img/0.png"]
    assert f"- `s3://b/img/0.png` ({split}): {CLASSES[0]} → {CLASSES[1]}, job `night-2`" in readme
    # The build's count agrees with the CLI's diff of the two committed versions.
    diff = diff_versions(str(root), 1, 2)
    assert (len(diff.added), len(diff.relabeled), len(diff.removed), diff.unchanged) == counts[1:]
    assert {c.source for c in diff.relabeled} == {e["source"] for e in changes["relabeled_examples"]}


def test_objects_a_filter_now_leaves_out_are_removed_since_the_parent(tmp_path):
    root = tmp_path / "ds"
    build_dataset([job_output(tmp_path, "night-1", 20, confidence=0.95)], str(root), DatasetSpec(name="ds"))
    # Night 2 relabels objects 0-2 with low confidence; the min_confidence filter leaves them out.
    night2 = write(
        tmp_path / "night-2.manifest",
        [
            output_line(f"s3://b/img/{i}.png", CLASSES[i % 3], job="night-2", date=LATER, confidence=0.3)
            for i in range(3)
        ],
    )
    spec = DatasetSpec(name="ds", object_filter=ObjectFilter(min_confidence=0.5))

    changes = build_dataset([night2], str(root), spec).card["changes"]

    assert (changes["added"], changes["relabeled"], changes["removed"], changes["unchanged"]) == (0, 0, 3, 17)
    diff = diff_versions(str(root), 1, 2)
    assert sorted(c.source for c in diff.removed) == [f"s3://b/img/{i}.png" for i in range(3)]


def test_nightly_versions_add_up_and_no_object_ever_changes_split(tmp_path):
    root = tmp_path / "ds"
    spec = DatasetSpec(name="digits")
    build_dataset([job_output(tmp_path, "night-1", 100)], str(root), spec)
    # Night 2: 100 new images, and image 5 labeled again later (a new label for it).
    night2 = job_output(tmp_path, "night-2", 100, start=100, date="2026-11-02T00:00:00.000000")
    relabel = output_line("s3://b/img/5.png", "bird", job="night-2", date="2026-11-02T00:00:00.000000")
    Path(night2).write_text(Path(night2).read_text() + relabel + "\n")

    built = build_dataset([night2], str(root), spec)

    before, after = splits_of(root, 1), splits_of(root, 2)
    assert built.version == 2 and built.card["parent_version"] == 1
    assert len(after) == 200 and built.card["counts"]["total"] == 200
    assert {source: after[source] for source in before} == before  # no leakage, in any direction
    assert built.card["counts"]["dropped"] == {"duplicate": 1}
    lines = [
        json.loads(x) for x in (root / "v=2" / "augmented-manifest" / f"{after['s3://b/img/5.png']}.manifest").open()
    ]
    [image5] = [line for line in lines if line["source-ref"] == "s3://b/img/5.png"]
    assert image5[f"{ATTRIBUTE}-metadata"]["class-name"] == "bird"  # the latest label won
    assert sorted(built.card["job_names"]) == ["night-1", "night-2"]


@pytest.mark.parametrize("formats", [("jsonl",), ("csv",)], ids=["spooled-line-formats", "parsed-again"])
def test_merging_jobs_keeps_the_latest_label_and_on_a_tie_the_later_input(tmp_path, formats):
    early = write(
        tmp_path / "a.manifest",
        [output_line("s3://b/1.png", "cat", date="2026-11-03T00:00:00"), output_line("s3://b/2.png", "cat")],
    )
    late = write(
        tmp_path / "b.manifest",
        [output_line("s3://b/1.png", "dog", date="2026-11-01T00:00:00"), output_line("s3://b/2.png", "dog")],
    )

    spec = DatasetSpec(name="m", ratios="0.5,0.5", formats=formats)
    built = build_dataset([early, late], str(tmp_path / "ds"), spec)

    labels = {}
    for paths in built.card["files"]["augmented-manifest"].values():
        for line in (tmp_path / "ds" / "v=1" / paths[0]).read_text().splitlines():
            record = json.loads(line)
            labels[record["source-ref"]] = record[f"{ATTRIBUTE}-metadata"]["class-name"]
    assert labels == {"s3://b/1.png": "cat", "s3://b/2.png": "dog"}
    assert built.card["counts"]["dropped"] == {"duplicate": 2}
    assert sum(built.card["counts"]["per_split"].values()) == 2


def test_a_job_with_another_label_order_gets_the_datasets_class_ids(tmp_path):
    """Night 2's form listed bird, cat, dog: its job numbered them 0, 1, 2; the dataset keeps cat 0, dog 1, bird 2."""
    spec = DatasetSpec(name="ids")
    build_dataset([job_output(tmp_path, "night-1", 30)], str(tmp_path / "ds"), spec)
    reordered = ["bird", "cat", "dog"]
    night_2 = write(
        tmp_path / "night-2.manifest",
        [
            output_line(f"s3://b/img/{i}.png", CLASSES[i % 3], class_id=reordered.index(CLASSES[i % 3]))
            for i in range(30, 60)
        ],
    )

    built = build_dataset([night_2], str(tmp_path / "ds"), spec)

    assert built.card["label_map"] == {"0": "cat", "1": "dog", "2": "bird"}
    root = tmp_path / "ds"
    v1_lines = {
        line for path in (root / "v=1" / "augmented-manifest").iterdir() for line in path.read_bytes().splitlines()
    }
    ids = {}
    for path in (root / "v=2" / "augmented-manifest").iterdir():
        for line in path.read_bytes().splitlines():
            record = json.loads(line)
            ids.setdefault(record[f"{ATTRIBUTE}-metadata"]["class-name"], set()).add(record[ATTRIBUTE])
            if int(record["source-ref"].rsplit("/", 1)[1].split(".")[0]) < 30:
                assert line in v1_lines  # carried forward untouched
    assert ids == {"cat": {"0"}, "dog": {"1"}, "bird": {"2"}}


def test_failed_and_filtered_objects_are_counted_not_lost(tmp_path):
    lines = [output_line(f"s3://b/{i}.png", "cat", confidence=0.5 + i / 100) for i in range(40)]
    lines += [output_line("s3://b/failed.png", None), output_line("s3://b/robot.png", "dog", human=False)]
    manifest = write(tmp_path / "out.manifest", lines)
    spec = DatasetSpec(name="f", object_filter=ObjectFilter(min_confidence=0.7, human_annotated_only=True))

    built = build_dataset([manifest], str(tmp_path / "ds"), spec)

    counts = built.card["counts"]
    assert counts["total"] == 20
    assert counts["dropped"] == {"low-confidence": 20, "failed": 1, "machine-annotated": 1}
    assert counts["failed"] == 1


def test_labels_are_renamed_and_merged(tmp_path):
    manifest = job_output(tmp_path, "job-a", 30)
    spec = DatasetSpec(name="r", label_mapping=LabelMapping({"dog": "pet", "cat": "pet"}))

    built = build_dataset([manifest], str(tmp_path / "ds"), spec)

    assert sorted(built.card["label_map"].values()) == ["bird", "pet"]
    totals = {
        name: sum(per[name] for per in built.card["counts"]["per_split_class"].values() if name in per)
        for name in ("pet", "bird")
    }
    assert totals == {"pet": 20, "bird": 10}


def test_malformed_lines_are_all_reported_with_numbers_and_nothing_is_written(tmp_path):
    lines = [
        output_line("s3://b/1.png", "cat"),
        "{not json",
        output_line("s3://b/2.png", "dog"),
        '{"source-ref": "s3://b/3.png"}',
    ]
    manifest = write(tmp_path / "bad.manifest", lines)

    with pytest.raises(MalformedOutputManifestError) as raised:
        build_dataset([manifest], str(tmp_path / "ds"), DatasetSpec(name="bad"))

    assert raised.value.line_numbers == [2, 4]
    assert "line 2" in str(raised.value) and "line 4" in str(raised.value)
    assert not (tmp_path / "ds").exists()


def test_a_committed_version_is_never_overwritten_and_a_crashed_one_is_replaced(tmp_path):
    root = tmp_path / "ds"
    manifest = job_output(tmp_path, "job-a", 20)
    build_dataset([manifest], str(root), DatasetSpec(name="v"))
    before = (root / "v=1" / "dataset.json").read_bytes()

    with pytest.raises(DatasetVersionExistsError, match="never overwritten"):
        build_dataset([manifest], str(root), DatasetSpec(name="v", seed="other"), version=1)
    # A build that died before its commit left files but no dataset.json in v=2.
    (root / "v=2" / "jsonl").mkdir(parents=True)
    (root / "v=2" / "jsonl" / "stale.jsonl").write_text("half-written\n")
    built = build_dataset([job_output(tmp_path, "job-b", 20, start=20)], str(root), DatasetSpec(name="v"))

    assert (root / "v=1" / "dataset.json").read_bytes() == before
    assert built.version == 2 and not (root / "v=2" / "jsonl" / "stale.jsonl").exists()
    assert DatasetLocation(str(root)).committed_versions() == [1, 2]


def test_a_dataset_must_be_one_label_attribute(tmp_path):
    other = json.loads(output_line("s3://b/2.png", "cat"))
    other["species"] = other.pop(ATTRIBUTE)
    other["species-metadata"] = other.pop(f"{ATTRIBUTE}-metadata")
    manifest = write(tmp_path / "mixed.manifest", [output_line("s3://b/1.png", "cat"), json.dumps(other)])

    with pytest.raises(MalformedOutputManifestError, match="line 2"):
        build_dataset([manifest], str(tmp_path / "ds"), DatasetSpec(name="mixed"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "bad name"}, "dataset name"),
        ({"name": "ok", "ratios": "0.5,0.6"}, "must sum to 1"),
        ({"name": "ok", "formats": ("coco",)}, "coco"),
        ({"name": "ok", "formats": ("parquet",)}, "unknown dataset format"),
    ],
)
def test_bad_settings_are_refused_before_anything_is_written(tmp_path, kwargs, message):
    manifest = job_output(tmp_path, "job-a", 10)
    with pytest.raises(DatasetError, match=message):
        build_dataset([manifest], str(tmp_path / "ds"), DatasetSpec(**kwargs))
    assert not list((tmp_path / "ds").glob("v=*/dataset.json"))


def test_a_real_job_output_in_s3_becomes_a_dataset_in_s3_with_worker_statistics(aws):
    uris = put_classification_inputs(aws, n_objects=60)
    sagemaker = aws.client("sagemaker")
    sagemaker.create_labeling_job(**labeling_request(aws, uris, name="animals-1", workers=3))
    job = sagemaker.describe_labeling_job(LabelingJobName="animals-1")
    assert job["LabelingJobStatus"] == "Completed"
    s3 = aws.client("s3")
    root = f"s3://{aws.bucket}/datasets/animals"

    built = build_dataset(
        [job["LabelingJobOutput"]["OutputDatasetS3Uri"]], root, DatasetSpec(name="animals"), s3_client=s3
    )

    card = json.loads(aws.get_text(f"{root}/v=1/dataset.json"))
    assert card["counts"]["total"] == 60 and card["job_names"] == ["animals-1"]
    assert built.asset_extra()["uri"] == f"{root}/v=1/"
    workers = card["workers"]["animals-1"]
    assert workers and len(workers["workers"]) >= 3
    listed = s3.list_objects_v2(Bucket=aws.bucket, Prefix="datasets/animals/v=1/")["Contents"]
    assert {"README.md", "dataset.json", "splits.tsv"} <= {item["Key"].rsplit("/", 1)[-1] for item in listed}


def test_two_builds_racing_for_one_s3_version_commit_once(aws, tmp_path):
    location = DatasetLocation(f"s3://{aws.bucket}/datasets/race", s3_client=aws.client("s3"))
    location._commit(1, b'{"first": true}')

    with pytest.raises(DatasetVersionExistsError, match="another build"):
        location._commit(1, b'{"second": true}')
    assert json.loads(aws.get_text(f"s3://{aws.bucket}/datasets/race/v=1/dataset.json")) == {"first": True}
