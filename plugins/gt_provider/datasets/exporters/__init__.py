"""Training formats a dataset version is written in, one streaming exporter per format.

Layout under the version root (``s3://.../datasets/<name>/v=<n>/``), one folder per format;
``<split>`` is ``train``, ``validation``, ``test`` or whatever the split names are:

=====================  ========================================================  =========================
format                 files                                                     label kinds
=====================  ========================================================  =========================
``augmented-manifest`` ``augmented-manifest/<split>.manifest`` (lines as GT        all
                       wrote them; the copy the next version re-reads)
``jsonl``              ``jsonl/<split>.jsonl`` (task-independent records)        all
``csv``                ``csv/<split>.csv`` (``source,labels,confidence``)        class, multi-label,
                                                                                 verification
``class-listing``      ``class-listing/<split>.json`` (``{class: [sources]}``)   class, multi-label
``coco``               ``coco/<split>.json`` (file_name = S3 URI, category ids   boxes
                       1-based)
``yolo``               ``yolo/data.yaml`` (split ``"all"``),                     boxes
                       ``yolo/<split>.images.tsv``,
                       ``yolo/labels/<split>/<stem>.txt`` (class ids 0-based)
``voc``                ``voc/Annotations/<stem>.xml`` and ``voc/labels.txt``     boxes
                       (split ``"all"``), ``voc/ImageSets/Main/<split>.txt``,
                       ``voc/<split>.images.tsv`` (1-based pixel boxes)
``fasttext``           ``fasttext/<split>.txt`` (``__label__<name> text``)       class, multi-label (text)
``conll``              ``conll/<split>.conll`` (``token TAG``, BIO)              entities
``spacy``              ``spacy/<split>.json`` (``[text, {"entities": [...]}]``)  entities
``huggingface``        ``huggingface/<split>.parquet`` (ClassLabel ids,          class, multi-label,
                       images as S3 URIs; ``load_dataset(<version>)`` reads      verification, boxes,
                       it through the card README's YAML front matter)           entities
=====================  ========================================================  =========================

Class ids in these files come from the dataset's label map (``dataset.json``): the index,
plus one in COCO, so that versions built from several jobs agree. The augmented manifest's
lines are Ground Truth's, rewritten only where a job's ids differ from the label map's. Exporters can
write failed objects (``augmented-manifest`` and ``jsonl`` keep them, the others skip them);
the dataset build hands them none. Each exporter's docstring says the details. Standard library and orjson only: no Airflow, no NumPy (``huggingface`` imports pyarrow when
it writes its first row group, never at import).

Use::

    for exporter_class in exporters_for(["augmented-manifest", "coco"], LabelKind.BOXES):
        exporter = exporter_class(staging / exporter_class.name, ["train", "validation"], label_map)
        ...
        exporter.write("train", obj)
        files[exporter_class.name] = exporter.close()
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

from gt_provider.datasets.exporters.base import Exporter, check_formats
from gt_provider.datasets.exporters.detection import CocoExporter, VocExporter, YoloExporter, yolo_stem
from gt_provider.datasets.exporters.huggingface import HuggingFaceExporter
from gt_provider.datasets.exporters.manifests import (
    AugmentedManifestExporter,
    ClassListingExporter,
    CsvExporter,
    JsonLinesExporter,
    normalized_record,
)
from gt_provider.datasets.exporters.text import (
    ConllExporter,
    FastTextExporter,
    SpacyExporter,
    bio_tags,
    fasttext_line,
)
from gt_provider.datasets.records import LabelKind

#: Every format by name, in the order they are documented.
EXPORTERS: Mapping[str, type[Exporter]] = MappingProxyType(
    {
        exporter.name: exporter
        for exporter in (
            AugmentedManifestExporter,
            JsonLinesExporter,
            CsvExporter,
            ClassListingExporter,
            CocoExporter,
            YoloExporter,
            VocExporter,
            FastTextExporter,
            ConllExporter,
            SpacyExporter,
            HuggingFaceExporter,
        )
    }
)


def exporters_for(names: Sequence[str], kind: LabelKind, *, source_field: str | None = None) -> list[type[Exporter]]:
    """The exporter classes for the formats ``names`` (repeats ignored), checked before anything is written.

    Raises :class:`~gt_provider.datasets.errors.DatasetError` for an unknown name, or one that
    cannot represent ``kind`` labels (the message lists the formats that can); the build
    checks once it knows the kind (after its quick scan), before it writes anything. With
    ``source_field`` (``"source-ref"`` or ``"source"``) it also refuses formats for the other
    kind of object, e.g. ``fasttext`` for images.
    """
    return check_formats(EXPORTERS, names, kind, source_field)


__all__ = [
    "EXPORTERS",
    "AugmentedManifestExporter",
    "ClassListingExporter",
    "CocoExporter",
    "ConllExporter",
    "CsvExporter",
    "Exporter",
    "FastTextExporter",
    "HuggingFaceExporter",
    "JsonLinesExporter",
    "SpacyExporter",
    "VocExporter",
    "YoloExporter",
    "bio_tags",
    "exporters_for",
    "fasttext_line",
    "normalized_record",
    "yolo_stem",
]
