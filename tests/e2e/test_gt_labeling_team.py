"""gt_labeling_team with dag.test() against the local AWS: a team from a form, changed by a second form."""

from __future__ import annotations

import pytest

from tests.e2e.helpers import example_dag

pytestmark = pytest.mark.e2e

DAG_ID = "gt_labeling_team"


def _xcom(run, task_id: str):
    [ti] = [ti for ti in run.get_task_instances() if ti.task_id == task_id]
    return ti.xcom_pull(task_ids=task_id)


def test_a_team_from_the_form_then_the_same_form_again_then_other_members(aws, airflow_db):
    dag = example_dag(DAG_ID)
    form = {
        "workteam_name": "night-shift",
        "members": ["ana@example.com", "bo@example.com"],
        "create_cognito": True,
        "notification_topic_arn": "arn:aws:sns:us-east-1:123456789012:night-tasks",
    }

    first = dag.test(run_conf=form)

    assert first.state == "success"
    created = _xcom(first, "team")
    assert created["action"] == "created" and created["members"] == ["ana@example.com", "bo@example.com"]
    team = aws.client("sagemaker").describe_workteam(WorkteamName="night-shift")["Workteam"]
    assert team["WorkteamArn"] == created["workteam_arn"]
    assert team["Description"] == "Our private labelers"  # the form's default
    assert team["NotificationConfiguration"]["NotificationTopicArn"].endswith(":night-tasks")
    [definition] = team["MemberDefinitions"]
    assert definition["CognitoMemberDefinition"]["UserGroup"] == "night-shift"  # empty group: the team's name
    assert _xcom(first, "report") == {"workteam_arn": created["workteam_arn"], "members": created["members"]}

    again = dag.test(run_conf=form)
    assert again.state == "success" and _xcom(again, "team")["action"] == "unchanged"

    changed = dag.test(run_conf={**form, "members": ["bo@example.com", "cy@example.com"]})
    result = _xcom(changed, "team")
    assert result["members"] == ["bo@example.com", "cy@example.com"]
    assert result["member_changes"]["removed"] == ["ana@example.com"]


def test_without_create_the_missing_pool_fails_the_run_saying_what_to_create(aws, airflow_db, capsys, caplog):
    run = example_dag(DAG_ID).test(run_conf={"workteam_name": "night-shift"})

    assert run.state == "failed"
    captured = capsys.readouterr()
    logged = captured.out + captured.err + caplog.text
    assert "no Cognito user pool is named 'gt-provider-workforce'" in logged and "create_cognito=True" in logged
    assert aws.client("sagemaker").list_workteams(NameContains="night-shift")["Workteams"] == []
