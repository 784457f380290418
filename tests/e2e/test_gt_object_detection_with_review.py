"""gt_object_detection_with_review with dag.test() against the local AWS: boxes -> chained review -> dataset."""

from __future__ import annotations

import json
from pathlib import PurePosixPath
from xml.etree import ElementTree

import pytest

from tests.e2e.helpers import PUBLIC_WORKFORCE, asset_events, example_dag

pytestmark = pytest.mark.e2e

DAG_ID = "gt_object_detection_with_review"


def _jobs(aws) -> tuple[dict, dict]:
    """(the box job, the review job), by creation time."""
    sagemaker = aws.client("sagemaker")
    summaries = sagemaker.list_labeling_jobs(SortBy="CreationTime", SortOrder="Ascending")["LabelingJobSummaryList"]
    assert len(summaries) == 2, [s["LabelingJobName"] for s in summaries]
    first, second = (sagemaker.describe_labeling_job(LabelingJobName=s["LabelingJobName"]) for s in summaries)
    return first, second


def _manifest(aws, uri: str) -> list[dict]:
    return [json.loads(line) for line in aws.get_text(uri).splitlines() if line.strip()]


def _dataset_sources(aws, card: dict) -> set[str]:
    sources = set()
    for paths in card["files"]["augmented-manifest"].values():
        for path in paths:
            sources |= {line["source-ref"] for line in _manifest(aws, f"{card['uri']}{path}")}
    return sources


def test_boxes_reviewed_by_verification_keep_only_accepted_images_then_a_run_with_nothing_new_skips(
    aws, airflow_db, tmp_path
):
    from pycocotools.coco import COCO

    aws.configure(speed=50)  # labeling jobs that really move through their states, fast
    dag = example_dag(DAG_ID)
    events_before = len(asset_events("gt_dataset_boxes"))

    run = dag.test(run_conf={"max_objects": 40, "workers_per_object": 2})

    assert run.state == "success"
    boxes, review = _jobs(aws)
    assert boxes["LabelingJobStatus"] == review["LabelingJobStatus"] == "Completed"
    assert boxes["LabelAttributeName"] == "boxes" and boxes["LabelCounters"]["TotalLabeled"] == 40
    assert boxes["HumanTaskConfig"]["PreHumanTaskLambdaArn"].endswith("PRE-BoundingBox")
    assert review["HumanTaskConfig"]["PreHumanTaskLambdaArn"].endswith("PRE-VerificationBoundingBox")
    assert review["HumanTaskConfig"]["NumberOfHumanWorkersPerDataObject"] == 2
    # Chained: the review reads the first job's output manifest and reviews its attribute.
    assert (
        review["InputConfig"]["DataSource"]["S3DataSource"]["ManifestS3Uri"]
        == boxes["LabelingJobOutput"]["OutputDatasetS3Uri"]
    )
    label_config = json.loads(aws.get_text(review["LabelCategoryConfigS3Uri"]))
    assert label_config["auditLabelAttributeName"] == "boxes"
    assert [entry["label"] for entry in label_config["labels"]] == ["correct", "incorrect"]

    reviewed = _manifest(aws, review["LabelingJobOutput"]["OutputDatasetS3Uri"])
    assert len(reviewed) == 40 and all("boxes" in line for line in reviewed)  # the boxes travel along
    verdicts = {line["source-ref"]: line["box-verdict-metadata"].get("class-name") for line in reviewed}
    accepted = {source for source, verdict in verdicts.items() if verdict == "correct"}
    assert 0 < len(accepted) < 40  # simulated reviewers reject some boxes (2 workers, imperfect)

    card = json.loads(aws.get_text(f"s3://{aws.bucket}/datasets/boxes/v=1/dataset.json"))
    assert card["label_attribute"] == "boxes"
    assert card["review"] == {"attribute": "box-verdict", "accept": ["correct"]}
    assert card["counts"]["total"] == len(accepted)
    assert card["counts"]["dropped"] == {"failed-review": 40 - len(accepted)}
    assert _dataset_sources(aws, card) == accepted
    coco_images = set()
    for split, [path] in card["files"]["coco"].items():
        local = tmp_path / f"{split}.json"
        local.write_text(aws.get_text(f"{card['uri']}{path}"))
        coco = COCO(str(local))
        assert len(coco.getImgIds()) == card["counts"]["per_split"][split]
        assert {category["name"] for category in coco.loadCats(coco.getCatIds())} <= set(card["label_map"].values())
        coco_images |= {image["file_name"] for image in coco.loadImgs(coco.getImgIds())}
    assert coco_images == accepted
    assert aws.get_text(f"{card['uri']}yolo/data.yaml")
    # Pascal VOC: every accepted image's annotation, parsed back, has the boxes the dataset kept.
    voc_images = {}
    for split in card["counts"]["per_split"]:
        image_set, listing = card["files"]["voc"][split]
        stems = aws.get_text(f"{card['uri']}{image_set}").split()
        for row in aws.get_text(f"{card['uri']}{listing}").splitlines():
            image, source = row.split("\t")
            assert PurePosixPath(image).stem in stems
            root = ElementTree.fromstring(aws.get_text(f"{card['uri']}voc/Annotations/{PurePosixPath(image).stem}.xml"))
            assert root.findtext("path") == source
            voc_images[source] = [element.findtext("name") for element in root.iter("object")]
    assert set(voc_images) == accepted
    assert all(set(names) <= set(card["label_map"].values()) for names in voc_images.values())

    [(extra, source_dag)] = asset_events("gt_dataset_boxes")[events_before:]
    assert source_dag == DAG_ID
    assert extra["version"] == 1 and extra["uri"] == f"s3://{aws.bucket}/datasets/boxes/v=1/"
    assert extra["counts"] == card["counts"]["per_split"] and extra["total"] == len(accepted)

    second = dag.test(run_conf={"max_objects": 40, "workers_per_object": 2})

    assert second.state == "success"
    states = {ti.task_id: ti.state for ti in second.get_task_instances()}
    assert states["build_input_manifest"] == "skipped"
    assert states["draw_boxes"] == states["review_boxes"] == states["build_dataset"] == "skipped"
    assert len(aws.client("sagemaker").list_labeling_jobs()["LabelingJobSummaryList"]) == 2
    assert len(asset_events("gt_dataset_boxes")) == events_before + 1


def test_boxes_reviewed_by_adjustment_give_the_adjusted_boxes(aws, airflow_db):
    run = example_dag(DAG_ID).test(
        run_conf={"review_type": "AdjustmentBoundingBox", "max_objects": 20, "workers_per_object": 1}
    )

    assert run.state == "success"
    boxes, review = _jobs(aws)
    assert review["HumanTaskConfig"]["PreHumanTaskLambdaArn"].endswith("PRE-AdjustmentBoundingBox")
    assert (
        review["InputConfig"]["DataSource"]["S3DataSource"]["ManifestS3Uri"]
        == boxes["LabelingJobOutput"]["OutputDatasetS3Uri"]
    )
    assert json.loads(aws.get_text(review["LabelCategoryConfigS3Uri"]))["auditLabelAttributeName"] == "boxes"
    reviewed = _manifest(aws, review["LabelingJobOutput"]["OutputDatasetS3Uri"])
    assert {line["boxes-adjusted-metadata"]["adjustment-status"] for line in reviewed} <= {"adjusted", "unadjusted"}
    card = json.loads(aws.get_text(f"s3://{aws.bucket}/datasets/boxes/v=1/dataset.json"))
    assert card["label_attribute"] == "boxes-adjusted" and card["review"] is None
    assert card["counts"]["total"] == 20 and card["output_type"] == "groundtruth/object-detection"


def test_the_form_refuses_the_public_workforce_and_impossible_values(aws, airflow_db):
    from airflow.sdk.definitions.param import ParamValidationError

    dag = example_dag(DAG_ID)

    for conf in (
        {"workteam_arn": PUBLIC_WORKFORCE},
        {"workers_per_object": 0},
        {"workers_per_object": 10},
        {"review_type": "VerificationSemanticSegmentation"},
        {"labels": []},
        {"max_objects": 0},
    ):
        with pytest.raises(ParamValidationError):
            dag.test(run_conf=conf)
    assert aws.client("sagemaker").list_labeling_jobs()["LabelingJobSummaryList"] == []


def test_a_public_workforce_variable_fails_the_first_task_naming_it(aws, airflow_db, monkeypatch):
    from gt_provider import callbacks

    monkeypatch.setenv("AIRFLOW_VAR_GT_WORKTEAM_ARN", PUBLIC_WORKFORCE)
    monkeypatch.setattr(callbacks, "_handlers", [])
    failures: list = []
    callbacks.on_failure(failures.append)

    run = example_dag(DAG_ID).test()

    assert run.state == "failed"
    states = {ti.task_id: (ti.state, ti.try_number) for ti in run.get_task_instances()}
    assert states["check_params"] == ("failed", 1)  # not retried: the same settings fail the same way
    [context] = failures
    assert "Variable 'gt_workteam_arn'" in str(context["exception"])
    assert "public workforce" in str(context["exception"])
    assert aws.client("sagemaker").list_labeling_jobs()["LabelingJobSummaryList"] == []
