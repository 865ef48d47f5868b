"""After the decision (Arts. 34-37): execution unit and reports (R18), post-evaluation
(R19), suspension and adjustment (R20). Each guard is attacked and must refuse without
changing the database."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from flows.service import ServiceContext, setup_jurisdiction
from flows.service.audit import verify_all
from models import (
    AuditEvent,
    Decision,
    DecisionStatus,
    EvidenceDocument,
    ExecutionReport,
    OutboxEvent,
    PostEvaluation,
    StageInstance,
    StageStatus,
    StoredDocument,
    Suspension,
)
from tests.helpers import (
    UNITS,
    USERS,
    act,
    at,
    decided,
    drafted,
    legality_lawful,
    participation_done,
    refused,
)

# the standard district plus fang, staff of the development and reform bureau (evaluator)
EXTRA_USERS = [{"id": "fang", "unit": "evaluator", "roles": ["department_staff"]}]


def district_with_evaluator(ctx: ServiceContext) -> None:
    setup_jurisdiction(
        ctx,
        {"organ": "香洲区人民政府", "settings": {}},
        UNITS,
        [*USERS, *EXTRA_USERS],
        now=at("2026-01-05T09:00"),
    )


def made(ctx: ServiceContext, **extra: Any) -> None:
    """D1 decided at the executive meeting of 2026-04-17 (status decided)."""
    district_with_evaluator(ctx)
    drafted(ctx, **extra)
    participation_done(ctx)
    legality_lawful(ctx)
    decided(ctx)


def archived(ctx: ServiceContext) -> None:
    made(ctx)
    act(ctx, "record_party_report", "chen", "2026-04-20T09:00", decision="D1", on_date="2026-04-20")
    act(
        ctx,
        "record_party_reply",
        "chen",
        "2026-04-21T09:00",
        decision="D1",
        on_date="2026-04-21",
        result="agreed",
    )
    act(
        ctx,
        "publish_decision",
        "zhou",
        "2026-04-22T09:00",
        decision="D1",
        channels=["gazette", "website", "newspaper"],
        published_on="2026-04-22",
        text="决定全文",
    )
    act(ctx, "archive_decision", "zhou", "2026-04-23T09:00", decision="D1")


def decision_row(ctx: ServiceContext, code: str = "D1") -> Decision:
    with Session(ctx.engine) as session:
        return session.exec(select(Decision).where(Decision.code == code)).one()


def stage_status(ctx: ServiceContext, stage: str, code: str = "D1") -> StageStatus:
    decision = decision_row(ctx, code)
    with Session(ctx.engine) as session:
        row = session.exec(
            select(StageInstance).where(
                StageInstance.decision_id == decision.id, StageInstance.stage == stage
            )
        ).one()
        return row.status


def evidence_kinds(ctx: ServiceContext, code: str = "D1") -> list[str]:
    decision = decision_row(ctx, code)
    with Session(ctx.engine) as session:
        return list(
            session.exec(
                select(EvidenceDocument.kind)
                .where(EvidenceDocument.decision_id == decision.id)
                .order_by(col(EvidenceDocument.id))
            )
        )


def events(ctx: ServiceContext, event_type: str) -> list[OutboxEvent]:
    with Session(ctx.engine) as session:
        return list(session.exec(select(OutboxEvent).where(OutboxEvent.event_type == event_type)))


def assign(ctx: ServiceContext, unit: str = "commerce", when: str = "2026-04-20T09:00") -> None:
    act(ctx, "assign_execution_unit", "zhou", when, decision="D1", unit=unit)


# ---------------------------------------------------------------- Art. 34, R18: execution unit
def test_the_execution_unit_is_named_only_after_the_decision(ctx: ServiceContext) -> None:
    district_with_evaluator(ctx)
    drafted(ctx)
    refused(ctx, "ORDER", "assign_execution_unit", "zhou", "2026-03-05T09:00", decision="D1", unit="commerce")


def test_the_organ_names_the_execution_unit_and_execution_starts(ctx: ServiceContext) -> None:
    made(ctx)
    refused(ctx, "AUTH", "assign_execution_unit", "li", "2026-04-20T09:00", decision="D1", unit="commerce")
    refused(
        ctx, "NOT_FOUND", "assign_execution_unit", "zhou", "2026-04-20T09:00", decision="D1", unit="nobody"
    )
    assert stage_status(ctx, "execution") == StageStatus.pending
    assign(ctx)
    assert stage_status(ctx, "execution") == StageStatus.active
    # the execution unit may now act on the decision; the undertaking units still may
    assert decision_row(ctx).unit_codes == ["housing", "commerce"]
    refused(
        ctx, "STATE", "assign_execution_unit", "mayor", "2026-04-20T10:00", decision="D1", unit="commerce"
    )


def test_progress_reports_need_an_execution_unit(ctx: ServiceContext) -> None:
    made(ctx)
    refused(ctx, "R18", "report_execution_progress", "li", "2026-04-20T09:00", decision="D1", text="进展")
    assign(ctx)
    act(ctx, "report_execution_progress", "sun", "2026-05-20T09:00", decision="D1", text="已完成一期")
    act(ctx, "report_execution_progress", "li", "2026-06-20T09:00", decision="D1", text="牵头单位督促情况")
    assert evidence_kinds(ctx).count("execution_report") == 2
    with Session(ctx.engine) as session:
        reports = list(session.exec(select(ExecutionReport).order_by(col(ExecutionReport.id))))
    assert [(r.kind, r.reported_by) for r in reports] == [("progress", "sun"), ("progress", "li")]
    assert all(r.evidence_id is not None for r in reports)


def test_only_the_execution_unit_or_an_undertaking_unit_reports(ctx: ServiceContext) -> None:
    made(ctx)
    assign(ctx, "evaluator")
    error = refused(
        ctx, "AUTH", "report_execution_progress", "sun", "2026-05-20T09:00", decision="D1", text="x"
    )
    assert error.kind == "forbidden"
    act(ctx, "report_execution_progress", "fang", "2026-05-20T10:00", decision="D1", text="进展")


def test_naming_another_execution_unit_moves_the_right_to_report(ctx: ServiceContext) -> None:
    made(ctx)
    assign(ctx, "commerce")
    assign(ctx, "evaluator", "2026-05-01T09:00")
    assert decision_row(ctx).unit_codes == ["housing", "evaluator"]
    refused(ctx, "AUTH", "report_execution_progress", "sun", "2026-05-20T09:00", decision="D1", text="x")
    act(ctx, "report_execution_progress", "fang", "2026-05-20T10:00", decision="D1", text="进展")


def test_problem_reports_follow_the_article_35_triggers(ctx: ServiceContext) -> None:
    made(ctx)
    refused(
        ctx,
        "R18",
        "report_execution_problem",
        "li",
        "2026-04-20T09:00",
        decision="D1",
        trigger="decision_problem",
        text="发现问题",
    )
    assign(ctx)
    for trigger in ("budget_overrun", "DECISION_PROBLEM", "effect_short"):
        error = refused(
            ctx,
            "R18",
            "report_execution_problem",
            "sun",
            "2026-05-20T09:00",
            decision="D1",
            trigger=trigger,
            text="问题",
        )
        assert error.field == "trigger"
    act(
        ctx,
        "report_execution_problem",
        "sun",
        "2026-05-20T09:00",
        decision="D1",
        trigger="circumstances_changed",
        text="客观情况发生重大变化",
    )
    assert "problem_report" in evidence_kinds(ctx)
    [event] = events(ctx, "execution_problem_reported")
    assert event.payload["trigger"] == "circumstances_changed"
    assert event.payload["organ"] == "香洲区人民政府"
    assert event.payload["decision"] == "D1"


def test_execution_continues_after_archiving(ctx: ServiceContext) -> None:
    archived(ctx)
    assign(ctx, "commerce", "2026-04-24T09:00")
    act(ctx, "report_execution_progress", "sun", "2026-05-20T09:00", decision="D1", text="进展")
    assert decision_row(ctx).status == DecisionStatus.archived
    assert stage_status(ctx, "execution") == StageStatus.active


# ---------------------------------------------------------------- Art. 36, R19: post-evaluation
def start_evaluation(ctx: ServiceContext, unit: str = "evaluator", when: str = "2026-10-09T09:00") -> None:
    act(
        ctx,
        "start_post_evaluation",
        "zhou",
        when,
        decision="D1",
        trigger="effect_short",
        evaluator_unit=unit,
    )


def test_post_evaluation_follows_the_start_of_execution(ctx: ServiceContext) -> None:
    made(ctx)
    refused(
        ctx,
        "ORDER",
        "start_post_evaluation",
        "zhou",
        "2026-10-09T09:00",
        decision="D1",
        trigger="effect_short",
        evaluator_unit="evaluator",
    )
    assert stage_status(ctx, "post_evaluation") == StageStatus.not_required


def test_post_evaluation_needs_an_article_36_trigger(ctx: ServiceContext) -> None:
    made(ctx)
    assign(ctx)
    for trigger in ("routine", "decision_problem"):
        error = refused(
            ctx,
            "R19",
            "start_post_evaluation",
            "zhou",
            "2026-10-09T09:00",
            decision="D1",
            trigger=trigger,
            evaluator_unit="evaluator",
        )
        assert error.field == "trigger"


def test_the_units_that_did_the_main_work_may_not_evaluate(ctx: ServiceContext) -> None:
    made(ctx, units=["commerce"])  # housing leads, commerce also undertakes
    assign(ctx, "evaluator")
    for unit in ("housing", "commerce"):
        error = refused(
            ctx,
            "R19",
            "start_post_evaluation",
            "mayor",
            "2026-10-09T09:00",
            decision="D1",
            trigger="many_objections",
            evaluator_unit=unit,
        )
        assert error.field == "evaluator_unit"


def test_the_unit_that_wrote_the_risk_assessment_may_not_evaluate(ctx: ServiceContext) -> None:
    made(ctx)
    assign(ctx, "commerce")
    # A risk report whose author is evaluator staff (an assessment commissioned from that
    # bureau). Written directly: no action lets a non-undertaking unit file one today.
    decision = decision_row(ctx)
    with Session(ctx.engine) as session:
        session.add(StoredDocument(sha256="f" * 64, size=1, created_at=at("2026-03-10T09:00")))
        session.flush()
        session.add(
            EvidenceDocument(
                decision_id=decision.id or 0,
                stage="risk_assessment",
                kind="risk_report",
                title="风险评估报告",
                sha256="f" * 64,
                created_by="fang",
                created_at=at("2026-03-10T09:00"),
            )
        )
        session.commit()
    refused(
        ctx,
        "R19",
        "start_post_evaluation",
        "zhou",
        "2026-10-09T09:00",
        decision="D1",
        trigger="effect_short",
        evaluator_unit="evaluator",
    )


def test_the_execution_unit_is_not_mistaken_for_an_undertaking_unit(ctx: ServiceContext) -> None:
    made(ctx)
    assign(ctx, "commerce")  # commerce is now in unit_codes, but did no pre-decision work
    start_evaluation(ctx, "commerce")
    assert stage_status(ctx, "post_evaluation") == StageStatus.active


def test_a_post_evaluation_runs_from_start_to_report(ctx: ServiceContext) -> None:
    made(ctx)
    assign(ctx)
    refused(
        ctx,
        "AUTH",
        "start_post_evaluation",
        "li",
        "2026-10-09T09:00",
        decision="D1",
        trigger="effect_short",
        evaluator_unit="evaluator",
    )
    refused(
        ctx, "STATE", "submit_post_evaluation_report", "zhou", "2026-10-09T09:00", decision="D1", report="x"
    )
    start_evaluation(ctx)
    assert stage_status(ctx, "post_evaluation") == StageStatus.active
    assert "evaluator" in decision_row(ctx).unit_codes  # its staff may file the report
    refused(
        ctx,
        "STATE",
        "start_post_evaluation",
        "zhou",
        "2026-10-10T09:00",
        decision="D1",
        trigger="organ_considers_necessary",
        evaluator_unit="evaluator",
    )
    # the evaluator unit is not an execution unit: it may not report on execution
    refused(ctx, "AUTH", "report_execution_progress", "fang", "2026-10-10T09:00", decision="D1", text="x")
    # an undertaking unit may not write the evaluation (R19); the execution unit is simply not the evaluator
    refused(ctx, "R19", "submit_post_evaluation_report", "li", "2026-11-02T09:00", decision="D1", report="x")
    refused(
        ctx, "AUTH", "submit_post_evaluation_report", "sun", "2026-11-02T09:00", decision="D1", report="x"
    )
    act(ctx, "submit_post_evaluation_report", "fang", "2026-11-02T09:00", decision="D1", report="评估报告")
    assert stage_status(ctx, "post_evaluation") == StageStatus.completed
    assert "post_evaluation_report" in evidence_kinds(ctx)
    assert "evaluator" not in decision_row(ctx).unit_codes
    with Session(ctx.engine) as session:
        [evaluation] = session.exec(select(PostEvaluation))
        assert evaluation.reported_by == "fang"
        assert evaluation.report_evidence_id is not None
    # a later evaluation may follow a finished one
    start_evaluation(ctx, "evaluator", "2027-04-01T09:00")
    act(
        ctx,
        "submit_post_evaluation_report",
        "zhou",
        "2027-05-06T09:00",
        decision="D1",
        report="第三方评估报告",
    )
    assert evidence_kinds(ctx).count("post_evaluation_report") == 2


# ---------------------------------------------------------------- Art. 37, R20: suspension
def suspend(ctx: ServiceContext, **payload: Any) -> None:
    fields = {"trigger": "force_majeure", "urgency": "台风损毁施工现场", "on_date": "2026-06-01", **payload}
    act(ctx, "suspend_execution", "mayor", "2026-06-01T09:00", decision="D1", **fields)


def test_only_the_head_suspends_and_only_a_made_decision(ctx: ServiceContext) -> None:
    district_with_evaluator(ctx)
    drafted(ctx)
    fields = {"trigger": "force_majeure", "urgency": "紧急", "on_date": "2026-03-05"}
    refused(ctx, "ORDER", "suspend_execution", "mayor", "2026-03-05T09:00", decision="D1", **fields)
    participation_done(ctx)
    legality_lawful(ctx)
    decided(ctx)
    fields["on_date"] = "2026-06-01"
    for actor in ("zhou", "li", "liu"):
        refused(ctx, "AUTH", "suspend_execution", actor, "2026-06-01T09:00", decision="D1", **fields)


def test_a_suspension_needs_an_article_35_trigger_and_urgency(ctx: ServiceContext) -> None:
    made(ctx)
    assign(ctx)
    attempts: list[tuple[dict[str, str], str]] = [
        ({"urgency": "紧急"}, "trigger"),
        ({"trigger": "effect_short", "urgency": "紧急"}, "trigger"),
        ({"trigger": "not_popular", "urgency": "紧急"}, "trigger"),
        ({"trigger": "force_majeure"}, "urgency"),
        ({"trigger": "force_majeure", "urgency": "   "}, "urgency"),
    ]
    for payload, field in attempts:
        error = refused(
            ctx,
            "R20",
            "suspend_execution",
            "mayor",
            "2026-06-01T09:00",
            decision="D1",
            on_date="2026-06-01",
            **payload,
        )
        assert error.field == field
    refused(
        ctx,
        "R20",  # §15.4: not dated before the decision
        "suspend_execution",
        "mayor",
        "2026-06-01T09:00",
        decision="D1",
        trigger="force_majeure",
        urgency="紧急",
        on_date="2026-04-16",  # the day before the decision
    )
    assert decision_row(ctx).status == DecisionStatus.decided


def test_the_head_suspends_execution(ctx: ServiceContext) -> None:
    made(ctx)
    assign(ctx)
    suspend(ctx)
    decision = decision_row(ctx)
    assert decision.status == DecisionStatus.suspended
    assert "suspension_decision" in evidence_kinds(ctx)
    with Session(ctx.engine) as session:
        [row] = session.exec(select(Suspension))
    assert (row.trigger, row.urgency, row.previous_status, row.decided_by) == (
        "force_majeure",
        "台风损毁施工现场",
        "decided",
        "mayor",
    )
    assert str(row.on_date) == "2026-06-01"
    assert events(ctx, "execution_suspended")
    refused(
        ctx,
        "STATE",
        "suspend_execution",
        "mayor",
        "2026-06-02T09:00",
        decision="D1",
        trigger="decision_problem",
        urgency="紧急",
        on_date="2026-06-02",
    )
    # a suspended decision is not resumed or re-staffed by the back door
    refused(ctx, "R20", "assign_execution_unit", "zhou", "2026-06-02T09:00", decision="D1", unit="evaluator")
    # problems are still reported, and a post-evaluation may still inform an adjustment
    act(
        ctx,
        "report_execution_problem",
        "sun",
        "2026-06-03T09:00",
        decision="D1",
        trigger="force_majeure",
        text="灾后评估",
    )
    start_evaluation(ctx, "evaluator", "2026-06-04T09:00")


def test_an_archived_decision_can_be_suspended(ctx: ServiceContext) -> None:
    archived(ctx)
    suspend(ctx)
    with Session(ctx.engine) as session:
        [row] = session.exec(select(Suspension))
    assert row.previous_status == "archived"
    assert decision_row(ctx).status == DecisionStatus.suspended


def test_a_made_decision_cannot_be_revised_or_withdrawn(ctx: ServiceContext) -> None:
    made(ctx)
    refused(
        ctx,
        "R20",
        "revise_draft",
        "li",
        "2026-04-20T09:00",
        decision="D1",
        draft="改过的草案",
        reason="想改",
    )
    refused(ctx, "R20", "withdraw_decision", "zhou", "2026-04-20T09:00", decision="D1", reason="不做了")
    suspend(ctx)
    refused(
        ctx,
        "R20",
        "revise_draft",
        "li",
        "2026-06-02T09:00",
        decision="D1",
        draft="改过的草案",
        reason="中止后修改",
    )


# ---------------------------------------------------------------- Art. 37, R20: adjustment
def adjust(ctx: ServiceContext, ref: str = "D2", when: str = "2026-06-05T09:00") -> None:
    act(
        ctx,
        "start_adjustment",
        "zhou",
        when,
        decision="D1",
        ref=ref,
        title="决策D1（调整）",
        reason="评估显示效果不佳",
    )


def test_an_adjustment_needs_a_made_decision(ctx: ServiceContext) -> None:
    district_with_evaluator(ctx)
    drafted(ctx)
    refused(
        ctx,
        "ORDER",
        "start_adjustment",
        "zhou",
        "2026-03-05T09:00",
        decision="D1",
        ref="D2",
        title="调整",
        reason="r",
    )
    participation_done(ctx)
    legality_lawful(ctx)
    decided(ctx)
    refused(
        ctx,
        "AUTH",
        "start_adjustment",
        "li",
        "2026-06-05T09:00",
        decision="D1",
        ref="D2",
        title="调整",
        reason="r",
    )
    refused(
        ctx,
        "INPUT",
        "start_adjustment",
        "zhou",
        "2026-06-05T09:00",
        decision="D1",
        ref="D1",
        title="调整",
        reason="r",
    )


def test_an_adjustment_is_a_new_decision_linked_to_the_original(ctx: ServiceContext) -> None:
    made(ctx, units=["commerce"], flags=["congress_step"])
    assign(ctx, "evaluator")
    suspend(ctx)
    adjust(ctx)
    original, adjustment = decision_row(ctx, "D1"), decision_row(ctx, "D2")
    assert adjustment.adjusts_decision_id == original.id
    assert adjustment.status == DecisionStatus.proposed
    assert adjustment.procedure_version == original.procedure_version
    assert adjustment.unit_codes == ["housing", "commerce"]  # not the execution unit
    assert adjustment.lead_unit_id == original.lead_unit_id
    assert adjustment.flags == ["congress_step"]
    assert (adjustment.category, adjustment.organ) == (original.category, original.organ)
    assert original.status == DecisionStatus.suspended  # the original stands until replaced
    assert stage_status(ctx, "initiation", "D2") == StageStatus.active
    assert stage_status(ctx, "congress", "D2") == StageStatus.pending  # flags carried over
    assert evidence_kinds(ctx, "D2") == ["proposal"]
    # both audit chains record the link, and both still verify
    with Session(ctx.engine) as session:
        first_of_new = session.exec(
            select(AuditEvent).where(AuditEvent.chain == f"decision:{adjustment.id}", AuditEvent.seq == 1)
        ).one()
        last_of_original = session.exec(
            select(AuditEvent)
            .where(AuditEvent.chain == f"decision:{original.id}")
            .order_by(col(AuditEvent.seq).desc())
        ).first()
        assert first_of_new.action == "start_adjustment"
        assert last_of_original is not None and last_of_original.action == "start_adjustment"
        assert last_of_original.payload["result"] == {"adjustment": "D2"}
        assert verify_all(session)[2] == []
    # one adjustment procedure at a time; the new one runs the procedure from the start
    refused(
        ctx,
        "STATE",
        "start_adjustment",
        "mayor",
        "2026-06-06T09:00",
        decision="D1",
        ref="D3",
        title="再调整",
        reason="r",
    )
    act(ctx, "start_procedure", "zhou", "2026-06-08T09:00", decision="D2")
    act(ctx, "submit_draft", "li", "2026-06-09T09:00", decision="D2", draft="调整草案", legal_bases=["713"])
    assert decision_row(ctx, "D2").status == DecisionStatus.in_procedure


def test_an_archived_decision_can_be_adjusted(ctx: ServiceContext) -> None:
    archived(ctx)
    act(
        ctx,
        "start_adjustment",
        "mayor",
        "2026-06-05T09:00",
        decision="D1",
        title="决策D1（调整）",
        reason="情况变化",
    )
    with Session(ctx.engine) as session:
        adjustment = session.exec(
            select(Decision).where(col(Decision.adjusts_decision_id).is_not(None))
        ).one()
    assert adjustment.code.startswith("JC-2026-")
    assert decision_row(ctx).status == DecisionStatus.archived
