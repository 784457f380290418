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
2. **seed_sample_images** (group `sample_data`) — when nothing is under `raw/digit-boxes/`, uploads `max_objects`
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
   `s3://<bucket>/datasets/boxes/v=<N>/`, in COCO, YOLO and Pascal VOC form with a dataset card,
   built only from objects that passed review. It emits an event on the Asset
   `gt_dataset_boxes` for training DAGs. Keep one `review_type` per dataset: the two take
   their boxes from different attributes.
9. **report** — logs both jobs and the dataset.

Settings (Airflow Variables, with local defaults): `gt_bucket`, `gt_role_arn`,
`gt_workteam_arn` (the form's `workteam_arn` overrides it; both jobs use it). Environment:
`GT_POLL_SECONDS` (how often waits poll AWS, default 60), `GT_RETRY_DELAY_SECONDS`
(default 60). Failures go through `gt_provider.callbacks.log_failure`. The same file runs
against AWS and against the embedded local AWS: only the `aws_default` connection's
`endpoint_url` differs. What the example DAGs share (settings, defaults, seeding, report)
is in `include/pipeline.py`.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import task

from gt_provider.forms import check_run_settings, labeling_params
from gt_provider.operators.labeling import GroundTruthLabelingJobOperator
from include import pipeline

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
LEDGER_URI = pipeline.ledger_uri("gt_object_detection_with_review")


@task(multiple_outputs=True)
def check_params(review_type: str, labels: list[str], settings: dict[str, str]) -> dict[str, Any]:
    """Refuse, naming the param or Variable, what the form cannot check; return the review job's settings."""
    review = REVIEWS[review_type]
    # The form's labels go to the first job, and to the review job when it adjusts the boxes.
    check_run_settings(
        label_task_types=("BoundingBox", review_type) if review["labels"] is None else ("BoundingBox",),
        labels=labels,
        backend_task_types=("BoundingBox", review_type),
        **settings,
        what="the labeling jobs",
    )
    print(f"then {review_type} reviews the boxes")
    return {**review, "labels": list(review["labels"] or labels)}


with pipeline.pipeline_dag(
    "gt_object_detection_with_review",
    description="Draw bounding boxes with Ground Truth, review them in a chained job, keep what passed",
    doc_md=__doc__,
    tags=["object-detection", "review"],
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
    plan = check_params("{{ params.review_type }}", "{{ params.labels }}", pipeline.RUN_SETTINGS)
    seeded = pipeline.seed_sample_data(
        "seed_sample_images", prefix=RAW_PREFIX, upload="include.sample_boxes:upload_digit_boxes", after=plan
    )
    manifest_uri = pipeline.input_manifest(
        "BoundingBox",
        ledger_uri=LEDGER_URI,
        after=seeded,
        source_prefix=f"s3://{pipeline.BUCKET}/{RAW_PREFIX}",
        suffixes=[".png", ".jpg", ".jpeg"],
        # Demo images carry their true box for the local AWS's simulated workers.
        carry_metadata=["gt-local-answer"],
    )
    boxes = GroundTruthLabelingJobOperator(
        task_id="draw_boxes",
        task_type="BoundingBox",
        input_manifest_uri=manifest_uri,
        labels="{{ params.labels }}",
        label_attribute_name=BOXES_ATTRIBUTE,
        short_instructions="{{ params.short_instructions }}",
        full_instructions="{{ params.full_instructions }}",
        task_keywords=["bounding box", "digits"],
        **pipeline.labeling_job_arguments(),
        **pipeline.automated_labeling_arguments(LEDGER_URI, after=plan),
    )
    review = GroundTruthLabelingJobOperator(
        task_id="review_boxes",
        task_type="{{ params.review_type }}",
        # The first job's output manifest is this job's input; it reviews the first job's attribute.
        audit_of=boxes.output,
        labels=plan["labels"],
        label_attribute_name=plan["label_attribute_name"],
        short_instructions=plan["short_instructions"],
        full_instructions=plan["full_instructions"],
        task_keywords=["bounding box", "review"],
        **pipeline.labeling_job_arguments(),
    )
    dataset = pipeline.record_and_build_dataset(
        # The review job's output lines carry both the boxes and the review.
        review.output,
        ledger_uri=LEDGER_URI,
        dataset=DATASET,
        formats=["coco", "yolo", "voc"],
        label_attribute=plan["dataset_label_attribute"],
        review_attribute=plan["review_attribute"],
        review_accept=ACCEPTED_VERDICTS,
    )
    pipeline.report(boxes.output, dataset, review.output)
