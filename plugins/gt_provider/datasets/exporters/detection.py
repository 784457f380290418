"""Object detection formats: COCO, YOLO and Pascal VOC, from bounding-box labels on S3 images."""

from __future__ import annotations

import abc
import hashlib
import json
import math
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any, ClassVar
from xml.etree import ElementTree

import orjson

from gt_provider.datasets.errors import DatasetError
from gt_provider.datasets.exporters.base import BUFFER_SIZE, SHARED, Exporter
from gt_provider.datasets.records import ImageSize, LabeledObject, LabelKind

_dumps = orjson.dumps


def _image_size(exporter: Exporter, obj: LabeledObject) -> ImageSize:
    size = obj.image_size
    if size is None or size.width <= 0 or size.height <= 0:
        raise DatasetError(
            f"{exporter.name}: object at output manifest line {obj.line} ({obj.source}) has no usable image_size "
            f"({size}); boxes cannot be placed without the image's width and height"
        )
    return size


@dataclass
class _CocoSplit:
    """The two growing arrays of one split, spilled to files until ``close()`` joins them."""

    images: IO[bytes]
    annotations: IO[bytes]
    image_count: int = 0
    annotation_count: int = 0


class CocoExporter(Exporter):
    """``coco/<split>.json``: one COCO object-detection file per split.

    - ``images``: ``id`` 1, 2, ... in write order; ``file_name`` is the full S3 URI of the
      image (basenames collide across prefixes; map the URI to a local path when you download);
      ``width`` and ``height`` from the label's ``image_size``. An image without boxes is kept
      (a negative example).
    - ``annotations``: ``id`` 1, 2, ...; ``bbox`` ``[x, y, width, height]`` in pixels, top-left
      origin, as Ground Truth measured them; ``area`` = width x height; ``iscrowd`` 0.
    - ``categories``: the label map, ``id`` = label-map index + 1. 1-based as in COCO itself,
      so that detectors which reserve 0 for the background can read the file unchanged.

    Images and annotations are streamed to two part files per split and joined at ``close()``.
    """

    name = "coco"
    kinds = frozenset({LabelKind.BOXES})
    source_fields = frozenset({"source-ref"})
    INFO = {"description": "Amazon SageMaker Ground Truth bounding boxes, exported by gt_provider"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._parts: dict[str, _CocoSplit] = {}

    def _open(self, split: str) -> _CocoSplit:
        self.check_split(split)
        parts = self._parts[split] = _CocoSplit(
            images=open(self.path(f".{split}.images.part"), "w+b", buffering=BUFFER_SIZE),  # noqa: SIM115
            annotations=open(self.path(f".{split}.annotations.part"), "w+b", buffering=BUFFER_SIZE),  # noqa: SIM115
        )
        return parts

    def write(self, split: str, obj: LabeledObject) -> None:
        if obj.failed:
            return
        parts = self._parts.get(split) or self._open(split)
        size = _image_size(self, obj)
        parts.image_count += 1
        image_id = parts.image_count
        image = {"id": image_id, "file_name": obj.source, "width": size.width, "height": size.height}
        parts.images.write((b"," if image_id > 1 else b"") + _dumps(image))
        for box in obj.boxes:
            category_id = self.class_id(box.name, obj) + 1
            parts.annotation_count += 1
            annotation = {
                "id": parts.annotation_count,
                "image_id": image_id,
                "category_id": category_id,
                "bbox": [box.left, box.top, box.width, box.height],
                "area": box.width * box.height,
                "iscrowd": 0,
            }
            parts.annotations.write((b"," if parts.annotation_count > 1 else b"") + _dumps(annotation))

    def close(self) -> dict[str, list[str]]:
        categories = [{"id": index + 1, "name": name, "supercategory": ""} for index, name in enumerate(self.label_map)]
        files: dict[str, list[str]] = {}
        for split in self.splits:
            parts = self._parts.pop(split, None)
            if parts is None:
                continue
            path = self.path(f"{split}.json")
            with open(path, "wb", buffering=BUFFER_SIZE) as out:
                out.write(b'{"info":' + _dumps(self.INFO) + b',"licenses":[],"images":[')
                for part, tail in ((parts.images, b'],"annotations":['), (parts.annotations, b'],"categories":')):
                    part.flush()
                    part.seek(0)
                    shutil.copyfileobj(part, out, BUFFER_SIZE)
                    part.close()
                    Path(part.name).unlink()
                    out.write(tail)
                out.write(_dumps(categories) + b"}\n")
            files[split] = [self.relative(path)]
        self._closed = True
        return files

    def __exit__(self, *exc_info: object) -> None:
        if exc_info[0] is not None:
            for parts in self._parts.values():
                parts.images.close()
                parts.annotations.close()
            self._parts.clear()
        super().__exit__(*exc_info)


#: Characters kept from an image's basename in a YOLO stem; the rest become ``_``.
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
#: Ultralytics' names for the splits it knows; any other split keeps its own name.
_YOLO_SPLIT_KEYS = {"train": "train", "validation": "val", "val": "val", "test": "test"}


def yolo_stem(source: str) -> str:
    """``<basename without extension>-<12 hex digits of the URI's BLAKE2b>``: readable, and unique per URI.

    Two S3 objects with the same basename under different prefixes (``a/img.jpg``,
    ``b/img.jpg``) get different stems; the same URI always gets the same stem, in every
    dataset version.
    """
    basename = PurePosixPath(source.rsplit("/", 1)[-1])
    readable = _UNSAFE.sub("_", basename.stem)[:80].strip("._") or "image"
    digest = hashlib.blake2b(source.encode(), digest_size=6).hexdigest()
    return f"{readable}-{digest}"


def _suffix(source: str) -> str:
    return PurePosixPath(source.rsplit("/", 1)[-1]).suffix


def _write_new(folder: Path, stem: str, extension: str, content: Callable[[str], bytes]) -> str:
    """Write ``content(stem)`` to ``<stem><extension>`` in ``folder``, or ``<stem>-2``, ``-3``... if taken.

    Files are created exclusively, so nothing is overwritten; returns the stem used (the
    content may name it, as a VOC annotation names its image).
    """
    for attempt in range(1, 1_000_000):
        candidate = stem if attempt == 1 else f"{stem}-{attempt}"
        try:
            with open(folder / f"{candidate}{extension}", "xb") as file:
                file.write(content(candidate))
            return candidate
        except FileExistsError:
            continue
    raise DatasetError(f"{folder}: no free file name for {stem}{extension}")


class _FilePerImage(Exporter):
    """A detection format with a file per image (YOLO labels, VOC annotations) and an image listing per split.

    ``<split>.images.tsv``: ``<image folder>/<stem><ext>`` TAB ``<S3 URI>`` per image, the
    stem from :func:`yolo_stem`; the image's own file is ``<folder>/<stem><extension>``,
    created exclusively (a URI met twice gets ``-2``, ``-3``...).
    """

    kinds = frozenset({LabelKind.BOXES})
    source_fields = frozenset({"source-ref"})
    #: The per-image file's extension.
    extension: ClassVar[str]

    @abc.abstractmethod
    def _folder(self, split: str) -> Path:
        """Where the split's per-image files go."""

    @abc.abstractmethod
    def _image_folder(self, split: str) -> str:
        """Where the listing says to download the split's images, relative to the format folder."""

    @abc.abstractmethod
    def _content(self, obj: LabeledObject, size: ImageSize, stem: str) -> bytes:
        """The per-image file of ``obj``, saved as ``stem``."""

    def write(self, split: str, obj: LabeledObject) -> None:
        if obj.failed:
            return
        images = self._handles.get(split)
        if images is None:
            images = self.handle(split, f"{split}.images.tsv")
            self._folder(split).mkdir(parents=True, exist_ok=True)
        size = _image_size(self, obj)
        stem = _write_new(
            self._folder(split), yolo_stem(obj.source), self.extension, lambda taken: self._content(obj, size, taken)
        )
        images.write(f"{self._image_folder(split)}/{stem}{_suffix(obj.source)}\t{obj.source}\n".encode())

    def _close_listings(self) -> tuple[list[str], dict[str, list[str]]]:
        """The splits that received objects, and their listings (closed)."""
        written = [split for split in self.splits if split in self._handles]
        return written, self.close_handles()


class YoloExporter(_FilePerImage):
    """Ultralytics-style YOLO detection labels.

    - ``yolo/labels/<split>/<stem>.txt``: one per image, a line ``class cx cy w h`` per box,
      class = label-map index (0-based, as YOLO wants), centre and size normalized to [0, 1]
      by ``image_size``, 6 decimals. Boxes are clipped to the image; one with nothing left is
      dropped. An image without boxes gets an empty file (a background image).
    - ``yolo/<split>.images.tsv``: ``images/<split>/<stem><ext>`` TAB ``<S3 URI>`` per image:
      download each image to the path in the first column (relative to ``yolo/``), and the
      trainer finds its labels by replacing ``images`` with ``labels``.
    - ``yolo/data.yaml``: ``train`` / ``val`` / ``test`` image folders and ``names`` (id: name).
      ``close()`` lists it under ``"all"``, as it serves every split.

    Stems come from :func:`yolo_stem`; if two objects of a split still share one (the same
    URI twice), the later gets ``-2``, ``-3``... (files are created exclusively, so nothing
    is overwritten).
    """

    name = "yolo"
    extension = ".txt"

    def _folder(self, split: str) -> Path:
        return self.directory / "labels" / split

    def _image_folder(self, split: str) -> str:
        return f"images/{split}"

    def _content(self, obj: LabeledObject, size: ImageSize, stem: str) -> bytes:
        lines = []
        for box in obj.boxes:
            class_id = self.class_id(box.name, obj)
            left, top = max(box.left, 0.0), max(box.top, 0.0)
            right, bottom = min(box.left + box.width, size.width), min(box.top + box.height, size.height)
            if right <= left or bottom <= top:
                continue
            lines.append(
                f"{class_id} {(left + right) / 2 / size.width:.6f} {(top + bottom) / 2 / size.height:.6f} "
                f"{(right - left) / size.width:.6f} {(bottom - top) / size.height:.6f}\n"
            )
        return "".join(lines).encode()

    def close(self) -> dict[str, list[str]]:
        written, files = self._close_listings()
        if not written:
            return files
        data_yaml = self.path("data.yaml")
        lines = [
            "# YOLO detection dataset exported by gt_provider from Amazon SageMaker Ground Truth labels.",
            "# Download every image of <split>.images.tsv (column 2, an S3 URI) to the path in column 1,",
            "# relative to this folder; set `path:` to this folder if your trainer does not assume it.",
        ]
        lines += [f"{_YOLO_SPLIT_KEYS.get(split, split)}: images/{split}" for split in written]
        lines.append(f"nc: {len(self.label_map)}")
        lines.append("names:")
        # JSON strings are valid YAML double-quoted scalars: no YAML library needed, any name is safe.
        lines += [f"  {index}: {json.dumps(name)}" for index, name in enumerate(self.label_map)]
        data_yaml.write_text("\n".join(lines) + "\n", encoding="utf-8")
        labels = self.relative(self.directory / "labels")
        for split in written:
            files[split] = [*files[split], f"{labels}/{split}/"]
        files[SHARED] = [self.relative(data_yaml)]
        return files


class VocExporter(_FilePerImage):
    """Pascal VOC detection annotations: one XML file per image, as the VOC devkit lays them out.

    - ``voc/Annotations/<stem>.xml``: ``filename`` ``<stem><ext>`` in ``folder`` ``JPEGImages``,
      ``path`` the image's S3 URI, ``size`` (width, height, depth from ``image_size``),
      ``segmented`` 0, and an ``object`` per box: ``name`` (the class), ``pose``
      ``Unspecified``, ``truncated`` (1 when the box was clipped to the image), ``difficult``
      0, ``bndbox`` in VOC's 1-based, inclusive pixel coordinates (``xmin = floor(left) + 1``,
      ``xmax = ceil(left + width)``, clipped to the image). A box with nothing inside the image
      is dropped; an image without boxes gets an annotation with no ``object``.
    - ``voc/ImageSets/Main/<split>.txt``: the stems of the split, one per line.
    - ``voc/<split>.images.tsv``: ``JPEGImages/<stem><ext>`` TAB ``<S3 URI>``: download each
      image to the path in the first column (relative to ``voc/``).
    - ``voc/labels.txt``: the class names, one per line in label-map order. With the
      ``Annotations/`` folder it is listed under ``"all"``, as both serve every split.

    Stems come from :func:`yolo_stem` (readable and unique per URI); a URI met twice gets
    ``-2``, ``-3``... as in the YOLO export.
    """

    name = "voc"
    DATABASE = "Amazon SageMaker Ground Truth (exported by gt_provider)"
    extension = ".xml"

    def _folder(self, split: str) -> Path:
        return self.directory / "Annotations"

    def _image_folder(self, split: str) -> str:
        return "JPEGImages"

    def _content(self, obj: LabeledObject, size: ImageSize, stem: str) -> bytes:
        root = ElementTree.Element("annotation")
        _text(root, "folder", "JPEGImages")
        _text(root, "filename", f"{stem}{_suffix(obj.source)}")
        _text(root, "path", obj.source)
        _text(ElementTree.SubElement(root, "source"), "database", self.DATABASE)
        dimensions = ElementTree.SubElement(root, "size")
        for tag, value in (("width", size.width), ("height", size.height), ("depth", size.depth)):
            _text(dimensions, tag, value)
        _text(root, "segmented", 0)
        for box in obj.boxes:
            self.class_id(box.name, obj)  # a class outside the label map is an error here too
            right, bottom = box.left + box.width, box.top + box.height
            xmin, ymin = max(math.floor(box.left), 0) + 1, max(math.floor(box.top), 0) + 1
            xmax, ymax = min(math.ceil(right), size.width), min(math.ceil(bottom), size.height)
            if xmax < xmin or ymax < ymin:
                continue
            clipped = box.left < 0 or box.top < 0 or right > size.width or bottom > size.height
            element = ElementTree.SubElement(root, "object")
            _text(element, "name", box.name)
            _text(element, "pose", "Unspecified")
            _text(element, "truncated", int(clipped))
            _text(element, "difficult", 0)
            bndbox = ElementTree.SubElement(element, "bndbox")
            for tag, value in (("xmin", xmin), ("ymin", ymin), ("xmax", xmax), ("ymax", ymax)):
                _text(bndbox, tag, value)
        ElementTree.indent(root)
        return ElementTree.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"

    def close(self) -> dict[str, list[str]]:
        written, files = self._close_listings()
        if not written:
            return files
        labels = self.path("labels.txt")
        labels.write_text("".join(f"{name}\n" for name in self.label_map), encoding="utf-8")
        result = {}
        for split in written:  # the split's image set: the stems its listing names, in order
            listing = self.directory / f"{split}.images.tsv"
            image_set = self.path("ImageSets", "Main", f"{split}.txt")
            with open(listing, encoding="utf-8") as rows, open(image_set, "w", encoding="utf-8") as out:
                out.writelines(f"{_listed_stem(row)}\n" for row in rows)
            result[split] = [self.relative(image_set), *files[split]]
        result[SHARED] = [self.relative(labels), f"{self.relative(self.directory / 'Annotations')}/"]
        return result


def _listed_stem(row: str) -> str:
    """The stem of an ``<image path> TAB <S3 URI>`` listing row."""
    return PurePosixPath(row.partition("\t")[0]).stem


def _text(parent: ElementTree.Element, tag: str, value: object) -> None:
    ElementTree.SubElement(parent, tag).text = str(value)
