"""The Label Studio backend against a real Label Studio server and the local AWS.

Projects are created, tasks imported, annotations posted by distinct real users (simulated
annotators, through the API) and exported; the output is read back from S3 in Ground
Truth's layout. Nothing is mocked.
"""

from __future__ import annotations

import asyncio
import json
import random

import pytest
import requests

from gt_provider.exceptions import LabelingJobConflictError, UnsupportedByBackendError
from gt_provider.hooks.label_studio import LabelStudioHook
from gt_provider.labeling_request import LabelingJobSpec
from gt_provider.labelstudio.client import LabelStudioClient, LabelStudioError
from gt_provider.labelstudio.codecs import AnnotationFormatError
from gt_provider.labelstudio.simulate import annotate_project
from gt_provider.triggers.label_studio import LabelStudioProjectTrigger

LABELS = ["cat", "dog", "bird"]


def _manifest(aws, name: str, count: int, lines=None) -> tuple[str, list[str]]:
    rng = random.Random(name)
    truth = [rng.choice(LABELS) for _ in range(count)]
    lines = lines or [
        {"source-ref": f"s3://{aws.bucket}/raw/{name}/{i:03}.png", "gt-local-answer": truth[i]} for i in range(count)
    ]
    uri = aws.put_text(f"manifests/{name}.manifest", "".join(json.dumps(line) + "\n" for line in lines))
    return uri, truth


def _spec(aws, name: str, manifest: str, **overrides) -> LabelingJobSpec:
    arguments = {
        "task_type": "ImageMultiClass",
        "job_name": name,
        "input_manifest_uri": manifest,
        "output_path": f"s3://{aws.bucket}/labeling/output",
        "labels": LABELS,
        "workteam_arn": aws.workteam_arn,
        "role_arn": aws.role_arn,
        "short_instructions": "Pick the animal.",
        "full_instructions": "Pick the animal you see.\n\nIf unsure, pick the closest.",
        "workers_per_object": 3,
        **overrides,
    }
    return LabelingJobSpec(**arguments)


def _output_lines(aws, uri: str) -> list[dict]:
    return [json.loads(line) for line in aws.get_text(uri).splitlines()]


def test_a_job_runs_as_a_project_and_comes_back_in_ground_truths_layout(aws, label_studio, label_studio_annotators):
    hook = LabelStudioHook()
    manifest, truth = _manifest(aws, "ls-classes", 12)
    spec = _spec(aws, "ls-classes", manifest)

    attached = hook.create_or_attach(spec)
    again = hook.create_or_attach(spec)
    project = hook.client.find_project("ls-classes")

    assert attached.created and not again.created
    assert project["task_number"] == 12 and project["maximum_annotations"] == 3  # imported once, not twice
    assert attached.state.status == "InProgress" and attached.state.progress.startswith("0/12 labeled")

    annotate_project(label_studio.url, hook.client, project["id"], label_studio_annotators)
    state = hook.describe("ls-classes")
    output = hook.collect("ls-classes")

    assert state.status == "Completed" and state.counters["TotalLabeled"] == 12
    lines = _output_lines(aws, output.output_manifest_uri)
    assert [line["source-ref"] for line in lines] == [f"s3://{aws.bucket}/raw/ls-classes/{i:03}.png" for i in range(12)]
    metadata = lines[0]["label-metadata"]
    assert metadata["job-name"] == "labeling-job/ls-classes" and metadata["human-annotated"] == "yes"
    assert metadata["type"] == "groundtruth/image-classification" and 0 <= metadata["confidence"] <= 1
    right = sum(line["label-metadata"]["class-name"] == truth[i] for i, line in enumerate(lines))
    assert right >= 10  # three annotators, 95/85/75 % accurate, consolidated by Dawid-Skene
    s3 = aws.client("s3")
    bucket, prefix = output.worker_responses_uri.removeprefix("s3://").split("/", 1)
    response_keys = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]]
    answers = json.loads(aws.get_text(f"s3://{bucket}/{response_keys[0]}"))["answers"]
    assert len(response_keys) == 12 and len(answers) == 3
    assert {answer["workerId"] for answer in answers} == {f"labelstudio.{a.user_id}" for a in label_studio_annotators}
    assert all(answer["timeSpentInSeconds"] > 0 for answer in answers)


def test_tasks_label_studio_left_unfinished_are_counted_from_their_annotations(
    aws, label_studio, label_studio_annotators
):
    # Label Studio recomputes a task's is_labeled when an annotation is saved; two saves of one
    # task at the same moment can both count before the other commits and leave it False for
    # good (seen in the DAG run: 39/40 for 12 minutes). PATCHing is_labeled back to False on
    # the real server puts the project in exactly that state, every time.
    hook = LabelStudioHook()
    manifest, _ = _manifest(aws, "ls-stale", 4)
    hook.create_or_attach(_spec(aws, "ls-stale", manifest, workers_per_object=2))
    project = hook.client.find_project("ls-stale")
    annotate_project(label_studio.url, hook.client, project["id"], label_studio_annotators)
    for task in hook.client.tasks(project["id"])[:2]:
        hook.client.request(
            "PATCH", f"/api/tasks/{task['id']}", "marking a task unfinished", json={"is_labeled": False}
        )

    state = hook.describe("ls-stale")

    assert hook.client.project(project["id"])["finished_task_number"] == 2  # Label Studio's own counter
    assert state.status == "Completed" and state.counters["TotalLabeled"] == 4 and state.progress.startswith("4/4")


def test_a_try_killed_while_importing_is_finished_by_the_next_without_a_task_twice(aws, label_studio):
    # The first try's worker dies in the middle of the import: the server has the first 4
    # tasks, the project's record says nothing was imported. The kill is the one thing faked
    # (an exception after a real partial import); the server and the second try are real.
    manifest, _ = _manifest(aws, "ls-killed", 10)
    spec = _spec(aws, "ls-killed", manifest)
    first = LabelStudioHook()
    real_import = first.client.import_tasks

    def import_then_die(project_id, tasks):
        real_import(project_id, tasks[:4])
        raise SystemExit("worker killed")

    first.client.import_tasks = import_then_die  # this try's client only
    with pytest.raises(SystemExit):
        first.create_or_attach(spec)

    second = LabelStudioHook()
    attached = second.create_or_attach(spec)
    again = second.create_or_attach(spec)

    project = second.client.find_project("ls-killed")
    indexes = sorted(task["data"]["gt_line_index"] for task in second.client.tasks(project["id"]))
    assert not attached.created and not again.created
    assert indexes == list(range(10))  # every line once: 4 from the killed try, 6 from the next
    assert [p["title"] for p in second.client.projects()].count("ls-killed") == 1
    assert attached.state.status == "InProgress" and attached.state.progress.startswith("0/10 labeled")


def test_a_different_request_under_the_same_name_is_refused_naming_the_difference(aws, label_studio):
    hook = LabelStudioHook()
    manifest, _ = _manifest(aws, "ls-conflict", 2)
    hook.create_or_attach(_spec(aws, "ls-conflict", manifest))

    with pytest.raises(LabelingJobConflictError, match=r"labels: \['cat', 'dog', 'bird'\] -> \['cat', 'dog'\]"):
        hook.create_or_attach(_spec(aws, "ls-conflict", manifest, labels=["cat", "dog"]))


def test_a_stopped_job_collects_what_was_annotated_before_the_stop(aws, label_studio, label_studio_annotators):
    hook = LabelStudioHook()
    manifest, _ = _manifest(aws, "ls-stopped", 6)
    hook.create_or_attach(_spec(aws, "ls-stopped", manifest, workers_per_object=2))
    project = hook.client.find_project("ls-stopped")
    annotate_project(label_studio.url, hook.client, project["id"], label_studio_annotators, limit=5)

    hook.stop("ls-stopped")
    annotate_project(label_studio.url, hook.client, project["id"], label_studio_annotators)  # after the stop
    state = hook.describe("ls-stopped")
    lines = _output_lines(aws, hook.collect("ls-stopped").output_manifest_uri)

    assert state.status == "Stopped"
    assert 1 <= len(lines) <= 3  # 5 annotations reach at most 3 tasks; later ones are not collected
    assert all(line["label-metadata"]["human-annotated"] == "yes" for line in lines)


def test_an_annotation_outside_the_label_set_is_named_and_no_output_is_written(
    aws, label_studio, label_studio_annotators
):
    hook = LabelStudioHook()
    manifest, _ = _manifest(aws, "ls-foreign", 1)
    spec = _spec(aws, "ls-foreign", manifest, workers_per_object=1)
    hook.create_or_attach(spec)
    project = hook.client.find_project("ls-foreign")
    task = hook.client.tasks(project["id"])[0]
    annotator = LabelStudioClient(label_studio.url, label_studio_annotators[0].token)
    foreign = [{"from_name": "label", "to_name": "image", "type": "choices", "value": {"choices": ["horse"]}}]
    annotator.create_annotation(task["id"], foreign, lead_time=3.0)

    with pytest.raises(AnnotationFormatError, match=rf"project {project['id']}, task {task['id']} .*'horse'"):
        hook.collect("ls-foreign")
    with pytest.raises(aws.client("s3").exceptions.NoSuchKey):
        aws.client("s3").get_object(
            Bucket=aws.bucket, Key="labeling/output/ls-foreign/manifests/output/output.manifest"
        )


def test_a_deleted_project_fails_the_wait_with_the_reason(aws, label_studio):
    hook = LabelStudioHook()
    manifest, _ = _manifest(aws, "ls-deleted", 2)
    hook.create_or_attach(_spec(aws, "ls-deleted", manifest))
    project = hook.client.find_project("ls-deleted")
    hook.client.request("DELETE", f"/api/projects/{project['id']}", "deleting the project")

    state = hook.describe("ls-deleted")

    assert state.status == "Failed" and "no project titled 'ls-deleted'" in state.failure_reason


def test_an_emptied_project_fails_the_wait_naming_the_missing_tasks(aws, label_studio):
    hook = LabelStudioHook()
    manifest, _ = _manifest(aws, "ls-emptied", 3)
    hook.create_or_attach(_spec(aws, "ls-emptied", manifest))
    project = hook.client.find_project("ls-emptied")
    task = hook.client.tasks(project["id"])[0]
    hook.client.request("DELETE", f"/api/tasks/{task['id']}", "deleting a task")

    state = hook.describe("ls-emptied")

    assert state.status == "Failed" and "has 2 of the job's 3 tasks" in state.failure_reason


def test_video_and_3d_are_refused_before_anything_is_created(aws, label_studio):
    hook = LabelStudioHook()
    manifest = aws.put_text(
        "manifests/video.manifest", json.dumps({"source-ref": f"s3://{aws.bucket}/seq.json"}) + "\n"
    )
    spec = _spec(aws, "ls-video", manifest, task_type="VideoObjectDetection", labels=["car", "bus"])

    with pytest.raises(UnsupportedByBackendError, match="Label Studio backend cannot run labeling job ls-video"):
        hook.create_or_attach(spec)
    assert hook.client.find_project("ls-video") is None


def test_a_wrong_token_and_an_unreachable_server_are_named(aws, label_studio, monkeypatch):
    wrong = LabelStudioClient(label_studio.url, "0" * 40, where="connection label_studio_default")
    with pytest.raises(LabelStudioError, match=r"connection label_studio_default\) refused the API token"):
        wrong.whoami()
    with requests.Session() as session:
        port = label_studio.port + 1 if label_studio.port < 65535 else 1
        unreachable = LabelStudioClient(f"http://127.0.0.1:{port}", "x" * 40, session=session)
        with pytest.raises(LabelStudioError, match="is unreachable while checking the token"):
            unreachable.whoami()


def test_the_trigger_waits_in_the_event_loop_until_the_project_is_done(aws, label_studio, label_studio_annotators):
    hook = LabelStudioHook()
    manifest, _ = _manifest(aws, "ls-trigger", 3)
    hook.create_or_attach(_spec(aws, "ls-trigger", manifest, workers_per_object=1))
    project = hook.client.find_project("ls-trigger")
    trigger = LabelStudioProjectTrigger(job_name="ls-trigger", waiter_delay=1, waiter_max_attempts=30)

    async def run() -> dict:
        events = trigger.run()
        first = asyncio.ensure_future(events.__anext__())
        await asyncio.sleep(1.5)
        assert not first.done()  # still waiting: nobody has annotated yet
        await asyncio.to_thread(annotate_project, label_studio.url, hook.client, project["id"], label_studio_annotators)
        return (await first).payload

    event = asyncio.run(run())

    assert event == {"status": "success", "job_name": "ls-trigger"}
