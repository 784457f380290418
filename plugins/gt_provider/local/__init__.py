"""gt_provider.local — the embedded local AWS.

moto's server (S3, IAM, SageMaker and the rest) plus what moto lacks for this project:
Ground Truth labeling jobs and private workteams with a simulated workforce, and training
jobs that really fit a scikit-learn model. Start it with ``python -m gt_provider.local
serve``; see ``server.LocalAws`` for the in-process form used by tests and ``make demo``.

Nothing here is imported by the provider's operators: only the ``aws`` connection's
``endpoint_url`` tells a DAG which world it runs in.
"""

from __future__ import annotations

from gt_provider.local.settings import REFERENCE_ANSWER_FIELD

__all__ = ["REFERENCE_ANSWER_FIELD"]
