"""GroundTruthBuildManifestOperator and GroundTruthRecordLabeledObjectsOperator against the local AWS."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from airflow.providers.common.compat.sdk import AirflowSkipException

from gt_provider.exceptions import InvalidLabelingJobConfigError
from gt_provider.manifests.errors import InvalidManifestError
from gt_provider.manifests.gold import GOLD_KEY
from gt_provider.operators.manifest import (
    GroundTruthBuildManifestOperator,
    GroundTruthRecordLabeledObjectsOperator,
    GroundTruthValidateManifestOperator,
)


def _context(run_id: str = "manual__2026-11-22T00:00:00+00:00", **extra) -> dict:
    """The operators read the run id (and the data interval); nothing else of a task instance."""
    return {"run_id": run_id, **extra}


def _put_images(aws, count: int, prefix: str = "raw/") -> list[str]:
    s3 = aws.client("s3")
    for i in range(count):
        s3.put_object(Bucket=aws.bucket, Key=f"{prefix}{i:03d}.png", Body=b"png", Metadata={"gt-local-answer": "cat"})
    s3.put_object(Bucket=aws.bucket, Key=f"{prefix}notes.txt", Body=b"not an image")
    return [f"s3://{aws.bucket}/{prefix}{i:03d}.png" for i in range(count)]


def _build(aws, **kwargs) -> GroundTruthBuildManifestOperator:
    arguments = {
        "task_id": "build",
        "manifest_prefix": f"s3://{aws.bucket}/labeling/manifests",
        "source_prefix": f"s3://{aws.bucket}/raw/",
        "suffixes": [".png"],
        **kwargs,
    }
    return GroundTruthBuildManifestOperator(**arguments)


def _lines(aws, uri: str) -> list[dict]:
    return [json.loads(line) for line in aws.get_text(uri).splitlines()]


class TestBuildManifestOperator:
    def test_prefix_with_suffix_and_carried_metadata(self, aws):
        sources = _put_images(aws, 5)
        result = _build(aws, carry_metadata=["gt-local-answer"]).execute(_context())
        assert result["objects"] == 5
        assert result["manifest_uri"] == (
            f"s3://{aws.bucket}/labeling/manifests/manual__2026-11-22T00-00-00-00-00/input.manifest"
        )
        lines = _lines(aws, result["manifest_uri"])
        assert [line["source-ref"] for line in lines] == sources
        assert all(line["gt-local-answer"] == "cat" for line in lines)

    def test_ledger_leaves_out_what_was_labeled_and_skips_when_nothing_is_new(self, aws):
        sources = _put_images(aws, 4)
        ledger_uri = aws.put_text(
            "labeling/ledger.jsonl", "".join(json.dumps({"source": s}) + "\n" for s in sources[:3])
        )
        result = _build(aws, ledger_uri=ledger_uri).execute(_context())
        assert [line["source-ref"] for line in _lines(aws, result["manifest_uri"])] == [sources[3]]
        assert result["already_labeled"] == 3
        aws.put_text("labeling/ledger.jsonl", "".join(json.dumps({"source": s}) + "\n" for s in sources))
        with pytest.raises(AirflowSkipException, match="Nothing new"):
            _build(aws, ledger_uri=ledger_uri).execute(_context(run_id="manual__2"))

    def test_max_objects_sample_is_deterministic_and_changes_with_the_seed(self, aws):
        _put_images(aws, 30)
        first = _lines(aws, _build(aws, max_objects=10).execute(_context("a"))["manifest_uri"])
        again = _lines(aws, _build(aws, max_objects=10).execute(_context("b"))["manifest_uri"])
        other = _lines(aws, _build(aws, max_objects=10, sample_seed="x").execute(_context("c"))["manifest_uri"])
        assert len(first) == 10
        assert first == again
        assert first != other

    def test_an_existing_runs_manifest_is_reused_not_overwritten(self, aws):
        _put_images(aws, 3)
        first = _build(aws).execute(_context())
        _put_images(aws, 6)
        retry = _build(aws).execute(_context())
        assert retry["manifest_uri"] == first["manifest_uri"]
        assert len(_lines(aws, retry["manifest_uri"])) == 3

    def test_gold_items_are_mixed_in_at_the_rate_and_never_claimed(self, aws):
        sources = _put_images(aws, 20)
        gold_uri = aws.put_text(
            "gold/digits.manifest",
            "".join(
                json.dumps({"source-ref": f"s3://{aws.bucket}/gold/{i}.png", GOLD_KEY: "cat"}) + "\n" for i in range(5)
            ),
        )
        ledger_uri = f"s3://{aws.bucket}/labeling/ledger.jsonl"
        arguments = {"ledger_uri": ledger_uri, "gold_manifest_uri": gold_uri, "gold_rate": 0.1, "gold_labels": ["cat"]}

        result = _build(aws, **arguments).execute(_context())

        assert result["objects"] == 20 and result["gold_objects"] == 2
        lines = _lines(aws, result["manifest_uri"])
        assert len(lines) == 22 and sum(GOLD_KEY in line for line in lines) == 2
        claimed = {json.loads(line)["source"] for line in aws.get_text(ledger_uri).splitlines()}
        assert claimed == set(sources)  # the data, not the gold items
        retry = _build(aws, **arguments).execute(_context())  # reuses the manifest, claims no gold either
        assert retry["gold_objects"] == 2 and retry["objects"] == 20
        assert {json.loads(line)["source"] for line in aws.get_text(ledger_uri).splitlines()} == set(sources)

    def test_a_bad_gold_manifest_is_refused_before_anything_is_claimed(self, aws):
        _put_images(aws, 3)
        gold_uri = aws.put_text(
            "gold/bad.manifest", json.dumps({"source-ref": "s3://b/g.png", GOLD_KEY: "horse"}) + "\n"
        )
        ledger_uri = f"s3://{aws.bucket}/labeling/ledger.jsonl"

        with pytest.raises(InvalidLabelingJobConfigError, match="line 1: gt-gold-label 'horse' is not one of"):
            _build(aws, ledger_uri=ledger_uri, gold_manifest_uri=gold_uri, gold_labels=["cat", "dog"]).execute(
                _context()
            )
        with pytest.raises(InvalidLabelingJobConfigError, match="does not exist"):
            _build(aws, gold_manifest_uri=f"s3://{aws.bucket}/gold/none.manifest").execute(_context())
        assert aws.client("s3").list_objects_v2(Bucket=aws.bucket, Prefix="labeling/").get("KeyCount") == 0

    def test_only_the_data_interval(self, aws):
        _put_images(aws, 2)
        now = datetime.now(UTC)
        inside = _context(data_interval_start=now - timedelta(hours=1), data_interval_end=now + timedelta(hours=1))
        assert _build(aws, only_data_interval=True).execute(inside)["objects"] == 2
        before = _context("r2", data_interval_start=now - timedelta(days=2), data_interval_end=now - timedelta(days=1))
        with pytest.raises(AirflowSkipException):
            _build(aws, only_data_interval=True).execute(before)

    @pytest.mark.parametrize(
        ("name", "body", "field"),
        [
            ("texts.csv", "id,text,lang\n1,great product,en\n2,awful,en\n", "text"),
            ("texts.jsonl", '{"text": "great product", "lang": "en"}\n{"text": "awful", "lang": "en"}\n', "text"),
            ("texts.txt", "great product\nawful\n", None),
        ],
    )
    def test_text_sources(self, aws, name, body, field):
        uri = aws.put_text(f"drops/{name}", body)
        carry = ["lang"] if field else []
        result = _build(aws, source_prefix=None, source_object=uri, text_field=field, carry_fields=carry).execute(
            _context()
        )
        lines = _lines(aws, result["manifest_uri"])
        assert sorted(line["source"] for line in lines) == ["awful", "great product"]
        if field:
            assert all(line["lang"] == "en" for line in lines)

    def test_missing_text_column_names_the_row(self, aws):
        uri = aws.put_text("drops/texts.csv", "id,text\n1,fine\n2,\n")
        with pytest.raises(InvalidLabelingJobConfigError, match="row 2 has no text in 'text'"):
            _build(aws, source_prefix=None, source_object=uri, text_field="text").execute(_context())

    def test_exactly_one_source(self, aws):
        with pytest.raises(InvalidLabelingJobConfigError, match="exactly one"):
            GroundTruthBuildManifestOperator(
                task_id="b", manifest_prefix="s3://b/m", source_prefix="s3://b/r", source_object="s3://b/o"
            )


def test_record_labeled_objects_adds_only_labeled_sources(aws):
    output = "".join(
        json.dumps(line) + "\n"
        for line in [
            {"source-ref": "s3://b/1.png", "label": "0", "label-metadata": {}},
            {"source-ref": "s3://b/2.png", "label-metadata": {"failure-reason": "expired"}},
            {"source-ref": "s3://b/3.png", "label": "1", "label-metadata": {}},
            {"source-ref": "s3://b/gold.png", GOLD_KEY: "cat", "label": "0", "label-metadata": {}},  # not data
        ]
    )
    labeling = {
        "job_name": "job-1",
        "label_attribute_name": "label",
        "output_manifest_uri": aws.put_text("out/output.manifest", output),
    }
    ledger_uri = f"s3://{aws.bucket}/labeling/ledger.jsonl"
    operator = GroundTruthRecordLabeledObjectsOperator(task_id="record", ledger_uri=ledger_uri, labeling=labeling)

    read = {"output_manifest_uri": labeling["output_manifest_uri"]}  # what it read, for lineage
    assert operator.execute(_context()) == {"ledger_uri": ledger_uri, "added": 2, "total": 2, "doubtful": 0, **read}
    again = {"ledger_uri": ledger_uri, "added": 0, "total": 2, "doubtful": 0, **read}
    assert operator.execute(_context()) == again  # idempotent
    recorded = [json.loads(line) for line in aws.get_text(ledger_uri).splitlines()]
    assert [entry["source"] for entry in recorded] == ["s3://b/1.png", "s3://b/3.png"]
    assert {entry["job"] for entry in recorded} == {"job-1"}


class TestValidateManifestOperator:
    def _validate(self, uri: str, **kwargs) -> GroundTruthValidateManifestOperator:
        return GroundTruthValidateManifestOperator(
            task_id="validate", manifest_uri=uri, task_type="ImageMultiClass", **kwargs
        )

    def test_valid_manifest_reports_and_passes_it_on(self, aws):
        uri = aws.put_text(
            "in/ok.manifest", '{"source-ref": "s3://bucket-a/1.png"}\n{"source-ref": "s3://bucket-a/2.png"}\n'
        )
        result = self._validate(uri).execute(_context())
        assert result["valid"] is True
        assert result["labeling_manifest_uri"] == uri
        json.dumps(result)  # XCom-safe

    def test_invalid_manifest_fails_with_a_readable_summary_before_any_job(self, aws):
        uri = aws.put_text(
            "in/bad.manifest", '{"source-ref": "s3://bucket-a/1.png"}\n{"source_ref": "s3://bucket-a/2.png"}\n'
        )
        with pytest.raises(InvalidManifestError) as raised:
            self._validate(uri).execute(_context())
        message = str(raised.value)
        assert "line 2" in message
        assert "Traceback" not in message
        assert aws.client("sagemaker").list_labeling_jobs()["LabelingJobSummaryList"] == []

    def test_drop_mode_writes_a_cleaned_manifest_beside_the_original(self, aws):
        original = '{"source-ref": "s3://bucket-a/1.png"}\n[1, 2]\n{"source-ref": "s3://bucket-a/3.png"}\n'
        uri = aws.put_text("in/mixed.manifest", original)
        result = self._validate(uri, on_invalid="drop").execute(_context())
        assert result["labeling_manifest_uri"] != uri
        assert result["labeling_manifest_uri"].startswith(f"s3://{aws.bucket}/in/")
        assert len(aws.get_text(result["labeling_manifest_uri"]).splitlines()) == 2
        assert aws.get_text(uri) == original  # never overwritten


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("BuildManifestOperator", "GroundTruthBuildManifestOperator"),
        ("RecordLabeledObjectsOperator", "GroundTruthRecordLabeledObjectsOperator"),
        ("ValidateManifestOperator", "GroundTruthValidateManifestOperator"),
    ],
)
def test_old_names_still_import_with_a_deprecation_warning(old, new):
    from gt_provider.operators import manifest

    with pytest.warns(DeprecationWarning, match=f"use {new}"):
        assert getattr(manifest, old) is getattr(manifest, new)
