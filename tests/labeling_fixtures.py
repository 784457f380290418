"""Helpers that build valid Ground Truth inputs on the local AWS, for tests to break one field at a time.

``put_classification_inputs`` + ``labeling_request`` make the classification job most tests
use. ``put_task_inputs`` makes a small valid job of any built-in task type: reference
answers in the format ``gt_provider.local.annotations`` documents and, for review types,
an earlier label on every line in Ground Truth's output format (artifacts uploaded to S3).
"""

from __future__ import annotations

import copy
import io
import json
import zlib
from typing import Any

from gt_provider import task_types

CLASSES = ["cat", "dog", "bird"]
VERDICTS = ["correct", "incorrect"]
NER_LABELS = [{"label": "person", "shortDisplayName": "per"}, {"label": "place", "shortDisplayName": "plc"}]
IMAGE_SIZE = 32
POINT_COUNT = 200
#: The earlier label that review jobs (verification, adjustment) read, and its attribute.
EARLIER = "earlier"
EARLIER_REF = "earlier-ref"


def put_classification_inputs(aws: Any, n_objects: int = 30, task: str = "ImageMultiClass") -> dict[str, str]:
    """Input manifest (with reference answers), label config and template; their URIs."""
    if task == "TextMultiClass":
        lines = [{"source": f"text number {i}", "gt-local-answer": CLASSES[i % 3]} for i in range(n_objects)]
    else:
        lines = [
            {"source-ref": f"s3://{aws.bucket}/images/{i}.png", "gt-local-answer": CLASSES[i % 3]}
            for i in range(n_objects)
        ]
    return _job_inputs(aws, "input", lines, CLASSES)


def _job_inputs(aws: Any, stem: str, lines: list[dict[str, Any]], labels: Any) -> dict[str, str]:
    """Upload ``lines`` as ``input/<stem>.manifest``, ``labels`` as a label config, and a template."""
    return {
        "manifest": aws.put_text(f"input/{stem}.manifest", "".join(json.dumps(line) + "\n" for line in lines)),
        "labels": aws.put_text(
            f"config/{'labels' if stem == 'input' else stem + '-labels'}.json",
            json.dumps({"document-version": "2018-11-28", "labels": [{"label": c} for c in labels]}),
        ),
        "template": aws.put_text("config/template.liquid.html", "<crowd-form></crowd-form>"),
    }


def label_attribute_for(task: str) -> str:
    """A valid LabelAttributeName for ``task``: ``animal``, with ``-ref`` where the type needs it."""
    rule = task_types.get_task_type(task).label_attribute_rule
    return "animal-ref" if rule is task_types.LabelAttributeRule.MUST_END_WITH_REF else "animal"


def labeling_request(
    aws: Any,
    uris: dict[str, str],
    name: str = "job-1",
    task: str = "ImageMultiClass",
    workers: int = 3,
    attribute: str | None = None,
) -> dict[str, Any]:
    info = task_types.get_task_type(task)
    ui = (
        {"HumanTaskUiArn": info.human_task_ui_arn("us-east-1")}
        if info.human_task_ui_name
        else {"UiTemplateS3Uri": uris["template"]}
    )
    return copy.deepcopy(
        {
            "LabelingJobName": name,
            "LabelAttributeName": attribute or label_attribute_for(task),
            "InputConfig": {"DataSource": {"S3DataSource": {"ManifestS3Uri": uris["manifest"]}}},
            "OutputConfig": {"S3OutputPath": f"s3://{aws.bucket}/output"},
            "RoleArn": aws.role_arn,
            "LabelCategoryConfigS3Uri": uris["labels"],
            "HumanTaskConfig": {
                "WorkteamArn": aws.workteam_arn,
                "UiConfig": ui,
                "PreHumanTaskLambdaArn": info.pre_human_task_lambda_arn("us-east-1"),
                "TaskTitle": "Animals",
                "TaskDescription": "Pick the animal",
                "TaskKeywords": ["animals", "image classification"],
                "NumberOfHumanWorkersPerDataObject": workers,
                "TaskTimeLimitInSeconds": 300,
                "TaskAvailabilityLifetimeInSeconds": 3600,
                "MaxConcurrentTaskCount": 100,
                "AnnotationConsolidationConfig": {
                    "AnnotationConsolidationLambdaArn": info.annotation_consolidation_lambda_arn("us-east-1")
                },
            },
        }
    )


# --------------------------------------------------------------- every task type


def labels_of(task: str) -> list[str]:
    """The label names ``put_task_inputs`` configures for ``task``."""
    if task.startswith("Verification"):
        return list(VERDICTS)
    if task == "NamedEntityRecognition":
        return [entry["label"] for entry in NER_LABELS]
    return list(CLASSES)


def _size() -> dict[str, int]:
    return {"width": IMAGE_SIZE, "height": IMAGE_SIZE, "depth": 3}


def _boxes(i: int) -> list[dict[str, Any]]:
    return [
        {"label": CLASSES[i % 3], "left": 2, "top": 3, "width": 12, "height": 10},
        {"label": CLASSES[(i + 1) % 3], "left": 16, "top": 16, "width": 14, "height": 12},
    ]


def _shapes(i: int) -> list[dict[str, Any]]:
    return [
        {"label": CLASSES[i % 3], "rect": [2, 3, 12, 10]},
        {"label": CLASSES[(i + 1) % 3], "polygon": [[16, 16], [30, 18], [20, 30]]},
    ]


def _video_frames(i: int) -> list[dict[str, Any]]:
    return [
        {
            "frame": f"frame_{f:04d}.jpeg",
            "annotations": [
                {"label": CLASSES[i % 3], "left": 2 + f, "top": 3, "width": 12, "height": 10},
                {"label": CLASSES[(i + 1) % 3], "left": 16, "top": 14 + f, "width": 10, "height": 8, "object": "b:1"},
            ],
        }
        for f in range(3)
    ]


def _cuboids(i: int, frame: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "label": CLASSES[i % 3],
            "center-x": 1.0 + frame,
            "center-y": 2.0,
            "center-z": 0.5,
            "length": 4.0,
            "width": 2.0,
            "height": 1.5,
            "yaw": 0.3,
            "label-category-attributes": {"Occlusion": "Partial"},
        },
        {"label": CLASSES[(i + 1) % 3], "center-x": -5.0, "center-y": 9.0 + frame, "center-z": 0.2,
         "length": 1.0, "width": 1.0, "height": 1.8},
    ]  # fmt: skip


def reference_answer(task: str, i: int) -> Any:
    """A reference answer (``gt-local-answer``) of object ``i`` for ``task``."""
    base = task.removeprefix("Adjustment")
    if task.startswith("Verification"):
        return VERDICTS[i % 2]
    if base in ("ImageMultiClass", "TextMultiClass", "VideoMultiClass"):
        return CLASSES[i % 3]
    if base.endswith("MultiLabel"):
        return [CLASSES[i % 3], CLASSES[(i + 1) % 3]] if i % 2 == 0 else [CLASSES[i % 3]]
    if base == "BoundingBox":
        return {"image_size": _size(), "boxes": _boxes(i)}
    if base == "SemanticSegmentation":
        return {"image_size": _size(), "shapes": _shapes(i)}
    if base == "NamedEntityRecognition":
        return [
            {"label": "person", "startOffset": 0, "endOffset": 5},
            {"label": "person", "startOffset": 10, "endOffset": 13},
            {"label": "place", "startOffset": 17, "endOffset": 22},
        ]
    if base in ("VideoObjectDetection", "VideoObjectTracking"):
        return {"frames": _video_frames(i)}
    if base == "3DPointCloudObjectDetection":
        return {"annotations": _cuboids(i)}
    if base == "3DPointCloudObjectTracking":
        return {"frames": [{"frame": f"{f}.txt.pcd", "annotations": _cuboids(i, f)} for f in range(3)]}
    if base == "3DPointCloudSemanticSegmentation":
        segments = [
            {"label": CLASSES[i % 3], "start": 0, "end": 80},
            {"label": CLASSES[(i + 1) % 3], "start": 120, "end": 180},
        ]
        return {"point_count": POINT_COUNT, "segments": segments}
    raise ValueError(f"no reference answer format for {task}")


def _png_mask(aws: Any, key: str, i: int) -> str:
    """An earlier segmentation mask: a palette PNG with class ids 0 (background), 1 and 2."""
    import numpy as np
    from PIL import Image

    mask = np.zeros((IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    mask[4:14, 2:15] = i % 3 + 1
    mask[18:28, 16:28] = (i + 1) % 3 + 1
    image = Image.frombytes("P", (IMAGE_SIZE, IMAGE_SIZE), mask.tobytes())
    image.putpalette([255, 255, 255, 44, 160, 44, 31, 119, 180, 255, 127, 14])
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    aws.client("s3").put_object(Bucket=aws.bucket, Key=key, Body=buffer.getvalue())
    return f"s3://{aws.bucket}/{key}"


def _color_map() -> dict[str, dict[str, Any]]:
    colors = ["#ffffff", "#2ca02c", "#1f77b4", "#ff7f0e"]
    names = ["BACKGROUND", *CLASSES]
    return {str(k): {"class-name": names[k], "hex-color": colors[k], "confidence": 0.8} for k in range(4)}


def _earlier_metadata(output_type: str, **extra: Any) -> dict[str, Any]:
    return {
        **extra,
        "type": output_type,
        "job-name": "labeling-job/earlier-job",
        "human-annotated": "yes",
        "creation-date": "2026-01-02T03:04:05.000006",
    }


def earlier_label(aws: Any, task: str, i: int) -> dict[str, Any]:
    """The keys an earlier job's output line adds, for the review job ``task`` (slightly off the truth)."""
    class_map = {str(k): name for k, name in enumerate(CLASSES)}
    output = f"s3://{aws.bucket}/earlier/annotations/consolidated-annotation/output/{i}"
    if task in ("VerificationBoundingBox", "AdjustmentBoundingBox"):
        boxes = [{"class_id": CLASSES.index(b["label"]), **{k: b[k] + 1 for k in ("left", "top", "width", "height")}}
                 for b in _boxes(i)]  # fmt: skip
        value = {"image_size": [_size()], "annotations": boxes}
        metadata = _earlier_metadata(
            "groundtruth/object-detection", objects=[{"confidence": 0.9}] * 2, **{"class-map": class_map}
        )
        return {EARLIER: value, f"{EARLIER}-metadata": metadata}
    if task in ("VerificationSemanticSegmentation", "AdjustmentSemanticSegmentation"):
        uri = _png_mask(aws, f"earlier/annotations/consolidated-annotation/output/{i}/mask.png", i)
        metadata = _earlier_metadata("groundtruth/semantic-segmentation", **{"internal-color-map": _color_map()})
        return {EARLIER_REF: uri, f"{EARLIER_REF}-metadata": metadata}
    if task in ("AdjustmentVideoObjectDetection", "AdjustmentVideoObjectTracking"):
        tracking = task.endswith("Tracking")
        frames = []
        for number, frame in enumerate(_video_frames(i)):
            annotations = []
            for n, box in enumerate(frame["annotations"]):
                annotation = {k: box[k] for k in ("height", "width", "top", "left")}
                annotation.update({"class-id": str(CLASSES.index(box["label"])), "label-category-attributes": {}})
                if tracking:
                    annotation.update({"object-id": f"id-{n}", "object-name": box.get("object", f"{box['label']}:1")})
                annotations.append(annotation)
            frames.append({"annotations": annotations, "frame-no": str(number), "frame": frame["frame"]})
        key = "tracking-annotations" if tracking else "detection-annotations"
        uri = aws.put_text(
            f"earlier/annotations/consolidated-annotation/output/{i}/SeqLabel.json", json.dumps({key: frames})
        )
        output_type = "groundtruth/video-object-tracking" if tracking else "groundtruth/video-object-detection"
        return {EARLIER_REF: uri, f"{EARLIER_REF}-metadata": _earlier_metadata(output_type, **{"class-map": class_map})}
    if task == "Adjustment3DPointCloudObjectDetection":
        cuboids = [_earlier_cuboid(c, n) for n, c in enumerate(_cuboids(i))]
        metadata = _earlier_metadata("groundtruth/lidar_object_detection", objects=[], class_map=class_map)
        return {EARLIER: {"annotations": cuboids}, f"{EARLIER}-metadata": metadata}
    if task == "Adjustment3DPointCloudObjectTracking":
        frames = [
            {"frame-number": f, "frame-name": f"{f}.txt.pcd", "annotations": [_earlier_cuboid(c, n, track=True)
             for n, c in enumerate(_cuboids(i, f))]}
            for f in range(3)
        ]  # fmt: skip
        uri = aws.put_text(
            f"{output[len(f's3://{aws.bucket}/') :]}/SeqLabel.json", json.dumps({"tracking-annotations": frames})
        )
        metadata = _earlier_metadata("groundtruth/lidar_object_tracking", **{"class-map": class_map})
        return {EARLIER_REF: uri, f"{EARLIER_REF}-metadata": metadata}
    if task == "Adjustment3DPointCloudSemanticSegmentation":
        labels = bytes([i % 3 + 1] * 90 + [0] * 30 + [(i + 1) % 3 + 1] * 60 + [0] * 20)
        key = f"earlier/annotations/consolidated-annotation/output/{i}/labels.zlib"
        aws.client("s3").put_object(Bucket=aws.bucket, Key=key, Body=zlib.compress(labels))
        colors = {
            k: {**v, "class-name": "Background" if k == "0" else v["class-name"]} for k, v in _color_map().items()
        }
        metadata = _earlier_metadata("groundtruth/lidar_single_frame_semantic_segmentation", **{"color-map": colors})
        return {EARLIER_REF: f"s3://{aws.bucket}/{key}", f"{EARLIER_REF}-metadata": metadata}
    return {}


def _earlier_cuboid(cuboid: dict[str, Any], n: int, track: bool = False) -> dict[str, Any]:
    label = cuboid["label"]
    earlier = {
        "label-category-attributes": {},
        "object-name": f"{label}:1",
        "class-id": CLASSES.index(label),
        **{k: v for k, v in cuboid.items() if k not in ("label", "label-category-attributes")},
        "roll": 0,
        "pitch": 0,
        "yaw": cuboid.get("yaw", 0),
    }
    earlier["center-x"] += 0.5  # off the truth: an adjustment has something to fix
    if track:
        earlier["object-id"] = f"id-{n}"
    return earlier


def _source(task: str, i: int) -> dict[str, str]:
    family = task_types.get_task_type(task).family
    if family is task_types.TaskFamily.TEXT:
        return {"source": f"Alice met Bob in Paris on day {i}."}
    suffix = {task_types.TaskFamily.VIDEO: "json", task_types.TaskFamily.POINT_CLOUD: "txt"}.get(family, "png")
    return {"source-ref": f"s3://gt-provider-demo/data/{i}.{suffix}"}


def label_config(task: str) -> dict[str, Any]:
    """The label category configuration ``put_task_inputs`` uploads for ``task``."""
    info = task_types.get_task_type(task)
    entries = NER_LABELS if task == "NamedEntityRecognition" else [{"label": name} for name in labels_of(task)]
    if info.label_config_document_version == "2020-03-01":
        config: dict[str, Any] = {"documentVersion": "2020-03-01", "labels": entries}
    else:
        config = {"document-version": "2018-11-28", "labels": entries}
    audit = earlier_label_attribute(task)
    if audit:
        config["auditLabelAttributeName"] = audit
    return config


def earlier_label_attribute(task: str) -> str | None:
    """The attribute the review job ``task`` reads its earlier label from (None if not a review)."""
    if not task_types.get_task_type(task).is_review:
        return None
    inline = task in ("VerificationBoundingBox", "AdjustmentBoundingBox", "Adjustment3DPointCloudObjectDetection")
    return EARLIER if inline else EARLIER_REF


def put_task_inputs(aws: Any, task: str, n_objects: int = 4) -> dict[str, str]:
    """A valid small job of ``task``: manifest with references (and earlier labels), label config, template."""
    lines = [{**_source(task, i), "gt-local-answer": reference_answer(task, i), **earlier_label(aws, task, i)}
             for i in range(n_objects)]  # fmt: skip
    return {
        "manifest": aws.put_text("input/input.manifest", "".join(json.dumps(line) + "\n" for line in lines)),
        "labels": aws.put_text("config/labels.json", json.dumps(label_config(task))),
        "template": aws.put_text("config/template.liquid.html", "<crowd-form></crowd-form>"),
    }


# ------------------------------------------------------- automated data labeling


def put_ticket_inputs(aws: Any, n_objects: int = 1300) -> dict[str, Any]:
    """A TextMultiClass job's inputs on the sample support tickets (truth as reference); URIs and truth."""
    from include.sample_text import TICKET_CLASSES, support_tickets

    tickets = support_tickets(n_objects)
    lines = [{"source": t.text, "gt-local-answer": t.classes[0]} for t in tickets]
    return {**_job_inputs(aws, "tickets", lines, TICKET_CLASSES), "truth": [t.classes[0] for t in tickets]}


def put_digit_inputs(aws: Any, n_objects: int = 1300) -> dict[str, Any]:
    """An ImageMultiClass job's inputs on the sample digits (PNG in S3, truth as reference); URIs and truth."""
    from include.sample_data import DIGIT_NAMES, digit_images

    s3, lines = aws.client("s3"), []
    for name, png, digit in digit_images(n_objects):
        s3.put_object(Bucket=aws.bucket, Key=f"digits/{name}", Body=png)
        lines.append({"source-ref": f"s3://{aws.bucket}/digits/{name}", "gt-local-answer": digit})
    return {**_job_inputs(aws, "digits", lines, DIGIT_NAMES), "truth": [line["gt-local-answer"] for line in lines]}


def automated(request: dict[str, Any], task: str, initial_model_arn: str | None = None) -> dict[str, Any]:
    """``request`` with automated data labeling on (and a warm start from ``initial_model_arn``)."""
    config = {
        "LabelingJobAlgorithmSpecificationArn": task_types.get_task_type(task).auto_labeling_algorithm_arn("us-east-1")
    }
    if initial_model_arn:
        config["InitialActiveLearningModelArn"] = initial_model_arn
    return {**request, "LabelingJobAlgorithmsConfig": config}
