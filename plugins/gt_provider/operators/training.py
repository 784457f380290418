"""Training on a labeled dataset and registering the model: the Amazon provider's operators, safe to retry.

- :class:`GroundTruthTrainingOperator` -- ``SageMakerTrainingOperator`` whose retry
  re-attaches to the training job its earlier try created;
- :class:`GroundTruthRegisterModelVersionOperator` -- ``SageMakerRegisterModelVersionOperator``
  whose retry returns the model version its earlier try registered for the same training job.

``ReattachingTrainingOperator`` is the old name of the first (still importable, deprecated).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.operators.sagemaker import (
    SageMakerRegisterModelVersionOperator,
    SageMakerTrainingOperator,
)
from airflow.providers.amazon.aws.triggers.sagemaker import SageMakerTrigger

from gt_provider.operators._deprecated import deprecated_names

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = ["GroundTruthRegisterModelVersionOperator", "GroundTruthTrainingOperator", "registered_model_packages"]

#: What DescribeTrainingJob answers for a name no job has.
_NO_SUCH_JOB = "ValidationException"
#: What ListModelPackages answers for a model package group that does not exist (yet).
_NO_SUCH_GROUP = ("ValidationException", "ResourceNotFound")
#: The model package's metadata key naming the training job that made the model.
TRAINING_JOB_KEY = "training_job"
#: Old public names -> new ones; importing an old one warns (see ``__getattr__``).
_DEPRECATED_NAMES = {"ReattachingTrainingOperator": "GroundTruthTrainingOperator"}


def registered_model_packages(sagemaker: Any, group: str) -> list[dict[str, Any]]:
    """DescribeModelPackage of every version in the model package group ``group`` (none when there is no group yet).

    :param sagemaker: A boto3 SageMaker client.
    """
    from botocore.exceptions import ClientError

    summaries: list[dict[str, Any]] = []
    try:
        for page in sagemaker.get_paginator("list_model_packages").paginate(ModelPackageGroupName=group):
            summaries += page["ModelPackageSummaryList"]
    except ClientError as error:
        # Only "no such group yet" means "nothing registered"; anything else (access denied,
        # throttling) must not let a model through unexamined.
        if error.response["Error"]["Code"] not in _NO_SUCH_GROUP:
            raise
    return [sagemaker.describe_model_package(ModelPackageName=s["ModelPackageArn"]) for s in summaries]


class GroundTruthTrainingOperator(SageMakerTrainingOperator):
    """``SageMakerTrainingOperator`` whose retry re-attaches to the job its earlier try created.

    Give the job a name that is the same on every try of a run (``TrainingJobName`` from the
    dataset version and the run id, as ``gt_train_on_dataset`` does). The Amazon provider's
    operator takes an existing name as a collision: with ``action_if_job_exists="timestamp"``
    (its default) a retry after CreateTrainingJob starts a second, paid job under a suffixed
    name, and with ``"fail"`` the retry fails. This operator looks first:

    - no job of that name: the parent's ``execute`` creates it;
    - one in progress (``InProgress``, ``Stopping``): waited on as the parent waits --
      deferred to the triggerer when ``deferrable``, polled otherwise;
    - one ``Completed``: its description is the result, and nothing runs again;
    - one ``Failed`` or ``Stopped``: a name cannot be reused, so the parent starts a new job
      (with ``"timestamp"``, under a suffixed name).

    Every argument is ``SageMakerTrainingOperator``'s.
    """

    def execute(self, context: Context) -> dict:
        name = self.config["TrainingJobName"]
        description = self._describe(name)
        if description is None:
            return super().execute(context)
        status = description["TrainingJobStatus"]
        if status in self.hook.training_failed_states:
            self.log.info("Training job %s of an earlier try ended %s: starting a new job", name, status)
            return super().execute(context)
        self.log.info("Training job %s exists already (%s): an earlier try created it; re-attaching", name, status)
        if status in self.hook.non_terminal_states and self.wait_for_completion:
            if self.deferrable:
                self.defer(
                    trigger=SageMakerTrigger(
                        job_name=name,
                        job_type="Training",
                        waiter_delay=self.check_interval,
                        waiter_max_attempts=self.max_attempts,
                        aws_conn_id=self.aws_conn_id,
                        region_name=self.region_name,
                        verify=self.verify,
                        botocore_config=self.botocore_config,
                    ),
                    method_name="execute_complete",
                )
            self.hook.check_status(
                name, "TrainingJobStatus", self.hook.describe_training_job, self.check_interval, self.max_ingestion_time
            )
        return self.serialize_result(name)

    def _describe(self, name: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            return self.hook.describe_training_job(name)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == _NO_SUCH_JOB:
                return None
            raise


class GroundTruthRegisterModelVersionOperator(SageMakerRegisterModelVersionOperator):
    """Register a trained model as a new version of a model package group, once per training job.

    The Amazon provider's ``SageMakerRegisterModelVersionOperator`` creates a model package
    on every call, so a retry after CreateModelPackage succeeded (the worker died before the
    task finished) registers the same model twice. This operator records ``training_job``
    in the version's ``CustomerMetadataProperties`` and looks first: when the group has a
    version for that training job already, its ARN is returned and nothing is registered.

    :param training_job: Name of the training job that made the model; recorded as the
        metadata property ``training_job`` and used to find an earlier try's version. (templated)
    :param metadata: More ``CustomerMetadataProperties`` (strings), e.g. the metric the model
        was chosen on and the dataset version. (templated)
    :param image_uri: The inference image. (templated)
    :param model_url: S3 URI of the model artifact (``model.tar.gz``). (templated)
    :param package_group_name: The model package group; created when missing. (templated)
    :param package_group_desc: Description of the group, when it is created. (templated)
    :param package_desc: Description of the version. (templated)
    :param model_approval: Approval status of the version (default ``PendingManualApproval``). (templated)
    :param extras: More CreateModelPackage arguments, overriding the ones above. (templated)

    Other arguments are ``SageMakerRegisterModelVersionOperator``'s.

    :return: the ARN of the model package (version) registered for ``training_job``.
    """

    template_fields: Sequence[str] = (
        *SageMakerRegisterModelVersionOperator.template_fields,
        "training_job",
        "metadata",
        "extras",
    )
    template_fields_renderers = {"metadata": "json", "extras": "json"}

    def __init__(self, *, training_job: str, metadata: Mapping[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.training_job = training_job
        self.metadata = metadata

    def execute(self, context: Context) -> str:
        for package in registered_model_packages(self.hook.conn, self.package_group_name):
            if package.get("CustomerMetadataProperties", {}).get(TRAINING_JOB_KEY) == self.training_job:
                self.log.info(
                    "%s is registered for training job %s already (by an earlier try): not registering it again",
                    package["ModelPackageArn"],
                    self.training_job,
                )
                return package["ModelPackageArn"]
        extras = dict(self.extras or {})
        extras["CustomerMetadataProperties"] = {
            **{key: str(value) for key, value in (self.metadata or {}).items()},
            **extras.get("CustomerMetadataProperties", {}),
            TRAINING_JOB_KEY: self.training_job,
        }
        self.extras = extras
        arn = super().execute(context)
        self.log.info("Registered %s (training job %s) in %s", arn, self.training_job, self.package_group_name)
        return arn


__getattr__ = deprecated_names(__name__, globals(), _DEPRECATED_NAMES)
