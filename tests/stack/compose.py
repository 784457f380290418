"""docker-compose.yaml, read as a plan of native processes.

CI has no Docker engine, so the stack tests cannot run the compose file itself. Instead
they take from it everything that decides what runs: the services, each one's command,
``depends_on`` (start order and what to wait for), and x-airflow-common's environment.
Each service maps to a native process through the tables below; a service or command that
the tables do not know is an error naming it, so the compose file cannot drift away from
what is tested without a test failing.

What changes between the containers and the native processes is only *where* things are:
compose's service hostnames become 127.0.0.1 and the ports of this run (a fresh database on
the machine's PostgreSQL, a Redis database number of its own, free ports), and the image's
``/opt/airflow`` becomes this repository (the compose file mounts ``./dags``, ``./include``
and ``./plugins`` there).

Nothing here starts a process (see :mod:`tests.stack.runner`).
"""

from __future__ import annotations

import re
import shlex
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yaml"

#: Where the Airflow image keeps its home, into which the compose file mounts repo folders.
IMAGE_AIRFLOW_HOME = "/opt/airflow"

#: Commands of Airflow services (what the image's entrypoint passes to ``airflow``), by role.
#: A compose service whose command is not here fails the stack tests, naming the service.
AIRFLOW_COMMANDS: dict[tuple[str, ...], str] = {
    ("db", "migrate"): "init",
    ("api-server",): "api-server",
    ("scheduler",): "scheduler",
    ("dag-processor",): "dag-processor",
    ("triggerer",): "triggerer",
    ("celery", "worker"): "celery-worker",
}
#: The embedded local AWS, as the compose file starts it.
LOCAL_AWS_COMMAND = ("python", "-m", "gt_provider.local", "serve")
#: Services that the machine provides instead of a container, by image name.
INFRASTRUCTURE_IMAGES = {"postgres": "postgres", "redis": "redis"}
#: Roles that a run needs: a compose file without one of them is not the stack we test.
REQUIRED_ROLES = (
    "postgres",
    "redis",
    "local-aws",
    "init",
    "api-server",
    "scheduler",
    "dag-processor",
    "triggerer",
    "celery-worker",
)
#: Roles that run once and must exit 0 (``service_completed_successfully``).
ONE_SHOT_ROLES = frozenset({"init"})


class ComposeMappingError(Exception):
    """docker-compose.yaml has something the native runner cannot map; the message names it."""


@dataclass(frozen=True)
class Endpoints:
    """Where this run's services are: what compose's hostnames and ports become."""

    postgres_host: str
    postgres_port: int
    postgres_user: str
    database: str
    redis_host: str
    redis_port: int
    redis_db: int
    api_port: int
    local_aws_port: int
    host: str = "127.0.0.1"

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.api_port}"

    @property
    def local_aws_url(self) -> str:
        return f"http://{self.host}:{self.local_aws_port}"

    @property
    def broker_url(self) -> str:
        return f"redis://{self.redis_host}:{self.redis_port}/{self.redis_db}"


@dataclass(frozen=True)
class Dependency:
    """One ``depends_on`` entry: the service waited for and compose's condition."""

    service: str
    condition: str


@dataclass(frozen=True)
class ServicePlan:
    """A compose service as a native process."""

    name: str
    role: str
    #: The compose command (Airflow subcommand or full argv of a non-Airflow service).
    compose_command: tuple[str, ...]
    argv: tuple[str, ...]
    depends_on: tuple[Dependency, ...] = ()
    #: The service's own ``environment`` beyond x-airflow-common's, rewritten like it.
    environment: Mapping[str, str] = field(default_factory=dict)

    @property
    def one_shot(self) -> bool:
        return self.role in ONE_SHOT_ROLES


@dataclass(frozen=True)
class StackPlan:
    """Every process to start, in compose's dependency order, and their common environment."""

    services: dict[str, ServicePlan]
    infrastructure: dict[str, str]  # compose service name -> role ("postgres" / "redis")
    environment: dict[str, str]

    def by_role(self, role: str) -> list[ServicePlan]:
        return [service for service in self.services.values() if service.role == role]

    def one(self, role: str) -> ServicePlan:
        [service] = self.by_role(role)
        return service

    def start_waves(self) -> list[list[ServicePlan]]:
        """Services grouped so that each group depends only on earlier groups and the infrastructure."""
        started: set[str] = set(self.infrastructure)
        waves: list[list[ServicePlan]] = []
        pending = dict(self.services)
        while pending:
            wave = [s for s in pending.values() if all(d.service in started for d in s.depends_on)]
            if not wave:
                raise ComposeMappingError(f"depends_on has a cycle or an unknown service among: {sorted(pending)}")
            waves.append(wave)
            for service in wave:
                started.add(service.name)
                del pending[service.name]
        return waves


def load_compose(path: Path = COMPOSE_FILE) -> dict[str, Any]:
    """The compose file with anchors and ``<<`` merge keys resolved (PyYAML does both)."""
    import yaml

    with path.open() as stream:
        document = yaml.safe_load(stream)
    if not isinstance(document, dict) or not isinstance(document.get("services"), dict):
        raise ComposeMappingError(f"{path} has no services")
    return document


def _as_argv(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(shlex.split(value))
    return tuple(str(part) for part in value)


def _environment(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, list):  # the ["KEY=value", ...] form
        return dict(item.split("=", 1) for item in value)
    return {str(key): "" if item is None else str(item) for key, item in value.items()}


def _depends_on(value: Any) -> tuple[Dependency, ...]:
    if value is None:
        return ()
    if isinstance(value, list):  # the short form: started is enough
        return tuple(Dependency(name, "service_started") for name in value)
    return tuple(Dependency(name, (spec or {}).get("condition", "service_started")) for name, spec in value.items())


def _image_name(service: Mapping[str, Any]) -> str:
    image = str(service.get("image") or "")
    return image.rsplit("/", 1)[-1].split(":", 1)[0]


def _classify(name: str, service: Mapping[str, Any], airflow_image: str) -> tuple[str, tuple[str, ...]]:
    """(role, compose command) of one service; raises naming the service when it is unknown."""
    argv = _as_argv(service.get("entrypoint")) + _as_argv(service.get("command"))
    if argv[: len(LOCAL_AWS_COMMAND)] == LOCAL_AWS_COMMAND:
        return "local-aws", argv
    if service.get("image") == airflow_image:
        if service.get("entrypoint"):
            raise ComposeMappingError(
                f"service {name!r} replaces the Airflow image's entrypoint ({service['entrypoint']!r}); "
                "tests/stack/compose.py cannot run that natively"
            )
        command = argv[1:] if argv[:1] == ("airflow",) else argv
        role = AIRFLOW_COMMANDS.get(command)
        if role is None:
            known = ", ".join(" ".join(c) for c in AIRFLOW_COMMANDS)
            raise ComposeMappingError(
                f"service {name!r} runs `{' '.join(command) or '(no command)'}`, which tests/stack/compose.py "
                f"does not map to a native process (known: {known}); add it to AIRFLOW_COMMANDS"
            )
        return role, command
    role = INFRASTRUCTURE_IMAGES.get(_image_name(service))
    if role is None:
        raise ComposeMappingError(
            f"service {name!r} (image {service.get('image')!r}) has no native counterpart in tests/stack/compose.py"
        )
    return role, argv


def _airflow_image(document: Mapping[str, Any]) -> str:
    common = document.get("x-airflow-common")
    if not isinstance(common, dict) or not common.get("image"):
        raise ComposeMappingError("docker-compose.yaml has no x-airflow-common with an image")
    return str(common["image"])


def _check_mounts(document: Mapping[str, Any]) -> None:
    """The repo must stand for the image's Airflow home: ./X is mounted at /opt/airflow/X."""
    for volume in document["x-airflow-common"].get("volumes", []):
        source, _, rest = str(volume).partition(":")
        target = rest.split(":", 1)[0]
        if not source.startswith("./"):
            continue  # a named volume (logs): the run's AIRFLOW_HOME has its own
        if target != f"{IMAGE_AIRFLOW_HOME}/{source[2:]}":
            raise ComposeMappingError(
                f"x-airflow-common mounts {source} at {target}; the native runner expects "
                f"{IMAGE_AIRFLOW_HOME}/{source[2:]} (the repo standing for the image's Airflow home)"
            )


_URL = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<userinfo>[^@/\s\"']*@)?(?P<host>[A-Za-z0-9_.-]+)"
    r"(?::(?P<port>\d+))?(?P<path>/[^\s\"'?#]*)?"
)


def rewrite_value(value: str, hosts: Mapping[str, str], endpoints: Endpoints) -> str:
    """One environment value with compose hostnames replaced (URLs) and image paths made native."""

    def url(match: re.Match[str]) -> str:
        role = hosts.get(match["host"])
        scheme, path = match["scheme"], match["path"] or ""
        if role is None:
            return match[0]
        if role == "postgres":
            return (
                f"{scheme}://{endpoints.postgres_user}@{endpoints.postgres_host}:{endpoints.postgres_port}"
                f"/{endpoints.database}"
            )
        if role == "redis":
            return f"{scheme}://{endpoints.redis_host}:{endpoints.redis_port}/{endpoints.redis_db}"
        if role == "api-server":
            return f"{scheme}://{endpoints.host}:{endpoints.api_port}{path}"
        if role == "local-aws":
            return f"{scheme}://{endpoints.host}:{endpoints.local_aws_port}{path}"
        raise ComposeMappingError(f"a URL points at compose service {match['host']!r} ({role}), which serves no URL")

    value = _URL.sub(url, value)
    if value == IMAGE_AIRFLOW_HOME or value.startswith(f"{IMAGE_AIRFLOW_HOME}/"):
        value = str(REPO) + value[len(IMAGE_AIRFLOW_HOME) :]
    return value


def _rewrite_environment(
    environment: Mapping[str, str], hosts: Mapping[str, str], endpoints: Endpoints
) -> dict[str, str]:
    rewritten = {}
    for key, value in environment.items():
        try:
            rewritten[key] = rewrite_value(value, hosts, endpoints)
        except ComposeMappingError as error:
            raise ComposeMappingError(f"environment {key}: {error}") from None
    for key, value in rewritten.items():
        for match in _URL.finditer(value):
            if match["host"] in hosts:
                raise ComposeMappingError(
                    f"environment {key} still refers to compose service {match['host']!r} after rewriting: {value!r}"
                )
    return rewritten


def _native_argv(role: str, command: tuple[str, ...], endpoints: Endpoints) -> tuple[str, ...]:
    """The compose command as this machine runs it: Airflow from the venv, our host and ports."""
    if role == "local-aws":
        argv = [sys.executable, *command[1:]]
        for flag, value in (("--host", endpoints.host), ("--port", str(endpoints.local_aws_port))):
            if flag in argv:
                argv[argv.index(flag) + 1] = value
            else:
                argv += [flag, value]
        return tuple(argv)
    airflow = str(Path(sys.executable).with_name("airflow"))
    extra: tuple[str, ...] = ()
    if role == "api-server":
        extra = ("--host", endpoints.host, "--port", str(endpoints.api_port))
    return (airflow, *command, *extra)


def plan(endpoints: Endpoints, document: Mapping[str, Any] | None = None) -> StackPlan:
    """The native processes of docker-compose.yaml for ``endpoints``; raises naming what it cannot map."""
    document = load_compose() if document is None else document
    airflow_image = _airflow_image(document)
    _check_mounts(document)
    roles: dict[str, tuple[str, tuple[str, ...]]] = {
        name: _classify(name, service or {}, airflow_image) for name, service in document["services"].items()
    }
    missing = [role for role in REQUIRED_ROLES if role not in {r for r, _ in roles.values()}]
    if missing:
        raise ComposeMappingError(f"docker-compose.yaml has no service for: {', '.join(missing)}")
    for role in ("postgres", "redis", "local-aws", "init", "api-server"):
        named = [name for name, (r, _) in roles.items() if r == role]
        if len(named) > 1:
            raise ComposeMappingError(f"docker-compose.yaml has more than one {role} service: {named}")
    hosts = {name: role for name, (role, _) in roles.items()}
    common = _environment(document["x-airflow-common"].get("environment"))
    services: dict[str, ServicePlan] = {}
    infrastructure: dict[str, str] = {}
    for name, (role, command) in roles.items():
        if role in INFRASTRUCTURE_IMAGES.values():
            infrastructure[name] = role
            continue
        spec = document["services"][name] or {}
        own = {k: v for k, v in _environment(spec.get("environment")).items() if common.get(k) != v}
        dependencies = _depends_on(spec.get("depends_on"))
        unknown = [d.service for d in dependencies if d.service not in roles]
        if unknown:
            raise ComposeMappingError(f"service {name!r} depends on unknown services {unknown}")
        services[name] = ServicePlan(
            name=name,
            role=role,
            compose_command=command,
            argv=_native_argv(role, command, endpoints),
            depends_on=dependencies,
            environment=_rewrite_environment(own, hosts, endpoints),
        )
    return StackPlan(
        services=services,
        infrastructure=infrastructure,
        environment=_rewrite_environment(common, hosts, endpoints),
    )
