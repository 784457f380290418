"""A finished local labeling job's output, in Ground Truth's layout under ``<S3OutputPath>/<job-name>/``.

``models.py`` decides when a job is finished and which objects failed;
``gt_provider.output_layout`` writes the files (the same writer serves the Label Studio
backend). Times are derived from the job's timeline (object ``i`` is labeled
``i / objects_per_second`` after initialization), so the same job writes the same files.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from gt_provider.output_layout import Identity, OutputJob, write_layout

if TYPE_CHECKING:
    from gt_provider.local.models import LabelingJob
    from gt_provider.local.s3 import S3Store
    from gt_provider.local.workforce import ObjectOutcome


def write_output(job: LabelingJob, s3: S3Store) -> None:
    """Consolidate the labeled objects of ``job`` and write all of its output files."""
    started = job.created + timedelta(seconds=job.timeline.initializing_seconds)

    def labeled_at(outcome: ObjectOutcome) -> datetime:
        return started + timedelta(seconds=outcome.index / job.timeline.objects_per_second)

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
    write_layout(output, job.outcomes[: job.labeled], labeled_at, s3.put, started=started)
