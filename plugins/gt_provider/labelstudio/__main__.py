"""``python -m gt_provider.labelstudio``: a local Label Studio server, and simulated annotators for it.

``install``   create ``.labelstudio-venv`` and install Label Studio (when missing or changed)
``start``     start it headless on 127.0.0.1 (``--port``, default free), print URL, login, token
``stop``      stop it by its PID
``status``    say whether it runs
``annotate``  simulated annotators (``--annotators N`` real users) label every gt_provider
              project that needs it, every ``--interval`` seconds, until stopped (Ctrl-C)
``connection`` print the Airflow connection URI of the running server (for
              ``AIRFLOW_CONN_LABEL_STUDIO_DEFAULT``)
``run -- CMD`` run CMD with ``AIRFLOW_CONN_LABEL_STUDIO_DEFAULT`` set to the server
              (started for the run when it is not running, stopped after) while
              ``--annotators N`` simulated annotators label (``--annotators 0``: a person
              labels in the browser); then say what each gt_provider project holds

Simulated annotators read images through boto3's usual settings (``AWS_ENDPOINT_URL``
and the keys, which ``python -m gt_provider.local run`` sets for its local AWS) unless
``--endpoint-url`` is given.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from gt_provider.labelstudio import server
from gt_provider.labelstudio.client import LabelStudioClient, LabelStudioError

if TYPE_CHECKING:
    from gt_provider.labelstudio.simulate import AnnotatorTeam


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m gt_provider.labelstudio", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("install", "start", "stop", "status", "annotate", "connection", "run"))
    parser.add_argument("--port", type=int, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--data-dir", type=Path, default=server.DEFAULT_DATA_DIR, help="the server's data directory")
    parser.add_argument("--annotators", type=int, default=3, help="simulated annotators (annotate)")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between sweeps (annotate)")
    parser.add_argument("--endpoint-url", help="S3 endpoint the images are in (annotate), e.g. the local AWS")
    return parser


def connection_uri(running: server.LabelStudioServer) -> str:
    """The ``labelstudio`` Airflow connection of a server, as a URI."""
    host = running.url.split("://", 1)[1].split(":", 1)[0]
    return f"labelstudio://:{quote(running.token, safe='')}@{host}:{running.port}/?__extra__=" + quote(
        json.dumps({}), safe=""
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    split = argv.index("--") if "--" in argv else len(argv)
    args, command = parser.parse_args(argv[:split]), argv[split + 1 :]
    if (args.command == "run") != bool(command):
        parser.error("give the command to run after -- (run), and only then")
    if args.command == "run":
        return _run(args, command)
    if args.command == "install":
        print(server.install())
        return 0
    if args.command == "stop":
        print("stopped" if server.stop(args.data_dir) else "not running")
        return 0
    if args.command == "start":
        running = server.start(port=args.port, data_dir=args.data_dir)
        print(f"Label Studio: {running.url}  (PID {running.pid}, data in {running.data_dir})")
        print(f"login:        {running.username} / {running.password}")
        print(f"API token:    {running.token}")
        return 0
    running = server.status(args.data_dir)
    if running is None:
        print(f"Label Studio is not running on {args.data_dir}", file=sys.stderr)
        return 1
    if args.command == "status":
        print(f"{running.url} (PID {running.pid})")
    elif args.command == "connection":
        print(connection_uri(running))
    else:
        _annotate(running, args)
    return 0


def _team(running: server.LabelStudioServer, args: argparse.Namespace) -> AnnotatorTeam:
    import boto3

    from gt_provider.labelstudio.simulate import AnnotatorTeam, s3_fetch, with_accuracies
    from gt_provider.labelstudio.users import create_annotators

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    fetch = s3_fetch(boto3.client("s3", endpoint_url=args.endpoint_url))
    return AnnotatorTeam(
        running.url,
        running.token,
        with_accuracies(create_annotators(running.url, running.token, args.annotators)),
        fetch=fetch,
        interval=args.interval,
    )


def _annotate(running: server.LabelStudioServer, args: argparse.Namespace) -> None:
    team = _team(running, args)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C ends the sweeps
        team.run()


def _run(args: argparse.Namespace, command: Sequence[str]) -> int:
    """``command`` against the server, with simulated annotators (or a person) labeling meanwhile."""
    # A SIGTERM (a CI timeout, kill) unwinds like Ctrl-C: the command is killed (subprocess.call
    # kills its child on any exception) and a server started for the run is stopped.
    signal.signal(signal.SIGTERM, _raise_system_exit)
    running = server.status(args.data_dir)
    started = running is None
    if running is None:
        running = server.start(port=args.port, data_dir=args.data_dir)
    print(f"gt_provider.labelstudio: Label Studio on {running.url}; running {' '.join(command)}", flush=True)
    if args.annotators:
        print(f"{args.annotators} simulated annotators label every project the run creates", flush=True)
    else:
        print(
            f"A person labels: open {running.url} and log in as {running.username} / {running.password}; "
            "the labeling task's log and its 'Label Studio project' link name the project",
            flush=True,
        )
    team, begun = None, datetime.now(UTC)
    try:  # whatever happens from here, a server started for the run is stopped
        team = _team(running, args).start() if args.annotators else None
        return subprocess.call(
            list(command), env={**os.environ, "AIRFLOW_CONN_LABEL_STUDIO_DEFAULT": connection_uri(running)}
        )
    finally:
        if team is not None:
            team.stop()
        try:
            _print_projects(running, since=begun)
        except LabelStudioError as error:
            print(f"Could not list the run's projects: {error}", file=sys.stderr)
        if started:
            server.stop(args.data_dir)


def _raise_system_exit(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _print_projects(running: server.LabelStudioServer, *, since: datetime) -> None:
    """What each gt_provider project created ``since`` holds: tasks, finished, annotations, annotators."""
    from gt_provider.labelstudio.answers import annotator_id
    from gt_provider.labelstudio.records import job_record, parse_time, project_url

    client = LabelStudioClient(running.url, running.token)
    for project in client.projects():
        record = job_record(project)
        if record is None or parse_time(project["created_at"]) < since:
            continue
        annotators = {
            annotator_id(annotation)
            for task in client.export(project["id"])
            for annotation in task.get("annotations") or []
        }
        print(
            f"Label Studio project {record['job_name']}: {project.get('finished_task_number', 0)}/"
            f"{project.get('task_number', 0)} tasks finished, {project.get('total_annotations_number', 0)} "
            f"annotations by {len(annotators)} annotators, {project_url(running.url, project['id'])}"
        )


if __name__ == "__main__":
    sys.exit(main())
