"""``croissant.json``: the version described in Croissant 1.1 (MLCommons' JSON-LD dataset metadata).

What Hugging Face, Kaggle and OpenML publish for every dataset, and what ``mlcroissant``
(and the loaders built on it: TFDS, PyTorch, JAX) read. Written for every version, beside
the card, from the card's data and the staged files:

- ``distribution``: a ``cr:FileObject`` per file of the version (every format, the split
  index, the README and its plots), ``contentUrl`` relative to the version folder (so the
  folder can be copied, downloaded from S3 or pushed to a Hub repo as it is), with its
  ``encodingFormat`` and ``sha256``; a folder of many files (YOLO labels, VOC annotations) is
  a ``cr:FileSet``. The S3 location is the dataset's ``url``.
- ``recordSet``: ``splits`` (a ``cr:Split`` set: train -> ``cr:TrainingSplit``...), ``labels``
  (the label map: id, name) and ``records``, read from the ``jsonl`` export (task-independent
  records, one JSON object per line, which ``mlcroissant`` reads directly; the augmented
  manifest's nested, dashed keys would need per-task extraction it cannot express): source,
  split (from the file name), labels, confidence, human_annotated, job_name, creation_date and,
  per label kind, boxes or entities. A version built without ``jsonl`` has the files and
  metadata, and no ``records``.
- Responsible AI (``rai:``): how the labels were made (platform, consolidation, workers and
  answers per object, human vs machine share, agreement) from ``annotation`` and ``workers``;
  provenance: the labeling jobs (``prov:wasGeneratedBy``) and the previous version
  (``isBasedOn``, ``prov:wasDerivedFrom``).

Standard library only; ``mlcroissant`` is needed to read the file, not to write it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

CROISSANT_FILE = "croissant.json"
CONFORMS_TO = "http://mlcommons.org/croissant/1.1"
#: The records' source: the jsonl export's per-split files.
RECORDS_FORMAT = "jsonl"

#: The @context of Croissant 1.1 (as ``mlcroissant`` writes it), plus PROV-O for provenance.
CONTEXT: Mapping[str, Any] = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "arrayShape": "cr:arrayShape",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "containedIn": "cr:containedIn",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "prov": "http://www.w3.org/ns/prov#",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "equivalentProperty": "cr:equivalentProperty",
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isArray": "cr:isArray",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "samplingRate": "cr:samplingRate",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}

#: Croissant's split vocabulary; other split names are listed without a ``url``.
SPLIT_URLS: Mapping[str, str] = {
    "train": "cr:TrainingSplit",
    "training": "cr:TrainingSplit",
    "validation": "cr:ValidationSplit",
    "val": "cr:ValidationSplit",
    "test": "cr:TestSplit",
}

#: File name endings -> encoding format (IANA types where there is one).
ENCODINGS: Sequence[tuple[str, str]] = (
    (".manifest", "application/jsonlines"),
    (".jsonl", "application/jsonlines"),
    (".json", "application/json"),
    (".csv", "text/csv"),
    (".tsv", "text/tab-separated-values"),
    (".parquet", "application/x-parquet"),
    (".yaml", "application/yaml"),
    (".md", "text/markdown"),
    (".png", "image/png"),
    (".xml", "application/xml"),
    (".txt", "text/plain"),
    (".conll", "text/plain"),
)

#: How the consolidated labels were made from several workers' answers, per label kind.
CONSOLIDATION: Mapping[str, str] = {
    "class": "Ground Truth's annotation consolidation for classification (a Dawid-Skene style weighted vote)",
    "multi-label": "Ground Truth's multi-label consolidation (a per-class weighted vote)",
    "verification": "Ground Truth's label-verification consolidation (a weighted vote on the verdict)",
    "boxes": "Ground Truth's bounding-box consolidation (boxes clustered by IoU, then averaged)",
    "entities": "Ground Truth's named-entity consolidation (a vote per character span)",
}


def _encoding(path: str) -> str:
    return next((encoding for suffix, encoding in ENCODINGS if path.endswith(suffix)), "application/octet-stream")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _file_id(path: str) -> str:
    return "file/" + path.rstrip("/")


def _version_files(card: Mapping[str, Any], extra: Iterable[str]) -> list[str]:
    """Every path the card lists (formats, then ``extra``), in order, without repeats."""
    listed = [
        path for per_split in (card.get("files") or {}).values() for paths in per_split.values() for path in paths
    ]
    index = (card.get("splits") or {}).get("index")
    return list(dict.fromkeys([*listed, *([index] if index else []), *extra]))


def _distribution(directory: Path, paths: Sequence[str]) -> list[dict[str, Any]]:
    distribution: list[dict[str, Any]] = []
    for path in paths:
        if path.endswith("/"):  # a folder of per-image files, all of one type (YOLO labels, VOC annotations)
            first = next((item for item in sorted((directory / path).rglob("*")) if item.is_file()), None)
            suffix = first.suffix if first is not None else ""
            distribution.append(
                {
                    "@type": "cr:FileSet",
                    "@id": _file_id(path),
                    "name": path,
                    "encodingFormat": _encoding(suffix),
                    "includes": f"{path}*{suffix}",
                }
            )
            continue
        staged = directory / path
        if not staged.is_file():
            continue
        distribution.append(
            {
                "@type": "cr:FileObject",
                "@id": _file_id(path),
                "name": path,
                "contentUrl": path,
                "contentSize": f"{staged.stat().st_size} B",
                "encodingFormat": _encoding(path),
                "sha256": _sha256(staged),
            }
        )
    return distribution


def _field(record_set: str, name: str, data_type: str, *, description: str = "", **extra: Any) -> dict[str, Any]:
    field: dict[str, Any] = {"@type": "cr:Field", "@id": f"{record_set}/{name}", "name": name, "dataType": data_type}
    if description:
        field["description"] = description
    field.update(extra)
    return field


def _column(file_set: str, column: str, **transform: Any) -> dict[str, Any]:
    source: dict[str, Any] = {"fileSet": {"@id": file_set}, "extract": {"column": column}}
    if transform:
        source["transform"] = transform
    return source


def _sub_fields(parent: str, file_set: str, column: str, parts: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    """The fields of each element of the list in ``column`` (boxes, entities)."""
    return [
        _field("records", f"{parent}/{name}", data_type, source=_column(file_set, column, jsonPath=name))
        for name, data_type in parts
    ]


_KIND_LISTS: Mapping[str, tuple[str, Sequence[tuple[str, str]], str]] = {
    "boxes": (
        "boxes",
        (("label", "sc:Text"), ("left", "sc:Float"), ("top", "sc:Float"), ("width", "sc:Float"),
         ("height", "sc:Float"), ("confidence", "sc:Float")),
        "Bounding boxes in pixels, top-left origin.",
    ),
    "entities": (
        "entities",
        (("label", "sc:Text"), ("start", "sc:Integer"), ("end", "sc:Integer"), ("text", "sc:Text"),
         ("confidence", "sc:Float")),
        "Labeled character spans text[start:end].",
    ),
}  # fmt: skip


def _record_sets(card: Mapping[str, Any], splits: Sequence[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(file sets the records read, record sets): splits, labels and, with a jsonl export, records."""
    label_map = card.get("label_map") or {}
    split_data = []
    for split in splits:
        row = {"splits/name": split}
        if split in SPLIT_URLS:
            row["splits/url"] = SPLIT_URLS[split]
        split_data.append(row)
    record_sets: list[dict[str, Any]] = [
        {
            "@type": "cr:RecordSet",
            "@id": "splits",
            "name": "splits",
            "description": "The dataset's splits; every object keeps its split in every later version.",
            "dataType": "cr:Split",
            "key": {"@id": "splits/name"},
            "field": [_field("splits", "name", "sc:Text"), _field("splits", "url", "sc:URL")],
            "data": split_data,
        },
        {
            "@type": "cr:RecordSet",
            "@id": "labels",
            "name": "labels",
            "description": "The label map: class id (the same in every format and version) and name.",
            "key": {"@id": "labels/id"},
            "field": [_field("labels", "id", "sc:Integer"), _field("labels", "name", "sc:Text")],
            "data": [{"labels/id": int(key), "labels/name": name} for key, name in sorted(label_map.items(), key=lambda item: int(item[0]))],
        },
    ]  # fmt: skip
    if RECORDS_FORMAT not in (card.get("files") or {}):
        return [], record_sets
    file_set = "jsonl-files"
    file_sets = [
        {
            "@type": "cr:FileSet",
            "@id": file_set,
            "name": file_set,
            "description": "The jsonl export: one task-independent record per line, a file per split.",
            "encodingFormat": "application/jsonlines",
            "includes": f"{RECORDS_FORMAT}/*.jsonl",
        }
    ]
    is_uri = card.get("source_field") == "source-ref"
    fields = [
        _field(
            "records",
            "split",
            "sc:Text",
            description="The object's split (the name of its file, jsonl/<split>.jsonl).",
            source={"fileSet": {"@id": file_set}, "extract": {"fileProperty": "fullpath"}, "transform": {"regex": r"^(?:.*/)?([^/]+)\.jsonl$"}},
            references={"field": {"@id": "splits/name"}},
        ),
        _field(
            "records",
            "source",
            "sc:URL" if is_uri else "sc:Text",
            description="The labeled object: its S3 URI" if is_uri else "The labeled text",
            source=_column(file_set, "source"),
        ),
        _field("records", "labels", "sc:Text", description="Class names of the label.", isArray=True, arrayShape="-1", source=_column(file_set, "labels")),
        _field("records", "confidence", "sc:Float", description="The label's lowest consolidated confidence.", source=_column(file_set, "confidence")),
        _field("records", "human_annotated", "sc:Boolean", description="Labeled by people (false: by the model of automated data labeling).", source=_column(file_set, "human_annotated")),
        _field("records", "job_name", "sc:Text", description="The labeling job that made the label.", source=_column(file_set, "job_name")),
        _field("records", "creation_date", "sc:Text", description="When the label was made (ISO 8601).", source=_column(file_set, "creation_date")),
    ]  # fmt: skip
    listed = _KIND_LISTS.get(str(card.get("label_kind")))
    if listed is not None:
        column, parts, description = listed
        fields.append(
            _field(
                "records",
                column,
                "cr:RecordSet",
                description=description,
                isArray=True,
                arrayShape="-1",
                subField=_sub_fields(column, file_set, column, parts),
            )
        )
    record_sets.append(
        {
            "@type": "cr:RecordSet",
            "@id": "records",
            "name": "records",
            "description": "One record per labeled object.",
            "field": fields,
        }
    )
    return file_sets, record_sets


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "n/a"


def _annotation_facts(card: Mapping[str, Any]) -> dict[str, Any]:
    """The ``rai:`` annotation properties we know the answer to, as sentences a reviewer reads."""
    kind = str(card.get("label_kind") or "")
    annotation = card.get("annotation") or {}
    human, machine = int(annotation.get("human") or 0), int(annotation.get("machine") or 0)
    workers = card.get("workers") or {}
    jobs = card.get("job_names") or []
    protocol = [
        f"Labeled in {len(jobs)} Amazon SageMaker Ground Truth labeling job(s) ({', '.join(jobs) or 'none recorded'});",
        f"several workers' answers per object consolidated by {CONSOLIDATION.get(kind, 'the task type consolidation')}.",
        f"Objects labeled by people: {human} ({_share(human, human + machine)}); "
        f"by the automated data labeling model: {machine} ({_share(machine, human + machine)}).",
    ]
    analysis = []
    answers_per_object: list[float] = []
    for job, statistics in workers.items() if isinstance(workers, Mapping) else ():
        if not isinstance(statistics, Mapping):
            continue
        people = len(statistics.get("workers") or [])
        objects = int(statistics.get("objects") or 0)
        answers = int(statistics.get("answers") or 0)
        if objects:
            answers_per_object.append(answers / objects)
        line = f"Job {job}: {people} workers, {answers} answers to {objects} objects"
        if statistics.get("pairwise_agreement") is not None:
            line += f", pairwise agreement {statistics['pairwise_agreement']:.2f}"
        if statistics.get("measure"):
            line += f" ({statistics['measure']})"
        agreements = [w["agreement"] for w in statistics.get("workers") or () if w.get("agreement") is not None]
        if agreements:
            line += f"; workers' agreement with the consolidated label {min(agreements):.2f}-{max(agreements):.2f}"
        analysis.append(line + ".")
    facts: dict[str, Any] = {
        "rai:dataAnnotationProtocol": " ".join(protocol),
        "rai:dataAnnotationPlatform": "Amazon SageMaker Ground Truth (or a backend writing its output layout), "
        "with a private, vendor or public workforce chosen per job",
        "rai:dataAnnotationAnalysis": " ".join(analysis)
        or "No worker responses were read for this version: agreement not measured.",
    }
    if answers_per_object:
        facts["rai:annotationsPerItem"] = f"{sum(answers_per_object) / len(answers_per_object):.2f} answers per object"
    if machine:
        facts["rai:machineAnnotationTools"] = [
            "Ground Truth automated data labeling (an active-learning model labels the objects it is confident about)"
        ]
    return facts


def croissant(directory: Path, card: Mapping[str, Any], extra_files: Iterable[str] = ()) -> dict[str, Any]:
    """The version's Croissant 1.1 JSON-LD; checksums from the files staged in ``directory``.

    ``extra_files`` are files written beside the formats that the card does not list yet
    (the README and its plots).
    """
    name = str(card.get("name") or "dataset")
    version = card.get("version")
    splits = list((card.get("counts") or {}).get("per_split") or (card.get("splits") or {}).get("ratios") or ())
    file_sets, record_sets = _record_sets(card, splits)
    counts = card.get("counts") or {}
    document: dict[str, Any] = {
        "@context": dict(CONTEXT),
        "@type": "sc:Dataset",
        "conformsTo": CONFORMS_TO,
        "name": f"{name}-v{version}" if version is not None else name,
        "description": (
            f"{name}, version {version}: {counts.get('total', 0)} objects labeled with Amazon SageMaker Ground Truth "
            f"({card.get('output_type') or 'unknown type'}), split "
            + ", ".join(f"{split} {n}" for split, n in (counts.get("per_split") or {}).items())
            + ". See README.md for the dataset card."
        ),
        "version": f"{version or 0}.0.0",
        "license": "other",
        "citeAs": f"{name}, version {version}: labeled with Amazon SageMaker Ground Truth, {card.get('uri') or ''}".rstrip(
            ", "
        ),
        "url": str(card.get("uri") or ""),
        "datePublished": str(card.get("created") or ""),
        "keywords": ["sagemaker-ground-truth", str(card.get("label_kind") or "")],
        "distribution": [*_distribution(directory, _version_files(card, extra_files)), *file_sets],
        "recordSet": record_sets,
        "prov:wasGeneratedBy": [
            {"@type": "prov:Activity", "name": job, "description": "Amazon SageMaker Ground Truth labeling job"}
            for job in card.get("job_names") or ()
        ],
        **_annotation_facts(card),
    }
    parent = card.get("parent_version")
    if parent is not None:
        previous = f"../v={parent}/{CROISSANT_FILE}"
        document["isBasedOn"] = previous
        document["prov:wasDerivedFrom"] = {"@id": previous}
    if not document["url"]:
        del document["url"]
    return document
