"""Training on a labeled dataset: the Amazon provider's training operator, safe to retry."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.operators.sagemaker import SageMakerTrainingOperator
from airflow.providers.amazon.aws.triggers.sagemaker import SageMakerTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context

#: What DescribeTrainingJob answers for a name no job has.
_NO_SUCH_JOB = "ValidationException"


class ReattachingTrainingOperator(SageMakerTrainingOperator):
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
