"""The deadline sweep: one function that takes `now` and
1. fires due deadlines: automatic transitions (the comment window closes) and marking
   overdue, each in its own transaction, audited with the system as actor; a deadline whose
   firing fails is recorded and retried later with backoff, and the sweep goes on
   (notifications.sweep_failures);
2. creates the reminders and escalations whose time has come (notifications.reminders);
3. delivers pending notifications through the outbox (notifications.outbox);
4. records what it did (a SweepRun row, when it did anything).
Every step is safe when several processes sweep at once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import ParamSpec, TypeVar
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from flows import procedure as proc
from flows.service import audit, checkpoint
from flows.service.framework import (
    SYSTEM,
    ServiceContext,
    Tx,
    load_calendar,
    resolved_settings,
    the_jurisdiction,
)
from models import CommentPeriod, CommentPeriodStatus, Deadline, Decision, SweepRun
from models.db import transact
from models.enums import DeadlineStatus
from notifications.outbox import dispatch
from notifications.reminders import DeadlineInfo, Labels, ReminderEnv, create_due_reminders
from notifications.runtime import build_channels
from notifications.sweep_failures import DeadlineFailure, clear_failure, record_failure, retry_due

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True)
class SweepResult:
    fired: int
    transitions: int
    failures: tuple[DeadlineFailure, ...] = ()


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
    deadline_failures: tuple[DeadlineFailure, ...] = ()  # firing or reminders that raised
    checkpoint: int | None = None  # the seq of the checkpoint this sweep signed, if any

    @property
    def did_anything(self) -> bool:
        return any((self.fired, self.reminders, self.sent, self.retried, self.failed, self.deadline_failures))

    def line(self) -> str:
        return self._lines()[1]

    def line_zh(self) -> str:
        """`line` in Chinese, the same numbers in the same order."""
        return self._lines()[0]

    def _lines(self) -> tuple[str, str]:
        zh = (
            f"到期触发 {self.fired}（状态变化 {self.transitions}），提醒 {self.reminders}"
            f"（补发 {self.late}），已发送 {self.sent}，重试 {self.retried}，失败 {self.failed}"
        )
        en = (
            f"fired {self.fired} (transitions {self.transitions}), reminders {self.reminders}"
            f" (late {self.late}), sent {self.sent}, retried {self.retried}, failed {self.failed}"
        )
        if self.deadline_failures:
            zh += f"，期限处理失败 {len(self.deadline_failures)}"
            en += f", deadline failures {len(self.deadline_failures)}"
        return zh, en

    def error_text(self) -> str:
        """The SweepRun's `error`: the deadlines that failed, then the points without a recipient."""
        lines = [failure.line() for failure in self.deadline_failures]
        lines += [f"no recipient for {point}" for point in self.unaddressed]
        return "; ".join(lines)


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
    """The next instant at which the sweep has work: a deadline falls due, a reminder point
    comes, or a failed deadline's retry (for scenario replay, which sweeps at exactly those
    instants)."""
    due = session.exec(
        select(Deadline.due_at)
        .where(Deadline.status == DeadlineStatus.open, col(Deadline.retry_at).is_(None))
        .order_by(col(Deadline.due_at))
        .limit(1)
    ).first()
    remind = session.exec(
        select(Deadline.next_remind_at)
        .where(col(Deadline.next_remind_at).is_not(None), col(Deadline.retry_at).is_(None))
        .order_by(col(Deadline.next_remind_at))
        .limit(1)
    ).first()
    moments = [t for t in (due, remind) if t is not None]
    # the few rows waiting for a retry: their work is due at the later of the two instants
    for status, due_at, remind_at, retry_at in session.exec(
        select(Deadline.status, Deadline.due_at, Deadline.next_remind_at, Deadline.retry_at).where(
            col(Deadline.retry_at).is_not(None)
        )
    ):
        assert retry_at is not None
        if status == DeadlineStatus.open:
            moments.append(max(due_at, retry_at))
        if remind_at is not None:
            moments.append(max(remind_at, retry_at))
    return min(moments, default=None)


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
        deadline_failures=fired.failures + tuple(reminded.failures),
        checkpoint=sign_checkpoint_if_due(ctx, now),
    )
    if report.did_anything:
        transact(
            ctx.engine,
            lambda session: session.add(
                SweepRun(
                    now=now,
                    fired=report.fired,
                    transitions=report.transitions,
                    reminders=report.reminders,
                    late=report.late,
                    sent=report.sent,
                    failed=report.failed,
                    deadline_failures=len(report.deadline_failures),
                    error=report.error_text()[:2000],
                )
            ),
        )
    return report


def sign_checkpoint_if_due(ctx: ServiceContext, now: datetime) -> int | None:
    """At most hourly, the sweep signs every chain's head into a checkpoint, so a record
    rewritten later shows against it (`audit verify --checkpoints`)."""
    log_dir = ctx.data_dir
    if ctx.checkpoint_key is None or log_dir is None:
        return None  # no key, or no data folder for the checkpoint log: nothing to sign into
    key = checkpoint.load_private(ctx.checkpoint_key)

    def work(session: Session) -> int | None:
        if not checkpoint.due(session, now):
            return None
        return checkpoint.write(session, key, now, log_dir).seq

    return transact(ctx.engine, work)


def fire_due_deadlines(ctx: ServiceContext, now: datetime) -> SweepResult:
    """Fire every open deadline due at `now`, one transaction per deadline. Locks are taken
    in the same order as actions take them (decision, then deadline), so a sweep waits for
    an action in flight instead of racing it; SKIP LOCKED lets concurrent sweeps share the
    work without firing one deadline twice.

    A deadline whose firing fails (anything raised in its transaction, or a conflict that
    outlasts the retries) is rolled back, the failure is recorded on the row in its own
    transaction (notifications.sweep_failures), and the sweep goes on with the next row:
    the due query skips a row until its `retry_at`, so it is tried at most once per sweep.
    The clock rules apply as in `sweep`."""
    now = ctx.write_time(now)
    fired = transitions = 0
    failures: list[DeadlineFailure] = []
    while True:
        candidate = transact(ctx.engine, lambda session: _next_candidate(session, now))
        if candidate is None:
            return SweepResult(fired, transitions, tuple(failures))
        try:
            outcome = transact(ctx.engine, partial(_fire_one, ctx=ctx, candidate=candidate, now=now))
        except Exception as exc:
            failure = transact(
                ctx.engine, partial(record_failure, deadline_id=candidate[0], now=now, step="fire", exc=exc)
            )
            if failure is not None:
                failures.append(failure)
            continue
        fired += outcome[0]
        transitions += outcome[1]


def _next_candidate(session: Session, now: datetime) -> tuple[int, int | None] | None:
    """The next due deadline that is not waiting for a retry: (its id, its decision's id)."""
    candidate = session.exec(
        select(Deadline)
        .where(Deadline.status == DeadlineStatus.open, Deadline.due_at <= now, retry_due(now))
        .order_by(col(Deadline.due_at), col(Deadline.id))
        .limit(1)
        .with_for_update(skip_locked=True)
    ).first()
    return None if candidate is None else (candidate.id or 0, candidate.decision_id)


def _fire_one(
    session: Session, ctx: ServiceContext, candidate: tuple[int, int | None], now: datetime
) -> tuple[int, int]:
    """Fire one due deadline in its own transaction: (fired, transitions)."""
    deadline_id, decision_id = candidate
    # the same lock order as an action: the jurisdiction (calendar) first, then the decision
    jurisdiction = the_jurisdiction(session, lock="calendar_read")
    decision = (
        session.exec(select(Decision).where(Decision.id == decision_id).with_for_update()).first()
        if decision_id
        else None
    )
    deadline = session.exec(
        select(Deadline).where(Deadline.id == deadline_id).with_for_update(skip_locked=True)
    ).first()
    if (
        deadline is None
        or deadline.status != DeadlineStatus.open
        or deadline.due_at > now
        or (deadline.retry_at is not None and deadline.retry_at > now)
    ):
        return (0, 0)  # another sweep or an action dealt with it meanwhile
    tx = Tx(
        session=session,
        actor=SYSTEM,
        now=now,
        jurisdiction=jurisdiction,
        settings=resolved_settings(jurisdiction),
        documents=ctx.documents,
        action="deadline_due",
        decision=decision,
        os_account=ctx.os_account,
    )
    handler = TRANSITIONS.get(deadline.kind)
    changed = handler(tx, deadline) if handler and decision else False
    tx.write_outbox()
    if deadline.status == DeadlineStatus.open:
        deadline.status = DeadlineStatus.fired
    deadline.fired_at = now
    earlier_failures = clear_failure(deadline)
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
                **({"failed_attempts": earlier_failures} if earlier_failures else {}),
                **tx.notes,
            },
            decision_id=decision.id,
            os_account=ctx.os_account,
        )
    return (1, int(changed))
