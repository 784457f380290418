"""
### Draw boxes with Ground Truth, have them reviewed, and keep what passed review

Two chained Ground Truth jobs per run: workers draw bounding boxes, then other workers
review those boxes in a second job that reads the first job's output manifest. Only boxes
that passed review go into the `boxes` dataset. Every night (or once, from the **Trigger**
form) this DAG:

1. **check_params** — refuses, with the param's name, what the form cannot check (label
   rules of both jobs' task types; the `gt_workteam_arn` / `gt_role_arn` / `gt_bucket`
   Variables — the public workforce, Mechanical Turk, closed in September 2026) and returns
   the review job's settings for the chosen `review_type` (the `REVIEWS` table below).
2. **seed_sample_images** — when nothing is under `raw/digit-boxes/`, uploads `max_objects`
   handwritten digits (scikit-learn's, as PNGs) with their true box as S3 metadata
   (`gt-local-answer`, read by the local AWS's simulated workers; real Ground Truth ignores
   it). Off with `seed_sample_data`.
3. **build_input_manifest** — one `{"source-ref": ...}` line per image *not labeled before*
   (the ledger `s3://<bucket>/labeling/ledger/gt_object_detection_with_review.jsonl`), at most
   `max_objects`, into `s3://<bucket>/labeling/manifests/<run>/input.manifest`.
   **When nothing is new, the rest of the run is skipped**: no empty job is paid for.
4. **validate_input_manifest** — checks every line before anything is paid for.
5. **draw_boxes** — a `BoundingBox` job, label attribute `boxes`, `workers_per_object`
   workers per image (boxes consolidated by overlap).
6. **review_boxes** — the review job, `audit_of` the first: its input manifest is the first
   job's output manifest and it reviews the `boxes` attribute. `review_type`:
   - `VerificationBoundingBox`: workers judge the boxes `correct` or `incorrect`
     (attribute `box-verdict`); the dataset keeps the images judged `correct`.
   - `AdjustmentBoundingBox`: workers fix the boxes (attribute `boxes-adjusted`, with an
     `adjustment-status` of adjusted / unadjusted); the dataset takes the fixed boxes.
   Both waits are **deferred** to the triggerer: no worker slot is held while people work.
7. **record_labeled_objects** — adds the reviewed images to the ledger (images whose
   labeling or review failed are offered again next night; images judged `incorrect` are
   not — the dataset card counts them as `failed-review`).
8. **build_dataset** — the next version of the `boxes` dataset,
   `s3://<bucket>/datasets/boxes/v=<N>/`, in COCO and YOLO form with a dataset card,
   built only from objects that passed review. It emits an event on the Asset
   `gt_dataset_boxes` for training DAGs. Keep one `review_type` per dataset: the two take
   their boxes from different attributes.
9. **report** — logs both jobs and the dataset.

Settings (Airflow Variables, with local defaults): `gt_bucket`, `gt_role_arn`,
`gt_workteam_arn` (the form's `workteam_arn` overrides it; both jobs use it). Environment:
`GT_POLL_SECONDS` (how often waits poll AWS, default 60), `GT_RETRY_DELAY_SECONDS`
(default 60). Failures go through `gt_provider.callbacks.log_failure`. The same file runs
against AWS and against the embedded local AWS: only the `aws_default` connection's
`endpoint_url` differs.
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
RAW_PREFIX = "raw/digit-boxes/"
DATASET = "boxes"
#: The first job's label attribute: the key of its boxes on every output line.
BOXES_ATTRIBUTE = "boxes"
#: The verification job's labels. The first one means "the boxes are right" (the local AWS's
#: simulated reviewers answer it when the boxes match the reference answer).
VERDICTS = ["correct", "incorrect"]
ACCEPTED_VERDICTS = ["correct"]
#: The review job of each review type: its label attribute and instructions, and where the
#: dataset takes its boxes from (``review_attribute`` set: keep objects with an accepted verdict).
REVIEWS: dict[str, dict[str, Any]] = {
    "VerificationBoundingBox": {
        "label_attribute_name": "box-verdict",
        "labels": VERDICTS,
        "short_instructions": "Is every digit in one tight box with the right label? Choose correct or incorrect.",
        "full_instructions": "Choose correct when each digit has exactly one box, the box touches the digit's "
        "edges, and its label names the digit. Otherwise choose incorrect.",
        "dataset_label_attribute": BOXES_ATTRIBUTE,
        "review_attribute": "box-verdict",
    },
    "AdjustmentBoundingBox": {
        "label_attribute_name": "boxes-adjusted",
        "labels": None,  # the form's labels: the boxes keep their classes
        "short_instructions": "Fix the boxes: each digit needs one tight box with the right label.",
        "full_instructions": "Move or resize boxes that do not touch the digit's edges, correct wrong labels, "
        "delete extra boxes and draw missing ones. Submit unchanged when the boxes are right.",
        "dataset_label_attribute": "boxes-adjusted",
        "review_attribute": None,
    },
}
#: Read once per parse from the environment (no Variable lookup at parse time).
POLL_SECONDS = int(os.environ.get("GT_POLL_SECONDS", "60"))

BUCKET = "{{ var.value.get('gt_bucket', 'gt-provider-demo') }}"
ROLE_ARN = "{{ var.value.get('gt_role_arn', 'arn:aws:iam::123456789012:role/GroundTruthExecutionRole') }}"
#: The form's workteam, or else the Variable.
WORKTEAM_ARN = (
    "{{ params.workteam_arn or var.value.get('gt_workteam_arn', "
    "'arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/gt-local-team') }}"
)
LEDGER_URI = f"s3://{BUCKET}/labeling/ledger/gt_object_detection_with_review.jsonl"


with DAG(
    dag_id="gt_object_detection_with_review",
    description="Draw bounding boxes with Ground Truth, review them in a chained job, keep what passed",
    doc_md=__doc__,
    schedule="@daily",
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    tags=["ground-truth", "object-detection", "review", "example"],
    default_args={
        "owner": "data-platform",
        "retries": 2,
        "retry_delay": timedelta(seconds=int(os.environ.get("GT_RETRY_DELAY_SECONDS", "60"))),
        "on_failure_callback": log_failure,
    },
    render_template_as_native_obj=True,
    params=labeling_params(
        task_type_param="review_type",
        task_types=list(REVIEWS),
        task_type_help="VerificationBoundingBox: reviewers judge the boxes and the dataset keeps the accepted ones. "
        "AdjustmentBoundingBox: reviewers fix the boxes and the dataset takes the fixed ones.",
        labels=DIGIT_LABELS,
        min_labels=1,
        object_noun="image",
        max_objects=100,
        short_instructions="Draw one tight box around the digit and label it with the digit's name.",
        short_instructions_help="For the workers who draw the boxes (the review job's are in the DAG's REVIEWS table)",
        full_instructions=(
            "Each image shows one handwritten digit. Draw a box whose edges touch the digit's outermost ink "
            "and choose the digit's name as its label."
        ),
        seed_help=f"Upload sample digits with their true box when {RAW_PREFIX} is empty",
    ),
) as dag:

    @task(multiple_outputs=True)
    def check_params(
        review_type: str, labels: list[str], form_workteam_arn: str, workteam_arn: str, role_arn: str, bucket: str
    ) -> dict[str, Any]:
        """Refuse, naming the param or Variable, what the form cannot check; return the review job's settings."""
        review = REVIEWS[review_type]
        review_labels = list(review["labels"] or labels)
        # The form's labels go to the first job, and to the review job when it adjusts the boxes.
        check_run_settings(
            label_task_types=("BoundingBox", review_type) if review["labels"] is None else ("BoundingBox",),
            labels=labels,
            form_workteam_arn=form_workteam_arn,
            workteam_arn=workteam_arn,
            role_arn=role_arn,
            bucket=bucket,
            what="the labeling jobs",
        )
        print(f"then {review_type} reviews the boxes")
        return {**review, "labels": review_labels}

    @task
    def seed_sample_images(bucket: str, seed: bool, count: int) -> int:
        """Upload demo digits with their true box as metadata, unless images are there already."""
        import json

        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        s3 = S3Hook(aws_conn_id="aws_default")
        if not seed or s3.list_keys(bucket_name=bucket, prefix=RAW_PREFIX, max_items=1):
            return 0
        from include.sample_boxes import REFERENCE_METADATA_KEY, digit_box_images

        client = s3.get_conn()
        uploaded = 0
        for name, png, reference in digit_box_images(min(count, 1797)):
            client.put_object(
                Bucket=bucket,
                Key=f"{RAW_PREFIX}{name}",
                Body=png,
                ContentType="image/png",
                # S3 metadata holds strings: the box goes JSON-encoded (the local AWS decodes it).
                Metadata={REFERENCE_METADATA_KEY: json.dumps(reference, separators=(",", ":"))},
            )
            uploaded += 1
        print(f"Seeded {uploaded} sample images with boxes under s3://{bucket}/{RAW_PREFIX}")
        return uploaded

    @task
    def report(boxes: dict[str, Any], review: dict[str, Any], dataset: dict[str, Any]) -> dict[str, Any]:
        """Log and return what this run produced."""
        from gt_provider.status import format_progress

        summary = {
            "labeling_job": boxes["job_name"],
            "labeled": format_progress(boxes["label_counters"]),
            "review_job": review["job_name"],
            "reviewed": format_progress(review["label_counters"]),
            "dataset": dataset["uri"],
            "dataset_version": dataset["version"],
            "dataset_counts": dataset["counts"],
        }
        print(f"Boxes: {summary['labeled']} in {summary['labeling_job']}")
        print(f"Review ({review['task_type']}): {summary['reviewed']} in {summary['review_job']}")
        print(f"Dataset {DATASET} v={dataset['version']} at {dataset['uri']}: {dataset['counts']}")
        return summary

    plan = check_params(
        "{{ params.review_type }}", "{{ params.labels }}", "{{ params.workteam_arn }}", WORKTEAM_ARN, ROLE_ARN, BUCKET
    )
    seeded = seed_sample_images(BUCKET, "{{ params.seed_sample_data }}", "{{ params.max_objects }}")
    plan >> seeded
    manifest = BuildManifestOperator(
        task_id="build_input_manifest",
        manifest_prefix=f"s3://{BUCKET}/labeling/manifests",
        source_prefix=f"s3://{BUCKET}/{RAW_PREFIX}",
        suffixes=[".png", ".jpg", ".jpeg"],
        # Demo images carry their true box for the local AWS's simulated workers.
        carry_metadata=["gt-local-answer"],
        ledger_uri=LEDGER_URI,
        max_objects="{{ params.max_objects }}",
    )
    seeded >> manifest
    validated = ValidateManifestOperator(
        task_id="validate_input_manifest",
        manifest_uri="{{ ti.xcom_pull(task_ids='build_input_manifest')['manifest_uri'] }}",
        task_type="BoundingBox",
        on_invalid="fail",  # a bad manifest stops the run before a labeling job is paid for
    )
    manifest >> validated
    boxes = GroundTruthLabelingJobOperator(
        task_id="draw_boxes",
        task_type="BoundingBox",
        input_manifest_uri="{{ ti.xcom_pull(task_ids='validate_input_manifest')['labeling_manifest_uri'] }}",
        output_path=f"s3://{BUCKET}/labeling/output",
        labels="{{ params.labels }}",
        label_attribute_name=BOXES_ATTRIBUTE,
        workteam_arn=WORKTEAM_ARN,
        role_arn=ROLE_ARN,
        short_instructions="{{ params.short_instructions }}",
        full_instructions="{{ params.full_instructions }}",
        workers_per_object="{{ params.workers_per_object }}",
        task_keywords=["bounding box", "digits"],
        waiter_delay=POLL_SECONDS,
        deferrable=True,  # the wait runs in the triggerer: no worker slot held for days
    )
    validated >> boxes
    review = GroundTruthLabelingJobOperator(
        task_id="review_boxes",
        task_type="{{ params.review_type }}",
        # The first job's output manifest is this job's input; it reviews the first job's attribute.
        audit_of=boxes.output,
        output_path=f"s3://{BUCKET}/labeling/output",
        labels=plan["labels"],
        label_attribute_name=plan["label_attribute_name"],
        workteam_arn=WORKTEAM_ARN,
        role_arn=ROLE_ARN,
        short_instructions=plan["short_instructions"],
        full_instructions=plan["full_instructions"],
        workers_per_object="{{ params.workers_per_object }}",
        task_keywords=["bounding box", "review"],
        waiter_delay=POLL_SECONDS,
        deferrable=True,
    )
    recorded = RecordLabeledObjectsOperator(
        task_id="record_labeled_objects", ledger_uri=LEDGER_URI, labeling=review.output
    )
    dataset = BuildTrainingDatasetOperator(
        task_id="build_dataset",
        # The review job's output lines carry both the boxes and the review.
        output_manifests=review.output,
        dataset_uri=f"s3://{BUCKET}/datasets/{DATASET}",
        label_attribute=plan["dataset_label_attribute"],
        review_attribute=plan["review_attribute"],
        review_accept=ACCEPTED_VERDICTS,
        formats=["coco", "yolo"],
        asset=dataset_asset(DATASET),
    )
    recorded >> dataset
    report(boxes.output, review.output, dataset.output)
