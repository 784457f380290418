"""Annotator accounts on a Label Studio server, made the way a person joins: through the invite link.

``POST /api/users/`` makes a user outside the organization, who cannot annotate. What works
(Label Studio 1.23) is the organization's invite link: the admin reads its token
(``GET /api/invite``), each annotator opens ``/user/signup/?token=...`` for the CSRF cookie
and posts the signup form; that session then reads its own API token
(``GET /api/current-user/token``). An annotator who exists already logs in instead, so
asking twice gives the same users.

Standard library and ``requests`` only.
"""

from __future__ import annotations

from dataclasses import dataclass

import requests

from gt_provider.labelstudio.client import LabelStudioClient, LabelStudioError

_TIMEOUT = 30


@dataclass(frozen=True)
class Annotator:
    """A Label Studio user who can annotate: its id, email, password and API token."""

    user_id: int
    email: str
    token: str


def create_annotators(url: str, admin_token: str, count: int, *, prefix: str = "annotator") -> list[Annotator]:
    """``count`` annotators ``<prefix>-<n>@gt-provider.local`` in the admin's organization (idempotent)."""
    admin = LabelStudioClient(url, admin_token, where="the admin token")
    invite = admin.request("GET", "/api/invite", "reading the organization's invite link")
    token = invite.get("token") or invite.get("invite_url", "").rsplit("token=", 1)[-1]
    return [_join(url.rstrip("/"), token, f"{prefix}-{number}@gt-provider.local") for number in range(1, count + 1)]


def _join(url: str, invite_token: str, email: str) -> Annotator:
    password = f"gt-provider-{email.split('@')[0]}"  # a test account on a local server
    session = requests.Session()
    answer = _submit_form(session, f"{url}/user/signup/?token={invite_token}", email, password, "signing up")
    if answer.status_code != 302:  # the user exists already (or the form refused): log in
        answer = _submit_form(session, f"{url}/user/login/", email, password, "logging in")
        if answer.status_code != 302:
            raise LabelStudioError(
                f"Label Studio at {url}: {email} could neither sign up nor log in (HTTP {answer.status_code})"
            )
    me = _call(session, "GET", f"{url}/api/current-user/whoami", f"reading {email}'s user").json()
    token = _call(session, "GET", f"{url}/api/current-user/token", f"reading {email}'s API token").json()["token"]
    return Annotator(user_id=int(me["id"]), email=email, token=token)


def _submit_form(session: requests.Session, page_url: str, email: str, password: str, step: str) -> requests.Response:
    """Open a sign-up or log-in page (for its CSRF cookie) and post the email and password, as a browser does."""
    page = _call(session, "GET", page_url, f"opening the page for {step} {email}")
    return _call(
        session,
        "POST",
        page_url,
        f"{step} {email}",
        data={"email": email, "password": password, "csrfmiddlewaretoken": session.cookies.get("csrftoken", "")},
        headers={"Referer": page.url},
        allow_redirects=False,
    )


def _call(session: requests.Session, method: str, url: str, step: str, **kwargs: object) -> requests.Response:
    try:
        response = session.request(method, url, timeout=_TIMEOUT, **kwargs)  # type: ignore[arg-type]
    except requests.RequestException as error:
        raise LabelStudioError(f"Label Studio is unreachable while {step}: {error}") from None
    if response.status_code >= 400:
        raise LabelStudioError(f"Label Studio: {step} failed: HTTP {response.status_code}: {response.text[:300]}")
    return response
