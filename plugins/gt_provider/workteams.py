"""Labeling teams: what a private workteam should be, checked before any AWS call (no Airflow).

A private workteam is a group of a Cognito user pool (the private workforce's pool) whose
users are the team's workers; SageMaker knows it by name and ARN, and sends an SNS topic a
message when the team has new tasks. :class:`TeamSpec` is what a user asks for; the hook
(:class:`gt_provider.hooks.workteams.WorkteamHook`) makes AWS match it. Vendor teams
(AWS Marketplace) are the vendor's to manage: their ARNs are used as they are. The public
workforce (Mechanical Turk) closed on 2026-09-30 and is refused everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from gt_provider import limits
from gt_provider.exceptions import PublicWorkforceUnavailableError, WorkteamConfigError

#: The app client a team's sign-in uses when the hook creates one.
DEFAULT_APP_CLIENT_NAME = "gt-provider-labeling"
#: CreateWorkteam's limits (botocore's SageMaker model) and Cognito's for groups and pools.
DESCRIPTION_LENGTH = (1, 200)
GROUP_NAME_LENGTH = (1, 128)
POOL_NAME_PATTERN = re.compile(r"^[\w\s+=,.@-]{1,128}$")
POOL_ID_PATTERN = re.compile(r"^[\w-]+_[0-9a-zA-Z]+$")
TOPIC_ARN_PATTERN = re.compile(r"^arn:aws[a-z\-]*:sns:[a-z0-9\-]*:[0-9]{12}:[a-zA-Z0-9_.-]+$")
#: Good enough to catch a typo; Cognito has the last word.
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class TeamSpec:
    """A private workteam on a Cognito user group, as the user wants it.

    The pool is named by id (``user_pool_id``) or by name (``user_pool_name``, found among the
    account's pools); ``create_cognito`` creates the pool, the group and the app client when
    they are missing, otherwise a missing one is an error that says what to create.
    ``notification_topic_arn`` "" stops notifications; None leaves them as they are.
    """

    name: str
    description: str
    user_group: str
    user_pool_id: str | None = None
    user_pool_name: str | None = None
    app_client_name: str = DEFAULT_APP_CLIENT_NAME
    create_cognito: bool = False
    notification_topic_arn: str | None = None

    def __post_init__(self) -> None:
        check_team_name(self.name)
        _check_length("description", self.description, *DESCRIPTION_LENGTH)
        _check_length("user_group", self.user_group, *GROUP_NAME_LENGTH)
        if (self.user_pool_id is None) == (self.user_pool_name is None):
            raise WorkteamConfigError(
                f"workteam {self.name}: give the Cognito user pool by user_pool_id or by user_pool_name, "
                f"exactly one of them (got user_pool_id={self.user_pool_id!r}, user_pool_name={self.user_pool_name!r})"
            )
        if self.user_pool_id is not None and not POOL_ID_PATTERN.fullmatch(self.user_pool_id):
            raise WorkteamConfigError(
                f"user_pool_id must look like <region>_<id> (us-east-1_AbC123), got {self.user_pool_id!r}"
            )
        if self.user_pool_name is not None and not POOL_NAME_PATTERN.fullmatch(self.user_pool_name):
            raise WorkteamConfigError(
                "user_pool_name must be 1 to 128 letters, digits, spaces or +=,.@- characters, "
                f"got {self.user_pool_name!r}"
            )
        if not POOL_NAME_PATTERN.fullmatch(self.app_client_name):
            raise WorkteamConfigError(f"app_client_name must be 1 to 128 characters, got {self.app_client_name!r}")
        if self.notification_topic_arn and not TOPIC_ARN_PATTERN.fullmatch(self.notification_topic_arn):
            raise WorkteamConfigError(
                "notification_topic_arn must be an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic>), "
                f"got {self.notification_topic_arn!r}"
            )


def check_team_name(name: object) -> str:
    """A private team's name as CreateWorkteam takes it; ARNs of vendor or public teams are refused here."""
    if isinstance(name, str):
        match = limits.WORKTEAM_ARN_PATTERN.match(name)
        if match is not None:
            kind_of_team(name)  # the public workforce: refused with its own message
            if match["kind"] == "vendor-crowd":
                raise WorkteamConfigError(
                    f"{name} is a vendor workteam: its members are the vendor's (AWS Marketplace). Use its ARN as "
                    "the labeling job's workteam_arn as it is; there is nothing to create or change here."
                )
            name = match["name"]
    if not isinstance(name, str) or not limits.NAME_PATTERN.match(name):
        raise WorkteamConfigError(
            "workteam_name must be 1 to 63 letters, digits or hyphens, starting and ending with a letter or digit, "
            f"got {name!r}"
        )
    return name


def kind_of_team(workteam_arn: str) -> str:
    """``private-crowd`` or ``vendor-crowd``; the public workforce is refused."""
    match = limits.WORKTEAM_ARN_PATTERN.match(workteam_arn)
    if match is None:
        raise WorkteamConfigError(f"{workteam_arn!r} is not a workteam ARN")
    if match["kind"] == limits.PUBLIC_WORKFORCE_KIND:
        raise PublicWorkforceUnavailableError(
            f"{workteam_arn} is the public workforce (Amazon Mechanical Turk), which closed on 2026-09-30: "
            "it has no members to manage. Use a private workteam (your own workers) or a vendor workforce."
        )
    return match["kind"]


def check_emails(emails: Iterable[object], argument: str) -> list[str]:
    """The addresses, lower-cased, once each; a malformed one is an error naming it and its position."""
    checked: list[str] = []
    for position, email in enumerate(emails):
        if not isinstance(email, str) or not EMAIL_PATTERN.fullmatch(email.strip()):
            raise WorkteamConfigError(f"{argument}[{position}] is not an email address: {email!r}")
        address = email.strip().lower()
        if address not in checked:
            checked.append(address)
    return checked


def _check_length(argument: str, value: object, low: int, high: int) -> None:
    if not isinstance(value, str) or not low <= len(value) <= high:
        length = len(value) if isinstance(value, str) else type(value).__name__
        raise WorkteamConfigError(f"{argument} must be {low} to {high} characters, got {length}: {value!r}")
