"""``python -m gt_provider.datasets build|diff``: datasets without Airflow.

``build OUTPUT_MANIFEST... --out DIR_OR_S3_URI`` writes the next version (``<out>/v=<N>/``)
of the dataset exactly as the Airflow operator does: splits, formats, ``dataset.json``,
``README.md`` and its plots. Exits 0 when a version was written (or an identical one
already was), 1 when an output manifest has malformed lines (their numbers are printed;
nothing is written), 2 for anything else that stops the build (bad arguments, unreadable
input, a version that exists).

``diff DATASET_ROOT OLD NEW`` lists the objects added, relabeled (old -> new label, by which
job) and removed from version OLD to NEW (``3``, ``v3`` or ``v=3``) of the dataset under
DATASET_ROOT (``s3://bucket/datasets/digits`` or a folder). Exits 0, or 2 when a version
cannot be read.

No Airflow import; boto3 only for ``s3://`` locations.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import PurePosixPath

from gt_provider.datasets.build import DEFAULT_FORMATS, DatasetSpec, build_dataset
from gt_provider.datasets.errors import MalformedOutputManifestError
from gt_provider.datasets.filters import LabelMapping, ObjectFilter, ReviewFilter
from gt_provider.exceptions import GroundTruthProviderError
from gt_provider.s3io import endpoint_s3_client

EXIT_BUILT, EXIT_MALFORMED, EXIT_ERROR = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m gt_provider.datasets", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="build the next dataset version from output augmented manifests")
    build.add_argument("manifests", nargs="+", metavar="OUTPUT_MANIFEST_FILE_OR_S3_URI", help="oldest job first")
    build.add_argument("--out", required=True, metavar="DIR_OR_S3_URI", help="the dataset's root; versions go in v=N/")
    build.add_argument("--name", help="dataset name (default: the last part of --out)")
    build.add_argument("--split", default="0.8,0.1,0.1", help="train,validation[,test] ratios (default 0.8,0.1,0.1)")
    build.add_argument("--seed", default="", help="changes which objects land in which split")
    build.add_argument("--no-stratify", action="store_true", help="do not balance classes across splits")
    build.add_argument(
        "--format", default=",".join(DEFAULT_FORMATS), help="comma-separated: augmented-manifest,jsonl,csv,coco,..."
    )
    build.add_argument("--attribute", help="the label attribute to read (default: detected)")
    build.add_argument("--min-confidence", type=float, help="leave out objects whose confidence is lower")
    build.add_argument("--human-only", action="store_true", help="leave out machine-labeled objects")
    build.add_argument(
        "--adjustment-status", help="adjustment jobs: keep only these statuses (comma-separated, e.g. adjusted)"
    )
    build.add_argument("--review-attribute", help="keep only objects a verification job (this attribute) accepted")
    build.add_argument("--review-accept", default="correct", help="verdicts that pass review (comma-separated)")
    build.add_argument("--rename", action="append", default=[], metavar="OLD=NEW", help="rename or merge a label")
    build.add_argument("--no-carry-forward", action="store_true", help="do not include the parent version's objects")
    build.add_argument("--version", type=int, help="write this version number instead of the next one")
    build.add_argument(
        "--workers",
        type=_positive,
        help="processes that read large inputs, local or S3 (default: up to 2, as CPUs allow; 1: one process)",
    )
    build.add_argument("--json", action="store_true", help="print dataset.json on stdout")
    build.add_argument("--endpoint-url", help="S3 endpoint, e.g. the local AWS (http://127.0.0.1:5000)")
    diff = commands.add_parser("diff", help="objects added, relabeled and removed between two versions")
    diff.add_argument("root", metavar="DATASET_ROOT", help="the dataset's root (folder or s3://), holding v=N/")
    diff.add_argument("old", type=_version, metavar="OLD", help="the earlier version: 3, v3 or v=3")
    diff.add_argument("new", type=_version, metavar="NEW", help="the later version")
    diff.add_argument("--limit", type=int, default=50, help="changes shown per section (default 50; 0: all)")
    diff.add_argument("--json", action="store_true", help="print every change as JSON")
    diff.add_argument("--endpoint-url", help="S3 endpoint, e.g. the local AWS (http://127.0.0.1:5000)")
    return parser


def _version(value: str) -> int:
    digits = value.lower().removeprefix("v").removeprefix("=")
    if not digits.isdigit() or int(digits) < 1:
        raise argparse.ArgumentTypeError(f"a version is a number from 1, as in 3, v3 or v=3; got {value!r}")
    return int(digits)


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {value!r}")
    return number


def _spec(args: argparse.Namespace) -> DatasetSpec:
    renames = {}
    for item in args.rename:
        old, sep, new = item.partition("=")
        if not sep:
            raise ValueError(f"--rename {item!r}: write OLD=NEW")
        renames[old] = new
    statuses = frozenset(filter(None, (args.adjustment_status or "").split(","))) or None
    review = None
    if args.review_attribute:
        review = ReviewFilter(args.review_attribute, frozenset(filter(None, args.review_accept.split(","))))
    return DatasetSpec(
        name=args.name or PurePosixPath(args.out.rstrip("/")).name,
        ratios=args.split,
        seed=args.seed,
        stratify=not args.no_stratify,
        formats=tuple(filter(None, args.format.split(","))),
        label_attribute=args.attribute,
        object_filter=ObjectFilter(
            min_confidence=args.min_confidence, human_annotated_only=args.human_only, adjustment_status=statuses
        ),
        review=review,
        label_mapping=LabelMapping(renames) if renames else None,
        carry_forward=not args.no_carry_forward,
    )


def _diff(args: argparse.Namespace, client: object) -> int:
    from gt_provider.datasets.diff import diff_versions

    try:
        diff = diff_versions(args.root, args.old, args.new, s3_client=client)
    except (GroundTruthProviderError, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR
    if args.json:
        print(json.dumps(diff.as_json(), indent=2, ensure_ascii=False))
    else:
        for line in diff.lines(limit=args.limit or None):
            print(line)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    client = endpoint_s3_client(args.endpoint_url)
    if args.command == "diff":
        return _diff(args, client)
    try:
        built = build_dataset(
            args.manifests,
            args.out,
            _spec(args),
            s3_client=client,
            version=args.version,
            log=lambda message: print(message, file=sys.stderr),
            workers=args.workers,
        )
    except MalformedOutputManifestError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_MALFORMED
    except (GroundTruthProviderError, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR
    if args.json:
        print(json.dumps(built.card, indent=2, ensure_ascii=False))
    else:
        counts = ", ".join(f"{split} {count:,}" for split, count in built.counts.items())
        state = "already built" if built.reused else "written"
        print(f"{built.card['name']} v={built.version} {state}: {built.uri} ({counts})")
    return EXIT_BUILT


if __name__ == "__main__":
    sys.exit(main())
