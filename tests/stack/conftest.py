"""The native stack as a session fixture: started once for every ``stack`` test, always stopped.

Skipped, with the reason, on a machine without PostgreSQL or Redis on 127.0.0.1. A failing
stack test gets the end of every process's output (and of the newest task logs) in its
report; the work folder with the whole logs is then kept, and the report names it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.stack.runner import NativeStack


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "stack: runs docker-compose.yaml's Airflow stack natively (PostgreSQL and Redis on 127.0.0.1); make stack-test",
    )


@pytest.fixture(scope="session")
def stack(request: pytest.FixtureRequest) -> Iterator[NativeStack]:
    """docker-compose.yaml's services as processes on this machine, healthy, with a fresh database."""
    native = NativeStack()
    reason = native.unavailable()
    if reason:
        native.remove_workdir()
        pytest.skip(f"the native stack needs PostgreSQL and Redis on 127.0.0.1: {reason}")
    failed_before = request.session.testsfailed
    try:
        native.start()
        yield native
    finally:
        native.stop()
        if request.session.testsfailed == failed_before:
            native.remove_workdir()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    native = getattr(item, "funcargs", {}).get("stack")
    if report.failed and isinstance(native, NativeStack):
        report.sections.append(
            (f"native stack: process logs (all of them, and task logs, kept in {native.workdir})", native.log_tails())
        )
