"""Reading Ground Truth output augmented manifests into :class:`LabeledObject` records.

Ground Truth writes one line per data object: the input keys, the label under the job's
``LabelAttributeName`` and ``<attr>-metadata`` whose ``type`` says the label's shape
(developer guide, "Output Data"). One parse function per type (``output_types.py``), chosen
by that ``type``; nothing in a line's content raises: whatever is not Ground Truth output becomes
a :class:`LineProblem` with the line number and which field is wrong, so a dataset build can
report every bad line at once instead of dying on the first.

Which attribute holds the label
===============================
Pass ``attribute=`` (the job's ``LabelAttributeName``, with its ``-ref`` when it has one).
Without it the parser looks at the first line that has any: the label attribute is the key
``X`` whose ``X-metadata`` is an object with a ``groundtruth/...`` ``type`` (``source-ref-metadata``
of 3D inputs has no ``type``, so it is never taken). A line of a chained job carries several
(the boxes of the first job and the verdict of a verification job): the parser does not guess
which one is wanted, it reports that line naming the candidates, so pass ``attribute=``. Once
found, the attribute is kept for every later line of the manifest.

Standard library and orjson only: the DAG processor may import this module.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

from gt_provider.datasets.errors import DatasetReadError, LineProblem
from gt_provider.datasets.reading.output_types import (
    _ADJUSTMENT_STATUSES,
    _GROUNDTRUTH,
    _METADATA,
    _TYPES,
    _Bad,
    _DecodeError,
    _dict,
    _json_kind,
    _list,
    _loads,
    _show,
    _text,
)
from gt_provider.datasets.records import LabeledObject
from gt_provider.manifests.errors import ManifestReadError
from gt_provider.s3io import CHUNK_BYTES, S3ClientProvider, open_chunks


class OutputManifestParser:
    """Parses output manifest lines of one manifest; reuse one instance for all its lines.

    The instance remembers the label attribute once found and the class labels it has
    built (a classification line then costs one dictionary look-up beyond the JSON parse).
    """

    __slots__ = ("_attribute", "_cache", "_metadata_key", "manifest")

    def __init__(self, attribute: str | None = None, manifest: str = "") -> None:
        if attribute is not None and (not attribute or attribute.endswith(_METADATA)):
            raise ValueError(f"attribute must be a label attribute name, not {attribute!r}")
        self._attribute = attribute
        self._metadata_key = None if attribute is None else attribute + _METADATA
        self.manifest = manifest
        self._cache: dict[Any, Any] = {}

    @property
    def attribute(self) -> str | None:
        """The label attribute: as given, or as found on the first line that had one."""
        return self._attribute

    def parse(self, raw: bytes | str, line: int) -> LabeledObject | LineProblem:
        """One line (JSON text, with or without its newline) -> its record, or why it is not one."""
        try:
            obj = _loads(raw)
        except _DecodeError as error:
            blank = isinstance(raw, bytes | bytearray | str) and not raw.strip()
            return LineProblem(line, "the line is blank" if blank else f"not valid JSON: {error}", self.manifest)
        result = self.parse_decoded(obj, line)
        if raw.__class__ is bytes and result.__class__ is LabeledObject:
            result.source_line = raw  # type: ignore[union-attr]
        return result

    def parse_decoded(self, obj: Any, line: int) -> LabeledObject | LineProblem:
        """Like :meth:`parse`, for a line already decoded from JSON (a filter re-reading ``raw``)."""
        if obj.__class__ is not dict:
            return LineProblem(line, f"the line is a JSON {_json_kind(obj)}, not an object", self.manifest)
        source = obj.get("source-ref")
        if source.__class__ is str and source:
            source_field, text = "source-ref", None
        else:
            source = text = obj.get("source")
            source_field = "source"
            if source.__class__ is not str or not source:
                return LineProblem(
                    line, "no data object: neither 'source-ref' nor 'source' is a non-empty string", self.manifest
                )
        metadata_key = self._metadata_key
        if metadata_key is None:
            reason = self._detect(obj)
            if reason is not None:
                return LineProblem(line, reason, self.manifest)
            metadata_key = self._metadata_key
        attribute = self._attribute
        metadata = obj.get(metadata_key)
        if metadata.__class__ is not dict:
            found = "is missing" if metadata is None else f"is {_show(metadata)}, not an object"
            return LineProblem(line, f"{metadata_key!r} {found}", self.manifest)
        output_type = metadata.get("type")
        entry = _TYPES.get(output_type) if output_type.__class__ is str else None
        if entry is None:
            return LineProblem(line, self._type_reason(metadata_key, output_type), self.manifest)
        job_name, human, created = metadata.get("job-name"), metadata.get("human-annotated"), metadata.get("creation-date")  # fmt: skip
        if job_name.__class__ is not str or human not in ("yes", "no") or created.__class__ is not str:
            return LineProblem(line, self._common_reason(metadata_key, metadata), self.manifest)
        kind, parse_label = entry
        failure = metadata.get("failure-reason")
        if failure is not None:
            return LabeledObject(
                line, source, source_field, attribute, output_type, kind, job_name, human == "yes", created,
                failure_reason=str(failure), raw=obj,
            )  # fmt: skip
        value = obj.get(attribute)
        if value is None:
            reason = f"no label {attribute!r} and no 'failure-reason' in {metadata_key!r}"
            return LineProblem(line, reason, self.manifest)
        try:
            label = parse_label(value, metadata, text, self._cache)
            status = metadata.get("adjustment-status")
            if status is not None and status not in _ADJUSTMENT_STATUSES:
                raise _Bad(
                    f"metadata 'adjustment-status' must be one of {sorted(_ADJUSTMENT_STATUSES)}, got {_show(status)}"
                )
            feedback = metadata.get("worker-feedback")
            comments = () if feedback is None else _comments(feedback)
        except _Bad as error:
            return LineProblem(line, f"{attribute!r} ({output_type}): {error}", self.manifest)
        except Exception as error:  # a shape no check foresaw: still a line problem, never a crash
            reason = f"{attribute!r} ({output_type}): unreadable label ({error.__class__.__name__}: {error})"
            return LineProblem(line, reason, self.manifest)
        # Positional, in LabeledObject's field order (tests pin that order): the fastest call.
        return LabeledObject(
            line, source, source_field, attribute, output_type, kind, job_name, human == "yes", created, None,
            *label, status, comments, obj,
        )  # fmt: skip

    def scan(self, raw: bytes | str) -> LineScan | None:
        """What a dataset build must know of a line before it can split: a quick, lenient read.

        Source, type, whether the object failed, and its class names with their ids (the
        stratum is the first). None when the line has no source (``parse`` then says why);
        anything else odd is left for ``parse`` to report -- a scan never decides a line is
        fine.
        """
        try:
            obj = _loads(raw)
        except _DecodeError:
            return None
        if obj.__class__ is not dict:
            return None
        source = obj.get("source-ref") or obj.get("source")
        if source.__class__ is not str:
            return None
        if self._metadata_key is None and self._detect(obj) is not None:
            return LineScan(source, None, False, ())
        metadata = obj.get(self._metadata_key)
        if metadata.__class__ is not dict:
            return LineScan(source, None, False, ())
        output_type = metadata.get("type")
        if "failure-reason" in metadata:
            return LineScan(source, output_type, True, ())
        name = metadata.get("class-name")
        if name.__class__ is str:  # classification, verification: the value is the id
            value = obj.get(self._attribute)
            try:
                return LineScan(source, output_type, False, ((name, int(value)),))
            except (TypeError, ValueError):
                return LineScan(source, output_type, False, ((name, -1),))
        return LineScan(source, output_type, False, _scanned_names(obj.get(self._attribute), metadata))

    def _detect(self, obj: dict[str, Any]) -> str | None:
        """Find and remember the label attribute of ``obj``; the reason why not otherwise."""
        found = {
            key[: -len(_METADATA)]: value["type"]
            for key, value in obj.items()
            if key.endswith(_METADATA)
            and value.__class__ is dict
            and value.get("type").__class__ is str
            and value["type"].startswith(_GROUNDTRUTH)
        }
        if len(found) == 1:
            self._attribute = next(iter(found))
            self._metadata_key = self._attribute + _METADATA
            return None
        if not found:
            return "no label attribute: no '<attribute>-metadata' object with a 'groundtruth/...' type"
        listed = ", ".join(f"{name!r} ({kind})" for name, kind in sorted(found.items()))
        return f"several label attributes: {listed}; pass attribute= to say which one to read"

    @staticmethod
    def _type_reason(metadata_key: str, output_type: Any) -> str:
        if output_type is None:
            return f"{metadata_key!r} has no 'type'"
        known = ", ".join(sorted(_TYPES))
        return f"unknown output type {_show(output_type)} in {metadata_key!r}; known: {known}"

    @staticmethod
    def _common_reason(metadata_key: str, metadata: dict[str, Any]) -> str:
        human = metadata.get("human-annotated")
        if metadata.get("job-name").__class__ is not str:
            return f"{metadata_key!r} has no 'job-name' string"
        if human not in ("yes", "no"):
            return f"{metadata_key!r} has 'human-annotated' {_show(human)}; Ground Truth writes 'yes' or 'no'"
        return f"{metadata_key!r} has no 'creation-date' string"


class LineScan(NamedTuple):
    """What :meth:`OutputManifestParser.scan` read of a line."""

    source: str
    output_type: Any
    failed: bool
    #: (class name, class id or -1), in label order: class maps by id, then inline names.
    names: tuple[tuple[str, int], ...]


def _scanned_names(value: Any, metadata: dict[str, Any]) -> tuple[tuple[str, int], ...]:
    """Class names and ids from wherever a type keeps them (lenient: odd shapes give fewer names)."""
    names: dict[str, int] = {}
    class_map = metadata.get("class-map", metadata.get("class_map"))
    if class_map.__class__ is dict:
        ids = value if value.__class__ is list else []
        first = [str(item) for item in ids if str(item) in class_map]  # multi-label: its classes first
        for key in [*first, *sorted(class_map, key=lambda k: (len(str(k)), str(k)))]:
            if class_map[key].__class__ is str:
                names.setdefault(class_map[key], int(key) if str(key).isdigit() else -1)
    colors = metadata.get("internal-color-map")
    if colors.__class__ is dict:
        for key, entry in colors.items():
            if entry.__class__ is dict and entry.get("class-name").__class__ is str:
                names.setdefault(entry["class-name"], int(key) if str(key).isdigit() else -1)
    annotations = value.get("annotations") if value.__class__ is dict else None
    labels = annotations.get("labels") if annotations.__class__ is dict else None
    if labels.__class__ is list:  # named entities: the label list of the job
        for entry in labels:
            if entry.__class__ is dict and entry.get("label").__class__ is str:
                names.setdefault(entry["label"], -1)
    return tuple(names.items())


def _comments(feedback: Any) -> tuple[str, ...]:
    """``worker-feedback`` [{comment}] -> the comments."""
    return tuple(
        _text(_dict(entry, f"worker-feedback[{i}]").get("comment"), f"worker-feedback[{i}].comment")
        for i, entry in enumerate(_list(feedback, "metadata 'worker-feedback'"))
    )


class _ChunkStream(io.RawIOBase):
    """The chunks of ``open_chunks`` as a raw stream, so ``io.BufferedReader`` splits lines in C.

    Lines of any length come out whole: an output line carries inline labels (3D cuboids, many
    boxes) and is not bound by the input manifest's line limit.
    """

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._view = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._view:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._view = memoryview(chunk)
        size = min(len(buffer), len(self._view))
        buffer[:size] = self._view[:size]
        self._view = self._view[size:]
        return size


def read_output_manifest(
    path_or_uri: str, *, attribute: str | None = None, s3_client: Any | None = None
) -> Iterator[LabeledObject | LineProblem]:
    """Stream an output manifest (local path or ``s3://`` URI): one record or problem per line.

    The file is never held whole. Blank lines are skipped but counted, so line numbers are the
    ones an editor shows. ``attribute`` is the job's ``LabelAttributeName`` (see the module
    docstring for what happens without it); ``s3_client`` a boto3 S3 client to use, otherwise
    boto3's default client is created when S3 is first read. A manifest that cannot be read at
    all raises :class:`DatasetReadError` naming it.
    """
    parse = OutputManifestParser(attribute, manifest=path_or_uri).parse
    for number, line in output_manifest_lines(path_or_uri, s3_client=s3_client):
        result = parse(line, number)
        if result.__class__ is LineProblem and line.isspace():
            continue
        yield result


def output_manifest_lines(path_or_uri: str, *, s3_client: Any | None = None) -> Iterator[tuple[int, bytes]]:
    """(line number, bytes) of every line of an output manifest, streamed; see :func:`read_output_manifest`."""
    try:
        with open_chunks(path_or_uri, S3ClientProvider(s3_client)) as chunks:
            yield from numbered_lines(chunks)
    except (ManifestReadError, ValueError) as error:  # ValueError: an s3:// URI without a key
        raise DatasetReadError(str(error)) from error


def numbered_lines(chunks: Iterable[bytes], first: int = 1) -> Iterator[tuple[int, bytes]]:
    """(line number from ``first``, bytes) of the lines in a stream of chunks, split in C."""
    return enumerate(io.BufferedReader(_ChunkStream(chunks), CHUNK_BYTES), first)
