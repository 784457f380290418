"""Links shown on labeling tasks in the Airflow UI: the job's console page, or its Label Studio project."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow.providers.amazon.aws.links.base_aws import BASE_AWS_CONSOLE_LINK, BaseAwsLink
from airflow.providers.common.compat.sdk import BaseOperatorLink, XCom

if TYPE_CHECKING:
    from airflow.models import BaseOperator
    from airflow.providers.common.compat.sdk import TaskInstanceKey
    from airflow.sdk import Context


class GroundTruthLabelingJobLink(BaseAwsLink):
    """The labeling job's page in the SageMaker console (Ground Truth section)."""

    name = "Labeling Job"
    key = "gt_labeling_job"
    format_str = BASE_AWS_CONSOLE_LINK + "/sagemaker/groundtruth?region={region_name}#/labeling-jobs/details/{job_name}"


class LabelStudioProjectLink(BaseOperatorLink):
    """The labeling job's project in Label Studio (jobs run on the Label Studio backend)."""

    name = "Label Studio Project"
    key = "gt_label_studio_project"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        url = XCom.get_value(key=self.key, ti_key=ti_key)
        return url if isinstance(url, str) else ""

    @classmethod
    def persist(cls, context: Context, operator: BaseOperator, url: str) -> None:
        """Store the project's URL for the link."""
        if operator.do_xcom_push:
            context["ti"].xcom_push(key=cls.key, value=url)


def persist_no_link(context: Context, operator: BaseOperator, link: type[BaseOperatorLink]) -> None:
    """Store "no page" for a link that does not apply to this task's backend.

    The UI asks every link of the operator for its URL; a link whose XCom was never pushed
    makes the task SDK log an ``XCom not found`` error in the task log, which reads like a
    failure on a task that succeeded. ``None`` makes the link render as absent instead.
    """
    if operator.do_xcom_push:
        context["ti"].xcom_push(key=link.key, value=None)  # type: ignore[attr-defined]
