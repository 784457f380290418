"""Workteams and the paging and sorting of List calls, as the local Ground Truth's API answers them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gt_provider.local.exceptions import ValidationException, constraint_error
from gt_provider.local.validation import check_range


def paginate(items: list[Any], next_token: str | None, max_results: int | None) -> tuple[list[Any], str | None]:
    """One page of ``items`` and the token of the next one (an offset, as moto does)."""
    limit = max_results or 10
    check_range(limit, "maxResults", 1, 100)
    try:
        start = int(next_token) if next_token else 0
    except ValueError:
        raise ValidationException(f"Invalid pagination token: {next_token!r}") from None
    page = items[start : start + limit]
    return page, (str(start + limit) if start + limit < len(items) else None)


def sorted_by(items: list[Any], key: Any, sort_order: str | None) -> list[Any]:
    """``items`` in the ListX call's ``SortOrder`` (refusing any other value, as AWS does)."""
    if sort_order not in (None, "Ascending", "Descending"):
        raise constraint_error(sort_order, "sortOrder", "Member must satisfy enum value set: [Ascending, Descending]")
    return sorted(items, key=key, reverse=sort_order == "Descending")


@dataclass
class Workteam:
    """A private workteam of the local Ground Truth, as DescribeWorkteam returns it."""

    name: str
    arn: str
    workforce_arn: str
    member_definitions: list[dict[str, Any]]
    description: str
    created: datetime
    tags: list[dict[str, str]]
    #: The SNS topic that hears of new tasks for the team's workers, if any.
    notification_topic_arn: str | None = None
    updated: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        described: dict[str, Any] = {
            "WorkteamName": self.name,
            "MemberDefinitions": self.member_definitions,
            "WorkteamArn": self.arn,
            "WorkforceArn": self.workforce_arn,
            "ProductListingIds": [],
            "Description": self.description,
            "SubDomain": f"{self.name.lower()}.labeling.local",
            "CreateDate": self.created,
            "LastUpdatedDate": self.updated or self.created,
        }
        if self.notification_topic_arn:
            described["NotificationConfiguration"] = {"NotificationTopicArn": self.notification_topic_arn}
        return described
