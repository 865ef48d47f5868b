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
from sqlmodel import Session, select

from flows.scenario import sweep_until
from flows.service import ServiceContext
from models import PublicComment
from tests.api_helpers import Clock
from tests.browser import chromium, live_server, new_page, screenshot
from tests.helpers import (
    act,
    at,
    decided,
    district,
    drafted,
    legality_lawful,
    published,
)
from tests.web_helpers import fast_passwords, give_password, password_of
from web.app import WebConfig, create_app

__all__ = ["fast_passwords"]  # the fixture, imported for the tests below

SECRET = "e2e-secret-key"
TITLE = "决策D1"  # tests.helpers.registered names decision D1 so
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

    def signed_in(self, code: str, next: str = "/") -> Any:
        """A new person who signs in as `code` through the sign-in form."""
        page = self.person()
        page.goto(f"/login?next={next}")
        page.fill("#user", code)
        page.fill("#password", password_of(code))
        page.get_by_role("button", name="登录").click()
        page.wait_for_url(f"{self.base}{next}")
        expect(page.locator(".account .who")).to_be_visible()
        return page


@pytest.fixture
def story(ctx: ServiceContext, fast_passwords: None) -> Iterator[Story]:
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
    assert re.fullmatch(r"D1-C\d+-[A-Z2-7]{12}", number), number
    return number


def look_up(page: Any, receipt: str) -> None:
    page.goto("/receipts")
    page.fill("#receipt", receipt)
    page.get_by_role("button", name="查询", exact=True).click()
    expect(page.locator(".receipt-lookup, h2").first).to_be_visible()


def test_a_decision_from_registration_to_the_portal(story: Story) -> None:
    ctx = story.ctx
    # 1. the department registers the decision and opens a comment period
    drafted(ctx)
    story.at("2026-03-03T09:00")
    act(
        ctx,
        "open_comment_period",
        "li",
        "2026-03-03T09:00",
        decision="D1",
        start_date="2026-03-03",
        end_date="2026-04-02",
        channels=["区政府门户网站"],
    )

    # 2. a citizen (not signed in) finds the draft on the portal, comments, gets a receipt
    story.at("2026-03-05T20:30")
    citizen = story.person()
    citizen.goto("/")
    screenshot(citizen, "portal-home")
    citizen.get_by_role("link", name=TITLE).first.click()
    citizen.wait_for_url(f"{story.base}/consultations/D1")
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

    # the period ends (24:00 of 2 April); a comment sent after that is refused on the form
    story.at("2026-03-31T10:00")
    citizen.goto("/consultations/D1")
    citizen.fill("#text", "迟到的意见")
    story.sweep("2026-04-03T08:00")
    citizen.get_by_role("button", name="提交意见").click()
    refusal = citizen.locator("#comment .refusal")
    expect(refusal.locator(".rule-id")).to_have_text("STATE")
    expect(refusal).to_contain_text("不在征求意见期间")
    expect(citizen.locator("#text")).to_have_count(0)  # and the form is gone
    with Session(ctx.engine) as session:
        assert len(session.exec(select(PublicComment)).all()) == 1

    # the department answers the comment; the receipt shows the answer
    act(
        ctx,
        "respond_to_input",
        "li",
        "2026-04-03T09:10",
        decision="D1",
        input="C1",
        outcome="partly_adopted",
        reason="补贴标准提高至每户二万五千元",
    )
    act(ctx, "complete_participation", "li", "2026-04-03T09:30", decision="D1")
    act(ctx, "approve_stage", "wang", "2026-04-03T10:00", decision="D1", stage="public_participation")
    story.at("2026-04-03T11:00")
    look_up(citizen, receipt)
    expect(citizen.locator("main")).to_contain_text("部分采纳")
    expect(citizen.locator("main")).to_contain_text("补贴标准提高至每户二万五千元")

    # 3.-5. legality review, the meeting, publication
    legality_lawful(ctx)
    decided(ctx)
    published(ctx, adoption_explanation="共收到意见1条，部分采纳。")

    # 5. the published decision on the portal, with its procedure at a glance
    story.at("2026-04-23T10:00")
    citizen.goto("/decisions")
    citizen.get_by_role("link", name=TITLE).click()
    citizen.wait_for_url(f"{story.base}/decisions/D1")
    glance = citizen.locator("section[aria-labelledby=glance-heading]")
    expect(glance.locator("li.stage-completed", has_text="公众参与")).to_contain_text("2026-03-03")
    expect(glance.locator("table.milestones")).to_contain_text("1")
    adoption = citizen.locator("section[aria-labelledby=adoption-heading]")
    expect(adoption).to_contain_text(COMMENT)
    expect(adoption).to_contain_text("部分采纳")
    expect(adoption).not_to_contain_text("13800000000")  # a commenter's contact is never shown
    screenshot(citizen, "published-decision")
    look_up(citizen, receipt)
    expect(citizen.get_by_role("link", name="查看已公布的决策 »")).to_be_visible()
