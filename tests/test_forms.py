"""The Trigger form's fields and the settings checks that the form cannot make."""

from __future__ import annotations

import pytest
from airflow.sdk.definitions.param import ParamValidationError

from gt_provider.forms import check_run_settings, labeling_params, settings_problems

PUBLIC = "arn:aws:sagemaker:us-east-1:394669845002:workteam/public-crowd/default"
PRIVATE = "arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/team"
ROLE = "arn:aws:iam::123456789012:role/GroundTruth"


def _params() -> dict:
    return labeling_params(
        task_types=["ImageMultiClass", "ImageMultiClassMultiLabel"],
        task_type_help="help",
        labels=["cat", "dog"],
        object_noun="image",
        max_objects=10,
        short_instructions="Pick one.",
        full_instructions="Pick the animal.",
        seed_help="seed",
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("workteam_arn", PUBLIC),
        ("workers_per_object", 0),
        ("workers_per_object", 10),
        ("labels", ["cat"]),
        ("labels", ["cat", "cat"]),
        ("task_type", "BoundingBox"),
        ("max_objects", 0),
        ("short_instructions", ""),
    ],
)
def test_the_form_refuses_what_a_schema_can_say(field, value):
    param = _params()[field]
    with pytest.raises(ParamValidationError):
        param.resolve(value)


def test_the_form_accepts_its_defaults_a_private_team_and_an_empty_workteam():
    params = _params()
    assert {name: param.resolve(param.value) for name, param in params.items()}["labels"] == ["cat", "dog"]
    assert params["workteam_arn"].resolve(PRIVATE) == PRIVATE
    assert params["workteam_arn"].resolve("") == ""
    assert params["workteam_arn"].resolve(None) is None


def test_settings_problems_name_the_field_or_variable_to_fix():
    problems = settings_problems(
        label_task_types=["ImageMultiClass"],
        labels=["cat", " "],
        form_workteam_arn="",
        workteam_arn=PUBLIC,
        role_arn="not-a-role",
        bucket="Bad_Bucket",
    )
    text = "\n".join(problems)
    assert "param 'labels': label names must not be blank" in text
    assert "Variable 'gt_workteam_arn' (param empty)" in text and "public" in text.lower()
    assert "Variable 'gt_role_arn'" in text and "Variable 'gt_bucket'" in text
    assert (
        settings_problems(
            label_task_types=["ImageMultiClass"],
            labels=["cat", "dog"],
            form_workteam_arn=PRIVATE,
            workteam_arn=PRIVATE,
            role_arn=ROLE,
            bucket="gt-bucket",
        )
        == []
    )


def test_the_backend_field_takes_the_backends_or_empty():
    param = _params()["backend"]
    assert [param.resolve(value) for value in (None, "ground_truth", "label_studio")] == [
        None,
        "ground_truth",
        "label_studio",
    ]
    with pytest.raises(ParamValidationError):
        param.resolve("labelbox")


@pytest.mark.parametrize(
    ("backend", "task_types", "expected"),
    [
        ("label_studio", ["BoundingBox"], []),
        (
            "label_studio",
            ["BoundingBox", "VerificationBoundingBox"],
            ["Label Studio cannot run VerificationBoundingBox"],
        ),
        ("labelbox", ["BoundingBox"], ["'labelbox' is not one of ground_truth, label_studio"]),
        ("ground_truth", ["BoundingBox", "VerificationBoundingBox"], []),
    ],
)
def test_settings_problems_name_what_the_backend_cannot_run(backend, task_types, expected):
    problems = settings_problems(
        label_task_types=["BoundingBox"],
        labels=["cat", "dog"],
        form_workteam_arn=PRIVATE,
        workteam_arn=PRIVATE,
        role_arn=ROLE,
        bucket="gt-bucket",
        backend=backend,
        backend_task_types=task_types,
    )
    assert len(problems) == len(expected)
    for problem, words in zip(problems, expected, strict=True):
        assert words in problem and "param 'backend'" in problem


def test_check_run_settings_fails_on_the_problems_and_says_what_runs_where(capsys):
    from airflow.providers.common.compat.sdk import AirflowFailException

    settings = {"form_workteam_arn": "", "workteam_arn": PRIVATE, "role_arn": ROLE, "bucket": "gt-bucket"}
    with pytest.raises(AirflowFailException, match=r"cannot start the jobs:\n- param 'labels'"):
        check_run_settings(label_task_types=["BoundingBox"], labels=["cat", " "], what="the jobs", **settings)

    check_run_settings(label_task_types=["BoundingBox"], labels=["cat", "dog"], **settings)
    assert capsys.readouterr().out == f"BoundingBox with labels ['cat', 'dog'] on {PRIVATE}\n"
    check_run_settings(label_task_types=["BoundingBox"], labels=["cat", "dog"], backend="label_studio", **settings)
    assert "on Label Studio (connection label_studio_default)" in capsys.readouterr().out
