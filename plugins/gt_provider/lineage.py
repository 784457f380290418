"""OpenLineage datasets for the provider's operators: raw objects -> input manifest -> output manifest -> dataset version -> model.

Every operator that reads or writes data names what it read and wrote as OpenLineage
datasets (``namespace`` ``s3://<bucket>``, ``name`` the key or prefix, as the Amazon
provider's SageMaker operators name theirs), with a schema facet where the data has one, so
a lineage backend links the steps of a pipeline: the input manifest a manifest task wrote is
the one the labeling task read, the output manifest it wrote is what the dataset build read,
and the version's ``augmented-manifest/<split>.manifest`` files the build wrote are the
channels the training job read (the Amazon provider's ``SageMakerTrainingOperator`` reports
those).

OpenLineage is imported only when a lineage backend asks (``get_openlineage_facets_on_*``),
never at DAG parse time; users without the OpenLineage provider never import it. The facets
come from what each task kept of its own result (:func:`remember`), not from XCom.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from gt_provider.s3io import split_s3_uri

if TYPE_CHECKING:
    from airflow.providers.common.compat.openlineage.facet import Dataset
    from airflow.providers.openlineage.extractors import OperatorLineage

#: A field of a dataset's schema facet: (name, type).
Field = tuple[str, str]


def dataset(uri: str, fields: Sequence[Field] = ()) -> Dataset:
    """The OpenLineage dataset of an ``s3://`` object or prefix, with its schema when ``fields`` are given."""
    from airflow.providers.common.compat.openlineage.facet import (
        Dataset,
        SchemaDatasetFacet,
        SchemaDatasetFacetFields,
    )

    bucket, key = split_s3_uri(uri) if "/" in uri[5:] else (uri[5:], "")
    facets = {}
    if fields:
        facets["schema"] = SchemaDatasetFacet(
            fields=[SchemaDatasetFacetFields(name=name, type=kind) for name, kind in fields]
        )
    return Dataset(namespace=f"s3://{bucket}", name=key, facets=facets)


def source_field(task_type: str | None) -> str:
    """The key that names a manifest line's object for ``task_type``: ``source`` (text) or ``source-ref``."""
    from gt_provider.task_types import TaskFamily, get_task_type

    try:
        text = get_task_type(str(task_type)).family == TaskFamily.TEXT
    except Exception:  # a custom task type (or none): its objects are S3 objects, like images
        text = False
    return "source" if text else "source-ref"


def manifest_fields(source_field: str, carried: Iterable[str] = ()) -> list[Field]:
    """An input manifest's lines: the object (``source-ref`` URI or inline ``source``) and carried fields."""
    return [(source_field, "string"), *((name, "string") for name in carried)]


def output_manifest_fields(label_attribute: str, source_field: str = "source-ref") -> list[Field]:
    """An output augmented manifest's lines: the object, its label, and the label's metadata."""
    return [(source_field, "string"), (label_attribute, "json"), (f"{label_attribute}-metadata", "struct")]


def lineage(inputs: Iterable[Dataset] = (), outputs: Iterable[Dataset] = ()) -> OperatorLineage:
    from airflow.providers.openlineage.extractors import OperatorLineage

    return OperatorLineage(inputs=list(inputs), outputs=list(outputs))


#: Where an operator keeps what its execute returned, for its lineage (see :func:`remember`).
_RESULT_ATTRIBUTE = "_gt_lineage_result"


def remember(operator: Any, result: dict[str, Any], **more: Any) -> dict[str, Any]:
    """Keep ``result`` (and ``more``) on the operator for its lineage; returns ``result``.

    The OpenLineage listener asks for the facets after ``execute``, in a forked process that
    must not talk to the API server (an XCom read or a connection lookup there can hang
    until the listener kills it): the facets are built from what the task kept in memory.
    """
    setattr(operator, _RESULT_ATTRIBUTE, {**result, **more})
    return result


def remembered(operator: Any) -> dict[str, Any]:
    """What :func:`remember` kept, or ``{}`` when the task did not finish."""
    return getattr(operator, _RESULT_ATTRIBUTE, None) or {}
