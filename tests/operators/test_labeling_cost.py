"""The labeling operator's cost: the estimate and budget before a job exists, the actual cost after it ends."""

from __future__ import annotations

import json

import pytest

from gt_provider import pricing
from gt_provider.exceptions import InvalidLabelingJobConfigError, InvalidPricingError, LabelingBudgetExceededError
from gt_provider.operators.labeling import PRICING_VARIABLE, GroundTruthLabelingJobOperator
from tests.labeling_fixtures import put_classification_inputs, put_ticket_inputs
from tests.operators import test_labeling
from tests.operators.test_labeling import _context, _operator

#: test_labeling's 9-object manifest (with reference answers), the fixture its operator tests use.
manifest = test_labeling.manifest


def _jobs(aws) -> list[str]:
    return [job["LabelingJobName"] for job in aws.client("sagemaker").list_labeling_jobs()["LabelingJobSummaryList"]]


def _output_objects(aws) -> list[str]:
    listing = aws.client("s3").list_objects_v2(Bucket=aws.bucket, Prefix="labeling/output/")
    return [item["Key"] for item in listing.get("Contents", [])]


def _measured_worker_time(aws, job_name: str) -> pricing.WorkerTime:
    """The workers' answers and seconds, read straight from S3 (not through the operator's code)."""
    s3 = aws.client("s3")
    prefix = f"labeling/output/{job_name}/annotations/worker-response/"
    answers, seconds = 0, 0.0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=aws.bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            document = json.loads(s3.get_object(Bucket=aws.bucket, Key=item["Key"])["Body"].read())
            answers += len(document["answers"])
            seconds += sum(answer["timeSpentInSeconds"] for answer in document["answers"])
    return pricing.WorkerTime(answers=answers, seconds=seconds)


def _expected_estimate(aws, objects: int, **overrides) -> pricing.CostEstimate:
    arguments = {
        "objects": objects,
        "workers_per_object": 3,
        "workteam_arn": aws.workteam_arn,
        "task_type": "ImageMultiClass",
        **overrides,
    }
    return pricing.estimate(pricing.load_pricing(), **arguments)


class TestArguments:
    def test_cost_arguments_are_templated_and_documented(self):
        fields = set(GroundTruthLabelingJobOperator.template_fields)
        assert {"max_cost_usd", "pricing", "objects_labeled_this_month"} <= fields
        assert GroundTruthLabelingJobOperator.template_fields_renderers["pricing"] == "json"
        for name in ("max_cost_usd", "pricing", "objects_labeled_this_month"):
            assert f":param {name}:" in GroundTruthLabelingJobOperator.__doc__
        assert '"cost"' in GroundTruthLabelingJobOperator.__doc__

    def test_max_cost_as_text_is_refused_before_any_job(self, aws, manifest):
        with pytest.raises(InvalidLabelingJobConfigError, match="render_template_as_native_obj"):
            _operator(aws, manifest, max_cost_usd="10").execute(_context())
        assert _jobs(aws) == []


class TestBudget:
    def test_refusal_creates_nothing_and_names_both_figures(self, aws, manifest):
        high = _expected_estimate(aws, 9).high_usd
        with pytest.raises(LabelingBudgetExceededError) as refused:
            _operator(aws, manifest, max_cost_usd=1.0).execute(_context())
        message = str(refused.value)
        assert f"could cost up to ${high:,.2f}" in message
        assert "max_cost_usd=$1.00" in message
        assert "9 objects x 3 workers" in message
        assert _jobs(aws) == []
        assert _output_objects(aws) == []  # not even the label configuration was uploaded
        # Failed, not retried: a retry would make the same estimate and refuse it again.
        from airflow.providers.common.compat.sdk import AirflowFailException

        assert isinstance(refused.value, AirflowFailException)

    def test_with_automated_labeling_the_ceiling_counts_not_the_best_case(self, aws):
        uris = put_classification_inputs(aws, n_objects=1300)
        expected = _expected_estimate(aws, 1300, auto_labeling=True)
        between = (expected.low_usd + expected.high_usd) / 2
        assert expected.low_usd < between < expected.high_usd
        with pytest.raises(LabelingBudgetExceededError, match=f"could cost up to \\${expected.high_usd:,.2f}"):
            _operator(aws, uris["manifest"], auto_labeling=True, max_cost_usd=between).execute(_context())
        assert _jobs(aws) == []

    def test_reattaching_to_a_job_that_exists_is_not_refused(self, aws, manifest, capsys):
        first = _operator(aws, manifest).execute(_context())

        again = _operator(aws, manifest, max_cost_usd=0.01).execute(_context())

        assert again["job_name"] == first["job_name"]
        assert again["status"] == "Completed"
        assert _jobs(aws) == [first["job_name"]]
        captured = capsys.readouterr()
        assert "exists already (an earlier try created it" in captured.out + captured.err

    def test_a_new_timestamped_job_is_refused(self, aws, manifest):
        first = _operator(aws, manifest).execute(_context())
        with pytest.raises(LabelingBudgetExceededError):
            _operator(aws, manifest, max_cost_usd=0.01, action_if_job_exists="timestamp").execute(_context())
        assert _jobs(aws) == [first["job_name"]]

    def test_within_budget_the_job_runs(self, aws, manifest):
        high = _expected_estimate(aws, 9).high_usd
        result = _operator(aws, manifest, max_cost_usd=high).execute(_context())  # the limit is inclusive
        assert result["status"] == "Completed"


class TestPricingOverrides:
    def test_variable_then_argument(self, aws, manifest, monkeypatch):
        aws.configure(speed=1, manual_clock=True)
        monkeypatch.setenv(
            f"AIRFLOW_VAR_{PRICING_VARIABLE.upper()}",
            json.dumps({"private_workforce": {"usd_per_hour": 60}, "seconds_per_task": {"image": 120}}),
        )
        argument = {"private_workforce": {"usd_per_hour": 40}}

        result = _operator(aws, manifest, pricing=argument, wait_for_completion=False).execute(_context())

        estimate = result["cost"]["estimate_usd"]
        assert estimate["people_usd"] == pytest.approx(9 * 3 * 120 / 3600 * 40)  # seconds from the Variable
        assert result["cost"]["actual_usd"] is None  # not ended yet

    def test_bad_variable_fails_before_any_job(self, aws, manifest, monkeypatch):
        monkeypatch.setenv(f"AIRFLOW_VAR_{PRICING_VARIABLE.upper()}", json.dumps({"vendor": {"usd_per_tsk": {}}}))
        with pytest.raises(
            InvalidPricingError, match=r"Variable gt_provider_pricing: unknown key 'vendor.usd_per_tsk'"
        ):
            _operator(aws, manifest).execute(_context())
        assert _jobs(aws) == []

    def test_bad_argument_fails_before_any_job(self, aws, manifest):
        with pytest.raises(InvalidPricingError, match=r"the pricing argument: private_workforce\.usd_per_hour"):
            _operator(aws, manifest, pricing={"private_workforce": {"usd_per_hour": -5}}).execute(_context())
        assert _jobs(aws) == []


class TestActualCost:
    def _check_cost(self, aws, result: dict) -> None:
        cost = result["cost"]
        json.dumps(result)  # it goes to XCom
        counters = result["label_counters"]
        measured = _measured_worker_time(aws, result["job_name"])
        assert measured.seconds > 0
        assert cost["worker_seconds"] == pytest.approx(measured.seconds)
        prices = pricing.load_pricing()
        fee = pricing.service_fee(prices, counters["TotalLabeled"])
        people = measured.seconds / 3600 * prices["private_workforce"]["usd_per_hour"]
        assert cost["actual_breakdown_usd"]["service_fee"] == pytest.approx(fee, abs=1e-4)
        assert cost["actual_breakdown_usd"]["people"] == pytest.approx(people, abs=1e-4)
        assert cost["actual_usd"] == pytest.approx(fee + people, abs=1e-3)
        assert cost["saved_usd"] == pytest.approx(cost["all_human_usd"] - cost["actual_usd"], abs=1e-3)
        assert cost["estimate_usd"]["high_usd"] == pytest.approx(_expected_estimate(aws, 9).high_usd, abs=1e-4)
        assert (cost["currency"], cost["pricing_source"]) == ("USD", prices["source"])
        assert cost["pricing_as_of"] == prices["as_of"]

    def test_completed_job_reports_its_cost(self, aws, manifest, capsys):
        result = _operator(aws, manifest).execute(_context())

        assert result["status"] == "Completed"
        self._check_cost(aws, result)
        assert result["label_counters"]["MachineLabeled"] == 0  # no automated labeling: nothing to save
        assert result["cost"]["saved_usd"] == 0
        captured = capsys.readouterr()
        assert f"${result['cost']['actual_usd']:,.2f}" in captured.out + captured.err

    def test_deferred_job_reports_the_estimate_made_before_it_was_created(self, aws, manifest):
        from airflow.providers.common.compat.sdk import TaskDeferred

        aws.configure(speed=1, manual_clock=True)
        operator = _operator(aws, manifest, deferrable=True)
        with pytest.raises(TaskDeferred) as deferred:
            operator.execute(_context())
        aws.advance(3600)
        event = {"status": "success", "job_name": deferred.value.trigger.job_name}

        result = operator.execute_complete(_context(), event, **deferred.value.kwargs)

        assert deferred.value.kwargs["estimate"]["objects"] == 9
        assert result["cost"]["estimate_usd"] == deferred.value.kwargs["estimate"]
        self._check_cost(aws, result)

    def test_automated_job_reports_what_automation_saved(self, aws):
        from include.sample_text import TICKET_CLASSES

        tickets = put_ticket_inputs(aws, n_objects=1300)
        result = _operator(
            aws, tickets["manifest"], task_type="TextMultiClass", labels=list(TICKET_CLASSES), auto_labeling=True
        ).execute(_context())

        counters, cost = result["label_counters"], result["cost"]
        assert counters["MachineLabeled"] > 0, counters
        prices = pricing.load_pricing()
        measured = _measured_worker_time(aws, result["job_name"])
        people = measured.seconds / 3600 * prices["private_workforce"]["usd_per_hour"]
        fee = pricing.service_fee(prices, counters["TotalLabeled"])  # machine labels pay the fee too
        instances = 1300 * pricing.automation_usd_per_object(prices, "TextMultiClass")
        assert cost["actual_breakdown_usd"]["automation"] == pytest.approx(instances, abs=1e-4)
        assert cost["actual_usd"] == pytest.approx(fee + people + instances, abs=1e-3)
        # All by people: the machine-labeled objects at this job's own cost per human-labeled object.
        all_human = fee + people * counters["TotalLabeled"] / counters["HumanLabeled"]
        assert cost["all_human_usd"] == pytest.approx(all_human, abs=1e-3)
        assert cost["saved_usd"] == pytest.approx(all_human - cost["actual_usd"], abs=1e-3)
        assert cost["saved_usd"] > 0
        estimate = cost["estimate_usd"]
        assert estimate["low_usd"] < estimate["high_usd"]
