"""The sections of the dataset card's README, each from the card data of ``dataset.json``.

:mod:`gt_provider.datasets.card` assembles them (and the warnings); each function here
renders one section as Markdown lines. Standard library only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

#: A class with fewer objects than this in a split is too rare there to train on or to measure.
MIN_OBJECTS_PER_CLASS_AND_SPLIT = 10

#: A worker below this accuracy labels worse than the team; retrain or remove them.
MIN_WORKER_ACCURACY = 0.8

_HISTOGRAM_WIDTH = 30

#: Classes shown in the human-vs-machine table; the rest are summed in one "others" row.
MAX_ANNOTATION_CLASSES = 20


def _worker_sections(card: Mapping[str, Any]) -> list[tuple[str | None, Mapping[str, Any]]]:
    """``card["workers"]`` as (job name or None, statistics) pairs.

    It is either one :func:`~gt_provider.datasets.workers.statistics.worker_statistics` result or, for
    a dataset built from several jobs, a mapping of job name to such a result.
    """
    workers = card.get("workers")
    if not isinstance(workers, Mapping) or not workers:
        return []
    if "workers" in workers and isinstance(workers.get("workers"), list):
        return [(None, workers)]
    return [(str(job), statistics) for job, statistics in workers.items() if isinstance(statistics, Mapping)]


def _summary(card: Mapping[str, Any]) -> list[str]:
    counts = card.get("counts") or {}
    per_split = counts.get("per_split") or {}
    total = counts.get("total", sum(per_split.values()))
    classes = _class_order(card)
    parts = [f"**{total:,} objects**"]
    if per_split:
        parts.append(" / ".join(f"{split} {n:,}" for split, n in per_split.items()))
    parts.append(f"{len(classes)} class{'es' if len(classes) != 1 else ''}")
    if card.get("label_kind"):
        parts.append(f"label kind `{card['label_kind']}`")
    lines = [", ".join(parts) + "."]
    if card.get("created"):
        lines.append(f"Built {card['created']}" + (f" at `{card['uri']}`." if card.get("uri") else "."))
    return [" ".join(lines), ""]


def _provenance(card: Mapping[str, Any]) -> list[str]:
    out = ["## Where it came from", ""]
    if card.get("label_attribute") or card.get("output_type"):
        out.append(
            f"- Label attribute `{card.get('label_attribute', '?')}` of type `{card.get('output_type', '?')}`"
            + (f", objects in `{card['source_field']}`" if card.get("source_field") else "")
            + "."
        )
    jobs = card.get("job_names") or []
    if jobs:
        out.append(f"- Labeling job{'s' if len(jobs) > 1 else ''}: {', '.join(f'`{job}`' for job in jobs)}.")
    out += _cost(card.get("cost"))
    parent = card.get("parent_version")
    if "parent_version" in card:
        out.append(f"- Parent version: {parent}." if parent is not None else "- First version.")
        out += _changes(card.get("changes"), card.get("version"))
    splits = card.get("splits") or {}
    ratios = splits.get("ratios") or {}
    if ratios:
        shares = ", ".join(f"{split} {ratio:.0%}" for split, ratio in ratios.items())
        how = "stratified by class" if splits.get("stratified") else "not stratified"
        seed = splits.get("seed")
        out.append(f"- Splits: {shares}, {how}" + (f", seed `{seed}`" if seed not in (None, "") else "") + ".")
    filters = card.get("filters") or {}
    active = {key: value for key, value in filters.items() if value not in (None, False, [], {}, "")}
    if active:
        out.append("- Filters: " + ", ".join(f"`{key}` = `{value}`" for key, value in active.items()) + ".")
    mapping = card.get("label_mapping") or {}
    if mapping:
        out.append("- Labels renamed: " + ", ".join(f"`{old}` → `{new}`" for old, new in mapping.items()) + ".")
    if card.get("fingerprint"):
        out.append(f"- Fingerprint `{card['fingerprint']}` (the same inputs and settings give the same one).")
    out.append("")
    sources = card.get("sources") or []
    if sources:
        out += ["| output manifest | jobs | objects |", "|---|---|---:|"]
        for source in sources:
            names = ", ".join(source.get("job_names") or [])
            out.append(f"| `{_cell(source.get('manifest', '?'))}` | {_cell(names)} | {source.get('objects', 0):,} |")
        out.append("")
    return out


def _counts(card: Mapping[str, Any], chart_file: str | None, chart_missing_reason: str | None) -> list[str]:
    counts = card.get("counts") or {}
    per_split: Mapping[str, int] = counts.get("per_split") or {}
    out = ["## Objects per split and class", ""]
    if chart_file:
        out += [f"![Objects per class and split]({chart_file})", ""]
    elif chart_missing_reason:
        out += [f"No plots: {chart_missing_reason}.", ""]
    out += _class_table(card, counts.get("per_split_class") or {}, per_split, "objects")
    if counts.get("instances_per_split_class"):
        out += [
            "Instances (boxes, entities, cuboids) per split and class; an object with three boxes of a class "
            "counts once above and three times here:",
            "",
        ]
        out += _class_table(card, counts["instances_per_split_class"], None, "instances")
    without = counts.get("without_labels") or {}
    if any(without.values()):
        out += [
            "Objects without any label (e.g. an image with no boxes): "
            + ", ".join(f"{split} {n:,}" for split, n in without.items())
            + ".",
            "",
        ]
    return out


def _class_table(
    card: Mapping[str, Any],
    per_split_class: Mapping[str, Mapping[str, int]],
    per_split: Mapping[str, int] | None,
    what: str,
) -> list[str]:
    splits = list(per_split) if per_split else list(per_split_class)
    classes = _class_order(card, per_split_class)
    ids = {name: class_id for class_id, name in (card.get("label_map") or {}).items()}
    if not classes:
        return [f"No {what}.", ""]
    header = "| class | id | " + " | ".join(splits) + " | total |"
    out = [header, "|---|---:|" + "---:|" * (len(splits) + 1)]
    totals = dict.fromkeys(splits, 0)
    for name in classes:
        row = [per_split_class.get(split, {}).get(name, 0) for split in splits]
        for split, n in zip(splits, row, strict=True):
            totals[split] += n
        cells = " | ".join(_count_cell(n, per_split is not None) for n in row)
        out.append(f"| {_cell(name)} | {ids.get(name, '')} | {cells} | {sum(row):,} |")
    if per_split is not None:
        row = [per_split.get(split, 0) for split in splits]
        out.append(f"| **objects** | | {' | '.join(f'**{n:,}**' for n in row)} | **{sum(row):,}** |")
    else:
        out.append(
            f"| **total** | | {' | '.join(f'**{totals[s]:,}**' for s in splits)} | **{sum(totals.values()):,}** |"
        )
    out.append("")
    if per_split is not None:
        note = "An object counts once for each class it carries, so class rows can add up to more than the objects."
        rare = any(
            per_split_class.get(split, {}).get(name, 0) < MIN_OBJECTS_PER_CLASS_AND_SPLIT
            for name in classes
            for split in splits
        )
        if rare:
            note += f" Counts under {MIN_OBJECTS_PER_CLASS_AND_SPLIT} are marked ⚠️."
        out += [note, ""]
    return out


def _count_cell(n: int, mark_rare: bool) -> str:
    return f"{n:,} ⚠️" if mark_rare and n < MIN_OBJECTS_PER_CLASS_AND_SPLIT else f"{n:,}"


def _losses(card: Mapping[str, Any]) -> list[str]:
    counts = card.get("counts") or {}
    dropped: Mapping[str, int] = counts.get("dropped") or {}
    failed = int(counts.get("failed") or 0)
    out = ["## Failed and dropped objects", ""]
    if not dropped and not failed:
        return [*out, "None: every object read is in the dataset.", ""]
    total = int(counts.get("total") or 0)
    read = total + sum(dropped.values()) + max(0, failed - int(dropped.get("failed", 0)))
    out.append(f"{failed:,} failed in labeling ({_share(failed, read)} of {read:,} objects read).")
    if dropped:
        out += ["", "| left out because | objects | share of objects read |", "|---|---:|---:|"]
        for reason, n in sorted(dropped.items(), key=lambda item: (-item[1], item[0])):
            out.append(f"| {_cell(reason)} | {n:,} | {_share(n, read)} |")
    out.append("")
    return out


def _changes(changes: Mapping[str, Any] | None, version: Any) -> list[str]:
    """What changed since the parent version: counts, the commonest relabelings, the first relabeled objects."""
    if not changes:
        return []
    since = changes["since_version"]
    out = [
        f"- Since v={since}: {changes['added']:,} objects added, {changes['relabeled']:,} relabeled, "
        f"{changes['removed']:,} removed, {changes['unchanged']:,} unchanged. Every change: "
        f"`python -m gt_provider.datasets diff <dataset root> {since} {version}`."
    ]
    relabelings = changes.get("relabelings") or []
    if not relabelings:
        return out
    out += ["", "| relabeled from | to | objects |", "|---|---|---:|"]
    out += [f"| {_cell(r['old'])} | {_cell(r['new'])} | {r['objects']:,} |" for r in relabelings]
    out += ["", "First relabeled objects (old → new label, by which job):", ""]
    out += [
        f"- `{_cell(e['source'][:120])}` ({e['split']}): {e['old']} → {e['new']}, job `{e['job']}`"
        for e in changes.get("relabeled_examples") or []
    ]
    return [*out, ""]


def _cost(cost: Mapping[str, Any] | None) -> list[str]:
    """ "This version cost $X; automation saved $Y", with the jobs and the pricing's date."""
    if not cost:
        return []
    jobs = ", ".join(f"`{job}` ${usd:,.2f}" for job, usd in (cost.get("jobs") or {}).items())
    line = f"- This version cost ${cost['actual_usd']:,.2f} to label ({jobs})"
    if cost.get("saved_usd"):
        line += f"; automation saved ${cost['saved_usd']:,.2f} (all-human: ${cost['all_human_usd']:,.2f})"
    out = [line + "."]
    if cost.get("unpriced_jobs"):
        out.append(f"- Not priced: {', '.join(f'`{job}`' for job in cost['unpriced_jobs'])}.")
    out.append(
        f"  Prices of {cost.get('pricing_as_of') or '?'} from {cost.get('pricing_source') or '?'}: an estimate, not a bill."
    )
    return out


def _annotation(card: Mapping[str, Any]) -> list[str]:
    annotation = card.get("annotation") or {}
    human, machine = int(annotation.get("human") or 0), int(annotation.get("machine") or 0)
    if not human and not machine:
        return []
    both = human + machine
    out = [
        "## Human and machine labels",
        "",
        f"- Human: {human:,} ({_share(human, both)})",
        f"- Machine (automated data labeling): {machine:,} ({_share(machine, both)})",
        "",
    ]
    if machine:
        out += _annotation_table(annotation.get("per_split") or {})
        out += _machine_confidence(annotation.get("machine_confidence") or {})
        out += _thresholds(card.get("confidence_thresholds") or {})
    return out


def _thresholds(thresholds: Mapping[str, Sequence[float]]) -> list[str]:
    """The confidence threshold each job's machine labels had to reach, per iteration (where reported)."""
    if not thresholds:
        return ["The labeling backend did not report its confidence thresholds (AWS does not publish them).", ""]
    out = ["Confidence threshold the machine labels had to reach, per iteration of the job:", ""]
    out += [f"- `{job}`: {', '.join(f'{value:.3f}' for value in values)}" for job, values in thresholds.items()]
    return [*out, ""]


def _annotation_table(per_split: Mapping[str, Mapping[str, Mapping[str, int]]]) -> list[str]:
    """Objects per class and split as "human / machine", the most numerous classes first, the rest as "others"."""
    splits = list(per_split)
    totals: dict[str, list[int]] = {}
    for classes in per_split.values():
        for name, pair in classes.items():
            total = totals.setdefault(name, [0, 0])
            total[0] += int(pair.get("human") or 0)
            total[1] += int(pair.get("machine") or 0)
    if not splits or not totals:
        return []
    ranked = sorted(totals, key=lambda name: (-sum(totals[name]), name))
    shown, rest = ranked[:MAX_ANNOTATION_CLASSES], ranked[MAX_ANNOTATION_CLASSES:]
    out = [
        "Objects per class and split, labeled by people / by the model:",
        "",
        "| class | " + " | ".join(_cell(split) for split in splits) + " | total |",
        "|---|" + "---:|" * (len(splits) + 1),
    ]

    def row(label: str, names: Sequence[str]) -> str:
        cells = []
        for split in splits:
            classes = per_split[split]
            cells.append(
                _pair(
                    sum(int((classes.get(name) or {}).get(key) or 0) for name in names) for key in ("human", "machine")
                )
            )
        whole = _pair(sum(totals[name][index] for name in names) for index in (0, 1))
        return f"| {label} | {' | '.join(cells)} | {whole} |"

    out += [row(_cell(name), [name]) for name in shown]
    if rest:
        out.append(row(f"others ({len(rest):,} classes)", rest))
    out += [
        "",
        "An object counts once for each class it carries; objects without a class are not in this table.",
        "",
    ]
    return out


def _pair(counts: Any) -> str:
    human, machine = counts
    return f"{human:,} / {machine:,}"


def _machine_confidence(confidence: Mapping[str, Any]) -> list[str]:
    """min / median / mean of the machine labels' confidence, per split and overall."""
    if not confidence.get("count"):
        return []
    out = [
        "Confidence of the machine labels (the model's, per object):",
        "",
        "| split | machine labels | min | median | mean |",
        "|---|---:|---:|---:|---:|",
    ]
    rows = [*((_cell(split), figures) for split, figures in (confidence.get("per_split") or {}).items())]
    rows.append(("**all**", confidence))
    for label, figures in rows:
        out.append(
            f"| {label} | {int(figures.get('count') or 0):,} | {_ratio(figures.get('min'), 3)} | "
            f"{_ratio(figures.get('median'), 3)} | {_ratio(figures.get('mean'), 3)} |"
        )
    out += ["", "The median is read from a histogram of 0.01-wide bins: the middle of the bin of the middle label.", ""]
    return out


def _confidence(card: Mapping[str, Any], plot_file: str | None = None) -> list[str]:
    confidence = card.get("confidence") or {}
    histogram = confidence.get("histogram") or []
    if not histogram:
        return []
    out = ["## Label confidence", ""]
    if plot_file:
        out += [f"![Label confidence]({plot_file})", ""]
    peak = max((entry.get("count", 0) for entry in histogram), default=0)
    rows = []
    for index, entry in enumerate(histogram):
        closing = "]" if index == len(histogram) - 1 else ")"
        bar = "█" * (math.ceil(entry["count"] / peak * _HISTOGRAM_WIDTH) if peak and entry["count"] else 0)
        rows.append(f"[{entry['from']:.1f}, {entry['to']:.1f}{closing} {bar:<{_HISTOGRAM_WIDTH}} {entry['count']:,}")
    out += ["```", *rows, "```", ""]
    facts = []
    if confidence.get("mean") is not None:
        facts.append(f"mean {confidence['mean']:.3f}")
    if confidence.get("min") is not None:
        facts.append(f"lowest {confidence['min']:.3f}")
    if confidence.get("without_confidence"):
        facts.append(f"{confidence['without_confidence']:,} objects without a confidence")
    if facts:
        out += ["Consolidated confidence per object (for labels with several parts, the lowest part): "
                + ", ".join(facts) + ". With one worker per object Ground Truth writes 0.00.", ""]  # fmt: skip
    return out


def _workers(card: Mapping[str, Any], plot_file: str | None = None) -> list[str]:
    out = ["## Workers", ""]
    sections = _worker_sections(card)
    if not sections:
        return [*out, "Not computed: no worker responses were read for this dataset.", ""]
    if plot_file:
        out += [f"![Workers: agreement and accuracy]({plot_file})", ""]
    for job, statistics in sections:
        if job:
            out += [f"### Job `{job}`", ""]
        out += _worker_section(statistics)
    return out


def _worker_section(statistics: Mapping[str, Any]) -> list[str]:
    out = []
    if statistics.get("measure") is None:
        out.append(f"- Agreement not computed: {statistics.get('note') or 'not supported for this label kind'}.")
    else:
        out.append(f"- Agreement with the consolidated label: {statistics['measure']}.")
        if statistics.get("accuracy_method"):
            out.append(f"- Accuracy: {statistics['accuracy_method']}.")
        pairwise = statistics.get("pairwise_agreement")
        if pairwise is not None:
            out.append(
                f"- Workers agree with each other at {pairwise:.2f} on average "
                f"({statistics.get('pairs', 0):,} pairs of answers to the same object)."
            )
        elif statistics.get("note"):
            out.append(f"- Not measured: {statistics['note']}.")
    skipped = statistics.get("skipped_answers") or 0
    if skipped:
        out.append(f"- {skipped:,} answers were in a form this card cannot read and were not scored.")
    out += ["", "| worker | answers | agreement | accuracy | mean seconds |", "|---|---:|---:|---:|---:|"]
    rows = statistics.get("workers") or []
    for worker in sorted(rows, key=lambda w: (_sort_key(w.get("accuracy")), str(w.get("worker_id", "")))):
        accuracy = worker.get("accuracy")
        flag = " ⚠️" if accuracy is not None and accuracy < MIN_WORKER_ACCURACY else ""
        out.append(
            f"| `{_cell(worker.get('worker_id', '?'))}` | {worker.get('answers', 0):,} | "
            f"{_ratio(worker.get('agreement'))} | {_ratio(accuracy)}{flag} | {_ratio(worker.get('mean_seconds'), 1)} |"
        )
    out += ["", "Least accurate first.", ""]
    return out + _gold_section(statistics)


def _gold_section(statistics: Mapping[str, Any]) -> list[str]:
    """Workers' accuracy on the job's gold items (known answers), who is flagged, and whether they were left out."""
    gold = statistics.get("gold")
    if not gold:
        return []
    out = ["#### Gold items", ""]
    if not gold.get("scored"):
        return [
            *out,
            f"{gold['objects']:,} gold items; not scored: gold answers are scored for single-class labels.",
            "",
        ]
    flagged = gold.get("flagged") or []
    out.append(
        f"{gold['objects']:,} gold items (objects whose answer is known; not in the dataset). A worker is flagged "
        f"below {gold['min_accuracy']:.2f} on at least {gold['min_answers']} of them."
    )
    if flagged:
        what = (
            "their answers were left out and the objects they answered consolidated again from the other workers'"
            if gold.get("excluded")
            else "their answers still count in this version; build with `exclude_flagged_workers` to leave them out"
        )
        out.append(f"Flagged: {', '.join(f'`{_cell(worker)}`' for worker in flagged)}; {what}.")
    else:
        out.append("No worker is flagged.")
    out += ["", "| worker | gold answers | right | flagged |", "|---|---:|---:|---|"]
    rows = [worker for worker in statistics.get("workers") or [] if worker.get("gold_answers")]
    for worker in sorted(rows, key=lambda w: (_sort_key(w.get("gold_accuracy")), str(w.get("worker_id", "")))):
        out.append(
            f"| `{_cell(worker.get('worker_id', '?'))}` | {worker['gold_answers']:,} | "
            f"{_ratio(worker.get('gold_accuracy'))} | {'yes' if worker.get('flagged') else ''} |"
        )
    return [*out, ""]


def _usage(card: Mapping[str, Any]) -> list[str]:
    out = ["## How to use it", ""]
    files: Mapping[str, Mapping[str, Sequence[str]]] = card.get("files") or {}
    root = str(card.get("uri") or "")
    if files:
        out += ["Files, relative to " + (f"`{root}`" if root else "this folder") + ":", ""]
        for fmt, per_split in files.items():
            out.append(f"- **{fmt}**")
            for split, paths in per_split.items():
                out.append(f"  - {split}: " + ", ".join(f"`{path}`" for path in paths))
        out.append("")
    root_of_versions = root.rstrip("/").rpartition("/")[0]
    version = card.get("version")
    load = (
        f'card = DatasetLocation("{root_of_versions}").read_card({version})'
        if root_of_versions and version is not None
        else 'card = json.loads(Path("dataset.json").read_text())'
    )
    out += [
        "For a SageMaker training job, `training_channels` turns this card into the `InputDataConfig` "
        "of `SageMakerTrainingOperator`, one augmented-manifest channel per split"
        + ("" if "augmented-manifest" in files or not files else " (this version has no augmented-manifest export)")
        + ":",
        "",
        "```python",
        *(
            [
                "from gt_provider.datasets.channels import training_channels",
                "from gt_provider.datasets.storage import DatasetLocation",
            ]
            if root_of_versions and version is not None
            else [
                "import json",
                "from pathlib import Path",
                "",
                "from gt_provider.datasets.channels import training_channels",
            ]
        ),
        "",
        load,
        "channels = training_channels(card)",
        "```",
        "",
        "`dataset.json` beside this file has every number above as data.",
        "",
    ]
    return out


# ---------------------------------------------------------------------- helpers


def _class_order(card: Mapping[str, Any], per_split_class: Mapping[str, Mapping[str, int]] | None = None) -> list[str]:
    """Classes in label-map order (by class id), then any others by name."""
    if per_split_class is None:
        per_split_class = (card.get("counts") or {}).get("per_split_class") or {}
    label_map: Mapping[str, str] = card.get("label_map") or {}
    ordered = [label_map[key] for key in sorted(label_map, key=_class_id_key)]
    seen = {name for counts in per_split_class.values() for name in counts}
    return list(dict.fromkeys(ordered)) + sorted(seen - set(ordered))


def _class_id_key(key: Any) -> tuple[int, str]:
    """Numeric class ids in number order ("2" before "10"), any other keys after them."""
    text = str(key)
    return (int(text), "") if text.isdigit() else (1 << 62, text)


def _cell(value: Any) -> str:
    """Text safe inside a Markdown table cell."""
    return str(value).replace("|", "\\|").replace("\n", " ").replace("`", "'")


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "—"


def _ratio(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _sort_key(value: float | None) -> float:
    return 2.0 if value is None else value
