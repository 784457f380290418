"""Training jobs on a local algorithm really fit a model (public boto3 client only)."""

from __future__ import annotations

import contextlib
import io
import json
import pickle
import tarfile

import pytest
from botocore.exceptions import ClientError, WaiterError

from gt_provider.datasets.channels import training_channels
from include.sample_data import digit_images


def _training_request(aws, image: str, channels: dict[str, str], name: str = "train-1") -> dict:
    return {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "Pipe"},
        "RoleArn": aws.role_arn,
        "InputDataConfig": training_channels(_card(aws, channels)),
        "OutputDataConfig": {"S3OutputPath": f"s3://{aws.bucket}/models/"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }


def _card(aws, channels: dict[str, str]) -> dict:
    """The dataset card fields ``training_channels`` reads, for manifests put under the test bucket."""
    root = f"s3://{aws.bucket}/"
    return {
        "uri": root,
        "files": {"augmented-manifest": {split: [uri.removeprefix(root)] for split, uri in channels.items()}},
        "source_field": "source-ref",
        "label_attribute": "label",
        "counts": {"per_split": dict.fromkeys(channels, 1)},
    }


def _wait(sagemaker, name: str) -> dict:
    """botocore's own waiter (it raises on Failed; the description tells the rest)."""
    with contextlib.suppress(WaiterError):
        sagemaker.get_waiter("training_job_completed_or_stopped").wait(
            TrainingJobName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
        )
    return sagemaker.describe_training_job(TrainingJobName=name)


def _put_digits(aws, count: int) -> dict[str, str]:
    s3 = aws.client("s3")
    lines = {"train": [], "validation": []}
    for index, (name, png, digit) in enumerate(digit_images(count)):
        s3.put_object(Bucket=aws.bucket, Key=f"raw/{name}", Body=png)
        split = "validation" if index % 5 == 0 else "train"
        label = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"].index(digit)
        lines[split].append(json.dumps({"source-ref": f"s3://{aws.bucket}/raw/{name}", "label": str(label)}))
    return {split: aws.put_text(f"data/{split}.manifest", "\n".join(rows) + "\n") for split, rows in lines.items()}


def test_image_classification_trains_and_reports_accuracy(aws):
    sagemaker = aws.client("sagemaker")
    sagemaker.create_training_job(
        **_training_request(aws, "gt-provider-local/image-classification:latest", _put_digits(aws, 150))
    )

    job = _wait(sagemaker, "train-1")

    assert job["TrainingJobStatus"] == "Completed"
    metrics = {m["MetricName"]: m["Value"] for m in job["FinalMetricDataList"]}
    assert 0.6 < metrics["validation:accuracy"] <= 1.0  # digits are easy; chance is 0.1
    artifact = job["ModelArtifacts"]["S3ModelArtifacts"]
    assert artifact == f"s3://{aws.bucket}/models/train-1/output/model.tar.gz"
    body = aws.client("s3").get_object(Bucket=aws.bucket, Key="models/train-1/output/model.tar.gz")["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        model = pickle.loads(tar.extractfile("model.pkl").read())
    assert hasattr(model, "predict")


def test_text_classification_trains(aws):
    rows = {
        split: [
            json.dumps({"source": text, "label": str(label)})
            for i in range(30)
            for label, text in enumerate([f"the cat purrs {i}", f"the dog barks {i}"])
        ]
        for split in ("train", "validation")
    }
    channels = {split: aws.put_text(f"text/{split}.manifest", "\n".join(lines)) for split, lines in rows.items()}
    request = _training_request(aws, "gt-provider-local/text-classification:latest", channels)
    for channel in request["InputDataConfig"]:
        channel["DataSource"]["S3DataSource"]["AttributeNames"] = ["source", "label"]
    sagemaker = aws.client("sagemaker")
    sagemaker.create_training_job(**request)
    job = _wait(sagemaker, "train-1")
    assert {m["MetricName"]: m["Value"] for m in job["FinalMetricDataList"]}["validation:accuracy"] == 1.0


def test_unknown_local_algorithm_is_refused(aws):
    with pytest.raises(ClientError) as raised:
        aws.client("sagemaker").create_training_job(
            **_training_request(aws, "gt-provider-local/xgboost:1", {"train": "s3://gt-provider-demo/x"})
        )
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert "image-classification" in raised.value.response["Error"]["Message"]


def test_missing_channel_data_fails_the_job_with_algorithm_error(aws):
    sagemaker = aws.client("sagemaker")
    sagemaker.create_training_job(
        **_training_request(
            aws, "gt-provider-local/image-classification:latest", {"train": f"s3://{aws.bucket}/nothing.manifest"}
        )
    )
    job = _wait(sagemaker, "train-1")
    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith("AlgorithmError:")
    assert "nothing.manifest" in job["FailureReason"]
