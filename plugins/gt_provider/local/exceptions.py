"""AWS error codes that the local Ground Truth returns, one class per code.

They subclass moto's SageMaker error base, so moto serializes them exactly as it does its
own errors and boto3 raises ``ClientError`` with the same ``Error.Code`` that AWS sends.
"""

from __future__ import annotations

from moto.sagemaker.exceptions import SagemakerClientError


class ValidationException(SagemakerClientError):
    code = "ValidationException"

    def __init__(self, message: str) -> None:
        super().__init__(message)


class ResourceNotFound(SagemakerClientError):
    code = "ResourceNotFound"

    def __init__(self, message: str) -> None:
        super().__init__(message)


class ResourceInUse(SagemakerClientError):
    code = "ResourceInUse"

    def __init__(self, message: str) -> None:
        super().__init__(message)


class ResourceLimitExceeded(SagemakerClientError):
    code = "ResourceLimitExceeded"

    def __init__(self, message: str) -> None:
        super().__init__(message)


def constraint_error(value: object, field: str, constraint: str) -> ValidationException:
    """Build the message AWS uses for a request field that breaks a constraint."""
    return ValidationException(
        f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: {constraint}"
    )
