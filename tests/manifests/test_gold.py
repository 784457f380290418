"""Gold manifests: checked line by line, mixed into a run's manifest at a rate, the same way on a retry."""

from __future__ import annotations

import json

import pytest

from gt_provider.exceptions import InvalidLabelingJobConfigError
from gt_provider.manifests.gold import GOLD_KEY, check_gold_rate, mix_gold, read_gold

LABELS = ["cat", "dog"]


def _gold(count: int, start: int = 0) -> list[dict]:
    return [{"source-ref": f"s3://b/gold/{i}.png", GOLD_KEY: LABELS[i % 2]} for i in range(start, start + count)]


def _data(count: int) -> list[str]:
    return [json.dumps({"source-ref": f"s3://b/raw/{i}.png"}) for i in range(count)]


def test_bad_lines_are_named_by_number_before_anything_is_used():
    text = "\n".join(
        [
            json.dumps({"source-ref": "s3://b/gold/1.png", GOLD_KEY: "cat"}),
            "{not json",
            json.dumps({"source-ref": "s3://b/gold/2.png"}),
            "",
            json.dumps({"source-ref": "s3://b/gold/3.png", GOLD_KEY: "horse"}),
            json.dumps({"source-ref": "s3://b/gold/1.png", GOLD_KEY: "dog"}),
            json.dumps({GOLD_KEY: "cat"}),
        ]
    )

    with pytest.raises(InvalidLabelingJobConfigError) as refused:
        read_gold(text, "s3://b/gold.manifest", LABELS)

    message = str(refused.value)
    assert message.startswith("gold manifest s3://b/gold.manifest has 5 bad line(s):")
    for expected in (
        "line 2: not JSON",
        f"line 3: no known answer ({GOLD_KEY}: a class name)",
        f"line 5: {GOLD_KEY} 'horse' is not one of the job's labels",
        "line 6: s3://b/gold/1.png is gold already (line 1)",
        "line 7: no source-ref or source",
    ):
        assert expected in message


def test_an_empty_gold_manifest_is_refused():
    with pytest.raises(InvalidLabelingJobConfigError, match="holds no gold item"):
        read_gold("\n\n", "gold.manifest")


@pytest.mark.parametrize("rate", [0, -0.1, 0.51, True, "0.1"])
def test_the_rate_is_a_share_up_to_a_half(rate):
    with pytest.raises(InvalidLabelingJobConfigError, match="gold_rate must be a share"):
        check_gold_rate(rate)


def test_mixing_adds_the_rate_of_gold_items_at_places_the_run_decides():
    lines = _data(40)

    mixed, count = mix_gold(lines, _gold(20), 0.1, "dag/run-1")
    again, _ = mix_gold(lines, _gold(20), 0.1, "dag/run-1")
    other, _ = mix_gold(lines, _gold(20), 0.1, "dag/run-2")

    assert count == 4 and len(mixed) == 44
    assert mixed == again  # a retry writes the same manifest
    assert other != mixed  # another run, other items or places
    assert [line for line in mixed if GOLD_KEY not in line] == lines  # the data lines keep their order
    gold_places = [index for index, line in enumerate(mixed) if GOLD_KEY in line]
    assert gold_places != list(range(40, 44))  # not all at the end, where a worker would find them


def test_a_gold_item_that_is_also_data_is_not_used_and_the_count_is_capped():
    lines = _data(10)
    overlapping = [{"source-ref": "s3://b/raw/3.png", GOLD_KEY: "cat"}, *_gold(1)]

    mixed, count = mix_gold(lines, overlapping, 0.5, "seed")

    assert count == 1  # 5 asked, one usable
    assert sum("s3://b/raw/3.png" in line for line in mixed) == 1
