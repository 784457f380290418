"""What engineers click in the Airflow UI, in a real browser (Playwright, the OS's Chromium).

Against the native stack (tests/stack/runner.py): the real API server with the simple auth
manager and its generated logins, a scheduler, a triggerer, a Celery worker and the local
AWS. The tests log in as a user would, open the labeling DAGs' trigger forms, trigger a run
and follow its labeling job on the provider's Labeling jobs page, open the task's extra
links, and open the card of the dataset version the run built (tests run in file order: the
first one sees the page before any job exists). On the Label Studio backend, with a real
Label Studio server and no simulated annotators, a person logs in to Label Studio and labels
the images by clicking, and the run goes on to build the dataset from those answers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, unquote

import pytest

from gt_provider.labelstudio.client import LabelStudioClient
from gt_provider.labelstudio.codecs import LINE_KEY
from gt_provider.ui.jobs import DESCRIBE_CACHE_SECONDS, format_usd
from include.sample_data import DIGIT_NAMES
from tests.stack.auth import OUTSIDER
from tests.stack.browser import VIEWPORT, airflow_login, launch, passwords, save_screenshot
from tests.stack.runner import ApiError, NativeStack

pytestmark = pytest.mark.stack

LABELING_DAGS = ("gt_image_classification", "gt_text_classification", "gt_object_detection_with_review")
IMAGE_DAG = "gt_image_classification"
JOBS_PAGE = "/gt-provider/labeling-jobs"
RUN_TIMEOUT = 300


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium from the OS (make installs it), driven by Playwright.

    Module-scoped, not session-scoped: Playwright's sync API keeps an event loop running in
    the main thread while it is open, and later tests call ``asyncio.run`` (triggers).
    """
    with launch() as chromium:
        yield chromium


@pytest.fixture
def page(stack: NativeStack, browser: Any) -> Iterator[Any]:
    """A fresh browser context (no login yet)."""
    context = browser.new_context(viewport=VIEWPORT, base_url=stack.endpoints.api_url)
    context.set_default_timeout(30_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def login(stack: NativeStack, page: Any, path: str, user: str = "admin") -> None:
    """Open ``path``; Airflow sends the browser to its login page and back."""
    page.goto(path)
    airflow_login(page, user, passwords(stack.airflow_home)[user])


def jobs_frame(page: Any) -> Any:
    """The Labeling jobs page inside the Airflow UI (an iframe of the plugin's nav view)."""
    page.get_by_role("button", name="Browse").click()
    page.get_by_role("menuitem", name="Labeling jobs").click()
    page.wait_for_url(re.compile(r"/plugin/labeling-jobs$"))
    frame = page.frame_locator("iframe")
    frame.get_by_role("heading", name="Labeling jobs").wait_for()
    return frame


def test_labeling_jobs_page_before_any_job_and_without_a_login(stack: NativeStack, page: Any):
    page.goto(JOBS_PAGE)
    # Not logged in: the login page, which brings the user back afterwards.
    page.wait_for_url(re.compile(r"/auth/login\?next="))
    airflow_login(page, "admin", passwords(stack.airflow_home)["admin"])
    assert page.url.endswith(JOBS_PAGE)
    assert "No labeling jobs yet" in page.inner_text("body")

    page.goto("/")
    frame = jobs_frame(page)
    assert "No labeling jobs yet" in frame.locator("body").inner_text()


@pytest.mark.parametrize("dag_id", [*LABELING_DAGS, "gt_train_on_dataset", "gt_labeling_team"])
def test_trigger_form_shows_every_param_with_its_title_and_description(stack: NativeStack, page: Any, dag_id: str):
    params = stack.api.get(f"/api/v2/dags/{dag_id}/details")["params"]
    login(stack, page, f"/dags/{dag_id}")
    page.get_by_role("button", name="Trigger").first.click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("Run Parameters").wait_for()
    text = dialog.inner_text()
    for name, param in params.items():
        title = param["schema"].get("title")
        assert title, f"{dag_id}: param {name} has no title"
        assert title in text, f"{dag_id}: the form does not show {name}'s title {title!r}"
        assert param.get("description"), f"{dag_id}: param {name} has no description"
        assert param["description"].split(". ")[0] in text, f"{dag_id}: the form does not show {name}'s description"
    # The defaults are a run a user can start as it is.
    assert dialog.get_by_test_id("trigger-dag-submit").is_enabled()
    if dag_id in LABELING_DAGS:
        # Automated labeling's rule, where the user turns it on: how many objects, and what to change.
        noun = params["max_objects"]["schema"]["title"].removeprefix("Max ")  # "images", "tickets"
        rule = f"Ground Truth needs at least 1,250 {noun} in the job: raise Max {noun} to match."
        assert "Automated data labeling" in text and rule in text, f"{dag_id}: no 1,250-object rule in the form"
        assert "Budget (USD)" in text and "empty for no limit" in text
    if dag_id == IMAGE_DAG:
        assert "The gt_labeling_backend Variable (else Ground Truth)" in text  # the empty backend choice, named
        assert "Mechanical Turk" in text  # the public workforce is not offered as working
        save_screenshot(page, "trigger-form")


def test_trigger_form_refuses_what_a_labeling_job_cannot_take(stack: NativeStack, page: Any):
    runs_before = len(stack.api.runs(IMAGE_DAG))
    login(stack, page, f"/dags/{IMAGE_DAG}")
    page.get_by_role("button", name="Trigger").first.click()
    dialog = page.get_by_role("dialog")
    # (The UI unpauses before it triggers: a refused run would leave a scheduled one behind.)
    dialog.get_by_text(f"Unpause {IMAGE_DAG} on trigger").click()
    # Workers per image below Ground Truth's minimum: the number field takes the minimum, 1.
    workers = dialog.locator("input[name=element_workers_per_object]")
    workers.fill("0")
    workers.blur()
    assert workers.input_value() == "1"
    # A label twice: the run is refused, and the form says which rule the labels broke.
    labels = dialog.locator("textarea[name=element_labels]")
    labels.fill("zero\none\none")
    labels.blur()
    dialog.get_by_test_id("trigger-dag-submit").click()
    error = dialog.get_by_text(re.compile(r"non-unique|unique", re.IGNORECASE))
    error.first.wait_for()
    save_screenshot(page, "trigger-form-refused")
    assert len(stack.api.runs(IMAGE_DAG)) == runs_before


def _fill_run(dialog: Any, max_objects: int) -> None:
    dialog.locator("input[name=element_max_objects]").fill(str(max_objects))
    dialog.locator("input[name=element_workers_per_object]").fill("1")


def console_url(job_name: str) -> str:
    return f"https://console.aws.amazon.com/sagemaker/groundtruth?region=us-east-1#/labeling-jobs/details/{job_name}"


def _row(frame: Any, job_name: str) -> Any:
    return frame.locator(f"tr[data-job='{job_name}']")


def test_a_run_triggered_from_the_form_is_followed_on_the_labeling_jobs_page(stack: NativeStack, page: Any):
    stack.wait_for_idle(IMAGE_DAG)
    # Unpaused first, by a small run on the date the scheduler would run next (see start_run):
    # unpausing from the form would also start a scheduled run of 200 images. Then an empty
    # account again, so the form's run seeds and labels images of its own.
    first = stack.start_run(IMAGE_DAG, {"max_objects": 2, "workers_per_object": 1})
    stack.wait_for_run(IMAGE_DAG, first, timeout=RUN_TIMEOUT)
    stack.reset_local_aws()
    # Slow workers, so the job is seen running (the stack's local AWS runs its clock fast).
    stack.configure_local_aws(objects_per_second=0.01)
    try:
        login(stack, page, f"/dags/{IMAGE_DAG}")
        page.get_by_role("button", name="Trigger").first.click()
        dialog = page.get_by_role("dialog")
        _fill_run(dialog, 6)
        dialog.get_by_test_id("trigger-dag-submit").click()
        page.wait_for_url(re.compile(rf"/dags/{IMAGE_DAG}/runs/"))
        run_id = unquote(page.url.rsplit("/runs/", 1)[1].split("/")[0])
        api = stack.api
        stack.wait_until(
            lambda: api.task_instance(IMAGE_DAG, run_id, "label_images")["state"] == "deferred",
            what="label_images deferred",
            timeout=RUN_TIMEOUT,
            interval=1,
        )
        record = api.xcom(IMAGE_DAG, run_id, "label_images", key="gt_labeling_job_record")
        job_name = record["job_name"]

        page.goto("/")
        frame = jobs_frame(page)
        row = _row(frame, job_name)
        row.wait_for()
        assert row.get_attribute("data-status") in ("Initializing", "InProgress")
        assert "Ground Truth" in row.inner_text() and run_id in row.inner_text()
        assert re.search(r"\d+/6", row.locator("td.labeled").inner_text())
        # Cost while the job runs: the estimate the task deferred with; the actual cost comes at the end.
        assert re.fullmatch(r"\$[\d,]+\.\d\d", row.locator("td.estimated").inner_text())
        assert row.locator("td.cost").inner_text().split() == ["\u2013", "known", "when", "the", "job", "ends"]
        save_screenshot(page, "labeling-jobs")

        # The backend does not answer in time: the row says so, the page still loads.
        stack.configure_local_aws(response_delays={"DescribeLabelingJob": 12})
        page.wait_for_timeout(DESCRIBE_CACHE_SECONDS * 1000 + 500)  # past the page's reuse of an answer
        page.goto(JOBS_PAGE)
        assert "Ground Truth did not answer" in page.locator(f"tr[data-job='{job_name}']").inner_text()
        stack.configure_local_aws(response_delays={})
    finally:
        stack.configure_local_aws(objects_per_second=10.0, response_delays={})

    stack.wait_for_run(IMAGE_DAG, run_id, timeout=RUN_TIMEOUT)
    page.goto(JOBS_PAGE)
    row = page.locator(f"tr[data-job='{job_name}']")
    assert row.get_attribute("data-status") == "Completed"
    assert row.locator("td.labeled").inner_text().startswith("6/6")
    assert row.locator("td.split").inner_text() == "6 / 0"
    # What the job cost, as the labeling task measured it, and the estimate it made before the job.
    cost = stack.api.xcom(IMAGE_DAG, run_id, "label_images")["cost"]
    assert cost["actual_usd"] > 0
    assert row.locator("td.cost").inner_text() == format_usd(cost["actual_usd"])  # people labeled all: no saving
    assert row.locator("td.estimated").inner_text() == format_usd(cost["estimate_usd"]["high_usd"])
    [listed] = [
        job for job in stack.api.get("/gt-provider/api/labeling-jobs")["labeling_jobs"] if job["job_name"] == job_name
    ]
    assert listed["cost"]["actual_usd"] == cost["actual_usd"] and listed["cost"]["saved_usd"] == 0
    job_link = row.locator("a.job-link")
    assert job_link.get_attribute("href") == console_url(job_name)
    # The task's extra link, on the task instance page, points at the same console page.
    assert task_link(page, run_id, "Labeling Job") == console_url(job_name)
    # The filters.
    page.goto(f"{JOBS_PAGE}?status=Failed")
    assert page.locator(f"tr[data-job='{job_name}']").count() == 0
    page.goto(f"{JOBS_PAGE}?dag_id={IMAGE_DAG}&status=Completed")
    assert page.locator(f"tr[data-job='{job_name}']").count() == 1


def test_a_negative_budget_is_refused_in_the_form_and_a_zero_budget_by_the_labeling_task(stack: NativeStack, page: Any):
    """After the followed run: the DAG is unpaused, so the form's run starts without a scheduled one."""
    stack.wait_for_idle(IMAGE_DAG)
    stack.reset_local_aws()  # new images to label (else the run has nothing new and skips the job)
    # Past the form, through the REST API: Airflow checks the Param's minimum and says which param.
    with pytest.raises(ApiError, match=r"(?s)400.*max_cost_usd"):
        stack.api.trigger(IMAGE_DAG, {"max_cost_usd": -5})
    login(stack, page, f"/dags/{IMAGE_DAG}")
    page.get_by_role("button", name="Trigger").first.click()
    dialog = page.get_by_role("dialog")
    _fill_run(dialog, 2)
    # In the form: the number field takes the budget's minimum, 0, as it takes workers' minimum.
    budget = dialog.locator("input[name=element_max_cost_usd]")
    budget.fill("-5")
    budget.blur()
    assert budget.input_value() == "0"
    dialog.get_by_test_id("trigger-dag-submit").click()
    page.wait_for_url(re.compile(rf"/dags/{IMAGE_DAG}/runs/"))
    run_id = unquote(page.url.rsplit("/runs/", 1)[1].split("/")[0])
    api = stack.api
    stack.wait_until(
        lambda: api.dag_run(IMAGE_DAG, run_id)["state"] in ("success", "failed"),
        what=f"run {run_id} ended",
        timeout=RUN_TIMEOUT,
        interval=2,
    )
    assert api.dag_run(IMAGE_DAG, run_id)["state"] == "failed"
    # A job that costs anything is over a $0 budget: refused before it is created, saying what to change.
    label = api.task_instance(IMAGE_DAG, run_id, "label_images")
    assert label["state"] == "failed"
    # (The message is the exception's, in the log record's error detail, as the log view shows it.)
    log = "\n".join(json.dumps(record) for record in api.task_log(IMAGE_DAG, run_id, "label_images", 1))
    assert "was not created" in log and "above max_cost_usd=$0.00" in log and "Raise max_cost_usd" in log, log[-3000:]
    with pytest.raises(ApiError, match="404"):  # no job, so none on the Labeling jobs page
        api.xcom(IMAGE_DAG, run_id, "label_images", key="gt_labeling_job_record")


def task_link(page: Any, run_id: str, name: str, task_id: str = "label_images") -> str | None:
    """The href of a task's extra link as the Details tab of its task instance page shows it."""
    page.goto(f"/dags/{IMAGE_DAG}/runs/{quote(run_id, safe='')}/tasks/{task_id}/details")
    links = page.get_by_role("link", name=name)
    links.first.wait_for()
    return links.first.get_attribute("href")


def _wait_for_xcom(stack: NativeStack, run_id: str, task_id: str, key: str) -> Any:
    def pushed() -> Any:
        try:
            return stack.api.xcom(IMAGE_DAG, run_id, task_id, key=key)
        except ApiError as error:
            if "404" not in str(error):
                raise
            return None

    return stack.wait_until(pushed, what=f"{task_id} pushed {key}", timeout=RUN_TIMEOUT, interval=1)


def true_digit(image_name: str) -> str:
    """What the person sees on a sample image (``digit-00042.png``: scikit-learn's digit 42)."""
    from sklearn.datasets import load_digits

    index = int(re.search(r"\d+", image_name).group(0))
    return DIGIT_NAMES[int(load_digits().target[index])]


def _label_studio_login(page: Any, label_studio: Any) -> None:
    page.wait_for_selector("input[name=email]")
    page.fill("input[name=email]", label_studio.username)
    page.fill("input[name=password]", label_studio.password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/user/login" not in url)


def test_a_person_labels_in_label_studio_and_the_run_builds_the_dataset(
    stack: NativeStack, browser: Any, page: Any, label_studio_server: Any
):
    """The image DAG on Label Studio with no simulated annotators: a person labels in the browser."""
    label_studio = label_studio_server
    stack.wait_for_idle(IMAGE_DAG)
    stack.reset_local_aws()  # the run seeds images of its own, so all of them are new
    stack.api.request(
        "POST",
        "/api/v2/connections",
        json={
            "connection_id": "label_studio_default",
            "conn_type": "labelstudio",
            "host": label_studio.url,
            "password": label_studio.token,
        },
    )
    objects = 3
    run_id = stack.start_run(IMAGE_DAG, {"backend": "label_studio", "max_objects": objects, "workers_per_object": 1})
    project_url = _wait_for_xcom(stack, run_id, "label_images", "gt_label_studio_project")
    client = LabelStudioClient(label_studio.url, label_studio.token)
    project_id = int(re.search(r"/projects/(\d+)/", project_url).group(1))
    stack.wait_until(lambda: client.project(project_id)["task_number"] == objects, what="tasks imported", timeout=60)

    # The person: Label Studio's own pages, its login, its labeling view.
    person = browser.new_context(viewport=VIEWPORT)
    person.set_default_timeout(30_000)
    try:
        ls = person.new_page()
        ls.goto(project_url)
        _label_studio_login(ls, label_studio)
        assert f"/projects/{project_id}/" in ls.url
        ls.get_by_text("Label All Tasks").click()
        ls.keyboard.press("Escape")  # the project's instructions open first
        images = {
            task["id"]: task["data"][LINE_KEY]["source-ref"].rsplit("/", 1)[1] for task in client.tasks(project_id)
        }
        answers: dict[str, str] = {}  # image file -> the digit the person saw and clicked
        for step in range(objects):
            # The image the person looks at: the task the bottom bar names ("#<task id>").
            shown = ls.locator(".lsf-current-task__task-id")
            shown.wait_for()
            task_id = int(shown.evaluate("element => element.firstChild.textContent"))
            name = images[task_id]
            assert name not in answers, f"Label Studio showed {name} twice"
            answers[name] = true_digit(name)
            ls.locator("label", has_text=re.compile(rf"^{answers[name]}")).first.click()
            if step == 0:
                save_screenshot(ls, "label-studio-labeling")
            ls.get_by_test_id("bottombar-submit-button").click()
            stack.wait_until(
                lambda n=step + 1: sum(1 for task in client.tasks(project_id) if task["total_annotations"]) == n,
                what=f"{step + 1} annotations saved",
                timeout=60,
            )
    finally:
        person.close()

    stack.wait_for_run(IMAGE_DAG, run_id, timeout=RUN_TIMEOUT)
    labeling = stack.api.xcom(IMAGE_DAG, run_id, "label_images")
    s3 = stack.aws_client("s3")
    bucket, key = labeling["output_manifest_uri"][5:].split("/", 1)
    lines = [json.loads(line) for line in s3.get_object(Bucket=bucket, Key=key)["Body"].read().splitlines()]
    attribute = labeling["label_attribute_name"]
    assert {line["source-ref"].rsplit("/", 1)[1]: line[f"{attribute}-metadata"]["class-name"] for line in lines} == (
        answers
    )
    assert all(line[f"{attribute}-metadata"]["human-annotated"] == "yes" for line in lines)
    built = stack.api.xcom(IMAGE_DAG, run_id, "build_dataset")
    assert built["total"] == objects and built["job_names"] == [labeling["job_name"]]

    # The task's extra link points at the project; the Labeling jobs page has the job.
    login(stack, page, f"/dags/{IMAGE_DAG}")
    assert task_link(page, run_id, "Label Studio Project") == project_url
    page.goto(JOBS_PAGE)
    row = _row(page, labeling["job_name"])
    assert row.get_attribute("data-status") == "Completed" and "Label Studio" in row.inner_text()
    assert row.locator("a.job-link").get_attribute("href") == project_url

    # The run's dataset version, from its row: the card, with its plot, and the person's labels.
    dataset_link = row.locator("a.dataset-link")
    assert dataset_link.inner_text() == f"digits v{built['version']}"
    dataset_link.click()
    page.wait_for_url(re.compile(r"/gt-provider/dataset-card\?"))
    card = page.locator("#dataset-card")
    assert card.locator("h1").inner_text() == f"digits — version {built['version']}"
    plot = card.locator("img").first
    plot.wait_for()
    assert plot.evaluate("img => img.complete && img.naturalWidth") > 0
    assert all(digit in card.inner_text() for digit in answers.values())
    save_screenshot(page, "dataset-card", full_page=True)


def test_a_user_who_may_read_no_dag_sees_no_job(stack: NativeStack, page: Any):
    jobs = stack.api.get("/gt-provider/api/labeling-jobs")["labeling_jobs"]
    assert jobs  # admin sees the jobs
    login(stack, page, JOBS_PAGE, user=OUTSIDER)
    assert page.url.endswith(JOBS_PAGE)
    assert "No labeling jobs yet" in page.inner_text("body")
    assert page.locator("tr[data-job]").count() == 0
    # Nor the card of a dataset version one of those runs built.
    [card_url, *_] = [job["dataset"]["card_url"] for job in jobs if job["dataset"]]
    response = page.goto(card_url)
    assert response.status == 404 and "built no dataset version you may read" in page.inner_text("body")


def test_a_deleted_run_leaves_the_page_without_its_job(stack: NativeStack, page: Any):
    jobs = stack.api.get("/gt-provider/api/labeling-jobs", dag_id=IMAGE_DAG)["labeling_jobs"]
    doomed = jobs[0]
    stack.api.request("DELETE", f"/api/v2/dags/{IMAGE_DAG}/dagRuns/{doomed['run_id']}")
    login(stack, page, JOBS_PAGE)
    assert page.get_by_role("heading", name="Labeling jobs").is_visible()
    assert page.locator(f"tr[data-job='{doomed['job_name']}']").count() == 0


def test_the_api_server_logged_no_error(stack: NativeStack):
    [api_server] = stack.services("api-server")
    lines = stack.processes[api_server].log_path.read_text(errors="replace").splitlines()
    # Airflow's console log says "[error    ]", its JSON log "level": "error"; a traceback follows some.
    error = re.compile(r"\bERROR\b|\[error\s*\]|Traceback|\"level\": ?\"error\"")
    errors = [index for index, line in enumerate(lines) if error.search(line)]
    # Each with the lines that follow it, so that the failure shows the whole traceback.
    assert errors == [], "\n\n".join("\n".join(lines[index : index + 40]) for index in errors[:5])
