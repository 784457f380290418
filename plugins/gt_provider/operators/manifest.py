"""Operators that build input manifests from S3 and keep the ledger of what was labeled."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import AirflowSkipException

from gt_provider import ledger
from gt_provider.exceptions import InvalidLabelingJobConfigError, ObjectsTakenError
from gt_provider.lineage import remember
from gt_provider.manifests import discovery, gold
from gt_provider.manifests.build import manifest_text
from gt_provider.operators._deprecated import deprecated_names
from gt_provider.s3io import parse_s3_argument

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context

MANIFEST_FILE = "input.manifest"
#: The ledger's lines (see gt_provider.ledger), for its lineage schema.
LEDGER_FIELDS = [
    ("source", "string"),
    ("job", "string"),
    ("labeled_at", "timestamp"),
    ("claimed_by", "string"),
    ("claimed_at", "timestamp"),
]


def run_folder(run_id: str) -> str:
    """A run id as one S3 folder name (run ids contain ':' and '+')."""
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in run_id)


class GroundTruthBuildManifestOperator(AwsBaseOperator[S3Hook]):
    """Write the input manifest of one run from what is new in S3.

    Sources, one of:

    * ``source_prefix`` — every object under an S3 prefix whose key matches ``suffixes``
      (e.g. ``[".png", ".jpg"]``) or ``glob`` (on the key): one ``{"source-ref": ...}`` line
      each, carrying the S3 user metadata named in ``carry_metadata``;
    * ``source_object`` — a text (one source per line), CSV (column ``text_field``) or JSON
      Lines (field ``text_field``) object: one ``{"source": ...}`` line per row, carrying the
      columns / fields named in ``carry_fields``.

    Incremental: sources recorded in ``ledger_uri`` (see ``GroundTruthRecordLabeledObjectsOperator``)
    are left out; with ``only_data_interval`` only objects modified in the run's data
    interval are considered. ``max_objects`` keeps a deterministic sample. When nothing is
    new the task is skipped, and so are the tasks after it — no empty labeling job.

    The manifest goes to ``<manifest_prefix>/<run>/input.manifest``. An existing one (a
    retry of the same run) is reused, never overwritten.

    :param manifest_prefix: S3 prefix of the manifests. (templated)
    :param source_prefix: S3 prefix of the data objects. (templated)
    :param suffixes: Key endings to keep under ``source_prefix``. (templated)
    :param glob: fnmatch pattern on the key, instead of or with ``suffixes``. (templated)
    :param carry_metadata: S3 user-metadata keys copied onto each line (one HEAD per object). (templated)
    :param source_object: S3 URI of a .txt, .csv or .jsonl object. (templated)
    :param text_field: CSV column / JSON Lines field that becomes ``source``. (templated)
    :param carry_fields: Other columns / fields copied onto each line. (templated)
    :param ledger_uri: S3 URI of the pipeline's ledger (optional). (templated)
    :param only_data_interval: Only objects modified in the run's data interval (prefix sources).
    :param max_objects: At most this many objects, a sample stable across retries. (templated)
    :param sample_seed: Changes which sample is drawn. (templated)
    :param gold_manifest_uri: S3 URI of a gold manifest (known-answer objects, see
        :mod:`gt_provider.manifests.gold`): ``gold_rate`` of the run's objects are added from
        it, at places drawn per run. Checked before anything is claimed. (templated)
    :param gold_rate: Gold items per data object, above 0 and at most 0.5. (templated)
    :param gold_labels: The job's labels: a gold answer outside them is refused. (templated)
    :param max_relabel: With a ledger, also this many objects whose label the ledger marks
        doubtful (``GroundTruthRecordLabeledObjectsOperator(relabel_below_confidence=...)``),
        on top of ``max_objects``, each labeled a second time at most once. (templated)

    :return: ``{"manifest_uri", "objects", "new_objects", "already_labeled", "relabel_objects", "gold_objects",
        "ledger_uri", "source_uri"}``; ``objects`` counts data objects (new and relabeled), not gold ones.
    """

    aws_hook_class = S3Hook
    template_fields: Sequence[str] = aws_template_fields(
        "manifest_prefix",
        "source_prefix",
        "suffixes",
        "glob",
        "carry_metadata",
        "source_object",
        "text_field",
        "carry_fields",
        "ledger_uri",
        "max_objects",
        "sample_seed",
        "gold_manifest_uri",
        "gold_rate",
        "gold_labels",
        "max_relabel",
    )
    ui_color = "#e4f0ff"

    def __init__(
        self,
        *,
        manifest_prefix: str,
        source_prefix: str | None = None,
        suffixes: Sequence[str] = (),
        glob: str | None = None,
        carry_metadata: Sequence[str] = (),
        source_object: str | None = None,
        text_field: str | None = None,
        carry_fields: Sequence[str] = (),
        ledger_uri: str | None = None,
        only_data_interval: bool = False,
        max_objects: int | None = None,
        sample_seed: str = "",
        gold_manifest_uri: str | None = None,
        gold_rate: float = 0.05,
        gold_labels: Sequence[str] | None = None,
        max_relabel: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if (source_prefix is None) == (source_object is None):
            raise InvalidLabelingJobConfigError("pass exactly one of source_prefix and source_object")
        self.manifest_prefix = manifest_prefix
        self.source_prefix = source_prefix
        self.suffixes = suffixes
        self.glob = glob
        self.carry_metadata = carry_metadata
        self.source_object = source_object
        self.text_field = text_field
        self.carry_fields = carry_fields
        self.ledger_uri = ledger_uri
        self.only_data_interval = only_data_interval
        self.max_objects = max_objects
        self.sample_seed = sample_seed
        self.gold_manifest_uri = gold_manifest_uri
        self.gold_rate = gold_rate
        self.gold_labels = gold_labels
        self.max_relabel = max_relabel

    def execute(self, context: Context) -> dict[str, Any]:
        if self.max_objects is not None and (isinstance(self.max_objects, bool) or int(self.max_objects) < 1):
            raise InvalidLabelingJobConfigError(f"max_objects must be a positive integer, got {self.max_objects!r}")
        bucket, prefix = parse_s3_argument(self.manifest_prefix, "manifest_prefix", object_key=False)
        key = f"{prefix.rstrip('/')}/{run_folder(context['run_id'])}/{MANIFEST_FILE}".lstrip("/")
        uri = f"s3://{bucket}/{key}"
        if self.hook.check_for_key(key, bucket_name=bucket):
            self.log.info("%s exists (a retry of this run): reusing it, not overwriting it", uri)
            text = self.hook.read_key(key, bucket_name=bucket)
            sources = discovery.manifest_sources(text)  # the data lines: every other line is a gold item
            self._reclaim(uri, sources, ledger.claimant(self.dag_id, context["run_id"]))
            gold_objects = sum(1 for line in text.splitlines() if line.strip()) - len(sources)
            return self._result(uri, len(sources), len(sources), 0, gold_objects)
        if isinstance(self.max_relabel, bool) or not isinstance(self.max_relabel, int) or self.max_relabel < 0:
            raise InvalidLabelingJobConfigError(f"max_relabel must be a whole number >= 0, got {self.max_relabel!r}")
        gold_items = self._gold()
        records = self._candidates(context)
        new, chosen, relabel = self._choose(records, ledger.claimant(self.dag_id, context["run_id"]))
        self.log.info(
            "%d candidate objects, %d labeled before or claimed by a running job, %d new; %d in this run's manifest%s",
            len(records),
            len(records) - len(new),
            len(new),
            len(chosen),
            f", {len(relabel)} of them labeled before with a doubtful label, labeled again" if relabel else "",
        )
        lines = discovery.manifest_lines(self.hook.get_conn(), chosen, records, carry_metadata=self.carry_metadata)
        objects, gold_objects = len(lines), 0
        if gold_items:
            lines, gold_objects = gold.mix_gold(lines, gold_items, self.gold_rate, f"{self.dag_id}/{context['run_id']}")
            self.log.info(
                "Mixed %d gold items from %s among the %d objects (gold_rate=%g); they are not data: the ledger "
                "and datasets leave them out, and workers are scored on them",
                gold_objects,
                self.gold_manifest_uri,
                objects,
                self.gold_rate,
            )
        self.hook.load_string(manifest_text(lines), key=key, bucket_name=bucket, replace=False)
        self.log.info("Wrote %d objects to %s", len(lines), uri)
        return self._result(uri, objects, len(new), len(records) - len(new), gold_objects, len(relabel))

    def _gold(self) -> list[dict[str, Any]]:
        """The gold manifest's items, checked (before anything is claimed), or none."""
        if not self.gold_manifest_uri:
            return []
        gold.check_gold_rate(self.gold_rate)
        bucket, key = parse_s3_argument(self.gold_manifest_uri, "gold_manifest_uri")
        if not self.hook.check_for_key(key, bucket_name=bucket):
            raise InvalidLabelingJobConfigError(f"gold_manifest_uri {self.gold_manifest_uri} does not exist")
        labels = list(self.gold_labels) if self.gold_labels else None
        return gold.read_gold(self.hook.read_key(key, bucket_name=bucket), self.gold_manifest_uri, labels)

    def _candidates(self, context: Context) -> dict[str, dict[str, Any]]:
        client = self.hook.get_conn()
        if self.source_object:
            return discovery.object_candidates(
                client, self.source_object, text_field=self.text_field, carry_fields=self.carry_fields
            )
        interval = None
        if self.only_data_interval and context.get("data_interval_start") and context.get("data_interval_end"):
            interval = (context["data_interval_start"], context["data_interval_end"])
        return discovery.prefix_candidates(
            client,
            self.source_prefix,  # type: ignore[arg-type]
            suffixes=self.suffixes,
            glob=self.glob,
            modified_between=interval,
        )

    def _choose(self, records: dict[str, dict[str, Any]], claimant: str) -> tuple[set[str], list[str], list[str]]:
        """(new sources, what this run labels, those of them labeled before); with a ledger, claimed in one
        compare-and-swap."""
        max_objects = int(self.max_objects) if self.max_objects else None

        def choose(book: ledger.Ledger) -> tuple[set[str], list[str], list[str]]:
            book.release(claimant)  # an earlier try of this run that wrote no manifest
            new = set(records) - book.unavailable(claimant)
            doubtful = [source for source in book.relabel_candidates() if source in records]
            relabel = ledger.sample(doubtful, self.max_relabel, self.sample_seed) if self.max_relabel else []
            chosen = sorted({*ledger.sample(new, max_objects, self.sample_seed), *relabel})
            if not chosen:
                raise AirflowSkipException("Nothing new to label: skipping this run's labeling")
            book.claim(chosen, claimant, datetime.now(UTC))
            return new, chosen, relabel

        if not self.ledger_uri:
            return choose(ledger.Ledger({}))
        parse_s3_argument(self.ledger_uri, "ledger_uri")
        return ledger.update_ledger(self.hook.get_conn(), self.ledger_uri, choose)

    def _reclaim(self, uri: str, sources: list[str], claimant: str) -> None:
        """Claim a reused manifest's objects again: a failed try released them, and a cleared run reuses it."""
        if not self.ledger_uri:
            return
        parse_s3_argument(self.ledger_uri, "ledger_uri")
        taken = ledger.update_ledger(
            self.hook.get_conn(),
            self.ledger_uri,
            lambda book: book.reclaim(sources, claimant, datetime.now(UTC)),
        )
        if taken:
            raise ObjectsTakenError(
                f"{len(taken)} of the {len(sources)} objects of {uri} were labeled or claimed by another run "
                f"after this run released them (first: {taken[0]}); labeling them again would pay twice. "
                f"Delete {uri} to build a fresh manifest for this run, or trigger a new run"
            )

    def _result(
        self, uri: str, objects: int, new: int, already_labeled: int, gold_objects: int, relabel_objects: int = 0
    ) -> dict[str, Any]:
        return remember(
            self,
            {
                "manifest_uri": uri,
                "objects": objects,
                "new_objects": new,
                "already_labeled": already_labeled,
                "relabel_objects": relabel_objects,
                "gold_objects": gold_objects,
                "ledger_uri": self.ledger_uri,
                # Where the objects came from, for lineage: the prefix or the drop file.
                "source_uri": self.source_prefix or self.source_object,
            },
        )

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        """Lineage: the raw objects (prefix or drop file) go in, the input manifest comes out."""
        from gt_provider import lineage

        result = lineage.remembered(self)
        if not result.get("manifest_uri"):
            return lineage.lineage()
        by_prefix = bool(self.source_prefix)
        carried = (self.carry_metadata if by_prefix else self.carry_fields) or ()
        fields = lineage.manifest_fields("source-ref" if by_prefix else "source", carried)
        source = result.get("source_uri")
        return lineage.lineage(
            inputs=[lineage.dataset(source)] if source else [],
            outputs=[lineage.dataset(result["manifest_uri"], fields)],
        )


class GroundTruthRecordLabeledObjectsOperator(AwsBaseOperator[S3Hook]):
    """Add what a labeling job labeled to the pipeline's ledger (run it after the job succeeded).

    Only objects that carry a label in the job's output manifest are recorded; objects that
    failed labeling are offered again by the next run.

    :param ledger_uri: S3 URI of the ledger (created on first use). (templated)
    :param labeling: The labeling task's result (``GroundTruthLabelingJobOperator``'s XCom). (templated)
    :param relabel_below_confidence: Mark labels whose consolidated confidence is above 0 and
        below this doubtful in the ledger, for ``GroundTruthBuildManifestOperator(max_relabel=...)``
        to offer once more; None (default) marks none. (templated)

    :return: ``{"ledger_uri", "added", "total", "doubtful", "output_manifest_uri"}``
    """

    aws_hook_class = S3Hook
    template_fields: Sequence[str] = aws_template_fields("ledger_uri", "labeling", "relabel_below_confidence")
    ui_color = "#e4f0ff"

    def __init__(
        self,
        *,
        ledger_uri: str,
        labeling: dict[str, Any],
        relabel_below_confidence: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.ledger_uri = ledger_uri
        self.labeling = labeling
        self.relabel_below_confidence = relabel_below_confidence

    def execute(self, context: Context) -> dict[str, Any]:
        parse_s3_argument(self.ledger_uri, "ledger_uri")
        out_bucket, out_key = parse_s3_argument(self.labeling["output_manifest_uri"], "labeling['output_manifest_uri']")
        below = self.relabel_below_confidence
        if below is not None and (isinstance(below, bool) or not isinstance(below, int | float) or not 0 < below <= 1):
            raise InvalidLabelingJobConfigError(f"relabel_below_confidence must be in (0, 1] or None, got {below!r}")
        text = self.hook.read_key(out_key, bucket_name=out_bucket)
        attribute = self.labeling["label_attribute_name"]
        records = ledger.labeled_records(text, attribute)
        labeled = [source for source, _ in records]
        doubtful = ledger.doubtful_labels(records, attribute, below) if below else {}
        claimant = ledger.claimant(self.dag_id, context["run_id"])

        def record(book: ledger.Ledger) -> tuple[int, int, int]:
            added = book.record(labeled, self.labeling["job_name"], datetime.now(UTC), claimant, doubtful)
            marked = sum(1 for source in doubtful if book.entries[source].get("relabel"))  # not second labels
            return added, len(book.labeled()), marked

        added, total, marked = ledger.update_ledger(self.hook.get_conn(), self.ledger_uri, record)
        self.log.info(
            "Ledger %s: %d objects added, %d in all%s",
            self.ledger_uri,
            added,
            total,
            f"; {marked} labeled with confidence below {below:g}, offered once more" if marked else "",
        )
        return remember(
            self,
            {
                "ledger_uri": self.ledger_uri,
                "added": added,
                "total": total,
                "doubtful": marked,
                "output_manifest_uri": self.labeling["output_manifest_uri"],
            },
        )

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        """Lineage: the job's output manifest goes in, the ledger comes out."""
        from gt_provider import lineage

        result = lineage.remembered(self)
        if not result.get("ledger_uri"):
            return lineage.lineage()
        read = result.get("output_manifest_uri")
        return lineage.lineage(
            inputs=[lineage.dataset(read)] if read else [],
            outputs=[lineage.dataset(result["ledger_uri"], LEDGER_FIELDS)],
        )


class GroundTruthReleaseClaimsOperator(AwsBaseOperator[S3Hook]):
    """Release the objects this run claimed in the ledger, so the next run offers them again.

    Put it after the labeling task with ``trigger_rule="one_failed"``: when the labeling job
    (or anything before the ledger was updated) failed, the run's claimed objects become
    available to other runs. A successful run needs no release: recording its labels turns
    its claims into labeled entries and releases what its job did not label.

    :param ledger_uri: S3 URI of the ledger. (templated)

    :return: ``{"ledger_uri", "released"}``
    """

    aws_hook_class = S3Hook
    template_fields: Sequence[str] = aws_template_fields("ledger_uri")
    ui_color = "#e4f0ff"

    def __init__(self, *, ledger_uri: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ledger_uri = ledger_uri

    def execute(self, context: Context) -> dict[str, Any]:
        parse_s3_argument(self.ledger_uri, "ledger_uri")
        claimant = ledger.claimant(self.dag_id, context["run_id"])
        released = ledger.update_ledger(self.hook.get_conn(), self.ledger_uri, lambda book: book.release(claimant))
        self.log.info("Ledger %s: released %d objects claimed by %s", self.ledger_uri, released, claimant)
        return {"ledger_uri": self.ledger_uri, "released": released}


class GroundTruthValidateManifestOperator(AwsBaseOperator[S3Hook]):
    """Check an input manifest before a labeling job is paid for.

    Streams the manifest (never whole in memory) through ``gt_provider.manifests``: UTF-8,
    one JSON object per line, the task type's line schema, Ground Truth's length limits, no
    ``$`` keys, duplicate sources, object-count limits; optionally the referenced S3 objects
    (exist, size, extension), all or a sample.

    ``on_invalid="fail"`` (default) fails the task with a readable summary — line numbers,
    kinds, reasons — so no labeling job is created. ``"drop"`` writes the valid lines to a
    cleaned manifest beside the original (never over it) and carries on with those.

    :param manifest_uri: S3 URI of the input manifest. (templated)
    :param task_type: The labeling job's task type. (templated)
    :param on_invalid: ``"fail"`` or ``"drop"``. (templated)
    :param review_attribute: For verification/adjustment jobs: the earlier job's label attribute. (templated)
    :param check_objects: Also check the referenced S3 objects. (templated)
    :param sample: With ``check_objects``: check only this many, chosen at random. (templated)
    :param max_errors: Errors described in detail in the report (all are counted). (templated)

    :return: the report (``ManifestReport.to_dict()``) plus ``labeling_manifest_uri``: the
        manifest the labeling job should read (the cleaned one in ``drop`` mode).
    """

    aws_hook_class = S3Hook
    template_fields: Sequence[str] = aws_template_fields(
        "manifest_uri",
        "ground_truth_task_type",
        "on_invalid",
        "review_attribute",
        "check_objects",
        "sample",
        "max_errors",
    )
    ui_color = "#e4f0ff"

    def __init__(
        self,
        *,
        manifest_uri: str,
        task_type: str,
        on_invalid: str = "fail",
        review_attribute: str | None = None,
        check_objects: bool = False,
        sample: int | None = None,
        max_errors: int = 100,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.manifest_uri = manifest_uri
        # BaseOperator.task_type is Airflow's own (the operator class name): keep ours apart.
        self.ground_truth_task_type = task_type
        self.on_invalid = on_invalid
        self.review_attribute = review_attribute
        self.check_objects = check_objects
        self.sample = sample
        self.max_errors = max_errors

    def execute(self, context: Context) -> dict[str, Any]:
        from gt_provider.manifests.validate import validate_manifest

        report = validate_manifest(
            self.manifest_uri,
            self.ground_truth_task_type,
            on_invalid=self.on_invalid,  # type: ignore[arg-type]
            review_attribute=self.review_attribute,
            check_objects=bool(self.check_objects),
            sample=int(self.sample) if self.sample else None,
            max_errors=int(self.max_errors),
            s3_client=self.hook.get_conn(),
        )
        self.log.info("%s", report.summary())
        report.raise_if_invalid()
        return remember(self, {**report.to_dict(), "labeling_manifest_uri": report.labeling_manifest})

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        """Lineage: the manifest goes in; the manifest to label comes out (itself, or a copy without bad lines)."""
        from gt_provider import lineage

        result = lineage.remembered(self)
        if not result.get("manifest"):
            return lineage.lineage()
        fields = lineage.manifest_fields(lineage.source_field(self.ground_truth_task_type))
        labeled = result.get("labeling_manifest_uri") or result["manifest"]
        return lineage.lineage(
            inputs=[lineage.dataset(result["manifest"], fields)], outputs=[lineage.dataset(labeled, fields)]
        )


#: Old public names -> new ones; importing an old one warns.
_DEPRECATED_NAMES = {
    "BuildManifestOperator": "GroundTruthBuildManifestOperator",
    "RecordLabeledObjectsOperator": "GroundTruthRecordLabeledObjectsOperator",
    "ValidateManifestOperator": "GroundTruthValidateManifestOperator",
}
__getattr__ = deprecated_names(__name__, globals(), _DEPRECATED_NAMES)
