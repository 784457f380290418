"""The dataset card: the README people read, from the data of ``dataset.json`` (counts: :mod:`.statistics`).

A reviewer deciding whether a labeled dataset is fit to train on wants, at a glance: where
it came from, how the classes spread over the splits, how much was lost and why, how sure
the consolidation was, and which workers disagree with everybody else. ``dataset.json``
holds all of it as data (assembled by the build module); this module turns it into a
``README.md`` with warnings when a number crosses a threshold, and plots.

Standard library only, PyYAML for the Hugging Face front matter (matplotlib draws the plots inside :mod:`gt_provider.datasets.card.plots`
when it is installed).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from gt_provider.datasets.card.croissant import CROISSANT_FILE, croissant
from gt_provider.datasets.card.plots import AGREEMENT_FILE, CLASS_BALANCE_FILE, CONFIDENCE_FILE, PLOT_FILES, Plotter
from gt_provider.datasets.card.sections import (
    MIN_OBJECTS_PER_CLASS_AND_SPLIT,
    MIN_WORKER_ACCURACY,
    _annotation,
    _cell,
    _class_order,
    _confidence,
    _counts,
    _losses,
    _provenance,
    _summary,
    _usage,
    _worker_sections,
    _workers,
)
from gt_provider.datasets.card.statistics import CONFIDENCE_BINS, DatasetStatistics
from gt_provider.datasets.exporters.huggingface import FORMAT_NAME as HUGGINGFACE_FORMAT
from gt_provider.datasets.exporters.huggingface import huggingface_front_matter

__all__ = [
    "CHART_FILE",
    "CONFIDENCE_BINS",
    "CROISSANT_FILE",
    "MAX_FAILED_SHARE",
    "MIN_MEAN_CONFIDENCE",
    "MIN_OBJECTS_PER_CLASS_AND_SPLIT",
    "MIN_WORKER_ACCURACY",
    "PLOT_FILES",
    "README_FILE",
    "DatasetStatistics",
    "card_readme",
    "card_warnings",
    "front_matter",
    "strip_front_matter",
    "write_card_files",
]

README_FILE = "README.md"
#: The class-balance plot (the first of ``PLOT_FILES``).
CHART_FILE = CLASS_BALANCE_FILE

#: More failed objects than this share of all objects read points at a broken job or input.
MAX_FAILED_SHARE = 0.05
#: Mean consolidated confidence below this means workers often disagreed: review the labels.
MIN_MEAN_CONFIDENCE = 0.7
# ----------------------------------------------------------------------------- README


def card_warnings(card: Mapping[str, Any]) -> list[str]:
    """What a reviewer should look at before training on the dataset, one sentence each.

    Thresholds are the module constants; an empty list means nothing crossed them.
    """
    warnings: list[str] = []
    counts = card.get("counts") or {}
    per_split: Mapping[str, int] = counts.get("per_split") or {}
    per_split_class: Mapping[str, Mapping[str, int]] = counts.get("per_split_class") or {}
    total = int(counts.get("total") or sum(per_split.values()))

    empty = [split for split, n in per_split.items() if not n]
    if empty:
        warnings.append(f"Empty split{'s' if len(empty) > 1 else ''}: {', '.join(f'`{s}`' for s in empty)}.")
    classes = _class_order(card)
    for name in classes:
        rare = [
            f"{split} ({per_split_class.get(split, {}).get(name, 0)})"
            for split in per_split
            if per_split[split] and per_split_class.get(split, {}).get(name, 0) < MIN_OBJECTS_PER_CLASS_AND_SPLIT
        ]
        if rare:
            warnings.append(
                f"Class `{_cell(name)}` has fewer than {MIN_OBJECTS_PER_CLASS_AND_SPLIT} objects in {', '.join(rare)}."
            )

    failed = int(counts.get("failed") or 0)
    dropped: Mapping[str, int] = counts.get("dropped") or {}
    read = total + sum(dropped.values()) + max(0, failed - int(dropped.get("failed", 0)))
    if read and failed / read > MAX_FAILED_SHARE:
        warnings.append(
            f"{failed:,} of {read:,} objects failed ({failed / read:.1%}, more than {MAX_FAILED_SHARE:.0%}): "
            "check the labeling job's failure reasons and the input manifest."
        )

    mean = (card.get("confidence") or {}).get("mean")
    if mean is not None and mean < MIN_MEAN_CONFIDENCE:
        warnings.append(
            f"Mean label confidence is {mean:.2f}, below {MIN_MEAN_CONFIDENCE}: workers often disagreed; "
            "review a sample of labels or the instructions."
        )

    for job, statistics in _worker_sections(card):
        for worker in statistics.get("workers") or ():
            accuracy = worker.get("accuracy")
            if accuracy is not None and accuracy < MIN_WORKER_ACCURACY:
                where = f" in job `{job}`" if job else ""
                warnings.append(
                    f"Worker `{_cell(worker.get('worker_id', '?'))}`{where} has accuracy {accuracy:.2f} "
                    f"(below {MIN_WORKER_ACCURACY}) over {worker.get('scored', worker.get('answers', 0)):,} "
                    "scored answers."
                )
    return warnings


def card_readme(
    card: Mapping[str, Any], *, plots: Collection[str] = (), plots_missing_reason: str | None = None
) -> str:
    """The dataset's ``README.md``: what it is, whether its labels can be trusted, how to use it.

    Renders whatever sections ``card`` has (a partial card still gives a readable page).
    ``plots`` are the plot files written beside it (of ``PLOT_FILES``), each shown in its
    section; ``plots_missing_reason`` says why there are none.
    """
    name = card.get("name", "dataset")
    version = card.get("version")
    title = f"# {name}" + (f" — version {version}" if version is not None else "")
    out = [title, ""]
    out += _summary(card)
    warnings = card_warnings(card)
    out += ["## Warnings", ""]
    if warnings:
        out += [f"- ⚠️ {warning}" for warning in warnings]
    else:
        out.append(
            f"None: every class has at least {MIN_OBJECTS_PER_CLASS_AND_SPLIT} objects in every split, "
            f"at most {MAX_FAILED_SHARE:.0%} failed, mean confidence at least {MIN_MEAN_CONFIDENCE} "
            f"and no worker below accuracy {MIN_WORKER_ACCURACY}."
        )
    out.append("")
    out += _provenance(card)
    out += _counts(card, CLASS_BALANCE_FILE if CLASS_BALANCE_FILE in plots else None, plots_missing_reason)
    out += _losses(card)
    out += _annotation(card)
    out += _confidence(card, CONFIDENCE_FILE if CONFIDENCE_FILE in plots else None)
    out += _workers(card, AGREEMENT_FILE if AGREEMENT_FILE in plots else None)
    out += _usage(card)
    return "\n".join(out).rstrip() + "\n"


def write_card_files(directory: Path, card: Mapping[str, Any], *, plotter: Plotter | None = None) -> list[str]:
    """Write ``README.md``, its plots (when matplotlib is installed) and ``croissant.json`` into ``directory``.

    The plots are drawn in a fresh interpreter: ``plotter``'s (the build starts one early),
    or one started here. A version with the ``huggingface`` format gets Hugging Face's YAML
    front matter on its README (configs, features, splits), so the folder is a Hub dataset
    repository as it is. ``croissant.json`` describes every file written before it, with
    checksums (:mod:`gt_provider.datasets.card.croissant`). Returns the paths written,
    relative to ``directory``. ``dataset.json`` is not written here: the build writes it
    last, as the mark that the version is complete.
    """
    from gt_provider.datasets.card.plots import render_apart

    directory.mkdir(parents=True, exist_ok=True)
    sections = _worker_sections(card)
    plots = plotter.render(card, sections) if plotter is not None else render_apart(card, sections)
    for name, png in plots.images.items():
        (directory / name).write_bytes(png)
    readme = card_readme(card, plots=plots.images.keys(), plots_missing_reason=plots.missing_reason)
    if HUGGINGFACE_FORMAT in (card.get("files") or {}):
        readme = front_matter(huggingface_front_matter(card)) + readme
    (directory / README_FILE).write_text(readme, encoding="utf-8")
    written = [README_FILE, *plots.images]
    document = croissant(directory, card, written)
    (directory / CROISSANT_FILE).write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return [*written, CROISSANT_FILE]


def front_matter(metadata: Mapping[str, Any]) -> str:
    """``metadata`` as a README's YAML front matter block (``---`` lines around it)."""
    import yaml  # PyYAML: with Airflow (and datasets) wherever datasets are built

    return "---\n" + yaml.safe_dump(dict(metadata), sort_keys=False, allow_unicode=True) + "---\n"


def strip_front_matter(markdown: str) -> str:
    """``markdown`` without a leading YAML front matter block (what the Hub reads, not what people read)."""
    if not markdown.startswith("---\n"):
        return markdown
    end = markdown.find("\n---\n", 3)
    return markdown if end < 0 else markdown[end + len("\n---\n") :].lstrip("\n")


# ------------------------------------------------------------------ README sections
