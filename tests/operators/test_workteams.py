"""Labeling-team operators against the local AWS (SageMaker workteams, moto's Cognito), real boto3."""

from __future__ import annotations

import json

import pytest

from gt_provider.exceptions import PublicWorkforceUnavailableError, WorkteamConfigError
from gt_provider.operators.workteams import GroundTruthWorkteamMembersOperator, GroundTruthWorkteamOperator
from tests.labeling_fixtures import labeling_request, put_classification_inputs

TOPIC = "arn:aws:sns:us-east-1:123456789012:labeling-tasks"


def _team(**kwargs) -> GroundTruthWorkteamOperator:
    arguments = {
        "task_id": "team",
        "workteam_name": "night-shift",
        "description": "People who label at night",
        "user_group": "night-shift",
        "user_pool_name": "labelers",
        "create_cognito": True,
        **kwargs,
    }
    return GroundTruthWorkteamOperator(**arguments)


def _members(**kwargs) -> GroundTruthWorkteamMembersOperator:
    return GroundTruthWorkteamMembersOperator(task_id="members", **{"workteam_name": "night-shift", **kwargs})


class TestGroundTruthWorkteamOperator:
    def test_template_fields(self):
        assert {"workteam_name", "description", "user_group", "members", "notification_topic_arn"} <= set(
            GroundTruthWorkteamOperator.template_fields
        )
        assert "aws_conn_id" in GroundTruthWorkteamOperator.template_fields

    def test_creates_the_cognito_pool_group_client_and_team_once(self, aws):
        first = _team(members=["Ana@Example.com", "bo@example.com"]).execute({})

        assert first["action"] == "created"
        assert first["workteam_arn"].endswith(":workteam/private-crowd/night-shift")
        assert first["created_in_cognito"][1:] == ["group night-shift", "app client gt-provider-labeling"]
        assert first["members"] == ["ana@example.com", "bo@example.com"]
        assert first["member_changes"]["invited"] == ["ana@example.com", "bo@example.com"]
        cognito = aws.client("cognito-idp")
        [pool] = cognito.list_user_pools(MaxResults=10)["UserPools"]
        assert pool["Name"] == "labelers"

        again = _team(members=["ana@example.com", "bo@example.com"]).execute({})  # a retry, a rerun

        assert again["action"] == "unchanged" and again["created_in_cognito"] == []
        assert again["member_changes"] == {"added": [], "removed": [], "invited": []}
        assert len(cognito.list_user_pools(MaxResults=10)["UserPools"]) == 1
        assert len(cognito.list_users(UserPoolId=pool["Id"])["Users"]) == 2
        assert len(aws.client("sagemaker").list_workteams(NameContains="night-shift")["Workteams"]) == 1

    def test_updates_what_differs_and_makes_the_members_exactly_those_given(self, aws):
        _team(members=["ana@example.com", "bo@example.com"]).execute({})

        result = _team(
            description="People who label at night, and weekends",
            notification_topic_arn=TOPIC,
            members=["bo@example.com", "cy@example.com"],
        ).execute({})

        assert result["action"] == "updated" and result["changed"] == ["Description", "NotificationConfiguration"]
        assert result["member_changes"] == {
            "added": ["cy@example.com"],
            "removed": ["ana@example.com"],
            "invited": ["cy@example.com"],
        }
        team = aws.client("sagemaker").describe_workteam(WorkteamName="night-shift")["Workteam"]
        assert team["Description"] == "People who label at night, and weekends"
        assert team["NotificationConfiguration"] == {"NotificationTopicArn": TOPIC}
        # Taken out of the group, not deleted: ana can be a member again without a new invitation.
        back = _members(add=["ana@example.com"]).execute({})
        assert back["added"] == ["ana@example.com"] and back["invited"] == []

    def test_members_none_leaves_them_and_topic_none_leaves_it(self, aws):
        _team(members=["ana@example.com"], notification_topic_arn=TOPIC).execute({})

        result = _team().execute({})

        assert result["action"] == "unchanged" and result["members"] == ["ana@example.com"]
        team = aws.client("sagemaker").describe_workteam(WorkteamName="night-shift")["Workteam"]
        assert team["NotificationConfiguration"] == {"NotificationTopicArn": TOPIC}
        assert _team(notification_topic_arn="").execute({})["changed"] == ["NotificationConfiguration"]
        team = aws.client("sagemaker").describe_workteam(WorkteamName="night-shift")["Workteam"]
        assert "NotificationConfiguration" not in team

    def test_a_missing_pool_is_an_error_unless_the_task_may_create_it(self, aws):
        with pytest.raises(WorkteamConfigError, match=r"no Cognito user pool is named 'labelers'.*create_cognito=True"):
            _team(create_cognito=False).execute({})

        assert aws.client("cognito-idp").list_user_pools(MaxResults=10)["UserPools"] == []
        assert aws.client("sagemaker").list_workteams(NameContains="night-shift")["Workteams"] == []

    def test_an_existing_pool_by_id_with_its_group_and_client(self, aws):
        cognito = aws.client("cognito-idp")
        pool = cognito.create_user_pool(PoolName="workforce")["UserPool"]["Id"]
        cognito.create_group(UserPoolId=pool, GroupName="night-shift")
        cognito.create_user_pool_client(UserPoolId=pool, ClientName="gt-provider-labeling")

        result = _team(user_pool_name=None, user_pool_id=pool, create_cognito=False).execute({})

        assert result["action"] == "created" and result["created_in_cognito"] == []

    @pytest.mark.parametrize(
        ("arguments", "message"),
        [
            ({"workteam_name": "night shift"}, "workteam_name must be 1 to 63 letters"),
            ({"description": ""}, "description must be 1 to 200 characters, got 0"),
            ({"user_pool_id": "us-east-1_x"}, "exactly one of them"),
            ({"notification_topic_arn": "topic"}, "notification_topic_arn must be an SNS topic ARN"),
            ({"members": ["ana@example.com", "not an email"]}, r"members\[1\] is not an email address: 'not an email'"),
            (
                {"workteam_name": "arn:aws:sagemaker:us-east-1:123456789012:workteam/vendor-crowd/acme"},
                "is a vendor workteam: its members are the vendor's",
            ),
        ],
    )
    def test_bad_arguments_are_refused_before_any_change(self, aws, arguments, message):
        with pytest.raises(WorkteamConfigError, match=message):
            _team(**arguments).execute({})

        assert aws.client("cognito-idp").list_user_pools(MaxResults=10)["UserPools"] == []

    def test_the_public_workforce_is_refused(self, aws):
        public = "arn:aws:sagemaker:us-east-1:394669845002:workteam/public-crowd/default"
        with pytest.raises(PublicWorkforceUnavailableError, match="closed on 2026-09-30"):
            _members(workteam_name=public, add=["ana@example.com"]).execute({})


class TestGroundTruthWorkteamMembersOperator:
    def test_template_fields(self):
        assert {"workteam_name", "add", "remove"} <= set(GroundTruthWorkteamMembersOperator.template_fields)

    def test_adding_and_removing_twice_changes_nothing_the_second_time(self, aws):
        _team().execute({})

        first = _members(add=["ana@example.com", "bo@example.com"]).execute({})
        again = _members(add=["ana@example.com", "bo@example.com"]).execute({})
        removed = _members(remove=["bo@example.com"]).execute({})
        removed_again = _members(remove=["bo@example.com"]).execute({})

        assert first["added"] == ["ana@example.com", "bo@example.com"] and first["members"] == first["added"]
        assert again["added"] == [] and again["unchanged"] == ["ana@example.com", "bo@example.com"]
        assert removed["removed"] == ["bo@example.com"] and removed["members"] == ["ana@example.com"]
        assert removed_again["removed"] == [] and removed_again["unchanged"] == ["bo@example.com"]
        assert _members().execute({})["members"] == ["ana@example.com"]  # neither: who is in it

    def test_the_same_address_to_add_and_remove_is_refused(self, aws):
        _team().execute({})
        with pytest.raises(WorkteamConfigError, match=r"add and to remove the same address: ana@example\.com"):
            _members(add=["ana@example.com"], remove=["ANA@example.com"]).execute({})

    def test_an_unknown_team_is_named(self, aws):
        with pytest.raises(WorkteamConfigError, match="there is no workteam 'night-shift' in us-east-1"):
            _members(add=["ana@example.com"]).execute({})

    def test_a_member_added_here_answers_the_teams_next_job(self, aws):
        """The local Ground Truth's workers are the team's members: one more member, one more worker."""
        arn = _team(members=["ana@example.com"]).execute({})["workteam_arn"]
        _members(add=["bo@example.com"]).execute({})
        sagemaker = aws.client("sagemaker")
        request = labeling_request(aws, put_classification_inputs(aws, 10), name="team-job", workers=2)
        request["HumanTaskConfig"]["WorkteamArn"] = arn

        sagemaker.create_labeling_job(**request)
        sagemaker.describe_labeling_job(LabelingJobName="team-job")

        s3 = aws.client("s3")
        prefix = "output/team-job/annotations/worker-response/iteration-1/"
        keys = [item["Key"] for item in s3.list_objects_v2(Bucket=aws.bucket, Prefix=prefix)["Contents"]]
        workers = {
            answer["workerId"]
            for key in keys
            for answer in json.loads(aws.get_text(f"s3://{aws.bucket}/{key}"))["answers"]
        }
        assert len(workers) == 2
