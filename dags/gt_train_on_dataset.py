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
3. **train_model** — `ReattachingTrainingOperator` (the Amazon provider's
   `SageMakerTrainingOperator`, whose retry re-attaches to the job an earlier try created
   instead of paying for a second one), waiting for the job.
4. **evaluate** — records the model's `validation:accuracy` and the best accuracy among the
   versions already registered in the model package group `digits-classifier`.
5. **register_model** — only when the new model beats that best (a short-circuit skips it
   otherwise): `SageMakerRegisterModelVersionOperator` adds a version, pending manual
   approval, carrying the metric, the dataset version and the training job. A retry after
   the version was created returns it instead of registering the model twice.

Settings (Airflow Variables, with local defaults): `gt_bucket`, `gt_role_arn`,
`gt_training_image`, `gt_inference_image`. `GT_POLL_SECONDS` sets how often the training wait
polls. Copy this file and change `DATASET`, the hyperparameters and the metric for your model.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.providers.amazon.aws.operators.sagemaker import SageMakerRegisterModelVersionOperator
from airflow.sdk import DAG, Param, task

from gt_provider.callbacks import log_failure
from gt_provider.operators.dataset import dataset_asset
from gt_provider.operators.training import ReattachingTrainingOperator

DATASET = "digits"
MODEL_PACKAGE_GROUP = "digits-classifier"
METRIC = "validation:accuracy"
POLL_SECONDS = int(os.environ.get("GT_POLL_SECONDS", "60"))

BUCKET = "{{ var.value.get('gt_bucket', 'gt-provider-demo') }}"
ROLE_ARN = "{{ var.value.get('gt_role_arn', 'arn:aws:iam::123456789012:role/GroundTruthExecutionRole') }}"
TRAINING_IMAGE = "{{ var.value.get('gt_training_image', 'gt-provider-local/image-classification:latest') }}"
INFERENCE_IMAGE = "{{ var.value.get('gt_inference_image', 'gt-provider-local/image-classification:latest') }}"


def registered_models(sagemaker: Any) -> list[dict[str, Any]]:
    """DescribeModelPackage of every version in the model package group (none when there is no group yet)."""
    from botocore.exceptions import ClientError

    summaries: list[dict[str, Any]] = []
    try:
        for page in sagemaker.get_paginator("list_model_packages").paginate(ModelPackageGroupName=MODEL_PACKAGE_GROUP):
            summaries += page["ModelPackageSummaryList"]
    except ClientError as error:
        # Only "no such group yet" means "nothing registered"; anything else (access denied,
        # throttling) must not let a model through unexamined.
        if error.response["Error"]["Code"] not in ("ValidationException", "ResourceNotFound"):
            raise
    return [sagemaker.describe_model_package(ModelPackageName=s["ModelPackageArn"]) for s in summaries]


class _RegisterModelVersionOperator(SageMakerRegisterModelVersionOperator):
    """The Amazon provider's operator with ``extras`` templated (the metric is known at run time),
    and safe to retry: the version an earlier try registered for the same training job is
    returned instead of registering a second one."""

    template_fields = (*SageMakerRegisterModelVersionOperator.template_fields, "extras")

    def execute(self, context: Any) -> str:
        job = (self.extras or {}).get("CustomerMetadataProperties", {}).get("training_job")
        for package in registered_models(self.hook.conn) if job else []:
            if package.get("CustomerMetadataProperties", {}).get("training_job") == job:
                self.log.info(
                    "%s is registered for %s already (an earlier try): not again", package["ModelPackageArn"], job
                )
                return package["ModelPackageArn"]
        return super().execute(context)


with DAG(
    dag_id="gt_train_on_dataset",
    description="Train on each new version of the labeled digits dataset; register the model if it is better",
    doc_md=__doc__,
    schedule=[dataset_asset(DATASET)],
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    tags=["ground-truth", "training", "example"],
    default_args={
        "owner": "ml-platform",
        "retries": 2,
        "retry_delay": timedelta(seconds=int(os.environ.get("GT_RETRY_DELAY_SECONDS", "60"))),
        "on_failure_callback": log_failure,
    },
    render_template_as_native_obj=True,
    params={
        "dataset_uri": Param(
            "",
            type="string",
            pattern=r"^(|s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.+/v=[0-9]+/?)$",
            description="Manual runs: a dataset version (s3://.../v=<N>/). Empty: the latest version.",
        ),
    },
) as dag:

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
        from gt_provider.datasets.channels import training_channels
        from gt_provider.labeling_request import default_job_name

        return {
            # Readable, and the same on every try of a run: a retry finds the job its earlier
            # try created and waits for it (ReattachingTrainingOperator).
            "TrainingJobName": default_job_name(DATASET, f"train-v{dataset['version']}", run_id or ""),
            "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "Pipe"},
            "RoleArn": role_arn,
            "InputDataConfig": training_channels(dataset, splits=("train", "validation")),
            "OutputDataConfig": {"S3OutputPath": f"s3://{bucket}/models/{DATASET}/v={dataset['version']}/"},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
            "HyperParameters": {"num_classes": str(len(dataset["label_map"])), "image_size": "8"},
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        }

    @task
    def evaluate(training: dict[str, Any], dataset: dict[str, Any]) -> dict[str, Any]:
        """The new model's metric and the best one already registered in the model package group."""
        from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook

        job = training["Training"]
        metrics = {metric["MetricName"]: metric["Value"] for metric in job.get("FinalMetricDataList", [])}
        if METRIC not in metrics:
            raise ValueError(f"training job {job['TrainingJobName']} reported no {METRIC} (got {sorted(metrics)})")
        previous = [
            float(package["CustomerMetadataProperties"][METRIC])
            for package in registered_models(SageMakerHook(aws_conn_id="aws_default").conn)
            if METRIC in package.get("CustomerMetadataProperties", {})
        ]
        best = max(previous, default=None)
        result = {
            "metric": METRIC,
            "value": metrics[METRIC],
            "best_registered": best,
            "better": best is None or metrics[METRIC] > best,
            "model_artifact": job["ModelArtifacts"]["S3ModelArtifacts"],
            "dataset_version": dataset["version"],
            "training_job": job["TrainingJobName"],
            # Registry metadata values are strings; rendered natively, they stay strings.
            "registration_extras": {
                "CustomerMetadataProperties": {
                    METRIC: f"{metrics[METRIC]:.4f}",
                    "dataset_version": str(dataset["version"]),
                    "training_job": job["TrainingJobName"],
                }
            },
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

    dataset = resolve_dataset(BUCKET)
    config = training_config(dataset, BUCKET, ROLE_ARN, TRAINING_IMAGE)
    train = ReattachingTrainingOperator(
        task_id="train_model", config=config, wait_for_completion=True, print_log=False, check_interval=POLL_SECONDS
    )
    evaluation = evaluate(train.output, dataset)
    register = _RegisterModelVersionOperator(
        task_id="register_model",
        image_uri=INFERENCE_IMAGE,
        model_url="{{ ti.xcom_pull(task_ids='evaluate')['model_artifact'] }}",
        package_group_name=MODEL_PACKAGE_GROUP,
        package_group_desc="Digit classifiers trained on Ground Truth labels",
        package_desc="{{ ti.xcom_pull(task_ids='evaluate')['training_job'] }}",
        extras="{{ ti.xcom_pull(task_ids='evaluate')['registration_extras'] }}",
    )
    beats_registered_models(evaluation) >> register
