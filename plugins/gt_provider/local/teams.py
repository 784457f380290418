"""Who is in a private workteam of the local Ground Truth: the users of its Cognito groups.

A private workteam on AWS is one or more Cognito user groups of the workforce's user pool
(``MemberDefinitions[].CognitoMemberDefinition``); its workers are the users in them. The
local Ground Truth reads moto's Cognito state directly (it runs in the same process as the
server), so the users a test or an operator adds with ``AdminAddUserToGroup`` are the
workers who answer the next job: one simulated worker per member, with an accuracy of its
own (``Settings.member_accuracies`` by email, else the accuracy list in members' order).

A team whose user pool moto does not know (the demo team ``bootstrap`` creates names an
invented pool) keeps the anonymous simulated pool of :func:`~gt_provider.local.workforce.worker_pool`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from moto.cognitoidp.models import cognitoidp_backends

from gt_provider.local.exceptions import ValidationException
from gt_provider.local.workforce import Worker


@dataclass(frozen=True)
class Member:
    """A user of one of a team's Cognito groups."""

    username: str
    email: str
    sub: str


def _cognito(account_id: str, region: str) -> Any:
    return cognitoidp_backends[account_id][region]


def _cognito_definitions(member_definitions: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [d["CognitoMemberDefinition"] for d in member_definitions if "CognitoMemberDefinition" in d]


def check_member_definitions(account_id: str, region: str, member_definitions: Sequence[Mapping[str, Any]]) -> None:
    """Refuse a Cognito definition whose group or app client does not exist in a pool moto knows."""
    cognito = _cognito(account_id, region)
    definitions = _cognito_definitions(member_definitions)
    pools = {definition.get("UserPool") for definition in definitions}
    if len(pools) > 1:
        raise ValidationException(
            f"All member definitions of a workteam must use the same user pool, got {', '.join(sorted(map(str, pools)))}."
        )
    for definition in definitions:
        pool = cognito.user_pools.get(definition.get("UserPool"))
        if pool is None:
            continue  # an invented pool (the demo team): the anonymous simulated workforce
        if definition.get("UserGroup") not in pool.groups:
            raise ValidationException(
                f"User group {definition.get('UserGroup')} does not exist in user pool {definition['UserPool']}."
            )
        if definition.get("ClientId") not in pool.clients:
            raise ValidationException(
                f"App client {definition.get('ClientId')} does not exist in user pool {definition['UserPool']}."
            )


def members(account_id: str, region: str, member_definitions: Sequence[Mapping[str, Any]]) -> list[Member] | None:
    """The users of the team's Cognito groups, by email; None when no definition names a known pool."""
    cognito = _cognito(account_id, region)
    found: dict[str, Member] = {}
    known = False
    for definition in _cognito_definitions(member_definitions):
        pool = cognito.user_pools.get(definition.get("UserPool"))
        group = pool.groups.get(definition.get("UserGroup")) if pool is not None else None
        if group is None:
            continue
        known = True
        for user in group.users:
            if not user.enabled:
                continue
            attributes = user.attribute_lookup
            email = attributes.get("email", user.username)
            found.setdefault(user.username, Member(user.username, email, attributes.get("sub", user.id)))
    if not known:
        return None
    return sorted(found.values(), key=lambda member: member.email)


def member_workers(
    region: str, team: Sequence[Member], accuracies: Sequence[float], by_email: Mapping[str, float]
) -> list[Worker]:
    """One simulated worker per member: a stable id from the username, the member's Cognito sub."""
    workers = []
    for number, member in enumerate(team):
        digest = hashlib.sha256(f"{region}/member/{member.username}".encode()).hexdigest()
        workers.append(
            Worker(
                worker_id=f"private.{region}.{digest[:16]}",
                sub=member.sub,
                accuracy=by_email.get(member.email, accuracies[number % len(accuracies)]),
            )
        )
    return workers
