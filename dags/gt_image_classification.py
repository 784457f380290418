"""
### Label new images with Ground Truth, nightly, into a versioned dataset

Every night (or once, from the **Trigger** form) this DAG:

1. **seed_sample_images** — on a bucket with no images under `raw/digits/`, uploads
   scikit-learn's handwritten digits as PNGs (demo data; off with `seed_sample_data`).
2. **build_input_manifest** — the images not labeled before (the pipeline's ledger,
   `s3://<bucket>/labeling/ledger/gt_image_classification.jsonl`), at most `max_objects`,
   into `s3://<bucket>/labeling/manifests/<run>/input.manifest` (never overwriting one).
   **When nothing is new, the rest of the run is skipped**: no empty job is paid for.
3. **validate_input_manifest** — checks every line before anything is paid for.
4. **label_images** — a Ground Truth image classification job on a private or vendor
   workteam, `workers_per_object` workers per image. The wait is **deferred** to the
   triggerer: no worker slot is held while people label. Progress is logged
   (`312/1000 labeled, 4 failed`).
5. **record_labeled_objects** — adds what was labeled to the ledger (failed objects are
   offered again next night).
6. **build_dataset** — the next version of the `digits` dataset,
   `s3://<bucket>/datasets/digits/v=<N>/`: last night's dataset plus the new labels, split
   train / validation / test (stratified, and no image ever changes split), with a dataset
   card. It emits an event on the Asset `gt_dataset_digits`, which schedules
   `gt_train_on_dataset`.
7. **report** — logs what was labeled and where the dataset went.

The same file runs against AWS and against the embedded local AWS: only the `aws_default`
connection's `endpoint_url` differs. Settings (Airflow Variables, with local defaults):
`gt_bucket`, `gt_role_arn`, `gt_workteam_arn`. Environment: `GT_POLL_SECONDS` (how often
waits poll AWS, default 60) and `GT_RETRY_DELAY_SECONDS` (default 60). Failures go through
`gt_provider.callbacks.log_failure`, where a team plugs its alerting in.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import DAG, task

from gt_provider.callbacks import log_failure
from gt_provider.forms import check_run_settings, labeling_params
from gt_provider.operators.dataset import BuildTrainingDatasetOperator, dataset_asset
from gt_provider.operators.labeling import GroundTruthLabelingJobOperator
from gt_provider.operators.manifest import (
    BuildManifestOperator,
    RecordLabeledObjectsOperator,
    ValidateManifestOperator,
)

DIGIT_LABELS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
RAW_PREFIX = "raw/digits/"
#: Read once per parse from the environment (no Variable lookup at parse time).
POLL_SECONDS = int(os.environ.get("GT_POLL_SECONDS", "60"))

BUCKET = "{{ var.value.get('gt_bucket', 'gt-provider-demo') }}"
ROLE_ARN = "{{ var.value.get('gt_role_arn', 'arn:aws:iam::123456789012:role/GroundTruthExecutionRole') }}"
#: The form's workteam, or else the Variable.
WORKTEAM_ARN = (
    "{{ params.workteam_arn or var.value.get('gt_workteam_arn', "
    "'arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/gt-local-team') }}"
)
LEDGER_URI = f"s3://{BUCKET}/labeling/ledger/gt_image_classification.jsonl"
DATASET = "digits"


with DAG(
    dag_id="gt_image_classification",
    description="Label new images with Ground Truth every night into a versioned dataset",
    doc_md=__doc__,
    schedule="@daily",
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    tags=["ground-truth", "image-classification", "example"],
    default_args={
        "owner": "data-platform",
        "retries": 2,
        "retry_delay": timedelta(seconds=int(os.environ.get("GT_RETRY_DELAY_SECONDS", "60"))),
        "on_failure_callback": log_failure,
    },
    render_template_as_native_obj=True,
    params=labeling_params(
        task_types=["ImageMultiClass"],
        task_type_help="One label per image. For several labels per image, copy this DAG with "
        "ImageMultiClassMultiLabel and its own dataset.",
        labels=DIGIT_LABELS,
        object_noun="image",
        max_objects=200,
        short_instructions="Choose the digit shown in the image.",
        full_instructions="Each image shows one handwritten digit from 0 to 9. Choose its name.",
        seed_help=f"Upload sample digits when {RAW_PREFIX} is empty",
    ),
) as dag:

    @task
    def check_params(
        task_type: str, labels: list[str], form_workteam_arn: str, workteam_arn: str, role_arn: str, bucket: str
    ) -> None:
        """Refuse, naming the param or Variable, the values the trigger form cannot check."""
        check_run_settings(
            label_task_types=[task_type],
            labels=labels,
            form_workteam_arn=form_workteam_arn,
            workteam_arn=workteam_arn,
            role_arn=role_arn,
            bucket=bucket,
        )

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
    def report(labeling: dict[str, Any], dataset: dict[str, Any]) -> dict[str, Any]:
        """Log and return what this run produced."""
        from gt_provider.status import format_progress

        summary = {
            "labeling_job": labeling["job_name"],
            "labeled": format_progress(labeling["label_counters"]),
            "dataset": dataset["uri"],
            "dataset_version": dataset["version"],
            "dataset_counts": dataset["counts"],
        }
        print(f"Labeled {summary['labeled']} in {summary['labeling_job']}")
        print(f"Dataset {DATASET} v={dataset['version']} at {dataset['uri']}: {dataset['counts']}")
        return summary

    checked = check_params(
        "{{ params.task_type }}", "{{ params.labels }}", "{{ params.workteam_arn }}", WORKTEAM_ARN, ROLE_ARN, BUCKET
    )
    seeded = seed_sample_images(BUCKET, "{{ params.seed_sample_data }}", "{{ params.max_objects }}")
    checked >> seeded
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
        task_type="{{ params.task_type }}",
        on_invalid="fail",  # a bad manifest stops the run before a labeling job is paid for
    )
    manifest >> validated
    labeling = GroundTruthLabelingJobOperator(
        task_id="label_images",
        task_type="{{ params.task_type }}",
        input_manifest_uri="{{ ti.xcom_pull(task_ids='validate_input_manifest')['labeling_manifest_uri'] }}",
        output_path=f"s3://{BUCKET}/labeling/output",
        labels="{{ params.labels }}",
        workteam_arn=WORKTEAM_ARN,
        role_arn=ROLE_ARN,
        short_instructions="{{ params.short_instructions }}",
        full_instructions="{{ params.full_instructions }}",
        workers_per_object="{{ params.workers_per_object }}",
        waiter_delay=POLL_SECONDS,
        deferrable=True,  # the wait runs in the triggerer: no worker slot held for days
    )
    validated >> labeling
    recorded = RecordLabeledObjectsOperator(
        task_id="record_labeled_objects", ledger_uri=LEDGER_URI, labeling=labeling.output
    )
    dataset = BuildTrainingDatasetOperator(
        task_id="build_dataset",
        output_manifests=labeling.output,
        dataset_uri=f"s3://{BUCKET}/datasets/{DATASET}",
        formats=["jsonl", "class-listing"],
        asset=dataset_asset(DATASET),
    )
    recorded >> dataset
    report(labeling.output, dataset.output)
