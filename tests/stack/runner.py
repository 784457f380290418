"""Run docker-compose.yaml's Airflow stack as native processes, and talk to it as a user would.

``NativeStack`` creates a database of its own on the machine's PostgreSQL and takes a Redis
database number of its own, starts the processes that :func:`tests.stack.compose.plan`
derives from the compose file in compose's dependency order (waiting for each one's health
as compose would), and gives tests what they need to drive it: ``api`` (Airflow's public
REST API, logged in through the simple auth manager), the local AWS (``aws_client``,
``configure_local_aws``, ``reset_local_aws``), and ``kill_service`` / ``start_service`` to
play a dying container and its restart.

Everything it starts it stops, whatever happens: each service runs in a session of its
own, and stopping (or killing) a service signals every process of that session, so task
processes that Airflow puts in process groups of their own go too. ``stop()`` runs from
``__exit__``, from ``atexit`` and on SIGTERM; it drops the database and flushes the Redis
database. ``log_tails()`` is what a failing test prints.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from tests.stack import compose

T = TypeVar("T")

#: Settings of the native run that the compose file does not (and should not) have, and why.
#: Everything else comes from x-airflow-common's environment.
TEST_SETTINGS: dict[str, str] = {
    # A dead worker is noticed in about half a minute instead of five: tasks heartbeat every
    # 2 s, the scheduler looks for silent ones every 2 s.
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "30",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "2",
    "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "2",
    # Two cores: a handful of worker slots is plenty for one DAG run at a time.
    "AIRFLOW__CELERY__WORKER_CONCURRENCY": "4",
    # Waits poll the local AWS every 2 s (the compose file says 5, a real deployment 60), and
    # a failed try is retried after 3 s, not a minute (both read by the DAGs).
    "GT_POLL_SECONDS": "2",
    "GT_RETRY_DELAY_SECONDS": "3",
    "PYTHONUNBUFFERED": "1",
    # A second login that may read no DAG, for the pages' access checks (tests/stack/auth.py);
    # for every other user this is the compose file's SimpleAuthManager.
    "AIRFLOW__CORE__AUTH_MANAGER": "tests.stack.auth.NoDagsForOutsiderAuthManager",
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin,outsider:viewer",
}
#: Parent environment variables that must not leak into the stack (the pytest process has its
#: own Airflow home, SQLite database and AWS settings).
_PRIVATE_PREFIXES = ("AIRFLOW", "AWS_", "GT_", "PYTHONPATH", "_AIRFLOW")

_running: list[NativeStack] = []


class StackError(Exception):
    """The stack did not start, or did not do what a test waited for; says what it saw."""


class ProcessExited(StackError):
    """A service's process ended while the stack was expected to run: no point waiting on."""


class ApiError(StackError):
    """Airflow's REST API answered with an error status."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def wait_until(
    condition: Callable[[], T],
    *,
    timeout: float,
    what: str,
    interval: float = 1.0,
    diagnose: Callable[[], str] | None = None,
) -> T:
    """Poll ``condition`` until it returns something truthy; raise StackError naming ``what`` after ``timeout`` s.

    ``condition`` may raise ProcessExited to give up at once; other errors (connection refused,
    a 404 until a DAG is parsed) count as "not yet", and the last one is reported.
    """
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            result = condition()
        except ProcessExited:
            raise
        except Exception as error:
            result, last = None, f"{type(error).__name__}: {error}"
        else:
            last = result
        if result:
            return result
        if time.monotonic() > deadline:
            details = f"\n{diagnose()}" if diagnose else ""
            raise StackError(f"{what}: not within {timeout:.0f} s (last seen: {last!r}){details}")
        time.sleep(interval)


# -- the machine's PostgreSQL and Redis ---------------------------------------------------


@dataclass
class Postgres:
    host: str = "127.0.0.1"
    port: int = 5432
    user: str = "postgres"

    def _connect(self, database: str = "postgres") -> Any:
        import psycopg2

        connection = psycopg2.connect(
            host=self.host, port=self.port, user=self.user, dbname=database, connect_timeout=3
        )
        connection.autocommit = True
        return connection

    def unavailable(self) -> str | None:
        """Why the stack cannot use this PostgreSQL, or None."""
        try:
            self._connect().close()
        except Exception as error:
            return f"PostgreSQL does not answer on {self.host}:{self.port} as {self.user} ({error})".strip()
        return None

    def create_database(self) -> str:
        name = f"gt_stack_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        with contextlib.closing(self._connect()) as connection, connection.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        with contextlib.closing(self._connect()) as connection, connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Redis:
    host: str = "127.0.0.1"
    port: int = 6379
    #: Marks a database number as taken by a run (other keys there are Celery's).
    owner_key: str = "gt-provider-stack-test:owner"

    def _client(self, db: int = 0) -> Any:
        import redis

        return redis.Redis(host=self.host, port=self.port, db=db, socket_timeout=3, socket_connect_timeout=3)

    def unavailable(self) -> str | None:
        try:
            self._client().ping()
        except Exception as error:
            return f"Redis does not answer on {self.host}:{self.port} ({error})"
        return None

    def claim_database(self) -> int:
        """An empty database number (highest first, away from the default 0), marked as ours."""
        databases = int(self._client().config_get("databases").get("databases", 16))
        for db in range(databases - 1, 0, -1):
            client = self._client(db)
            if client.dbsize() == 0 and client.set(self.owner_key, str(os.getpid()), nx=True):
                return db
        raise StackError(f"Redis on {self.host}:{self.port} has no empty database left for the stack test")

    def flush_database(self, db: int) -> None:
        self._client(db).flushdb()


# -- Airflow's REST API --------------------------------------------------------------------


class AirflowApi:
    """Airflow's public REST API (v2), logged in as the simple auth manager's admin."""

    def __init__(self, base_url: str, passwords_file: Path) -> None:
        import httpx

        self.base_url = base_url
        self._passwords_file = passwords_file
        self._http = httpx.Client(base_url=base_url, timeout=30)
        self._token: str | None = None

    def close(self) -> None:
        self._http.close()

    def _headers(self) -> dict[str, str]:
        if self._token is None:
            # The api-server writes the generated password of each configured user at start.
            password = json.loads(self._passwords_file.read_text())["admin"]
            response = self._http.post("/auth/token", json={"username": "admin", "password": password})
            response.raise_for_status()
            self._token = response.json()["access_token"]
        return {"Authorization": f"Bearer {self._token}"}

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._http.request(method, path, headers=self._headers(), **kwargs)
        if response.status_code >= 400:
            raise ApiError(f"{method} {path} -> {response.status_code}: {response.text[:2000]}")
        return response.json() if response.content else None

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params)

    # DAGs and runs

    def health(self) -> dict[str, Any]:
        """``/api/v2/monitor/health``: metadatabase, scheduler, triggerer and dag processor status."""
        response = self._http.get("/api/v2/monitor/health")
        response.raise_for_status()
        return response.json()

    def wait_for_dag(self, dag_id: str, timeout: float = 120) -> dict[str, Any]:
        """The DAG once the dag-processor has parsed and serialized it."""
        return wait_until(lambda: self.get(f"/api/v2/dags/{dag_id}"), timeout=timeout, what=f"DAG {dag_id} parsed")

    def unpause(self, dag_id: str) -> None:
        self.request("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None, logical_date: str | None = None) -> str:
        """Trigger a run like the UI's form does; its run id."""
        run = self.request(
            "POST", f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": logical_date, "conf": conf or {}}
        )
        return run["dag_run_id"]

    def start_run(self, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        """Unpause the DAG if need be and trigger a run; its run id.

        Unpausing a scheduled DAG lets the scheduler start a run of the latest interval as
        well. So the first run takes the logical date that the scheduler would run next:
        the scheduler skips a logical date that has a run already, and moves on to the next
        interval (tomorrow's, for a daily DAG). Later runs have no logical date.
        """
        dag = self.wait_for_dag(dag_id)
        if not dag["is_paused"]:
            return self.trigger(dag_id, conf)
        run_id = self.trigger(dag_id, conf, logical_date=dag.get("next_dagrun_logical_date"))
        self.unpause(dag_id)
        return run_id

    def runs(self, dag_id: str, **filters: Any) -> list[dict[str, Any]]:
        """The DAG's runs, oldest first (``state=[...]``, ``run_type=[...]`` and the API's other filters)."""
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns", order_by="run_after", limit=100, **filters)["dag_runs"]

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances", limit=100)["task_instances"]

    def task_instance(self, dag_id: str, run_id: str, task_id: str) -> dict[str, Any]:
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}")

    def tries(self, dag_id: str, run_id: str, task_id: str) -> list[dict[str, Any]]:
        """Every try of a task instance, earlier ones from the task instance history."""
        tries = self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/tries")
        return sorted(tries["task_instances"], key=lambda t: t["try_number"])

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int) -> list[dict[str, Any]]:
        """One try's log records (``{"event": message, ...}``), the worker's and the triggerer's parts merged."""
        content = self.get(
            f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}", full_content="true"
        )["content"]
        return [record if isinstance(record, dict) else {"event": str(record)} for record in content]

    def events(self, dag_id: str, run_id: str, task_id: str | None = None) -> list[dict[str, Any]]:
        """The audit log (event log) of a run, oldest first."""
        params: dict[str, Any] = {"dag_id": dag_id, "run_id": run_id, "order_by": "when", "limit": 200}
        if task_id is not None:
            params["task_id"] = task_id
        return self.get("/api/v2/eventLogs", **params)["event_logs"]

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        entry = self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}")
        return entry["value"]

    def describe_run(self, dag_id: str, run_id: str) -> str:
        """A run and its task instances in one line each, for failure messages."""
        try:
            run = self.dag_run(dag_id, run_id)
            lines = [f"run {run_id}: {run['state']}"]
            for ti in sorted(self.task_instances(dag_id, run_id), key=lambda t: t.get("start_date") or "~"):
                lines.append(f"  {ti['task_id']}: {ti['state']} (try {ti['try_number']}, {ti.get('hostname')})")
            return "\n".join(lines)
        except Exception as error:
            return f"run {run_id}: could not be read ({error})"


# -- the processes ---------------------------------------------------------------------------


@dataclass
class _Process:
    service: compose.ServicePlan
    generation: int
    popen: subprocess.Popen[bytes]
    log_path: Path
    celery_hostname: str | None = None

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None


def _session_members(session_id: int) -> list[int]:
    """Every process of a session, and every descendant of its leader (in case one left it)."""
    parents: dict[int, int] = {}
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
        if fields[0] in ("Z", "X"):
            continue  # dead already, waiting to be reaped by whoever adopted it
        pid, parent, session = int(entry.name), int(fields[1]), int(fields[3])
        parents[pid] = parent
        if session == session_id:
            members.append(pid)
    descendants = {session_id}
    changed = True
    while changed:
        changed = False
        for pid, parent in parents.items():
            if parent in descendants and pid not in descendants:
                descendants.add(pid)
                changed = True
    return sorted(set(members) | (descendants & set(parents)))


def _signal_session(session_id: int, signum: int) -> None:
    for pid in _session_members(session_id):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)


def _die_with_parent() -> None:
    """Runs in the child before exec: its own session, and SIGKILL if the test process dies."""
    os.setsid()
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


@dataclass
class NativeStack:
    """docker-compose.yaml's services as processes on this machine (see the module docstring)."""

    postgres: Postgres = field(default_factory=Postgres)
    redis: Redis = field(default_factory=Redis)
    start_timeout: float = 240
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="gt-stack-")))

    def __post_init__(self) -> None:
        self.airflow_home = self.workdir / "airflow-home"
        self.log_dir = self.workdir / "processes"
        #: The current process of each started service (one-shots stay after they exit).
        self.processes: dict[str, _Process] = {}
        #: Processes killed on purpose, and the earlier generations of restarted services.
        self.exited: list[_Process] = []
        self.database: str | None = None
        self.redis_db: int | None = None
        self.endpoints: compose.Endpoints | None = None
        self.plan: compose.StackPlan | None = None
        self.environment: dict[str, str] = {}
        self.api: AirflowApi | None = None
        self.scheduler_health_port = 0
        self._starting = False
        self._stopped = False
        self._previous_sigterm: Any = None

    # lifecycle

    def unavailable(self) -> str | None:
        """Why this machine cannot run the stack (PostgreSQL or Redis missing), or None."""
        return self.postgres.unavailable() or self.redis.unavailable()

    def start(self) -> NativeStack:
        _running.append(self)
        self._install_sigterm_handler()
        self._starting = True
        try:
            self.database = self.postgres.create_database()
            self.redis_db = self.redis.claim_database()
            self.endpoints = compose.Endpoints(
                postgres_host=self.postgres.host,
                postgres_port=self.postgres.port,
                postgres_user=self.postgres.user,
                database=self.database,
                redis_host=self.redis.host,
                redis_port=self.redis.port,
                redis_db=self.redis_db,
                api_port=free_port(),
                local_aws_port=free_port(),
            )
            self.plan = compose.plan(self.endpoints)
            self.environment = self._environment()
            self.api = AirflowApi(
                self.endpoints.api_url, self.airflow_home / "simple_auth_manager_passwords.json.generated"
            )
            for wave in self.plan.start_waves():
                for service in wave:
                    self.start_service(service.name)
                for service in wave:
                    self._wait_ready(service)
        except BaseException:
            self.stop()
            raise
        finally:
            self._starting = False
        return self

    def stop(self) -> None:
        """Stop every process (TERM, then KILL), drop the database, flush the Redis database. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        try:
            live = [p for p in self.processes.values() if p.alive]  # stop them all at once, then wait
            for process in live:
                _signal_session(process.popen.pid, signal.SIGTERM)
            deadline = time.monotonic() + 20
            for process in live:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            for process in [*self.processes.values(), *self.exited]:
                _signal_session(process.popen.pid, signal.SIGKILL)  # stragglers: task processes, pool children
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.popen.wait(timeout=5)
        finally:
            if self.api is not None:
                self.api.close()
            if self.database is not None:
                with contextlib.suppress(Exception):
                    self.postgres.drop_database(self.database)
            if self.redis_db is not None:
                with contextlib.suppress(Exception):
                    self.redis.flush_database(self.redis_db)
            if self in _running:
                _running.remove(self)
            if self._previous_sigterm is not None:
                with contextlib.suppress(ValueError):
                    signal.signal(signal.SIGTERM, self._previous_sigterm)

    def remove_workdir(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> NativeStack:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _install_sigterm_handler(self) -> None:
        """SIGTERM (CI cancelling the job) ends the test run like Ctrl-C does: pytest stops, runs
        the fixtures' teardown, and so stops the stack (atexit is the fallback)."""
        with contextlib.suppress(ValueError):  # not the main thread
            if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:

                def terminated(signum: int, frame: Any) -> None:
                    raise KeyboardInterrupt(f"signal {signum}")

                self._previous_sigterm = signal.signal(signal.SIGTERM, terminated)

    def _environment(self) -> dict[str, str]:
        assert self.plan is not None
        self.scheduler_health_port = free_port()
        base = {k: v for k, v in os.environ.items() if not k.startswith(_PRIVATE_PREFIXES)}
        self.airflow_home.mkdir(parents=True, exist_ok=True)
        where = {
            "AIRFLOW_HOME": str(self.airflow_home),
            # The image's dags and plugins folders, as the compose file mounts them.
            "AIRFLOW__CORE__DAGS_FOLDER": compose.rewrite_value(
                f"{compose.IMAGE_AIRFLOW_HOME}/dags", {}, self.endpoints
            ),
            "AIRFLOW__CORE__PLUGINS_FOLDER": compose.rewrite_value(
                f"{compose.IMAGE_AIRFLOW_HOME}/plugins", {}, self.endpoints
            ),
            # Fixed ports in a container, free ports on a shared machine.
            "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(self.scheduler_health_port),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        return {**base, **self.plan.environment, **where, **TEST_SETTINGS}

    # services

    def services(self, role: str) -> list[str]:
        assert self.plan is not None
        return [service.name for service in self.plan.by_role(role)]

    def start_service(self, name: str) -> None:
        """Start (or restart, as compose's ``restart: always`` would) one service."""
        assert self.plan is not None
        service = self.plan.services[name]
        previous = self.processes.pop(name, None)
        if previous is not None:
            if previous.alive:
                self.processes[name] = previous
                raise StackError(f"{name} is running already")
            self.exited.append(previous)
        generation = 1 + sum(1 for process in self.exited if process.service.name == name)
        argv = list(service.argv)
        celery_hostname = None
        if service.role == "celery-worker":
            # A name per start, so that a health check cannot be answered by the one before.
            celery_hostname = f"{name}-{generation}@{socket.gethostname()}"
            argv += ["--celery-hostname", celery_hostname]
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name}-{generation}.log"
        with log_path.open("wb") as log:
            popen = subprocess.Popen(
                argv,
                env={**self.environment, **service.environment},
                cwd=compose.REPO,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,  # setsid + parent-death signal
            )
        self.processes[name] = _Process(service, generation, popen, log_path, celery_hostname)

    def kill_service(self, name: str, signum: int = signal.SIGKILL) -> None:
        """Kill every process of a service at once (its container dying), and reap it.

        The service is down on purpose until ``start_service`` starts it again.
        """
        process = self.processes.pop(name)
        self.exited.append(process)
        _signal_session(process.popen.pid, signum)
        process.popen.wait(timeout=30)
        wait_until(
            lambda: not _session_members(process.popen.pid),
            timeout=30,
            interval=0.2,
            what=f"every process of {name} gone",
        )

    def check_alive(self) -> None:
        """Raise ProcessExited (with the logs) when a long-running service has ended on its own."""
        for name, process in self.processes.items():
            if not process.service.one_shot and not process.alive:
                raise ProcessExited(f"{name} exited {process.popen.returncode}\n{self._diagnostics()}")

    def wait_until(self, condition: Callable[[], T], *, what: str, timeout: float, interval: float = 1.0) -> T:
        """``wait_until`` that gives up as soon as a service dies, and shows the logs on timeout."""

        def alive_and(condition: Callable[[], T] = condition) -> T:
            self.check_alive()
            return condition()

        return wait_until(alive_and, timeout=timeout, interval=interval, what=what, diagnose=self._diagnostics)

    # runs

    def start_run(self, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        """Unpause (if need be) and trigger a DAG through the REST API; the run id (see ``AirflowApi.start_run``)."""
        assert self.api is not None
        return self.api.start_run(dag_id, conf)

    def wait_for_idle(self, dag_id: str, timeout: float = 300) -> None:
        """Until the DAG has no queued or running run (a scenario starting from a clean slate)."""
        assert self.api is not None
        api = self.api
        self.wait_until(
            lambda: api.runs(dag_id, state=["queued", "running"]) == [],
            what=f"no active run of {dag_id}",
            timeout=timeout,
            interval=2,
        )

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 300) -> dict[str, Any]:
        """The run once it succeeded; StackError with every task's state if it failed or took too long."""
        assert self.api is not None
        api = self.api
        try:
            run = self.wait_until(
                lambda: (run := api.dag_run(dag_id, run_id))["state"] in ("success", "failed") and run,
                what=f"run {run_id} of {dag_id} finished",
                timeout=timeout,
                interval=2,
            )
        except StackError as error:
            raise StackError(f"{api.describe_run(dag_id, run_id)}\n{error}") from None
        if run["state"] != "success":
            raise StackError(f"run {run_id} of {dag_id} ended {run['state']}\n{api.describe_run(dag_id, run_id)}")
        return run

    def wait_healthy(self, name: str, timeout: float | None = None) -> None:
        assert self.plan is not None
        self._wait_ready(self.plan.services[name], timeout)

    def _wait_ready(self, service: compose.ServicePlan, timeout: float | None = None) -> None:
        timeout = self.start_timeout if timeout is None else timeout
        if service.one_shot:
            process = self.processes[service.name]
            try:
                code = process.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                raise StackError(
                    f"{service.name} did not finish within {timeout:.0f} s\n{self._diagnostics()}"
                ) from None
            if code != 0:
                raise ProcessExited(f"{service.name} exited {code}\n{self._diagnostics()}")
            return
        self.wait_until(lambda: self._healthy(service), what=f"{service.name} healthy", timeout=timeout)

    def _healthy(self, service: compose.ServicePlan) -> bool:
        """The native counterpart of the service's compose health check."""
        import httpx

        assert self.endpoints is not None and self.api is not None
        process = self.processes[service.name]
        role = service.role
        if role == "local-aws":
            return httpx.get(f"{self.endpoints.local_aws_url}/moto-api/", timeout=5).status_code == 200
        if role == "api-server":
            return httpx.get(f"{self.endpoints.api_url}/api/v2/monitor/health", timeout=5).status_code == 200
        if role == "scheduler":
            return httpx.get(f"http://127.0.0.1:{self.scheduler_health_port}/health", timeout=5).status_code == 200
        if role in ("dag-processor", "triggerer"):
            key = role.replace("-", "_")
            return self.api.health().get(key, {}).get("status") == "healthy"
        if role == "celery-worker":
            return bool(self._celery().control.ping(destination=[process.celery_hostname], timeout=2.0))
        raise StackError(f"no health check for {service.name} ({role})")

    def _celery(self) -> Any:
        if not hasattr(self, "_celery_app"):
            from celery import Celery

            assert self.endpoints is not None
            self._celery_app = Celery("gt-stack-test", broker=self.endpoints.broker_url)
        return self._celery_app

    # the local AWS

    @property
    def local_aws_url(self) -> str:
        assert self.endpoints is not None
        return self.endpoints.local_aws_url

    def aws_client(self, service: str) -> Any:
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.local_aws_url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def configure_local_aws(self, **settings: Any) -> dict[str, Any]:
        from gt_provider.local import control

        return control.configure(self.local_aws_url, **settings)

    def reset_local_aws(self) -> None:
        """An empty account again, with the bucket, role and workteam that `serve` creates."""
        from gt_provider.local import control
        from gt_provider.local.server import bootstrap

        control.reset(self.local_aws_url)
        bootstrap(self.local_aws_url)

    # diagnostics

    def _diagnostics(self) -> str:
        """Log tails for an error while starting; a test's failure report has them anyway (conftest)."""
        return self.log_tails() if self._starting else "(process logs: the report's 'native stack' section)"

    def log_tails(self, lines: int = 60) -> str:
        """The end of every process's output, and of the newest task logs."""
        parts = []
        for process in sorted([*self.exited, *self.processes.values()], key=lambda p: p.log_path.name):
            state = "running" if process.alive else f"exited {process.popen.returncode}"
            parts.append(f"===== {process.log_path.name} ({state}) =====\n{_tail(process.log_path, lines)}")
        task_logs = sorted((self.airflow_home / "logs").rglob("*.log"), key=lambda p: p.stat().st_mtime)[-6:]
        for path in task_logs:
            parts.append(f"===== task log {path.relative_to(self.airflow_home)} =====\n{_tail(path, lines // 2)}")
        return "\n".join(parts)


def _tail(path: Path, lines: int) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as error:
        return f"(unreadable: {error})"


@atexit.register
def _stop_all() -> None:
    for stack in list(_running):
        stack.stop()


@contextlib.contextmanager
def running_stack(**kwargs: Any) -> Iterator[NativeStack]:
    """A started stack, stopped on the way out; the work folder is removed unless the block failed."""
    stack = NativeStack(**kwargs)
    failed = True
    try:
        stack.start()
        yield stack
        failed = False
    finally:
        stack.stop()
        if not failed:
            stack.remove_workdir()
