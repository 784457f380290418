"""Old public names that still import, with a DeprecationWarning (one helper for every module)."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any


def deprecated_names(module: str, namespace: Mapping[str, Any], renamed: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that serves each old name in ``renamed`` as its new one, warning.

    ``namespace`` is the module's ``globals()``; ``renamed`` maps old name -> new name.
    """

    def __getattr__(name: str) -> Any:
        if name in renamed:
            warnings.warn(f"{module}.{name} is deprecated: use {renamed[name]}", DeprecationWarning, stacklevel=2)
            return namespace[renamed[name]]
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return __getattr__
