"""Helpers for manifest tests: write a manifest file, validate it, read back (line, kind) pairs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gt_provider.manifests import ManifestReport

ManifestWriter = Callable[..., Path]


@pytest.fixture
def write_manifest(tmp_path: Path) -> ManifestWriter:
    """Write bytes, a str or lines (joined with newlines, final newline added) to a manifest file."""

    def write(content: bytes | str | list[str], name: str = "input.manifest") -> Path:
        if isinstance(content, list):
            content = "".join(f"{line}\n" for line in content)
        path = tmp_path / name
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return path

    return write


def found(report: ManifestReport) -> list[tuple[int | None, str]]:
    """The report's errors as (line, kind) pairs, in report order."""
    return [(issue.line, str(issue.kind)) for issue in report.errors]


def image_line(key: str = "images/a.jpg", bucket: str = "gt-bucket", **extra: Any) -> str:
    import json

    return json.dumps({"source-ref": f"s3://{bucket}/{key}", **extra}, ensure_ascii=False)
