"""Errors raised by gt_provider.

One base class, one subclass per failure a user can act on. This module imports nothing
from Airflow: the pure-Python libraries (task types, manifests, datasets, the local AWS)
raise these too. Airflow fails a task on any exception, so no AirflowException base is
needed.
"""

from __future__ import annotations


class GroundTruthProviderError(Exception):
    """Base class of every error gt_provider raises on purpose."""


class InvalidLabelingJobConfigError(GroundTruthProviderError, ValueError):
    """An argument of a labeling job is outside what Ground Truth accepts.

    Raised before any AWS call, so no paid resource exists yet. The message names the
    argument, the value and the allowed range.
    """


class UnknownTaskTypeError(InvalidLabelingJobConfigError):
    """The task type is not one of the built-in Ground Truth task types."""


class UnsupportedRegionError(InvalidLabelingJobConfigError):
    """The region has no published Ground Truth Lambda / UI ARNs in the registry."""


class PublicWorkforceUnavailableError(InvalidLabelingJobConfigError):
    """The public (Mechanical Turk) workteam was requested; it closed on 2026-09-30."""


class InvalidPricingError(InvalidLabelingJobConfigError):
    """A pricing override (the ``gt_provider_pricing`` Variable, the operator's ``pricing``
    argument, a pricing file) has an unknown key or a value out of range; the message names
    where it came from and the key. Raised before any job is created."""


class LabelingBudgetExceededError(InvalidLabelingJobConfigError):
    """A labeling job's estimate is above its ``max_cost_usd``; raised before the job is
    created, so nothing is paid. The message names both figures and what they assume."""


class LabelingJobFailedError(GroundTruthProviderError):
    """A labeling job ended in Failed (or Stopped, when that is not allowed)."""


class LabelingJobConflictError(GroundTruthProviderError):
    """A labeling job with the requested name exists and cannot be re-attached to."""


class ObjectsTakenError(GroundTruthProviderError):
    """A run's manifest names objects that another run has labeled or claimed since (the ledger)."""


class UnsupportedByBackendError(InvalidLabelingJobConfigError):
    """The labeling backend does not offer a feature the job asks for (a task type, review
    jobs, automated labeling, streaming); raised before anything is created."""


class WorkteamConfigError(GroundTruthProviderError, ValueError):
    """A labeling team's argument is not one AWS would take (a name, an email, a missing Cognito
    group the task may not create, a vendor team to change); raised before anything changes."""


class ManifestReadError(GroundTruthProviderError, OSError):
    """The manifest itself (not a line of it) cannot be read or the cleaned copy cannot be written.

    Missing file or S3 object, access denied, a connection that broke mid-stream: there is
    nothing to report on, so the caller gets an error naming the URI and the cause.
    """
