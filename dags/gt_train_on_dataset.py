"""
### Train a classifier whenever a new version of the labeled dataset lands

Scheduled on the **dataset Asset** `gt_dataset_digits`, not on time: every version that
`gt_image_classification` commits triggers one run. The run:

1. **resolve_dataset** — reads the triggering Asset event's extra (dataset version and
   S3 URI, counts) and the version's `dataset.json`. Triggered by hand, it takes the
   `dataset_uri` param (a `.../v=<N>/` folder), or else the latest committed version.
2. **training_config** — `SageMakerTrainingOperator`'s request, with the dataset's
   train / validation channels from `gt_provider.datasets.channels.training_channels`
   (augmented manifests in Pipe mode; the test split is held out).
3. **train_model** — `GroundTruthTrainingOperator` (the Amazon provider's
   `SageMakerTrainingOperator`, whose retry re-attaches to the job an earlier try created
   instead of paying for a second one), waiting for the job.
4. **evaluate** — records the model's `validation:accuracy` and the best accuracy among the
   versions already registered in the model package group `digits-classifier`.
5. **register_model** — only when the new model beats that best (a short-circuit skips it
   otherwise): `GroundTruthRegisterModelVersionOperator` adds a version, pending manual
   approval, carrying the metric, the dataset version and the training job. A retry after
   the version was created returns it instead of registering the model twice. "Beats" is
   decided on the metric as the registry keeps it (4 decimals): the same model trained
   again is not better than itself.

Settings (Airflow Variables, with local defaults): `gt_bucket`, `gt_role_arn`,
`gt_training_image`, `gt_inference_image`. `GT_POLL_SECONDS` sets how often the training wait
polls. Copy this file and change `DATASET`, the hyperparameters and the metric for your model.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Param, task

from gt_provider.operators.dataset import dataset_asset
from gt_provider.operators.training import GroundTruthRegisterModelVersionOperator, GroundTruthTrainingOperator
from include import pipeline

DATASET = "digits"
MODEL_PACKAGE_GROUP = "digits-classifier"
METRIC = "validation:accuracy"

TRAINING_IMAGE = "{{ var.value.get('gt_training_image', 'gt-provider-local/image-classification:latest') }}"
INFERENCE_IMAGE = "{{ var.value.get('gt_inference_image', 'gt-provider-local/image-classification:latest') }}"


def registry_value(value: float) -> str:
    """The metric as the model registry keeps it (metadata values are strings)."""
    return f"{value:.4f}"


@task
def resolve_dataset(bucket: str, params: dict[str, Any], triggering_asset_events: Any = None) -> dict[str, Any]:
    """The dataset version to train on: the Asset event's, the form's, or the latest one."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from gt_provider.datasets.storage import DatasetLocation

    client = S3Hook(aws_conn_id="aws_default").get_conn()
    events = [event for events in (triggering_asset_events or {}).values() for event in events]
    if events:
        extra = events[-1].extra
        print(f"Triggered by dataset {extra['name']} v={extra['version']} ({extra['uri']}): {extra['counts']}")
        version_uri = extra["uri"]
    elif params.get("dataset_uri"):
        version_uri = params["dataset_uri"]
    else:
        location = DatasetLocation(f"s3://{bucket}/datasets/{DATASET}", s3_client=client)
        committed = location.committed_versions()
        if not committed:
            raise ValueError(f"no committed version under {location.root}/: run gt_image_classification first")
        version_uri = location.version_uri(committed[-1])
    root, _, folder = version_uri.rstrip("/").rpartition("/")
    card = DatasetLocation(root, s3_client=client).read_card(int(folder.removeprefix("v=")))
    return {
        key: card[key]
        for key in ("name", "version", "uri", "files", "source_field", "label_attribute", "label_map", "counts")
    }


@task
def training_config(
    dataset: dict[str, Any], bucket: str, role_arn: str, image: str, run_id: str | None = None
) -> dict[str, Any]:
    """The CreateTrainingJob request for the dataset's train and validation channels."""
    from airflow.providers.common.compat.sdk import AirflowFailException

    from gt_provider.datasets.channels import training_channels
    from gt_provider.datasets.errors import DatasetError
    from gt_provider.labeling_request import default_job_name

    try:  # evaluate reads validation:accuracy, so both channels must have objects
        channels = training_channels(dataset, splits=("train", "validation"), required=("train", "validation"))
    except DatasetError as error:  # the version will not change on a retry: fail now, no training job
        raise AirflowFailException(str(error)) from None
    return {
        # Readable, and the same on every try of a run: a retry finds the job its earlier
        # try created and waits for it (GroundTruthTrainingOperator).
        "TrainingJobName": default_job_name(DATASET, f"train-v{dataset['version']}", run_id or ""),
        "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "Pipe"},
        "RoleArn": role_arn,
        "InputDataConfig": channels,
        "OutputDataConfig": {"S3OutputPath": f"s3://{bucket}/models/{DATASET}/v={dataset['version']}/"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        "HyperParameters": {"num_classes": str(len(dataset["label_map"])), "image_size": "8"},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    }


@task(multiple_outputs=True)
def evaluate(training: dict[str, Any], dataset: dict[str, Any]) -> dict[str, Any]:
    """The new model's metric and the best one already registered in the model package group."""
    from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook

    from gt_provider.operators.training import registered_model_packages

    job = training["Training"]
    metrics = {metric["MetricName"]: metric["Value"] for metric in job.get("FinalMetricDataList", [])}
    if METRIC not in metrics:
        raise ValueError(f"training job {job['TrainingJobName']} reported no {METRIC} (got {sorted(metrics)})")
    previous = [
        float(package["CustomerMetadataProperties"][METRIC])
        for package in registered_model_packages(SageMakerHook(aws_conn_id="aws_default").conn, MODEL_PACKAGE_GROUP)
        if METRIC in package.get("CustomerMetadataProperties", {})
    ]
    best = max(previous, default=None)
    # Compared as the registry keeps it: 15/22 = 0.681818... is registered as "0.6818", and
    # the same model trained again must not beat its own registration.
    registered = registry_value(metrics[METRIC])
    result = {
        "metric": METRIC,
        "value": metrics[METRIC],
        "best_registered": best,
        "better": best is None or float(registered) > best,
        "model_artifact": job["ModelArtifacts"]["S3ModelArtifacts"],
        "dataset_version": dataset["version"],
        "training_job": job["TrainingJobName"],
        # Registry metadata values are strings; rendered natively, they stay strings.
        "registration_metadata": {METRIC: registered, "dataset_version": str(dataset["version"])},
    }
    verdict = "registering it" if result["better"] else "not registering it"
    print(
        f"Model trained on {dataset['name']} v={dataset['version']}: {METRIC} = {result['value']:.3f} "
        f"(best registered: {'none' if best is None else f'{best:.3f}'}); {verdict}"
    )
    return result


@task.short_circuit
def beats_registered_models(evaluation: dict[str, Any]) -> bool:
    """Only a better model becomes a new version in the model registry."""
    return bool(evaluation["better"])


with pipeline.pipeline_dag(
    "gt_train_on_dataset",
    description="Train on each new version of the labeled digits dataset; register the model if it is better",
    doc_md=__doc__,
    schedule=[dataset_asset(DATASET)],
    tags=["training"],
    owner="ml-platform",
    params={
        "dataset_uri": Param(
            None,
            type=["null", "string"],
            title="Dataset version",
            pattern=r"^(|s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.+/v=[0-9]+/?)$",
            description="Manual runs: a dataset version (s3://.../v=<N>/). Empty: the latest version.",
        ),
    },
) as dag:
    dataset = resolve_dataset(pipeline.BUCKET)
    config = training_config(dataset, pipeline.BUCKET, pipeline.ROLE_ARN, TRAINING_IMAGE)
    train = GroundTruthTrainingOperator(
        task_id="train_model",
        config=config,
        wait_for_completion=True,
        print_log=False,
        check_interval=pipeline.poll_seconds(),
    )
    evaluation = evaluate(train.output, dataset)
    register = GroundTruthRegisterModelVersionOperator(
        task_id="register_model",
        image_uri=INFERENCE_IMAGE,
        model_url=evaluation["model_artifact"],
        package_group_name=MODEL_PACKAGE_GROUP,
        package_group_desc="Digit classifiers trained on Ground Truth labels",
        package_desc=evaluation["training_job"],
        training_job=evaluation["training_job"],
        metadata=evaluation["registration_metadata"],
    )
    beats_registered_models(evaluation) >> register
