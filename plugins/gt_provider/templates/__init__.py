"""Worker UI templates and label category configurations (standard library only).

Templates are Liquid files that Ground Truth renders for each task; we fill in only the
instructions, HTML-escaped, with ``string.Template`` (``${...}``) so Liquid's ``{{ }}``
stays untouched.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from importlib import resources
from string import Template

from gt_provider.exceptions import UnknownTaskTypeError

LABEL_CONFIG_DOCUMENT_VERSION = "2018-11-28"

#: Task type -> template file shipped in this package.
TEMPLATE_FILES = {
    "ImageMultiClass": "image_classification.liquid.html",
    "TextMultiClass": "text_classification.liquid.html",
}


def render_worker_template(
    task_type: str,
    *,
    header: str,
    short_instructions: str,
    full_instructions: str = "",
) -> str:
    """The worker task template of ``task_type`` with the instructions filled in."""
    try:
        filename = TEMPLATE_FILES[task_type]
    except KeyError:
        raise UnknownTaskTypeError(
            f"no worker template ships for task type {task_type!r}; templates exist for {sorted(TEMPLATE_FILES)}"
        ) from None
    source = resources.files(__package__).joinpath(filename).read_text(encoding="utf-8")
    return Template(source).substitute(
        header=html.escape(header),
        short_instructions=html.escape(short_instructions),
        full_instructions=html.escape(full_instructions or short_instructions),
    )


def label_category_config(labels: Sequence[str]) -> dict[str, object]:
    """The JSON document that ``LabelCategoryConfigS3Uri`` points at."""
    return {
        "document-version": LABEL_CONFIG_DOCUMENT_VERSION,
        "labels": [{"label": label} for label in labels],
    }
