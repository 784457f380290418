"""
### Label new support tickets with Ground Truth, nightly, into a versioned text dataset

Texts arrive as a **drop file** in S3, `s3://<bucket>/raw/tickets/tickets.jsonl` (JSON
Lines, one ticket a line: `{"ticket_id": "T-00042", "text": "..."}`; a CSV with a `text`
column works the same — change `DROP_KEY`). Teams append to it or replace it; the ledger
makes sure a text is labeled once. Every night (or once, from the **Trigger** form) this DAG:

1. **check_params** — refuses, with the param's name, what the form cannot check: label
   rules of the chosen task type, and the `gt_workteam_arn` / `gt_role_arn` / `gt_bucket`
   Variables (the public workforce, Mechanical Turk, closed in September 2026).
2. **seed_sample_text** — when nothing is under `raw/tickets/`, uploads a demo drop of
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
embedded local AWS: only the `aws_default` connection's `endpoint_url` differs.

To use your own drop: set `seed_sample_data` to false (or delete the seed task), point
`DROP_KEY` and `TEXT_FIELD` at your file, and list in `CARRY_FIELDS` the fields to keep
beside each label (drop `gt-local-answer`).
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

TASK_TYPES = ["TextMultiClass", "TextMultiClassMultiLabel"]
TICKET_LABELS = ["billing", "shipping", "technical", "account"]
DROP_PREFIX = "raw/tickets/"
DROP_KEY = f"{DROP_PREFIX}tickets.jsonl"
TEXT_FIELD = "text"
#: Copied from the drop onto each manifest line, and so onto each labeled record.
CARRY_FIELDS = ["ticket_id", "gt-local-answer"]
DATASET = "tickets"
#: Read once per parse from the environment (no Variable lookup at parse time).
POLL_SECONDS = int(os.environ.get("GT_POLL_SECONDS", "60"))

BUCKET = "{{ var.value.get('gt_bucket', 'gt-provider-demo') }}"
ROLE_ARN = "{{ var.value.get('gt_role_arn', 'arn:aws:iam::123456789012:role/GroundTruthExecutionRole') }}"
#: The form's workteam, or else the Variable.
WORKTEAM_ARN = (
    "{{ params.workteam_arn or var.value.get('gt_workteam_arn', "
    "'arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/gt-local-team') }}"
)
LEDGER_URI = f"s3://{BUCKET}/labeling/ledger/gt_text_classification.jsonl"


with DAG(
    dag_id="gt_text_classification",
    description="Label new texts from an S3 drop with Ground Truth every night into a versioned dataset",
    doc_md=__doc__,
    schedule="@daily",
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    tags=["ground-truth", "text-classification", "example"],
    default_args={
        "owner": "data-platform",
        "retries": 2,
        "retry_delay": timedelta(seconds=int(os.environ.get("GT_RETRY_DELAY_SECONDS", "60"))),
        "on_failure_callback": log_failure,
    },
    render_template_as_native_obj=True,
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
    def seed_sample_text(bucket: str, seed: bool, count: int, task_type: str) -> int:
        """Upload the demo drop (tickets with reference answers) unless the drop prefix holds files."""
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        s3 = S3Hook(aws_conn_id="aws_default")
        if not seed or s3.list_keys(bucket_name=bucket, prefix=DROP_PREFIX, max_items=1):
            return 0
        from include.sample_text import MAX_TICKETS, ticket_drop

        count = min(count, MAX_TICKETS)
        s3.load_string(ticket_drop(count, task_type), key=DROP_KEY, bucket_name=bucket, replace=False)
        print(f"Seeded {count} sample tickets ({task_type} reference answers) into s3://{bucket}/{DROP_KEY}")
        return count

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
    seeded = seed_sample_text(
        BUCKET, "{{ params.seed_sample_data }}", "{{ params.max_objects }}", "{{ params.task_type }}"
    )
    checked >> seeded
    manifest = BuildManifestOperator(
        task_id="build_input_manifest",
        manifest_prefix=f"s3://{BUCKET}/labeling/manifests",
        source_object=f"s3://{BUCKET}/{DROP_KEY}",
        text_field=TEXT_FIELD,
        carry_fields=CARRY_FIELDS,
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
        task_id="label_texts",
        task_type="{{ params.task_type }}",
        input_manifest_uri="{{ ti.xcom_pull(task_ids='validate_input_manifest')['labeling_manifest_uri'] }}",
        output_path=f"s3://{BUCKET}/labeling/output",
        labels="{{ params.labels }}",
        workteam_arn=WORKTEAM_ARN,
        role_arn=ROLE_ARN,
        short_instructions="{{ params.short_instructions }}",
        full_instructions="{{ params.full_instructions }}",
        workers_per_object="{{ params.workers_per_object }}",
        task_keywords=["text classification", "support tickets"],
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
        formats=["jsonl", "csv", "fasttext"],
        asset=dataset_asset(DATASET),
    )
    recorded >> dataset
    report(labeling.output, dataset.output)
