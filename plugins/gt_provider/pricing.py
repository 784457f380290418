"""What a labeling job will cost, and what it did cost: plain functions on plain data.

Standard library only (no Airflow, no boto3). The prices live in one data file,
``data/ground_truth_pricing.json``, with their source and date: figures quoted in public
material and unverified here, so every user can correct them without a release --
:func:`load_pricing` deep-merges an override (a mapping, or a JSON / YAML file) over the
file and refuses an unknown key or a negative price, naming the key.

- :func:`estimate` prices a job before it exists, from its input's object count: Ground
  Truth's service fee (monthly volume tiers, human- and machine-labeled objects alike),
  the people (a private workforce's hours, or a vendor's price per task) and, with
  automated labeling, SageMaker instance time. The result is a range: everything labeled
  by people, and the best case of automated labeling.
- :func:`actual` prices a finished job from its ``LabelCounters`` and the time its
  workers spent (:func:`worker_time` sums ``timeSpentInSeconds`` over the worker
  responses), and what it would have cost had people labeled everything, so that what
  automated labeling saved can be told.

Self-hosted Label Studio charges no fee: its jobs cost their annotators' time only.
"""

from __future__ import annotations

import copy
import difflib
import json
import math
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from gt_provider import limits, task_types
from gt_provider.backends import BACKENDS
from gt_provider.exceptions import InvalidPricingError
from gt_provider.labeling_request import check_workteam_arn

#: The pricing data file shipped with the provider.
PRICING_FILE = Path(__file__).resolve().parent / "data" / "ground_truth_pricing.json"
#: Workteam ARN kind -> the workforce whose price applies.
WORKFORCES = {"private-crowd": "private", "vendor-crowd": "vendor"}

Pricing = Mapping[str, Any]


# ---------------------------------------------------------------- the pricing model
def load_pricing(
    override: Mapping[str, Any] | str | os.PathLike[str] | None = None, *, origin: str | None = None
) -> dict[str, Any]:
    """The pricing file, with ``override`` (a mapping, or a JSON / YAML file's path) deep-merged over it.

    Nested mappings are merged, anything else (a number, the list of fee tiers) replaced.
    Raises :class:`InvalidPricingError` naming ``origin`` (default: the override's path, or
    "pricing override") and the key, for an unknown key or a value out of range.
    """
    return merge_pricing(_default_pricing(), override, origin=origin)


def merge_pricing(
    pricing: Pricing, override: Mapping[str, Any] | str | os.PathLike[str] | None, *, origin: str | None = None
) -> dict[str, Any]:
    """``pricing`` with ``override`` deep-merged over it, both checked (see :func:`load_pricing`)."""
    if override is None:
        return copy.deepcopy(dict(pricing))
    if isinstance(override, str | os.PathLike):
        origin = origin or str(override)
        override = _read_override_file(Path(override), origin)
    origin = origin or "pricing override"
    if not isinstance(override, Mapping):
        raise InvalidPricingError(f"{origin} must be a mapping of pricing keys, got {type(override).__name__}")
    _check(_SHAPE, override, "", origin)
    merged = _deep_merge(pricing, override)
    _check(_SHAPE, merged, "", origin)
    _check_tiers(merged["service_fee"]["tiers"], "service_fee.tiers", origin)
    return merged


def parse_override(text: str, origin: str) -> dict[str, Any]:
    """A JSON override (such as an Airflow Variable's value), or an error naming ``origin``."""
    try:
        override = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidPricingError(f"{origin} is not valid JSON: {error}") from error
    if not isinstance(override, dict):
        raise InvalidPricingError(f"{origin} must be a JSON object of pricing keys, got {type(override).__name__}")
    return override


def layered_pricing(
    variable: str | None, argument: Mapping[str, Any] | str | os.PathLike[str] | None, *, variable_name: str
) -> tuple[dict[str, Any], list[str]]:
    """The pricing file, a Variable's JSON over it, an argument over that; and the layers used, for the log.

    ``argument`` is a mapping, the path of a JSON / YAML file, or JSON text (what a
    template renders when the DAG does not render native objects).
    """
    layers = [PRICING_FILE.name]
    pricing = load_pricing()
    if variable is not None and str(variable).strip():
        origin = f"Variable {variable_name}"
        pricing = merge_pricing(pricing, parse_override(str(variable), origin), origin=origin)
        layers.append(origin)
    if argument is not None:
        if isinstance(argument, str) and argument.lstrip().startswith("{"):
            argument = parse_override(argument, "the pricing argument")
        pricing = merge_pricing(pricing, argument, origin=None if isinstance(argument, str) else "the pricing argument")
        layers.append("the pricing argument")
    return pricing, layers


def check_budget_arguments(max_cost_usd: object, objects_labeled_this_month: object) -> None:
    """Refuse a budget or a month's volume that is not a number (say, a template rendered as text)."""
    if max_cost_usd is not None and (
        isinstance(max_cost_usd, bool) or not isinstance(max_cost_usd, int | float) or max_cost_usd < 0
    ):
        hint = " (templates render text: give the DAG render_template_as_native_obj=True)"
        raise InvalidPricingError(
            f"max_cost_usd must be a number of US dollars >= 0, or None, got {max_cost_usd!r}"
            + (hint if isinstance(max_cost_usd, str) else "")
        )
    if (
        isinstance(objects_labeled_this_month, bool)
        or not isinstance(objects_labeled_this_month, int)
        or objects_labeled_this_month < 0
    ):
        raise InvalidPricingError(
            f"objects_labeled_this_month must be an integer >= 0, got {objects_labeled_this_month!r}"
        )


@lru_cache(maxsize=1)
def _shipped_pricing() -> dict[str, Any]:
    document = json.loads(PRICING_FILE.read_text(encoding="utf-8"))
    _check(_SHAPE, document, "", str(PRICING_FILE))
    _check_tiers(document["service_fee"]["tiers"], "service_fee.tiers", str(PRICING_FILE))
    return document


def _default_pricing() -> dict[str, Any]:
    return copy.deepcopy(_shipped_pricing())


def _read_override_file(path: Path, origin: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise InvalidPricingError(f"cannot read pricing override {origin}: {error.strerror or error}") from error
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml  # Airflow's own dependency; imported only for a YAML override

        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise InvalidPricingError(f"{origin} is not valid YAML: {error}") from error
    return parse_override(text, origin)


def _deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


# What a pricing document may hold: a mapping of known keys, a table whose keys come from
# a registry, or a leaf check. Declared once; the override and the file are checked by it.
_Check = Callable[[Any, str, str], None]


def _number(low: float, high: float = math.inf, *, integer: bool = False) -> _Check:
    kind = "an integer" if integer else "a number"
    wanted = f"{kind} >= {low:g}" if high == math.inf else f"{kind} from {low:g} to {high:g}"

    def check(value: Any, path: str, origin: str) -> None:
        numeric = int if integer else int | float
        if isinstance(value, bool) or not isinstance(value, numeric) or not low <= value <= high:
            raise InvalidPricingError(f"{origin}: {path} must be {wanted}, got {value!r}")

    return check


def _text(value: Any, path: str, origin: str) -> None:
    if not isinstance(value, str):
        raise InvalidPricingError(f"{origin}: {path} must be text, got {value!r}")


def _usd(value: Any, path: str, origin: str) -> None:
    if value != "USD":
        raise InvalidPricingError(f"{origin}: {path} must be 'USD' (every figure here is in US dollars), got {value!r}")


def _list(value: Any, path: str, origin: str) -> None:
    if not isinstance(value, list):
        raise InvalidPricingError(f"{origin}: {path} must be a list (it replaces the whole list), got {value!r}")


@dataclass(frozen=True)
class _Table:
    """A mapping whose keys come from a registry (task types, algorithms), each value of one shape."""

    allowed: Callable[[], frozenset[str]]
    describe_keys: str
    value: Any
    extra: Mapping[str, Any] | None = None


_PRICE = _number(0)
_PHASE = {"instance_type": _text, "usd_per_hour": _PRICE, "instance_seconds_per_object": _PRICE}


def _task_keys() -> frozenset[str]:
    return frozenset(task_types.TASK_TYPES) | {family.value for family in task_types.TaskFamily}


def _algorithm_keys() -> frozenset[str]:
    return frozenset(t.auto_labeling_algorithm for t in task_types.TASK_TYPES.values() if t.auto_labeling_algorithm)


_TASK_KEYS = "a task type name or family (image, text, video, point_cloud, custom)"
_SHAPE: dict[str, Any] = {
    "source": _text,
    "as_of": _text,
    "note": _text,
    "currency": _usd,
    "service_fee": {"note": _text, "tiers": _list},
    "vendor": {"note": _text, "usd_per_task": _Table(_task_keys, _TASK_KEYS, _PRICE)},
    "private_workforce": {"note": _text, "usd_per_hour": _PRICE},
    "seconds_per_task": _Table(_task_keys, _TASK_KEYS, _PRICE, extra={"note": _text}),
    "automated_labeling": {
        "note": _text,
        "max_machine_labeled_share": _number(0, 1),
        "min_human_labeled_objects": _number(0, integer=True),
        "algorithms": _Table(
            _algorithm_keys, "an automated-labeling algorithm", {"note": _text, "training": _PHASE, "inference": _PHASE}
        ),
    },
}


def _check(shape: Any, value: Any, path: str, origin: str) -> None:
    if callable(shape) and not isinstance(shape, _Table):
        shape(value, path, origin)
        return
    if not isinstance(value, Mapping):
        raise InvalidPricingError(f"{origin}: {path or 'the pricing'} must be a mapping, got {value!r}")
    for key, item in value.items():
        where = f"{path}.{key}" if path else str(key)
        if isinstance(shape, _Table):
            if shape.extra and key in shape.extra:
                _check(shape.extra[key], item, where, origin)
                continue
            if key not in shape.allowed():
                close = difflib.get_close_matches(str(key), sorted(shape.allowed()), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise InvalidPricingError(
                    f"{origin}: unknown key {where!r}{hint}; keys of {path} are {shape.describe_keys}"
                )
            _check(shape.value, item, where, origin)
        elif key in shape:
            _check(shape[key], item, where, origin)
        else:
            raise InvalidPricingError(
                f"{origin}: unknown key {where!r}; allowed {f'under {path}' if path else 'at the top'}: "
                f"{', '.join(sorted(shape))}"
            )


def _check_tiers(tiers: Any, path: str, origin: str) -> None:
    """Tiers in increasing order, each ``{"up_to_objects": n | null, "usd_per_object": p}``, the last unbounded."""
    if not tiers:
        raise InvalidPricingError(f"{origin}: {path} must have at least one tier")
    previous = 0
    for number, tier in enumerate(tiers):
        where = f"{path}[{number}]"
        _check({"up_to_objects": lambda *_: None, "usd_per_object": _PRICE}, tier, where, origin)
        if "usd_per_object" not in tier:
            raise InvalidPricingError(f"{origin}: {where} needs usd_per_object")
        bound = tier.get("up_to_objects")
        last = number == len(tiers) - 1
        if bound is None and not last:
            raise InvalidPricingError(f"{origin}: {where}.up_to_objects is null, but only the last tier is unbounded")
        if bound is None:
            continue
        if isinstance(bound, bool) or not isinstance(bound, int) or bound <= previous:
            raise InvalidPricingError(
                f"{origin}: {where}.up_to_objects must be an integer above the previous tier's ({previous}), got {bound!r}"
            )
        if last:
            raise InvalidPricingError(
                f"{origin}: {where} is the last tier, so its up_to_objects must be null (no bound)"
            )
        previous = bound


# -------------------------------------------------------------------- figures
def service_fee(pricing: Pricing, objects: int, *, objects_labeled_this_month: int = 0) -> float:
    """Ground Truth's fee for ``objects`` labeled objects, after ``objects_labeled_this_month`` others.

    The tiers count the account's objects of the month, so a job starting at 40,000 pays
    the first tier's price for 10,000 objects and the second's for the rest.
    """
    if objects_labeled_this_month < 0:
        raise InvalidPricingError(f"objects_labeled_this_month must be >= 0, got {objects_labeled_this_month}")
    start, end = objects_labeled_this_month, objects_labeled_this_month + max(0, objects)
    fee, lower = 0.0, 0
    for tier in pricing["service_fee"]["tiers"]:
        upper = math.inf if tier.get("up_to_objects") is None else tier["up_to_objects"]
        fee += max(0, min(end, upper) - max(start, lower)) * tier["usd_per_object"]
        if upper >= end:
            break
        lower = upper
    return fee


def workforce_kind(workteam_arn: str, backend: str = "ground_truth") -> str:
    """``"private"`` or ``"vendor"`` from the workteam ARN (Label Studio's annotators are your own people).

    The public workforce (Mechanical Turk) closed and is refused, as everywhere else.
    """
    _check_backend(backend)
    if backend == "label_studio":
        return "private"
    check_workteam_arn(workteam_arn)
    return WORKFORCES[limits.WORKTEAM_ARN_PATTERN.match(workteam_arn)["kind"]]  # type: ignore[index]


def per_task(table: Mapping[str, Any], task_type: str) -> float:
    """A task type's entry of a per-task table (vendor prices, seconds), else its family's."""
    if task_type in table:
        return float(table[task_type])
    family = task_types.get_task_type(task_type).family.value
    if family not in table:
        raise InvalidPricingError(f"the pricing has no entry for task type {task_type} or its family {family!r}")
    return float(table[family])


def automation_usd_per_object(pricing: Pricing, task_type: str) -> float:
    """SageMaker instance cost of automated labeling per input object of ``task_type``'s algorithm."""
    algorithm = task_types.get_task_type(task_type).auto_labeling_algorithm
    entry = pricing["automated_labeling"]["algorithms"].get(algorithm) if algorithm else None
    if entry is None:
        raise InvalidPricingError(
            f"automated labeling of {task_type}: the pricing has no automated_labeling.algorithms entry "
            f"{algorithm!r}" + ("" if algorithm else " (Ground Truth does not label this task type automatically)")
        )
    return sum(
        entry[phase]["usd_per_hour"] / 3600 * entry[phase]["instance_seconds_per_object"]
        for phase in ("training", "inference")
    )


def _people_usd_per_object(pricing: Pricing, task_type: str, workforce: str, workers_per_object: int) -> float:
    """The assumed cost of people labeling one object (``workers_per_object`` answers)."""
    if workforce == "vendor":
        return workers_per_object * per_task(pricing["vendor"]["usd_per_task"], task_type)
    hours = workers_per_object * per_task(pricing["seconds_per_task"], task_type) / 3600
    return hours * pricing["private_workforce"]["usd_per_hour"]


def _check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise InvalidPricingError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")


def _money(amount: float) -> str:
    return f"${amount:,.2f}"


@dataclass(frozen=True)
class CostEstimate:
    """What a labeling job should cost, before it exists (all figures in USD).

    :param objects: Objects in the input manifest.
    :param labeled_objects: Objects expected to be labeled (the input, less what the
        stopping conditions leave unlabeled).
    :param workers_per_object: Workers who label each object.
    :param workforce: ``"private"`` (people's hours) or ``"vendor"`` (a price per task).
    :param backend: ``"ground_truth"`` or ``"label_studio"`` (no service fee).
    :param task_type: The job's task type.
    :param auto_labeling: Whether automated labeling is on.
    :param service_fee_usd: Ground Truth's fee for the labeled objects (tiered).
    :param people_usd: The people, when they label every labeled object.
    :param automation_usd: SageMaker instance time of automated labeling (0 when off).
    :param best_case_machine_labeled: Objects machine-labeled in the best case (0 when off).
    :param best_case_usd: With automated labeling, its best case: fee, people for the
        objects the machine leaves, instance time. None when automated labeling is off.
    :param pricing_source: Where the prices come from.
    :param pricing_as_of: When they were quoted.
    """

    objects: int
    labeled_objects: int
    workers_per_object: int
    workforce: str
    backend: str
    task_type: str
    auto_labeling: bool
    service_fee_usd: float
    people_usd: float
    automation_usd: float
    best_case_machine_labeled: int
    best_case_usd: float | None
    pricing_source: str
    pricing_as_of: str

    @property
    def without_automation_usd(self) -> float:
        """Everything labeled by people, no instance time."""
        return self.service_fee_usd + self.people_usd

    @property
    def high_usd(self) -> float:
        """The most the job should cost: people label everything, and automated labeling's
        instances (when on) ran anyway -- its model may end up confident about nothing."""
        return self.without_automation_usd + self.automation_usd

    @property
    def low_usd(self) -> float:
        """The least: automated labeling's best case when on, else the same as ``high_usd``."""
        return self.high_usd if self.best_case_usd is None else self.best_case_usd

    def as_dict(self) -> dict[str, Any]:
        """JSON-serializable figures (for XCom), amounts rounded to 1/100 cent."""
        figures = {key: _rounded(value) for key, value in asdict(self).items()}
        figures.update(
            without_automation_usd=_rounded(self.without_automation_usd),
            low_usd=_rounded(self.low_usd),
            high_usd=_rounded(self.high_usd),
        )
        return figures

    def summary(self) -> str:
        """``1,300 objects x 3 workers (private workforce, Ground Truth): $x to $y (...)``."""
        where = "Ground Truth" if self.backend == "ground_truth" else "Label Studio, no service fee"
        head = f"{self.objects:,} objects x {self.workers_per_object} workers ({self.workforce} workforce, {where})"
        if self.labeled_objects != self.objects:
            head += f", {self.labeled_objects:,} labeled before the stopping conditions end the job"
        parts = f"fee {_money(self.service_fee_usd)}, people {_money(self.people_usd)}"
        if not self.auto_labeling:
            return f"{head}: {_money(self.high_usd)} ({parts})"
        return (
            f"{head}: {_money(self.low_usd)} to {_money(self.high_usd)} -- {_money(self.without_automation_usd)} "
            f"all by people ({parts}), plus automated labeling's instances {_money(self.automation_usd)}; "
            f"{_money(self.low_usd)} at best if the machine labels {self.best_case_machine_labeled:,} objects"
        )


def estimate(
    pricing: Pricing,
    *,
    objects: int,
    workers_per_object: int,
    workteam_arn: str,
    task_type: str,
    backend: str = "ground_truth",
    auto_labeling: bool = False,
    objects_labeled_this_month: int = 0,
    stopping_conditions: Mapping[str, int] | None = None,
) -> CostEstimate:
    """Price a job before it exists, from its input's object count (see :class:`CostEstimate`).

    Stopping conditions bound it: ``MaxPercentageOfInputDatasetLabeled`` the objects
    labeled, ``MaxHumanLabeledObjectCount`` those labeled by people. The best case of
    automated labeling assumes the machine labels at most the pricing's
    ``max_machine_labeled_share`` of the objects and people at least
    ``min_human_labeled_objects`` (the validation sample and the first training batch).
    """
    _check_backend(backend)
    workforce = workforce_kind(workteam_arn, backend)
    conditions = stopping_conditions or {}
    labeled = objects
    if "MaxPercentageOfInputDatasetLabeled" in conditions:
        labeled = min(labeled, math.ceil(objects * conditions["MaxPercentageOfInputDatasetLabeled"] / 100))
    human_cap = conditions.get("MaxHumanLabeledObjectCount")
    if human_cap is not None and not auto_labeling:
        labeled = min(labeled, human_cap)  # a human-only job stops there
    human = labeled if human_cap is None else min(labeled, human_cap)
    per_object = _people_usd_per_object(pricing, task_type, workforce, workers_per_object)
    fee = service_fee(pricing, labeled, objects_labeled_this_month=objects_labeled_this_month)
    if backend == "label_studio":
        fee = 0.0
    automation = machine = 0
    best: float | None = None
    if auto_labeling:
        automation = objects * automation_usd_per_object(pricing, task_type)
        settings = pricing["automated_labeling"]
        machine = max(
            0,
            min(
                math.floor(labeled * settings["max_machine_labeled_share"]),
                labeled - settings["min_human_labeled_objects"],
            ),
        )
        best = fee + min(human, labeled - machine) * per_object + automation
    return CostEstimate(
        objects=objects,
        labeled_objects=labeled,
        workers_per_object=workers_per_object,
        workforce=workforce,
        backend=backend,
        task_type=task_type,
        auto_labeling=auto_labeling,
        service_fee_usd=fee,
        people_usd=human * per_object,
        automation_usd=automation,
        best_case_machine_labeled=machine,
        best_case_usd=best,
        pricing_source=pricing["source"],
        pricing_as_of=pricing["as_of"],
    )


# ------------------------------------------------------------------- actual cost
@dataclass(frozen=True)
class WorkerTime:
    """The answers of a job's workers and the time they spent on them (``timeSpentInSeconds``)."""

    answers: int
    seconds: float


def worker_time(responses: Iterable[tuple[str, Mapping[str, Any]]]) -> WorkerTime:
    """Sum ``timeSpentInSeconds`` over every answer of ``(object id, worker response)`` pairs.

    The pairs are what :func:`gt_provider.datasets.workers.responses.read_worker_responses`
    yields from ``<output_path>/<job>/annotations/worker-response/iteration-N/<id>/<time>.json``.
    An answer without a number there counts as an answer with no time.
    """
    answers, seconds = 0, 0.0
    for _object_id, document in responses:
        for answer in document.get("answers") or ():
            if not isinstance(answer, Mapping):
                continue
            answers += 1
            spent = answer.get("timeSpentInSeconds")
            if isinstance(spent, int | float) and not isinstance(spent, bool) and spent > 0:
                seconds += spent
    return WorkerTime(answers=answers, seconds=seconds)


@dataclass(frozen=True)
class ActualCost:
    """What a finished labeling job cost (all figures in USD).

    :param human_labeled: ``LabelCounters.HumanLabeled``.
    :param machine_labeled: ``LabelCounters.MachineLabeled``.
    :param failed: ``LabelCounters.FailedNonRetryableError``.
    :param unlabeled: ``LabelCounters.Unlabeled``.
    :param worker_seconds: Time the workers spent on tasks, summed over every answer.
    :param worker_answers: Answers the workers gave.
    :param workforce: ``"private"`` or ``"vendor"``.
    :param backend: ``"ground_truth"`` or ``"label_studio"``.
    :param service_fee_usd: Ground Truth's fee for the labeled objects (human and machine).
    :param people_usd: The workers' time at the hourly rate, or the vendor's answers at its price.
    :param automation_usd: SageMaker instance time of automated labeling.
    :param all_human_usd: Had people labeled the machine-labeled objects too, at this
        job's own cost per human-labeled object, without the instances.
    :param pricing_source: Where the prices come from.
    :param pricing_as_of: When they were quoted.
    """

    human_labeled: int
    machine_labeled: int
    failed: int
    unlabeled: int
    worker_seconds: float
    worker_answers: int
    workforce: str
    backend: str
    service_fee_usd: float
    people_usd: float
    automation_usd: float
    all_human_usd: float
    pricing_source: str
    pricing_as_of: str

    @property
    def total_usd(self) -> float:
        return self.service_fee_usd + self.people_usd + self.automation_usd

    @property
    def saved_usd(self) -> float:
        """What automated labeling saved; negative when its instances cost more than it spared."""
        return self.all_human_usd - self.total_usd

    def as_dict(self) -> dict[str, Any]:
        figures = {key: _rounded(value) for key, value in asdict(self).items()}
        figures.update(total_usd=_rounded(self.total_usd), saved_usd=_rounded(self.saved_usd))
        return figures

    def summary(self) -> str:
        """``cost $x (fee $a, people's time 1.2 h $b, automation $c); automation saved $y``."""
        people = (
            f"people's time {self.worker_seconds / 3600:,.2f} h {_money(self.people_usd)}"
            if self.workforce == "private"
            else f"vendor, {self.worker_answers:,} answers {_money(self.people_usd)}"
        )
        line = f"cost {_money(self.total_usd)} (fee {_money(self.service_fee_usd)}, {people}"
        if not (self.machine_labeled or self.automation_usd):
            return f"{line}); no automated labeling, nothing saved"
        return (
            f"{line}, automation {_money(self.automation_usd)}); all by people it would have cost "
            f"{_money(self.all_human_usd)}: automation saved {_money(self.saved_usd)} "
            f"({self.machine_labeled:,} objects machine-labeled)"
        )


def actual(
    pricing: Pricing,
    *,
    counters: Mapping[str, int],
    worker_seconds: float,
    workers_per_object: int,
    workteam_arn: str,
    task_type: str,
    worker_answers: int | None = None,
    backend: str = "ground_truth",
    auto_labeling: bool = False,
    objects_labeled_this_month: int = 0,
) -> ActualCost:
    """Price a finished job from its ``LabelCounters`` and its workers' time (see :class:`ActualCost`).

    The service fee is charged on ``TotalLabeled`` (human and machine labels alike);
    people on the measured time (private) or the answers given (vendor; default
    ``HumanLabeled x workers_per_object``); automated labeling's instances on every input
    object (``TotalLabeled + FailedNonRetryableError + Unlabeled``) when it was on.
    """
    _check_backend(backend)
    workforce = workforce_kind(workteam_arn, backend)
    human = int(counters.get("HumanLabeled", 0))
    machine = int(counters.get("MachineLabeled", 0))
    failed = int(counters.get("FailedNonRetryableError", 0))
    unlabeled = int(counters.get("Unlabeled", 0))
    labeled = int(counters.get("TotalLabeled", human + machine))
    answers = human * workers_per_object if worker_answers is None else worker_answers
    fee = (
        0.0
        if backend == "label_studio"
        else service_fee(pricing, labeled, objects_labeled_this_month=objects_labeled_this_month)
    )
    if workforce == "vendor":
        people = answers * per_task(pricing["vendor"]["usd_per_task"], task_type)
    else:
        people = worker_seconds / 3600 * pricing["private_workforce"]["usd_per_hour"]
    automated = auto_labeling or machine > 0
    automation = (labeled + failed + unlabeled) * automation_usd_per_object(pricing, task_type) if automated else 0.0
    if machine == 0:
        all_human_people = people
    elif human > 0:
        all_human_people = people * (human + machine) / human  # the job's own cost per human-labeled object
    else:
        all_human_people = people + machine * _people_usd_per_object(pricing, task_type, workforce, workers_per_object)
    return ActualCost(
        human_labeled=human,
        machine_labeled=machine,
        failed=failed,
        unlabeled=unlabeled,
        worker_seconds=float(worker_seconds),
        worker_answers=answers,
        workforce=workforce,
        backend=backend,
        service_fee_usd=fee,
        people_usd=people,
        automation_usd=automation,
        all_human_usd=fee + all_human_people,
        pricing_source=pricing["source"],
        pricing_as_of=pricing["as_of"],
    )


def cost_report(pricing: Pricing, estimate: Mapping[str, Any] | None, cost: ActualCost | None) -> dict[str, Any]:
    """The ``cost`` entry of the labeling operator's result (JSON-serializable, for XCom).

    ``estimate`` is :meth:`CostEstimate.as_dict` (None when the input could not be counted);
    the actual figures are None until the job has ended (or when its worker responses
    could not be read).
    """
    return {
        "currency": "USD",
        "estimate_usd": dict(estimate) if estimate is not None else None,
        "actual_usd": None if cost is None else _rounded(cost.total_usd),
        "all_human_usd": None if cost is None else _rounded(cost.all_human_usd),
        "saved_usd": None if cost is None else _rounded(cost.saved_usd),
        "worker_seconds": None if cost is None else _rounded(cost.worker_seconds),
        "actual_breakdown_usd": None
        if cost is None
        else {
            "service_fee": _rounded(cost.service_fee_usd),
            "people": _rounded(cost.people_usd),
            "automation": _rounded(cost.automation_usd),
        },
        "pricing_source": pricing["source"],
        "pricing_as_of": pricing["as_of"],
    }


def _rounded(value: Any) -> Any:
    return round(value, 4) if isinstance(value, float) else value
