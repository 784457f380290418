"""The walking skeleton, whole: gt_image_classification with dag.test() against the local AWS."""

from __future__ import annotations

import io
import json
import tarfile

import pytest

from tests.e2e.helpers import PUBLIC_WORKFORCE, asset_events, example_dag

pytestmark = pytest.mark.e2e


def test_nightly_dag_labels_into_a_dataset_version_and_the_training_dag_registers_the_model(aws, airflow_db, capsys):
    aws.configure(speed=50)  # a labeling job that really moves through its states, fast
    dags = {dag_id: example_dag(dag_id) for dag_id in ("gt_image_classification", "gt_train_on_dataset")}

    run = dags["gt_image_classification"].test(run_conf={"max_objects": 200, "workers_per_object": 2})

    assert run.state == "success"
    sagemaker = aws.client("sagemaker")
    [job] = sagemaker.list_labeling_jobs()["LabelingJobSummaryList"]
    labeling = sagemaker.describe_labeling_job(LabelingJobName=job["LabelingJobName"])
    assert labeling["LabelingJobStatus"] == "Completed"
    assert labeling["LabelCounters"]["TotalLabeled"] == 200
    assert labeling["HumanTaskConfig"]["NumberOfHumanWorkersPerDataObject"] == 2  # the form's value, as an int
    card = json.loads(aws.get_text(f"s3://{aws.bucket}/datasets/digits/v=1/dataset.json"))
    assert card["counts"]["total"] == 200 and card["job_names"] == [job["LabelingJobName"]]
    assert set(card["counts"]["per_split"]) == {"train", "validation", "test"}
    [(extra, source_dag)] = [event for event in asset_events("gt_dataset_digits") if event[0].get("version") == 1]
    assert source_dag == "gt_image_classification"
    assert extra["uri"] == f"s3://{aws.bucket}/datasets/digits/v=1/" and extra["counts"] == card["counts"]["per_split"]

    training_run = dags["gt_train_on_dataset"].test()

    assert training_run.state == "success"
    [training_summary] = sagemaker.list_training_jobs()["TrainingJobSummaries"]
    training = sagemaker.describe_training_job(TrainingJobName=training_summary["TrainingJobName"])
    metrics = {m["MetricName"]: m["Value"] for m in training["FinalMetricDataList"]}
    # 20 validation images of 10 classes: far above chance (0.1), though not every run is as lucky.
    assert 0.3 < metrics["validation:accuracy"] <= 1.0
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"] for c in training["InputDataConfig"]}
    assert set(channels) == {"train", "validation"}  # the test split is held out
    assert channels["train"]["S3Uri"] == f"s3://{aws.bucket}/datasets/digits/v=1/augmented-manifest/train.manifest"
    assert channels["train"]["AttributeNames"] == ["source-ref", card["label_attribute"]]
    [package] = sagemaker.list_model_packages(ModelPackageGroupName="digits-classifier")["ModelPackageSummaryList"]
    registered = sagemaker.describe_model_package(ModelPackageName=package["ModelPackageArn"])
    assert float(registered["CustomerMetadataProperties"]["validation:accuracy"]) == pytest.approx(
        metrics["validation:accuracy"], abs=1e-4
    )
    assert registered["CustomerMetadataProperties"]["dataset_version"] == "1"
    bucket, _, key = training["ModelArtifacts"]["S3ModelArtifacts"][5:].partition("/")
    artifact = aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(artifact)) as tar:
        assert {"model.pkl", "metrics.json"} <= set(tar.getnames())

    # The demo's summary reads all of it back through the API: job, dataset, cost, Croissant, HF folder, model.
    from gt_provider.local.summary import print_summary

    print_summary(aws.endpoint_url, "us-east-1", aws.bucket)
    summary = {line[:19].strip(): line[19:] for line in capsys.readouterr().out.splitlines() if len(line) > 19}
    version = f"s3://{aws.bucket}/datasets/digits/v=1/"
    assert summary["labeling job"].startswith(f"{job['LabelingJobName']} (Completed, 2 simulated workers")
    assert summary["labeled"].startswith("200/200 labeled")
    assert summary["labeling cost"].startswith(f"${card['cost']['actual_usd']:,.2f} (all-human")
    assert card["cost"]["actual_usd"] > 0 and extra["cost"]["actual_usd"] == card["cost"]["actual_usd"]
    assert summary["croissant"] == f"{version}croissant.json"
    assert summary["hugging face"].startswith(f"{version}huggingface/")
    assert aws.get_text(f"{version}croissant.json").startswith("{")
    assert {"train", "validation", "test"} == set(card["files"]["huggingface"])
    assert summary["metric"].startswith("train:accuracy = ") or summary["metric"].startswith("validation:accuracy")

    # Training again on the same data gives the same model: it is not better, so not registered.
    again = dags["gt_train_on_dataset"].test()

    states = {ti.task_id: ti.state for ti in again.get_task_instances()}
    assert again.state == "success" and states["register_model"] == "skipped"
    assert len(sagemaker.list_model_packages(ModelPackageGroupName="digits-classifier")["ModelPackageSummaryList"]) == 1


def test_the_form_refuses_the_public_workforce_and_impossible_values(aws, airflow_db):
    from airflow.sdk.definitions.param import ParamValidationError

    dag = example_dag("gt_image_classification")

    for conf in ({"workteam_arn": PUBLIC_WORKFORCE}, {"workers_per_object": 0}, {"labels": ["only-one"]}):
        with pytest.raises(ParamValidationError):
            dag.test(run_conf=conf)
    assert aws.client("sagemaker").list_labeling_jobs()["LabelingJobSummaryList"] == []


def test_dag_completes_under_30_percent_throttling_without_duplicate_jobs(aws, airflow_db, monkeypatch):
    """30 % of SageMaker calls throttled: botocore retries (configured on the connection, as a
    team facing throttling would), the run succeeds, and no call ends up creating a second job."""
    import os

    connection = json.loads(os.environ["AIRFLOW_CONN_AWS_DEFAULT"])
    connection["extra"]["config_kwargs"] = {"retries": {"mode": "standard", "max_attempts": 15}}
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(connection))
    aws.configure(speed=50, throttle_rate=0.3)
    dag = example_dag("gt_image_classification")

    run = dag.test(run_conf={"max_objects": 40, "workers_per_object": 1})

    aws.configure(speed=50, throttle_rate=0.0)
    assert run.state == "success"
    sagemaker = aws.client("sagemaker")
    assert len(sagemaker.list_labeling_jobs()["LabelingJobSummaryList"]) == 1
    card = json.loads(aws.get_text(f"s3://{aws.bucket}/datasets/digits/v=1/dataset.json"))
    assert card["counts"]["total"] == 40


def test_second_run_with_nothing_new_skips_instead_of_paying_twice(aws, airflow_db):
    dag = example_dag("gt_image_classification")
    first = dag.test(run_conf={"max_objects": 30, "workers_per_object": 1})
    second = dag.test(run_conf={"max_objects": 30, "workers_per_object": 1})

    assert first.state == second.state == "success"
    states = {ti.task_id: ti.state for ti in second.get_task_instances()}
    assert states["build_input_manifest"] == "skipped"
    assert states["label_images"] == states["build_dataset"] == "skipped"
    sagemaker = aws.client("sagemaker")
    assert len(sagemaker.list_labeling_jobs()["LabelingJobSummaryList"]) == 1
    ledger = aws.get_text(f"s3://{aws.bucket}/labeling/ledger/gt_image_classification.jsonl").splitlines()
    assert len(ledger) == 30


def test_gold_items_flag_a_bad_worker_and_the_dataset_leaves_its_answers_out(aws, airflow_db):
    from gt_provider.manifests.gold import GOLD_KEY
    from include.sample_data import DIGIT_NAMES

    # Three simulated workers, one of them nearly always wrong; ten gold digits with known answers.
    aws.configure(worker_accuracies=[0.97, 0.95, 0.05])
    gold_lines = [
        {"source-ref": f"s3://{aws.bucket}/gold/digit-{i}.png", GOLD_KEY: DIGIT_NAMES[i % 10]} for i in range(10)
    ]
    gold_uri = aws.put_text("gold/digits.manifest", "".join(json.dumps(line) + "\n" for line in gold_lines))
    form = {"max_objects": 40, "workers_per_object": 3, "gold_manifest_uri": gold_uri, "gold_rate": 0.25}

    run = example_dag("gt_image_classification").test(run_conf={**form, "exclude_flagged_workers": True})

    assert run.state == "success"
    manifest = run.get_task_instances()[0].xcom_pull(task_ids="build_input_manifest")
    assert manifest["objects"] == 40 and manifest["gold_objects"] == 10
    ledger = [json.loads(line) for line in aws.get_text(manifest["ledger_uri"]).splitlines()]
    assert not any("/gold/" in entry["source"] for entry in ledger)  # gold is never data: never claimed, never labeled
    card = json.loads(aws.get_text(f"s3://{aws.bucket}/datasets/digits/v=1/dataset.json"))
    assert card["counts"]["total"] == 40 and card["counts"]["dropped"]["gold"] == 10
    [job] = card["workers"].values()
    assert len(job["gold"]["flagged"]) == 1 and job["gold"]["excluded"] is True
    [bad] = [worker for worker in job["workers"] if worker["flagged"]]
    assert bad["gold_answers"] == 10 and bad["gold_accuracy"] <= 0.3
    report = run.get_task_instances()[0].xcom_pull(task_ids="report")
    assert report["gold"] == {"objects": 10, "flagged_workers": [bad["worker_id"]], "excluded": True}


def test_doubtful_labels_of_one_night_join_the_next_nights_job_once(aws, airflow_db):
    # Two workers who are right half the time answer every image, so many labels are doubtful;
    # how many depends on the answers, which depend on the job's name (so on the run), and on
    # where Dawid-Skene settles: the test takes the count the first night recorded.
    aws.configure(worker_accuracies=[0.5, 0.5])
    dag = example_dag("gt_image_classification")
    form = {"max_objects": 20, "workers_per_object": 2, "relabel_below_confidence": 1.0}

    first = dag.test(run_conf=form)
    recorded = first.get_task_instances()[0].xcom_pull(task_ids="record_labeled_objects")
    assert first.state == "success"
    entries = [json.loads(line) for line in aws.get_text(recorded["ledger_uri"]).splitlines()]
    assert recorded["doubtful"] == sum(1 for entry in entries if entry.get("relabel"))
    # Five new images arrive for the second night.
    s3 = aws.client("s3")
    originals = [entry["source"].split("/", 3)[3] for entry in entries[:5]]
    for number, key in enumerate(originals):
        metadata = s3.head_object(Bucket=aws.bucket, Key=key)["Metadata"]
        s3.copy_object(
            Bucket=aws.bucket,
            Key=key.replace(".png", f"-new{number}.png"),
            CopySource={"Bucket": aws.bucket, "Key": key},
            Metadata=metadata,
            MetadataDirective="REPLACE",
        )

    second = dag.test(run_conf={**form, "max_objects": 5, "max_relabel": 3})

    assert second.state == "success"
    manifest = second.get_task_instances()[0].xcom_pull(task_ids="build_input_manifest")
    relabeled = min(3, recorded["doubtful"])
    assert manifest["relabel_objects"] == relabeled and manifest["objects"] == 5 + relabeled
    entries = [json.loads(line) for line in aws.get_text(manifest["ledger_uri"]).splitlines()]
    assert sum(1 for entry in entries if entry.get("relabeled")) == relabeled
    card = json.loads(aws.get_text(f"s3://{aws.bucket}/datasets/digits/v=2/dataset.json"))
    assert card["counts"]["total"] == 25  # the doubtful ones labeled again, not added twice
