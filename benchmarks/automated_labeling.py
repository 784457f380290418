"""What automated data labeling saves, on sample data with known answers: cold start, then a warm start.

For each data set (``--digits`` handwritten digit images, ``--texts`` support tickets) the
script starts the local AWS in-process, uploads the objects with their true answer, and
runs three jobs through ``GroundTruthHook.create_or_attach`` (the provider's own path):

1. **all-human** (the baseline, same objects, same workers): automated labeling off;
2. **cold**: automated labeling on, no initial model;
3. **warm**: automated labeling on, ``InitialActiveLearningModelArn`` = the cold job's
   ``FinalActiveLearningModelArn``.

For each job it prints the counters, the share machine-labeled, the accuracy of the machine
labels (and of the human ones) against the truth, and the cost from the pricing file
(``gt_provider.pricing.actual`` on the job's counters and its workers' ``timeSpentInSeconds``),
next to the all-human job's cost measured in the same run.

    .venv/bin/python benchmarks/automated_labeling.py            # 1,500 digits, 1,500 texts
    .venv/bin/python benchmarks/automated_labeling.py --json     # one JSON object per job
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))


def _objects(kind: str, count: int, s3: Any, bucket: str) -> tuple[list[dict[str, Any]], list[str], str]:
    """Manifest lines (truth under ``gt-local-answer``), label names, task type."""
    if kind == "digits":
        from include.sample_data import DIGIT_NAMES, digit_images

        lines = []
        for name, png, digit in digit_images(count):
            s3.put_object(Bucket=bucket, Key=f"bench/digits/{name}", Body=png)
            lines.append({"source-ref": f"s3://{bucket}/bench/digits/{name}", "gt-local-answer": digit})
        return lines, list(DIGIT_NAMES), "ImageMultiClass"
    from include.sample_text import TICKET_CLASSES, support_tickets

    lines = [{"source": t.text, "gt-local-answer": t.classes[0]} for t in support_tickets(count)]
    return lines, list(TICKET_CLASSES), "TextMultiClass"


def _run_job(hook: Any, spec: Any, s3: Any) -> dict[str, Any]:
    from gt_provider import pricing
    from gt_provider.datasets.workers.responses import read_worker_responses

    started = time.perf_counter()
    hook.create_or_attach(spec)
    seconds = time.perf_counter() - started
    sagemaker = hook.conn
    job = sagemaker.describe_labeling_job(LabelingJobName=spec.job_name)
    bucket, key = job["LabelingJobOutput"]["OutputDatasetS3Uri"][5:].split("/", 1)
    lines = [json.loads(line) for line in s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode().splitlines()]
    attribute = spec.label_attribute_name
    machine = [line for line in lines if line[f"{attribute}-metadata"]["human-annotated"] == "no"]
    human = [line for line in lines if line[f"{attribute}-metadata"]["human-annotated"] == "yes"]

    def accuracy(group: list[dict[str, Any]]) -> float | None:
        right = sum(line[f"{attribute}-metadata"].get("class-name") == line["gt-local-answer"] for line in group)
        return round(right / len(group), 4) if group else None

    worker = pricing.worker_time(read_worker_responses(f"{spec.output_path.rstrip('/')}/{spec.job_name}", s3_client=s3))
    cost = pricing.actual(
        pricing.load_pricing(),
        counters=job["LabelCounters"],
        worker_seconds=worker.seconds,
        worker_answers=worker.answers,
        workers_per_object=spec.workers_per_object,
        workteam_arn=spec.workteam_arn,
        task_type=spec.task_type,
        auto_labeling=spec.auto_labeling,
    )
    counters = job["LabelCounters"]
    return {
        "job": spec.job_name,
        "status": job["LabelingJobStatus"],
        "objects": len(lines),
        "human_labeled": counters["HumanLabeled"],
        "machine_labeled": counters["MachineLabeled"],
        "machine_share": round(counters["MachineLabeled"] / len(lines), 4),
        "machine_accuracy": accuracy(machine),
        "human_accuracy": accuracy(human),
        "cost_usd": round(cost.total_usd, 2),
        "final_model_arn": job.get("LabelingJobOutput", {}).get("FinalActiveLearningModelArn"),
        "create_seconds": round(seconds, 2),
    }


def run(kind: str, count: int, workers: int) -> list[dict[str, Any]]:
    import boto3

    from gt_provider.hooks.ground_truth import GroundTruthHook
    from gt_provider.labeling_request import LabelingJobSpec
    from gt_provider.local import control
    from gt_provider.local.server import LocalAws, bootstrap

    with LocalAws() as server:
        url = server.endpoint_url
        resources = bootstrap(url)
        control.configure(url, speed="instant")
        os.environ["AIRFLOW_CONN_AWS_DEFAULT"] = json.dumps(
            {
                "conn_type": "aws",
                "login": "testing",
                "password": "testing",
                "extra": {"endpoint_url": url, "region_name": "us-east-1"},
            }
        )
        s3 = boto3.client(
            "s3",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        bucket = resources["bucket"]
        lines, labels, task_type = _objects(kind, count, s3, bucket)
        key = f"bench/{kind}.manifest"
        s3.put_object(Bucket=bucket, Key=key, Body="".join(json.dumps(line) + "\n" for line in lines).encode())
        hook = GroundTruthHook(aws_conn_id="aws_default")

        def spec(name: str, auto: bool, initial: str | None = None) -> LabelingJobSpec:
            return LabelingJobSpec(
                job_name=f"bench-{kind}-{name}",
                task_type=task_type,
                input_manifest_uri=f"s3://{bucket}/{key}",
                output_path=f"s3://{bucket}/bench/output",
                labels=labels,
                workteam_arn=resources["workteam_arn"],
                role_arn=resources["role_arn"],
                short_instructions="Pick the class.",
                label_attribute_name="label",
                workers_per_object=workers,
                auto_labeling=auto,
                initial_active_learning_model_arn=initial,
            )

        results = [_run_job(hook, spec("all-human", False), s3)]
        results.append(_run_job(hook, spec("cold", True), s3))
        results.append(_run_job(hook, spec("warm", True, results[-1]["final_model_arn"]), s3))
        baseline = results[0]["cost_usd"]
        for result in results:
            result["data"] = kind
            result["cost_vs_all_human"] = round(result["cost_usd"] / baseline, 3) if baseline else None
        return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--digits", type=int, default=1500, help="digit images (1,250 to 1,797; 0 to skip)")
    parser.add_argument("--texts", type=int, default=1500, help="support tickets (1,250 to 5,000; 0 to skip)")
    parser.add_argument("--workers", type=int, default=3, help="workers per object")
    parser.add_argument("--json", action="store_true", help="one JSON object per job instead of the table")
    args = parser.parse_args()
    results = []
    for kind, count in (("digits", args.digits), ("texts", args.texts)):
        if count:
            results.extend(run(kind, count, args.workers))
    if args.json:
        for result in results:
            print(json.dumps(result))
        return
    print(
        f"{'data':<7}{'job':<11}{'human':>7}{'machine':>9}{'share':>8}{'machine acc':>13}{'human acc':>11}{'cost $':>9}{'vs all-human':>14}{'create s':>10}"
    )
    for r in results:
        machine_accuracy = "-" if r["machine_accuracy"] is None else f"{r['machine_accuracy']:.3f}"
        print(
            f"{r['data']:<7}{r['job'].rsplit('-', 1)[-1] if not r['job'].endswith('all-human') else 'all-human':<11}"
            f"{r['human_labeled']:>7}{r['machine_labeled']:>9}{r['machine_share']:>8.1%}{machine_accuracy:>13}"
            f"{r['human_accuracy']:>11.3f}{r['cost_usd']:>9.2f}{r['cost_vs_all_human']:>14.3f}{r['create_seconds']:>10.2f}"
        )


if __name__ == "__main__":
    main()
