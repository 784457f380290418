"""
### Label new images with Ground Truth, nightly, into a versioned dataset

Every night (or once, from the **Trigger** form) this DAG:

0. **check_params** — refuses, naming the param or Variable, what the form cannot check.
1. **seed_sample_images** (group `sample_data`) — on a bucket with no images under
   `raw/digits/`, uploads scikit-learn's handwritten digits as PNGs (demo data; off with
   `seed_sample_data`).
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
   offered again next night; labels under `relabel_below_confidence` are marked doubtful,
   and up to `max_relabel` of them join a later run's job, once).
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
`gt_provider.callbacks.log_failure`, where a team plugs its alerting in. What the example
DAGs share (settings, defaults, check, seeding, report) is in `include/pipeline.py`.
"""

from __future__ import annotations

from gt_provider.forms import labeling_params
from gt_provider.operators.labeling import GroundTruthLabelingJobOperator
from include import pipeline

DIGIT_LABELS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
RAW_PREFIX = "raw/digits/"
DATASET = "digits"
LEDGER_URI = pipeline.ledger_uri("gt_image_classification")

with pipeline.pipeline_dag(
    "gt_image_classification",
    description="Label new images with Ground Truth every night into a versioned dataset",
    doc_md=__doc__,
    tags=["image-classification"],
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
        gold=True,
    ),
) as dag:
    checked = pipeline.check_labeling_params()
    seeded = pipeline.seed_sample_data(
        "seed_sample_images", prefix=RAW_PREFIX, upload="include.sample_data:upload_digits", after=checked
    )
    manifest_uri = pipeline.input_manifest(
        "{{ params.task_type }}",
        ledger_uri=LEDGER_URI,
        after=seeded,
        source_prefix=f"s3://{pipeline.BUCKET}/{RAW_PREFIX}",
        suffixes=[".png", ".jpg", ".jpeg"],
        # Demo images carry their true digit for the local AWS's simulated workers.
        carry_metadata=["gt-local-answer"],
        gold_manifest_uri="{{ params.gold_manifest_uri or None }}",
        gold_rate="{{ params.gold_rate }}",
        gold_labels="{{ params.labels }}",
        max_relabel="{{ params.max_relabel }}",
    )
    labeling = GroundTruthLabelingJobOperator(
        task_id="label_images",
        task_type="{{ params.task_type }}",
        input_manifest_uri=manifest_uri,
        labels="{{ params.labels }}",
        short_instructions="{{ params.short_instructions }}",
        full_instructions="{{ params.full_instructions }}",
        **pipeline.labeling_job_arguments(),
        **pipeline.automated_labeling_arguments(LEDGER_URI, after=checked),
    )
    dataset = pipeline.record_and_build_dataset(
        labeling.output,
        ledger_uri=LEDGER_URI,
        dataset=DATASET,
        formats=["jsonl", "class-listing", "huggingface"],
        exclude_flagged_workers="{{ params.exclude_flagged_workers }}",
        relabel_below_confidence="{{ params.relabel_below_confidence }}",
    )
    pipeline.report(labeling.output, dataset)
