"""Attacks found by a hostile review of the §15 and P14-P17 rulings, as a district justice
bureau's reviewer (or a department under time pressure) would try them. Each test failed
while the hole was open; the engine now refuses the attack."""

from __future__ import annotations

from flows.service import ServiceContext
from tests.helpers import (
    MEETING_MEMBERS,
    act,
    district,
    drafted,
    legality_lawful,
    legality_submitted,
    participation_done,
    refused,
)


def _meeting(**overrides: object) -> dict[str, object]:
    payload: dict[str, object] = {
        "decision": "D1",
        "meeting_type": "executive",
        "members_present": MEETING_MEMBERS,
        "opinions": [{"member": m, "position": "agree"} for m in MEETING_MEMBERS],
        "head_decision": "approve",
    }
    payload.update(overrides)
    return payload


def _ready_for_discussion(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx)
    participation_done(ctx)
    legality_lawful(ctx)


def test_meeting_held_before_the_submission_for_discussion_is_refused(ctx: ServiceContext) -> None:
    # §15.4: the meeting depends on the submission (Art. 29); R10's earliest day is 04-17.
    _ready_for_discussion(ctx)
    act(ctx, "submit_for_discussion", "li", "2026-04-21T09:00", decision="D1", meeting_date="2026-04-22")
    err = refused(ctx, "R12", "record_meeting", "zhou", "2026-04-22T11:00", **_meeting(held_on="2026-04-17"))
    assert err.field == "held_on"


def test_meeting_held_before_the_party_reply_when_p8_is_before_meeting(ctx: ServiceContext) -> None:
    # P8 before_meeting: the meeting follows the Party committee's reply; a meeting dated
    # before the report/reply it depends on is impossible (§15.4).
    district(ctx, settings={"party_report_order": "before_meeting"})
    drafted(ctx)
    participation_done(ctx)
    legality_lawful(ctx)
    act(ctx, "submit_for_discussion", "li", "2026-04-10T09:00", decision="D1", meeting_date="2026-04-22")
    act(ctx, "record_party_report", "zhou", "2026-04-20T09:00", decision="D1", on_date="2026-04-20")
    act(
        ctx,
        "record_party_reply",
        "chen",
        "2026-04-21T09:00",
        decision="D1",
        on_date="2026-04-21",
        result="agreed",
    )
    err = refused(ctx, "P8", "record_meeting", "zhou", "2026-04-22T11:00", **_meeting(held_on="2026-04-17"))
    assert err.field == "held_on"


def test_lawful_after_changes_cannot_reach_the_meeting_with_the_unchanged_draft(ctx: ServiceContext) -> None:
    # Arts. 25, 28, P7: "lawful after the listed changes" covers a draft that carries them;
    # recording the changes without any new draft version sends the draft the legal office
    # found wanting to the meeting.
    district(ctx)
    drafted(ctx)
    participation_done(ctx)
    legality_submitted(ctx)
    act(
        ctx,
        "record_legal_adviser_opinion",
        "wang",
        "2026-04-09T09:00",
        decision="D1",
        adviser="张律师",
        opinion="意见",
    )
    act(
        ctx,
        "issue_legality_opinion",
        "wang",
        "2026-04-09T10:00",
        decision="D1",
        outcome="lawful_after_changes",
        opinion="修改后合法",
        required_changes="删除第三条收费条款",
    )
    # a statement alone is not a change (Art. 28)
    refused(
        ctx,
        "R12",
        "record_changes_after_review",
        "li",
        "2026-04-09T11:00",
        decision="D1",
        changes="已按意见修改",
    )
    refused(
        ctx,
        "R12",
        "submit_for_discussion",
        "li",
        "2026-04-10T09:00",
        decision="D1",
        meeting_date="2026-04-17",
    )
    # the lawful path: revise, record the changes, and the legal office confirms the revision
    act(
        ctx,
        "revise_draft",
        "li",
        "2026-04-09T11:10",
        decision="D1",
        draft="草案（删除第三条）",
        reason="按意见修改",
    )
    act(ctx, "record_changes_after_review", "li", "2026-04-09T11:20", decision="D1", changes="已删除第三条")
    act(ctx, "confirm_revision", "wang", "2026-04-09T11:30", decision="D1", reason="已落实所列修改")
    act(ctx, "submit_for_discussion", "li", "2026-04-10T09:00", decision="D1", meeting_date="2026-04-20")


def test_risk_found_after_submission_judged_uncontrollable_still_blocks_the_meeting(
    ctx: ServiceContext,
) -> None:
    # P16 + Art. 24: a stability risk found after the submission for discussion adds the risk
    # assessment; if the organ judges the risk uncontrollable, the meeting may not decide (R7).
    _ready_for_discussion(ctx)
    act(ctx, "submit_for_discussion", "li", "2026-04-10T09:00", decision="D1", meeting_date="2026-04-17")
    act(
        ctx,
        "change_flags",
        "li",
        "2026-04-13T09:00",
        decision="D1",
        add=["stability_risk"],
        reason="发现稳定风险",
    )
    act(
        ctx,
        "submit_risk_assessment",
        "li",
        "2026-04-14T09:00",
        decision="D1",
        report="风险评估报告",
        risk_points=["群体性上访"],
        prevention_measures=["分批实施"],
        handling_plan="应急预案",
        level="high",
        departments_consulted=["公安"],
    )
    act(ctx, "judge_risk", "mayor", "2026-04-15T09:00", decision="D1", controllable=False, reason="不可控")
    act(ctx, "approve_stage", "wang", "2026-04-15T10:00", decision="D1", stage="risk_assessment")
    refused(ctx, "R7", "record_meeting", "zhou", "2026-04-17T11:00", **_meeting(held_on="2026-04-17"))


def test_a_deferred_matter_needs_a_new_submission_even_when_submitted_twice_before(
    ctx: ServiceContext,
) -> None:
    # Art. 29: a deferred matter is submitted again (with its package) for a later meeting.
    # The deferral deletes only the latest submission; an earlier one left in place lets the
    # next meeting be recorded without any new submission.
    _ready_for_discussion(ctx)
    act(ctx, "submit_for_discussion", "li", "2026-04-10T09:00", decision="D1", meeting_date="2026-04-17")
    act(ctx, "submit_for_discussion", "li", "2026-04-13T09:00", decision="D1", meeting_date="2026-04-20")
    act(
        ctx,
        "record_meeting",
        "zhou",
        "2026-04-20T11:00",
        **_meeting(held_on="2026-04-20", head_decision="defer", head_reason="再研究"),
    )
    refused(ctx, "R12", "record_meeting", "zhou", "2026-04-21T11:00", **_meeting(held_on="2026-04-21"))
