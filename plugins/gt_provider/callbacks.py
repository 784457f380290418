"""Task callbacks for gt_provider's DAGs: the one place to plug a team's alerting in.

The example DAGs set ``on_failure_callback=log_failure``. It writes one line a person on
call can act on (which task, which try, why, where the log is), then calls every function
registered with :func:`on_failure` -- a Slack or PagerDuty notifier, say -- so teams add
alerting without editing the DAGs::

    # e.g. in a plugin or airflow_local_settings.py
    from gt_provider.callbacks import on_failure
    on_failure(lambda context: notify_slack(context["ti"].dag_id, ...))

No Airflow import: the DAG processor imports this module with the DAG files.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

log = logging.getLogger(__name__)

FailureHandler = Callable[[Mapping[str, Any]], None]
_handlers: list[FailureHandler] = []


def on_failure(handler: FailureHandler) -> FailureHandler:
    """Register ``handler`` to run after :func:`log_failure` (usable as a decorator)."""
    _handlers.append(handler)
    return handler


def log_failure(context: Mapping[str, Any]) -> None:
    """Log what failed and why, then run the registered handlers (a failing handler is logged, not raised)."""
    ti = context.get("ti") or context.get("task_instance")
    exception = context.get("exception")
    where = f"{getattr(ti, 'dag_id', '?')}.{getattr(ti, 'task_id', '?')} run {getattr(ti, 'run_id', '?')}"
    log.error(
        "Task %s failed on try %s of %s: %s. Log: %s",
        where,
        getattr(ti, "try_number", "?"),
        (getattr(ti, "max_tries", 0) or 0) + 1,
        f"{type(exception).__name__}: {exception}" if exception else "no exception recorded",
        getattr(ti, "log_url", "-"),
    )
    for handler in list(_handlers):
        try:
            handler(context)
        except Exception:
            log.exception("Failure handler %r raised", handler)
