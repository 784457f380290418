"""``python -m gt_provider.local serve|run``.

``serve`` runs the local AWS in the foreground until interrupted. ``run`` starts it in the
background on a free port, points Airflow's ``aws_default`` connection at it through the
environment, runs a command (``airflow dags test ...``), stops the server whatever happens,
and can print what the run produced.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading

from gt_provider.local import settings as local_settings
from gt_provider.local.server import DEFAULT_REGION, LocalAws, bootstrap


def _add_settings_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--speed",
        default="1",
        help="multiplier of wall time for labeling jobs, or 'instant' (default: 1)",
    )
    parser.add_argument("--manual-clock", action="store_true", help="jobs move only when the clock is advanced")
    parser.add_argument("--objects-per-second", type=float, default=10.0, help="labeling rate in emulated seconds")
    parser.add_argument("--initializing-seconds", type=float, default=10.0)
    parser.add_argument(
        "--worker-accuracy",
        default=",".join(str(a) for a in local_settings.DEFAULT_WORKER_ACCURACIES),
        help="comma-separated accuracies of the simulated workers",
    )
    parser.add_argument("--object-failure-rate", type=float, default=0.0, help="fraction of objects whose tasks expire")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--throttle-rate", type=float, default=0.0, help="fraction of SageMaker calls throttled")
    parser.add_argument("--server-error-rate", type=float, default=0.0, help="fraction of SageMaker calls failing 500")
    parser.add_argument("--no-bootstrap", action="store_true", help="do not create the demo bucket, role and workteam")


def _apply_settings(args: argparse.Namespace) -> None:
    local_settings.configure(
        speed=args.speed,
        manual_clock=args.manual_clock,
        objects_per_second=args.objects_per_second,
        initializing_seconds=args.initializing_seconds,
        worker_accuracies=[float(a) for a in args.worker_accuracy.split(",")],
        object_failure_rate=args.object_failure_rate,
        seed=args.seed,
        throttle_rate=args.throttle_rate,
        server_error_rate=args.server_error_rate,
    )


def _serve(args: argparse.Namespace) -> int:
    _apply_settings(args)
    aws = LocalAws(args.host, args.port)
    endpoint = aws.start()
    if not args.no_bootstrap:
        print(json.dumps(bootstrap(endpoint, args.region)), flush=True)
    print(f"gt_provider.local serving on {endpoint} (Ctrl-C to stop)", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        aws.stop()
    return 0


def _run(args: argparse.Namespace) -> int:
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        print("run: give the command to run after --", file=sys.stderr)
        return 2
    _apply_settings(args)
    # A SIGTERM (a CI timeout, kill) unwinds like Ctrl-C: the command is killed, the local AWS stopped.
    signal.signal(signal.SIGTERM, _raise_system_exit)
    with LocalAws(args.host, 0) as aws:
        resources = bootstrap(aws.endpoint_url, args.region)
        extra = {"endpoint_url": aws.endpoint_url, "region_name": args.region}
        env = {
            **os.environ,
            "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(
                {"conn_type": "aws", "login": "testing", "password": "testing", "extra": extra}
            ),
            "AWS_DEFAULT_REGION": args.region,
            # Plain boto3 in the command (a helper script, simulated Label Studio annotators)
            # reaches the same local AWS without knowing about Airflow connections.
            "AWS_ENDPOINT_URL": aws.endpoint_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }
        print(f"gt_provider.local: local AWS on {aws.endpoint_url}; running {' '.join(command)}", flush=True)
        returncode = subprocess.call(command, env=env)
        if args.summary and returncode == 0:
            from gt_provider.local.summary import print_summary

            print_summary(aws.endpoint_url, args.region, resources["bucket"])
    return returncode


def _raise_system_exit(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gt_provider.local", description=__doc__)
    commands = parser.add_subparsers(dest="action", required=True)
    serve = commands.add_parser("serve", help="run the local AWS in the foreground")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=5000)
    serve.add_argument("--region", default=DEFAULT_REGION)
    _add_settings_arguments(serve)
    run = commands.add_parser("run", help="run a command against a local AWS on a free port")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--region", default=DEFAULT_REGION)
    run.add_argument("--summary", action="store_true", help="print what the run labeled and trained")
    run.add_argument("command", nargs=argparse.REMAINDER)
    _add_settings_arguments(run)
    args = parser.parse_args(argv)
    return _serve(args) if args.action == "serve" else _run(args)


if __name__ == "__main__":
    sys.exit(main())
