"""Fan-out of labeling waits: N deferred triggers in one event loop versus N blocking waits in threads.

Airflow's triggerer runs every deferred task's trigger as a coroutine of one asyncio event loop.
This benchmark creates ``--jobs`` labeling jobs with plain boto3 on the local AWS and waits for
all of them, in two phases that each run in a fresh process of their own (so that the process's
peak RSS, ``ru_maxrss``, belongs to one phase and neither inherits the other's freed heap):

1. deferrable: one ``GroundTruthLabelingJobTrigger`` per job, all in one event loop, each run
   until its first event, as the triggerer runs them;
2. blocking: one ``GroundTruthHook.wait_for_labeling_job`` per job, each in its own thread, as
   ``--jobs`` non-deferrable tasks would wait, each holding a worker slot. A real worker slot is
   a whole process (an interpreter with Airflow loaded), so threads understate the blocking cost.

Each phase process starts the local AWS in-process (``LocalAws`` on a free port, ``bootstrap``),
slows its clock with ``--speed`` so that jobs take a realistic while, and creates the jobs just
before the waits start. How each figure is measured:

- wall time: from the start of the waits until the last trigger event arrived (deferrable) or the
  last blocking wait returned;
- results by status: the status of each trigger event, or ``success`` for a wait that returned a
  Completed job; every one must be ``success`` (the exit code is 1 otherwise);
- worker slots held: the peak number of threads whose stack is inside a labeling-job wait
  (``wait_for_labeling_job`` or the trigger's ``run``), from ``sys._current_frames()`` sampled
  every 0.25 s by the thread that drives the waits (the event loop itself in the deferrable phase,
  so no sampler thread is added);
- threads alive: before the waits and at their peak, not counting the local AWS's request threads
  (werkzeug serves each open connection in a thread; they exist only because the emulator is
  in-process and are shown on their own); the threads that appeared during the waits are listed;
- memory: the RSS just before the waits (``/proc/self/statm``) and the process's peak RSS
  (``ru_maxrss``), whose difference is what the waits added; the local AWS's share (its request
  threads, the output it writes when a job completes) is part of both phases alike. With
  ``--tracemalloc`` also the peak of Python allocations during the waits (slower);
- DescribeLabelingJob calls: counted on the server side. The local AWS runs in this process, so
  the benchmark wraps its DescribeLabelingJob handler (on moto's response class) with a counter
  that then calls the original handler; requests and responses are unchanged. Per job per minute
  is calls / summed minutes of waiting; it is below ``60 / --delay`` when checks are slow, because
  a wait sleeps ``--delay`` after each answer;
- event loop lateness: the worst delay of the sampler's 0.25 s sleeps, i.e. the longest time the
  loop was busy, overall (the triggers build their aiobotocore clients at the start, ~30 ms each)
  and after the first 15 s (polling only).

Both phases share 2 cores with the in-process local AWS. The blocking phase's wall time and check
rate also pay for 200 threads building 200 boto3 clients (~0.1-0.3 s of CPU each) under one GIL,
which separate task processes would not.

Run from the repository root::

    .venv/bin/python benchmarks/wait_fanout.py --jobs 20     # smoke run, about two minutes
    .venv/bin/python benchmarks/wait_fanout.py               # 200 jobs, about three minutes on 2 cores
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import json
import logging
import math
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
REGION = "us-east-1"
PHASES = ("deferrable", "blocking")
SAMPLE_SECONDS = 0.25
#: The triggers build their clients in the first seconds; after this, the loop only polls.
STEADY_AFTER_SECONDS = 15.0
CLASSES = ["cat", "dog", "bird"]
#: Thread target of werkzeug's threaded server: one thread per open connection to the local AWS.
SERVER_REQUEST_THREAD = "process_request_thread"
#: Every wait logs a progress line per check (thousands of lines), every hook a line when it
#: reads the connection. Hooks log under airflow.task.hooks.<module>, triggers under their module.
_QUIET_LOGGERS = (
    "gt_provider",
    "airflow.task.hooks",
    "airflow.providers.amazon",
    "botocore",
    "aiobotocore",
    "urllib3",
    "werkzeug",
)


@dataclass
class PhaseResult:
    """What one phase process measured; printed as JSON for the parent process to report."""

    phase: str
    jobs: int
    job_seconds: float
    create_seconds: float = 0.0
    wall_seconds: float = 0.0
    statuses: dict[str, int] = field(default_factory=dict)
    waiting_threads_peak: int = 0
    threads_before: int = 0
    threads_peak: int = 0
    new_threads: dict[str, int] = field(default_factory=dict)
    server_threads_peak: int = 0
    rss_before: int = 0
    max_rss: int = 0
    traced_peak: int | None = None
    describe_calls: int = 0
    #: Minutes of waiting summed over the jobs (each from the start of the waits to its end).
    waited_minutes: float = 0.0
    loop_lateness: float | None = None
    loop_lateness_steady: float | None = None


# --------------------------------------------------------------------------- environment
def _prepare_environment() -> None:
    """Airflow reads its configuration once per process: set it before anything imports Airflow."""
    airflow_home = Path(tempfile.mkdtemp(prefix="gt-provider-bench-airflow-"))
    atexit.register(shutil.rmtree, airflow_home, ignore_errors=True)
    os.environ.update(
        {
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home}/airflow.db",
            "AIRFLOW__LOGGING__NAMESPACE_LEVELS": " ".join(f"{name}=WARNING" for name in _QUIET_LOGGERS),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
        }
    )
    os.environ.pop("AWS_PROFILE", None)
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def _point_aws_default_at(endpoint_url: str) -> None:
    os.environ["AIRFLOW_CONN_AWS_DEFAULT"] = json.dumps(
        {
            "conn_type": "aws",
            "login": "testing",
            "password": "testing",
            "extra": {"endpoint_url": endpoint_url, "region_name": REGION},
        }
    )


# ---------------------------------------------------------------------------- measuring
class _DescribeCounter:
    """DescribeLabelingJob calls, counted inside the in-process local AWS."""

    def __init__(self) -> None:
        self.calls = 0
        self._lock = threading.Lock()

    def install(self) -> None:
        """Wrap the handler that ``gt_provider.local.server.install()`` put on moto's response class."""
        from moto.sagemaker.responses import SageMakerResponse

        original = SageMakerResponse.describe_labeling_job
        counter = self

        def describe_labeling_job(response: SageMakerResponse) -> Any:
            with counter._lock:
                counter.calls += 1
            return original(response)

        SageMakerResponse.describe_labeling_job = describe_labeling_job  # type: ignore[method-assign]


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


def _max_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def _is_server_thread(thread: threading.Thread) -> bool:
    return SERVER_REQUEST_THREAD in thread.name


class _Sampler:
    """Threads, threads inside a wait and RSS, sampled from the thread that drives the waits."""

    def __init__(self, result: PhaseResult, wait_codes: frozenset[Any]) -> None:
        self.result = result
        self.wait_codes = wait_codes
        before = [thread for thread in threading.enumerate() if not _is_server_thread(thread)]
        self.threads_before = {thread.ident for thread in before}
        self.new_threads: dict[str, set[int | None]] = {}
        result.threads_before = result.threads_peak = len(before)
        result.rss_before = _rss_bytes()

    def sample(self) -> None:
        me = threading.get_ident()
        waiting = 0
        for thread_id, frame in sys._current_frames().items():
            while frame is not None and thread_id != me:
                if frame.f_code in self.wait_codes:
                    waiting += 1
                    break
                frame = frame.f_back
        threads = threading.enumerate()
        server = sum(_is_server_thread(thread) for thread in threads)
        for thread in threads:
            if not _is_server_thread(thread) and thread.ident not in self.threads_before:
                self.new_threads.setdefault(re.sub(r"\d+", "N", thread.name), set()).add(thread.ident)
        result = self.result
        result.waiting_threads_peak = max(result.waiting_threads_peak, waiting)
        result.threads_peak = max(result.threads_peak, len(threads) - server)
        result.server_threads_peak = max(result.server_threads_peak, server)
        result.new_threads = {name: len(idents) for name, idents in sorted(self.new_threads.items())}


# -------------------------------------------------------------------------------- the jobs
def _put_inputs(endpoint_url: str, bucket: str, n_objects: int) -> dict[str, str]:
    import boto3

    s3 = boto3.client("s3", endpoint_url=endpoint_url, region_name=REGION)

    def put(key: str, text: str) -> str:
        s3.put_object(Bucket=bucket, Key=key, Body=text.encode())
        return f"s3://{bucket}/{key}"

    lines = [
        {"source-ref": f"s3://{bucket}/images/{i}.png", "gt-local-answer": CLASSES[i % len(CLASSES)]}
        for i in range(n_objects)
    ]
    return {
        "manifest": put("fanout/input.manifest", "".join(json.dumps(line) + "\n" for line in lines)),
        "labels": put(
            "fanout/labels.json",
            json.dumps({"document-version": "2018-11-28", "labels": [{"label": c} for c in CLASSES]}),
        ),
        "template": put("fanout/template.liquid.html", "<crowd-form></crowd-form>"),
    }


def _create_jobs(endpoint_url: str, resources: dict[str, str], uris: dict[str, str], names: list[str]) -> None:
    import boto3

    from gt_provider import task_types

    sagemaker = boto3.client("sagemaker", endpoint_url=endpoint_url, region_name=REGION)
    info = task_types.get_task_type("ImageMultiClass")
    for name in names:
        sagemaker.create_labeling_job(
            LabelingJobName=name,
            LabelAttributeName="animal",
            InputConfig={"DataSource": {"S3DataSource": {"ManifestS3Uri": uris["manifest"]}}},
            OutputConfig={"S3OutputPath": f"s3://{resources['bucket']}/fanout/output"},
            RoleArn=resources["role_arn"],
            LabelCategoryConfigS3Uri=uris["labels"],
            HumanTaskConfig={
                "WorkteamArn": resources["workteam_arn"],
                "UiConfig": {"UiTemplateS3Uri": uris["template"]},
                "PreHumanTaskLambdaArn": info.pre_human_task_lambda_arn(REGION),
                "TaskTitle": "Animals",
                "TaskDescription": "Pick the animal",
                "TaskKeywords": ["animals", "image classification"],
                "NumberOfHumanWorkersPerDataObject": 3,
                "TaskTimeLimitInSeconds": 300,
                "TaskAvailabilityLifetimeInSeconds": 3600,
                "MaxConcurrentTaskCount": 100,
                "AnnotationConsolidationConfig": {
                    "AnnotationConsolidationLambdaArn": info.annotation_consolidation_lambda_arn(REGION)
                },
            },
        )


# ------------------------------------------------------------------------------- the waits
def _wait_deferrable(names: list[str], result: PhaseResult, sampler: _Sampler, delay: int, attempts: int) -> None:
    """Every trigger's run() as a task of one event loop, until each yields its first event."""
    from gt_provider.triggers.labeling import GroundTruthLabelingJobTrigger

    statuses: Counter[str] = Counter()

    async def first_event(trigger: GroundTruthLabelingJobTrigger, started: float) -> None:
        async for event in trigger.run():
            statuses[event.payload["status"]] += 1
            result.waited_minutes += (time.monotonic() - started) / 60
            return
        statuses["no event"] += 1

    async def sample_until(done: asyncio.Event, started: float) -> tuple[float, float]:
        """Sample from the loop itself; return the worst lateness of its sleeps, overall and steady."""
        worst = steady = 0.0
        while not done.is_set():
            sampler.sample()
            before = time.monotonic()
            await asyncio.sleep(SAMPLE_SECONDS)
            lateness = time.monotonic() - before - SAMPLE_SECONDS
            worst = max(worst, lateness)
            if before - started > STEADY_AFTER_SECONDS:
                steady = max(steady, lateness)
        return worst, steady

    async def wait_all() -> None:
        triggers = [
            GroundTruthLabelingJobTrigger(job_name=name, waiter_delay=delay, waiter_max_attempts=attempts)
            for name in names
        ]
        done = asyncio.Event()
        started = time.monotonic()
        sampling = asyncio.create_task(sample_until(done, started))
        await asyncio.gather(*(first_event(trigger, started) for trigger in triggers))
        result.wall_seconds = time.monotonic() - started
        done.set()
        result.loop_lateness, result.loop_lateness_steady = await sampling

    asyncio.run(wait_all())
    result.statuses = dict(statuses)


def _wait_blocking(names: list[str], result: PhaseResult, sampler: _Sampler, delay: int, attempts: int) -> None:
    """One thread per job, each blocked in the hook's wait, as a non-deferrable task would be."""
    from gt_provider.hooks.ground_truth import GroundTruthHook

    statuses: Counter[str] = Counter()
    lock = threading.Lock()

    def wait(name: str, started: float) -> None:
        try:
            # One hook (and boto3 client) per wait, as each task builds its own.
            description = GroundTruthHook(aws_conn_id="aws_default").wait_for_labeling_job(
                name, waiter_delay=delay, waiter_max_attempts=attempts
            )
            status = description["LabelingJobStatus"]
            status = "success" if status == "Completed" else status
        except Exception as error:  # counted and reported: every wait must end in success
            status = f"error ({type(error).__name__}: {error})"
        with lock:
            statuses[status] += 1
            result.waited_minutes += (time.monotonic() - started) / 60

    started = time.monotonic()
    threads = [
        threading.Thread(target=wait, args=(name, started), name=f"blocking-wait-{index}", daemon=True)
        for index, name in enumerate(names)
    ]
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        sampler.sample()
        time.sleep(SAMPLE_SECONDS)
    result.wall_seconds = time.monotonic() - started
    result.statuses = dict(statuses)


def _run_phase(args: argparse.Namespace) -> PhaseResult:
    """One phase, in this process: local AWS, jobs, waits, figures."""
    _prepare_environment()
    from gt_provider.hooks.ground_truth import GroundTruthHook
    from gt_provider.local import control
    from gt_provider.local import settings as local_settings
    from gt_provider.local.server import LocalAws, bootstrap
    from gt_provider.triggers.labeling import GroundTruthLabelingJobTrigger

    timeline = local_settings.Settings()
    job_seconds = (timeline.initializing_seconds + args.objects / timeline.objects_per_second) / args.speed
    result = PhaseResult(args.phase, args.jobs, job_seconds)
    # Generous: a wait that outlives its job by this much is broken, not slow.
    attempts = math.ceil((3 * job_seconds + 120) / args.delay)
    wait_codes = frozenset({GroundTruthHook.wait_for_labeling_job.__code__, GroundTruthLabelingJobTrigger.run.__code__})
    wait = _wait_deferrable if args.phase == "deferrable" else _wait_blocking
    names = [f"fanout-{args.phase}-{index:04d}" for index in range(args.jobs)]

    with LocalAws() as aws:
        describe = _DescribeCounter()
        describe.install()
        resources = bootstrap(aws.endpoint_url)
        control.configure(aws.endpoint_url, speed=args.speed, manual_clock=False, object_failure_rate=0.0, seed=0)
        _point_aws_default_at(aws.endpoint_url)
        uris = _put_inputs(aws.endpoint_url, resources["bucket"], args.objects)
        started = time.monotonic()
        _create_jobs(aws.endpoint_url, resources, uris, names)
        result.create_seconds = time.monotonic() - started

        sampler = _Sampler(result, wait_codes)
        if args.tracemalloc:
            tracemalloc.start()
        wait(names, result, sampler, args.delay, attempts)
        if args.tracemalloc:
            result.traced_peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        result.max_rss = _max_rss_bytes()
        result.describe_calls = describe.calls
    return result


# ------------------------------------------------------------------------------- reporting
def _mib(n_bytes: float) -> str:
    return f"{n_bytes / 2**20:.1f} MiB"


def _report(args: argparse.Namespace, deferrable: PhaseResult, blocking: PhaseResult) -> None:
    d, b = deferrable, blocking

    def row(label: str, left: str, right: str) -> None:
        print(f"  {label:<44} {left:>22} {right:>22}")

    def per_minute(result: PhaseResult) -> str:
        # waited_minutes is summed over the jobs: calls / job-minutes of waiting.
        return f"{result.describe_calls / result.waited_minutes:.1f}" if result.waited_minutes else "-"

    print()
    print(
        f"wait fan-out: {args.jobs} labeling jobs x {args.objects} objects per phase, waiter_delay {args.delay} s, "
        f"local AWS speed {args.speed:g} (a job takes {d.job_seconds:.0f} s of wall time from its creation)"
    )
    row("", "deferrable", "blocking")
    row("", f"({args.jobs} triggers, 1 loop)", f"({args.jobs} threads)")
    row("jobs created in", f"{d.create_seconds:.1f} s", f"{b.create_seconds:.1f} s")
    row("wall time until every wait ended", f"{d.wall_seconds:.1f} s", f"{b.wall_seconds:.1f} s")
    row(
        "results by status",
        ", ".join(f"{status} {n}" for status, n in sorted(d.statuses.items())),
        ", ".join(f"{status} {n}" for status, n in sorted(b.statuses.items())),
    )
    row("worker slots held (threads inside a wait)", f"{d.waiting_threads_peak}", f"{b.waiting_threads_peak}")
    row(
        "threads alive: before -> peak during waits",
        f"{d.threads_before} -> {d.threads_peak}",
        f"{b.threads_before} -> {b.threads_peak}",
    )
    row("  + local AWS request threads (peak)", f"{d.server_threads_peak}", f"{b.server_threads_peak}")
    row("RSS before the waits", _mib(d.rss_before), _mib(b.rss_before))
    row("peak RSS (ru_maxrss)", _mib(d.max_rss), _mib(b.max_rss))
    row("RSS added by the waits", _mib(d.max_rss - d.rss_before), _mib(b.max_rss - b.rss_before))
    row(
        "  per job",
        f"{(d.max_rss - d.rss_before) / d.jobs / 2**10:.0f} KiB",
        f"{(b.max_rss - b.rss_before) / b.jobs / 2**10:.0f} KiB",
    )
    if d.traced_peak is not None and b.traced_peak is not None:
        row("tracemalloc peak during the waits", _mib(d.traced_peak), _mib(b.traced_peak))
    row("DescribeLabelingJob calls", f"{d.describe_calls}", f"{b.describe_calls}")
    row(f"  per job per minute (nominal {60 / args.delay:g})", per_minute(d), per_minute(b))
    row("event loop lateness: worst", f"{d.loop_lateness:.2f} s", "-")
    row(f"  worst after the first {STEADY_AFTER_SECONDS:g} s", f"{d.loop_lateness_steady:.2f} s", "-")
    for result in (d, b):
        names = ", ".join(f"{name} x{count}" for name, count in result.new_threads.items()) or "none"
        print(f"  threads started during the {result.phase} waits: {names}")
    print(
        f"worker slots held: {d.waiting_threads_peak} (deferrable) vs {b.waiting_threads_peak} (blocking); "
        f"RSS added: {_mib(d.max_rss - d.rss_before)} vs {_mib(b.max_rss - b.rss_before)}"
    )


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=200, help="labeling jobs per phase (default 200)")
    parser.add_argument("--objects", type=int, default=20, help="data objects per job (default 20)")
    parser.add_argument("--delay", type=int, default=5, help="waiter_delay: seconds between checks (default 5)")
    parser.add_argument(
        "--speed",
        type=float,
        default=0.25,
        help="local AWS clock speed; a job spends 10 emulated s initializing, then labels 10 objects per "
        "emulated s (default 0.25: a 20-object job takes 48 s of wall time)",
    )
    parser.add_argument("--tracemalloc", action="store_true", help="also trace Python allocations (slower)")
    parser.add_argument("--phase", choices=PHASES, help=argparse.SUPPRESS)  # set for the phase processes
    args = parser.parse_args(argv)
    if args.jobs < 1 or args.objects < 1 or args.delay < 1 or args.speed <= 0:
        parser.error("--jobs, --objects and --delay must be >= 1 and --speed > 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    if args.phase:
        print(json.dumps(asdict(_run_phase(args))))
        return 0

    forwarded = ["--jobs", str(args.jobs), "--objects", str(args.objects), "--delay", str(args.delay)]
    forwarded += ["--speed", str(args.speed)] + (["--tracemalloc"] if args.tracemalloc else [])
    results = {}
    for phase in PHASES:
        completed = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), *forwarded, "--phase", phase],
            stdout=subprocess.PIPE,
            text=True,
            check=True,
        )
        results[phase] = PhaseResult(**json.loads(completed.stdout.strip().splitlines()[-1]))
        print(f"{phase}: {results[phase].statuses} in {results[phase].wall_seconds:.1f} s", flush=True)

    _report(args, results["deferrable"], results["blocking"])
    if any(result.statuses != {"success": args.jobs} for result in results.values()):
        print("FAILED: every wait must end in success", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
