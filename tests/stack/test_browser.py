"""What engineers click in the Airflow UI, in a real browser (Playwright, the OS's Chromium).

Against the native stack (tests/stack/runner.py): the real API server with the simple auth
manager and its generated logins, a scheduler, a triggerer, a Celery worker and the local
AWS. The tests log in as a user would, open the labeling DAGs' trigger forms, trigger a run
and follow its labeling job on the provider's Labeling jobs page (tests run in file order:
the first one sees the page before any job exists).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import pytest

from gt_provider.ui.jobs import DESCRIBE_CACHE_SECONDS
from tests.stack.auth import OUTSIDER
from tests.stack.browser import VIEWPORT, airflow_login, launch, passwords, save_screenshot
from tests.stack.runner import NativeStack

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


@pytest.mark.parametrize("dag_id", [*LABELING_DAGS, "gt_train_on_dataset"])
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
    job_link = row.locator("a.job-link")
    assert job_link.get_attribute("href") == console_url(job_name)
    # The filters.
    page.goto(f"{JOBS_PAGE}?status=Failed")
    assert page.locator(f"tr[data-job='{job_name}']").count() == 0
    page.goto(f"{JOBS_PAGE}?dag_id={IMAGE_DAG}&status=Completed")
    assert page.locator(f"tr[data-job='{job_name}']").count() == 1


def test_a_user_who_may_read_no_dag_sees_no_job(stack: NativeStack, page: Any):
    assert stack.api.get("/gt-provider/api/labeling-jobs")["total_entries"] >= 1  # admin sees the jobs
    login(stack, page, JOBS_PAGE, user=OUTSIDER)
    assert page.url.endswith(JOBS_PAGE)
    assert "No labeling jobs yet" in page.inner_text("body")
    assert page.locator("tr[data-job]").count() == 0


def test_a_deleted_run_leaves_the_page_without_its_job(stack: NativeStack, page: Any):
    jobs = stack.api.get("/gt-provider/api/labeling-jobs", dag_id=IMAGE_DAG)["labeling_jobs"]
    doomed = jobs[0]
    stack.api.request("DELETE", f"/api/v2/dags/{IMAGE_DAG}/dagRuns/{doomed['run_id']}")
    login(stack, page, JOBS_PAGE)
    assert page.get_by_role("heading", name="Labeling jobs").is_visible()
    assert page.locator(f"tr[data-job='{doomed['job_name']}']").count() == 0


def test_the_api_server_logged_no_error(stack: NativeStack):
    [api_server] = stack.services("api-server")
    log = stack.processes[api_server].log_path.read_text(errors="replace")
    errors = [line for line in log.splitlines() if re.search(r"\bERROR\b|Traceback|\"level\": ?\"error\"", line)]
    assert errors == [], "\n".join(errors[:20])
