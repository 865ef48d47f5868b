"""Tests that try to break the core guards (R1-R4, R9-R17, P5, P8, P11, AUTH, INPUT).

Each refusal goes through `tests.helpers.refused`, which also checks that the refused
action left the database untouched; where it means something, the accepted counterpart
follows, so a guard that refused everything would fail too."""

from __future__ import annotations

from datetime import date
from typing import Any

import chinese_calendar
import pytest
from sqlmodel import Session, col, select

from flows.errors import ProcedureError
from flows.service import ServiceContext
from models import Deadline, Decision, DecisionStatus, EvidenceDocument, StageInstance, StageStatus
from models.enums import DeadlineStatus
from tests.helpers import (
    act,
    decided,
    district,
    drafted,
    legality_lawful,
    participation_done,
    refused,
    registered,
)

# ---------------------------------------------------------------- reading state


def decision_row(ctx: ServiceContext, ref: str = "D1") -> Decision:
    with Session(ctx.engine) as session:
        return session.exec(select(Decision).where(Decision.code == ref)).one()


def stage_status(ctx: ServiceContext, stage: str, ref: str = "D1") -> StageStatus:
    decision = decision_row(ctx, ref)
    with Session(ctx.engine) as session:
        row = session.exec(
            select(StageInstance).where(
                StageInstance.decision_id == decision.id, StageInstance.stage == stage
            )
        ).one()
        return row.status


def latest_deadline(ctx: ServiceContext, kind: str, ref: str = "D1") -> Deadline:
    decision = decision_row(ctx, ref)
    with Session(ctx.engine) as session:
        return session.exec(
            select(Deadline)
            .where(Deadline.decision_id == decision.id, Deadline.kind == kind)
            .order_by(col(Deadline.id).desc())
        ).first() or pytest.fail(f"no {kind} deadline")


def evidence_count(ctx: ServiceContext, kind: str, ref: str = "D1") -> int:
    decision = decision_row(ctx, ref)
    with Session(ctx.engine) as session:
        return len(
            session.exec(
                select(EvidenceDocument.id).where(
                    EvidenceDocument.decision_id == decision.id, EvidenceDocument.kind == kind
                )
            ).all()
        )


# ---------------------------------------------------------------- carrying a decision forward


def submitted_for_review(ctx: ServiceContext, ref: str = "D1", when: str = "2026-04-08T09:00") -> None:
    act(
        ctx,
        "submit_for_legality_review",
        "li",
        when,
        decision=ref,
        procedures_statement="已履行公众参与程序",
    )


def adviser(ctx: ServiceContext, when: str, ref: str = "D1") -> None:
    act(
        ctx,
        "record_legal_adviser_opinion",
        "wang",
        when,
        decision=ref,
        adviser="张律师",
        opinion="法律意见",
    )


def opinion(ctx: ServiceContext, outcome: str, when: str, ref: str = "D1", **extra: Any) -> None:
    act(
        ctx,
        "issue_legality_opinion",
        "wang",
        when,
        decision=ref,
        outcome=outcome,
        opinion=f"审查意见：{outcome}",
        **extra,
    )


def reviewed(ctx: ServiceContext, outcome: str, flags: list[str] | None = None, **extra: Any) -> None:
    """A decision through participation whose legality review (submitted 2026-04-08) ended
    with `outcome`."""
    district(ctx)
    drafted(ctx, flags=flags)
    participation_done(ctx)
    submitted_for_review(ctx)
    adviser(ctx, "2026-04-09T09:00")
    opinion(ctx, outcome, "2026-04-09T10:00", **extra)


def meeting(**overrides: Any) -> dict[str, Any]:
    """record_meeting's payload: the four members of the roster present, the head last."""
    payload: dict[str, Any] = {
        "decision": "D1",
        "meeting_type": "executive",
        "held_on": "2026-04-17",
        "members_present": ["vice1", "vice2", "vice3", "mayor"],
        "opinions": [
            {"member": "vice1", "position": "agree"},
            {"member": "vice2", "position": "agree"},
            {"member": "vice3", "position": "disagree", "text": "建议缓行"},
            {"member": "mayor", "position": "agree"},
        ],
        "head_decision": "approve",
    }
    payload.update(overrides)
    return payload


def party_done(ctx: ServiceContext, when: str = "2026-04-20") -> None:
    act(ctx, "record_party_report", "chen", f"{when}T09:00", decision="D1", on_date=when)
    act(ctx, "record_party_reply", "chen", f"{when}T15:00", decision="D1", on_date=when, result="agreed")


ALL_CHANNELS = ["gazette", "website", "newspaper"]


# ================================================================ R1, Art. 11


def test_r1_no_draft_before_the_organ_starts_the_procedure(ctx: ServiceContext) -> None:
    district(ctx)
    registered(ctx)
    draft = {"decision": "D1", "draft": "草案", "explanation": "说明", "legal_bases": ["依据"]}
    refused(ctx, "R1", "submit_draft", "li", "2026-03-02T09:30", **draft)
    act(ctx, "start_procedure", "zhou", "2026-03-02T10:00", decision="D1")
    act(ctx, "submit_draft", "li", "2026-03-02T11:00", **draft)
    assert stage_status(ctx, "drafting") == StageStatus.completed


def test_r1_several_units_need_a_lead_unit(ctx: ServiceContext) -> None:
    district(ctx)
    act(
        ctx,
        "register_decision",
        "li",
        "2026-03-02T09:00",
        ref="D1",
        title="区老旧小区改造与商业街区提升",
        category=4,
        units=["housing", "commerce"],
    )
    error = refused(ctx, "R1", "start_procedure", "zhou", "2026-03-02T10:00", decision="D1")
    assert error.field == "lead_unit"
    act(ctx, "start_procedure", "zhou", "2026-03-02T10:05", decision="D1", lead_unit="commerce")
    decision = decision_row(ctx)
    assert decision.status == DecisionStatus.in_procedure
    assert set(decision.unit_codes) == {"housing", "commerce"}


def test_r1_a_decision_needs_an_undertaking_unit(ctx: ServiceContext) -> None:
    district(ctx)
    act(ctx, "register_decision", "zhou", "2026-03-02T09:00", ref="D1", title="待定承办单位事项", category=5)
    error = refused(ctx, "R1", "start_procedure", "zhou", "2026-03-02T10:00", decision="D1")
    assert error.field == "units"


# ================================================================ R2, Arts. 14, 25, 30-33


def test_r2_a_confidential_matter_has_no_public_comment(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx, flags=["confidential"])
    assert stage_status(ctx, "public_participation") == StageStatus.not_required
    refused(
        ctx,
        "R2",
        "open_comment_period",
        "li",
        "2026-03-03T09:00",
        decision="D1",
        start_date="2026-03-03",
        end_date="2026-04-02",
        channels=["website"],
    )
    refused(
        ctx,
        "R2",
        "record_participation_activity",
        "li",
        "2026-03-03T09:00",
        decision="D1",
        kind="forum",
        held_on="2026-03-03",
        summary="座谈会",
    )


def test_r2_confidential_still_needs_legality_review_and_discussion(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx, flags=["confidential"])
    assert stage_status(ctx, "legality_review") == StageStatus.pending
    assert stage_status(ctx, "discussion") == StageStatus.pending
    refused(
        ctx,
        "R12",
        "submit_for_discussion",
        "li",
        "2026-04-01T09:00",
        decision="D1",
        meeting_date="2026-04-20",
    )
    refused(ctx, "R12", "record_meeting", "zhou", "2026-04-17T11:00", **meeting())
    legality_lawful(ctx)
    decided(ctx)
    assert decision_row(ctx).status == DecisionStatus.decided
    # P10: no publication, so the archive clock runs from the decision
    assert latest_deadline(ctx, "archive_due").base_date == date(2026, 4, 17)


def test_r2_confidential_is_never_published_but_is_archived(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx, flags=["confidential"])
    legality_lawful(ctx)
    decided(ctx)
    publish = {"decision": "D1", "channels": ALL_CHANNELS, "published_on": "2026-04-20", "text": "决定全文"}
    refused(ctx, "R2", "publish_decision", "zhou", "2026-04-20T09:00", **publish)
    # the Party report is not switched off by the flag (R2 row of §12)
    refused(ctx, "R17", "archive_decision", "zhou", "2026-04-20T09:10", decision="D1")
    party_done(ctx)
    refused(ctx, "R2", "publish_decision", "zhou", "2026-04-21T09:00", **publish)
    act(ctx, "archive_decision", "zhou", "2026-04-21T10:00", decision="D1")
    assert decision_row(ctx).status == DecisionStatus.archived
    assert stage_status(ctx, "publication") == StageStatus.not_required
    assert evidence_count(ctx, "publication_text") == 0
    assert evidence_count(ctx, "archive_manifest") == 1


# ================================================================ R3, Arts. 14-15


def open_period(ctx: ServiceContext, end: str, urgent_reason: str = "", start: str = "2026-03-03") -> None:
    act(
        ctx,
        "open_comment_period",
        "li",
        f"{start}T09:00",
        decision="D1",
        start_date=start,
        end_date=end,
        channels=["website"],
        urgent_reason=urgent_reason,
    )


def test_r3_a_short_period_needs_an_urgent_reason(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx)
    payload = {
        "decision": "D1",
        "start_date": "2026-03-03",
        "end_date": "2026-03-13",
        "channels": ["website"],
    }
    error = refused(ctx, "R3", "open_comment_period", "li", "2026-03-03T09:00", **payload)
    assert error.field == "urgent_reason"
    # a blank reason is no reason
    refused(ctx, "R3", "open_comment_period", "li", "2026-03-03T09:00", urgent_reason="   ", **payload)
    act(ctx, "open_comment_period", "li", "2026-03-03T09:05", urgent_reason="防汛应急需要", **payload)
    assert latest_deadline(ctx, "comment_period_end").due_date == date(2026, 3, 13)
    assert evidence_count(ctx, "comment_notice") == 1


def test_r3_exactly_thirty_days_is_enough(ctx: ServiceContext) -> None:
    # "not less than 30 days", the start day not counted (P2): 03-04 .. 04-02 is 30 days
    district(ctx)
    drafted(ctx)
    open_period(ctx, "2026-04-02")
    assert latest_deadline(ctx, "comment_period_end").due_date == date(2026, 4, 2)


def test_r3_twenty_nine_days_is_not(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx)
    error = refused(
        ctx,
        "R3",
        "open_comment_period",
        "li",
        "2026-03-03T09:00",
        decision="D1",
        start_date="2026-03-03",
        end_date="2026-04-01",
        channels=["website"],
    )
    assert "29" in error.message_en


def test_r3_an_end_before_the_start_is_refused_even_with_a_reason(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx)
    error = refused(
        ctx,
        "R3",
        "open_comment_period",
        "li",
        "2026-03-03T09:00",
        decision="D1",
        start_date="2026-03-10",
        end_date="2026-03-10",
        channels=["website"],
        urgent_reason="紧急",
    )
    assert error.field == "end_date"


def test_r3_participation_needs_some_activity(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx)
    refused(ctx, "R3", "complete_participation", "li", "2026-03-10T09:00", decision="D1")
    act(
        ctx,
        "record_participation_activity",
        "li",
        "2026-03-10T10:00",
        decision="D1",
        kind="forum",
        held_on="2026-03-10",
        summary="社区座谈会",
    )
    act(ctx, "complete_participation", "li", "2026-03-10T11:00", decision="D1")
    assert stage_status(ctx, "public_participation") == StageStatus.awaiting_approval


def test_r3_participation_cannot_end_while_the_period_is_open(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx)
    open_period(ctx, "2026-04-02")
    refused(ctx, "R3", "complete_participation", "li", "2026-04-02T20:00", decision="D1")


def test_r3_every_comment_needs_a_response(ctx: ServiceContext) -> None:
    from flows.scenario import sweep_until
    from tests.helpers import at

    district(ctx)
    drafted(ctx)
    open_period(ctx, "2026-04-02")
    act(ctx, "submit_public_comment", "public", "2026-03-10T15:00", decision="D1", text="建议增加停车位")
    act(ctx, "submit_public_comment", "public", "2026-03-11T15:00", decision="D1", text="建议延长工期")
    sweep_until(ctx, at("2026-04-03T09:00"))
    act(
        ctx,
        "respond_to_input",
        "li",
        "2026-04-03T09:10",
        decision="D1",
        input="C1",
        outcome="adopted",
        reason="已增加",
    )
    error = refused(ctx, "R3", "complete_participation", "li", "2026-04-03T09:20", decision="D1")
    assert "C2" in error.message_en and "C1" not in error.message_en
    act(
        ctx,
        "respond_to_input",
        "li",
        "2026-04-03T09:30",
        decision="D1",
        input="C2",
        outcome="not_adopted",
        reason="工期由合同约定",
    )
    act(ctx, "complete_participation", "li", "2026-04-03T09:40", decision="D1")


# ================================================================ R4, Art. 14(3)


def test_r4_a_specific_group_must_be_consulted(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx, flags=["affects_specific_group"])
    act(
        ctx,
        "record_participation_activity",
        "li",
        "2026-03-10T10:00",
        decision="D1",
        kind="questionnaire",
        held_on="2026-03-10",
        summary="问卷调查",
    )
    refused(ctx, "R4", "complete_participation", "li", "2026-03-11T09:00", decision="D1")
    act(
        ctx,
        "record_participation_activity",
        "li",
        "2026-03-12T10:00",
        decision="D1",
        kind="specific_group_consultation",
        held_on="2026-03-12",
        summary="听取残疾人联合会意见",
        group_name="区残疾人联合会",
    )
    act(ctx, "complete_participation", "li", "2026-03-12T11:00", decision="D1")
    assert evidence_count(ctx, "specific_group_consultation") == 1


# ================================================================ R9, Arts. 25-26


def test_r9_the_package_needs_a_statement_of_procedures(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx)
    participation_done(ctx)
    for statement in ("", "  "):
        error = refused(
            ctx,
            "R9",
            "submit_for_legality_review",
            "li",
            "2026-04-08T09:00",
            decision="D1",
            procedures_statement=statement,
        )
        assert error.field == "procedures_statement"
    submitted_for_review(ctx)


def test_r9_the_package_needs_a_legal_basis(ctx: ServiceContext) -> None:
    district(ctx)
    registered(ctx)
    act(ctx, "start_procedure", "zhou", "2026-03-02T10:00", decision="D1")
    act(ctx, "submit_draft", "li", "2026-03-02T11:00", decision="D1", draft="草案", explanation="说明")
    participation_done(ctx)
    error = refused(
        ctx,
        "R9",
        "submit_for_legality_review",
        "li",
        "2026-04-08T09:00",
        decision="D1",
        procedures_statement="已履行公众参与程序",
    )
    assert error.field == "legal_bases"
    act(
        ctx,
        "submit_for_legality_review",
        "li",
        "2026-04-08T09:10",
        decision="D1",
        procedures_statement="已履行公众参与程序",
        legal_bases=["《中华人民共和国城乡规划法》"],
    )


# ================================================================ R10, Art. 26(2)


def test_r10_the_meeting_waits_seven_working_days(ctx: ServiceContext) -> None:
    # submitted Wed 2026-04-08: 04-09, 10, 13, 14, 15, 16, 17 are the seven working days
    reviewed(ctx, "lawful")
    assert latest_deadline(ctx, "legality_review_min").due_date == date(2026, 4, 17)
    error = refused(
        ctx,
        "R10",
        "submit_for_discussion",
        "li",
        "2026-04-10T09:00",
        decision="D1",
        meeting_date="2026-04-16",
    )
    assert error.field == "meeting_date"
    # the boundary day itself is allowed ("not less than 7 working days")
    act(ctx, "submit_for_discussion", "li", "2026-04-10T09:10", decision="D1", meeting_date="2026-04-17")
    assert stage_status(ctx, "discussion") == StageStatus.active


def test_r10_counts_working_days_across_the_national_day_holiday(ctx: ServiceContext) -> None:
    # 2026: 10-01..10-07 are holidays, Sat 10-10 is a make-up working day (调休).
    seven = [date(2026, 9, 29), date(2026, 9, 30)] + [date(2026, 10, d) for d in (8, 9, 10, 12, 13)]
    assert all(chinese_calendar.is_workday(d) for d in seven)
    assert not any(chinese_calendar.is_workday(date(2026, 10, d)) for d in (1, 2, 3, 4, 5, 6, 7, 11))
    district(ctx)
    drafted(ctx)
    participation_done(ctx)
    submitted_for_review(ctx, when="2026-09-28T09:00")
    assert latest_deadline(ctx, "legality_review_min").due_date == seven[-1]
    adviser(ctx, "2026-09-29T09:00")
    opinion(ctx, "lawful", "2026-09-30T09:00")
    refused(
        ctx,
        "R10",
        "submit_for_discussion",
        "li",
        "2026-09-30T10:00",
        decision="D1",
        meeting_date="2026-10-12",
    )
    act(ctx, "submit_for_discussion", "li", "2026-09-30T10:10", decision="D1", meeting_date="2026-10-13")


def test_r10_a_meeting_cannot_be_held_before_the_review_time(ctx: ServiceContext) -> None:
    reviewed(ctx, "lawful")
    act(ctx, "submit_for_discussion", "li", "2026-04-10T09:00", decision="D1", meeting_date="2026-04-17")
    # submitted for the 17th, but the minutes say the meeting was held on the 15th
    error = refused(ctx, "R10", "record_meeting", "zhou", "2026-04-15T18:00", **meeting(held_on="2026-04-15"))
    assert error.field == "held_on"
    act(ctx, "record_meeting", "zhou", "2026-04-17T18:00", **meeting())


def test_a_meeting_cannot_be_recorded_before_it_is_held(ctx: ServiceContext) -> None:
    reviewed(ctx, "lawful")
    act(ctx, "submit_for_discussion", "li", "2026-04-10T09:00", decision="D1", meeting_date="2026-04-17")
    error = refused(ctx, "INPUT", "record_meeting", "zhou", "2026-04-16T18:00", **meeting())
    assert error.field == "held_on"


# ================================================================ R11, Art. 28


def test_r11_no_opinion_without_a_legal_adviser(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx)
    participation_done(ctx)
    submitted_for_review(ctx)
    refused(
        ctx,
        "R11",
        "issue_legality_opinion",
        "wang",
        "2026-04-09T09:00",
        decision="D1",
        outcome="lawful",
        opinion="合法",
    )
    adviser(ctx, "2026-04-09T09:10")
    opinion(ctx, "lawful", "2026-04-09T09:20")
    assert stage_status(ctx, "legality_review") == StageStatus.completed


def test_r11_an_adviser_opinion_counts_for_its_own_round_only(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx)
    participation_done(ctx)
    submitted_for_review(ctx)
    adviser(ctx, "2026-04-08T15:00")
    act(ctx, "return_for_supplement", "wang", "2026-04-09T09:00", decision="D1", reason="缺少风险评估说明")
    act(
        ctx,
        "resubmit_for_legality_review",
        "li",
        "2026-04-13T09:00",
        decision="D1",
        procedures_statement="已补充说明",
    )
    refused(
        ctx,
        "R11",
        "issue_legality_opinion",
        "wang",
        "2026-04-14T09:00",
        decision="D1",
        outcome="lawful",
        opinion="合法",
    )


# ================================================================ R12, Art. 25


def test_r12_no_discussion_without_a_legality_opinion(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx)
    participation_done(ctx)
    refused(
        ctx,
        "R12",
        "submit_for_discussion",
        "li",
        "2026-04-08T08:00",
        decision="D1",
        meeting_date="2026-04-30",
    )
    submitted_for_review(ctx)
    adviser(ctx, "2026-04-09T09:00")
    refused(
        ctx,
        "R12",
        "submit_for_discussion",
        "li",
        "2026-04-09T10:00",
        decision="D1",
        meeting_date="2026-04-30",
    )


def test_r12_no_discussion_of_an_unlawful_draft(ctx: ServiceContext) -> None:
    reviewed(ctx, "unlawful")
    refused(
        ctx,
        "R12",
        "submit_for_discussion",
        "li",
        "2026-04-20T09:00",
        decision="D1",
        meeting_date="2026-04-30",
    )
    # a legal-risk statement does not help a matter that is not exploratory reform
    refused(
        ctx,
        "R12",
        "submit_for_discussion",
        "li",
        "2026-04-20T09:00",
        decision="D1",
        meeting_date="2026-04-30",
        legal_risk_statement="存在法律风险",
    )


def test_r12_lawful_after_changes_needs_the_changes_recorded(ctx: ServiceContext) -> None:
    reviewed(ctx, "lawful_after_changes", required_changes="删除第五条收费条款")
    assert stage_status(ctx, "legality_review") == StageStatus.active
    refused(
        ctx,
        "R12",
        "submit_for_discussion",
        "li",
        "2026-04-20T09:00",
        decision="D1",
        meeting_date="2026-04-30",
    )
    # Art. 28: a statement alone is not a change; the draft must be revised first
    refused(
        ctx,
        "R12",
        "record_changes_after_review",
        "li",
        "2026-04-20T10:00",
        decision="D1",
        changes="已删除第五条",
    )
    act(
        ctx,
        "revise_draft",
        "li",
        "2026-04-20T10:10",
        decision="D1",
        draft="草案（删除第五条）",
        reason="按审查意见修改",
    )
    act(ctx, "record_changes_after_review", "li", "2026-04-20T10:20", decision="D1", changes="已删除第五条")
    # P15: the revised draft is covered once the legal office confirms it
    refused(
        ctx,
        "R12",
        "submit_for_discussion",
        "li",
        "2026-04-20T10:30",
        decision="D1",
        meeting_date="2026-04-30",
    )
    act(
        ctx,
        "confirm_revision",
        "wang",
        "2026-04-20T10:40",
        decision="D1",
        reason="已按意见删除第五条，不涉及其他合法性问题",
    )
    act(ctx, "submit_for_discussion", "li", "2026-04-20T11:00", decision="D1", meeting_date="2026-04-30")


def test_r12_exploratory_reform_needs_the_legal_risks_stated(ctx: ServiceContext) -> None:
    reviewed(ctx, "unlawful", flags=["exploratory_reform"])
    submit = {"decision": "D1", "meeting_date": "2026-04-30"}
    refused(ctx, "R12", "submit_for_discussion", "li", "2026-04-20T09:00", **submit)
    refused(
        ctx, "R12", "submit_for_discussion", "li", "2026-04-20T09:00", legal_risk_statement="  ", **submit
    )
    act(
        ctx,
        "submit_for_discussion",
        "li",
        "2026-04-20T10:00",
        legal_risk_statement="国家层面尚无明确规定，存在被认定越权的风险",
        **submit,
    )
    assert evidence_count(ctx, "legal_risk_statement") == 1


# ================================================================ R13, Art. 29


def test_r13_the_package_needs_the_explanation_of_the_draft(ctx: ServiceContext) -> None:
    district(ctx)
    registered(ctx)
    act(ctx, "start_procedure", "zhou", "2026-03-02T10:00", decision="D1")
    act(ctx, "submit_draft", "li", "2026-03-02T11:00", decision="D1", draft="草案", legal_bases=["依据"])
    participation_done(ctx)
    legality_lawful(ctx)
    error = refused(
        ctx,
        "R13",
        "submit_for_discussion",
        "li",
        "2026-04-10T09:00",
        decision="D1",
        meeting_date="2026-04-17",
    )
    assert "draft_explanation" in error.message_en


# ================================================================ R14 and P11, Art. 30


@pytest.fixture
def submitted(ctx: ServiceContext) -> ServiceContext:
    reviewed(ctx, "lawful")
    act(ctx, "submit_for_discussion", "li", "2026-04-10T09:00", decision="D1", meeting_date="2026-04-17")
    return ctx


def test_r14_circulation_is_not_a_meeting(submitted: ServiceContext) -> None:
    error = refused(
        submitted, "R14", "record_meeting", "zhou", "2026-04-17T11:00", **meeting(meeting_type="circulation")
    )
    assert error.field == "meeting_type"
    act(submitted, "record_meeting", "zhou", "2026-04-17T11:05", **meeting(meeting_type="plenary"))


def test_r14_the_head_speaks_last(submitted: ServiceContext) -> None:
    head_first = [
        {"member": "mayor", "position": "agree"},
        {"member": "vice1", "position": "agree"},
        {"member": "vice2", "position": "agree"},
        {"member": "vice3", "position": "agree"},
    ]
    error = refused(
        submitted, "R14", "record_meeting", "zhou", "2026-04-17T11:00", **meeting(opinions=head_first)
    )
    assert error.field == "opinions"
    # the head absent and nobody named to act as head
    three = ["vice1", "vice2", "vice3"]
    no_head = [{"member": m, "position": "agree"} for m in three]
    error = refused(
        submitted,
        "R14",
        "record_meeting",
        "zhou",
        "2026-04-17T11:00",
        **meeting(members_present=three, opinions=no_head),
    )
    assert error.field == "acting_head"


def test_r14_a_head_against_the_majority_gives_reasons(submitted: ServiceContext) -> None:
    majority_against = [
        {"member": "vice1", "position": "disagree", "text": "群众负担加重"},
        {"member": "vice2", "position": "disagree", "text": "时机不成熟"},
        {"member": "vice3", "position": "disagree", "text": "建议缓行"},
        {"member": "mayor", "position": "agree"},
    ]
    for decision in ("approve", "approve_with_changes"):
        error = refused(
            submitted,
            "R14",
            "record_meeting",
            "zhou",
            "2026-04-17T11:00",
            **meeting(opinions=majority_against, head_decision=decision),
        )
        assert error.field == "head_reason"
    refused(
        submitted,
        "R14",
        "record_meeting",
        "zhou",
        "2026-04-17T11:00",
        **meeting(opinions=majority_against, head_reason="  "),
    )
    act(
        submitted,
        "record_meeting",
        "zhou",
        "2026-04-17T11:05",
        **meeting(opinions=majority_against, head_reason="该事项已列入省重点项目，时间窗口紧"),
    )
    assert decision_row(submitted).status == DecisionStatus.decided


def test_r14_rejecting_against_an_agreeing_majority_also_needs_reasons(submitted: ServiceContext) -> None:
    refused(submitted, "R14", "record_meeting", "zhou", "2026-04-17T11:00", **meeting(head_decision="reject"))
    act(
        submitted,
        "record_meeting",
        "zhou",
        "2026-04-17T11:05",
        **meeting(head_decision="reject", head_reason="财政承受能力不足"),
    )
    assert decision_row(submitted).status == DecisionStatus.rejected


def test_p11_more_than_half_of_the_members_must_be_present(submitted: ServiceContext) -> None:
    two = [{"member": "vice1", "position": "agree"}, {"member": "mayor", "position": "agree"}]
    # exactly half of the roster of four is not more than half
    error = refused(
        submitted,
        "P11",
        "record_meeting",
        "zhou",
        "2026-04-17T11:00",
        **meeting(members_present=["vice1", "mayor"], opinions=two),
    )
    assert error.field == "members_present"
    # a name listed twice does not make a third member present
    refused(
        submitted,
        "P11",
        "record_meeting",
        "zhou",
        "2026-04-17T11:00",
        **meeting(members_present=["vice1", "mayor", "vice1"], opinions=two),
    )
    three = [{"member": "vice1", "position": "agree"}, {"member": "vice2", "position": "agree"}]
    act(
        submitted,
        "record_meeting",
        "zhou",
        "2026-04-17T11:05",
        **meeting(members_present=["vice1", "vice2", "mayor"], opinions=[*three, two[1]]),
    )


def test_a_meeting_record_cannot_state_the_number_of_members(submitted: ServiceContext) -> None:
    """The roster is the base of the quorum (P11); the form has no members_total."""
    error = refused(
        submitted,
        "INPUT",
        "record_meeting",
        "zhou",
        "2026-04-17T11:00",
        **meeting(members_total=2),
    )
    assert error.field == "members_total"


# ================================================================ R15, Arts. 31, 8


def test_r15_publication_waits_for_the_party_reply(ctx: ServiceContext) -> None:
    reviewed(ctx, "lawful")
    decided(ctx)
    publish = {"decision": "D1", "channels": ALL_CHANNELS, "published_on": "2026-04-22", "text": "决定全文"}
    refused(ctx, "R15", "publish_decision", "zhou", "2026-04-20T09:00", **publish)
    refused(
        ctx,
        "R15",
        "record_party_reply",
        "chen",
        "2026-04-20T09:00",
        decision="D1",
        on_date="2026-04-20",
        result="agreed",
    )
    act(ctx, "record_party_report", "chen", "2026-04-20T10:00", decision="D1", on_date="2026-04-20")
    refused(ctx, "R15", "publish_decision", "zhou", "2026-04-20T11:00", **publish)
    act(
        ctx,
        "record_party_reply",
        "chen",
        "2026-04-21T10:00",
        decision="D1",
        on_date="2026-04-21",
        result="not_agreed",
    )
    refused(ctx, "R15", "publish_decision", "zhou", "2026-04-21T11:00", **publish)
    act(
        ctx,
        "record_party_reply",
        "chen",
        "2026-04-22T10:00",
        decision="D1",
        on_date="2026-04-22",
        result="agreed",
    )
    act(ctx, "publish_decision", "zhou", "2026-04-22T11:00", **publish)
    assert decision_row(ctx).status == DecisionStatus.published


def test_r15_a_flagged_congress_step_must_be_done(ctx: ServiceContext) -> None:
    reviewed(ctx, "lawful", flags=["congress_step"])
    decided(ctx)
    party_done(ctx)
    publish = {"decision": "D1", "channels": ALL_CHANNELS, "published_on": "2026-04-28", "text": "决定全文"}
    refused(ctx, "R15", "publish_decision", "zhou", "2026-04-21T09:00", **publish)
    act(
        ctx,
        "record_congress_step",
        "zhou",
        "2026-04-27T15:00",
        decision="D1",
        kind="report",
        on_date="2026-04-27",
        result="区人大常委会听取报告",
    )
    act(ctx, "publish_decision", "zhou", "2026-04-28T09:00", **publish)


def test_a_congress_step_is_refused_when_not_flagged(ctx: ServiceContext) -> None:
    reviewed(ctx, "lawful")
    decided(ctx)
    refused(
        ctx,
        "STATE",
        "record_congress_step",
        "zhou",
        "2026-04-20T09:00",
        decision="D1",
        kind="report",
        on_date="2026-04-20",
    )


# ================================================================ R16, Art. 32


def test_r16_all_three_channels(ctx: ServiceContext) -> None:
    reviewed(ctx, "lawful")
    decided(ctx)
    party_done(ctx)
    error = refused(
        ctx,
        "R16",
        "publish_decision",
        "zhou",
        "2026-04-21T09:00",
        decision="D1",
        channels=["gazette", "website"],
        published_on="2026-04-21",
        text="决定全文",
    )
    assert error.field == "channels" and "newspaper" in error.message_en


def test_r16_wide_concern_needs_an_adoption_explanation_and_interpretation(ctx: ServiceContext) -> None:
    reviewed(ctx, "lawful", flags=["high_public_concern"])
    decided(ctx)
    party_done(ctx)
    publish = {"decision": "D1", "channels": ALL_CHANNELS, "published_on": "2026-04-21", "text": "决定全文"}
    error = refused(ctx, "R16", "publish_decision", "zhou", "2026-04-21T09:00", **publish)
    assert error.field == "adoption_explanation"
    error = refused(
        ctx, "R16", "publish_decision", "zhou", "2026-04-21T09:00", adoption_explanation="采纳情况", **publish
    )
    assert error.field == "interpretation"
    act(
        ctx,
        "publish_decision",
        "zhou",
        "2026-04-21T09:10",
        adoption_explanation="共收到意见12条，采纳8条",
        interpretation="政策解读",
        **publish,
    )
    assert evidence_count(ctx, "adoption_explanation") == 1
    assert evidence_count(ctx, "interpretation") == 1


# ================================================================ R17, Art. 33


def test_r17_no_archive_before_publication(ctx: ServiceContext) -> None:
    reviewed(ctx, "lawful")
    decided(ctx)
    party_done(ctx)
    error = refused(ctx, "R17", "archive_decision", "zhou", "2026-04-21T09:00", decision="D1")
    assert "Publication" in error.message_en
    act(
        ctx,
        "publish_decision",
        "zhou",
        "2026-04-21T10:00",
        decision="D1",
        channels=ALL_CHANNELS,
        published_on="2026-04-21",
        text="决定全文",
    )
    act(ctx, "archive_decision", "zhou", "2026-04-22T09:00", decision="D1")


def test_an_undecided_matter_cannot_be_archived(ctx: ServiceContext) -> None:
    reviewed(ctx, "lawful")
    refused(ctx, "ORDER", "archive_decision", "zhou", "2026-04-21T09:00", decision="D1")


# ================================================================ P5, Art. 26(1)


def test_p5_only_a_returned_or_unlawful_submission_is_resubmitted(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx)
    participation_done(ctx)
    resubmit = {"decision": "D1", "procedures_statement": "重新送审"}
    refused(ctx, "P5", "resubmit_for_legality_review", "li", "2026-04-08T08:00", **resubmit)
    submitted_for_review(ctx)
    refused(ctx, "P5", "resubmit_for_legality_review", "li", "2026-04-08T10:00", **resubmit)
    adviser(ctx, "2026-04-09T09:00")
    opinion(ctx, "lawful", "2026-04-09T10:00")
    refused(ctx, "P5", "resubmit_for_legality_review", "li", "2026-04-09T11:00", **resubmit)


def test_p5_the_review_clock_restarts_on_resubmission(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx)
    participation_done(ctx)
    submitted_for_review(ctx)
    act(ctx, "return_for_supplement", "wang", "2026-04-09T09:00", decision="D1", reason="缺少依据文本")
    act(
        ctx,
        "resubmit_for_legality_review",
        "li",
        "2026-04-13T09:00",
        decision="D1",
        procedures_statement="已补充",
    )
    # Mon 04-13 + 7 working days = Wed 04-22 (not 04-17 from the first submission)
    assert latest_deadline(ctx, "legality_review_min").due_date == date(2026, 4, 22)
    decision = decision_row(ctx)
    with Session(ctx.engine) as session:
        first = session.exec(
            select(Deadline).where(
                Deadline.decision_id == decision.id,
                Deadline.kind == "legality_review_min",
                Deadline.subject_ref == "1",
            )
        ).one()
        assert first.status == DeadlineStatus.cancelled
    adviser(ctx, "2026-04-14T09:00")
    opinion(ctx, "lawful", "2026-04-14T10:00")
    refused(
        ctx,
        "R10",
        "submit_for_discussion",
        "li",
        "2026-04-15T09:00",
        decision="D1",
        meeting_date="2026-04-21",
    )
    act(ctx, "submit_for_discussion", "li", "2026-04-15T09:10", decision="D1", meeting_date="2026-04-22")


# ================================================================ P8, Art. 31


def test_p8_by_default_the_party_report_follows_the_meeting(ctx: ServiceContext) -> None:
    reviewed(ctx, "lawful")
    refused(ctx, "P8", "record_party_report", "chen", "2026-04-10T09:00", decision="D1", on_date="2026-04-10")
    decided(ctx)
    act(ctx, "record_party_report", "chen", "2026-04-20T09:00", decision="D1", on_date="2026-04-20")


def test_p8_before_meeting_setting_blocks_the_meeting_until_the_party_replied(ctx: ServiceContext) -> None:
    district(ctx, settings={"party_report_order": "before_meeting"})
    drafted(ctx)
    participation_done(ctx)
    legality_lawful(ctx)
    act(ctx, "submit_for_discussion", "li", "2026-04-10T09:00", decision="D1", meeting_date="2026-04-17")
    refused(ctx, "P8", "record_meeting", "zhou", "2026-04-17T11:00", **meeting())
    act(ctx, "record_party_report", "chen", "2026-04-13T09:00", decision="D1", on_date="2026-04-13")
    refused(ctx, "P8", "record_meeting", "zhou", "2026-04-17T11:00", **meeting())
    act(
        ctx,
        "record_party_reply",
        "chen",
        "2026-04-15T09:00",
        decision="D1",
        on_date="2026-04-15",
        result="agreed",
    )
    act(ctx, "record_meeting", "zhou", "2026-04-17T11:05", **meeting())
    assert decision_row(ctx).status == DecisionStatus.decided


# ================================================================ AUTH, design decision 5


def test_auth_a_role_that_may_not_act(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx)
    for actor, action, payload in (
        ("li", "start_procedure", {"decision": "D1"}),
        ("wang", "submit_draft", {"decision": "D1", "draft": "草案"}),
        ("watcher", "withdraw_decision", {"decision": "D1", "reason": "测试"}),
        ("li", "approve_stage", {"decision": "D1", "stage": "public_participation"}),
        ("zhou", "issue_legality_opinion", {"decision": "D1", "outcome": "lawful", "opinion": "合法"}),
    ):
        error = refused(ctx, "AUTH", action, actor, "2026-03-03T09:00", **payload)
        assert error.kind == "forbidden" and error.field == "actor"


def test_auth_another_units_staff_may_not_act(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx)
    for action, payload in (
        ("revise_draft", {"draft": "草案2", "reason": "修改"}),
        ("withdraw_decision", {"reason": "不再需要"}),
        ("record_participation_activity", {"kind": "forum", "held_on": "2026-03-03", "summary": "座谈"}),
    ):
        error = refused(ctx, "AUTH", action, "sun", "2026-03-03T09:00", decision="D1", **payload)
        assert error.kind == "forbidden"
    # the undertaking unit's own head may
    act(ctx, "withdraw_decision", "zhao", "2026-03-03T09:10", decision="D1", reason="不再需要")


def test_auth_the_public_cannot_do_a_departments_work(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx)
    refused(
        ctx,
        "AUTH",
        "open_comment_period",
        "public",
        "2026-03-03T09:00",
        decision="D1",
        start_date="2026-03-03",
        end_date="2026-04-02",
        channels=["website"],
    )
    refused(
        ctx,
        "AUTH",
        "register_decision",
        "public",
        "2026-03-03T09:00",
        title="公众自行登记",
        category=1,
        lead_unit="housing",
    )


def test_an_unknown_actor_is_not_found(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx)
    error = refused(
        ctx, "NOT_FOUND", "withdraw_decision", "nobody", "2026-03-03T09:00", decision="D1", reason="x"
    )
    assert error.field == "actor"


# ================================================================ INPUT


@pytest.mark.parametrize(
    ("action", "payload", "field"),
    [
        ("submit_draft", {"decision": "D1", "draft": "草案", "drafft": "typo"}, "drafft"),
        ("submit_draft", {"decision": "D1"}, "draft"),
        ("revise_draft", {"decision": "D1", "draft": "草案2"}, "reason"),
        (
            "open_comment_period",
            {"decision": "D1", "start_date": "2026-02-30", "end_date": "2026-04-02", "channels": ["website"]},
            "start_date",
        ),
        (
            "open_comment_period",
            {"decision": "D1", "start_date": "2026-03-03", "end_date": "2026-04-02", "channels": []},
            "channels",
        ),
        ("submit_for_discussion", {"decision": "D1", "meeting_date": "next week"}, "meeting_date"),
        ("issue_legality_opinion", {"decision": "D1", "outcome": "returned", "opinion": "退回"}, "outcome"),
        ("respond_to_input", {"decision": "D1", "input": "C1", "outcome": "maybe", "reason": "r"}, "outcome"),
        (
            "record_participation_activity",
            {"decision": "D1", "kind": "party", "held_on": "2026-03-03", "summary": "s"},
            "kind",
        ),
        ("approve_stage", {"decision": "D1", "stage": "lunch"}, "stage"),
        (
            "record_meeting",
            meeting(opinions=[{"member": "mayor", "position": "yes"}]),
            "opinions.0.position",
        ),
    ],
)
def test_input_errors_name_the_field(
    ctx: ServiceContext, action: str, payload: dict[str, Any], field: str
) -> None:
    district(ctx)
    drafted(ctx)
    error = refused(
        ctx, "INPUT", action, "li" if action != "record_meeting" else "zhou", "2026-03-03T09:00", **payload
    )
    assert error.kind == "invalid"
    assert error.field == field
    assert field in error.message_en


def test_input_a_bad_flag_on_registration(ctx: ServiceContext) -> None:
    district(ctx)
    error = refused(
        ctx,
        "INPUT",
        "register_decision",
        "li",
        "2026-03-02T09:00",
        title="事项",
        category=1,
        lead_unit="housing",
        flags=["secret"],
    )
    assert error.field == "flags.0"
    error = refused(
        ctx,
        "INPUT",
        "register_decision",
        "li",
        "2026-03-02T09:00",
        title="事项",
        category=6,
        lead_unit="housing",
    )
    assert error.field == "category"


def test_input_an_unknown_action(ctx: ServiceContext) -> None:
    district(ctx)
    with pytest.raises(ProcedureError) as caught:
        act(ctx, "approve_everything", "liu", "2026-03-02T09:00")
    assert caught.value.rule_id == "INPUT" and caught.value.field == "action"


def test_input_an_unknown_decision_is_not_found(ctx: ServiceContext) -> None:
    district(ctx)
    error = refused(
        ctx, "NOT_FOUND", "withdraw_decision", "li", "2026-03-02T09:00", decision="D9", reason="x"
    )
    assert error.field == "decision" and error.kind == "not_found"
