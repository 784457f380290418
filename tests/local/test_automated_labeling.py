"""Automated data labeling, stopping conditions and job events in the local Ground Truth, over boto3.

The loop really trains scikit-learn models on the simulated workers' labels, so these
tests check what a user of Ground Truth would: the refusals, the counters, the machine
labels' format and quality against the known truth, the extra output folders, the final
model, the warm start, the stopping conditions and the CloudWatch Logs events.
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.labeling_fixtures import (
    automated,
    labeling_request,
    put_classification_inputs,
    put_digit_inputs,
    put_ticket_inputs,
)

LOG_GROUP = "/aws/sagemaker/LabelingJobs"


def _refusal(aws, request) -> str:
    with pytest.raises(ClientError) as raised:
        aws.client("sagemaker").create_labeling_job(**request)
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    return raised.value.response["Error"]["Message"]


def _output(aws, job) -> list[dict]:
    return [json.loads(line) for line in aws.get_text(job["LabelingJobOutput"]["OutputDatasetS3Uri"]).splitlines()]


def _events(aws, name) -> list[dict]:
    events = aws.client("logs").get_log_events(logGroupName=LOG_GROUP, logStreamName=name, startFromHead=True)
    return [json.loads(event["message"]) for event in events["events"]]


def _keys(aws, prefix) -> list[str]:
    listing = aws.client("s3").list_objects_v2(Bucket=aws.bucket, Prefix=prefix)
    return [entry["Key"] for entry in listing.get("Contents", [])]


@pytest.fixture
def tickets(aws):
    return put_ticket_inputs(aws, 1300)


def _ticket_job(aws, tickets, name="tickets", **extra):
    request = automated(labeling_request(aws, tickets, name=name, task="TextMultiClass"), "TextMultiClass")
    return {**request, **extra}


class TestRefusals:
    def test_fewer_than_1250_objects(self, aws):
        uris = put_classification_inputs(aws, 1249, "TextMultiClass")
        message = _refusal(aws, automated(labeling_request(aws, uris, task="TextMultiClass"), "TextMultiClass"))
        assert "at least 1250 data objects; the input manifest has 1249" in message
        assert aws.client("sagemaker").list_labeling_jobs()["LabelingJobSummaryList"] == []

    def test_task_type_without_automated_labeling(self, aws):
        uris = put_classification_inputs(aws, 1300, "TextMultiClass")
        request = labeling_request(aws, uris, task="TextMultiClassMultiLabel")
        request["LabelingJobAlgorithmsConfig"] = automated({}, "TextMultiClass")["LabelingJobAlgorithmsConfig"]
        assert "not supported for task type TextMultiClassMultiLabel" in _refusal(aws, request)

    def test_streaming_input(self, aws, tickets):
        request = _ticket_job(aws, tickets)
        request["InputConfig"] = {
            "DataSource": {"SnsDataSource": {"SnsTopicArn": "arn:aws:sns:us-east-1:123456789012:in"}}
        }
        assert "not supported for streaming labeling jobs" in _refusal(aws, request)

    def test_algorithm_of_another_task_type(self, aws, tickets):
        request = _ticket_job(aws, tickets)
        request["LabelingJobAlgorithmsConfig"] = automated({}, "ImageMultiClass")["LabelingJobAlgorithmsConfig"]
        assert "text-classification" in _refusal(aws, request)

    def test_unknown_initial_model(self, aws, tickets):
        arn = "arn:aws:sagemaker:us-east-1:123456789012:model/nowhere"
        request = automated(labeling_request(aws, tickets, task="TextMultiClass"), "TextMultiClass", arn)
        assert "could not find model" in _refusal(aws, request)


class TestTheLoop:
    def test_text_job_machine_labels_what_the_model_is_sure_of(self, aws, tickets):
        sagemaker = aws.client("sagemaker")
        sagemaker.create_labeling_job(**_ticket_job(aws, tickets))
        job = sagemaker.describe_labeling_job(LabelingJobName="tickets")

        counters = job["LabelCounters"]
        assert job["LabelingJobStatus"] == "Completed"
        assert counters["Unlabeled"] == 0 and counters["FailedNonRetryableError"] == 0
        assert counters["MachineLabeled"] > 0.5 * 1300, counters
        assert counters["HumanLabeled"] + counters["MachineLabeled"] == counters["TotalLabeled"] == 1300
        lines = _output(aws, job)
        machine = [line for line in lines if line["animal-metadata"]["human-annotated"] == "no"]
        assert len(machine) == counters["MachineLabeled"]
        # The threshold was chosen on validation: machine labels are as right as the target says.
        right = sum(line["animal-metadata"]["class-name"] == line["gt-local-answer"] for line in machine)
        assert right / len(machine) >= 0.93
        thresholds = [e["threshold"] for e in _events(aws, "tickets") if e.get("threshold") is not None]
        for line in machine:
            metadata = line["animal-metadata"]
            assert set(metadata) == {"class-name", "confidence", "type", "job-name", "human-annotated", "creation-date"}
            assert metadata["type"] == "groundtruth/text-classification"
            assert metadata["confidence"] >= min(thresholds)
            assert line["animal"] == str(tickets_labels().index(metadata["class-name"]))

        # Humans' objects have worker responses; machine-labeled ones have none.
        responded = {key.split("/")[-2] for key in _keys(aws, "output/tickets/annotations/worker-response/")}
        assert len(responded) == counters["HumanLabeled"]
        assert not responded & {str(lines.index(line)) for line in machine}

    def test_output_layout_gains_the_loops_folders_and_the_final_model(self, aws, tickets):
        sagemaker = aws.client("sagemaker")
        sagemaker.create_labeling_job(**_ticket_job(aws, tickets))
        job = sagemaker.describe_labeling_job(LabelingJobName="tickets")

        keys = _keys(aws, "output/tickets/")
        for folder in ("activelearning/iteration-1/selection.json", "inference/iteration-1/predictions.jsonl"):
            assert f"output/tickets/{folder}" in keys
        assert "output/tickets/training/final/model.tar.gz" in keys
        model_arn = job["LabelingJobOutput"]["FinalActiveLearningModelArn"]
        model = sagemaker.describe_model(ModelName=model_arn.rsplit("/", 1)[-1])
        assert model["ModelArn"] == model_arn
        assert (
            model["PrimaryContainer"]["ModelDataUrl"] == f"s3://{aws.bucket}/output/tickets/training/final/model.tar.gz"
        )
        selection = json.loads(
            aws.get_text(f"s3://{aws.bucket}/output/tickets/activelearning/iteration-1/selection.json")
        )
        assert len(selection["validation"]) == 130

    def test_a_warm_start_needs_fewer_human_labels(self, aws, tickets):
        sagemaker = aws.client("sagemaker")
        sagemaker.create_labeling_job(**_ticket_job(aws, tickets, name="cold"))
        cold = sagemaker.describe_labeling_job(LabelingJobName="cold")
        initial = cold["LabelingJobOutput"]["FinalActiveLearningModelArn"]
        warm_request = automated(
            labeling_request(aws, tickets, name="warm", task="TextMultiClass"), "TextMultiClass", initial
        )
        sagemaker.create_labeling_job(**warm_request)
        warm = sagemaker.describe_labeling_job(LabelingJobName="warm")

        assert warm["LabelingJobAlgorithmsConfig"]["InitialActiveLearningModelArn"] == initial
        assert warm["LabelCounters"]["TotalLabeled"] == 1300
        assert warm["LabelCounters"]["HumanLabeled"] < cold["LabelCounters"]["HumanLabeled"]

    def test_an_image_model_is_not_a_text_job_initial_model(self, aws, tickets):
        sagemaker = aws.client("sagemaker")
        sagemaker.create_labeling_job(**_ticket_job(aws, tickets, name="first"))
        initial = sagemaker.describe_labeling_job(LabelingJobName="first")["LabelingJobOutput"][
            "FinalActiveLearningModelArn"
        ]
        digits = put_digit_inputs(aws, 1250)
        request = automated(labeling_request(aws, digits, name="digits"), "ImageMultiClass", initial)
        assert "was trained by text-classification" in _refusal(aws, request)

    def test_counters_move_as_the_loop_does(self, aws, tickets):
        aws.configure(speed=1, manual_clock=True, initializing_seconds=0, objects_per_second=10)
        sagemaker = aws.client("sagemaker")
        sagemaker.create_labeling_job(**_ticket_job(aws, tickets))
        seen = []
        for _ in range(20):
            job = sagemaker.describe_labeling_job(LabelingJobName="tickets")
            seen.append(
                (job["LabelingJobStatus"], job["LabelCounters"]["HumanLabeled"], job["LabelCounters"]["MachineLabeled"])
            )
            if job["LabelingJobStatus"] == "Completed":
                break
            aws.advance(10)
        humans = [human for _, human, _ in seen]
        machines = [machine for _, _, machine in seen]
        assert seen[0][0] == "Initializing" and seen[1][0] == "InProgress" and seen[-1][0] == "Completed"
        assert humans == sorted(humans) and machines == sorted(machines)
        # Humans label the validation and first batch before any machine label exists.
        first_machine = next(i for i, machine in enumerate(machines) if machine)
        assert humans[first_machine] >= 130 + 130

    def test_digits_are_machine_labeled_accurately(self, aws):
        digits = put_digit_inputs(aws, 1500)
        sagemaker = aws.client("sagemaker")
        sagemaker.create_labeling_job(**automated(labeling_request(aws, digits, name="digits"), "ImageMultiClass"))
        job = sagemaker.describe_labeling_job(LabelingJobName="digits")

        machine = [line for line in _output(aws, job) if line["animal-metadata"]["human-annotated"] == "no"]
        assert len(machine) == job["LabelCounters"]["MachineLabeled"] > 300
        right = sum(line["animal-metadata"]["class-name"] == line["gt-local-answer"] for line in machine)
        assert right / len(machine) >= 0.95


def _stopped_job(aws, tickets, name: str, auto: bool, stopping: dict) -> dict:
    """A ticket job (automated or not) with ``stopping`` conditions, described once it ended."""
    request = labeling_request(aws, tickets, name=name, task="TextMultiClass")
    request = {**(automated(request, "TextMultiClass") if auto else request), "StoppingConditions": stopping}
    sagemaker = aws.client("sagemaker")
    sagemaker.create_labeling_job(**request)
    return sagemaker.describe_labeling_job(LabelingJobName=name)


class TestStoppingConditions:
    @pytest.mark.parametrize("auto", [False, True], ids=["humans-only", "automated"])
    def test_max_human_labeled_object_count(self, aws, tickets, auto):
        job = _stopped_job(aws, tickets, "capped", auto, {"MaxHumanLabeledObjectCount": 200})

        assert job["LabelingJobStatus"] == "Stopped"
        assert job["LabelCounters"]["HumanLabeled"] == 200
        assert job["LabelCounters"]["Unlabeled"] == 1300 - job["LabelCounters"]["TotalLabeled"] > 0
        assert len(_output(aws, job)) == job["LabelCounters"]["TotalLabeled"]
        stopped = _events(aws, "capped")[-1]
        assert stopped["event"] == "LabelingJobStopped"
        assert "MaxHumanLabeledObjectCount (200) reached" in stopped["message"]

    @pytest.mark.parametrize("auto", [False, True], ids=["humans-only", "automated"])
    def test_max_percentage_of_input_dataset_labeled(self, aws, tickets, auto):
        job = _stopped_job(aws, tickets, "half", auto, {"MaxPercentageOfInputDatasetLabeled": 40})

        assert job["LabelingJobStatus"] == "Stopped"
        assert job["LabelCounters"]["TotalLabeled"] == 520
        assert job["LabelCounters"]["Unlabeled"] == 780
        assert (job["LabelCounters"]["MachineLabeled"] > 0) is auto

    def test_the_job_goes_through_stopping(self, aws, tickets):
        aws.configure(speed=1, manual_clock=True, initializing_seconds=0, objects_per_second=100, stopping_seconds=5)
        request = labeling_request(aws, tickets, name="capped", task="TextMultiClass")
        request["StoppingConditions"] = {"MaxHumanLabeledObjectCount": 100}
        sagemaker = aws.client("sagemaker")
        sagemaker.create_labeling_job(**request)
        aws.advance(1.5)
        assert sagemaker.describe_labeling_job(LabelingJobName="capped")["LabelingJobStatus"] == "Stopping"
        aws.advance(5)
        assert sagemaker.describe_labeling_job(LabelingJobName="capped")["LabelingJobStatus"] == "Stopped"


class TestEvents:
    def test_created_iterations_and_completed_go_to_cloudwatch_logs(self, aws, tickets):
        sagemaker = aws.client("sagemaker")
        sagemaker.create_labeling_job(**_ticket_job(aws, tickets))
        job = sagemaker.describe_labeling_job(LabelingJobName="tickets")

        events = _events(aws, "tickets")
        kinds = [event["event"] for event in events]
        assert kinds[0] == "LabelingJobCreated" and kinds[-1] == "LabelingJobCompleted"
        iterations = [event for event in events if event["event"] == "IterationCompleted"]
        assert [event["iteration"] for event in iterations] == list(range(1, len(iterations) + 1))
        assert sum(event["human"] for event in iterations) == job["LabelCounters"]["HumanLabeled"]
        assert sum(event["machine"] for event in iterations) == job["LabelCounters"]["MachineLabeled"]
        assert iterations[-1]["label_counters"] == job["LabelCounters"]
        assert "1300/1300 labeled" in events[-1]["message"]
        assert all(event["labeling-job-name"] == "tickets" for event in events)

    def test_a_failed_job_says_why(self, aws):
        uris = put_classification_inputs(aws, 3)
        uris["manifest"] = aws.put_text("input/bad.manifest", '{"source-ref": "s3://x/1.png"}\nnot json\n')
        sagemaker = aws.client("sagemaker")
        sagemaker.create_labeling_job(**labeling_request(aws, uris, name="bad"))
        sagemaker.describe_labeling_job(LabelingJobName="bad")

        failed = _events(aws, "bad")[-1]
        assert failed["event"] == "LabelingJobFailed"
        assert "line 2 is not valid JSON" in failed["message"]


def tickets_labels() -> list[str]:
    from include.sample_text import TICKET_CLASSES

    return list(TICKET_CLASSES)
