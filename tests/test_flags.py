"""Flags and the stages they switch (P16; Arts. 14, 19, 22, 25(2), 29(1)), and the catalogue's
listed procedures as required stages (Art. 3(3), R21).

The undertaking unit proposes flags; `confidential` and `exploratory_reform` take effect only
when the legal office confirms them with a legal basis (`confirm_flag`). `change_flags` adds or
removes flags with a reason and recomputes the stage set. Each refusal goes through
`tests.helpers.refused`, which also checks that the database did not change."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from flows.service import ServiceContext
from models import AuditEvent, Decision, EvidenceDocument, StageInstance, StageStatus
from tests.helpers import (
    act,
    decided,
    district,
    drafted,
    legality_lawful,
    participation_done,
    refused,
)
from tests.test_catalogue import ELEVATORS, compiled, party_approved, published

# ---------------------------------------------------------------- reading state


def decision_row(ctx: ServiceContext, ref: str = "D1") -> Decision:
    with Session(ctx.engine) as session:
        return session.exec(select(Decision).where(Decision.code == ref)).one()


def stages(ctx: ServiceContext, ref: str = "D1") -> dict[str, StageStatus]:
    decision = decision_row(ctx, ref)
    with Session(ctx.engine) as session:
        rows = session.exec(select(StageInstance).where(StageInstance.decision_id == decision.id))
        return {row.stage: row.status for row in rows}


def evidence_count(ctx: ServiceContext, kind: str, ref: str = "D1") -> int:
    decision = decision_row(ctx, ref)
    with Session(ctx.engine) as session:
        query = select(EvidenceDocument.id).where(
            EvidenceDocument.decision_id == decision.id, EvidenceDocument.kind == kind
        )
        return len(session.exec(query).all())


def audited(ctx: ServiceContext, action: str, ref: str = "D1") -> list[AuditEvent]:
    decision = decision_row(ctx, ref)
    with Session(ctx.engine) as session:
        query = select(AuditEvent).where(AuditEvent.decision_id == decision.id, AuditEvent.action == action)
        return list(session.exec(query))


CONFIRM: dict[str, Any] = {
    "decision": "D1",
    "flag": "confidential",
    "legal_basis": "《中华人民共和国保守国家秘密法》",
}
PUBLIC_COMMENT: dict[str, Any] = {
    "decision": "D1",
    "start_date": "2026-03-03",
    "end_date": "2026-04-02",
    "channels": ["website"],
}
REVIEW: dict[str, Any] = {"decision": "D1", "procedures_statement": "已履行公众参与程序"}


# ================================================================ confirm_flag


def test_a_proposed_confidential_flag_has_no_effect_until_confirmed(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx, flags=["confidential"], confirm=False)
    row = decision_row(ctx)
    assert "confidential" not in row.flags and row.proposed_flags == ["confidential"]
    # treated as public: participation and publication stay required
    assert stages(ctx)["public_participation"] == StageStatus.pending
    assert stages(ctx)["publication"] == StageStatus.pending
    refused(ctx, "R3", "submit_for_legality_review", "li", "2026-04-08T09:00", **REVIEW)
    # and the comment period is open to it
    act(ctx, "open_comment_period", "li", "2026-03-03T09:00", **PUBLIC_COMMENT)


def test_only_the_legal_office_confirms_a_flag(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx, flags=["confidential"], confirm=False)
    error = refused(ctx, "AUTH", "confirm_flag", "li", "2026-03-02T12:00", **CONFIRM)
    assert error.field == "actor"
    refused(ctx, "AUTH", "confirm_flag", "zhao", "2026-03-02T12:00", **CONFIRM)


def test_a_confirmation_needs_a_legal_basis(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx, flags=["confidential"], confirm=False)
    for basis in ("", "   "):
        error = refused(
            ctx, "INPUT", "confirm_flag", "wang", "2026-03-02T12:00", **{**CONFIRM, "legal_basis": basis}
        )
        assert error.field == "legal_basis"
    refused(ctx, "INPUT", "confirm_flag", "wang", "2026-03-02T12:00", decision="D1", flag="confidential")


def test_after_confirmation_public_participation_and_publication_are_switched_off(
    ctx: ServiceContext,
) -> None:
    district(ctx)
    drafted(ctx, flags=["confidential"], confirm=False)
    result = act(ctx, "confirm_flag", "liu", "2026-03-02T12:00", **CONFIRM)
    assert result.data["confirmed"] is True
    assert set(result.data["now_not_required"]) == {"public_participation", "publication"}
    row = decision_row(ctx)
    assert "confidential" in row.flags and row.proposed_flags == []
    assert row.flag_confirmations["confidential"]["legal_basis"] == CONFIRM["legal_basis"]
    assert row.flag_confirmations["confidential"]["by"] == "liu"
    assert stages(ctx)["public_participation"] == StageStatus.not_required
    assert stages(ctx)["publication"] == StageStatus.not_required
    assert evidence_count(ctx, "flag_confirmation") == 1
    assert len(audited(ctx, "confirm_flag")) == 1
    refused(ctx, "R2", "open_comment_period", "li", "2026-03-03T09:00", **PUBLIC_COMMENT)
    # straight to the legality review: nothing public stands in the way (Art. 14)
    act(ctx, "submit_for_legality_review", "li", "2026-03-03T10:00", **REVIEW)


def test_a_flag_nobody_proposed_cannot_be_confirmed(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx)
    error = refused(ctx, "P16", "confirm_flag", "wang", "2026-03-02T12:00", **CONFIRM)
    assert error.field == "flag"
    assert error.article == "Arts. 14, 19, 22, 25(2); P16"


def test_a_confirmed_flag_cannot_be_confirmed_twice(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx, flags=["confidential"])
    refused(ctx, "P16", "confirm_flag", "wang", "2026-03-02T12:00", **CONFIRM)


def test_the_legal_office_may_refuse_a_proposed_flag_with_a_reason(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx, flags=["confidential"], confirm=False)
    refusal = {**CONFIRM, "confirm": False, "legal_basis": ""}
    error = refused(ctx, "INPUT", "confirm_flag", "wang", "2026-03-02T12:00", **refusal)
    assert error.field == "reason"
    result = act(
        ctx, "confirm_flag", "wang", "2026-03-02T12:00", **refusal, reason="储备库布局不属于国家秘密"
    )
    assert result.data["confirmed"] is False
    row = decision_row(ctx)
    assert row.proposed_flags == [] and "confidential" not in row.flags
    assert stages(ctx)["public_participation"] == StageStatus.pending
    assert evidence_count(ctx, "flag_confirmation") == 1  # the refusal is on the record too


def test_a_matter_already_before_the_public_cannot_become_confidential(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx, flags=["confidential"], confirm=False)
    act(ctx, "open_comment_period", "li", "2026-03-03T09:00", **PUBLIC_COMMENT)
    error = refused(ctx, "R2", "confirm_flag", "wang", "2026-03-04T09:00", **CONFIRM)
    assert "public_participation" in error.message_en


def test_an_unconfirmed_exploratory_reform_has_no_exploratory_route(ctx: ServiceContext) -> None:
    """R12 with P16: the Art. 25(2) route needs the flag confirmed, not only proposed."""
    district(ctx)
    drafted(ctx, flags=["exploratory_reform"], confirm=False)
    participation_done(ctx)
    act(ctx, "submit_for_legality_review", "li", "2026-04-08T09:00", **REVIEW)
    act(
        ctx,
        "record_legal_adviser_opinion",
        "wang",
        "2026-04-09T09:00",
        decision="D1",
        adviser="张律师",
        opinion="缺乏依据",
    )
    act(
        ctx,
        "issue_legality_opinion",
        "wang",
        "2026-04-09T10:00",
        decision="D1",
        outcome="unlawful",
        opinion="不合法",
    )
    submit = {
        "decision": "D1",
        "meeting_date": "2026-04-20",
        "legal_risk_statement": "收费缺乏上位法依据的法律风险",
    }
    refused(ctx, "R12", "submit_for_discussion", "li", "2026-04-10T09:00", **submit)
    act(
        ctx,
        "confirm_flag",
        "wang",
        "2026-04-10T09:30",
        decision="D1",
        flag="exploratory_reform",
        legal_basis="省改革试点方案将本区列为试点地区",
    )
    act(ctx, "submit_for_discussion", "li", "2026-04-10T10:00", **submit)
    assert stages(ctx)["discussion"] == StageStatus.active


# ================================================================ change_flags


def test_a_stability_risk_found_later_needs_a_risk_assessment_before_legality_review(
    ctx: ServiceContext,
) -> None:
    district(ctx)
    drafted(ctx)
    participation_done(ctx)
    assert stages(ctx)["risk_assessment"] == StageStatus.not_required
    result = act(
        ctx,
        "change_flags",
        "zhao",
        "2026-04-06T09:00",
        decision="D1",
        add=["stability_risk"],
        reason="征收范围扩大，涉及数百户居民搬迁",
    )
    assert result.data["now_pending"] == ["risk_assessment"]
    assert "stability_risk" in decision_row(ctx).flags
    assert stages(ctx)["risk_assessment"] == StageStatus.pending
    assert evidence_count(ctx, "flag_change") == 1
    assert audited(ctx, "change_flags")[0].payload["input"]["reason"] == "征收范围扩大，涉及数百户居民搬迁"
    refused(ctx, "R7", "submit_for_legality_review", "li", "2026-04-08T09:00", **REVIEW)


def test_change_flags_needs_a_reason_and_something_to_change(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx)
    error = refused(ctx, "INPUT", "change_flags", "li", "2026-03-03T09:00", decision="D1", add=["technical"])
    assert error.field == "reason"
    refused(
        ctx, "INPUT", "change_flags", "li", "2026-03-03T09:00", decision="D1", add=["technical"], reason=" "
    )
    refused(ctx, "INPUT", "change_flags", "li", "2026-03-03T09:00", decision="D1", reason="无")
    refused(
        ctx,
        "INPUT",
        "change_flags",
        "li",
        "2026-03-03T09:00",
        decision="D1",
        remove=["technical"],
        reason="r",
    )
    error = refused(
        ctx,
        "INPUT",
        "change_flags",
        "li",
        "2026-03-03T09:00",
        decision="D1",
        add=["hearing_in_catalogue"],
        reason="r",
    )
    assert error.field.startswith("add")


def test_only_the_undertaking_unit_changes_flags(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx)
    for actor in ("sun", "wang", "zhou"):
        refused(
            ctx,
            "AUTH",
            "change_flags",
            actor,
            "2026-03-03T09:00",
            decision="D1",
            add=["technical"],
            reason="r",
        )


def test_adding_confidential_later_is_only_a_proposal(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx)
    before = stages(ctx)
    result = act(
        ctx,
        "change_flags",
        "li",
        "2026-03-03T09:00",
        decision="D1",
        add=["confidential"],
        reason="涉及国家秘密",
    )
    assert result.data["proposed_flags"] == ["confidential"] and result.data["now_not_required"] == []
    assert "confidential" not in decision_row(ctx).flags
    assert stages(ctx) == before
    act(ctx, "confirm_flag", "wang", "2026-03-03T10:00", **CONFIRM)
    assert stages(ctx)["public_participation"] == StageStatus.not_required


def test_removing_a_flag_drops_a_stage_only_if_it_has_not_started(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx, flags=["technical", "market_activity"])
    assert stages(ctx)["expert_review"] == StageStatus.pending
    act(
        ctx,
        "record_fair_competition_review",
        "li",
        "2026-03-03T09:00",
        decision="D1",
        conclusion="compliant",
        reviewer_unit="区住房和城乡建设局",
    )
    started = stages(ctx)["fair_competition_review"]
    assert started == StageStatus.awaiting_approval
    result = act(
        ctx,
        "change_flags",
        "li",
        "2026-03-04T09:00",
        decision="D1",
        remove=["technical", "market_activity"],
        reason="经核实不涉及专业技术问题，也不涉及市场主体经济活动",
    )
    assert result.data["now_not_required"] == ["expert_review"]
    assert result.data["kept"] == ["fair_competition_review"]
    assert stages(ctx)["expert_review"] == StageStatus.not_required
    assert stages(ctx)["fair_competition_review"] == started  # work done stays on the record
    assert decision_row(ctx).flags == []


def test_removing_confidential_makes_public_participation_required_again(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx, flags=["confidential"])
    act(
        ctx, "change_flags", "li", "2026-03-03T09:00", decision="D1", remove=["confidential"], reason="已解密"
    )
    row = decision_row(ctx)
    assert row.flags == [] and row.flag_confirmations == {}
    assert stages(ctx)["public_participation"] == StageStatus.pending
    assert stages(ctx)["publication"] == StageStatus.pending


def test_a_stage_required_after_the_legality_review_blocks_discussion(ctx: ServiceContext) -> None:
    """Decision taken: the review already ran, so the new stage (Art. 22) must be done before
    the draft goes to discussion; the legal office is told (legality_review_affected)."""
    district(ctx)
    drafted(ctx)
    participation_done(ctx)
    legality_lawful(ctx)
    result = act(
        ctx,
        "change_flags",
        "li",
        "2026-04-09T15:00",
        decision="D1",
        add=["stability_risk"],
        reason="发现信访隐患",
    )
    assert result.data["discussion_waits_for"] == ["risk_assessment"]
    refused(
        ctx, "R7", "submit_for_discussion", "li", "2026-04-10T09:00", decision="D1", meeting_date="2026-04-17"
    )


def test_flags_cannot_change_after_the_decision(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx)
    participation_done(ctx)
    legality_lawful(ctx)
    decided(ctx)
    refused(
        ctx,
        "R20",
        "change_flags",
        "li",
        "2026-04-18T09:00",
        decision="D1",
        add=["stability_risk"],
        reason="执行中发现风险",
    )


# ================================================================ the catalogue's procedures (Art. 3(3), catalogue practice) and R21


def register_from(ctx: ServiceContext, entry: str, when: str = "2026-03-02T09:00", ref: str = "D1") -> Any:
    lead = "commerce" if entry == "E2" else "housing"
    return act(
        ctx,
        "register_decision",
        "sun" if lead == "commerce" else "li",
        when,
        ref=ref,
        title=f"目录事项{entry}",
        category=1,
        lead_unit=lead,
        units=["housing"] if lead == "commerce" else [],
        catalogue_entry=f"2026/{entry}",
    )


def test_the_catalogue_procedures_become_required_stages(ctx: ServiceContext) -> None:
    published(ctx)
    register_from(ctx, "E1")  # public participation, expert review, risk assessment, hearing
    register_from(ctx, "E2", ref="D2")  # public participation, fair competition review
    d1, d2 = decision_row(ctx, "D1"), decision_row(ctx, "D2")
    assert d1.catalogue_procedures == ["public_participation", "hearing", "expert_review", "risk_assessment"]
    assert d1.flags == ["hearing_in_catalogue"]  # no technical or stability flag: the listing alone
    for stage in d1.catalogue_procedures:
        assert stages(ctx, "D1")[stage] == StageStatus.pending, stage
    assert stages(ctx, "D1")["fair_competition_review"] == StageStatus.not_required
    assert d2.catalogue_procedures == ["public_participation", "fair_competition_review"]
    assert stages(ctx, "D2")["fair_competition_review"] == StageStatus.pending
    assert stages(ctx, "D2")["expert_review"] == StageStatus.not_required
    # the listed fair competition review can be recorded without the market_activity flag
    act(ctx, "start_procedure", "zhou", "2026-03-02T10:00", decision="D2")
    act(ctx, "submit_draft", "sun", "2026-03-02T11:00", decision="D2", draft="草案", legal_bases=["x"])
    act(
        ctx,
        "record_fair_competition_review",
        "sun",
        "2026-03-03T09:00",
        decision="D2",
        conclusion="compliant",
        reviewer_unit="区商务局",
    )
    assert stages(ctx, "D2")["fair_competition_review"] == StageStatus.awaiting_approval


def test_a_listed_stage_blocks_legality_review_like_a_flagged_one(ctx: ServiceContext) -> None:
    published(ctx)
    register_from(ctx, "E1")
    act(ctx, "start_procedure", "zhou", "2026-03-02T10:00", decision="D1")
    act(ctx, "submit_draft", "li", "2026-03-02T11:00", decision="D1", draft="草案", legal_bases=["x"])
    participation_done(ctx)
    error = refused(ctx, "R5", "submit_for_legality_review", "li", "2026-04-08T09:00", **REVIEW)
    assert error.field == "decision"


def test_removing_a_catalogue_stage_needs_change_flags_with_a_reason(ctx: ServiceContext) -> None:
    published(ctx)
    register_from(ctx, "E1")
    drop = {"decision": "D1", "remove_required_stages": ["expert_review", "hearing"]}
    error = refused(ctx, "INPUT", "change_flags", "li", "2026-03-03T09:00", **drop)
    assert error.field == "reason"
    error = refused(
        ctx,
        "INPUT",
        "change_flags",
        "li",
        "2026-03-03T09:00",
        decision="D1",
        remove_required_stages=["fair_competition_review"],
        reason="r",
    )
    assert error.field == "remove_required_stages"
    result = act(
        ctx, "change_flags", "li", "2026-03-03T09:00", **drop, reason="补偿标准沿用省标准，无需另行论证和听证"
    )
    assert sorted(result.data["now_not_required"]) == ["expert_review", "hearing"]
    row = decision_row(ctx)
    assert row.catalogue_procedures == ["public_participation", "risk_assessment"]
    assert "hearing_in_catalogue" not in row.flags  # the hearing catalogue's flag goes with it
    assert stages(ctx)["risk_assessment"] == StageStatus.pending
    assert evidence_count(ctx, "flag_change") == 1


def test_removing_the_hearing_catalogue_flag_drops_the_listed_hearing(ctx: ServiceContext) -> None:
    published(ctx)
    register_from(ctx, "E1")
    act(
        ctx,
        "change_flags",
        "li",
        "2026-03-03T09:00",
        decision="D1",
        remove=["hearing_in_catalogue"],
        reason="r",
    )
    row = decision_row(ctx)
    assert "hearing" not in row.catalogue_procedures and "hearing_in_catalogue" not in row.flags
    assert stages(ctx)["hearing"] == StageStatus.not_required


def test_an_entry_of_an_unpublished_catalogue_cannot_start_a_decision(ctx: ServiceContext) -> None:
    compiled(ctx)
    error = refused(
        ctx,
        "R21",
        "register_decision",
        "li",
        "2026-01-21T09:00",
        ref="D1",
        title="t",
        category=1,
        lead_unit="housing",
        catalogue_entry="2026/E1",
    )
    assert error.field == "catalogue_entry"


def test_an_entry_approved_by_the_party_but_not_yet_published_cannot_start_a_decision(
    ctx: ServiceContext,
) -> None:
    party_approved(ctx)
    payload = {"ref": "D1", "title": "t", "category": 1, "lead_unit": "housing", "catalogue_entry": "2026/E1"}
    refused(ctx, "R21", "register_decision", "li", "2026-02-13T09:00", **payload)
    act(
        ctx,
        "publish_catalogue",
        "zhou",
        "2026-02-16T09:00",
        year=2026,
        url="https://www.example.gov.cn/catalogue/2026",
        published_on="2026-02-16",
    )
    act(ctx, "register_decision", "li", "2026-02-16T10:00", **payload)
    assert decision_row(ctx).catalogue_entry_id is not None


def test_an_entry_added_by_an_unpublished_adjustment_cannot_start_a_decision(ctx: ServiceContext) -> None:
    published(ctx)
    act(
        ctx,
        "adjust_catalogue",
        "li",
        "2026-05-06T09:00",
        year=2026,
        kind="add",
        reason="年中新增",
        **{**ELEVATORS, "lead_unit": "housing"},
    )
    act(ctx, "review_catalogue_entry", "wang", "2026-05-07T09:00", year=2026, entry="E4", include=True)
    # included in version 2, but version 1 is the one in force
    refused(
        ctx,
        "R21",
        "register_decision",
        "li",
        "2026-05-08T09:00",
        ref="D1",
        title="既有住宅加装电梯补贴办法",
        category=1,
        lead_unit="housing",
        catalogue_entry="2026/E4",
    )
    register_from(ctx, "E1", when="2026-05-08T09:10")  # an entry of the version in force


def test_an_adjustment_keeps_the_confirmation_of_the_decision_it_adjusts(ctx: ServiceContext) -> None:
    """Art. 37: the adjustment is a new procedure for the same matter; the confirmed basis for
    non-disclosure carries over, marked with where it came from."""
    district(ctx)
    drafted(ctx, flags=["confidential"])
    legality_lawful(ctx)
    decided(ctx)
    act(
        ctx,
        "start_adjustment",
        "zhou",
        "2026-05-04T09:00",
        decision="D1",
        ref="D2",
        title="调整",
        reason="布局变化",
    )
    adjustment = decision_row(ctx, "D2")
    assert "confidential" in adjustment.flags and adjustment.proposed_flags == []
    assert adjustment.flag_confirmations["confidential"]["carried_from"] == "D1"
    assert stages(ctx, "D2")["public_participation"] == StageStatus.not_required
