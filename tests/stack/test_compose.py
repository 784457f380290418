"""docker-compose.yaml against the native runner's mapping: fast, needs no PostgreSQL or Redis.

These keep the compose file and tests/stack in step even where the stack test is skipped:
every service maps to a process, the environment points at this run only, and the DAGs'
Variables are what the local AWS creates.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from tests.stack import compose

ENDPOINTS = compose.Endpoints(
    postgres_host="127.0.0.1",
    postgres_port=5432,
    postgres_user="postgres",
    database="gt_stack_test",
    redis_host="127.0.0.1",
    redis_port=6379,
    redis_db=9,
    api_port=18080,
    local_aws_port=15000,
)


@pytest.fixture
def document() -> dict[str, Any]:
    return copy.deepcopy(compose.load_compose())


def test_every_service_maps_to_a_native_process_or_the_machine(document):
    plan = compose.plan(ENDPOINTS, document)

    roles = {service.name: service.role for service in plan.services.values()} | plan.infrastructure
    assert set(roles) == set(document["services"])
    assert sorted(set(roles.values())) == sorted(compose.REQUIRED_ROLES)
    worker = plan.one("celery-worker")
    assert worker.argv[1:3] == ("celery", "worker")
    assert plan.one("api-server").argv[-4:] == ("--host", "127.0.0.1", "--port", "18080")
    local_aws = plan.one("local-aws").argv
    assert local_aws[1:4] == ("-m", "gt_provider.local", "serve")
    assert local_aws[local_aws.index("--port") + 1] == "15000"
    assert local_aws[local_aws.index("--host") + 1] == "127.0.0.1"


def test_environment_points_at_this_run_only(document):
    environment = compose.plan(ENDPOINTS, document).environment

    assert environment["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert environment["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == (
        "postgresql+psycopg2://postgres@127.0.0.1:5432/gt_stack_test"
    )
    assert environment["AIRFLOW__CELERY__RESULT_BACKEND"] == "db+postgresql://postgres@127.0.0.1:5432/gt_stack_test"
    assert environment["AIRFLOW__CELERY__BROKER_URL"] == "redis://127.0.0.1:6379/9"
    assert environment["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:18080/execution/"
    connection = json.loads(environment["AIRFLOW_CONN_AWS_DEFAULT"])
    assert connection["extra"]["endpoint_url"] == "http://127.0.0.1:15000"
    assert environment["PYTHONPATH"] == str(compose.REPO)
    assert not [value for value in environment.values() if "/opt/airflow" in value]


def test_the_dags_variables_are_what_the_local_aws_creates(document):
    from gt_provider.local.server import DEMO_BUCKET, DEMO_ROLE_ARN, DEMO_WORKTEAM_ARN

    environment = compose.plan(ENDPOINTS, document).environment

    assert environment["AIRFLOW_VAR_GT_BUCKET"] == DEMO_BUCKET
    assert environment["AIRFLOW_VAR_GT_ROLE_ARN"] == DEMO_ROLE_ARN
    assert environment["AIRFLOW_VAR_GT_WORKTEAM_ARN"] == DEMO_WORKTEAM_ARN
    assert environment["AIRFLOW_VAR_GT_TRAINING_IMAGE"].startswith("gt-provider-local/image-classification")
    assert environment["AIRFLOW_VAR_GT_INFERENCE_IMAGE"].startswith("gt-provider-local/image-classification")


def test_start_order_follows_depends_on(document):
    waves = [{service.role for service in wave} for wave in compose.plan(ENDPOINTS, document).start_waves()]

    assert waves == [
        {"local-aws", "init"},
        {"api-server", "scheduler", "dag-processor", "triggerer"},
        {"celery-worker"},
    ]


def test_long_running_services_have_health_checks(document):
    missing = [
        name
        for name, service in document["services"].items()
        if name != "airflow-init" and not (service or {}).get("healthcheck")
    ]

    assert missing == []


def test_an_airflow_service_with_an_unknown_command_fails_naming_it(document):
    document["services"]["airflow-flower"] = {**document["services"]["airflow-worker"], "command": "celery flower"}

    with pytest.raises(compose.ComposeMappingError, match=r"'airflow-flower' runs `celery flower`"):
        compose.plan(ENDPOINTS, document)


def test_a_service_of_another_image_fails_naming_it(document):
    document["services"]["proxy"] = {"image": "nginx:1.27"}

    with pytest.raises(compose.ComposeMappingError, match=r"service 'proxy' \(image 'nginx:1.27'\)"):
        compose.plan(ENDPOINTS, document)


def test_a_missing_service_fails_naming_its_role(document):
    del document["services"]["airflow-triggerer"]

    with pytest.raises(compose.ComposeMappingError, match="no service for: triggerer"):
        compose.plan(ENDPOINTS, document)


def test_a_compose_hostname_that_cannot_be_rewritten_fails_naming_the_variable(document):
    document["x-airflow-common"]["environment"]["AIRFLOW__CORE__SOMETHING"] = "http://airflow-init:1234/"

    with pytest.raises(compose.ComposeMappingError, match=r"AIRFLOW__CORE__SOMETHING: .*'airflow-init'"):
        compose.plan(ENDPOINTS, document)
