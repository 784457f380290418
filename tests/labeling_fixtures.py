"""Helpers that build valid Ground Truth inputs on the local AWS, for tests to break one field at a time."""

from __future__ import annotations

import copy
import json
from typing import Any

from gt_provider import task_types

CLASSES = ["cat", "dog", "bird"]


def put_classification_inputs(aws: Any, n_objects: int = 30, task: str = "ImageMultiClass") -> dict[str, str]:
    """Input manifest (with reference answers), label config and template; their URIs."""
    if task == "TextMultiClass":
        lines = [{"source": f"text number {i}", "gt-local-answer": CLASSES[i % 3]} for i in range(n_objects)]
    else:
        lines = [
            {"source-ref": f"s3://{aws.bucket}/images/{i}.png", "gt-local-answer": CLASSES[i % 3]}
            for i in range(n_objects)
        ]
    return {
        "manifest": aws.put_text("input/input.manifest", "".join(json.dumps(line) + "\n" for line in lines)),
        "labels": aws.put_text(
            "config/labels.json",
            json.dumps({"document-version": "2018-11-28", "labels": [{"label": c} for c in CLASSES]}),
        ),
        "template": aws.put_text("config/template.liquid.html", "<crowd-form></crowd-form>"),
    }


def labeling_request(
    aws: Any, uris: dict[str, str], name: str = "job-1", task: str = "ImageMultiClass", workers: int = 3
) -> dict[str, Any]:
    info = task_types.get_task_type(task)
    return copy.deepcopy(
        {
            "LabelingJobName": name,
            "LabelAttributeName": "animal",
            "InputConfig": {"DataSource": {"S3DataSource": {"ManifestS3Uri": uris["manifest"]}}},
            "OutputConfig": {"S3OutputPath": f"s3://{aws.bucket}/output"},
            "RoleArn": aws.role_arn,
            "LabelCategoryConfigS3Uri": uris["labels"],
            "HumanTaskConfig": {
                "WorkteamArn": aws.workteam_arn,
                "UiConfig": {"UiTemplateS3Uri": uris["template"]},
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
