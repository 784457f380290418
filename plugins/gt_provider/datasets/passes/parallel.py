"""A dataset build's two passes on several processes, each reading its own byte range of the inputs.

Both passes of a build (:mod:`gt_provider.datasets.passes`) are per-line Python work that
shares nothing but its results, so for large inputs ``build_dataset`` runs them on
``workers`` processes:

1. the inputs, read as one stream, are cut into ``workers`` byte ranges at line starts
   (local files, or S3 objects that each process reads with ranged GETs of its own);
2. each process scans its range, counting its lines; the build merges the scans in order
   (rows, strata, class names), numbers every line from the counts of the ranges before it
   (so a problem is reported at the line an editor shows), then finds repeated sources and
   decides the split over all of them, as one process would;
3. each process writes its range's objects into a folder of its own and returns its
   statistics, problems and the labels of repeated sources it could not settle alone (those
   whose other labels another process read); the build settles those, merges the rest, and
   appends each process's files to the first one's, in order.

The dataset is the one a single process writes: same files, same lines in the same order
(except that a source labeled in two processes' ranges is written after the others), same
card. Only formats whose files are sequences of lines (:attr:`Exporter.concatenable`) are
written this way; with other formats or small inputs the build runs in one process.

The processes are fresh interpreters (``python -c``), not forks: a build may run inside an
Airflow task, whose other threads a fork would copy mid-flight. They take work and return
results as pickles on stdin and stdout; their stderr is the build's. Standard library only:
they read S3 objects from presigned GET URLs the build makes for each pass, so they need no
boto3 (about 30 MB each) and are handed no credentials.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pickle
import shutil
import subprocess
import sys
import traceback
from array import array
from collections.abc import Callable, Mapping, Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any, BinaryIO

from gt_provider.datasets.card.statistics import DatasetStatistics
from gt_provider.datasets.errors import DatasetError
from gt_provider.datasets.exporters import EXPORTERS
from gt_provider.datasets.passes.inputs import Part, Selection, Source, WorkerResponses, number_parts
from gt_provider.datasets.passes.scan import Scan, scan
from gt_provider.datasets.passes.write import Destination, Writer, Written
from gt_provider.exceptions import GroundTruthProviderError, ManifestReadError
from gt_provider.s3io import (
    CHUNK_BYTES,
    S3ClientProvider,
    file_range_chunks,
    is_s3_uri,
    presigned_get_url,
    s3_range_chunks,
    split_s3_uri,
)

#: Inputs smaller than this build in one process: starting the others would cost more than it saves.
PARALLEL_MIN_BYTES = 64 << 20
#: Processes a build uses when not told (at most this many, and no more than the usable CPUs).
DEFAULT_WORKERS = 2
_SERVE = "from gt_provider.datasets.passes.parallel import serve; serve()"
_PARTS_FOLDER = ".parts"


def default_workers() -> int:
    """``DEFAULT_WORKERS``, or fewer when this process may use fewer CPUs."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        usable = os.cpu_count() or 1
    return max(1, min(DEFAULT_WORKERS, usable))


def plan(
    sources: Sequence[Source],
    formats: Sequence[str],
    workers: int,
    min_bytes: int | None = None,
    s3: S3ClientProvider | None = None,
) -> list[list[Part]] | None:
    """The parts each process reads (contiguous, in input order), or None to build in one process.

    S3 sources are sized with a HEAD request and cut with small ranged GETs; each one's ETag is
    kept on it (:attr:`Source.etag`), so that every later GET reads that same version.
    """
    min_bytes = PARALLEL_MIN_BYTES if min_bytes is None else min_bytes
    if workers < 2 or not all(EXPORTERS[name].concatenable for name in formats):
        return None
    s3 = s3 or S3ClientProvider()
    try:
        sizes = [_size(source, s3) for source in sources]
        if sum(sizes) < max(min_bytes, 1):
            return None
        groups = _ranges(sources, sizes, workers, s3)
    except (OSError, ManifestReadError):  # the scan says which input cannot be read, and why
        return None
    return groups if len(groups) > 1 else None


def _size(source: Source, s3: S3ClientProvider) -> int:
    if not is_s3_uri(source.uri):
        return os.path.getsize(source.uri)
    bucket, key = split_s3_uri(source.uri)
    try:
        head = s3().head_object(Bucket=bucket, Key=key)
    except Exception as error:  # botocore's ClientError and connection errors alike
        raise ManifestReadError(f"cannot read {source.uri}: {error}") from error
    source.etag = head["ETag"]
    return int(head["ContentLength"])


def _ranges(sources: Sequence[Source], sizes: Sequence[int], workers: int, s3: S3ClientProvider) -> list[list[Part]]:
    """``workers`` contiguous groups of parts of about the same size, cut at line starts.

    A part that starts inside a source has no first line number yet (:func:`number_parts`).
    """
    total = sum(sizes)
    # Cut points in the inputs read as one stream, moved to the next line start.
    cuts: list[tuple[int, int]] = [(0, 0)]
    for k in range(1, workers):
        target = total * k // workers
        index = 0
        while target >= sizes[index]:
            target -= sizes[index]
            index += 1
        cut = _normalized(index, _line_start(sources[index], target, s3), sizes)
        if cut > cuts[-1]:
            cuts.append(cut)
    cuts.append((len(sources), 0))
    groups = []
    for (first, start), (last, end) in pairwise(cuts):
        parts = []
        for index in range(first, min(last, len(sources) - 1) + 1):
            begin = start if index == first else 0
            stop = end if index == last else None
            if begin >= (sizes[index] if stop is None else stop):
                continue  # nothing of this source in the range
            if begin == 0 and stop is None:
                parts.append(Part(index))
            else:
                parts.append(Part(index, begin, stop, first_line=None if begin else 1))
        if parts:
            groups.append(parts)
    return groups


def _normalized(index: int, offset: int, sizes: Sequence[int]) -> tuple[int, int]:
    """A cut at the end of a file is the start of the next one."""
    while index < len(sizes) and offset >= sizes[index]:
        index, offset = index + 1, 0
    return index, offset


#: Bytes read at a time while looking for the next line start (one ranged GET each on S3).
_WINDOW_BYTES = 64 << 10


def _line_start(source: Source, offset: int, s3: S3ClientProvider) -> int:
    """The offset of the first line that starts at or after ``offset`` (the source's size if none)."""
    if offset == 0:
        return 0
    position = offset - 1
    while True:
        if is_s3_uri(source.uri):
            window = b"".join(s3_range_chunks(source.uri, s3, position, position + _WINDOW_BYTES, etag=source.etag))
        else:
            window = b"".join(file_range_chunks(source.uri, position, position + _WINDOW_BYTES))
        newline = window.find(b"\n")
        if newline >= 0:
            return position + newline + 1
        if len(window) < _WINDOW_BYTES:
            return position + len(window)
        position += len(window)


class Pool:
    """``size`` build processes, each running one task at a time; close it to stop them."""

    def __init__(self, size: int) -> None:
        env = dict(os.environ)
        # The processes import this package from where this process found it.
        package_root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(filter(None, (package_root, env.get("PYTHONPATH"))))
        self._processes: list[subprocess.Popen[bytes]] = []
        try:
            for _ in range(size):
                self._processes.append(
                    subprocess.Popen(
                        [sys.executable, "-c", _SERVE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
                    )
                )
        except BaseException:
            self.close()
            raise

    def __len__(self) -> int:
        return len(self._processes)

    def run(self, task: str, jobs: Sequence[tuple[Any, ...]], meanwhile: Callable[[], None] | None = None) -> list[Any]:
        """Run ``task`` with each of ``jobs``' arguments on its own process; the results in order.

        ``meanwhile`` runs in this process while they work.
        """
        if len(jobs) > len(self._processes):
            raise ValueError(f"{len(jobs)} jobs for {len(self._processes)} processes")
        running = self._processes[: len(jobs)]
        for process, job in zip(running, jobs, strict=True):
            try:
                pickle.dump((task, job), _pipe(process.stdin), protocol=pickle.HIGHEST_PROTOCOL)
                _pipe(process.stdin).flush()
            except BrokenPipeError:
                raise self._died(process) from None
        try:
            if meanwhile is not None:
                meanwhile()
        finally:
            replies = []
            for process in running:  # every reply is read, so that no process is left blocked writing one
                try:
                    replies.append(pickle.load(_pipe(process.stdout)))
                except EOFError:
                    replies.append(("error", self._died(process)))
        for status, value in replies:  # the first error in reading order, as one process would raise it
            if status == "error":
                raise value
        return [value for _, value in replies]

    @staticmethod
    def _died(process: subprocess.Popen[bytes]) -> DatasetError:
        return DatasetError(f"a dataset build process stopped with exit code {process.wait()}; its messages are above")

    def close(self, *, kill: bool = False) -> None:
        """Stop the processes: they exit when their input closes; ``kill`` stops them mid-task."""
        for process in self._processes:
            if kill:
                process.kill()
            if process.stdin:
                with contextlib.suppress(BrokenPipeError):  # it had already exited
                    process.stdin.close()
        for process in self._processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:  # pragma: no cover - a process stuck in a task
                process.kill()
                process.wait()
            if process.stdout:
                process.stdout.close()
        self._processes.clear()

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close(kill=exc_info[0] is not None)  # a failed build does not wait for the others' work


def _pipe(stream: BinaryIO | None) -> BinaryIO:
    assert stream is not None  # created with PIPE
    return stream


# ------------------------------------------------------------------ the passes, split


def scan_parts(
    pool: Pool,
    groups: Sequence[Sequence[Part]],
    sources: Sequence[Source],
    selection: Selection,
    s3: S3ClientProvider | None = None,
    spool: str | None = None,
) -> Scan:
    """The first pass, one group of parts per process, merged into one scan in reading order.

    The merged scan's parts carry their first line numbers (each process counted the lines of
    its own range only), and its rows the line numbers of the whole source. ``spool``: the
    folder where the processes copy what they read from S3, for the second pass.
    """
    readable = _readable(sources, s3)
    scans = pool.run("scan", [(readable, selection, list(parts), spool) for parts in groups])
    merged = Scan()
    for part_scan in scans:
        strata = [merged.stratum_names.setdefault(name, len(merged.stratum_names)) for name in part_scan.stratum_names]
        if strata == list(range(len(strata))):
            merged.strata.extend(part_scan.strata)
        else:
            merged.strata.extend(array("I", (strata[index] for index in part_scan.strata)))
        merged.digests.extend(part_scan.digests)
        merged.status.extend(part_scan.status)
        merged.parts += part_scan.parts
        merged.lines += part_scan.lines
        merged.line_counts += part_scan.line_counts
        for name, class_id in part_scan.label_ids.items():  # ids >= 1e9 stand for "none": in order of appearance
            if name not in merged.label_ids:
                merged.label_ids[name] = class_id if class_id < 1e9 else 1e9 + len(merged.label_ids)
        if merged.output_type is None and part_scan.output_type is not None:
            merged.output_type, merged.attribute = part_scan.output_type, part_scan.attribute
    numbered = number_parts(merged.parts, merged.line_counts)
    for index, (part, counted) in enumerate(zip(merged.parts, numbered, strict=True)):
        if part.first_line is None:  # its rows were numbered from 1 within the part
            shift = counted.first_line - 1  # type: ignore[operator]
            merged.lines[index] = array("I", [number + shift for number in merged.lines[index]])
    merged.parts = numbered
    return merged


def write_parts(
    pool: Pool,
    groups: Sequence[Sequence[Part]],
    result: Scan,
    sources: Sequence[Source],
    selection: Selection,
    destination: Destination,
    worker_data: Mapping[str, WorkerResponses],
    meanwhile: Callable[[], None] | None = None,
    s3: S3ClientProvider | None = None,
) -> Written:
    """The second pass, one group per process, over the numbered parts of ``result`` (see :func:`scan_parts`).

    Merges into ``destination`` and ``sources``; ``meanwhile`` runs in this process while the others write.
    """
    assignment, names, label_map = destination.assignment, destination.names, destination.label_map
    staging, statistics = destination.staging, destination.statistics
    folders = staging / _PARTS_FOLDER
    jobs = []
    part_index = first_row = 0
    expected = (result.output_type, result.kind, result.attribute)
    readable = _readable(sources, s3)
    for number, group in enumerate(groups):
        parts = result.parts[part_index : part_index + len(group)]
        lines = result.lines[part_index : part_index + len(group)]
        rows = sum(len(part_lines) for part_lines in lines)
        repeats = {
            digest: rows_of
            for digest, rows_of in result.repeats.items()
            if any(first_row <= row < first_row + rows for row in rows_of)
        }
        uris = {sources[part.source].uri for part in parts}
        wanted = {uri: [object_id for object_id, _ in worker_data[uri][1]] for uri in uris if uri in worker_data}
        jobs.append(
            (
                readable,
                selection,
                list(parts),
                lines,
                first_row,
                expected,
                repeats,
                assignment,
                list(names),
                list(label_map),
                folders / str(number),
                wanted,
                destination.parent_rows,
            )
        )
        part_index += len(parts)
        first_row += rows
    written = Written(consolidated={uri: {} for uri in worker_data})
    held: dict[int, list[tuple[int, Any]]] = {}
    part_files: list[tuple[Path, dict[str, dict[str, list[str]]]]] = []
    for number, (part_written, part_statistics, part_sources, part_label_map) in enumerate(
        pool.run("write", jobs, meanwhile)
    ):
        statistics.merge(part_statistics)
        for source, part_source in zip(sources, part_sources, strict=True):
            source.objects += part_source.objects
            source.job_names |= part_source.job_names
        label_map += [name for name in part_label_map if name not in label_map]
        _merge_written(written, part_written)
        written.changes.merge(part_written.changes)
        for digest, labels in part_written.held.items():
            held.setdefault(digest, []).extend(labels)
        part_files.append((folders / str(number), part_written.files))
    if held:  # sources labeled in the ranges of two processes
        settler = Writer(result.kind, {}, selection, dataclasses.replace(destination, staging=folders / "held"))
        for labels in held.values():
            settler.settle(labels)
        settled = settler.close()
        written.changes.merge(settled.changes)
        part_files.append((folders / "held", settled.files))
    written.files = _concatenate(part_files, staging, names)
    shutil.rmtree(folders)
    return written


def _readable(sources: Sequence[Source], s3: S3ClientProvider | None) -> list[Source]:
    """What a build process reads: the sources, S3 ones with a presigned URL made for this pass
    (the second pass reads the first one's local copies: its URLs are only a fallback)."""
    return [
        Source(
            source.uri,
            source.pinned,
            etag=source.etag,
            url=presigned_get_url(source.uri, s3 or S3ClientProvider()) if is_s3_uri(source.uri) else None,
        )
        for source in sources
    ]


def _merge_written(written: Written, part: Written) -> None:
    for problem in part.problems:
        written.problem(problem)
    written.problem_total += part.problem_total - len(part.problems)
    for uri, records in part.consolidated.items():
        written.consolidated.setdefault(uri, {}).update(records)
    if written.output_type is None:
        written.output_type, written.kind, written.attribute = part.output_type, part.kind, part.attribute
    if written.source_field is None:
        written.source_field = part.source_field


def _concatenate(
    part_files: Sequence[tuple[Path, Mapping[str, Mapping[str, list[str]]]]], staging: Path, splits: Sequence[str]
) -> dict[str, dict[str, list[str]]]:
    """Each format's per-split files of every part appended, in order, into ``staging``."""
    files: dict[str, dict[str, list[str]]] = {}
    for folder, formats in part_files:
        for name, per_split in formats.items():
            target = files.setdefault(name, {})
            for split, paths in per_split.items():
                known = target.setdefault(split, [])
                for path in paths:
                    destination = staging / path
                    if path not in known:
                        known.append(path)
                        destination.parent.mkdir(parents=True, exist_ok=True)
                        os.replace(folder / path, destination)
                        continue
                    with (folder / path).open("rb") as source, destination.open("ab") as sink:
                        shutil.copyfileobj(source, sink, CHUNK_BYTES)
    return {
        name: {split: per_split[split] for split in splits if split in per_split} for name, per_split in files.items()
    }


# ------------------------------------------------------------------ in the build processes


def _scan_task(sources: list[Source], selection: Selection, parts: list[Part], spool: str | None) -> Scan:
    return scan(sources, selection, None, _quiet, parts, spool)


def _write_task(
    sources: list[Source],
    selection: Selection,
    parts: list[Part],
    lines: list[array],
    first_row: int,
    expected: tuple[Any, Any, Any],
    repeats: dict[int, list[int]],
    assignment: array,
    names: list[str],
    label_map: list[str],
    folder: Path,
    wanted: dict[str, list[str]],
    parent_rows: frozenset[int],
) -> tuple[Written, DatasetStatistics, list[Source], list[str]]:
    statistics = DatasetStatistics(names)
    destination = Destination(assignment, names, label_map, folder, statistics, parent_rows)
    writer = Writer(expected[1], repeats, selection, destination)
    writer.written.output_type, writer.written.kind, writer.written.attribute = expected
    writer.want(wanted)
    writer.read(sources, parts, lines, first_row, None, _quiet)
    return writer.close(), statistics, sources, label_map


def _quiet(message: str) -> None:
    """Progress of one range is not worth a line in the build's log."""


_TASKS: dict[str, Callable[..., Any]] = {"scan": _scan_task, "write": _write_task}


def serve() -> None:
    """A build process: run tasks read from stdin until it closes, each result pickled to stdout."""
    results = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything printed goes to stderr, not into the results
    requests = sys.stdin.buffer
    while True:
        try:
            task, job = pickle.load(requests)
        except EOFError:
            return
        try:
            reply: tuple[str, Any] = ("ok", _TASKS[task](*job))
        except BaseException as error:
            if not isinstance(error, GroundTruthProviderError):  # a bug: where it happened is worth seeing
                traceback.print_exc()
            reply = ("error", error)
        try:
            data = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # an error that cannot be pickled: its text still reaches the build
            data = pickle.dumps(("error", DatasetError(f"{reply[1].__class__.__name__}: {reply[1]}")))
        results.write(data)
        results.flush()
