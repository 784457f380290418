"""Run-time settings of the local AWS and its emulated clock.

Labeling jobs do not sleep: each job's state is a function of the emulated time elapsed
since it was created (see ``models.LabelingTimeline``). The clock makes that time explicit:
``speed`` multiplies wall time, ``speed=inf`` ("instant") finishes every job at once, and a
manual clock moves only when ``advance()`` is called, so tests step a job through its
states without sleeping.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field

#: Field of an input manifest line that the simulated workforce treats as the true
#: answer (a label name). Ground Truth passes unknown fields through untouched, so the
#: same manifest works against AWS, where the field is simply ignored.
REFERENCE_ANSWER_FIELD = "gt-local-answer"

#: Accuracy of each worker of the simulated private workforce, in pool order. Each data
#: object goes to ``NumberOfHumanWorkersPerDataObject`` distinct workers of the pool.
DEFAULT_WORKER_ACCURACIES: tuple[float, ...] = (0.97, 0.92, 0.88, 0.8, 0.7)


class Clock:
    """Emulated seconds, scaled from wall time or moved by hand."""

    def __init__(self, speed: float = 1.0, manual: bool = False) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be > 0 (or inf for instant), got {speed}")
        self.speed = speed
        self.manual = manual
        self._advanced = 0.0
        self._lock = threading.Lock()

    def mark(self) -> tuple[float, float]:
        """A point in time to measure elapsed emulated seconds from."""
        with self._lock:
            return time.time(), self._advanced

    def elapsed(self, since: tuple[float, float]) -> float:
        wall, advanced = since
        with self._lock:
            by_hand = self._advanced - advanced
        if self.manual:
            return by_hand
        if math.isinf(self.speed):
            return math.inf
        return (time.time() - wall) * self.speed + by_hand

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"the clock only moves forward, got {seconds} s")
        with self._lock:
            self._advanced += seconds


@dataclass
class Settings:
    """What a ``serve`` flag or the control endpoint can change while the server runs."""

    speed: float = 1.0
    manual_clock: bool = False
    #: Emulated seconds a job spends in Initializing, then labeling objects per second,
    #: then seconds spent in Stopping.
    initializing_seconds: float = 10.0
    objects_per_second: float = 10.0
    stopping_seconds: float = 5.0
    worker_accuracies: tuple[float, ...] = DEFAULT_WORKER_ACCURACIES
    #: Accuracy of a workteam member by email (members not named take ``worker_accuracies`` in turn).
    member_accuracies: dict[str, float] = field(default_factory=dict)
    #: Fraction of data objects that fail labeling (tasks expire), in [0, 1).
    object_failure_rate: float = 0.0
    seed: int = 0
    #: Fractions of SageMaker API calls answered with ThrottlingException (400) or an
    #: InternalFailure (500) before they are processed, for reliability tests.
    throttle_rate: float = 0.0
    server_error_rate: float = 0.0
    #: Seconds by which the answer to a SageMaker action (``{"CreateLabelingJob": 30}``) is
    #: held back *after* the call was processed: the client learns late (or, if it dies
    #: meanwhile, never) of what the service already did, as with a slow network on the way
    #: back. For tests that kill a worker right after it created a job.
    response_delays: dict[str, float] = field(default_factory=dict)
    clock: Clock = field(init=False)

    def __post_init__(self) -> None:
        for name in ("throttle_rate", "server_error_rate"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if not 0 <= self.object_failure_rate < 1:
            raise ValueError(f"object_failure_rate must be in [0, 1), got {self.object_failure_rate}")
        if not self.worker_accuracies or not all(0 < a <= 1 for a in self.worker_accuracies):
            raise ValueError(f"worker accuracies must be in (0, 1], got {self.worker_accuracies}")
        if not isinstance(self.member_accuracies, dict) or not all(
            isinstance(email, str) and isinstance(a, int | float) and 0 < a <= 1
            for email, a in self.member_accuracies.items()
        ):
            raise ValueError(f"member_accuracies must map emails to accuracies in (0, 1], got {self.member_accuracies}")
        if self.objects_per_second <= 0:
            raise ValueError(f"objects_per_second must be > 0, got {self.objects_per_second}")
        self.response_delays = _checked_response_delays(self.response_delays)
        self.clock = Clock(self.speed, self.manual_clock)

    def as_dict(self) -> dict[str, object]:
        return {
            "speed": "instant" if math.isinf(self.speed) else self.speed,
            "manual_clock": self.manual_clock,
            "initializing_seconds": self.initializing_seconds,
            "objects_per_second": self.objects_per_second,
            "stopping_seconds": self.stopping_seconds,
            "worker_accuracies": list(self.worker_accuracies),
            "member_accuracies": dict(self.member_accuracies),
            "object_failure_rate": self.object_failure_rate,
            "seed": self.seed,
            "throttle_rate": self.throttle_rate,
            "server_error_rate": self.server_error_rate,
            "response_delays": dict(self.response_delays),
        }


#: Longest response delay: long enough to kill a client in the middle of a call, short
#: enough that a forgotten setting cannot hang a server thread for good.
MAX_RESPONSE_DELAY_SECONDS = 600.0


def _checked_response_delays(delays: object) -> dict[str, float]:
    """``{action: seconds}`` with action names as AWS spells them and delays in [0, 600]."""
    if not isinstance(delays, dict):
        raise ValueError(f"response_delays must be a mapping of action name to seconds, got {delays!r}")
    checked = {}
    for action, seconds in delays.items():
        if not isinstance(action, str) or not action.isalnum() or not action[:1].isupper():
            raise ValueError(f"response_delays: {action!r} is not an action name such as 'CreateLabelingJob'")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            raise ValueError(f"response_delays[{action!r}] must be a number of seconds, got {seconds!r}")
        if not 0 <= seconds <= MAX_RESPONSE_DELAY_SECONDS:
            raise ValueError(
                f"response_delays[{action!r}] must be in [0, {MAX_RESPONSE_DELAY_SECONDS:g}] seconds, got {seconds}"
            )
        checked[action] = float(seconds)
    return checked


def parse_speed(value: str | float) -> float:
    """``"instant"`` or a positive multiplier of wall time."""
    if isinstance(value, str) and value.strip().lower() == "instant":
        return math.inf
    speed = float(value)
    if speed <= 0:
        raise ValueError(f"speed must be a positive number or 'instant', got {value!r}")
    return speed


_current = Settings()


def current() -> Settings:
    return _current


def configure(**changes: object) -> Settings:
    """Replace the settings (the clock starts anew); unknown names raise TypeError."""
    global _current
    values = {**_current.as_dict(), **changes}
    values["speed"] = parse_speed(values["speed"])  # type: ignore[arg-type]
    values["worker_accuracies"] = tuple(float(a) for a in values["worker_accuracies"])  # type: ignore[union-attr]
    _current = Settings(**values)  # type: ignore[arg-type]
    return _current
