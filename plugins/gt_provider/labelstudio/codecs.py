"""Each task type in Label Studio's terms: its labeling config, its tasks, and its annotations both ways.

A :class:`Codec` turns a job's spec into a Label Studio labeling config (XML), an input
manifest line into a task's ``data``, and an annotation's ``result`` into the answer form
of the task type's consolidation (``gt_provider.local.annotations``: a class index, a set
of class indices, boxes, polygons, spans), so that Label Studio's annotations are
consolidated exactly like Ground Truth workers' answers. The reverse direction (answer ->
``result``) is what simulated annotators post through the API.

What Label Studio cannot express is refused before anything is created, by
``CAPABILITIES`` (video and 3D point cloud types: Label Studio has no frame-by-frame
cuboids or Ground Truth's video output; review types: no read-only overlay of an earlier
job's labels). Semantic segmentation is drawn with polygons (``PolygonLabels``): they are
rasterized into Ground Truth's mask PNG by the same code as the local Ground Truth, which
Label Studio's brush RLE would need a second decoder for.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from gt_provider.backends import BackendCapabilities
from gt_provider.exceptions import GroundTruthProviderError
from gt_provider.local.annotations import JobSpec, ObjectSource, ReferenceFormatError
from gt_provider.local.annotations.base import ImageSize, image_size
from gt_provider.local.annotations.boxes import Box, BoxTask
from gt_provider.local.annotations.segmentation import SegmentationTask, Shape
from gt_provider.local.annotations.text_spans import Span

#: The control every config names ``label`` (``from_name`` of every result we read).
CONTROL = "label"
#: Task ``data`` keys the provider adds beside the object: its manifest line and position.
LINE_KEY = "gt_manifest_line"
INDEX_KEY = "gt_line_index"

#: ``image_url(s3_uri)``: what the task's ``image`` points at (see ``hooks.label_studio``).
ImageUrl = Callable[[str], str]


class AnnotationFormatError(GroundTruthProviderError, ValueError):
    """An annotation that does not fit the job (a label outside its label set, no answer...)."""


class Codec(ABC):
    """How one task type looks in Label Studio."""

    #: The object tag's name and the ``data`` key it reads: ``image`` or ``text``.
    object_name: str
    #: The object tag (``Image`` or ``Text``).
    object_tag: str

    def label_config(self, labels: Sequence[str], header: str) -> str:
        """The project's labeling config: a header (the short instructions), the object, the control."""
        obj = f'<{self.object_tag} name="{self.object_name}" value="${self.object_name}"/>'
        parts = [f"<Header value={quoteattr(header)}/>", *self._view(obj, labels)]
        return "<View>\n  " + "\n  ".join(parts) + "\n</View>\n"

    @abstractmethod
    def _view(self, obj: str, labels: Sequence[str]) -> list[str]:
        """The object tag and the control tag, in the order annotators see them."""

    def task_data(self, line: Mapping[str, Any], index: int, image_url: ImageUrl) -> dict[str, Any]:
        """A task's ``data``: the object, and the manifest line it came from."""
        value = image_url(line["source-ref"]) if self.object_tag == "Image" else line["source"]
        return {self.object_name: value, LINE_KEY: dict(line), INDEX_KEY: index}

    @abstractmethod
    def answer(self, results: Sequence[Mapping[str, Any]], spec: JobSpec, task: Any) -> Any:
        """One annotation's ``result`` as the consolidation's answer; AnnotationFormatError if it does not fit."""

    @abstractmethod
    def results(self, answer: Any, spec: JobSpec, task: Any) -> list[dict[str, Any]]:
        """An answer as an annotation ``result`` (what a simulated annotator posts)."""

    def task(self, source: ObjectSource, results: Sequence[Sequence[Mapping[str, Any]]]) -> Any:
        """What the consolidation needs of the object beside the answers (an image's size)."""
        return None

    # helpers shared by the codecs

    def _result(self, kind: str, value: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return {"from_name": CONTROL, "to_name": self.object_name, "type": kind, "value": value, **extra}

    @staticmethod
    def _values(results: Sequence[Mapping[str, Any]], kind: str) -> list[Mapping[str, Any]]:
        return [result for result in results if result.get("from_name") == CONTROL and result.get("type") == kind]

    @staticmethod
    def _label(name: Any, spec: JobSpec) -> int:
        if name not in spec.labels:
            raise AnnotationFormatError(f"label {name!r} is not one of the job's labels {list(spec.labels)}")
        return spec.labels.index(name)


def _options(tag: str, labels: Sequence[str]) -> str:
    return "".join(f"\n    <{tag} value={quoteattr(label)}/>" for label in labels)


class Choices(Codec):
    """Image or text classification: one label (``multiple=False``) or any number of them."""

    def __init__(self, object_tag: str, *, multiple: bool) -> None:
        self.object_tag = object_tag
        self.object_name = object_tag.lower()
        self.multiple = multiple

    def _view(self, obj: str, labels: Sequence[str]) -> list[str]:
        choice = "multiple" if self.multiple else "single"
        required = "" if self.multiple else ' required="true"'
        control = (
            f'<Choices name="{CONTROL}" toName="{self.object_name}" choice="{choice}"{required} showInline="true">'
            f"{_options('Choice', labels)}\n  </Choices>"
        )
        return [obj, control]

    def answer(self, results: Sequence[Mapping[str, Any]], spec: JobSpec, task: Any) -> Any:
        chosen = [name for result in self._values(results, "choices") for name in result["value"].get("choices", [])]
        indices = [self._label(name, spec) for name in chosen]
        if self.multiple:
            return tuple(sorted(set(indices)))
        if len(indices) != 1:
            raise AnnotationFormatError(f"a single-label job needs exactly one choice, the annotation has {chosen}")
        return indices[0]

    def results(self, answer: Any, spec: JobSpec, task: Any) -> list[dict[str, Any]]:
        indices = answer if self.multiple else (answer,)
        return [self._result("choices", {"choices": [spec.labels[index] for index in indices]})]


class _ImageRegions(Codec):
    """Regions drawn on an image, in percent of its size as Label Studio stores them."""

    object_tag = "Image"
    object_name = "image"
    kind: str

    def task(self, source: ObjectSource, results: Sequence[Sequence[Mapping[str, Any]]]) -> Any:
        for result in (result for annotation in results for result in self._values(annotation, self.kind)):
            if "original_width" in result and "original_height" in result:
                return self._task(ImageSize(int(result["original_width"]), int(result["original_height"])))
        try:  # nobody drew anything: the image itself says how big it is
            return self._task(image_size(None, source))
        except ReferenceFormatError as error:
            raise AnnotationFormatError(str(error)) from None

    @abstractmethod
    def _task(self, size: ImageSize) -> Any: ...

    def _region(self, size: ImageSize, value: dict[str, Any], label: str) -> dict[str, Any]:
        return self._result(
            self.kind,
            {**value, self.kind: [label]},
            original_width=size.width,
            original_height=size.height,
            image_rotation=0,
        )


class Rectangles(_ImageRegions):
    """Bounding boxes: ``RectangleLabels``."""

    kind = "rectanglelabels"

    def _view(self, obj: str, labels: Sequence[str]) -> list[str]:
        return [
            obj,
            f'<RectangleLabels name="{CONTROL}" toName="image">{_options("Label", labels)}\n  </RectangleLabels>',
        ]

    def _task(self, size: ImageSize) -> BoxTask:
        return BoxTask(size, None)

    def answer(self, results: Sequence[Mapping[str, Any]], spec: JobSpec, task: BoxTask) -> tuple[Box, ...]:
        width, height = task.size.width / 100, task.size.height / 100
        boxes = []
        for result in self._values(results, self.kind):
            value = result["value"]
            (name,) = value.get(self.kind) or [None]
            if value.get("rotation"):
                raise AnnotationFormatError(f"a {name!r} box is rotated ({value['rotation']} degrees)")
            boxes.append(
                Box(
                    self._label(name, spec),
                    value["x"] * width,
                    value["y"] * height,
                    value["width"] * width,
                    value["height"] * height,
                )
            )
        return tuple(boxes)

    def results(self, answer: tuple[Box, ...], spec: JobSpec, task: BoxTask) -> list[dict[str, Any]]:
        width, height = task.size.width / 100, task.size.height / 100
        return [
            self._region(
                task.size,
                {"x": b.left / width, "y": b.top / height, "width": b.width / width, "height": b.height / height},
                spec.labels[b.label],
            )
            for b in answer
        ]


class Polygons(_ImageRegions):
    """Semantic segmentation, drawn as polygons (``PolygonLabels``) and rasterized into the mask."""

    kind = "polygonlabels"

    def _view(self, obj: str, labels: Sequence[str]) -> list[str]:
        return [obj, f'<PolygonLabels name="{CONTROL}" toName="image">{_options("Label", labels)}\n  </PolygonLabels>']

    def _task(self, size: ImageSize) -> SegmentationTask:
        return SegmentationTask(size, None)

    def answer(self, results: Sequence[Mapping[str, Any]], spec: JobSpec, task: SegmentationTask) -> tuple[Shape, ...]:
        width, height = task.size.width / 100, task.size.height / 100
        shapes = []
        for result in self._values(results, self.kind):
            value = result["value"]
            (name,) = value.get(self.kind) or [None]
            points = tuple((x * width, y * height) for x, y in value["points"])
            if len(points) < 3:
                raise AnnotationFormatError(f"a {name!r} polygon has {len(points)} points; it needs 3 or more")
            shapes.append(Shape(self._label(name, spec), points))
        return tuple(shapes)

    def results(self, answer: tuple[Shape, ...] | None, spec: JobSpec, task: SegmentationTask) -> list[dict[str, Any]]:
        width, height = task.size.width / 100, task.size.height / 100
        return [
            self._region(
                task.size, {"points": [[x / width, y / height] for x, y in shape.points]}, spec.labels[shape.label]
            )
            for shape in answer or ()
        ]


class Entities(Codec):
    """Named entity recognition: ``Labels`` on a ``Text``, character offsets end-exclusive as in Ground Truth."""

    object_tag = "Text"
    object_name = "text"
    kind = "labels"

    def _view(self, obj: str, labels: Sequence[str]) -> list[str]:
        return [f'<Labels name="{CONTROL}" toName="text">{_options("Label", labels)}\n  </Labels>', obj]

    def answer(self, results: Sequence[Mapping[str, Any]], spec: JobSpec, task: Any) -> tuple[Span, ...]:
        spans = set()
        for result in self._values(results, self.kind):
            value = result["value"]
            for name in value.get(self.kind, []):
                spans.add(Span(int(value["start"]), int(value["end"]), self._label(name, spec)))
        return tuple(sorted(spans))

    def results(self, answer: tuple[Span, ...], spec: JobSpec, task: Any) -> list[dict[str, Any]]:
        text = getattr(task, "text", task)  # the simulation's SpanTask, or the text itself
        text = text if isinstance(text, str) else ""
        return [
            self._result(
                self.kind,
                {"start": s.start, "end": s.end, "text": text[s.start : s.end], self.kind: [spec.labels[s.label]]},
            )
            for s in answer
        ]

    def task(self, source: ObjectSource, results: Sequence[Sequence[Mapping[str, Any]]]) -> Any:
        return source.line.get("source")


# fmt: off
#: Task type name -> its codec: the task types Label Studio runs.
CODECS: Mapping[str, Codec] = MappingProxyType({
    "ImageMultiClass": Choices("Image", multiple=False),
    "ImageMultiClassMultiLabel": Choices("Image", multiple=True),
    "TextMultiClass": Choices("Text", multiple=False),
    "TextMultiClassMultiLabel": Choices("Text", multiple=True),
    "BoundingBox": Rectangles(),
    "SemanticSegmentation": Polygons(),
    "NamedEntityRecognition": Entities(),
})
# fmt: on

#: What the Label Studio backend runs (``BackendCapabilities.check`` refuses the rest up front).
CAPABILITIES = BackendCapabilities(backend="Label Studio", task_types=frozenset(CODECS), review=False)


def header(short_instructions: str) -> str:
    """The short instructions as the config's header (full instructions go to the project's instructions)."""
    return short_instructions.strip()


def instructions_html(short_instructions: str, full_instructions: str) -> str:
    """The project's ``expert_instruction``: the full instructions, escaped (they are plain text)."""
    text = full_instructions or short_instructions
    return "<p>" + "</p><p>".join(escape(paragraph) for paragraph in text.split("\n\n")) + "</p>"
