"""The line schemas compiled once into plain Python checks: the validator's hot path.

Running the ``jsonschema`` interpreter on each of a million lines costs tens of microseconds a
line; the same decisions as a few dict look-ups and one precompiled regular expression cost
well under one. ``LineRules`` reads the constants (the S3 URI pattern, the value and text
lengths) from the shipped schema files and refuses to compile a schema whose shape it does
not implement, so an edited schema cannot silently diverge from the fast path; a property-
based test checks that both accept exactly the same lines. ``jsonschema`` is used only to
explain a rejected line of kind ``schema`` (the review and point cloud parts), and the other
kinds get reasons written for people fixing the file by hand.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache, cached_property
from typing import TYPE_CHECKING, Any

import orjson

from gt_provider import task_types
from gt_provider.manifests.kinds import ErrorKind
from gt_provider.manifests.layouts import DataLayout, layout_for
from gt_provider.manifests.schema import (
    checked_review_attribute,
    describe_schema_error,
    line_validator,
    load_schema,
)
from gt_provider.s3io import is_s3_uri, split_s3_prefix

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

SOURCE = "source"
SOURCE_REF = "source-ref"
#: A line at most this many bytes cannot hold a value longer than the 20,000-character limit,
#: even counting non-string values as their re-serialized JSON (a number like ``1e9`` grows
#: at most about 4x), so the hot path skips length checks for it.
SHORT_LINE_BYTES = 5_000
_POINT_CLOUD_METADATA = "source-ref-metadata"
_SOURCE_OR_REF = "source-or-source-ref-line"
_POINT_CLOUD = "point-cloud-frame-line"
_JSON_TYPE_NAMES = {dict: "object", list: "array", str: "string", int: "number", float: "number", bool: "boolean"}
_BUCKET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,61}[A-Za-z0-9]$")


def _expect(condition: bool, what: str) -> None:
    """Refuse a schema the compiler does not implement (a developer error, found by every test)."""
    if not condition:
        raise RuntimeError(f"gt_provider.manifests.fast does not implement this schema change: {what}")


@dataclass(frozen=True)
class _SchemaFacts:
    """Constants of the shipped line schemas, read and shape-checked once per process."""

    uri_pattern: str
    max_value_chars: int
    min_text_chars: int
    metadata_required: tuple[str, ...]

    @classmethod
    def read(cls) -> _SchemaFacts:
        common = load_schema("manifest-line-common")
        _expect(common.get("type") == "object", "manifest-line-common must be of type object")
        _expect(common.get("propertyNames") == {"not": {"pattern": "^\\$"}}, "keys may not begin with '$'")
        value_rule = common.get("patternProperties", {}).get("")
        _expect(set(value_rule or ()) == {"maxLength"}, "every value has only a maxLength")
        source_ref = load_schema("source-ref-line")
        _expect(source_ref.get("required") == [SOURCE_REF], "source-ref-line requires source-ref")
        _expect(source_ref.get("not") == {"required": [SOURCE]}, "source-ref-line forbids source")
        either = load_schema(_SOURCE_OR_REF)
        _expect(either.get("oneOf") == [{"required": [SOURCE]}, {"required": [SOURCE_REF]}], "one of the two keys")
        text = either["properties"][SOURCE]
        _expect(set(text) == {"type", "minLength"} and text["type"] == "string", "source is a non-empty string")
        point_cloud = load_schema(_POINT_CLOUD)
        metadata = point_cloud["properties"][_POINT_CLOUD_METADATA]
        _expect(
            point_cloud.get("required") == [_POINT_CLOUD_METADATA]
            and metadata.get("required") == ["unix-timestamp"]
            and metadata.get("properties") == {"unix-timestamp": {"type": "number"}, "format": {"type": "string"}},
            "source-ref-metadata has a numeric unix-timestamp and an optional string format",
        )
        label_metadata = load_schema("review-line")["$defs"]["label-metadata"]
        _expect(
            label_metadata["properties"]
            == {
                "job-name": {"type": "string"},
                "type": {"type": "string"},
                "human-annotated": {"enum": ["yes", "no"]},
                "creation-date": {"type": "string"},
            },
            "label metadata: string job-name, type, creation-date; human-annotated yes or no",
        )
        return cls(
            uri_pattern=common["$defs"]["s3-object-uri"]["pattern"],
            max_value_chars=value_rule["maxLength"],
            min_text_chars=text["minLength"],
            metadata_required=tuple(label_metadata["required"]),
        )


@cache
def _facts() -> _SchemaFacts:
    return _SchemaFacts.read()


@dataclass(frozen=True)
class LineRules:
    """The checks of one job's manifest lines: task type, its data layout, the reviewed attribute."""

    task_type: task_types.TaskType
    review_attribute: str | None = None
    layout: DataLayout = field(init=False)
    facts: _SchemaFacts = field(init=False)

    def __post_init__(self) -> None:
        checked_review_attribute(self.task_type, self.review_attribute)
        object.__setattr__(self, "layout", layout_for(self.task_type.name))
        object.__setattr__(self, "facts", _facts())

    @property
    def max_value_chars(self) -> int:
        return self.facts.max_value_chars

    @property
    def accepts_text(self) -> bool:
        """Whether lines may carry their data inline in 'source' (text and custom tasks)."""
        return self.layout.line_schema == _SOURCE_OR_REF

    @property
    def example_line(self) -> str:
        if self.accepts_text:
            return '{"source": "text to label"}'
        return '{"source-ref": "s3://bucket/key"}'

    @cached_property
    def uri_match(self) -> Callable[[str], Any]:
        return re.compile(self.facts.uri_pattern).match

    @cached_property
    def accept(self) -> Callable[[dict[str, Any]], str | None]:
        """The compiled check of a parsed line object: its source if the schema accepts it, else None.

        Exact for every schema rule except the string length limit, which only lines longer than
        ``SHORT_LINE_BYTES`` can break and which ``check()`` adds for them.
        """
        match = self.uri_match
        min_text = self.facts.min_text_chars
        either = self.layout.line_schema == _SOURCE_OR_REF
        rest_ok = self._compile_rest(forbid_source=not either)
        needs_rest = self.layout.line_schema == _POINT_CLOUD or self.review_attribute is not None

        def accept(obj: dict[str, Any]) -> str | None:
            if either and SOURCE in obj:
                source = obj[SOURCE]
                if SOURCE_REF in obj or source.__class__ is not str or len(source) < min_text:
                    return None
            else:
                source = obj.get(SOURCE_REF)
                if source.__class__ is not str or match(source) is None:
                    return None
            if (needs_rest or len(obj) > 1) and not rest_ok(obj):
                return None
            return source

        return accept

    def _compile_rest(self, *, forbid_source: bool) -> Callable[[dict[str, Any]], bool]:
        """The rules on keys other than the source, for lines that have any."""
        point_cloud = self.layout.line_schema == _POINT_CLOUD
        attribute = self.review_attribute
        metadata_key = f"{attribute}-metadata"
        numbers = (int, float)
        judgements = ("yes", "no")

        def rest_ok(obj: dict[str, Any]) -> bool:
            if forbid_source and SOURCE in obj:
                return False
            for key in obj:
                if key[:1] == "$":
                    return False
            if point_cloud:
                metadata = obj.get(_POINT_CLOUD_METADATA)
                if metadata.__class__ is not dict or "unix-timestamp" not in metadata:
                    return False
                if metadata["unix-timestamp"].__class__ not in numbers:
                    return False
                if "format" in metadata and metadata["format"].__class__ is not str:
                    return False
            if attribute is not None:
                if attribute not in obj:
                    return False
                metadata = obj.get(metadata_key)
                if metadata.__class__ is not dict:
                    return False
                if (
                    metadata.get("job-name").__class__ is not str
                    or metadata.get("type").__class__ is not str
                    or metadata.get("creation-date").__class__ is not str
                    or "human-annotated" not in metadata
                    or metadata["human-annotated"] not in judgements
                ):
                    return False
            return True

        return rest_ok

    def check(self, obj: Any, line_bytes: int) -> tuple[ErrorKind | None, str | None]:
        """The line's first error kind (None if valid) and, when valid, its source: the careful path.

        Used for lines the hot path did not accept outright, and for long lines, where the
        length limits need checking.
        """
        if obj.__class__ is not dict:
            return ErrorKind.NOT_AN_OBJECT, None
        for key in obj:
            if key[:1] == "$":
                return ErrorKind.DOLLAR_KEY, None
        source_kind = self._source_kind(obj)
        if source_kind is not None:
            return source_kind, None
        if self._long_value(obj, strings_only=True) is not None:
            return ErrorKind.VALUE_TOO_LONG, None
        source = self.accept(obj)
        if source is None:
            return ErrorKind.SCHEMA, None
        if line_bytes > SHORT_LINE_BYTES and self._long_value(obj, strings_only=False) is not None:
            return ErrorKind.VALUE_TOO_LONG, None
        return None, source

    def _source_kind(self, obj: dict[str, Any]) -> ErrorKind | None:
        has_text, has_ref = SOURCE in obj, SOURCE_REF in obj
        if self.layout.line_schema != _SOURCE_OR_REF:
            if not has_ref:
                return ErrorKind.MISSING_SOURCE
            if has_text:
                return ErrorKind.INVALID_SOURCE
        elif not (has_text or has_ref):
            return ErrorKind.MISSING_SOURCE
        elif has_text and has_ref:
            return ErrorKind.INVALID_SOURCE
        elif has_text:
            text = obj[SOURCE]
            return (
                None if text.__class__ is str and len(text) >= self.facts.min_text_chars else ErrorKind.INVALID_SOURCE
            )
        uri = obj[SOURCE_REF]
        return None if uri.__class__ is str and self.uri_match(uri) is not None else ErrorKind.INVALID_SOURCE

    def _long_value(self, obj: dict[str, Any], *, strings_only: bool) -> tuple[str, int] | None:
        """The first attribute longer than the limit and its length in characters, or None.

        A non-string value is measured as its compact JSON text (orjson's output), which is
        how much of the 100,000-character line it takes.
        """
        limit = self.facts.max_value_chars
        for key, value in obj.items():
            if value.__class__ is str:
                if len(value) > limit:
                    return key, len(value)
            elif not strings_only and value.__class__ in (dict, list):
                length = len(orjson.dumps(value).decode())
                if length > limit:
                    return key, length
        return None

    @cached_property
    def validator(self) -> Validator:
        """The ``jsonschema`` validator of these lines, built on first use (explanations, tests)."""
        return line_validator(self.task_type, self.review_attribute)

    def describe(self, obj: Any, kind: ErrorKind) -> str:
        """A one-line reason for ``kind`` on ``obj``, written for the person who fixes the line."""
        if kind is ErrorKind.NOT_AN_OBJECT:
            return (
                f"the line is a JSON {_json_type(obj)}, not an object; each line must be one JSON object "
                f"such as {self.example_line}"
            )
        if kind is ErrorKind.DOLLAR_KEY:
            key = next(key for key in obj if key[:1] == "$")
            return f"attribute name {_preview(key)} begins with '$', which Ground Truth refuses"
        if kind is ErrorKind.MISSING_SOURCE:
            return self._describe_missing_source(obj)
        if kind is ErrorKind.INVALID_SOURCE:
            return self._describe_invalid_source(obj)
        if kind is ErrorKind.VALUE_TOO_LONG:
            key, length = self._long_value(obj, strings_only=False) or ("?", 0)
            return (
                f"the value of {_preview(key)} is {length:,} characters long; Ground Truth allows at most "
                f"{self.facts.max_value_chars:,} per attribute"
            )
        detail = describe_schema_error(self.validator, obj) or "does not match the line schema"
        schema = f"{self.task_type.name} line schema"
        if self.review_attribute is not None:
            schema += f", reviewing {self.review_attribute!r}"
        return f"{detail} ({schema})"

    def _describe_missing_source(self, obj: dict[str, Any]) -> str:
        either = self.layout.line_schema == _SOURCE_OR_REF
        wanted = "'source' or 'source-ref'" if either else "'source-ref'"
        keys = list(obj)
        for target in (SOURCE_REF, SOURCE) if either else (SOURCE_REF,):
            close = difflib.get_close_matches(target, keys, n=1, cutoff=0.6)
            if close:
                return f"no {wanted} key; found {_preview(close[0])}: did you mean {target!r}?"
        shown = ", ".join(_preview(key) for key in keys[:5]) + (", ..." if len(keys) > 5 else "")
        return f"no {wanted} key (the line has {shown or 'no keys'})"

    def _describe_invalid_source(self, obj: dict[str, Any]) -> str:
        has_text, has_ref = SOURCE in obj, SOURCE_REF in obj
        if has_text and has_ref:
            return "both 'source' and 'source-ref' are given; a line names its data object once"
        if has_text and self.layout.line_schema != _SOURCE_OR_REF:
            return (
                f"{self.task_type.name} jobs label S3 objects named by 'source-ref'; "
                "the line also has a 'source' key, which makes it ambiguous"
            )
        if has_text:
            text = obj[SOURCE]
            if text.__class__ is not str:
                return f"'source' must be the text itself (a string), got a JSON {_json_type(text)}"
            return "'source' is empty; there is no text to label"
        uri = obj[SOURCE_REF]
        if uri.__class__ is not str:
            return f"'source-ref' must be an S3 URI string, got a JSON {_json_type(uri)}"
        return f"'source-ref' {_preview(uri)} is not an S3 object URI s3://<bucket>/<key>: {_uri_problem(uri)}"


def _uri_problem(uri: str) -> str:
    """What is wrong with an S3 URI, in words."""
    if not is_s3_uri(uri):
        return "it must start with 's3://'"
    try:
        bucket, key = split_s3_prefix(uri)
    except ValueError:  # no bucket at all
        bucket, key = "", ""
    if not _BUCKET.match(bucket):
        return f"bucket name {_preview(bucket)} is not valid (3-63 letters, digits, dots, hyphens)"
    if not key:
        return "it names a bucket but no object key"
    if any(ord(char) < 0x20 for char in key):
        return "the key contains a control character (a newline or tab?)"
    if key.endswith("/"):
        return "the key ends in '/', which names a folder, not an object"
    return "it does not name one object"


def _json_type(value: Any) -> str:
    return "null" if value is None else _JSON_TYPE_NAMES.get(value.__class__, type(value).__name__)


def _preview(value: Any, limit: int = 80) -> str:
    """A short quoted rendering of a value for a one-line reason."""
    text = value if isinstance(value, str) else orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return repr(text) if isinstance(value, str) else text
