"""Property-based tests: the fast checks decide exactly as jsonschema does, and no input makes the validator raise."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from gt_provider.manifests import SCHEMA_KINDS, ErrorKind, validate_manifest
from gt_provider.manifests.fast import LineRules
from gt_provider.task_types import get_task_type

SETTINGS = settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
#: (task type, reviewed attribute): every line schema, and both review compositions.
TASKS = [
    ("ImageMultiClass", None),
    ("TextMultiClass", None),
    ("3DPointCloudObjectDetection", None),
    ("AdjustmentBoundingBox", "label"),
    ("Adjustment3DPointCloudObjectDetection", "label"),
]
_RULES = {task: LineRules(get_task_type(task[0]), task[1]) for task in TASKS}

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=10,
)
#: Strings around the 20,000-character attribute limit, in 1- and 2-byte characters.
long_strings = st.builds(lambda count, char: char * count, st.integers(19_998, 20_002), st.sampled_from("xé"))
good_uris = st.sampled_from(["s3://gt-bucket/a.jpg", "s3://gt-bucket/dir/b.png", "s3://Legacy_Bucket.1/k"]) | st.builds(
    "s3://gt-bucket/{}x".format, st.text(max_size=10)
)
bad_uris = st.sampled_from(
    [
        "s3:/gt-bucket/a.jpg",
        "s3://gt-bucket/",
        "s3://gt-bucket",
        "s3://b/a.jpg",
        "s3://gt-bucket/a.jpg\n",
        "s3://gt-bucket/k\t.jpg",
        "https://gt-bucket.s3.amazonaws.com/a.jpg",
        "",
    ]
)
uris = st.one_of(good_uris, good_uris, bad_uris)


def _mostly(valid: st.SearchStrategy[Any], *invalid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Valid three times in four: lines near the schema's edges, where a wrong fast check shows."""
    return st.one_of(valid, valid, valid, st.one_of(*invalid))


def _maybe_without_a_key(strategy: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    def variants(value: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
        removed = st.sampled_from(sorted(value)).map(lambda name: {k: v for k, v in value.items() if k != name})
        return st.one_of(st.just(value), st.just(value), st.just(value), removed) if value else st.just(value)

    return strategy.flatmap(variants)


label_metadata = _mostly(
    _maybe_without_a_key(
        st.fixed_dictionaries(
            {
                "job-name": _mostly(st.just("labeling-job/boxes"), scalars),
                "type": _mostly(st.just("groundtruth/object-detection"), scalars),
                "human-annotated": _mostly(
                    st.sampled_from(["yes", "no"]), st.sampled_from(["maybe", "Yes", ""]), scalars
                ),
                "creation-date": _mostly(st.just("2026-01-01T00:00:00"), scalars),
            },
            optional={"confidence": scalars},
        )
    ),
    json_values,
)
point_cloud_metadata = _mostly(
    _maybe_without_a_key(
        st.fixed_dictionaries(
            {
                "unix-timestamp": _mostly(
                    st.integers() | st.floats(allow_nan=False, allow_infinity=False), st.booleans(), scalars
                )
            },
            optional={"format": _mostly(st.just("binary/xyzi"), scalars), "prefix": scalars},
        )
    ),
    json_values,
)
keys = st.sampled_from(["source-ref", "source", "source_ref", "label", "$ref", "$", "caption"]) | st.text(max_size=6)
source_refs = st.fixed_dictionaries({"source-ref": uris | scalars | long_strings})
sources = st.one_of(
    source_refs,
    source_refs,
    st.fixed_dictionaries({"source": st.text(max_size=10) | scalars | long_strings}),
    st.fixed_dictionaries({"source-ref": uris, "source": st.text(max_size=4)}),
    st.just({}),
)
point_cloud_metadata_parts = st.fixed_dictionaries({"source-ref-metadata": point_cloud_metadata})
point_cloud_parts = st.one_of(point_cloud_metadata_parts, point_cloud_metadata_parts, st.just({}))
full_review = st.fixed_dictionaries({"label": json_values, "label-metadata": label_metadata})
review_parts = st.one_of(
    full_review,
    full_review,
    st.fixed_dictionaries({"label": json_values}),
    st.fixed_dictionaries({"label-metadata": label_metadata}),
    st.just({}),
)
extras = st.dictionaries(keys, json_values | json_values | long_strings, max_size=2)
line_objects = st.builds(
    lambda *parts: {key: value for part in parts for key, value in part.items()},
    extras,
    sources,
    point_cloud_parts,
    review_parts,
)
lines = line_objects | line_objects | line_objects | json_values


def _has_long_string(obj: Any) -> bool:
    return isinstance(obj, dict) and any(isinstance(value, str) and len(value) > 20_000 for value in obj.values())


_TEXT_TASKS = {"TextMultiClass"}
_POINT_CLOUD_TASKS = {"3DPointCloudObjectDetection", "Adjustment3DPointCloudObjectDetection"}
safe_keys = st.text(max_size=6).filter(lambda key: not key.startswith("$") and key not in ("source", "source-ref"))


@st.composite
def near_valid_lines(draw: st.DrawFn, task: tuple[str, str | None]) -> dict[str, Any]:
    """A valid line of ``task`` with at most one defect: the fast checks' edge, case by case."""
    name, attribute = task
    line: dict[str, Any] = draw(st.dictionaries(safe_keys, json_values, max_size=2))
    if name in _TEXT_TASKS and draw(st.booleans()):
        line["source"] = draw(st.text(min_size=1, max_size=10))
    else:
        line["source-ref"] = draw(good_uris)
    if name in _POINT_CLOUD_TASKS:
        metadata = {"unix-timestamp": draw(st.integers() | st.floats(allow_nan=False, allow_infinity=False))}
        if draw(st.booleans()):
            metadata["format"] = "binary/xyzi"
        line["source-ref-metadata"] = metadata
    if attribute is not None:
        line[attribute] = draw(json_values)
        line[f"{attribute}-metadata"] = {
            "job-name": "labeling-job/earlier",
            "type": "groundtruth/object-detection",
            "human-annotated": draw(st.sampled_from(["yes", "no"])),
            "creation-date": "2026-01-01T00:00:00",
        }
    bad_values = scalars | bad_uris | st.sampled_from(["maybe", "Yes", ""]) | st.booleans()
    defect = draw(st.sampled_from(["none", "drop", "replace", "nested", "dollar", "source", "long"]))
    if defect == "drop":
        del line[draw(st.sampled_from(sorted(line)))]
    elif defect == "replace":
        line[draw(st.sampled_from(sorted(line)))] = draw(bad_values)
    elif defect == "nested":
        nested = [key for key, value in line.items() if isinstance(value, dict) and key.endswith("-metadata")]
        if nested:
            metadata = line[draw(st.sampled_from(nested))]
            key = draw(st.sampled_from(sorted(metadata)))
            if draw(st.booleans()):
                del metadata[key]
            else:
                metadata[key] = draw(bad_values)
    elif defect == "dollar":
        line[draw(st.text(max_size=3).map("$".__add__))] = draw(json_values)
    elif defect == "source":
        line["source"] = draw(st.text(max_size=4))
    elif defect == "long":
        line[draw(st.sampled_from(sorted(line)) | safe_keys)] = draw(long_strings)
    return line


@pytest.mark.parametrize("task", TASKS, ids=lambda task: task[0])
@settings(SETTINGS, max_examples=150)
@given(data=st.data())
def test_fast_checks_accept_exactly_what_jsonschema_accepts(task: tuple[str, str | None], data: st.DataObject) -> None:
    rules = _RULES[task]
    obj = data.draw(st.one_of(near_valid_lines(task), near_valid_lines(task), lines), label="line")
    line = json.dumps(obj, ensure_ascii=False).encode()
    parsed = orjson.loads(line)

    kind, source = rules.check(parsed, len(line))
    # Non-string values over 20,000 characters are a limit JSON Schema cannot state.
    assume(kind is not ErrorKind.VALUE_TOO_LONG or _has_long_string(parsed))
    reference = rules.validator.is_valid(json.loads(line))

    assert kind is None or kind in SCHEMA_KINDS
    assert (kind is None) == reference, kind
    if isinstance(parsed, dict) and not _has_long_string(parsed):
        # The hot path's compiled check alone (it leaves length limits to lines over SHORT_LINE_BYTES).
        assert (rules.accept(parsed) is not None) == reference
    if kind is None:
        assert source == (parsed.get("source") if "source" in parsed else parsed["source-ref"])


def _valid_line(task: tuple[str, str | None]) -> dict[str, Any]:
    name, attribute = task
    line: dict[str, Any] = {"source": "some text"} if name in _TEXT_TASKS else {"source-ref": "s3://gt-bucket/a.jpg"}
    line["note"] = {"camera": 3}
    if name in _POINT_CLOUD_TASKS:
        line["source-ref-metadata"] = {"unix-timestamp": 1566861644.75, "format": "binary/xyzi"}
    if attribute is not None:
        line[attribute] = {"annotations": []}
        line[f"{attribute}-metadata"] = {
            "job-name": "labeling-job/earlier",
            "type": "groundtruth/object-detection",
            "human-annotated": "yes",
            "creation-date": "2026-01-01T00:00:00",
        }
    return line


_BAD_VALUES = [None, True, False, 0, 1.5, "", "maybe", "s3:/x/y.jpg", [], {}, "x" * 20_001]


def _single_defects(line: dict[str, Any]) -> list[dict[str, Any]]:
    """Every line that differs from ``line`` in one place: a key removed, a value replaced, a key added."""
    variants = [{**line, "$id": 1}, {**line, "source": "t"}, {**line, "source-ref": "s3://gt-bucket/b.jpg"}]
    for key, value in line.items():
        variants.append({k: v for k, v in line.items() if k != key})
        variants.extend({**line, key: bad} for bad in _BAD_VALUES)
        if isinstance(value, dict) and key.endswith("-metadata"):
            for inner in value:
                variants.append({**line, key: {k: v for k, v in value.items() if k != inner}})
                variants.extend({**line, key: {**value, inner: bad}} for bad in _BAD_VALUES)
    return variants


@pytest.mark.parametrize("task", TASKS, ids=lambda task: task[0])
def test_every_single_defect_of_a_valid_line_is_judged_alike(task: tuple[str, str | None]) -> None:
    rules = _RULES[task]
    valid = _valid_line(task)
    assert rules.validator.is_valid(valid) and rules.check(valid, 100) == (None, rules.accept(valid))

    for variant in _single_defects(valid):
        line = json.dumps(variant, ensure_ascii=False).encode()
        kind, _ = rules.check(orjson.loads(line), len(line))
        if kind is ErrorKind.VALUE_TOO_LONG and not _has_long_string(variant):
            continue  # a long non-string value: the limit JSON Schema cannot state
        assert (kind is None) == rules.validator.is_valid(variant), (kind, variant)
        if not _has_long_string(variant):
            assert (rules.accept(variant) is not None) == (kind is None), variant


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("property-manifests")


_files = itertools.count()


def _write(directory: Path, data: bytes) -> Path:
    path = directory / f"m{next(_files)}.manifest"
    path.write_bytes(data)
    return path


@SETTINGS
@given(task=st.sampled_from(TASKS), objects=st.lists(lines, max_size=8))
def test_validator_marks_the_lines_jsonschema_rejects(
    scratch: Path, task: tuple[str, str | None], objects: list[Any]
) -> None:
    """End to end through the file loop: a line has a line-level error exactly when jsonschema rejects it."""
    rules = _RULES[task]  # (generated non-string values are short: every length error here is a schema one)
    texts = [json.dumps(obj, ensure_ascii=False) for obj in objects]
    report = validate_manifest(
        _write(scratch, "".join(f"{text}\n" for text in texts).encode()),
        task[0],
        review_attribute=task[1],
        max_errors=100,
    )

    late = {ErrorKind.DUPLICATE_SOURCE, ErrorKind.EMPTY_MANIFEST}
    rejected = {issue.line for issue in report.errors if issue.kind not in late}
    for number, text in enumerate(texts, start=1):
        assert (number not in rejected) == rules.validator.is_valid(json.loads(text)), (number, text)


fragments = st.sampled_from(
    [
        b'{"source-ref": "s3://gt-bucket/a.jpg"}',
        b'{"source": "some text"}',
        b"\n",
        b"\r\n",
        b"\xef\xbb\xbf",
        b"\xff\xfe",
        b"\xc3",
        b"[",
        b"{",
        b"}",
        b'"',
        b'"$id"',
        b":",
        b",",
        b" ",
        b"null",
        b'"source-ref"',
        b'"s3://gt-bucket/b.png"',
    ]
)
raw_bytes = st.binary(max_size=300) | st.lists(fragments | st.binary(max_size=4), max_size=40).map(b"".join)


@SETTINGS
@given(data=raw_bytes, task=st.sampled_from(TASKS), drop=st.booleans())
def test_any_bytes_are_reported_never_raised(
    scratch: Path, data: bytes, task: tuple[str, str | None], drop: bool
) -> None:
    path = _write(scratch, data)

    report = validate_manifest(path, task[0], review_attribute=task[1], on_invalid="drop" if drop else "fail")

    expected_lines = data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
    assert report.lines == expected_lines
    assert report.objects + report.invalid_lines == report.lines
    assert report.valid == (report.errors_total == 0)
    assert len(report.errors) <= report.errors_total
    json.dumps(report.to_dict())
    assert path.read_bytes() == data
    if report.cleaned_manifest is not None:
        assert len(Path(report.cleaned_manifest).read_bytes().splitlines()) == report.objects


@SETTINGS
@given(values=st.lists(json_values | line_objects, max_size=6), task=st.sampled_from(TASKS))
def test_any_json_values_are_reported_never_raised(
    scratch: Path, values: list[Any], task: tuple[str, str | None]
) -> None:
    data = "".join(json.dumps(value, ensure_ascii=False) + "\n" for value in values).encode()

    report = validate_manifest(_write(scratch, data), task[0], review_attribute=task[1])

    assert report.lines == len(values)
    assert report.objects + report.invalid_lines == len(values)
    json.dumps(report.to_dict())
