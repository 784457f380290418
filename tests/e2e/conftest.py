from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """A task that fails fails the test in seconds, not after two one-minute retry delays."""
    monkeypatch.setenv("GT_RETRY_DELAY_SECONDS", "0")
