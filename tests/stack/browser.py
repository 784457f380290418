"""A real browser for the UI tests: the OS's Chromium, headless, driven by Playwright.

Playwright never downloads a browser here: ``make test`` installs Debian's ``chromium`` where
it is missing and passes its path in ``GT_CHROMIUM``. A missing browser fails the tests
loudly, naming the fix; it does not skip them. Screenshots go to ``GT_SCREENSHOTS`` (``make
screenshots`` points it at ``docs/screenshots``), else to a temporary folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: Chromium's flags on this kind of machine: root needs --no-sandbox; the closed network
#: refuses the background connections Chromium makes by default.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1400, "height": 900}


def chromium_path() -> str:
    path = os.environ.get("GT_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        raise RuntimeError(
            f"no Chromium at {path}: `make test` installs Debian's chromium package (apt-get install chromium); "
            "or set GT_CHROMIUM to a Chromium binary"
        )
    return path


@contextlib.contextmanager
def launch() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


def screenshot_dir() -> Path:
    folder = Path(os.environ.get("GT_SCREENSHOTS") or Path(tempfile.gettempdir()) / "gt-provider-screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def save_screenshot(page: Any, name: str, **options: Any) -> Path:
    path = screenshot_dir() / f"{name}.png"
    page.screenshot(path=str(path), **options)
    return path


def passwords(airflow_home: Path) -> dict[str, str]:
    """The simple auth manager's generated passwords, by user."""
    return json.loads((airflow_home / "simple_auth_manager_passwords.json.generated").read_text())


def airflow_login(page: Any, username: str, password: str) -> None:
    """Fill Airflow's login page (the page a protected URL redirected to) and sign in."""
    page.wait_for_selector("input[name=username]")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    # The login page's script navigates once its POST /auth/token answers; "networkidle" can
    # come before that navigation starts, so wait for the browser to have left the page.
    page.wait_for_url(lambda url: "/auth/login" not in url)
    page.wait_for_load_state("networkidle")
