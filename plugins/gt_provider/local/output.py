"""A finished local labeling job's output, in Ground Truth's layout under ``<S3OutputPath>/<job-name>/``.

``models.py`` decides when a job is finished and which objects failed;
``gt_provider.output_layout`` writes the files (the same writer serves the Label Studio
backend). Times are derived from the job's timeline (the ``i``-th object of the plan is
labeled ``i / objects_per_second`` after initialization), so the same job writes the same files.

An automated-labeling job also gets the folders the guide describes, one
``iteration-N`` per round of the loop:

- ``activelearning/iteration-N/selection.json``: the validation sample (iteration 1), the
  objects humans labeled, the confidence threshold chosen and the objects machine-labeled;
- ``inference/iteration-N/predictions.jsonl``: the model's label and confidence for each
  object it labeled;
- ``training/iteration-N/metrics.json``, and ``training/final/model.tar.gz``: the last
  iteration's model, which becomes the job's ``FinalActiveLearningModelArn``.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from gt_provider.local.annotations import Consolidated
from gt_provider.local.training import model_archive
from gt_provider.output_layout import Identity, MachineLabeled, OutputJob, write_layout

if TYPE_CHECKING:
    from gt_provider.local.automation import Iteration
    from gt_provider.local.models import LabelingJob
    from gt_provider.local.s3 import S3Store
    from gt_provider.local.workforce import ObjectOutcome


def write_output(job: LabelingJob, s3: S3Store) -> str | None:
    """Write all of ``job``'s output files; the final model's S3 URI when the job trained one."""
    started = job.created + timedelta(seconds=job.timeline.initializing_seconds)
    done = job.order[: job.labeled]
    position = {index: number for number, (index, _) in enumerate(done)}
    iteration_of: dict[int, int] = {}
    for iteration in job.plan.iterations:
        iteration_of.update(dict.fromkeys(iteration.human, iteration.number))

    def at(index: int) -> datetime:
        return started + timedelta(seconds=position[index] / job.timeline.objects_per_second)

    def labeled_at(outcome: ObjectOutcome) -> datetime:
        return at(outcome.index)

    machine = [
        MachineLabeled(
            index,
            Consolidated(str(label.label), {"class-name": job.labels[label.label], "confidence": label.confidence}),
            at(index),
        )
        for index, label in done
        if label is not None
    ]
    output = OutputJob(
        name=job.name,
        output_prefix=job.output_prefix,
        label_attribute_name=job.label_attribute_name,
        output_type=job.task_type.output_type,  # type: ignore[union-attr]
        simulation=job.simulation,
        spec=job.spec(),
        lines=job.lines,
        identity=Identity("Cognito", f"https://cognito-idp.{job.region}.amazonaws.com/{job.region}_gtlocal"),
    )
    humans = [job.outcomes[index] for index, label in done if label is None]
    write_layout(
        output,
        humans,
        labeled_at,
        s3.put,
        started=started,
        machine=machine,
        iteration_of=lambda index: iteration_of.get(index, 1),
    )
    return _write_active_learning(job, s3)


def _write_active_learning(job: LabelingJob, s3: S3Store) -> str | None:
    """The loop's own folders, for the iterations the job finished; the final model's URI."""
    finished: list[Iteration] = list(job.plan.iterations[: job.iterations_done])
    for iteration in finished:
        folder = f"iteration-{iteration.number}"
        selection = {
            "humanLabeled": [str(index) for index in iteration.human],
            "confidenceThreshold": iteration.threshold,
            "validationAccuracy": iteration.validation_accuracy,
            "machineLabelAccuracyOnValidation": iteration.machine_accuracy,
            "machineLabeled": [str(label.index) for label in iteration.machine],
            "note": iteration.note or None,
        }
        if iteration.number == 1:
            selection["validation"] = [str(index) for index in job.plan.validation]
        if not job.plan.models:
            continue
        s3.put(f"{job.output_prefix}/activelearning/{folder}/selection.json", json.dumps(selection).encode())
        predictions = "".join(
            json.dumps(
                {
                    "datasetObjectId": str(label.index),
                    "class-name": job.labels[label.label],
                    "confidence": label.confidence,
                }
            )
            + "\n"
            for label in iteration.machine
        )
        s3.put(f"{job.output_prefix}/inference/{folder}/predictions.jsonl", predictions.encode())
        s3.put(
            f"{job.output_prefix}/training/{folder}/metrics.json",
            json.dumps(
                {"trainedOn": iteration.trained_on, "validation:accuracy": iteration.validation_accuracy}
            ).encode(),
        )
    trained = [job.plan.models[i.number] for i in finished if i.number in job.plan.models]
    if not trained:
        return None
    uri = f"{job.output_prefix}/training/final/model.tar.gz"
    last = trained[-1]
    s3.put(uri, model_archive(last, {"classes": list(last.classes), "examples": len(last.examples_y)}))
    return uri
