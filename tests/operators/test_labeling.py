"""GroundTruthLabelingJobOperator against the local AWS."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from gt_provider.exceptions import (
    InvalidLabelingJobConfigError,
    LabelingJobConflictError,
    LabelingJobFailedError,
    PublicWorkforceUnavailableError,
)
from gt_provider.links.labeling import GroundTruthLabelingJobLink
from gt_provider.operators.labeling import GroundTruthLabelingJobOperator, GroundTruthStopLabelingJobOperator
from gt_provider.triggers.labeling import GroundTruthLabelingJobTrigger


class _TaskInstance(SimpleNamespace):
    """execute() reads only the task instance's identity and pushes XCom (the console link):
    a full TaskInstance, which needs a scheduler's DAG run, adds nothing to what is tested here."""

    def xcom_push(self, key: str, value: object) -> None:
        self.pushed[key] = value


def _context(run_id: str = "manual__1") -> dict:
    return {"ti": _TaskInstance(dag_id="dag", task_id="label", run_id=run_id, map_index=-1, pushed={})}


def _operator(aws, manifest_uri: str, **overrides) -> GroundTruthLabelingJobOperator:
    arguments = {
        "task_id": "label",
        "task_type": "ImageMultiClass",
        "input_manifest_uri": manifest_uri,
        "output_path": f"s3://{aws.bucket}/labeling/output",
        "labels": ["cat", "dog", "bird"],
        "workteam_arn": aws.workteam_arn,
        "role_arn": aws.role_arn,
        "short_instructions": "Pick the <b>animal</b>.",
        "waiter_delay": 1,
        **overrides,
    }
    return GroundTruthLabelingJobOperator(**arguments)


@pytest.fixture
def manifest(aws) -> str:
    lines = [
        {"source-ref": f"s3://{aws.bucket}/i/{i}.png", "gt-local-answer": ["cat", "dog", "bird"][i % 3]}
        for i in range(9)
    ]
    return aws.put_text("in/input.manifest", "".join(json.dumps(line) + "\n" for line in lines))


class TestGroundTruthLabelingJobOperator:
    def test_template_fields(self):
        fields = set(GroundTruthLabelingJobOperator.template_fields)
        assert {
            "ground_truth_task_type",
            "input_manifest_uri",
            "labels",
            "workteam_arn",
            "workers_per_object",
        } <= fields
        assert {"aws_conn_id", "region_name"} <= fields

    def test_job_arguments_come_from_the_spec_once(self):
        """Signature, template fields and docstring derive from LabelingJobSpec's fields."""
        import inspect

        from gt_provider.labeling_request import JOB_ARGUMENTS

        parameters = inspect.signature(GroundTruthLabelingJobOperator.__init__).parameters
        fields = set(GroundTruthLabelingJobOperator.template_fields)
        for argument in JOB_ARGUMENTS:
            assert argument.name in parameters, argument.name
            assert (argument.name if argument.name != "task_type" else "ground_truth_task_type") in fields
            assert f":param {argument.name}:" in GroundTruthLabelingJobOperator.__doc__
        assert parameters["workers_per_object"].default == 3
        assert parameters["labels"].default is inspect.Parameter.empty

    def test_missing_job_arguments_are_named_by_airflow(self, aws):
        with pytest.raises(TypeError, match="missing keyword arguments 'labels', 'role_arn'"):
            GroundTruthLabelingJobOperator(
                task_id="label",
                task_type="ImageMultiClass",
                output_path="s3://b/o",
                workteam_arn=aws.workteam_arn,
                short_instructions="x",
            )

    def test_default_args_reach_job_arguments(self, aws, manifest):
        from airflow.sdk import DAG

        with DAG("defaults", schedule=None, default_args={"workers_per_object": 5, "task_time_limit": 600}):
            operator = _operator(aws, manifest)
        spec = operator.build_spec(_context())
        assert (spec.workers_per_object, spec.task_time_limit) == (5, 600)

    def test_creates_uploads_waits_and_returns_a_small_dict(self, aws, manifest):
        result = _operator(aws, manifest).execute(_context())

        assert result["status"] == "Completed"
        assert result["label_counters"]["TotalLabeled"] == 9
        assert result["label_attribute_name"] == "label"
        job_name = result["job_name"]
        assert (
            result["output_manifest_uri"]
            == f"s3://{aws.bucket}/labeling/output/{job_name}/manifests/output/output.manifest"
        )
        assert len(aws.get_text(result["output_manifest_uri"]).splitlines()) == 9
        config_prefix = f"s3://{aws.bucket}/labeling/output/_gt_provider/{job_name}"
        assert json.loads(aws.get_text(f"{config_prefix}/label-categories.json"))["labels"] == [
            {"label": "cat"},
            {"label": "dog"},
            {"label": "bird"},
        ]
        template = aws.get_text(f"{config_prefix}/worker-template.liquid.html")
        assert "Pick the &lt;b&gt;animal&lt;/b&gt;." in template  # instructions are escaped
        assert "{{ task.input.taskObject | grant_read_access }}" in template  # Liquid left for Ground Truth
        described = aws.client("sagemaker").describe_labeling_job(LabelingJobName=job_name)
        assert described["HumanTaskConfig"]["NumberOfHumanWorkersPerDataObject"] == 3

    def test_no_wait_returns_while_the_job_runs(self, aws, manifest):
        aws.configure(speed=1, manual_clock=True)
        result = _operator(aws, manifest, wait_for_completion=False).execute(_context())
        assert result["status"] == "Initializing"

    def test_retry_reattaches_instead_of_creating_a_second_job(self, aws, manifest, capsys):
        first = _operator(aws, manifest).execute(_context())
        second = _operator(aws, manifest).execute(_context())

        assert second["job_name"] == first["job_name"]
        assert "re-attaching" in capsys.readouterr().out
        assert len(aws.client("sagemaker").list_labeling_jobs()["LabelingJobSummaryList"]) == 1
        _operator(aws, manifest).execute(_context(run_id="manual__2"))  # another run: another job
        assert len(aws.client("sagemaker").list_labeling_jobs()["LabelingJobSummaryList"]) == 2

    def test_public_workforce_is_refused_before_any_call(self, aws, manifest):
        public = "arn:aws:sagemaker:us-east-1:394669845002:workteam/public-crowd/default"
        with pytest.raises(PublicWorkforceUnavailableError):
            _operator(aws, manifest, workteam_arn=public).execute(_context())
        assert aws.client("sagemaker").list_labeling_jobs()["LabelingJobSummaryList"] == []
        assert "Contents" not in aws.client("s3").list_objects_v2(Bucket=aws.bucket, Prefix="labeling/")

    def test_failed_job_fails_the_task_with_the_reason(self, aws):
        broken = aws.put_text("in/broken.manifest", '{"source-ref": "s3://b/1.png"}\n{not json\n')
        with pytest.raises(LabelingJobFailedError, match="line 2 is not valid JSON"):
            _operator(aws, broken).execute(_context())

    def test_empty_manifest_is_refused_before_any_job(self, aws):
        empty = aws.put_text("in/empty.manifest", "\n")
        with pytest.raises(InvalidLabelingJobConfigError, match="has no objects"):
            _operator(aws, empty).execute(_context())
        assert aws.client("sagemaker").list_labeling_jobs()["LabelingJobSummaryList"] == []


class TestDeferrable:
    def test_defers_to_the_trigger_then_completes_from_the_event(self, aws, manifest):
        from airflow.providers.common.compat.sdk import TaskDeferred

        aws.configure(speed=1, manual_clock=True)
        operator = _operator(aws, manifest, deferrable=True)
        with pytest.raises(TaskDeferred) as deferred:
            operator.execute(_context())
        trigger = deferred.value.trigger
        assert trigger.serialize()[1]["job_name"] == operator.build_spec(_context()).job_name
        assert deferred.value.method_name == "execute_complete"
        assert len(aws.client("sagemaker").list_labeling_jobs()["LabelingJobSummaryList"]) == 1

        aws.advance(3600)
        result = operator.execute_complete(_context(), {"status": "success", "job_name": trigger.job_name})
        assert result["status"] == "Completed"
        assert result["label_counters"]["TotalLabeled"] == 9

    def test_execute_complete_refuses_an_event_for_another_job(self, aws, manifest):
        with pytest.raises(LabelingJobFailedError, match="not"):
            _operator(aws, manifest).execute_complete(_context(), {"status": "success", "job_name": "other"})

    def test_execute_complete_fails_on_timeout_event(self, aws, manifest):
        name = _operator(aws, manifest).build_spec(_context()).job_name
        with pytest.raises(LabelingJobFailedError, match="still running"):
            _operator(aws, manifest).execute_complete(
                _context(), {"status": "timeout", "job_name": name, "message": "still running after 3 checks"}
            )


class TestIdempotency:
    def test_reattach_refuses_a_job_created_from_a_different_request(self, aws, manifest):
        _operator(aws, manifest).execute(_context())
        with pytest.raises(LabelingJobConflictError, match="NumberOfHumanWorkersPerDataObject is 3 there, 2 here"):
            _operator(aws, manifest, workers_per_object=2).execute(_context())
        assert len(aws.client("sagemaker").list_labeling_jobs()["LabelingJobSummaryList"]) == 1

    def test_fail_action(self, aws, manifest):
        _operator(aws, manifest).execute(_context())
        with pytest.raises(LabelingJobConflictError, match='action_if_job_exists="fail"'):
            _operator(aws, manifest, action_if_job_exists="fail").execute(_context())

    def test_timestamp_action_starts_a_new_job(self, aws, manifest):
        first = _operator(aws, manifest).execute(_context())
        second = _operator(aws, manifest, action_if_job_exists="timestamp").execute(_context())
        assert second["job_name"].startswith(first["job_name"][:40])
        assert second["job_name"] != first["job_name"]
        assert len(second["job_name"]) <= 63
        assert len(aws.client("sagemaker").list_labeling_jobs()["LabelingJobSummaryList"]) == 2

    def test_unknown_action_is_refused_at_construction(self, aws, manifest):
        with pytest.raises(InvalidLabelingJobConfigError, match="action_if_job_exists"):
            _operator(aws, manifest, action_if_job_exists="replace")

    def test_task_killed_after_create_then_retried_leaves_exactly_one_job(self, aws, manifest):
        """A real process is SIGKILLed while waiting; its retry re-attaches."""
        import os
        import signal
        import subprocess
        import sys
        import time

        aws.configure(speed=1, manual_clock=True)
        script = (
            "import sys; from types import SimpleNamespace; "
            "from gt_provider.operators.labeling import GroundTruthLabelingJobOperator as Op; "
            "ti = SimpleNamespace(dag_id='dag', task_id='label', run_id='manual__1', map_index=-1); "
            "Op(task_id='label', task_type='ImageMultiClass', input_manifest_uri=sys.argv[1], "
            "output_path=sys.argv[2], labels=['cat', 'dog', 'bird'], workteam_arn=sys.argv[3], role_arn=sys.argv[4], "
            "short_instructions='Pick the <b>animal</b>.', waiter_delay=1).execute({'ti': ti})"
        )
        worker = subprocess.Popen(
            [
                sys.executable,
                "-c",
                script,
                manifest,
                f"s3://{aws.bucket}/labeling/output",
                aws.workteam_arn,
                aws.role_arn,
            ],
            env=os.environ.copy(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        sagemaker = aws.client("sagemaker")
        deadline = time.monotonic() + 120
        while not sagemaker.list_labeling_jobs()["LabelingJobSummaryList"]:
            assert worker.poll() is None, "the task process ended before creating its job"
            assert time.monotonic() < deadline, "no job was created"
            time.sleep(0.2)
        worker.send_signal(signal.SIGKILL)
        worker.wait()

        aws.advance(3600)
        result = _operator(aws, manifest).execute(_context())

        jobs = sagemaker.list_labeling_jobs()["LabelingJobSummaryList"]
        assert [job["LabelingJobName"] for job in jobs] == [result["job_name"]]
        assert result["status"] == "Completed"


class TestLinksLineageAndKill:
    def test_console_link_is_persisted(self, aws, manifest):
        context = _context()
        result = _operator(aws, manifest).execute(context)
        link = context["ti"].pushed["gt_labeling_job"]
        assert context["ti"].pushed["gt_label_studio_project"] is None  # no project: the link is absent, not missing
        assert link == {"region_name": "us-east-1", "aws_domain": "aws.amazon.com", "job_name": result["job_name"]}
        assert GroundTruthLabelingJobLink().format_link(**link) == (
            "https://console.aws.amazon.com/sagemaker/groundtruth?region=us-east-1"
            f"#/labeling-jobs/details/{result['job_name']}"
        )

    def test_openlineage_from_input_manifest_to_output_manifest(self, aws, manifest):
        operator = _operator(aws, manifest)
        assert operator.get_openlineage_facets_on_complete(None).outputs == []  # not run yet: nothing to say
        result = operator.execute(_context())
        # The facets come from what the task kept, not from XCom (see gt_provider.lineage.remember).
        lineage = operator.get_openlineage_facets_on_complete(None)
        assert [(d.namespace, d.name) for d in lineage.inputs] == [(f"s3://{aws.bucket}", "in/input.manifest")]
        assert [(d.namespace, d.name) for d in lineage.outputs] == [
            (f"s3://{aws.bucket}", f"labeling/output/{result['job_name']}/manifests/output/output.manifest")
        ]
        [output] = lineage.outputs
        assert [field.name for field in output.facets["schema"].fields] == ["source-ref", "label", "label-metadata"]

    @pytest.mark.parametrize(("stop_on_kill", "expected"), [(True, "Stopping"), (False, "InProgress")])
    def test_on_kill_stops_the_job(self, aws, manifest, stop_on_kill, expected):
        aws.configure(speed=1, manual_clock=True, initializing_seconds=1, objects_per_second=0.01)
        operator = _operator(aws, manifest, wait_for_completion=False, stop_on_kill=stop_on_kill)
        result = operator.execute(_context())
        aws.advance(2)
        operator.on_kill()
        status = aws.client("sagemaker").describe_labeling_job(LabelingJobName=result["job_name"])["LabelingJobStatus"]
        assert status == expected

    def test_input_over_the_task_types_object_limit_is_refused_before_create(self, aws):
        lines = "".join(f'{{"source-ref": "s3://{aws.bucket}/i/{i}.png"}}\n' for i in range(20_001))
        big = aws.put_text("in/big.manifest", lines)
        with pytest.raises(
            InvalidLabelingJobConfigError, match="20001 objects; SemanticSegmentation jobs take at most 20000"
        ):
            _operator(aws, big, task_type="SemanticSegmentation").execute(_context())
        assert aws.client("sagemaker").list_labeling_jobs()["LabelingJobSummaryList"] == []

    def test_auto_labeling_needs_1250_objects(self, aws, manifest):
        with pytest.raises(InvalidLabelingJobConfigError, match="at least 1250 objects"):
            _operator(aws, manifest, auto_labeling=True).execute(_context())


class TestGroundTruthStopLabelingJobOperator:
    def test_stops_and_waits_for_stopped_with_partial_output(self, aws, manifest, monkeypatch):
        aws.configure(speed=1, manual_clock=True, initializing_seconds=0, objects_per_second=1)
        started = _operator(aws, manifest, wait_for_completion=False).execute(_context())
        aws.advance(4)
        sleeps = aws.advance_while_waiting(monkeypatch, 60)

        result = GroundTruthStopLabelingJobOperator(
            task_id="stop", job_name=started["job_name"], waiter_delay=1, waiter_max_attempts=30
        ).execute(_context())

        assert result["status"] == "Stopped"
        assert sleeps, "the operator returned Stopped without waiting through Stopping"
        assert result["label_counters"]["TotalLabeled"] == 4
        assert len(aws.get_text(result["output_manifest_uri"]).splitlines()) == 4


class TestReviewJobs:
    def test_verification_job_reviews_the_first_jobs_output(self, aws):
        lines = [
            {
                "source-ref": f"s3://{aws.bucket}/i/{i}.png",
                "gt-local-answer": {
                    "image_size": {"width": 64, "height": 64},
                    "boxes": [{"label": "cat", "left": 5, "top": 5, "width": 20, "height": 20}],
                },
            }
            for i in range(6)
        ]
        boxes_manifest = aws.put_text("in/boxes.manifest", "".join(json.dumps(line) + "\n" for line in lines))
        first = _operator(aws, boxes_manifest, task_type="BoundingBox", labels=["cat", "dog"]).execute(_context())
        context = {"ti": _TaskInstance(dag_id="dag", task_id="verify", run_id="manual__1", map_index=-1, pushed={})}

        review = _operator(
            aws,
            None,
            task_id="verify",
            task_type="VerificationBoundingBox",
            labels=["correct", "incorrect"],
            audit_of=first,
        ).execute(context)

        assert review["input_manifest_uri"] == first["output_manifest_uri"]
        config = json.loads(
            aws.get_text(f"s3://{aws.bucket}/labeling/output/_gt_provider/{review['job_name']}/label-categories.json")
        )
        assert config["auditLabelAttributeName"] == first["label_attribute_name"]
        assert review["status"] == "Completed"
        output = [json.loads(line) for line in aws.get_text(review["output_manifest_uri"]).splitlines()]
        assert len(output) == 6
        assert all(first["label_attribute_name"] in line for line in output)  # the reviewed labels travel along
        assert all(line["label-metadata"]["type"] == "groundtruth/label-verification" for line in output)


class TestWaitingMatrix:
    """no_wait / wait / defer for the labeling operator and the stop operator."""

    @pytest.mark.parametrize("mode", ["no_wait", "wait", "defer"])
    def test_labeling_operator(self, aws, manifest, mode, monkeypatch):
        """On the manual clock a job ends only if time passes: only a waiting operator sees Completed."""
        from airflow.providers.common.compat.sdk import TaskDeferred

        aws.configure(speed=1, manual_clock=True)
        sleeps = aws.advance_while_waiting(monkeypatch, 3600)
        operator = _operator(aws, manifest, wait_for_completion=mode != "no_wait", deferrable=mode == "defer")
        if mode == "defer":
            with pytest.raises(TaskDeferred) as deferred:
                operator.execute(_context())
            assert isinstance(deferred.value.trigger, GroundTruthLabelingJobTrigger)
            assert deferred.value.trigger.job_name == operator.build_spec(_context()).job_name
            assert sleeps == []  # deferring holds no worker: nothing waited in the task
            return
        result = operator.execute(_context())
        if mode == "no_wait":
            assert (result["status"], sleeps) == ("Initializing", [])
        else:
            assert result["status"] == "Completed"
            assert sleeps, "Completed without a single wait between checks"

    @pytest.mark.parametrize("wait", [False, True])
    def test_stop_operator(self, aws, manifest, wait):
        aws.configure(speed=1, manual_clock=True, stopping_seconds=0)
        started = _operator(aws, manifest, wait_for_completion=False).execute(_context())
        result = GroundTruthStopLabelingJobOperator(
            task_id="stop", job_name=started["job_name"], wait_for_completion=wait, waiter_delay=1
        ).execute(_context())
        assert result["status"] == "Stopped"
