"""Input manifest lines from S3 objects."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping


def manifest_line(source_ref: str, extra: Mapping[str, object] | None = None) -> str:
    """One JSON Lines record: ``{"source-ref": ...}`` plus fields Ground Truth passes through."""
    record: dict[str, object] = {"source-ref": source_ref}
    for key, value in (extra or {}).items():
        if key.startswith("$") or key in ("source", "source-ref"):
            raise ValueError(f"manifest field {key!r} is reserved")
        record[key] = value
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def manifest_text(lines: Iterable[str]) -> str:
    return "".join(f"{line}\n" for line in lines)
