"""Private workteams (labeling teams) and their members: SageMaker workteams on Cognito user groups."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

from gt_provider.exceptions import WorkteamConfigError
from gt_provider.workteams import TeamSpec, check_emails, check_team_name

Action = Literal["created", "updated", "unchanged"]


@dataclass(frozen=True)
class CognitoGroup:
    """Where a team's members are: a group of a user pool, signed in through an app client."""

    user_pool_id: str
    user_group: str
    client_id: str

    def member_definition(self) -> dict[str, Any]:
        return {
            "CognitoMemberDefinition": {
                "UserPool": self.user_pool_id,
                "UserGroup": self.user_group,
                "ClientId": self.client_id,
            }
        }


@dataclass
class TeamChanges:
    """What a call changed, so that a log line and the task's result can say it."""

    workteam_arn: str = ""
    action: Action = "unchanged"
    created_in_cognito: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)


@dataclass
class MemberChanges:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    #: Asked to add but already members, or asked to remove but not members: nothing to do.
    unchanged: list[str] = field(default_factory=list)
    #: Users created (and invited, unless told not to) because the pool had no user of that email.
    invited: list[str] = field(default_factory=list)
    members: list[str] = field(default_factory=list)


class WorkteamHook(AwsBaseHook):
    """SageMaker private workteams and the Cognito users who are their members.

    Create-or-update is idempotent: a team that already matches its :class:`TeamSpec` is left
    alone, one that differs is updated (and the log says which fields), so a retried task
    changes nothing twice. Members are Cognito users, found by email; adding an address the
    pool does not know creates the user, and Cognito sends the invitation (as the console
    does) unless ``invite=False``.

    Additional arguments (such as ``aws_conn_id``) are passed down to AwsBaseHook.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["client_type"] = "sagemaker"
        super().__init__(*args, **kwargs)

    @cached_property
    def cognito(self) -> Any:
        """The Cognito user pools client on the same connection, region and endpoint."""
        return AwsBaseHook(
            aws_conn_id=self.aws_conn_id,
            region_name=self.region_name,
            verify=self.verify,
            config=self.config,
            client_type="cognito-idp",
        ).conn

    # ------------------------------------------------------------------ teams
    def describe_workteam(self, name: str) -> dict[str, Any] | None:
        """DescribeWorkteam's ``Workteam``, or None when there is no such team."""
        try:
            return dict(self.conn.describe_workteam(WorkteamName=check_team_name(name))["Workteam"])
        except self.conn.exceptions.ResourceNotFound:
            return None
        except self.conn.exceptions.ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("ResourceNotFound", "ValidationException"):
                return None
            raise

    def list_workteams(self, name_contains: str = "") -> Iterator[dict[str, Any]]:
        """Every workteam of the account and region whose name contains ``name_contains``."""
        request: dict[str, Any] = {"NameContains": name_contains} if name_contains else {}
        while True:
            page = self.conn.list_workteams(**request)
            yield from page.get("Workteams", [])
            if not page.get("NextToken"):
                return
            request["NextToken"] = page["NextToken"]

    def ensure_workteam(self, spec: TeamSpec) -> TeamChanges:
        """Create the team, or update it where it differs from ``spec``; Cognito first, if asked."""
        changes = TeamChanges()
        group = self._cognito_group(spec, changes)
        current = self.describe_workteam(spec.name)
        wanted_topic = spec.notification_topic_arn
        if current is None:
            request: dict[str, Any] = {
                "WorkteamName": spec.name,
                "Description": spec.description,
                "MemberDefinitions": [group.member_definition()],
            }
            if wanted_topic:
                request["NotificationConfiguration"] = {"NotificationTopicArn": wanted_topic}
            changes.workteam_arn = self.conn.create_workteam(**request)["WorkteamArn"]
            changes.action = "created"
            self.log.info("Created workteam %s (%s) on Cognito group %s", spec.name, changes.workteam_arn, group)
            return changes
        changes.workteam_arn = current["WorkteamArn"]
        update: dict[str, Any] = {}
        if current.get("Description") != spec.description:
            update["Description"] = spec.description
        if current.get("MemberDefinitions") != [group.member_definition()]:
            update["MemberDefinitions"] = [group.member_definition()]
        topic = (current.get("NotificationConfiguration") or {}).get("NotificationTopicArn") or ""
        if wanted_topic is not None and topic != wanted_topic:
            update["NotificationConfiguration"] = {"NotificationTopicArn": wanted_topic}
        if update:
            self.conn.update_workteam(WorkteamName=spec.name, **update)
            changes.action, changes.changed = "updated", sorted(update)
            self.log.info("Updated workteam %s: %s", spec.name, ", ".join(changes.changed))
        else:
            self.log.info("Workteam %s is as asked (%s): nothing to change", spec.name, changes.workteam_arn)
        return changes

    def _cognito_group(self, spec: TeamSpec, changes: TeamChanges) -> CognitoGroup:
        """The pool, group and app client of ``spec``, created where missing if the spec allows it."""
        pool_id = spec.user_pool_id or self._find_pool(spec.user_pool_name or "")
        if pool_id is None:
            self._refuse_missing(spec, f"no Cognito user pool is named {spec.user_pool_name!r}")
            pool_id = self.cognito.create_user_pool(
                PoolName=spec.user_pool_name,
                UsernameAttributes=["email"],
                AutoVerifiedAttributes=["email"],
                AdminCreateUserConfig={"AllowAdminCreateUserOnly": True},
            )["UserPool"]["Id"]
            changes.created_in_cognito.append(f"user pool {spec.user_pool_name} ({pool_id})")
        try:
            self.cognito.get_group(UserPoolId=pool_id, GroupName=spec.user_group)
        except self.cognito.exceptions.ResourceNotFoundException:
            self._refuse_missing(spec, f"user pool {pool_id} has no group {spec.user_group!r}")
            self.cognito.create_group(
                UserPoolId=pool_id, GroupName=spec.user_group, Description=f"Workers of workteam {spec.name}"
            )
            changes.created_in_cognito.append(f"group {spec.user_group}")
        client_id = self._find_client(pool_id, spec.app_client_name)
        if client_id is None:
            self._refuse_missing(spec, f"user pool {pool_id} has no app client named {spec.app_client_name!r}")
            client_id = self.cognito.create_user_pool_client(
                UserPoolId=pool_id, ClientName=spec.app_client_name, GenerateSecret=False
            )["UserPoolClient"]["ClientId"]
            changes.created_in_cognito.append(f"app client {spec.app_client_name}")
        if changes.created_in_cognito:
            self.log.info("Created in Cognito: %s", ", ".join(changes.created_in_cognito))
        return CognitoGroup(pool_id, spec.user_group, client_id)

    @staticmethod
    def _refuse_missing(spec: TeamSpec, what: str) -> None:
        if not spec.create_cognito:
            raise WorkteamConfigError(
                f"workteam {spec.name}: {what}. Create it (the private workforce's pool, its group, the app client) "
                "or pass create_cognito=True to let the task create what is missing."
            )

    def _find_pool(self, name: str) -> str | None:
        found = [pool["Id"] for pool in self._pages("list_user_pools", "UserPools", {}) if pool["Name"] == name]
        if len(found) > 1:
            raise WorkteamConfigError(
                f"{len(found)} Cognito user pools are named {name!r} ({', '.join(found)}): give user_pool_id instead"
            )
        return found[0] if found else None

    def _find_client(self, pool_id: str, name: str) -> str | None:
        clients = self._pages("list_user_pool_clients", "UserPoolClients", {"UserPoolId": pool_id})
        return next((client["ClientId"] for client in clients if client["ClientName"] == name), None)

    def _pages(self, method: str, key: str, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every item of a paginated Cognito list call (botocore's paginator: each call names its tokens)."""
        if method == "list_user_pools":
            request = {**request, "MaxResults": 60}  # required by ListUserPools
        for page in self.cognito.get_paginator(method).paginate(**request):
            yield from page.get(key, [])

    # ---------------------------------------------------------------- members
    def team_groups(self, name: str) -> list[CognitoGroup]:
        """The Cognito groups of a private team (its member definitions)."""
        team = self.describe_workteam(name)
        if team is None:
            raise WorkteamConfigError(f"there is no workteam {check_team_name(name)!r} in {self.conn_region_name}")
        definitions = [
            d["CognitoMemberDefinition"] for d in team.get("MemberDefinitions", []) if "CognitoMemberDefinition" in d
        ]
        groups = [CognitoGroup(d["UserPool"], d["UserGroup"], d["ClientId"]) for d in definitions]
        if not groups:
            raise WorkteamConfigError(
                f"workteam {team['WorkteamName']} has no Cognito member definition (an OIDC team's members are "
                "managed by its identity provider)"
            )
        return groups

    def members(self, name: str) -> list[str]:
        """The emails of the team's members, sorted."""
        return sorted({email for group in self.team_groups(name) for email, _ in self._group_users(group)})

    def change_members(
        self, name: str, add: Sequence[str] = (), remove: Sequence[str] = (), *, invite: bool = True
    ) -> MemberChanges:
        """Add and remove members by email; asking twice changes nothing the second time."""
        to_add, to_remove = check_emails(add, "add"), check_emails(remove, "remove")
        both = sorted(set(to_add) & set(to_remove))
        if both:
            raise WorkteamConfigError(f"asked to add and to remove the same address: {', '.join(both)}")
        groups = self.team_groups(name)
        group = groups[0]  # where new members go (a team has one pool; most have one group)
        changes = MemberChanges()
        in_group = {g: dict(self._group_users(g)) for g in groups}
        current = {email: username for users in in_group.values() for email, username in users.items()}
        for email in to_add:
            if email in current:
                changes.unchanged.append(email)
                continue
            username = self._user_by_email(group.user_pool_id, email)
            if username is None:
                username = self._create_user(group.user_pool_id, email, invite)
                changes.invited.append(email)
            self.cognito.admin_add_user_to_group(
                UserPoolId=group.user_pool_id, Username=username, GroupName=group.user_group
            )
            changes.added.append(email)
        for email in to_remove:
            if email not in current:
                changes.unchanged.append(email)
                continue
            for g, users in in_group.items():
                if email in users:
                    self.cognito.admin_remove_user_from_group(
                        UserPoolId=g.user_pool_id, Username=users[email], GroupName=g.user_group
                    )
            changes.removed.append(email)
        changes.members = self.members(name)
        self.log.info(
            "Workteam %s: added %s, removed %s, already as asked %s; %d member(s) now",
            name,
            ", ".join(changes.added) or "none",
            ", ".join(changes.removed) or "none",
            ", ".join(changes.unchanged) or "none",
            len(changes.members),
        )
        return changes

    def _group_users(self, group: CognitoGroup) -> Iterator[tuple[str, str]]:
        """(email, username) of every user of the group."""
        request = {"UserPoolId": group.user_pool_id, "GroupName": group.user_group}
        for user in self._pages("list_users_in_group", "Users", request):
            attributes = {attribute["Name"]: attribute["Value"] for attribute in user.get("Attributes", [])}
            yield attributes.get("email", user["Username"]).lower(), user["Username"]

    def _user_by_email(self, pool_id: str, email: str) -> str | None:
        users = self.cognito.list_users(UserPoolId=pool_id, Filter=f'email = "{email}"', Limit=2).get("Users", [])
        return users[0]["Username"] if users else None

    def _create_user(self, pool_id: str, email: str, invite: bool) -> str:
        request: dict[str, Any] = {
            "UserPoolId": pool_id,
            "Username": email,
            "UserAttributes": [{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}],
            "DesiredDeliveryMediums": ["EMAIL"],
        }
        if not invite:
            request["MessageAction"] = "SUPPRESS"
        return str(self.cognito.admin_create_user(**request)["User"]["Username"])
