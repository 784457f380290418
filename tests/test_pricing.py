"""gt_provider.pricing: the pricing file, overrides, estimates and actual costs."""

from __future__ import annotations

import json
import math

import pytest

from gt_provider import pricing
from gt_provider.exceptions import InvalidPricingError, PublicWorkforceUnavailableError

PRIVATE = "arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/annotators"
VENDOR = "arn:aws:sagemaker:us-east-1:123456789012:workteam/vendor-crowd/acme-labeling"
PUBLIC = "arn:aws:sagemaker:us-east-1:394669845002:workteam/public-crowd/default"


@pytest.fixture
def prices() -> dict:
    return pricing.load_pricing()


def _estimate(prices, **overrides):
    arguments = {
        "objects": 1000,
        "workers_per_object": 3,
        "workteam_arn": PRIVATE,
        "task_type": "ImageMultiClass",
        **overrides,
    }
    return pricing.estimate(prices, **arguments)


class TestPricingFile:
    def test_says_where_its_figures_come_from_and_that_they_are_unverified(self, prices):
        assert prices["source"] == "https://aws.amazon.com/sagemaker/groundtruth/pricing/"
        assert prices["as_of"]
        assert "unverified" in prices["note"]
        assert prices["service_fee"]["tiers"] == [
            {"up_to_objects": 50_000, "usd_per_object": 0.08},
            {"up_to_objects": 1_000_000, "usd_per_object": 0.04},
            {"up_to_objects": None, "usd_per_object": 0.02},
        ]

    def test_ships_with_the_package(self):
        import tomllib

        from tests.conftest import REPO

        package_data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
        relative = pricing.PRICING_FILE.relative_to(REPO / "plugins" / "gt_provider")
        assert any(relative.match(pattern) for pattern in package_data["gt_provider"])

    def test_every_automated_labeling_task_type_has_instance_prices(self, prices):
        from gt_provider import task_types

        for task_type in task_types.TASK_TYPES.values():
            if task_type.supports_auto_labeling:
                assert pricing.automation_usd_per_object(prices, task_type.name) > 0


class TestServiceFee:
    @pytest.mark.parametrize(
        ("objects", "this_month", "expected"),
        [
            (50_000, 0, 50_000 * 0.08),
            (50_001, 0, 50_000 * 0.08 + 0.04),
            (20_000, 40_000, 10_000 * 0.08 + 10_000 * 0.04),  # across the first boundary
            (100_000, 990_000, 10_000 * 0.04 + 90_000 * 0.02),  # across the second
            (10, 2_000_000, 10 * 0.02),
            (0, 0, 0.0),
        ],
    )
    def test_monthly_volume_tiers(self, prices, objects, this_month, expected):
        assert pricing.service_fee(prices, objects, objects_labeled_this_month=this_month) == pytest.approx(expected)

    def test_estimate_uses_the_months_volume(self, prices):
        first = _estimate(prices, objects=10_000)
        later = _estimate(prices, objects=10_000, objects_labeled_this_month=2_000_000)
        assert (first.service_fee_usd, later.service_fee_usd) == pytest.approx((800.0, 200.0))


class TestOverrides:
    def test_deep_merge_keeps_what_the_override_does_not_name(self, prices):
        merged = pricing.load_pricing({"private_workforce": {"usd_per_hour": 35}, "seconds_per_task": {"image": 12}})
        assert merged["private_workforce"]["usd_per_hour"] == 35
        assert merged["private_workforce"]["note"] == prices["private_workforce"]["note"]
        assert merged["seconds_per_task"]["image"] == 12
        assert merged["seconds_per_task"]["BoundingBox"] == prices["seconds_per_task"]["BoundingBox"]
        assert prices["private_workforce"]["usd_per_hour"] == 20  # the file itself is untouched

    def test_tiers_are_replaced_whole(self):
        merged = pricing.load_pricing({"service_fee": {"tiers": [{"up_to_objects": None, "usd_per_object": 0.05}]}})
        assert pricing.service_fee(merged, 200_000) == pytest.approx(10_000)

    def test_a_task_type_entry_wins_over_its_family(self):
        merged = pricing.load_pricing({"seconds_per_task": {"ImageMultiClass": 6}})
        assert pricing.per_task(merged["seconds_per_task"], "ImageMultiClass") == 6
        assert pricing.per_task(merged["seconds_per_task"], "ImageMultiClassMultiLabel") == 30  # the family's

    @pytest.mark.parametrize("suffix", [".json", ".yaml"])
    def test_override_file(self, tmp_path, suffix):
        path = tmp_path / f"pricing{suffix}"
        path.write_text(
            json.dumps({"vendor": {"usd_per_task": {"text": 0.5}}})
            if suffix == ".json"
            else "vendor:\n  usd_per_task:\n    text: 0.5\n"
        )
        assert pricing.load_pricing(path)["vendor"]["usd_per_task"]["text"] == 0.5
        assert pricing.load_pricing(str(path))["vendor"]["usd_per_task"]["image"] == 0.05

    @pytest.mark.parametrize(
        ("override", "message"),
        [
            ({"service_fees": {}}, "unknown key 'service_fees'"),
            ({"private_workforce": {"usd_per_houre": 3}}, "unknown key 'private_workforce.usd_per_houre'"),
            ({"seconds_per_task": {"ImageMultiClas": 3}}, "did you mean 'ImageMultiClass'"),
            ({"vendor": {"usd_per_task": {"image": -0.01}}}, "vendor.usd_per_task.image must be a number >= 0"),
            ({"private_workforce": {"usd_per_hour": "20"}}, "private_workforce.usd_per_hour must be a number"),
            ({"automated_labeling": {"max_machine_labeled_share": 1.5}}, "from 0 to 1"),
            (
                {"automated_labeling": {"algorithms": {"image-classification": {"training": {"usd_per_hour": -3}}}}},
                "automated_labeling.algorithms.image-classification.training.usd_per_hour must be a number >= 0",
            ),
            (
                {
                    "service_fee": {
                        "tiers": [
                            {"up_to_objects": 10, "usd_per_object": 1},
                            {"up_to_objects": 5, "usd_per_object": 1},
                            {"up_to_objects": None, "usd_per_object": 1},
                        ]
                    }
                },
                r"tiers\[1\].up_to_objects must be an integer above the previous tier's \(10\)",
            ),
            ({"service_fee": {"tiers": [{"up_to_objects": None, "usd_per_object": -1}]}}, "usd_per_object must be"),
            ({"service_fee": {"tiers": [{"up_to_objects": None}]}}, r"tiers\[0\] needs usd_per_object"),
            ({"currency": "EUR"}, "currency must be 'USD'"),
        ],
    )
    def test_bad_override_names_the_key(self, override, message):
        with pytest.raises(InvalidPricingError, match=message) as raised:
            pricing.load_pricing(override, origin="Variable gt_provider_pricing")
        assert str(raised.value).startswith("Variable gt_provider_pricing: ")

    def test_bad_json_and_missing_file(self, tmp_path):
        with pytest.raises(InvalidPricingError, match="Variable x is not valid JSON"):
            pricing.parse_override("{not json", "Variable x")
        with pytest.raises(InvalidPricingError, match="must be a JSON object"):
            pricing.parse_override("[1, 2]", "Variable x")
        with pytest.raises(InvalidPricingError, match="cannot read pricing override"):
            pricing.load_pricing(tmp_path / "absent.json")


class TestEstimate:
    def test_private_workforce_is_people_time_at_the_hourly_rate(self, prices):
        estimate = _estimate(prices)
        assert estimate.workforce == "private"
        assert estimate.service_fee_usd == pytest.approx(1000 * 0.08)
        assert estimate.people_usd == pytest.approx(1000 * 3 * 30 / 3600 * 20)
        assert estimate.low_usd == estimate.high_usd == pytest.approx(80 + 500)
        assert estimate.best_case_usd is None and estimate.automation_usd == 0

    def test_vendor_is_priced_per_task(self, prices):
        boxes = _estimate(prices, workteam_arn=VENDOR, task_type="BoundingBox")
        texts = _estimate(prices, workteam_arn=VENDOR, task_type="TextMultiClass")
        assert boxes.workforce == "vendor"
        assert boxes.people_usd == pytest.approx(1000 * 3 * 0.10)  # BoundingBox's own entry
        assert texts.people_usd == pytest.approx(1000 * 3 * 0.04)  # the text family's

    def test_label_studio_is_people_time_only(self, prices):
        estimate = _estimate(prices, backend="label_studio", workteam_arn=VENDOR)
        assert estimate.service_fee_usd == 0
        assert estimate.workforce == "private"  # Label Studio's annotators are your own people
        assert estimate.high_usd == pytest.approx(1000 * 3 * 30 / 3600 * 20)

    def test_public_workforce_is_refused(self, prices):
        with pytest.raises(PublicWorkforceUnavailableError):
            _estimate(prices, workteam_arn=PUBLIC)

    def test_unknown_backend_is_refused(self, prices):
        with pytest.raises(InvalidPricingError, match="backend must be one of ground_truth, label_studio"):
            _estimate(prices, backend="mturk")

    def test_automation_range(self, prices):
        objects = 10_000
        estimate = _estimate(prices, objects=objects, auto_labeling=True)
        per_object = 3 * 30 / 3600 * 20
        fee = 10_000 * 0.08
        instances = objects * pricing.automation_usd_per_object(prices, "ImageMultiClass")
        machine = math.floor(objects * 0.7)  # the documented share, above the human minimum here
        assert estimate.best_case_machine_labeled == machine
        assert estimate.without_automation_usd == pytest.approx(fee + objects * per_object)
        assert estimate.high_usd == pytest.approx(fee + objects * per_object + instances)
        assert estimate.low_usd == pytest.approx(fee + (objects - machine) * per_object + instances)
        assert estimate.low_usd < estimate.without_automation_usd < estimate.high_usd
        summary = estimate.summary()
        assert f"${estimate.low_usd:,.2f} to ${estimate.high_usd:,.2f}" in summary
        assert f"{machine:,} objects" in summary

    def test_people_label_at_least_the_validation_and_first_batch(self, prices):
        estimate = _estimate(prices, objects=1250, auto_labeling=True)
        # 70% would be 875, but people label at least min_human_labeled_objects (500)
        assert estimate.best_case_machine_labeled == 1250 - prices["automated_labeling"]["min_human_labeled_objects"]

    def test_stopping_conditions_bound_the_estimate(self, prices):
        capped = _estimate(prices, stopping_conditions={"MaxPercentageOfInputDatasetLabeled": 25})
        humans = _estimate(prices, stopping_conditions={"MaxHumanLabeledObjectCount": 100})
        assert capped.labeled_objects == 250
        assert capped.service_fee_usd == pytest.approx(250 * 0.08)
        assert humans.labeled_objects == 100
        assert humans.high_usd == pytest.approx(100 * 0.08 + 100 * 3 * 30 / 3600 * 20)

    def test_as_dict_is_json(self, prices):
        figures = json.loads(json.dumps(_estimate(prices, auto_labeling=True, objects=5000).as_dict()))
        assert {"low_usd", "high_usd", "without_automation_usd", "objects", "workers_per_object"} <= set(figures)


class TestActual:
    def test_private_job_from_counters_and_worker_time(self, prices):
        counters = {"TotalLabeled": 98, "HumanLabeled": 98, "MachineLabeled": 0, "FailedNonRetryableError": 2}
        cost = pricing.actual(
            prices, counters=counters, worker_seconds=5400, workers_per_object=3, workteam_arn=PRIVATE,
            task_type="ImageMultiClass",
        )  # fmt: skip
        assert cost.service_fee_usd == pytest.approx(98 * 0.08)
        assert cost.people_usd == pytest.approx(1.5 * 20)
        assert cost.total_usd == cost.all_human_usd
        assert cost.saved_usd == 0
        assert "nothing saved" in cost.summary()

    def test_automation_saved_what_people_would_have_cost(self, prices):
        counters = {"TotalLabeled": 3000, "HumanLabeled": 1000, "MachineLabeled": 2000, "Unlabeled": 0}
        cost = pricing.actual(
            prices, counters=counters, worker_seconds=36_000, workers_per_object=3, workteam_arn=PRIVATE,
            task_type="ImageMultiClass", auto_labeling=True,
        )  # fmt: skip
        instances = 3000 * pricing.automation_usd_per_object(prices, "ImageMultiClass")
        assert cost.service_fee_usd == pytest.approx(3000 * 0.08)  # machine labels pay the fee too
        assert cost.automation_usd == pytest.approx(instances)
        assert cost.all_human_usd == pytest.approx(3000 * 0.08 + 3 * 200)  # 10 h per 1000 objects, for 3000
        assert cost.saved_usd == pytest.approx(400 - instances)
        assert "automation saved" in cost.summary()

    def test_automation_that_labeled_nothing_cost_more(self, prices):
        counters = {"TotalLabeled": 1300, "HumanLabeled": 1300, "MachineLabeled": 0}
        cost = pricing.actual(
            prices, counters=counters, worker_seconds=3600, workers_per_object=1, workteam_arn=PRIVATE,
            task_type="TextMultiClass", auto_labeling=True,
        )  # fmt: skip
        assert cost.automation_usd > 0
        assert cost.saved_usd == pytest.approx(-cost.automation_usd)

    def test_vendor_is_paid_per_answer(self, prices):
        counters = {"TotalLabeled": 10, "HumanLabeled": 10}
        measured = pricing.actual(
            prices, counters=counters, worker_seconds=99, worker_answers=25, workers_per_object=3,
            workteam_arn=VENDOR, task_type="BoundingBox",
        )  # fmt: skip
        assumed = pricing.actual(
            prices, counters=counters, worker_seconds=99, workers_per_object=3, workteam_arn=VENDOR,
            task_type="BoundingBox",
        )  # fmt: skip
        assert measured.people_usd == pytest.approx(25 * 0.10)
        assert assumed.people_usd == pytest.approx(30 * 0.10)

    def test_label_studio_is_people_time_only(self, prices):
        cost = pricing.actual(
            prices, counters={"TotalLabeled": 50, "HumanLabeled": 50}, worker_seconds=1800, workers_per_object=2,
            workteam_arn=PRIVATE, task_type="TextMultiClass", backend="label_studio",
        )  # fmt: skip
        assert cost.service_fee_usd == 0
        assert cost.total_usd == pytest.approx(10.0)

    def test_worker_time_sums_every_answer(self):
        responses = [
            ("0", {"answers": [{"timeSpentInSeconds": 12.5}, {"timeSpentInSeconds": 7}]}),
            ("1", {"answers": [{"timeSpentInSeconds": "n/a"}, {"workerId": "w"}]}),
            ("2", {"not-answers": []}),
        ]
        assert pricing.worker_time(responses) == pricing.WorkerTime(answers=4, seconds=19.5)
