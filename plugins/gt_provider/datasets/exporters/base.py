"""The exporter contract: one streaming writer per training format.

The dataset build knows the final label map before it exports, then hands every kept object
to ``write(split, obj)`` once and calls ``close()`` at the end. Exporters therefore stream:
what they keep in memory per object is at most a few words (the COCO and YOLO exporters
spill to files as they go), so a million-object build stays within the build's memory budget.
"""

from __future__ import annotations

import abc
import re
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import IO, ClassVar, Self

from gt_provider.datasets.errors import DatasetError
from gt_provider.datasets.records import LabeledObject, LabelKind

#: Bytes buffered per open file: large sequential writes, few system calls.
BUFFER_SIZE = 1 << 20

#: A split name becomes a file name: keep it to characters every file system and S3 key accepts.
_SPLIT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")

#: The key of ``close()``'s result for files that serve every split (as the dataset card's own files).
SHARED = "all"

#: Both ways a manifest line names its object: an S3 URI, or the text inline.
ANY_SOURCE = frozenset({"source-ref", "source"})


class Exporter(abc.ABC):
    """Writes the objects of one dataset version in one format into ``directory``.

    ``directory`` is ``<staging>/<name>/`` on local disk; it is created on the first write,
    so a format that received nothing leaves nothing behind. ``close()`` returns, per split,
    the files written as POSIX paths relative to the version root (the parent of
    ``directory``), which is what the dataset card lists under ``files``. A path ending in
    ``/`` is a folder of many files (YOLO's per-image label files); files that serve every
    split (YOLO's ``data.yaml``) are under the key ``"all"``. Splits that received no object
    have no files and are not in the result.
    """

    #: The format's name, as users write it in ``formats=[...]`` and as the folder is named.
    name: ClassVar[str]
    #: The label kinds this format can represent.
    kinds: ClassVar[frozenset[LabelKind]]
    #: ``"source-ref"`` (S3 objects), ``"source"`` (inline text), or both.
    source_fields: ClassVar[frozenset[str]] = ANY_SOURCE
    #: Whether two exports of disjoint objects make the export of all of them when each file of
    #: the second is appended to the first's (lines, no header, no ids): what lets a build
    #: write its objects in several processes (:mod:`gt_provider.datasets.passes.parallel`).
    concatenable: ClassVar[bool] = False

    def __init__(self, directory: Path, splits: Sequence[str], label_map: Sequence[str]) -> None:
        for split in splits:
            if not isinstance(split, str) or not _SPLIT_NAME.fullmatch(split):
                raise DatasetError(
                    f"split name {split!r} cannot name a file: use letters, digits, '.', '_' or '-', "
                    "starting with a letter or digit"
                )
            if split == SHARED:
                raise DatasetError(f"split name {SHARED!r} is reserved for the files that serve every split")
        self.directory = Path(directory)
        self.splits = tuple(splits)
        #: The dataset's class names, id = position. The build may append a name it meets late
        #: (never reorder): ids already written stay right, and files written at ``close()``
        #: (COCO categories, YOLO names) list every class.
        self.label_map = label_map
        #: Class name -> dataset class id (its index in the label map).
        self.class_ids = {name: index for index, name in enumerate(self.label_map)}
        self._handles: dict[str, IO[bytes]] = {}
        self._closed = False

    @abc.abstractmethod
    def write(self, split: str, obj: LabeledObject) -> None:
        """Add one object to ``split``."""

    @abc.abstractmethod
    def close(self) -> dict[str, list[str]]:
        """Finish every file and return ``{split: [relative paths]}`` for the dataset card."""

    # -- helpers for subclasses ------------------------------------------------------------

    def relative(self, path: Path) -> str:
        """``path`` relative to the version root, POSIX style, as the dataset card lists it."""
        inside = path.relative_to(self.directory)
        return str(PurePosixPath(self.directory.name, *inside.parts))

    def path(self, *parts: str) -> Path:
        """A file path under ``directory``; its folder exists when this returns."""
        path = self.directory.joinpath(*parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def check_split(self, split: str) -> None:
        if split not in self.splits:
            raise DatasetError(f"{self.name}: unknown split {split!r}; this export has {list(self.splits)}")

    def handle(self, split: str, filename: str) -> IO[bytes]:
        """The buffered binary file of ``split``, opened on the split's first object."""
        handle = self._handles.get(split)
        if handle is None:
            self.check_split(split)
            handle = self._handles[split] = open(self.path(filename), "wb", buffering=BUFFER_SIZE)  # noqa: SIM115
        return handle

    def close_handles(self) -> dict[str, list[str]]:
        """Close every per-split file; the result lists them in split order."""
        files: dict[str, list[str]] = {}
        for split in self.splits:
            handle = self._handles.pop(split, None)
            if handle is not None:
                handle.close()
                files[split] = [self.relative(Path(handle.name))]
        self._closed = True
        return files

    def class_id(self, name: str, obj: LabeledObject) -> int:
        """The dataset class id of ``name``; a name outside the label map is a build bug, said loudly."""
        try:
            return self.class_ids[name]
        except KeyError:
            if name in self.label_map:  # appended since: catch up
                self.class_ids = {known: index for index, known in enumerate(self.label_map)}
                return self.class_ids[name]
            raise DatasetError(
                f"{self.name}: object at output manifest line {obj.line} ({obj.source[:200]!r}) has label "
                f"{name!r}, which is not in the dataset's label map {list(self.label_map)}"
            ) from None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Close what is open; on an error the files stay partial and the build discards the staging folder."""
        if exc_info[0] is None and not self._closed:
            self.close()
        else:
            for handle in self._handles.values():
                handle.close()
            self._handles.clear()


def describe_kinds(kinds: frozenset[LabelKind]) -> str:
    return ", ".join(sorted(kind.value for kind in kinds))


def check_formats(
    exporters: Mapping[str, type[Exporter]], names: Sequence[str], kind: LabelKind, source_field: str | None
) -> list[type[Exporter]]:
    """The exporter classes for ``names``, or a DatasetError that says which formats would fit."""
    fitting = [name for name, exporter in exporters.items() if kind in exporter.kinds]
    chosen: list[type[Exporter]] = []
    for name in dict.fromkeys(names):
        exporter = exporters.get(name)
        if exporter is None:
            raise DatasetError(
                f"unknown dataset format {name!r}; known formats: {', '.join(exporters)} "
                f"(for {kind.value} labels: {', '.join(fitting)})"
            )
        if kind not in exporter.kinds:
            raise DatasetError(
                f"dataset format {name!r} exports {describe_kinds(exporter.kinds)} labels, not {kind.value}; "
                f"formats for {kind.value} labels: {', '.join(fitting)} (known formats: {', '.join(exporters)})"
            )
        if source_field is not None and source_field not in exporter.source_fields:
            what = "inline text ('source')" if "source" in exporter.source_fields else "S3 objects ('source-ref')"
            raise DatasetError(f"dataset format {name!r} exports {what}; these objects are given by {source_field!r}")
        chosen.append(exporter)
    return chosen
