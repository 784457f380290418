"""The local Ground Truth, through the public boto3 client only (as a user would)."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from botocore.exceptions import ClientError

from tests.labeling_fixtures import CLASSES, labeling_request, put_classification_inputs


def _error_code(call, **kwargs) -> tuple[str, str]:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    return raised.value.response["Error"]["Code"], raised.value.response["Error"]["Message"]


class TestCreateAndComplete:
    @pytest.mark.parametrize("task", ["ImageMultiClass", "TextMultiClass"])
    def test_job_completes_with_ground_truth_output_layout(self, aws, task):
        sagemaker, uris = aws.client("sagemaker"), put_classification_inputs(aws, 30, task)
        sagemaker.create_labeling_job(**labeling_request(aws, uris, task=task))

        job = sagemaker.describe_labeling_job(LabelingJobName="job-1")

        assert job["LabelingJobStatus"] == "Completed"
        assert job["LabelCounters"] == {
            "TotalLabeled": 30,
            "HumanLabeled": 30,
            "MachineLabeled": 0,
            "FailedNonRetryableError": 0,
            "Unlabeled": 0,
        }
        output_uri = job["LabelingJobOutput"]["OutputDatasetS3Uri"]
        assert output_uri == f"s3://{aws.bucket}/output/job-1/manifests/output/output.manifest"
        lines = [json.loads(line) for line in aws.get_text(output_uri).splitlines()]
        assert len(lines) == 30
        expected_type = {
            "ImageMultiClass": "groundtruth/image-classification",
            "TextMultiClass": "groundtruth/text-classification",
        }
        for line in lines:
            metadata = line["animal-metadata"]
            assert set(metadata) == {"class-name", "confidence", "type", "job-name", "human-annotated", "creation-date"}
            assert metadata["type"] == expected_type[task]
            assert metadata["job-name"] == "labeling-job/job-1"
            assert metadata["human-annotated"] == "yes"
            assert CLASSES[int(line["animal"])] == metadata["class-name"]
            assert 0 <= metadata["confidence"] <= 1
            assert "gt-local-answer" in line  # input keys pass through untouched

    def test_worker_responses_and_consolidation_files(self, aws):
        sagemaker, uris = aws.client("sagemaker"), put_classification_inputs(aws, 12)
        sagemaker.create_labeling_job(**labeling_request(aws, uris, workers=3))
        sagemaker.describe_labeling_job(LabelingJobName="job-1")
        s3 = aws.client("s3")
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=aws.bucket, Prefix="output/job-1/")["Contents"]]

        responses = [k for k in keys if k.startswith("output/job-1/annotations/worker-response/iteration-1/")]
        assert len(responses) == 12
        first = json.loads(aws.get_text(f"s3://{aws.bucket}/{sorted(responses)[0]}"))
        assert len(first["answers"]) == 3
        assert len({answer["workerId"] for answer in first["answers"]}) == 3  # distinct workers
        answer = first["answers"][0]
        assert set(answer) == {
            "workerId",
            "answerContent",
            "acceptanceTime",
            "submissionTime",
            "timeSpentInSeconds",
            "workerMetadata",
        }
        assert answer["answerContent"]["crowd-image-classifier"]["label"] in CLASSES
        consolidation = [k for k in keys if "/consolidated-annotation/consolidation-response/iteration-1/" in k]
        assert len(consolidation) == 1
        records = json.loads(aws.get_text(f"s3://{aws.bucket}/{consolidation[0]}"))
        assert sorted(int(r["datasetObjectId"]) for r in records) == list(range(12))
        assert all("animal" in r["consolidatedAnnotation"]["content"] for r in records)

    def test_workers_disagree_and_consolidation_resolves_it(self, aws):
        aws.configure(speed="instant", worker_accuracies=[0.9, 0.75, 0.6])
        sagemaker, uris = aws.client("sagemaker"), put_classification_inputs(aws, 90)
        sagemaker.create_labeling_job(**labeling_request(aws, uris, workers=3))
        output = sagemaker.describe_labeling_job(LabelingJobName="job-1")["LabelingJobOutput"]["OutputDatasetS3Uri"]
        lines = [json.loads(line) for line in aws.get_text(output).splitlines()]
        s3 = aws.client("s3")
        responses = s3.list_objects_v2(Bucket=aws.bucket, Prefix="output/job-1/annotations/worker-response/")[
            "Contents"
        ]
        disagreements = 0
        for item in responses:
            answers = json.loads(aws.get_text(f"s3://{aws.bucket}/{item['Key']}"))["answers"]
            disagreements += len({a["answerContent"]["crowd-image-classifier"]["label"] for a in answers}) > 1
        verdicts = [(line["animal-metadata"]["class-name"] == line["gt-local-answer"], line) for line in lines]
        right = [line["animal-metadata"]["confidence"] for ok, line in verdicts if ok]
        wrong = [line["animal-metadata"]["confidence"] for ok, line in verdicts if not ok]

        assert disagreements >= 10  # workers really disagree
        assert len(right) / len(lines) >= 0.8
        assert wrong, "with these accuracies some consolidated labels must be wrong"
        # The confidence means something: wrong labels get less of it than right ones.
        assert sum(wrong) / len(wrong) < sum(right) / len(right)

    def test_one_worker_gives_zero_confidence(self, aws):
        sagemaker, uris = aws.client("sagemaker"), put_classification_inputs(aws, 5)
        sagemaker.create_labeling_job(**labeling_request(aws, uris, workers=1))
        output = sagemaker.describe_labeling_job(LabelingJobName="job-1")["LabelingJobOutput"]["OutputDatasetS3Uri"]
        assert {json.loads(line)["animal-metadata"]["confidence"] for line in aws.get_text(output).splitlines()} == {
            0.0
        }

    def test_failed_objects_carry_failure_reason_and_counters_match(self, aws):
        aws.configure(speed="instant", object_failure_rate=0.3)
        sagemaker, uris = aws.client("sagemaker"), put_classification_inputs(aws, 50)
        sagemaker.create_labeling_job(**labeling_request(aws, uris))
        job = sagemaker.describe_labeling_job(LabelingJobName="job-1")
        lines = [json.loads(line) for line in aws.get_text(job["LabelingJobOutput"]["OutputDatasetS3Uri"]).splitlines()]
        failed = [line for line in lines if "failure-reason" in line["animal-metadata"]]

        assert 5 <= len(failed) <= 25
        assert all("animal" not in line for line in failed)
        assert job["LabelCounters"]["FailedNonRetryableError"] == len(failed)
        assert job["LabelCounters"]["TotalLabeled"] == len(lines) - len(failed)

    def test_reference_answer_outside_labels_fails_that_object(self, aws):
        sagemaker, uris = aws.client("sagemaker"), put_classification_inputs(aws, 3)
        manifest = '{"source-ref": "s3://b/1.png", "gt-local-answer": "cat"}\n{"source-ref": "s3://b/2.png", "gt-local-answer": "horse"}\n'
        uris["manifest"] = aws.put_text("input/odd.manifest", manifest)
        sagemaker.create_labeling_job(**labeling_request(aws, uris))
        job = sagemaker.describe_labeling_job(LabelingJobName="job-1")
        lines = [json.loads(line) for line in aws.get_text(job["LabelingJobOutput"]["OutputDatasetS3Uri"]).splitlines()]
        assert "horse" in lines[1]["animal-metadata"]["failure-reason"]
        assert job["LabelCounters"]["FailedNonRetryableError"] == 1


class TestLifecycle:
    def test_states_follow_the_manual_clock(self, aws):
        aws.configure(speed=1, manual_clock=True, initializing_seconds=10, objects_per_second=2)
        sagemaker, uris = aws.client("sagemaker"), put_classification_inputs(aws, 20)
        sagemaker.create_labeling_job(**labeling_request(aws, uris))

        def state():
            job = sagemaker.describe_labeling_job(LabelingJobName="job-1")
            return job["LabelingJobStatus"], job["LabelCounters"]["TotalLabeled"], "LabelingJobOutput" in job

        assert state() == ("Initializing", 0, False)
        aws.advance(15)
        assert state() == ("InProgress", 10, False)
        aws.advance(5)
        assert state() == ("Completed", 20, True)

    def test_stop_leaves_a_partial_output_manifest(self, aws):
        aws.configure(speed=1, manual_clock=True, initializing_seconds=10, objects_per_second=1)
        sagemaker, uris = aws.client("sagemaker"), put_classification_inputs(aws, 20)
        sagemaker.create_labeling_job(**labeling_request(aws, uris))
        aws.advance(16)
        sagemaker.stop_labeling_job(LabelingJobName="job-1")

        assert sagemaker.describe_labeling_job(LabelingJobName="job-1")["LabelingJobStatus"] == "Stopping"
        aws.advance(60)
        job = sagemaker.describe_labeling_job(LabelingJobName="job-1")
        assert job["LabelingJobStatus"] == "Stopped"
        assert job["LabelCounters"]["TotalLabeled"] == 6
        assert job["LabelCounters"]["Unlabeled"] == 14
        assert len(aws.get_text(job["LabelingJobOutput"]["OutputDatasetS3Uri"]).splitlines()) == 6

    def test_invalid_manifest_line_fails_the_job_after_initializing(self, aws):
        sagemaker, uris = aws.client("sagemaker"), put_classification_inputs(aws, 3)
        uris["manifest"] = aws.put_text("input/bad.manifest", '{"source-ref": "s3://b/1.png"}\n{not json\n')
        sagemaker.create_labeling_job(**labeling_request(aws, uris))
        job = sagemaker.describe_labeling_job(LabelingJobName="job-1")
        assert job["LabelingJobStatus"] == "Failed"
        assert "line 2" in job["FailureReason"]


def _mutate(path: str, value):
    def apply(request):
        *parents, leaf = path.split(".")
        target = request
        for key in parents:
            target = target[key]
        target[leaf] = value

    return apply


INVALID_REQUESTS = [
    ("LabelingJobName", "-starts-with-hyphen", "labelingJobName"),
    ("LabelingJobName", "a" * 64, "labelingJobName"),
    ("LabelingJobName", "under_score", "labelingJobName"),
    ("LabelAttributeName", "label-metadata", "-metadata"),
    ("LabelAttributeName", "source-ref", "source"),
    ("RoleArn", "arn:aws:iam::123456789012:user/not-a-role", "roleArn"),
    ("HumanTaskConfig.NumberOfHumanWorkersPerDataObject", 10, "numberOfHumanWorkersPerDataObject"),
    ("HumanTaskConfig.TaskTimeLimitInSeconds", 28_801, "taskTimeLimitInSeconds"),
    ("HumanTaskConfig.TaskAvailabilityLifetimeInSeconds", 30 * 24 * 3600 + 1, "taskAvailabilityLifetimeInSeconds"),
    ("HumanTaskConfig.MaxConcurrentTaskCount", 5001, "maxConcurrentTaskCount"),
    ("HumanTaskConfig.TaskTitle", "t" * 129, "taskTitle"),
    ("HumanTaskConfig.TaskDescription", "d" * 256, "taskDescription"),
    ("HumanTaskConfig.TaskKeywords", ["a", "b", "c", "d", "e", "f"], "taskKeywords"),
    ("HumanTaskConfig.TaskKeywords", ["no-hyphens"], "taskKeywords"),
    ("HumanTaskConfig.TaskKeywords", ["k" * 31], "taskKeywords"),
    (
        "HumanTaskConfig.WorkteamArn",
        "arn:aws:sagemaker:us-east-1:394669845002:workteam/public-crowd/default",
        "Mechanical Turk",
    ),
    (
        "HumanTaskConfig.WorkteamArn",
        "arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/nobody",
        "does not exist",
    ),
    ("HumanTaskConfig.UiConfig.UiTemplateS3Uri", "s3://gt-provider-demo/missing.html", "UiTemplateS3Uri"),
    (
        "HumanTaskConfig.PreHumanTaskLambdaArn",
        "arn:aws:lambda:us-east-1:432418664414:function:PRE-BoundingBox-typo",
        "Lambda",
    ),
    ("InputConfig.DataSource.S3DataSource.ManifestS3Uri", "s3://gt-provider-demo/missing.manifest", "input manifest"),
    ("LabelCategoryConfigS3Uri", "s3://gt-provider-demo/missing.json", "LabelCategoryConfigS3Uri"),
    ("StoppingConditions", {"MaxPercentageOfInputDatasetLabeled": 101}, "maxPercentageOfInputDatasetLabeled"),
    ("Tags", [{"Key": f"k{i}", "Value": "v"} for i in range(51)], "tags"),
    ("LabelingJobAlgorithmsConfig", {"LabelingJobAlgorithmSpecificationArn": "arn:x"}, None),
]


class TestValidation:
    @pytest.mark.parametrize(("path", "value", "mentioned"), INVALID_REQUESTS, ids=lambda v: str(v)[:40])
    def test_invalid_request_is_refused_with_validation_exception(self, aws, path, value, mentioned):
        sagemaker, uris = aws.client("sagemaker"), put_classification_inputs(aws, 3)
        request = labeling_request(aws, uris)
        if path == "LabelingJobAlgorithmsConfig":
            request["HumanTaskConfig"]["PreHumanTaskLambdaArn"] = request["HumanTaskConfig"][
                "PreHumanTaskLambdaArn"
            ].replace("ImageMultiClass", "ImageMultiClassMultiLabel")
            mentioned = "Automated data labeling"
        _mutate(path, value)(request)

        code, message = _error_code(sagemaker.create_labeling_job, **request)

        assert code == "ValidationException"
        assert mentioned in message
        assert sagemaker.list_labeling_jobs()["LabelingJobSummaryList"] == []

    def test_one_label_is_too_few_for_classification(self, aws):
        sagemaker, uris = aws.client("sagemaker"), put_classification_inputs(aws, 3)
        uris["labels"] = aws.put_text("config/one.json", json.dumps({"labels": [{"label": "cat"}]}))
        code, message = _error_code(sagemaker.create_labeling_job, **labeling_request(aws, uris))
        assert code == "ValidationException"
        assert "2" in message

    def test_duplicate_name_is_resource_in_use_case_insensitively(self, aws):
        sagemaker, uris = aws.client("sagemaker"), put_classification_inputs(aws, 3)
        sagemaker.create_labeling_job(**labeling_request(aws, uris, name="Job-A"))
        code, _ = _error_code(sagemaker.create_labeling_job, **labeling_request(aws, uris, name="job-a"))
        assert code == "ResourceInUse"
        assert len(sagemaker.list_labeling_jobs()["LabelingJobSummaryList"]) == 1

    @pytest.mark.parametrize("action", ["describe_labeling_job", "stop_labeling_job"])
    def test_unknown_job_is_resource_not_found(self, aws, action):
        code, message = _error_code(getattr(aws.client("sagemaker"), action), LabelingJobName="nope")
        assert code == "ResourceNotFound"
        assert "nope" in message


class TestListLabelingJobs:
    def test_filters_sorting_and_pagination(self, aws):
        aws.configure(speed=1, manual_clock=True)
        sagemaker, uris = aws.client("sagemaker"), put_classification_inputs(aws, 3)
        for name in ["b-job", "a-job", "c-other", "d-job", "e-job"]:
            sagemaker.create_labeling_job(**labeling_request(aws, uris, name=name))
        sagemaker.stop_labeling_job(LabelingJobName="d-job")

        by_name = sagemaker.list_labeling_jobs(SortBy="Name", SortOrder="Descending")["LabelingJobSummaryList"]
        assert [j["LabelingJobName"] for j in by_name] == ["e-job", "d-job", "c-other", "b-job", "a-job"]
        contains = sagemaker.list_labeling_jobs(NameContains="JOB", SortBy="Name")["LabelingJobSummaryList"]
        assert [j["LabelingJobName"] for j in contains] == ["a-job", "b-job", "d-job", "e-job"]
        stopping = sagemaker.list_labeling_jobs(StatusEquals="Stopping")["LabelingJobSummaryList"]
        assert [j["LabelingJobName"] for j in stopping] == ["d-job"]
        first = sagemaker.list_labeling_jobs(SortBy="Name", MaxResults=2)
        second = sagemaker.list_labeling_jobs(SortBy="Name", MaxResults=2, NextToken=first["NextToken"])
        third = sagemaker.list_labeling_jobs(SortBy="Name", MaxResults=2, NextToken=second["NextToken"])
        names = [j["LabelingJobName"] for page in (first, second, third) for j in page["LabelingJobSummaryList"]]
        assert names == ["a-job", "b-job", "c-other", "d-job", "e-job"]
        assert "NextToken" not in third
        paginated = sagemaker.get_paginator("list_labeling_jobs").paginate(PaginationConfig={"PageSize": 2})
        assert sum(len(page["LabelingJobSummaryList"]) for page in paginated) == 5

    def test_creation_time_filter(self, aws):
        sagemaker, uris = aws.client("sagemaker"), put_classification_inputs(aws, 3)
        sagemaker.create_labeling_job(**labeling_request(aws, uris, name="early"))
        created = sagemaker.describe_labeling_job(LabelingJobName="early")["CreationTime"]
        sagemaker.create_labeling_job(**labeling_request(aws, uris, name="late"))
        after = sagemaker.list_labeling_jobs(CreationTimeAfter=created)["LabelingJobSummaryList"]
        assert [j["LabelingJobName"] for j in after] == ["late"]


class TestWorkteams:
    def test_create_describe_list_and_duplicate(self, aws):
        sagemaker = aws.client("sagemaker")
        members = [{"CognitoMemberDefinition": {"UserPool": "p", "UserGroup": "g", "ClientId": "c"}}]
        arn = sagemaker.create_workteam(WorkteamName="reviewers", Description="Second team", MemberDefinitions=members)[
            "WorkteamArn"
        ]
        assert arn == "arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/reviewers"
        team = sagemaker.describe_workteam(WorkteamName="reviewers")["Workteam"]
        assert team["MemberDefinitions"] == members
        names = [t["WorkteamName"] for t in sagemaker.list_workteams(SortBy="Name")["Workteams"]]
        assert names == ["gt-local-team", "reviewers"]
        code, _ = _error_code(
            sagemaker.create_workteam, WorkteamName="reviewers", Description="again", MemberDefinitions=members
        )
        assert code == "ResourceInUse"
        code, _ = _error_code(sagemaker.describe_workteam, WorkteamName="nobody")
        assert code == "ResourceNotFound"


def test_consolidated_labels_are_spread_over_classes(aws):
    """Sanity check on the simulation: references cycle over the classes, so must the labels."""
    sagemaker, uris = aws.client("sagemaker"), put_classification_inputs(aws, 30)
    sagemaker.create_labeling_job(**labeling_request(aws, uris))
    output = sagemaker.describe_labeling_job(LabelingJobName="job-1")["LabelingJobOutput"]["OutputDatasetS3Uri"]
    counts = Counter(json.loads(line)["animal-metadata"]["class-name"] for line in aws.get_text(output).splitlines())
    assert set(counts) == set(CLASSES)


def test_list_labeling_jobs_for_workteam(aws):
    aws.configure(speed=1, manual_clock=True)
    sagemaker, uris = aws.client("sagemaker"), put_classification_inputs(aws, 4)
    members = [{"CognitoMemberDefinition": {"UserPool": "p", "UserGroup": "g", "ClientId": "c"}}]
    other = sagemaker.create_workteam(WorkteamName="other", Description="d", MemberDefinitions=members)["WorkteamArn"]
    sagemaker.create_labeling_job(**labeling_request(aws, uris, name="ours-1"))
    sagemaker.create_labeling_job(**labeling_request(aws, uris, name="ours-2", workers=2))
    request = labeling_request(aws, uris, name="theirs")
    request["HumanTaskConfig"]["WorkteamArn"] = other
    sagemaker.create_labeling_job(**request)

    jobs = sagemaker.list_labeling_jobs_for_workteam(WorkteamArn=aws.workteam_arn, SortOrder="Ascending")[
        "LabelingJobSummaryList"
    ]

    assert [job["LabelingJobName"] for job in jobs] == ["ours-1", "ours-2"]
    assert jobs[1]["NumberOfHumanWorkersPerDataObject"] == 2
    assert jobs[0]["LabelCounters"] == {"HumanLabeled": 0, "PendingHuman": 4, "Total": 4}
    code = jobs[0]["JobReferenceCode"]
    only = sagemaker.list_labeling_jobs_for_workteam(WorkteamArn=aws.workteam_arn, JobReferenceCodeContains=code)
    assert [job["LabelingJobName"] for job in only["LabelingJobSummaryList"]] == ["ours-1"]
