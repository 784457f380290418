"""gt_provider — Amazon SageMaker Ground Truth labeling as Airflow pipelines.

Importing this package is cheap and imports nothing from Airflow or boto3: the DAG
processor, the ``python -m gt_provider.*`` commands and the local AWS all start here.
"""

from __future__ import annotations

__version__ = "0.1.0"


def get_provider_info() -> dict[str, object]:
    """Provider metadata, read by Airflow's ProvidersManager through the entry point."""
    return {
        "package-name": "gt-provider",
        "name": "Ground Truth",
        "description": "Amazon SageMaker Ground Truth labeling jobs (or Label Studio projects) as scheduled, reliable pipelines.",
        "versions": [__version__],
        "extra-links": [
            "gt_provider.links.labeling.GroundTruthLabelingJobLink",
            "gt_provider.links.labeling.LabelStudioProjectLink",
        ],
        "connection-types": [
            {"hook-class-name": "gt_provider.hooks.label_studio.LabelStudioHook", "connection-type": "labelstudio"}
        ],
        "integrations": [
            {
                "integration-name": "Amazon SageMaker Ground Truth",
                "external-doc-url": "https://docs.aws.amazon.com/sagemaker/latest/dg/sms.html",
                "tags": ["aws"],
            },
            {
                "integration-name": "Label Studio",
                "external-doc-url": "https://labelstud.io/guide/",
                "tags": ["software"],
            },
        ],
        "hooks": [
            {
                "integration-name": "Amazon SageMaker Ground Truth",
                "python-modules": ["gt_provider.hooks.ground_truth", "gt_provider.hooks.workteams"],
            },
            {"integration-name": "Label Studio", "python-modules": ["gt_provider.hooks.label_studio"]},
        ],
        "operators": [
            {
                "integration-name": "Amazon SageMaker Ground Truth",
                "python-modules": [
                    "gt_provider.operators.labeling",
                    "gt_provider.operators.manifest",
                    "gt_provider.operators.dataset",
                    "gt_provider.operators.training",
                    "gt_provider.operators.workteams",
                ],
            }
        ],
        "sensors": [
            {
                "integration-name": "Amazon SageMaker Ground Truth",
                "python-modules": ["gt_provider.sensors.labeling"],
            }
        ],
        "triggers": [
            {
                "integration-name": "Amazon SageMaker Ground Truth",
                "python-modules": ["gt_provider.triggers.labeling"],
            },
            {"integration-name": "Label Studio", "python-modules": ["gt_provider.triggers.label_studio"]},
        ],
    }
