"""The provider's operators; what they share is here."""

from __future__ import annotations


def templated_flag(value: object, argument: str, error: type[Exception] = ValueError) -> bool:
    """A templated yes/no: a bool, or the ``True``/``False`` a template renders without native objects.

    ``bool("False")`` is True: a flag rendered as text must not be read that way.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise error(f"{argument} must be true or false, got {value!r}")
