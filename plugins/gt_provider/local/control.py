"""Client of the local AWS control endpoints (standard library only).

Tests and scripts use it to reset state, change speed or failure rates, and step the
emulated clock of a manual-clock server, all over HTTP, as they would any other client.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any


def _post(endpoint_url: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{endpoint_url.rstrip('/')}{path}",
        data=json.dumps(body or {}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"{}")


def reset(endpoint_url: str) -> None:
    """Forget every resource (moto's reset), Ground Truth jobs and workteams included."""
    _post(endpoint_url, "/moto-api/reset")


def configure(endpoint_url: str, **settings: Any) -> dict[str, Any]:
    """Change settings (``speed``, ``manual_clock``, ``object_failure_rate``, ``response_delays``, ...)."""
    return _post(endpoint_url, "/moto-api/gt-local/config", settings)


def advance(endpoint_url: str, seconds: float) -> None:
    """Move the emulated clock forward (works on any clock; the only mover of a manual one)."""
    _post(endpoint_url, "/moto-api/gt-local/advance", {"seconds": seconds})
