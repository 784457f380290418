"""A local Label Studio server: installed in its own virtualenv, started headless on 127.0.0.1, stopped by PID.

Label Studio's pins (Django and friends) conflict with Airflow's, so it lives in
``.labelstudio-venv`` beside the checkout (``requirements-labelstudio.txt``) and runs as a
separate process; the provider talks to it over HTTP only, as to a team's own server.

The first start of a data directory generates the admin login and a 40-hex API token
(kept in ``<data_dir>/credentials.json``, mode 0600) and hands them to Label Studio's
first-start environment (``LABEL_STUDIO_USERNAME``/``_PASSWORD``/``_USER_TOKEN``) with legacy
API tokens enabled -- without that, every ``Authorization: Token`` call answers 401 (the
default since 1.17). Later starts reuse them, so a warm start keeps the token.

Standard library and ``requests`` only; nothing here imports Label Studio or Airflow.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import requests

CHECKOUT = Path(__file__).resolve().parents[3]
DEFAULT_VENV = CHECKOUT / ".labelstudio-venv"
DEFAULT_DATA_DIR = CHECKOUT / ".labelstudio"
REQUIREMENTS = CHECKOUT / "requirements-labelstudio.txt"
_STAMP = ".gt-provider-installed"


class LabelStudioServerError(RuntimeError):
    """The server could not be installed, started or stopped; the message says why (and shows its log)."""


@dataclass(frozen=True)
class LabelStudioServer:
    """A running server and its admin login."""

    url: str
    port: int
    pid: int
    data_dir: str
    username: str
    password: str
    token: str


def install(venv: Path = DEFAULT_VENV, requirements: Path = REQUIREMENTS, python: str = "python3.11") -> Path:
    """Create the virtualenv and install Label Studio when missing or when the requirements changed."""
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()
    stamp = venv / _STAMP
    executable = venv / "bin" / "label-studio"
    if stamp.exists() and stamp.read_text() == digest and executable.exists():
        return executable
    commands = [[python, "-m", "venv", str(venv)]] if not (venv / "bin" / "python").exists() else []
    commands.append(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
            str(requirements),
        ]
    )
    for command in commands:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode:
            raise LabelStudioServerError(f"{' '.join(command)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    stamp.write_text(digest)
    return executable


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _credentials(data_dir: Path) -> dict[str, str]:
    path = data_dir / "credentials.json"
    if path.exists():
        return json.loads(path.read_text())
    credentials = {
        "username": "admin@gt-provider.local",
        "password": secrets.token_urlsafe(12),
        "token": secrets.token_hex(20),
    }
    data_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(credentials, indent=2))
    path.chmod(0o600)
    return credentials


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _ready(url: str, token: str) -> bool:
    try:
        health = requests.get(f"{url}/health", timeout=5)
        me = requests.get(f"{url}/api/current-user/whoami", headers={"Authorization": f"Token {token}"}, timeout=5)
    except requests.RequestException:
        return False
    return health.status_code == 200 and me.status_code == 200


def status(data_dir: Path = DEFAULT_DATA_DIR) -> LabelStudioServer | None:
    """The server this data directory's ``server.json`` names, if it runs and answers."""
    path = Path(data_dir) / "server.json"
    if not path.exists():
        return None
    server = LabelStudioServer(**json.loads(path.read_text()))
    return server if _alive(server.pid) and _ready(server.url, server.token) else None


def start(
    *,
    port: int | None = None,
    data_dir: Path = DEFAULT_DATA_DIR,
    venv: Path = DEFAULT_VENV,
    timeout: float = 180,
) -> LabelStudioServer:
    """Start Label Studio headless on 127.0.0.1 (or return the one already running on ``data_dir``)."""
    data_dir = Path(data_dir).resolve()
    running = status(data_dir)
    if running is not None:
        return running
    executable = install(venv)
    credentials = _credentials(data_dir)
    port = port or _free_port()
    url = f"http://127.0.0.1:{port}"
    environment = {
        **os.environ,
        "LABEL_STUDIO_USERNAME": credentials["username"],
        "LABEL_STUDIO_PASSWORD": credentials["password"],
        "LABEL_STUDIO_USER_TOKEN": credentials["token"],
        "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
        "LABEL_STUDIO_BASE_DATA_DIR": str(data_dir),
        "LABEL_STUDIO_HOST": url,
        "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true",
        "COLLECT_ANALYTICS": "false",
        "SENTRY_DSN": "",
        "FRONTEND_SENTRY_DSN": "",
        "DJANGO_DB": "sqlite",
        "PYTHONUNBUFFERED": "1",
    }
    environment.pop("PYTHONPATH", None)  # the other virtualenv must not see Airflow's packages
    log = (data_dir / "server.log").open("ab")
    process = subprocess.Popen(
        [
            str(executable),
            "start",
            "--internal-host",
            "127.0.0.1",
            "--port",
            str(port),
            "--host",
            url,
            "--data-dir",
            str(data_dir),
            "--no-browser",
        ],
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        cwd=data_dir,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LabelStudioServerError(f"Label Studio exited with {process.returncode}:\n{_tail(data_dir)}")
        if _ready(url, credentials["token"]):
            server = LabelStudioServer(url=url, port=port, pid=process.pid, data_dir=str(data_dir), **credentials)
            (data_dir / "server.json").write_text(json.dumps(asdict(server), indent=2))
            return server
        time.sleep(0.5)
    _terminate(process.pid, 10)
    raise LabelStudioServerError(f"Label Studio did not answer on {url} within {timeout:.0f} s:\n{_tail(data_dir)}")


def stop(data_dir: Path = DEFAULT_DATA_DIR, timeout: float = 30) -> bool:
    """Stop the server of ``data_dir`` by its PID (its whole process group); whether one was running."""
    path = Path(data_dir) / "server.json"
    if not path.exists():
        return False
    pid = json.loads(path.read_text())["pid"]
    path.unlink()
    return _terminate(pid, timeout)


def _terminate(pid: int, timeout: float) -> bool:
    if not _alive(pid):
        return False
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            finished, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:  # not our child: wait for it to vanish
            finished = 0 if _alive(pid) else pid
        if finished:
            return True
        time.sleep(0.2)
    os.killpg(pid, signal.SIGKILL)
    return True


def _tail(data_dir: Path, lines: int = 30) -> str:
    log = data_dir / "server.log"
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else "(no log)"
