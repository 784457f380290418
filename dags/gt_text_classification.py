"""
### Label new support tickets with Ground Truth, nightly, into a versioned text dataset

Texts arrive as a **drop file** in S3, `s3://<bucket>/raw/tickets/tickets.jsonl` (JSON
Lines, one ticket a line: `{"ticket_id": "T-00042", "text": "..."}`; a CSV with a `text`
column works the same — change `DROP_KEY`). Teams append to it or replace it; the ledger
makes sure a text is labeled once. Every night (or once, from the **Trigger** form) this DAG:

1. **check_params** — refuses, with the param's name, what the form cannot check: label
   rules of the chosen task type, and the `gt_workteam_arn` / `gt_role_arn` / `gt_bucket`
   Variables (the public workforce, Mechanical Turk, closed in September 2026).
2. **seed_sample_text** (group `sample_data`) — when nothing is under `raw/tickets/`, uploads a demo drop of
   `max_objects` generated support tickets (billing, shipping, technical, account) with the
   reference answers the local AWS's simulated workers read (`gt-local-answer`; real Ground
   Truth ignores it). Off with `seed_sample_data`.
3. **build_input_manifest** — one `{"source": <text>, "ticket_id": ...}` line per ticket
   *not labeled before* (the ledger `s3://<bucket>/labeling/ledger/gt_text_classification.jsonl`),
   at most `max_objects`, into `s3://<bucket>/labeling/manifests/<run>/input.manifest`.
   **When nothing is new, the rest of the run is skipped**: no empty job is paid for.
4. **validate_input_manifest** — checks every line before anything is paid for.
5. **label_texts** — a Ground Truth `TextMultiClass` (one class per ticket) or
   `TextMultiClassMultiLabel` (any number) job, `workers_per_object` workers per text. The
   wait is **deferred** to the triggerer: no worker slot is held while people label.
6. **record_labeled_objects** — adds what was labeled to the ledger (failed objects are
   offered again next night).
7. **build_dataset** — the next version of the `tickets` dataset,
   `s3://<bucket>/datasets/tickets/v=<N>/` (the previous version plus the new labels, split
   train / validation / test, stratified, sticky), as JSON Lines, CSV and fastText, with a
   dataset card. It emits an event on the Asset `gt_dataset_tickets` for training DAGs.
   Keep one task type per dataset: a multi-label version cannot extend a single-label one.
8. **report** — logs what was labeled and where the dataset went.

Settings (Airflow Variables, with local defaults): `gt_bucket`, `gt_role_arn`,
`gt_workteam_arn` (the form's `workteam_arn` overrides it). Environment: `GT_POLL_SECONDS`
(how often waits poll AWS, default 60), `GT_RETRY_DELAY_SECONDS` (default 60). Failures go
through `gt_provider.callbacks.log_failure`. The same file runs against AWS and against the
embedded local AWS: only the `aws_default` connection's `endpoint_url` differs. What the
example DAGs share (settings, defaults, check, seeding, report) is in `include/pipeline.py`.

To use your own drop: set `seed_sample_data` to false (or delete the `sample_data` group), point
`DROP_KEY` and `TEXT_FIELD` at your file, and list in `CARRY_FIELDS` the fields to keep
beside each label (drop `gt-local-answer`).
"""

from __future__ import annotations

from gt_provider.forms import labeling_params
from gt_provider.operators.labeling import GroundTruthLabelingJobOperator
from include import pipeline

TASK_TYPES = ["TextMultiClass", "TextMultiClassMultiLabel"]
TICKET_LABELS = ["billing", "shipping", "technical", "account"]
DROP_PREFIX = "raw/tickets/"
DROP_KEY = f"{DROP_PREFIX}tickets.jsonl"
TEXT_FIELD = "text"
#: Copied from the drop onto each manifest line, and so onto each labeled record.
CARRY_FIELDS = ["ticket_id", "gt-local-answer"]
DATASET = "tickets"
LEDGER_URI = pipeline.ledger_uri("gt_text_classification")

with pipeline.pipeline_dag(
    "gt_text_classification",
    description="Label new texts from an S3 drop with Ground Truth every night into a versioned dataset",
    doc_md=__doc__,
    tags=["text-classification"],
    params=labeling_params(
        task_types=TASK_TYPES,
        task_type_help="TextMultiClass: one class per text. TextMultiClassMultiLabel: any number of classes.",
        labels=TICKET_LABELS,
        object_noun="text",
        max_objects=300,
        short_instructions="Choose what the support ticket is about.",
        full_instructions="Read the ticket. billing: charges, refunds, invoices. shipping: delivery, parcels, "
        "addresses. technical: apps, devices, errors. account: login, personal data, account settings.",
        seed_help=f"Upload generated support tickets when {DROP_PREFIX} is empty",
    ),
) as dag:
    checked = pipeline.check_labeling_params()
    seeded = pipeline.seed_sample_data(
        "seed_sample_text",
        prefix=DROP_PREFIX,
        upload="include.sample_text:upload_ticket_drop",
        after=checked,
        key=DROP_KEY,
        task_type="{{ params.task_type }}",
    )
    manifest_uri = pipeline.input_manifest(
        "{{ params.task_type }}",
        ledger_uri=LEDGER_URI,
        after=seeded,
        source_object=f"s3://{pipeline.BUCKET}/{DROP_KEY}",
        text_field=TEXT_FIELD,
        carry_fields=CARRY_FIELDS,
    )
    labeling = GroundTruthLabelingJobOperator(
        task_id="label_texts",
        task_type="{{ params.task_type }}",
        input_manifest_uri=manifest_uri,
        labels="{{ params.labels }}",
        short_instructions="{{ params.short_instructions }}",
        full_instructions="{{ params.full_instructions }}",
        task_keywords=["text classification", "support tickets"],
        **pipeline.labeling_job_arguments(),
        **pipeline.automated_labeling_arguments(LEDGER_URI, after=checked),
    )
    dataset = pipeline.record_and_build_dataset(
        labeling.output, ledger_uri=LEDGER_URI, dataset=DATASET, formats=["jsonl", "csv", "fasttext"]
    )
    pipeline.report(labeling.output, dataset)
