"""The acceptance stories of the web app (issue 10) in a real browser: Debian's Chromium,
headless, against uvicorn on loopback, over the test's database (SQLite or PostgreSQL as the
suite runs). The app's clock is a `Clock` the test moves, on a database marked as a scenario
(simulated time is allowed there), so a story runs through comment periods and working-day
time limits without waiting. Steps the stories are not about (starting the procedure,
approving stages, the Party committee's reply, ...) go through the service layer as the
people who take them; the steps they are about go through the pages.

The stories save the screenshots the README shows (docs/screenshots/)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, col, select

from flows.demo import build_demo, demo_password
from flows.procedure import RULES
from flows.scenario import sweep_until
from flows.service import ServiceContext
from flows.service.audit import verify_all
from models import AuditEvent, CommentPeriod, PublicComment
from models.db import mark_database
from tests.api_helpers import Clock
from tests.browser import ROOT, SCREENSHOTS, chromium, live_server, new_page, screenshot
from tests.helpers import MEETING_MEMBERS, USERS, act, at, district
from tests.web_helpers import fast_passwords, give_password, password_of  # noqa: F401  (a fixture)
from web.app import WebConfig, create_app

pytestmark = pytest.mark.usefixtures("fast_passwords")  # cheap argon2: several people sign in

SECRET = "e2e-secret-key"
TITLE = "区老旧小区加装电梯财政补贴办法"
NAMES = {user["id"]: user.get("name", user["id"]) for user in USERS}
COMMENT = "建议将补贴标准提高到每户三万元，并简化申请材料。"


class Story:
    """A story's world: the app over the test's database on its own clock, served by uvicorn,
    and one Chromium in which each person has a context (cookies) of their own."""

    def __init__(self, ctx: ServiceContext, clock: Clock, base: str, browser: Any) -> None:
        self.ctx = ctx
        self.clock = clock
        self.base = base
        self.browser = browser

    def at(self, when: str) -> None:
        """Move the app's clock to `when` (Asia/Shanghai)."""
        self.clock.now = at(when)

    def sweep(self, when: str) -> None:
        """The scheduler's sweep up to `when` (closing periods, firing deadlines), then the clock."""
        sweep_until(self.ctx, at(when))
        self.at(when)

    def person(self) -> Any:
        """A new browser context: someone with cookies of their own, not signed in."""
        return new_page(self.browser, self.base)

    def signed_in(self, code: str, next: str = "/", password: str | None = None) -> Any:
        """A new person who signs in as `code` through the sign-in form."""
        return self.sign_in(self.person(), code, next, password)

    def sign_in(self, page: Any, code: str, next: str = "/", password: str | None = None) -> Any:
        """`page`'s person signs in as `code` (a session lasts 12 hours by the app's clock: on
        another day, people sign in again)."""
        page.goto(f"/login?next={next}")
        page.fill("#user", code)
        page.fill("#password", password or password_of(code))
        page.get_by_role("button", name="登录").click()
        page.wait_for_url(f"{self.base}{next}")
        expect(page.locator(".account .who")).to_be_visible()
        return page


@pytest.fixture
def story(ctx: ServiceContext) -> Iterator[Story]:
    """The standard district (tests.helpers) with passwords for its staff, the app served on a
    clock that starts on 2 March 2026, and a browser."""
    district(ctx)
    clock = Clock(at("2026-03-02T09:00"))
    app_ctx = replace(ctx, clock=clock)
    for code in ("li", "wang", "zhou"):
        give_password(app_ctx, code)
    app = create_app(app_ctx, WebConfig(secret_key=SECRET))
    with live_server(app) as base, chromium() as browser:
        yield Story(app_ctx, clock, base, browser)


def receipt_number(page: Any) -> str:
    number = str(page.locator("#receipt").inner_text()).strip()
    assert re.fullmatch(r"[\w-]+-C\d+-[A-Z2-7]{12}", number), number
    return number


def look_up(page: Any, receipt: str) -> None:
    page.goto("/receipts")
    page.fill("#receipt", receipt)
    page.get_by_role("button", name="查询", exact=True).click()
    page.wait_for_load_state()


def act_on_page(page: Any, code: str, action: str, fields: dict[str, str | list[str]]) -> None:
    """On the decision's page, open the form of `action`, fill it and send it."""
    page.goto(f"/work/decisions/{code}")
    form = page.locator(f"details#act-{action}")
    form.locator("summary").click()
    fill(form, fields, prefix=f"{action}-")
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()


def fill(scope: Any, fields: dict[str, str | list[str]], prefix: str = "") -> None:
    """Fill inputs by field name: a select gets its option, several choices get ticked."""
    for name, value in fields.items():
        target = scope.locator(f"#{prefix}{name}")
        tag = target.evaluate("e => e.tagName.toLowerCase()")
        if tag == "select":
            target.select_option(str(value))
        elif tag == "fieldset":
            for option in value if isinstance(value, list) else [value]:
                target.locator(f"input[value='{option}']").check()
        else:
            target.fill("\n".join(value) if isinstance(value, list) else value)


def notice(page: Any) -> Any:
    """The one-time notice a staff page shows after an action."""
    return page.locator(".notice[role=status]")


def test_a_decision_from_registration_to_the_portal(story: Story) -> None:
    ctx = story.ctx
    # 1. the department signs in, registers the decision ...
    li = story.person()
    li.goto("/work")
    li.wait_for_url(f"{story.base}/login?next=/work")
    li.fill("#user", "li")
    li.fill("#password", password_of("li"))
    screenshot(li, "sign-in")
    li.get_by_role("button", name="登录").click()
    li.wait_for_url(f"{story.base}/work")
    li.goto("/work/decisions/new")
    fill(li, {"title": TITLE, "category": "1", "proposal": "改善老旧小区居民出行条件"})
    expect(li.locator("#lead_unit")).to_have_value("housing")  # the user's own unit, filled in
    li.get_by_role("button", name="登记决策事项").click()
    li.wait_for_url(re.compile(r".*/work/decisions/[^/]+$"))
    code = li.url.rsplit("/", 1)[1]
    expect(li.locator("h1.page-title")).to_contain_text(TITLE)
    expect(notice(li)).to_contain_text("已办理")

    # (the government office starts the procedure; the department submits its draft)
    act(ctx, "start_procedure", "zhou", "2026-03-02T10:00", decision=code)
    act(
        ctx,
        "submit_draft",
        "li",
        "2026-03-02T11:00",
        decision=code,
        draft="对本区2000年前建成的老旧住宅小区加装电梯，按每部20万元给予财政补贴。",
        explanation="起草说明：补贴资金由区财政列支。",
        legal_bases=["《中华人民共和国城乡规划法》", "国务院令第713号"],
    )

    # ... and opens a comment period: ten days without an urgent reason is refused (R3) next to
    # the field, with the rule's article, keeping what was typed
    story.at("2026-03-03T09:00")
    comment_form = {
        "start_date": "2026-03-03",
        "end_date": "2026-03-13",
        "channels": ["区政府门户网站", "区住房和城乡建设局公众号"],
    }
    li.goto(f"/work/decisions/{code}")
    expect(li).to_have_url(re.compile(r".*/login\?next="))  # yesterday's session has ended
    story.sign_in(li, "li", next=f"/work/decisions/{code}")
    act_on_page(li, code, "open_comment_period", comment_form)
    error = li.locator("#urgent_reason-error")
    expect(error.locator(".rule-id")).to_have_text("R3")
    expect(error.locator(".article")).to_have_text(RULES["R3"].article)  # Arts. 14-15
    expect(error).to_contain_text("须在公告中说明紧急理由")
    expect(li.locator("#urgent_reason")).to_have_attribute("aria-invalid", "true")
    expect(li.locator("#end_date")).to_have_value("2026-03-13")
    expect(li.locator("#channels")).to_have_value("区政府门户网站\n区住房和城乡建设局公众号")
    screenshot(li, "refusal-on-a-form")
    with Session(ctx.engine) as session:
        assert session.exec(select(CommentPeriod)).first() is None  # the refusal changed nothing
    li.fill("#end_date", "2026-04-02")  # thirty days
    li.locator("form.action-form button[type=submit]").click()
    li.wait_for_url(f"{story.base}/work/decisions/{code}")
    expect(notice(li)).to_contain_text("已办理")
    expect(li.locator("#dates")).to_contain_text("2026-04-02")

    # 2. a citizen (not signed in) finds the draft on the portal, comments, gets a receipt
    story.at("2026-03-05T20:30")
    citizen = story.person()
    citizen.goto("/")
    citizen.get_by_role("link", name=TITLE).first.click()
    citizen.wait_for_url(f"{story.base}/consultations/{code}")
    expect(citizen.locator(".countdown.open")).to_contain_text("28 天")
    citizen.fill("#text", COMMENT)
    citizen.fill("#contact", "13800000000")
    screenshot(citizen, "consultation")
    citizen.get_by_role("button", name="提交意见").click()
    expect(citizen.locator("h1.page-title")).to_have_text("意见已收到")
    receipt = receipt_number(citizen)
    expect(citizen.locator(".doc-text")).to_have_text(COMMENT)
    screenshot(citizen, "receipt")
    with Session(ctx.engine) as session:
        stored = session.exec(select(PublicComment)).one()
    assert (stored.code, stored.text, stored.contact) == ("C1", COMMENT, "13800000000")
    assert stored.submitted_at == at("2026-03-05T20:30")  # the app's clock, not the wall clock

    # ... and looks it up later: not answered yet
    look_up(citizen, receipt)
    expect(citizen.locator("main")).to_contain_text(COMMENT)
    expect(citizen.locator("main")).to_contain_text("尚未答复")

    # the period ends at 24:00 on 2 April; a comment sent after that is refused on the form
    story.at("2026-04-02T23:50")
    citizen.goto(f"/consultations/{code}")
    citizen.fill("#text", "迟到的意见")
    story.sweep("2026-04-03T08:00")
    citizen.get_by_role("button", name="提交意见").click()
    refusal = citizen.locator("#comment .refusal")
    expect(refusal.locator(".rule-id")).to_have_text("STATE")
    expect(refusal).to_contain_text("不在征求意见期间")
    expect(citizen.locator("#text")).to_have_count(0)  # and the form is gone
    with Session(ctx.engine) as session:
        assert len(session.exec(select(PublicComment)).all()) == 1

    # (the department answers the comment and completes participation; the legal office approves)
    act(
        ctx,
        "respond_to_input",
        "li",
        "2026-04-03T09:10",
        decision=code,
        input="C1",
        outcome="partly_adopted",
        reason="补贴标准提高至每部25万元",
    )
    act(ctx, "complete_participation", "li", "2026-04-03T09:30", decision=code)
    act(ctx, "approve_stage", "wang", "2026-04-03T10:00", decision=code, stage="public_participation")
    story.at("2026-04-03T11:00")
    look_up(citizen, receipt)
    expect(citizen.locator("main")).to_contain_text("部分采纳")
    expect(citizen.locator("main")).to_contain_text("补贴标准提高至每部25万元")

    # 3. the legal office returns the submission, then issues a lawful opinion
    act(
        ctx,
        "submit_for_legality_review",
        "li",
        "2026-04-08T09:00",
        decision=code,
        procedures_statement="已履行公众参与程序",
    )
    story.at("2026-04-08T10:00")
    wang = story.signed_in("wang", next="/work/legality")
    row = wang.locator("#reviews tbody tr", has_text=TITLE)
    expect(row.locator("td.clock")).to_contain_text("0 / 7")
    act_on_page(wang, code, "return_for_supplement", {"reason": "请补充社会稳定风险评估的说明及资金测算。"})
    expect(notice(wang)).to_contain_text("已办理")
    returned = wang.locator("#meetings tbody tr").first
    expect(returned).to_contain_text("请补充社会稳定风险评估的说明及资金测算。")
    act(
        ctx,
        "resubmit_for_legality_review",
        "li",
        "2026-04-08T15:00",
        decision=code,
        procedures_statement="已履行公众参与程序；已补充资金测算",
    )
    story.at("2026-04-10T09:00")
    story.sign_in(wang, "wang", next="/work/legality")
    expect(row.locator("td.clock")).to_contain_text("2 / 7")
    act_on_page(wang, code, "record_legal_adviser_opinion", {"adviser": "张律师", "opinion": "合法"})
    act_on_page(wang, code, "issue_legality_opinion", {"outcome": "lawful", "opinion": "经审查，草案合法。"})
    expect(notice(wang)).to_contain_text("已办理")
    wang.goto("/work/legality")
    expect(wang.locator("#reviews")).not_to_contain_text(TITLE)

    # 4. the government office records the meeting
    act(ctx, "submit_for_discussion", "li", "2026-04-10T10:00", decision=code, meeting_date="2026-04-21")
    story.at("2026-04-21T11:00")
    zhou = story.signed_in("zhou", next=f"/work/meetings/{code}")
    record = zhou.locator("#record")
    for member in MEETING_MEMBERS:
        record.locator(f"select[name=position_{member}]").select_option("agree")
    record.locator("input[name=text_vice2]").fill("建议明确补贴资金的拨付进度。")
    record.locator("#head_decision").select_option("approve")
    record.locator("#minutes").fill("会议同意《办法》，由区住房和城乡建设局按程序报批后公布。")
    screenshot(zhou, "meeting")
    record.get_by_role("button", name="记录会议").click()
    zhou.wait_for_url(f"{story.base}/work/meetings/{code}")
    expect(notice(zhou)).to_contain_text("approve")
    spoken = zhou.locator("table.dense").first.locator("tbody tr")
    expect(spoken).to_have_count(len(MEETING_MEMBERS))  # in speaking order, the head last
    for order, member in enumerate(MEETING_MEMBERS):
        expect(spoken.nth(order).locator("td").first).to_have_text(str(order + 1))
        expect(spoken.nth(order).locator("td").nth(1)).to_contain_text(NAMES[member])
    expect(spoken.nth(1)).to_contain_text("建议明确补贴资金的拨付进度。")
    expect(spoken.last).to_contain_text("行政首长")

    # 5. (the Party committee's report and reply) the office publishes; the portal shows it
    act(ctx, "record_party_report", "chen", "2026-04-22T09:00", decision=code, on_date="2026-04-22")
    act(
        ctx,
        "record_party_reply",
        "chen",
        "2026-04-23T09:00",
        decision=code,
        on_date="2026-04-23",
        result="agreed",
    )
    story.at("2026-04-24T09:00")
    story.sign_in(zhou, "zhou", next="/work")
    act_on_page(
        zhou,
        code,
        "publish_decision",
        {
            "channels": ["gazette", "website", "newspaper"],
            "published_on": "2026-04-24",
            "text": "区老旧小区加装电梯财政补贴办法（全文）",
            "adoption_explanation": "共收到意见1条，部分采纳：补贴标准提高至每部25万元。",
        },
    )
    expect(notice(zhou)).to_contain_text("已办理")

    story.at("2026-04-24T10:00")
    citizen.goto("/")
    citizen.get_by_role("link", name=TITLE).click()
    citizen.wait_for_url(f"{story.base}/decisions/{code}")
    glance = citizen.locator("section[aria-labelledby=glance-heading]")
    expect(glance.locator("li.stage-completed", has_text="公众参与")).to_contain_text("2026-03-03")
    expect(glance.locator("li.stage-completed", has_text="合法性审查")).to_contain_text("2026-04-08")
    expect(glance.locator("table.milestones")).to_contain_text("收到意见 1 条")
    adoption = citizen.locator("section[aria-labelledby=adoption-heading]")
    expect(adoption).to_contain_text(COMMENT)
    expect(adoption).to_contain_text("部分采纳")
    expect(adoption).not_to_contain_text("13800000000")  # a commenter's contact is never shown
    screenshot(citizen, "published-decision")
    look_up(citizen, receipt)
    expect(citizen.get_by_role("link", name="查看已公布的决策 »")).to_be_visible()

    # every step taken on a page is the signed-in person's (the public's for the comment),
    # audited as taken through the web, at the app's time, on an intact chain
    with Session(ctx.engine) as session:
        events = session.exec(select(AuditEvent).where(col(AuditEvent.os_account).startswith("web:"))).all()
        assert verify_all(session)[2] == []
    assert {(e.action, e.actor, e.os_account) for e in events} == {
        (action, actor, f"web:{actor}@127.0.0.1")
        for action, actor in [
            ("register_decision", "li"),
            ("open_comment_period", "li"),
            ("submit_public_comment", "public"),
            ("return_for_supplement", "wang"),
            ("record_legal_adviser_opinion", "wang"),
            ("issue_legality_opinion", "wang"),
            ("record_meeting", "zhou"),
            ("publish_decision", "zhou"),
        ]
    }
    published_at = next(e.occurred_at for e in events if e.action == "publish_decision")
    assert published_at == at("2026-04-24T09:00")


# ---------------------------------------------------------------------------- the demo, page by page
DEMO_NOW = "2026-11-27T09:00"
CONFIDENTIAL = "区应急物资储备库布局方案"  # the demo's confidential decision
RENEWAL = "区旧城改造房屋征收补偿标准"  # open for comment on DEMO_NOW


def test_the_demo_district_page_by_page(ctx: ServiceContext) -> None:
    """The main pages on the demo district, as its people see them (and as the README shows
    them): the portal, a department's home with its traffic lights, a decision's file, the
    legal office's queue and the catalogue workspace. Nobody is shown a confidential decision
    without a role on it."""
    mark_database(ctx.engine, "demo", "tests")
    built = build_demo(ctx, at(DEMO_NOW))
    codes = built.codes
    clock = Clock(at(DEMO_NOW))
    app = create_app(replace(ctx, clock=clock), WebConfig(secret_key=SECRET))
    with live_server(app) as base, chromium() as browser:
        demo = Story(replace(ctx, clock=clock), clock, base, browser)

        public = demo.person()
        public.goto("/")
        open_now = public.locator("section[aria-labelledby=open-heading]")
        expect(open_now.get_by_role("link", name=RENEWAL)).to_be_visible()
        expect(public.locator("main")).not_to_contain_text(CONFIDENTIAL)
        screenshot(public, "portal-home")

        liwei = demo.signed_in("liwei", next="/work", password=demo_password("liwei"))
        expect(liwei.locator("#tasks")).to_contain_text(RENEWAL)
        liwei.goto(f"/work/decisions/{codes['renewal']}")
        expect(liwei.locator("#act-respond_to_input.task")).to_be_visible()  # two comments to answer
        expect(liwei.locator("#inputs")).to_contain_text("C2")
        screenshot(liwei, "decision")
        liwei.goto("/work/decisions")
        expect(liwei.locator("main")).to_contain_text(RENEWAL)
        expect(liwei.locator("main")).not_to_contain_text(CONFIDENTIAL)  # another unit's, confidential
        answer = liwei.goto(f"/work/decisions/{codes['reserve']}")
        assert answer is not None and answer.status in (403, 404)
        expect(liwei.locator("main")).not_to_contain_text(CONFIDENTIAL)

        # three and a half weeks on, with nobody acting: the lights change on every desk
        demo.sweep("2026-12-22T09:00")
        zhouwen = demo.signed_in("zhouwen", next="/work", password=demo_password("zhouwen"))
        tiles = zhouwen.locator("section.summary")
        expect(tiles.locator(".tile.late .num")).to_have_text("2")
        expect(tiles.locator(".tile.today .num")).to_have_text("1")
        expect(tiles.locator(".tile.soon .num")).to_have_text("2")
        deadlines = zhouwen.locator("#deadlines tbody tr")
        expect(deadlines.filter(has=zhouwen.locator(".lamp.late"))).to_have_count(2)
        expect(deadlines.filter(has=zhouwen.locator(".lamp.today"))).to_have_count(1)
        screenshot(zhouwen, "staff-home")

        wanglei = demo.signed_in("wanglei", next="/work/legality", password=demo_password("wanglei"))
        expect(wanglei.locator("#reviews tbody tr").first).to_be_visible()
        screenshot(wanglei, "legality-queue")

        zhouwen.goto(f"/work/catalogue/{built.catalogue_year}")
        screenshot(zhouwen, "catalogue")


# ---------------------------------------------------------------------------- the README's pictures
def test_the_readme_shows_every_screenshot_the_browser_tests_take() -> None:
    """Each screenshot a browser test saves is shown in the README, and the README shows no
    picture that no test takes (a stale one would never be refreshed)."""
    taken = set()
    for module in ROOT.glob("tests/test_*.py"):
        taken |= set(re.findall(r'screenshot\(\w+, "([\w-]+)"\)', module.read_text()))
    shown = set(re.findall(r'<img src="docs/screenshots/([\w-]+)\.png"', (ROOT / "README.md").read_text()))
    assert taken and shown == taken
    stored = {path.stem for path in SCREENSHOTS.glob("*.png")}
    assert stored == taken, "docs/screenshots/ holds a picture no test takes, or lacks one"
