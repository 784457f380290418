"""What a demo run produced, read back from the local AWS through its public API."""

from __future__ import annotations

from typing import Any

from gt_provider.status import format_progress


def print_summary(endpoint_url: str, region: str, bucket: str) -> None:
    import boto3

    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region)
    sagemaker = session.client("sagemaker", endpoint_url=endpoint_url)
    jobs = sagemaker.list_labeling_jobs(SortBy="CreationTime", SortOrder="Descending", MaxResults=1)
    trainings = sagemaker.list_training_jobs(SortBy="CreationTime", SortOrder="Descending", MaxResults=1)
    print("\n=== gt_provider demo summary ===")
    if jobs["LabelingJobSummaryList"]:
        job = sagemaker.describe_labeling_job(LabelingJobName=jobs["LabelingJobSummaryList"][0]["LabelingJobName"])
        workers = job["HumanTaskConfig"]["NumberOfHumanWorkersPerDataObject"]
        print(
            f"labeling job       {job['LabelingJobName']} ({job['LabelingJobStatus']}, {workers} simulated workers per object)"
        )
        print(f"labeled            {format_progress(job['LabelCounters'])}")
        print(f"output manifest    {job.get('LabelingJobOutput', {}).get('OutputDatasetS3Uri', '-')}")
    else:
        print("labeling job       none on Ground Truth (the dataset card names the labeling jobs)")
    _print_datasets(session.client("s3", endpoint_url=endpoint_url), bucket)
    if trainings["TrainingJobSummaries"]:
        training = sagemaker.describe_training_job(
            TrainingJobName=trainings["TrainingJobSummaries"][0]["TrainingJobName"]
        )
        for channel in training["InputDataConfig"]:
            print(f"channel {channel['ChannelName']:<11}{channel['DataSource']['S3DataSource']['S3Uri']}")
        print(f"training job       {training['TrainingJobName']} ({training['TrainingJobStatus']})")
        print(f"model artifact     {training['ModelArtifacts']['S3ModelArtifacts']}")
        for metric in training.get("FinalMetricDataList", []):
            print(f"metric             {metric['MetricName']} = {metric['Value']:.3f}")
    else:
        print("training job       none")
    _print_registered_models(sagemaker)
    print(f"bucket             s3://{bucket}/")


def _print_datasets(s3: Any, bucket: str) -> None:
    """The latest committed version of every dataset under ``s3://<bucket>/datasets/``."""
    from gt_provider.datasets.card.croissant import CROISSANT_FILE
    from gt_provider.datasets.storage import DatasetLocation

    listing = s3.list_objects_v2(Bucket=bucket, Prefix="datasets/", Delimiter="/")
    names = [entry["Prefix"].split("/")[1] for entry in listing.get("CommonPrefixes", [])]
    if not names:
        print("dataset            none")
    for name in names:
        location = DatasetLocation(f"s3://{bucket}/datasets/{name}", s3_client=s3)
        committed = location.committed_versions()
        if not committed:
            continue
        card = location.read_card(committed[-1])
        counts = ", ".join(f"{split} {count}" for split, count in card["counts"]["per_split"].items())
        print(f"dataset            {name} v={card['version']} ({counts}) {card['uri']}")
        print(f"labeled by         {', '.join(card.get('job_names') or ['-'])}")
        files = card.get("files") or {}
        if CROISSANT_FILE in (files.get("card") or {}).get("all", []):
            print(f"croissant          {card['uri']}{CROISSANT_FILE}")
        if "huggingface" in files:
            print(f"hugging face       {card['uri']}huggingface/ (datasets.load_dataset on the version folder)")
        cost = card.get("cost")
        if cost:
            saved = f"; automated labeling saved ${cost['saved_usd']:,.2f}" if cost.get("saved_usd") else ""
            print(
                f"labeling cost      ${cost['actual_usd']:,.2f} (all-human ${cost['all_human_usd']:,.2f}{saved}; "
                f"prices of {cost.get('pricing_as_of') or '?'}, an estimate)"
            )


def _print_registered_models(sagemaker: Any) -> None:
    groups = sagemaker.list_model_package_groups().get("ModelPackageGroupSummaryList", [])
    for group in groups:
        name = group["ModelPackageGroupName"]
        packages = sagemaker.list_model_packages(ModelPackageGroupName=name).get("ModelPackageSummaryList", [])
        print(f"model registry     {name}: {len(packages)} version(s) registered")
