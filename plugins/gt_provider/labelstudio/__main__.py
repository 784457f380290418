"""``python -m gt_provider.labelstudio``: a local Label Studio server, and simulated annotators for it.

``install``   create ``.labelstudio-venv`` and install Label Studio (when missing or changed)
``start``     start it headless on 127.0.0.1 (``--port``, default free), print URL, login, token
``stop``      stop it by its PID
``status``    say whether it runs
``annotate``  simulated annotators (``--annotators N`` real users) label every gt_provider
              project that needs it, every ``--interval`` seconds, until stopped (Ctrl-C)
``connection`` print the Airflow connection URI of the running server (for
              ``AIRFLOW_CONN_LABEL_STUDIO_DEFAULT``)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

from gt_provider.labelstudio import server


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m gt_provider.labelstudio", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("install", "start", "stop", "status", "annotate", "connection"))
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
    args = _parser().parse_args(argv)
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


def _annotate(running: server.LabelStudioServer, args: argparse.Namespace) -> None:
    import boto3

    from gt_provider.labelstudio.simulate import AnnotatorTeam, s3_fetch, with_accuracies
    from gt_provider.labelstudio.users import create_annotators

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    fetch = s3_fetch(boto3.client("s3", endpoint_url=args.endpoint_url))
    team = AnnotatorTeam(
        running.url,
        running.token,
        with_accuracies(create_annotators(running.url, running.token, args.annotators)),
        fetch=fetch,
        interval=args.interval,
    )
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C ends the sweeps
        team.run()


if __name__ == "__main__":
    sys.exit(main())
