"""The web app and the JSON API under attack (issue 10, security): each test reproduces an
attack that worked, or one that must keep failing, and checks that it fails.

The public's actions through the API (sanitising, duplicates, rate limits, confidential
decisions, cross-site posts, deep JSON), unpublished drafts on the portal, caching of private
answers, sign-in enumeration, oversize bodies, redirects and headers."""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import Session, select

from flows.service import ServiceContext
from models import Decision, HearingRegistration, PublicComment
from models.execution import ExecutionFeedback
from tests.helpers import act, district, drafted, participation_done
from tests.test_after_decision import assign, made, party_done, publish
from tests.test_hearing import announce
from tests.test_web_portal import SECRET, comment, comments, look_up, open_for_comment, portal, receipt_of
from web.abuse import COMMENT_LIMIT
from web.receipts import read_receipt
from web.routes.api import MAX_DEPTH

SCRIPT = "<script>alert(1)</script>"
IMAGE = '<img src=x onerror="alert(2)">'
COMMENT_API = "/api/v1/actions/submit_public_comment"
REGISTER_API = "/api/v1/actions/register_for_hearing"
FEEDBACK_API = "/api/v1/actions/submit_execution_feedback"


def rows(ctx: ServiceContext, model: Any) -> list[Any]:
    with Session(ctx.engine) as session:
        return list(session.exec(select(model)).all())


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
    # brackets inside a string are text, not nesting
    text = "[[{{" * 200 + '\\"]' * 10
    sent = web.post(
        COMMENT_API,
        content=('{"decision":"D1","text":"' + text + '"}').encode(),
        headers={"Content-Type": "application/json"},
    )
    assert sent.status_code == 200, sent.text


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
