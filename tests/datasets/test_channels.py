"""Training channels from a dataset card: what SageMakerTrainingOperator receives as InputDataConfig."""

from __future__ import annotations

import pytest

from gt_provider.datasets.channels import attribute_names, training_channels
from gt_provider.datasets.errors import DatasetError
from gt_provider.datasets.exporters import AugmentedManifestExporter
from gt_provider.datasets.records import ClassLabel, LabeledObject, LabelKind

URI = "s3://bucket/datasets/digits/v=3/"


def card(per_split=None, files=None, **extra):
    per_split = {"train": 8, "validation": 1, "test": 1} if per_split is None else per_split
    if files is None:
        files = {
            "augmented-manifest": {
                split: [f"augmented-manifest/{split}.manifest"] for split, n in per_split.items() if n
            },
            "jsonl": {split: [f"jsonl/{split}.jsonl"] for split, n in per_split.items() if n},
        }
    return {
        "uri": URI,
        "files": files,
        "source_field": "source-ref",
        "label_attribute": "digit",
        "counts": {"per_split": per_split},
        **extra,
    }


def test_one_pipe_mode_augmented_manifest_channel_per_split():
    channels = training_channels(card())
    assert [channel["ChannelName"] for channel in channels] == ["train", "validation", "test"]
    assert channels[0] == {
        "ChannelName": "train",
        "DataSource": {
            "S3DataSource": {
                "S3DataType": "AugmentedManifestFile",
                "S3Uri": "s3://bucket/datasets/digits/v=3/augmented-manifest/train.manifest",
                "S3DataDistributionType": "FullyReplicated",
                "AttributeNames": ["source-ref", "digit"],
            }
        },
        "ContentType": "application/x-recordio",
        "RecordWrapperType": "RecordIO",
        "InputMode": "Pipe",
    }


def test_channels_from_what_the_exporter_wrote(tmp_path):
    """The card lists exactly what AugmentedManifestExporter.close() returned."""
    exporter = AugmentedManifestExporter(tmp_path / "augmented-manifest", ["train", "validation", "test"], ["0", "1"])
    for index, split in enumerate(["train", "train", "validation"]):
        raw = {"source-ref": f"s3://b/{index}.png", "digit": "1", "digit-metadata": {"class-name": "1"}}
        obj = LabeledObject(
            line=index + 1,
            source=raw["source-ref"],
            source_field="source-ref",
            attribute="digit",
            output_type="groundtruth/image-classification",
            kind=LabelKind.CLASS,
            job_name="labeling-job/digits",
            human_annotated=True,
            creation_date="2026-07-01T00:00:00",
            classes=(ClassLabel(1, "1"),),
            raw=raw,
        )
        exporter.write(split, obj)
    files = {"augmented-manifest": exporter.close()}
    channels = training_channels(card({"train": 2, "validation": 1, "test": 0}, files=files))
    assert [channel["DataSource"]["S3DataSource"]["S3Uri"] for channel in channels] == [
        URI + "augmented-manifest/train.manifest",
        URI + "augmented-manifest/validation.manifest",
    ]


def test_an_empty_split_gets_no_channel():
    channels = training_channels(card({"train": 5, "validation": 0, "test": 2}))
    assert [channel["ChannelName"] for channel in channels] == ["train", "test"]


def test_a_required_split_without_objects_is_an_error_before_any_training_job():
    empty_validation = card({"train": 20, "validation": 0, "test": 0})
    with pytest.raises(DatasetError, match=r"no object in 'validation' .*'train': 20.*needs its 'validation' channel"):
        training_channels(empty_validation, splits=("train", "validation"), required=("train", "validation"))
    assert [c["ChannelName"] for c in training_channels(empty_validation, splits=("train", "validation"))] == ["train"]


def test_splits_choose_and_order_the_channels():
    channels = training_channels(card(), splits=["validation", "train"])
    assert [channel["ChannelName"] for channel in channels] == ["validation", "train"]
    assert [c["ChannelName"] for c in training_channels(card(), splits=["test"])] == ["test"]


def test_an_unknown_split_is_an_error():
    with pytest.raises(DatasetError, match=r"has no split\(s\) \['holdout'\]"):
        training_channels(card(), splits=["train", "holdout"])


def test_file_mode_and_other_attribute_names():
    channels = training_channels(card(), input_mode="File", attribute_names=["source-ref", "digit", "weight"])
    assert {channel["InputMode"] for channel in channels} == {"File"}
    assert channels[0]["DataSource"]["S3DataSource"]["AttributeNames"] == ["source-ref", "digit", "weight"]


def test_an_input_mode_that_cannot_read_a_manifest_is_refused():
    with pytest.raises(DatasetError, match="FastFile"):
        training_channels(card(), input_mode="FastFile")


def test_attribute_names_put_the_object_before_its_label():
    assert attribute_names(card()) == ["source-ref", "digit"]
    text = card(source_field="source", label_attribute="sentiment")
    assert attribute_names(text) == ["source", "sentiment"]
    mask = card(label_attribute="road-ref")
    assert training_channels(mask)[0]["DataSource"]["S3DataSource"]["AttributeNames"] == ["source-ref", "road-ref"]


def test_a_root_without_trailing_slash_is_joined_correctly():
    channels = training_channels(card(uri=URI.rstrip("/")))
    assert channels[0]["DataSource"]["S3DataSource"]["S3Uri"] == URI + "augmented-manifest/train.manifest"


def test_a_dataset_without_an_augmented_manifest_cannot_feed_training():
    only_jsonl = card(files={"jsonl": {"train": ["jsonl/train.jsonl"]}})
    with pytest.raises(DatasetError, match=r"no 'augmented-manifest' files \(formats: jsonl\)"):
        training_channels(only_jsonl)


def test_a_dataset_with_nothing_in_train_cannot_feed_training():
    with pytest.raises(DatasetError, match=r"no object in 'train'"):
        training_channels(card({"train": 0, "validation": 3, "test": 0}))
    # Asking only for the evaluation splits is fine.
    channels = training_channels(card({"train": 0, "validation": 3, "test": 0}), splits=["validation"])
    assert [channel["ChannelName"] for channel in channels] == ["validation"]
