"""``croissant.json``: every version's Croissant 1.1 metadata, validated and loaded with the real ``mlcroissant``."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from gt_provider.datasets.build import DatasetSpec, build_dataset
from gt_provider.datasets.card import CROISSANT_FILE
from tests.datasets.test_huggingface import classification_manifest, detection_manifest, manifest_rows

mlc = pytest.importorskip("mlcroissant")


def build(tmp_path: Path, manifests: list[Path], name: str, **spec: object) -> tuple[Path, dict]:
    built = build_dataset([str(m) for m in manifests], str(tmp_path / name), DatasetSpec(name=name, **spec), workers=1)
    return Path(built.uri), dict(built.card)


def text(value: bytes | str) -> str:
    """mlcroissant gives text read from files as bytes, inline data as str."""
    return value.decode() if isinstance(value, bytes) else value


def load(version: Path) -> tuple[dict, object]:
    document = json.loads((version / CROISSANT_FILE).read_text())
    return document, mlc.Dataset(jsonld=str(version / CROISSANT_FILE))


def test_every_version_has_a_valid_croissant_whose_records_match_the_splits(tmp_path):
    version, card = build(tmp_path, [classification_manifest(tmp_path, 90)], "dogs")

    document, dataset = load(version)

    assert CROISSANT_FILE in card["files"]["card"]["all"]
    assert document["conformsTo"] == "http://mlcommons.org/croissant/1.1"
    assert not dataset.metadata.ctx.issues.errors
    records = list(dataset.records("records"))
    expected = manifest_rows(version, card)
    per_split: dict[str, list[str]] = {}
    for record in records:
        per_split.setdefault(record["records/split"].decode(), []).append(record["records/source"].decode())
    assert {split: len(sources) for split, sources in per_split.items()} == card["counts"]["per_split"]
    for split, rows in expected.items():
        assert sorted(per_split[split]) == sorted(row["source-ref"] for row in rows)
    by_source = {r["records/source"].decode(): r for r in records}
    for rows in expected.values():
        for row in rows:
            record = by_source[row["source-ref"]]
            assert [label.decode() for label in record["records/labels"]] == [row["species-metadata"]["class-name"]]
            assert record["records/human_annotated"] == (row["species-metadata"]["human-annotated"] == "yes")
    splits = {text(r["splits/name"]): text(r["splits/url"]) for r in dataset.records("splits")}
    assert splits == {"train": "cr:TrainingSplit", "validation": "cr:ValidationSplit", "test": "cr:TestSplit"}
    labels = {r["labels/id"]: text(r["labels/name"]) for r in dataset.records("labels")}
    assert labels == {int(key): name for key, name in card["label_map"].items()}


def test_distribution_lists_every_file_with_its_sha256(tmp_path):
    version, card = build(tmp_path, [classification_manifest(tmp_path, 45)], "dogs", formats=("jsonl", "csv"))

    document, _ = load(version)

    files = {entry["contentUrl"]: entry for entry in document["distribution"] if entry["@type"] == "cr:FileObject"}
    listed = {p for fmt, per_split in card["files"].items() if fmt != "card" for ps in per_split.values() for p in ps}
    assert listed | {"README.md", "splits.tsv"} <= set(files)
    assert CROISSANT_FILE not in files and "dataset.json" not in files
    for path, entry in files.items():
        assert entry["sha256"] == hashlib.sha256((version / path).read_bytes()).hexdigest(), path
        assert entry["contentSize"] == f"{(version / path).stat().st_size} B"
    assert files["csv/train.csv"]["encodingFormat"] == "text/csv"
    assert files["jsonl/train.jsonl"]["encodingFormat"] == "application/jsonlines"


def test_responsible_ai_fields_say_how_the_labels_were_made_and_from_what(tmp_path):
    first, _ = build(tmp_path, [classification_manifest(tmp_path, 40)], "dogs")
    more = tmp_path / "more"
    more.mkdir()
    second, card = build(tmp_path, [classification_manifest(more, 80)], "dogs")

    document, dataset = load(second)

    assert not dataset.metadata.ctx.issues.errors
    assert document["isBasedOn"] == "../v=1/croissant.json" and (second / document["isBasedOn"]).is_file()
    assert [activity["name"] for activity in document["prov:wasGeneratedBy"]] == card["job_names"]
    protocol = document["rai:dataAnnotationProtocol"]
    human, machine = card["annotation"]["human"], card["annotation"]["machine"]
    assert machine and f"by people: {human} ({human / (human + machine):.1%})" in protocol
    assert "Dawid-Skene" in protocol and "identify-dog-breeds" in protocol
    assert document["rai:machineAnnotationTools"]
    assert "agreement not measured" in document["rai:dataAnnotationAnalysis"]  # no worker responses here
    assert "isBasedOn" not in json.loads((first / CROISSANT_FILE).read_text())


def test_box_records_carry_their_boxes_and_folders_of_per_image_files_are_file_sets(tmp_path):
    formats = ("jsonl", "coco", "yolo", "voc", "huggingface")
    version, card = build(tmp_path, [detection_manifest(tmp_path, 24)], "toys", stratify=False, formats=formats)

    document, dataset = load(version)

    assert not dataset.metadata.ctx.issues.errors
    file_sets = {e["name"]: e for e in document["distribution"] if e["@type"] == "cr:FileSet"}
    assert file_sets["voc/Annotations/"]["encodingFormat"] == "application/xml"
    assert file_sets["yolo/labels/train/"]["includes"] == "yolo/labels/train/*.txt"
    records = {r["records/source"].decode(): r for r in dataset.records("records")}
    assert len(records) == card["counts"]["total"]
    for rows in manifest_rows(version, card).values():
        for row in rows:
            boxes = row["bounding-box-attribute-name"]["annotations"]
            got = records[row["source-ref"]]["records/boxes"]
            assert [b["records/boxes/left"] for b in got] == [float(b["left"]) for b in boxes]
            names = row["bounding-box-attribute-name-metadata"]["class-map"]
            assert [b["records/boxes/label"].decode() for b in got] == [names[str(b["class_id"])] for b in boxes]


def test_a_version_built_in_s3_lists_the_checksums_of_its_uploaded_files(aws, tmp_path):
    s3 = aws.client("s3")
    root = f"s3://{aws.bucket}/datasets/dogs"
    built = build_dataset(
        [str(classification_manifest(tmp_path, 30))],
        root,
        DatasetSpec(name="dogs", formats=("jsonl", "huggingface")),
        s3_client=s3,
        workers=1,
    )

    document = json.loads(aws.get_text(f"{built.uri}{CROISSANT_FILE}"))

    assert document["url"] == built.uri
    prefix = "datasets/dogs/v=1/"
    for entry in (e for e in document["distribution"] if e["@type"] == "cr:FileObject"):
        body = s3.get_object(Bucket=aws.bucket, Key=prefix + entry["contentUrl"])["Body"].read()
        assert hashlib.sha256(body).hexdigest() == entry["sha256"], entry["contentUrl"]
    assert aws.get_text(f"{built.uri}README.md").startswith("---\nlicense: other\n")


def test_entity_records_carry_their_spans(tmp_path):
    from tests.datasets.test_huggingface import text_manifest

    version, card = build(tmp_path, [text_manifest(tmp_path, "text-span", 6)], "ner", ratios={"train": 1.0})

    _, dataset = load(version)

    assert not dataset.metadata.ctx.issues.errors
    [source] = {json.dumps(row["ner-labeling-job-attribute-name"]) for row in manifest_rows(version, card)["train"]}
    spans = json.loads(source)["annotations"]["entities"]
    records = list(dataset.records("records"))
    assert len(records) == 6
    for record in records:
        got = [(e["records/entities/start"], e["records/entities/end"]) for e in record["records/entities"]]
        assert got == [(s["startOffset"], s["endOffset"]) for s in spans]
        assert [text(e["records/entities/label"]) for e in record["records/entities"]] == [s["label"] for s in spans]
