"""Every built-in task type labeled on the local AWS, its output manifest read back with the parser.

Through the public boto3 client, as a user would: a small job per type, every output line
parsed with no LineProblem, each record checked against the line the emulator wrote, and the
artifact of every ``-ref`` type loaded from S3.
"""

from __future__ import annotations

import json

import pytest

from gt_provider import task_types
from gt_provider.datasets.filters import ObjectFilter, ReviewFilter
from gt_provider.datasets.reading.artifacts import load_artifact
from gt_provider.datasets.reading.parse import read_output_manifest
from gt_provider.datasets.records import LabeledObject, LabelKind
from tests import labeling_fixtures as fixtures

BUILT_IN = [name for name, info in task_types.TASK_TYPES.items() if info.lambda_name]
KINDS = {
    "groundtruth/image-classification": LabelKind.CLASS,
    "groundtruth/text-classification": LabelKind.CLASS,
    "groundtruth/video-classification": LabelKind.CLASS,
    "groundtruth/image-classification-multilabel": LabelKind.MULTI_LABEL,
    "groundtruth/text-classification-multilabel": LabelKind.MULTI_LABEL,
    "groundtruth/object-detection": LabelKind.BOXES,
    "groundtruth/semantic-segmentation": LabelKind.MASK,
    "groundtruth/label-verification": LabelKind.VERIFICATION,
    "groundtruth/text-span": LabelKind.ENTITIES,
    "groundtruth/video-object-detection": LabelKind.SEQUENCE,
    "groundtruth/video-object-tracking": LabelKind.SEQUENCE,
    "groundtruth/lidar_object_detection": LabelKind.CUBOIDS,
    "groundtruth/lidar_object_tracking": LabelKind.SEQUENCE,
    "groundtruth/lidar_single_frame_semantic_segmentation": LabelKind.SEQUENCE,
}


def label_locally(aws, task: str, n_objects: int = 4, name: str = "job-1", uris=None, attribute=None) -> str:
    """Run a ``task`` job on the local AWS; the URI of its output manifest."""
    sagemaker = aws.client("sagemaker")
    uris = uris or fixtures.put_task_inputs(aws, task, n_objects)
    sagemaker.create_labeling_job(**fixtures.labeling_request(aws, uris, name=name, task=task, attribute=attribute))
    job = sagemaker.describe_labeling_job(LabelingJobName=name)
    assert job["LabelingJobStatus"] == "Completed", job.get("FailureReason")
    return job["LabelingJobOutput"]["OutputDatasetS3Uri"]


def written_names(record: LabeledObject) -> list[str]:
    """The label names of the line as the emulator wrote it, read straight from the raw JSON."""
    value, metadata = record.raw[record.attribute], record.raw[f"{record.attribute}-metadata"]
    class_map = metadata.get("class-map") or metadata.get("class_map") or {}
    colors = metadata.get("internal-color-map") or metadata.get("color-map") or {}
    by_kind = {
        LabelKind.CLASS: lambda: [metadata["class-name"]],
        LabelKind.VERIFICATION: lambda: [metadata["class-name"]],
        LabelKind.MULTI_LABEL: lambda: [class_map[str(i)] for i in value],
        LabelKind.BOXES: lambda: [class_map[str(box["class_id"])] for box in value["annotations"]],
        LabelKind.ENTITIES: lambda: [entity["label"] for entity in value["annotations"]["entities"]],
        LabelKind.CUBOIDS: lambda: [class_map[str(cuboid["class-id"])] for cuboid in value["annotations"]],
        LabelKind.MASK: lambda: [entry["class-name"] for entry in colors.values()],
        LabelKind.SEQUENCE: lambda: [entry["class-name"] for entry in colors.values()] or list(class_map.values()),
    }
    return by_kind[record.kind]()


def parsed_names(record: LabeledObject) -> list[str]:
    if record.kind in (LabelKind.MASK, LabelKind.SEQUENCE):
        return list(record.class_map.values())
    return (
        [c.name for c in record.classes]
        + [b.name for b in record.boxes]
        + [e.label for e in record.entities]
        + [c.label for c in record.cuboids]
    )


def check_artifact(aws, record: LabeledObject) -> None:
    content = load_artifact(record, s3_client=aws.client("s3"))
    if record.kind is LabelKind.MASK:
        assert len(content) == fixtures.IMAGE_SIZE and all(len(row) == fixtures.IMAGE_SIZE for row in content)
        assert {class_id for row in content for class_id in row} <= set(record.class_map)
    elif record.output_type.endswith("semantic_segmentation"):
        assert len(content) == fixtures.POINT_COUNT and set(content) <= set(record.class_map)
    else:
        (key,) = content
        assert key in ("detection-annotations", "tracking-annotations") and len(content[key]) == 3
        ids = {int(box["class-id"]) for frame in content[key] for box in frame["annotations"]}
        assert ids <= set(record.class_map)


@pytest.mark.parametrize("task", BUILT_IN)
def test_every_built_in_type_parses_into_records_that_match_the_written_lines(aws, task):
    info = task_types.get_task_type(task)
    attribute = fixtures.label_attribute_for(task)
    uri = label_locally(aws, task)
    # A review job's line also carries the reviewed label: only then must the attribute be named.
    results = list(
        read_output_manifest(uri, attribute=attribute if info.is_review else None, s3_client=aws.client("s3"))
    )

    assert [r.line for r in results] == [1, 2, 3, 4]
    assert all(isinstance(r, LabeledObject) for r in results), [str(r) for r in results]
    for record in results:
        assert record.attribute == attribute and record.output_type == info.output_type
        assert record.kind is KINDS[info.output_type] and not record.failed
        assert record.job_name == "labeling-job/job-1" and record.human_annotated
        assert parsed_names(record) == written_names(record)
        assert set(record.label_names) <= {*fixtures.labels_of(task), "BACKGROUND", "Background"}
        assert (record.adjustment_status is not None) == (info.is_review and record.kind is not LabelKind.VERIFICATION)
    if attribute.endswith("-ref"):
        assert all(r.ref and r.ref.startswith(f"s3://{aws.bucket}/output/job-1/") for r in results)
        check_artifact(aws, results[0])


def test_every_output_type_of_the_registry_has_an_expected_kind():
    assert {info.output_type for info in task_types.TASK_TYPES.values() if info.output_type} == set(KINDS)


@pytest.mark.parametrize("task", ["BoundingBox", "3DPointCloudSemanticSegmentation", "NamedEntityRecognition"])
def test_failed_objects_are_records_the_object_filter_counts_as_failed(aws, task):
    aws.configure(speed="instant", object_failure_rate=0.4)
    results = list(read_output_manifest(label_locally(aws, task, n_objects=10), s3_client=aws.client("s3")))

    assert all(isinstance(r, LabeledObject) for r in results) and len(results) == 10
    failed = [r for r in results if r.failed]
    assert 0 < len(failed) < 10
    assert all(r.ref is None and not r.label_names and r.failure_reason for r in failed)
    assert [ObjectFilter().drop_reason(r) for r in failed] == ["failed"] * len(failed)


def test_a_verification_job_chained_on_boxes_filters_the_boxes_it_rejected(aws):
    aws.configure(speed="instant", worker_accuracies=[0.6, 0.5, 0.55])  # a careless first job
    boxes_uri = label_locally(aws, "BoundingBox", n_objects=8, name="boxes")
    labels = aws.put_text(
        "config/verify.json",
        json.dumps({"document-version": "2018-11-28", "labels": [{"label": v} for v in fixtures.VERDICTS],
                    "auditLabelAttributeName": "animal"}),
    )  # fmt: skip
    uris = {"manifest": boxes_uri, "labels": labels, "template": aws.put_text("config/verify.html", "<crowd-form/>")}
    verified_uri = label_locally(aws, "VerificationBoundingBox", name="verify", uris=uris, attribute="verdict")

    s3 = aws.client("s3")
    ambiguous = list(read_output_manifest(verified_uri, s3_client=s3))
    assert all("several label attributes" in problem.reason for problem in ambiguous)
    boxes = list(read_output_manifest(verified_uri, attribute="animal", s3_client=s3))
    verdicts = [r.classes[0].name for r in read_output_manifest(verified_uri, attribute="verdict", s3_client=s3)]
    review = ReviewFilter("verdict", frozenset({"correct"}))
    reasons = [review.drop_reason(record) for record in boxes]

    assert all(record.kind is LabelKind.BOXES for record in boxes)
    assert reasons == [None if verdict == "correct" else "failed-review" for verdict in verdicts]
    assert None in reasons and "failed-review" in reasons
