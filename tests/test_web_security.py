"""Security of sign-in and sessions: CSRF on every auth form, the session cookie's flags and
signature, passwords stored only as hashes, the sign-in limits over HTTP, no session
fixation, and a disabled user's session ending at once."""

from __future__ import annotations

import base64
import json
import logging

import itsdangerous
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect, text
from sqlmodel import Session, select

from flows.service import ServiceContext
from flows.service.accounts import ADDRESS_FAILURES, MAX_FAILURES, issue_api_token, set_password
from models import Credential
from tests.helpers import act, district
from tests.web_helpers import (  # noqa: F401  (fast_passwords is a fixture)
    SECRET,
    another_browser,
    assert_csrf_protected,
    fast_passwords,
    form_token,
    give_password,
    password_of,
    session_cookie,
    sign_in,
    signed_in_client,
    web_client,
)
from web.app import SESSION_COOKIE
from web.csrf import CSRF_FIELD


@pytest.fixture
def town(ctx: ServiceContext, fast_passwords: None) -> ServiceContext:  # noqa: F811
    district(ctx)
    return ctx


def signed_in(client: TestClient) -> bool:
    """Whether `client` is signed in (a page that needs it answers, not a redirect)."""
    return client.get("/account/password").status_code == 200


# ---------------------------------------------------------------- CSRF
def test_sign_in_refuses_a_missing_or_wrong_csrf_token(town: ServiceContext) -> None:
    give_password(town, "li")
    web = web_client(town)
    assert_csrf_protected(web, "/login", {"user": "li", "password": password_of("li")}, ctx=town)
    assert not signed_in(web)


def test_sign_out_refuses_a_missing_or_wrong_csrf_token(town: ServiceContext) -> None:
    web = signed_in_client(town, "li")
    assert_csrf_protected(web, "/logout", {}, ctx=town, token_page="/account/password")
    assert signed_in(web)  # none of them signed the user out


def test_password_change_refuses_a_missing_or_wrong_csrf_token(town: ServiceContext) -> None:
    web = signed_in_client(town, "li")
    form = {
        "old_password": password_of("li"),
        "new_password": "new-password-li",
        "confirm_password": "new-password-li",
    }
    assert_csrf_protected(web, "/account/password", form, ctx=town, token_page="/account/password")
    assert signed_in(web)


def test_every_auth_form_carries_the_sessions_csrf_token(town: ServiceContext) -> None:
    web = signed_in_client(town, "li")
    token = web.get("/account/password").text
    assert token.count(f'name="{CSRF_FIELD}"') == 2  # the password form and the sign-out button
    assert web.get("/login").text.count(f'name="{CSRF_FIELD}"') == 2  # sign-in form and sign-out


# ---------------------------------------------------------------- the session cookie
def test_the_session_cookie_is_httponly_samesite_lax_and_secure_when_configured(town: ServiceContext) -> None:
    give_password(town, "li")
    for secure in (False, True):
        web = web_client(town, secure=secure)
        form_token(web)
        answer = web.post(
            "/login", data={CSRF_FIELD: form_token(web), "user": "li", "password": password_of("li")}
        )
        cookie = answer.headers["set-cookie"]
        flags = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
        assert cookie.startswith(f"{SESSION_COOKIE}=")
        assert {"httponly", "samesite", "path", "max-age"} <= flags and "samesite=lax" in cookie.lower()
        assert ("secure" in flags) is secure


def test_a_tampered_or_foreign_session_cookie_is_not_accepted(town: ServiceContext) -> None:
    web = signed_in_client(town, "li")
    cookie = session_cookie(web)
    assert cookie is not None
    payload, _, signature = cookie.partition(".")
    data = json.loads(base64.b64decode(payload))
    assert data["user"] == "li"
    # the same session, but naming the administrator: the signature no longer matches
    forged = base64.b64encode(json.dumps({**data, "user": "liu"}).encode()).decode()
    attacker = another_browser(web)
    attacker.cookies.set(SESSION_COOKIE, f"{forged}.{signature}")
    assert not signed_in(attacker)
    # a well-formed cookie signed with another key
    foreign = itsdangerous.TimestampSigner("another-key").sign(base64.b64encode(json.dumps(data).encode()))
    attacker.cookies.set(SESSION_COOKIE, foreign.decode())
    assert not signed_in(attacker)
    # and the genuine one, for comparison, works with the app's own key
    genuine = itsdangerous.TimestampSigner(SECRET).sign(base64.b64encode(json.dumps(data).encode()))
    attacker.cookies.set(SESSION_COOKIE, genuine.decode())
    assert signed_in(attacker)


# ---------------------------------------------------------------- passwords only as hashes
def test_passwords_are_stored_only_as_hashes_nowhere_in_plain(
    town: ServiceContext, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    plain = {
        "admin-set-password": ("liu", "wang"),
        "own-first-password": ("zhao", "zhao"),
    }
    for password, (actor, user) in plain.items():
        set_password(town, actor, user, password)
    web = signed_in_client(town, "li")
    web.post(
        "/account/password",
        data={
            CSRF_FIELD: form_token(web, "/account/password"),
            "old_password": password_of("li"),
            "new_password": "web-changed-password",
            "confirm_password": "web-changed-password",
        },
    )
    sign_in(web_client(town), "li", "a-wrong-typed-password")
    secret = issue_api_token(town, "liu", "li", "对接")
    everything = database_text(town)
    assert everything.count("$argon2id$") == 3  # wang, zhao and li (its old hash is gone)
    for password in [*plain, password_of("li"), "web-changed-password", "a-wrong-typed-password", secret]:
        assert password not in everything, f"{password} is stored in plain"
        assert password not in caplog.text, f"{password} is in the log"
    with Session(town.engine) as session:
        hashes = [c.password_hash for c in session.exec(select(Credential))]
    assert len(hashes) == 3 and all(h.startswith("$argon2id$") for h in hashes)


def database_text(ctx: ServiceContext) -> str:
    """Every value of every row of every table, as text (the audit payloads included)."""
    parts: list[str] = []
    with ctx.engine.connect() as connection:
        for table in inspect(ctx.engine).get_table_names():
            for row in connection.execute(text(f'SELECT * FROM "{table}"')):
                parts.extend(str(value) for value in row)
    return "\n".join(parts)


# ---------------------------------------------------------------- sign-in limits over HTTP
def test_sign_in_is_limited_per_account(town: ServiceContext) -> None:
    give_password(town, "li")
    # the failures come from different addresses: the account's own count locks it
    for index in range(MAX_FAILURES):
        answer = sign_in(web_client(town, address=f"10.1.0.{index}"), "li", "a-wrong-password")
    assert answer.status_code == 423 and "账号已锁定" in answer.text
    assert sign_in(web_client(town, address="10.1.0.99"), "li").status_code == 423
    assert sign_in(web_client(town, address="10.1.0.99"), "wang", "whatever-wrong").status_code == 401


def test_sign_in_is_limited_per_address(town: ServiceContext) -> None:
    give_password(town, "li")
    web = web_client(town, address="192.0.2.50")
    for index in range(ADDRESS_FAILURES):  # one failure per account: no account locks
        assert sign_in(web, f"user{index}", "a-wrong-password").status_code == 401
    refused = sign_in(web, "li")
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
    assert not signed_in(web)
    assert sign_in(web_client(town, address="192.0.2.51"), "li").status_code == 303


# ---------------------------------------------------------------- sessions
def test_a_session_from_before_sign_in_is_not_the_signed_in_session(town: ServiceContext) -> None:
    """Session fixation: a cookie (and CSRF token) an attacker obtained before the victim
    signed in, or planted in the victim's browser, never becomes the signed-in session."""
    give_password(town, "li")
    victim = web_client(town)
    planted_token = form_token(victim)
    planted = session_cookie(victim)
    assert planted is not None
    answer = victim.post(
        "/login", data={CSRF_FIELD: planted_token, "user": "li", "password": password_of("li")}
    )
    assert answer.status_code == 303
    assert session_cookie(victim) != planted and signed_in(victim)
    attacker = another_browser(victim)
    attacker.cookies.set(SESSION_COOKIE, planted)
    assert not signed_in(attacker)
    # the token from before sign-in does not pass on the signed-in session either
    assert victim.post("/logout", data={CSRF_FIELD: planted_token}).status_code == 403
    assert signed_in(victim)


def test_a_disabled_users_session_stops_working_at_once(town: ServiceContext) -> None:
    web = signed_in_client(town, "li")
    assert signed_in(web)
    act(town, "disable_user", "liu", "2026-03-01T09:00", id="li", reason="调离")
    answer = web.get("/account/password")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
    assert not signed_in(web)


def test_a_password_reset_by_an_administrator_ends_the_users_sessions(town: ServiceContext) -> None:
    web = signed_in_client(town, "li")
    set_password(town, "liu", "li", "reset-by-admin-li")
    assert not signed_in(web)
    assert sign_in(web, "li", "reset-by-admin-li").status_code == 303


def test_what_is_typed_at_sign_in_is_inert_on_the_page(town: ServiceContext) -> None:
    web = web_client(town)
    typed = '<script>alert("x")</script>'
    answer = sign_in(web, typed, "a-wrong-password", next='/"><script>alert(1)</script>')
    assert answer.status_code == 401
    assert "<script>alert" not in answer.text and "&lt;script&gt;" in answer.text
    assert "script-src 'self'" in answer.headers["content-security-policy"]


# ---------------------------------------------------------------- the Host header
def test_a_forged_host_header_appears_nowhere_in_a_page(town: ServiceContext) -> None:
    """Links are written as paths, never built from the request's Host header, so a forged
    Host cannot point a page's stylesheet or forms at another server."""
    client = web_client(town)
    for path in ("/", "/login", "/api/docs"):
        page = client.get(path, headers={"Host": "evil.example"})
        assert page.status_code == 200, path
        assert "evil.example" not in page.text, path
