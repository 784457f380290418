"""A corpus of broken manifests: each is reported on the right line with the right kind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gt_provider import s3io as manifest_sources
from gt_provider.manifests import ErrorKind, ManifestReadError, validate_manifest
from tests.manifests.conftest import ManifestWriter, found, image_line

GOOD = image_line("images/good.jpg")
OTHER = image_line("images/other.jpg")


def _case(content: bytes | str, expected: list[tuple[int | None, ErrorKind]], **options: object) -> tuple:
    return content, [(line, str(kind)) for line, kind in expected], options


def _line_of(chars: int, pad: str = "p") -> str:
    """A valid image line of exactly ``chars`` characters, with values of at most 19,000."""
    values: dict[str, str] = {}
    line = image_line("images/long.jpg")
    index = 0
    while len(line) < chars:
        room = chars - len(line) - len(f', "v{index}": ""')
        values[f"v{index}"] = pad * max(0, min(19_000, room))
        line = image_line("images/long.jpg", **values)
        index += 1
    assert len(line) == chars, len(line)
    return line


def _lines(*lines: str, final_newline: bool = True) -> bytes:
    return ("\n".join(lines) + ("\n" if final_newline else "")).encode()


CORPUS = {
    "truncated last line": _case(
        _lines(GOOD, '{"source-ref": "s3://gt-bucket/images/b.j', final_newline=False), [(2, ErrorKind.INVALID_JSON)]
    ),
    "byte order mark": _case(b"\xef\xbb\xbf" + _lines(GOOD), [(1, ErrorKind.BOM)]),
    "invalid utf-8": _case(
        _lines(GOOD).replace(b"good", b"go\xffod") + _lines(OTHER),
        [(1, ErrorKind.INVALID_UTF8)],
    ),
    # UTF-16 newlines are b"\n\x00": the NUL left over is a line of its own.
    "utf-16 file": _case(
        _lines(GOOD).decode().encode("utf-16"),
        [(1, ErrorKind.INVALID_UTF8), (2, ErrorKind.INVALID_JSON), (None, ErrorKind.EMPTY_MANIFEST)],
    ),
    "array instead of object": _case(_lines(GOOD, '["s3://gt-bucket/images/b.jpg"]'), [(2, ErrorKind.NOT_AN_OBJECT)]),
    "string, number and null lines": _case(
        _lines('"s3://gt-bucket/a.jpg"', "42", "null", GOOD),
        [(1, ErrorKind.NOT_AN_OBJECT), (2, ErrorKind.NOT_AN_OBJECT), (3, ErrorKind.NOT_AN_OBJECT)],
    ),
    "misspelled key": _case(
        _lines(GOOD, '{"source_ref": "s3://gt-bucket/images/b.jpg"}'), [(2, ErrorKind.MISSING_SOURCE)]
    ),
    "s3 uri without scheme slash": _case(
        _lines('{"source-ref": "s3:/gt-bucket/a.jpg"}', GOOD), [(1, ErrorKind.INVALID_SOURCE)]
    ),
    "https url instead of s3 uri": _case(
        _lines(GOOD, '{"source-ref": "https://gt-bucket.s3.amazonaws.com/a.jpg"}'), [(2, ErrorKind.INVALID_SOURCE)]
    ),
    "s3 uri without key": _case(
        _lines('{"source-ref": "s3://gt-bucket"}', '{"source-ref": "s3://gt-bucket/"}', GOOD),
        [(1, ErrorKind.INVALID_SOURCE), (2, ErrorKind.INVALID_SOURCE)],
    ),
    "s3 uri of a folder": _case(
        _lines('{"source-ref": "s3://gt-bucket/images/"}', GOOD), [(1, ErrorKind.INVALID_SOURCE)]
    ),
    "s3 uri with a bad bucket": _case(
        _lines('{"source-ref": "s3://my bucket/a.jpg"}', '{"source-ref": "s3://b/a.jpg"}', GOOD),
        [(1, ErrorKind.INVALID_SOURCE), (2, ErrorKind.INVALID_SOURCE)],
    ),
    "s3 uri with a trailing newline": _case(
        _lines(json.dumps({"source-ref": "s3://gt-bucket/a.jpg\n"}), GOOD), [(1, ErrorKind.INVALID_SOURCE)]
    ),
    "source-ref that is not a string": _case(_lines('{"source-ref": 7}', GOOD), [(1, ErrorKind.INVALID_SOURCE)]),
    "source and source-ref on an image line": _case(
        _lines(image_line(source="text"), OTHER), [(1, ErrorKind.INVALID_SOURCE)]
    ),
    "20,001-character attribute": _case(
        _lines(GOOD, image_line("images/b.jpg", caption="x" * 20_001)), [(2, ErrorKind.VALUE_TOO_LONG)]
    ),
    "20,001-character non-string attribute": _case(
        _lines(image_line("images/b.jpg", boxes=["x" * 10_000, "y" * 9_995]), GOOD), [(1, ErrorKind.VALUE_TOO_LONG)]
    ),
    "duplicate": _case(_lines(GOOD, OTHER, GOOD), [(3, ErrorKind.DUPLICATE_SOURCE)]),
    "empty file": _case(b"", [(None, ErrorKind.EMPTY_MANIFEST)]),
    "only blank lines": _case(
        b"\n  \n", [(None, ErrorKind.EMPTY_MANIFEST), (1, ErrorKind.BLANK_LINE), (2, ErrorKind.BLANK_LINE)]
    ),
    "line of 100,001 characters": _case(
        _lines(_line_of(100_001), GOOD),
        [(1, ErrorKind.LINE_TOO_LONG)],
    ),
    "line of over 400,000 bytes": _case(
        _lines(GOOD, '{"source-ref": "s3://gt-bucket/' + "k" * 500_000 + '.jpg"}', OTHER),
        [(2, ErrorKind.LINE_TOO_LONG)],
    ),
    "key starting with $": _case(_lines(GOOD, image_line("images/b.jpg", **{"$id": 1})), [(2, ErrorKind.DOLLAR_KEY)]),
    "blank lines": _case(
        _lines(GOOD, "", "   ", OTHER, ""),
        [(2, ErrorKind.BLANK_LINE), (3, ErrorKind.BLANK_LINE), (5, ErrorKind.BLANK_LINE)],
    ),
    "trailing comma": _case(_lines(GOOD, '{"source-ref": "s3://gt-bucket/b.jpg",}'), [(2, ErrorKind.INVALID_JSON)]),
    "NaN value": _case(
        _lines('{"source-ref": "s3://gt-bucket/b.jpg", "score": NaN}', GOOD), [(1, ErrorKind.INVALID_JSON)]
    ),
    "two objects on one line": _case(
        _lines(GOOD + " " + OTHER), [(1, ErrorKind.INVALID_JSON), (None, ErrorKind.EMPTY_MANIFEST)]
    ),
    "text: empty, non-string and missing source": _case(
        _lines('{"source": ""}', '{"source": 5}', '{"text": "hello"}', '{"source": "fine"}'),
        [(1, ErrorKind.INVALID_SOURCE), (2, ErrorKind.INVALID_SOURCE), (3, ErrorKind.MISSING_SOURCE)],
        task_type="TextMultiClass",
    ),
    "text: source and source-ref": _case(
        _lines('{"source": "x", "source-ref": "s3://gt-bucket/a.txt"}', '{"source-ref": "s3://gt-bucket/b.txt"}'),
        [(1, ErrorKind.INVALID_SOURCE)],
        task_type="TextMultiClass",
    ),
    "review: missing label metadata and a bad judgement": _case(
        _lines(
            image_line("a.jpg", boxes={"annotations": []}),
            image_line(
                "b.jpg",
                boxes={"annotations": []},
                **{
                    "boxes-metadata": {
                        "job-name": "labeling-job/boxes",
                        "type": "groundtruth/object-detection",
                        "human-annotated": "maybe",
                        "creation-date": "2026-01-01T00:00:00",
                    }
                },
            ),
            image_line(
                "c.jpg",
                boxes={"annotations": []},
                **{
                    "boxes-metadata": {
                        "job-name": "labeling-job/boxes",
                        "type": "groundtruth/object-detection",
                        "human-annotated": "yes",
                        "creation-date": "2026-01-01T00:00:00",
                    }
                },
            ),
        ),
        [(1, ErrorKind.SCHEMA), (2, ErrorKind.SCHEMA)],
        task_type="AdjustmentBoundingBox",
        review_attribute="boxes",
    ),
    "point cloud frame without its metadata": _case(
        _lines(
            '{"source-ref": "s3://gt-bucket/frames/0001.bin"}',
            '{"source-ref": "s3://gt-bucket/frames/0002.bin", "source-ref-metadata": {"unix-timestamp": 1566861644.7}}',
        ),
        [(1, ErrorKind.SCHEMA)],
        task_type="3DPointCloudObjectDetection",
    ),
}


@pytest.mark.parametrize(("content", "expected", "options"), CORPUS.values(), ids=CORPUS.keys())
def test_broken_manifest_is_reported_on_the_right_line(
    write_manifest: ManifestWriter, content: bytes, expected: list[tuple[int | None, str]], options: dict
) -> None:
    options = {"task_type": "ImageMultiClass", **options}
    report = validate_manifest(write_manifest(content), options.pop("task_type"), **options)

    assert sorted(found(report), key=str) == sorted(expected, key=str)
    assert not report.valid
    assert all(issue.reason and "\n" not in issue.reason for issue in report.errors)
    json.dumps(report.to_dict())  # JSON-serializable as it is


def test_reasons_say_what_to_fix(write_manifest: ManifestWriter) -> None:
    lines = [
        '{"source_ref": "s3://gt-bucket/a.jpg"}',
        '{"source-ref": "s3:/gt-bucket/b.jpg"}',
        image_line("c.jpg", caption="x" * 20_001),
        image_line("d.jpg"),
        image_line("d.jpg"),
        "[1, 2]",
    ]
    path = write_manifest(_lines(*lines) + b'{"source-ref": "s3://gt-bucket/e.j')
    reasons = {issue.line: issue.reason for issue in validate_manifest(path, "BoundingBox").errors}

    assert "did you mean 'source-ref'" in reasons[1]
    assert "'s3:/gt-bucket/b.jpg'" in reasons[2] and "must start with 's3://'" in reasons[2]
    assert "'caption'" in reasons[3] and "20,001" in reasons[3]
    assert reasons[5] == "the same source-ref as line 4"
    assert "JSON array" in reasons[6]
    assert "cut short" in reasons[7]


def test_review_reasons_come_from_the_schema(write_manifest: ManifestWriter) -> None:
    path = write_manifest([image_line("a.jpg", boxes={"annotations": []})])
    report = validate_manifest(path, "VerificationBoundingBox", review_attribute="boxes")

    (issue,) = [issue for issue in report.errors if issue.line == 1]
    assert issue.kind == ErrorKind.SCHEMA
    assert "'boxes-metadata' is a required property" in issue.reason


def test_limits_are_inclusive(write_manifest: ManifestWriter) -> None:
    # 100,000 characters of which most take 2 bytes: the limit counts characters, not bytes.
    at_limits = [image_line("a.jpg", caption="x" * 20_000), _line_of(100_000, pad="é")]

    report = validate_manifest(write_manifest(at_limits), "ImageMultiClass")

    assert report.valid, report.summary()
    assert report.objects == 2
    assert len(at_limits[1].encode()) > 190_000


@pytest.mark.parametrize(("task_type", "limit"), [("ImageMultiClass", 100_000), ("SemanticSegmentation", 20_000)])
def test_object_limit_of_the_task_type(write_manifest: ManifestWriter, task_type: str, limit: int) -> None:
    path = write_manifest([image_line(f"images/{index}.png") for index in range(limit + 1)])

    report = validate_manifest(path, task_type)

    assert found(report) == [(limit + 1, "too_many_objects")]
    assert (report.objects, report.invalid_lines) == (limit, 1)
    at_limit = write_manifest([image_line(f"images/{index}.png") for index in range(limit)], "at-limit.manifest")
    assert validate_manifest(at_limit, task_type).valid


def test_valid_manifest_with_crlf_line_endings_and_pass_through_keys(write_manifest: ManifestWriter) -> None:
    lines = [image_line("a.jpg", **{"gt-local-answer": "cat", "meta": {"camera": 3}}), image_line("b.png")]
    report = validate_manifest(write_manifest("\r\n".join(lines) + "\r\n"), "ImageMultiClass")

    assert report.valid and report.objects == 2 and report.lines == 2
    assert report.labeling_manifest == report.manifest


def test_first_errors_are_kept_and_all_are_counted(write_manifest: ManifestWriter) -> None:
    path = write_manifest([image_line(f"{index}.jpg") if index % 2 else "oops" for index in range(40)])

    report = validate_manifest(path, "ImageMultiClass", max_errors=3)

    assert found(report) == [(1, "invalid_json"), (3, "invalid_json"), (5, "invalid_json")]
    assert report.error_counts == {"invalid_json": 20}
    assert "... and 17 more" in report.summary()


@pytest.mark.parametrize("chunk_bytes", [5, 4096])
def test_small_chunks_give_the_same_report(
    write_manifest: ManifestWriter, monkeypatch: pytest.MonkeyPatch, chunk_bytes: int
) -> None:
    """Lines split across chunk boundaries are read whole; an overlong line is skipped, not buffered."""
    short = [content for content, _, options in CORPUS.values() if not options and len(content) < 150_000]
    contents = short if chunk_bytes < 100 else [content for content, _, options in CORPUS.values() if not options]
    path = write_manifest(b"\xef\xbb\xbf" + b"".join(contents))
    whole = validate_manifest(path, "ImageMultiClass", max_errors=1000)

    monkeypatch.setattr(manifest_sources, "CHUNK_BYTES", chunk_bytes)
    chunked = validate_manifest(path, "ImageMultiClass", max_errors=1000)

    assert found(chunked) == found(whole)
    assert (chunked.lines, chunked.objects) == (whole.lines, whole.objects)
    assert whole.error_counts["line_too_long"] == (1 if chunk_bytes < 100 else 2)


def test_unreadable_manifest_raises_a_read_error(tmp_path: Path) -> None:
    with pytest.raises(ManifestReadError, match=r"missing\.manifest"):
        validate_manifest(tmp_path / "missing.manifest", "ImageMultiClass")


@pytest.mark.parametrize(
    ("task_type", "options", "message"),
    [
        ("AdjustmentBoundingBox", {}, "pass review_attribute"),
        ("BoundingBox", {"review_attribute": "boxes"}, "reviews no earlier labels"),
        ("BoundingBox", {"sample": 3}, "needs check_objects"),
        ("BoundingBox", {"on_invalid": "ignore"}, "on_invalid must be one of"),
        ("BoundingBox", {"cleaned_manifest": "x.manifest"}, "no use with"),
    ],
)
def test_wrong_arguments_are_refused_before_reading(
    write_manifest: ManifestWriter, task_type: str, options: dict, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        validate_manifest(write_manifest([GOOD]), task_type, **options)
