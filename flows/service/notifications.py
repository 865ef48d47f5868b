"""Operator views and actions on notifications (issue 3): a user's inbox, the open deadlines
with their traffic light, the deadlines the sweep failed on (issue 8), and the delivery outbox. This module is the only writer of inbox
(read marks) and outbox (operator retry) state; the CLI and, later, the web app call it.

Time is an input: every function that depends on "now" takes it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import or_
from sqlmodel import Session, col, select

from flows import procedure as proc
from flows.calendar import WorkingCalendar
from flows.errors import ProcedureError, not_found, refusal
from flows.service import audit
from flows.service.framework import (
    ServiceContext,
    load_actor,
    load_calendar,
    require_role,
    the_jurisdiction,
    utc,
)
from flows.service.sweep import TRANSITIONS
from models import Deadline, Decision, Delivery, Notification, Unit, User
from models.db import transact
from models.enums import DeadlineStatus, DeliveryStatus
from notifications.policy import DEFAULT_POLICIES

Light = Literal["green", "amber", "red"]
AMBER_DAYS = 3  # due within this many working days (today included) turns the light amber


# ---------------------------------------------------------------------------- inbox
@dataclass(frozen=True)
class InboxItem:
    id: int
    created_at: datetime
    subject: str
    event: str
    decision: str | None  # the decision's code
    late: bool
    read_at: datetime | None
    link: str

    @property
    def unread(self) -> bool:
        return self.read_at is None


def _user(session: Session, code: str) -> User:
    jurisdiction = the_jurisdiction(session)
    user = session.exec(
        select(User).where(User.jurisdiction_id == jurisdiction.id, User.code == code)
    ).first()
    if user is None:
        raise not_found("user", code)
    return user


def inbox(
    ctx: ServiceContext, user_code: str, *, unread_only: bool = False, limit: int = 50
) -> list[InboxItem]:
    """A user's notifications, newest first."""
    with Session(ctx.engine) as session:
        user = _user(session, user_code)
        query = (
            select(Notification, Decision.code)
            .outerjoin(Decision, col(Decision.id) == col(Notification.decision_id))
            .where(Notification.user_id == user.id)
        )
        if unread_only:
            query = query.where(col(Notification.read_at).is_(None))
        rows = session.exec(
            query.order_by(col(Notification.created_at).desc(), col(Notification.id).desc()).limit(limit)
        ).all()
        return [
            InboxItem(
                id=note.id or 0,
                created_at=note.created_at,
                subject=note.subject,
                event=note.event,
                decision=code,
                late=note.late,
                read_at=note.read_at,
                link=note.link,
            )
            for note, code in rows
        ]


def mark_read(
    ctx: ServiceContext,
    user_code: str,
    ids: Sequence[int] | None,
    now: datetime | None = None,
    *,
    actor: str,
) -> int:
    """Mark the user's notifications `ids` read (None: all unread) at `now`, in one
    transaction audited on the inbox's chain; returns how many were unread. Only the inbox's
    owner marks it (`actor` must be `user_code`, AUTH otherwise). An id that is not the
    user's is refused and nothing is written."""
    now = ctx.write_time(now)

    def work(session: Session) -> int:
        jurisdiction = the_jurisdiction(session)
        reader = load_actor(session, jurisdiction, actor)
        user = _user(session, user_code)
        if reader.user_id != user.id:
            raise refusal(
                "AUTH",
                f"只有 {user_code} 本人可以标记其通知为已读（{actor}）",
                f"only {user_code} marks their own notifications read (not {actor})",
                field="actor",
                kind="forbidden",
            )
        # the user row owns the inbox's audit chain: one writer at a time
        session.exec(select(User).where(User.id == user.id).with_for_update()).one()
        if ids is None:
            rows = list(
                session.exec(
                    select(Notification)
                    .where(Notification.user_id == user.id, col(Notification.read_at).is_(None))
                    .with_for_update()
                )
            )
        else:
            wanted = sorted(set(ids))
            found = {
                note.id: note
                for note in session.exec(
                    select(Notification).where(col(Notification.id).in_(wanted)).with_for_update()
                )
            }
            for note_id in wanted:
                note = found.get(note_id)
                if note is None:
                    raise not_found("id", note_id)
                if note.user_id != user.id:
                    raise refusal(
                        "AUTH",
                        f"通知 {note_id} 不属于用户 {user_code}",
                        f"notification {note_id} does not belong to user {user_code}",
                        field="id",
                        kind="forbidden",
                    )
            rows = [found[note_id] for note_id in wanted if found[note_id].read_at is None]
        for note in rows:
            note.read_at = now
            session.add(note)
        session.flush()
        audit.append(
            session,
            chain=f"inbox:{user.id}",
            action="mark_read",
            actor=reader.code,
            actor_roles=reader.roles_text,
            occurred_at=now,
            payload={"ids": "all" if ids is None else sorted(set(ids)), "marked": [n.id for n in rows]},
            decision_id=None,
            os_account=ctx.os_account,
        )
        return len(rows)

    return transact(ctx.engine, work)


# ---------------------------------------------------------------------------- deadlines
@dataclass(frozen=True)
class DeadlineRow:
    id: int
    decision: str | None  # the decision's code
    title: str
    kind: str
    kind_zh: str
    kind_en: str
    stage: str
    stage_zh: str
    stage_en: str
    due_date: date  # local (jurisdiction) date
    due_at: datetime  # UTC instant
    status: DeadlineStatus  # open, or fired (overdue)
    working_days_left: int  # negative when overdue; 0 on the due day
    light: Light
    provisional: bool
    next_remind_at: datetime | None
    article: str

    @property
    def overdue(self) -> bool:
        return self.light == "red"


def traffic_light(due_at: datetime, days_left: int, now: datetime) -> Light:
    """Red once the deadline has passed unmet; amber within AMBER_DAYS working days
    (today included); green otherwise."""
    if due_at <= now:
        return "red"
    return "amber" if days_left <= AMBER_DAYS else "green"


def working_days_left(calendar: WorkingCalendar, today: date, due: date) -> int:
    """Working days after today up to and including the due day (0 on the due day);
    negative when overdue: minus the working days after the due day up to and including today."""
    if due >= today:
        return calendar.working_days_between(today, due)
    return -calendar.working_days_between(due, today)


def can_be_overdue(kind: str) -> bool:
    """Whether a passed deadline of this kind is still owed. Not so for a deadline the system
    acts on by itself (the comment window closes, Art. 15) nor for a permission such as the
    earliest discussion date: the reminder policy gives neither overdue reminders nor an
    escalation, so neither is "overdue" and, once passed, neither is listed."""
    if kind in TRANSITIONS:
        return False
    policy = DEFAULT_POLICIES.get(kind)
    return policy is None or policy.overdue_daily or bool(policy.escalations)


def _unit(session: Session, jurisdiction_id: int | None, unit_code: str | None) -> Unit | None:
    if unit_code is None:
        return None
    unit = session.exec(
        select(Unit).where(Unit.jurisdiction_id == jurisdiction_id, Unit.code == unit_code)
    ).first()
    if unit is None:
        raise not_found("unit", unit_code)
    return unit


def _concerns(unit: Unit | None, decision: Decision | None) -> bool:
    """Whether a deadline of `decision` is listed for `unit` (None: every unit): the unit
    leads or undertakes the decision."""
    if unit is None:
        return True
    return decision is not None and (
        decision.lead_unit_id == unit.id or unit.code in (decision.unit_codes or [])
    )


def deadlines(
    ctx: ServiceContext,
    now: datetime,
    *,
    overdue_only: bool = False,
    unit_code: str | None = None,
    actor: str | None = None,
) -> list[DeadlineRow]:
    """Open deadlines, and fired ones (overdue, still owed), soonest first. A passed deadline
    that cannot be overdue (see `can_be_overdue`) is not listed, nor a confidential
    decision's unless `actor` has a role on it (`flows.service.access`)."""
    from flows.service.access import load_reader, may_read
    from flows.service.sweep import deadline_info

    now = utc(now, "now")
    with Session(ctx.engine) as session:
        reader = load_reader(session, actor)
        jurisdiction = the_jurisdiction(session)
        tz = ZoneInfo(jurisdiction.timezone)
        calendar = load_calendar(session)
        unit = _unit(session, jurisdiction.id, unit_code)
        query = (
            select(Deadline, Decision)
            .outerjoin(Decision, col(Decision.id) == col(Deadline.decision_id))
            .where(col(Deadline.status).in_([DeadlineStatus.open, DeadlineStatus.fired]))
            .order_by(col(Deadline.due_at), col(Deadline.id))
        )
        if overdue_only:
            query = query.where(Deadline.due_at <= now)
        today = now.astimezone(tz).date()
        result: list[DeadlineRow] = []
        for deadline, decision in session.exec(query):
            if not _concerns(unit, decision):
                continue
            if deadline.due_at <= now and not can_be_overdue(deadline.kind):
                continue
            if decision is not None and not may_read(reader, decision):
                continue
            info = deadline_info(deadline, decision.procedure_version if decision else proc.CURRENT_VERSION)
            left = working_days_left(calendar, today, deadline.due_date)
            result.append(
                DeadlineRow(
                    id=deadline.id or 0,
                    decision=decision.code if decision else None,
                    title=decision.title if decision else "",
                    kind=deadline.kind,
                    kind_zh=info.kind.zh,
                    kind_en=info.kind.en,
                    stage=deadline.stage,
                    stage_zh=info.stage.zh,
                    stage_en=info.stage.en,
                    due_date=deadline.due_date,
                    due_at=deadline.due_at,
                    status=deadline.status,
                    working_days_left=left,
                    light=traffic_light(deadline.due_at, left, now),
                    provisional=deadline.provisional,
                    next_remind_at=deadline.next_remind_at,
                    article=deadline.article,
                )
            )
        return result


@dataclass(frozen=True)
class FailedDeadlineRow:
    """A deadline the sweep could not handle, waiting for its next retry (issue 8)."""

    id: int
    decision: str | None  # the decision's code
    title: str
    kind: str
    kind_zh: str
    kind_en: str
    status: DeadlineStatus
    due_at: datetime
    step: str  # fire (the deadline's own transition) or remind (its reminders)
    attempts: int  # failed attempts in a row
    last_error: str
    failed_at: datetime | None
    retry_at: datetime | None


def failed_deadlines(ctx: ServiceContext, *, unit_code: str | None = None) -> list[FailedDeadlineRow]:
    """Deadlines whose firing or reminders failed and still owe that work, the next retry
    first. A deadline met or cancelled meanwhile owes nothing and is not listed."""
    from flows.service.sweep import deadline_info

    with Session(ctx.engine) as session:
        jurisdiction = the_jurisdiction(session)
        unit = _unit(session, jurisdiction.id, unit_code)
        query = (
            select(Deadline, Decision)
            .outerjoin(Decision, col(Decision.id) == col(Deadline.decision_id))
            .where(
                col(Deadline.failures) > 0,
                or_(col(Deadline.status) == DeadlineStatus.open, col(Deadline.next_remind_at).is_not(None)),
            )
            .order_by(col(Deadline.retry_at), col(Deadline.id))
        )
        result: list[FailedDeadlineRow] = []
        for deadline, decision in session.exec(query):
            if not _concerns(unit, decision):
                continue
            info = deadline_info(deadline, decision.procedure_version if decision else proc.CURRENT_VERSION)
            result.append(
                FailedDeadlineRow(
                    id=deadline.id or 0,
                    decision=decision.code if decision else None,
                    title=decision.title if decision else "",
                    kind=deadline.kind,
                    kind_zh=info.kind.zh,
                    kind_en=info.kind.en,
                    status=deadline.status,
                    due_at=deadline.due_at,
                    step=deadline.failed_step,
                    attempts=deadline.failures,
                    last_error=deadline.last_error,
                    failed_at=deadline.failed_at,
                    retry_at=deadline.retry_at,
                )
            )
        return result


# ---------------------------------------------------------------------------- outbox
@dataclass(frozen=True)
class OutboxRow:
    id: int
    channel: str
    target: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime
    last_error: str
    subject: str  # the notification's subject
    created_at: datetime
    sent_at: datetime | None


def _outbox_row(delivery: Delivery, subject: str) -> OutboxRow:
    return OutboxRow(
        id=delivery.id or 0,
        channel=delivery.channel,
        target=delivery.target,
        status=delivery.status,
        attempts=delivery.attempts,
        next_attempt_at=delivery.next_attempt_at,
        last_error=delivery.last_error,
        subject=subject,
        created_at=delivery.created_at,
        sent_at=delivery.sent_at,
    )


def outbox(ctx: ServiceContext, *, failed_only: bool = False, limit: int = 100) -> list[OutboxRow]:
    """Deliveries to external channels, newest first."""
    with Session(ctx.engine) as session:
        query = select(Delivery, Notification.subject).join(
            Notification, col(Notification.id) == col(Delivery.notification_id)
        )
        if failed_only:
            query = query.where(Delivery.status == DeliveryStatus.failed)
        rows = session.exec(
            query.order_by(col(Delivery.created_at).desc(), col(Delivery.id).desc()).limit(limit)
        ).all()
        return [_outbox_row(delivery, subject) for delivery, subject in rows]


OUTBOX_ROLES = frozenset({"admin"})


def retry_delivery(
    ctx: ServiceContext, delivery_id: int, now: datetime | None = None, *, actor: str
) -> OutboxRow:
    """An operator's retry: the delivery is pending again, due at `now`, in one transaction
    audited on the jurisdiction's chain. Needs an administrator (`actor`, AUTH otherwise). A
    sent delivery, one being sent, or an unknown id is refused (field delivery_id)."""
    from notifications.outbox import OutboxError, retry_in

    now = ctx.write_time(now)

    def work(session: Session) -> OutboxRow:
        jurisdiction = the_jurisdiction(session, lock=True)  # owns the jurisdiction's audit chain
        operator = load_actor(session, jurisdiction, actor)
        require_role(operator, OUTBOX_ROLES, "重发投递", "retrying a delivery")
        if session.get(Delivery, delivery_id) is None:
            raise not_found("delivery_id", delivery_id)
        try:
            delivery = retry_in(session, delivery_id, now)
        except OutboxError as exc:
            raise ProcedureError("STATE", "—", exc.zh, exc.en, field=exc.field, kind="refused") from None
        note = session.get(Notification, delivery.notification_id)
        assert note is not None
        session.flush()
        audit.append(
            session,
            chain=f"jurisdiction:{jurisdiction.id}",
            action="retry_delivery",
            actor=operator.code,
            actor_roles=operator.roles_text,
            occurred_at=now,
            payload={"delivery": delivery_id, "channel": delivery.channel, "target": delivery.target},
            decision_id=None,
            os_account=ctx.os_account,
        )
        return _outbox_row(delivery, note.subject)

    return transact(ctx.engine, work)
