"""gt_train_on_dataset's registration, retried: one model version per training job.

The whole DAG runs in tests/e2e/test_gt_image_classification.py (it needs a labeled
dataset first); here its register_model task runs alone against the local AWS's model
registry, as a retry after an earlier try's CreateModelPackage would.
"""

from __future__ import annotations

import copy

from tests.e2e.helpers import example_dag

GROUP = "digits-classifier"


def _register_task(training_job: str, accuracy: str):
    """The DAG's register_model task with the values its templates render at run time."""
    task = copy.copy(example_dag("gt_train_on_dataset").get_task("register_model"))
    task.image_uri = "gt-provider-local/image-classification:latest"
    task.model_url = f"s3://gt-provider-demo/models/digits/{training_job}/output/model.tar.gz"
    task.package_desc = training_job
    task.extras = {
        "CustomerMetadataProperties": {
            "validation:accuracy": accuracy,
            "dataset_version": "1",
            "training_job": training_job,
        }
    }
    return task


def _packages(aws) -> list[dict]:
    sagemaker = aws.client("sagemaker")
    summaries = sagemaker.list_model_packages(ModelPackageGroupName=GROUP)["ModelPackageSummaryList"]
    return [sagemaker.describe_model_package(ModelPackageName=s["ModelPackageArn"]) for s in summaries]


def test_a_registration_retry_returns_the_version_the_earlier_try_registered(aws, airflow_db):
    first = _register_task("train-v1-a", "0.9100").execute({})

    again = _register_task("train-v1-a", "0.9100").execute({})  # the retry: the package exists already

    assert again == first
    assert [p["CustomerMetadataProperties"]["training_job"] for p in _packages(aws)] == ["train-v1-a"]


def test_another_training_job_registers_a_new_version(aws, airflow_db):
    first = _register_task("train-v1-a", "0.9100").execute({})

    second = _register_task("train-v2-b", "0.9400").execute({})

    assert second != first
    assert sorted(p["CustomerMetadataProperties"]["training_job"] for p in _packages(aws)) == [
        "train-v1-a",
        "train-v2-b",
    ]
