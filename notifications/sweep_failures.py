"""Deadlines the sweep could not handle (issue 8): one poisoned row must not stall the rest.

When firing a due deadline (flows.service.sweep) or creating its reminders
(notifications.reminders) raises, the transaction of that deadline is rolled back and the
failure is written on the row: the step, the error (type and message, truncated), the
number of failures in a row and the instant before which the sweep leaves it alone, with
exponential backoff. The sweep's due queries skip a row until its `retry_at`, so a row that
keeps failing is tried at most once per sweep and the rows behind it still fire. A later
success clears the bookkeeping.

The settings are here, in one place; the failure fields are bookkeeping like the reminder
cursor, not decision state, so they are not audited (the sweep's SweepRun row logs them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import or_
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from models import Deadline, DeadlineStatus

Step = Literal["fire", "remind"]


@dataclass(frozen=True)
class RetryPolicy:
    first: timedelta = timedelta(minutes=1)  # wait after the first failure, then doubling
    cap: timedelta = timedelta(hours=1)  # never longer than this between attempts
    error_chars: int = 500  # the stored error is cut to this length (the column's size)

    def backoff(self, failures: int) -> timedelta:
        """The wait after the `failures`-th failure in a row: 1, 2, 4, ... minutes, capped at 1 h."""
        doublings = min(max(0, failures - 1), 30)
        wait: timedelta = self.first * (1 << doublings)
        return min(self.cap, wait)


RETRY = RetryPolicy()


@dataclass(frozen=True)
class DeadlineFailure:
    """One failure in one sweep, for the sweep's report and its SweepRun row."""

    deadline_id: int
    kind: str
    step: Step
    error: str
    failures: int
    retry_at: datetime

    def line(self) -> str:
        return f"deadline {self.deadline_id} ({self.kind}) {self.step} failed ×{self.failures}: {self.error}"


def describe_error(exc: BaseException) -> str:
    message = " ".join(str(exc).split())  # one line: the SQL of a database error spans several
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return text[: RETRY.error_chars]


def retry_due(now: datetime) -> ColumnElement[bool]:
    """The condition, in the sweep's due queries, that a row is not waiting for a retry."""
    return or_(col(Deadline.retry_at).is_(None), col(Deadline.retry_at) <= now)


def note_failure(deadline: Deadline, now: datetime, step: Step, exc: BaseException) -> DeadlineFailure:
    """Write the failure on the row (in the caller's transaction)."""
    deadline.failures = (deadline.failures or 0) + 1
    deadline.failed_step = step
    deadline.last_error = describe_error(exc)
    deadline.failed_at = now
    deadline.retry_at = now + RETRY.backoff(deadline.failures)
    return DeadlineFailure(
        deadline_id=deadline.id or 0,
        kind=deadline.kind,
        step=step,
        error=deadline.last_error,
        failures=deadline.failures,
        retry_at=deadline.retry_at,
    )


def clear_failure(deadline: Deadline) -> int:
    """After a success: forget the failures; returns how many there were."""
    failures = deadline.failures or 0
    if failures or deadline.retry_at is not None:
        deadline.failures = 0
        deadline.failed_step = ""
        deadline.last_error = ""
        deadline.failed_at = None
        deadline.retry_at = None
    return failures


def record_failure(
    session: Session, deadline_id: int, now: datetime, step: Step, exc: BaseException
) -> DeadlineFailure | None:
    """Record a failure in its own small transaction, after the failed one rolled back.
    Nothing is recorded when the row is gone, when there is no longer anything to do for the
    step (an action met the deadline meanwhile), or when a concurrent sweep has just
    recorded the same failure (its retry is still ahead): a failure counts once per attempt."""
    deadline = session.exec(select(Deadline).where(Deadline.id == deadline_id).with_for_update()).first()
    if deadline is None or (deadline.retry_at is not None and deadline.retry_at > now):
        return None
    if step == "fire" and deadline.status != DeadlineStatus.open:
        return None
    if step == "remind" and deadline.next_remind_at is None:
        return None
    failure = note_failure(deadline, now, step, exc)
    session.add(deadline)
    return failure
