"""Public participation (公众参与), Arts. 14-18."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from functools import cache
from typing import Any, Literal, NamedTuple

from pydantic import Field
from sqlalchemy import String, and_, bindparam, cast, exists, func
from sqlalchemy import select as sa_select
from sqlmodel import col, select

from flows import rules
from flows.errors import invalid, not_found
from flows.hygiene import next_free_code
from flows.service import row_digests
from flows.service.execution import authorise_answer
from flows.service.framework import DecisionPayload, Tx, action
from models import (
    CommentPeriod,
    Deadline,
    ExpertOpinion,
    Hearing,
    HearingStatement,
    InputResponse,
    ParticipationActivity,
    PublicComment,
)
from models.enums import CommentPeriodStatus, DayUnit, DeadlineStatus
from models.execution import ExecutionFeedback


class OpenCommentPeriod(DecisionPayload):
    start_date: date
    end_date: date
    channels: list[str] = Field(min_length=1)
    urgent_reason: str = ""
    notice: str = ""


@action("open_comment_period", OpenCommentPeriod)
def open_comment_period(tx: Tx, p: OpenCommentPeriod) -> Mapping[str, Any]:
    decision = tx.require_decision()
    tx.enter_stage("public_participation")
    if p.start_date < tx.today:
        # P3: the period starts the day the draft and explanation are published
        tx.refuse("P3", "开始日期不得早于今天", "the start date cannot be in the past", field="start_date")
    tx.check(rules.one_comment_period_at_a_time(open_period(tx) is not None))
    minimum = int(tx.settings["comment_period_min_days"])
    working = None
    if tx.settings["comment_period_unit"] == DayUnit.working.value:
        working = tx.calendar.working_days_between(p.start_date, p.end_date)
    tx.check(rules.comment_period_long_enough(p.start_date, p.end_date, minimum, p.urgent_reason, working))
    period = CommentPeriod(
        decision_id=decision.id or 0,
        start_date=p.start_date,
        end_date=p.end_date,
        channels=list(p.channels),
        urgent_reason=p.urgent_reason,
        opened_by=tx.actor.code,
        opened_at=tx.now,
    )
    tx.session.add(period)
    tx.session.flush()
    # T1 ends at 24:00 of the end date, rolled to the next working day (P2)
    deadline = tx.schedule(
        "comment_period_end",
        p.start_date,
        subject_ref=str(period.id),
        days=(p.end_date - p.start_date).days,
        unit=DayUnit.calendar,
    )
    last_day = deadline.due_date
    rolled = f"（{p.end_date}为休息日，顺延至{last_day}）" if last_day != p.end_date else ""
    notice = p.notice or (
        f"关于公开征求《{decision.title}》意见的公告：征求意见期限自{p.start_date}至{last_day}{rolled}，"
        f"渠道：{'、'.join(p.channels)}。" + (f"缩短期限理由：{p.urgent_reason}" if p.urgent_reason else "")
    )
    # Art. 15: the notice, custom or generated, states the actual last day and any urgent reason
    tx.add_evidence(
        "public_participation", "comment_notice", notice_states_the_law(notice, last_day, p.urgent_reason)
    )
    tx.emit(
        "comment_period_opened",
        {"start": str(p.start_date), "end": str(p.end_date), "last_day": str(last_day)},
    )
    return {"comment_period": period.id, "last_day": last_day.isoformat()}


def _mentions(text: str, day: date) -> bool:
    return any(
        form in text
        for form in (day.isoformat(), f"{day.year}年{day.month}月{day.day}日", day.strftime("%Y年%m月%d日"))
    )


def notice_states_the_law(notice: str, last_day: date, urgent_reason: str) -> str:
    """Art. 15, P2: a comment notice states the actual last day (the end date rolled to a
    working day) and, when the period is shortened, the urgent reason. A custom text that
    leaves either out keeps its wording and gets the missing statement appended, so the
    public always reads both and no free-text date format is refused."""
    additions = []
    if not _mentions(notice, last_day):
        additions.append(
            f"征求意见截止日期：{last_day.year}年{last_day.month}月{last_day.day}日24时"
            f"（{last_day.isoformat()}，遇休息日已顺延）"
        )
    if urgent_reason.strip() and urgent_reason.strip() not in notice:
        additions.append(f"缩短期限理由：{urgent_reason.strip()}")
    return "\n".join([notice, *additions])


class Window(NamedTuple):
    """What a comment needs of the open period: its id, its first day, when it closes, and
    the next comment code if it is free."""

    period_id: int
    start_date: date
    closes_at: datetime | None
    free_code: str | None


def open_window(tx: Tx) -> Window | None:
    """The open comment period, when its deadline closes it, and the next comment code if it
    is free (`C<n>` after the decision's counter; None when a code was taken out of turn), in
    one query of four columns: the public's hot path during a mass consultation."""
    decision = tx.require_decision()
    candidate = f"C{decision.comment_seq + 1}"
    params = {"decision_id": decision.id, "code": candidate}
    found: Any = tx.session.connection().execute(_window_query(), params).first()
    if found is None:
        return None
    period_id, start_date, closes_at, code_taken = found
    return Window(period_id, start_date, closes_at, None if code_taken else candidate)


@cache  # built once per process: the hot path
def _window_query() -> Any:
    decision_id: Any = bindparam("decision_id")
    taken = exists().where(
        col(PublicComment.decision_id) == decision_id, col(PublicComment.code) == bindparam("code")
    )
    return (
        sa_select(col(CommentPeriod.id), col(CommentPeriod.start_date), col(Deadline.due_at), taken)
        .outerjoin(
            Deadline,
            and_(
                col(Deadline.decision_id) == col(CommentPeriod.decision_id),
                col(Deadline.kind) == "comment_period_end",
                col(Deadline.subject_ref) == cast(CommentPeriod.id, String),
                col(Deadline.status).in_([DeadlineStatus.open, DeadlineStatus.fired]),
            ),
        )
        .where(
            col(CommentPeriod.decision_id) == decision_id,
            col(CommentPeriod.status) == CommentPeriodStatus.open,
        )
        .order_by(col(Deadline.id).desc())
    )


def _next_comment_code(tx: Tx) -> str:
    """The first free `C<n>`, reading every code (only when the next one is already taken)."""
    decision = tx.require_decision()
    taken = set(
        tx.session.exec(select(PublicComment.code).where(PublicComment.decision_id == decision.id)).all()
    )
    return next_free_code("C", len(taken) + 1, taken)


def open_period(tx: Tx) -> CommentPeriod | None:
    decision = tx.require_decision()
    return tx.session.exec(
        select(CommentPeriod).where(
            CommentPeriod.decision_id == decision.id, CommentPeriod.status == CommentPeriodStatus.open
        )
    ).first()


def close_comment_period(tx: Tx, period: CommentPeriod) -> None:
    """The automatic transition when T1 falls due (fired by the deadline sweep)."""
    tx.advance("comment_period", period, CommentPeriodStatus.closed, str(period.id))
    period.closed_at = tx.now
    tx.close_deadlines("comment_period_end", subject_ref=str(period.id), status=DeadlineStatus.fired)
    tx.emit("comment_period_closed", {"comment_period": period.id})


class SubmitComment(DecisionPayload):
    # no `ref`: the system numbers comments; the public never chooses its own code
    text: str = Field(min_length=1, max_length=20000)
    name: str = ""
    contact: str = ""
    attachment: str | None = None


@action("submit_public_comment", SubmitComment)
def submit_public_comment(tx: Tx, p: SubmitComment) -> Mapping[str, Any]:
    decision = tx.require_decision()
    window = open_window(tx)
    tx.check(
        rules.comment_window_open(
            tx.now,
            tx.today,
            window.start_date if window else None,
            window.closes_at if window else None,
        )
    )
    assert window is not None
    if not p.name and not tx.settings["anonymous_comments"]:
        raise invalid("name", "本地设置不接受匿名意见", "anonymous comments are not accepted here")
    code = window.free_code or _next_comment_code(tx)  # the public never chooses its code
    decision.comment_seq += 1
    # recorded like evidence, so `audit verify` notices the file altered or removed
    attachment = tx.store_document(p.attachment.encode()) if p.attachment else None
    # the public's hot path: one Core INSERT, its digest recorded for the audit event
    row_digests.insert_row(
        tx.session,
        PublicComment,
        {
            "decision_id": decision.id,
            "period_id": window.period_id,
            "code": code,
            "name": p.name,
            "contact": p.contact,
            "text": p.text,
            "attachment_sha256": attachment,
            "submitted_at": tx.now,
        },
    )
    return {"comment": code}


ActivityKind = Literal[
    "forum",
    "field_visit",
    "written_request",
    "questionnaire",
    "poll",
    "specific_group_consultation",
    "expert_interview",
]


class RecordActivity(DecisionPayload):
    kind: ActivityKind
    held_on: date
    summary: str = Field(min_length=1)
    group_name: str = ""
    evidence: str = ""


@action("record_participation_activity", RecordActivity)
def record_participation_activity(tx: Tx, p: RecordActivity) -> Mapping[str, Any]:
    decision = tx.require_decision()
    tx.enter_stage("public_participation")
    if p.held_on > tx.today:
        raise invalid("held_on", "不得晚于今天", "cannot be in the future")
    if p.kind == "specific_group_consultation" and not p.group_name:
        raise invalid("group_name", "须写明特定群体", "the specific group must be named")
    kind = (
        "specific_group_consultation" if p.kind == "specific_group_consultation" else "participation_activity"
    )
    evidence = tx.add_evidence("public_participation", kind, p.evidence or p.summary)
    row = ParticipationActivity(
        decision_id=decision.id or 0,
        kind=p.kind,
        held_on=p.held_on,
        summary=p.summary,
        group_name=p.group_name,
        evidence_id=evidence.id,
        recorded_by=tx.actor.code,
        recorded_at=tx.now,
    )
    tx.session.add(row)
    tx.session.flush()
    return {"activity": row.id}


InputKind = Literal["comment", "hearing_statement", "expert_opinion", "feedback"]  # feedback: Art. 35(2)


class RespondToInput(DecisionPayload):
    input: str = Field(min_length=1)
    input_kind: InputKind = "comment"
    outcome: Literal["adopted", "partly_adopted", "not_adopted"]
    reason: str = Field(min_length=1)


@action("respond_to_input", RespondToInput)
def respond_to_input(tx: Tx, p: RespondToInput) -> Mapping[str, Any]:
    """Art. 18: every input is studied; adoption or not, with a reason."""
    decision = tx.require_decision()
    authorise_answer(tx, p.input_kind)  # feedback on execution: the execution unit only (Art. 35(2))
    if p.input not in inputs_of_kind(tx, p.input_kind):
        raise not_found("input", p.input)
    existing = tx.session.exec(
        select(InputResponse).where(
            InputResponse.decision_id == decision.id,
            InputResponse.input_kind == p.input_kind,
            InputResponse.input_code == p.input,
        )
    ).first()
    row = existing or InputResponse(
        decision_id=decision.id or 0,
        input_kind=p.input_kind,
        input_code=p.input,
        outcome=p.outcome,
        reason=p.reason,
        responded_by=tx.actor.code,
        responded_at=tx.now,
    )
    row.outcome, row.reason, row.responded_at = p.outcome, p.reason, tx.now
    tx.session.add(row)
    return {"input": p.input, "outcome": p.outcome}


def inputs_of_kind(tx: Tx, kind: str) -> list[str]:
    decision = tx.require_decision()
    if kind == "comment":
        query: Any = select(PublicComment.code).where(PublicComment.decision_id == decision.id)
    elif kind == "hearing_statement":
        query = (
            select(HearingStatement.code)
            .join(Hearing, Hearing.id == HearingStatement.hearing_id)  # type: ignore[arg-type]
            .where(Hearing.decision_id == decision.id)
        )
    elif kind == "feedback":
        query = select(ExecutionFeedback.code).where(ExecutionFeedback.decision_id == decision.id)
    else:
        query = select(ExpertOpinion.code).where(ExpertOpinion.decision_id == decision.id)
    return list(tx.session.exec(query).all())


def responded(tx: Tx, kind: str) -> list[str]:
    decision = tx.require_decision()
    return list(
        tx.session.exec(
            select(InputResponse.input_code).where(
                InputResponse.decision_id == decision.id, InputResponse.input_kind == kind
            )
        ).all()
    )


class CompleteParticipation(DecisionPayload):
    summary: str = ""  # 意见研究采纳情况; generated from the responses when empty


@action("complete_participation", CompleteParticipation)
def complete_participation(tx: Tx, p: CompleteParticipation) -> Mapping[str, Any]:
    decision = tx.require_decision()
    tx.enter_stage("public_participation")
    if open_period(tx) is not None:
        tx.refuse("R3", "征求意见期限尚未届满", "the comment period has not ended", field="decision")
    periods = tx.session.exec(
        select(func.count()).select_from(CommentPeriod).where(CommentPeriod.decision_id == decision.id)
    ).one()
    activities = list(
        tx.session.exec(select(ParticipationActivity).where(ParticipationActivity.decision_id == decision.id))
    )
    tx.check(rules.participation_done(len(activities), int(periods)))
    groups = sum(1 for a in activities if a.kind == "specific_group_consultation")
    tx.check(rules.specific_group_consulted(tx.flags, groups))
    tx.check(rules.unanswered_inputs(inputs_of_kind(tx, "comment"), responded(tx, "comment")))
    summary = p.summary or _adoption_summary(tx)
    tx.add_evidence("public_participation", "participation_summary", summary)
    row = tx.finish_stage("public_participation")
    tx.emit("participation_completed", {"status": row.status.value})
    return {"stage": "public_participation", "status": row.status.value}


def _adoption_summary(tx: Tx) -> str:
    decision = tx.require_decision()
    rows = tx.session.exec(select(InputResponse).where(InputResponse.decision_id == decision.id))
    lines = [f"《{decision.title}》公众意见研究采纳情况"]
    lines += [f"- {r.input_kind} {r.input_code}: {r.outcome}（{r.reason}）" for r in rows]
    return "\n".join(lines)
