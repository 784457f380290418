"""Deterministic train / validation / test splits of an output augmented manifest.

An object's split is a function of its source (``source-ref`` or ``source``) and a seed,
not of its position or of a random draw: re-running a pipeline, or labeling more data
later, never moves an object that was in validation into train.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


def split_for(source: str, ratios: Mapping[str, float], seed: str = "") -> str:
    """The split name ``source`` falls in, for ``ratios`` such as ``{"train": 0.8, "validation": 0.2}``."""
    total = sum(ratios.values())
    if total <= 0 or any(ratio < 0 for ratio in ratios.values()):
        raise ValueError(f"split ratios must be >= 0 with a positive sum, got {dict(ratios)}")
    digest = hashlib.sha256(f"{seed}\n{source}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") / 2**64 * total
    cumulative = 0.0
    for name, ratio in ratios.items():
        cumulative += ratio
        if point < cumulative:
            return name
    return next(reversed(list(ratios)))


@dataclass
class SplitManifest:
    """Output manifest lines grouped by split; objects without a label are counted apart."""

    lines: dict[str, list[str]] = field(default_factory=dict)
    failed: int = 0

    def counts(self) -> dict[str, int]:
        return {name: len(lines) for name, lines in self.lines.items()}


def split_output_manifest(
    manifest_lines: Iterable[str],
    label_attribute_name: str,
    ratios: Mapping[str, float],
    seed: str = "",
) -> SplitManifest:
    """Split labeled lines; a line without ``label_attribute_name`` (failed object) is not used."""
    result = SplitManifest(lines={name: [] for name in ratios})
    for number, raw in enumerate(manifest_lines, 1):
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
        except ValueError as error:
            raise ValueError(f"output manifest line {number} is not JSON: {error}") from None
        if label_attribute_name not in line:
            result.failed += 1
            continue
        source = line.get("source-ref", line.get("source"))
        if source is None:
            raise ValueError(f"output manifest line {number} has neither 'source-ref' nor 'source'")
        result.lines[split_for(str(source), ratios, seed)].append(raw.rstrip("\n"))
    return result


def training_channels(
    split_uris: Mapping[str, str], source_attribute: str, label_attribute_name: str
) -> list[dict[str, object]]:
    """``InputDataConfig`` for SageMakerTrainingOperator: one Pipe-mode augmented-manifest channel per split."""
    return [
        {
            "ChannelName": name,
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": "AugmentedManifestFile",
                    "S3Uri": uri,
                    "S3DataDistributionType": "FullyReplicated",
                    "AttributeNames": [source_attribute, label_attribute_name],
                }
            },
            "ContentType": "application/x-recordio",
            "RecordWrapperType": "RecordIO",
            "InputMode": "Pipe",
        }
        for name, uri in split_uris.items()
    ]
