"""Expert review (Arts. 19-21, R6), risk assessment (Arts. 22-24, R7, P12) and fair
competition review (Art. 29(1), R8), each guard attacked through the service layer."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session, col, select

from flows import rules
from flows.service import ServiceContext, setup_jurisdiction
from models import (
    AuditEvent,
    Decision,
    EvidenceDocument,
    ExpertSelection,
    FairCompetitionReview,
    RiskAssessment,
    StageInstance,
)
from tests.helpers import act, at, district, drafted, legality_lawful, participation_done, refused

EXPERTS = {
    "E-zhang": ("张教授", "某大学土木工程学院"),
    "E-qian": ("钱研究员", "某市规划研究院"),
    "E-sun": ("孙工程师", "某设计院"),
}


# ------------------------------------------------------------------ helpers of this file
def pool(ctx: ServiceContext) -> None:
    for ref, (name, affiliation) in EXPERTS.items():
        act(
            ctx,
            "add_expert_to_pool",
            "liu",
            "2026-01-06T09:00",
            ref=ref,
            name=name,
            fields=["城市规划"],
            affiliation=affiliation,
        )


def expert_account(ctx: ServiceContext, code: str) -> None:
    """An expert's own account; its id is the expert's pool ref."""
    setup_jurisdiction(
        ctx,
        {"organ": "香洲区人民政府"},
        [{"id": "panel", "name": "决策咨询专家", "kind": "third_party"}],
        [{"id": code, "unit": "panel", "roles": ["expert"]}],
        now=at("2026-01-06T10:00"),
    )


def choice(expert: str, direct_interest: bool = False, differing_view: bool = False) -> dict[str, Any]:
    return {
        "expert": expert,
        "declaration": "本人与该决策事项无直接利害关系" if not direct_interest else "本人持有相关企业股份",
        "direct_interest": direct_interest,
        "differing_view": differing_view,
    }


def stage_status(ctx: ServiceContext, stage: str, ref: str = "D1") -> str:
    with Session(ctx.engine) as session:
        decision = session.exec(select(Decision).where(Decision.code == ref)).one()
        row = session.exec(
            select(StageInstance).where(
                StageInstance.decision_id == decision.id, StageInstance.stage == stage
            )
        ).one()
        return row.status.value


def evidence_texts(ctx: ServiceContext, kind: str) -> list[str]:
    with Session(ctx.engine) as session:
        rows = session.exec(
            select(EvidenceDocument).where(EvidenceDocument.kind == kind).order_by(col(EvidenceDocument.id))
        ).all()
    return [ctx.documents.get(row.sha256).decode() for row in rows]


def last_audit(ctx: ServiceContext, action: str) -> AuditEvent:
    with Session(ctx.engine) as session:
        return session.exec(
            select(AuditEvent).where(AuditEvent.action == action).order_by(col(AuditEvent.id).desc())
        ).first()  # type: ignore[return-value]


def submit_for_review(ctx: ServiceContext, when: str = "2026-04-08T09:00") -> None:
    act(
        ctx,
        "submit_for_legality_review",
        "li",
        when,
        decision="D1",
        procedures_statement="已履行公众参与等程序",
    )


def refused_review(ctx: ServiceContext, rule_id: str, when: str = "2026-04-08T09:00") -> None:
    refused(
        ctx,
        rule_id,
        "submit_for_legality_review",
        "li",
        when,
        decision="D1",
        procedures_statement="已履行公众参与等程序",
    )


def expert_review_done(ctx: ServiceContext, approve: bool = True) -> None:
    act(ctx, "select_experts", "li", "2026-03-05T09:00", decision="D1", experts=[choice("E-zhang")])
    act(
        ctx,
        "record_expert_opinion",
        "li",
        "2026-03-06T09:00",
        decision="D1",
        ref="EO1",
        expert="E-zhang",
        text="方案可行",
        signed=True,
    )
    act(
        ctx,
        "respond_to_input",
        "li",
        "2026-03-07T09:00",
        decision="D1",
        input="EO1",
        input_kind="expert_opinion",
        outcome="adopted",
        reason="已采纳",
    )
    act(ctx, "complete_expert_review", "li", "2026-03-07T10:00", decision="D1")
    if approve:
        act(ctx, "approve_stage", "wang", "2026-03-08T09:00", decision="D1", stage="expert_review")


FULL_REPORT: dict[str, Any] = {
    "report": "社会稳定风险评估报告",
    "risk_points": ["被征收户补偿预期差异"],
    "prevention_measures": ["逐户走访解释"],
    "handling_plan": "设立现场接待点，群体性事件应急处置",
    "level": "medium",
    "departments_consulted": ["区信访局", "区公安分局"],
}


def risk_submitted(ctx: ServiceContext, when: str = "2026-03-10T09:00", **changes: Any) -> None:
    act(ctx, "submit_risk_assessment", "li", when, decision="D1", **{**FULL_REPORT, **changes})


# ------------------------------------------------------------------ expert pool (Art. 21)
def test_an_expert_joins_the_pool_on_the_jurisdiction_chain(ctx: ServiceContext) -> None:
    district(ctx)
    result = act(ctx, "add_expert_to_pool", "liu", "2026-01-06T09:00", ref="E-zhang", name="张教授")
    assert result.chain.startswith("jurisdiction:")
    assert result.data == {"expert": "E-zhang"}
    error = refused(
        ctx, "INPUT", "add_expert_to_pool", "wang", "2026-01-06T10:00", ref="E-zhang", name="另一位"
    )
    assert error.field == "ref"
    refused(ctx, "AUTH", "add_expert_to_pool", "li", "2026-01-06T10:00", ref="E-li", name="李某")
    refused(ctx, "INPUT", "add_expert_to_pool", "liu", "2026-01-06T10:00", ref="E-x", name="")


# ------------------------------------------------------------------ R6: selection (Art. 20)
def test_an_expert_with_a_direct_interest_is_refused_and_nobody_is_selected(ctx: ServiceContext) -> None:
    district(ctx)
    pool(ctx)
    drafted(ctx, flags=["technical"])
    error = refused(
        ctx,
        "R6",
        "select_experts",
        "li",
        "2026-03-05T09:00",
        decision="D1",
        experts=[choice("E-zhang"), choice("E-qian", direct_interest=True)],
    )
    assert error.field == "experts.1.direct_interest"
    assert "钱研究员" in error.message_zh
    assert stage_status(ctx, "expert_review") == "pending"


def test_selection_records_whether_differing_views_were_included(ctx: ServiceContext) -> None:
    district(ctx)
    pool(ctx)
    drafted(ctx, flags=["technical"])
    first = act(ctx, "select_experts", "li", "2026-03-05T09:00", decision="D1", experts=[choice("E-zhang")])
    assert first.data["differing_views_included"] is False
    assert last_audit(ctx, "select_experts").payload["differing_views_included"] is False
    second = act(
        ctx,
        "select_experts",
        "li",
        "2026-03-05T10:00",
        decision="D1",
        experts=[choice("E-qian", differing_view=True)],
    )
    assert second.data["differing_views_included"] is True
    payload = last_audit(ctx, "select_experts").payload
    assert payload["differing_views_included"] is True
    assert payload["differing_view_experts"] == ["E-qian"]
    assert stage_status(ctx, "expert_review") == "active"
    with Session(ctx.engine) as session:
        rows = session.exec(select(ExpertSelection)).all()
        assert {r.declaration for r in rows} == {"本人与该决策事项无直接利害关系"}
        assert not any(r.has_direct_interest for r in rows)


def test_selection_refusals(ctx: ServiceContext) -> None:
    district(ctx)
    pool(ctx)
    from tests.helpers import registered

    registered(ctx, flags=["technical"])
    # Art. 19: the experts assess a draft, so there must be one (ORDER)
    refused(
        ctx, "ORDER", "select_experts", "li", "2026-03-02T10:00", decision="D1", experts=[choice("E-zhang")]
    )
    act(ctx, "start_procedure", "zhou", "2026-03-02T10:00", decision="D1")
    act(ctx, "submit_draft", "li", "2026-03-02T11:00", decision="D1", draft="草案", legal_bases=["713"])
    refused(
        ctx,
        "NOT_FOUND",
        "select_experts",
        "li",
        "2026-03-05T09:00",
        decision="D1",
        experts=[choice("E-nobody")],
    )
    refused(
        ctx,
        "INPUT",
        "select_experts",
        "li",
        "2026-03-05T09:00",
        decision="D1",
        experts=[choice("E-zhang"), choice("E-zhang")],
    )
    refused(ctx, "INPUT", "select_experts", "li", "2026-03-05T09:00", decision="D1", experts=[])
    refused(
        ctx,
        "INPUT",
        "select_experts",
        "li",
        "2026-03-05T09:00",
        decision="D1",
        experts=[{"expert": "E-zhang", "declaration": "", "direct_interest": False}],
    )
    refused(
        ctx, "AUTH", "select_experts", "sun", "2026-03-05T09:00", decision="D1", experts=[choice("E-zhang")]
    )
    act(ctx, "select_experts", "li", "2026-03-05T09:00", decision="D1", experts=[choice("E-zhang")])
    refused(
        ctx, "INPUT", "select_experts", "li", "2026-03-05T10:00", decision="D1", experts=[choice("E-zhang")]
    )


def test_a_non_technical_decision_may_take_up_expert_review(ctx: ServiceContext) -> None:
    district(ctx)
    pool(ctx)
    drafted(ctx)
    assert stage_status(ctx, "expert_review") == "not_required"
    act(ctx, "select_experts", "li", "2026-03-05T09:00", decision="D1", experts=[choice("E-zhang")])
    assert stage_status(ctx, "expert_review") == "active"


# ------------------------------------------------------------------ R6: opinions (Art. 19(2))
def test_an_unsigned_unsealed_opinion_is_refused(ctx: ServiceContext) -> None:
    district(ctx)
    pool(ctx)
    drafted(ctx, flags=["technical"])
    act(ctx, "select_experts", "li", "2026-03-05T09:00", decision="D1", experts=[choice("E-zhang")])
    opinion = {"decision": "D1", "expert": "E-zhang", "text": "方案可行"}
    error = refused(ctx, "R6", "record_expert_opinion", "li", "2026-03-06T09:00", **opinion)
    assert error.field == "signed"
    refused(
        ctx, "R6", "record_expert_opinion", "li", "2026-03-06T09:00", **opinion, signed=False, sealed=False
    )
    act(ctx, "record_expert_opinion", "li", "2026-03-06T09:00", **opinion, sealed=True)
    act(ctx, "record_expert_opinion", "li", "2026-03-06T10:00", **opinion, signed=True)
    texts = evidence_texts(ctx, "expert_opinion")
    assert len(texts) == 2
    assert "盖章" in texts[0] and "张教授" in texts[0]
    assert "署名" in texts[1]


def test_only_a_selected_expert_gives_an_opinion(ctx: ServiceContext) -> None:
    district(ctx)
    pool(ctx)
    drafted(ctx, flags=["technical"])
    act(ctx, "select_experts", "li", "2026-03-05T09:00", decision="D1", experts=[choice("E-zhang")])
    opinion = {"decision": "D1", "text": "意见", "signed": True}
    error = refused(ctx, "R6", "record_expert_opinion", "li", "2026-03-06T09:00", expert="E-qian", **opinion)
    assert error.field == "expert"
    refused(ctx, "NOT_FOUND", "record_expert_opinion", "li", "2026-03-06T09:00", expert="E-nobody", **opinion)
    act(ctx, "record_expert_opinion", "li", "2026-03-06T09:00", ref="EO1", expert="E-zhang", **opinion)
    refused(
        ctx,
        "INPUT",
        "record_expert_opinion",
        "li",
        "2026-03-06T10:00",
        ref="EO1",
        expert="E-zhang",
        **opinion,
    )


def test_an_expert_records_their_own_opinion_only(ctx: ServiceContext) -> None:
    district(ctx)
    pool(ctx)
    expert_account(ctx, "E-zhang")
    drafted(ctx, flags=["technical"])
    act(
        ctx,
        "select_experts",
        "li",
        "2026-03-05T09:00",
        decision="D1",
        experts=[choice("E-zhang"), choice("E-qian")],
    )
    opinion = {"decision": "D1", "text": "本人意见", "signed": True}
    error = refused(
        ctx, "AUTH", "record_expert_opinion", "E-zhang", "2026-03-06T09:00", expert="E-qian", **opinion
    )
    assert error.kind == "forbidden"
    result = act(ctx, "record_expert_opinion", "E-zhang", "2026-03-06T09:00", expert="E-zhang", **opinion)
    assert result.data == {"opinion": "E1", "expert": "E-zhang"}
    # the expert account may do nothing else in the stage
    refused(ctx, "AUTH", "complete_expert_review", "E-zhang", "2026-03-06T10:00", decision="D1")


# ------------------------------------------------------------------ R6: completion (Art. 29(3))
def test_expert_review_completes_only_with_every_opinion_answered(ctx: ServiceContext) -> None:
    district(ctx)
    pool(ctx)
    drafted(ctx, flags=["technical"])
    act(
        ctx,
        "select_experts",
        "li",
        "2026-03-05T09:00",
        decision="D1",
        experts=[choice("E-zhang"), choice("E-qian", differing_view=True)],
    )
    error = refused(ctx, "R6", "complete_expert_review", "li", "2026-03-05T10:00", decision="D1")
    assert "no expert opinion" in error.message_en
    for ref, expert in (("EO1", "E-zhang"), ("EO2", "E-qian")):
        act(
            ctx,
            "record_expert_opinion",
            "li",
            "2026-03-06T09:00",
            decision="D1",
            ref=ref,
            expert=expert,
            text=f"{expert}意见",
            signed=True,
        )
    act(
        ctx,
        "respond_to_input",
        "li",
        "2026-03-07T09:00",
        decision="D1",
        input="EO1",
        input_kind="expert_opinion",
        outcome="adopted",
        reason="已采纳",
    )
    error = refused(ctx, "R6", "complete_expert_review", "li", "2026-03-07T10:00", decision="D1")
    assert "EO2" in error.message_en and "EO1" not in error.message_en
    act(
        ctx,
        "respond_to_input",
        "li",
        "2026-03-07T11:00",
        decision="D1",
        input="EO2",
        input_kind="expert_opinion",
        outcome="not_adopted",
        reason="与上位规划不符",
    )
    result = act(ctx, "complete_expert_review", "li", "2026-03-07T12:00", decision="D1")
    assert result.data["status"] == "awaiting_approval"
    assert result.data["differing_views_included"] is True
    assert last_audit(ctx, "complete_expert_review").payload["differing_views_included"] is True
    (summary,) = evidence_texts(ctx, "expert_summary")
    assert "EO2: not_adopted（与上位规划不符）" in summary
    assert "持不同意见的专家已纳入论证：E-qian" in summary
    # once completed, no more opinions and no second completion
    refused(
        ctx,
        "STATE",
        "record_expert_opinion",
        "li",
        "2026-03-08T09:00",
        decision="D1",
        expert="E-zhang",
        text="补充意见",
        signed=True,
    )
    refused(ctx, "STATE", "complete_expert_review", "li", "2026-03-08T09:00", decision="D1")


def test_the_summary_says_when_no_differing_view_was_included(ctx: ServiceContext) -> None:
    district(ctx)
    pool(ctx)
    drafted(ctx, flags=["technical"])
    expert_review_done(ctx, approve=False)
    (summary,) = evidence_texts(ctx, "expert_summary")
    assert "未包括持不同意见的专家" in summary
    assert last_audit(ctx, "complete_expert_review").payload["differing_views_included"] is False


def test_legality_review_is_refused_r6_until_expert_review_is_approved(ctx: ServiceContext) -> None:
    district(ctx)
    pool(ctx)
    drafted(ctx, flags=["technical"])
    participation_done(ctx)
    refused_review(ctx, "R6", "2026-04-07T09:00")  # never started
    expert_review_done(ctx, approve=False)
    assert stage_status(ctx, "expert_review") == "awaiting_approval"
    refused_review(ctx, "R6", "2026-04-07T10:00")  # done but not approved
    act(ctx, "approve_stage", "wang", "2026-04-07T11:00", decision="D1", stage="expert_review")
    submit_for_review(ctx)
    assert stage_status(ctx, "legality_review") == "active"


# ------------------------------------------------------------------ R7 and P12: the report (Arts. 22-23)
@pytest.mark.parametrize(
    ("missing", "empty"),
    [
        ("risk_points", []),
        ("risk_points", ["  "]),
        ("prevention_measures", []),
        ("handling_plan", ""),
        ("departments_consulted", []),
    ],
)
def test_an_incomplete_risk_report_is_refused(ctx: ServiceContext, missing: str, empty: Any) -> None:
    district(ctx)
    drafted(ctx, flags=["stability_risk"])
    payload = {**FULL_REPORT, missing: empty}
    error = refused(ctx, "R7", "submit_risk_assessment", "li", "2026-03-10T09:00", decision="D1", **payload)
    assert error.field == missing


@pytest.mark.parametrize("level", ["extreme", "HIGH", "", "中"])
def test_a_risk_level_outside_high_medium_low_is_refused_p12(ctx: ServiceContext, level: str) -> None:
    district(ctx)
    drafted(ctx, flags=["stability_risk"])
    payload = {**FULL_REPORT, "level": level}
    error = refused(ctx, "P12", "submit_risk_assessment", "li", "2026-03-10T09:00", decision="D1", **payload)
    assert error.field == "level"
    without = {k: v for k, v in FULL_REPORT.items() if k != "level"}
    refused(ctx, "INPUT", "submit_risk_assessment", "li", "2026-03-10T09:00", decision="D1", **without)


def test_risk_rules_alone() -> None:
    assert rules.risk_level_valid("low") is None
    assert rules.risk_level_valid("severe") is not None
    assert rules.expert_review_complete([], []) is not None
    assert rules.expert_review_complete(["E1"], ["E1"]) is None
    assert rules.fair_competition_conclusion_usable("compliant", "", 1, 1) is not None
    assert rules.fair_competition_conclusion_usable("compliant", "", 1, 2) is None
    assert rules.fair_competition_conclusion_usable("exception_applies", " ", None, 1) is not None


def test_a_submitted_report_waits_for_the_organs_judgement(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx, flags=["stability_risk"])
    error = refused(
        ctx, "R7", "judge_risk", "mayor", "2026-03-09T09:00", decision="D1", controllable=True, reason="可控"
    )
    assert "no risk assessment" in error.message_en
    result = act(ctx, "submit_risk_assessment", "li", "2026-03-10T09:00", decision="D1", **FULL_REPORT)
    assert result.data["level"] == "medium"
    assert stage_status(ctx, "risk_assessment") == "active"
    (report,) = evidence_texts(ctx, "risk_report")
    assert "被征收户补偿预期差异" in report and "区信访局" in report
    # the organ judges, not the department (Art. 24)
    refused(
        ctx, "AUTH", "judge_risk", "li", "2026-03-11T09:00", decision="D1", controllable=True, reason="可控"
    )
    judged = act(
        ctx, "judge_risk", "zhou", "2026-03-11T09:00", decision="D1", controllable=True, reason="措施到位"
    )
    assert judged.data == {"controllable": True, "draft": 1, "status": "awaiting_approval"}
    assert evidence_texts(ctx, "risk_judgement") and "风险可控" in evidence_texts(ctx, "risk_judgement")[0]
    # the stage is finished: no second judgement, no new report
    refused(
        ctx, "STATE", "judge_risk", "mayor", "2026-03-11T10:00", decision="D1", controllable=False, reason="x"
    )
    refused(ctx, "STATE", "submit_risk_assessment", "li", "2026-03-11T10:00", decision="D1", **FULL_REPORT)


def test_legality_review_is_refused_r7_without_an_approved_judged_assessment(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx, flags=["stability_risk"])
    participation_done(ctx)
    refused_review(ctx, "R7", "2026-04-07T09:00")  # no assessment at all
    risk_submitted(ctx, "2026-04-07T09:10")
    refused_review(ctx, "R7", "2026-04-07T09:20")  # report but no judgement
    act(ctx, "judge_risk", "mayor", "2026-04-07T09:30", decision="D1", controllable=True, reason="可控")
    refused_review(ctx, "R7", "2026-04-07T09:40")  # judged, awaiting approval
    act(ctx, "approve_stage", "wang", "2026-04-07T10:00", decision="D1", stage="risk_assessment")
    submit_for_review(ctx)


def test_an_uncontrollable_risk_blocks_discussion_until_the_organ_judges_it_controllable(
    ctx: ServiceContext,
) -> None:
    district(ctx)
    drafted(ctx, flags=["stability_risk"])
    participation_done(ctx)
    risk_submitted(ctx, "2026-04-03T11:00")
    judged = act(
        ctx,
        "judge_risk",
        "mayor",
        "2026-04-06T09:00",
        decision="D1",
        controllable=False,
        reason="补偿方案争议大",
    )
    assert judged.data["status"] == "awaiting_approval"
    assert "不可控" in evidence_texts(ctx, "risk_judgement")[0]
    with Session(ctx.engine) as session:
        risk = session.exec(select(RiskAssessment)).one()
        assert (risk.controllable, risk.judged_draft_number) == (False, 1)
        assert risk.judged_at is not None
    act(ctx, "approve_stage", "wang", "2026-04-07T09:00", decision="D1", stage="risk_assessment")
    legality_lawful(ctx)
    error = refused(
        ctx, "R7", "submit_for_discussion", "li", "2026-04-10T09:00", decision="D1", meeting_date="2026-04-17"
    )
    assert "uncontrollable" in error.message_en
    act(
        ctx,
        "revise_draft",
        "li",
        "2026-04-10T10:00",
        decision="D1",
        draft="调整后的草案",
        explanation="调整补偿方案以控制风险",
        legal_bases=["国务院令第713号"],
        reason="风险不可控，调整草案（第二十四条）",
    )
    act(ctx, "confirm_revision", "wang", "2026-04-10T10:30", decision="D1", reason="调整补偿方案不涉及合法性")
    # §15.1: the revision by itself clears nothing; the organ must judge again
    error = refused(
        ctx, "R7", "submit_for_discussion", "li", "2026-04-10T11:00", decision="D1", meeting_date="2026-04-17"
    )
    assert "draft 1" in error.message_en
    act(ctx, "judge_risk", "mayor", "2026-04-10T11:30", decision="D1", controllable=True, reason="调整后可控")
    act(ctx, "submit_for_discussion", "li", "2026-04-10T12:00", decision="D1", meeting_date="2026-04-17")
    assert stage_status(ctx, "discussion") == "active"


def test_a_judgement_of_the_revised_draft_is_what_counts(ctx: ServiceContext) -> None:
    """Revising before the judgement does not clear it: the organ judged draft 2."""
    district(ctx)
    drafted(ctx, flags=["stability_risk"])
    participation_done(ctx)
    risk_submitted(ctx, "2026-04-03T11:00")
    act(
        ctx,
        "revise_draft",
        "li",
        "2026-04-03T12:00",
        decision="D1",
        draft="第二稿",
        explanation="说明",
        legal_bases=["国务院令第713号"],
        reason="完善",
    )
    judged = act(
        ctx, "judge_risk", "mayor", "2026-04-06T09:00", decision="D1", controllable=False, reason="仍不可控"
    )
    assert judged.data["draft"] == 2
    act(ctx, "approve_stage", "wang", "2026-04-07T09:00", decision="D1", stage="risk_assessment")
    legality_lawful(ctx)
    refused(
        ctx, "R7", "submit_for_discussion", "li", "2026-04-10T09:00", decision="D1", meeting_date="2026-04-17"
    )


# ------------------------------------------------------------------ Art. 22(2): an existing assessment
def test_an_existing_assessment_is_referenced_not_repeated(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx, flags=["stability_risk"])
    refused(
        ctx,
        "INPUT",
        "reference_existing_assessment",
        "li",
        "2026-03-10T09:00",
        decision="D1",
        reference="x",
        kind="gut_feeling",
    )
    refused(
        ctx, "INPUT", "reference_existing_assessment", "li", "2026-03-10T09:00", decision="D1", reference=""
    )
    result = act(
        ctx,
        "reference_existing_assessment",
        "li",
        "2026-03-10T09:00",
        decision="D1",
        reference="某项目社会稳定风险评估报告（区发改〔2025〕12号）",
        kind="social_stability",
    )
    assert result.data["status"] == "awaiting_approval"
    assert evidence_texts(ctx, "risk_report") == ["某项目社会稳定风险评估报告（区发改〔2025〕12号）"]
    with Session(ctx.engine) as session:
        risk = session.exec(select(RiskAssessment)).one()
        assert risk.existing_kind == "social_stability" and risk.controllable is None
    refused(
        ctx,
        "STATE",
        "judge_risk",
        "mayor",
        "2026-03-11T09:00",
        decision="D1",
        controllable=True,
        reason="可控",
    )
    refused(ctx, "STATE", "submit_risk_assessment", "li", "2026-03-11T09:00", decision="D1", **FULL_REPORT)
    # returned by the legal office: the organ cannot judge a reference; a report is needed
    act(
        ctx,
        "return_stage",
        "wang",
        "2026-03-12T09:00",
        decision="D1",
        stage="risk_assessment",
        reason="引用不适用",
    )
    refused(
        ctx, "R7", "judge_risk", "mayor", "2026-03-12T10:00", decision="D1", controllable=True, reason="可控"
    )
    risk_submitted(ctx, "2026-03-13T09:00")
    act(ctx, "judge_risk", "mayor", "2026-03-13T10:00", decision="D1", controllable=True, reason="可控")
    assert stage_status(ctx, "risk_assessment") == "awaiting_approval"


def test_a_referenced_assessment_lets_the_decision_reach_discussion(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx, flags=["stability_risk"])
    participation_done(ctx)
    act(
        ctx,
        "reference_existing_assessment",
        "li",
        "2026-04-06T09:00",
        decision="D1",
        reference="环境影响评价报告书批复",
        kind="environmental_impact",
    )
    act(ctx, "approve_stage", "wang", "2026-04-07T09:00", decision="D1", stage="risk_assessment")
    legality_lawful(ctx)
    act(ctx, "submit_for_discussion", "li", "2026-04-10T09:00", decision="D1", meeting_date="2026-04-17")


# ------------------------------------------------------------------ R8: fair competition review
FCR: dict[str, Any] = {"decision": "D1", "reviewer_unit": "区市场监督管理局"}


def test_legality_review_is_refused_r8_without_a_fair_competition_conclusion(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx, flags=["market_activity"])
    participation_done(ctx)
    refused_review(ctx, "R8", "2026-04-07T09:00")
    result = act(
        ctx, "record_fair_competition_review", "li", "2026-04-07T09:30", conclusion="compliant", **FCR
    )
    assert result.data == {"conclusion": "compliant", "draft": 1, "status": "awaiting_approval"}
    refused_review(ctx, "R8", "2026-04-07T10:00")  # awaiting approval
    act(ctx, "approve_stage", "wang", "2026-04-07T11:00", decision="D1", stage="fair_competition_review")
    submit_for_review(ctx)
    assert "区市场监督管理局" in evidence_texts(ctx, "fcr_conclusion")[0]


def test_a_non_compliant_conclusion_keeps_the_stage_open_until_a_revised_draft_passes(
    ctx: ServiceContext,
) -> None:
    district(ctx)
    drafted(ctx, flags=["market_activity"])
    participation_done(ctx)
    result = act(
        ctx,
        "record_fair_competition_review",
        "li",
        "2026-04-03T11:00",
        conclusion="non_compliant",
        notes="限定特定经营者",
        **FCR,
    )
    # FCR Regs Art. 18: recorded as evidence, but the stage cannot complete
    assert result.data["status"] == "active"
    assert "不符合" in evidence_texts(ctx, "fcr_conclusion")[0]
    refused(
        ctx,
        "STATE",
        "approve_stage",
        "wang",
        "2026-04-03T12:00",
        decision="D1",
        stage="fair_competition_review",
    )
    # the same draft cannot simply be re-labelled compliant
    error = refused(
        ctx, "R8", "record_fair_competition_review", "li", "2026-04-03T13:00", conclusion="compliant", **FCR
    )
    assert error.field == "conclusion"
    refused(
        ctx,
        "R8",
        "record_fair_competition_review",
        "li",
        "2026-04-03T13:00",
        conclusion="exception_applies",
        notes="国家安全",
        **FCR,
    )
    refused_review(ctx, "R8", "2026-04-07T09:00")
    act(
        ctx,
        "revise_draft",
        "li",
        "2026-04-07T10:00",
        decision="D1",
        draft="删除限定经营者条款",
        explanation="说明",
        legal_bases=["国务院令第713号"],
        reason="公平竞争审查",
    )
    passed = act(
        ctx, "record_fair_competition_review", "li", "2026-04-07T11:00", conclusion="compliant", **FCR
    )
    assert passed.data == {"conclusion": "compliant", "draft": 2, "status": "awaiting_approval"}
    act(ctx, "approve_stage", "wang", "2026-04-07T12:00", decision="D1", stage="fair_competition_review")
    submit_for_review(ctx)
    with Session(ctx.engine) as session:
        rows = session.exec(select(FairCompetitionReview).order_by(col(FairCompetitionReview.id))).all()
        assert [(r.conclusion, r.draft_number) for r in rows] == [("non_compliant", 1), ("compliant", 2)]


def test_fair_competition_review_input_and_applicability(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx, flags=["market_activity"])
    drafted(ctx, "D2")
    error = refused(
        ctx,
        "R8",
        "record_fair_competition_review",
        "li",
        "2026-03-10T09:00",
        conclusion="exception_applies",
        **FCR,
    )
    assert error.field == "notes"
    refused(
        ctx, "INPUT", "record_fair_competition_review", "li", "2026-03-10T09:00", conclusion="fine", **FCR
    )
    refused(
        ctx,
        "INPUT",
        "record_fair_competition_review",
        "li",
        "2026-03-10T09:00",
        decision="D1",
        conclusion="compliant",
        reviewer_unit="",
    )
    refused(
        ctx,
        "AUTH",
        "record_fair_competition_review",
        "sun",
        "2026-03-10T09:00",
        conclusion="compliant",
        **FCR,
    )
    # D2 is not flagged market_activity: the flag decides whether the review applies
    refused(
        ctx,
        "STATE",
        "record_fair_competition_review",
        "li",
        "2026-03-10T09:00",
        decision="D2",
        conclusion="compliant",
        reviewer_unit="区市场监督管理局",
    )
    act(
        ctx,
        "record_fair_competition_review",
        "li",
        "2026-03-10T09:00",
        conclusion="exception_applies",
        notes="为维护国家安全（公平竞争审查条例第十二条）",
        **FCR,
    )
    assert stage_status(ctx, "fair_competition_review") == "awaiting_approval"
    refused(
        ctx,
        "STATE",
        "record_fair_competition_review",
        "li",
        "2026-03-10T10:00",
        conclusion="compliant",
        **FCR,
    )
