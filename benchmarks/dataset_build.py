"""Speed and memory of building a dataset from a 1,000,000-line output manifest, in one run.

Generates an image-classification output augmented manifest (what Ground Truth writes:
``source-ref``, the class id, and metadata with ``class-name``, ``confidence``,
``human-annotated``, ``creation-date``, ``job-name``; 10 classes of uneven size, 1 % failed
objects) in a temporary directory and measures, each in a fresh child process so that every
peak RSS belongs to one measurement:

1. ``json.loads`` per line: the bare standard-library pass over the same file, the baseline;
2. ``build_dataset``: parse every line, keep the latest label per source, a stratified
   0.8/0.1/0.1 split, and the augmented-manifest and JSON Lines exports plus the dataset card,
   into a local folder, as it runs by default: on this machine's CPUs (at most 2 processes,
   each reading half of the file; see ``gt_provider.datasets.passes.parallel``) -- which must take at
   most 3x the baseline's time and use at most 300 MB, counting its processes' memory too;
3. the same build in one process (``workers=1``), for comparison.

Times are wall-clock seconds of the measured call only, best of ``--repeat`` runs; peak RSS
is the largest of the runs. The build's memory is checked on an upper bound: its own peak
RSS plus, per process it started, the largest peak RSS of those processes (as if every peak
came at once). The summed RSS of the build and its processes, sampled every 20 ms, is
printed beside it.

Run from the repository root::

    .venv/bin/python benchmarks/dataset_build.py                 # about 2 minutes on 2 cores
    .venv/bin/python benchmarks/dataset_build.py --lines 100000  # smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _measure import (
    TreeRss,
    children_peak_rss_bytes,
    keep_best,
    megabytes,
    parse_every_line,
    peak_rss_bytes,
    print_checks,
    print_measurements,
    run_child,
)

TARGET_VS_JSON = 3.0
TARGET_PEAK_BYTES = 300 * 10**6
CLASSES = ("cat", "dog", "bird", "fish", "horse", "sheep", "cow", "frog", "deer", "truck")
#: Uneven class sizes, as real data has them (the rarest class is 1 in 110).
WEIGHTS = (30, 20, 15, 10, 8, 6, 5, 3, 2, 1)
ATTRIBUTE = "animal"
MEASUREMENTS = ("json_loads", "build", "build_one_process")
LABELS = {
    "json_loads": "json.loads per line (stdlib baseline)",
    "build": "build_dataset (split + 2 exports + card)",
    "build_one_process": "build_dataset, workers=1",
}


def generate(path: Path, lines: int, seed: int = 0) -> None:
    """An output manifest as a 1,000,000-object image classification job would write it."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as handle:
        batch: list[str] = []
        for index in range(lines):
            uri = f"s3://gt-bench-images/raw/2026/07/{index % 28 + 1:02d}/cam-{index % 7}/img-{index:08d}.jpg"
            stamp = f"2026-07-{index % 28 + 1:02d}T{index % 24:02d}:{index % 60:02d}:{(index * 7) % 60:02d}.{index % 1000:03d}000"
            common = f'"job-name": "labeling-job/bench-animals", "human-annotated": "yes", "creation-date": "{stamp}"'
            if index % 100 == 99:
                metadata = f'{{"failure-reason": "ClientError: worker did not submit", {common}, "type": "groundtruth/image-classification"}}'
                batch.append(f'{{"source-ref": "{uri}", "{ATTRIBUTE}-metadata": {metadata}}}\n')
            else:
                class_id = rng.choices(range(len(CLASSES)), WEIGHTS)[0]
                confidence = round(rng.uniform(0.5, 1.0), 2)
                metadata = (
                    f'{{"confidence": {confidence}, "class-name": "{CLASSES[class_id]}", {common}, '
                    f'"type": "groundtruth/image-classification"}}'
                )
                batch.append(
                    f'{{"source-ref": "{uri}", "{ATTRIBUTE}": "{class_id}", "{ATTRIBUTE}-metadata": {metadata}}}\n'
                )
            if len(batch) == 10_000:
                handle.write("".join(batch))
                batch.clear()
        handle.write("".join(batch))


def measure(name: str, path: str) -> dict[str, Any]:
    """One measurement, in this (child) process."""
    result: dict[str, Any] = {}
    if name == "json_loads":
        count, seconds = parse_every_line(json.loads, path)
    elif name in ("build", "build_one_process"):
        from gt_provider.datasets.build import DatasetSpec, build_dataset
        from gt_provider.datasets.passes.parallel import default_workers

        workers = default_workers() if name == "build" else 1
        spec = DatasetSpec(name="bench", formats=("augmented-manifest", "jsonl"), worker_statistics=False)
        with tempfile.TemporaryDirectory(prefix="gt-dataset-bench-out-") as out, TreeRss() as tree:
            started = time.perf_counter()
            built = build_dataset([path], out, spec, workers=workers)
            seconds = time.perf_counter() - started
            sizes = sum(file.stat().st_size for file in Path(out).rglob("*") if file.is_file())
        counts = built.card["counts"]
        count = counts["total"] + sum(counts["dropped"].values())
        result.update({"per_split": counts["per_split"], "dropped": counts["dropped"], "bytes_written": sizes})
        result["rarest_class"] = {
            split: per_class.get("truck", 0) for split, per_class in counts["per_split_class"].items()
        }
        result.update(
            workers=workers,
            tree_peak_rss_bytes=tree.peak,
            workers_peak_rss_bytes=tree.role_peaks.get("pass", 0) if workers > 1 else 0,
            plots_peak_rss_bytes=tree.role_peaks.get("plots", 0),
            plots_beside_passes_rss_bytes=tree.plots_beside_passes,
            children_maxrss_bytes=children_peak_rss_bytes(),
        )
    else:
        raise ValueError(f"unknown measurement {name!r}")
    result.update({"name": name, "seconds": seconds, "lines": count, "peak_rss_bytes": peak_rss_bytes()})
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000, help="lines in the generated output manifest")
    parser.add_argument("--repeat", type=int, default=2, help="runs per measurement (best time is kept)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("path", nargs="?", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.path)))
        return 0

    import orjson

    with tempfile.TemporaryDirectory(prefix="gt-dataset-bench-") as directory:
        path = Path(directory) / "output.manifest"
        started = time.perf_counter()
        generate(path, args.lines)
        print("Dataset build benchmark")
        print(
            f"  output manifest: {args.lines:,} lines, {megabytes(path.stat().st_size)}, image classification, "
            f"{len(CLASSES)} classes, 1 % failed (generated in {time.perf_counter() - started:.1f} s)"
        )
        print(
            f"  machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, orjson {orjson.__version__}; "
            f"best of {args.repeat} runs, each measurement in its own child process"
        )
        best: dict[str, dict[str, Any]] = {}
        for _ in range(args.repeat):
            for name in MEASUREMENTS:
                result = run_child(__file__, name, path)
                keep_best(best, result)

    print_measurements(best, LABELS)
    build = best["build"]
    print(f"  dataset: {json.dumps(build['per_split'])}, left out {json.dumps(build['dropped'])}")
    print(f"  rarest class per split (stratified): {json.dumps(build['rarest_class'])}")
    print(f"  written: {megabytes(build['bytes_written'])}")

    ratio = build["seconds"] / best["json_loads"]["seconds"]
    one_process = best["build_one_process"]
    # The card's plotting process draws only after the pass processes have exited (the build
    # closes its pool first): while they run it waits, small. So the build's processes never
    # hold more than its own peak plus the larger of (the pass processes and the waiting
    # plotter) and (the drawing plotter), each counted at its peak as if they all peaked at once.
    passes = build["workers"] * build["workers_peak_rss_bytes"] + build["plots_beside_passes_rss_bytes"]
    bound = build["peak_rss_bytes"] + max(passes, build["plots_peak_rss_bytes"])
    print(
        f"  build memory: its own peak {megabytes(build['peak_rss_bytes'])}, each of its {build['workers']} "
        f"pass processes at most {megabytes(build['workers_peak_rss_bytes'])} (sampled), the plotting process "
        f"{megabytes(build['plots_beside_passes_rss_bytes'])} while they run and "
        f"{megabytes(build['plots_peak_rss_bytes'])} drawing, bound {megabytes(bound)}; summed RSS sampled every "
        f"20 ms peaked at {megabytes(build['tree_peak_rss_bytes'])}; largest child peak RSS "
        f"(getrusage) {megabytes(build['children_maxrss_bytes'])}"
    )
    print(
        f"  one process: {one_process['seconds'] / best['json_loads']['seconds']:.2f}x json.loads, "
        f"{one_process['seconds'] / build['seconds']:.2f}x the time of the {build['workers']}-process build"
    )
    checks = [
        ("build time / json.loads time", f"{ratio:.2f}x", f"<= {TARGET_VS_JSON:g}x", ratio <= TARGET_VS_JSON),
        ("build memory (bound, with its processes)", megabytes(bound), f"<= {megabytes(TARGET_PEAK_BYTES)}",
         bound <= TARGET_PEAK_BYTES),
    ]  # fmt: skip
    return print_checks(checks)


if __name__ == "__main__":
    sys.exit(main())
