"""Gold items through a real local Ground Truth job into datasets: scored, flagged, and left out on request.

The simulated workforce has a known bad worker (accuracy 0.05): gold items must find it,
and a rebuild that excludes it must consolidate its objects from the other workers' answers.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest

from gt_provider.datasets.build import DatasetSpec, build_dataset
from gt_provider.datasets.errors import DatasetError
from gt_provider.manifests.gold import GOLD_KEY
from tests.labeling_fixtures import CLASSES, labeling_request, put_classification_inputs

DATA, GOLD = 45, 15


def _job(aws, name: str, workers: int) -> str:
    """A job over DATA images and GOLD gold items, answered by workers of accuracy 0.97, 0.95 and 0.05."""
    aws.configure(worker_accuracies=[0.97, 0.95, 0.05])
    uris = put_classification_inputs(aws, 1)
    lines = [
        {"source-ref": f"s3://{aws.bucket}/images/{i}.png", "gt-local-answer": CLASSES[i % 3]} for i in range(DATA)
    ]
    for i in range(GOLD):  # every fourth line a gold item, its known answer under the gold key
        lines.insert(4 * i, {"source-ref": f"s3://{aws.bucket}/gold/{i}.png", GOLD_KEY: CLASSES[i % 3]})
    uris["manifest"] = aws.put_text(f"input/{name}.manifest", "".join(json.dumps(line) + "\n" for line in lines))
    sagemaker = aws.client("sagemaker")
    sagemaker.create_labeling_job(**labeling_request(aws, uris, name=name, workers=workers))
    return sagemaker.describe_labeling_job(LabelingJobName=name)["LabelingJobOutput"]["OutputDatasetS3Uri"]


def _responses(aws, name: str) -> dict[int, list[tuple[str, str]]]:
    s3 = aws.client("s3")
    prefix = f"output/{name}/annotations/worker-response/iteration-1/"
    found = {}
    for item in s3.list_objects_v2(Bucket=aws.bucket, Prefix=prefix)["Contents"]:
        document = json.loads(aws.get_text(f"s3://{aws.bucket}/{item['Key']}"))
        found[int(item["Key"][len(prefix) :].split("/")[0])] = [
            (answer["workerId"], answer["answerContent"]["crowd-image-classifier"]["label"])
            for answer in document["answers"]
        ]
    return found


def _dataset_lines(aws, card) -> list[dict]:
    lines = []
    for paths in card["files"]["augmented-manifest"].values():
        for path in paths:
            lines += [json.loads(line) for line in aws.get_text(f"{card['uri']}{path}").splitlines()]
    return lines


def test_gold_items_score_the_workers_and_are_never_data(aws):
    output = _job(aws, "gold-1", workers=3)
    root = f"s3://{aws.bucket}/datasets/animals"

    card = build_dataset([output], root, DatasetSpec(name="animals"), s3_client=aws.client("s3")).card

    assert card["counts"]["total"] == DATA and card["counts"]["dropped"] == {"gold": GOLD}
    assert not any("/gold/" in line["source-ref"] for line in _dataset_lines(aws, card))
    [job] = card["workers"].values()
    assert job["gold"] == {
        "objects": GOLD,
        "scored": True,
        "min_accuracy": 0.8,
        "min_answers": 3,
        "flagged": job["gold"]["flagged"],
        "excluded": False,
    }
    by_accuracy = sorted(job["workers"], key=lambda worker: worker["gold_accuracy"])
    bad, *good = by_accuracy
    assert job["gold"]["flagged"] == [bad["worker_id"]] and bad["flagged"] is True
    assert bad["gold_answers"] == GOLD and bad["gold_accuracy"] < 0.3
    assert all(worker["gold_accuracy"] >= 0.8 and not worker["flagged"] for worker in good)
    readme = aws.get_text(f"{card['uri']}README.md")
    assert "Gold items" in readme and bad["worker_id"] in readme


def test_a_rebuild_without_the_flagged_worker_consolidates_from_the_others(aws):
    output = _job(aws, "gold-2", workers=3)
    root = f"s3://{aws.bucket}/datasets/animals"
    s3 = aws.client("s3")
    first = build_dataset([output], root, DatasetSpec(name="animals"), s3_client=s3).card
    [job] = first["workers"].values()
    [bad] = job["gold"]["flagged"]

    rebuilt = build_dataset(
        [output], root, DatasetSpec(name="animals", exclude_flagged_workers=True), s3_client=s3
    ).card

    assert rebuilt["version"] == 2 and rebuilt["counts"]["total"] == DATA  # a new version, nothing relabeled by people
    assert next(iter(rebuilt["workers"].values()))["gold"]["excluded"] is True
    answers = _responses(aws, "gold-2")
    output_lines = [json.loads(line) for line in aws.get_text(output).splitlines()]
    line_of = {line["source-ref"]: index for index, line in enumerate(output_lines)}
    for line in _dataset_lines(aws, rebuilt):
        metadata = line["animal-metadata"]
        assert metadata["gt-provider-note"] == "consolidated again without workers flagged on gold items"
        others = Counter(label for worker, label in answers[line_of[line["source-ref"]]] if worker != bad)
        top = max(others.values())
        assert metadata["class-name"] == min(name for name, votes in others.items() if votes == top)
        assert metadata["confidence"] == round(top / sum(others.values()), 2)
        assert rebuilt["label_map"][line["animal"]] == metadata["class-name"]  # the dataset's class ids


def test_objects_only_the_flagged_worker_answered_leave_the_rebuild(aws):
    output = _job(aws, "gold-3", workers=1)  # one worker per object: a third of them answered by the bad one
    root = f"s3://{aws.bucket}/datasets/animals"
    s3 = aws.client("s3")
    spec = DatasetSpec(name="animals", exclude_flagged_workers=True, gold_min_answers=2)

    card = build_dataset([output], root, spec, s3_client=s3).card

    [job] = card["workers"].values()
    [bad] = job["gold"]["flagged"]
    answers = _responses(aws, "gold-3")
    gold_ids = {index for index, line in enumerate(aws.get_text(output).splitlines()) if GOLD_KEY in line}
    only_bad = sum(1 for index, given in answers.items() if index not in gold_ids and given[0][0] == bad)
    assert only_bad > 0
    assert card["counts"]["dropped"] == {"gold": GOLD, "flagged-workers-only": only_bad}
    assert card["counts"]["total"] == DATA - only_bad


def test_gold_settings_are_checked():
    with pytest.raises(DatasetError, match="gold_min_accuracy must be above 0 and at most 1"):
        DatasetSpec(name="a", gold_min_accuracy=1.5)
    with pytest.raises(DatasetError, match="gold_min_answers must be a whole number of at least 1"):
        DatasetSpec(name="a", gold_min_answers=0)
    with pytest.raises(DatasetError, match="exclude_flagged_workers needs worker_statistics"):
        DatasetSpec(name="a", exclude_flagged_workers=True, worker_statistics=False)


def test_a_rebuild_in_two_processes_is_the_one_process_rebuild(aws, monkeypatch):
    from gt_provider.datasets.passes import parallel

    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 0)  # split a small manifest as a large one is
    output = _job(aws, "gold-4", workers=3)
    s3 = aws.client("s3")
    spec = DatasetSpec(name="animals", exclude_flagged_workers=True)
    cards = [
        build_dataset([output], f"s3://{aws.bucket}/datasets/{name}", spec, s3_client=s3, workers=workers).card
        for name, workers in (("one", 1), ("two", 2))
    ]

    one, two = (sorted(map(json.dumps, _dataset_lines(aws, card))) for card in cards)
    assert one == two and len(one) == DATA
    assert cards[0]["counts"] == cards[1]["counts"]
