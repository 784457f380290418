"""The class-distribution chart of a dataset card: a grouped bar chart as PNG bytes.

Drawn with Pillow alone (no matplotlib): Pillow is already what the local AWS and the image
exporters use, and a bar chart needs nothing more. Pillow is imported inside the function, so
``gt_provider.datasets`` stays importable (and a DAG file fast to parse) where it is absent;
the card then simply has no chart.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

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
#: Longest class name drawn as is; longer names are cut with ".." (the card's table has them whole).
MAX_LABEL_CHARS = 18

_PLOT_HEIGHT = 300
_MIN_WIDTH = 560
_MAX_WIDTH = 2400
_LEFT = 72
_RIGHT = 24
_TOP = 84
_BAR_GAP = 2
_MAX_BAR_WIDTH = 28
_BACKGROUND = "#FFFFFF"
_INK = "#222222"
_GRID = "#E3E3E3"
_LABEL_ANGLE = 60


def class_distribution_png(per_split_class: Mapping[str, Mapping[str, int]]) -> bytes | None:
    """A grouped bar chart of objects per class (x) and split (one colour each), as PNG bytes.

    ``per_split_class`` is the card's ``counts.per_split_class``: ``{split: {class: n}}``.
    Classes are ordered by total count, largest first, so imbalance shows at a glance. With
    many classes the names are shortened and turned 60 degrees, and counts that do not fit
    above a bar are written upright. An empty dataset gives a chart that says so. Returns
    None when Pillow is not installed.
    """
    try:
        from PIL import Image, ImageDraw, ImageFont
    except ImportError:
        return None

    splits = list(per_split_class)
    totals: dict[str, int] = {}
    for counts in per_split_class.values():
        for name, count in counts.items():
            totals[name] = totals.get(name, 0) + int(count)
    classes = sorted(totals, key=lambda name: (-totals[name], name))
    peak = max((int(n) for counts in per_split_class.values() for n in counts.values()), default=0)

    font = ImageFont.load_default()
    try:
        title_font = ImageFont.load_default(size=16)
    except TypeError:  # Pillow < 10.1 has one bitmap size only
        title_font = font
    bar_width = _bar_width(len(classes), max(len(splits), 1))
    group_width = bar_width * max(len(splits), 1) + _BAR_GAP * (max(len(splits), 1) - 1)
    group_gap = max(8, bar_width)
    plot_width = max(len(classes), 1) * (group_width + group_gap)
    width = min(max(_LEFT + plot_width + _RIGHT, _MIN_WIDTH), _MAX_WIDTH)
    # Centre the groups when the minimum width leaves room.
    left = _LEFT + max(0, (width - _LEFT - _RIGHT - plot_width) // 2)

    measure = ImageDraw.Draw(Image.new("L", (1, 1)))
    rotate = _needs_rotation(measure, classes, group_width + group_gap, font)
    labels = [_shorten(name) for name in classes]
    label_height = max((_rotated_height(measure, label, font) for label in labels), default=0) if rotate else 14
    height = _TOP + _PLOT_HEIGHT + 6 + label_height + 40

    image = Image.new("RGB", (width, height), _BACKGROUND)
    draw = ImageDraw.Draw(image)
    baseline = _TOP + _PLOT_HEIGHT
    draw.text((_LEFT, 14), "Objects per class and split", fill=_INK, font=title_font)

    scale_top = _nice_top(peak)
    for tick in _ticks(scale_top):
        y = baseline - round(tick / scale_top * _PLOT_HEIGHT)
        draw.line([(_LEFT, y), (width - _RIGHT, y)], fill=_GRID)
        label = f"{tick:,}"
        draw.text((_LEFT - 6 - _text_width(draw, label, font), y - 6), label, fill=_INK, font=font)
    draw.line([(_LEFT, _TOP - 8), (_LEFT, baseline)], fill=_INK)
    draw.line([(_LEFT, baseline), (width - _RIGHT, baseline)], fill=_INK)
    _vertical_text(image, "objects", (14, _TOP + _PLOT_HEIGHT // 2), font)

    if not classes:
        message = "no labeled objects"
        draw.text(
            ((width - _text_width(draw, message, font)) // 2, _TOP + _PLOT_HEIGHT // 2), message, fill=_INK, font=font
        )
    for position, name in enumerate(classes):
        x0 = left + position * (group_width + group_gap) + group_gap // 2
        for index, split in enumerate(splits):
            count = int(per_split_class[split].get(name, 0))
            bar_left = x0 + index * (bar_width + _BAR_GAP)
            top = baseline - round(count / scale_top * _PLOT_HEIGHT)
            if count:
                top = min(top, baseline - 2)  # a bar of 1 in 10,000 still shows
            colour = SPLIT_COLOURS[index % len(SPLIT_COLOURS)]
            if count:
                draw.rectangle([bar_left, top, bar_left + bar_width - 1, baseline - 1], fill=colour)
            _count_label(image, draw, str(count), bar_left, bar_width, top, font)
        label = labels[position]
        centre = x0 + group_width // 2
        if rotate:
            _rotated_label(image, label, (centre, baseline + 6), font)
        else:
            draw.text((centre - _text_width(draw, label, font) // 2, baseline + 6), label, fill=_INK, font=font)

    axis_label = "class"
    draw.text(
        ((_LEFT + width - _RIGHT - _text_width(draw, axis_label, font)) // 2, height - 24),
        axis_label,
        fill=_INK,
        font=font,
    )
    _legend(draw, splits, width, font)

    import io

    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _bar_width(n_classes: int, n_splits: int) -> int:
    """Wide bars for a few classes, narrow ones for many, so the chart stays within _MAX_WIDTH."""
    room = (_MAX_WIDTH - _LEFT - _RIGHT) // max(n_classes, 1)
    return max(3, min(_MAX_BAR_WIDTH, (room - 8) // n_splits - _BAR_GAP))


def _nice_top(peak: int) -> int:
    """The top of the y scale: a round number at or above the largest bar (1, 2 or 5 x 10^k)."""
    if peak <= 0:
        return 1
    magnitude = 10 ** math.floor(math.log10(peak))
    for step in (1, 2, 5, 10):
        if step * magnitude >= peak:
            return step * magnitude
    return 10 * magnitude  # pragma: no cover - the loop always returns


def _ticks(top: int) -> list[int]:
    """Four or five evenly spaced whole-number ticks from 0 to ``top``."""
    for parts in (5, 4, 2, 1):
        if top % parts == 0:
            return [top * i // parts for i in range(parts + 1)]
    return [0, top]  # pragma: no cover - parts == 1 always divides


def _shorten(name: str) -> str:
    return name if len(name) <= MAX_LABEL_CHARS else name[: MAX_LABEL_CHARS - 2] + ".."


def _text_width(draw: Any, text: str, font: Any) -> int:
    left, _, right, _ = draw.textbbox((0, 0), text, font=font)
    return int(right - left)


def _needs_rotation(draw: Any, classes: list[str], slot: int, font: Any) -> bool:
    return any(_text_width(draw, _shorten(name), font) > slot - 4 for name in classes)


def _rotated_height(draw: Any, text: str, font: Any) -> int:
    """Height of ``text`` turned by _LABEL_ANGLE degrees: its width's rise plus its own height."""
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    angle = math.radians(_LABEL_ANGLE)
    return math.ceil((right - left) * math.sin(angle) + (bottom - top) * math.cos(angle)) + 4


def _text_image(text: str, font: Any) -> Any:
    """``text`` on a transparent image of its own size, to be rotated and pasted."""
    from PIL import Image, ImageDraw

    probe = ImageDraw.Draw(Image.new("L", (1, 1)))
    left, top, right, bottom = probe.textbbox((0, 0), text, font=font)
    image = Image.new("RGBA", (int(right - left) + 2, int(bottom - top) + 2), (0, 0, 0, 0))
    ImageDraw.Draw(image).text((-left + 1, -top + 1), text, fill=_INK, font=font)
    return image


def _rotated_label(image: Any, text: str, anchor: tuple[int, int], font: Any) -> None:
    """A class name turned 60 degrees, its end under the centre of its group."""
    rotated = _text_image(text, font).rotate(_LABEL_ANGLE, expand=True)
    x, y = anchor
    image.paste(rotated, (x - rotated.width + 4, y), rotated)


def _vertical_text(image: Any, text: str, centre: tuple[int, int], font: Any) -> None:
    rotated = _text_image(text, font).rotate(90, expand=True)
    image.paste(rotated, (centre[0] - rotated.width // 2, centre[1] - rotated.height // 2), rotated)


def _count_label(image: Any, draw: Any, text: str, bar_left: int, bar_width: int, top: int, font: Any) -> None:
    """The count above its bar: level when it fits the bar's width, upright otherwise."""
    text_width = _text_width(draw, text, font)
    if text_width <= bar_width + _BAR_GAP:
        draw.text((bar_left + (bar_width - text_width) // 2, top - 13), text, fill=_INK, font=font)
        return
    upright = _text_image(text, font).rotate(90, expand=True)
    image.paste(upright, (bar_left + (bar_width - upright.width) // 2, top - upright.height - 2), upright)


def _legend(draw: Any, splits: list[str], width: int, font: Any) -> None:
    """One colour swatch per split, in a row at the top right."""
    entries = [(split, SPLIT_COLOURS[index % len(SPLIT_COLOURS)]) for index, split in enumerate(splits)]
    total = sum(14 + 6 + _text_width(draw, split, font) + 16 for split, _ in entries)
    x = max(_LEFT, width - _RIGHT - total)
    for split, colour in entries:
        draw.rectangle([x, 36, x + 13, 49], fill=colour)
        draw.text((x + 20, 37), split, fill=_INK, font=font)
        x += 14 + 6 + _text_width(draw, split, font) + 16
