"""Notifications (reminders and escalations), their deliveries and the sweep log (issue 3).

A Notification is one message to one user, created exactly once per idempotency key; it
is also that user's in-app inbox entry. Each external channel (e-mail, webhook) gets a
Delivery row, the outbox that the dispatcher works through with retries.
"""

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from models.columns import json_list
from models.enums import DeliveryStatus, text_enum


class Notification(SQLModel, table=True):
    __table_args__ = (Index("ix_notification_user_read", "user_id", "read_at"),)
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=200, unique=True)  # the idempotency key
    user_id: int = Field(foreign_key="user.id")
    decision_id: int | None = Field(default=None, foreign_key="decision.id", index=True)
    deadline_id: int | None = Field(default=None, foreign_key="deadline.id", index=True)
    event: str = Field(max_length=64)  # template name, e.g. deadline.overdue
    point: str = Field(max_length=40)  # which reminder point, e.g. before:3, due, overdue:2
    level: int = 0  # escalation level: 0 assignee, 1 unit head, 2 legal office and supervisors
    locale: str = Field(max_length=8)
    scheduled_at: datetime  # when the policy said it should go out
    created_at: datetime
    late: bool = False  # created after downtime, well after its scheduled time
    subject: str = Field(max_length=300)
    body_text: str
    body_html: str
    link: str = Field(max_length=500)
    read_at: datetime | None = None


class RecipientPreference(SQLModel, table=True):
    """A user's choice of channels and language. Without a row the jurisdiction's
    defaults apply. The inbox always receives: it is the record of what was sent."""

    user_id: int = Field(foreign_key="user.id", primary_key=True)
    locale: str = Field(default="zh_CN", max_length=8)
    channels: list[str] = Field(default_factory=list, sa_column=json_list())


class Delivery(SQLModel, table=True):
    __table_args__ = (Index("ix_delivery_status_next", "status", "next_attempt_at"),)
    id: int | None = Field(default=None, primary_key=True)
    notification_id: int = Field(foreign_key="notification.id", index=True)
    channel: str = Field(max_length=16)
    target: str = Field(max_length=500)  # e-mail address, or the webhook endpoint's name
    idempotency_key: str = Field(max_length=220, unique=True)
    status: DeliveryStatus = Field(sa_column=text_enum(DeliveryStatus))
    attempts: int = 0
    next_attempt_at: datetime
    lease_until: datetime | None = None
    last_error: str = ""
    created_at: datetime
    sent_at: datetime | None = None


class DeliveryAttempt(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = Field(foreign_key="delivery.id", index=True)
    number: int
    at: datetime
    ok: bool
    error: str = ""


class SweepRun(SQLModel, table=True):
    """What one sweep did, for operators (`decisionflow sweep` prints the same)."""

    id: int | None = Field(default=None, primary_key=True)
    now: datetime  # the instant swept for (time is an input)
    fired: int = 0
    transitions: int = 0
    reminders: int = 0
    late: int = 0
    sent: int = 0
    failed: int = 0  # deliveries that failed
    deadline_failures: int = 0  # deadlines whose firing or reminders failed
    error: str = ""  # the deadlines that failed, with their errors; points without a recipient
