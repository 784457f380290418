"""gt_train_on_dataset's evaluation and registration against the local AWS's model registry.

The whole DAG runs in tests/e2e/test_gt_image_classification.py (it needs a labeled
dataset first); here its evaluate task and its register_model task run alone: the same
model is never better than its own registration, and a retry after an earlier try's
CreateModelPackage registers nothing more.
"""

from __future__ import annotations

import copy

import pytest

from tests.e2e.helpers import example_dag

GROUP = "digits-classifier"


def _register_task(training_job: str, accuracy: str):
    """The DAG's register_model task with the values its templates render at run time."""
    task = copy.copy(example_dag("gt_train_on_dataset").get_task("register_model"))
    task.image_uri = "gt-provider-local/image-classification:latest"
    task.model_url = f"s3://gt-provider-demo/models/digits/{training_job}/output/model.tar.gz"
    task.package_desc = training_job
    task.training_job = training_job
    task.metadata = {"validation:accuracy": accuracy, "dataset_version": "1"}
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


def _training_result(name: str, accuracy: float) -> dict:
    """train_model's XCom (the fields evaluate reads)."""
    return {
        "Training": {
            "TrainingJobName": name,
            "FinalMetricDataList": [{"MetricName": "validation:accuracy", "Value": accuracy}],
            "ModelArtifacts": {"S3ModelArtifacts": f"s3://gt-provider-demo/models/digits/{name}/output/model.tar.gz"},
        }
    }


@pytest.mark.parametrize("correct, validation_images", [(15, 22), (16, 19), (17, 20), (20, 21)])
def test_the_same_model_trained_again_is_not_better_than_its_own_registration(
    aws, airflow_db, correct, validation_images
):
    """The registry keeps the metric to 4 decimals: 15/22 = 0.681818... is kept as "0.6818".

    Compared unrounded with that, the same model trained again "beat" itself and was
    registered a second time whenever the validation split's size made the accuracy round
    down (the flaky end-to-end test: 22 validation images in one run, 20 in most).
    """
    dag = example_dag("gt_train_on_dataset")
    evaluate = dag.get_task("evaluate").python_callable
    dataset = {"name": "digits", "version": 1}
    accuracy = correct / validation_images
    first = evaluate(_training_result("train-v1-a", accuracy), dataset)
    assert first["better"] is True
    _register_task("train-v1-a", first["registration_metadata"]["validation:accuracy"]).execute({})

    again = evaluate(_training_result("train-v1-b", accuracy), dataset)

    assert again["best_registered"] == pytest.approx(accuracy, abs=1e-4)
    assert again["better"] is False
    assert evaluate(_training_result("train-v1-c", accuracy + 0.01), dataset)["better"] is True


def test_a_version_without_validation_objects_fails_the_request_for_good():
    # evaluate reads validation:accuracy: a version whose validation split is empty (20
    # digits, two per class, can all stratify into train) must stop at the request, with no
    # training job and no retry (AirflowFailException), naming the split.
    from airflow.providers.common.compat.sdk import AirflowFailException

    training_config = example_dag("gt_train_on_dataset").get_task("training_config").python_callable
    dataset = {
        "uri": "s3://gt-provider-demo/datasets/digits/v=1/",
        "version": 1,
        "label_map": {"0": "zero", "1": "one"},
        "files": {"augmented-manifest": {"train": ["augmented-manifest/train.manifest"]}},
        "counts": {"per_split": {"train": 20, "validation": 0, "test": 0}},
        "source_field": "source-ref",
        "label_attribute": "label",
    }

    with pytest.raises(AirflowFailException, match=r"no object in 'validation' .*needs its 'validation' channel"):
        training_config(dataset, "gt-provider-demo", "arn:aws:iam::123456789012:role/r", "image:latest", "run")
