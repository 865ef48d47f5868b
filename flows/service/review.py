"""Expert review (专家论证, Arts. 19-21), risk assessment (风险评估, Arts. 22-24) and fair
competition review (公平竞争审查, Art. 29(1); FCR Regs Arts. 14, 18)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func
from sqlmodel import col, select

from flows import rules
from flows.errors import invalid, not_found, refusal
from flows.hygiene import next_free_code
from flows.service.framework import DEPARTMENT_ROLES, DecisionPayload, Payload, Tx, action, the_jurisdiction
from flows.service.lifecycle import current_draft_number
from flows.service.participation import inputs_of_kind, responded
from models import (
    Expert,
    ExpertOpinion,
    ExpertSelection,
    FairCompetitionReview,
    InputResponse,
    RiskAssessment,
    StageStatus,
)
from models.review import RiskJudgement

OPEN_STATUSES = (StageStatus.active, StageStatus.returned)


# =========================================================================== expert review
class AddExpert(Payload):
    ref: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=100)
    fields: list[str] = Field(default_factory=list)
    affiliation: str = Field(default="", max_length=200)


@action("add_expert_to_pool", AddExpert)
def add_expert_to_pool(tx: Tx, p: AddExpert) -> Mapping[str, Any]:
    """Art. 21: the government's decision-consultation expert pool (专家库)."""
    the_jurisdiction(tx.session, lock=True)  # serialise pool additions so a duplicate ref is seen
    if find_expert(tx, p.ref) is not None:
        raise invalid("ref", f"专家编号 {p.ref} 已在专家库中", f"expert {p.ref} is already in the pool")
    expert = Expert(
        jurisdiction_id=tx.jurisdiction.id or 0,
        code=p.ref,
        name=p.name,
        fields=[f for f in p.fields if f],
        affiliation=p.affiliation,
    )
    tx.session.add(expert)
    tx.session.flush()
    return {"expert": p.ref}


def find_expert(tx: Tx, code: str) -> Expert | None:
    return tx.session.exec(
        select(Expert).where(Expert.jurisdiction_id == tx.jurisdiction.id, Expert.code == code)
    ).first()


def pool_expert(tx: Tx, code: str, field_name: str) -> Expert:
    expert = find_expert(tx, code)
    if expert is None or not expert.active:
        raise not_found(field_name, code)
    return expert


def selection_of(tx: Tx, expert: Expert) -> ExpertSelection | None:
    decision = tx.require_decision()
    return tx.session.exec(
        select(ExpertSelection).where(
            ExpertSelection.decision_id == decision.id, ExpertSelection.expert_id == expert.id
        )
    ).first()


def selections(tx: Tx) -> list[ExpertSelection]:
    decision = tx.require_decision()
    return list(
        tx.session.exec(
            select(ExpertSelection)
            .where(ExpertSelection.decision_id == decision.id)
            .order_by(col(ExpertSelection.id))
        )
    )


class ExpertChoice(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)
    expert: str = Field(min_length=1)
    declaration: str = Field(min_length=1)  # the expert's interest declaration (利害关系声明), Art. 20
    direct_interest: bool
    differing_view: bool = False  # holds a view differing from the draft's, Art. 20


class SelectExperts(DecisionPayload):
    experts: list[ExpertChoice] = Field(min_length=1)


@action("select_experts", SelectExperts)
def select_experts(tx: Tx, p: SelectExperts) -> Mapping[str, Any]:
    """Art. 20: experts are chosen for neutrality and representativeness; one with a direct
    interest is excluded (R6); whether differing views are represented is recorded."""
    decision = tx.require_decision()
    tx.enter_stage("expert_review")  # optional stage: a department may take it up without the flag
    codes = [choice.expert for choice in p.experts]
    if len(set(codes)) != len(codes):
        raise invalid("experts", "同一专家不得重复选择", "an expert is listed twice")
    chosen: list[tuple[Expert, ExpertChoice]] = []
    for index, choice in enumerate(p.experts):
        expert = pool_expert(tx, choice.expert, f"experts.{index}.expert")
        violation = rules.expert_eligible(choice.direct_interest)
        if violation is not None:
            tx.refuse(
                violation.rule_id,
                f"{violation.zh}（{expert.name}）",
                f"{violation.en} ({expert.code})",
                field=f"experts.{index}.direct_interest",
            )
        if selection_of(tx, expert) is not None:
            raise invalid(
                f"experts.{index}.expert",
                f"专家 {expert.code} 已被选定",
                f"expert {expert.code} is already selected",
            )
        chosen.append((expert, choice))
    for expert, choice in chosen:
        tx.session.add(
            ExpertSelection(
                decision_id=decision.id or 0,
                expert_id=expert.id or 0,
                declaration=choice.declaration,
                has_direct_interest=False,
                holds_differing_view=choice.differing_view,
                selected_at=tx.now,
            )
        )
    tx.session.flush()
    differing = differing_view_experts(tx)
    tx.notes["differing_views_included"] = bool(differing)
    tx.notes["differing_view_experts"] = differing
    return {"selected": codes, "differing_views_included": bool(differing)}


def differing_view_experts(tx: Tx) -> list[str]:
    """The selected experts who hold a differing view (Art. 20), by pool ref."""
    decision = tx.require_decision()
    rows = tx.session.exec(
        select(Expert.code)
        .join(ExpertSelection, col(ExpertSelection.expert_id) == Expert.id)
        .where(ExpertSelection.decision_id == decision.id, col(ExpertSelection.holds_differing_view))
        .order_by(col(ExpertSelection.id))
    )
    return list(rows.all())


class RecordExpertOpinion(DecisionPayload):
    ref: str | None = Field(default=None, min_length=1, max_length=64)
    expert: str = Field(min_length=1)
    text: str = Field(min_length=1)
    signed: bool = False
    sealed: bool = False


@action("record_expert_opinion", RecordExpertOpinion)
def record_expert_opinion(tx: Tx, p: RecordExpertOpinion) -> Mapping[str, Any]:
    """Art. 19(2): a written opinion, signed or sealed, from an expert selected for this decision."""
    decision = tx.require_decision()
    if "expert" in tx.actor.roles and not (tx.actor.roles & DEPARTMENT_ROLES) and tx.actor.code != p.expert:
        # an expert's account records only that expert's own opinion (account id = pool ref)
        raise refusal(
            "AUTH",
            "专家只能提交本人的论证意见",
            "an expert can only submit their own opinion",
            field="expert",
            kind="forbidden",
        )
    expert = pool_expert(tx, p.expert, "expert")
    tx.check(rules.expert_selected(selection_of(tx, expert) is not None, expert.code))
    tx.enter_stage("expert_review")  # refuses once the review is completed or awaiting approval
    tx.check(rules.expert_opinion_signed(p.signed, p.sealed))
    taken = set(
        tx.session.exec(select(ExpertOpinion.code).where(ExpertOpinion.decision_id == decision.id)).all()
    )
    if p.ref in taken:
        raise invalid("ref", f"意见编号 {p.ref} 已存在", f"opinion {p.ref} already exists")
    code = p.ref or next_free_code("E", len(taken) + 1, taken)
    attestation = "、".join(word for word, on in (("署名", p.signed), ("盖章", p.sealed)) if on)
    evidence = tx.add_evidence(
        "expert_review",
        "expert_opinion",
        f"{p.text}\n\n论证专家：{expert.name}（{expert.affiliation}）［{attestation}］",
        f"专家论证意见（{expert.name}）",
    )
    tx.session.add(
        ExpertOpinion(
            decision_id=decision.id or 0,
            code=code,
            expert_id=expert.id or 0,
            text=p.text,
            signed=p.signed,
            sealed=p.sealed,
            evidence_id=evidence.id,
            recorded_at=tx.now,
        )
    )
    return {"opinion": code, "expert": expert.code}


class CompleteExpertReview(DecisionPayload):
    summary: str = ""  # 专家论证意见研究采纳情况; generated from the responses when empty


@action("complete_expert_review", CompleteExpertReview)
def complete_expert_review(tx: Tx, p: CompleteExpertReview) -> Mapping[str, Any]:
    """Art. 29(3): every expert opinion is studied and answered; the adoption summary goes
    into the discussion package. The legal office then approves the stage."""
    tx.enter_stage("expert_review")
    opinions = inputs_of_kind(tx, "expert_opinion")
    tx.check(rules.expert_review_complete(opinions, responded(tx, "expert_opinion")))
    differing = differing_view_experts(tx)
    body = p.summary or _expert_adoption_summary(tx)
    if differing:
        line = f"持不同意见的专家已纳入论证：{'、'.join(differing)}（第二十条）"
    else:
        line = "所选专家中未包括持不同意见的专家（第二十条）"
    tx.add_evidence("expert_review", "expert_summary", f"{body}\n{line}")
    tx.notes["differing_views_included"] = bool(differing)
    row = tx.finish_stage("expert_review")
    tx.emit(
        "expert_review_completed", {"status": row.status.value, "differing_views_included": bool(differing)}
    )
    return {
        "stage": "expert_review",
        "status": row.status.value,
        "opinions": len(opinions),
        "differing_views_included": bool(differing),
    }


def _expert_adoption_summary(tx: Tx) -> str:
    decision = tx.require_decision()
    rows = tx.session.exec(
        select(InputResponse)
        .where(InputResponse.decision_id == decision.id, InputResponse.input_kind == "expert_opinion")
        .order_by(col(InputResponse.input_code))
    )
    lines = [f"《{decision.title}》专家论证意见研究采纳情况"]
    lines += [f"- {r.input_code}: {r.outcome}（{r.reason}）" for r in rows]
    return "\n".join(lines)


# =========================================================================== risk assessment
def latest_assessment(tx: Tx) -> RiskAssessment | None:
    return tx.latest(RiskAssessment)


def _items(values: list[str]) -> list[str]:
    return [v.strip() for v in values if v.strip()]


class SubmitRiskAssessment(DecisionPayload):
    report: str = Field(min_length=1)
    risk_points: list[str] = Field(default_factory=list)
    prevention_measures: list[str] = Field(default_factory=list)
    handling_plan: str = ""
    level: str  # P12: checked as a guard so that the refusal names P12
    departments_consulted: list[str] = Field(default_factory=list)


@action("submit_risk_assessment", SubmitRiskAssessment)
def submit_risk_assessment(tx: Tx, p: SubmitRiskAssessment) -> Mapping[str, Any]:
    """Arts. 22-23: the report names risk points, prevention measures and a handling plan,
    and records the departments heard. The stage stays active until the organ judges (Art. 24);
    a new report before the judgement supersedes the earlier one."""
    decision = tx.require_decision()
    tx.enter_stage("risk_assessment")
    points, measures = _items(p.risk_points), _items(p.prevention_measures)
    departments = _items(p.departments_consulted)
    tx.check(rules.risk_report_complete(points, measures, p.handling_plan, departments))
    tx.check(rules.risk_level_valid(p.level))
    text = "\n".join(
        [
            p.report,
            "风险点：" + "；".join(points),
            "风险防范措施：" + "；".join(measures),
            "处置预案：" + p.handling_plan,
            f"风险等级：{p.level}",
            "征求意见部门：" + "、".join(departments),
        ]
    )
    evidence = tx.add_evidence("risk_assessment", "risk_report", text)
    row = RiskAssessment(
        decision_id=decision.id or 0,
        risk_points=points,
        prevention_measures=measures,
        handling_plan=p.handling_plan,
        level=p.level,
        departments_consulted=departments,
        evidence_id=evidence.id,
        submitted_at=tx.now,
    )
    tx.session.add(row)
    tx.session.flush()
    tx.emit("risk_assessment_submitted", {"level": p.level})
    return {"assessment": row.id, "level": p.level}


class ReferenceExistingAssessment(DecisionPayload):
    reference: str = Field(min_length=1)  # title, number and date of the existing assessment
    kind: Literal["social_stability", "environmental_impact", "other"] = "other"


@action("reference_existing_assessment", ReferenceExistingAssessment)
def reference_existing_assessment(tx: Tx, p: ReferenceExistingAssessment) -> Mapping[str, Any]:
    """Art. 22(2): risks already assessed under other rules are not assessed again."""
    decision = tx.require_decision()
    tx.enter_stage("risk_assessment")
    evidence = tx.add_evidence(
        "risk_assessment", "risk_report", p.reference, f"已有风险评估（{p.kind}，第二十二条第二款）"
    )
    row = RiskAssessment(
        decision_id=decision.id or 0,
        existing_reference=p.reference,
        existing_kind=p.kind,
        evidence_id=evidence.id,
        submitted_at=tx.now,
    )
    tx.session.add(row)
    tx.session.flush()
    stage = tx.finish_stage("risk_assessment")
    return {"assessment": row.id, "stage": "risk_assessment", "status": stage.status.value}


def risk_judgements(tx: Tx) -> list[RiskJudgement]:
    """The organ's judgements on this decision, in the order they were made (Art. 24)."""
    decision = tx.require_decision()
    return list(
        tx.session.exec(
            select(RiskJudgement)
            .where(RiskJudgement.decision_id == decision.id)
            .order_by(col(RiskJudgement.id))
        )
    )


def judgement_history(tx: Tx) -> list[tuple[bool, int]]:
    return [(j.controllable, j.draft_number) for j in risk_judgements(tx)]


class JudgeRisk(DecisionPayload):
    controllable: bool
    reason: str = Field(min_length=1)
    draft: int | None = Field(default=None, ge=1)  # the version judged; the current one by default


@action("judge_risk", JudgeRisk)
def judge_risk(tx: Tx, p: JudgeRisk) -> Mapping[str, Any]:
    """Art. 24: the organ judges whether the risk is controllable. An uncontrollable risk
    lets the stage finish, but it stands as a block (R7, enforced by submit_for_discussion
    via rules.uncontrollable_risk_addressed) until the organ judges the risk controllable
    again, on a draft no older than the one judged uncontrollable: after adjusting the draft
    or taking other measures. Every judgement is kept (RiskJudgement)."""
    decision = tx.require_decision()
    assessment = latest_assessment(tx)
    if assessment is None:
        tx.refuse(
            "R7",
            "尚未提交风险评估报告，无从判断",
            "no risk assessment report has been submitted to judge",
            field="decision",
        )
    history = judgement_history(tx)
    # a standing uncontrollable judgement may be revisited whatever the stage's status
    rejudging = rules.standing_uncontrollable_draft(history) is not None
    stage = tx.stage("risk_assessment")
    tx.check(rules.risk_open_to_judgement(stage.status, rejudging))
    if assessment.existing_reference and not rejudging:
        # Art. 22(2) path: the stage was finished by the reference; a returned stage needs
        # a report of its own (or a new reference) before the organ can judge
        tx.refuse(
            "R7",
            "引用的已有评估不是本决策的风险评估报告，须先提交评估报告",
            "the referenced assessment is not a report of this decision; submit one first",
            field="decision",
        )
    current = current_draft_number(tx)
    draft = p.draft if p.draft is not None else current
    if draft > current:
        raise invalid(
            "draft",
            f"尚无第{draft}稿（现为第{current}稿）",
            f"there is no draft {draft} (current: {current})",
        )
    tx.check(rules.risk_judgement_draft_usable(p.controllable, draft, history))
    assessment.controllable = p.controllable
    assessment.judged_at = tx.now
    assessment.judged_draft_number = draft
    tx.session.add(assessment)
    verdict = (
        "风险可控" if p.controllable else "风险不可控，须调整决策草案或采取其他措施，经重新判断可控后方可决策"
    )
    evidence = tx.add_evidence(
        "risk_assessment",
        "risk_judgement",
        f"{verdict}（针对第{draft}稿）\n理由：{p.reason}",
        "风险可控性判断" if not history else f"风险可控性判断（第{len(history) + 1}次）",
    )
    tx.session.add(
        RiskJudgement(
            decision_id=decision.id or 0,
            assessment_id=assessment.id or 0,
            controllable=p.controllable,
            draft_number=draft,
            reason=p.reason,
            evidence_id=evidence.id,
            judged_by=tx.actor.code,
            judged_at=tx.now,
        )
    )
    status = tx.finish_stage("risk_assessment").status if stage.status in OPEN_STATUSES else stage.status
    tx.notes["controllable"] = p.controllable
    tx.emit("risk_judged", {"controllable": p.controllable, "draft": draft})
    return {"controllable": p.controllable, "draft": draft, "status": status.value}


# =========================================================================== fair competition review
FCR_CONCLUSIONS_ZH = {
    "compliant": "符合公平竞争审查标准",
    "non_compliant": "不符合公平竞争审查标准",
    "exception_applies": "适用例外规定",
}


class RecordFairCompetitionReview(DecisionPayload):
    conclusion: Literal["compliant", "non_compliant", "exception_applies"]
    reviewer_unit: str = Field(min_length=1, max_length=200)  # FCR Regs Art. 14: who reviewed
    notes: str = ""


@action("record_fair_competition_review", RecordFairCompetitionReview)
def record_fair_competition_review(tx: Tx, p: RecordFairCompetitionReview) -> Mapping[str, Any]:
    """Art. 29(1); FCR Regs Arts. 14, 18. A non-compliant conclusion is recorded (it is a
    fact of the dossier) but keeps the stage active: such a policy must not be issued, so
    legality review stays blocked (R8) until a revised draft passes a new review."""
    decision = tx.require_decision()
    # declared: the stage set (flags, catalogue listing, change_flags P16) says whether it applies
    tx.enter_stage("fair_competition_review")
    draft = current_draft_number(tx)
    failed = tx.session.exec(
        select(func.max(FairCompetitionReview.draft_number)).where(
            FairCompetitionReview.decision_id == decision.id,
            FairCompetitionReview.conclusion == "non_compliant",
        )
    ).one()
    tx.check(
        rules.fair_competition_conclusion_usable(
            p.conclusion, p.notes, int(failed) if failed is not None else None, draft
        )
    )
    text = "\n".join(
        line
        for line in (
            f"公平竞争审查结论：{FCR_CONCLUSIONS_ZH[p.conclusion]}（第{draft}稿）",
            f"审查单位：{p.reviewer_unit}",
            p.notes,
        )
        if line
    )
    tx.add_evidence("fair_competition_review", "fcr_conclusion", text)
    tx.session.add(
        FairCompetitionReview(
            decision_id=decision.id or 0,
            conclusion=p.conclusion,
            reviewer_unit=p.reviewer_unit,
            notes=p.notes,
            draft_number=draft,
            recorded_at=tx.now,
        )
    )
    if p.conclusion == "non_compliant":
        tx.emit("fair_competition_review_failed", {"draft": draft})
        status = tx.stage("fair_competition_review").status
    else:
        status = tx.finish_stage("fair_competition_review").status
    return {"conclusion": p.conclusion, "draft": draft, "status": status.value}
