"""The dataset versions that DAG runs built, and their cards, for the provider's pages.

A dataset build task returns its Asset event's extra (``GroundTruthBuildDatasetOperator``):
the version's folder, its card's URI, counts and job names. A run's *built dataset* is that
return value; the Labeling jobs page links each job to the version its run built, and the
card page renders the version's ``README.md`` with its plots, read from where the build
wrote them (S3 through the run's AWS connection, or a local folder).

Only files of the version folder that the card shows can be read through the page: the
card itself and its PNG plots, by plain file name.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gt_provider.datasets.card import README_FILE, strip_front_matter

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

#: Files of a version folder the card page serves: the plots the card embeds.
PLOT_FILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*\.png$")
_IMAGE_LINK = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)")

RunKey = tuple[str, str]


class CardNotFound(LookupError):
    """The run built no dataset, or its card cannot be read; the message says which."""


@dataclass(frozen=True)
class BuiltDataset:
    """A dataset version a run built: what its build task returned."""

    dag_id: str
    run_id: str
    task_id: str
    name: str
    version: int
    uri: str

    @classmethod
    def from_result(cls, dag_id: str, run_id: str, task_id: str, value: Any) -> BuiltDataset | None:
        """The dataset in a task's return value, or None when the value is not a build's."""
        if not isinstance(value, Mapping) or not {"name", "version", "uri", "card_uri"} <= value.keys():
            return None
        try:
            version = int(value["version"])
        except (TypeError, ValueError):
            return None
        return cls(dag_id, run_id, task_id, str(value["name"]), version, str(value["uri"]))

    def file_uri(self, name: str) -> str:
        return self.uri.rstrip("/") + "/" + name


def built_datasets(session: Session, runs: Iterable[RunKey]) -> dict[RunKey, BuiltDataset]:
    """The dataset each of ``runs`` built (the newest version, when a run built several)."""
    from airflow.models.xcom import XComModel
    from sqlalchemy import select, tuple_

    keys = sorted(set(runs))
    if not keys:
        return {}
    query = select(XComModel.dag_id, XComModel.run_id, XComModel.task_id, XComModel.value).where(
        XComModel.key == "return_value", tuple_(XComModel.dag_id, XComModel.run_id).in_(keys)
    )
    found: dict[RunKey, BuiltDataset] = {}
    for entry in session.execute(query).all():
        built = BuiltDataset.from_result(entry.dag_id, entry.run_id, entry.task_id, XComModel.deserialize_value(entry))
        key = (entry.dag_id, entry.run_id)
        if built is not None and (key not in found or built.version > found[key].version):
            found[key] = built
    return found


def read_version_file(built: BuiltDataset, name: str, *, aws_conn_id: str | None = "aws_default") -> bytes:
    """One file of the version folder (the card or a plot): S3 through ``aws_conn_id``, else a local folder."""
    if name != README_FILE and not PLOT_FILE.match(name):
        raise CardNotFound(f"{name!r} is not a file the dataset card shows")
    uri = built.file_uri(name)
    if uri.startswith("s3://"):
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        from gt_provider.datasets.errors import DatasetReadError
        from gt_provider.datasets.storage import DatasetLocation

        location = DatasetLocation(built.uri, s3_client=S3Hook(aws_conn_id=aws_conn_id).get_conn())
        try:
            return location.read_bytes(name)
        except DatasetReadError as error:
            raise CardNotFound(str(error)) from error
    path = Path(uri.removeprefix("file://"))
    if not path.is_file():
        raise CardNotFound(f"{uri} is not on this server (the dataset was built into a local folder elsewhere)")
    return path.read_bytes()


def card_html(markdown: str, file_url: Callable[[str], str]) -> str:
    """The card's Markdown as HTML; its plots' relative links point at ``file_url(name)``.

    Raw HTML in the card is escaped, not rendered (the card quotes labels and instructions
    that people typed). The Hugging Face YAML front matter of a version with the
    ``huggingface`` format is metadata for the Hub, not text for people: it is left out.
    """
    from markdown_it import MarkdownIt

    def image(match: re.Match[str]) -> str:
        target = match.group(2)
        if PLOT_FILE.match(target):
            target = file_url(target)
        return f"![{match.group(1)}]({target})"

    return MarkdownIt("js-default").render(_IMAGE_LINK.sub(image, strip_front_matter(markdown)))


def aws_conn_id_of_run(session: Session, dag_id: str, run_id: str) -> str:
    """The AWS connection the run's labeling job used (the build task reads and writes through the same)."""
    from airflow.models.xcom import XComModel
    from sqlalchemy import select

    from gt_provider.job_records import JOB_RECORD_KEY, JobRecord

    query = select(XComModel.value).where(
        XComModel.key == JOB_RECORD_KEY, XComModel.dag_id == dag_id, XComModel.run_id == run_id
    )
    for entry in session.execute(query).all():
        record = JobRecord.from_xcom(XComModel.deserialize_value(entry))
        if record is not None and record.aws_conn_id:
            return record.aws_conn_id
    return "aws_default"
