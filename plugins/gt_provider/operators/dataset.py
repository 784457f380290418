"""Output augmented manifests -> a versioned training dataset in S3, announced as an Airflow Asset.

``BuildTrainingDatasetOperator`` is the old name of :class:`GroundTruthBuildDatasetOperator`
(still importable, deprecated).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.sdk import Asset

from gt_provider.datasets.errors import DatasetError
from gt_provider.lineage import remember
from gt_provider.operators._deprecated import deprecated_names
from gt_provider.s3io import is_s3_uri

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context

#: URI scheme of dataset Assets: the name is known when the DAG file is parsed, the bucket
#: (an Airflow Variable) only when the task runs, so the event's extra carries the S3 URI.
ASSET_SCHEME = "gt-dataset"
#: Old public names -> new ones; importing an old one warns (see ``__getattr__``).
_DEPRECATED_NAMES = {"BuildTrainingDatasetOperator": "GroundTruthBuildDatasetOperator"}


def dataset_asset(name: str) -> Asset:
    """The Asset for dataset ``name``: the outlet of the labeling DAG, the schedule of training DAGs."""
    return Asset(name=f"gt_dataset_{name}", uri=f"{ASSET_SCHEME}://{name}", group="dataset")


class GroundTruthBuildDatasetOperator(AwsBaseOperator[S3Hook]):
    """Write the next version of a training dataset from labeling jobs' output manifests.

    Calls ``gt_provider.datasets.build_dataset``: the new version under
    ``<dataset_uri>/v=<N>/`` holds the parent version's objects plus the new jobs' labels
    (the latest label of a source wins), split train / validation / test -- stratified by
    class, and sticky: an object never changes split between versions --, exported in
    ``formats`` with a dataset card (``dataset.json``, ``README.md`` and its plots).
    ``dataset.json`` is written last: a version is visible only once complete, and a
    committed version is never overwritten. A retry with the same inputs returns the
    version the first try committed.

    With ``asset`` (see :func:`dataset_asset`), the task emits an Asset event whose extra
    carries the version, URI and counts, so that training DAGs can be scheduled on it.

    :param output_manifests: Output manifest URI(s), oldest job first; a labeling task's
        XCom (dict with ``output_manifest_uri``) is accepted too, and then its ``cost`` and
        ``confidence_thresholds`` go into the card and the Asset event. (templated)
    :param dataset_uri: The dataset's root, e.g. ``s3://bucket/datasets/digits``. (templated)
    :param dataset_name: Defaults to the last part of ``dataset_uri``. (templated)
    :param ratios: ``{"train": 0.8, "validation": 0.1, "test": 0.1}`` or ``"0.8,0.1,0.1"``. (templated)
    :param seed: Changes which objects land in which split. (templated)
    :param stratify: Balance classes across splits (classification outputs).
    :param formats: Exports besides the augmented manifest: jsonl, csv, coco, yolo, voc,
        fasttext, conll, spacy, class-listing. (templated)
    :param label_attribute: The label attribute to read; detected when None. (templated)
    :param min_confidence: Leave out objects labeled with lower confidence. (templated)
    :param human_annotated_only: Leave out machine-labeled objects.
    :param adjustment_status: Adjustment outputs: keep only these statuses. (templated)
    :param review_attribute: Keep only objects a verification job (this attribute) accepted. (templated)
    :param review_accept: The verdicts that pass review. (templated)
    :param label_mapping: ``{old: new}`` renames; several olds to one new merges. (templated)
    :param carry_forward: Include the parent version's objects (the nightly case).
    :param exclude_flagged_workers: Workers scored on the jobs' gold items (see
        ``GroundTruthBuildManifestOperator(gold_manifest_uri=...)``) below
        ``gold_min_accuracy`` are flagged on the card; with this, the objects they answered
        are consolidated again from the other workers' answers (a rebuild: nothing is
        labeled again). (templated)
    :param gold_min_accuracy: A worker is flagged below this share of right gold answers... (templated)
    :param gold_min_answers: ...over at least this many of them. (templated)
    :param asset: The dataset's Asset; added to ``outlets`` and given the event's extra.

    :return: the Asset event's extra: ``{"name", "version", "uri", "card_uri", "counts",
        "total", "label_attribute", "source_field", "output_type", "job_names", "cost", "reused"}``;
        ``cost`` is ``{"currency", "actual_usd", "saved_usd", "all_human_usd"}`` of this
        version's labeling jobs, or None when they were given as URIs or not priced.
    """

    aws_hook_class = S3Hook
    template_fields: Sequence[str] = aws_template_fields(
        "output_manifests",
        "dataset_uri",
        "dataset_name",
        "ratios",
        "seed",
        "formats",
        "label_attribute",
        "min_confidence",
        "adjustment_status",
        "review_attribute",
        "review_accept",
        "label_mapping",
        "exclude_flagged_workers",
        "gold_min_accuracy",
        "gold_min_answers",
    )
    template_fields_renderers = {"label_mapping": "json", "ratios": "json"}
    ui_color = "#e8f6e8"

    def __init__(
        self,
        *,
        output_manifests: str | Sequence[str] | Mapping[str, Any],
        dataset_uri: str,
        dataset_name: str | None = None,
        ratios: str | Mapping[str, float] = "0.8,0.1,0.1",
        seed: str = "",
        stratify: bool = True,
        formats: Sequence[str] = ("jsonl",),
        label_attribute: str | None = None,
        min_confidence: float | None = None,
        human_annotated_only: bool = False,
        adjustment_status: Sequence[str] | None = None,
        review_attribute: str | None = None,
        review_accept: Sequence[str] = ("correct",),
        label_mapping: Mapping[str, str] | None = None,
        carry_forward: bool = True,
        exclude_flagged_workers: bool = False,
        gold_min_accuracy: float = 0.8,
        gold_min_answers: int = 3,
        asset: Asset | None = None,
        **kwargs: Any,
    ) -> None:
        if asset is not None:
            kwargs["outlets"] = [*(kwargs.get("outlets") or []), asset]
        super().__init__(**kwargs)
        self.output_manifests = output_manifests
        self.dataset_uri = dataset_uri
        self.dataset_name = dataset_name
        self.ratios = ratios
        self.seed = seed
        self.stratify = stratify
        self.formats = formats
        self.label_attribute = label_attribute
        self.min_confidence = min_confidence
        self.human_annotated_only = human_annotated_only
        self.adjustment_status = adjustment_status
        self.review_attribute = review_attribute
        self.review_accept = review_accept
        self.label_mapping = label_mapping
        self.carry_forward = carry_forward
        self.exclude_flagged_workers = exclude_flagged_workers
        self.gold_min_accuracy = gold_min_accuracy
        self.gold_min_answers = gold_min_answers
        self.asset = asset

    def execute(self, context: Context) -> dict[str, Any]:
        from gt_provider.datasets.build import build_dataset

        manifests = _manifest_uris(self.output_manifests)
        if not is_s3_uri(self.dataset_uri):
            raise DatasetError(f"dataset_uri must be an s3:// prefix, got {self.dataset_uri!r}")
        built = build_dataset(
            manifests,
            self.dataset_uri,
            self._spec(),
            s3_client=self.hook.get_conn(),
            log=self.log.info,
            labeling=_labeling_results(self.output_manifests),
        )
        card = built.card
        self.log.info(
            "Dataset %s v=%d %s at %s: %s; label map %s",
            card["name"],
            built.version,
            "re-used (built by an earlier try)" if built.reused else "written",
            built.uri,
            ", ".join(f"{split} {count:,}" for split, count in built.counts.items()),
            card["label_map"],
        )
        dropped = card["counts"].get("dropped") or {}
        if dropped:
            self.log.info("Left out: %s", ", ".join(f"{count:,} {reason}" for reason, count in dropped.items()))
        if card.get("cost"):
            self.log.info(
                "Labeling this version cost $%.2f; automated labeling saved $%.2f",
                card["cost"]["actual_usd"],
                card["cost"]["saved_usd"],
            )
        extra = {**built.asset_extra(), "reused": built.reused}
        if self.asset is not None:
            context["outlet_events"][self.asset].extra = extra
        return remember(self, extra, card=card)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        """Lineage: the output manifests (and the parent version's, carried forward) go in; the
        version's augmented manifests -- what training reads -- and its card come out.

        Both lists come from the version's card (``dataset.json``): each split's
        ``augmented-manifest/<split>.manifest`` is the channel a SageMaker training job reads,
        which the Amazon provider's training operator reports as its input.
        """
        from gt_provider import lineage
        from gt_provider.datasets.build import CANONICAL_FORMAT

        result = lineage.remembered(self)
        card = result.get("card")
        if not card:
            return lineage.lineage()
        fields = lineage.output_manifest_fields(card["label_attribute"], card.get("source_field") or "source-ref")
        inputs = [lineage.dataset(source["manifest"], fields) for source in card.get("sources") or []]
        outputs = [
            lineage.dataset(f"{result['uri']}{path}", fields)
            for paths in card["files"].get(CANONICAL_FORMAT, {}).values()
            for path in paths
        ]
        return lineage.lineage(inputs, [*outputs, lineage.dataset(result["card_uri"])])

    def _spec(self) -> Any:
        from gt_provider.datasets.build import DatasetSpec
        from gt_provider.datasets.filters import LabelMapping, ObjectFilter, ReviewFilter
        from gt_provider.operators import templated_flag

        name = self.dataset_name or self.dataset_uri.rstrip("/").rsplit("/", 1)[-1]
        review = ReviewFilter(self.review_attribute, frozenset(self.review_accept)) if self.review_attribute else None
        return DatasetSpec(
            name=name,
            ratios=self.ratios,
            seed=str(self.seed),
            stratify=self.stratify,
            formats=tuple(self.formats),
            label_attribute=self.label_attribute or None,
            object_filter=ObjectFilter(
                min_confidence=None if self.min_confidence in (None, "") else float(self.min_confidence),
                human_annotated_only=self.human_annotated_only,
                adjustment_status=frozenset(self.adjustment_status) if self.adjustment_status else None,
            ),
            review=review,
            label_mapping=LabelMapping(dict(self.label_mapping)) if self.label_mapping else None,
            carry_forward=self.carry_forward,
            exclude_flagged_workers=templated_flag(
                self.exclude_flagged_workers, "exclude_flagged_workers", DatasetError
            ),
            gold_min_accuracy=float(self.gold_min_accuracy),
            gold_min_answers=int(self.gold_min_answers),
        )


def _inputs(value: str | Sequence[Any] | Mapping[str, Any]) -> list[Any]:
    """``output_manifests`` as a list: one URI or labeling result, or several."""
    return [value] if isinstance(value, str | Mapping) else list(value)


def _labeling_results(value: str | Sequence[Any] | Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The labeling operators' results among ``output_manifests`` (URIs carry no cost)."""
    items = _inputs(value)
    return [item for item in items if isinstance(item, Mapping) and "job_name" in item]


def _manifest_uris(value: str | Sequence[Any] | Mapping[str, Any]) -> list[str]:
    """URIs from a string, a list, or labeling XComs (``{"output_manifest_uri": ...}``)."""
    items = _inputs(value)
    uris = [item["output_manifest_uri"] if isinstance(item, Mapping) else item for item in items]
    bad = [uri for uri in uris if not is_s3_uri(uri)]
    if not uris or bad:
        raise DatasetError(
            f"output_manifests must be s3:// URIs of output manifests (or labeling results), got {value!r}"
        )
    return uris


__getattr__ = deprecated_names(__name__, globals(), _DEPRECATED_NAMES)
