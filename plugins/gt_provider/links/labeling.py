"""Console links shown on labeling tasks in the Airflow UI."""

from __future__ import annotations

from airflow.providers.amazon.aws.links.base_aws import BASE_AWS_CONSOLE_LINK, BaseAwsLink


class GroundTruthLabelingJobLink(BaseAwsLink):
    """The labeling job's page in the SageMaker console (Ground Truth section)."""

    name = "Labeling Job"
    key = "gt_labeling_job"
    format_str = BASE_AWS_CONSOLE_LINK + "/sagemaker/groundtruth?region={region_name}#/labeling-jobs/details/{job_name}"
