"""Hugging Face ``datasets``: one Parquet file per split that ``datasets.load_dataset(<version folder>)`` reads.

The version folder is a Hub dataset repository as it is: ``huggingface/<split>.parquet``
holds the rows, and the card's ``README.md`` starts with the YAML front matter that names
them (``configs`` -> ``data_files`` per split) and declares their features
(:func:`huggingface_front_matter`). Push the folder to a Hub repo, or load it where it is::

    from datasets import load_dataset
    splits = load_dataset("/path/to/datasets/animals/v=3")   # or the folder downloaded from S3
    splits["train"].features["label"].int2str(0)

Images are **S3 URIs**, not bytes: a column ``image`` of strings. The bytes stay where the
labeling job read them (no second copy to pay for, keep in sync or delete under a retention
rule), a version of a million images stays a few megabytes, and the build never downloads
an image. To decode them, cast the column where the bucket is readable
(``ds.cast_column("image", datasets.Image())`` with ``s3fs`` installed and credentials set).
Texts (``source``) are in a column ``text``.

Columns, per label kind (class ids are the dataset's label map, as in every format):

- class, verification: ``label`` (``ClassLabel`` with the label map's names);
- multi-label: ``labels`` (a list of ``ClassLabel``);
- boxes: ``width``, ``height`` (from ``image_size``) and ``objects``: a list of
  ``{bbox: [x, y, width, height] pixels, top-left origin (COCO's order), category: ClassLabel,
  confidence}``; an image without boxes has an empty list;
- entities: ``entities``: a list of ``{start, end, label: ClassLabel, text, confidence}``,
  character offsets, end exclusive;
- then for every kind ``confidence`` (the object's lowest, null when Ground Truth wrote
  none), ``human_annotated``, ``job_name``, ``creation_date``.

The features are also in each file's Arrow schema metadata (key ``huggingface``), so a file
read alone (``load_dataset("parquet", data_files=...)``) still has its class names; a file
written before the build appended a late class is copied once, row group by row group, under
the final names. Rows
are buffered per split and written as row groups of :data:`ROW_GROUP_ROWS`: memory stays
bounded whatever the split's size. Failed objects are left out.

pyarrow (the ``huggingface`` extra) is imported when the first row group is written, never
when this module is imported: the DAG processor imports the exporter registry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from gt_provider.datasets.errors import DatasetError
from gt_provider.datasets.exporters.base import Exporter
from gt_provider.datasets.records import LabeledObject, LabelKind

#: Rows per Parquet row group: large enough for fast scans, small enough to buffer per split.
ROW_GROUP_ROWS = 10_000
#: The Arrow schema metadata key ``datasets`` reads the features from.
SCHEMA_METADATA_KEY = "huggingface"

FORMAT_NAME = "huggingface"

#: The Hub's task categories (and task ids) per label kind and object field.
TASKS: Mapping[tuple[LabelKind, str], tuple[str, str | None]] = {
    (LabelKind.CLASS, "source-ref"): ("image-classification", "multi-class-image-classification"),
    (LabelKind.CLASS, "source"): ("text-classification", "multi-class-classification"),
    (LabelKind.MULTI_LABEL, "source-ref"): ("image-classification", "multi-label-image-classification"),
    (LabelKind.MULTI_LABEL, "source"): ("text-classification", "multi-label-classification"),
    (LabelKind.VERIFICATION, "source-ref"): ("image-classification", None),
    (LabelKind.VERIFICATION, "source"): ("text-classification", None),
    (LabelKind.BOXES, "source-ref"): ("object-detection", None),
    (LabelKind.ENTITIES, "source"): ("token-classification", "named-entity-recognition"),
}

_SIZE_CATEGORIES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"))


def _value(dtype: str) -> dict[str, Any]:
    return {"dtype": dtype, "_type": "Value"}


def _class_label(label_map: Sequence[str]) -> dict[str, Any]:
    return {"names": list(label_map), "_type": "ClassLabel"}


def _list(feature: Any, length: int | None = None) -> dict[str, Any]:
    described: dict[str, Any] = {"feature": feature}
    if length is not None:
        described["length"] = length
    described["_type"] = "List"
    return described


def source_column(source_field: str) -> str:
    """``image`` for S3 objects (``source-ref``), ``text`` for inline text (``source``)."""
    return "image" if source_field == "source-ref" else "text"


def huggingface_features(kind: LabelKind | str, source_field: str, label_map: Sequence[str]) -> dict[str, Any]:
    """The rows' features as ``datasets.Features.to_dict()`` writes them (``Features.from_dict`` reads it back)."""
    kind = LabelKind(kind)
    features: dict[str, Any] = {source_column(source_field): _value("string")}
    if kind in (LabelKind.CLASS, LabelKind.VERIFICATION):
        features["label"] = _class_label(label_map)
    elif kind is LabelKind.MULTI_LABEL:
        features["labels"] = _list(_class_label(label_map))
    elif kind is LabelKind.BOXES:
        features["width"] = _value("int32")
        features["height"] = _value("int32")
        box = {
            "bbox": _list(_value("float64"), 4),
            "category": _class_label(label_map),
            "confidence": _value("float64"),
        }
        features["objects"] = _list(box)
    elif kind is LabelKind.ENTITIES:
        entity = {
            "start": _value("int32"),
            "end": _value("int32"),
            "label": _class_label(label_map),
            "text": _value("string"),
            "confidence": _value("float64"),
        }
        features["entities"] = _list(entity)
    else:
        raise DatasetError(f"{FORMAT_NAME}: no Hugging Face features for {kind.value} labels")
    features["confidence"] = _value("float64")
    features["human_annotated"] = _value("bool")
    features["job_name"] = _value("string")
    features["creation_date"] = _value("string")
    return features


def _yaml_type(feature: Any) -> Any:
    """What follows ``dtype:`` / ``list:`` in the YAML of ``dataset_info.features``."""
    if isinstance(feature, Mapping) and "_type" not in feature:
        return [_yaml_feature(name, inner) for name, inner in feature.items()]
    if feature["_type"] == "Value":
        return feature["dtype"]
    if feature["_type"] == "ClassLabel":
        return {"class_label": {"names": {str(index): name for index, name in enumerate(feature["names"])}}}
    raise DatasetError(f"{FORMAT_NAME}: cannot describe feature {feature!r} in YAML")


def _yaml_feature(name: str, feature: Mapping[str, Any]) -> dict[str, Any]:
    """One entry of ``dataset_info.features``, as ``datasets.Features._to_yaml_list`` writes it."""
    if "_type" not in feature:
        return {"name": name, "struct": _yaml_type(feature)}
    if feature["_type"] == "List":
        entry = {"name": name, "list": _yaml_type(feature["feature"])}
        if "length" in feature:
            entry["length"] = feature["length"]
        return entry
    return {"name": name, "dtype": _yaml_type(feature)}


def huggingface_front_matter(card: Mapping[str, Any]) -> dict[str, Any]:
    """The Hub's YAML metadata for a version with the ``huggingface`` format (the card README's front matter).

    ``configs`` names each split's Parquet file, so ``load_dataset`` reads the folder as it
    is; ``dataset_info`` declares the features (class names included) and each split's
    ``num_examples`` (``load_dataset`` checks them); ``license: other`` is a placeholder for
    the data owner to replace; ``task_categories`` follows the label kind.
    """
    kind = LabelKind(card["label_kind"])
    source_field = str(card.get("source_field") or "source-ref")
    label_map = [card["label_map"][key] for key in sorted(card.get("label_map") or {}, key=int)]
    files: Mapping[str, Sequence[str]] = card["files"][FORMAT_NAME]
    splits = [split for split in (card["counts"]["per_split"]) if split in files]
    per_split = card["counts"]["per_split"]
    total = sum(per_split[split] for split in splits)
    features = huggingface_features(kind, source_field, label_map)
    category, task_id = TASKS.get((kind, source_field), (None, None))
    front: dict[str, Any] = {
        "license": "other",
        "pretty_name": f"{card.get('name', 'dataset')} v{card.get('version', '?')}",
        "tags": ["sagemaker-ground-truth", "gt-provider"],
    }
    if category:
        front["task_categories"] = [category]
    if task_id:
        front["task_ids"] = [task_id]
    front["size_categories"] = [next((label for limit, label in _SIZE_CATEGORIES if total < limit), "n>1M")]
    front["configs"] = [
        {
            "config_name": "default",
            "data_files": [{"split": split, "path": list(files[split])} for split in splits],
        }
    ]
    front["dataset_info"] = {
        "features": [_yaml_feature(name, feature) for name, feature in features.items()],
        "splits": [{"name": split, "num_examples": int(per_split[split])} for split in splits],
    }
    return front


def _arrow_type(feature: Any, pa: Any) -> Any:
    """The Arrow type ``datasets`` stores ``feature`` as."""
    if isinstance(feature, Mapping) and "_type" not in feature:
        return pa.struct([pa.field(name, _arrow_type(inner, pa)) for name, inner in feature.items()])
    kind = feature["_type"]
    if kind == "ClassLabel":
        return pa.int64()
    if kind == "Value":
        return pa.type_for_alias(feature["dtype"])
    inner = _arrow_type(feature["feature"], pa)
    return pa.list_(inner, feature["length"]) if "length" in feature else pa.list_(inner)


class HuggingFaceExporter(Exporter):
    """``huggingface/<split>.parquet``: the rows ``datasets.load_dataset`` reads (see the module docstring)."""

    name = FORMAT_NAME
    kinds = frozenset(
        {LabelKind.CLASS, LabelKind.MULTI_LABEL, LabelKind.VERIFICATION, LabelKind.BOXES, LabelKind.ENTITIES}
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rows: dict[str, list[dict[str, Any]]] = {}
        self._writers: dict[str, Any] = {}
        self._kind: LabelKind | None = None
        self._source_field: str | None = None
        self._schema: Any = None
        #: Classes in the label map when the schema was made (its metadata names them).
        self._schema_classes = 0

    def write(self, split: str, obj: LabeledObject) -> None:
        if obj.failed:
            return
        rows = self._rows.get(split)
        if rows is None:
            self.check_split(split)
            rows = self._rows[split] = []
        if self._kind is None:
            self._kind, self._source_field = obj.kind, obj.source_field
        rows.append(self._row(obj))
        if len(rows) >= ROW_GROUP_ROWS:
            self._flush(split)

    def _row(self, obj: LabeledObject) -> dict[str, Any]:
        kind = obj.kind
        row: dict[str, Any] = {source_column(obj.source_field): obj.source}
        if kind in (LabelKind.CLASS, LabelKind.VERIFICATION):
            row["label"] = self.class_id(obj.classes[0].name, obj) if obj.classes else None
        elif kind is LabelKind.MULTI_LABEL:
            row["labels"] = [self.class_id(label.name, obj) for label in obj.classes]
        elif kind is LabelKind.BOXES:
            size = obj.image_size
            row["width"] = None if size is None else size.width
            row["height"] = None if size is None else size.height
            row["objects"] = [
                {
                    "bbox": [box.left, box.top, box.width, box.height],
                    "category": self.class_id(box.name, obj),
                    "confidence": box.confidence,
                }
                for box in obj.boxes
            ]
        else:  # entities (the only other kind this format takes)
            text = obj.source
            row["entities"] = [
                {
                    "start": entity.start,
                    "end": entity.end,
                    "label": self.class_id(entity.label, obj),
                    "text": text[entity.start : entity.end],
                    "confidence": entity.confidence,
                }
                for entity in obj.entities
            ]
        row["confidence"] = obj.confidence
        row["human_annotated"] = obj.human_annotated
        row["job_name"] = obj.job_name
        row["creation_date"] = obj.creation_date
        return row

    def _features(self) -> dict[str, Any]:
        assert self._kind is not None and self._source_field is not None  # set by the first write
        return huggingface_features(self._kind, self._source_field, self.label_map)

    def _schema_now(self) -> Any:
        """The Arrow schema, its ``huggingface`` metadata naming the label map as it is now."""
        import pyarrow as pa

        features = self._features()
        metadata = orjson.dumps({"info": {"features": features}})
        return pa.schema(
            [pa.field(name, _arrow_type(feature, pa)) for name, feature in features.items()],
            metadata={SCHEMA_METADATA_KEY: metadata},
        )

    def _flush(self, split: str) -> None:
        """Write the split's buffered rows as one row group (opening its file on the first)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        rows = self._rows[split]
        if not rows:
            return
        if self._schema is None:
            self._schema, self._schema_classes = self._schema_now(), len(self.label_map)
        writer = self._writers.get(split)
        if writer is None:
            path = self.path(f"{split}.parquet")
            writer = self._writers[split] = pq.ParquetWriter(str(path), self._schema)
        writer.write_table(pa.Table.from_pylist(rows, schema=self._schema), row_group_size=ROW_GROUP_ROWS)
        rows.clear()

    def _restamp(self, path: Path) -> None:
        """Copy ``path`` row group by row group under the final schema: for a class the build appended late."""
        import pyarrow.parquet as pq

        schema = self._schema_now()
        partial = path.with_name(f".{path.name}.part")
        source = pq.ParquetFile(path)
        with pq.ParquetWriter(str(partial), schema) as writer:
            for index in range(source.num_row_groups):
                writer.write_table(source.read_row_group(index).replace_schema_metadata(schema.metadata))
        source.close()
        partial.replace(path)

    def close(self) -> dict[str, list[str]]:
        files: dict[str, list[str]] = {}
        for split in self.splits:
            if split not in self._rows:
                continue
            self._flush(split)
            writer = self._writers.pop(split, None)
            if writer is None:  # every object of the split failed: nothing to write
                continue
            writer.close()
            path = self.directory / f"{split}.parquet"
            if len(self.label_map) != self._schema_classes:
                self._restamp(path)
            files[split] = [self.relative(path)]
        self._rows.clear()
        self._closed = True
        return files

    def __exit__(self, *exc_info: object) -> None:
        if exc_info[0] is not None:
            for writer in self._writers.values():
                writer.close()
            self._writers.clear()
        super().__exit__(*exc_info)
