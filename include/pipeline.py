"""What the example DAGs share: settings, the DAG's defaults, the first check, the demo data, the report.

Each DAG file then reads as its table in the README: one task a row, with only what is its
own (labels, sources, formats). The DAG processor imports this module with every DAG file,
so it stays light: boto3, numpy, PIL and scikit-learn are imported inside tasks only
(``tests/dags/test_dagbag.py`` checks).

Settings are Airflow Variables read when a task runs (Jinja), never at parse time:
``gt_bucket``, ``gt_role_arn``, ``gt_workteam_arn`` (the form's ``workteam_arn`` wins),
``gt_labeling_backend`` (``ground_truth`` or ``label_studio``; the form's ``backend`` wins).
The environment sets ``GT_POLL_SECONDS`` (how often waits poll AWS, default 60) and
``GT_RETRY_DELAY_SECONDS`` (default 60), read when a DAG file is parsed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import DAG, Param, TaskGroup, task

from gt_provider.callbacks import log_failure

BUCKET = "{{ var.value.get('gt_bucket', 'gt-provider-demo') }}"
ROLE_ARN = "{{ var.value.get('gt_role_arn', 'arn:aws:iam::123456789012:role/GroundTruthExecutionRole') }}"
#: The form's workteam, or else the Variable.
WORKTEAM_ARN = (
    "{{ params.workteam_arn or var.value.get('gt_workteam_arn', "
    "'arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/gt-local-team') }}"
)
#: The form's labeling backend, or else the Variable, or else Ground Truth.
BACKEND = "{{ params.backend or var.value.get('gt_labeling_backend', 'ground_truth') }}"
#: What ``check_params`` checks besides the labels: the form's workteam field, and the
#: workteam, role, bucket and backend the run will use (Variables the form cannot see).
RUN_SETTINGS = {
    "form_workteam_arn": "{{ params.workteam_arn or '' }}",
    "workteam_arn": WORKTEAM_ARN,
    "role_arn": ROLE_ARN,
    "bucket": BUCKET,
    "backend": BACKEND,
}
MANIFEST_PREFIX = f"s3://{BUCKET}/labeling/manifests"
LABELING_OUTPUT = f"s3://{BUCKET}/labeling/output"
START_DATE = datetime(2026, 1, 1, tzinfo=UTC)


def ledger_uri(dag_id: str) -> str:
    """The pipeline's ledger of labeled objects (what ``build_input_manifest`` leaves out)."""
    return f"s3://{BUCKET}/labeling/ledger/{dag_id}.jsonl"


def dataset_uri(name: str) -> str:
    """The root of dataset ``name``'s versions, ``.../datasets/<name>/v=<N>/``."""
    return f"s3://{BUCKET}/datasets/{name}"


def poll_seconds() -> int:
    """How often waits poll AWS (``GT_POLL_SECONDS``; the demo polls every few seconds)."""
    return int(os.environ.get("GT_POLL_SECONDS", "60"))


def pipeline_dag(
    dag_id: str,
    *,
    description: str,
    doc_md: str | None,
    tags: Sequence[str],
    params: dict[str, Param],
    schedule: Any = "@daily",
    owner: str = "data-platform",
) -> DAG:
    """A DAG with the settings every example shares (the README's "The pipelines").

    One run at a time, no catch-up, two retries ``GT_RETRY_DELAY_SECONDS`` apart, failures
    to ``gt_provider.callbacks.log_failure`` and templates rendered as native objects (a
    form's number stays a number).
    """
    return DAG(
        dag_id=dag_id,
        description=description,
        doc_md=doc_md,
        schedule=schedule,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        tags=["ground-truth", *tags, "example"],
        default_args={
            "owner": owner,
            "retries": 2,
            "retry_delay": timedelta(seconds=int(os.environ.get("GT_RETRY_DELAY_SECONDS", "60"))),
            "on_failure_callback": log_failure,
        },
        render_template_as_native_obj=True,
        params=params,
    )


def labeling_job_arguments() -> dict[str, Any]:
    """The arguments every ``GroundTruthLabelingJobOperator`` of the examples shares.

    Output under ``labeling/output``, the form's workteam (or the Variable), the role, the
    form's workers per object, the form's backend (or the ``gt_labeling_backend`` Variable,
    or Ground Truth), and a wait **deferred** to the triggerer: no worker slot is held while
    people label.
    """
    return {
        "backend": BACKEND,
        "output_path": LABELING_OUTPUT,
        "workteam_arn": WORKTEAM_ARN,
        "role_arn": ROLE_ARN,
        "workers_per_object": "{{ params.workers_per_object }}",
        "waiter_delay": poll_seconds(),
        "deferrable": True,
    }


def automated_labeling_arguments(ledger_uri: str, *, after: Any) -> dict[str, Any]:
    """The form's automated labeling and budget, for a DAG's main labeling job.

    With ``automated_labeling`` on, the job starts from the model the pipeline's last
    successful job trained (``previous_model``), unless the form says ``start_fresh``.
    """
    model = previous_model(ledger_uri, "{{ params.automated_labeling }}", "{{ params.start_fresh }}")
    after >> model
    return {
        "auto_labeling": "{{ params.automated_labeling }}",
        "initial_active_learning_model_arn": model,
        "max_cost_usd": "{{ params.max_cost_usd }}",
    }


def model_record_uri(ledger_uri: str) -> str:
    """Where the pipeline keeps its last ``FinalActiveLearningModelArn``: beside its ledger."""
    return ledger_uri.removesuffix(".jsonl") + ".model.json"


@task
def previous_model(ledger_uri: str, automated: bool, start_fresh: bool) -> str | None:
    """The last successful automated job's final model, to start tonight's from; None to start fresh."""
    if not automated or start_fresh:
        print("Automated labeling is off" if not automated else "start_fresh: the model trains from scratch")
        return None
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    hook = S3Hook(aws_conn_id="aws_default")
    bucket, key = S3Hook.parse_s3_url(model_record_uri(ledger_uri))
    if not hook.check_for_key(key, bucket):
        print(f"No earlier model at s3://{bucket}/{key}: the model trains from scratch")
        return None
    record = json.loads(hook.read_key(key, bucket))
    print(f"Starting from {record['final_active_learning_model_arn']}, trained by job {record['job_name']}")
    return record["final_active_learning_model_arn"]


@task
def keep_final_model(labeling: dict[str, Any], ledger_uri: str) -> str | None:
    """Keep this run's ``FinalActiveLearningModelArn`` beside the ledger, for the next run's ``previous_model``."""
    arn = labeling.get("final_active_learning_model_arn")
    if not arn:
        print("This job trained no model (automated labeling off, or no iteration finished)")
        return None
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    bucket, key = S3Hook.parse_s3_url(model_record_uri(ledger_uri))
    record = {"final_active_learning_model_arn": arn, "job_name": labeling["job_name"]}
    S3Hook(aws_conn_id="aws_default").load_string(json.dumps(record), key, bucket, replace=True)
    print(f"Kept {arn} at s3://{bucket}/{key} for the next run")
    return arn


def input_manifest(task_type: str, *, ledger_uri: str, after: Any, **source: Any) -> Any:
    """``build_input_manifest`` then ``validate_input_manifest``; the validated manifest's URI.

    ``build_input_manifest``: one line per object of ``source`` (``GroundTruthBuildManifestOperator``'s
    source arguments) not in the ledger nor claimed by another running run (they are claimed for this one), at most the form's ``max_objects``, into
    ``labeling/manifests/<run>/input.manifest``; nothing new skips the rest of the run.
    ``validate_input_manifest``: every line checked for ``task_type``; a bad line fails the
    run before a labeling job is paid for. ``after``: what must run first (the seeding).
    """
    from gt_provider.operators.manifest import GroundTruthBuildManifestOperator, GroundTruthValidateManifestOperator

    manifest = GroundTruthBuildManifestOperator(
        task_id="build_input_manifest",
        manifest_prefix=MANIFEST_PREFIX,
        ledger_uri=ledger_uri,
        max_objects="{{ params.max_objects }}",
        multiple_outputs=True,
        **source,
    )
    after >> manifest
    validated = GroundTruthValidateManifestOperator(
        task_id="validate_input_manifest",
        manifest_uri=manifest.output["manifest_uri"],
        task_type=task_type,
        on_invalid="fail",
        multiple_outputs=True,
    )
    return validated.output["labeling_manifest_uri"]


def record_and_build_dataset(
    labeling: Any,
    *,
    ledger_uri: str,
    dataset: str,
    formats: Sequence[str],
    relabel_below_confidence: Any = None,
    **options: Any,
) -> Any:
    """``record_labeled_objects`` then ``build_dataset``; the dataset version's Asset extra.

    ``record_labeled_objects``: the labeled objects go into the ledger (failed ones are
    offered again next night); ``release_claims`` runs only when labeling or recording
    failed, and gives the run's claimed objects back to the next run. ``build_dataset``: the next version of ``dataset`` from
    ``labeling``'s output manifest, in ``formats``, with an event on the Asset
    ``gt_dataset_<dataset>``; ``options`` are more ``GroundTruthBuildDatasetOperator`` arguments.
    ``relabel_below_confidence``: the recording marks labels under it doubtful in the ledger.
    """
    from gt_provider.operators.dataset import GroundTruthBuildDatasetOperator, dataset_asset
    from gt_provider.operators.manifest import (
        GroundTruthRecordLabeledObjectsOperator,
        GroundTruthReleaseClaimsOperator,
    )

    recorded = GroundTruthRecordLabeledObjectsOperator(
        task_id="record_labeled_objects",
        ledger_uri=ledger_uri,
        labeling=labeling,
        relabel_below_confidence=relabel_below_confidence,
    )
    recorded >> GroundTruthReleaseClaimsOperator(
        task_id="release_claims", ledger_uri=ledger_uri, trigger_rule="one_failed"
    )
    built = GroundTruthBuildDatasetOperator(
        task_id="build_dataset",
        output_manifests=labeling,
        dataset_uri=dataset_uri(dataset),
        formats=formats,
        asset=dataset_asset(dataset),
        **options,
    )
    recorded >> built
    recorded >> keep_final_model(labeling, ledger_uri)
    return built.output


@task
def check_params(label_task_types: Sequence[str], labels: Sequence[str], settings: dict[str, str]) -> None:
    """Refuse, naming the param or Variable, the values the trigger form cannot check.

    ``label_task_types``: the task types that take the form's labels. ``settings``:
    :data:`RUN_SETTINGS`, rendered. Fails without retries (the same settings fail the same way).
    """
    from gt_provider.forms import check_run_settings

    check_run_settings(label_task_types=list(label_task_types), labels=labels, **settings)


def check_labeling_params() -> Any:
    """``check_params`` for a DAG whose one job takes the form's ``task_type`` and ``labels``."""
    return check_params("{{ [params.task_type] }}", "{{ params.labels }}", RUN_SETTINGS)


@task
def _seed_if_empty(bucket: str, prefix: str, seed: bool, count: int, upload: str, options: dict[str, Any]) -> int:
    """Upload demo data under an empty ``prefix`` (``upload``: ``"module:function"``); the objects uploaded."""
    from importlib import import_module

    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    s3 = S3Hook(aws_conn_id="aws_default")
    if not seed or s3.list_keys(bucket_name=bucket, prefix=prefix, max_items=1):
        return 0
    module, _, function = upload.partition(":")
    return getattr(import_module(module), function)(s3.get_conn(), bucket, prefix, count, **options)


def seed_sample_data(task_id: str, *, prefix: str, upload: str, after: Any, **options: Any) -> Any:
    """The ``sample_data`` group: demo data for an empty ``prefix``, off with the ``seed_sample_data`` param.

    ``upload`` names ``include.<module>:<function>``, called as
    ``function(s3_client, bucket, prefix, count, **options)`` with ``count`` the form's
    ``max_objects``; it is imported when the task runs (numpy, PIL, scikit-learn stay out of
    parsing). With your own data, delete the group from the DAG. Task ids stay ``task_id``
    (the group adds no prefix). ``after``: what must run first (``check_params``).
    """
    with TaskGroup("sample_data", prefix_group_id=False, tooltip=f"Demo data when {prefix} is empty"):
        seeded = _seed_if_empty.override(task_id=task_id)(
            BUCKET, prefix, "{{ params.seed_sample_data }}", "{{ params.max_objects }}", upload, options
        )
    after >> seeded
    return seeded


@task
def report(labeling: dict[str, Any], dataset: dict[str, Any], review: dict[str, Any] | None = None) -> dict[str, Any]:
    """Log and return what this run produced: the labeling job (and its review job), the dataset version."""
    from gt_provider.status import format_progress

    summary = {"labeling_job": labeling["job_name"], "labeled": format_progress(labeling["label_counters"])}
    print(f"Labeled {summary['labeled']} in {summary['labeling_job']}")
    if review is not None:
        summary |= {"review_job": review["job_name"], "reviewed": format_progress(review["label_counters"])}
        print(f"Review ({review['task_type']}): {summary['reviewed']} in {summary['review_job']}")
    summary |= {"dataset": dataset["uri"], "dataset_version": dataset["version"], "dataset_counts": dataset["counts"]}
    print(f"Dataset {dataset['name']} v={dataset['version']} at {dataset['uri']}: {dataset['counts']}")
    gold = dataset.get("gold")
    if gold:
        summary["gold"] = gold
        flagged = ", ".join(gold["flagged_workers"]) or "none"
        left_out = " (their answers left out of this version)" if gold["excluded"] else ""
        print(f"Gold items: {gold['objects']}; workers flagged: {flagged}{left_out}")
    return summary
