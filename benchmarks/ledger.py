"""Recording a run's labels into a ledger of 100,000 entries: the old blind rewrite vs the
compare-and-swap ledger, on the embedded local AWS (started here, on a free port).

    .venv/bin/python benchmarks/ledger.py                 # 100,000 entries, 1,000 new, best of 5
    .venv/bin/python benchmarks/ledger.py --entries 10000 # smoke run

Baseline, measured in the same run: what RecordLabeledObjectsOperator did before issue 12 --
GET the ledger, parse its sources, append the new lines, PUT it back unconditionally (which
loses a concurrent writer's records). After: ``ledger.update_ledger`` -- GET with its ETag,
parse the entries, record (turning the run's claims into labels), PUT with If-Match. Each
try starts from the same 100,000-entry ledger. A third figure: 8 writers recording at once
(the baseline cannot be measured that way: it loses records, counted here too).
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

from gt_provider import ledger
from gt_provider.local.server import LocalAws, bootstrap

KEY = "labeling/ledger.jsonl"


def _client(endpoint: str):  # noqa: ANN202
    import boto3

    return boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t"
    )


def _seed(client, bucket: str, entries: int) -> None:  # noqa: ANN001
    stamp = datetime.now(UTC).isoformat()
    text = "".join(
        json.dumps({"source": f"s3://{bucket}/raw/{i:07}.png", "job": "job-0", "labeled_at": stamp}) + "\n"
        for i in range(entries)
    )
    client.put_object(Bucket=bucket, Key=KEY, Body=text.encode())


def _baseline(client, bucket: str, new: list[str]) -> None:  # noqa: ANN001
    """The pre-issue-12 RecordLabeledObjectsOperator: read, append, overwrite."""
    existing = client.get_object(Bucket=bucket, Key=KEY)["Body"].read().decode()
    known = ledger.read_sources(existing)
    stamp = datetime.now(UTC).isoformat()
    added = [s for s in new if s not in known]
    text = existing + "".join(json.dumps({"source": s, "job": "job-1", "labeled_at": stamp}) + "\n" for s in added)
    client.put_object(Bucket=bucket, Key=KEY, Body=text.encode())


def _after(client, bucket: str, new: list[str]) -> None:  # noqa: ANN001
    ledger.update_ledger(
        client, f"s3://{bucket}/{KEY}", lambda book: book.record(new, "job-1", datetime.now(UTC), "dag/run-1")
    )


def _time(function, client, bucket: str, new: list[str], entries: int, tries: int) -> list[float]:  # noqa: ANN001
    times = []
    for _ in range(tries):
        _seed(client, bucket, entries)
        started = time.perf_counter()
        function(client, bucket, new)
        times.append(time.perf_counter() - started)
    return times


def _concurrent(endpoint: str, bucket: str, function, entries: int, writers: int, per_writer: int) -> tuple[float, int]:  # noqa: ANN001
    client = _client(endpoint)
    _seed(client, bucket, entries)

    def write(writer: int) -> None:
        sources = [f"s3://{bucket}/new/{writer}/{i}.png" for i in range(per_writer)]
        function(_client(endpoint), bucket, sources)

    started = time.perf_counter()
    with ThreadPoolExecutor(writers) as pool:
        list(pool.map(write, range(writers)))
    elapsed = time.perf_counter() - started
    text = client.get_object(Bucket=bucket, Key=KEY)["Body"].read().decode()
    lost = entries + writers * per_writer - len(ledger.read_sources(text))
    return elapsed, lost


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--new", type=int, default=1_000)
    parser.add_argument("--tries", type=int, default=5)
    parser.add_argument("--writers", type=int, default=8)
    args = parser.parse_args()
    with LocalAws() as aws:
        # moto answers some of the baseline's racing blind PUTs of one key with a 500 (a closed
        # buffer, botocore retries them); werkzeug would print each traceback.
        logging.getLogger("werkzeug").setLevel(logging.CRITICAL)
        bucket = bootstrap(aws.endpoint_url)["bucket"]
        client = _client(aws.endpoint_url)
        new = [f"s3://{bucket}/new/{i}.png" for i in range(args.new)]
        before = _time(_baseline, client, bucket, new, args.entries, args.tries)
        after = _time(_after, client, bucket, new, args.entries, args.tries)
        print(f"ledger of {args.entries:,} entries, {args.new:,} new labels, best / median of {args.tries}")
        print(f"  before (read, append, blind overwrite): {min(before):.3f} s / {statistics.median(before):.3f} s")
        print(f"  after (compare-and-swap on the ETag):   {min(after):.3f} s / {statistics.median(after):.3f} s")
        print(f"  after / before (best):                  {min(after) / min(before):.2f}x")
        per_writer = args.new // args.writers
        for name, function in (("before", _baseline), ("after", _after)):
            elapsed, lost = _concurrent(aws.endpoint_url, bucket, function, args.entries, args.writers, per_writer)
            print(
                f"  {args.writers} writers at once, {name}: {elapsed:.3f} s, {lost} of {args.writers * per_writer} new records lost"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
