"""CreateLabelingJob's limits, stated once (standard library only).

From botocore's SageMaker model and the developer guide (``shared/ground-truth-reference.md``).
The operator checks them before any AWS call; the local AWS enforces the same numbers
server-side, as AWS does. Per-task-type limits (labels, time limits, dataset size) live in
``task_types``.
"""

from __future__ import annotations

import re

NAME_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
ROLE_ARN_PATTERN = re.compile(r"^arn:aws[a-z\-]*:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+$")
KEYWORD_PATTERN = re.compile(r"^[A-Za-z0-9]+( [A-Za-z0-9]+)*$")
WORKTEAM_ARN_PATTERN = re.compile(
    r"^arn:aws[a-z\-]*:sagemaker:(?P<region>[a-z0-9\-]*):(?P<account>\d{12}|aws):workteam/"
    r"(?P<kind>private-crowd|public-crowd|vendor-crowd)/(?P<name>.+)$"
)
#: The workteam kind of Amazon Mechanical Turk, closed on 2026-09-30.
PUBLIC_WORKFORCE_KIND = "public-crowd"

WORKERS_PER_OBJECT = (1, 9)
MIN_TASK_TIME_LIMIT_SECONDS = 30
TASK_AVAILABILITY_SECONDS = (60, 30 * 24 * 3600)
MAX_CONCURRENT_TASKS = (1, 5000)
TASK_TITLE_LENGTH = (1, 128)
TASK_DESCRIPTION_LENGTH = (1, 255)
TASK_KEYWORDS = (1, 5)
TASK_KEYWORD_LENGTH = (1, 30)
MAX_TAGS = 50
MAX_PERCENTAGE_LABELED = (1, 100)
MIN_AUTO_LABELING_OBJECTS = 1250
