"""The ledger under concurrent writers, against the local AWS (real boto3, real threads).

The local AWS makes conditional PUTs atomic as S3 does (moto alone checks and writes in two
steps), so these tests exercise the compare-and-swap a deployment relies on.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from gt_provider import ledger
from gt_provider.exceptions import ObjectsTakenError
from gt_provider.operators.manifest import (
    GroundTruthBuildManifestOperator,
    GroundTruthRecordLabeledObjectsOperator,
    GroundTruthReleaseClaimsOperator,
)

WRITERS = 8


@pytest.fixture
def ledger_uri(aws) -> str:
    return f"s3://{aws.bucket}/labeling/ledger.jsonl"


def _entries(aws, uri: str) -> list[dict]:
    return [json.loads(line) for line in aws.get_text(uri).splitlines()]


def _put_images(aws, count: int) -> list[str]:
    s3 = aws.client("s3")
    for i in range(count):
        s3.put_object(Bucket=aws.bucket, Key=f"raw/{i:03}.png", Body=b"png")
    return [f"s3://{aws.bucket}/raw/{i:03}.png" for i in range(count)]


def test_concurrent_writers_lose_no_record(aws, ledger_uri):
    """8 writers, each recording 25 sources of its own and 5 shared ones, all at once."""

    def write(writer: int) -> int:
        client = aws.client("s3")  # a client per writer, as separate workers have
        sources = [f"s3://b/w{writer}/{i}.png" for i in range(25)] + [f"s3://b/shared/{i}.png" for i in range(5)]
        return ledger.update_ledger(
            client, ledger_uri, lambda book: book.record(sources, f"job-{writer}", datetime.now(UTC))
        )

    with ThreadPoolExecutor(WRITERS) as pool:
        added = list(pool.map(write, range(WRITERS)))

    sources = [entry["source"] for entry in _entries(aws, ledger_uri)]
    assert len(sources) == len(set(sources)) == WRITERS * 25 + 5
    assert sum(added) == WRITERS * 25 + 5  # each shared source counted once, by whoever won it


def test_a_write_from_a_stale_read_is_refused(aws, ledger_uri):
    """What makes the test above hold: of two writers that read the same ledger, the second write is refused."""
    client = aws.client("s3")
    ledger.update_ledger(client, ledger_uri, lambda book: book.record(["s3://b/0.png"], "job-0", datetime.now(UTC)))
    first, first_etag = ledger.read_ledger(client, ledger_uri)
    second, _ = ledger.read_ledger(client, ledger_uri)
    first.record(["s3://b/1.png"], "job-1", datetime.now(UTC))
    second.record(["s3://b/2.png"], "job-2", datetime.now(UTC))
    bucket, key = ledger_uri[5:].split("/", 1)
    client.put_object(Bucket=bucket, Key=key, Body=first.text().encode(), IfMatch=first_etag)
    with pytest.raises(client.exceptions.ClientError, match=r"PreconditionFailed|412"):
        client.put_object(Bucket=bucket, Key=key, Body=second.text().encode(), IfMatch=first_etag)


def test_concurrent_builds_never_put_an_object_in_two_manifests(aws, ledger_uri):
    _put_images(aws, 40)

    def build(run: int) -> list[str]:
        operator = GroundTruthBuildManifestOperator(
            task_id="build",
            manifest_prefix=f"s3://{aws.bucket}/manifests",
            source_prefix=f"s3://{aws.bucket}/raw/",
            ledger_uri=ledger_uri,
            max_objects=5,
            sample_seed=str(run),
        )
        result = operator.execute({"run_id": f"manual__{run}"})
        return [json.loads(line)["source-ref"] for line in aws.get_text(result["manifest_uri"]).splitlines()]

    with ThreadPoolExecutor(WRITERS) as pool:
        manifests = list(pool.map(build, range(WRITERS)))

    chosen = [source for manifest in manifests for source in manifest]
    assert len(chosen) == len(set(chosen)) == WRITERS * 5
    claims = {entry["source"]: entry["claimed_by"] for entry in _entries(aws, ledger_uri)}
    assert len(claims) == WRITERS * 5 and len(set(claims.values())) == WRITERS


def test_a_failed_runs_claim_is_released_and_offered_again(aws, ledger_uri):
    sources = _put_images(aws, 6)
    arguments = {
        "manifest_prefix": f"s3://{aws.bucket}/manifests",
        "source_prefix": f"s3://{aws.bucket}/raw/",
        "ledger_uri": ledger_uri,
    }
    GroundTruthBuildManifestOperator(task_id="build", **arguments).execute({"run_id": "failed"})
    from airflow.providers.common.compat.sdk import AirflowSkipException

    with pytest.raises(AirflowSkipException):  # everything is claimed by the running (later failed) run
        GroundTruthBuildManifestOperator(task_id="build", **arguments).execute({"run_id": "beside"})

    released = GroundTruthReleaseClaimsOperator(task_id="release", ledger_uri=ledger_uri).execute({"run_id": "failed"})
    again = GroundTruthBuildManifestOperator(task_id="build", **arguments).execute({"run_id": "next"})

    assert released["released"] == 6
    assert again["objects"] == 6
    assert sorted(ledger.Ledger.parse(aws.get_text(ledger_uri)).claimed_by("adhoc_airflow/next")) == sources


def test_a_cleared_run_reclaims_its_manifest_and_refuses_objects_taken_since(aws, ledger_uri):
    sources = _put_images(aws, 4)
    arguments = {
        "manifest_prefix": f"s3://{aws.bucket}/manifests",
        "source_prefix": f"s3://{aws.bucket}/raw/",
        "ledger_uri": ledger_uri,
    }
    GroundTruthBuildManifestOperator(task_id="build", **arguments).execute({"run_id": "cleared"})
    GroundTruthReleaseClaimsOperator(task_id="release", ledger_uri=ledger_uri).execute({"run_id": "cleared"})

    again = GroundTruthBuildManifestOperator(task_id="build", **arguments).execute({"run_id": "cleared"})
    book = ledger.Ledger.parse(aws.get_text(ledger_uri))
    assert again["objects"] == 4
    assert sorted(book.claimed_by("adhoc_airflow/cleared")) == sources  # claimed again, invisible to others

    GroundTruthReleaseClaimsOperator(task_id="release", ledger_uri=ledger_uri).execute({"run_id": "cleared"})
    taker = GroundTruthBuildManifestOperator(task_id="build", **{**arguments, "max_objects": 1})
    taken = taker.execute({"run_id": "other"})
    assert taken["objects"] == 1
    with pytest.raises(ObjectsTakenError, match=r"1 of the 4 objects .* were labeled or claimed by another run"):
        GroundTruthBuildManifestOperator(task_id="build", **arguments).execute({"run_id": "cleared"})
    book = ledger.Ledger.parse(aws.get_text(ledger_uri))
    assert book.claimed_by("adhoc_airflow/cleared") == []  # refused whole: nothing half-claimed


def test_a_change_that_changes_nothing_writes_nothing(aws, ledger_uri):
    s3 = aws.client("s3")
    s3.put_bucket_versioning(Bucket=aws.bucket, VersioningConfiguration={"Status": "Enabled"})
    ledger.update_ledger(s3, ledger_uri, lambda book: book.claim(["s3://b/x.png"], "d/r", datetime.now(UTC)))

    released = ledger.update_ledger(s3, ledger_uri, lambda book: book.release("d/nobody"))

    versions = s3.list_object_versions(Bucket=aws.bucket, Prefix="labeling/ledger.jsonl")["Versions"]
    assert released == 0
    assert len(versions) == 1  # the release of nothing wrote no second version


def test_recording_turns_claims_into_labels_and_releases_what_failed(aws, ledger_uri):
    sources = _put_images(aws, 4)
    GroundTruthBuildManifestOperator(
        task_id="build",
        manifest_prefix=f"s3://{aws.bucket}/manifests",
        source_prefix=f"s3://{aws.bucket}/raw/",
        ledger_uri=ledger_uri,
    ).execute({"run_id": "run-1"})
    output = "".join(
        json.dumps({"source-ref": source, **({"label": "1"} if i < 3 else {})}) + "\n"
        for i, source in enumerate(sources)
    )
    labeling = {
        "job_name": "job-1",
        "label_attribute_name": "label",
        "output_manifest_uri": aws.put_text("out/output.manifest", output),
    }

    result = GroundTruthRecordLabeledObjectsOperator(
        task_id="record", ledger_uri=ledger_uri, labeling=labeling
    ).execute({"run_id": "run-1"})

    entries = {entry["source"]: entry for entry in _entries(aws, ledger_uri)}
    assert result == {
        "ledger_uri": ledger_uri,
        "added": 3,
        "total": 3,
        "doubtful": 0,
        "output_manifest_uri": labeling["output_manifest_uri"],
    }
    assert sorted(entries) == sources[:3]  # the failed object is released, not labeled
    assert all(entry["job"] == "job-1" and "claimed_by" not in entry for entry in entries.values())


def _labeled_output(aws, sources: list[str], confidences: list[float], name: str) -> dict:
    lines = [
        {"source-ref": source, "label": "1", "label-metadata": {"confidence": confidence, "class-name": "dog"}}
        for source, confidence in zip(sources, confidences, strict=True)
    ]
    uri = aws.put_text(f"out/{name}.manifest", "".join(json.dumps(line) + "\n" for line in lines))
    return {"job_name": name, "label_attribute_name": "label", "output_manifest_uri": uri}


def _build_run(aws, ledger_uri: str, run_id: str, **kwargs) -> dict:
    return GroundTruthBuildManifestOperator(
        task_id="build",
        manifest_prefix=f"s3://{aws.bucket}/manifests",
        source_prefix=f"s3://{aws.bucket}/raw/",
        ledger_uri=ledger_uri,
        **kwargs,
    ).execute({"run_id": run_id})


def _record_run(aws, ledger_uri: str, run_id: str, labeling: dict, below: float | None = 0.6) -> dict:
    return GroundTruthRecordLabeledObjectsOperator(
        task_id="record", ledger_uri=ledger_uri, labeling=labeling, relabel_below_confidence=below
    ).execute({"run_id": run_id})


def test_doubtful_labels_are_offered_once_more_up_to_the_cap_and_never_twice(aws, ledger_uri):
    sources = _put_images(aws, 5)
    _build_run(aws, ledger_uri, "run-1")
    # Confidence 0.00 is one worker per object: not doubted. 0.41 and 0.55 are.
    recorded = _record_run(
        aws, ledger_uri, "run-1", _labeled_output(aws, sources, [0.9, 0.41, 0.0, 0.55, 0.8], "job-1")
    )
    assert recorded["doubtful"] == 2
    entries = {entry["source"]: entry for entry in _entries(aws, ledger_uri)}
    assert entries[sources[1]]["relabel"] == "confidence 0.41 < 0.60" and "relabel" not in entries[sources[2]]

    # Two new images and at most one doubtful one: the next run labels three.
    new = _put_images(aws, 7)[5:]
    second = _build_run(aws, ledger_uri, "run-2", max_relabel=1)
    manifest = [json.loads(line)["source-ref"] for line in aws.get_text(second["manifest_uri"]).splitlines()]
    [again] = [source for source in manifest if source in (sources[1], sources[3])]
    assert sorted(manifest) == sorted([*new, again]) and second["relabel_objects"] == 1
    assert second["objects"] == 3

    # Labeled a second time, still doubtful: its entry says so, and it is never offered again.
    labeling = _labeled_output(aws, [*new, again], [0.9, 0.9, 0.5], "job-2")
    assert _record_run(aws, ledger_uri, "run-2", labeling)["doubtful"] == 0
    entries = {entry["source"]: entry for entry in _entries(aws, ledger_uri)}
    assert entries[again]["relabeled"] is True and entries[again]["job"] == "job-2" and "relabel" not in entries[again]
    _put_images(aws, 8)
    third = _build_run(aws, ledger_uri, "run-3", max_relabel=5)
    manifest = [json.loads(line)["source-ref"] for line in aws.get_text(third["manifest_uri"]).splitlines()]
    assert again not in manifest and {sources[1], sources[3]} - {again} <= set(manifest)


def test_a_failed_run_gives_a_doubtful_label_back_instead_of_forgetting_it(aws, ledger_uri):
    from gt_provider.operators.manifest import GroundTruthReleaseClaimsOperator

    sources = _put_images(aws, 2)
    _build_run(aws, ledger_uri, "run-1")
    _record_run(aws, ledger_uri, "run-1", _labeled_output(aws, sources, [0.45, 0.9], "job-1"))
    before = {entry["source"]: entry for entry in _entries(aws, ledger_uri)}

    assert _build_run(aws, ledger_uri, "run-2", max_relabel=1)["relabel_objects"] == 1
    GroundTruthReleaseClaimsOperator(task_id="release", ledger_uri=ledger_uri).execute({"run_id": "run-2"})

    assert {
        entry["source"]: entry for entry in _entries(aws, ledger_uri)
    } == before  # the label is kept, still doubtful
