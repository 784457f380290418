"""The provider's pages on the Airflow API server: the Labeling jobs list (HTML and JSON) and
the card of the dataset version each run built.

Mounted by :class:`gt_provider.ui.plugin.GroundTruthUiPlugin` under ``/gt-provider``. Every
page authenticates like Airflow's own API -- a bearer token, or the UI's ``_token`` cookie --
and shows only the DAGs the auth manager lets the user read. A browser without a login is
sent to the login page and brought back.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from gt_provider.datasets.card import README_FILE
from gt_provider.ui.datasets import (
    BuiltDataset,
    CardNotFound,
    aws_conn_id_of_run,
    built_datasets,
    card_html,
    read_version_file,
)
from gt_provider.ui.jobs import (
    BACKEND_NAMES,
    DATASET_CARD_PATH,
    STATUSES,
    LiveStatus,
    format_usd,
    labeling_job_rows,
)

if TYPE_CHECKING:
    from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
    from jinja2 import Environment
    from sqlalchemy.orm import Session

JOBS_PATH = "/labeling-jobs"
#: Seconds between refreshes of the page while a job on it runs.
REFRESH_SECONDS = 5
_TEMPLATES = Path(__file__).with_name("templates")


class LoginRequired(Exception):
    """No valid login on a page request: the browser goes to the login page."""


async def _user(request: Request) -> BaseUser:
    """The caller, from a bearer token or the UI's session cookie (as Airflow's API reads them)."""
    from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN
    from airflow.api_fastapi.core_api.security import resolve_user_from_token

    header = request.headers.get("authorization", "")
    token = header[7:] if header.lower().startswith("bearer ") else request.cookies.get(COOKIE_NAME_JWT_TOKEN)
    try:
        return await resolve_user_from_token(token)
    except HTTPException as error:
        if "/api/" not in request.url.path:  # a page: the browser goes to log in
            raise LoginRequired from error
        raise


def _session() -> Any:
    from airflow.utils.session import create_session

    with create_session() as session:
        yield session


def _readable_dag_ids(user: BaseUser, session: Session) -> set[str]:
    from airflow.api_fastapi.app import get_auth_manager

    return get_auth_manager().get_authorized_dag_ids(user=user, method="GET", session=session)


def _jobs_with_dags(session: Session, readable: set[str]) -> list[str]:
    """The readable DAGs that have had a labeling job (the DAG filter's choices)."""
    from airflow.models.xcom import XComModel
    from sqlalchemy import select

    from gt_provider.job_records import JOB_RECORD_KEY

    if not readable:
        return []
    query = select(XComModel.dag_id).where(XComModel.key == JOB_RECORD_KEY, XComModel.dag_id.in_(readable)).distinct()
    return sorted(session.scalars(query))


UserDep = Annotated[Any, Depends(_user)]
SessionDep = Annotated[Any, Depends(_session)]
DagFilter = Annotated[str | None, Query(description="Only this DAG's jobs")]
StatusFilter = Annotated[str | None, Query(description=f"Only jobs in this status: {', '.join(STATUSES)}")]
DagId = Annotated[str, Query(description="The DAG of the run")]
RunId = Annotated[str, Query(description="The run that built the dataset version")]


def _built_dataset(user: BaseUser, session: Session, dag_id: str, run_id: str) -> BuiltDataset:
    """The dataset the run built; 404 when it built none or the user may not read its DAG."""
    built = built_datasets(session, [(dag_id, run_id)]).get((dag_id, run_id))
    if built is None or dag_id not in _readable_dag_ids(user, session):
        raise HTTPException(404, f"run {run_id!r} of DAG {dag_id!r} built no dataset version you may read")
    return built


def page_templates() -> Environment:
    """The pages' Jinja templates, HTML-escaped, with the ``usd`` filter (``$1,234.56``)."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    templates = Environment(loader=FileSystemLoader(_TEMPLATES), autoescape=select_autoescape(["html"]))
    templates.filters["usd"] = format_usd
    return templates


def create_app(live: LiveStatus | None = None) -> FastAPI:
    """The FastAPI app the plugin mounts; ``live`` describes running jobs (their backends, by default)."""
    status_of_jobs = live or LiveStatus()
    templates = page_templates()
    app = FastAPI(title="Ground Truth labeling jobs", docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(LoginRequired)
    async def _to_login(request: Request, error: LoginRequired) -> RedirectResponse:
        from airflow.api_fastapi.app import get_auth_manager

        return RedirectResponse(get_auth_manager().get_url_login(next_url=str(request.url)), status_code=302)

    def rows(user: Any, session: Any, dag_id: str | None, status: str | None) -> tuple[list[Any], set[str]]:
        if status and status not in STATUSES:
            raise HTTPException(400, f"status must be one of {', '.join(STATUSES)}, got {status!r}")
        readable = _readable_dag_ids(user, session)
        found = labeling_job_rows(
            session, dag_ids=readable, live=status_of_jobs, dag_id=dag_id or None, status=status or None
        )
        return found, readable

    @app.get(JOBS_PATH, response_class=HTMLResponse)
    def labeling_jobs_page(
        user: UserDep, session: SessionDep, dag_id: DagFilter = None, status: StatusFilter = None
    ) -> HTMLResponse:
        found, readable = rows(user, session, dag_id, status)
        html = templates.get_template("labeling_jobs.html").render(
            rows=found,
            dag_id=dag_id or "",
            status=status or "",
            dag_choices=_jobs_with_dags(session, readable),
            status_choices=STATUSES,
            backend_names=BACKEND_NAMES,
            refresh=REFRESH_SECONDS if any(row.active for row in found) else None,
            updated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        )
        return HTMLResponse(html)

    @app.get("/api" + JOBS_PATH)
    def labeling_jobs_json(
        user: UserDep, session: SessionDep, dag_id: DagFilter = None, status: StatusFilter = None
    ) -> JSONResponse:
        found, _ = rows(user, session, dag_id, status)
        return JSONResponse({"labeling_jobs": [row.as_json() for row in found], "total_entries": len(found)})

    @app.get(DATASET_CARD_PATH, response_class=HTMLResponse)
    def dataset_card_page(user: UserDep, session: SessionDep, dag_id: DagId, run_id: RunId) -> HTMLResponse:
        built = _built_dataset(user, session, dag_id, run_id)
        aws_conn_id = aws_conn_id_of_run(session, dag_id, run_id)
        query = urlencode({"dag_id": dag_id, "run_id": run_id})

        def file_url(name: str) -> str:  # relative to this page, as the plots' links in the card are
            return f"{DATASET_CARD_PATH.lstrip('/')}/files/{quote(name)}?{query}"

        try:
            markdown = read_version_file(built, README_FILE, aws_conn_id=aws_conn_id).decode("utf-8")
            card, problem = card_html(markdown, file_url), None
        except CardNotFound as error:
            card, problem = None, str(error)
        html = templates.get_template("dataset_card.html").render(
            built=built, card=card, problem=problem, jobs_path=JOBS_PATH.lstrip("/")
        )
        return HTMLResponse(html, status_code=200 if card is not None else 502)

    @app.get(DATASET_CARD_PATH + "/files/{name}")
    def dataset_card_file(user: UserDep, session: SessionDep, name: str, dag_id: DagId, run_id: RunId) -> Response:
        built = _built_dataset(user, session, dag_id, run_id)
        try:
            body = read_version_file(built, name, aws_conn_id=aws_conn_id_of_run(session, dag_id, run_id))
        except CardNotFound as error:
            raise HTTPException(404, str(error)) from error
        return Response(body, media_type="image/png", headers={"Cache-Control": "private, max-age=300"})

    return app
