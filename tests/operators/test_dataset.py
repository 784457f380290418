"""GroundTruthBuildDatasetOperator against the local AWS: versions in S3 and the Asset event's extra."""

from __future__ import annotations

import json

import pytest
from airflow.sdk.execution_time.context import OutletEventAccessors

from gt_provider.datasets.errors import DatasetError, MalformedOutputManifestError
from gt_provider.operators.dataset import GroundTruthBuildDatasetOperator, dataset_asset
from tests.labeling_fixtures import labeling_request, put_classification_inputs


def _labeled(aws, name: str, count: int = 30) -> dict:
    """A completed labeling job's XCom, as GroundTruthLabelingJobOperator returns it (the fields used here)."""
    uris = put_classification_inputs(aws, n_objects=count)
    sagemaker = aws.client("sagemaker")
    sagemaker.create_labeling_job(**labeling_request(aws, uris, name=name, workers=2))
    job = sagemaker.describe_labeling_job(LabelingJobName=name)
    return {"job_name": name, "output_manifest_uri": job["LabelingJobOutput"]["OutputDatasetS3Uri"]}


def _operator(aws, manifests, **kwargs) -> GroundTruthBuildDatasetOperator:
    return GroundTruthBuildDatasetOperator(
        task_id="build_dataset",
        output_manifests=manifests,
        dataset_uri=f"s3://{aws.bucket}/datasets/animals",
        asset=dataset_asset("animals"),
        **kwargs,
    )


class TestGroundTruthBuildDatasetOperator:
    def test_template_fields(self):
        assert {"output_manifests", "dataset_uri", "ratios", "label_mapping", "min_confidence"} <= set(
            GroundTruthBuildDatasetOperator.template_fields
        )

    def test_asset_is_an_outlet_and_its_event_carries_version_uri_and_counts(self, aws):
        labeling = _labeled(aws, "animals-1")
        operator = _operator(aws, labeling, formats=["jsonl", "class-listing"])
        events = OutletEventAccessors()

        result = operator.execute({"outlet_events": events})

        asset = dataset_asset("animals")
        assert operator.outlets == [asset]
        assert events[asset].extra == result
        assert result["version"] == 1 and result["uri"] == f"s3://{aws.bucket}/datasets/animals/v=1/"
        assert sum(result["counts"].values()) == result["total"] == 30
        assert result["job_names"] == ["animals-1"] and result["reused"] is False
        card = json.loads(aws.get_text(result["card_uri"]))
        assert set(card["files"]) >= {"augmented-manifest", "jsonl", "class-listing"}

    def test_a_retry_reuses_the_version_and_the_next_job_makes_the_next_version(self, aws):
        first = _labeled(aws, "animals-1")
        operator = _operator(aws, [first])
        operator.execute({"outlet_events": OutletEventAccessors()})

        retried = operator.execute({"outlet_events": OutletEventAccessors()})
        second = _operator(aws, [_labeled(aws, "animals-2")]).execute({"outlet_events": OutletEventAccessors()})

        assert (retried["version"], retried["reused"]) == (1, True)
        assert second["version"] == 2 and sorted(second["job_names"]) == ["animals-1", "animals-2"]

    def test_bad_arguments_are_clear(self, aws):
        with pytest.raises(DatasetError, match="output_manifests must be s3:// URIs"):
            _operator(aws, ["/local/file"]).execute({"outlet_events": OutletEventAccessors()})
        with pytest.raises(DatasetError, match="dataset_uri must be an s3:// prefix"):
            GroundTruthBuildDatasetOperator(
                task_id="t", output_manifests="s3://b/o.manifest", dataset_uri="datasets/x"
            ).execute({})

    def test_a_malformed_output_manifest_fails_with_line_numbers(self, aws):
        uri = aws.put_text("output/broken.manifest", '{"source-ref": "s3://b/1.png"}\n{oops\n')

        with pytest.raises(MalformedOutputManifestError, match="line 1") as raised:
            _operator(aws, uri).execute({"outlet_events": OutletEventAccessors()})
        assert raised.value.line_numbers == [1, 2]


def test_the_old_name_still_imports_with_a_deprecation_warning():
    from gt_provider.operators import dataset

    with pytest.warns(DeprecationWarning, match="use GroundTruthBuildDatasetOperator"):
        from gt_provider.operators.dataset import BuildTrainingDatasetOperator

    assert BuildTrainingDatasetOperator is GroundTruthBuildDatasetOperator
    with pytest.raises(AttributeError):
        dataset.NoSuchOperator  # noqa: B018
