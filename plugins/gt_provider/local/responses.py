"""Ground Truth actions added to moto's SageMaker response class.

moto dispatches a request on its action name (``CreateLabelingJob`` ->
``create_labeling_job``), so methods added to ``SageMakerResponse`` serve both the server
and ``mock_aws``. Handlers only parse and serialize; ``models.py`` validates and keeps state.
"""

from __future__ import annotations

from typing import Any

from moto.core.responses import ActionResult, EmptyResult
from moto.sagemaker.responses import SageMakerResponse

from gt_provider.local.models import GroundTruthBackend, ground_truth_backend

_REQUEST_FIELDS = (
    "LabelingJobName",
    "LabelAttributeName",
    "InputConfig",
    "OutputConfig",
    "RoleArn",
    "LabelCategoryConfigS3Uri",
    "StoppingConditions",
    "LabelingJobAlgorithmsConfig",
    "HumanTaskConfig",
    "Tags",
)
_LIST_FIELDS = (
    "CreationTimeAfter",
    "CreationTimeBefore",
    "LastModifiedTimeAfter",
    "LastModifiedTimeBefore",
    "MaxResults",
    "NextToken",
    "NameContains",
    "SortBy",
    "SortOrder",
    "StatusEquals",
)


def _backend(self: SageMakerResponse) -> GroundTruthBackend:
    return ground_truth_backend(self.sagemaker_backend)


def _params(self: SageMakerResponse, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: self._get_param(name) for name in names}


def create_labeling_job(self: SageMakerResponse) -> ActionResult:
    job = _backend(self).create_labeling_job(_params(self, _REQUEST_FIELDS))
    return ActionResult({"LabelingJobArn": job.arn})


def describe_labeling_job(self: SageMakerResponse) -> ActionResult:
    return ActionResult(_backend(self).describe_labeling_job(self._get_param("LabelingJobName")).describe())


def stop_labeling_job(self: SageMakerResponse) -> EmptyResult:
    _backend(self).stop_labeling_job(self._get_param("LabelingJobName"))
    return EmptyResult()


def list_labeling_jobs(self: SageMakerResponse) -> ActionResult:
    jobs, next_token = _backend(self).list_labeling_jobs(_params(self, _LIST_FIELDS))
    result: dict[str, Any] = {"LabelingJobSummaryList": [job.summary() for job in jobs]}
    if next_token:
        result["NextToken"] = next_token
    return ActionResult(result)


def list_labeling_jobs_for_workteam(self: SageMakerResponse) -> ActionResult:
    fields = (
        "WorkteamArn",
        "MaxResults",
        "NextToken",
        "CreationTimeAfter",
        "CreationTimeBefore",
        "JobReferenceCodeContains",
        "SortBy",
        "SortOrder",
    )
    jobs, next_token = _backend(self).list_labeling_jobs_for_workteam(_params(self, fields))
    result: dict[str, Any] = {"LabelingJobSummaryList": [job.workteam_summary() for job in jobs]}
    if next_token:
        result["NextToken"] = next_token
    return ActionResult(result)


def create_workteam(self: SageMakerResponse) -> ActionResult:
    fields = ("WorkteamName", "WorkforceName", "MemberDefinitions", "Description", "NotificationConfiguration", "Tags")
    team = _backend(self).create_workteam(_params(self, fields))
    return ActionResult({"WorkteamArn": team.arn})


def describe_workteam(self: SageMakerResponse) -> ActionResult:
    team = _backend(self).describe_workteam(self._get_param("WorkteamName"))
    return ActionResult({"Workteam": team.to_dict()})


def update_workteam(self: SageMakerResponse) -> ActionResult:
    fields = ("WorkteamName", "MemberDefinitions", "Description", "NotificationConfiguration")
    given = {name: value for name, value in _params(self, fields).items() if value is not None}
    team = _backend(self).update_workteam(given)
    return ActionResult({"Workteam": team.to_dict()})


def delete_workteam(self: SageMakerResponse) -> ActionResult:
    _backend(self).delete_workteam(self._get_param("WorkteamName"))
    return ActionResult({"Success": True})


def list_workteams(self: SageMakerResponse) -> ActionResult:
    fields = ("SortBy", "SortOrder", "NameContains", "NextToken", "MaxResults")
    teams, next_token = _backend(self).list_workteams(_params(self, fields))
    result: dict[str, Any] = {"Workteams": [team.to_dict() for team in teams]}
    if next_token:
        result["NextToken"] = next_token
    return ActionResult(result)


HANDLERS = {
    "create_labeling_job": create_labeling_job,
    "describe_labeling_job": describe_labeling_job,
    "stop_labeling_job": stop_labeling_job,
    "list_labeling_jobs": list_labeling_jobs,
    "list_labeling_jobs_for_workteam": list_labeling_jobs_for_workteam,
    "create_workteam": create_workteam,
    "describe_workteam": describe_workteam,
    "update_workteam": update_workteam,
    "delete_workteam": delete_workteam,
    "list_workteams": list_workteams,
}
