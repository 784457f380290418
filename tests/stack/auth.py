"""The simple auth manager with one user who may read no DAG, for the pages' access tests.

Airflow's simple auth manager gives every role read access to every DAG; per-DAG access
needs an auth manager such as FAB's, which this suite does not install. This subclass
changes only that one answer for one user (``outsider``), so a test can check that a page
shows a user nothing of the DAGs they may not read -- through the real API server, login and
token, and the auth manager's own ``get_authorized_dag_ids``.
"""

from __future__ import annotations

from typing import Any

from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager

#: The user who may read no DAG (a viewer otherwise).
OUTSIDER = "outsider"


class NoDagsForOutsiderAuthManager(SimpleAuthManager):
    def is_authorized_dag(self, *, method: Any, user: Any, access_entity: Any = None, details: Any = None) -> bool:
        if user.get_name() == OUTSIDER:
            return False
        return super().is_authorized_dag(method=method, user=user, access_entity=access_entity, details=details)
