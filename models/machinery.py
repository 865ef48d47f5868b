"""Deadlines, outbox events, the audit log and the calendar overrides."""

from datetime import date, datetime
from typing import Any

from sqlalchemy import Index
from sqlmodel import Field, SQLModel, UniqueConstraint

from models.columns import json_dict
from models.enums import DayUnit, DeadlineStatus, text_enum


class Deadline(SQLModel, table=True):
    """A statutory or planned time limit. Stores its inputs so that a
    provisional deadline can be recomputed when the year's calendar is loaded (P13)."""

    __table_args__ = (
        Index("ix_deadline_status_due", "status", "due_at"),
        Index("ix_deadline_next_remind_at", "next_remind_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    decision_id: int | None = Field(default=None, foreign_key="decision.id", index=True)
    kind: str = Field(max_length=40)
    stage: str = Field(max_length=32)
    subject_ref: str = Field(default="", max_length=64)  # e.g. the hearing or review round
    base_date: date
    days: int
    unit: DayUnit = Field(sa_column=text_enum(DayUnit))
    direction: int = 1  # +1 counts forward, -1 backward (lead times before an event)
    roll_to_working_day: bool = True
    due_date: date  # local (jurisdiction) date
    due_at: datetime  # the instant it falls due, UTC
    provisional: bool = False
    blocking: bool = False  # a guard depends on it, vs a reminder deadline (P6, P9)
    article: str = Field(max_length=64)
    status: DeadlineStatus = Field(sa_column=text_enum(DeadlineStatus))
    fired_at: datetime | None = None
    closed_at: datetime | None = None
    created_at: datetime
    # The reminder cursor (issue 3): the next reminder point's instant, None once the
    # deadline is met or cancelled, and the instant up to which points have been handled.
    next_remind_at: datetime | None = None
    reminded_until: datetime | None = None
    # Failure bookkeeping (issue 8): when firing the deadline or creating its reminders
    # raised, the sweep records it and leaves the row alone until `retry_at` (backoff, see
    # notifications.sweep_failures); a later success clears all four.
    failures: int = 0  # failed attempts in a row
    failed_step: str = Field(default="", max_length=16)  # "fire" or "remind"
    last_error: str = Field(default="", max_length=500)  # "ExceptionType: message", truncated
    failed_at: datetime | None = None
    retry_at: datetime | None = None  # not before this instant


class OutboxEvent(SQLModel, table=True):
    """A domain event, committed with the action that emitted it. The dispatcher
    (flows/dispatcher.py) turns it into a Prefect flow run, or into nothing, by the routing
    table of the procedure data, and then sets `dispatched_at`."""

    __table_args__ = (Index("ix_outboxevent_waiting", "dispatched_at", "id"),)
    id: int | None = Field(default=None, primary_key=True)
    event_type: str = Field(max_length=64, index=True)
    decision_id: int | None = Field(default=None, foreign_key="decision.id", index=True)
    idempotency_key: str = Field(max_length=128, unique=True)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=json_dict())
    created_at: datetime
    dispatched_at: datetime | None = None
    # Dispatch bookkeeping (issue 9): the flow the event started ("" for none) and its run.
    flow: str = Field(default="", max_length=64)
    flow_run_id: str | None = Field(default=None, max_length=36)
    # A dispatcher's claim: others leave the event alone until the lease runs out (a
    # dispatcher that died mid-batch); the run's idempotency key makes a retry harmless.
    lease_until: datetime | None = None
    dispatch_attempts: int = 0  # failed attempts to start its run
    dispatch_error: str = Field(default="", max_length=500)  # the last one, "Type: message"


class AuditEvent(SQLModel, table=True):
    """Append-only and hash-chained per chain (one chain per decision, per catalogue year,
    and one for the jurisdiction's set-up)."""

    __table_args__ = (UniqueConstraint("chain", "seq"),)
    id: int | None = Field(default=None, primary_key=True)
    chain: str = Field(max_length=64)
    seq: int
    decision_id: int | None = Field(default=None, foreign_key="decision.id", index=True)
    action: str = Field(max_length=64)
    actor: str = Field(max_length=64)
    actor_roles: str = Field(default="", max_length=200)
    # sha256 of actor_roles as recorded: an edited role list no longer matches it (issue 8)
    roles_hash: str = Field(default="", max_length=64)
    # the operating-system account (or, later, the web session's account) that ran the command
    os_account: str = Field(default="", max_length=64)
    # an administrator's explicit back-dating on a production database: who and why
    backdated_by: str = Field(default="", max_length=64)
    backdate_reason: str = Field(default="", max_length=2000)
    occurred_at: datetime
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=json_dict())
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class CalendarYear(SQLModel, table=True):
    """A year whose holiday notice has been loaded by an administrator."""

    year: int = Field(primary_key=True)
    source: str = Field(max_length=300)
    loaded_at: datetime
    loaded_by: str = Field(max_length=64)


class CalendarDay(SQLModel, table=True):
    """An override: a holiday on a weekday, or a make-up working day (调休) on a weekend."""

    day: date = Field(primary_key=True)
    is_working_day: bool
    note: str = Field(default="", max_length=100)
