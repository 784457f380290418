"""Every export format, written from hand-built records and read back as its consumers read it."""

from __future__ import annotations

import contextlib
import csv
import io
import json
from pathlib import Path
from xml.etree import ElementTree

import orjson
import pytest
import yaml

from gt_provider.datasets.errors import DatasetError
from gt_provider.datasets.exporters import (
    EXPORTERS,
    AugmentedManifestExporter,
    ClassListingExporter,
    CocoExporter,
    ConllExporter,
    CsvExporter,
    FastTextExporter,
    JsonLinesExporter,
    SpacyExporter,
    VocExporter,
    YoloExporter,
    bio_tags,
    exporters_for,
    yolo_stem,
)
from gt_provider.datasets.records import Box, ClassLabel, Cuboid, Entity, ImageSize, LabeledObject, LabelKind

SPLITS = ("train", "validation", "test")
ANIMALS = ("cat", "dog", "bird")
JOB = "labeling-job/animals"
DATE = "2026-07-01T10:00:00.000000"


def _metadata(output_type: str, **extra: object) -> dict[str, object]:
    return {"job-name": JOB, "human-annotated": "yes", "creation-date": DATE, "type": output_type, **extra}


def _object(kind: LabelKind, source: str, raw: dict, *, text: bool = False, line: int = 1, **fields: object):
    return LabeledObject(
        line=line,
        source=source,
        source_field="source" if text else "source-ref",
        attribute="animal",
        output_type=raw["animal-metadata"]["type"],
        kind=kind,
        job_name=JOB,
        human_annotated=True,
        creation_date=DATE,
        raw=raw,
        **fields,
    )


def image_class(source: str, name: str, confidence: float | None = 0.9, *, line: int = 1) -> LabeledObject:
    class_id = ANIMALS.index(name)
    kind = "groundtruth/image-classification"
    raw = {
        "source-ref": source,
        "animal": str(class_id),
        "animal-metadata": _metadata(kind, **{"class-name": name, "confidence": confidence}),
    }
    return _object(
        LabelKind.CLASS,
        source,
        raw,
        line=line,
        classes=(ClassLabel(class_id, name, confidence),),
        class_map={class_id: name},
    )


def multi_label(source: str, names: list[str], *, text: bool = False) -> LabeledObject:
    ids = [ANIMALS.index(name) for name in names]
    kind = f"groundtruth/{'text' if text else 'image'}-classification-multilabel"
    raw = {
        "source" if text else "source-ref": source,
        "animal": ids,
        "animal-metadata": _metadata(
            kind,
            **{"class-map": {str(i): n for i, n in zip(ids, names, strict=True)}},
            **{"confidence-map": {str(i): 0.8 for i in ids}},
        ),
    }
    classes = tuple(ClassLabel(i, n, 0.8) for i, n in zip(ids, names, strict=True))
    class_map = dict(zip(ids, names, strict=True))  # as the parser reads it from the metadata's class-map
    return _object(LabelKind.MULTI_LABEL, source, raw, text=text, classes=classes, class_map=class_map)


def text_class(text: str, name: str) -> LabeledObject:
    class_id = ANIMALS.index(name)
    raw = {
        "source": text,
        "animal": str(class_id),
        "animal-metadata": _metadata("groundtruth/text-classification", **{"class-name": name, "confidence": 0.0}),
    }
    return _object(LabelKind.CLASS, text, raw, text=True, classes=(ClassLabel(class_id, name, 0.0),))


def boxes(source: str, size: tuple[int, int] | None, *labeled: tuple[str, float, float, float, float]) -> LabeledObject:
    annotations = [
        {"class_id": ANIMALS.index(name), "left": left, "top": top, "width": width, "height": height}
        for name, left, top, width, height in labeled
    ]
    raw = {
        "source-ref": source,
        "animal": {
            "image_size": [{"width": size[0], "height": size[1], "depth": 3}] if size else [],
            "annotations": annotations,
        },
        "animal-metadata": _metadata(
            "groundtruth/object-detection",
            objects=[{"confidence": 0.7} for _ in labeled],
            **{"class-map": {str(i): n for i, n in enumerate(ANIMALS)}},
        ),
    }
    return _object(
        LabelKind.BOXES,
        source,
        raw,
        boxes=tuple(Box(ANIMALS.index(name), name, *box, confidence=0.7) for name, *box in labeled),
        image_size=ImageSize(*size) if size else None,
        class_map=dict(enumerate(ANIMALS)),
    )


def entities(text: str, *spans: tuple[str, int, int]) -> LabeledObject:
    raw = {
        "source": text,
        "animal": {
            "annotations": {
                "labels": [{"label": name} for name in ANIMALS],
                "entities": [{"label": label, "startOffset": start, "endOffset": end} for label, start, end in spans],
            }
        },
        "animal-metadata": _metadata("groundtruth/text-span", entities=[{"confidence": 0.6} for _ in spans]),
    }
    return _object(
        LabelKind.ENTITIES, text, raw, text=True, entities=tuple(Entity(*span, confidence=0.6) for span in spans)
    )


def verification(source: str, verdict: str) -> LabeledObject:
    raw = {
        "source-ref": source,
        "animal": "0" if verdict == "correct" else "1",
        "animal-metadata": _metadata("groundtruth/label-verification", **{"class-name": verdict, "confidence": 1.0}),
    }
    return _object(
        LabelKind.VERIFICATION,
        source,
        raw,
        classes=(ClassLabel(0 if verdict == "correct" else 1, verdict, 1.0),),
        worker_feedback=("looks fine",),
    )


def failed(source: str) -> LabeledObject:
    raw = {
        "source-ref": source,
        "animal-metadata": _metadata("groundtruth/image-classification", **{"failure-reason": "ClientError: timeout"}),
    }
    return _object(LabelKind.CLASS, source, raw, failure_reason="ClientError: timeout")


def export(exporter_class, tmp_path: Path, objects, label_map=ANIMALS, splits=SPLITS):
    """Write ``[(split, obj), ...]`` and return close()'s file listing."""
    exporter = exporter_class(tmp_path / exporter_class.name, splits, label_map)
    for split, obj in objects:
        exporter.write(split, obj)
    return exporter.close()


# -- the registry -------------------------------------------------------------------------


def test_every_format_is_registered_under_its_name():
    assert list(EXPORTERS) == [
        "augmented-manifest",
        "jsonl",
        "csv",
        "class-listing",
        "coco",
        "yolo",
        "voc",
        "fasttext",
        "conll",
        "spacy",
        "huggingface",
    ]
    assert all(exporter.name == name for name, exporter in EXPORTERS.items())


def test_exporters_for_keeps_the_order_asked_and_drops_repeats():
    chosen = exporters_for(["coco", "augmented-manifest", "coco", "yolo"], LabelKind.BOXES)
    assert chosen == [CocoExporter, AugmentedManifestExporter, YoloExporter]


def test_a_format_that_does_not_fit_the_labels_is_refused_with_the_ones_that_do():
    with pytest.raises(DatasetError) as raised:
        exporters_for(["jsonl", "coco"], LabelKind.CLASS)
    message = str(raised.value)
    assert "'coco' exports boxes labels, not class" in message
    assert "formats for class labels: augmented-manifest, jsonl, csv, class-listing, fasttext" in message
    assert "known formats: augmented-manifest, jsonl, csv, class-listing, coco, yolo" in message


def test_an_unknown_format_is_refused_naming_the_known_ones():
    with pytest.raises(DatasetError, match=r"unknown dataset format 'tfrecord'; known formats: augmented-manifest"):
        exporters_for(["tfrecord"], LabelKind.ENTITIES)


def test_a_text_format_is_refused_for_images_when_the_source_field_is_known():
    assert exporters_for(["fasttext"], LabelKind.CLASS, source_field="source") == [FastTextExporter]
    with pytest.raises(DatasetError, match=r"'fasttext' exports inline text"):
        exporters_for(["fasttext"], LabelKind.CLASS, source_field="source-ref")


def test_a_split_that_cannot_name_a_file_is_refused(tmp_path):
    with pytest.raises(DatasetError, match="cannot name a file"):
        JsonLinesExporter(tmp_path, ["train", "../x"], ANIMALS)
    with pytest.raises(DatasetError, match="reserved"):
        JsonLinesExporter(tmp_path, ["train", "all"], ANIMALS)


def test_writing_to_a_split_the_export_was_not_made_for_is_refused(tmp_path):
    exporter = JsonLinesExporter(tmp_path / "jsonl", ["train"], ANIMALS)
    with pytest.raises(DatasetError, match="unknown split 'holdout'"):
        exporter.write("holdout", image_class("s3://b/a.jpg", "cat"))


# -- augmented manifest, jsonl, csv, class listing -----------------------------------------


def test_augmented_manifest_lines_are_the_raw_lines_per_split(tmp_path):
    objects = [
        ("train", image_class("s3://b/img/1.jpg", "cat")),
        ("validation", image_class("s3://b/img/2.jpg", "dog", None)),
        ("train", image_class("s3://b/img/été 3.jpg", "bird")),
        ("train", failed("s3://b/img/4.jpg")),
    ]
    objects[0][1].raw["team-key"] = {"kept": [1, 2.5, None]}
    files = export(AugmentedManifestExporter, tmp_path, objects)
    assert files == {
        "train": ["augmented-manifest/train.manifest"],
        "validation": ["augmented-manifest/validation.manifest"],
    }
    for split in files:
        data = (tmp_path / files[split][0]).read_bytes()
        assert data.endswith(b"\n") and b"\n\n" not in data
        lines = [json.loads(line) for line in data.decode().splitlines()]
        assert lines == [obj.raw for name, obj in objects if name == split]
    assert not (tmp_path / "augmented-manifest" / "test.manifest").exists()


def test_augmented_manifest_class_ids_are_the_label_maps_whatever_the_job_numbered(tmp_path):
    """The job numbered cat 0, dog 1, bird 2 (ANIMALS); the dataset's label map says cat 0, bird 1, dog 2."""
    agreeing = image_class("s3://b/1.jpg", "cat")  # cat is 0 for both: no rewrite...
    agreeing.source_line = orjson.dumps(agreeing.raw) + b"  \n"  # ...so these very bytes are copied
    objects = [
        ("train", image_class("s3://b/0.jpg", "bird")),
        ("train", agreeing),
        ("train", multi_label("s3://b/2.jpg", ["dog", "bird"])),
        ("train", boxes("s3://b/3.jpg", (64, 48), ("bird", 1, 2, 3, 4), ("dog", 5, 6, 7, 8))),
        ("validation", verification("s3://b/4.jpg", "correct")),
        ("validation", failed("s3://b/5.jpg")),
    ]

    files = export(AugmentedManifestExporter, tmp_path, objects, label_map=("cat", "bird", "dog", "correct"))

    data = (tmp_path / files["train"][0]).read_bytes().splitlines(keepends=True)
    assert data[1] == agreeing.source_line
    bird, cat, both, box = (json.loads(line) for line in data)
    assert (bird["animal"], bird["animal-metadata"]["class-name"]) == ("1", "bird")
    assert cat["animal"] == "0"
    assert both["animal"] == [2, 1]
    assert both["animal-metadata"]["class-map"] == {"2": "dog", "1": "bird"}
    assert both["animal-metadata"]["confidence-map"] == {"2": 0.8, "1": 0.8}
    assert [a["class_id"] for a in box["animal"]["annotations"]] == [1, 2]
    assert box["animal-metadata"]["class-map"] == {"0": "cat", "2": "dog", "1": "bird"}
    verified, failure = (json.loads(line) for line in (tmp_path / files["validation"][0]).read_text().splitlines())
    assert verified["animal"] == "3"  # "correct" is the dataset's class 3, the job's 0
    assert failure == objects[-1][1].raw


def test_an_exporter_that_received_nothing_leaves_no_folder(tmp_path):
    assert export(AugmentedManifestExporter, tmp_path, []) == {}
    assert not (tmp_path / "augmented-manifest").exists()


def test_jsonl_records_are_the_same_shape_whatever_the_task(tmp_path):
    box = boxes("s3://b/street.jpg", (640, 480), ("dog", 10, 20, 100, 50))
    span = entities("A cat sat.", ("cat", 2, 5))
    files = export(
        JsonLinesExporter, tmp_path, [("train", image_class("s3://b/1.jpg", "cat")), ("train", box), ("test", span)]
    )
    train = [orjson.loads(line) for line in (tmp_path / files["train"][0]).read_bytes().splitlines()]
    test = [orjson.loads(line) for line in (tmp_path / files["test"][0]).read_bytes().splitlines()]
    common = {"kind", "labels", "confidence", "human_annotated", "job_name", "source", "source_field"}
    assert all(common <= record.keys() for record in train + test)
    assert train[0] == {
        "source": "s3://b/1.jpg",
        "source_field": "source-ref",
        "kind": "class",
        "labels": ["cat"],
        "confidence": 0.9,
        "human_annotated": True,
        "job_name": JOB,
        "creation_date": DATE,
    }
    assert train[1]["image_size"] == {"width": 640, "height": 480, "depth": 3}
    assert train[1]["boxes"] == [{"label": "dog", "left": 10, "top": 20, "width": 100, "height": 50, "confidence": 0.7}]
    assert test[0]["entities"] == [{"label": "cat", "start": 2, "end": 5, "text": "cat", "confidence": 0.6}]
    assert test[0]["source_field"] == "source"


def test_jsonl_keeps_masks_cuboids_and_verification_feedback(tmp_path):
    mask_raw = {"source-ref": "s3://b/1.jpg", "animal-ref": "s3://b/mask.png", "animal-metadata": _metadata("x")}
    mask = _object(
        LabelKind.MASK, "s3://b/1.jpg", mask_raw, ref="s3://b/mask.png", class_map={0: "BACKGROUND", 1: "cat"}
    )
    cloud_raw = {"source-ref": "s3://b/frame.bin", "animal-metadata": _metadata("y")}
    cuboid = Cuboid("car", (1.0, 2.0, 0.5), (4.0, 2.0, 1.5), (0.0, 0.0, 1.57), confidence=0.5)
    cloud = _object(LabelKind.CUBOIDS, "s3://b/frame.bin", cloud_raw, cuboids=(cuboid,))
    files = export(
        JsonLinesExporter,
        tmp_path,
        [("train", mask), ("train", cloud), ("train", verification("s3://b/2.jpg", "correct"))],
    )
    mask_record, cloud_record, verdict = (
        orjson.loads(line) for line in (tmp_path / files["train"][0]).read_bytes().splitlines()
    )
    assert mask_record["ref"] == "s3://b/mask.png"
    assert mask_record["class_map"] == {"0": "BACKGROUND", "1": "cat"}
    assert cloud_record["cuboids"] == [
        {
            "label": "car",
            "centre": [1.0, 2.0, 0.5],
            "size": [4.0, 2.0, 1.5],
            "rotation": [0.0, 0.0, 1.57],
            "confidence": 0.5,
        }
    ]
    assert verdict["labels"] == ["correct"] and verdict["worker_feedback"] == ["looks fine"]


def test_csv_round_trips_through_the_csv_module(tmp_path):
    awkward = 'He said "a, b"\nand left'
    objects = [
        ("train", image_class("s3://b/1.jpg", "cat", 0.93)),
        ("train", multi_label(awkward, ["cat", "bird"], text=True)),
        ("train", multi_label("s3://b/none.jpg", [])),
        ("train", image_class("s3://b/2.jpg", "dog", None)),
        ("train", failed("s3://b/3.jpg")),
    ]
    files = export(CsvExporter, tmp_path, objects)
    with open(tmp_path / files["train"][0], newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows == [
        {"source": "s3://b/1.jpg", "labels": "cat", "confidence": "0.93"},
        {"source": awkward, "labels": "cat;bird", "confidence": "0.8"},
        {"source": "s3://b/none.jpg", "labels": "", "confidence": ""},
        {"source": "s3://b/2.jpg", "labels": "dog", "confidence": ""},
    ]


def test_csv_writes_verification_verdicts(tmp_path):
    files = export(
        CsvExporter, tmp_path, [("test", verification("s3://b/1.jpg", "incorrect"))], label_map=("correct", "incorrect")
    )
    assert (tmp_path / files["test"][0]).read_bytes() == b"source,labels,confidence\r\ns3://b/1.jpg,incorrect,1.0\r\n"


def test_class_listing_lists_sources_under_each_class(tmp_path):
    objects = [
        ("train", image_class("s3://b/1.jpg", "cat")),
        ("train", multi_label("s3://b/2.jpg", ["cat", "dog"])),
        ("validation", image_class("s3://b/3.jpg", "dog")),
        ("train", failed("s3://b/4.jpg")),
    ]
    files = export(ClassListingExporter, tmp_path, objects)
    assert files == {"train": ["class-listing/train.json"], "validation": ["class-listing/validation.json"]}
    train = json.loads((tmp_path / "class-listing/train.json").read_text())
    assert train == {"cat": ["s3://b/1.jpg", "s3://b/2.jpg"], "dog": ["s3://b/2.jpg"], "bird": []}
    assert list(train) == list(ANIMALS)


def test_a_label_outside_the_label_map_is_an_error_not_a_silent_drop(tmp_path):
    with pytest.raises(DatasetError, match=r"label 'bird', which is not in the dataset's label map \['cat', 'dog'\]"):
        export(
            ClassListingExporter,
            tmp_path,
            [("train", image_class("s3://b/1.jpg", "bird", line=7))],
            label_map=("cat", "dog"),
        )


# -- COCO and YOLO ---------------------------------------------------------------------------

DETECTIONS = [
    ("train", boxes("s3://b/a/img.jpg", (640, 480), ("cat", 10, 20, 100, 50), ("dog", 300, 200, 120.5, 80))),
    ("train", boxes("s3://b/b/img.jpg", (320, 240), ("bird", 0, 0, 32, 24))),
    ("train", boxes("s3://b/empty.png", (100, 100))),
    ("validation", boxes("s3://b/c.jpg", (200, 100), ("dog", 50, 25, 100, 50))),
]


def test_coco_loads_with_pycocotools_with_the_boxes_ground_truth_drew(tmp_path):
    from pycocotools.coco import COCO

    files = export(CocoExporter, tmp_path, DETECTIONS)
    assert files == {"train": ["coco/train.json"], "validation": ["coco/validation.json"]}
    assert sorted(path.name for path in (tmp_path / "coco").iterdir()) == ["train.json", "validation.json"]
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(tmp_path / "coco/train.json"))
    assert [cat["name"] for cat in coco.loadCats(coco.getCatIds())] == list(ANIMALS)
    assert coco.getCatIds(catNms=["cat"]) == [1]
    images = {image["file_name"]: image for image in coco.loadImgs(coco.getImgIds())}
    assert set(images) == {"s3://b/a/img.jpg", "s3://b/b/img.jpg", "s3://b/empty.png"}
    first = images["s3://b/a/img.jpg"]
    assert (first["width"], first["height"]) == (640, 480)
    annotations = coco.loadAnns(coco.getAnnIds(imgIds=[first["id"]]))
    assert [(a["category_id"], a["bbox"], a["area"], a["iscrowd"]) for a in annotations] == [
        (1, [10, 20, 100, 50], 5000, 0),
        (2, [300, 200, 120.5, 80], 120.5 * 80, 0),
    ]
    assert coco.getAnnIds(imgIds=[images["s3://b/empty.png"]["id"]]) == []
    assert len({a["id"] for a in coco.loadAnns(coco.getAnnIds())}) == 3


def test_coco_ground_truth_scores_perfect_ap_against_itself(tmp_path):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    export(CocoExporter, tmp_path, DETECTIONS)
    with contextlib.redirect_stdout(io.StringIO()):
        truth = COCO(str(tmp_path / "coco/train.json"))
        detections = truth.loadRes(
            [
                {"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"], "score": 1.0}
                for a in truth.loadAnns(truth.getAnnIds())
            ]
        )
        evaluation = COCOeval(truth, detections, "bbox")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    assert evaluation.stats[0] == pytest.approx(1.0)  # AP @ IoU 0.50:0.95
    assert evaluation.stats[1] == pytest.approx(1.0)  # AP @ IoU 0.50


def test_boxes_without_an_image_size_cannot_be_exported(tmp_path):
    for exporter in (CocoExporter, YoloExporter):
        with pytest.raises(DatasetError, match=r"line 1 \(s3://b/x.jpg\) has no usable image_size"):
            export(exporter, tmp_path, [("train", boxes("s3://b/x.jpg", None, ("cat", 1, 1, 2, 2)))])


def _yolo_rows(path: Path) -> list[tuple[int, float, float, float, float]]:
    return [
        (int(c), float(x), float(y), float(w), float(h))
        for c, x, y, w, h in map(str.split, path.read_text().splitlines())
    ]


def test_yolo_writes_normalized_centres_and_sizes_per_image(tmp_path):
    files = export(YoloExporter, tmp_path, DETECTIONS)
    assert files == {
        "train": ["yolo/train.images.tsv", "yolo/labels/train/"],
        "validation": ["yolo/validation.images.tsv", "yolo/labels/validation/"],
        "all": ["yolo/data.yaml"],
    }
    listing = [line.split("\t") for line in (tmp_path / "yolo/train.images.tsv").read_text().splitlines()]
    assert [source for _, source in listing] == ["s3://b/a/img.jpg", "s3://b/b/img.jpg", "s3://b/empty.png"]
    stems = [Path(image).stem for image, _ in listing]
    assert len(set(stems)) == 3, "two images named img.jpg under different prefixes need different stems"
    assert all(image.startswith("images/train/") for image, _ in listing)
    assert [Path(image).suffix for image, _ in listing] == [".jpg", ".jpg", ".png"]
    labels = tmp_path / "yolo/labels/train"
    assert sorted(path.stem for path in labels.iterdir()) == sorted(stems)

    first = _yolo_rows(labels / f"{stems[0]}.txt")
    expected = [(0, 60 / 640, 45 / 480, 100 / 640, 50 / 480), (1, 360.25 / 640, 240 / 480, 120.5 / 640, 80 / 480)]
    assert first == [(c, *(pytest.approx(v, abs=1e-6) for v in row)) for c, *row in expected]
    assert _yolo_rows(labels / f"{stems[1]}.txt") == [(2, 0.05, 0.05, 0.1, 0.1)]
    assert (labels / f"{stems[2]}.txt").read_text() == "", "a background image gets an empty label file"
    validation = _yolo_rows(next((tmp_path / "yolo/labels/validation").iterdir()))
    assert validation == [(1, 0.5, 0.5, 0.5, 0.5)]


def test_yolo_data_yaml_names_the_classes_and_split_folders(tmp_path):
    export(YoloExporter, tmp_path, DETECTIONS, label_map=("cat", "dog", "bird", 'odd "name": yes'))
    data = yaml.safe_load((tmp_path / "yolo/data.yaml").read_text())
    assert data == {
        "train": "images/train",
        "val": "images/validation",
        "nc": 4,
        "names": {0: "cat", 1: "dog", 2: "bird", 3: 'odd "name": yes'},
    }


def test_yolo_clips_boxes_to_the_image_and_drops_what_is_outside(tmp_path):
    obj = boxes("s3://b/x.jpg", (100, 100), ("cat", -10, 90, 30, 20), ("dog", 120, 10, 5, 5))
    export(YoloExporter, tmp_path, [("train", obj)])
    assert _yolo_rows(tmp_path / "yolo/labels/train" / f"{yolo_stem('s3://b/x.jpg')}.txt") == [(0, 0.1, 0.95, 0.2, 0.1)]


def test_yolo_stems_are_stable_readable_and_unique_per_uri(tmp_path):
    assert yolo_stem("s3://b/a/cat 1.jpg") == yolo_stem("s3://b/a/cat 1.jpg")
    assert yolo_stem("s3://b/a/cat 1.jpg").startswith("cat_1-")
    assert yolo_stem("s3://b/a/img.jpg") != yolo_stem("s3://b/b/img.jpg")
    same = boxes("s3://b/a/img.jpg", (10, 10), ("cat", 0, 0, 5, 5))
    export(YoloExporter, tmp_path, [("train", same), ("train", same)])
    listing = (tmp_path / "yolo/train.images.tsv").read_text().splitlines()
    stem = yolo_stem("s3://b/a/img.jpg")
    assert [line.split("\t")[0] for line in listing] == [f"images/train/{stem}.jpg", f"images/train/{stem}-2.jpg"]


def _voc(path: Path) -> dict:
    """A VOC annotation parsed back with the standard library, as VOC readers do."""
    root = ElementTree.parse(path).getroot()
    assert root.tag == "annotation"
    size = root.find("size")
    return {
        "filename": root.findtext("filename"),
        "path": root.findtext("path"),
        "size": tuple(int(size.findtext(tag)) for tag in ("width", "height", "depth")),
        "objects": [
            (
                element.findtext("name"),
                int(element.findtext("truncated")),
                tuple(int(element.find("bndbox").findtext(tag)) for tag in ("xmin", "ymin", "xmax", "ymax")),
            )
            for element in root.iter("object")
        ],
    }


def test_voc_writes_an_annotation_per_image_that_parses_back_to_the_boxes(tmp_path):
    files = export(VocExporter, tmp_path, DETECTIONS)
    assert files == {
        "train": ["voc/ImageSets/Main/train.txt", "voc/train.images.tsv"],
        "validation": ["voc/ImageSets/Main/validation.txt", "voc/validation.images.tsv"],
        "all": ["voc/labels.txt", "voc/Annotations/"],
    }
    listing = [line.split("\t") for line in (tmp_path / "voc/train.images.tsv").read_text().splitlines()]
    assert [source for _, source in listing] == ["s3://b/a/img.jpg", "s3://b/b/img.jpg", "s3://b/empty.png"]
    stems = [Path(image).stem for image, _ in listing]
    assert (tmp_path / "voc/ImageSets/Main/train.txt").read_text().splitlines() == stems
    assert (tmp_path / "voc/labels.txt").read_text().splitlines() == list(ANIMALS)
    annotations = tmp_path / "voc/Annotations"
    assert sorted(path.stem for path in annotations.iterdir()) == sorted(
        [
            *stems,
            *(
                Path(row.split("\t")[0]).stem
                for row in (tmp_path / "voc/validation.images.tsv").read_text().splitlines()
            ),
        ]
    )

    first = _voc(annotations / f"{stems[0]}.xml")
    assert first["filename"] == f"{stems[0]}.jpg" and first["path"] == "s3://b/a/img.jpg"
    assert first["size"] == (640, 480, 3)
    # 1-based inclusive pixels: left 10, width 100 covers x 11..110; 300 + 120.5 ends in pixel 421.
    assert first["objects"] == [("cat", 0, (11, 21, 110, 70)), ("dog", 0, (301, 201, 421, 280))]
    assert _voc(annotations / f"{stems[1]}.xml")["objects"] == [("bird", 0, (1, 1, 32, 24))]
    assert _voc(annotations / f"{stems[2]}.xml")["objects"] == [], "a background image has no object"


def test_voc_clips_boxes_to_the_image_marks_them_truncated_and_escapes_names(tmp_path):
    obj = boxes("s3://b/x.jpg", (100, 100), ("cat", -10, 90, 30, 20), ("dog", 120, 10, 5, 5))
    export(VocExporter, tmp_path, [("train", obj)])
    assert _voc(tmp_path / "voc/Annotations" / f"{yolo_stem('s3://b/x.jpg')}.xml")["objects"] == [
        ("cat", 1, (1, 91, 20, 100))
    ]
    odd = ("<cat> & 'dog'",)
    obj = boxes("s3://b/y.jpg", (10, 10), ("cat", 0, 0, 5, 5))
    obj.boxes = (Box(0, odd[0], 0, 0, 5, 5, confidence=0.7),)
    export(VocExporter, tmp_path / "odd", [("train", obj)], label_map=odd)
    [(name, _, _)] = _voc(next((tmp_path / "odd/voc/Annotations").iterdir()))["objects"]
    assert name == odd[0]


def test_voc_gives_a_repeated_image_its_own_annotation_naming_its_own_file(tmp_path):
    same = boxes("s3://b/a/img.jpg", (10, 10), ("cat", 0, 0, 5, 5))
    export(VocExporter, tmp_path, [("train", same), ("train", same)])
    stem = yolo_stem("s3://b/a/img.jpg")
    assert (tmp_path / "voc/ImageSets/Main/train.txt").read_text().splitlines() == [stem, f"{stem}-2"]
    assert _voc(tmp_path / "voc/Annotations" / f"{stem}-2.xml")["filename"] == f"{stem}-2.jpg"


# -- fastText, CoNLL, spaCy ------------------------------------------------------------------


def test_fasttext_lines_are_labels_then_the_text_on_one_line(tmp_path):
    objects = [
        ("train", text_class("Nice\n  kitty,\tsoft", "cat")),
        ("train", multi_label("Birds and dogs", ["dog", "bird"], text=True)),
        ("train", multi_label("Nothing here", [], text=True)),
    ]
    files = export(FastTextExporter, tmp_path, objects, label_map=("cat", "dog", "bird"))
    assert (tmp_path / files["train"][0]).read_text() == (
        "__label__cat Nice kitty, soft\n__label__dog __label__bird Birds and dogs\n"
    )


def test_fasttext_labels_with_spaces_become_one_token(tmp_path):
    obj = text_class("Good boy", "dog")
    obj.classes = (ClassLabel(1, "good  dog", None),)
    files = export(FastTextExporter, tmp_path, [("train", obj)], label_map=("good  dog",))
    assert (tmp_path / files["train"][0]).read_text() == "__label__good_dog Good boy\n"


def test_fasttext_refuses_image_objects(tmp_path):
    with pytest.raises(DatasetError, match=r"fasttext exports inline text \('source'\)"):
        export(FastTextExporter, tmp_path, [("train", image_class("s3://b/1.jpg", "cat"))])


def test_bio_tags_for_spans_on_token_boundaries():
    text = "Tom Smith met a grey cat in New York."
    tagged = bio_tags(text, [Entity("PER", 0, 9), Entity("ANIMAL", 21, 24), Entity("LOC", 28, 36)])
    assert tagged == [
        ("Tom", "B-PER"),
        ("Smith", "I-PER"),
        ("met", "O"),
        ("a", "O"),
        ("grey", "O"),
        ("cat", "B-ANIMAL"),
        ("in", "O"),
        ("New", "B-LOC"),
        ("York.", "I-LOC"),
    ]


def test_bio_tags_for_spans_off_token_boundaries_tag_every_token_they_touch():
    text = "Visit Paris, France now"
    # "aris, Fr": starts inside "Paris," and ends inside "France".
    assert bio_tags(text, [Entity("LOC", 7, 14)]) == [
        ("Visit", "O"),
        ("Paris,", "B-LOC"),
        ("France", "I-LOC"),
        ("now", "O"),
    ]
    # A span of only whitespace, an empty span and one past the end tag nothing.
    assert all(tag == "O" for _, tag in bio_tags(text, [Entity("X", 5, 6), Entity("Y", 2, 2), Entity("Z", 40, 50)]))


def test_bio_tags_keep_the_first_of_overlapping_spans():
    text = "New York City"
    assert bio_tags(text, [Entity("CITY", 0, 13), Entity("STATE", 0, 8), Entity("X", 4, 8)]) == [
        ("New", "B-CITY"),
        ("York", "I-CITY"),
        ("City", "I-CITY"),
    ]
    # Two spans inside one token: the token takes the first.
    assert bio_tags("ab-cd", [Entity("A", 0, 2), Entity("B", 3, 5)]) == [("ab-cd", "B-A")]


def test_conll_files_have_a_token_and_a_tag_per_line_and_blank_lines_between_documents(tmp_path):
    objects = [
        ("train", entities("Tom met a cat", ("PER", 0, 3), ("cat", 10, 13))),
        ("train", entities("   ")),
        ("train", entities("Rex the dog", ("dog", 0, 3))),
    ]
    files = export(ConllExporter, tmp_path, objects, label_map=("PER", "cat", "dog"))
    assert files == {"train": ["conll/train.conll"]}
    assert (tmp_path / "conll/train.conll").read_text() == (
        "Tom B-PER\nmet O\na O\ncat B-cat\n\nRex B-dog\nthe O\ndog O\n\n"
    )


def test_spacy_file_is_a_list_of_text_and_entity_offsets(tmp_path):
    objects = [
        ("train", entities("Tom met a cat", ("cat", 10, 13), ("PER", 0, 3), ("PER", 1, 5))),
        ("train", entities("nothing")),
        ("validation", entities('quote " and é', ("X", 8, 11))),
    ]
    files = export(SpacyExporter, tmp_path, objects)
    assert files == {"train": ["spacy/train.json"], "validation": ["spacy/validation.json"]}
    assert json.loads((tmp_path / "spacy/train.json").read_text()) == [
        ["Tom met a cat", {"entities": [[0, 3, "PER"], [10, 13, "cat"]]}],
        ["nothing", {"entities": []}],
    ]
    assert json.loads((tmp_path / "spacy/validation.json").read_text(encoding="utf-8")) == [
        ['quote " and é', {"entities": [[8, 11, "X"]]}]
    ]


def test_every_format_leaves_only_its_documented_files(tmp_path):
    """No part files or temporary files survive close()."""
    export(CocoExporter, tmp_path, DETECTIONS)
    export(YoloExporter, tmp_path, DETECTIONS)
    written = sorted(str(path.relative_to(tmp_path)) for path in tmp_path.rglob("*") if path.is_file())
    assert not [name for name in written if Path(name).name.startswith(".")]
    assert "coco/train.json" in written and "yolo/data.yaml" in written


def test_augmented_manifest_copies_the_bytes_read_and_serializes_a_rewritten_line(tmp_path):
    """A line nothing changed goes out as read (byte for byte); a renamed one is written from ``raw``."""
    from gt_provider.datasets.filters import LabelMapping
    from gt_provider.datasets.reading.parse import OutputManifestParser

    line = (
        b'{"source-ref": "s3://b/1.png",  "animal": "0", "animal-metadata": {"class-name": "cat", "confidence": 0.9, '
        b'"type": "groundtruth/image-classification", "job-name": "labeling-job/j", "human-annotated": "yes", '
        b'"creation-date": "2026-11-01T00:00:00"}}'
    )
    parsed = OutputManifestParser().parse(line, 1)
    renamed = LabelMapping({"cat": "feline"}).apply(parsed)
    exporter = EXPORTERS["augmented-manifest"](tmp_path / "augmented-manifest", ["train", "test"], ["cat", "feline"])
    exporter.write("train", parsed)
    exporter.write("test", renamed)
    exporter.close()

    assert (tmp_path / "augmented-manifest" / "train.manifest").read_bytes() == line + b"\n"
    [rewritten] = (tmp_path / "augmented-manifest" / "test.manifest").read_text().splitlines()
    assert json.loads(rewritten)["animal-metadata"]["class-name"] == "feline"
