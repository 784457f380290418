"""The checks CreateLabelingJob runs before a job exists, with AWS's error codes.

Split from ``models.py`` (state and lifecycle): a refused request raises here, with the
message and code AWS uses; input Ground Truth only rejects while initializing (an invalid
manifest line, too many objects) becomes the job's ``failure_reason`` instead.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from gt_provider import limits, task_types
from gt_provider.limits import NAME_PATTERN
from gt_provider.local.annotations import SIMULATIONS
from gt_provider.local.exceptions import ValidationException, constraint_error
from gt_provider.local.s3 import S3Store
from gt_provider.s3io import split_s3_prefix


def check_length(value: str | None, field_name: str, low: int, high: int) -> None:
    if value is None or not low <= len(value) <= high:
        raise constraint_error(value, field_name, f"Member must have length between {low} and {high}, inclusive")


def check_range(value: int | None, field_name: str, low: int, high: int | None) -> None:
    if value is None:
        return
    if value < low:
        raise constraint_error(value, field_name, f"Member must have value greater than or equal to {low}")
    if high is not None and value > high:
        raise constraint_error(value, field_name, f"Member must have value less than or equal to {high}")


def check_name(name: str | None, field_name: str) -> str:
    if not name or not NAME_PATTERN.match(name):
        raise constraint_error(
            name,
            field_name,
            f"Member must satisfy regular expression pattern: {NAME_PATTERN.pattern} "
            "(1 to 63 letters, digits and hyphens, starting and ending with a letter or digit)",
        )
    return name


@dataclass(frozen=True)
class LabelConfig:
    """The parts of the label category configuration the local Ground Truth uses."""

    labels: list[str]
    entries: list[dict[str, Any]]
    audit_label_attribute_name: str | None = None


class CheckedRequest(NamedTuple):
    """What a valid request's job is made of."""

    task_type: task_types.TaskType | None
    label_config: LabelConfig
    #: The parsed manifest lines, or why the job will fail to initialize.
    lines: list[dict[str, Any]] | str
    line_numbers: list[int]
    failure: str | None


class CreateLabelingJobChecks:
    """CreateLabelingJob's validation for one account and region."""

    def __init__(self, region: str, s3: S3Store, workteams: Mapping[str, Any]) -> None:
        self.region = region
        self._s3 = s3
        self.workteams = workteams

    def check(self, request: dict[str, Any]) -> CheckedRequest:
        """Raise what AWS raises for a request it refuses; else what the job is made of."""
        human = request.get("HumanTaskConfig") or {}
        task_type = self._task_type(human)
        attribute = request.get("LabelAttributeName") or ""
        reason = (
            task_type.check_label_attribute_name(attribute)
            if task_type
            else task_types.TASK_TYPES["Custom"].check_label_attribute_name(attribute)
        )
        if reason:
            raise ValidationException(f"LabelAttributeName '{attribute}' is not valid: {reason}")
        role = request.get("RoleArn")
        if not role or not limits.ROLE_ARN_PATTERN.match(role):
            raise constraint_error(
                role, "roleArn", f"Member must satisfy regular expression pattern: {limits.ROLE_ARN_PATTERN.pattern}"
            )
        self._check_workteam(human.get("WorkteamArn"))
        self._check_human_task_config(human, task_type)
        self._check_stopping_conditions(request.get("StoppingConditions") or {})
        check_range(len(request.get("Tags") or []), "tags", 0, limits.MAX_TAGS)
        output_path = (request.get("OutputConfig") or {}).get("S3OutputPath", "")
        try:
            split_s3_prefix(output_path)
        except ValueError:
            raise ValidationException(f"OutputConfig.S3OutputPath '{output_path}' is not an s3:// URI") from None
        label_config = self._label_config(request.get("LabelCategoryConfigS3Uri"), task_type)
        self._check_automated_labeling(request, task_type)
        lines, line_numbers = self._manifest_lines(request)
        if (
            request.get("LabelingJobAlgorithmsConfig")
            and isinstance(lines, list)
            and len(lines) < limits.MIN_AUTO_LABELING_OBJECTS
        ):
            raise ValidationException(
                f"Automated data labeling requires at least {limits.MIN_AUTO_LABELING_OBJECTS} data objects; "
                f"the input manifest has {len(lines)}. Label a smaller dataset without "
                "LabelingJobAlgorithmsConfig."
            )
        failure = self._initialization_failure(request, task_type, label_config.labels, lines)
        return CheckedRequest(task_type, label_config, lines, line_numbers, failure)

    def _check_automated_labeling(self, request: dict[str, Any], task_type: task_types.TaskType | None) -> None:
        """LabelingJobAlgorithmsConfig: a type that has it, not streaming, its own algorithm."""
        algorithms = request.get("LabelingJobAlgorithmsConfig")
        if not algorithms:
            return
        if not (task_type and task_type.auto_labeling_algorithm):
            raise ValidationException(
                f"Automated data labeling is not supported for task type "
                f"{task_type.name if task_type else 'Custom'}; it is supported for single-label image "
                "and text classification, bounding box and semantic segmentation."
            )
        data_source = (request.get("InputConfig") or {}).get("DataSource") or {}
        if "SnsDataSource" in data_source:
            raise ValidationException(
                "Automated data labeling is not supported for streaming labeling jobs "
                "(InputConfig.DataSource.SnsDataSource); remove LabelingJobAlgorithmsConfig."
            )
        arn = algorithms.get("LabelingJobAlgorithmSpecificationArn") or ""
        expected = task_type.auto_labeling_algorithm_arn(self.region)
        if arn != expected:
            raise ValidationException(
                f"LabelingJobAlgorithmSpecificationArn '{arn}' is not the automated-labeling algorithm of "
                f"{task_type.name} jobs in {self.region}; use '{expected}'."
            )

    def _task_type(self, human: dict[str, Any]) -> task_types.TaskType | None:
        pre = human.get("PreHumanTaskLambdaArn")
        ui_arn = (human.get("UiConfig") or {}).get("HumanTaskUiArn")
        task_type = task_types.task_type_from_lambda_arn(pre) if pre else None
        if (
            pre
            and task_type is None
            and pre.split(":")[4:5]
            and pre.split(":")[4] in task_types.LAMBDA_ACCOUNTS.values()
        ):
            raise ValidationException(
                f"PreHumanTaskLambdaArn '{pre}' names no Ground Truth built-in Lambda; built-in names are "
                "PRE-<TaskType> (e.g. PRE-ImageMultiClass)."
            )
        if task_type is None and ui_arn:
            task_type = task_types.task_type_from_human_task_ui_arn(ui_arn)
        if task_type is not None and task_type.lambda_name and pre:
            expected = task_type.pre_human_task_lambda_arn(self.region)
            if pre != expected:
                raise ValidationException(
                    f"PreHumanTaskLambdaArn '{pre}' is not the {task_type.name} Lambda of region "
                    f"{self.region}; expected '{expected}'"
                )
        return task_type

    def _check_workteam(self, arn: str | None) -> None:
        match = limits.WORKTEAM_ARN_PATTERN.match(arn or "")
        if not match:
            raise constraint_error(
                arn,
                "humanTaskConfig.workteamArn",
                f"Member must satisfy regular expression pattern: {limits.WORKTEAM_ARN_PATTERN.pattern}",
            )
        if match["kind"] == limits.PUBLIC_WORKFORCE_KIND:
            raise ValidationException(
                "The public workforce (Amazon Mechanical Turk) closed on 2026-09-30 and can no "
                "longer be used; use a private or vendor workteam."
            )
        if match["kind"] == "private-crowd" and match["name"].lower() not in self.workteams:
            raise ValidationException(f"Workteam '{arn}' does not exist in {self.region}.")

    def _check_human_task_config(self, human: dict[str, Any], task_type: task_types.TaskType | None) -> None:
        check_range(
            human.get("NumberOfHumanWorkersPerDataObject"),
            "humanTaskConfig.numberOfHumanWorkersPerDataObject",
            *limits.WORKERS_PER_OBJECT,
        )
        max_time = task_type.max_task_time_limit_seconds if task_type else 28_800
        check_range(
            human.get("TaskTimeLimitInSeconds"),
            "humanTaskConfig.taskTimeLimitInSeconds",
            limits.MIN_TASK_TIME_LIMIT_SECONDS,
            max_time,
        )
        check_range(
            human.get("TaskAvailabilityLifetimeInSeconds"),
            "humanTaskConfig.taskAvailabilityLifetimeInSeconds",
            *limits.TASK_AVAILABILITY_SECONDS,
        )
        check_range(
            human.get("MaxConcurrentTaskCount"), "humanTaskConfig.maxConcurrentTaskCount", *limits.MAX_CONCURRENT_TASKS
        )
        check_length(human.get("TaskTitle"), "humanTaskConfig.taskTitle", *limits.TASK_TITLE_LENGTH)
        check_length(human.get("TaskDescription"), "humanTaskConfig.taskDescription", *limits.TASK_DESCRIPTION_LENGTH)
        keywords = human.get("TaskKeywords")
        if keywords is not None:
            check_range(len(keywords), "humanTaskConfig.taskKeywords", *limits.TASK_KEYWORDS)
            for position, keyword in enumerate(keywords, 1):
                check_length(keyword, f"humanTaskConfig.taskKeywords.{position}.member", *limits.TASK_KEYWORD_LENGTH)
                if not limits.KEYWORD_PATTERN.match(keyword):
                    raise constraint_error(
                        keyword,
                        f"humanTaskConfig.taskKeywords.{position}.member",
                        f"Member must satisfy regular expression pattern: {limits.KEYWORD_PATTERN.pattern}",
                    )
        ui = human.get("UiConfig") or {}
        if task_type and task_type.human_task_ui_name and not ui.get("HumanTaskUiArn"):
            raise ValidationException(f"Task type {task_type.name} requires UiConfig.HumanTaskUiArn.")
        template = ui.get("UiTemplateS3Uri")
        if not ui.get("HumanTaskUiArn"):
            if not template:
                raise ValidationException("UiConfig needs UiTemplateS3Uri or HumanTaskUiArn.")
            if self._get(template, "UiConfig.UiTemplateS3Uri") is None:
                raise ValidationException(f"UiConfig.UiTemplateS3Uri '{template}' does not exist.")

    @staticmethod
    def _check_stopping_conditions(conditions: dict[str, Any]) -> None:
        check_range(
            conditions.get("MaxHumanLabeledObjectCount"), "stoppingConditions.maxHumanLabeledObjectCount", 1, None
        )
        check_range(
            conditions.get("MaxPercentageOfInputDatasetLabeled"),
            "stoppingConditions.maxPercentageOfInputDatasetLabeled",
            *limits.MAX_PERCENTAGE_LABELED,
        )

    def _get(self, uri: str, field_name: str) -> bytes | None:
        try:
            return self._s3.get(uri)
        except ValueError:
            raise ValidationException(f"{field_name} '{uri}' is not an s3:// URI") from None

    def _label_config(self, uri: str | None, task_type: task_types.TaskType | None) -> LabelConfig:
        if not uri:
            return LabelConfig([], [])
        body = self._get(uri, "LabelCategoryConfigS3Uri")
        if body is None:
            raise ValidationException(f"LabelCategoryConfigS3Uri '{uri}' does not exist.")
        try:
            config = json.loads(body)
            entries = [dict(entry) for entry in config["labels"]]
            labels = [entry["label"] for entry in entries]
            if not all(isinstance(label, str) for label in labels):
                raise TypeError("every label must be a string")
        except (ValueError, KeyError, TypeError) as error:
            raise ValidationException(
                f"LabelCategoryConfigS3Uri '{uri}' is not a label category configuration "
                f'(expected {{"labels": [{{"label": ...}}, ...]}}): {error}'
            ) from None
        audit = config.get("auditLabelAttributeName")
        if not task_type and len(set(labels)) != len(labels):
            raise ValidationException(f"LabelCategoryConfigS3Uri '{uri}': label names must be unique, got {labels}")
        if task_type:
            problems = task_type.label_problems(labels)
            if problems:
                raise ValidationException(f"LabelCategoryConfigS3Uri '{uri}': {'; '.join(problems)}")
            if task_type.requires_audit_label_attribute_name and not audit:
                raise ValidationException(
                    f"LabelCategoryConfigS3Uri '{uri}': {task_type.name} jobs review an earlier job's labels; "
                    "the configuration must name its label attribute in 'auditLabelAttributeName'."
                )
        return LabelConfig(labels, entries, audit if isinstance(audit, str) and audit else None)

    def _manifest_lines(self, request: dict[str, Any]) -> tuple[list[dict[str, Any]] | str, list[int]]:
        """The parsed input manifest and each line's number, or the reason the job will fail."""
        source = ((request.get("InputConfig") or {}).get("DataSource") or {}).get("S3DataSource") or {}
        uri = source.get("ManifestS3Uri")
        if not uri:
            raise ValidationException(
                "InputConfig.DataSource.S3DataSource.ManifestS3Uri is required (streaming jobs are not emulated)."
            )
        body = self._get(uri, "ManifestS3Uri")
        if body is None:
            raise ValidationException(
                f"Cannot find the input manifest file at {uri}; check that it exists and that the role can read it."
            )
        lines, numbers = [], []
        for number, raw in enumerate(body.decode("utf-8", errors="replace").splitlines(), 1):
            if not raw.strip():
                continue
            try:
                line = json.loads(raw)
            except ValueError:
                return f"ClientError: The input manifest line {number} is not valid JSON.", []
            if not isinstance(line, dict) or not ("source-ref" in line or "source" in line):
                return f"ClientError: The input manifest line {number} has no 'source-ref' or 'source'.", []
            lines.append(line)
            numbers.append(number)
        return lines, numbers

    @staticmethod
    def _initialization_failure(
        request: dict[str, Any],
        task_type: task_types.TaskType | None,
        labels: list[str],
        lines: list[dict[str, Any]] | str,
    ) -> str | None:
        if isinstance(lines, str):
            return lines
        if not lines:
            return "ClientError: The input manifest is empty."
        limit = task_type.max_dataset_objects if task_type else 100_000
        if len(lines) > limit:
            return f"ClientError: The input manifest has {len(lines)} objects; the limit for this task type is {limit}."
        if task_type is None or task_type.name not in SIMULATIONS:
            return (
                "ClientError: gt_provider.local labels the built-in task types only; this job's "
                "PreHumanTaskLambdaArn and AnnotationConsolidationLambdaArn are a custom workflow, whose "
                "Lambdas the local AWS does not run. The request was validated; run the job on AWS."
            )
        if not labels:
            return f"ClientError: LabelCategoryConfigS3Uri is required for {task_type.name} jobs."
        return None
