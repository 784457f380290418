"""What the benchmarks share: a bare parsing pass, peak RSS, child processes, MB.

Every measurement runs in a fresh child process (``python <script> --child NAME PATH``),
so each peak RSS (``ru_maxrss`` of the child itself) belongs to one measurement only. A
measurement that starts processes of its own also counts theirs (:func:`children_peak_rss_bytes`,
:class:`TreeRss`).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

_PAGE = os.sysconf("SC_PAGE_SIZE")


def peak_rss_bytes() -> int:
    """This process's peak resident set size (``ru_maxrss`` is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def children_peak_rss_bytes() -> int:
    """The largest peak RSS of the processes this one started and waited for (0 when none)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024


class TreeRss:
    """The peak of the summed RSS of this process and all its descendants, sampled every ``interval`` s.

    Sums resident pages per process, so pages two processes share (the interpreter's code) count
    twice: an upper bound of what the processes used together at any sampled moment. It also
    keeps each kind of descendant's largest sample (``role_peaks``): the dataset build's card
    plotting process (``plots``) apart from its reading and writing processes (``pass``), and
    the plotting process's largest sample while a pass process was alive (``plots_beside_passes``).
    """

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.peak = 0
        self.role_peaks: dict[str, int] = {}
        self.plots_beside_passes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeRss:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._record(self.processes())
        self._record(self.processes())

    def _record(self, processes: list[tuple[str, int]]) -> None:
        self.peak = max(self.peak, sum(rss for _, rss in processes))
        for role, rss in processes:
            self.role_peaks[role] = max(self.role_peaks.get(role, 0), rss)
        if any(role == "pass" for role, _ in processes):
            plots = [rss for role, rss in processes if role == "plots"]
            self.plots_beside_passes = max([self.plots_beside_passes, *plots])

    @staticmethod
    def processes() -> list[tuple[str, int]]:
        """(role, RSS) of this process (``own``) and every descendant, now."""
        found, pending = [], [os.getpid()]
        while pending:
            pid = pending.pop()
            try:
                rss = int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE
                command = Path(f"/proc/{pid}/cmdline").read_bytes()
                for task in Path(f"/proc/{pid}/task").iterdir():
                    pending += [int(child) for child in (task / "children").read_text().split()]
            except (OSError, ValueError):  # it ended while being read
                continue
            role = "own" if pid == os.getpid() else "plots" if b"gt_provider.datasets.card.plots" in command else "pass"
            found.append((role, rss))
        return found

    @classmethod
    def sample(cls) -> int:
        return sum(rss for _, rss in cls.processes())


def parse_every_line(loads: Callable[[bytes], Any], path: str) -> tuple[int, float]:
    """The bare parsing pass: read each line and parse it, nothing else (lines, seconds)."""
    started = time.perf_counter()
    count = 0
    with open(path, "rb") as handle:
        for line in handle:
            loads(line)
            count += 1
    return count, time.perf_counter() - started


def run_child(script: str, name: str, path: Path, *extra: str) -> dict[str, Any]:
    """Run ``script --child name path [extra]`` and return the JSON it printed."""
    command = [sys.executable, script, "--child", name, str(path), *extra]
    completed = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def megabytes(value: float) -> str:
    return f"{value / 10**6:,.1f} MB"


def version(package: str) -> str:
    from importlib.metadata import version as installed

    return installed(package)


def keep_best(best: dict[str, dict[str, Any]], result: dict[str, Any]) -> None:
    """Keep the fastest run of ``result["name"]``, with the largest peaks (``*peak_rss_bytes``) seen over all its runs."""
    previous = best.get(result["name"])
    peaks = {
        key: max(value, previous.get(key, 0) if previous else 0)
        for key, value in result.items()
        if key.endswith("peak_rss_bytes")
    }
    if previous is None or result["seconds"] < previous["seconds"]:
        best[result["name"]] = result
    best[result["name"]].update(peaks)


def print_measurements(best: dict[str, dict[str, Any]], labels: dict[str, str]) -> None:
    """One row per measurement: lines, seconds, lines/s, peak RSS."""
    print()
    print(f"{'measurement':<44}{'lines':>11}{'seconds':>10}{'lines/s':>12}{'peak RSS':>12}")
    for name, label in labels.items():
        result = best[name]
        rate = result["lines"] / result["seconds"]
        print(
            f"{label:<44}{result['lines']:>11,}{result['seconds']:>10.3f}{rate:>12,.0f}"
            f"{megabytes(result['peak_rss_bytes']):>12}"
        )


def print_checks(checks: list[tuple[str, str, str, bool]]) -> int:
    """The targets, each ok or MISSED; the exit status (0 when all are met)."""
    print()
    print(f"{'ratio':<44}{'value':>11}{'target':>13}")
    for label, value, target, ok in checks:
        print(f"{label:<44}{value:>11}{target:>13}  {'ok' if ok else 'MISSED'}")
    return 0 if all(ok for *_, ok in checks) else 1
