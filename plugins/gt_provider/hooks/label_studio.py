"""The Label Studio labeling backend as an Airflow hook, with its connection type.

A ``labelstudio`` connection holds the server's URL (host) and an API token (password):
a legacy token or a personal access token. Images stay in S3 and reach annotators as
presigned URLs made with the ``aws`` connection (the same one the rest of the pipeline
uses; offline, the local AWS), valid for the job's ``task_availability_lifetime`` capped
at S3's limit of 7 days -- Label Studio needs no AWS credentials of its own. A team that
keeps credentials in Label Studio (its S3 storage) sets ``"image_access": "s3"`` in the
connection's extra: tasks then carry the ``s3://`` URIs and the server resolves them.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.common.compat.sdk import BaseHook

from gt_provider.backends import Attachment, IfJobExists, LabelingBackend, LabelingJobOutput, LabelingJobState
from gt_provider.labelstudio.backend import LabelStudioBackend
from gt_provider.labelstudio.client import LabelStudioClient
from gt_provider.labelstudio.codecs import CAPABILITIES
from gt_provider.labelstudio.records import project_title
from gt_provider.s3io import split_s3_uri

#: S3's longest presigned URL (SigV4): 7 days.
MAX_PRESIGN_SECONDS = 7 * 24 * 3600
IMAGE_ACCESS = ("presign", "s3")


class LabelStudioHook(BaseHook, LabelingBackend):
    """Labeling jobs as Label Studio projects (``gt_provider.labelstudio.backend``).

    :param label_studio_conn_id: The ``labelstudio`` connection (URL + API token).
    :param aws_conn_id: The AWS connection for the manifests, the images and the output.
    :param presign_seconds: How long an image URL stays valid (capped at 7 days).
    """

    conn_name_attr = "label_studio_conn_id"
    default_conn_name = "label_studio_default"
    conn_type = "labelstudio"
    hook_name = "Label Studio"
    capabilities = CAPABILITIES

    def __init__(
        self,
        label_studio_conn_id: str = default_conn_name,
        *,
        aws_conn_id: str | None = "aws_default",
        presign_seconds: int = MAX_PRESIGN_SECONDS,
    ) -> None:
        super().__init__()
        self.label_studio_conn_id = label_studio_conn_id
        self.aws_conn_id = aws_conn_id
        self.presign_seconds = min(int(presign_seconds), MAX_PRESIGN_SECONDS)

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """The connection form: a URL and a token, nothing else."""
        return {
            "hidden_fields": ["schema", "login", "port"],
            "relabeling": {"host": "Label Studio URL", "password": "API token"},
            "placeholders": {
                "host": "http://127.0.0.1:8080",
                "password": "legacy token, or a personal access token",
                "extra": '{"image_access": "presign"}  (or "s3": the server resolves s3:// through its S3 storage)',
            },
        }

    @cached_property
    def client(self) -> LabelStudioClient:
        connection = self.get_connection(self.label_studio_conn_id)
        url = connection.host or ""
        if url and "://" not in url:
            url = f"{connection.schema or 'http'}://{url}" + (f":{connection.port}" if connection.port else "")
        return LabelStudioClient(url, connection.password or "", where=f"connection {self.label_studio_conn_id}")

    @cached_property
    def image_access(self) -> str:
        extra = self.get_connection(self.label_studio_conn_id).extra_dejson
        access = extra.get("image_access", "presign")
        if access not in IMAGE_ACCESS:
            raise ValueError(
                f"connection {self.label_studio_conn_id}: image_access must be one of {IMAGE_ACCESS}, got {access!r}"
            )
        return access

    @cached_property
    def s3(self) -> Any:
        return S3Hook(aws_conn_id=self.aws_conn_id).get_conn()

    @cached_property
    def backend(self) -> LabelStudioBackend:
        return LabelStudioBackend(self.client, self.s3, self.image_url, log=self.log)

    def image_url(self, s3_uri: str) -> str:
        """What an image task shows: a presigned GET of the object, or the URI for the server to resolve."""
        if self.image_access == "s3":
            return s3_uri
        bucket, key = split_s3_uri(s3_uri)
        return self.s3.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=self.presign_seconds
        )

    def test_connection(self) -> tuple[bool, str]:
        """The "Test" button of the connection form: is the token accepted?"""
        try:
            user = self.client.whoami()
        except Exception as error:
            return False, str(error)
        return True, f"Connected to {self.client.url} as {user.get('email') or user.get('username')}"

    # ------------------------------------------------------ the backend contract
    def create_or_attach(self, spec: Any, *, if_exists: IfJobExists = "reattach") -> Attachment:
        return self.backend.create_or_attach(spec, if_exists=if_exists)

    def describe(self, job_name: str) -> LabelingJobState:
        return self.backend.describe(job_name)

    def stop(self, job_name: str) -> None:
        self.backend.stop(job_name)

    def collect(self, job_name: str) -> LabelingJobOutput:
        return self.backend.collect(job_name)

    def project_url(self, job_name: str) -> str | None:
        """The job's project page, or None before the project exists."""
        project = self.client.find_project(project_title(job_name))
        return None if project is None else self.backend.project_url(project["id"])
