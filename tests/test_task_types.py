"""Tests of the task-type registry, cross-checked against botocore's SageMaker model.

The registry generates every built-in ARN from a region table and a task table. A typo
in either would only show up as a failed CreateLabelingJob in a user's account, so the
whole generated set is compared, in both directions, with the ARNs that the installed
botocore documents for HumanTaskConfig, UiConfig and LabelingJobAlgorithmsConfig.
"""

from __future__ import annotations

import functools
import re

import botocore.loaders
import pytest

from gt_provider.exceptions import (
    InvalidLabelingJobConfigError,
    UnknownTaskTypeError,
    UnsupportedRegionError,
)
from gt_provider.task_types import (
    AUTO_LABELING_ACCOUNT,
    HUMAN_TASK_UI_ACCOUNT,
    LAMBDA_ACCOUNTS,
    TASK_TYPES,
    LabelAttributeRule,
    TaskFamily,
    TaskType,
    get_task_type,
    supported_regions,
    task_type_from_human_task_ui_arn,
    task_type_from_lambda_arn,
)

ALL_TYPES = list(TASK_TYPES.values())
LAMBDA_TYPES = [t for t in ALL_TYPES if t.lambda_name is not None]
UI_TYPES = [t for t in ALL_TYPES if t.human_task_ui_name is not None]
REGIONS = sorted(LAMBDA_ACCOUNTS)
UNSUPPORTED_REGION = "eu-north-1"
# Documented by botocore as the "Generative AI/Custom" pass-through pair. gt_provider's
# Custom type brings its own Lambdas, so the registry deliberately does not generate it.
NOT_A_TASK_TYPE_LAMBDA = "PassThrough"

_SHAPES_WITH_ARN_LISTS = (
    "HumanTaskConfig",
    "PreHumanTaskLambdaArn",
    "AnnotationConsolidationConfig",
    "AnnotationConsolidationLambdaArn",
    "UiConfig",
    "HumanTaskUiArn",
    "LabelingJobAlgorithmsConfig",
    "LabelingJobAlgorithmSpecificationArn",
)
_LAMBDA_ARN = re.compile(r"arn:aws:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9-]+")
# The model writes the region of region-independent ARNs as "aws-region" or "region".
_TEMPLATED_ARN = re.compile(
    r"arn:aws:sagemaker:(?:aws-region|region):(\d{12}):"
    r"(human-task-ui|labeling-job-algorithm-specification)/([A-Za-z0-9-]+)"
)


def ids(task_type: TaskType) -> str:
    return task_type.name


@functools.cache
def sagemaker_shapes() -> dict:
    return botocore.loaders.Loader().load_service_model("sagemaker", "service-2")["shapes"]


@functools.cache
def documentation_text() -> str:
    """The documentation of the ARN-bearing shapes and their members, tags stripped.

    Stripping tags turns ``<i>region</i>`` into ``region`` so templated ARNs parse.
    """
    shapes = sagemaker_shapes()
    docs = []
    for shape_name in _SHAPES_WITH_ARN_LISTS:
        shape = shapes.get(shape_name, {})
        docs.append(shape.get("documentation", ""))
        docs.extend(m.get("documentation", "") for m in shape.get("members", {}).values())
    return re.sub(r"<[^>]+>", "", " ".join(docs))


@functools.cache
def documented_lambda_arns() -> frozenset[str]:
    arns = frozenset(_LAMBDA_ARN.findall(documentation_text()))
    # Guard against a vacuous pass if botocore moves the lists elsewhere.
    assert len(arns) >= 2 * len(LAMBDA_ACCOUNTS) * len(LAMBDA_TYPES)
    return arns


@functools.cache
def documented_templated_arns(resource: str) -> frozenset[tuple[str, str]]:
    """(account, name) of every documented ``human-task-ui`` or algorithm ARN."""
    found = frozenset(
        (account, name) for account, kind, name in _TEMPLATED_ARN.findall(documentation_text()) if kind == resource
    )
    assert found, f"botocore documents no {resource} ARNs any more"
    return found


def _split_templated(arn: str, region: str) -> tuple[str, str]:
    prefix, name = arn.rsplit("/", 1)
    assert prefix.split(":")[3] == region
    return prefix.split(":")[4], name


# --- the whole ARN table against botocore ---------------------------------------------


@pytest.mark.parametrize("task_type", LAMBDA_TYPES, ids=ids)
def test_every_generated_lambda_arn_is_documented_by_botocore(
    task_type: TaskType,
) -> None:
    generated = {
        arn
        for region in REGIONS
        for arn in (
            task_type.pre_human_task_lambda_arn(region),
            task_type.annotation_consolidation_lambda_arn(region),
        )
    }
    assert generated - documented_lambda_arns() == set()


def test_every_documented_lambda_arn_is_generated_by_the_registry() -> None:
    generated = {
        arn
        for task_type in LAMBDA_TYPES
        for region in REGIONS
        for arn in (
            task_type.pre_human_task_lambda_arn(region),
            task_type.annotation_consolidation_lambda_arn(region),
        )
    }
    missing = documented_lambda_arns() - generated
    assert {arn.rsplit(":function:", 1)[1] for arn in missing} == {
        f"PRE-{NOT_A_TASK_TYPE_LAMBDA}",
        f"ACS-{NOT_A_TASK_TYPE_LAMBDA}",
    }


def test_documented_lambda_regions_and_accounts_match_the_region_table() -> None:
    documented = {tuple(arn.split(":")[3:5]) for arn in documented_lambda_arns()}
    assert documented == set(LAMBDA_ACCOUNTS.items())


@pytest.mark.parametrize("region", REGIONS)
def test_human_task_ui_arns_match_botocore_in_both_directions(region: str) -> None:
    generated = {_split_templated(t.human_task_ui_arn(region), region) for t in UI_TYPES}
    assert generated == documented_templated_arns("human-task-ui")


@pytest.mark.parametrize("region", REGIONS)
def test_auto_labeling_algorithm_arns_match_botocore_in_both_directions(
    region: str,
) -> None:
    generated = {
        _split_templated(t.auto_labeling_algorithm_arn(region), region) for t in ALL_TYPES if t.supports_auto_labeling
    }
    assert generated == documented_templated_arns("labeling-job-algorithm-specification")


def test_ref_suffix_rules_match_the_task_types_botocore_names() -> None:
    doc = sagemaker_shapes()["CreateLabelingJobRequest"]["members"]["LabelAttributeName"]["documentation"]
    named = set(re.findall(r"<code>([A-Za-z0-9]+)\)?</code>", doc)) & set(TASK_TYPES)
    must_not = {"VerificationSemanticSegmentation"}
    by_rule = {rule: {t.name for t in ALL_TYPES if t.label_attribute_rule is rule} for rule in LabelAttributeRule}
    assert by_rule[LabelAttributeRule.MUST_END_WITH_REF] == named - must_not
    assert by_rule[LabelAttributeRule.MUST_NOT_END_WITH_REF] == must_not


def test_frame_task_time_limit_is_the_one_botocore_documents() -> None:
    member = sagemaker_shapes()["HumanTaskConfig"]["members"]["TaskTimeLimitInSeconds"]
    doc = re.sub(r"<[^>]+>", "", member["documentation"])
    assert "8 hours (28,800 seconds)" in doc
    assert "video frame labeling jobs, the maximum is 30 days" in doc
    for task_type in UI_TYPES:
        expected = 28_800 if task_type.family is TaskFamily.TEXT else 30 * 24 * 3600
        assert task_type.max_task_time_limit_seconds == expected, task_type.name


# --- the table's facts ----------------------------------------------------------------


def test_registry_covers_every_built_in_task_type_and_custom() -> None:
    assert set(TASK_TYPES) == {
        "ImageMultiClass", "ImageMultiClassMultiLabel", "BoundingBox",
        "SemanticSegmentation", "VerificationBoundingBox", "AdjustmentBoundingBox",
        "VerificationSemanticSegmentation", "AdjustmentSemanticSegmentation",
        "TextMultiClass", "TextMultiClassMultiLabel", "NamedEntityRecognition",
        "VideoMultiClass", "VideoObjectDetection", "VideoObjectTracking",
        "AdjustmentVideoObjectDetection", "AdjustmentVideoObjectTracking",
        "3DPointCloudObjectDetection", "3DPointCloudObjectTracking",
        "3DPointCloudSemanticSegmentation", "Adjustment3DPointCloudObjectDetection",
        "Adjustment3DPointCloudObjectTracking",
        "Adjustment3DPointCloudSemanticSegmentation", "Custom",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("name", "output_type"),
    [
        ("ImageMultiClass", "groundtruth/image-classification"),
        ("ImageMultiClassMultiLabel", "groundtruth/image-classification-multilabel"),
        ("BoundingBox", "groundtruth/object-detection"),
        ("AdjustmentBoundingBox", "groundtruth/object-detection"),
        ("VerificationBoundingBox", "groundtruth/label-verification"),
        ("SemanticSegmentation", "groundtruth/semantic-segmentation"),
        ("AdjustmentSemanticSegmentation", "groundtruth/semantic-segmentation"),
        ("VerificationSemanticSegmentation", "groundtruth/label-verification"),
        ("TextMultiClass", "groundtruth/text-classification"),
        ("TextMultiClassMultiLabel", "groundtruth/text-classification-multilabel"),
        ("NamedEntityRecognition", "groundtruth/text-span"),
        ("VideoObjectDetection", "groundtruth/video-object-detection"),
        ("AdjustmentVideoObjectTracking", "groundtruth/video-object-tracking"),
        ("3DPointCloudObjectDetection", "groundtruth/lidar_object_detection"),
        ("3DPointCloudObjectTracking", "groundtruth/lidar_object_tracking"),
        (
            "Adjustment3DPointCloudSemanticSegmentation",
            "groundtruth/lidar_single_frame_semantic_segmentation",
        ),
        ("Custom", None),
    ],
)
def test_output_type_is_what_the_output_manifest_metadata_says(name, output_type) -> None:
    assert TASK_TYPES[name].output_type == output_type


def test_only_four_types_support_automated_labeling() -> None:
    supported = {t.name: t.auto_labeling_algorithm for t in ALL_TYPES if t.supports_auto_labeling}
    assert supported == {
        "ImageMultiClass": "image-classification",
        "TextMultiClass": "text-classification",
        "BoundingBox": "object-detection",
        "SemanticSegmentation": "semantic-segmentation",
    }
    assert TASK_TYPES["BoundingBox"].auto_labeling_algorithm_arn("us-west-2") == (
        "arn:aws:sagemaker:us-west-2:027400017018:labeling-job-algorithm-specification/object-detection"
    )
    assert AUTO_LABELING_ACCOUNT == "027400017018"


@pytest.mark.parametrize("task_type", [t for t in ALL_TYPES if t.is_review], ids=ids)
def test_adjustment_types_use_the_worker_ui_of_their_base_type(
    task_type: TaskType,
) -> None:
    base = TASK_TYPES[re.sub(r"^(Adjustment|Verification)", "", task_type.name)]
    assert not base.is_review
    assert task_type.human_task_ui_name == base.human_task_ui_name
    assert task_type.family is base.family


def test_only_video_frame_and_3d_review_jobs_need_an_audit_label_attribute() -> None:
    needing = {t.name for t in ALL_TYPES if t.requires_audit_label_attribute_name}
    assert needing == {
        "AdjustmentVideoObjectDetection",
        "AdjustmentVideoObjectTracking",
        "Adjustment3DPointCloudObjectDetection",
        "Adjustment3DPointCloudObjectTracking",
        "Adjustment3DPointCloudSemanticSegmentation",
    }


def test_semantic_segmentation_image_jobs_have_the_smaller_dataset_quota() -> None:
    small = {t.name for t in ALL_TYPES if t.max_dataset_objects == 20_000}
    assert small == {
        "SemanticSegmentation",
        "AdjustmentSemanticSegmentation",
        "VerificationSemanticSegmentation",
    }
    assert {t.max_dataset_objects for t in ALL_TYPES if t.name not in small} == {100_000}


# --- label attribute names ------------------------------------------------------------


@pytest.mark.parametrize("task_type", ALL_TYPES, ids=ids)
@pytest.mark.parametrize(
    ("name", "reason_mentions"),
    [
        ("", "1-127"),
        ("a" * 128, "1-127"),
        ("-labels", "letters, digits and hyphens"),
        ("labels-", "letters, digits and hyphens"),
        ("my_labels", "letters, digits and hyphens"),
        ("my labels", "letters, digits and hyphens"),
        ("labels-metadata", "-metadata"),
        ("labels-ref-metadata", "-metadata"),
        ("source", "reserved"),
        ("source-ref", "reserved"),
    ],
)
def test_generic_label_attribute_rules_apply_to_every_type(
    task_type: TaskType, name: str, reason_mentions: str
) -> None:
    reason = task_type.check_label_attribute_name(name)
    assert reason is not None
    assert reason_mentions in reason


@pytest.mark.parametrize("task_type", ALL_TYPES, ids=ids)
def test_label_attribute_ref_suffix_follows_the_type_rule(task_type: TaskType) -> None:
    plain = task_type.check_label_attribute_name("car--labels2")
    with_ref = task_type.check_label_attribute_name("car-labels-ref")
    longest = task_type.check_label_attribute_name("a" * 123 + "-ref")
    rule = task_type.label_attribute_rule
    if rule is LabelAttributeRule.MUST_END_WITH_REF:
        assert plain is not None
        assert "must end in '-ref'" in plain
        assert with_ref is None
        assert longest is None
    elif rule is LabelAttributeRule.MUST_NOT_END_WITH_REF:
        assert plain is None
        assert with_ref is not None
        assert "must not end in '-ref'" in with_ref
    else:
        assert plain is None
        assert with_ref is None
        assert longest is None


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("SemanticSegmentation", LabelAttributeRule.MUST_END_WITH_REF),
        ("AdjustmentSemanticSegmentation", LabelAttributeRule.MUST_END_WITH_REF),
        ("VerificationSemanticSegmentation", LabelAttributeRule.MUST_NOT_END_WITH_REF),
        ("VideoObjectTracking", LabelAttributeRule.MUST_END_WITH_REF),
        ("AdjustmentVideoObjectDetection", LabelAttributeRule.MUST_END_WITH_REF),
        ("3DPointCloudObjectTracking", LabelAttributeRule.MUST_END_WITH_REF),
        (
            "Adjustment3DPointCloudSemanticSegmentation",
            LabelAttributeRule.MUST_END_WITH_REF,
        ),
        ("3DPointCloudObjectDetection", LabelAttributeRule.ANY),
        ("BoundingBox", LabelAttributeRule.ANY),
        ("Custom", LabelAttributeRule.ANY),
    ],
)
def test_ref_rule_of_representative_types(name: str, rule: LabelAttributeRule) -> None:
    assert TASK_TYPES[name].label_attribute_rule is rule


# --- label categories -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "min_labels", "max_labels"),
    [
        ("ImageMultiClass", 2, None),
        ("ImageMultiClassMultiLabel", 2, 50),
        ("TextMultiClass", 2, None),
        ("TextMultiClassMultiLabel", 2, 50),
        ("BoundingBox", 1, 50),
        ("SemanticSegmentation", 1, None),
        ("NamedEntityRecognition", 1, None),
        ("VideoMultiClass", 1, None),
        ("VideoObjectDetection", 1, 30),
        ("Adjustment3DPointCloudObjectTracking", 1, 30),
        ("Custom", 0, None),
    ],
)
def test_label_count_limits(name: str, min_labels: int, max_labels: int | None) -> None:
    task_type = TASK_TYPES[name]
    assert task_type.check_label_count(min_labels) is None
    if min_labels > 0:
        reason = task_type.check_label_count(min_labels - 1)
        assert reason is not None
        assert f"at least {min_labels}" in reason
    if max_labels is None:
        assert task_type.check_label_count(10_000) is None
    else:
        assert task_type.check_label_count(max_labels) is None
        reason = task_type.check_label_count(max_labels + 1)
        assert reason is not None
        assert f"at most {max_labels}" in reason


@pytest.mark.parametrize("task_type", UI_TYPES, ids=ids)
def test_video_frame_and_3d_labels_are_at_most_16_characters(
    task_type: TaskType,
) -> None:
    if task_type.name == "NamedEntityRecognition":
        assert task_type.check_label_name("a" * 200) is None
        return
    assert task_type.label_config_document_version == "2020-03-01"
    assert task_type.check_label_name("pedestrian-adult") is None  # 16 characters
    reason = task_type.check_label_name("pedestrian-adults")
    assert reason is not None
    assert "at most 16" in reason


# --- lookups and errors ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("typo", "suggestion"),
    [("BoundingBoxes", "BoundingBox"), ("boundingbox", "BoundingBox"),
     ("3DPointCloudObjectDetect", "3DPointCloudObjectDetection")],
)  # fmt: skip
def test_unknown_task_type_suggests_the_closest_and_lists_all(typo: str, suggestion: str) -> None:
    with pytest.raises(UnknownTaskTypeError) as excinfo:
        get_task_type(typo)
    message = str(excinfo.value)
    assert f"Did you mean {suggestion!r}?" in message
    assert all(name in message for name in TASK_TYPES)
    assert isinstance(excinfo.value, InvalidLabelingJobConfigError)


def test_unknown_task_type_without_a_close_match_makes_no_suggestion() -> None:
    with pytest.raises(UnknownTaskTypeError, match="Unknown Ground Truth task type 'qqq'") as e:
        get_task_type("qqq")
    assert "Did you mean" not in str(e.value)


def test_get_task_type_returns_the_registered_row() -> None:
    assert get_task_type("NamedEntityRecognition") is TASK_TYPES["NamedEntityRecognition"]


def test_supported_regions_are_the_twelve_published_ones() -> None:
    assert supported_regions() == sorted(LAMBDA_ACCOUNTS)
    assert len(supported_regions()) == 12
    assert LAMBDA_ACCOUNTS["us-west-2"] == "081040173940"


_ARN_METHODS = (
    "pre_human_task_lambda_arn",
    "annotation_consolidation_lambda_arn",
    "human_task_ui_arn",
    "auto_labeling_algorithm_arn",
)


@pytest.mark.parametrize("method", _ARN_METHODS)
def test_unsupported_region_names_the_regions_and_the_explicit_arguments(
    method: str,
) -> None:
    task_type = next(t for t in ALL_TYPES if getattr(t, method)("us-east-1") is not None)
    with pytest.raises(UnsupportedRegionError) as excinfo:
        getattr(task_type, method)(UNSUPPORTED_REGION)
    message = str(excinfo.value)
    assert repr(UNSUPPORTED_REGION) in message
    assert all(region in message for region in LAMBDA_ACCOUNTS)
    for argument in (
        "pre_human_task_lambda_arn",
        "annotation_consolidation_lambda_arn",
        "human_task_ui_arn",
    ):
        assert argument in message


@pytest.mark.parametrize("method", _ARN_METHODS)
def test_custom_jobs_bring_their_own_arns_in_any_region(method: str) -> None:
    assert getattr(TASK_TYPES["Custom"], method)(UNSUPPORTED_REGION) is None


def test_template_types_have_no_human_task_ui_arn() -> None:
    assert TASK_TYPES["BoundingBox"].human_task_ui_arn("us-east-1") is None
    assert TASK_TYPES["NamedEntityRecognition"].human_task_ui_arn("eu-west-1") == (
        f"arn:aws:sagemaker:eu-west-1:{HUMAN_TASK_UI_ACCOUNT}:human-task-ui/NamedEntityRecognition"
    )


# --- parsing ARNs back ----------------------------------------------------------------


@pytest.mark.parametrize("task_type", LAMBDA_TYPES, ids=ids)
def test_lambda_arn_round_trip_in_every_region(task_type: TaskType) -> None:
    for region in REGIONS:
        for arn in (
            task_type.pre_human_task_lambda_arn(region),
            task_type.annotation_consolidation_lambda_arn(region),
        ):
            assert task_type_from_lambda_arn(arn) is task_type, arn


@pytest.mark.parametrize(
    "arn",
    [
        # a user's own function with a built-in name is a custom workflow
        "arn:aws:lambda:us-east-1:123456789012:function:PRE-BoundingBox",
        # the right account but another region's
        "arn:aws:lambda:us-east-2:432418664414:function:PRE-BoundingBox",
        f"arn:aws:lambda:us-east-1:432418664414:function:PRE-{NOT_A_TASK_TYPE_LAMBDA}",
        "arn:aws:lambda:us-east-1:432418664414:function:PRE-NoSuchTask",
        "arn:aws:lambda:us-east-1:432418664414:function:POST-BoundingBox",
        "arn:aws:lambda:us-east-1:432418664414:function:PRE-BoundingBox:1",
        "not an arn",
    ],
)
def test_lambda_arns_that_are_not_built_in_give_none(arn: str) -> None:
    assert task_type_from_lambda_arn(arn) is None


@pytest.mark.parametrize("task_type", UI_TYPES, ids=ids)
def test_human_task_ui_arn_resolves_to_the_base_type(task_type: TaskType) -> None:
    base_name = re.sub(r"^Adjustment", "", task_type.name)
    for region in REGIONS:
        found = task_type_from_human_task_ui_arn(task_type.human_task_ui_arn(region))
        assert found is TASK_TYPES[base_name]


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:sagemaker:us-east-1:123456789012:human-task-ui/VideoObjectTracking",
        "arn:aws:sagemaker:us-east-1:394669845002:human-task-ui/NoSuchUi",
        "arn:aws:sagemaker:us-east-1:394669845002:workteam/public-crowd/default",
    ],
)
def test_other_human_task_ui_arns_give_none(arn: str) -> None:
    assert task_type_from_human_task_ui_arn(arn) is None
