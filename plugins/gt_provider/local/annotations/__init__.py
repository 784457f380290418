"""How the simulated workforce labels each built-in task type, and how its answers are consolidated.

One :class:`~gt_provider.local.annotations.base.Simulation` per task type family, chosen by
``SIMULATIONS`` (keyed by the registry's task type name). Every built-in type has a row:
a job of any of them labels locally. Custom workflows (user Lambdas) have none.

Reference answers
=================
A manifest line may carry the truth under ``gt-local-answer``
(``settings.REFERENCE_ANSWER_FIELD``). Ground Truth passes unknown keys through, so the
same manifest runs on AWS. Workers give the truth with their accuracy; without a
reference they answer at random (image tasks then need the image in S3 for its size;
video and 3D workers draw nothing). A reference that does not fit its task type fails
that object with a ``failure-reason`` naming the manifest line. Formats:

``ImageMultiClass``, ``TextMultiClass``, ``VideoMultiClass``
    a label name: ``"cat"``
``ImageMultiClassMultiLabel``, ``TextMultiClassMultiLabel``
    a list of label names, possibly empty: ``["cat", "dog"]``
``BoundingBox``, ``AdjustmentBoundingBox``
    ``{"image_size": {"width": 32, "height": 32, "depth": 3},
    "boxes": [{"label": "cat", "left": 2, "top": 3, "width": 10, "height": 8}]}``;
    ``image_size`` may be left out when the image is in S3 (or, for adjustment, the
    earlier label has it); ``depth`` defaults to 3
``SemanticSegmentation``, ``AdjustmentSemanticSegmentation``
    ``{"image_size": {...}, "shapes": [{"label": "cat", "rect": [left, top, width, height]},
    {"label": "dog", "polygon": [[x, y], [x, y], [x, y]]}]}``; later shapes paint over
    earlier ones, unpainted pixels are background (class id 0)
``VerificationBoundingBox``, ``VerificationSemanticSegmentation``
    the verdict, one of the job's labels: ``"correct"``. In a job chained on a bounding
    box or segmentation job's output, the line may still carry that job's reference
    (boxes or shapes, above): the true verdict is then the first label when the earlier
    label matches it (every box IoU >= 0.5 with its own true box; 95% of mask pixels)
    and the second label when it does not
``NamedEntityRecognition``
    ``[{"label": "person", "startOffset": 0, "endOffset": 5}]`` (character offsets into
    ``source``, end exclusive)
``VideoObjectDetection``, ``VideoObjectTracking`` (and ``Adjustment...``)
    ``{"frames": [{"frame": "frame_0000.jpeg", "annotations": [{"label": "car", "left": 4,
    "top": 5, "width": 10, "height": 6, "object": "car:1"}]}]}``; ``object`` (the
    instance, same in every frame) defaults to the n-th object of that label in the frame,
    ``frame`` to ``frame_<nnnn>.jpeg``; ``label-category-attributes`` is passed through
``3DPointCloudObjectDetection`` (and ``Adjustment...``)
    ``{"annotations": [{"label": "car", "center-x": 1.0, "center-y": 2.0, "center-z": 0.5,
    "length": 4.0, "width": 2.0, "height": 1.5, "yaw": 0.3}]}``; ``roll``, ``pitch``,
    ``yaw`` default to 0, ``object`` as for video
``3DPointCloudObjectTracking`` (and ``Adjustment...``)
    ``{"frames": [{"frame": "0.txt.pcd", "annotations": [<cuboid as above>]}]}``
``3DPointCloudSemanticSegmentation`` (and ``Adjustment...``)
    ``{"point_count": 1000, "segments": [{"label": "car", "start": 0, "end": 120}]}``
    (point index ranges, end exclusive; other points are unlabeled)

Review jobs (verification, adjustment) read the earlier label from the line's
``auditLabelAttributeName`` attribute (label category configuration), or, when the
configuration names none, from the line's one label of the reviewed output type.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from gt_provider.local.annotations.base import (
    Artifact,
    Consolidated,
    JobSpec,
    ObjectSource,
    ReferenceFormatError,
    Simulation,
)
from gt_provider.local.annotations.boxes import AdjustmentBoundingBox, BoundingBox
from gt_provider.local.annotations.classification import MultiLabel, SingleLabel, Verification
from gt_provider.local.annotations.frames import PointCloudObjects, VideoFrameObjects
from gt_provider.local.annotations.point_segmentation import PointCloudSegmentation
from gt_provider.local.annotations.segmentation import AdjustmentSemanticSegmentation, SemanticSegmentation
from gt_provider.local.annotations.text_spans import NamedEntityRecognition

# fmt: off
#: Task type name (``task_types.TASK_TYPES``) -> its simulation.
SIMULATIONS: Mapping[str, Simulation] = MappingProxyType({
    "ImageMultiClass": SingleLabel("crowd-image-classifier"),
    "TextMultiClass": SingleLabel("crowd-classifier"),
    "VideoMultiClass": SingleLabel("crowd-classifier"),
    "ImageMultiClassMultiLabel": MultiLabel("crowd-image-classifier-multi-select"),
    "TextMultiClassMultiLabel": MultiLabel("crowd-classifier-multi-select"),
    "BoundingBox": BoundingBox(),
    "AdjustmentBoundingBox": AdjustmentBoundingBox(),
    "VerificationBoundingBox": Verification("groundtruth/object-detection"),
    "SemanticSegmentation": SemanticSegmentation(),
    "AdjustmentSemanticSegmentation": AdjustmentSemanticSegmentation(),
    "VerificationSemanticSegmentation": Verification("groundtruth/semantic-segmentation"),
    "NamedEntityRecognition": NamedEntityRecognition(),
    "VideoObjectDetection": VideoFrameObjects(tracking=False),
    "VideoObjectTracking": VideoFrameObjects(tracking=True),
    "AdjustmentVideoObjectDetection": VideoFrameObjects(tracking=False, adjustment=True),
    "AdjustmentVideoObjectTracking": VideoFrameObjects(tracking=True, adjustment=True),
    "3DPointCloudObjectDetection": PointCloudObjects(tracking=False),
    "3DPointCloudObjectTracking": PointCloudObjects(tracking=True),
    "Adjustment3DPointCloudObjectDetection": PointCloudObjects(tracking=False, adjustment=True),
    "Adjustment3DPointCloudObjectTracking": PointCloudObjects(tracking=True, adjustment=True),
    "3DPointCloudSemanticSegmentation": PointCloudSegmentation(),
    "Adjustment3DPointCloudSemanticSegmentation": PointCloudSegmentation(adjustment=True),
})
# fmt: on

__all__ = [
    "SIMULATIONS",
    "Artifact",
    "Consolidated",
    "JobSpec",
    "ObjectSource",
    "ReferenceFormatError",
    "Simulation",
]
