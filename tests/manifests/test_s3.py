"""Manifests in S3 and the checks of the objects they name, against the local AWS with real boto3."""

from __future__ import annotations

import json

import pytest

from gt_provider.manifests import ManifestReadError, validate_manifest
from gt_provider.manifests.__main__ import main
from gt_provider.manifests.layouts import MAX_IMAGE_BYTES
from tests.conftest import LocalAwsSession
from tests.manifests.conftest import found


def _manifest(aws: LocalAwsSession, key: str, lines: list[str]) -> str:
    return aws.put_text(key, "".join(f"{line}\n" for line in lines))


def _ref(aws: LocalAwsSession, key: str) -> str:
    return json.dumps({"source-ref": f"s3://{aws.bucket}/{key}"})


def test_reads_a_manifest_from_s3_in_chunks(aws: LocalAwsSession, monkeypatch: pytest.MonkeyPatch) -> None:
    from gt_provider import s3io as sources

    monkeypatch.setattr(sources, "CHUNK_BYTES", 1000)  # a few hundred requests' worth of chunks, lines split
    lines = [_ref(aws, f"images/{index}.jpg") for index in range(3000)]
    lines[1234] = lines[17]
    uri = _manifest(aws, "manifests/run-1/input.manifest", lines)

    report = validate_manifest(uri, "BoundingBox", s3_client=aws.client("s3"))

    assert report.manifest == uri and (report.lines, report.objects) == (3000, 2999)
    assert found(report) == [(1235, "duplicate_source")]
    assert report.errors[0].reason == "the same source-ref as line 18"


def test_missing_manifest_in_s3_is_a_read_error(aws: LocalAwsSession) -> None:
    with pytest.raises(ManifestReadError, match="no such object"):
        validate_manifest(f"s3://{aws.bucket}/nope/input.manifest", "BoundingBox", s3_client=aws.client("s3"))


def test_object_checks_exists_size_and_extension(aws: LocalAwsSession) -> None:
    s3 = aws.client("s3")
    s3.put_object(Bucket=aws.bucket, Key="images/ok.jpg", Body=b"\xff\xd8 jpeg")
    s3.put_object(Bucket=aws.bucket, Key="images/huge.png", Body=b"\0" * (MAX_IMAGE_BYTES + 1))
    s3.put_object(Bucket=aws.bucket, Key="images/anim.gif", Body=b"GIF89a")
    lines = [
        _ref(aws, "images/ok.jpg"),
        _ref(aws, "images/missing.jpg"),
        _ref(aws, "images/huge.png"),
        _ref(aws, "images/anim.gif"),
        json.dumps({"source-ref": "s3://gt-no-such-bucket-here/a.jpg"}),
    ]
    uri = _manifest(aws, "manifests/run-2/input.manifest", lines)

    report = validate_manifest(uri, "ImageMultiClass", check_objects=True, s3_client=s3)

    assert found(report) == [
        (2, "object_missing"),
        (3, "object_too_large"),
        (4, "bad_extension"),
        (5, "object_missing"),
    ]
    assert (report.object_checks, report.objects_checked, report.objects) == ("all", 4, 1)
    assert "40 MiB" in report.errors[1].reason and ".gif" in report.errors[2].reason


def test_object_checks_on_a_sample(aws: LocalAwsSession) -> None:
    lines = [_ref(aws, f"images/absent-{index}.jpg") for index in range(60)]
    uri = _manifest(aws, "manifests/run-3/input.manifest", lines)

    report = validate_manifest(uri, "BoundingBox", check_objects=True, sample=5, s3_client=aws.client("s3"))

    assert (report.object_checks, report.objects_checked) == ("sample", 5)
    assert report.error_counts == {"object_missing": 5}
    again = validate_manifest(uri, "BoundingBox", check_objects=True, sample=5, s3_client=aws.client("s3"))
    assert found(again) == found(report)  # seeded: the same sample every time


def test_frame_sequence_files_are_checked(aws: LocalAwsSession) -> None:
    good = {
        "seq-no": 1,
        "prefix": f"s3://{aws.bucket}/frames/seq1/",
        "number-of-frames": 2,
        "frames": [{"frame-no": 1, "frame": "0001.jpg"}, {"frame-no": 2, "frame": "0002.jpg"}],
    }
    aws.put_text("sequences/good.json", json.dumps(good))
    aws.put_text("sequences/miscounted.json", json.dumps({**good, "number-of-frames": 3}))
    aws.put_text("sequences/no-frames.json", json.dumps({**good, "frames": []}))
    aws.put_text("sequences/broken.json", "{")
    lines = [_ref(aws, f"sequences/{name}.json") for name in ("good", "miscounted", "no-frames", "broken")]
    uri = _manifest(aws, "manifests/run-4/input.manifest", lines)

    report = validate_manifest(uri, "VideoObjectTracking", check_objects=True, s3_client=aws.client("s3"))

    assert found(report) == [
        (2, "invalid_frame_sequence"),
        (3, "invalid_frame_sequence"),
        (4, "invalid_frame_sequence"),
    ]
    reasons = [issue.reason for issue in report.errors]
    assert "number-of-frames is 3 but 2 frames are listed" in reasons[0]
    assert "frames: [] should be non-empty" in reasons[1]
    assert "not JSON" in reasons[2]


def test_drop_mode_writes_beside_the_original_in_s3(aws: LocalAwsSession) -> None:
    s3 = aws.client("s3")
    s3.put_object(Bucket=aws.bucket, Key="images/a.jpg", Body=b"a")
    s3.put_object(Bucket=aws.bucket, Key="images/b.jpg", Body=b"b")
    lines = [_ref(aws, "images/a.jpg"), "not json", _ref(aws, "images/gone.jpg"), _ref(aws, "images/b.jpg")]
    uri = _manifest(aws, "manifests/run-5/input.manifest", lines)
    original = aws.get_text(uri)

    report = validate_manifest(uri, "BoundingBox", on_invalid="drop", check_objects=True, s3_client=s3)

    cleaned = f"s3://{aws.bucket}/manifests/run-5/input.cleaned.manifest"
    assert report.cleaned_manifest == cleaned == report.labeling_manifest
    assert aws.get_text(cleaned).splitlines() == [lines[0], lines[3]]
    assert aws.get_text(uri) == original
    assert found(report) == [(2, "invalid_json"), (3, "object_missing")]
    assert report.dropped_lines == 2
    report.raise_if_invalid()


def test_command_line_reads_s3_through_an_endpoint(aws: LocalAwsSession, capsys: pytest.CaptureFixture[str]) -> None:
    uri = _manifest(aws, "manifests/run-6/input.manifest", [_ref(aws, "images/a.jpg")])

    code = main(["validate", uri, "--task-type", "BoundingBox", "--json", "--endpoint-url", aws.endpoint_url])

    assert code == 0
    assert json.loads(capsys.readouterr().out)["objects"] == 1
