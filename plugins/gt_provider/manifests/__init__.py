"""Input manifests: building them, their JSON Schemas, and the streaming validator.

Pure Python, no Airflow: operators call it, and so do the command line
(``python -m gt_provider.manifests validate ...``), the tests and the benchmarks. Importing it
is cheap: boto3 is imported only when S3 is used and ``jsonschema`` only when a schema
validator is built (to explain a rejected line, or by the caller).
"""

from __future__ import annotations

from gt_provider.manifests.build import manifest_line, manifest_text
from gt_provider.manifests.errors import InvalidManifestError, ManifestReadError
from gt_provider.manifests.kinds import SCHEMA_KINDS, ErrorKind
from gt_provider.manifests.layouts import DataKind
from gt_provider.manifests.report import ManifestIssue, ManifestReport
from gt_provider.manifests.schema import (
    SCHEMA_NAMES,
    frame_sequence_schema,
    label_category_config_errors,
    label_category_config_schema,
    line_schema,
    line_validator,
    load_schema,
)
from gt_provider.manifests.validate import validate_manifest

__all__ = [
    "SCHEMA_KINDS",
    "SCHEMA_NAMES",
    "DataKind",
    "ErrorKind",
    "InvalidManifestError",
    "ManifestIssue",
    "ManifestReadError",
    "ManifestReport",
    "frame_sequence_schema",
    "label_category_config_errors",
    "label_category_config_schema",
    "line_schema",
    "line_validator",
    "load_schema",
    "manifest_line",
    "manifest_text",
    "validate_manifest",
]
