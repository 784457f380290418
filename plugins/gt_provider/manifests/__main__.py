"""``python -m gt_provider.manifests validate FILE_OR_S3_URI --task-type TYPE``: check a manifest by hand.

For the person fixing a manifest: prints the report (``--json``: the report as JSON on stdout)
and exits 0 when the manifest is valid, 1 when it is not, 2 when it could not be validated
(unknown task type, unreadable file, wrong arguments). Starts in a fraction of a second: no
Airflow, and boto3 only for ``s3://`` URIs or ``--check-objects``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from gt_provider.exceptions import GroundTruthProviderError
from gt_provider.manifests.objects import DEFAULT_MAX_CONCURRENCY
from gt_provider.manifests.validate import DEFAULT_MAX_ERRORS, validate_manifest
from gt_provider.s3io import endpoint_s3_client

EXIT_VALID, EXIT_INVALID, EXIT_ERROR = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m gt_provider.manifests", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    validate = commands.add_parser("validate", help="validate an input manifest (local file or s3:// URI)")
    validate.add_argument("manifest", metavar="FILE_OR_S3_URI")
    validate.add_argument("--task-type", required=True, help="Ground Truth task type, e.g. BoundingBox")
    validate.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    validate.add_argument(
        "--review-attribute", help="for verification/adjustment types: the earlier job's LabelAttributeName"
    )
    validate.add_argument("--check-objects", action="store_true", help="check the referenced S3 objects too")
    validate.add_argument("--sample", type=int, help="with --check-objects: check a random sample of N objects")
    validate.add_argument(
        "--drop",
        action="store_true",
        help="write the valid lines beside the original (input.manifest -> input.cleaned.manifest)",
    )
    validate.add_argument("--output", help="with --drop: where to write the cleaned manifest instead")
    validate.add_argument("--max-errors", type=int, default=DEFAULT_MAX_ERRORS, help="errors listed in the report")
    validate.add_argument("--concurrency", type=int, default=DEFAULT_MAX_CONCURRENCY, help="S3 requests in flight")
    validate.add_argument("--endpoint-url", help="S3 endpoint, e.g. the local AWS (http://127.0.0.1:5000)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    client = endpoint_s3_client(args.endpoint_url)
    try:
        report = validate_manifest(
            args.manifest,
            args.task_type,
            on_invalid="drop" if args.drop else "fail",
            review_attribute=args.review_attribute,
            check_objects=args.check_objects,
            sample=args.sample,
            max_errors=args.max_errors,
            max_concurrency=args.concurrency,
            cleaned_manifest=args.output,
            s3_client=client,
        )
    except (GroundTruthProviderError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(report.summary(max_issues=args.max_errors))
    return EXIT_VALID if report.valid else EXIT_INVALID


if __name__ == "__main__":
    sys.exit(main())
