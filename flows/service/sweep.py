"""Automatic transitions when deadlines fall due (design decision 2). The notification
sweep of issue 3 builds reminders on top of this; here only state changes happen, each
in its own transaction, audited with the system as actor."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, col, select

from flows import procedure as proc
from flows.service import audit
from flows.service.framework import (
    MAX_ATTEMPTS,
    SYSTEM,
    ServiceContext,
    Tx,
    _is_conflict,
    load_calendar,
    resolved_settings,
    the_jurisdiction,
)
from models import CommentPeriod, Deadline, Decision
from models.db import session_scope
from models.enums import DeadlineStatus


@dataclass(frozen=True)
class SweepResult:
    fired: int
    transitions: int


def _close_comment_period(tx: Tx, deadline: Deadline) -> bool:
    from flows.service.participation import close_comment_period

    period = tx.session.get(CommentPeriod, int(deadline.subject_ref)) if deadline.subject_ref else None
    if period is None or period.status != "open":
        return False
    close_comment_period(tx, period)
    return True


# What happens, per deadline kind, when it falls due. Kinds not listed are marked fired
# (overdue), which the reminder sweep reports.
TRANSITIONS: dict[str, Callable[[Tx, Deadline], bool]] = {
    "comment_period_end": _close_comment_period,
}


def next_due(session: Session, after: datetime | None = None) -> datetime | None:
    """The next instant at which an open deadline falls due (for scenario replay)."""
    query = select(Deadline.due_at).where(Deadline.status == DeadlineStatus.open)
    if after is not None:
        query = query.where(Deadline.due_at > after)
    return session.exec(query.order_by(col(Deadline.due_at)).limit(1)).first()


def fire_due_deadlines(ctx: ServiceContext, now: datetime) -> SweepResult:
    """Fire every open deadline due at `now`, one transaction per deadline. Locks are taken
    in the same order as actions take them (decision, then deadline), so a sweep waits for
    an action in flight instead of racing it; SKIP LOCKED lets concurrent sweeps share the
    work without firing one deadline twice."""
    now = now.astimezone(UTC)
    fired = transitions = 0
    while True:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                outcome = _fire_next(ctx, now)
                break
            except (IntegrityError, OperationalError) as exc:
                if attempt == MAX_ATTEMPTS or not _is_conflict(exc):
                    raise
        if outcome is None:
            return SweepResult(fired, transitions)
        fired += outcome[0]
        transitions += outcome[1]


def _fire_next(ctx: ServiceContext, now: datetime) -> tuple[int, int] | None:
    """Fire one due deadline: (fired, transitions), or None when nothing is due."""
    with session_scope(ctx.engine) as session:
        candidate = session.exec(
            select(Deadline)
            .where(Deadline.status == DeadlineStatus.open, Deadline.due_at <= now)
            .order_by(col(Deadline.due_at), col(Deadline.id))
            .limit(1)
            .with_for_update(skip_locked=True)
        ).first()
        if candidate is None:
            return None
        decision_id = candidate.decision_id
    with session_scope(ctx.engine) as session:
        decision = (
            session.exec(select(Decision).where(Decision.id == decision_id).with_for_update()).first()
            if decision_id
            else None
        )
        deadline = session.exec(
            select(Deadline).where(Deadline.id == candidate.id).with_for_update(skip_locked=True)
        ).first()
        if deadline is None or deadline.status != DeadlineStatus.open or deadline.due_at > now:
            return (0, 0)  # another sweep or an action dealt with it meanwhile
        jurisdiction = the_jurisdiction(session)
        tx = Tx(
            session=session,
            actor=SYSTEM,
            now=now,
            jurisdiction=jurisdiction,
            settings=resolved_settings(jurisdiction),
            calendar=load_calendar(session),
            documents=ctx.documents,
            action="deadline_due",
            decision=decision,
        )
        handler = TRANSITIONS.get(deadline.kind)
        changed = handler(tx, deadline) if handler and decision else False
        if deadline.status == DeadlineStatus.open:
            deadline.status = DeadlineStatus.fired
        deadline.fired_at = now
        session.add(deadline)
        if decision is not None:
            audit.append(
                session,
                chain=f"decision:{decision.id}",
                action="deadline_due",
                actor=proc.SYSTEM_ACTOR,
                actor_roles="system",
                occurred_at=now,
                payload={
                    "deadline": deadline.kind,
                    "due": deadline.due_date.isoformat(),
                    "article": deadline.article,
                    "transition": changed,
                    **tx.notes,
                },
                decision_id=decision.id,
            )
        return (1, int(changed))
