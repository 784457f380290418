"""
### Create or change a labeling team (a private workteam) from a form

Triggered by hand: the form says what the team should be, and the run makes it so.

1. **team** — `GroundTruthWorkteamOperator`: the private workteam on the Cognito group of
   your private workforce's user pool, created or updated to match the form (description,
   the SNS topic told of new tasks). With **Members** filled in, the team's members become
   exactly those addresses: new ones are invited by Cognito's email, others are taken out
   of the group (their sign-ins are kept). Running the same form twice changes nothing.
2. **report** — the team's ARN (what labeling DAGs take as `workteam_arn`, or the
   `gt_workteam_arn` Variable) and who is in it.

On AWS, a private workforce has one Cognito user pool per region: name it in the form
(**User pool**). "Create what is missing" creates the pool, group and app client; use it
for a new account or offline, not for a pool your workforce already has. Vendor teams
(AWS Marketplace) are the vendor's to manage, and the public workforce (Mechanical Turk)
closed on 2026-09-30: neither has members to change here.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Param, task

from gt_provider.operators.workteams import GroundTruthWorkteamOperator
from include import pipeline

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


@task
def report(team: dict[str, Any]) -> dict[str, Any]:
    """What a labeling DAG needs from the team, and who is in it, in the task log."""
    print(f"workteam {team['workteam_name']}: {team['action']} ({team['workteam_arn']})")
    print(f"members ({len(team['members'])}): {', '.join(team['members']) or 'none yet'}")
    changes = team.get("member_changes")
    if changes:
        print(f"added {changes['added'] or 'none'}, removed {changes['removed'] or 'none'}")
    print(f"use it: workteam_arn={team['workteam_arn']} (or the gt_workteam_arn Variable)")
    return {"workteam_arn": team["workteam_arn"], "members": team["members"]}


with pipeline.pipeline_dag(
    "gt_labeling_team",
    description="Create or change a private labeling team and who is in it",
    doc_md=__doc__,
    schedule=None,
    tags=["workforce"],
    params={
        "workteam_name": Param(
            "labelers",
            type="string",
            title="Team name",
            pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$",
            description="The private workteam: 1 to 63 letters, digits or hyphens. An existing team is updated.",
        ),
        "description": Param(
            "Our private labelers",
            type="string",
            title="Description",
            minLength=1,
            maxLength=200,
            description="Shown to the team's workers in the labeling portal (1 to 200 characters).",
        ),
        "members": Param(
            [],
            type="array",
            items={"type": "string", "pattern": EMAIL_PATTERN},
            uniqueItems=True,
            title="Members",
            description="One email per line. Filled in, the team becomes exactly these people. Empty: members stay as they are.",
        ),
        "user_pool_name": Param(
            "gt-provider-workforce",
            type="string",
            title="User pool",
            minLength=1,
            maxLength=128,
            description="The Cognito user pool of your private workforce, by name.",
        ),
        "user_group": Param(
            None,
            type=["null", "string"],
            title="User group",
            description="The Cognito group of the team's members. Empty: the team's name.",
        ),
        "create_cognito": Param(
            False,
            type="boolean",
            title="Create what is missing",
            description="Create the user pool, group and app client if they do not exist (a new account, or offline).",
        ),
        "notification_topic_arn": Param(
            None,
            type=["null", "string"],
            title="Notification topic",
            pattern=r"^(|arn:aws[a-z\-]*:sns:[a-z0-9\-]*:[0-9]{12}:[a-zA-Z0-9_.-]+)$",
            description="SNS topic ARN told when the team has new tasks. Empty: left as it is.",
        ),
    },
) as dag:
    team = GroundTruthWorkteamOperator(
        task_id="team",
        workteam_name="{{ params.workteam_name }}",
        description="{{ params.description }}",
        user_group="{{ params.user_group or params.workteam_name }}",
        user_pool_name="{{ params.user_pool_name }}",
        create_cognito="{{ params.create_cognito }}",
        notification_topic_arn="{{ params.notification_topic_arn or None }}",
        members="{{ params.members or None }}",
        retries=0,  # a form's mistake is not fixed by trying again
    )
    report(team.output)
