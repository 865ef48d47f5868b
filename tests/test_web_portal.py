"""The public portal (issue 10, part 3): what each page shows, and that it shows nothing
private: no confidential or unpublished decision, no commenter's name or contact, no
registrant's contact, no unpublished catalogue version. A citizen comments, gets a receipt,
looks it up, and reads the department's answer; a citizen registers for a hearing."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from typing import Any

import openpyxl
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from flows.demo import build_demo
from flows.scenario import sweep_until
from flows.service import ServiceContext, portal_reads
from models import Deadline, HearingRegistration, PublicComment
from models.db import mark_database
from tests.helpers import act, at, decided, district, drafted, legality_lawful, published
from tests.test_catalogue import ELEVATORS
from tests.test_catalogue import published as catalogue_published
from tests.test_hearing import announce, listed
from web.app import WebConfig, create_app

SECRET = "portal-test-secret"
DEMO_NOW = "2026-11-27T09:00"
CONFIDENTIAL_TITLE = "区应急物资储备库布局方案"  # the demo's confidential decision


class Clock:
    """The service context's clock, moved by the test."""

    def __init__(self, when: str) -> None:
        self.now = at(when)

    def __call__(self) -> datetime:
        return self.now

    def set(self, when: str) -> None:
        self.now = at(when)


def portal(ctx: ServiceContext, when: str, address: str = "203.0.113.7") -> tuple[TestClient, Clock]:
    clock = Clock(when)
    ctx.clock = clock
    return TestClient(create_app(ctx, WebConfig(secret_key=SECRET)), client=(address, 50000)), clock


def csrf(web: TestClient, url: str) -> str:
    """The session's CSRF token, as the page at `url` puts it in its forms."""
    page = web.get(url)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None, f"no form on {url}"
    return found.group(1)


def comment(web: TestClient, code: str, text: str, **fields: str) -> Any:
    token = csrf(web, f"/consultations/{code}")
    return web.post(f"/consultations/{code}", data={"csrf_token": token, "text": text, **fields})


def receipt_of(page: str) -> str:
    found = re.search(r'id="receipt">([^<]+)<', page)
    assert found is not None, page
    return found.group(1)


def look_up(web: TestClient, receipt: str) -> Any:
    return web.post("/receipts", data={"csrf_token": csrf(web, "/receipts"), "receipt": receipt})


def comments(ctx: ServiceContext) -> list[PublicComment]:
    with Session(ctx.engine) as session:
        return list(session.exec(select(PublicComment).order_by(PublicComment.id)))  # type: ignore[arg-type]


def open_for_comment(ctx: ServiceContext, end: str = "2026-04-02", **flags: Any) -> None:
    """D1 drafted; its draft published for comment from 2026-03-03 to `end`."""
    district(ctx)
    drafted(ctx, **flags)
    act(
        ctx,
        "open_comment_period",
        "li",
        "2026-03-03T09:00",
        decision="D1",
        start_date="2026-03-03",
        end_date=end,
        channels=["区政府门户网站"],
    )


# ---------------------------------------------------------------------------- consultations
def test_a_draft_open_for_comment_shows_its_text_notice_and_the_real_last_day(ctx: ServiceContext) -> None:
    # 2026-04-04 is a Saturday in the Qingming holiday: the period runs to the next working day (P2)
    open_for_comment(ctx, end="2026-04-04")
    with Session(ctx.engine) as session:
        deadline = session.exec(select(Deadline).where(Deadline.kind == "comment_period_end")).one()
    last_day = deadline.due_date
    assert last_day > at("2026-04-04T00:00").date()
    web, clock = portal(ctx, "2026-03-30T10:00")

    home = web.get("/")
    assert home.status_code == 200 and "决策D1" in home.text and "/consultations/D1" in home.text
    page = web.get("/consultations/D1")
    assert page.status_code == 200
    assert "草案" in page.text and "起草说明" in page.text and "国务院令第713号" in page.text
    assert "关于公开征求《决策D1》意见的公告" in page.text  # the notice as the service made it
    assert f"2026-03-03 – {last_day.isoformat()} 24:00" in page.text
    assert "公告所定截止日 2026-04-04 为休息日" in page.text
    left = deadline.due_at - clock.now
    assert f"剩余 {left.days} 天 {left.seconds // 3600} 小时" in page.text
    assert 'name="text"' in page.text  # the form

    listing = web.get("/consultations")
    assert "决策D1" in listing.text and last_day.isoformat() in listing.text

    # on the real last day the form is still there; at 24:00 it is closed, swept or not
    clock.set(f"{last_day.isoformat()}T23:00")
    assert 'name="text"' in web.get("/consultations/D1").text
    clock.set(f"{last_day.isoformat()}T23:59")
    late = comment(web, "D1", "最后一分钟的意见")
    assert late.status_code == 201
    clock.now = deadline.due_at
    closed = web.get("/consultations/D1")
    assert 'name="text"' not in closed.text and "征求意见期限已届满" in closed.text
    assert "决策D1" not in web.get("/consultations").text
    refused = comment_without_page(web, "D1", "太晚了")
    assert (
        refused.status_code == 409
        and "不在征求意见期间" in refused.text
        and "太晚了" not in [c.text for c in comments(ctx)]
    )


def comment_without_page(web: TestClient, code: str, text: str) -> Any:
    """A post with a valid token taken from another page (the form is gone)."""
    return web.post(f"/consultations/{code}", data={"csrf_token": csrf(web, "/receipts"), "text": text})


def test_a_decision_is_on_the_consultation_page_only_once_its_draft_was_published(
    ctx: ServiceContext,
) -> None:
    district(ctx)
    drafted(ctx)
    web, _ = portal(ctx, "2026-03-05T10:00")
    assert web.get("/consultations/D1").status_code == 404  # drafted, no comment period
    assert web.get("/consultations/NOPE").status_code == 404
    assert web.get("/decisions/D1").status_code == 404  # not published


def test_a_citizen_comments_gets_a_receipt_and_reads_the_answer_later(ctx: ServiceContext) -> None:
    open_for_comment(ctx, flags=["high_public_concern"])
    web, clock = portal(ctx, "2026-03-05T10:00")
    sent = comment(web, "D1", "建议延长过渡期。\n第二段意见。", name="张三", contact="13812345678")
    assert sent.status_code == 201
    receipt = receipt_of(sent.text)
    assert re.fullmatch(r"D1-C1-[A-Z2-7]{12}", receipt)
    assert "建议延长过渡期。\n第二段意见。" in sent.text
    [stored] = comments(ctx)
    assert (stored.code, stored.name, stored.contact) == ("C1", "张三", "13812345678")
    assert stored.text == "建议延长过渡期。\n第二段意见。"

    found = look_up(web, receipt)
    assert found.status_code == 200
    assert "建议延长过渡期。" in found.text and "尚未答复" in found.text
    assert "13812345678" not in found.text and "张三" not in found.text
    assert look_up(web, f"  {receipt[:-12]}{receipt[-12:].lower()} ").status_code == 200  # typed loosely

    # the comment's code alone, or another code with this tag, opens nothing
    for guess in ("D1-C1", "D1-C1-AAAAAAAAAAAA", receipt.replace("-C1-", "-C2-"), f"D2-C1-{receipt[-12:]}"):
        missing = look_up(web, guess)
        assert (
            missing.status_code == 404 and "未找到" in missing.text and "建议延长过渡期" not in missing.text
        )

    # the department answers after the period; the receipt shows the answer
    sweep_until(ctx, at("2026-04-03T09:00"))
    act(
        ctx,
        "respond_to_input",
        "li",
        "2026-04-03T09:10",
        decision="D1",
        input="C1",
        outcome="partly_adopted",
        reason="过渡期延长至六个月",
    )
    clock.set("2026-04-03T10:00")
    answered = look_up(web, receipt)
    assert (
        "部分采纳" in answered.text
        and "过渡期延长至六个月" in answered.text
        and "2026-04-03" in answered.text
    )
    assert "查看已公布的决策" not in answered.text

    # carried through to publication: the decision's page explains how opinions were adopted
    publish_d1(ctx)
    clock.set("2026-04-23T10:00")
    page = web.get("/decisions/D1")
    assert page.status_code == 200
    assert "决定全文" in page.text and "采纳情况说明" in page.text and "解读材料" in page.text
    assert "建议延长过渡期。" in page.text and "部分采纳" in page.text and "过渡期延长至六个月" in page.text
    assert "13812345678" not in page.text and "张三" not in page.text
    assert "/decisions/D1" in look_up(web, receipt).text


def publish_d1(ctx: ServiceContext) -> None:
    """After the comment period of `open_for_comment` (answered): to publication."""
    act(ctx, "complete_participation", "li", "2026-04-03T09:30", decision="D1")
    act(ctx, "approve_stage", "wang", "2026-04-03T10:00", decision="D1", stage="public_participation")
    legality_lawful(ctx)
    decided(ctx)
    published(
        ctx,
        adoption_explanation="采纳情况说明",
        interpretation="解读材料",
        url="https://www.example.gov.cn/d1",
    )


# ---------------------------------------------------------------------------- published decisions
def test_a_published_decision_shows_its_procedure_at_a_glance(ctx: ServiceContext) -> None:
    open_for_comment(ctx, flags=["high_public_concern"])
    act(
        ctx,
        "submit_public_comment",
        "public",
        "2026-03-06T20:00",
        decision="D1",
        text="意见甲",
        contact="a@b.cn",
    )
    sweep_until(ctx, at("2026-04-03T09:00"))
    act(
        ctx,
        "respond_to_input",
        "li",
        "2026-04-03T09:10",
        decision="D1",
        input="C1",
        outcome="adopted",
        reason="已采纳",
    )
    publish_d1(ctx)
    web, _ = portal(ctx, "2026-04-23T10:00")
    with Session(ctx.engine) as session:
        found = portal_reads.published_decision(session, ctx.documents, "D1")
    stages = {s.stage: (s.started_on, s.completed_on) for s in found.stages}
    day = lambda text: at(f"{text}T00:00").date()  # noqa: E731
    assert stages["public_participation"] == (day("2026-03-03"), day("2026-04-03"))
    assert stages["legality_review"] == (day("2026-04-08"), day("2026-04-09"))
    assert stages["discussion"] == (day("2026-04-10"), day("2026-04-17"))
    assert stages["publication"][1] == day("2026-04-22")
    assert "hearing" not in stages  # not required, so not shown
    keys = [(m.key, m.day.isoformat(), m.detail) for m in found.milestones]
    assert keys == [
        ("registered", "2026-03-02", ""),
        ("comment_period", "2026-03-03", ""),
        ("legality_submitted", "2026-04-08", ""),
        ("legality_opinion", "2026-04-09", "lawful"),
        ("meeting", "2026-04-17", "approve"),
        ("party_report", "2026-04-20", ""),
        ("party_reply", "2026-04-21", "agreed"),
        ("published", "2026-04-22", ""),
    ]
    assert found.milestones[1].count == 1 and found.adoption == {"adopted": 1}

    page = web.get("/decisions/D1").text
    assert "决策程序概览" in page and "公众参与" in page and "2026-03-03 – 2026-04-03" in page
    assert "合法性审查意见：合法" in page and "经政府会议集体讨论：通过" in page and "党委批复：同意" in page
    assert "政府公报、政府网站、报纸" in page and 'href="https://www.example.gov.cn/d1"' in page
    assert "意见甲" in page and "a@b.cn" not in page
    listing = web.get("/decisions", params={"q": "D1"}).text
    assert "/decisions/D1" in listing and "2026-04-22" in listing
    assert "/decisions/D1" not in web.get("/decisions", params={"q": "没有这样的标题"}).text

    english = web.get("/lang/en?back=/decisions/D1")
    assert "The procedure at a glance" in english.text and "Legality review opinion: lawful" in english.text


def test_the_demo_portal_shows_every_public_page_and_nothing_private(ctx: ServiceContext) -> None:
    mark_database(ctx.engine, "demo", "tests")
    result = build_demo(ctx, at(DEMO_NOW))
    code = result.codes
    web, _ = portal(ctx, DEMO_NOW)
    private = [CONFIDENTIAL_TITLE, code["reserve"]]

    home = web.get("/").text
    for key in ("renewal", "parking", "school", "market"):
        assert f"/{code[key]}" in home, key  # open drafts and published decisions are linked
    assert "/catalogues/2026" in home

    published_codes = {code["school"], code["market"]}
    listing = web.get("/decisions").text
    for key, decision in code.items():
        assert (f"/decisions/{decision}" in listing) == (decision in published_codes), key
        page = web.get(f"/decisions/{decision}")
        assert page.status_code == (200 if decision in published_codes else 404), key
    open_now = {code["renewal"], code["parking"]}
    with Session(ctx.engine) as session:
        assert {c.code for c in portal_reads.open_consultations(session, at(DEMO_NOW))} == open_now
    assert web.get(f"/consultations/{code['reserve']}").status_code == 404  # confidential: never

    pages = ["/", "/consultations", "/hearings", "/decisions", "/catalogues", "/catalogues/2026"]
    pages += ["/catalogues/2026?version=1", "/receipts"]
    pages += [f"/decisions/{d}" for d in published_codes] + [f"/consultations/{d}" for d in open_now]
    pages += [f"/consultations/{code[k]}" for k in ("school", "market", "epidemic", "industry")]  # closed
    with Session(ctx.engine) as session:
        contacts = [c for c in session.exec(select(PublicComment.contact)) if c]
    for url in pages:
        page = web.get(url)
        assert page.status_code == 200, url
        for secret in private + contacts:
            assert secret not in page.text, (url, secret)
    for fmt in ("csv", "json", "html"):
        for kind in ("decisions", "hearings"):
            data = web.get(f"/catalogues/2026/v2/{kind}.{fmt}").content.decode("utf-8-sig")
            assert CONFIDENTIAL_TITLE not in data


# ---------------------------------------------------------------------------- catalogues
def test_only_published_catalogue_versions_are_public_with_their_files(ctx: ServiceContext) -> None:
    catalogue_published(ctx)  # version 1 published 2026-02-16: E1, E2 included, E3 left out
    act(
        ctx,
        "adjust_catalogue",
        "li",
        "2026-05-06T09:00",
        year=2026,
        kind="add",
        reason="年中新增",
        **ELEVATORS,
    )
    web, _ = portal(ctx, "2026-05-07T09:00")

    years = web.get("/catalogues").text
    assert "/catalogues/2026" in years and "第1版" in years
    page = web.get("/catalogues/2026")
    assert page.status_code == 200
    assert "旧城改造房屋征收补偿标准" in page.text and "招商引资若干扶持政策" in page.text
    assert "住建领域规范性文件清理" not in page.text  # left out by the legal office
    assert ELEVATORS["matter_name"] not in page.text  # proposed in the draft version 2
    assert "区委常委会2026年第2次会议" in page.text  # the Party committee's approval (Art. 3(3))
    assert web.get("/catalogues/2026?version=2").status_code == 404
    assert web.get("/catalogues/2026/v2/decisions.csv").status_code == 404
    assert web.get("/catalogues/2025").status_code == 404

    types = {
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "html": "text/html; charset=utf-8",
        "csv": "text/csv; charset=utf-8",
        "json": "application/json",
    }
    for fmt, media in types.items():
        for kind in ("decisions", "hearings"):
            answer = web.get(f"/catalogues/2026/v1/{kind}.{fmt}")
            assert answer.status_code == 200 and answer.headers["content-type"] == media
            assert f'filename="2026-v1-{kind}.{fmt}"' in answer.headers["content-disposition"]
    rows = list(
        csv.reader(io.StringIO(web.get("/catalogues/2026/v1/decisions.csv").content.decode("utf-8-sig")))
    )
    assert [r[1] for r in rows[1:]] == ["旧城改造房屋征收补偿标准", "招商引资若干扶持政策"]
    hearing_rows = list(
        csv.reader(io.StringIO(web.get("/catalogues/2026/v1/hearings.csv").content.decode("utf-8-sig")))
    )
    assert [r[1] for r in hearing_rows[1:]] == ["旧城改造房屋征收补偿标准"]  # the one with a hearing
    sheet = openpyxl.load_workbook(io.BytesIO(web.get("/catalogues/2026/v1/decisions.xlsx").content)).active
    assert any(
        "招商引资若干扶持政策" in str(cell) for row in sheet.iter_rows(values_only=True) for cell in row
    )
    assert web.get("/catalogues/2026/v1/decisions.pdf").status_code == 404
    assert web.get("/catalogues/2026/v1/other.csv").status_code == 404


def test_before_any_publication_the_portal_is_empty_and_says_so(ctx: ServiceContext) -> None:
    web, _ = portal(ctx, "2026-01-05T09:00")  # not even a jurisdiction yet
    for url in ("/", "/consultations", "/hearings", "/decisions", "/catalogues"):
        assert web.get(url).status_code == 200, url
    assert "目前没有正在征求意见的草案" in web.get("/").text
    assert web.get("/catalogues/2026").status_code == 404


# ---------------------------------------------------------------------------- hearings
def test_a_citizen_registers_for_a_hearing_and_sees_the_published_list(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx, flags=["hearing_required_by_law"])
    announce(ctx)  # H1 on 2026-10-15 09:30; registration 09-14 .. 09-29
    web, clock = portal(ctx, "2026-09-15T10:00")
    assert "/hearings/D1/H1" in web.get("/").text and "/hearings/D1/H1" in web.get("/hearings").text
    page = web.get("/hearings/D1/H1")
    assert page.status_code == 200
    assert "区政府第一会议室" in page.text and "2026-10-15 09:30" in page.text
    assert "关于召开《决策D1》听证会的公告" in page.text and "遴选办法" in page.text
    assert "居民用户" in page.text and 'name="interest_group"' in page.text

    token = csrf(web, "/hearings/D1/H1")
    form = {"csrf_token": token, "name": "张三", "contact": "13900001111", "interest_group": "居民用户"}
    done = web.post("/hearings/D1/H1", data=form)
    assert done.status_code == 201 and 'id="registration">H1-R1<' in done.text
    wrong = web.post("/hearings/D1/H1", data={**form, "name": "李四", "interest_group": "旁听者"})
    assert wrong.status_code == 422 and 'id="interest_group-error"' in wrong.text
    assert 'value="李四"' in wrong.text  # what was typed is kept
    with Session(ctx.engine) as session:
        [row] = session.exec(select(HearingRegistration)).all()
    assert (row.code, row.name, row.contact) == ("H1-R1", "张三", "13900001111")

    clock.set("2026-09-30T08:00")  # registration closed
    assert 'name="interest_group"' not in web.get("/hearings/D1/H1").text
    late = web.post("/hearings/D1/H1", data={**form, "name": "王五", "csrf_token": csrf(web, "/receipts")})
    assert late.status_code == 409 and "不在听证报名期间" in late.text

    assert web.get("/hearings/D1/H2").status_code == 404
    assert web.get("/hearings/D2/H1").status_code == 404


def test_the_published_participant_list_is_shown_without_contacts(ctx: ServiceContext) -> None:
    listed(ctx)  # eight registrations, the draw and the list published on 2026-09-30
    web, _ = portal(ctx, "2026-10-01T09:00")
    page = web.get("/hearings/D1/H1").text
    assert "听证参加人名单" in page and "3f1c-公证处现场摇号-0427" in page  # the seed is public
    assert "13800000000" not in page and "1380000" not in page
    assert 'name="interest_group"' not in page


def test_the_countdown_runs_from_the_first_day_to_24_00_of_the_last() -> None:
    tz = at("2026-03-03T00:00").tzinfo
    assert tz is not None
    closes = at("2026-04-03T00:00")  # 24:00 on 2026-04-02
    opens = at("2026-03-03T00:00").date()
    assert portal_reads.countdown(opens, closes, at("2026-03-02T12:00"), tz) == portal_reads.Countdown(
        "upcoming", 0, 12
    )
    assert portal_reads.countdown(opens, closes, at("2026-03-03T00:00"), tz) == portal_reads.Countdown(
        "open", 31, 0
    )
    assert portal_reads.countdown(opens, closes, at("2026-04-02T23:30"), tz) == portal_reads.Countdown(
        "open", 0, 0
    )
    assert portal_reads.countdown(opens, closes, closes, tz).state == "closed"


def test_opinions_are_tallied_by_outcome_in_the_order_of_art_18() -> None:
    answered = [
        portal_reads.AnsweredInput("comment", f"C{n}", "意见", outcome, "理由")
        for n, outcome in enumerate(["not_adopted", "adopted", "", "adopted", "partly_adopted"])
    ]
    tally = portal_reads.adoption_tally(answered)
    assert list(tally.items()) == [("adopted", 2), ("partly_adopted", 1), ("not_adopted", 1), ("", 1)]


def test_a_period_announced_ahead_shows_when_comments_open_and_takes_none_before(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx)
    act(
        ctx,
        "open_comment_period",
        "li",
        "2026-03-03T09:00",
        decision="D1",
        start_date="2026-03-10",
        end_date="2026-04-10",
        channels=["区政府门户网站"],
    )
    web, clock = portal(ctx, "2026-03-09T12:00")
    page = web.get("/consultations/D1").text
    assert "12 小时后开始" in page and "自 2026-03-10 起接受意见" in page and 'name="text"' not in page
    early = comment_without_page(web, "D1", "提前的意见")
    assert early.status_code == 409 and comments(ctx) == []
    clock.set("2026-03-10T00:00")
    assert 'name="text"' in web.get("/consultations/D1").text
    assert comment(web, "D1", "第一天的意见").status_code == 201
