"""Per-worker agreement and accuracy: hand-made responses for each measure, then real jobs of the local AWS."""

from __future__ import annotations

import json

import pytest

from gt_provider.datasets.card import MIN_WORKER_ACCURACY, card_readme, card_warnings
from gt_provider.datasets.errors import DatasetReadError
from gt_provider.datasets.reading.parse import OutputManifestParser
from gt_provider.datasets.records import Box, ClassLabel, Entity, LabeledObject, LabelKind
from gt_provider.datasets.workers.responses import read_worker_responses
from gt_provider.datasets.workers.statistics import worker_statistics
from tests.labeling_fixtures import labeling_request, put_classification_inputs, put_task_inputs


def _record(kind: LabelKind = LabelKind.CLASS, *, failure: str | None = None, **labels) -> LabeledObject:
    return LabeledObject(
        line=1,
        source="s3://bucket/x",
        source_field="source-ref",
        attribute="animal",
        output_type="groundtruth/image-classification",
        kind=kind,
        job_name="labeling-job/job-1",
        human_annotated=True,
        creation_date="2026-01-02T03:04:05.000000",
        failure_reason=failure,
        **labels,
    )


def _class(name: str) -> LabeledObject:
    return _record(classes=(ClassLabel(0, name, 0.9),))


def _answer(worker: str, content, seconds: float = 10.0) -> dict:
    return {"workerId": worker, "answerContent": content, "timeSpentInSeconds": seconds}


def _label(name: str) -> dict:
    return {"crowd-image-classifier": {"label": name}}


def _by_worker(statistics: dict) -> dict[str, dict]:
    return {worker["worker_id"]: worker for worker in statistics["workers"]}


class TestClassification:
    def test_agreement_accuracy_and_pairwise_agreement(self):
        consolidated = {"0": _class("cat"), "1": _class("dog"), "2": _class("cat"), "3": _class("bird")}
        responses = [
            ("0", {"answers": [_answer("a", _label("cat")), _answer("b", _label("cat")), _answer("c", _label("dog"))]}),
            ("1", {"answers": [_answer("a", _label("dog")), _answer("b", _label("dog")), _answer("c", _label("dog"))]}),
            ("2", {"answers": [_answer("a", _label("cat")), _answer("b", _label("cat")), _answer("c", _label("bird"))]}),
            ("3", {"answers": [_answer("a", _label("bird")), _answer("b", _label("dog")), _answer("c", _label("bird"))]}),
        ]  # fmt: skip

        statistics = worker_statistics(responses, consolidated)
        workers = _by_worker(statistics)

        assert statistics["measure"] == "exact class match (1 or 0)"
        assert statistics["objects"] == 4 and statistics["answers"] == 12 and statistics["scored_answers"] == 12
        assert [workers[w]["agreement"] for w in "abc"] == [1.0, 0.75, 0.5]
        assert workers["a"]["accuracy"] > workers["b"]["accuracy"] > workers["c"]["accuracy"]
        assert all(0 < workers[w]["accuracy"] < 1 for w in "abc")
        # pairs: object 0 one agreeing pair of 3, object 1 three, object 2 one, object 3 one.
        assert statistics["pairs"] == 12
        assert statistics["pairwise_agreement"] == round(6 / 12, 4)
        assert workers["a"]["answers"] == 4 and workers["a"]["mean_seconds"] == 10.0

    def test_text_classifier_and_custom_element_names(self):
        consolidated = {"0": _class("positive")}
        responses = [
            ("0", {"answers": [
                _answer("a", {"crowd-classifier": {"label": "positive"}}),
                _answer("b", {"sentiment": {"label": "negative"}}),
                _answer("c", json.dumps({"crowd-classifier": {"label": "positive"}})),  # a JSON string
            ]}),
        ]  # fmt: skip

        workers = _by_worker(worker_statistics(responses, consolidated))

        assert [workers[w]["agreement"] for w in "abc"] == [1.0, 0.0, 1.0]

    def test_an_object_answered_once_is_not_scored(self):
        statistics = worker_statistics([("0", {"answers": [_answer("a", _label("dog"))]})], {"0": _class("cat")})

        assert statistics["unscored_answers"] == 1
        assert statistics["workers"][0]["agreement"] is None and statistics["workers"][0]["accuracy"] is None
        assert statistics["pairwise_agreement"] is None
        assert "one worker" in statistics["note"]

    def test_failed_or_unknown_objects_are_compared_pairwise_only(self):
        answers = {"answers": [_answer("a", _label("cat")), _answer("b", _label("cat"))]}
        consolidated = {"0": _record(failure="ClientError: Annotation tasks expired.")}

        statistics = worker_statistics([("0", answers), ("7", answers)], consolidated)

        assert statistics["scored_answers"] == 0 and statistics["unscored_answers"] == 4
        assert statistics["pairwise_agreement"] == 1.0 and statistics["pairs"] == 2

    def test_renamed_classes_still_match(self):
        responses = [("0", {"answers": [_answer("a", _label("kitty")), _answer("b", _label("cat"))]})]

        without = _by_worker(worker_statistics(responses, {"0": _class("cat")}))
        renamed = _by_worker(worker_statistics(responses, {"0": _class("cat")}, label_mapping={"kitty": "cat"}))

        assert without["a"]["agreement"] == 0.0
        assert renamed["a"]["agreement"] == 1.0

    def test_integer_keys_of_consolidated_are_accepted(self):
        responses = [("0", {"answers": [_answer("a", _label("cat")), _answer("b", _label("cat"))]})]

        statistics = worker_statistics(responses, {0: _class("cat")})  # type: ignore[dict-item]

        assert statistics["scored_answers"] == 2


class TestTolerance:
    def test_unknown_shapes_are_skipped_and_counted(self):
        responses = [
            ("0", {"answers": [
                _answer("a", _label("cat")),
                _answer("b", _label("cat")),
                _answer("c", {"crowd-image-classifier": {"labels": ["cat"]}}),  # a multi-select answer
                _answer("d", {"boundingBox": {"boundingBoxes": []}}),
                _answer("e", "not json"),
                _answer("f", None),
                "not an answer",
            ]}),
            ("1", {"no answers": []}),
            ("2", ["not", "a", "document"]),
        ]  # fmt: skip

        statistics = worker_statistics(responses, {"0": _class("cat")})

        assert statistics["skipped_answers"] == 5
        assert statistics["unreadable_responses"] == 2
        assert statistics["scored_answers"] == 2
        assert _by_worker(statistics)["c"] == {
            "worker_id": "c",
            "answers": 1,
            "scored": 0,
            "agreement": None,
            "accuracy": None,
            "mean_seconds": 10.0,
        }

    def test_worker_id_from_identity_when_missing(self):
        answer = {"answerContent": _label("cat"), "workerMetadata": {"identityData": {"sub": "abc-123"}}}

        statistics = worker_statistics([("0", {"answers": [answer, {"answerContent": _label("cat")}]})], {})

        assert sorted(_by_worker(statistics)) == ["abc-123", "unknown"]

    def test_no_responses(self):
        assert worker_statistics([], {"0": _class("cat")}) is None

    def test_kinds_without_a_measure_count_answers_only(self):
        mask = _record(LabelKind.MASK, ref="s3://bucket/mask.png", class_map={0: "BACKGROUND", 1: "cat"})
        pixels = {"crowd-semantic-segmentation": {"labeledImage": {"pngImageData": "iVBOR..."}}}
        responses = [("0", {"answers": [_answer("a", pixels), _answer("b", pixels)]})]

        statistics = worker_statistics(responses, {"0": mask})

        assert statistics["measure"] is None and "pixel" in statistics["note"]
        assert statistics["answers"] == 2 and statistics["skipped_answers"] == 0
        assert all(worker["agreement"] is None and worker["accuracy"] is None for worker in statistics["workers"])


class TestOtherMeasures:
    def test_multi_label_jaccard(self):
        consolidated = {"0": _record(LabelKind.MULTI_LABEL, classes=(ClassLabel(0, "cat"), ClassLabel(1, "dog")))}
        multi = "crowd-image-classifier-multi-select"
        responses = [
            ("0", {"answers": [
                _answer("a", {multi: {"labels": ["cat", "dog"]}}),
                _answer("b", {multi: {"labels": ["cat"]}}),
                _answer("c", {multi: {"labels": ["bird"]}}),
            ]}),
        ]  # fmt: skip

        statistics = worker_statistics(responses, consolidated)
        workers = _by_worker(statistics)

        assert [workers[w]["agreement"] for w in "abc"] == [1.0, 0.5, 0.0]
        assert workers["b"]["accuracy"] == 0.5  # no independent estimate: accuracy is the agreement
        assert statistics["pairwise_agreement"] == round((0.5 + 0 + 0) / 3, 4)

    def test_boxes_f1_at_iou_one_half(self):
        consolidated = {
            "0": _record(LabelKind.BOXES, boxes=(Box(0, "cat", 0, 0, 10, 10), Box(1, "dog", 20, 20, 10, 10)))
        }

        def boxes(*entries):
            return {"boundingBox": {"boundingBoxes": [dict(zip(("label", "left", "top", "width", "height"), e, strict=True)) for e in entries],
                                    "inputImageProperties": {"width": 40, "height": 40}}}  # fmt: skip

        responses = [
            ("0", {"answers": [
                _answer("exact", boxes(("cat", 0, 0, 10, 10), ("dog", 20, 20, 10, 10))),
                _answer("shifted", boxes(("cat", 1, 1, 10, 10), ("dog", 20, 20, 10, 10))),  # IoU 0.68: a match
                _answer("missed", boxes(("cat", 0, 0, 10, 10))),
                _answer("wrong-class", boxes(("dog", 0, 0, 10, 10), ("dog", 20, 20, 10, 10))),
                _answer("far-off", boxes(("cat", 5, 5, 10, 10), ("dog", 20, 20, 10, 10))),  # IoU 0.14
                _answer("nothing", boxes()),
            ]}),
        ]  # fmt: skip

        workers = _by_worker(worker_statistics(responses, consolidated))

        assert workers["exact"]["agreement"] == 1.0
        assert workers["shifted"]["agreement"] == 1.0
        assert workers["missed"]["agreement"] == round(2 / 3, 4)
        assert workers["wrong-class"]["agreement"] == 0.5
        assert workers["far-off"]["agreement"] == 0.5
        assert workers["nothing"]["agreement"] == 0.0

    def test_entities_exact_span_f1(self):
        consolidated = {"0": _record(LabelKind.ENTITIES, entities=(Entity("person", 0, 5), Entity("place", 10, 16)))}

        def spans(*entries):
            return {"crowd-entity-annotation": {"entities": [
                {"label": label, "startOffset": start, "endOffset": end} for label, start, end in entries]}}  # fmt: skip

        responses = [
            ("0", {"answers": [
                _answer("a", spans(("person", 0, 5), ("place", 10, 16))),
                _answer("b", spans(("person", 0, 4), ("place", 10, 16))),  # one boundary slipped
                _answer("c", spans()),
            ]}),
        ]  # fmt: skip

        workers = _by_worker(worker_statistics(responses, consolidated))

        assert [workers[w]["agreement"] for w in "abc"] == [1.0, 0.5, 0.0]


class TestReadWorkerResponses:
    def _write(self, root, iteration: int, object_id: str, body: str, name: str = "2026-01-02_03:04:05.json"):
        folder = root / "annotations" / "worker-response" / f"iteration-{iteration}" / object_id
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(body)

    def test_local_directory(self, tmp_path, caplog):
        document = {"answers": [_answer("a", _label("cat"))]}
        for object_id in ("10", "2", "0"):
            self._write(tmp_path, 1, object_id, json.dumps(document))
        self._write(tmp_path, 2, "0", json.dumps(document))
        self._write(tmp_path, 1, "3", "{broken")

        responses = list(read_worker_responses(str(tmp_path)))

        assert [object_id for object_id, _ in responses] == ["0", "2", "10", "0"]
        assert all(doc == document for _, doc in responses)
        assert "not JSON" in caplog.text and "/3/" in caplog.text

    def test_absent_folder_gives_nothing(self, tmp_path):
        assert list(read_worker_responses(str(tmp_path / "no-such-job"))) == []

    def test_s3(self, aws):
        s3 = aws.client("s3")
        for object_id in ("0", "1"):
            key = f"output/job-9/annotations/worker-response/iteration-1/{object_id}/2026-01-02_03:04:05.json"
            s3.put_object(Bucket=aws.bucket, Key=key, Body=json.dumps({"answers": [_answer("a", _label("cat"))]}))
        s3.put_object(Bucket=aws.bucket, Key="output/job-9/annotations/worker-response/README", Body=b"not a response")

        responses = list(read_worker_responses(f"s3://{aws.bucket}/output/job-9/", s3_client=s3))

        assert sorted(object_id for object_id, _ in responses) == ["0", "1"]

    def test_s3_absent_prefix_gives_nothing(self, aws):
        assert list(read_worker_responses(f"s3://{aws.bucket}/output/never-ran", s3_client=aws.client("s3"))) == []

    def test_s3_missing_bucket_says_so(self, aws):
        with pytest.raises(DatasetReadError, match="cannot list worker responses under s3://no-such-bucket/"):
            list(read_worker_responses("s3://no-such-bucket/output/job-1", s3_client=aws.client("s3")))


# ------------------------------------------------------------------ the local AWS

#: Three careful workers and a careless one; each object goes to 3 of the 4.
ACCURACIES = [0.97, 0.95, 0.93, 0.35]


def _run_job(aws, task: str, n_objects: int) -> tuple[str, dict[str, LabeledObject]]:
    """Run a job on the local AWS; its output prefix and consolidated records by object id."""
    aws.configure(worker_accuracies=ACCURACIES)
    sagemaker = aws.client("sagemaker")
    uris = (
        put_classification_inputs(aws, n_objects)
        if task == "ImageMultiClass"
        else put_task_inputs(aws, task, n_objects)
    )
    sagemaker.create_labeling_job(**labeling_request(aws, uris, task=task, workers=3))
    job = sagemaker.describe_labeling_job(LabelingJobName="job-1")
    assert job["LabelingJobStatus"] == "Completed"
    parser = OutputManifestParser()
    consolidated = {}
    for number, raw in enumerate(aws.get_text(job["LabelingJobOutput"]["OutputDatasetS3Uri"]).splitlines(), 1):
        record = parser.parse(raw, number)
        assert isinstance(record, LabeledObject), record
        consolidated[str(number - 1)] = record
    return f"s3://{aws.bucket}/output/job-1", consolidated


def _careless_worker() -> str:
    from gt_provider.local.workforce import worker_pool

    pool = worker_pool("us-east-1", len(ACCURACIES), ACCURACIES)
    return next(worker.worker_id for worker in pool if worker.accuracy == min(ACCURACIES))


def test_careless_worker_of_a_real_job_has_the_lowest_accuracy_and_a_warning(aws):
    prefix, consolidated = _run_job(aws, "ImageMultiClass", 60)

    statistics = worker_statistics(read_worker_responses(prefix, s3_client=aws.client("s3")), consolidated)

    workers = _by_worker(statistics)
    careless = _careless_worker()
    assert len(workers) == 4
    assert statistics["objects"] == 60 and statistics["answers"] == 180 and statistics["skipped_answers"] == 0
    assert min(workers, key=lambda w: workers[w]["accuracy"]) == careless
    assert workers[careless]["accuracy"] < 0.6
    assert all(w["accuracy"] > MIN_WORKER_ACCURACY for worker_id, w in workers.items() if worker_id != careless)
    assert min(workers, key=lambda w: workers[w]["agreement"]) == careless
    assert 0.5 < statistics["pairwise_agreement"] < 0.95

    card = {"name": "animals", "workers": statistics}
    assert [w for w in card_warnings(card) if "Worker" in w] == [
        f"Worker `{careless}` has accuracy {workers[careless]['accuracy']:.2f} (below {MIN_WORKER_ACCURACY}) "
        f"over {workers[careless]['scored']} scored answers."
    ]
    assert f"| `{careless}` |" in card_readme(card)


@pytest.mark.parametrize("task", ["ImageMultiClassMultiLabel", "BoundingBox", "NamedEntityRecognition"])
def test_every_answer_of_the_emulator_is_read(aws, task):
    prefix, consolidated = _run_job(aws, task, 40)

    statistics = worker_statistics(read_worker_responses(prefix, s3_client=aws.client("s3")), consolidated)

    workers = _by_worker(statistics)
    assert statistics["skipped_answers"] == 0 and statistics["unreadable_responses"] == 0
    assert statistics["scored_answers"] == statistics["answers"] == 120
    assert min(workers, key=lambda w: workers[w]["agreement"]) == _careless_worker()
    assert all(0 <= w["agreement"] <= 1 for w in workers.values())
