"""The dataset card: streaming statistics, the README a reviewer reads, and its plots."""

from __future__ import annotations

import copy
import io
import json
import sys
from pathlib import Path

import pytest
from PIL import Image

from gt_provider.datasets.build import DatasetSpec, build_dataset
from gt_provider.datasets.card import (
    CHART_FILE,
    CROISSANT_FILE,
    MAX_FAILED_SHARE,
    MIN_MEAN_CONFIDENCE,
    MIN_OBJECTS_PER_CLASS_AND_SPLIT,
    MIN_WORKER_ACCURACY,
    PLOT_FILES,
    README_FILE,
    DatasetStatistics,
    card_readme,
    card_warnings,
    plots,
    write_card_files,
)
from gt_provider.datasets.errors import DatasetError
from gt_provider.datasets.filters import ObjectFilter
from gt_provider.datasets.records import Box, ClassLabel, Entity, LabeledObject, LabelKind

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SPLITS = ("train", "validation", "test")


def _obj(
    *names: str,
    confidence: float | None = 0.95,
    kind: LabelKind = LabelKind.CLASS,
    human: bool = True,
    boxes: tuple[Box, ...] = (),
    entities: tuple[Entity, ...] = (),
    failure: str | None = None,
) -> LabeledObject:
    classes = tuple(ClassLabel(index, name, confidence) for index, name in enumerate(names))
    return LabeledObject(
        line=1,
        source="s3://bucket/image.png",
        source_field="source-ref",
        attribute="animal",
        output_type="groundtruth/image-classification",
        kind=kind,
        job_name="labeling-job/job-1",
        human_annotated=human,
        creation_date="2026-01-02T03:04:05.000000",
        failure_reason=failure,
        classes=() if failure else classes,
        boxes=boxes,
        entities=entities,
    )


def _box(name: str, confidence: float | None = 0.9) -> Box:
    return Box(0, name, 1, 2, 3, 4, confidence)


class TestDatasetStatistics:
    def test_counts_objects_per_split_and_class(self):
        statistics = DatasetStatistics(SPLITS)
        for split, name in [("train", "cat"), ("train", "cat"), ("train", "dog"), ("validation", "dog")]:
            statistics.add(split, _obj(name))

        counts = statistics.to_dict()["counts"]

        assert counts["total"] == 4
        assert counts["per_split"] == {"train": 3, "validation": 1, "test": 0}
        assert counts["per_split_class"] == {"train": {"cat": 2, "dog": 1}, "validation": {"dog": 1}, "test": {}}
        assert "instances_per_split_class" not in counts  # one class per object: instances = objects
        assert counts["dropped"] == {} and counts["failed"] == 0

    def test_boxes_count_objects_and_instances_per_class(self):
        statistics = DatasetStatistics(["train"])
        statistics.add("train", _obj(kind=LabelKind.BOXES, boxes=(_box("cat"), _box("cat"), _box("dog"))))
        statistics.add("train", _obj(kind=LabelKind.BOXES, boxes=(_box("cat"),)))
        statistics.add("train", _obj(kind=LabelKind.BOXES, boxes=()))  # an image with nothing on it

        counts = statistics.to_dict()["counts"]

        assert counts["per_split_class"] == {"train": {"cat": 2, "dog": 1}}
        assert counts["instances_per_split_class"] == {"train": {"cat": 3, "dog": 1}}
        assert counts["per_split"] == {"train": 3}
        assert counts["without_labels"] == {"train": 1}

    def test_entities_and_multi_label(self):
        statistics = DatasetStatistics(["train"])
        spans = (Entity("person", 0, 4, 0.8), Entity("person", 10, 14, 0.6), Entity("place", 20, 25, 0.9))
        statistics.add("train", _obj(kind=LabelKind.ENTITIES, entities=spans))
        statistics.add("train", _obj("cat", "dog", kind=LabelKind.MULTI_LABEL))

        result = statistics.to_dict()

        assert result["counts"]["per_split_class"] == {"train": {"cat": 1, "dog": 1, "person": 1, "place": 1}}
        assert result["counts"]["instances_per_split_class"] == {"train": {"cat": 1, "dog": 1, "person": 2, "place": 1}}
        assert result["confidence"]["min"] == 0.6  # an object's confidence is its least sure part

    @pytest.mark.parametrize(
        ("confidence", "expected_bin"),
        [(0.0, 0), (0.05, 0), (0.1, 1), (0.3, 3), (0.6, 6), (0.7, 7), (0.8999999, 8), (0.9, 9), (0.999, 9), (1.0, 9)],
    )
    def test_confidence_bin_edges(self, confidence, expected_bin):
        statistics = DatasetStatistics(["train"])
        statistics.add("train", _obj("cat", confidence=confidence))

        histogram = statistics.to_dict()["confidence"]["histogram"]

        assert [entry["count"] for entry in histogram] == [int(i == expected_bin) for i in range(10)]

    def test_confidence_histogram_min_mean_and_missing(self):
        statistics = DatasetStatistics(["train"])
        for value in (0.0, 1.0, 0.5, None, None):
            statistics.add("train", _obj("cat", confidence=value))

        confidence = statistics.to_dict()["confidence"]

        assert confidence["histogram"][0] == {"from": 0.0, "to": 0.1, "count": 1}
        assert confidence["histogram"][9] == {"from": 0.9, "to": 1.0, "count": 1}
        assert confidence["histogram"][5]["count"] == 1
        assert len(confidence["histogram"]) == 10
        assert confidence["without_confidence"] == 2
        assert confidence["min"] == 0.0
        assert confidence["mean"] == 0.5

    def test_no_confidence_at_all(self):
        statistics = DatasetStatistics(["train"])
        statistics.add("train", _obj("cat", confidence=None))

        confidence = statistics.to_dict()["confidence"]

        assert confidence["min"] is None and confidence["mean"] is None and confidence["without_confidence"] == 1

    def test_dropped_by_reason_and_failed(self):
        statistics = DatasetStatistics(["train"])
        statistics.add("train", _obj("cat"))
        for reason in ("failed", "failed", "low-confidence", "duplicate", "failed-review", "machine-annotated"):
            statistics.drop(reason)

        counts = statistics.to_dict()["counts"]

        assert counts["dropped"] == {
            "duplicate": 1,
            "failed": 2,
            "failed-review": 1,
            "low-confidence": 1,
            "machine-annotated": 1,
        }
        assert counts["failed"] == 2
        assert counts["total"] == 1  # dropped objects are not in the dataset

    def test_a_failed_object_kept_in_a_split_counts_as_failed_without_a_class(self):
        statistics = DatasetStatistics(["train"])
        statistics.add("train", _obj(failure="ClientError: Annotation tasks expired."))
        statistics.drop("failed")

        result = statistics.to_dict()

        assert result["counts"]["failed"] == 2
        assert result["counts"]["per_split"] == {"train": 1}
        assert result["counts"]["per_split_class"] == {"train": {}}
        assert result["annotation"] == {"human": 0, "machine": 0}

    def test_human_and_machine_annotated(self):
        statistics = DatasetStatistics(["train"])
        for human in (True, True, False):
            statistics.add("train", _obj("cat", human=human))

        annotation = statistics.to_dict()["annotation"]

        assert (annotation["human"], annotation["machine"]) == (2, 1)
        assert annotation["per_split"] == {"train": {"cat": {"human": 2, "machine": 1}}}
        assert annotation["machine_confidence"]["count"] == 1  # the human objects' confidence is not in it

    def test_human_only_annotation_is_two_counts(self):
        statistics = DatasetStatistics(SPLITS)
        for split in SPLITS:
            statistics.add(split, _obj("cat", confidence=0.3))

        assert statistics.to_dict()["annotation"] == {"human": 3, "machine": 0}

    def test_machine_labels_per_split_and_class_and_their_confidence(self):
        # (split, class, human, confidence in thousandths): the model labels cats and dogs, people label birds too.
        objects = [
            ("train", "cat", True, 900),
            ("train", "cat", False, 715),
            ("train", "cat", False, 290),
            ("train", "dog", False, 980),
            ("train", "bird", True, 500),
            ("validation", "dog", False, 1000),
            ("validation", "dog", True, 100),
            ("test", "cat", False, 0),
        ]
        parts = [DatasetStatistics(SPLITS), DatasetStatistics(SPLITS)]  # merged: what a parallel build does
        for number, (split, name, human, thousandths) in enumerate(objects):
            parts[number % 2].add(split, _obj(name, human=human, confidence=thousandths / 1000))
        parts[0].add("train", _obj("cat", human=False, confidence=None))  # counted, but has no confidence
        parts[0].merge(parts[1])

        annotation = parts[0].to_dict()["annotation"]

        assert annotation["human"] == 3 and annotation["machine"] == 6
        assert annotation["per_split"] == {
            "train": {
                "bird": {"human": 1, "machine": 0},
                "cat": {"human": 1, "machine": 3},
                "dog": {"human": 0, "machine": 1},
            },
            "validation": {"dog": {"human": 1, "machine": 1}},
            "test": {"cat": {"human": 0, "machine": 1}},
        }
        confidence = annotation["machine_confidence"]
        # Machine values, sorted: 0, 290, 715, 980, 1000 thousandths; the middle one is 715, in bin [0.71, 0.72).
        assert confidence["count"] == 5
        assert confidence["min"] == 0.0
        assert confidence["median"] == 0.715
        assert confidence["mean"] == pytest.approx((0 + 290 + 715 + 980 + 1000) / 5000)
        per_split = confidence["per_split"]
        # train: 290, 715, 980 -> middle 715; validation: 1000 -> bin [0.99, 1.0]; test: 0 -> bin [0, 0.01).
        assert per_split["train"] == {"min": 0.29, "median": 0.715, "mean": pytest.approx(1.985 / 3), "count": 3}
        assert per_split["validation"] == {"min": 1.0, "median": 0.995, "mean": 1.0, "count": 1}
        assert per_split["test"] == {"min": 0.0, "median": 0.005, "mean": 0.0, "count": 1}

    def test_machine_confidence_median_of_an_even_count_is_the_lower_middle(self):
        statistics = DatasetStatistics(["train"])
        for value in (0.2, 0.29, 0.8, 0.9):  # 0.29 * 100 rounds below 29: still bin [0.29, 0.30)
            statistics.add("train", _obj("cat", human=False, confidence=value))

        assert statistics.to_dict()["annotation"]["machine_confidence"]["median"] == 0.295

    def test_unknown_split_is_refused(self):
        statistics = DatasetStatistics(["train"])

        with pytest.raises(DatasetError, match="unknown split 'tset'"):
            statistics.add("tset", _obj("cat"))

    def test_empty_dataset(self):
        result = DatasetStatistics(SPLITS).to_dict()

        assert result["counts"]["total"] == 0
        assert result["confidence"]["mean"] is None
        assert sum(entry["count"] for entry in result["confidence"]["histogram"]) == 0


# ----------------------------------------------------------------------------- README


def _card(**overrides) -> dict:
    """A healthy card, as the build assembles it: no threshold crossed."""
    statistics = DatasetStatistics(SPLITS)
    for split, per_class in (("train", 80), ("validation", 12), ("test", 12)):
        for name in ("cat", "dog"):
            for _ in range(per_class):
                statistics.add(split, _obj(name, confidence=0.93))
    statistics.drop("failed")
    statistics.drop("low-confidence")
    card = {
        "schema_version": 1,
        "name": "animals",
        "version": 3,
        "uri": "s3://bucket/datasets/animals/3/",
        "parent_version": 2,
        "created": "2026-01-02T03:04:05+00:00",
        "output_type": "groundtruth/image-classification",
        "label_kind": "class",
        "label_attribute": "animal",
        "source_field": "source-ref",
        "sources": [
            {
                "manifest": "s3://bucket/output/job-1/manifests/output/output.manifest",
                "job_names": ["job-1"],
                "objects": 210,
            }
        ],
        "job_names": ["job-1"],
        "label_map": {"0": "cat", "1": "dog"},
        "splits": {"ratios": {"train": 0.8, "validation": 0.1, "test": 0.1}, "seed": "s1", "stratified": True},
        **statistics.to_dict(),
        "workers": {
            "label_kind": "class",
            "measure": "exact class match (1 or 0)",
            "accuracy_method": "one-coin Dawid-Skene estimate",
            "note": None,
            "pairwise_agreement": 0.91,
            "pairs": 600,
            "skipped_answers": 0,
            "workers": [
                {"worker_id": "private.w1", "answers": 200, "scored": 200, "agreement": 0.97, "accuracy": 0.96},
                {"worker_id": "private.w2", "answers": 180, "scored": 180, "agreement": 0.93, "accuracy": 0.9},
            ],
        },
        "files": {
            "augmented-manifest": {"train": ["train.manifest"], "validation": ["validation.manifest"]},
            "jsonl": {"train": ["jsonl/train.jsonl"]},
        },
        "filters": {"min_confidence": 0.5, "human_only": False},
        "label_mapping": {"kitty": "cat"},
        "fingerprint": "abc123",
    }
    card.update(overrides)
    return card


def _with(card: dict, path: str, value) -> dict:
    card = copy.deepcopy(card)
    *parents, last = path.split(".")
    node = card
    for key in parents:
        node = node[key]
    node[last] = value
    return card


class TestReadme:
    def test_healthy_card_has_no_warnings_and_every_section(self):
        card = _card()

        readme = card_readme(card)

        assert card_warnings(card) == []
        assert readme.startswith("# animals — version 3\n")
        assert "## Warnings\n\nNone:" in readme
        assert "⚠️" not in readme
        assert "`job-1`" in readme and "Parent version: 2" in readme
        assert "| cat | 0 | 80 | 12 | 12 | 104 |" in readme
        assert "| dog | 1 | 80 | 12 | 12 | 104 |" in readme
        assert "| **objects** | | **160** | **24** | **24** | **208** |" in readme
        assert "| failed | 1 |" in readme and "| low-confidence | 1 |" in readme
        assert "Human: 208 (100.0%)" in readme
        assert "[0.9, 1.0] ██████████████████████████████ 208" in readme
        assert "| `private.w2` | 180 | 0.93 | 0.90 |" in readme
        assert "`kitty` → `cat`" in readme and "`min_confidence` = `0.5`" in readme
        assert "- **augmented-manifest**" in readme
        assert "`jsonl/train.jsonl`" in readme
        assert "training_channels" in readme

    def test_a_human_only_card_has_no_machine_labels_section(self):
        readme = card_readme(_card())

        assert "Machine (automated data labeling): 0 (0.0%)" in readme
        assert "by people / by the model" not in readme
        assert "Confidence of the machine labels" not in readme

    def test_machine_labels_per_class_and_split_with_their_confidence(self):
        statistics = DatasetStatistics(SPLITS)
        for split in SPLITS:
            for _ in range(12):
                statistics.add(split, _obj("cat", human=False, confidence=0.8))
                statistics.add(split, _obj("dog", confidence=0.93))
        statistics.add("train", _obj("dog", human=False, confidence=0.6))
        card = _card(**statistics.to_dict())

        readme = card_readme(card)

        assert "Objects per class and split, labeled by people / by the model:" in readme
        assert "| class | train | validation | test | total |" in readme
        assert "| cat | 0 / 12 | 0 / 12 | 0 / 12 | 0 / 36 |" in readme
        assert "| dog | 12 / 1 | 12 / 0 | 12 / 0 | 36 / 1 |" in readme
        assert "| split | machine labels | min | median | mean |" in readme
        assert "| train | 13 | 0.600 | 0.805 | 0.785 |" in readme  # (12 x 0.8 + 0.6) / 13
        assert "| validation | 12 | 0.800 | 0.805 | 0.800 |" in readme
        assert "| **all** | 37 | 0.600 | 0.805 | 0.795 |" in readme  # (36 x 0.8 + 0.6) / 37

    def test_many_classes_show_the_twenty_largest_then_others(self):
        statistics = DatasetStatistics(["train"])
        for number in range(25):
            for _ in range(number + 1):  # class c24 is the largest
                statistics.add("train", _obj(f"c{number:02d}", human=False))
        card = _card(**statistics.to_dict(), label_map={})

        readme = card_readme(card)
        table = readme.split("by people / by the model:")[1].split("An object counts once")[0]

        rows = [line for line in table.splitlines() if line.startswith("| c") and "class" not in line]
        assert [row.split(" | ")[0] for row in rows] == [f"| c{number:02d}" for number in range(24, 4, -1)]
        assert "| others (5 classes) | 0 / 15 | 0 / 15 |" in table  # c00..c04: 1 + 2 + 3 + 4 + 5

    def test_rare_class_in_a_split(self):
        card = _with(_card(), "counts.per_split_class.test", {"cat": 12, "dog": MIN_OBJECTS_PER_CLASS_AND_SPLIT - 1})

        warnings = card_warnings(card)

        assert warnings == [
            f"Class `dog` has fewer than {MIN_OBJECTS_PER_CLASS_AND_SPLIT} objects in test "
            f"({MIN_OBJECTS_PER_CLASS_AND_SPLIT - 1})."
        ]
        assert f"| dog | 1 | 80 | 12 | {MIN_OBJECTS_PER_CLASS_AND_SPLIT - 1} ⚠️ |" in card_readme(card)

    def test_class_of_the_label_map_missing_from_a_split(self):
        card = _with(_card(), "label_map", {"0": "cat", "1": "dog", "2": "bird"})

        assert "Class `bird` has fewer than 10 objects in train (0), validation (0), test (0)." in card_warnings(card)

    def test_empty_split(self):
        card = _with(_card(), "counts.per_split.test", 0)
        card = _with(card, "counts.per_split_class.test", {})

        warnings = card_warnings(card)

        assert warnings[0] == "Empty split: `test`."
        assert not any("in test" in warning for warning in warnings)  # no per-class noise for an empty split

    def test_failed_share_above_threshold(self):
        read = 208 + 2  # kept + dropped
        failed_ok = int(MAX_FAILED_SHARE * read)
        assert not any("failed" in w for w in card_warnings(_with(_card(), "counts.dropped.failed", failed_ok)))

        card = _with(_card(), "counts.failed", 30)
        card = _with(card, "counts.dropped.failed", 30)

        warnings = card_warnings(card)

        assert any(w.startswith("30 of 239 objects failed (12.6%") for w in warnings)
        assert "30 failed in labeling (12.6% of 239 objects read)" in card_readme(card)

    def test_low_mean_confidence(self):
        assert card_warnings(_with(_card(), "confidence.mean", MIN_MEAN_CONFIDENCE)) == []

        warnings = card_warnings(_with(_card(), "confidence.mean", 0.55))

        assert warnings == [
            f"Mean label confidence is 0.55, below {MIN_MEAN_CONFIDENCE}: workers often disagreed; "
            "review a sample of labels or the instructions."
        ]

    def test_inaccurate_worker(self):
        card = _with(_card(), "workers.workers", [
            {"worker_id": "private.good", "answers": 50, "scored": 50, "agreement": 0.95, "accuracy": 0.95},
            {"worker_id": "private.bad", "answers": 50, "scored": 48, "agreement": 0.6, "accuracy": 0.52},
            {"worker_id": "private.edge", "answers": 5, "scored": 5, "agreement": 0.8, "accuracy": MIN_WORKER_ACCURACY},
        ])  # fmt: skip

        warnings = card_warnings(card)
        readme = card_readme(card)

        assert warnings == [
            f"Worker `private.bad` has accuracy 0.52 (below {MIN_WORKER_ACCURACY}) over 48 scored answers."
        ]
        assert "| `private.bad` | 50 | 0.60 | 0.52 ⚠️ |" in readme
        assert readme.index("private.bad") < readme.index("private.good")  # least accurate first

    def test_workers_of_several_jobs(self):
        single = _card()["workers"]
        bad = copy.deepcopy(single)
        bad["workers"][1]["accuracy"] = 0.4
        card = _card(workers={"job-1": single, "job-2": bad})

        readme = card_readme(card)

        assert "### Job `job-1`" in readme and "### Job `job-2`" in readme
        assert card_warnings(card) == [
            "Worker `private.w2` in job `job-2` has accuracy 0.40 (below 0.8) over 180 scored answers."
        ]

    def test_without_worker_statistics(self):
        readme = card_readme(_card(workers=None))

        assert "Not computed: no worker responses were read" in readme

    def test_worker_statistics_without_a_measure(self):
        workers = {"measure": None, "note": "masks are compared pixel by pixel", "workers": []}

        readme = card_readme(_card(workers=workers))

        assert "- Agreement not computed: masks are compared pixel by pixel." in readme

    def test_multi_part_labels_show_instances(self):
        statistics = DatasetStatistics(["train"])
        statistics.add("train", _obj(kind=LabelKind.BOXES, boxes=(_box("cat"), _box("cat"))))

        readme = card_readme({"name": "boxes", "version": 1, **statistics.to_dict()})

        assert "| cat |  | 1 ⚠️ | 1 |" in readme
        assert "| cat |  | 2 | 2 |" in readme  # instances table

    def test_markdown_table_cells_are_escaped(self):
        statistics = DatasetStatistics(["train"])
        statistics.add("train", _obj("a|b"))

        readme = card_readme({"name": "odd", **statistics.to_dict()})

        assert "| a\\|b |" in readme

    @pytest.mark.parametrize("uri", ["s3://bucket/datasets/animals/v=3/", None])
    def test_usage_snippet_is_python(self, uri):
        readme = card_readme(_card(uri=uri))

        snippet = readme.split("```python\n", 1)[1].split("```", 1)[0]

        compile(snippet, "README.md", "exec")
        assert "training_channels(card)" in snippet

    def test_minimal_card_renders(self):
        readme = card_readme({"name": "bare"})

        assert readme.startswith("# bare\n")
        assert "No objects." in readme


class TestWriteCardFiles:
    def test_writes_readme_and_its_plots(self, tmp_path):
        card = _card()

        written = write_card_files(tmp_path / "staging", card)

        assert written[0] == README_FILE and written[-1] == CROISSANT_FILE
        assert set(written[1:-1]) <= set(PLOT_FILES) and CHART_FILE in written
        readme = (tmp_path / "staging" / README_FILE).read_text(encoding="utf-8")
        for name in written[1:-1]:
            assert f"]({name})" in readme, f"{name} is written but not shown"
            png = (tmp_path / "staging" / name).read_bytes()
            assert png.startswith(PNG_SIGNATURE)
            with Image.open(io.BytesIO(png)) as image:
                image.load()
                assert image.format == "PNG" and image.width >= 500

    def test_without_matplotlib_the_readme_says_why_there_are_no_plots(self, tmp_path, monkeypatch):
        # The plots are drawn in a fresh interpreter: make matplotlib unimportable there.
        fake = tmp_path / "no-matplotlib" / "matplotlib"
        fake.mkdir(parents=True)
        (fake / "__init__.py").write_text("raise ImportError('no matplotlib here')\n")
        monkeypatch.setenv("PYTHONPATH", str(fake.parent))

        written = write_card_files(tmp_path, _card())

        assert written == [README_FILE, CROISSANT_FILE]
        assert not any((tmp_path / name).exists() for name in PLOT_FILES)
        assert "No plots: matplotlib is not installed" in (tmp_path / README_FILE).read_text(encoding="utf-8")

    def test_dataset_json_is_left_to_the_build(self, tmp_path):
        written = write_card_files(tmp_path, _card())

        assert sorted(path.name for path in tmp_path.iterdir()) == sorted(written)
        assert "dataset.json" not in written


class TestPlots:
    def _decode(self, png: bytes) -> Image.Image:
        assert png.startswith(PNG_SIGNATURE)
        image = Image.open(io.BytesIO(png))
        image.load()
        return image

    def _colours(self, image: Image.Image) -> set[tuple[int, ...]]:
        return {colour[:3] for _, colour in image.convert("RGB").getcolors(maxcolors=1 << 20)}

    def test_class_balance_has_a_bar_colour_per_split(self):
        images = plots.render(_card()).images

        image = self._decode(images[plots.CLASS_BALANCE_FILE])
        assert {(0, 114, 178), (230, 159, 0), (0, 158, 115)} <= self._colours(image)  # one colour per split

    def test_fifty_classes_with_long_names_make_a_wider_plot(self):
        names = [f"a-rather-long-class-name-{index}" for index in range(50)]
        many = {
            "counts": {"per_split_class": {split: {name: 10 * i for i, name in enumerate(names)} for split in SPLITS}}
        }
        few = {"counts": {"per_split_class": {"train": {"cat": 3}}}}

        wide = self._decode(plots.render(many).images[plots.CLASS_BALANCE_FILE])
        narrow = self._decode(plots.render(few).images[plots.CLASS_BALANCE_FILE])
        assert wide.width > narrow.width and wide.width <= 2400

    def test_an_empty_dataset_still_gets_a_class_plot_and_nothing_else(self):
        images = plots.render({"counts": {"per_split_class": {"train": {}, "validation": {}}}}).images

        assert list(images) == [plots.CLASS_BALANCE_FILE]
        self._decode(images[plots.CLASS_BALANCE_FILE])

    def test_confidence_and_agreement_plots_come_from_the_card_data(self):
        card = _card()
        sections = [
            ("job-a", {"workers": [{"worker_id": "w1", "agreement": 0.9, "accuracy": 0.95}, {"worker_id": "w2"}]})
        ]

        images = plots.render(card, sections).images

        assert card["confidence"]["histogram"]  # the card has the data of all three plots
        assert list(images) == list(PLOT_FILES)
        self._decode(images[plots.AGREEMENT_FILE])
        assert plots.AGREEMENT_FILE not in plots.render(card, [("job-a", {"workers": [{"worker_id": "w2"}]})]).images

    def test_drawn_apart_they_are_the_plots_drawn_here(self):
        card = _card()
        sections = [("job-a", {"workers": [{"worker_id": "w1", "agreement": 0.9, "accuracy": 0.95}]})]

        here, apart = plots.render(card, sections), plots.render_apart(card, sections)

        assert list(apart.images) == list(here.images) == list(PLOT_FILES)
        assert all(self._decode(png).size == self._decode(here.images[name]).size for name, png in apart.images.items())

    def test_nothing_without_matplotlib(self, monkeypatch):
        monkeypatch.setitem(sys.modules, "matplotlib", None)

        result = plots.render({"counts": {"per_split_class": {"train": {"cat": 1}}}})
        assert result.images == {} and "matplotlib is not installed" in result.missing_reason


# ------------------------------------------------------------------ a built dataset's card

ATTRIBUTE = "animal"
CLASS_IDS = {"cat": 0, "dog": 1, "bird": 2}


def _output_line(number: int, name: str, human: bool, confidence: float) -> str:
    """An image-classification output line as Ground Truth writes it; the model's labels say "human-annotated": "no"."""
    return json.dumps(
        {
            "source-ref": f"s3://bucket/images/{number}.png",
            ATTRIBUTE: str(CLASS_IDS[name]),
            f"{ATTRIBUTE}-metadata": {
                "class-name": name,
                "confidence": confidence,
                "type": "groundtruth/image-classification",
                "job-name": "labeling-job/animals",
                "human-annotated": "yes" if human else "no",
                "creation-date": "2026-01-02T03:04:05.000000",
            },
        }
    )


def _mixed_manifest(path: Path, *, machine: bool = True) -> str:
    """60 objects: people label every third one (and all birds); the model the others, at 0.700 to 0.999."""
    lines = []
    for number in range(60):
        name = ("cat", "dog", "bird")[number % 3]
        human = not machine or name == "bird" or number % 4 == 0
        confidence = 0.0 if human else (700 + number * 5) / 1000  # one worker: Ground Truth writes 0.00
        lines.append(_output_line(number, name, human, confidence))
    path.write_text("".join(line + "\n" for line in lines))
    return str(path)


def _objects_per_split(version: Path, card: dict) -> dict[str, list[dict]]:
    """split -> the metadata of its objects, read back from the version's augmented manifests."""
    result: dict[str, list[dict]] = {}
    for split, paths in card["files"]["augmented-manifest"].items():
        for path in paths:
            lines = (version / path).read_text().splitlines()
            result.setdefault(split, []).extend(json.loads(line)[f"{ATTRIBUTE}-metadata"] for line in lines)
    return result


class TestBuiltCard:
    def test_human_and_machine_labels_per_class_and_split_and_the_machine_confidence(self, tmp_path):
        manifest = _mixed_manifest(tmp_path / "output.manifest")

        built = build_dataset([manifest], str(tmp_path / "ds"), DatasetSpec(name="animals"))

        version = tmp_path / "ds" / "v=1"
        card = json.loads((version / "dataset.json").read_text())
        assert card == built.card
        # Expected figures, from the objects each split's manifest holds.
        expected: dict[str, dict[str, dict[str, int]]] = {}
        confidences: dict[str, list[int]] = {}  # thousandths
        for split, objects in _objects_per_split(version, card).items():
            for metadata in objects:
                who = "human" if metadata["human-annotated"] == "yes" else "machine"
                pair = expected.setdefault(split, {}).setdefault(metadata["class-name"], {"human": 0, "machine": 0})
                pair[who] += 1
                if who == "machine":
                    confidences.setdefault(split, []).append(round(metadata["confidence"] * 1000))
        annotation = card["annotation"]
        machine_total = sum(len(values) for values in confidences.values())
        assert machine_total == 30  # of cats and dogs, number % 4 != 0
        assert annotation["machine"] == machine_total and annotation["human"] == 60 - machine_total
        assert annotation["per_split"] == {split: expected.get(split, {}) for split in card["splits"]["ratios"]}

        def figures(thousandths: list[int]) -> dict:
            ordered = sorted(thousandths)
            middle = ordered[(len(ordered) - 1) // 2]
            return {
                "min": ordered[0] / 1000,
                "median": (middle // 10 * 10 + 5) / 1000,  # the middle of its 0.01 bin
                "mean": pytest.approx(sum(ordered) / len(ordered) / 1000, abs=1e-6),
                "count": len(ordered),
            }

        confidence = annotation["machine_confidence"]
        everything = [value for values in confidences.values() for value in values]
        assert {key: confidence[key] for key in ("min", "median", "mean", "count")} == figures(everything)
        for split, values in confidences.items():
            assert confidence["per_split"][split] == figures(values)

        readme = (version / README_FILE).read_text(encoding="utf-8")
        train = expected["train"]
        cat = f"| cat | {train['cat']['human']} / {train['cat']['machine']} |"
        assert cat in readme
        assert f"| **all** | {machine_total} | {min(everything) / 1000:.3f} |" in readme

    def test_a_human_only_dataset_has_no_machine_section(self, tmp_path):
        manifest = _mixed_manifest(tmp_path / "output.manifest", machine=False)

        built = build_dataset([manifest], str(tmp_path / "ds"), DatasetSpec(name="animals"))

        assert built.card["annotation"] == {"human": 60, "machine": 0}
        readme = (tmp_path / "ds" / "v=1" / README_FILE).read_text(encoding="utf-8")
        assert "Human: 60 (100.0%)" in readme
        assert "by people / by the model" not in readme and "Confidence of the machine labels" not in readme

    def test_a_human_annotated_only_build_leaves_the_machine_labels_out_of_the_card(self, tmp_path):
        manifest = _mixed_manifest(tmp_path / "output.manifest")
        spec = DatasetSpec(name="animals", object_filter=ObjectFilter(human_annotated_only=True))

        built = build_dataset([manifest], str(tmp_path / "ds"), spec)

        card = built.card
        assert card["annotation"] == {"human": 30, "machine": 0}
        assert card["counts"]["total"] == 30 and card["counts"]["dropped"] == {"machine-annotated": 30}
        assert card["confidence"]["mean"] == 0.0  # only the people's (one worker: 0.00) are counted
        readme = (tmp_path / "ds" / "v=1" / README_FILE).read_text(encoding="utf-8")
        assert "Machine (automated data labeling): 0 (0.0%)" in readme
        assert "by people / by the model" not in readme and "Confidence of the machine labels" not in readme
