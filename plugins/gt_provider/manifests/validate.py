"""The streaming validator of Ground Truth input manifests.

One pass over the bytes, chunk by chunk: each line is parsed with orjson and checked by the
compiled schema checks of ``fast.py``; only a line that fails, or that is long enough to break
a length limit, takes the careful path that finds its error kind and reason. Duplicate sources
are found without keeping the sources: each valid line leaves an 8-byte hash, its 4-byte object
index and its 4-byte line number in arrays, the hashes partitioned by their low bits as they
arrive; after the pass each partition is checked at C speed (``len(set(partition))``) and only a
partition with a repeated hash is searched for the earlier line. A million lines cost about
16 MB, and the earlier line of each duplicate is known. The object
limit of the task type, the duplicates and the S3 object checks are settled after the pass;
in drop mode the kept lines stream into a temporary file that is published beside the original
without those late rejects. Nothing in a manifest's content raises: every problem is counted
in the report.
"""

from __future__ import annotations

import os
import time
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from gt_provider import task_types
from gt_provider.manifests.fast import SHORT_LINE_BYTES, SOURCE_REF, LineRules
from gt_provider.manifests.kinds import ErrorKind
from gt_provider.manifests.objects import DEFAULT_MAX_CONCURRENCY, ObjectChecker, ObjectFailure
from gt_provider.manifests.report import ON_INVALID_MODES, ErrorCollector, ManifestReport, OnInvalid
from gt_provider.s3io import (
    CleanedManifestWriter,
    S3ClientProvider,
    cleaned_destination,
    is_s3_uri,
    open_chunks,
    same_location,
    split_s3_uri,
)

#: Ground Truth's limit on one manifest line, in characters.
MAX_LINE_CHARS = 100_000
#: A UTF-8 character takes at most 4 bytes: a longer partial line is over the limit for sure,
#: and the reader stops buffering it.
_MAX_LINE_BYTES = 4 * MAX_LINE_CHARS + 1
_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_DUPLICATE_PARTITIONS = 64
#: Errors listed in a report unless the caller asks for another number.
DEFAULT_MAX_ERRORS = 100


class _Overlong(bytes):
    """Stands for a line too long to buffer; empty, so the hot loop sends it to the careful path."""

    size: int

    def __new__(cls, size: int) -> _Overlong:
        instance = super().__new__(cls)
        instance.size = size
        return instance


class _LineReader:
    """Splits a stream of chunks into lists of complete lines without holding more than one line.

    ``last_line_unterminated`` is set before the final line is yielded if the stream does not
    end with a newline: a JSON error there most likely means a truncated upload.
    """

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = chunks
        self.last_line_unterminated = False

    def __iter__(self) -> Iterator[list[bytes]]:
        pending = b""
        skipping = False  # inside an overlong line: drop bytes until its newline
        for chunk in self._chunks:
            if skipping:
                newline = chunk.find(b"\n")
                if newline < 0:
                    continue
                chunk = chunk[newline + 1 :]
                skipping = False
            lines = (pending + chunk if pending else chunk).split(b"\n")
            pending = lines.pop()
            if len(pending) > _MAX_LINE_BYTES:
                lines.append(_Overlong(len(pending)))
                pending, skipping = b"", True
            if lines:
                yield lines
        if pending:
            self.last_line_unterminated = True
            yield [pending]


@dataclass
class _LateRejects:
    """Objects rejected after the pass: all from ``cutoff`` on (over the limit), and ``indexes`` before it.

    A range rather than a set for the excess keeps a 1,000,000-line file over a 100,000-object
    limit from building a set of 900,000 indexes.
    """

    total: int
    cutoff: int
    indexes: set[int] = field(default_factory=set)

    def __bool__(self) -> bool:
        return self.cutoff < self.total or bool(self.indexes)

    def __contains__(self, index: object) -> bool:
        return isinstance(index, int) and (index >= self.cutoff or index in self.indexes)


@dataclass(frozen=True)
class _Options:
    on_invalid: str
    max_errors: int
    check_objects: bool
    sample: int | None
    max_concurrency: int
    seed: int


class _Validation:
    """The state of one validation run; ``run()`` returns its report."""

    def __init__(
        self,
        manifest: str,
        rules: LineRules,
        options: _Options,
        s3: S3ClientProvider,
        destination: str | None,
    ) -> None:
        self.manifest = manifest
        self.rules = rules
        self.options = options
        self.s3 = s3
        self.errors = ErrorCollector(options.max_errors)
        # Per valid object, in partitions by the low bits of its source's hash: the hash and the object index.
        self.partition_hashes = [array("q") for _ in range(_DUPLICATE_PARTITIONS)]
        self.partition_objects = [array("I") for _ in range(_DUPLICATE_PARTITIONS)]
        self.object_lines = array("I")  # per valid object: its line number
        self.lines = 0
        self.kept: list[bytes] = []
        self.writer = CleanedManifestWriter(destination, s3) if destination else None
        self.checker: ObjectChecker | None = None
        if options.check_objects:
            self.checker = ObjectChecker(
                rules.layout, s3, sample=options.sample, max_concurrency=options.max_concurrency, seed=options.seed
            )
        self.reader: _LineReader | None = None

    def run(self) -> ManifestReport:
        started = time.perf_counter()
        try:
            with open_chunks(self.manifest, self.s3) as chunks:
                self.reader = _LineReader(chunks)
                self._scan(self.reader)
            late = self._settle()
            objects = late.cutoff - len(late.indexes)
            if objects == 0:
                reason = "the manifest is empty" if self.lines == 0 else "no line is a valid data object"
                self.errors.add(None, ErrorKind.EMPTY_MANIFEST, reason)
            cleaned = self._publish(late, objects)
        except BaseException:
            if self.writer is not None:
                self.writer.discard()
            if self.checker is not None:
                self.checker.close()
            raise
        counts = {str(kind): count for kind, count in sorted(self.errors.counts.items())}
        invalid_lines = self.lines - objects
        return ManifestReport(
            manifest=self.manifest,
            task_type=self.rules.task_type.name,
            on_invalid=self.options.on_invalid,
            valid=not counts,
            lines=self.lines,
            objects=objects,
            invalid_lines=invalid_lines,
            error_counts=counts,
            errors=self.errors.issues(),
            max_errors=self.options.max_errors,
            dropped_lines=invalid_lines if self.writer is not None else 0,
            cleaned_manifest=cleaned,
            review_attribute=self.rules.review_attribute,
            object_checks="off" if self.checker is None else ("all" if self.options.sample is None else "sample"),
            objects_checked=0 if self.checker is None else self.checker.checked,
            seconds=time.perf_counter() - started,
        )

    def _scan(self, reader: _LineReader) -> None:
        """The hot loop: what it accepts is final; anything else goes to ``_careful``."""
        loads, decode_error = orjson.loads, orjson.JSONDecodeError
        accept = self.rules.accept
        careful = self._careful
        object_lines = self.object_lines
        add_line = object_lines.append
        add_hash = [partition.append for partition in self.partition_hashes]
        add_object = [partition.append for partition in self.partition_objects]
        mask = _DUPLICATE_PARTITIONS - 1
        keep = self.kept.append if self.writer is not None else None
        checker = self.checker
        line_number = 0
        for lines in reader:
            for line in lines:
                line_number += 1
                if len(line) > SHORT_LINE_BYTES or not line:
                    careful(line_number, line)
                    continue
                try:
                    obj = loads(line)
                except decode_error:
                    careful(line_number, line)
                    continue
                if obj.__class__ is not dict:
                    careful(line_number, line, obj)
                    continue
                source = accept(obj)
                if source is None:
                    careful(line_number, line, obj)
                    continue
                # Same as _keep(), inlined: this runs once per line of a million-line file.
                if checker is not None and SOURCE_REF in obj:
                    checker.offer(len(object_lines), line_number, source)
                digest = hash(source)
                add_hash[digest & mask](digest)
                add_object[digest & mask](len(object_lines))
                add_line(line_number)
                if keep is not None:
                    keep(line)
            if self.writer is not None:
                self.writer.write(self.kept)
                self.kept.clear()
        self.lines = line_number

    def _keep(self, line_number: int, line: bytes, obj: dict[str, Any], source: str) -> None:
        if self.checker is not None and SOURCE_REF in obj:
            self.checker.offer(len(self.object_lines), line_number, obj[SOURCE_REF])
        digest = hash(source)
        partition = digest & (_DUPLICATE_PARTITIONS - 1)
        self.partition_hashes[partition].append(digest)
        self.partition_objects[partition].append(len(self.object_lines))
        self.object_lines.append(line_number)
        if self.writer is not None:
            self.kept.append(line)

    def _careful(self, line_number: int, line: bytes, obj: Any = None) -> None:
        """Find the first error kind of a line the hot loop did not accept, or keep it after all."""
        if isinstance(line, _Overlong):
            self._reject(
                line_number,
                ErrorKind.LINE_TOO_LONG,
                f"the line is more than {line.size:,} bytes, over Ground Truth's limit of {MAX_LINE_CHARS:,} characters",
            )
            return
        if line.startswith(_BOM):
            self.errors.add(
                line_number,
                ErrorKind.BOM,
                "the line starts with a UTF-8 byte order mark (EF BB BF); save the file as UTF-8 without BOM"
                + (" (drop mode removes it)" if self.writer is not None else ""),
            )
            line, obj = line[len(_BOM) :], None
        if not line.strip():
            self._reject(line_number, ErrorKind.BLANK_LINE, "the line is blank; each line must be one JSON object")
            return
        if len(line) > MAX_LINE_CHARS:
            try:
                chars = len(line.decode("utf-8").rstrip("\r"))
            except UnicodeDecodeError as error:
                self._reject_encoding(line_number, line, error)
                return
            if chars > MAX_LINE_CHARS:
                self._reject(
                    line_number,
                    ErrorKind.LINE_TOO_LONG,
                    f"the line is {chars:,} characters long; Ground Truth allows at most {MAX_LINE_CHARS:,}",
                )
                return
        if obj is None:
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError as error:
                self._reject_unparsable(line_number, line, error)
                return
        kind, source = self.rules.check(obj, len(line))
        if kind is not None:
            self.errors.add(line_number, kind, lambda: self.rules.describe(obj, kind))
        elif source is not None:
            self._keep(line_number, line, obj, source)

    def _reject(self, line_number: int, kind: ErrorKind, reason: str) -> None:
        self.errors.add(line_number, kind, reason)

    def _reject_unparsable(self, line_number: int, line: bytes, error: orjson.JSONDecodeError) -> None:
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as decode_error:
            self._reject_encoding(line_number, line, decode_error)
            return
        message = str(error)
        reader = self.reader
        if reader is not None and reader.last_line_unterminated and "unexpected end" in message:
            reason = (
                f"the last line ends before its JSON does ({message}) and the file has no final newline: "
                "was the upload cut short?"
            )
        else:
            reason = f"not valid JSON: {message}"
        self._reject(line_number, ErrorKind.INVALID_JSON, reason)

    def _reject_encoding(self, line_number: int, line: bytes, error: UnicodeDecodeError) -> None:
        if line.startswith(_UTF16_BOMS) or (len(line) > 1 and b"\x00" in line[:2]):
            hint = "the file looks UTF-16 encoded; save it as UTF-8"
        else:
            hint = f"byte 0x{line[error.start]:02x} at byte {error.start + 1} is not UTF-8; save the file as UTF-8"
        self._reject(line_number, ErrorKind.INVALID_UTF8, hint)

    def _settle(self) -> _LateRejects:
        """After the pass: duplicates, the object limit, object checks, as rejected object indexes."""
        lines = self.object_lines
        late = _LateRejects(total=len(lines), cutoff=len(lines))
        source_key = "source" if self.rules.accepts_text else SOURCE_REF
        for index, first in self._duplicates():
            late.indexes.add(index)
            self.errors.add(lines[index], ErrorKind.DUPLICATE_SOURCE, f"the same {source_key} as line {lines[first]:,}")
        limit = self.rules.task_type.max_dataset_objects
        total = len(lines) - len(late.indexes)
        if total > limit:
            counted = 0
            for index in range(len(lines)):
                if index not in late.indexes:
                    counted += 1
                    if counted > limit:
                        late.cutoff = index
                        break
            late.indexes = {index for index in late.indexes if index < late.cutoff}
            # One error for the whole excess: it is one decision (split the manifest), not 900,000.
            self.errors.add(
                lines[late.cutoff],
                ErrorKind.TOO_MANY_OBJECTS,
                f"the manifest has {total:,} valid objects; {self.rules.task_type.name} jobs take at most {limit:,}. "
                f"This one and the {total - limit - 1:,} after it are over the limit: split the manifest",
            )
        if self.checker is not None:
            failures: list[ObjectFailure] = self.checker.finish(skip=late)
            for failure in failures:
                if failure.index not in late:
                    late.indexes.add(failure.index)
                    self.errors.add(failure.line, failure.kind, failure.reason)
        return late

    def _duplicates(self) -> list[tuple[int, int]]:
        """(duplicate object index, first object index with that source), without a big dict.

        A partition whose hashes are all different (``len(set(...))``, C speed) has no
        duplicate; only the others are walked, with a dict of that partition's size. Python's
        str hash is 64 bits (SipHash): two different sources share one with odds of about
        n^2 / 2^65, one in 37 million for a million-line file.
        """
        found: list[tuple[int, int]] = []
        for hashes, objects in zip(self.partition_hashes, self.partition_objects, strict=True):
            if len(set(hashes)) == len(hashes):
                continue
            first_seen: dict[int, int] = {}
            remember = first_seen.setdefault
            for digest, index in zip(hashes, objects, strict=True):
                first = remember(digest, index)
                if first != index:
                    found.append((index, first))
        found.sort()
        return found

    def _publish(self, late: _LateRejects, objects: int) -> str | None:
        if self.writer is None:
            return None
        if objects == 0 or not self.errors.counts:
            self.writer.discard()  # nothing to label, or nothing to clean: the original is the manifest to use
            return None
        return self.writer.publish(late)


def validate_manifest(
    manifest: str | os.PathLike[str],
    task_type: str | task_types.TaskType,
    *,
    on_invalid: OnInvalid = "fail",
    review_attribute: str | None = None,
    check_objects: bool = False,
    sample: int | None = None,
    max_errors: int = DEFAULT_MAX_ERRORS,
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
    cleaned_manifest: str | os.PathLike[str] | None = None,
    s3_client: Any | None = None,
    seed: int = 0,
) -> ManifestReport:
    """Validate an input manifest (local path or ``s3://`` URI) for a ``task_type`` labeling job.

    Streams the manifest and checks every line: UTF-8 without BOM, one JSON object per line
    that follows the task type's line schema, Ground Truth's length limits, no ``$`` keys, no
    duplicate sources, at most the task type's ``max_dataset_objects`` objects, no blank lines.
    With ``check_objects`` the referenced S3 objects are checked too (existence, size,
    extension, frame sequence files), all of them or a random ``sample`` of that many, with at
    most ``max_concurrency`` requests in flight.

    ``on_invalid="fail"`` only reports; call ``report.raise_if_invalid()`` to stop before
    creating a job. ``"drop"`` also writes the valid lines to ``cleaned_manifest`` (default:
    beside the original, ``input.manifest`` -> ``input.cleaned.manifest``), never over the
    original; nothing is written when there was nothing to drop.

    ``review_attribute`` is required for verification and adjustment types: the earlier job's
    LabelAttributeName, which each line must carry with its ``-metadata``. ``s3_client`` is a
    boto3 S3 client to use (for example from an Airflow hook); without one, boto3's default
    client is created when S3 is first needed. ``seed`` makes the ``sample`` repeatable.
    """
    if on_invalid not in ON_INVALID_MODES:
        raise ValueError(f"on_invalid must be one of {', '.join(ON_INVALID_MODES)}, got {on_invalid!r}")
    if max_errors < 0:
        raise ValueError(f"max_errors must be >= 0, got {max_errors}")
    if sample is not None and not check_objects:
        raise ValueError("sample chooses which S3 objects to check: it needs check_objects=True")
    info = task_type if isinstance(task_type, task_types.TaskType) else task_types.get_task_type(task_type)
    rules = LineRules(info, review_attribute)
    source = os.fspath(manifest)
    destination = None
    if on_invalid == "drop":
        destination = os.fspath(cleaned_manifest) if cleaned_manifest is not None else cleaned_destination(source)
        if same_location(source, destination):
            raise ValueError(f"the cleaned manifest would overwrite the original {source}; choose another location")
    elif cleaned_manifest is not None:
        raise ValueError('cleaned_manifest is where on_invalid="drop" writes; it has no use with "fail"')
    if is_s3_uri(source):
        split_s3_uri(source)  # ValueError naming the URI when it has no key
    options = _Options(on_invalid, max_errors, check_objects, sample, max_concurrency, seed)
    return _Validation(source, rules, options, S3ClientProvider(s3_client), destination).run()
