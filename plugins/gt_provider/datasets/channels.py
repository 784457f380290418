"""SageMaker training input channels from a dataset card.

A training DAG gets the dataset card (``dataset.json``) from the Asset event or from S3 and
passes ``training_channels(card)`` as ``InputDataConfig`` of ``SageMakerTrainingOperator``:
it need not know the version's layout, its split names, or which attributes carry the label.
Standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gt_provider.datasets.errors import DatasetError

#: The format whose files SageMaker reads as ``AugmentedManifestFile``.
AUGMENTED_MANIFEST = "augmented-manifest"
#: Input modes SageMaker accepts for an augmented manifest (FastFile needs an S3 prefix).
INPUT_MODES = ("Pipe", "File")


def attribute_names(dataset: Mapping[str, Any]) -> list[str]:
    """``[source field, label attribute]``: the order SageMaker's built-in algorithms read them in.

    The image and text algorithms take the object first (``source-ref`` or ``source``), then
    its label (``<attribute>``, or ``<attribute>-ref`` for a mask).
    """
    try:
        return [str(dataset["source_field"]), str(dataset["label_attribute"])]
    except KeyError as missing:
        raise DatasetError(f"dataset card {dataset.get('uri', '')!r} has no {missing.args[0]!r}") from None


#: Reachable inside training_channels, whose ``attribute_names`` argument shadows the function.
_default_attribute_names = attribute_names


def training_channels(
    dataset: Mapping[str, Any],
    *,
    splits: Sequence[str] | None = None,
    input_mode: str = "Pipe",
    attribute_names: Sequence[str] | None = None,
    required: Sequence[str] = ("train",),
) -> list[dict[str, Any]]:
    """``InputDataConfig`` channels: one augmented-manifest channel per split that has objects.

    The channel is named after the split (``train``, ``validation``, ``test``), which is what
    the built-in algorithms look for. ``splits`` picks and orders them (default: every split
    the augmented manifest was written for, in the card's order); an empty split is skipped,
    a split the dataset does not have is an error. ``attribute_names`` overrides
    :func:`attribute_names` for algorithms that read more or other attributes.

    Raises :class:`~gt_provider.datasets.errors.DatasetError` when the version has no
    ``augmented-manifest`` export, or when a ``required`` split that is wanted (``train``, and
    ``validation`` for a pipeline that evaluates on it) has no object: training on nothing
    would fail later, at a cost, with a less clear message.
    """
    uri = str(dataset.get("uri", ""))
    if input_mode not in INPUT_MODES:
        raise DatasetError(f"input_mode {input_mode!r} cannot read an augmented manifest; use one of {INPUT_MODES}")
    files: Mapping[str, Sequence[str]] = (dataset.get("files") or {}).get(AUGMENTED_MANIFEST) or {}
    if not files:
        built = ", ".join(dataset.get("files") or {}) or "none"
        raise DatasetError(
            f"dataset {uri} has no {AUGMENTED_MANIFEST!r} files (formats: {built}); SageMaker training channels "
            f"read the augmented manifest: build the version with {AUGMENTED_MANIFEST!r} among its formats"
        )
    per_split: Mapping[str, int] = (dataset.get("counts") or {}).get("per_split") or {}
    wanted = list(files) if splits is None else list(splits)
    known = set(files) | set(per_split)
    unknown = [split for split in wanted if split not in known]
    if unknown:
        raise DatasetError(f"dataset {uri} has no split(s) {unknown}; its splits: {sorted(known)}")
    for split in required:
        if (splits is None or split in wanted) and not (per_split.get(split) and files.get(split)):
            raise DatasetError(
                f"dataset {uri} has no object in {split!r} (objects per split: {dict(per_split)}); "
                + ("there is nothing to train on" if split == "train" else f"the training needs its {split!r} channel")
                + ": label more objects, or build the version with a larger share for that split"
            )
    names = list(attribute_names) if attribute_names is not None else _default_attribute_names(dataset)
    root = uri if uri.endswith("/") else uri + "/"
    channels: list[dict[str, Any]] = []
    for split in wanted:
        paths = files.get(split) or []
        if not per_split.get(split) or not paths:
            continue
        if len(paths) != 1:
            raise DatasetError(
                f"dataset {uri}: split {split!r} has {len(paths)} augmented manifests {list(paths)}; "
                "an AugmentedManifestFile channel reads exactly one"
            )
        channels.append(
            {
                "ChannelName": split,
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "AugmentedManifestFile",
                        "S3Uri": root + paths[0].lstrip("/"),
                        "S3DataDistributionType": "FullyReplicated",
                        "AttributeNames": names,
                    }
                },
                "ContentType": "application/x-recordio",
                "RecordWrapperType": "RecordIO",
                "InputMode": input_mode,
            }
        )
    return channels
