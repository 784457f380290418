"""Every built-in task type labels locally and writes Ground Truth's output shape.

Through the public boto3 client only, as a user would: a small job per type, then every
output line checked against its type's shape, and every -ref artifact read back from S3.
"""

from __future__ import annotations

import io
import json
import re
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest

from gt_provider import task_types
from tests.labeling_fixtures import (
    IMAGE_SIZE,
    POINT_COUNT,
    VERDICTS,
    label_attribute_for,
    labeling_request,
    labels_of,
    put_task_inputs,
)

BUILT_IN = [name for name, info in task_types.TASK_TYPES.items() if info.lambda_name]
COMMON_METADATA = {"job-name", "type", "human-annotated", "creation-date"}
HEX_COLOR = re.compile(r"^#[0-9a-f]{6}$")


def _run(aws, task: str, n_objects: int = 4, workers: int = 3, name: str = "job-1", uris=None) -> tuple[dict, list]:
    sagemaker = aws.client("sagemaker")
    uris = uris or put_task_inputs(aws, task, n_objects)
    sagemaker.create_labeling_job(**labeling_request(aws, uris, name=name, task=task, workers=workers))
    job = sagemaker.describe_labeling_job(LabelingJobName=name)
    output = job.get("LabelingJobOutput", {}).get("OutputDatasetS3Uri")
    lines = [json.loads(line) for line in aws.get_text(output).splitlines()] if output else []
    return job, lines


def _artifact(aws, uri: str, index: int, name: str) -> bytes:
    """A -ref artifact: where Ground Truth writes it, and its bytes."""
    assert uri.startswith(f"s3://{aws.bucket}/output/job-1/annotations/consolidated-annotation/output/{index}/")
    assert uri.endswith(name)
    bucket, _, key = uri[5:].partition("/")
    return aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()


def _is_confidence(value) -> bool:
    return isinstance(value, float | int) and not isinstance(value, bool) and 0 <= value <= 1


# ------------------------------------------------------------- shapes per type


def check_class_id(value, metadata, labels, where):
    assert isinstance(value, str) and value.isdigit()
    assert metadata["class-name"] == labels[int(value)]
    assert _is_confidence(metadata["confidence"])
    return {"class-name", "confidence"}


def check_multilabel(value, metadata, labels, where):
    assert isinstance(value, list) and all(isinstance(v, int) for v in value)
    assert set(metadata["class-map"]) == set(metadata["confidence-map"]) == {str(v) for v in value}
    assert all(metadata["class-map"][str(v)] == labels[v] for v in value)
    assert all(_is_confidence(c) for c in metadata["confidence-map"].values())
    return {"class-map", "confidence-map"}


def check_boxes(value, metadata, labels, where):
    assert set(value) == {"image_size", "annotations"}
    assert value["image_size"] == [{"width": IMAGE_SIZE, "height": IMAGE_SIZE, "depth": 3}]
    for box in value["annotations"]:
        assert set(box) == {"class_id", "left", "top", "width", "height"}
        assert all(isinstance(v, int) for v in box.values())
        assert metadata["class-map"][str(box["class_id"])] == labels[box["class_id"]]
        assert box["left"] + box["width"] <= IMAGE_SIZE and box["top"] + box["height"] <= IMAGE_SIZE
    assert set(metadata["class-map"]) == {str(box["class_id"]) for box in value["annotations"]}
    assert len(metadata["objects"]) == len(value["annotations"])
    assert all(set(o) == {"confidence"} and _is_confidence(o["confidence"]) for o in metadata["objects"])
    return {"objects", "class-map"}


def check_color_map(colors, labels, background):
    assert colors["0"]["class-name"] == background
    assert [colors[str(i + 1)]["class-name"] for i in range(len(labels))] == labels
    for entry in colors.values():
        assert set(entry) == {"class-name", "hex-color", "confidence"}
        assert HEX_COLOR.match(entry["hex-color"]) and _is_confidence(entry["confidence"])


def check_mask(value, metadata, labels, where):
    import numpy as np
    from PIL import Image

    image = Image.open(io.BytesIO(where.artifact(value, ".png")))
    assert image.format == "PNG" and image.size == (IMAGE_SIZE, IMAGE_SIZE)
    check_color_map(metadata["internal-color-map"], labels, "BACKGROUND")
    assert {str(v) for v in np.unique(np.asarray(image))} <= set(metadata["internal-color-map"])
    assert len(np.unique(np.asarray(image))) > 1  # the shapes were painted
    return {"internal-color-map"}


def check_verification(value, metadata, labels, where):
    keys = check_class_id(value, metadata, labels, where)
    for feedback in metadata.get("worker-feedback", []):
        assert set(feedback) == {"comment"} and feedback["comment"]
    return keys | ({"worker-feedback"} if "worker-feedback" in metadata else set())


def check_text_span(value, metadata, labels, where):
    assert set(value) == {"annotations"} and set(value["annotations"]) == {"labels", "entities"}
    assert value["annotations"]["labels"] == [
        {"label": "person", "shortDisplayName": "per"},
        {"label": "place", "shortDisplayName": "plc"},
    ]
    for entity in value["annotations"]["entities"]:
        assert set(entity) == {"label", "startOffset", "endOffset"} and entity["label"] in labels
        assert 0 <= entity["startOffset"] < entity["endOffset"] <= len(where.line["source"])
    assert len(metadata["entities"]) == len(value["annotations"]["entities"])
    assert all(_is_confidence(e["confidence"]) for e in metadata["entities"])
    return {"entities"}


def check_video(value, metadata, labels, where):
    tracking = metadata["type"].endswith("tracking")
    document = json.loads(where.artifact(value, "/SeqLabel.json"))
    key = "tracking-annotations" if tracking else "detection-annotations"
    assert set(document) == {key}
    assert len(document[key]) == 3
    expected = {"height", "width", "top", "left", "class-id", "label-category-attributes"}
    if tracking:
        expected |= {"object-id", "object-name"}
    used = set()
    for frame in document[key]:
        assert set(frame) == {"annotations", "frame-no", "frame"} and frame["frame-no"].isdigit()
        for box in frame["annotations"]:
            assert set(box) == expected and isinstance(box["class-id"], str)
            used.add(box["class-id"])
    assert set(metadata["class-map"]) == used and all(metadata["class-map"][c] == labels[int(c)] for c in used)
    if tracking:
        names = {box["object-name"]: box["object-id"] for f in document[key] for box in f["annotations"]}
        assert all(":" in name for name in names)  # the same instance keeps its id across frames
    return {"class-map"}


CUBOID = {"label-category-attributes", "object-name", "class-id", "center-x", "center-y", "center-z"} | {
    "length", "width", "height", "roll", "pitch", "yaw"
}  # fmt: skip


def check_cuboids(value, metadata, labels, where):
    assert set(value) == {"annotations"} and value["annotations"]
    for cuboid in value["annotations"]:
        assert set(cuboid) == CUBOID and isinstance(cuboid["class-id"], int)
        assert metadata["class_map"][str(cuboid["class-id"])] == labels[cuboid["class-id"]]
    assert len(metadata["objects"]) == len(value["annotations"])
    return {"objects", "class_map"}


def check_cuboid_tracks(value, metadata, labels, where):
    document = json.loads(where.artifact(value, "/SeqLabel.json"))
    assert set(document) == {"tracking-annotations"} and len(document["tracking-annotations"]) == 3
    for frame in document["tracking-annotations"]:
        assert set(frame) == {"frame-number", "frame-name", "annotations"} and isinstance(frame["frame-number"], int)
        for cuboid in frame["annotations"]:
            assert set(cuboid) == CUBOID | {"object-id"}
            assert metadata["class-map"][str(cuboid["class-id"])] == labels[cuboid["class-id"]]
    assert [o["frame-no"] for o in metadata["objects"]] == [0, 1, 2]
    return {"objects", "class-map"}


def check_point_labels(value, metadata, labels, where):
    point_labels = zlib.decompress(where.artifact(value, ".zlib"))
    assert len(point_labels) == POINT_COUNT
    check_color_map(metadata["color-map"], labels, "Background")
    assert {str(v) for v in set(point_labels)} <= set(metadata["color-map"])
    return {"color-map"}


@dataclass
class Where:
    """The output line being checked, and a reader of its -ref artifacts."""

    aws: Any
    index: int
    line: dict

    def artifact(self, uri: str, name: str) -> bytes:
        return _artifact(self.aws, uri, self.index, name)


#: Output ``type`` -> the check of ``<attr>`` and its type-specific metadata (returns those keys).
CHECKS = {
    "groundtruth/image-classification": check_class_id,
    "groundtruth/text-classification": check_class_id,
    "groundtruth/video-classification": check_class_id,
    "groundtruth/image-classification-multilabel": check_multilabel,
    "groundtruth/text-classification-multilabel": check_multilabel,
    "groundtruth/object-detection": check_boxes,
    "groundtruth/semantic-segmentation": check_mask,
    "groundtruth/label-verification": check_verification,
    "groundtruth/text-span": check_text_span,
    "groundtruth/video-object-detection": check_video,
    "groundtruth/video-object-tracking": check_video,
    "groundtruth/lidar_object_detection": check_cuboids,
    "groundtruth/lidar_object_tracking": check_cuboid_tracks,
    "groundtruth/lidar_single_frame_semantic_segmentation": check_point_labels,
}


def check_line(aws, task: str, index: int, line: dict, attribute: str) -> None:
    """One output line against the shape of ``task``'s output type."""
    info = task_types.get_task_type(task)
    value, metadata = line[attribute], line[f"{attribute}-metadata"]
    assert "gt-local-answer" in line  # input keys pass through untouched
    assert metadata["type"] == info.output_type
    assert metadata["job-name"] == "labeling-job/job-1" and metadata["human-annotated"] == "yes"
    datetime.fromisoformat(metadata["creation-date"])
    extra = CHECKS[info.output_type](value, metadata, labels_of(task), Where(aws, index, line))
    if info.is_review and info.output_type != "groundtruth/label-verification":
        assert metadata["adjustment-status"] in ("adjusted", "unadjusted")
        extra = extra | {"adjustment-status"}
    assert set(metadata) == COMMON_METADATA | extra


def test_every_output_type_has_a_check():
    assert {info.output_type for info in task_types.TASK_TYPES.values() if info.output_type} == set(CHECKS)


@pytest.mark.parametrize("task", BUILT_IN)
def test_every_built_in_task_type_labels_locally_in_its_output_shape(aws, task):
    job, lines = _run(aws, task)

    assert job["LabelingJobStatus"] == "Completed", job.get("FailureReason")
    assert job["LabelCounters"]["TotalLabeled"] == job["LabelCounters"]["HumanLabeled"] == 4
    assert job["LabelCounters"]["FailedNonRetryableError"] == 0
    assert len(lines) == 4
    attribute = label_attribute_for(task)
    for index, line in enumerate(lines):
        check_line(aws, task, index, line, attribute)
    responses = aws.client("s3").list_objects_v2(Bucket=aws.bucket, Prefix="output/job-1/annotations/worker-response/")
    first = json.loads(aws.get_text(f"s3://{aws.bucket}/{responses['Contents'][0]['Key']}"))
    assert len(first["answers"]) == 3
    assert all(len(answer["answerContent"]) == 1 for answer in first["answers"])  # keyed by the answering element


def test_adjustment_jobs_report_what_workers_changed(aws):
    """The earlier boxes are 1 px off the truth: most adjusted objects, and the output near the truth."""
    _, lines = _run(aws, "AdjustmentBoundingBox", n_objects=6)
    statuses = [line["animal-metadata"]["adjustment-status"] for line in lines]
    assert statuses.count("adjusted") >= 4
    for line in lines:
        truth = line["gt-local-answer"]["boxes"]
        boxes = line["animal"]["annotations"]
        assert len(boxes) == len(truth)
        for box, expected in zip(sorted(boxes, key=lambda b: b["left"]), truth, strict=True):
            assert abs(box["left"] - expected["left"]) <= 2 and abs(box["width"] - expected["width"]) <= 2


def test_verification_job_chained_on_a_bounding_box_job_output(aws):
    """The first job's output manifest is the second job's input manifest, as the guide describes."""
    aws.configure(speed="instant", worker_accuracies=[0.6, 0.5, 0.55])  # a careless first job: some labels wrong
    first, first_lines = _run(aws, "BoundingBox", n_objects=8, name="boxes")
    assert first["LabelingJobStatus"] == "Completed"
    aws.configure(speed="instant", worker_accuracies=[0.97, 0.95, 0.92])  # careful reviewers
    labels = aws.put_text(
        "config/verify.json",
        json.dumps(
            {
                "document-version": "2018-11-28",
                "labels": [{"label": v} for v in VERDICTS],
                "auditLabelAttributeName": "animal",
            }
        ),
    )
    uris = {"manifest": first["LabelingJobOutput"]["OutputDatasetS3Uri"], "labels": labels}
    uris["template"] = aws.put_text("config/verify.liquid.html", "<crowd-form></crowd-form>")
    request = labeling_request(aws, uris, name="verify", task="VerificationBoundingBox", attribute="verdict")
    sagemaker = aws.client("sagemaker")
    sagemaker.create_labeling_job(**request)
    job = sagemaker.describe_labeling_job(LabelingJobName="verify")

    assert job["LabelingJobStatus"] == "Completed", job.get("FailureReason")
    lines = [json.loads(line) for line in aws.get_text(job["LabelingJobOutput"]["OutputDatasetS3Uri"]).splitlines()]
    assert len(lines) == 8
    for first_line, line in zip(first_lines, lines, strict=True):
        assert line["animal"] == first_line["animal"]  # the earlier label travels on untouched
        assert line["animal-metadata"] == first_line["animal-metadata"]
        metadata = line["verdict-metadata"]
        assert metadata["type"] == "groundtruth/label-verification"
        assert metadata["class-name"] == VERDICTS[int(line["verdict"])]
    # The first job's truth rode along (gt-local-answer): the true verdict is whether its
    # boxes match that truth; careful reviewers get it right nearly always.
    expected = [_boxes_match_truth(line) for line in first_lines]
    got = [line["verdict-metadata"]["class-name"] == "correct" for line in lines]
    assert True in expected and False in expected
    assert sum(e == g for e, g in zip(expected, got, strict=True)) >= 7


def _boxes_match_truth(line: dict) -> bool:
    """Whether each consolidated box of a BoundingBox output line overlaps its own true box (IoU >= 0.5)."""

    def iou(a: dict, b: dict) -> float:
        width = min(a["left"] + a["width"], b["left"] + b["width"]) - max(a["left"], b["left"])
        height = min(a["top"] + a["height"], b["top"] + b["height"]) - max(a["top"], b["top"])
        inter = max(width, 0) * max(height, 0)
        return inter / (a["width"] * a["height"] + b["width"] * b["height"] - inter)

    class_map = line["animal-metadata"]["class-map"]
    boxes = [(class_map[str(box["class_id"])], box) for box in line["animal"]["annotations"]]
    truth = line["gt-local-answer"]["boxes"]
    if len(boxes) != len(truth):
        return False
    for expected in truth:
        match = next((b for b in boxes if b[0] == expected["label"] and iou(b[1], expected) >= 0.5), None)
        if match is None:
            return False
        boxes.remove(match)
    return True


def test_malformed_reference_fails_only_its_object_naming_the_line(aws):
    uris = put_task_inputs(aws, "BoundingBox", 3)
    lines = [json.loads(line) for line in aws.get_text(uris["manifest"]).splitlines()]
    lines[1]["gt-local-answer"]["boxes"][0]["width"] = 99  # reaches outside the 32x32 image
    uris["manifest"] = aws.put_text("input/bad.manifest", "\n" + "".join(json.dumps(line) + "\n" for line in lines))
    job, output = _run(aws, "BoundingBox", uris=uris)

    assert job["LabelingJobStatus"] == "Completed"
    assert job["LabelCounters"]["FailedNonRetryableError"] == 1
    assert job["LabelCounters"]["TotalLabeled"] == 2
    failed = output[1]["animal-metadata"]
    assert "line 3" in failed["failure-reason"]  # the blank first line counts
    assert "outside" in failed["failure-reason"]
    assert "animal" not in output[1]
    assert set(failed) == COMMON_METADATA | {"failure-reason"}


def test_objects_without_reference_are_answered_at_random_from_the_image_size(aws):
    """No reference: workers draw at random on the image read from S3; no image, no size: that object fails."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (40, 24)).save(buffer, format="PNG")
    aws.client("s3").put_object(Bucket=aws.bucket, Key="images/0.png", Body=buffer.getvalue())
    manifest = "".join(
        json.dumps({"source-ref": f"s3://{aws.bucket}/images/{i}.png"}) + "\n" for i in range(2)
    )  # images/1.png is missing
    uris = put_task_inputs(aws, "SemanticSegmentation", 1)
    uris["manifest"] = aws.put_text("input/no-reference.manifest", manifest)
    job, lines = _run(aws, "SemanticSegmentation", uris=uris)

    assert job["LabelCounters"]["TotalLabeled"] == 1 and job["LabelCounters"]["FailedNonRetryableError"] == 1
    mask = Image.open(io.BytesIO(_artifact(aws, lines[0]["animal-ref"], 0, ".png")))
    assert mask.size == (40, 24)
    assert "image size is unknown" in lines[1]["animal-ref-metadata"]["failure-reason"]


def test_custom_workflow_fails_with_a_clear_reason(aws):
    uris = put_task_inputs(aws, "ImageMultiClass", 2)
    request = labeling_request(aws, uris)
    request["HumanTaskConfig"]["PreHumanTaskLambdaArn"] = "arn:aws:lambda:us-east-1:123456789012:function:my-pre"
    request["HumanTaskConfig"]["AnnotationConsolidationConfig"]["AnnotationConsolidationLambdaArn"] = (
        "arn:aws:lambda:us-east-1:123456789012:function:my-acs"
    )
    sagemaker = aws.client("sagemaker")
    sagemaker.create_labeling_job(**request)
    job = sagemaker.describe_labeling_job(LabelingJobName="job-1")
    assert job["LabelingJobStatus"] == "Failed"
    assert "custom workflow" in job["FailureReason"]


def test_frame_review_job_without_audit_label_attribute_name_is_refused(aws):
    from botocore.exceptions import ClientError

    uris = put_task_inputs(aws, "AdjustmentVideoObjectTracking", 1)
    uris["labels"] = aws.put_text(
        "config/no-audit.json", json.dumps({"documentVersion": "2020-03-01", "labels": [{"label": "car"}]})
    )
    with pytest.raises(ClientError) as raised:
        aws.client("sagemaker").create_labeling_job(**labeling_request(aws, uris, task="AdjustmentVideoObjectTracking"))
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert "auditLabelAttributeName" in raised.value.response["Error"]["Message"]


@pytest.mark.parametrize("task", ["SemanticSegmentation", "3DPointCloudObjectTracking", "NamedEntityRecognition"])
def test_counters_match_the_output_when_tasks_expire(aws, task):
    aws.configure(speed="instant", object_failure_rate=0.4)
    job, lines = _run(aws, task, n_objects=10)
    attribute = label_attribute_for(task)
    failed = [index for index, line in enumerate(lines) if "failure-reason" in line[f"{attribute}-metadata"]]

    assert 0 < len(failed) < 10
    assert job["LabelCounters"]["FailedNonRetryableError"] == len(failed)
    assert job["LabelCounters"]["TotalLabeled"] == 10 - len(failed)
    assert all(attribute not in lines[index] for index in failed)
    artifacts = aws.client("s3").list_objects_v2(
        Bucket=aws.bucket, Prefix="output/job-1/annotations/consolidated-annotation/output/"
    )
    written = {int(item["Key"].split("/")[-2]) for item in artifacts.get("Contents", [])}
    assert written == (
        set(range(10)) - set(failed) if attribute.endswith("-ref") else set()
    )  # no artifact for failures


def test_one_worker_gives_zero_confidence_for_boxes(aws):
    _, lines = _run(aws, "BoundingBox", n_objects=2, workers=1)
    assert {o["confidence"] for line in lines for o in line["animal-metadata"]["objects"]} == {0.0}
