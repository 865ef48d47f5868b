"""Automatic transitions when deadlines fall due (design decision 2). The notification
sweep of issue 3 builds reminders on top of this; here only state changes happen, each
in its own transaction, audited with the system as actor."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import Session, col, select

from flows import procedure as proc
from flows.service import audit
from flows.service.framework import (
    SYSTEM,
    ServiceContext,
    Tx,
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
    """Fire every open deadline due at `now`, one transaction per deadline, row-locked so
    that concurrent sweeps never fire one twice (SKIP LOCKED on PostgreSQL)."""
    now = now.astimezone(UTC)
    fired = transitions = 0
    while True:
        with session_scope(ctx.engine) as session:
            deadline = session.exec(
                select(Deadline)
                .where(Deadline.status == DeadlineStatus.open, Deadline.due_at <= now)
                .order_by(col(Deadline.due_at), col(Deadline.id))
                .limit(1)
                .with_for_update(skip_locked=True)
            ).first()
            if deadline is None:
                return SweepResult(fired, transitions)
            jurisdiction = the_jurisdiction(session)
            decision = session.get(Decision, deadline.decision_id) if deadline.decision_id else None
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
            fired += 1
            transitions += changed
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
