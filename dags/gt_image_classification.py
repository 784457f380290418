"""
### Label images with Ground Truth, then train a classifier on the labels

Every night (or when triggered from the UI form) this DAG:

1. **seed_sample_images** — on a bucket with no images under the raw prefix, uploads
   scikit-learn's handwritten digits as PNGs (demo data; turn off with the
   `seed_sample_data` param).
2. **build_input_manifest** — the images not labeled before (the pipeline's ledger in
   `s3://<bucket>/labeling/ledger/`), at most `max_objects`, into
   `s3://<bucket>/labeling/manifests/<run>/input.manifest` (never overwriting an earlier one).
   When nothing is new, the rest of the run is skipped.
   **validate_input_manifest** checks it line by line before anything is paid for.
3. **label_images** — a Ground Truth single-label image classification job on a private
   workteam, `workers_per_object` workers per image; waits, logging progress.
   **record_labeled_objects** then adds what was labeled to the ledger (failed objects are
   offered again next run).
4. **build_dataset** — splits the output augmented manifest into train / validation
   deterministically (by a hash of each image's URI) under `s3://<bucket>/datasets/digits/<run>/`.
5. **train_model** — `SageMakerTrainingOperator` on the dataset's augmented-manifest channels.
6. **report** — logs what was labeled and the model's `validation:accuracy`.

The same file runs against AWS and against the embedded local AWS: only the `aws_default`
connection's `endpoint_url` differs. Settings (Airflow Variables, with local defaults):
`gt_bucket`, `gt_role_arn`, `gt_workteam_arn`, `gt_training_image`. The environment variable
`GT_POLL_SECONDS` sets how often waits poll AWS (default 60; `make demo` uses 2).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.providers.amazon.aws.operators.sagemaker import SageMakerTrainingOperator
from airflow.sdk import DAG, Param, task

from gt_provider.operators.labeling import GroundTruthLabelingJobOperator
from gt_provider.operators.manifest import (
    BuildManifestOperator,
    RecordLabeledObjectsOperator,
    ValidateManifestOperator,
    run_folder,
)

DIGIT_LABELS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
RAW_PREFIX = "raw/digits/"
#: Read once per parse from the environment (no Variable lookup at parse time).
POLL_SECONDS = int(os.environ.get("GT_POLL_SECONDS", "60"))

BUCKET = "{{ var.value.get('gt_bucket', 'gt-provider-demo') }}"
ROLE_ARN = "{{ var.value.get('gt_role_arn', 'arn:aws:iam::123456789012:role/GroundTruthExecutionRole') }}"
WORKTEAM_ARN = (
    "{{ var.value.get('gt_workteam_arn', "
    "'arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/gt-local-team') }}"
)
LEDGER_URI = f"s3://{BUCKET}/labeling/ledger/gt_image_classification.jsonl"
TRAINING_IMAGE = "{{ var.value.get('gt_training_image', 'gt-provider-local/image-classification:latest') }}"


with DAG(
    dag_id="gt_image_classification",
    description="Label digit images with Ground Truth and train a classifier on them",
    doc_md=__doc__,
    schedule="@daily",
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    tags=["ground-truth", "image-classification", "example"],
    default_args={"owner": "data-platform", "retries": 2, "retry_delay": timedelta(minutes=1)},
    render_template_as_native_obj=True,
    params={
        "max_objects": Param(200, type="integer", minimum=1, maximum=100_000, description="Images to label"),
        "workers_per_object": Param(3, type="integer", minimum=1, maximum=9, description="Workers per image"),
        "seed_sample_data": Param(
            True, type="boolean", description="Upload sample digits when the raw prefix is empty"
        ),
    },
) as dag:

    @task
    def seed_sample_images(bucket: str, seed: bool, count: int) -> int:
        """Upload demo digits with their true label as metadata, unless images are there already."""
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        s3 = S3Hook(aws_conn_id="aws_default")
        if not seed or s3.list_keys(bucket_name=bucket, prefix=RAW_PREFIX, max_items=1):
            return 0
        from include.sample_data import REFERENCE_METADATA_KEY, digit_images

        client = s3.get_conn()
        uploaded = 0
        for name, png, digit in digit_images(min(count, 1797)):
            client.put_object(
                Bucket=bucket,
                Key=f"{RAW_PREFIX}{name}",
                Body=png,
                ContentType="image/png",
                Metadata={REFERENCE_METADATA_KEY: digit},
            )
            uploaded += 1
        print(f"Seeded {uploaded} sample images under s3://{bucket}/{RAW_PREFIX}")
        return uploaded

    @task
    def build_dataset(labeling: dict[str, Any], bucket: str, run_id: str | None = None) -> dict[str, Any]:
        """Split the labeled output deterministically into train / validation manifests."""
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        from gt_provider.datasets.split import split_output_manifest
        from gt_provider.manifests.build import manifest_text

        s3 = S3Hook(aws_conn_id="aws_default")
        out_bucket, out_key = S3Hook.parse_s3_url(labeling["output_manifest_uri"])
        lines = s3.read_key(out_key, bucket_name=out_bucket).splitlines()
        split = split_output_manifest(lines, labeling["label_attribute_name"], {"train": 0.8, "validation": 0.2})
        prefix = f"datasets/digits/{run_folder(run_id)}"
        uris = {}
        for name, split_lines in split.lines.items():
            key = f"{prefix}/{name}/{name}.manifest"
            if not s3.check_for_key(key, bucket_name=bucket):  # a retry of this run wrote the same split
                s3.load_string(manifest_text(split_lines), key=key, bucket_name=bucket, replace=False)
            uris[name] = f"s3://{bucket}/{key}"
        print(f"Dataset {prefix}: {split.counts()} ({split.failed} objects without a label left out)")
        return {
            "uris": uris,
            "counts": split.counts(),
            "failed": split.failed,
            "label_attribute_name": labeling["label_attribute_name"],
        }

    @task
    def training_config(
        dataset: dict[str, Any], bucket: str, role_arn: str, image: str, run_id: str | None = None
    ) -> dict[str, Any]:
        """The CreateTrainingJob request for the dataset's channels."""
        from gt_provider.datasets.split import training_channels
        from gt_provider.labeling_request import default_job_name

        return {
            # Deterministic per run, like the labeling job's name.
            "TrainingJobName": default_job_name("digits", "train", run_id),
            "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "Pipe"},
            "RoleArn": role_arn,
            "InputDataConfig": training_channels(dataset["uris"], "source-ref", dataset["label_attribute_name"]),
            "OutputDataConfig": {"S3OutputPath": f"s3://{bucket}/models/digits/"},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
            "HyperParameters": {"num_classes": str(len(DIGIT_LABELS)), "image_size": "8"},
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        }

    @task
    def report(training: dict[str, Any], labeling: dict[str, Any], dataset: dict[str, Any]) -> dict[str, Any]:
        """Log and return what this run produced."""
        from gt_provider.status import format_progress

        job = training["Training"]
        metrics = {metric["MetricName"]: metric["Value"] for metric in job.get("FinalMetricDataList", [])}
        summary = {
            "labeling_job": labeling["job_name"],
            "labeled": format_progress(labeling["label_counters"]),
            "dataset": dataset["uris"],
            "dataset_counts": dataset["counts"],
            "model_artifact": job["ModelArtifacts"]["S3ModelArtifacts"],
            "metrics": metrics,
        }
        print(f"Labeled {summary['labeled']} in {summary['labeling_job']}")
        print(f"Dataset {summary['dataset']} {summary['dataset_counts']}")
        print(f"Model {summary['model_artifact']}: validation:accuracy = {metrics.get('validation:accuracy')}")
        return summary

    seeded = seed_sample_images(BUCKET, "{{ params.seed_sample_data }}", "{{ params.max_objects }}")
    manifest = BuildManifestOperator(
        task_id="build_input_manifest",
        manifest_prefix=f"s3://{BUCKET}/labeling/manifests",
        source_prefix=f"s3://{BUCKET}/{RAW_PREFIX}",
        suffixes=[".png", ".jpg", ".jpeg"],
        # Demo images carry their true digit for the local AWS's simulated workers.
        carry_metadata=["gt-local-answer"],
        ledger_uri=LEDGER_URI,
        max_objects="{{ params.max_objects }}",
    )
    seeded >> manifest
    validated = ValidateManifestOperator(
        task_id="validate_input_manifest",
        manifest_uri="{{ ti.xcom_pull(task_ids='build_input_manifest')['manifest_uri'] }}",
        task_type="ImageMultiClass",
        on_invalid="fail",  # a bad manifest stops the run before a labeling job is paid for
    )
    manifest >> validated
    labeling = GroundTruthLabelingJobOperator(
        task_id="label_images",
        task_type="ImageMultiClass",
        input_manifest_uri="{{ ti.xcom_pull(task_ids='validate_input_manifest')['labeling_manifest_uri'] }}",
        output_path=f"s3://{BUCKET}/labeling/output",
        labels=DIGIT_LABELS,
        workteam_arn=WORKTEAM_ARN,
        role_arn=ROLE_ARN,
        short_instructions="Choose the digit shown in the image.",
        full_instructions="Each image shows one handwritten digit from 0 to 9. Choose its name.",
        workers_per_object="{{ params.workers_per_object }}",
        waiter_delay=POLL_SECONDS,
        deferrable=True,  # the wait runs in the triggerer: no worker slot held for days
    )
    validated >> labeling
    RecordLabeledObjectsOperator(task_id="record_labeled_objects", ledger_uri=LEDGER_URI, labeling=labeling.output)
    dataset = build_dataset(labeling.output, BUCKET)
    train = SageMakerTrainingOperator(
        task_id="train_model",
        config=training_config(dataset, BUCKET, ROLE_ARN, TRAINING_IMAGE),
        wait_for_completion=True,
        print_log=False,
        check_interval=POLL_SECONDS,
    )
    report(train.output, labeling.output, dataset)
