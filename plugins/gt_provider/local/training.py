"""Local training algorithms: SageMaker training jobs that really fit a model.

A training job whose ``AlgorithmSpecification.TrainingImage`` names a repository under
``gt-provider-local/`` (any registry host and tag, e.g.
``gt-provider-local/image-classification:latest``) runs here instead of in a container:

* ``image-classification`` — images (PNG/JPEG) resized to ``image_size`` x ``image_size``
  grey pixels (hyperparameter, default 8), scikit-learn logistic regression.
* ``text-classification`` — TF-IDF of the ``source`` text, logistic regression.

Both read the ``train`` and ``validation`` channels as SageMaker's built-in algorithms do
in Pipe mode: ``S3DataType: AugmentedManifestFile`` with ``AttributeNames`` =
``[<source attribute>, <label attribute>]`` (the label is a class id). They write
``model.tar.gz`` to ``<S3OutputPath>/<job>/output/`` and report ``train:accuracy`` and
``validation:accuracy`` in ``FinalMetricDataList``. A training error fails the job with
``FailureReason: AlgorithmError: ...`` as SageMaker does.
"""

from __future__ import annotations

import io
import json
import logging
import pickle
import tarfile
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from gt_provider.local.exceptions import ValidationException
from gt_provider.local.s3 import S3Store

log = logging.getLogger(__name__)

LOCAL_IMAGE_REPOSITORY = "gt-provider-local"


def local_algorithm(training_image: str | None) -> str | None:
    """The algorithm a TrainingImage names, or None for an image that is not local."""
    if not training_image:
        return None
    path = training_image.rsplit("@", 1)[0]
    parts = path.split("/")
    if len(parts) > 2 and ("." in parts[0] or ":" in parts[0]):
        parts = parts[1:]  # registry host
    if len(parts) != 2 or parts[0] != LOCAL_IMAGE_REPOSITORY:
        return None
    return parts[1].split(":", 1)[0]


def _channel_examples(s3: S3Store, channel: dict[str, Any]) -> list[tuple[Any, int]]:
    source = channel["DataSource"]["S3DataSource"]
    if source.get("S3DataType") != "AugmentedManifestFile":
        raise ValueError(
            f"channel {channel['ChannelName']!r}: local algorithms read S3DataType "
            f"'AugmentedManifestFile', got {source.get('S3DataType')!r}"
        )
    names = source.get("AttributeNames") or []
    if len(names) != 2:
        raise ValueError(f"channel {channel['ChannelName']!r}: AttributeNames must be [source, label], got {names}")
    body = s3.get(source["S3Uri"])
    if body is None:
        raise ValueError(f"channel {channel['ChannelName']!r}: {source['S3Uri']} does not exist")
    examples = []
    for number, raw in enumerate(body.decode().splitlines(), 1):
        if not raw.strip():
            continue
        line = json.loads(raw)
        if names[1] not in line:
            continue  # an object that failed labeling carries no label
        try:
            examples.append((line[names[0]], int(line[names[1]])))
        except (KeyError, ValueError, TypeError):
            raise ValueError(
                f"{source['S3Uri']} line {number}: needs {names[0]!r} and an integer {names[1]!r}"
            ) from None
    if not examples:
        raise ValueError(f"channel {channel['ChannelName']!r}: no labeled examples in {source['S3Uri']}")
    return examples


def image_vectors(bodies: list[bytes], size: int = 8) -> Any:
    """Images as rows of ``size`` x ``size`` grey pixels in [0, 1]: the local image models' features."""
    import numpy as np
    from PIL import Image

    rows = [
        np.asarray(
            Image.open(io.BytesIO(body)).convert("L").resize((size, size), Image.Resampling.BOX), dtype=np.float64
        ).ravel()
        / 255.0
        for body in bodies
    ]
    return np.vstack(rows) if rows else np.zeros((0, size * size))


def classifier(algorithm: str, c: float = 1.0) -> Any:
    """An unfitted scikit-learn model: logistic regression on pixels, or on TF-IDF for text."""
    from sklearn.linear_model import LogisticRegression

    if algorithm == "image-classification":
        return LogisticRegression(C=c, max_iter=2000)
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline

    return make_pipeline(TfidfVectorizer(ngram_range=(1, 2), min_df=1), LogisticRegression(C=c, max_iter=2000))


def _features(algorithm: str, s3: S3Store, hyperparameters: dict[str, str]) -> Callable[[list[Any]], Any]:
    if algorithm != "image-classification":
        return lambda texts: [str(text) for text in texts]
    size = int(hyperparameters.get("image_size", "8"))

    def features(refs: list[Any]) -> Any:
        bodies = []
        for ref in refs:
            body = s3.get(ref)
            if body is None:
                raise ValueError(f"image {ref} does not exist")
            bodies.append(body)
        return image_vectors(bodies, size)

    return features


def _fit(
    algorithm: str, s3: S3Store, channels: dict[str, list[tuple[Any, int]]], hyperparameters: dict[str, str]
) -> tuple[Any, dict[str, float]]:
    features = _features(algorithm, s3, hyperparameters)
    model = classifier(algorithm, float(hyperparameters.get("C", "1.0")))
    train_x = features([source for source, _ in channels["train"]])
    train_y = [label for _, label in channels["train"]]
    model.fit(train_x, train_y)
    metrics = {"train:accuracy": float(model.score(train_x, train_y))}
    if "validation" in channels:
        validation = channels["validation"]
        metrics["validation:accuracy"] = float(
            model.score(features([source for source, _ in validation]), [label for _, label in validation])
        )
    return model, metrics


def model_archive(model: Any, metrics: dict[str, Any]) -> bytes:
    """``model.tar.gz`` as the local algorithms write it: ``model.pkl`` and ``metrics.json``."""
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        for name, payload in (("model.pkl", pickle.dumps(model)), ("metrics.json", json.dumps(metrics).encode())):
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return archive.getvalue()


def read_model_archive(body: bytes) -> Any:
    """The pickled model of a ``model.tar.gz`` that :func:`model_archive` wrote."""
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        member = tar.extractfile("model.pkl")
        if member is None:
            raise ValueError("model.tar.gz has no model.pkl")
        return pickle.loads(member.read())  # an artifact the local AWS wrote itself


ALGORITHMS = ("image-classification", "text-classification")


def check_request(training_image: str | None, input_data_config: list[dict[str, Any]] | None) -> str | None:
    """Validate a CreateTrainingJob request for a local image; the algorithm name or None."""
    algorithm = local_algorithm(training_image)
    if algorithm is None:
        return None
    if algorithm not in ALGORITHMS:
        raise ValidationException(
            f"TrainingImage '{training_image}' names no local algorithm; use "
            + " or ".join(f"'{LOCAL_IMAGE_REPOSITORY}/{name}:latest'" for name in ALGORITHMS)
        )
    names = {channel.get("ChannelName") for channel in input_data_config or []}
    if "train" not in names:
        raise ValidationException(f"Local algorithm {algorithm} needs a 'train' channel; got {sorted(names)}")
    return algorithm


def run_in_background(training_job: Any, algorithm: str, account_id: str) -> threading.Thread:
    """Fit in a thread; the moto training job is InProgress until the fit ends."""
    training_job.training_job_status = "InProgress"
    training_job.secondary_status = "Training"
    training_job.final_metric_data_list = []
    training_job.training_end_time = None
    training_job.algorithm_specification["MetricDefinitions"] = [
        {"Name": "validation:accuracy", "Regex": "validation:accuracy=(\\S+)"},
        {"Name": "train:accuracy", "Regex": "train:accuracy=(\\S+)"},
    ]

    def train() -> None:
        s3 = S3Store(account_id)
        try:
            channels = {
                channel["ChannelName"]: _channel_examples(s3, channel) for channel in training_job.input_data_config
            }
            model, metrics = _fit(algorithm, s3, channels, training_job.hyper_parameters or {})
            s3.put(training_job.model_artifacts["S3ModelArtifacts"], model_archive(model, metrics))
            now = datetime.now(UTC)
            training_job.final_metric_data_list = [
                {"MetricName": name, "Value": value, "Timestamp": now} for name, value in sorted(metrics.items())
            ]
            training_job.training_job_status = training_job.secondary_status = "Completed"
        except Exception as error:
            log.warning("local training job %s failed: %s", training_job.training_job_name, error)
            training_job.failure_reason = f"AlgorithmError: {error}"
            training_job.training_job_status = training_job.secondary_status = "Failed"
        finally:
            training_job.training_end_time = training_job.last_modified_time = datetime.now(UTC)

    thread = threading.Thread(target=train, name=f"train-{training_job.training_job_name}", daemon=True)
    thread.start()
    return thread
