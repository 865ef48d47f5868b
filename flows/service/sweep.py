"""The deadline sweep: one function that takes `now` and
1. fires due deadlines: automatic transitions (the comment window closes) and marking
   overdue, each in its own transaction, audited with the system as actor;
2. creates the reminders and escalations whose time has come (notifications.reminders);
3. delivers pending notifications through the outbox (notifications.outbox);
4. records what it did (a SweepRun row, when it did anything).
Every step is safe when several processes sweep at once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

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
from models import CommentPeriod, CommentPeriodStatus, Deadline, Decision, SweepRun
from models.db import session_scope
from models.enums import DeadlineStatus
from notifications.outbox import dispatch
from notifications.reminders import DeadlineInfo, Labels, ReminderEnv, create_due_reminders
from notifications.runtime import build_channels


@dataclass(frozen=True)
class SweepResult:
    fired: int
    transitions: int


@dataclass(frozen=True)
class SweepReport:
    now: datetime
    fired: int = 0
    transitions: int = 0
    reminders: int = 0
    late: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    unaddressed: tuple[str, ...] = ()

    @property
    def did_anything(self) -> bool:
        return any((self.fired, self.reminders, self.sent, self.retried, self.failed))

    def line(self) -> str:
        return (
            f"fired {self.fired} (transitions {self.transitions}), reminders {self.reminders}"
            f" (late {self.late}), sent {self.sent}, retried {self.retried}, failed {self.failed}"
        )


def _close_comment_period(tx: Tx, deadline: Deadline) -> bool:
    from flows.service.participation import close_comment_period

    period = tx.session.get(CommentPeriod, int(deadline.subject_ref)) if deadline.subject_ref else None
    if period is None or period.status != CommentPeriodStatus.open:
        return False
    close_comment_period(tx, period)
    return True


# What happens, per deadline kind, when it falls due. Kinds not listed are marked fired
# (overdue), which the reminder sweep reports.
TRANSITIONS: dict[str, Callable[[Tx, Deadline], bool]] = {
    "comment_period_end": _close_comment_period,
}


def next_due(session: Session) -> datetime | None:
    """The next instant at which the sweep has work: a deadline falls due, or a reminder
    point comes (for scenario replay, which sweeps at exactly those instants)."""
    due = session.exec(
        select(Deadline.due_at)
        .where(Deadline.status == DeadlineStatus.open)
        .order_by(col(Deadline.due_at))
        .limit(1)
    ).first()
    remind = session.exec(
        select(Deadline.next_remind_at)
        .where(col(Deadline.next_remind_at).is_not(None))
        .order_by(col(Deadline.next_remind_at))
        .limit(1)
    ).first()
    return min((t for t in (due, remind) if t is not None), default=None)


def deadline_info(deadline: Deadline, version: str = proc.CURRENT_VERSION) -> DeadlineInfo:
    """Labels of a deadline's kind and stage, from the procedure data of `version` (the
    decision's pinned version)."""
    procedure = proc.procedure(version)
    spec = procedure.deadline_kinds.get(deadline.kind)
    stage = procedure.stage_by_id.get(deadline.stage)
    return DeadlineInfo(
        kind=Labels(spec.zh, spec.en) if spec else Labels(deadline.kind, deadline.kind),
        stage=Labels(stage.zh, stage.en) if stage else Labels(deadline.stage, deadline.stage),
        fires=spec.fires if spec else "end_of_day",
    )


def reminder_env(ctx: ServiceContext, session: Session) -> ReminderEnv:
    jurisdiction = the_jurisdiction(session, lock="calendar_read")
    settings = resolved_settings(jurisdiction)
    return ReminderEnv(
        settings=ctx.notifications,
        renderer=ctx.renderer,
        calendar=load_calendar(session),
        tz=ZoneInfo(jurisdiction.timezone),
        organ=jurisdiction.organ,
        overrides=settings.get("reminder_policy") or {},
        describe=deadline_info,
    )


def sweep(ctx: ServiceContext, now: datetime, *, deliver: bool = True) -> SweepReport:
    """Everything that is due at `now`: transitions, reminders and deliveries. On a
    production database `now` must be now (`ServiceContext.write_time`): a sweep in the
    future would fire deadlines early, one in the past would date its events back."""
    now = ctx.write_time(now)
    fired = fire_due_deadlines(ctx, now)
    reminded = create_due_reminders(ctx.engine, now, lambda session: reminder_env(ctx, session))
    sent = retried = failed = 0
    if deliver:
        channels = build_channels(ctx.notifications)
        try:
            outcome = dispatch(ctx.engine, now, channels, ctx.notifications.retry)
        finally:
            for channel in channels.values():
                channel.close()
        sent, retried, failed = outcome.sent, outcome.retried, outcome.failed
    report = SweepReport(
        now=now,
        fired=fired.fired,
        transitions=fired.transitions,
        reminders=reminded.reminders,
        late=reminded.late,
        sent=sent,
        retried=retried,
        failed=failed,
        unaddressed=tuple(reminded.unaddressed),
    )
    if report.did_anything:
        with session_scope(ctx.engine) as session:
            session.add(
                SweepRun(
                    now=now,
                    fired=report.fired,
                    transitions=report.transitions,
                    reminders=report.reminders,
                    late=report.late,
                    sent=report.sent,
                    failed=report.failed,
                    error="; ".join(f"no recipient for {p}" for p in report.unaddressed)[:2000],
                )
            )
    return report


def fire_due_deadlines(ctx: ServiceContext, now: datetime) -> SweepResult:
    """Fire every open deadline due at `now`, one transaction per deadline. Locks are taken
    in the same order as actions take them (decision, then deadline), so a sweep waits for
    an action in flight instead of racing it; SKIP LOCKED lets concurrent sweeps share the
    work without firing one deadline twice. The clock rules apply as in `sweep`."""
    now = ctx.write_time(now)
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
        # the same lock order as an action: the jurisdiction (calendar) first, then the decision
        jurisdiction = the_jurisdiction(session, lock="calendar_read")
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
            os_account=ctx.os_account,
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
                actor=SYSTEM.code,
                actor_roles=SYSTEM.roles_text,
                occurred_at=now,
                payload={
                    "deadline": deadline.kind,
                    "due": deadline.due_date.isoformat(),
                    "article": deadline.article,
                    "transition": changed,
                    **tx.notes,
                },
                decision_id=decision.id,
                os_account=ctx.os_account,
            )
        return (1, int(changed))
