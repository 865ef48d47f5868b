"""§15.4 (recorded dates must be possible) and §15.7 (after the decision): the dates of
the Party report and reply, the congress step and publication (Arts. 8, 30-32; P8); the
end of a suspension, resumed or terminated by the organ (Art. 37); a decision suspended
before publication is published and archived with the suspension on record; the public's
feedback on a decision in execution, answered by the execution unit (Art. 35(2))."""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import Session, col, select

from flows.service import ServiceContext
from flows.service.documents import DocumentStore
from models import (
    ArchiveDossier,
    Deadline,
    Decision,
    DecisionStatus,
    EvidenceDocument,
    InputResponse,
    PartyStep,
    Publication,
    StageInstance,
    StageStatus,
    Suspension,
)
from models.execution import ExecutionFeedback
from tests.helpers import act, decided, district, drafted, legality_lawful, participation_done, refused

CHANNELS = ["gazette", "website", "newspaper"]


# ---------------------------------------------------------------- helpers
def made(ctx: ServiceContext, settings: dict[str, Any] | None = None, **extra: Any) -> None:
    """D1 decided at the executive meeting of 2026-04-17."""
    district(ctx, settings)
    drafted(ctx, **extra)
    participation_done(ctx)
    legality_lawful(ctx)
    decided(ctx)


def party_done(ctx: ServiceContext) -> None:
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


def publish(ctx: ServiceContext, when: str = "2026-04-22T09:00", on: str = "2026-04-22") -> None:
    act(
        ctx,
        "publish_decision",
        "zhou",
        when,
        decision="D1",
        channels=CHANNELS,
        published_on=on,
        text="决定全文",
    )


def assign(ctx: ServiceContext, when: str = "2026-04-18T09:00") -> None:
    act(ctx, "assign_execution_unit", "zhou", when, decision="D1", unit="commerce")


def suspend(ctx: ServiceContext, when: str = "2026-04-19T09:00", on: str = "2026-04-19") -> None:
    act(
        ctx,
        "suspend_execution",
        "mayor",
        when,
        decision="D1",
        trigger="circumstances_changed",
        urgency="上位政策调整",
        on_date=on,
    )


def decision_row(ctx: ServiceContext) -> Decision:
    with Session(ctx.engine) as session:
        return session.exec(select(Decision).where(Decision.code == "D1")).one()


def stage_status(ctx: ServiceContext, stage: str) -> StageStatus:
    with Session(ctx.engine) as session:
        row = session.exec(
            select(StageInstance).where(
                StageInstance.decision_id == decision_row(ctx).id, StageInstance.stage == stage
            )
        ).one()
        return row.status


def evidence_text(ctx: ServiceContext, kind: str) -> str:
    with Session(ctx.engine) as session:
        row = session.exec(
            select(EvidenceDocument)
            .where(EvidenceDocument.kind == kind)
            .order_by(col(EvidenceDocument.id).desc())
        ).first()
    assert row is not None, kind
    return DocumentStore(ctx.data_dir).get(row.sha256).decode()


def rows(ctx: ServiceContext, model: Any) -> list[Any]:
    with Session(ctx.engine) as session:
        return list(session.exec(select(model).order_by(col(model.id))))


# ---------------------------------------------------------------- §15.4: Party report and reply (Art. 31, P8)
def test_a_party_report_dated_in_the_future_is_refused(ctx: ServiceContext) -> None:
    made(ctx)
    error = refused(
        ctx, "R15", "record_party_report", "chen", "2026-04-20T09:00", decision="D1", on_date="2026-04-21"
    )
    assert error.field == "on_date" and error.kind == "refused"
    act(ctx, "record_party_report", "chen", "2026-04-20T09:00", decision="D1", on_date="2026-04-20")
    [step] = rows(ctx, PartyStep)
    assert (step.kind, str(step.on_date)) == ("report", "2026-04-20")


def test_a_party_report_after_the_meeting_is_not_dated_before_it(ctx: ServiceContext) -> None:
    made(ctx)  # P8 default: after_meeting; the meeting was held on 2026-04-17
    error = refused(
        ctx, "P8", "record_party_report", "chen", "2026-04-20T09:00", decision="D1", on_date="2026-04-16"
    )
    assert error.field == "on_date"
    act(ctx, "record_party_report", "chen", "2026-04-20T09:00", decision="D1", on_date="2026-04-17")
    assert stage_status(ctx, "party_report") == StageStatus.active


def test_where_the_order_is_free_the_report_may_precede_the_meeting(ctx: ServiceContext) -> None:
    made(ctx, {"party_report_order": "either"})
    act(ctx, "record_party_report", "chen", "2026-04-20T09:00", decision="D1", on_date="2026-04-10")
    assert [str(s.on_date) for s in rows(ctx, PartyStep)] == ["2026-04-10"]


def test_the_party_reply_is_not_dated_before_the_report_nor_in_the_future(ctx: ServiceContext) -> None:
    made(ctx)
    act(ctx, "record_party_report", "chen", "2026-04-20T09:00", decision="D1", on_date="2026-04-20")
    fields = {"decision": "D1", "result": "agreed"}
    error = refused(
        ctx, "R15", "record_party_reply", "chen", "2026-04-21T09:00", on_date="2026-04-19", **fields
    )
    assert error.field == "on_date"
    refused(ctx, "R15", "record_party_reply", "chen", "2026-04-21T09:00", on_date="2026-04-22", **fields)
    act(ctx, "record_party_reply", "chen", "2026-04-21T09:00", on_date="2026-04-20", **fields)
    assert stage_status(ctx, "party_report") == StageStatus.completed
    assert [(s.kind, str(s.on_date)) for s in rows(ctx, PartyStep)] == [
        ("report", "2026-04-20"),
        ("reply", "2026-04-20"),
    ]


# ---------------------------------------------------------------- §15.4: congress step (Art. 8)
def test_the_congress_step_is_not_dated_before_the_meeting_nor_in_the_future(ctx: ServiceContext) -> None:
    made(ctx, flags=["congress_step"])
    fields = {"decision": "D1", "kind": "decision", "result": "通过"}
    error = refused(
        ctx, "R15", "record_congress_step", "zhou", "2026-04-24T09:00", on_date="2026-04-16", **fields
    )
    assert error.field == "on_date"
    refused(ctx, "R15", "record_congress_step", "zhou", "2026-04-24T09:00", on_date="2026-04-25", **fields)
    act(ctx, "record_congress_step", "zhou", "2026-04-24T09:00", on_date="2026-04-24", **fields)
    assert stage_status(ctx, "congress") == StageStatus.completed
    # and publication may not come before it (Arts. 8, 32)
    party_done(ctx)
    error = refused(
        ctx,
        "R16",
        "publish_decision",
        "zhou",
        "2026-04-27T09:00",
        decision="D1",
        channels=CHANNELS,
        published_on="2026-04-23",
        text="决定全文",
    )
    assert error.field == "published_on"
    publish(ctx, "2026-04-27T09:00", "2026-04-24")


# ---------------------------------------------------------------- §15.4: publication (Art. 32)
def test_publication_is_not_dated_before_the_meeting_or_the_reply_nor_in_the_future(
    ctx: ServiceContext,
) -> None:
    made(ctx)
    party_done(ctx)  # meeting 04-17, report 04-20, reply 04-21
    fields = {"decision": "D1", "channels": CHANNELS, "text": "决定全文"}
    for on, rule in (("2026-04-16", "R16"), ("2026-04-20", "R16"), ("2026-04-23", "R16")):
        error = refused(ctx, rule, "publish_decision", "zhou", "2026-04-22T09:00", published_on=on, **fields)
        assert error.field == "published_on"
    publish(ctx, "2026-04-22T09:00", "2026-04-21")  # the day of the reply is possible
    [row] = rows(ctx, Publication)
    assert str(row.published_on) == "2026-04-21"
    assert decision_row(ctx).status == DecisionStatus.published


# ---------------------------------------------------------------- §15.7: resume and terminate (Art. 37)
def test_only_the_organ_ends_a_suspension(ctx: ServiceContext) -> None:
    made(ctx)
    assign(ctx)
    suspend(ctx)
    for action in ("resume_execution", "terminate_decision"):
        for actor in ("li", "sun", "chen", "wang"):
            error = refused(
                ctx,
                "AUTH",
                action,
                actor,
                "2026-05-01T09:00",
                decision="D1",
                reason="情况已消除",
                on_date="2026-05-01",
            )
            assert error.kind == "forbidden"


def test_ending_a_suspension_needs_a_reason(ctx: ServiceContext) -> None:
    made(ctx)
    assign(ctx)
    suspend(ctx)
    for action in ("resume_execution", "terminate_decision"):
        for payload in ({}, {"reason": ""}, {"reason": "   "}):
            error = refused(
                ctx,
                "INPUT",
                action,
                "mayor",
                "2026-05-01T09:00",
                decision="D1",
                on_date="2026-05-01",
                **payload,
            )
            assert error.field == "reason"
    assert decision_row(ctx).status == DecisionStatus.suspended


def test_only_a_suspended_decision_is_resumed_or_terminated(ctx: ServiceContext) -> None:
    made(ctx)
    assign(ctx)
    fields = {"decision": "D1", "reason": "理由", "on_date": "2026-05-01"}
    refused(ctx, "STATE", "resume_execution", "mayor", "2026-05-01T09:00", **fields)
    # stopping a made decision without the head's suspension first is what Art. 37 forbids
    error = refused(ctx, "R20", "terminate_decision", "zhou", "2026-05-01T09:00", **fields)
    assert error.field == "decision"
    assert decision_row(ctx).status == DecisionStatus.decided


def test_the_end_of_a_suspension_is_dated_after_it_and_not_in_the_future(ctx: ServiceContext) -> None:
    made(ctx)
    assign(ctx)
    suspend(ctx, "2026-04-19T09:00", "2026-04-19")
    for action in ("resume_execution", "terminate_decision"):
        for on in ("2026-04-18", "2026-05-02"):  # before the suspension; in the future
            error = refused(
                ctx, "R20", action, "mayor", "2026-05-01T09:00", decision="D1", reason="r", on_date=on
            )
            assert error.field == "on_date"
    # the suspension itself is not dated in the future either
    act(ctx, "resume_execution", "zhou", "2026-05-01T09:00", decision="D1", reason="r", on_date="2026-05-01")
    error = refused(
        ctx,
        "R20",
        "suspend_execution",
        "mayor",
        "2026-05-02T09:00",
        decision="D1",
        trigger="force_majeure",
        urgency="台风",
        on_date="2026-05-03",
    )
    assert error.field == "on_date"


def test_a_resumed_decision_returns_to_where_it_was(ctx: ServiceContext) -> None:
    made(ctx)
    assign(ctx)
    suspend(ctx)
    act(
        ctx,
        "resume_execution",
        "mayor",
        "2026-05-01T09:00",
        decision="D1",
        reason="政策已明确",
        on_date="2026-05-01",
    )
    assert decision_row(ctx).status == DecisionStatus.decided
    [row] = rows(ctx, Suspension)
    assert (row.ended_how, str(row.ended_on), row.end_reason, row.ended_by) == (
        "resumed",
        "2026-05-01",
        "政策已明确",
        "mayor",
    )
    assert row.end_evidence_id is not None
    assert "政策已明确" in evidence_text(ctx, "resumption_decision")
    # execution goes on, and a new suspension may follow
    act(ctx, "report_execution_progress", "sun", "2026-05-02T09:00", decision="D1", text="恢复施工")
    party_done(ctx)
    publish(ctx, "2026-05-03T09:00", "2026-05-03")
    suspend(ctx, "2026-05-04T09:00", "2026-05-04")
    act(
        ctx,
        "resume_execution",
        "zhou",
        "2026-05-05T09:00",
        decision="D1",
        reason="已处置",
        on_date="2026-05-05",
    )
    assert decision_row(ctx).status == DecisionStatus.published
    assert [s.ended_how for s in rows(ctx, Suspension)] == ["resumed", "resumed"]


def test_after_termination_only_archiving_remains(ctx: ServiceContext) -> None:
    made(ctx)
    assign(ctx)
    act(ctx, "submit_execution_feedback", "public", "2026-04-18T10:00", decision="D1", text="施工噪音")
    suspend(ctx)
    act(
        ctx,
        "terminate_decision",
        "mayor",
        "2026-05-01T09:00",
        decision="D1",
        reason="上位法修改，决策失去依据",
        on_date="2026-05-01",
    )
    assert decision_row(ctx).status == DecisionStatus.terminated
    [row] = rows(ctx, Suspension)
    assert (row.ended_how, row.end_reason) == ("terminated", "上位法修改，决策失去依据")
    assert "上位法修改" in evidence_text(ctx, "termination_decision")
    # it will not be issued: the steps it had not reached are waived, execution is over
    for stage in ("party_report", "publication"):
        assert stage_status(ctx, stage) == StageStatus.waived
    assert stage_status(ctx, "execution") == StageStatus.completed
    deadlines = {(d.kind, d.status.value, str(d.base_date)) for d in rows(ctx, Deadline)}
    assert ("publication_due", "cancelled", "2026-04-17") in deadlines  # never to be published
    assert ("archive_due", "open", "2026-05-01") in deadlines  # P10, from the termination
    when = "2026-05-02T09:00"
    attempts: list[tuple[str, str, dict[str, Any]]] = [
        ("report_execution_progress", "sun", {"text": "进展"}),
        ("report_execution_problem", "sun", {"trigger": "decision_problem", "text": "问题"}),
        ("assign_execution_unit", "zhou", {"unit": "housing"}),
        ("start_post_evaluation", "zhou", {"trigger": "effect_short", "evaluator_unit": "evaluator"}),
        ("suspend_execution", "mayor", {"trigger": "force_majeure", "urgency": "u", "on_date": "2026-05-02"}),
        ("resume_execution", "mayor", {"reason": "r", "on_date": "2026-05-02"}),
        ("terminate_decision", "mayor", {"reason": "r", "on_date": "2026-05-02"}),
        ("start_adjustment", "zhou", {"ref": "D2", "title": "调整", "reason": "r"}),
        ("record_party_report", "chen", {"on_date": "2026-05-02"}),
        ("publish_decision", "zhou", {"channels": CHANNELS, "published_on": "2026-05-02", "text": "t"}),
        ("submit_execution_feedback", "public", {"text": "还在施工吗"}),
    ]
    for action, actor, payload in attempts:
        refused(ctx, "R20", action, actor, when, decision="D1", **payload)
    # feedback received while it was carried out is still answered
    act(
        ctx,
        "respond_to_input",
        "sun",
        when,
        decision="D1",
        input="F1",
        input_kind="feedback",
        outcome="not_adopted",
        reason="决策已终止执行",
    )
    act(ctx, "archive_decision", "zhou", "2026-05-03T09:00", decision="D1")
    assert decision_row(ctx).status == DecisionStatus.terminated
    assert stage_status(ctx, "archive") == StageStatus.completed
    [dossier] = rows(ctx, ArchiveDossier)
    assert dossier.manifest["decision_status"] == "terminated"
    [entry] = dossier.manifest["suspensions"]
    assert (entry["ended_how"], entry["ended_on"]) == ("terminated", "2026-05-01")
    kinds = [item["kind"] for item in dossier.manifest["items"]]
    assert "suspension_decision" in kinds and "termination_decision" in kinds
    refused(ctx, "STATE", "archive_decision", "zhou", "2026-05-04T09:00", decision="D1")


def test_a_decision_suspended_before_publication_is_published_and_archived(ctx: ServiceContext) -> None:
    made(ctx)
    assign(ctx)
    suspend(ctx, "2026-04-19T09:00", "2026-04-19")
    party_done(ctx)
    publish(ctx)
    decision = decision_row(ctx)
    assert decision.status == DecisionStatus.suspended  # the suspension stays in force
    assert stage_status(ctx, "publication") == StageStatus.completed
    text = evidence_text(ctx, "publication_text")
    assert text.startswith("决定全文") and "中止执行" in text and "2026-04-19" in text
    refused(
        ctx,
        "STATE",  # already published
        "publish_decision",
        "zhou",
        "2026-04-23T09:00",
        decision="D1",
        channels=CHANNELS,
        published_on="2026-04-23",
        text="再次公布",
    )
    act(ctx, "archive_decision", "zhou", "2026-04-23T09:00", decision="D1")
    assert decision_row(ctx).status == DecisionStatus.suspended
    assert stage_status(ctx, "archive") == StageStatus.completed
    [dossier] = rows(ctx, ArchiveDossier)
    assert dossier.manifest["decision_status"] == "suspended"
    [entry] = dossier.manifest["suspensions"]
    assert (entry["on_date"], entry["trigger"], entry["ended_how"]) == (
        "2026-04-19",
        "circumstances_changed",
        "",
    )
    assert "suspension_decision" in [item["kind"] for item in dossier.manifest["items"]]
    with Session(ctx.engine) as session:
        stored = session.exec(
            select(EvidenceDocument).where(EvidenceDocument.kind == "archive_manifest")
        ).one()
    assert (
        json.loads(DocumentStore(ctx.data_dir).get(stored.sha256))["suspensions"][0]["on_date"]
        == "2026-04-19"
    )
    refused(ctx, "STATE", "archive_decision", "zhou", "2026-04-24T09:00", decision="D1")
    # resuming it: it was published and archived meanwhile
    act(
        ctx,
        "resume_execution",
        "mayor",
        "2026-05-01T09:00",
        decision="D1",
        reason="已明确",
        on_date="2026-05-01",
    )
    assert decision_row(ctx).status == DecisionStatus.archived
    act(ctx, "report_execution_progress", "sun", "2026-05-02T09:00", decision="D1", text="恢复执行")


def test_a_decision_suspended_before_the_party_report_can_still_get_it(ctx: ServiceContext) -> None:
    made(ctx)
    suspend(ctx, "2026-04-18T09:00", "2026-04-18")
    refused(ctx, "P8", "record_party_report", "chen", "2026-04-20T09:00", decision="D1", on_date="2026-04-16")
    party_done(ctx)
    assert stage_status(ctx, "party_report") == StageStatus.completed


# ---------------------------------------------------------------- §15.7: the public's feedback (Art. 35(2))
def test_feedback_outside_execution_is_refused(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx)
    refused(ctx, "R18", "submit_execution_feedback", "public", "2026-03-05T09:00", decision="D1", text="意见")
    participation_done(ctx)
    legality_lawful(ctx)
    decided(ctx)
    refused(ctx, "R18", "submit_execution_feedback", "public", "2026-04-18T09:00", decision="D1", text="意见")
    assign(ctx)
    # the system numbers it: the sender cannot choose a reference
    error = refused(
        ctx,
        "INPUT",
        "submit_execution_feedback",
        "public",
        "2026-04-18T10:00",
        decision="D1",
        text="意见",
        ref="X",
    )
    assert error.field == "ref"
    refused(ctx, "INPUT", "submit_execution_feedback", "public", "2026-04-18T10:00", decision="D1", text="  ")
    refused(ctx, "AUTH", "submit_execution_feedback", "li", "2026-04-18T10:00", decision="D1", text="意见")


def test_feedback_is_answered_by_the_execution_unit(ctx: ServiceContext) -> None:
    made(ctx)
    assign(ctx)
    first = act(
        ctx,
        "submit_execution_feedback",
        "public",
        "2026-04-20T09:00",
        decision="D1",
        text="路口拥堵",
        contact="138",
    )
    second = act(
        ctx, "submit_execution_feedback", "public", "2026-04-20T10:00", decision="D1", text="补偿太低"
    )
    assert (first.data, second.data) == ({"feedback": "F1"}, {"feedback": "F2"})
    assert [(f.code, f.text, f.contact) for f in rows(ctx, ExecutionFeedback)] == [
        ("F1", "路口拥堵", "138"),
        ("F2", "补偿太低", ""),
    ]
    answer = {"decision": "D1", "input_kind": "feedback", "outcome": "adopted", "reason": "已调整信号灯"}
    # an undertaking unit, the organ's office, or no such feedback
    error = refused(ctx, "AUTH", "respond_to_input", "li", "2026-04-21T09:00", input="F1", **answer)
    assert error.kind == "forbidden"
    refused(ctx, "AUTH", "respond_to_input", "zhou", "2026-04-21T09:00", input="F1", **answer)
    refused(ctx, "NOT_FOUND", "respond_to_input", "sun", "2026-04-21T09:00", input="F9", **answer)
    act(ctx, "respond_to_input", "sun", "2026-04-21T09:00", input="F1", **answer)
    [response] = rows(ctx, InputResponse)
    assert (response.input_kind, response.input_code, response.outcome, response.responded_by) == (
        "feedback",
        "F1",
        "adopted",
        "sun",
    )


def test_feedback_during_suspension_and_after_archiving(ctx: ServiceContext) -> None:
    made(ctx)
    party_done(ctx)
    publish(ctx)
    act(ctx, "archive_decision", "zhou", "2026-04-23T09:00", decision="D1")
    assign(ctx, "2026-04-24T09:00")  # execution goes on after archiving (Art. 34)
    act(ctx, "submit_execution_feedback", "public", "2026-04-25T09:00", decision="D1", text="进度太慢")
    act(
        ctx,
        "respond_to_input",
        "sun",
        "2026-04-26T09:00",
        decision="D1",
        input="F1",
        input_kind="feedback",
        outcome="partly_adopted",
        reason="已加派人手",
    )
    # the archived file's pre-decision inputs are not re-answered
    refused(
        ctx,
        "R20",
        "respond_to_input",
        "li",
        "2026-04-26T09:00",
        decision="D1",
        input="C1",
        input_kind="comment",
        outcome="adopted",
        reason="r",
    )
    suspend(ctx, "2026-05-01T09:00", "2026-05-01")
    act(ctx, "submit_execution_feedback", "public", "2026-05-02T09:00", decision="D1", text="何时恢复")
    assert [f.code for f in rows(ctx, ExecutionFeedback)] == ["F1", "F2"]


def test_a_withdrawn_decision_answers_nothing(ctx: ServiceContext) -> None:
    """`respond_to_input` passes the framework on a closed decision (for feedback after
    archiving); a withdrawn decision still refuses it."""
    district(ctx)
    drafted(ctx)
    act(
        ctx,
        "open_comment_period",
        "li",
        "2026-03-03T09:00",
        decision="D1",
        start_date="2026-03-03",
        end_date="2026-04-02",
        channels=["website"],
    )
    act(ctx, "submit_public_comment", "public", "2026-03-04T09:00", decision="D1", text="意见")
    act(ctx, "withdraw_decision", "zhou", "2026-03-05T09:00", decision="D1", reason="不再需要")
    answer = {"decision": "D1", "input": "C1", "outcome": "adopted", "reason": "r"}
    refused(ctx, "STATE", "respond_to_input", "li", "2026-03-06T09:00", **answer)
    refused(ctx, "STATE", "respond_to_input", "li", "2026-03-06T09:00", input_kind="feedback", **answer)
