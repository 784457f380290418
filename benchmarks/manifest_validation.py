"""Speed and memory of the streaming manifest validator against two baselines, in one run.

Generates a 1,000,000-line image manifest (``{"source-ref": "s3://..."}``, a third of the lines
with a pass-through reference answer, as the local AWS's demo manifests carry) in a temporary
directory and measures, each in a fresh child process so that every peak RSS (``ru_maxrss`` of
the child itself) belongs to one measurement only:

1. ``json.loads`` per line: the bare standard-library pass (``for line in file: json.loads(line)``),
   the speed to beat by at most 1.5x;
2. ``orjson.loads`` per line: the parser alone, to show what the checks cost on top of it;
3. ``validate_manifest(path, "ImageMultiClass")``: the full validation (UTF-8, JSON, the line
   schema, length limits, ``$`` keys, duplicates, the task type's object limit; S3 checks off),
   which must be at most 1.5x the ``json.loads`` time and peak at most 150 MB;
4. a reused ``jsonschema`` Draft 2020-12 validator of the same line schema, ``is_valid(json.loads(line))``
   per line, timed on the first ``--jsonschema-lines`` lines and scaled linearly to the whole file
   (the interpreter costs the same on every line of this manifest); the full validation must be
   at least 5x faster.

Times are wall-clock seconds of the measured loop only (imports, the validator's construction
and one warm-up call happen before the clock starts), best of ``--repeat`` runs; peak RSS is the
largest of the runs. The validation's verdict is printed too: 1,000,000 image objects are over
Ground Truth's 100,000-object limit, so the report is "invalid" with one ``too_many_objects`` error,
after every line was checked.

Run from the repository root::

    .venv/bin/python benchmarks/manifest_validation.py                 # about a minute on 2 cores
    .venv/bin/python benchmarks/manifest_validation.py --lines 100000  # smoke run
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
    keep_best,
    megabytes,
    parse_every_line,
    peak_rss_bytes,
    print_checks,
    print_measurements,
    run_child,
    version,
)

TASK_TYPE = "ImageMultiClass"
TARGET_VS_JSON = 1.5
TARGET_VS_JSONSCHEMA = 5.0
TARGET_PEAK_BYTES = 150 * 10**6
MEASUREMENTS = ("json_loads", "orjson_loads", "validate", "jsonschema")
LABELS = {
    "json_loads": "json.loads per line (stdlib baseline)",
    "orjson_loads": "orjson.loads per line (parser alone)",
    "validate": "validate_manifest (full, S3 checks off)",
    "jsonschema": "jsonschema validator per line (reused) *",
}


def generate(path: Path, lines: int, seed: int = 0) -> None:
    """A realistic image manifest: dated camera folders, a third of the lines with a reference answer."""
    rng = random.Random(seed)
    answers = ("cat", "dog", "bird", "fish")
    with path.open("w", encoding="utf-8") as handle:
        batch: list[str] = []
        for index in range(lines):
            uri = f"s3://gt-bench-images/raw/2026/07/{index % 28 + 1:02d}/cam-{index % 7}/img-{index:08d}.jpg"
            if index % 3 == 0:
                batch.append(f'{{"source-ref": "{uri}", "gt-local-answer": "{rng.choice(answers)}"}}\n')
            else:
                batch.append(f'{{"source-ref": "{uri}"}}\n')
            if len(batch) == 10_000:
                handle.write("".join(batch))
                batch.clear()
        handle.write("".join(batch))


def measure(name: str, path: str, limit: int | None) -> dict[str, Any]:
    """One measurement, in this (child) process."""
    result: dict[str, Any] = {}
    if name in ("json_loads", "orjson_loads"):
        import orjson

        count, seconds = parse_every_line(json.loads if name == "json_loads" else orjson.loads, path)
    elif name == "validate":
        from gt_provider.manifests import validate_manifest

        started = time.perf_counter()
        report = validate_manifest(path, TASK_TYPE)
        seconds = time.perf_counter() - started
        count = report.lines
        result["verdict"] = report.summary().splitlines()[0]
        result["error_counts"] = report.error_counts
    elif name == "jsonschema":
        from gt_provider.manifests import line_validator

        validator = line_validator(TASK_TYPE)
        with open(path, "rb") as handle:
            first = handle.readline()
        validator.is_valid(json.loads(first))  # warm-up: resolves the $refs once
        loads, is_valid = json.loads, validator.is_valid
        valid = count = 0
        started = time.perf_counter()
        with open(path, "rb") as handle:
            for line in handle:
                valid += is_valid(loads(line))
                count += 1
                if count == limit:
                    break
        seconds = time.perf_counter() - started
        result["valid_lines"] = valid
    else:
        raise ValueError(f"unknown measurement {name!r}")
    result.update({"name": name, "seconds": seconds, "lines": count, "peak_rss_bytes": peak_rss_bytes()})
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000, help="lines in the generated manifest")
    parser.add_argument("--jsonschema-lines", type=int, default=100_000, help="lines the jsonschema baseline checks")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (best time is kept)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--limit", type=int, help=argparse.SUPPRESS)
    parser.add_argument("path", nargs="?", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.path, args.limit)))
        return 0

    import orjson

    with tempfile.TemporaryDirectory(prefix="gt-manifest-bench-") as directory:
        path = Path(directory) / "input.manifest"
        started = time.perf_counter()
        generate(path, args.lines)
        size = path.stat().st_size
        print("Manifest validation benchmark")
        print(
            f"  manifest: {args.lines:,} lines, {megabytes(size)}, {TASK_TYPE} "
            f"(generated in {time.perf_counter() - started:.1f} s into a temp dir; S3 checks off)"
        )
        print(
            f"  machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, orjson {orjson.__version__}, "
            f"jsonschema {version('jsonschema')}; "
            f"best of {args.repeat} runs, each measurement in its own child process"
        )
        best: dict[str, dict[str, Any]] = {}
        for _ in range(args.repeat):
            for name in MEASUREMENTS:
                limit = min(args.jsonschema_lines, args.lines) if name == "jsonschema" else None
                result = run_child(__file__, name, path, *(["--limit", str(limit)] if limit is not None else []))
                keep_best(best, result)

    print_measurements(best, LABELS)
    schema_run = best["jsonschema"]
    scale = args.lines / schema_run["lines"]
    schema_seconds = schema_run["seconds"] * scale
    print(
        f"  * timed on the first {schema_run['lines']:,} lines ({schema_run['valid_lines']:,} valid) and scaled "
        f"x{scale:g} to {args.lines:,} lines: {schema_seconds:.3f} s"
    )
    validation = best["validate"]
    print(f"  validation result: {validation['verdict']}")
    print(f"  error counts: {json.dumps(validation['error_counts'])}")

    versus_json = validation["seconds"] / best["json_loads"]["seconds"]
    versus_jsonschema = schema_seconds / validation["seconds"]
    peak = validation["peak_rss_bytes"]
    checks = [
        (
            "validate time / json.loads time",
            f"{versus_json:.2f}x",
            f"<= {TARGET_VS_JSON}x",
            versus_json <= TARGET_VS_JSON,
        ),
        (
            "jsonschema time (scaled) / validate time",
            f"{versus_jsonschema:.1f}x",
            f">= {TARGET_VS_JSONSCHEMA:g}x",
            versus_jsonschema >= TARGET_VS_JSONSCHEMA,
        ),
        ("validate peak RSS", megabytes(peak), f"<= {megabytes(TARGET_PEAK_BYTES)}", peak <= TARGET_PEAK_BYTES),
    ]
    return print_checks(checks)


if __name__ == "__main__":
    sys.exit(main())
