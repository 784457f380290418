"""The Trigger form of a labeling DAG, and the checks a form cannot make.

An engineer starting a one-off run from the UI fills in Params validated by JSON Schema
(:func:`labeling_params`): the form refuses what a schema can say (a workers count of 0, one
label, the public workforce's ARN). What needs Ground Truth's rules or the Variables --
label-name limits per task type, the Variable a blank field falls back to, the role and the
bucket -- the DAG's first task checks with :func:`settings_problems` and fails, without
retries, naming the field or Variable to fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NotRequired, TypedDict, Unpack

from airflow.sdk import Param

from gt_provider import limits, task_types
from gt_provider.backends import BACKENDS
from gt_provider.exceptions import InvalidLabelingJobConfigError
from gt_provider.labeling_request import JOB_ARGUMENTS, check_workteam_arn
from gt_provider.s3io import BUCKET_PATTERN

#: Private and vendor workteams only: the public workforce (Mechanical Turk) closed in September 2026.
WORKTEAM_PATTERN = (
    r"^$|^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:[0-9]{12}:workteam/(private-crowd|vendor-crowd)/[A-Za-z0-9-]+$"
)
#: What the form's backend choices read as (null: the field left empty).
BACKEND_CHOICES = {
    "null": "The gt_labeling_backend Variable (else Ground Truth)",
    "ground_truth": "Ground Truth (AWS, or the local one)",
    "label_studio": "Label Studio",
}
#: The form's defaults are the job arguments' own (LabelingJobSpec, the one definition).
_SPEC_DEFAULTS = {argument.name: argument.default for argument in JOB_ARGUMENTS}


def labeling_params(
    *,
    task_types: Sequence[str],
    task_type_help: str,
    labels: Sequence[str],
    object_noun: str,
    max_objects: int,
    short_instructions: str,
    full_instructions: str,
    seed_help: str,
    task_type_param: str = "task_type",
    min_labels: int = 2,
    max_labels: int = 50,
    short_instructions_help: str = "",
    gold: bool = False,
) -> dict[str, Param]:
    """The form's fields: task type, labels, workteam, workers per object, max objects, instructions, seeding.

    ``gold``: the quality fields too: gold items (single-class jobs: a gold answer is a class
    name) and labeling doubtful labels again.
    """
    return {
        task_type_param: Param(
            task_types[0], type="string", enum=list(task_types), title="Task type", description=task_type_help
        ),
        "labels": Param(
            list(labels),
            type="array",
            items={"type": "string", "minLength": 1, "maxLength": 127},
            minItems=min_labels,
            maxItems=max_labels,
            uniqueItems=True,
            title="Labels",
            description=f"The classes workers choose from ({min_labels} to {max_labels}).",
        ),
        "backend": Param(
            None,
            type=["null", "string"],
            enum=[None, *BACKENDS],
            values_display=BACKEND_CHOICES,
            title="Labeling backend",
            description="ground_truth: Ground Truth on AWS, or the local one the aws connection points at. "
            "label_studio: a project on the label_studio_default connection's Label Studio server, where "
            "people label without AWS. Empty uses the gt_labeling_backend Variable, else ground_truth.",
        ),
        # Nullable: the UI's form treats an empty non-null string field as missing and would
        # not let a user trigger with the default (found by the browser test).
        "workteam_arn": Param(
            None,
            type=["null", "string"],
            pattern=WORKTEAM_PATTERN,
            title="Workteam ARN",
            description="A private or vendor workteam; empty uses the gt_workteam_arn Variable. "
            "The public workforce (Mechanical Turk) closed in September 2026.",
        ),
        "workers_per_object": Param(
            _SPEC_DEFAULTS["workers_per_object"],
            type="integer",
            minimum=limits.WORKERS_PER_OBJECT[0],
            maximum=limits.WORKERS_PER_OBJECT[1],
            title=f"Workers per {object_noun}",
            description=f"Answers consolidated per {object_noun}",
        ),
        "max_objects": Param(
            max_objects,
            type="integer",
            minimum=1,
            maximum=100_000,
            title=f"Max {object_noun}s",
            description=f"{object_noun.capitalize()}s to label this run (and how many samples are seeded)",
        ),
        "short_instructions": Param(
            short_instructions,
            type="string",
            minLength=1,
            maxLength=1000,
            title="Short instructions",
            description=short_instructions_help or "Shown beside every task",
        ),
        "full_instructions": Param(
            full_instructions,
            type="string",
            minLength=1,
            maxLength=100_000,
            title="Full instructions",
            description="What workers read when they open the instructions (HTML allowed)",
        ),
        "automated_labeling": Param(
            False,
            type="boolean",
            title="Automated data labeling",
            description="A model labels what it is sure of, people the rest (single-label image and text "
            "classification, bounding boxes, semantic segmentation). Ground Truth needs at least "
            f"{limits.MIN_AUTO_LABELING_OBJECTS:,} {object_noun}s in the job: raise Max {object_noun}s to match.",
        ),
        "start_fresh": Param(
            False,
            type="boolean",
            title="Start the model fresh",
            description="With automated labeling, tonight's job starts from the model the last successful "
            "job trained (its FinalActiveLearningModelArn, kept with the ledger). Tick to train from scratch.",
        ),
        "max_cost_usd": Param(
            None,
            type=["null", "number"],
            minimum=0,
            title="Budget (USD)",
            description="Refuse to create the labeling job when its estimate (gt_provider's pricing file) is "
            "above this; empty for no limit.",
        ),
        **(_quality_params(object_noun) if gold else {}),
        "seed_sample_data": Param(True, type="boolean", title="Seed sample data", description=seed_help),
    }


def _quality_params(object_noun: str) -> dict[str, Param]:
    return {
        "gold_manifest_uri": Param(
            None,
            type=["null", "string"],
            pattern=r"^(|s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.+)$",
            title="Gold manifest",
            description=f"Known-answer {object_noun}s (an S3 manifest, each line with gt-gold-label) mixed into "
            "the job to score its workers. They are never data. Empty: no gold items.",
        ),
        "gold_rate": Param(
            0.05,
            type="number",
            exclusiveMinimum=0,
            maximum=0.5,
            title="Gold rate",
            description=f"Gold items per {object_noun} of the job (above 0, at most 0.5).",
        ),
        "exclude_flagged_workers": Param(
            False,
            type="boolean",
            title="Leave out flagged workers",
            description="Workers below 0.8 on gold are flagged on the dataset card. Tick to consolidate "
            f"the {object_noun}s they answered again from the other workers' answers.",
        ),
        "relabel_below_confidence": Param(
            0.6,
            type="number",
            exclusiveMinimum=0,
            maximum=1,
            title="Doubtful below confidence",
            description=f"{object_noun.capitalize()}s labeled with a consolidated confidence under this are "
            "marked doubtful in the ledger (0.00, one worker per object, is not doubted).",
        ),
        "max_relabel": Param(
            0,
            type="integer",
            minimum=0,
            maximum=100_000,
            title="Label doubtful ones again",
            description=f"At most this many doubtful {object_noun}s from earlier runs join this run's job, each "
            "labeled a second time at most once. 0: none.",
        ),
    }


def settings_problems(
    *,
    label_task_types: Sequence[str],
    labels: Sequence[str],
    form_workteam_arn: str,
    workteam_arn: str,
    role_arn: str,
    bucket: str,
    backend: str = "ground_truth",
    backend_task_types: Sequence[str] | None = None,
) -> list[str]:
    """What is wrong with a run's settings, one sentence per problem naming the param or Variable.

    ``backend_task_types`` are the task types the run starts jobs of, when they are more
    than ``label_task_types`` (the types whose labels come from the form).
    """
    problems: list[str] = _backend_problems(backend, backend_task_types or label_task_types)
    for name in label_task_types:
        info = task_types.get_task_type(name)
        where = f"param 'labels' ({name})" if len(label_task_types) > 1 else "param 'labels'"
        problems += [f"{where}: {reason}" for reason in info.label_problems(labels)]
    try:
        check_workteam_arn(workteam_arn)
    except InvalidLabelingJobConfigError as error:
        where = "param 'workteam_arn'" if form_workteam_arn else "Variable 'gt_workteam_arn' (param empty)"
        problems.append(f"{where}: {error}")
    if not limits.ROLE_ARN_PATTERN.match(role_arn):
        problems.append(f"Variable 'gt_role_arn': {role_arn!r} is not an IAM role ARN")
    if not BUCKET_PATTERN.fullmatch(bucket):
        problems.append(f"Variable 'gt_bucket': {bucket!r} is not an S3 bucket name")
    return problems


def _backend_problems(backend: str, label_task_types: Sequence[str]) -> list[str]:
    """The backend named, and able to run every task type of the run (asked before anything is created)."""
    if backend not in BACKENDS:
        return [f"param 'backend' (or Variable 'gt_labeling_backend'): {backend!r} is not one of {', '.join(BACKENDS)}"]
    if backend != "label_studio":
        return []
    from gt_provider.labelstudio.codecs import CAPABILITIES

    runs = sorted(CAPABILITIES.task_types or ())
    return [
        f"param 'backend': Label Studio cannot run {name} jobs (it runs {', '.join(runs)})"
        for name in label_task_types
        if name not in runs
    ]


class _RunSettings(TypedDict):
    """The arguments of :func:`settings_problems`, which :func:`check_run_settings` passes on."""

    label_task_types: Sequence[str]
    labels: Sequence[str]
    form_workteam_arn: str
    workteam_arn: str
    role_arn: str
    bucket: str
    backend: NotRequired[str]
    backend_task_types: NotRequired[Sequence[str] | None]


def check_run_settings(*, what: str = "a labeling job", **settings: Unpack[_RunSettings]) -> None:
    """A labeling DAG's first task: fail (see :func:`fail_on`) on any :func:`settings_problems`.

    Takes the keyword arguments of :func:`settings_problems`; ``what`` names what the run
    would start, in the failure message.
    """
    fail_on(settings_problems(**settings), what)
    if settings.get("backend", "ground_truth") == "ground_truth":
        on = settings["workteam_arn"]
    else:
        on = "Label Studio (connection label_studio_default)"
    print(f"{', then '.join(settings['label_task_types'])} with labels {list(settings['labels'])} on {on}")


def fail_on(problems: Sequence[str], what: str = "a labeling job") -> None:
    """Fail the task, not retried (the same settings would fail the same way), listing ``problems``."""
    if problems:
        from airflow.providers.common.compat.sdk import AirflowFailException

        raise AirflowFailException(f"This run's settings cannot start {what}:\n- " + "\n- ".join(problems))
