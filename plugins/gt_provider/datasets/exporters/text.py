"""Text formats: fastText / BlazingText classification, CoNLL BIO tags and spaCy training tuples."""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from typing import Any

import orjson

from gt_provider.datasets.errors import DatasetError
from gt_provider.datasets.exporters.base import Exporter
from gt_provider.datasets.records import Entity, LabeledObject, LabelKind

_TOKEN = re.compile(r"\S+")
_TEXT_ONLY = frozenset({"source"})


def _require_text(exporter: Exporter, obj: LabeledObject) -> None:
    if obj.source_field != "source":
        raise DatasetError(
            f"{exporter.name} exports inline text ('source'); the object at output manifest line {obj.line} "
            f"is given by {obj.source_field!r} ({obj.source[:200]!r})"
        )


def fasttext_label(name: str) -> str:
    """``__label__<name>`` with whitespace runs turned into ``_``: fastText splits a line on whitespace."""
    return "__label__" + "_".join(name.split())


def fasttext_line(labels: Iterable[str], text: str) -> str:
    """``__label__a __label__b text`` with the text on one line (every whitespace run becomes one space)."""
    return " ".join([*(fasttext_label(name) for name in labels), *text.split()]) + "\n"


class FastTextExporter(Exporter):
    """``fasttext/<split>.txt``: BlazingText / fastText supervised-mode lines.

    Each line is the object's labels as ``__label__<name>`` (all of them for multi-label),
    then its text. Newlines and other whitespace runs in the text collapse to one space, and
    spaces in class names become ``_``. An object without any label (a multi-label object
    with none, or a failed one) is left out: a supervised line needs a label.
    """

    name = "fasttext"
    concatenable = True
    kinds = frozenset({LabelKind.CLASS, LabelKind.MULTI_LABEL})
    source_fields = _TEXT_ONLY

    def write(self, split: str, obj: LabeledObject) -> None:
        _require_text(self, obj)
        labels = obj.label_names
        if not labels:
            return
        handle = self._handles.get(split) or self.handle(split, f"{split}.txt")
        handle.write(fasttext_line(labels, obj.source).encode())

    def close(self) -> dict[str, list[str]]:
        return self.close_handles()


def _without_overlaps(entities: Iterable[Entity]) -> list[Entity]:
    """Entities sorted by start; of overlapping ones, the first (the longest at equal starts) is kept.

    Neither BIO tags nor spaCy's ``doc.ents`` can hold overlapping spans.
    """
    kept: list[Entity] = []
    end = -1
    for entity in sorted(entities, key=lambda entity: (entity.start, -entity.end)):
        if entity.end <= entity.start or entity.start < end:
            continue
        kept.append(entity)
        end = entity.end
    return kept


def bio_tags(text: str, entities: Iterable[Entity]) -> list[tuple[str, str]]:
    """``(token, tag)`` for each whitespace-separated token of ``text``, tags in BIO (IOB2).

    A token belongs to an entity when their character ranges overlap, so a span that does not
    align with token boundaries (``"Paris,"`` labeled ``[0, 5)``) still tags the whole token.
    Of overlapping entities the first is kept (see :func:`_without_overlaps`); an entity whose
    tokens an earlier entity already tagged, or that covers only whitespace, adds no tag.
    """
    tokens = [(match.start(), match.end(), match.group()) for match in _TOKEN.finditer(text)]
    token_ends = [end for _, end, _ in tokens]
    tags = ["O"] * len(tokens)
    for entity in _without_overlaps(entities):
        index = bisect.bisect_right(token_ends, entity.start)
        inside = False
        while index < len(tokens) and tokens[index][0] < entity.end:
            if tags[index] == "O":
                tags[index] = ("I-" if inside else "B-") + entity.label
                inside = True
            index += 1
    return [(token, tag) for (_, _, token), tag in zip(tokens, tags, strict=True)]


class ConllExporter(Exporter):
    """``conll/<split>.conll``: CoNLL-2003-style NER, ``token TAG`` per line, BIO tags.

    Tokens are the text's whitespace-separated pieces (see :func:`bio_tags` for spans that do
    not align to them); class names have whitespace replaced by ``_`` so a line always has two
    columns. One document per object, documents separated by a blank line; an empty text is
    left out.
    """

    name = "conll"
    concatenable = True
    kinds = frozenset({LabelKind.ENTITIES})
    source_fields = _TEXT_ONLY

    def write(self, split: str, obj: LabeledObject) -> None:
        _require_text(self, obj)
        if obj.failed:
            return
        tagged = bio_tags(obj.source, obj.entities)
        if not tagged:
            return
        handle = self._handles.get(split) or self.handle(split, f"{split}.conll")
        lines = [f"{token} {tag if tag == 'O' else '_'.join(tag.split())}\n" for token, tag in tagged]
        handle.write(("".join(lines) + "\n").encode())

    def close(self) -> dict[str, list[str]]:
        return self.close_handles()


class SpacyExporter(Exporter):
    """``spacy/<split>.json``: a JSON list of ``[text, {"entities": [[start, end, label], ...]}]``.

    spaCy v2's training-tuple style (``nlp.update`` / ``GoldParse``; in v3,
    ``Example.from_dict(nlp.make_doc(text), annotations)`` reads the same dict). Offsets are
    character offsets into the text, end exclusive, as Ground Truth writes them, sorted by
    start; of overlapping entities only the first is kept, as ``doc.ents`` cannot hold both.
    Offsets are not snapped to token boundaries: spaCy warns about misaligned spans and
    leaves them out, which is better than guessing.
    """

    name = "spacy"
    kinds = frozenset({LabelKind.ENTITIES})
    source_fields = _TEXT_ONLY

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._counts: dict[str, int] = {}

    def write(self, split: str, obj: LabeledObject) -> None:
        _require_text(self, obj)
        if obj.failed:
            return
        handle = self._handles.get(split)
        if handle is None:
            handle = self.handle(split, f"{split}.json")
            handle.write(b"[\n")
        count = self._counts.get(split, 0)
        self._counts[split] = count + 1
        entities = [[entity.start, entity.end, entity.label] for entity in _without_overlaps(obj.entities)]
        handle.write((b",\n" if count else b"") + orjson.dumps([obj.source, {"entities": entities}]))

    def close(self) -> dict[str, list[str]]:
        for handle in self._handles.values():
            handle.write(b"\n]\n")
        return self.close_handles()
