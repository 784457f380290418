"""What a labeling task records about its job, for the Labeling jobs page.

The labeling operator pushes one :class:`JobRecord` to XCom (key :data:`JOB_RECORD_KEY`) as
soon as its job exists -- before it defers -- so a page can list every job of every run,
running or done, and ask the job's backend how far along it is. It names the connections
to ask through, never their secrets. Importing this module is cheap (no Airflow, no boto3).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

#: The XCom key of a labeling task's job record.
JOB_RECORD_KEY = "gt_labeling_job_record"


@dataclass(frozen=True)
class JobRecord:
    """A labeling job as its task started or re-attached to it.

    :param backend: ``"ground_truth"`` or ``"label_studio"``.
    :param job_name: The job's name (unique per account and region, or per Label Studio server).
    :param job_url: The job's page: the SageMaker console, or the Label Studio project.
    :param aws_conn_id: The AWS connection the task used (Ground Truth, and Label Studio's S3).
    :param region_name: The AWS region of a Ground Truth job.
    :param label_studio_conn_id: The Label Studio connection of a Label Studio job.
    """

    backend: str
    job_name: str
    job_url: str | None = None
    aws_conn_id: str | None = None
    region_name: str | None = None
    label_studio_conn_id: str | None = None

    def to_xcom(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_xcom(cls, value: object) -> JobRecord | None:
        """The record an XCom value holds, or None for anything else (an older or foreign value)."""
        if not isinstance(value, Mapping) or not isinstance(value.get("job_name"), str):
            return None
        fields = {name: value.get(name) for name in cls.__dataclass_fields__}
        if not isinstance(fields["backend"], str):
            return None
        return cls(**fields)
