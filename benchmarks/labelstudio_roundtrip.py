"""A labeling job's round trip through a real Label Studio server: 1,000 image tasks, 3 annotators.

    .venv/bin/python benchmarks/labelstudio_roundtrip.py              # 1,000 tasks (about 4 minutes)
    .venv/bin/python benchmarks/labelstudio_roundtrip.py --tasks 100  # smoke run

Starts the embedded local AWS and a Label Studio server (its own virtualenv, installed on
first use) on free ports of 127.0.0.1, in a temporary data directory, and stops both. Each
stage of the backend is timed against Label Studio's own API doing the bare part of it, in
the same run and on the same server:

- server start, cold (a new data directory: migrations, admin user) and warm (restart);
- create-or-attach (read the manifest from S3, create the project, import the tasks with
  presigned image URLs) against one bare import call of the same tasks into a new project;
- annotation by 3 simulated annotators (real users posting through the API, 3,000
  annotations) -- what people would do, timed for what it costs the server;
- describe (the wait's poll) against a bare GET of the project;
- collect (export, consolidation, Ground Truth's output layout written to S3) against a
  bare export of the same project.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

from gt_provider.hooks.label_studio import LabelStudioHook
from gt_provider.labeling_request import LabelingJobSpec
from gt_provider.labelstudio import server
from gt_provider.labelstudio.client import LabelStudioClient
from gt_provider.labelstudio.codecs import INDEX_KEY
from gt_provider.labelstudio.simulate import annotate_project, with_accuracies
from gt_provider.labelstudio.users import create_annotators
from gt_provider.local.server import LocalAws, bootstrap

LABELS = ["cat", "dog", "bird"]
T = TypeVar("T")


def _timed(call: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    result = call()
    return result, time.perf_counter() - started


def _s3(endpoint: str) -> Any:
    import boto3

    return boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--annotators", type=int, default=3)
    parser.add_argument("--show", action="store_true", help="also print the first task as exported and its output line")
    args = parser.parse_args()
    rows: list[tuple[str, float, str, str]] = []
    server.install()
    with tempfile.TemporaryDirectory() as scratch, LocalAws() as aws:
        resources = bootstrap(aws.endpoint_url)
        bucket, s3 = resources["bucket"], _s3(aws.endpoint_url)
        rng = random.Random(7)
        lines = [
            {"source-ref": f"s3://{bucket}/raw/bench/{i:05}.png", "gt-local-answer": rng.choice(LABELS)}
            for i in range(args.tasks)
        ]
        s3.put_object(Bucket=bucket, Key="manifests/bench.manifest", Body="".join(json.dumps(x) + "\n" for x in lines))
        data_dir = Path(scratch) / "label-studio"
        running, cold = _timed(lambda: server.start(data_dir=data_dir))
        server.stop(data_dir)
        running, warm = _timed(lambda: server.start(data_dir=data_dir))
        rows.append(("server start, cold (new data directory)", cold, "-", ""))
        rows.append(("server start, warm (restart)", warm, "-", f"{cold / warm:.1f}x faster than cold"))
        os.environ["AIRFLOW_CONN_AWS_DEFAULT"] = json.dumps(
            {"conn_type": "aws", "login": "t", "password": "t", "extra": {"endpoint_url": aws.endpoint_url}}
        )
        os.environ["AIRFLOW_CONN_LABEL_STUDIO_DEFAULT"] = json.dumps(
            {"conn_type": "labelstudio", "host": running.url, "password": running.token}
        )
        try:
            rows += _stages(args, running, s3, bucket)
        finally:
            server.stop(data_dir)
    width = max(len(row[0]) for row in rows)
    pins = [line for line in server.REQUIREMENTS.read_text().splitlines() if line.startswith("label-studio")]
    print(f"\n{', '.join(pins)}: {args.tasks} image tasks, {args.annotators} annotators")
    print(f"{'stage':<{width}}  {'seconds':>8}  {'per second':>14}  against the bare API call")
    for name, seconds, rate, ratio in rows:
        print(f"{name:<{width}}  {seconds:>8.2f}  {rate:>14}  {ratio}")
    return 0


def _stages(args: argparse.Namespace, running: server.LabelStudioServer, s3: Any, bucket: str) -> list:
    client = LabelStudioClient(running.url, running.token)
    backend = LabelStudioHook().backend  # the connections main() set: presigned image URLs, the local S3
    spec = LabelingJobSpec(
        task_type="ImageMultiClass",
        job_name="bench",
        input_manifest_uri=f"s3://{bucket}/manifests/bench.manifest",
        output_path=f"s3://{bucket}/labeling/output",
        labels=LABELS,
        workteam_arn="arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/bench",
        role_arn="arn:aws:iam::123456789012:role/bench",
        short_instructions="Pick the animal.",
        full_instructions="Pick the animal you see.",
        workers_per_object=args.annotators,
    )
    tasks = args.tasks
    rows = []
    _, created = _timed(lambda: backend.create_or_attach(spec))
    project = client.find_project("bench")
    bare_project = client.create_project(title="bench-bare", label_config=project["label_config"])
    payload = client.tasks(project["id"])
    _, bare_import = _timed(lambda: client.import_tasks(bare_project["id"], [{"data": t["data"]} for t in payload]))
    rows.append(
        (
            "create-or-attach (manifest, project, import)",
            created,
            f"{tasks / created:,.0f} tasks",
            f"{created / bare_import:.2f}x a bare import ({bare_import:.2f} s)",
        )
    )
    _, reattach = _timed(lambda: backend.create_or_attach(spec))
    rows.append(("re-attach (nothing imported)", reattach, "-", f"{reattach / created:.2f}x the create"))

    annotators = with_accuracies(create_annotators(running.url, running.token, args.annotators))
    posted, annotating = _timed(lambda: annotate_project(running.url, client, project["id"], annotators))
    rows.append(
        (
            f"annotation ({posted:,} annotations through the API)",
            annotating,
            f"{posted / annotating:,.0f} annotations",
            "",
        )
    )

    state, describe = _timed(lambda: backend.describe("bench"))
    _, bare_get = _timed(lambda: client.project(project["id"]))
    assert state.status == "Completed", state.progress
    rows.append(
        (
            "describe (one poll of the wait)",
            describe,
            "-",
            f"{describe / bare_get:.2f}x a bare project GET ({bare_get * 1000:.0f} ms)",
        )
    )

    exported, bare_export = _timed(lambda: client.export(project["id"]))
    output, collect = _timed(lambda: backend.collect("bench"))
    body = s3.get_object(Bucket=bucket, Key=output.output_manifest_uri.split("/", 3)[3])["Body"].read()
    written = body.splitlines()
    assert len(written) == tasks, f"{len(written)} output lines for {tasks} tasks"
    if args.show:
        first = min(exported, key=lambda task: task["data"][INDEX_KEY])
        kept = ("id", "completed_by", "lead_time", "result")
        first["annotations"] = [{key: a[key] for key in kept} for a in first["annotations"]]
        print("exported task:", json.dumps({key: first[key] for key in ("id", "data", "annotations")}, indent=1))
        print("output line:  ", json.dumps(json.loads(written[0]), indent=1))
    rows.append(
        (
            "collect (export, consolidate, write the layout)",
            collect,
            f"{tasks / collect:,.0f} objects",
            f"{collect / bare_export:.2f}x a bare export ({bare_export:.2f} s)",
        )
    )
    return rows


if __name__ == "__main__":
    sys.exit(main())
