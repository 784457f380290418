"""Private workteams of the local Ground Truth on Cognito groups, through boto3 only (as a user would).

The members of a team's Cognito group are the workers who answer its jobs: one simulated
worker per member, so adding a member changes who answers.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest
from botocore.exceptions import ClientError

from tests.labeling_fixtures import labeling_request, put_classification_inputs

TOPIC = "arn:aws:sns:us-east-1:123456789012:new-tasks"


def _cognito_team(aws, emails: list[str], name: str = "reviewers") -> tuple[str, str]:
    """A pool with a group of ``emails`` and an app client, and a workteam on it: (team ARN, pool id)."""
    cognito = aws.client("cognito-idp")
    pool = cognito.create_user_pool(PoolName="labelers")["UserPool"]["Id"]
    cognito.create_group(UserPoolId=pool, GroupName=name)
    client = cognito.create_user_pool_client(UserPoolId=pool, ClientName="gt")["UserPoolClient"]["ClientId"]
    for email in emails:
        _add(aws, pool, name, email)
    arn = aws.client("sagemaker").create_workteam(
        WorkteamName=name,
        Description="Our reviewers",
        MemberDefinitions=[{"CognitoMemberDefinition": {"UserPool": pool, "UserGroup": name, "ClientId": client}}],
    )["WorkteamArn"]
    return arn, pool


def _add(aws, pool: str, group: str, email: str) -> None:
    cognito = aws.client("cognito-idp")
    cognito.admin_create_user(
        UserPoolId=pool, Username=email, UserAttributes=[{"Name": "email", "Value": email}], MessageAction="SUPPRESS"
    )
    cognito.admin_add_user_to_group(UserPoolId=pool, Username=email, GroupName=group)


def _answers(aws, job: str) -> list[dict]:
    s3 = aws.client("s3")
    prefix = f"output/{job}/annotations/worker-response/iteration-1/"
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=aws.bucket, Prefix=prefix).get("Contents", [])]
    return [answer for key in keys for answer in json.loads(aws.get_text(f"s3://{aws.bucket}/{key}"))["answers"]]


def _run_job(aws, arn: str, name: str, workers: int, objects: int = 30) -> dict:
    sagemaker = aws.client("sagemaker")
    request = labeling_request(aws, put_classification_inputs(aws, objects), name=name, workers=workers)
    request["HumanTaskConfig"]["WorkteamArn"] = arn
    sagemaker.create_labeling_job(**request)
    return sagemaker.describe_labeling_job(LabelingJobName=name)


def test_the_members_of_the_teams_group_answer_its_jobs(aws):
    arn, pool = _cognito_team(aws, ["ana@example.com", "bo@example.com"])
    subs = {
        user["Username"]: {a["Name"]: a["Value"] for a in user["Attributes"]}["sub"]
        for user in aws.client("cognito-idp").list_users(UserPoolId=pool)["Users"]
    }

    _run_job(aws, arn, "two-members", workers=2)
    answers = _answers(aws, "two-members")

    assert len(answers) == 60
    assert {answer["workerMetadata"]["identityData"]["sub"] for answer in answers} == set(subs.values())
    assert len({answer["workerId"] for answer in answers}) == 2

    # A third member: the next job's objects are answered by three people.
    _add(aws, pool, "reviewers", "cy@example.com")
    _run_job(aws, arn, "three-members", workers=3)
    assert len({answer["workerId"] for answer in _answers(aws, "three-members")}) == 3


def test_a_members_accuracy_is_its_own(aws):
    arn, _ = _cognito_team(aws, ["good@example.com", "fair@example.com", "bad@example.com"])
    aws.configure(member_accuracies={"good@example.com": 1.0, "bad@example.com": 0.05})

    _run_job(aws, arn, "accuracy", workers=3, objects=60)

    sagemaker_output = aws.get_text(f"s3://{aws.bucket}/output/accuracy/manifests/output/output.manifest")
    truth = {index: json.loads(line)["gt-local-answer"] for index, line in enumerate(sagemaker_output.splitlines())}
    s3 = aws.client("s3")
    prefix = "output/accuracy/annotations/worker-response/iteration-1/"
    right: Counter[str] = Counter()
    for item in s3.list_objects_v2(Bucket=aws.bucket, Prefix=prefix)["Contents"]:
        index = int(item["Key"][len(prefix) :].split("/")[0])
        for answer in json.loads(aws.get_text(f"s3://{aws.bucket}/{item['Key']}"))["answers"]:
            right[answer["workerId"]] += answer["answerContent"]["crowd-image-classifier"]["label"] == truth[index]
    ranked = sorted(right.values())
    assert ranked[0] <= 10 and ranked[-1] == 60  # the bad member is mostly wrong, the good one always right


def test_a_team_with_no_members_gets_no_answers_and_says_why(aws):
    arn, _ = _cognito_team(aws, [])

    job = _run_job(aws, arn, "nobody", workers=1, objects=5)

    assert job["LabelCounters"]["FailedNonRetryableError"] == 5 and job["LabelCounters"]["HumanLabeled"] == 0
    events = aws.client("logs").get_log_events(logGroupName="/aws/sagemaker/LabelingJobs", logStreamName="nobody")
    messages = [json.loads(event["message"]) for event in events["events"]]
    [short] = [message for message in messages if message["event"] == "WorkteamTooSmall"]
    assert "Workteam reviewers has 0 member(s), fewer than the 1 workers per object" in short["message"]


def test_update_describe_and_delete_a_workteam(aws):
    arn, pool = _cognito_team(aws, ["ana@example.com"])
    sagemaker = aws.client("sagemaker")

    updated = sagemaker.update_workteam(
        WorkteamName="reviewers", Description="Night shift", NotificationConfiguration={"NotificationTopicArn": TOPIC}
    )["Workteam"]

    assert updated["Description"] == "Night shift" and updated["WorkteamArn"] == arn
    described = sagemaker.describe_workteam(WorkteamName="reviewers")["Workteam"]
    assert described["NotificationConfiguration"] == {"NotificationTopicArn": TOPIC}
    assert described["MemberDefinitions"][0]["CognitoMemberDefinition"]["UserPool"] == pool
    assert described["LastUpdatedDate"] >= described["CreateDate"]

    assert sagemaker.delete_workteam(WorkteamName="reviewers")["Success"] is True
    with pytest.raises(ClientError, match="ResourceNotFound"):
        sagemaker.describe_workteam(WorkteamName="reviewers")


def test_a_workteam_is_refused_a_group_its_pool_lacks_and_a_bad_topic(aws):
    _, pool = _cognito_team(aws, [])
    sagemaker = aws.client("sagemaker")
    [client] = aws.client("cognito-idp").list_user_pool_clients(UserPoolId=pool, MaxResults=10)["UserPoolClients"]
    missing = {"CognitoMemberDefinition": {"UserPool": pool, "UserGroup": "nobody", "ClientId": client["ClientId"]}}

    with pytest.raises(ClientError, match=f"User group nobody does not exist in user pool {pool}"):
        sagemaker.update_workteam(WorkteamName="reviewers", MemberDefinitions=[missing])
    with pytest.raises(ClientError, match=r"notificationConfiguration\.notificationTopicArn"):
        sagemaker.update_workteam(
            WorkteamName="reviewers", NotificationConfiguration={"NotificationTopicArn": "not-a-topic"}
        )


def test_a_team_with_a_job_in_progress_is_not_deleted(aws):
    arn, _ = _cognito_team(aws, ["ana@example.com"])
    aws.configure(speed=1.0, manual_clock=True)
    _run_job(aws, arn, "running", workers=1, objects=3)

    with pytest.raises(ClientError, match="Workteam reviewers has labeling jobs in progress: running"):
        aws.client("sagemaker").delete_workteam(WorkteamName="reviewers")
