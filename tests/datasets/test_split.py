"""Splits: ratios checked, deterministic, stratified, seedable, and pinned objects never move."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gt_provider.datasets.errors import DatasetError
from gt_provider.datasets.split import UNASSIGNED, SplitAllocator, parse_ratios, source_digest


def _allocate(objects: list[tuple[str, str]], seed: str = "", pinned: dict[str, str] | None = None) -> dict[str, str]:
    """source -> split for (source, class) pairs."""
    allocator = SplitAllocator({"train": 0.8, "validation": 0.1, "test": 0.1}, seed)
    for row, (source, stratum) in enumerate(objects):
        allocator.add(row, source_digest(source), stratum, (pinned or {}).get(source))
    result = allocator.allocate(len(objects))
    return {source: allocator.names[result[row]] for row, (source, _) in enumerate(objects)}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0.8,0.1,0.1", {"train": 0.8, "validation": 0.1, "test": 0.1}),
        ("0.7, 0.3", {"train": 0.7, "validation": 0.3}),
        ([0.9, 0.1], {"train": 0.9, "validation": 0.1}),
        ({"test": 0.2, "train": 0.8}, {"train": 0.8, "test": 0.2}),
    ],
)
def test_ratios_in_every_spelling(value, expected):
    assert parse_ratios(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0.8,0.1", "must sum to 1"),
        ("0.8", "give 2 or 3 values"),
        ("0.5,0.25,0.25,0", "give 2 or 3 values"),
        ("1.2,-0.2", "outside [0, 1]"),
        ("a,b", "is not a number"),
        ({"train": 0.5, "holdout": 0.5}, "unknown split 'holdout'"),
        ("0,1", "train must get a positive share"),
    ],
)
def test_bad_ratios_say_what_is_wrong(value, message):
    with pytest.raises(DatasetError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_ratios(value)


def test_every_class_gets_its_share_even_a_small_one():
    objects = [(f"s3://b/cat/{i}.png", "cat") for i in range(1000)] + [
        (f"s3://b/owl/{i}.png", "owl") for i in range(10)
    ]

    splits = _allocate(objects)

    for stratum, size in (("cat", 1000), ("owl", 10)):
        counts = {name: 0 for name in ("train", "validation", "test")}
        for source, split in splits.items():
            if f"/{stratum}/" in source:
                counts[split] += 1
        assert counts == {"train": size * 8 // 10, "validation": size // 10, "test": size // 10}


def test_the_split_depends_on_the_set_of_objects_not_their_order():
    objects = [(f"s3://b/{i}.png", "abc"[i % 3]) for i in range(300)]
    shuffled = objects[:]
    random.Random(4).shuffle(shuffled)

    assert _allocate(objects) == _allocate(shuffled)


def test_a_seed_changes_the_split_and_the_same_seed_repeats_it():
    objects = [(f"s3://b/{i}.png", "") for i in range(300)]

    assert _allocate(objects, seed="a") == _allocate(objects, seed="a")
    assert _allocate(objects, seed="a") != _allocate(objects, seed="b")


def test_pinned_objects_keep_their_split_and_new_ones_fill_the_gaps():
    old = [(f"s3://b/old/{i}.png", "cat") for i in range(100)]
    before = _allocate(old)
    new = [(f"s3://b/new/{i}.png", "cat") for i in range(100)]

    after = _allocate(old + new, pinned=before)

    assert {source: after[source] for source, _ in old} == before
    counts = {name: list(after.values()).count(name) for name in ("train", "validation", "test")}
    assert counts == {"train": 160, "validation": 20, "test": 20}


def test_rows_never_added_stay_unassigned():
    allocator = SplitAllocator({"train": 0.5, "validation": 0.5})
    allocator.add(2, source_digest("x"))

    result = allocator.allocate(4)

    assert list(result[:2]) == [UNASSIGNED, UNASSIGNED] and result[2] != UNASSIGNED and result[3] == UNASSIGNED


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(min_value=1, max_value=60), min_size=1, max_size=5),
    ratios=st.sampled_from([(0.8, 0.1, 0.1), (0.7, 0.3), (0.6, 0.2, 0.2), (0.5, 0.5)]),
)
def test_every_stratum_is_within_one_object_of_its_share(sizes, ratios):
    allocator = SplitAllocator(parse_ratios(list(ratios)))
    row = 0
    strata: list[str] = []
    for index, size in enumerate(sizes):
        for item in range(size):
            allocator.add(row, source_digest(f"{index}/{item}"), str(index))
            strata.append(str(index))
            row += 1
    result = allocator.allocate(row)

    for index, size in enumerate(sizes):
        for split, share in enumerate(ratios):
            got = sum(1 for r in range(row) if strata[r] == str(index) and result[r] == split)
            assert abs(got - share * size) <= 1.0 + 1e-9
