"""Notifications of domain events (issue 9): "a legality review was submitted to you", "a stage
awaits your approval", "your submission was returned, with its reasons"...

Who is told is data (`policy.EVENT_NOTICES`), resolved like the reminders' audiences (by role and
unit, `reminders.Directory`); the message is rendered per recipient's locale from the event's
template, and written as the recipient's inbox entry plus a pending delivery per external
channel, which the sweep's outbox sends with retries. Each (event, recipient) has one key,
`ev:<outbox event id>:u<user id>`, so a second run for the same event writes nothing.

The flow passes the event's facts and labels in plain values (`EventMessage`): this package does
not import the procedure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from models import Decision, Notification, User
from notifications.config import NotificationSettings
from notifications.policy import EVENT_NOTICES
from notifications.reminders import Directory, add_notifications, decision_link
from notifications.render import Renderer


@dataclass(frozen=True)
class EventMessage:
    """One outbox event as its notifications need it. `context` holds the template names
    that do not depend on the recipient (organ, decision, event, step, detail, reason; see
    `render.EVENT_SAMPLE_CONTEXT`)."""

    event_id: int
    event_type: str
    decision: Decision | None
    occurred_at: datetime
    context: Mapping[str, Any]


@dataclass(frozen=True)
class EventNotified:
    notifications: int = 0  # written now
    deliveries: int = 0  # external deliveries queued with them
    already: int = 0  # written by an earlier run for the same event: left alone
    unaddressed: bool = False  # the event has a notice but nobody holds its roles


def event_key(event_id: int, user: User) -> str:
    return f"ev:{event_id}:u{user.id}"


def notify_event(
    session: Session,
    message: EventMessage,
    now: datetime,
    settings: NotificationSettings,
    renderer: Renderer,
) -> EventNotified:
    """Write the notifications of one event in the caller's transaction (none when the event
    has no notice). A notification is late when written more than `late_after_seconds`
    after the event (Prefect was down): the message then says it is sent late."""
    notice = EVENT_NOTICES.get(message.event_type)
    if notice is None:
        return EventNotified()
    directory = Directory(session)
    users = directory.recipients(notice.audiences, message.decision)
    keyed = {event_key(message.event_id, user): user for user in users}
    existing = (
        set(session.exec(select(Notification.key).where(col(Notification.key).in_(sorted(keyed)))))
        if keyed
        else set()
    )
    late = now - message.occurred_at > timedelta(seconds=settings.late_after_seconds)
    code = message.decision.code if message.decision else ""
    link = decision_link(settings, code)
    created: list[tuple[Notification, list[str], User]] = []
    for key, user in keyed.items():
        if key in existing:
            continue
        locale = directory.locale(user, settings)
        values = {
            **message.context,
            "recipient": {"code": user.code, "name": user.name or user.code},
            "late": late,
            "link": link,
        }
        rendered = renderer.render(notice.template, locale, values)
        note = Notification(
            key=key,
            user_id=user.id or 0,
            decision_id=message.decision.id if message.decision else None,
            event=notice.template,
            point=message.event_type[:40],
            level=0,
            locale=locale,
            scheduled_at=message.occurred_at,
            created_at=now,
            late=late,
            subject=rendered.subject,
            body_text=rendered.text,
            body_html=rendered.html,
            link=link,
        )
        created.append((note, directory.channels(user, settings), user))
    deliveries = add_notifications(session, created, now, directory, settings)
    return EventNotified(
        notifications=len(created), deliveries=deliveries, already=len(existing), unaddressed=not users
    )
