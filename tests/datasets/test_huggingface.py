"""The ``huggingface`` format: built versions loaded with the real ``datasets`` and compared with the augmented manifest."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from gt_provider.datasets.build import DatasetSpec, build_dataset
from gt_provider.datasets.card import strip_front_matter
from gt_provider.datasets.errors import DatasetError
from gt_provider.datasets.exporters import EXPORTERS, HuggingFaceExporter
from gt_provider.datasets.exporters.huggingface import ROW_GROUP_ROWS, huggingface_features
from gt_provider.datasets.records import LabelKind

datasets = pytest.importorskip("datasets")

FIXTURES = Path(__file__).parent / "fixtures" / "developer_guide"
DOGS = ("dog", "cat", "bird")


def fixture_line(name: str, line: int = 0) -> dict:
    return json.loads((FIXTURES / f"{name}.jsonl").read_text().splitlines()[line])


def classification_manifest(tmp_path: Path, count: int) -> Path:
    """``count`` lines made from the developer guide's image-classification sample: three classes, people and model."""
    sample = fixture_line("image-classification")
    lines = []
    for index in range(count):
        line = copy.deepcopy(sample)
        name = DOGS[index % 3]
        line["source-ref"] = f"s3://AWSDOC-EXAMPLE-BUCKET/images/{index:04d}.jpg"
        line["species"] = str(DOGS.index(name))
        metadata = line["species-metadata"]
        metadata.update({"class-name": name, "confidence": round(0.5 + (index % 50) / 100, 2)})
        metadata["human-annotated"] = "no" if index % 4 == 3 else "yes"
        lines.append(json.dumps(line))
    path = tmp_path / "classification.manifest"
    path.write_text("\n".join(lines) + "\n")
    return path


def detection_manifest(tmp_path: Path, count: int) -> Path:
    """Lines from the guide's bounding-box sample: 0 to 3 boxes per image, classes ``dog`` and ``bone``."""
    sample = fixture_line("object-detection")
    lines = []
    for index in range(count):
        line = copy.deepcopy(sample)
        line["source-ref"] = f"s3://AWSDOC-EXAMPLE-BUCKET/photos/{index:04d}.png"
        keep = index % 4
        label = line["bounding-box-attribute-name"]
        label["annotations"] = [dict(box, left=box["left"] + index) for box in label["annotations"][:keep]]
        metadata = line["bounding-box-attribute-name-metadata"]
        metadata["objects"] = [{"confidence": round(0.6 + 0.01 * (index % 30), 2)} for _ in range(keep)]
        lines.append(json.dumps(line))
    path = tmp_path / "detection.manifest"
    path.write_text("\n".join(lines) + "\n")
    return path


def manifest_rows(version: Path, card: dict) -> dict[str, list[dict]]:
    """split -> the augmented manifest's lines, in file order."""
    return {
        split: [json.loads(line) for path in paths for line in (version / path).read_text().splitlines()]
        for split, paths in card["files"]["augmented-manifest"].items()
    }


def build(tmp_path: Path, manifest: Path, name: str, **spec: object) -> tuple[Path, dict]:
    built = build_dataset(
        [str(manifest)],
        str(tmp_path / name),
        DatasetSpec(name=name, formats=("jsonl", "huggingface"), **spec),
        workers=1,
    )
    return Path(built.uri), dict(built.card)


def test_every_split_loads_with_datasets_and_matches_the_augmented_manifest(tmp_path):
    version, card = build(tmp_path, classification_manifest(tmp_path, 120), "dogs")

    loaded = datasets.load_dataset(str(version), cache_dir=str(tmp_path / "hf-cache"))

    expected = manifest_rows(version, card)
    assert set(loaded) == set(expected) == {"train", "validation", "test"}
    names = [card["label_map"][key] for key in sorted(card["label_map"], key=int)]
    for split, rows in expected.items():
        table = loaded[split]
        assert table.features["label"].names == names
        assert table.num_rows == len(rows) == card["counts"]["per_split"][split]
        assert table["image"] == [row["source-ref"] for row in rows]
        assert [table.features["label"].int2str(i) for i in table["label"]] == [
            row["species-metadata"]["class-name"] for row in rows
        ]
        assert table["label"] == [int(row["species"]) for row in rows]  # the dataset's ids, as in the manifest
        assert table["confidence"] == pytest.approx([row["species-metadata"]["confidence"] for row in rows])
        assert table["human_annotated"] == [row["species-metadata"]["human-annotated"] == "yes" for row in rows]
        assert set(table["job_name"]) == {"identify-dog-breeds"}


def test_boxes_are_nested_objects_with_class_labels(tmp_path):
    version, card = build(tmp_path, detection_manifest(tmp_path, 40), "toys", stratify=False)

    loaded = datasets.load_dataset(str(version), cache_dir=str(tmp_path / "hf-cache"))

    names = [card["label_map"][key] for key in sorted(card["label_map"], key=int)]
    assert sorted(names) == ["bone", "dog"]
    for split, rows in manifest_rows(version, card).items():
        table = loaded[split]
        category = table.features["objects"].feature["category"]
        assert category.names == names
        assert table["image"] == [row["source-ref"] for row in rows]
        assert table["width"] == [row["bounding-box-attribute-name"]["image_size"][0]["width"] for row in rows]
        for objects, row in zip(table["objects"], rows, strict=True):
            boxes = row["bounding-box-attribute-name"]["annotations"]
            class_map = row["bounding-box-attribute-name-metadata"]["class-map"]
            assert [o["bbox"] for o in objects] == [[b["left"], b["top"], b["width"], b["height"]] for b in boxes]
            assert [category.int2str(o["category"]) for o in objects] == [class_map[str(b["class_id"])] for b in boxes]
            confidences = [o["confidence"] for o in row["bounding-box-attribute-name-metadata"]["objects"]]
            assert [o["confidence"] for o in objects] == pytest.approx(confidences)


def test_the_card_front_matter_names_the_files_features_and_counts(tmp_path):
    version, card = build(tmp_path, classification_manifest(tmp_path, 60), "dogs")
    readme = (version / "README.md").read_text()

    assert readme.startswith("---\n")
    front = yaml.safe_load(readme.split("---\n")[1])
    assert front["license"] == "other" and front["task_categories"] == ["image-classification"]
    assert front["configs"][0]["data_files"] == [
        {"split": split, "path": paths} for split, paths in card["files"]["huggingface"].items()
    ]
    assert {s["name"]: s["num_examples"] for s in front["dataset_info"]["splits"]} == card["counts"]["per_split"]
    features = datasets.Features._from_yaml_list(front["dataset_info"]["features"])
    assert features == datasets.Features.from_dict(huggingface_features("class", "source-ref", ["dog", "cat", "bird"]))
    # What people read starts with the title, as without the format.
    assert strip_front_matter(readme).startswith("# dogs — version 1")


def test_a_parquet_file_alone_carries_the_class_names(tmp_path):
    version, card = build(tmp_path, classification_manifest(tmp_path, 30), "dogs")
    [path] = card["files"]["huggingface"]["train"]

    alone = datasets.load_dataset(
        "parquet", data_files=str(version / path), split="train", cache_dir=str(tmp_path / "hf-cache")
    )

    assert alone.features["label"].names == ["dog", "cat", "bird"]


def test_a_version_without_the_format_has_no_front_matter(tmp_path):
    built = build_dataset(
        [str(classification_manifest(tmp_path, 30))], str(tmp_path / "plain"), DatasetSpec(name="plain"), workers=1
    )
    assert (Path(built.uri) / "README.md").read_text().startswith("# plain")


def test_rows_are_written_in_row_groups_not_held(tmp_path):
    exporter_class = EXPORTERS["huggingface"]
    assert exporter_class is HuggingFaceExporter
    manifest = classification_manifest(tmp_path, ROW_GROUP_ROWS * 2 + 5)
    version, card = build(tmp_path, manifest, "many", ratios={"train": 1.0})

    parquet = pq.ParquetFile(version / card["files"]["huggingface"]["train"][0])

    assert parquet.metadata.num_rows == ROW_GROUP_ROWS * 2 + 5
    assert parquet.metadata.num_row_groups == 3


def test_formats_it_cannot_represent_are_refused(tmp_path):
    sample = fixture_line("semantic-segmentation")
    manifest = tmp_path / "masks.manifest"
    manifest.write_text(json.dumps(sample) + "\n")
    with pytest.raises(DatasetError, match="huggingface"):
        build_dataset(
            [str(manifest)],
            str(tmp_path / "masks"),
            DatasetSpec(name="masks", formats=("huggingface",), label_attribute="city-streets-ref"),
            workers=1,
        )
    assert LabelKind.MASK not in HuggingFaceExporter.kinds


def test_a_class_appended_late_is_named_in_every_file(tmp_path):
    from gt_provider.datasets.records import ClassLabel, LabeledObject

    def labeled(source: str, name: str, class_id: int) -> LabeledObject:
        return LabeledObject(
            line=1,
            source=source,
            source_field="source-ref",
            attribute="species",
            output_type="groundtruth/image-classification",
            kind=LabelKind.CLASS,
            job_name="identify-dog-breeds",
            human_annotated=True,
            creation_date="2018-10-18T22:18:13.527256",
            classes=(ClassLabel(class_id, name, 0.9),),
        )

    label_map = ["dog", "cat"]
    exporter = HuggingFaceExporter(tmp_path / "huggingface", ["train"], label_map)
    for index in range(ROW_GROUP_ROWS):  # one row group is on disk before the new class arrives
        exporter.write("train", labeled(f"s3://b/{index}.jpg", label_map[index % 2], index % 2))
    label_map.append("bird")
    exporter.write("train", labeled("s3://b/late.jpg", "bird", 2))
    files = exporter.close()

    loaded = datasets.load_dataset(
        "parquet", data_files=str(tmp_path / files["train"][0]), split="train", cache_dir=str(tmp_path / "hf-cache")
    )
    assert loaded.features["label"].names == ["dog", "cat", "bird"]
    assert loaded.num_rows == ROW_GROUP_ROWS + 1 and loaded[-1]["label"] == 2


def test_the_ui_card_page_shows_the_card_without_its_front_matter(tmp_path):
    from gt_provider.ui.datasets import card_html

    version, _ = build(tmp_path, classification_manifest(tmp_path, 30), "dogs")

    html = card_html((version / "README.md").read_text(), lambda name: f"/files/{name}")

    assert html.startswith("<h1>dogs — version 1</h1>")
    assert "license: other" not in html and "class_label" not in html


def text_manifest(tmp_path: Path, fixture: str, count: int) -> Path:
    """``count`` copies of a text sample of the guide, each text made unique by a suffix (offsets unchanged)."""
    sample = fixture_line(fixture)
    lines = [json.dumps(dict(sample, source=f"{sample['source']} #{index}")) for index in range(count)]
    path = tmp_path / f"{fixture}.manifest"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_entities_and_multi_labels_load_with_their_class_names(tmp_path):
    version, card = build(tmp_path, text_manifest(tmp_path, "text-span", 12), "ner", ratios={"train": 1.0})

    [train] = datasets.load_dataset(str(version), cache_dir=str(tmp_path / "hf-cache")).values()

    label = train.features["entities"].feature["label"]
    for row, source in zip(train, manifest_rows(version, card)["train"], strict=True):
        spans = source["ner-labeling-job-attribute-name"]["annotations"]["entities"]
        assert row["text"] == source["source"]
        assert [(e["start"], e["end"], label.int2str(e["label"])) for e in row["entities"]] == [
            (s["startOffset"], s["endOffset"], s["label"]) for s in spans
        ]
        assert [e["text"] for e in row["entities"]] == [
            source["source"][s["startOffset"] : s["endOffset"]] for s in spans
        ]

    version, card = build(
        tmp_path, text_manifest(tmp_path, "text-classification-multilabel", 5), "moods", ratios={"train": 1.0}
    )
    [train] = datasets.load_dataset(str(version), cache_dir=str(tmp_path / "hf-cache")).values()
    assert train.features["labels"].feature.names == ["positive"]
    assert train["labels"] == [[0]] * 5
    front = yaml.safe_load((version / "README.md").read_text().split("---\n")[1])
    assert front["task_ids"] == ["multi-label-classification"]
