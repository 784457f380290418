"""The part of Label Studio's REST API the backend uses, over ``requests``.

Every error names the server (and the Airflow connection, when the hook made the client),
the step and, where there is one, the project: "Label Studio at http://... (connection
label_studio_default): importing tasks into project 7 failed: HTTP 400 ...".

Authentication takes either kind of token Label Studio issues: a legacy API token (sent as
``Authorization: Token <token>``) or a personal access token, which is a JWT refresh token
exchanged at ``/api/token/refresh`` for a short-lived access token (``Bearer``), renewed
when the server answers 401.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import requests

from gt_provider.exceptions import GroundTruthProviderError

#: Seconds to wait for a connection and for an answer (an export of many tasks is slow).
TIMEOUT = (10, 300)


class LabelStudioError(GroundTruthProviderError):
    """Label Studio refused a call or could not be reached; the message says which server and step."""


class LabelStudioNotFoundError(LabelStudioError):
    """The project (or task) is not on the server: deleted, or never created."""


def _is_personal_access_token(token: str) -> bool:
    return token.count(".") == 2 and token.startswith("ey")


class LabelStudioClient:
    """A Label Studio server, as one API token sees it.

    :param url: The server's base URL (``http://127.0.0.1:8080``).
    :param token: A legacy API token or a personal access token.
    :param where: How errors name the server's origin (``connection label_studio_default``).
    """

    def __init__(self, url: str, token: str, *, where: str = "", session: requests.Session | None = None) -> None:
        if not url or not token:
            raise LabelStudioError(
                f"Label Studio{f' ({where})' if where else ''} needs a URL and an API token, got url={url!r} "
                f"and {'a token' if token else 'no token'}"
            )
        self.url = url.rstrip("/")
        self.where = where
        self._token = token
        self._session = session or requests.Session()
        self._access: str | None = None

    @property
    def origin(self) -> str:
        return f"Label Studio at {self.url}" + (f" ({self.where})" if self.where else "")

    # ------------------------------------------------------------ HTTP plumbing
    def _authorization(self, *, renew: bool = False) -> str:
        if not _is_personal_access_token(self._token):
            return f"Token {self._token}"
        if self._access is None or renew:
            answer = self._send(
                "POST", "/api/token/refresh", "exchanging the personal access token", json={"refresh": self._token}
            )
            self._access = answer.json()["access"]
        return f"Bearer {self._access}"

    def _send(self, method: str, path: str, step: str, **kwargs: Any) -> requests.Response:
        try:
            return self._session.request(method, f"{self.url}{path}", timeout=TIMEOUT, **kwargs)
        except requests.RequestException as error:
            raise LabelStudioError(f"{self.origin} is unreachable while {step}: {error}") from None

    def request(self, method: str, path: str, step: str, **kwargs: Any) -> Any:
        """One API call; its JSON answer (None when empty). ``step`` is what errors say was being done."""
        headers = {"Authorization": self._authorization(), **kwargs.pop("headers", {})}
        response = self._send(method, path, step, headers=headers, **kwargs)
        if response.status_code == 401 and _is_personal_access_token(self._token):
            headers["Authorization"] = self._authorization(renew=True)
            response = self._send(method, path, step, headers=headers, **kwargs)
        if response.status_code == 404:
            raise LabelStudioNotFoundError(f"{self.origin}: {step} failed: not found ({method} {path})")
        if response.status_code in (401, 403):
            raise LabelStudioError(
                f"{self.origin} refused the API token while {step} (HTTP {response.status_code}: "
                f"{_excerpt(response)}); check the connection's token (a legacy token needs legacy tokens "
                "enabled on the server's organization)"
            )
        if response.status_code >= 400:
            raise LabelStudioError(f"{self.origin}: {step} failed: HTTP {response.status_code}: {_excerpt(response)}")
        return response.json() if response.content else None

    # ------------------------------------------------------------------- calls
    def whoami(self) -> dict[str, Any]:
        return self.request("GET", "/api/current-user/whoami", "checking the token")

    def projects(self, **filters: Any) -> list[dict[str, Any]]:
        """Every project the token sees (matching ``filters``, e.g. ``title=``), all pages."""
        found: list[dict[str, Any]] = []
        page = 1
        while True:
            answer = self.request(
                "GET", "/api/projects", "listing projects", params={**filters, "page": page, "page_size": 100}
            )
            found += answer.get("results", []) if isinstance(answer, dict) else answer
            if not isinstance(answer, dict) or not answer.get("next"):
                return found
            page += 1

    def find_project(self, title: str) -> dict[str, Any] | None:
        """The project titled ``title`` exactly (the newest one, should there be several), or None."""
        found = [project for project in self.projects(title=title) if project.get("title") == title]
        return max(found, key=lambda project: project["id"]) if found else None

    def project(self, project_id: int) -> dict[str, Any]:
        return self.request("GET", f"/api/projects/{project_id}", f"reading project {project_id}")

    def create_project(self, **fields: Any) -> dict[str, Any]:
        return self.request("POST", "/api/projects", f"creating project {fields.get('title')!r}", json=fields)

    def update_project(self, project_id: int, **fields: Any) -> dict[str, Any]:
        return self.request("PATCH", f"/api/projects/{project_id}", f"updating project {project_id}", json=fields)

    def import_tasks(self, project_id: int, tasks: Sequence[dict[str, Any]]) -> int:
        """Import ``tasks`` (``{"data": ...}`` each) in one call; returns how many the server added."""
        answer = self.request(
            "POST",
            f"/api/projects/{project_id}/import",
            f"importing {len(tasks)} tasks into project {project_id}",
            data=json.dumps(tasks),
            headers={"Content-Type": "application/json"},
        )
        return int(answer.get("task_count", len(tasks)))

    def export(self, project_id: int) -> list[dict[str, Any]]:
        """Every task of the project with its annotations (Label Studio's JSON export)."""
        return self.request(
            "GET",
            f"/api/projects/{project_id}/export",
            f"exporting project {project_id}",
            params={"exportType": "JSON", "download_all_tasks": "true"},
        )

    def create_annotation(self, task_id: int, result: list[dict[str, Any]], *, lead_time: float) -> dict[str, Any]:
        return self.request(
            "POST",
            f"/api/tasks/{task_id}/annotations",
            f"annotating task {task_id}",
            json={"result": result, "lead_time": lead_time, "was_cancelled": False},
        )

    def tasks(self, project_id: int, *, page_size: int = 500) -> list[dict[str, Any]]:
        """The project's tasks (id, data, annotation counts), all pages."""
        tasks: list[dict[str, Any]] = []
        page = 1
        while True:
            try:
                answer = self.request(
                    "GET",
                    "/api/tasks",
                    f"listing the tasks of project {project_id}",
                    params={"project": project_id, "page": page, "page_size": page_size},
                )
            except LabelStudioNotFoundError:  # past the last page
                break
            batch = answer.get("tasks", []) if isinstance(answer, dict) else answer
            tasks += batch
            total = answer.get("total") if isinstance(answer, dict) else None
            if not batch or (total is not None and len(tasks) >= total):
                break
            page += 1
        return tasks


def _excerpt(response: requests.Response) -> str:
    text = response.text.strip().replace("\n", " ")
    return text[:300] + ("..." if len(text) > 300 else "")
