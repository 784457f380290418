"""Operators that manage labeling teams: private workteams on Cognito user groups, and their members."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields

from gt_provider.exceptions import WorkteamConfigError
from gt_provider.hooks.workteams import WorkteamHook
from gt_provider.operators import templated_flag
from gt_provider.workteams import DEFAULT_APP_CLIENT_NAME, TeamSpec, check_emails, check_team_name

if TYPE_CHECKING:
    from airflow.sdk import Context


class GroundTruthWorkteamOperator(AwsBaseOperator[WorkteamHook]):
    """Create a private workteam on a Cognito user group, or update it to match; optionally set its members.

    Idempotent: a team that already matches is left alone, so a retried or rerun task
    changes nothing. Returns ``{workteam_name, workteam_arn, action, changed,
    created_in_cognito, members}`` (``action`` is ``created``, ``updated`` or ``unchanged``).

    :param workteam_name: the team's name (1-63 letters, digits, hyphens). (templated)
    :param description: shown to the team's workers, 1-200 characters. (templated)
    :param user_group: the Cognito group whose users are the team. (templated)
    :param user_pool_id: the private workforce's Cognito user pool, by id... (templated)
    :param user_pool_name: ...or by name, looked up among the account's pools. (templated)
    :param app_client_name: the pool's app client the team signs in through. (templated)
    :param create_cognito: create the pool (by name), group and app client when missing;
        otherwise a missing one fails the task before anything changes, saying what to create. (templated)
    :param notification_topic_arn: SNS topic told of new tasks for the team; "" stops
        notifications; None (default) leaves the team's setting as it is. (templated)
    :param members: the team's members by email, exactly: missing ones are added (Cognito
        users created and invited where the pool has none of that email), others removed
        from the group (their users are kept). None (default) leaves members as they are. (templated)
    :param invite_members: let Cognito email an invitation to each user it creates.
    """

    aws_hook_class = WorkteamHook
    template_fields: Sequence[str] = aws_template_fields(
        "workteam_name",
        "description",
        "user_group",
        "user_pool_id",
        "user_pool_name",
        "app_client_name",
        "create_cognito",
        "notification_topic_arn",
        "members",
    )
    template_fields_renderers = {"members": "json"}
    ui_color = "#d5e8d4"

    def __init__(
        self,
        *,
        workteam_name: str,
        description: str,
        user_group: str,
        user_pool_id: str | None = None,
        user_pool_name: str | None = None,
        app_client_name: str = DEFAULT_APP_CLIENT_NAME,
        create_cognito: bool = False,
        notification_topic_arn: str | None = None,
        members: Sequence[str] | None = None,
        invite_members: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.workteam_name = workteam_name
        self.description = description
        self.user_group = user_group
        self.user_pool_id = user_pool_id
        self.user_pool_name = user_pool_name
        self.app_client_name = app_client_name
        self.create_cognito = create_cognito
        self.notification_topic_arn = notification_topic_arn
        self.members = members
        self.invite_members = invite_members

    def execute(self, context: Context) -> dict[str, Any]:
        spec = TeamSpec(
            name=check_team_name(self.workteam_name),
            description=self.description,
            user_group=self.user_group,
            user_pool_id=self.user_pool_id or None,
            user_pool_name=self.user_pool_name or None,
            app_client_name=self.app_client_name,
            create_cognito=templated_flag(self.create_cognito, "create_cognito", WorkteamConfigError),
            notification_topic_arn=self.notification_topic_arn,
        )
        wanted = check_emails(self.members, "members") if self.members is not None else None  # before any change
        changes = self.hook.ensure_workteam(spec)
        result: dict[str, Any] = {"workteam_name": spec.name, **dataclasses.asdict(changes)}
        if wanted is None:
            result["members"] = self.hook.members(spec.name)
            return result
        current = self.hook.members(spec.name)
        members = self.hook.change_members(
            spec.name,
            add=wanted,
            remove=[email for email in current if email not in wanted],
            invite=self.invite_members,
        )
        result["members"] = members.members
        result["member_changes"] = {"added": members.added, "removed": members.removed, "invited": members.invited}
        return result


class GroundTruthWorkteamMembersOperator(AwsBaseOperator[WorkteamHook]):
    """Add and remove members of a private workteam by email; with neither, report who is in it.

    Adding an address that is already a member, or removing one that is not, changes nothing,
    so the task can be retried. Returns ``{workteam_name, added, removed, unchanged, invited,
    members}``. A vendor team's members are the vendor's, and the public workforce has none:
    both are refused before any call.

    :param workteam_name: the private team. (templated)
    :param add: emails to make members (Cognito users created where missing). (templated)
    :param remove: emails to take out of the team's group (their users are kept). (templated)
    :param invite: let Cognito email an invitation to each user it creates.
    """

    aws_hook_class = WorkteamHook
    template_fields: Sequence[str] = aws_template_fields("workteam_name", "add", "remove")
    template_fields_renderers = {"add": "json", "remove": "json"}
    ui_color = "#d5e8d4"

    def __init__(
        self,
        *,
        workteam_name: str,
        add: Sequence[str] = (),
        remove: Sequence[str] = (),
        invite: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.workteam_name = workteam_name
        self.add = add
        self.remove = remove
        self.invite = invite

    def execute(self, context: Context) -> dict[str, Any]:
        name = check_team_name(self.workteam_name)
        changes = self.hook.change_members(name, add=self.add, remove=self.remove, invite=self.invite)
        return {"workteam_name": name, **dataclasses.asdict(changes)}
