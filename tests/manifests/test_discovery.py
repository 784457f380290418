"""manifests.discovery: finding a run's objects in S3 (local AWS, real boto3), no Airflow."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from gt_provider.exceptions import InvalidLabelingJobConfigError
from gt_provider.manifests import discovery


def test_prefix_candidates_filter_by_suffix_glob_and_time(aws):
    s3 = aws.client("s3")
    for key in ("raw/a.PNG", "raw/b.jpg", "raw/c.txt", "raw/sub/d.png"):
        s3.put_object(Bucket=aws.bucket, Key=key, Body=b"x", Metadata={"gt-local-answer": "cat"})
    found = discovery.prefix_candidates(s3, f"s3://{aws.bucket}/raw/", suffixes=[".png", ".jpg"])
    assert sorted(found) == [f"s3://{aws.bucket}/raw/{k}" for k in ("a.PNG", "b.jpg", "sub/d.png")]
    assert sorted(discovery.prefix_candidates(s3, f"s3://{aws.bucket}/raw/", glob="raw/sub/*")) == [
        f"s3://{aws.bucket}/raw/sub/d.png"
    ]
    future = datetime.now(UTC) + timedelta(hours=1)
    assert discovery.prefix_candidates(s3, f"s3://{aws.bucket}/raw/", modified_between=(future, future)) == {}


def test_manifest_lines_carry_s3_metadata(aws):
    s3 = aws.client("s3")
    s3.put_object(Bucket=aws.bucket, Key="raw/a.png", Body=b"x", Metadata={"gt-local-answer": "cat"})
    records = discovery.prefix_candidates(s3, f"s3://{aws.bucket}/raw/")
    lines = discovery.manifest_lines(s3, sorted(records), records, carry_metadata=["gt-local-answer"])
    assert [json.loads(line) for line in lines] == [
        {"source-ref": f"s3://{aws.bucket}/raw/a.png", "gt-local-answer": "cat"}
    ]


def test_object_candidates_read_csv_and_name_a_bad_row(aws):
    uri = aws.put_text("drop/tickets.csv", "id,text\n1,printer is on fire\n2,\n")
    with pytest.raises(InvalidLabelingJobConfigError, match=r"tickets.csv row 2 has no text in 'text'"):
        discovery.object_candidates(aws.client("s3"), uri, text_field="text")
    good = aws.put_text("drop/ok.jsonl", json.dumps({"text": "hello", "id": 7}) + "\n")
    records = discovery.object_candidates(aws.client("s3"), good, text_field="text", carry_fields=["id"])
    assert discovery.manifest_lines(None, ["hello"], records) == ['{"source":"hello","id":7}']


def test_a_bad_uri_names_the_argument():
    with pytest.raises(InvalidLabelingJobConfigError, match="source_prefix must be an S3 URI"):
        discovery.prefix_candidates(None, "raw/images")
