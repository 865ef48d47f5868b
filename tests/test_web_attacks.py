"""The web app and the JSON API under attack (issue 10, security): each test reproduces an
attack that worked, or one that must keep failing, and checks that it fails.

The public's actions through the API (sanitising, duplicates, rate limits, confidential
decisions, cross-site posts, deep JSON), unpublished drafts on the portal, caching of private
answers, sign-in enumeration, oversize bodies, redirects and headers."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import HTTPException, Request
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from flows.service import ServiceContext, accounts
from flows.service.accounts import ADDRESS_FAILURES, LOCK_DURATION, MAX_FAILURES, PASSWORD_MAX, verify_sign_in
from models import Decision, HearingRegistration, PublicComment
from models.execution import ExecutionFeedback
from tests.api_helpers import bearer, issue_token
from tests.helpers import act, at, district, drafted, participation_done, snapshot
from tests.test_after_decision import assign, made, party_done, publish
from tests.test_hearing import announce
from tests.test_web_auth import Clock, credential
from tests.test_web_portal import SECRET, comment, comments, look_up, open_for_comment, portal, receipt_of
from tests.web_helpers import (
    another_browser,
    form_token,
    give_password,
    password_of,
    sign_in,
    signed_in_client,
    web_client,
)
from web import permissions
from web.abuse import COMMENT_LIMIT, MAX_REQUEST_BODY
from web.csrf import CSRF_FIELD
from web.deps import require_user
from web.receipts import read_receipt
from web.routes import api as api_routes
from web.routes.api import MAX_DEPTH, MAX_MEMBERS

SCRIPT = "<script>alert(1)</script>"
IMAGE = '<img src=x onerror="alert(2)">'
COMMENT_API = "/api/v1/actions/submit_public_comment"
REGISTER_API = "/api/v1/actions/register_for_hearing"
FEEDBACK_API = "/api/v1/actions/submit_execution_feedback"


def rows(ctx: ServiceContext, model: Any) -> list[Any]:
    with Session(ctx.engine) as session:
        return list(session.exec(select(model)).all())


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def timed(engine: Engine, tmp_path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> ServiceContext:
    """The standard district on a context whose clock the test moves, with cheap hashes."""
    monkeypatch.setattr(accounts, "HASHER", accounts.DEMO_HASHER)
    ctx = ServiceContext(engine=engine, data_dir=tmp_path / "data", clock=clock)
    district(ctx)
    return ctx


@pytest.fixture
def town_web(timed: ServiceContext) -> TestClient:
    """A browser on the app over the standard district, li with a password."""
    give_password(timed, "li")
    return web_client(timed)


def error(answer: Any, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    found: dict[str, Any] = answer.json()["error"]
    return found


# ---------------------------------------------------------------------------- the public's actions over the API
def test_the_api_sanitises_the_public_s_text_as_the_portal_form_does(ctx: ServiceContext) -> None:
    """Attack: post markup through the API, which used to store it as sent, to reach the
    staff pages and documents that show comments, registrations and feedback."""
    open_for_comment(ctx)
    web, _ = portal(ctx, "2026-03-05T10:00")
    sent = web.post(
        COMMENT_API,
        json={"decision": "D1", "text": f"正文{SCRIPT}", "name": f"{IMAGE}张三", "contact": "<b>a@b.cn</b>"},
    )
    assert sent.status_code == 200, sent.text
    [row] = comments(ctx)
    assert (row.text, row.name, row.contact) == ("正文", "张三", "a@b.cn")
    # the answer carries the receipt, which the portal's look-up reads
    receipt = sent.json()["data"]["receipt"]
    assert read_receipt(SECRET, receipt) == ("D1", row.code)
    assert look_up(web, receipt).status_code == 200


def test_a_hearing_registration_over_the_api_is_sanitised(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx, flags=["hearing_required_by_law"])
    announce(ctx)
    web, _ = portal(ctx, "2026-09-15T10:00")
    answer = web.post(
        REGISTER_API,
        json={
            "decision": "D1",
            "hearing": "H1",
            "name": f"{SCRIPT}李四",
            "contact": f"139{IMAGE}00",
            "interest_group": "居民用户",
        },
    )
    assert answer.status_code == 200, answer.text
    [registration] = rows(ctx, HearingRegistration)
    assert (registration.name, registration.contact) == ("李四", "13900")


def test_feedback_over_the_api_is_sanitised_and_only_on_a_published_decision(ctx: ServiceContext) -> None:
    """Attack: feedback on a decision the public was never shown (decided, carried out, not
    yet published) used to be accepted, confirming what the decision's state is."""
    made(ctx)
    assign(ctx)
    web, clock = portal(ctx, "2026-04-19T10:00")
    unpublished = error(web.post(FEEDBACK_API, json={"decision": "D1", "text": "施工噪音"}), 404)
    unknown = error(web.post(FEEDBACK_API, json={"decision": "D9", "text": "施工噪音"}), 404)
    assert unpublished["rule_id"] == unknown["rule_id"] == "NOT_FOUND"
    assert rows(ctx, ExecutionFeedback) == []
    party_done(ctx)
    publish(ctx)
    clock.set("2026-04-23T10:00")
    answer = web.post(FEEDBACK_API, json={"decision": "D1", "text": f"施工噪音{SCRIPT}", "contact": IMAGE})
    assert answer.status_code == 200, answer.text
    [feedback] = rows(ctx, ExecutionFeedback)
    assert (feedback.text, feedback.contact) == ("施工噪音", "")
    # the same feedback again is the first one's answer, nothing is made twice
    again = web.post(FEEDBACK_API, json={"decision": "D1", "text": f"施工噪音{SCRIPT}", "contact": IMAGE})
    assert again.json()["data"] == {"feedback": feedback.code, "duplicate": True}
    assert len(rows(ctx, ExecutionFeedback)) == 1


def test_a_comment_resent_through_the_api_is_the_portal_s_duplicate(ctx: ServiceContext) -> None:
    """Attack: the portal's duplicate check did not cover the API, so a script (or a retrying
    integration) could send the same comment again and again."""
    open_for_comment(ctx)
    web, _ = portal(ctx, "2026-03-05T10:00")
    first = comment(web, "D1", "同一条意见", name="张三")
    again = web.post(COMMENT_API, json={"decision": "D1", "text": "同一条意见", "name": "张三"})
    assert again.status_code == 200, again.text
    assert again.json()["data"] == {"comment": "C1", "receipt": receipt_of(first.text), "duplicate": True}
    assert [c.code for c in comments(ctx)] == ["C1"]


def test_the_api_counts_against_the_portal_s_rate_limit(ctx: ServiceContext) -> None:
    """Attack: alternate the portal's form and the API to double the address's allowance."""
    open_for_comment(ctx)
    web, _ = portal(ctx, "2026-03-05T10:00")
    for i in range(COMMENT_LIMIT.count):
        if i % 2:
            assert comment(web, "D1", f"第{i}条意见").status_code == 201
        else:
            assert web.post(COMMENT_API, json={"decision": "D1", "text": f"第{i}条意见"}).status_code == 200
    assert comment(web, "D1", "再一条").status_code == 429
    assert (
        error(web.post(COMMENT_API, json={"decision": "D1", "text": "又一条"}), 429)["kind"] == "rate_limited"
    )
    assert len(comments(ctx)) == COMMENT_LIMIT.count


def test_the_same_words_under_different_names_are_different_comments(ctx: ServiceContext) -> None:
    """Residents behind one address (a carrier's NAT, an office) who send the same words
    under their own names each have a comment: the duplicate check used to keep only the
    first one and hand the others its receipt."""
    open_for_comment(ctx)
    web, _ = portal(ctx, "2026-03-05T10:00")
    zhang = comment(web, "D1", "反对降低补偿标准", name="张三", contact="13900000001")
    li = comment(web, "D1", "反对降低补偿标准", name="李四", contact="13900000002")
    assert zhang.status_code == li.status_code == 201
    assert receipt_of(zhang.text) != receipt_of(li.text)
    assert [(c.code, c.name) for c in comments(ctx)] == [("C1", "张三"), ("C2", "李四")]
    # the same person sending it again is still the duplicate
    assert receipt_of(
        comment(web, "D1", "反对降低补偿标准", name="李四", contact="13900000002").text
    ) == receipt_of(li.text)
    assert len(comments(ctx)) == 2


def test_the_api_does_not_tell_a_confidential_decision_from_no_decision(ctx: ServiceContext) -> None:
    """Attack: as anyone, post a public action naming each code in turn: a confidential
    decision used to answer 409 with its stage's state, a code that does not exist 404."""
    district(ctx)
    drafted(ctx, "D2", flags=["confidential", "hearing_required_by_law"])
    web, _ = portal(ctx, "2026-03-05T10:00")
    for path, payload in (
        (COMMENT_API, {"text": "意见"}),
        (REGISTER_API, {"hearing": "H1", "name": "张三", "contact": "139", "interest_group": "居民"}),
        (FEEDBACK_API, {"text": "意见"}),
    ):
        secret = web.post(path, json={"decision": "D2", **payload})
        unknown = web.post(path, json={"decision": "D9", **payload})
        assert secret.status_code == unknown.status_code == 404, (path, secret.text)
        assert secret.text.replace("D2", "D9") == unknown.text, path
    with Session(ctx.engine) as session:  # the flag is proposed: confidential until the legal office decides
        decision = session.exec(select(Decision).where(Decision.code == "D2")).one()
        assert "confidential" in decision.proposed_flags + decision.flags
    assert rows(ctx, PublicComment) == [] and rows(ctx, HearingRegistration) == []


def test_feedback_on_a_confidential_decision_being_carried_out_is_not_found(ctx: ServiceContext) -> None:
    """A confidential decision is decided and carried out without publication; the public's
    feedback route used to take opinions on it (and so confirm it exists)."""
    made(ctx)
    assign(ctx)
    with Session(ctx.engine) as session:  # as a confidential decision would stand (R2: no publication)
        decision = session.exec(select(Decision).where(Decision.code == "D1")).one()
        decision.flags = [*decision.flags, "confidential"]
        session.add(decision)
        session.commit()
    web, _ = portal(ctx, "2026-04-19T10:00")
    assert (
        error(web.post(FEEDBACK_API, json={"decision": "D1", "text": "施工噪音"}), 404)["rule_id"]
        == "NOT_FOUND"
    )
    assert rows(ctx, ExecutionFeedback) == []


CROSS_SITE = [  # bodies a form on another site can post without asking (no CORS preflight)
    ("text/plain", b'{"decision":"D1","text":"spam from a visitor\'s browser="}\r\n'),
    ("application/x-www-form-urlencoded", b'{"decision":"D1","text":"spam"}'),
    ("multipart/form-data; boundary=x", b'{"decision":"D1","text":"spam"}'),
    ("", b'{"decision":"D1","text":"spam"}'),
]


def test_a_page_on_another_site_cannot_post_the_public_s_actions(ctx: ServiceContext) -> None:
    """Attack: a page elsewhere holds a form with enctype=text/plain whose field name and value
    join into JSON; every visitor's browser posts a comment from the visitor's address, past
    the per-address limit and the portal's CSRF token. The API used to parse any body."""
    open_for_comment(ctx)
    web, _ = portal(ctx, "2026-03-05T10:00")
    for content_type, body in CROSS_SITE:
        headers = {"Content-Type": content_type} if content_type else {}
        answer = web.post(COMMENT_API, content=body, headers=headers)
        found = error(answer, 415)
        assert (found["rule_id"], found["field"], found["kind"]) == (
            "INPUT",
            "Content-Type",
            "unsupported_media_type",
        )
    assert comments(ctx) == []
    # JSON declared as such, with a charset, is what the API takes
    sent = web.post(
        COMMENT_API,
        content=json.dumps({"decision": "D1", "text": "正常意见"}).encode(),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert sent.status_code == 200, sent.text


def test_deeply_nested_json_is_refused_not_a_server_error(ctx: ServiceContext) -> None:
    """Attack: 3,000 nested brackets (6 KB, well under the size limit) made the JSON parser
    recurse until Python gave up: an unhandled RecursionError, a 500 for each request."""
    open_for_comment(ctx)
    web, _ = portal(ctx, "2026-03-05T10:00")
    deep = b'{"decision":"D1","text":"x","name":' + b"[" * 3000 + b"]" * 3000 + b"}"
    found = error(web.post(COMMENT_API, content=deep, headers={"Content-Type": "application/json"}), 422)
    assert found["field"] == "payload" and str(MAX_DEPTH) in found["message_en"]
    assert comments(ctx) == []
    # sixty thousand levels: the parser's own guard answers the same
    deeper = b'{"decision":"D1","text":"x","name":' + b"[" * 60_000 + b"]" * 60_000 + b"}"
    assert error(web.post(COMMENT_API, content=deeper, headers={"Content-Type": "application/json"}), 422)
    # brackets inside a string are text, not nesting
    text = "[[{{" * 200 + '\\"]' * 10
    sent = web.post(
        COMMENT_API,
        content=('{"decision":"D1","text":"' + text + '"}').encode(),
        headers={"Content-Type": "application/json"},
    )
    assert sent.status_code == 200, sent.text


def test_a_payload_of_a_hundred_thousand_keys_is_refused_before_the_service_reads_it(
    ctx: ServiceContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Attack (any token holder): 150,000 unknown keys in 2 MiB kept the service's validation
    busy for 2.4 s of CPU per request, the error list included."""
    district(ctx)
    drafted(ctx)
    web, clock = portal(ctx, "2026-03-05T10:00")
    token = bearer(issue_token(ctx.engine, "li", clock.now))

    def not_called(*args: object, **kwargs: object) -> None:
        raise AssertionError("the service was asked")

    monkeypatch.setattr(api_routes, "run_action", not_called)
    body = {"decision": "D1", "reason": "x", **{f"k{index}": 1 for index in range(MAX_MEMBERS)}}
    found = error(web.post("/api/v1/actions/withdraw_decision", json=body, headers=token), 422)
    assert found["field"] == "payload" and str(MAX_MEMBERS) in found["message_en"]


# ---------------------------------------------------------------------------- unpublished drafts
def test_a_draft_revised_after_the_comment_period_stays_off_the_portal(ctx: ServiceContext) -> None:
    """Attack: open the consultation page of a draft whose comment period has ended: it
    showed the department's latest internal revision, never published."""
    district(ctx)
    drafted(ctx)
    participation_done(ctx)
    act(
        ctx,
        "revise_draft",
        "li",
        "2026-04-05T09:00",
        decision="D1",
        draft="内部修改稿：尚未公开的条款",
        explanation="内部修改说明",
        legal_bases=["国务院令第713号"],
        reason="内部讨论后修改",
    )
    web, _ = portal(ctx, "2026-04-06T09:00")
    page = web.get("/consultations/D1")
    assert page.status_code == 200
    assert "尚未公开的条款" not in page.text and "内部修改说明" not in page.text
    # the draft the period published, version 1
    assert "第1版" in page.text and '<div class="doc-text">草案</div>' in page.text


# ---------------------------------------------------------------------------- caching
def test_private_answers_are_never_kept_by_a_cache(timed: ServiceContext, clock: Clock) -> None:
    """Attack: read a signed-in user's page or an API answer from a shared proxy's cache or
    the browser's history after they left: no answer said `no-store`."""
    web = signed_in_client(timed, "li")
    for path in ("/account/password", "/", "/login"):
        answer = web.get(path)
        assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store", path
    token = issue_token(timed.engine, "li", clock.now)
    api = web_client(timed)
    me = api.get("/api/v1/me", headers=bearer(token))
    assert me.status_code == 200 and me.headers["cache-control"] == "no-store"
    refused = api.get("/api/v1/decisions/D9", headers=bearer(token))
    assert refused.status_code == 404 and refused.headers["cache-control"] == "no-store"
    # every page carries the session's CSRF token: never cached, even for a visitor
    visitor = web_client(timed)
    assert visitor.get("/consultations").headers["cache-control"] == "no-store"
    # what anyone gets without credentials may be cached: the static files, the public API
    assert "cache-control" not in visitor.get("/static/site.css").headers
    assert "cache-control" not in web_client(timed).get("/api/v1/published").headers


# ---------------------------------------------------------------------------- sign-in enumeration
def test_a_name_without_an_account_is_locked_as_an_account_is(timed: ServiceContext, clock: Clock) -> None:
    """Attack: five wrong passwords on a name: only a real account was ever shown as locked,
    so the answer told which accounts exist. A name without one (or an account never given
    a password) is now counted and locked the same way, until the same minute."""
    give_password(timed, "li")
    pages: dict[str, str] = {}
    for name in ("li", "nobody", "zhao"):  # an account; no such account; an account without a password
        web = web_client(timed, address=f"198.51.100.{len(pages) + 1}")
        for _ in range(MAX_FAILURES - 1):
            assert sign_in(web, name, "typed-wrong-password").status_code == 401
        locked = sign_in(web, name, "typed-wrong-password")
        assert locked.status_code == 423, name
        pages[name] = re.sub(r'name="csrf_token" value="[^"]+"', "", locked.text).replace(
            f'value="{name}"', ""
        )
        assert "2026-03-02 09:15" in locked.text
        assert sign_in(web, name, password_of(name)).status_code == 423  # still locked
    assert pages["li"] == pages["nobody"] == pages["zhao"]
    clock.advance(LOCK_DURATION)
    web = web_client(timed, address="198.51.100.9")
    assert sign_in(web, "nobody", "typed-wrong-password").status_code == 401
    assert sign_in(web, "li").status_code == 303


def test_a_password_longer_than_any_account_s_reads_no_account(
    timed: ServiceContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Attack: a password over the policy's maximum was refused without hashing, but a real
    account's failure was still written to the database: about 14 ms against 0.6 ms for an
    unknown name, a clean timing oracle. Now no account is read, counted or locked."""
    give_password(timed, "li")
    long_password = "x" * (PASSWORD_MAX + 1)

    def no_reading(*args: object) -> None:
        raise AssertionError("an account was read")

    monkeypatch.setattr(accounts, "read_account", no_reading)
    for name in ("li", "nobody"):
        for _ in range(MAX_FAILURES + 1):
            assert verify_sign_in(timed, name, long_password, f"10.0.0.{len(name)}").outcome == "wrong"
    monkeypatch.undo()
    assert credential(timed, "li").failed_attempts == 0
    assert verify_sign_in(timed, "li", password_of("li"), "10.0.0.9").ok


def test_every_unknown_name_is_remembered_within_a_bound() -> None:
    names = accounts.UnknownNames(max_names=3)
    now = at("2026-03-02T09:00")
    for index in range(10):
        assert names.record(f"guess{index}", now) is None
    assert len(names._names) == 3  # the longest quiet were forgotten


# ---------------------------------------------------------------------------- oversize bodies
def test_a_form_body_is_limited_on_every_route_before_it_is_read(
    town_web: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Attack: post a huge form to /login (no sign-in needed): FastAPI reads a page's form
    whole before the CSRF check, and Starlette keeps up to 1,000 fields of 1 MiB each in
    memory. Now no request body over MAX_REQUEST_BODY is read, on any route."""
    token = form_token(town_web)
    declared = town_web.post(
        "/login",
        content=b"x",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Content-Length": str(MAX_REQUEST_BODY + 1),
        },
    )
    assert declared.status_code == 413

    def chunks() -> Any:  # a body sent without a Content-Length, in fields under Starlette's 1 MiB each
        yield f"csrf_token={token}&user=li&password=x".encode()
        for index in range(MAX_REQUEST_BODY // (512 * 1024) + 1):
            yield f"&field{index}=".encode() + b"a" * (512 * 1024)

    for path in ("/login", "/logout", "/account/password"):
        streamed = town_web.post(
            path, content=chunks(), headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
        assert streamed.status_code == 413, path
    assert sign_in(town_web, "li").status_code == 303  # an ordinary form still goes through


# ---------------------------------------------------------------------------- redirects and headers
def test_the_language_switch_goes_back_only_to_a_path_on_this_site(town_web: TestClient) -> None:
    for back in ("//evil.example", "/\\evil.example", "https://evil.example", "/%5C%5Cevil", "javascript:x"):
        answer = town_web.get("/lang/en", params={"back": back})
        assert answer.status_code == 303 and answer.headers["location"] in ("/", "/%5C%5Cevil"), back
    assert town_web.get("/lang/en", params={"back": "/decisions?q=1"}).headers["location"] == "/decisions?q=1"


def test_the_language_links_carry_the_page_s_path_as_one_parameter(town_web: TestClient) -> None:
    """A path with `&back=...` in it became a second parameter of the page's language link
    (a decoded path was put into a query string unencoded)."""
    page = town_web.get("/decisions/D9%26back%3Djavascript:alert(1)")
    assert page.status_code == 404
    link = re.search(r'href="(/lang/[^"]+)"', page.text)
    assert link is not None
    assert "&amp;back=" not in link.group(1) and "D9%26back%3Djavascript" in link.group(1)


def test_the_sign_in_redirect_encodes_the_path_it_came_from(town_web: TestClient) -> None:
    """The page a visitor is sent to sign in from goes into `next` as one parameter: a path
    with `&next=//evil.example` in it used to add a second `next` to the sign-in address."""
    request = Request(
        {
            "type": "http",
            "method": "GET",
            "path": "/work/decisions/A&next=//evil.example#x",
            "headers": [],
            "query_string": b"",
            "session": {},
            "app": town_web.app,
        }
    )
    with pytest.raises(HTTPException) as caught:
        require_user(request)
    location = (caught.value.headers or {})["Location"]
    assert location == "/login?next=/work/decisions/A%26next%3D//evil.example%2523x"
    page = town_web.get(location)  # `next` is the page's own address (its # encoded)
    assert 'name="next" value="/work/decisions/A&amp;next=//evil.example%23x"' in page.text


def test_forwarded_for_headers_do_not_move_the_address_limits(timed: ServiceContext) -> None:
    """Attack: claim a new address on each try with X-Forwarded-For / X-Real-IP. The app
    counts the connection's peer (a proxy's header only if the server is told to trust it)."""
    web = web_client(timed, address="198.51.100.77")
    for index in range(ADDRESS_FAILURES):
        token = form_token(web)
        spoofed = {"X-Forwarded-For": f"10.1.0.{index}", "X-Real-IP": f"10.2.0.{index}"}
        answer = web.post(
            "/login",
            data={CSRF_FIELD: token, "user": f"guess{index}", "password": "wrong-password"},
            headers=spoofed,
        )
        assert answer.status_code == 401
    give_password(timed, "li")
    final = web.post(
        "/login",
        data={CSRF_FIELD: form_token(web), "user": "li", "password": password_of("li")},
        headers={"X-Forwarded-For": "10.9.9.9"},
    )
    assert final.status_code == 429


def test_no_page_or_answer_may_be_framed(town_web: TestClient) -> None:
    """Clickjacking: every answer, pages, error pages and the API's, forbids framing."""
    for path in ("/", "/login", "/decisions/D9", "/api/v1/published", "/api/v1/me", "/no-such-page"):
        answer = town_web.get(path)
        assert answer.headers["x-frame-options"] == "DENY", path
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"], path
        assert answer.headers["x-content-type-options"] == "nosniff", path


# ---------------------------------------------------------------------------- session lifetime
def test_a_session_ends_a_working_day_after_sign_in_however_busy(timed: ServiceContext, clock: Clock) -> None:
    """Attack: keep a copied session cookie alive by using it: the cookie is signed again at
    every answer, so its 8-hour age limit only ended idle sessions. Now a session also ends
    `session_lifetime` (12 hours) after signing in."""
    web = signed_in_client(timed, "li")
    copied = another_browser(web)
    copied.cookies.update(dict(web.cookies))
    for _ in range(11):
        clock.advance(timedelta(hours=1))
        assert copied.get("/account/password").status_code == 200  # used every hour: still valid
    clock.advance(timedelta(hours=1, minutes=1))
    answer = copied.get("/account/password")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
    assert sign_in(web, "li").status_code == 303  # signing in again starts a new day
    assert web.get("/account/password").status_code == 200


def test_an_ipv6_subscriber_cannot_take_a_new_address_for_each_try(ctx: ServiceContext) -> None:
    """Attack: an IPv6 subscriber holds a whole /64 (2^64 addresses) and used a fresh one for
    every comment or sign-in attempt, so no per-address limit ever applied. Addresses now
    count by their /64; another /64 is another subscriber."""
    open_for_comment(ctx)
    web, _ = portal(ctx, "2026-03-05T10:00", address="2001:db8:1:2::1")
    for index in range(COMMENT_LIMIT.count):
        rotated = TestClient(web.app, client=(f"2001:db8:1:2::{index + 10:x}", 50000))
        assert rotated.post(COMMENT_API, json={"decision": "D1", "text": f"第{index}条"}).status_code == 200
    same_net = TestClient(web.app, client=("2001:db8:1:2:ffff:ffff:ffff:fffe", 50000))
    assert same_net.post(COMMENT_API, json={"decision": "D1", "text": "再一条"}).status_code == 429
    other_net = TestClient(web.app, client=("2001:db8:1:3::1", 50000))
    assert other_net.post(COMMENT_API, json={"decision": "D1", "text": "另一用户"}).status_code == 200
    mapped = TestClient(web.app, client=("::ffff:203.0.113.7", 50000))  # the same as 203.0.113.7
    ipv4 = TestClient(web.app, client=("203.0.113.7", 50000))
    for index in range(COMMENT_LIMIT.count):
        assert ipv4.post(COMMENT_API, json={"decision": "D1", "text": f"IPv4 {index}"}).status_code == 200
    assert mapped.post(COMMENT_API, json={"decision": "D1", "text": "mapped"}).status_code == 429


def test_sign_in_failures_count_by_the_ipv6_subscriber(timed: ServiceContext) -> None:
    app = web_client(timed).app
    for index in range(ADDRESS_FAILURES):
        rotated = TestClient(app, client=(f"2001:db8:5:6::{index + 1:x}", 50000), follow_redirects=False)
        assert sign_in(rotated, f"guess{index}", "typed-wrong-password").status_code == 401
    give_password(timed, "li")
    last = TestClient(app, client=("2001:db8:5:6::abcd", 50000), follow_redirects=False)
    assert sign_in(last, "li").status_code == 429


# ---------------------------------------------------------------------------- malformed input
def test_a_nul_in_a_code_or_an_absurd_year_is_not_found_not_a_server_error(
    timed: ServiceContext, clock: Clock
) -> None:
    """Attack: `%00` in a decision or hearing code made PostgreSQL refuse the query, and a
    twenty-digit year overflowed the database's integer: a 500 for every such request (on
    PostgreSQL; the year on SQLite as well). A NUL in the account name at sign-in likewise."""
    drafted(timed)
    web = TestClient(web_client(timed).app, raise_server_exceptions=False)
    token = bearer(issue_token(timed.engine, "li", clock.now))
    for path in (
        "/consultations/D1%00",
        "/decisions/D1%00",
        "/hearings/D1/H1%00",
        "/hearings/D1%00/H1",
        "/catalogues/99999999999999999999",
        "/catalogues/99999999999999999999/v1/decisions.csv",
        "/api/v1/decisions/D1%00",
        "/api/v1/decisions/D1%0A/audit",
    ):
        answer = web.get(path, headers=token)
        assert answer.status_code == 404, (path, answer.status_code)
    assert web.get("/api/v1/decisions/D1%00", headers=token).json()["error"]["rule_id"] == "NOT_FOUND"
    sent = web.post(COMMENT_API, json={"decision": "D1\u0000", "text": "意见"})
    assert sent.status_code == 404
    signed = web.post(
        "/login", data={CSRF_FIELD: form_token(web), "user": "li\u0000", "password": "a-wrong-password"}
    )
    assert signed.status_code == 401


def test_no_file_outside_the_static_folder_or_the_published_catalogue_is_served(town_web: TestClient) -> None:
    """Path traversal, encoded every way, in the static files and the catalogue downloads."""
    for path in (
        "/static/../app.py",
        "/static/%2e%2e/app.py",
        "/static/..%2fapp.py",
        "/static/%2e%2e%2f%2e%2e%2fpyproject.toml",
        "/static//etc/passwd",
        "/static/",
        "/catalogues/2026/v1/..%2F..%2Fapp.py",
        "/catalogues/2026/v1/decisions.csv%2F..%2F..%2Fapp.py",
        "/catalogues/2026/v1/..%5Capp.py",
    ):
        answer = town_web.get(path)
        assert answer.status_code == 404, (path, answer.status_code)
        assert "create_app" not in answer.text and "[project]" not in answer.text


def test_every_form_route_refuses_a_post_without_the_csrf_token(timed: ServiceContext) -> None:
    """CSRF on every form, present and future: every unsafe route outside the token-based
    API (whose bodies are JSON only) refuses a post without the session's token as a
    signed-in administrator (a visitor is refused, or sent to sign in), and nothing changes."""
    browsers = {"visitor": web_client(timed), "administrator": signed_in_client(timed, "liu")}
    unsafe = sorted(
        (path, method)
        for path, methods in permissions.routes(browsers["visitor"].app)
        if not path.startswith("/api/")
        for method in methods - {"GET", "HEAD", "OPTIONS"}
    )
    assert {("/login", "POST"), ("/logout", "POST"), ("/consultations/{code}", "POST")} <= set(unsafe)
    before = snapshot(timed)
    for who, browser in browsers.items():
        form_token(browser)  # the session has a token: the refusal is for not sending it
        for path, method in unsafe:
            url = re.sub(r"\{[^}]+\}", "D1", path)
            answer = browser.request(method, url, data={"text": "x", "user": "liu", "password": "x"})
            sent_to_sign_in = answer.status_code == 303 and answer.headers["location"].startswith("/login")
            refused = answer.status_code == 403 or (who == "visitor" and sent_to_sign_in)
            assert refused, (who, method, path, answer.status_code)
    assert snapshot(timed) == before
