"""The dataset card's plots, drawn with matplotlib: class balance, label confidence, worker agreement.

matplotlib is imported inside :func:`render` only, with the headless Agg backend, so
``gt_provider.datasets`` stays importable (and a DAG file fast to parse) where it is absent or
slow to import; the card then says why it has no plots. The dataset build draws them in a
fresh interpreter (:class:`Plotter`, started before its passes, drawing after them):
matplotlib and NumPy (about 55 MB) never join the build's own memory. Each plot is a PNG in the version folder,
embedded in the card's ``README.md`` next to the table it illustrates.

``python -m gt_provider.datasets.card.plots`` reads ``{"card": ..., "sections": ...}`` on stdin
and writes ``{"images": {name: base64 PNG}, "missing_reason": ...}`` on stdout.
"""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: The plots a card can have, by the section that shows them.
CLASS_BALANCE_FILE = "class-distribution.png"
CONFIDENCE_FILE = "confidence.png"
AGREEMENT_FILE = "worker-agreement.png"
PLOT_FILES = (CLASS_BALANCE_FILE, CONFIDENCE_FILE, AGREEMENT_FILE)

#: Okabe-Ito colours: distinguishable with the common colour-vision deficiencies, one per split.
SPLIT_COLOURS: tuple[str, ...] = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#F0E442",
    "#000000",
)
#: Longest class or worker name drawn as is; longer names are cut with ".." (the tables have them whole).
MAX_LABEL_CHARS = 18
#: Bars labeled with their counts up to this many classes; beyond, the numbers would overlap.
MAX_ANNOTATED_CLASSES = 30
_DPI = 100


@dataclass(frozen=True)
class Plots:
    """The PNGs drawn for a card (file name -> bytes), or why none could be."""

    images: Mapping[str, bytes]
    missing_reason: str | None = None


def _import() -> Any:
    """matplotlib's pyplot on the Agg backend; ImportError when matplotlib is not installed."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib import pyplot

    return pyplot


def render(card: Mapping[str, Any], worker_sections: Sequence[tuple[str | None, Mapping[str, Any]]] = ()) -> Plots:
    """Every plot the card's data supports; ``worker_sections`` as the card's Workers section groups them."""
    try:
        pyplot = _import()
    except ImportError:
        return Plots({}, "matplotlib is not installed where the dataset was built")
    images: dict[str, bytes] = {}
    counts = card.get("counts") or {}
    images[CLASS_BALANCE_FILE] = _class_balance(pyplot, counts.get("per_split_class") or {})
    histogram = (card.get("confidence") or {}).get("histogram") or []
    if histogram:
        images[CONFIDENCE_FILE] = _confidence(pyplot, histogram)
    workers = _agreement_rows(worker_sections)
    if workers:
        images[AGREEMENT_FILE] = _agreement(pyplot, workers)
    return Plots(images)


class Plotter:
    """A fresh interpreter that draws one card's plots (:func:`render`, run by ``_serve``).

    Start it early, while the starting process is small (a child's peak RSS counts the pages
    it shares with its parent until it execs): it waits for the card without importing
    anything heavy, and imports matplotlib only when it gets the card, after the build's
    passes. The package is imported from where this process found it.
    """

    def __init__(self) -> None:
        env = dict(os.environ)
        package_root = str(Path(__file__).resolve().parents[3])
        env["PYTHONPATH"] = os.pathsep.join(filter(None, (package_root, env.get("PYTHONPATH"))))
        self._process = subprocess.Popen(
            [sys.executable, "-m", __name__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )

    def render(
        self,
        card: Mapping[str, Any],
        worker_sections: Sequence[tuple[str | None, Mapping[str, Any]]] = (),
        *,
        timeout: float = 120,
    ) -> Plots:
        """The plots, or why there are none (the process failed, hung, or has no matplotlib)."""
        payload = json.dumps({"card": card, "sections": [list(section) for section in worker_sections]}).encode()
        try:
            out, err = self._process.communicate(payload, timeout=timeout)
        except (OSError, ValueError, subprocess.TimeoutExpired) as error:
            self.close()
            return Plots({}, f"the plotting process did not finish ({error})")
        if self._process.returncode != 0:
            last = (err.decode(errors="replace").strip().splitlines() or ["no output"])[-1]
            return Plots({}, f"the plotting process failed: {last[:300]}")
        answer = json.loads(out)
        return Plots(
            {name: base64.b64decode(data) for name, data in answer["images"].items()}, answer.get("missing_reason")
        )

    def close(self) -> None:
        """Stop the process if it still runs (a build that failed before its card)."""
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        for stream in (self._process.stdin, self._process.stdout, self._process.stderr):
            if stream is not None:
                stream.close()

    def __enter__(self) -> Plotter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def render_apart(
    card: Mapping[str, Any], worker_sections: Sequence[tuple[str | None, Mapping[str, Any]]] = ()
) -> Plots:
    """:func:`render` in a fresh interpreter: matplotlib never joins this process's memory."""
    with Plotter() as plotter:
        return plotter.render(card, worker_sections)


def _serve() -> None:
    request = json.load(sys.stdin)
    plots = render(request["card"], [tuple(section) for section in request["sections"]])
    images = {name: base64.b64encode(png).decode() for name, png in plots.images.items()}
    json.dump({"images": images, "missing_reason": plots.missing_reason}, sys.stdout)


def short(name: str) -> str:
    return name if len(name) <= MAX_LABEL_CHARS else name[: MAX_LABEL_CHARS - 2] + ".."


def _legend_above(axes: Any, columns: int) -> None:
    """The legend above the plot's right end, beside the left-aligned title: never over a bar."""
    axes.legend(frameon=False, ncols=columns, loc="lower right", bbox_to_anchor=(1.0, 1.0), borderaxespad=0.2)


def _png(pyplot: Any, figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=_DPI)
    pyplot.close(figure)
    return buffer.getvalue()


def _class_balance(pyplot: Any, per_split_class: Mapping[str, Mapping[str, int]]) -> bytes:
    """Grouped bars: objects per class (largest first) and split (one colour each)."""
    splits = list(per_split_class)
    totals: dict[str, int] = {}
    for counts in per_split_class.values():
        for name, count in counts.items():
            totals[name] = totals.get(name, 0) + count
    classes = sorted(totals, key=lambda name: (-totals[name], name))
    width = min(24.0, max(7.0, 0.35 * len(classes) * max(1, len(splits)) + 2))
    figure, axes = pyplot.subplots(figsize=(width, 4.6))
    axes.set_title("Objects per class and split", loc="left")
    if not classes:
        axes.text(0.5, 0.5, "No objects", ha="center", va="center", transform=axes.transAxes)
        axes.set_xticks([])
    bar = 0.8 / max(1, len(splits))
    for index, split in enumerate(splits):
        offsets = [position - 0.4 + bar * (index + 0.5) for position in range(len(classes))]
        values = [per_split_class[split].get(name, 0) for name in classes]
        bars = axes.bar(offsets, values, bar, label=split, color=SPLIT_COLOURS[index % len(SPLIT_COLOURS)])
        if classes and len(classes) <= MAX_ANNOTATED_CLASSES:
            axes.bar_label(bars, fontsize=7, padding=1)
    if classes:
        axes.set_xticks(range(len(classes)), [short(name) for name in classes], rotation=60 if len(classes) > 8 else 0)
        _legend_above(axes, min(len(splits), 4))
    axes.set_xlabel("class")
    axes.set_ylabel("objects")
    axes.spines[["top", "right"]].set_visible(False)
    return _png(pyplot, figure)


def _confidence(pyplot: Any, histogram: Sequence[Mapping[str, Any]]) -> bytes:
    """The consolidated confidence per object, in the card's bins."""
    figure, axes = pyplot.subplots(figsize=(7.0, 3.6))
    lefts = [float(entry["from"]) for entry in histogram]
    widths = [float(entry["to"]) - float(entry["from"]) for entry in histogram]
    counts = [int(entry.get("count", 0)) for entry in histogram]
    axes.bar(lefts, counts, widths, align="edge", color=SPLIT_COLOURS[0], edgecolor="white")
    axes.set_title("Label confidence", loc="left")
    axes.set_xlabel("consolidated confidence")
    axes.set_ylabel("objects")
    axes.set_xlim(min(lefts, default=0.0), max((a + w for a, w in zip(lefts, widths, strict=True)), default=1.0))
    axes.spines[["top", "right"]].set_visible(False)
    return _png(pyplot, figure)


def _agreement_rows(
    sections: Sequence[tuple[str | None, Mapping[str, Any]]],
) -> list[tuple[str, float | None, float | None]]:
    """(worker, agreement, accuracy) for every worker with at least one of them; the job in the name when several."""
    rows = []
    several = len(sections) > 1
    for job, statistics in sections:
        for worker in statistics.get("workers") or []:
            agreement, accuracy = worker.get("agreement"), worker.get("accuracy")
            if agreement is None and accuracy is None:
                continue
            name = str(worker.get("worker_id", "?"))
            rows.append((f"{short(name)} ({short(job)})" if several and job else short(name), agreement, accuracy))
    return rows


def _agreement(pyplot: Any, rows: Sequence[tuple[str, float | None, float | None]]) -> bytes:
    """Horizontal bars per worker: agreement with the consolidated label, and estimated accuracy."""
    ordered = sorted(rows, key=lambda row: (row[2] if row[2] is not None else row[1] or 0.0, row[0]))
    figure, axes = pyplot.subplots(figsize=(7.0, min(16.0, 1.4 + 0.32 * len(ordered))))
    positions = range(len(ordered))
    for index, (label, key) in enumerate((("agreement", 1), ("accuracy", 2))):
        values = [row[key] if row[key] is not None else 0.0 for row in ordered]
        offsets = [position + (index - 0.5) * 0.4 for position in positions]
        axes.barh(offsets, values, 0.4, label=label, color=SPLIT_COLOURS[index])
    axes.set_yticks(list(positions), [row[0] for row in ordered])
    axes.set_xlim(0, 1)
    axes.set_xlabel("share (1 = always matches)")
    axes.set_title("Workers (least accurate first)", loc="left")
    axes.invert_yaxis()
    _legend_above(axes, 2)
    axes.spines[["top", "right"]].set_visible(False)
    return _png(pyplot, figure)


if __name__ == "__main__":
    _serve()
