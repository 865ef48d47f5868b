"""The staff pages act: an action form posts, the service applies it as the signed-in user
(audited with the web session's account), and a refusal comes back on the form, next to the
field it names, with everything the user typed; the meeting is recorded in speaking order;
the register form, CSRF, and the roles and units that may not act."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

from sqlmodel import Session, col, select

from flows.service import ServiceContext
from models import AuditEvent, CommentPeriod, Decision, DecisionStatus, Meeting, MemberOpinion
from tests.helpers import (
    MEETING_MEMBERS,
    act,
    at,
    district,
    drafted,
    legality_lawful,
    participation_done,
    snapshot,
)
from tests.staff_helpers import signed_in


def clock(ctx: ServiceContext, when: str) -> None:
    """Stop the app's clock at a local time (the database is simulated: any time may be given)."""
    moment = at(when)
    stopped: Callable[[], datetime] = lambda: moment  # noqa: E731
    ctx.clock = stopped


def last_event(ctx: ServiceContext, code: str = "D1") -> AuditEvent:
    with Session(ctx.engine) as session:
        decision = session.exec(select(Decision).where(Decision.code == code)).one()
        return session.exec(
            select(AuditEvent)
            .where(AuditEvent.chain == f"decision:{decision.id}")
            .order_by(col(AuditEvent.seq).desc())
        ).first()  # type: ignore[return-value]


def field_block(html: str, name: str) -> str:
    """The form field `name` with its error, as rendered (one <div class="field ...">)."""
    match = re.search(
        rf'<div class="field[^"]*">\s*<label for="{name}"(.*?)(?=<div class="field(?: has-error)?">|<div class="form-actions)',
        html,
        re.S,
    )
    assert match is not None, name
    return match.group(0)


OPEN_PERIOD = "/work/decisions/D1/act/open_comment_period"


def test_an_action_form_posts_and_the_action_is_audited_as_the_signed_in_user(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx)
    clock(ctx, "2026-03-03T09:00")
    web = signed_in(ctx, "li")
    form = web.get(OPEN_PERIOD)
    assert form.status_code == 200 and 'name="end_date"' in form.text and 'type="date"' in form.text
    sent = web.form(
        OPEN_PERIOD,
        {"start_date": "2026-03-03", "end_date": "2026-04-02", "channels": "区政府门户网站\n政务新媒体"},
    )
    assert sent.status_code == 303 and sent.headers["location"] == "/work/decisions/D1"
    with Session(ctx.engine) as session:
        period = session.exec(select(CommentPeriod)).one()
    assert (period.start_date.isoformat(), period.end_date.isoformat()) == ("2026-03-03", "2026-04-02")
    assert period.channels == ["区政府门户网站", "政务新媒体"] and period.opened_by == "li"
    event = last_event(ctx)
    assert (event.action, event.actor, event.os_account) == ("open_comment_period", "li", "web:li@testclient")
    assert event.occurred_at == at("2026-03-03T09:00")
    shown = web.get("/work/decisions/D1").text  # the notice after the action, once
    assert "已办理：公开征求意见" in shown and f"审计序号 {event.seq}" in shown
    assert "已办理" not in web.get("/work/decisions/D1").text


def test_a_refusal_is_shown_next_to_its_field_and_keeps_what_was_typed(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx)
    clock(ctx, "2026-03-03T09:00")
    web = signed_in(ctx, "li")
    before = snapshot(ctx)
    typed = {"start_date": "2026-03-03", "end_date": "2026-03-10", "channels": "区政府门户网站\n政务新媒体"}
    refused = web.form(OPEN_PERIOD, typed)  # 7 days, no urgent reason (R3, Art. 15)
    assert refused.status_code == 409
    assert snapshot(ctx) == before
    html = refused.text
    reason = field_block(html, "urgent_reason")
    assert 'class="field has-error"' in reason and 'aria-invalid="true"' in reason
    assert re.search(r'<span class="rule-id">R3</span><span class="article">Arts?\. 1[45]', reason)
    assert "须在公告中说明紧急理由" in reason
    assert 'value="2026-03-10"' in field_block(html, "end_date")  # what the user typed is kept
    assert "区政府门户网站\n政务新媒体</textarea>" in field_block(html, "channels")
    assert "has-error" not in field_block(html, "end_date")

    # a refusal about no field of the form is shown above it
    top = web.form("/work/decisions/D1/act/complete_participation", {"summary": "意见已研究"})
    assert top.status_code == 409
    assert re.search(r'<div class="panel refusal" role="alert"><span class="rule-id">R3</span>', top.text)
    assert "意见已研究</textarea>" in top.text

    # a value of the wrong shape is refused as INPUT (422) next to its field, before the service
    bad = web.form("/work/decisions/new", {"title": "停车收费", "category": "三", "lead_unit": "housing"})
    assert bad.status_code == 422 and "须为整数" in field_block(bad.text, "category")
    assert 'value="停车收费"' in field_block(bad.text, "title")
    english = signed_in(ctx, "li")
    english.cookies.set("lang", "en")
    again = english.form(OPEN_PERIOD, typed)
    assert "an urgent reason must be stated in the notice" in field_block(again.text, "urgent_reason")


def test_forms_are_refused_without_the_sessions_csrf_token(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx)
    clock(ctx, "2026-03-03T09:00")
    web = signed_in(ctx, "li")
    before = snapshot(ctx)
    data = {"start_date": "2026-03-03", "end_date": "2026-04-02", "channels": "网站"}
    assert web.post(OPEN_PERIOD, data=data).status_code == 403
    assert web.post(OPEN_PERIOD, data={**data, "csrf_token": "not-the-token"}).status_code == 403
    assert web.post("/work/decisions/new", data={"title": "x", "category": "1"}).status_code == 403
    assert snapshot(ctx) == before


def test_roles_and_units_that_may_not_act_are_refused(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx)
    clock(ctx, "2026-03-03T09:00")
    legal = signed_in(ctx, "wang")  # the legal office opens no comment period
    other = signed_in(ctx, "sun")  # 区商务局 does not undertake D1
    owner = signed_in(ctx, "li")
    before = snapshot(ctx)
    data = {"start_date": "2026-03-03", "end_date": "2026-04-02", "channels": "网站"}
    assert legal.get(OPEN_PERIOD).status_code == 403
    assert legal.form(OPEN_PERIOD, data).status_code == 403
    assert other.get(OPEN_PERIOD).status_code == 403
    assert other.form(OPEN_PERIOD, data).status_code == 403
    assert other.get("/work/decisions/D1").status_code == 403
    assert owner.get("/work/decisions/D1/act/no_such_action").status_code == 404
    assert owner.get("/work/decisions/NOPE/act/open_comment_period").status_code == 404
    assert snapshot(ctx) == before


def test_a_decision_is_registered_from_the_form(ctx: ServiceContext) -> None:
    district(ctx)
    clock(ctx, "2026-03-02T09:00")
    web = signed_in(ctx, "li")
    form = web.get("/work/decisions/new").text
    assert re.search(r'<option value="housing" selected>', form)  # the user's own unit
    assert 'name="flags" value="stability_risk"' in form
    sent = web.form(
        "/work/decisions/new",
        {"title": "旧城改造补偿标准", "category": "1", "lead_unit": "housing", "flags": ["stability_risk"]},
    )
    assert sent.status_code == 303
    code = sent.headers["location"].rsplit("/", 1)[1]
    with Session(ctx.engine) as session:
        decision = session.exec(select(Decision).where(Decision.code == code)).one()
    assert decision.title == "旧城改造补偿标准" and decision.flags == ["stability_risk"]
    assert decision.registered_by == "li" and decision.status == DecisionStatus.proposed
    assert last_event(ctx, code).os_account == "web:li@testclient"
    refused = web.form("/work/decisions/new", {"title": "", "category": "1"})
    assert refused.status_code == 422 and "has-error" in field_block(refused.text, "title")
    assert signed_in(ctx, "wang").get("/work/decisions/new").status_code == 403


def test_the_meeting_is_recorded_with_opinions_in_speaking_order(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx)
    participation_done(ctx)
    legality_lawful(ctx)
    act(ctx, "submit_for_discussion", "li", "2026-04-10T09:00", decision="D1", meeting_date="2026-04-17")
    clock(ctx, "2026-04-17T11:00")
    web = signed_in(ctx, "zhou")
    page = web.get("/work/meetings/D1").text
    assert 'value="2026-04-17"' in page  # the date the submission asked for
    order = {member: str(n) for n, member in enumerate(MEETING_MEMBERS, 1)}
    typed: dict[str, str] = {"meeting_type": "executive", "held_on": "2026-04-17", "head_decision": "approve"}
    for member in MEETING_MEMBERS:
        typed |= {f"present_{member}": "1", f"position_{member}": "agree", f"order_{member}": order[member]}
    typed |= {"order_mayor": "1", "order_vice1": "4", "text_vice2": "同意，建议加强宣传"}  # the head first
    before = snapshot(ctx)
    refused = web.form("/work/meetings/D1", typed)
    assert refused.status_code == 409 and snapshot(ctx) == before
    assert re.search(
        r'<div class="field-error" id="err-opinions" role="alert"><span class="rule-id">R14', refused.text
    )
    assert 'name="order_mayor" value="1"' in refused.text and "同意，建议加强宣传" in refused.text

    typed |= {"order_mayor": "4", "order_vice1": "1"}
    recorded = web.form("/work/meetings/D1", typed)
    assert recorded.status_code == 303
    with Session(ctx.engine) as session:
        meeting = session.exec(select(Meeting)).one()
        spoken = session.exec(
            select(MemberOpinion)
            .where(MemberOpinion.meeting_id == meeting.id)
            .order_by(col(MemberOpinion.speaking_order))
        ).all()
        decision = session.exec(select(Decision)).one()
    assert [o.member for o in spoken] == MEETING_MEMBERS and spoken[-1].is_head
    assert spoken[1].text == "同意，建议加强宣传"
    assert decision.status == DecisionStatus.decided
    assert last_event(ctx).os_account == "web:zhou@testclient"
    shown = web.get("/work/meetings/D1").text
    assert re.findall(r"<tr><td>(\d)</td>", shown) == ["1", "2", "3", "4"]
    assert 'action="/work/meetings/D1"' not in shown  # recorded: no second record
    assert signed_in(ctx, "li").form("/work/meetings/D1", typed).status_code == 403
