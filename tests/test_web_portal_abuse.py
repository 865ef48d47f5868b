"""The portal's forms under abuse: per-address rate limits, the size limit, HTML stripped
from what the public sends, duplicate submissions, script made inert on every portal page
that shows public text, CSRF on every form, and receipts nobody can forge."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from flows.scenario import sweep_until
from flows.service import ServiceContext
from models import HearingRegistration, PublicComment
from tests.helpers import act, at, district, drafted
from tests.test_hearing import announce
from tests.test_web_portal import (
    SECRET,
    comment,
    comments,
    csrf,
    look_up,
    open_for_comment,
    portal,
    publish_d1,
    receipt_of,
)
from web.abuse import (
    COMMENT_LIMIT,
    MAX_FORM_BYTES,
    Limit,
    PortalGuard,
    RateLimiter,
    RecentSubmissions,
    plain_text,
)
from web.receipts import TAG_LENGTH, make_receipt, read_receipt

SCRIPT = "<script>alert(1)</script>"
IMAGE = '<img src=x onerror="alert(2)">'


class Ticks:
    """A monotonic clock for the limiters, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def guarded(web: TestClient) -> Ticks:
    ticks = Ticks()
    web.app.state.portal_guard = PortalGuard.make(clock=ticks)  # type: ignore[attr-defined]
    return ticks


# ---------------------------------------------------------------------------- rate limits
def test_the_comment_form_is_rate_limited_per_address(ctx: ServiceContext) -> None:
    open_for_comment(ctx)
    web, _ = portal(ctx, "2026-03-05T10:00")
    ticks = guarded(web)
    for i in range(COMMENT_LIMIT.count):
        assert comment(web, "D1", f"第{i}条意见").status_code == 201
    limited = comment(web, "D1", "一条太多的意见")
    assert limited.status_code == 429
    assert "提交过于频繁" in limited.text and int(limited.headers["retry-after"]) > 0
    assert len(comments(ctx)) == COMMENT_LIMIT.count

    # another address is not held back; this one is again once the window has passed
    other, _ = portal(ctx, "2026-03-05T10:00", address="198.51.100.9")
    other.app.state.portal_guard = web.app.state.portal_guard  # type: ignore[attr-defined]
    assert comment(other, "D1", "另一地址的意见").status_code == 201
    ticks.now += COMMENT_LIMIT.window
    assert comment(web, "D1", "窗口过后的意见").status_code == 201
    assert len(comments(ctx)) == COMMENT_LIMIT.count + 2


def test_hearing_registration_and_receipt_look_ups_are_rate_limited(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx, flags=["hearing_required_by_law"])
    announce(ctx)
    web, _ = portal(ctx, "2026-09-15T10:00")
    guarded(web)
    token = csrf(web, "/hearings/D1/H1")
    for i in range(5):
        form = {
            "csrf_token": token,
            "name": f"居民{i}",
            "contact": f"139{i:08d}",
            "interest_group": "居民用户",
        }
        assert web.post("/hearings/D1/H1", data=form).status_code == 201
    form = {"csrf_token": token, "name": "居民9", "contact": "13999999999", "interest_group": "居民用户"}
    assert web.post("/hearings/D1/H1", data=form).status_code == 429
    with Session(ctx.engine) as session:
        assert len(session.exec(select(HearingRegistration)).all()) == 5

    web.app.state.portal_guard.lookups = RateLimiter(Limit(3, 600.0))  # type: ignore[attr-defined]
    for _ in range(3):
        assert look_up(web, "D1-C1-AAAAAAAAAAAA").status_code == 404
    assert look_up(web, "D1-C1-AAAAAAAAAAAA").status_code == 429


def test_the_limiter_counts_a_sliding_window_and_forgets_refused_attempts() -> None:
    ticks = Ticks()
    limiter = RateLimiter(Limit(2, 60.0), clock=ticks)
    assert limiter.hit("a") is None
    ticks.now += 30
    assert limiter.hit("a") is None
    assert limiter.hit("a") == pytest.approx(30.0)  # the first attempt leaves the window in 30 s
    assert limiter.hit("b") is None
    ticks.now += 30
    assert limiter.hit("a") is None  # the first one has left the window
    assert limiter.hit("a") == pytest.approx(30.0)


# ---------------------------------------------------------------------------- size
def test_an_oversize_body_is_refused_before_it_is_read(ctx: ServiceContext) -> None:
    open_for_comment(ctx)
    web, _ = portal(ctx, "2026-03-05T10:00")
    token = csrf(web, "/consultations/D1")
    huge = "意" * (MAX_FORM_BYTES // 3)
    answer = web.post("/consultations/D1", data={"csrf_token": token, "text": huge})
    assert answer.status_code == 413 and "too large" in answer.text

    def chunks() -> Any:  # a body sent without a Content-Length
        yield f"csrf_token={token}&text=".encode()
        for _ in range(MAX_FORM_BYTES // 1024 + 1):
            yield b"a" * 1024

    streamed = web.post(
        "/consultations/D1",
        content=chunks(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert streamed.status_code == 413
    assert comments(ctx) == []

    # within the body limit, the service's own length limit answers next to the field
    long_text = "长" * 20001
    too_long = web.post("/consultations/D1", data={"csrf_token": token, "text": long_text})
    assert too_long.status_code == 422
    assert 'id="text-error"' in too_long.text and "INPUT" in too_long.text
    assert long_text in too_long.text  # what was typed is kept
    assert comments(ctx) == []


# ---------------------------------------------------------------------------- duplicates
def test_a_resubmitted_comment_gets_the_first_receipt_and_no_second_comment(ctx: ServiceContext) -> None:
    open_for_comment(ctx)
    web, _ = portal(ctx, "2026-03-05T10:00")
    first = comment(web, "D1", "同一条意见", contact="x@example.cn")
    again = comment(web, "D1", "同一条意见", contact="x@example.cn")
    assert first.status_code == 201 and again.status_code == 200
    assert receipt_of(again.text) == receipt_of(first.text)
    assert "未重复记录" in again.text
    assert [c.code for c in comments(ctx)] == ["C1"]
    # a tag wrapped around the same text is the same text once sanitised
    wrapped = comment(web, "D1", "<b>同一条意见</b>", contact="x@example.cn")
    assert receipt_of(wrapped.text) == receipt_of(first.text)

    other = comment(web, "D1", "另一条意见")
    assert receipt_of(other.text) != receipt_of(first.text)
    elsewhere, _ = portal(ctx, "2026-03-05T10:00", address="198.51.100.9")
    assert receipt_of(comment(elsewhere, "D1", "同一条意见").text) != receipt_of(first.text)
    assert [c.code for c in comments(ctx)] == ["C1", "C2", "C3"]


def test_identical_submissions_in_flight_at_once_are_taken_one_at_a_time() -> None:
    import threading

    recent = RecentSubmissions(window=60.0)
    key = recent.key("comment:D1", "203.0.113.7", "同一条意见")
    made: list[str] = []

    def submit(n: int) -> None:
        with recent.one_at_a_time(key):
            if recent.recall(key) is None:
                made.append(f"R{n}")
                recent.remember(key, f"R{n}")

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(made) == 1


# ---------------------------------------------------------------------------- sanitising, XSS
def test_plain_text_strips_every_tag_and_keeps_the_text() -> None:
    assert plain_text(f"意见{SCRIPT}正文{IMAGE}") == "意见正文"
    assert plain_text("a < b & c > d") == "a < b & c > d"
    assert plain_text("第一行\n第二行") == "第一行\n第二行"
    assert plain_text("<b>加粗</b>与<a href='javascript:x'>链接</a>") == "加粗与链接"
    # an encoded tag does not come back as a tag once decoded
    assert "<script" not in plain_text("&lt;script&gt;alert(1)&lt;/script&gt;")
    assert "<" not in plain_text("&lt;img src=x onerror=alert(1)&gt;")


def test_script_in_public_text_is_inert_on_every_portal_page(ctx: ServiceContext) -> None:
    open_for_comment(ctx, flags=["high_public_concern"])
    web, clock = portal(ctx, "2026-03-05T10:00")
    sent = comment(web, "D1", f"建议{SCRIPT}修改{IMAGE}第三条", name=SCRIPT)
    assert sent.status_code == 201
    receipt = receipt_of(sent.text)
    stored = comments(ctx)[0]
    assert (stored.text, stored.name) == ("建议修改第三条", "")  # stored as plain text

    # text that reached the service some other way is escaped wherever the portal shows it
    raw = f"原样{SCRIPT}{IMAGE}"
    act(ctx, "submit_public_comment", "public", "2026-03-06T09:00", decision="D1", text=raw)
    sweep_until(ctx, at("2026-04-03T09:00"))
    for code in ("C1", "C2"):
        act(
            ctx,
            "respond_to_input",
            "li",
            "2026-04-03T09:10",
            decision="D1",
            input=code,
            outcome="not_adopted",
            reason=f"理由{SCRIPT}",
        )
    publish_d1(ctx)
    clock.set("2026-04-23T10:00")
    raw_receipt = make_receipt(SECRET, "D1", "C2")
    pages = {
        "receipt": sent.text,
        "look-up": look_up(web, receipt).text,
        "look-up of the raw comment": look_up(web, raw_receipt).text,
        "decision": web.get("/decisions/D1").text,
        "consultation": web.get("/consultations/D1").text,
    }
    assert "原样" in pages["decision"] and "原样" in pages["look-up of the raw comment"]
    for name, page in pages.items():
        assert "<script>alert" not in page, name
        assert "<img src=x" not in page and 'onerror="alert' not in page, name
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages["decision"]
    assert "&lt;img src=x onerror=&#34;alert(2)&#34;&gt;" in pages["decision"]


def test_script_in_a_hearing_registration_is_inert_on_the_hearing_page(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx, flags=["hearing_required_by_law"])
    announce(ctx)
    web, clock = portal(ctx, "2026-09-15T10:00")
    form = {"csrf_token": csrf(web, "/hearings/D1/H1"), "contact": "139", "interest_group": "居民用户"}
    assert web.post("/hearings/D1/H1", data={**form, "name": f"张三{SCRIPT}"}).status_code == 201
    act(
        ctx,
        "register_for_hearing",
        "public",
        "2026-09-16T10:00",
        decision="D1",
        hearing="H1",
        name=f"李四{IMAGE}",
        contact="138",
        interest_group="居民用户",
    )
    with Session(ctx.engine) as session:
        names = sorted(r.name for r in session.exec(select(HearingRegistration)))
    assert names == ["张三", f"李四{IMAGE}"]
    act(ctx, "select_hearing_participants", "li", "2026-09-30T09:00", decision="D1", hearing="H1")
    act(ctx, "publish_participant_list", "li", "2026-09-30T10:00", decision="D1", hearing="H1")
    clock.set("2026-10-01T09:00")
    page = web.get("/hearings/D1/H1").text
    assert "李四" in page and "<img src=x" not in page and "&lt;img src=x" in page


# ---------------------------------------------------------------------------- CSRF
@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_every_portal_form_refuses_a_missing_or_wrong_csrf_token(
    ctx: ServiceContext, token: str | None
) -> None:
    open_for_comment(ctx)
    web, _ = portal(ctx, "2026-03-05T10:00")
    csrf(web, "/consultations/D1")  # the session has a token; the post does not carry it
    extra = {} if token is None else {"csrf_token": token}
    assert web.post("/consultations/D1", data={**extra, "text": "意见"}).status_code == 403
    assert web.post("/receipts", data={**extra, "receipt": "D1-C1-AAAAAAAAAAAA"}).status_code == 403
    assert comments(ctx) == []


@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_the_hearing_form_refuses_a_missing_or_wrong_csrf_token(
    ctx: ServiceContext, token: str | None
) -> None:
    district(ctx)
    drafted(ctx, flags=["hearing_required_by_law"])
    announce(ctx)
    web, _ = portal(ctx, "2026-09-15T10:00")
    csrf(web, "/hearings/D1/H1")
    extra = {} if token is None else {"csrf_token": token}
    form = {**extra, "name": "张三", "contact": "139", "interest_group": "居民用户"}
    assert web.post("/hearings/D1/H1", data=form).status_code == 403
    with Session(ctx.engine) as session:
        assert session.exec(select(HearingRegistration)).all() == []


# ---------------------------------------------------------------------------- receipts
def test_a_receipt_is_made_by_the_server_alone() -> None:
    receipt = make_receipt(SECRET, "SF-2026-003", "C12")
    decision, comment_code, tag = receipt.rsplit("-", 2)
    assert (decision, comment_code, len(tag)) == ("SF-2026-003", "C12", TAG_LENGTH)
    assert read_receipt(SECRET, receipt) == ("SF-2026-003", "C12")
    assert read_receipt(SECRET, f" {decision}-{comment_code}-{tag.lower()}\n") == ("SF-2026-003", "C12")
    assert read_receipt("another-secret", receipt) is None
    assert read_receipt(SECRET, receipt.replace("C12", "C13")) is None
    for bad in (
        "",
        "SF-2026-003-C12",
        f"{receipt}X",
        f"{receipt[:-1]}",
        "C12-" + tag,
        f"--{tag}",
        "中文-C1-" + "的" * 12,
    ):
        assert read_receipt(SECRET, bad) is None, bad
    # receipts of neighbouring comments share nothing guessable
    assert make_receipt(SECRET, "SF-2026-003", "C13")[-TAG_LENGTH:] != tag


def test_stored_comments_never_carry_markup_from_the_form(ctx: ServiceContext) -> None:
    open_for_comment(ctx)
    web, _ = portal(ctx, "2026-03-05T10:00")
    comment(web, "D1", f"{SCRIPT}", contact=f"{IMAGE}a@b.cn")
    with Session(ctx.engine) as session:
        stored = session.exec(select(PublicComment)).all()
    # a comment of nothing but a script is empty once sanitised: refused, nothing stored
    assert stored == []
    answer = comment(web, "D1", f"正文{SCRIPT}", contact=f"{IMAGE}a@b.cn")
    assert answer.status_code == 201
    [row] = comments(ctx)
    assert (row.text, row.contact) == ("正文", "a@b.cn")
