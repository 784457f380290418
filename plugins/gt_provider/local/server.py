"""The embedded local AWS: moto's server with Ground Truth and local training added.

``install()`` patches moto once per process; ``LocalAws`` runs the server in a thread on a
free port (tests, ``make demo``); ``bootstrap()`` creates, through the public API, what an
existing Ground Truth account already has: a bucket, an execution role and a private
workteam. The control endpoints under ``/moto-api/gt-local/`` change settings and move the
emulated clock; :mod:`gt_provider.local.control` is their client.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from typing import Any

from gt_provider.local import settings as local_settings

log = logging.getLogger(__name__)

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT = "123456789012"
DEMO_BUCKET = "gt-provider-demo"
DEMO_ROLE_NAME = "GroundTruthExecutionRole"
DEMO_WORKTEAM_NAME = "gt-local-team"
DEMO_ROLE_ARN = f"arn:aws:iam::{DEFAULT_ACCOUNT}:role/{DEMO_ROLE_NAME}"
DEMO_WORKTEAM_ARN = f"arn:aws:sagemaker:{DEFAULT_REGION}:{DEFAULT_ACCOUNT}:workteam/private-crowd/{DEMO_WORKTEAM_NAME}"

_install_lock = threading.Lock()
_installed = False


def _control(handler: Any) -> Any:
    """A moto-api view: JSON body in, JSON out, errors as 400 with the message."""

    def view(request: Any, full_url: str, headers: Any) -> tuple[int, dict[str, str], str]:
        try:
            body = json.loads(request.data or b"{}") if request.method == "POST" else {}
            return 200, {"Content-Type": "application/json"}, json.dumps(handler(body))
        except (TypeError, ValueError) as error:
            return 400, {"Content-Type": "application/json"}, json.dumps({"error": str(error)})

    return view


def _configure(body: dict[str, Any]) -> dict[str, Any]:
    return (local_settings.configure(**body) if body else local_settings.current()).as_dict()


def _advance(body: dict[str, Any]) -> dict[str, Any]:
    local_settings.current().clock.advance(float(body.get("seconds", 0)))
    return {"advanced": float(body.get("seconds", 0))}


_faults = random.Random(0)


def _with_fault_injection(call_action: Any) -> Any:
    """Answer a configured fraction of SageMaker calls with throttling or a server error, unprocessed;
    hold back the answer of the actions in ``response_delays`` after processing them."""

    def call(self: Any) -> Any:
        config = local_settings.current()
        draw = _faults.random() if config.throttle_rate or config.server_error_rate else 1.0
        if draw < config.throttle_rate:
            return (
                400,
                {"Content-Type": "application/x-amz-json-1.1"},
                json.dumps(
                    {"__type": "ThrottlingException", "message": "Rate exceeded (gt_provider.local fault injection)"}
                ),
            )
        if draw < config.throttle_rate + config.server_error_rate:
            return (
                500,
                {"Content-Type": "application/x-amz-json-1.1"},
                json.dumps({"__type": "InternalFailure", "message": "gt_provider.local fault injection"}),
            )
        response = call_action(self)
        delay = config.response_delays.get(self._get_action(), 0.0) if config.response_delays else 0.0
        if delay:
            log.info("Holding back the answer to %s for %.1f s (fault injection)", self._get_action(), delay)
            time.sleep(delay)
        return response

    return call


_conditional_put_lock = threading.Lock()


def _make_conditional_puts_atomic() -> None:
    """S3 checks If-Match / If-None-Match and writes in one step; moto's threaded server checks,
    then writes, so two racing conditional PUTs could both pass. Serialize the conditional
    ones (unconditional PUTs keep running in parallel), so the ledger's compare-and-swap is
    tested against the guarantee S3 gives."""
    from moto.s3.responses import S3Response

    original_put_object = S3Response.put_object

    def put_object(self: S3Response) -> Any:
        if self.headers.get("If-Match") or self.headers.get("If-None-Match"):
            with _conditional_put_lock:
                return original_put_object(self)
        return original_put_object(self)

    S3Response.put_object = put_object  # type: ignore[method-assign]


def install() -> None:
    """Add Ground Truth and local training to moto (idempotent, once per process)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        from moto.moto_api._internal import urls as moto_api_urls
        from moto.sagemaker.responses import SageMakerResponse

        from gt_provider.local import training
        from gt_provider.local.responses import HANDLERS

        for action, handler in HANDLERS.items():
            setattr(SageMakerResponse, action, handler)

        original_create_training_job = SageMakerResponse.create_training_job

        def create_training_job(self: SageMakerResponse) -> Any:
            spec = self._get_param("AlgorithmSpecification") or {}
            algorithm = training.check_request(spec.get("TrainingImage"), self._get_param("InputDataConfig"))
            result = original_create_training_job(self)
            if algorithm is not None:
                job = self.sagemaker_backend.training_jobs[self._get_param("TrainingJobName")]
                training.run_in_background(job, algorithm, self.current_account)
            return result

        SageMakerResponse.create_training_job = create_training_job  # type: ignore[method-assign]
        _make_conditional_puts_atomic()
        SageMakerResponse.call_action = _with_fault_injection(SageMakerResponse.call_action)  # type: ignore[method-assign]
        moto_api_urls.url_paths["{0}/moto-api/gt-local/config"] = _control(_configure)
        moto_api_urls.url_paths["{0}/moto-api/gt-local/advance"] = _control(_advance)
        _installed = True


class LocalAws:
    """moto's server with Ground Truth, in a daemon thread of this process.

    >>> with LocalAws() as aws:          # doctest: +SKIP
    ...     boto3.client("sagemaker", endpoint_url=aws.endpoint_url, ...)
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self._server: Any = None

    @property
    def endpoint_url(self) -> str:
        if self._server is None:
            raise RuntimeError("LocalAws is not started")
        host, port = self._server.get_host_and_port()
        return f"http://{host}:{port}"

    def start(self) -> str:
        from moto.server import ThreadedMotoServer

        install()
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
        self._server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
        self._server.start()
        return self.endpoint_url

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> LocalAws:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def bootstrap(endpoint_url: str, region: str = DEFAULT_REGION) -> dict[str, str]:
    """Create the demo bucket, execution role and private workteam (idempotent)."""
    import boto3

    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region)
    s3 = session.client("s3", endpoint_url=endpoint_url)
    iam = session.client("iam", endpoint_url=endpoint_url)
    sagemaker = session.client("sagemaker", endpoint_url=endpoint_url)
    existing = {bucket["Name"] for bucket in s3.list_buckets().get("Buckets", [])}
    if DEMO_BUCKET not in existing:
        s3.create_bucket(Bucket=DEMO_BUCKET)
    try:
        iam.get_role(RoleName=DEMO_ROLE_NAME)
    except iam.exceptions.NoSuchEntityException:
        iam.create_role(
            RoleName=DEMO_ROLE_NAME,
            AssumeRolePolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "sagemaker.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
        )
    teams = sagemaker.list_workteams(NameContains=DEMO_WORKTEAM_NAME)["Workteams"]
    if not any(team["WorkteamName"] == DEMO_WORKTEAM_NAME for team in teams):
        sagemaker.create_workteam(
            WorkteamName=DEMO_WORKTEAM_NAME,
            Description="Simulated private workforce of gt_provider.local",
            MemberDefinitions=[
                {
                    "CognitoMemberDefinition": {
                        "UserPool": f"{region}_gtlocal",
                        "UserGroup": "labelers",
                        "ClientId": "gtlocalclient",
                    }
                }
            ],
        )
    return {"bucket": DEMO_BUCKET, "role_arn": DEMO_ROLE_ARN, "workteam_arn": DEMO_WORKTEAM_ARN}
