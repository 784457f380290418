"""What a task type's input manifest lines point at, as a table.

The task-type registry (``gt_provider.task_types``) knows a task's family; a manifest needs one
more fact: whether ``source-ref`` names the data object itself (an image, a video clip, a point
cloud) or a frame sequence file that lists the frames. That decides the line schema, which
file extensions Ground Truth reads, how large an object may be, and which schema a sequence
file follows (developer guide, "Supported data formats" and the video frame / 3D point cloud
input pages).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

#: Ground Truth refuses images larger than this (developer guide, "Input Data Quotas").
MAX_IMAGE_BYTES = 40 * 1024 * 1024


class DataKind(StrEnum):
    """What the data object of a manifest line is."""

    IMAGE = "image"
    VIDEO_CLIP = "video_clip"
    VIDEO_FRAME_SEQUENCE = "video_frame_sequence"
    POINT_CLOUD_FRAME = "point_cloud_frame"
    POINT_CLOUD_SEQUENCE = "point_cloud_sequence"
    TEXT = "text"
    CUSTOM = "custom"


@dataclass(frozen=True)
class DataLayout:
    """How lines of one data kind look and what their S3 objects must be."""

    kind: DataKind
    #: Stem of the line schema file in ``schemas/`` (``<stem>.schema.json``).
    line_schema: str
    #: Lower-case extensions Ground Truth reads for ``source-ref``; None: not checked.
    extensions: tuple[str, ...] | None
    #: Largest S3 object Ground Truth accepts; None: no documented limit.
    max_object_bytes: int | None = None
    #: Stem of the schema of the sequence file that ``source-ref`` points at, if any.
    sequence_schema: str | None = None


LAYOUTS: Mapping[DataKind, DataLayout] = MappingProxyType(
    {
        DataKind.IMAGE: DataLayout(
            DataKind.IMAGE, "source-ref-line", (".jpg", ".jpeg", ".png"), max_object_bytes=MAX_IMAGE_BYTES
        ),
        DataKind.VIDEO_CLIP: DataLayout(DataKind.VIDEO_CLIP, "source-ref-line", (".mp4", ".ogg", ".webm")),
        DataKind.VIDEO_FRAME_SEQUENCE: DataLayout(
            DataKind.VIDEO_FRAME_SEQUENCE, "source-ref-line", (".json",), sequence_schema="video-frame-sequence"
        ),
        DataKind.POINT_CLOUD_FRAME: DataLayout(DataKind.POINT_CLOUD_FRAME, "point-cloud-frame-line", (".bin", ".txt")),
        DataKind.POINT_CLOUD_SEQUENCE: DataLayout(
            DataKind.POINT_CLOUD_SEQUENCE,
            "source-ref-line",
            (".json",),
            sequence_schema="point-cloud-frame-sequence",
        ),
        # Text is inline ('source'), or one S3 object per line whose extension is free.
        DataKind.TEXT: DataLayout(DataKind.TEXT, "source-or-source-ref-line", None),
        DataKind.CUSTOM: DataLayout(DataKind.CUSTOM, "source-or-source-ref-line", None),
    }
)

_I, _V, _VS = DataKind.IMAGE, DataKind.VIDEO_CLIP, DataKind.VIDEO_FRAME_SEQUENCE
_PF, _PS, _T = DataKind.POINT_CLOUD_FRAME, DataKind.POINT_CLOUD_SEQUENCE, DataKind.TEXT

#: Task type name -> the data its manifest lines point at. Review types read the same data
#: as the type they review. A test checks that every registry task type has a row.
TASK_DATA_KINDS: Mapping[str, DataKind] = MappingProxyType(
    {
        "ImageMultiClass": _I,
        "ImageMultiClassMultiLabel": _I,
        "BoundingBox": _I,
        "SemanticSegmentation": _I,
        "VerificationBoundingBox": _I,
        "AdjustmentBoundingBox": _I,
        "VerificationSemanticSegmentation": _I,
        "AdjustmentSemanticSegmentation": _I,
        "TextMultiClass": _T,
        "TextMultiClassMultiLabel": _T,
        "NamedEntityRecognition": _T,
        "VideoMultiClass": _V,
        "VideoObjectDetection": _VS,
        "VideoObjectTracking": _VS,
        "AdjustmentVideoObjectDetection": _VS,
        "AdjustmentVideoObjectTracking": _VS,
        # Single-frame 3D tasks label one point cloud per line; tracking follows a sequence.
        "3DPointCloudObjectDetection": _PF,
        "3DPointCloudSemanticSegmentation": _PF,
        "Adjustment3DPointCloudObjectDetection": _PF,
        "Adjustment3DPointCloudSemanticSegmentation": _PF,
        "3DPointCloudObjectTracking": _PS,
        "Adjustment3DPointCloudObjectTracking": _PS,
        "Custom": DataKind.CUSTOM,
    }
)


def layout_for(task_type_name: str) -> DataLayout:
    """The layout of a registry task type (the name is already known to be valid)."""
    return LAYOUTS[TASK_DATA_KINDS[task_type_name]]
