"""LabelingJobSpec: every bad argument is refused by name, before any AWS call."""

from __future__ import annotations

import pytest

from gt_provider.exceptions import InvalidLabelingJobConfigError, PublicWorkforceUnavailableError, UnknownTaskTypeError
from gt_provider.labeling_request import LabelingJobSpec, default_job_name

VALID = {
    "task_type": "ImageMultiClass",
    "job_name": "digits-1",
    "input_manifest_uri": "s3://bucket/in/input.manifest",
    "output_path": "s3://bucket/out",
    "labels": ("cat", "dog"),
    "workteam_arn": "arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/team",
    "role_arn": "arn:aws:iam::123456789012:role/GroundTruth",
    "short_instructions": "Pick the animal.",
}


@pytest.mark.parametrize(
    ("argument", "value", "message"),
    [
        ("job_name", "has_underscore", "job_name"),
        ("job_name", "x" * 64, "job_name"),
        ("input_manifest_uri", "/local/file.manifest", "input_manifest_uri"),
        ("output_path", "s3:/bucket", "output_path"),
        ("labels", ("only-one",), "labels"),
        ("labels", ("cat", "cat"), "repeated"),
        ("labels", "cat,dog", "list of non-empty strings"),
        ("label_attribute_name", "label-metadata", "label_attribute_name"),
        ("label_attribute_name", "source-ref", "label_attribute_name"),
        ("workteam_arn", "team", "workteam_arn"),
        ("role_arn", "arn:aws:iam::123456789012:user/me", "role_arn"),
        ("workers_per_object", 0, "workers_per_object must be from 1 to 9"),
        ("workers_per_object", 10, "workers_per_object must be from 1 to 9"),
        ("workers_per_object", "3", "workers_per_object must be an integer"),
        ("task_time_limit", 29, "task_time_limit must be from 30 to 28800"),
        ("task_time_limit", 28_801, "task_time_limit must be from 30 to 28800"),
        ("task_availability_lifetime", 59, "task_availability_lifetime"),
        ("task_availability_lifetime", 30 * 24 * 3600 + 1, "task_availability_lifetime"),
        ("max_concurrent_tasks", 5001, "max_concurrent_tasks must be from 1 to 5000"),
        ("task_title", "t" * 129, "task_title must be 1 to 128"),
        ("task_description", "d" * 256, "task_description must be 1 to 255"),
        ("task_keywords", ("a", "b", "c", "d", "e", "f"), "task_keywords"),
        ("task_keywords", ("bad-keyword",), "task_keywords"),
        ("tags", {f"k{i}": "v" for i in range(51)}, "tags"),
        ("short_instructions", "", "short_instructions"),
    ],
)
def test_bad_argument_names_itself(argument, value, message):
    with pytest.raises(InvalidLabelingJobConfigError, match=message):
        LabelingJobSpec(**{**VALID, argument: value})


def test_public_workforce_is_refused_with_the_reason():
    public = "arn:aws:sagemaker:us-east-1:394669845002:workteam/public-crowd/default"
    with pytest.raises(PublicWorkforceUnavailableError, match=r"Mechanical Turk.*closed on 2026-09-30"):
        LabelingJobSpec(**{**VALID, "workteam_arn": public})


def test_unknown_task_type_suggests_the_closest():
    with pytest.raises(UnknownTaskTypeError, match="ImageMultiClass"):
        LabelingJobSpec(**{**VALID, "task_type": "ImageMultiClas"})


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"task_type": "VerificationBoundingBox"}, "audit_of"),
        ({"task_type": "Custom"}, "pre_human_task_lambda_arn and annotation_consolidation_lambda_arn"),
        ({"task_type": "ImageMultiClassMultiLabel", "auto_labeling": True}, "auto_labeling is not available"),
        ({"stopping_conditions": {"MaxPercentageOfInputDatasetLabeled": 0}}, "MaxPercentageOfInputDatasetLabeled"),
        ({"stopping_conditions": {"MaxObjects": 3}}, "unknown key"),
        ({"content_classifiers": ("FreeOfAds",)}, "content_classifiers"),
        ({"vpc_config": {"SecurityGroupIds": [], "Subnets": ["s"]}}, "SecurityGroupIds"),
        ({"task_type": "VideoObjectDetection", "labels": ("a-very-long-label-name",)}, "16"),
        ({"task_type": "SemanticSegmentation", "label_attribute_name": "mask"}, "-ref"),
    ],
)
def test_task_type_specific_rules(overrides, message):
    with pytest.raises(InvalidLabelingJobConfigError, match=message):
        LabelingJobSpec(**{**VALID, **overrides})


def test_full_request_for_auto_labeling_with_overrides():
    spec = LabelingJobSpec(
        **{
            **VALID,
            "task_type": "BoundingBox",
            "auto_labeling": True,
            "volume_kms_key_id": "vol-key",
            "vpc_config": {"SecurityGroupIds": ["sg-1"], "Subnets": ["subnet-1"]},
            "kms_key_id": "out-key",
            "content_classifiers": ("FreeOfAdultContent",),
            "stopping_conditions": {"MaxHumanLabeledObjectCount": 500},
            "config_overrides": {
                "HumanTaskConfig": {"MaxConcurrentTaskCount": 7},
                "Tags": [{"Key": "a", "Value": "b"}],
            },
        }
    )
    request = spec.request("us-east-1")
    algorithms = request["LabelingJobAlgorithmsConfig"]
    assert algorithms["LabelingJobAlgorithmSpecificationArn"] == (
        "arn:aws:sagemaker:us-east-1:027400017018:labeling-job-algorithm-specification/object-detection"
    )
    assert algorithms["LabelingJobResourceConfig"] == {
        "VolumeKmsKeyId": "vol-key",
        "VpcConfig": {"SecurityGroupIds": ["sg-1"], "Subnets": ["subnet-1"]},
    }
    assert request["OutputConfig"]["KmsKeyId"] == "out-key"
    assert request["InputConfig"]["DataAttributes"] == {"ContentClassifiers": ["FreeOfAdultContent"]}
    assert request["StoppingConditions"] == {"MaxHumanLabeledObjectCount": 500}
    assert request["HumanTaskConfig"]["MaxConcurrentTaskCount"] == 7  # merged, not replacing HumanTaskConfig
    assert request["HumanTaskConfig"]["NumberOfHumanWorkersPerDataObject"] == 3
    assert request["Tags"] == [{"Key": "a", "Value": "b"}]


def test_ui_arn_types_use_the_human_task_ui_and_a_ref_attribute():
    spec = LabelingJobSpec(**{**VALID, "task_type": "VideoObjectTracking", "labels": ("car", "bike")})
    request = spec.request("eu-central-1")
    assert spec.label_attribute_name == "label-ref"
    assert request["HumanTaskConfig"]["UiConfig"] == {
        "HumanTaskUiArn": "arn:aws:sagemaker:eu-central-1:394669845002:human-task-ui/VideoObjectTracking"
    }
    assert not spec.uploads_template


def test_region_outside_the_table_says_how_to_pass_arns():
    from gt_provider.exceptions import UnsupportedRegionError

    with pytest.raises(UnsupportedRegionError, match="pre_human_task_lambda_arn"):
        LabelingJobSpec(**VALID).request("af-south-1")
    explicit = LabelingJobSpec(
        **VALID,
        pre_human_task_lambda_arn="arn:aws:lambda:af-south-1:111111111111:function:PRE-ImageMultiClass",
        annotation_consolidation_lambda_arn="arn:aws:lambda:af-south-1:111111111111:function:ACS-ImageMultiClass",
    ).request("af-south-1")
    assert explicit["HumanTaskConfig"]["PreHumanTaskLambdaArn"].startswith("arn:aws:lambda:af-south-1")


def test_request_uses_the_regions_built_in_lambdas():
    request = LabelingJobSpec(**VALID).request("eu-west-1")
    human = request["HumanTaskConfig"]
    assert human["PreHumanTaskLambdaArn"] == "arn:aws:lambda:eu-west-1:568282634449:function:PRE-ImageMultiClass"
    assert (
        human["AnnotationConsolidationConfig"]["AnnotationConsolidationLambdaArn"]
        == "arn:aws:lambda:eu-west-1:568282634449:function:ACS-ImageMultiClass"
    )
    assert human["UiConfig"]["UiTemplateS3Uri"] == "s3://bucket/out/_gt_provider/digits-1/worker-template.liquid.html"
    assert request["LabelCategoryConfigS3Uri"] == "s3://bucket/out/_gt_provider/digits-1/label-categories.json"


def test_default_job_name_is_stable_distinct_and_valid():
    name = default_job_name("a_very_long_dag_id_" * 5, "label_images", "scheduled__2026-11-22T00:00:00+00:00")
    assert name == default_job_name("a_very_long_dag_id_" * 5, "label_images", "scheduled__2026-11-22T00:00:00+00:00")
    assert name != default_job_name("a_very_long_dag_id_" * 5, "label_images", "scheduled__2026-11-23T00:00:00+00:00")
    assert name != default_job_name(
        "a_very_long_dag_id_" * 5, "label_images", "scheduled__2026-11-22T00:00:00+00:00", 0
    )
    LabelingJobSpec(**{**VALID, "job_name": name})  # valid for Ground Truth
    assert len(name) <= 63


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"vpc_config": {"SecurityGroupIds": ["sg-1"], "Subnets": ["subnet-1"]}}, "vpc_config"),
        ({"volume_kms_key_id": "key"}, "volume_kms_key_id"),
    ],
)
def test_automated_labeling_resources_without_automated_labeling_are_refused_not_dropped(overrides, named):
    with pytest.raises(InvalidLabelingJobConfigError, match=rf"{named}: Ground Truth uses it only for the automated"):
        LabelingJobSpec(**{**VALID, **overrides})


def test_the_request_carries_every_field_that_names_a_request_path():
    from gt_provider.labeling_request import JOB_ARGUMENTS

    spec = LabelingJobSpec(**{**VALID, "max_concurrent_tasks": 7, "kms_key_id": "key"})
    request = spec.request("us-east-1")
    for argument in JOB_ARGUMENTS:
        path = argument.metadata["request"]
        if path is None or getattr(spec, argument.name) is None:
            continue
        value = request
        for key in path:
            value = value[key]
        assert value == getattr(spec, argument.name), argument.name
