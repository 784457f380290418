"""The JSON Schemas (draft 2020-12) shipped in ``schemas/``, and validators built on them.

The schemas are the documented contract of a manifest line, a frame sequence file and a label
category configuration, readable by any JSON Schema tool. This module loads them, composes the
one schema a job's lines must follow (a review job adds its earlier label attribute), and
builds ``jsonschema`` validators. ``jsonschema`` is imported only here and only when a
validator is built: the streaming validator's hot path never needs it (see ``fast.py``), it is
used to explain a line the fast path rejected, and as the reference in tests.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from gt_provider import task_types
from gt_provider.manifests.layouts import layout_for

if TYPE_CHECKING:
    from jsonschema.protocols import Validator
    from referencing import Registry

#: The schemas' dialect.
DIALECT = "https://json-schema.org/draft/2020-12/schema"
_ID_PREFIX = "urn:gt-provider:schema:"
#: File stems of every shipped schema (``schemas/<stem>.schema.json``).
SCHEMA_NAMES: tuple[str, ...] = (
    "manifest-line-common",
    "source-ref-line",
    "source-or-source-ref-line",
    "point-cloud-frame-line",
    "review-line",
    "video-frame-sequence",
    "point-cloud-frame-sequence",
    "label-category-config-2018-11-28",
    "label-category-config-2020-03-01",
)
#: Label category configuration document versions -> the key that spells the version.
LABEL_CONFIG_VERSION_KEYS: Mapping[str, str] = {"2018-11-28": "document-version", "2020-03-01": "documentVersion"}


@cache
def _load(name: str) -> dict[str, Any]:
    text = resources.files(__package__).joinpath("schemas", f"{name}.schema.json").read_text(encoding="utf-8")
    return json.loads(text)


def load_schema(name: str) -> dict[str, Any]:
    """A shipped schema by file stem (a copy: callers may change it)."""
    if name not in SCHEMA_NAMES:
        raise ValueError(f"no schema named {name!r}; shipped schemas: {', '.join(SCHEMA_NAMES)}")
    return copy.deepcopy(_load(name))


def schema_id(name: str) -> str:
    """The ``$id`` of a shipped schema, for ``$ref`` from composed schemas."""
    return _ID_PREFIX + name


def line_schema(task_type: str | task_types.TaskType, review_attribute: str | None = None) -> dict[str, Any]:
    """The schema every input manifest line of a ``task_type`` job must follow.

    For verification and adjustment types, ``review_attribute`` is the earlier job's
    LabelAttributeName: each line must carry it and its ``-metadata`` (the labels to review).
    The result refers to the shipped schemas by ``$id``; validate with ``line_validator()``
    or with a ``referencing`` registry of ``SCHEMA_NAMES``.
    """
    info = _task_type(task_type)
    review_attribute = checked_review_attribute(info, review_attribute)
    base = layout_for(info.name).line_schema
    if review_attribute is None:
        return {"$schema": DIALECT, "$ref": schema_id(base)}
    metadata_key = f"{review_attribute}-metadata"
    return {
        "$schema": DIALECT,
        "title": f"Input manifest line of a {info.name} job reviewing {review_attribute!r}",
        "$ref": schema_id(base),
        "required": [review_attribute, metadata_key],
        "properties": {metadata_key: {"$ref": f"{schema_id('review-line')}#/$defs/label-metadata"}},
    }


def checked_review_attribute(info: task_types.TaskType, review_attribute: str | None) -> str | None:
    """``review_attribute`` if the task type takes one, refusing a wrong combination early.

    A review job whose lines are not checked for the labels under review would start, and
    fail or show workers nothing, so the attribute is required exactly for review types.
    """
    if not info.is_review:
        if review_attribute is not None:
            raise ValueError(
                f"review_attribute is for verification and adjustment jobs; {info.name} reviews no earlier labels"
            )
        return None
    if not isinstance(review_attribute, str) or not review_attribute:
        raise ValueError(
            f"{info.name} jobs review earlier labels: pass review_attribute, the LabelAttributeName of the job "
            "that wrote them (each manifest line must carry it and '<name>-metadata')"
        )
    return review_attribute


def frame_sequence_schema(task_type: str | task_types.TaskType) -> dict[str, Any] | None:
    """The schema of the sequence files a task type's lines point at; None if they point at data."""
    name = layout_for(_task_type(task_type).name).sequence_schema
    return None if name is None else load_schema(name)


def label_category_config_schema(document_version: str) -> dict[str, Any]:
    """The schema of a label category configuration of ``document_version`` (2018-11-28 or 2020-03-01)."""
    if document_version not in LABEL_CONFIG_VERSION_KEYS:
        raise ValueError(
            f"unknown label category config document version {document_version!r}; "
            f"known: {', '.join(LABEL_CONFIG_VERSION_KEYS)}"
        )
    return load_schema(f"label-category-config-{document_version}")


@cache
def schema_registry() -> Registry:
    """A ``referencing`` registry of every shipped schema, so ``$ref`` by ``$id`` resolves offline."""
    from referencing import Registry, Resource

    return (
        Registry()
        .with_resources((schema_id(name), Resource.from_contents(_load(name))) for name in SCHEMA_NAMES)
        .crawl()
    )


def validator_for(schema: Mapping[str, Any]) -> Validator:
    """A draft 2020-12 ``jsonschema`` validator of ``schema`` that resolves the shipped schemas."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator(schema, registry=schema_registry())


def line_validator(task_type: str | task_types.TaskType, review_attribute: str | None = None) -> Validator:
    """A reusable ``jsonschema`` validator of a task type's manifest lines (the reference checker)."""
    return validator_for(line_schema(task_type, review_attribute))


def describe_schema_error(validator: Validator, instance: Any) -> str | None:
    """The most relevant ``jsonschema`` error of ``instance`` as one line, or None if it is valid."""
    from jsonschema.exceptions import best_match

    error = best_match(validator.iter_errors(instance))
    if error is None:
        return None
    where = "/".join(str(part) for part in error.absolute_path)
    return f"{where}: {error.message}" if where else error.message


def label_category_config_errors(config: Any, task_type: str | task_types.TaskType | None = None) -> list[str]:
    """Why Ground Truth would refuse ``config`` as a label category configuration; [] if it would not.

    The schema of the config's own document version decides the form; with ``task_type``,
    the registry's rules are checked too: the document version the type needs, how many
    labels and how long their names, unique labels, ``auditLabelAttributeName`` exactly where
    Ground Truth reads it, and instructions for named entity recognition. A list rather than an
    exception, so a caller can show every problem of a hand-written config at once.
    """
    if not isinstance(config, Mapping):
        return [f"a label category configuration is a JSON object, got {type(config).__name__}"]
    versions = [version for version, key in LABEL_CONFIG_VERSION_KEYS.items() if key in config]
    if len(versions) != 1:
        keys = " or ".join(f'"{key}"' for key in LABEL_CONFIG_VERSION_KEYS.values())
        return [f"a label category configuration names its version in exactly one of {keys}"]
    declared_key = LABEL_CONFIG_VERSION_KEYS[versions[0]]
    declared = config[declared_key]
    if declared not in LABEL_CONFIG_VERSION_KEYS or LABEL_CONFIG_VERSION_KEYS[declared] != declared_key:
        return [f"{declared_key} {declared!r} is not a document version spelled with that key"]
    validator = validator_for(label_category_config_schema(declared))
    problems = [
        ("/".join(str(part) for part in error.absolute_path) or "config") + f": {error.message}"
        for error in sorted(validator.iter_errors(config), key=lambda error: list(error.absolute_path))
    ]
    if task_type is None or problems:
        return problems
    info = _task_type(task_type)
    if declared != info.label_config_document_version:
        problems.append(f"{info.name} jobs need document version {info.label_config_document_version}, got {declared}")
    problems.extend(info.label_problems([label["label"] for label in config["labels"]]))
    audit = config.get("auditLabelAttributeName")
    if info.requires_audit_label_attribute_name and audit is None:
        problems.append(f"{info.name} jobs need auditLabelAttributeName: the LabelAttributeName of the job to review")
    if audit is not None and not info.is_review:
        problems.append(f"auditLabelAttributeName is only for verification and adjustment jobs, not {info.name}")
    if info.name == "NamedEntityRecognition" and "instructions" not in config:
        problems.append("NamedEntityRecognition jobs show workers the config's instructions: add instructions")
    return [problem for problem in problems if problem]


def _task_type(task_type: str | task_types.TaskType) -> task_types.TaskType:
    return task_type if isinstance(task_type, task_types.TaskType) else task_types.get_task_type(task_type)
