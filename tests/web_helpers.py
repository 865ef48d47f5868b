"""Helpers for the web tests: a client on the app, signing in through the real form, and
the CSRF check every form's test can call.

    from tests.web_helpers import assert_csrf_protected, fast_passwords, signed_in_client

    def test_my_form(ctx, fast_passwords):  # noqa: F811 (the imported fixture)
        district(ctx)
        web = signed_in_client(ctx, "li")
        assert_csrf_protected(web, "/my/form", {"field": "value"}, ctx=ctx)

`fast_passwords` makes argon2 cheap for one test: with the production parameters each hash
costs about 0.2 s, which a test that signs in several users would pay over and over."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from flows.service import ServiceContext, accounts
from models import ApiToken, Credential
from tests.helpers import snapshot
from web.app import SESSION_COOKIE, WebConfig, create_app
from web.csrf import CSRF_FIELD

SECRET = "test-secret-key"
ADMIN = "liu"  # the administrator of tests.helpers.district
_TOKEN = re.compile(rf'name="{CSRF_FIELD}" value="([^"]+)"')


@pytest.fixture
def fast_passwords(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Hash with cheap argon2id parameters in this test (the demo's, so a demo's published
    passwords need no rehash either)."""
    monkeypatch.setattr(accounts, "HASHER", accounts.DEMO_HASHER)
    yield


def web_client(ctx: ServiceContext, *, address: str = "testclient", secure: bool = False) -> TestClient:
    """A browser on a new app over `ctx`, coming from `address` (over HTTPS if `secure`:
    the app's cookies are then Secure, which a browser sends only over HTTPS)."""
    app = create_app(ctx, WebConfig(secret_key=SECRET, cookie_secure=secure))
    base = "https://testserver" if secure else "http://testserver"
    return TestClient(app, base_url=base, client=(address, 50000), follow_redirects=False)


def another_browser(client: TestClient, *, address: str = "testclient") -> TestClient:
    """A second browser (its own cookies) on the same app."""
    return TestClient(client.app, client=(address, 50001), follow_redirects=False)


def password_of(code: str) -> str:
    return f"{code}-Pass-2026!"


def give_password(ctx: ServiceContext, code: str, password: str | None = None, admin: str = ADMIN) -> str:
    """Set `code`'s password as the administrator; returns it."""
    password = password or password_of(code)
    accounts.set_password(ctx, admin, code, password)
    return password


def csrf_of(html: str) -> str:
    found = _TOKEN.search(html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def form_token(client: TestClient, page: str = "/login") -> str:
    """The CSRF token of `client`'s session, from a form page."""
    answer = client.get(page)
    assert answer.status_code == 200, (page, answer.status_code)
    return csrf_of(answer.text)


def sign_in(client: TestClient, code: str, password: str | None = None, next: str = "") -> httpx.Response:
    """Sign in through the form, as a browser does (GET the page, POST it with its token)."""
    data = {CSRF_FIELD: form_token(client), "user": code, "password": password or password_of(code)}
    if next:
        data["next"] = next
    return client.post("/login", data=data)


def signed_in_client(ctx: ServiceContext, code: str, *, address: str = "testclient") -> TestClient:
    """A browser signed in as `code` (its password set by the administrator first)."""
    give_password(ctx, code)
    client = web_client(ctx, address=address)
    answer = sign_in(client, code)
    assert answer.status_code == 303, answer.text
    return client


def session_cookie(client: TestClient) -> str | None:
    return client.cookies.get(SESSION_COOKIE)


def assert_csrf_protected(
    client: TestClient,
    path: str,
    data: Mapping[str, Any],
    *,
    ctx: ServiceContext | None = None,
    token_page: str = "/login",
) -> None:
    """A form post to `path` is refused (403) without the CSRF token, with a wrong one, with
    a wrong header, and with the token of another session; given `ctx`, none of them changed
    the database. `data` is the form as the page would send it (its token is dropped)."""
    form = {key: value for key, value in data.items() if key != CSRF_FIELD}
    form_token(client, token_page)  # the session has a token: the refusals are not for lack of one
    stranger = another_browser(client)
    foreign = form_token(stranger)
    before = (snapshot(ctx), accounts_state(ctx)) if ctx is not None else None
    attempts = {
        "missing": client.post(path, data=form),
        "wrong": client.post(path, data={**form, CSRF_FIELD: "not-the-token"}),
        "empty": client.post(path, data={**form, CSRF_FIELD: ""}),
        "wrong header": client.post(path, data=form, headers={"X-CSRF-Token": "not-the-token"}),
        "another session's": client.post(path, data={**form, CSRF_FIELD: foreign}),
    }
    for what, answer in attempts.items():
        assert answer.status_code == 403, f"{path}: a {what} CSRF token got {answer.status_code}"
    if ctx is not None:
        after = (snapshot(ctx), accounts_state(ctx))
        assert after == before, f"{path}: a request refused for CSRF changed the database"


def accounts_state(ctx: ServiceContext) -> tuple[object, ...]:
    """Every credential and API token as stored (what `snapshot` counts but does not read)."""
    with Session(ctx.engine) as session:
        credentials = sorted(repr(tuple(row)) for row in session.exec(select(Credential)).all())
        tokens = sorted(repr(tuple(row)) for row in session.exec(select(ApiToken)).all())
    return tuple(credentials), tuple(tokens)
