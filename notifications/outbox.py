"""The outbox dispatcher: works through the Delivery rows that are due, with retries.

One run, at the instant `now` (time is an input):

1. **Claim** a batch in one short transaction: pending rows whose `next_attempt_at` has come,
   and `sending` rows whose lease has run out (their dispatcher crashed). PostgreSQL locks
   them with `FOR UPDATE SKIP LOCKED`, so concurrent dispatchers take disjoint rows; SQLite
   serialises writers (BEGIN IMMEDIATE). Claimed rows become `sending` until
   `now + retry.lease_seconds`, then the transaction commits.
2. **Send** each claimed message outside any transaction: no lock is held during network I/O.
3. **Record** each result in its own short transaction: a DeliveryAttempt row, then `sent`,
   `pending` again after the backoff, or `failed` (permanent error, attempts used up, or
   channel not enabled).

Delivery is at least once: if the process dies between sending and recording, the lease
runs out and the message is sent again, with the same Message-ID / idempotency key so that
the receiver can drop the copy. Keep `lease_seconds` above the time a batch may take
(`batch_size` x the channel's timeout), or another dispatcher may take over rows that are
still being sent.

Channels: the caller creates them for one run and closes them afterwards; `dispatch` never
calls `close`, so an SMTP session is reused across the run, and nothing stays open between
runs::

    channels = {"email": EmailChannel(settings.smtp)}
    try:
        dispatch(engine, now, channels, settings.retry)
    finally:
        for channel in channels.values():
            channel.close()
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import and_, or_
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models.db import transact
from models.decision import Decision
from models.enums import DeliveryStatus
from models.notification import Delivery, DeliveryAttempt, Notification
from models.org import User
from notifications.channels import Channel, OutgoingMessage
from notifications.config import RetrySettings
from notifications.errors import DeliveryError

log = logging.getLogger(__name__)


class OutboxError(ValueError):
    """An operator's request on the outbox that cannot be done; names the field."""

    def __init__(self, field: str, zh: str, en: str) -> None:
        super().__init__(f"{field}: {zh} / {en}")
        self.field = field
        self.zh = zh
        self.en = en


@dataclass(frozen=True)
class DispatchReport:
    sent: int
    retried: int  # failed this time, pending again after the backoff
    failed: int  # gave up this run (status failed)


@dataclass(frozen=True)
class _Claim:
    delivery_id: int
    channel: str
    lease_until: datetime  # identifies this run's claim when the result is recorded
    message: OutgoingMessage


@dataclass(frozen=True)
class _Outcome:
    ok: bool
    error: str = ""
    permanent: bool = False


Verdict = Literal["sent", "retried", "failed", "superseded"]


def _utc(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("now: 须带时区 / must carry a time zone")
    return now.astimezone(UTC)


def message_for(
    delivery: Delivery, notification: Notification, recipient_name: str, decision_code: str, now: datetime
) -> OutgoingMessage:
    """What a channel is given for one delivery: the notification as rendered when it was
    created, addressed to the delivery's target."""
    return OutgoingMessage(
        idempotency_key=delivery.idempotency_key,
        target=delivery.target,
        subject=notification.subject,
        text=notification.body_text,
        html=notification.body_html,
        link=notification.link,
        event=notification.event,
        recipient=recipient_name,
        decision=decision_code,
        now=now,
    )


def dispatch(
    engine: Engine,
    now: datetime,
    channels: Mapping[str, Channel],
    retry: RetrySettings,
    *,
    limit: int | None = None,
    batch_size: int = 100,
) -> DispatchReport:
    """Send what is due at `now`, at most `limit` deliveries, claiming `batch_size` at a
    time. Safe to run in several processes at once. Does not close the channels."""
    now = _utc(now)
    if batch_size < 1:
        raise ValueError("batch_size: 须至少为 1 / must be at least 1")
    counts: dict[Verdict, int] = {"sent": 0, "retried": 0, "failed": 0, "superseded": 0}
    handled = 0
    while limit is None or handled < limit:
        size = batch_size if limit is None else min(batch_size, limit - handled)
        claims = _claim(engine, now, retry, size)
        if not claims:
            break
        # send the batch, then record every outcome in one transaction: the bookkeeping is
        # batched, and a crash before the record only means a resend once the lease expires
        outcomes = [(claim, _send(claim, channels)) for claim in claims]
        for verdict in _record(engine, outcomes, now, retry):
            counts[verdict] += 1
        handled += len(claims)
    return DispatchReport(sent=counts["sent"], retried=counts["retried"], failed=counts["failed"])


def _claim(engine: Engine, now: datetime, retry: RetrySettings, size: int) -> list[_Claim]:
    lease_until = now + timedelta(seconds=retry.lease_seconds)

    def work(session: Session) -> list[_Claim]:
        due = or_(
            and_(col(Delivery.status) == DeliveryStatus.pending, col(Delivery.next_attempt_at) <= now),
            and_(
                col(Delivery.status) == DeliveryStatus.sending,
                or_(col(Delivery.lease_until) < now, col(Delivery.lease_until).is_(None)),
            ),
        )
        rows: Sequence[Delivery] = session.exec(
            select(Delivery)
            .where(due)
            .order_by(col(Delivery.next_attempt_at), col(Delivery.id))
            .limit(size)
            .with_for_update(skip_locked=True)
        ).all()
        if not rows:
            return []
        for row in rows:
            if row.status == DeliveryStatus.sending:
                log.warning("delivery %s: reclaiming the expired lease of %s", row.id, row.lease_until)
            row.status = DeliveryStatus.sending
            row.lease_until = lease_until
            session.add(row)
        context = {
            notification.id: (notification, name, code or "")
            for notification, name, code in session.exec(
                select(Notification, User.name, Decision.code)
                .join(User, col(User.id) == col(Notification.user_id))
                .outerjoin(Decision, col(Decision.id) == col(Notification.decision_id))
                .where(col(Notification.id).in_({row.notification_id for row in rows}))
            )
        }
        claims = []
        for row in rows:
            assert row.id is not None
            notification, name, code = context[row.notification_id]
            claims.append(
                _Claim(row.id, row.channel, lease_until, message_for(row, notification, name, code, now))
            )
        return claims

    return transact(engine, work)


def _send(claim: _Claim, channels: Mapping[str, Channel]) -> _Outcome:
    channel = channels.get(claim.channel)
    if channel is None:
        return _Outcome(
            ok=False,
            error=f"渠道 {claim.channel} 未启用，无法发送 / channel {claim.channel} is not enabled",
            permanent=True,
        )
    try:
        channel.send(claim.message)
    except DeliveryError as exc:
        return _Outcome(ok=False, error=str(exc), permanent=exc.permanent)
    except Exception as exc:
        # a bug or an unforeseen failure in the channel: logged with its traceback, recorded
        # on the delivery, and retried like a transient error
        log.exception("delivery %s: channel %s raised unexpectedly", claim.delivery_id, claim.channel)
        return _Outcome(
            ok=False,
            error=f"渠道意外出错 / unexpected channel error: {type(exc).__name__}: {exc}",
        )
    return _Outcome(ok=True)


def _record(
    engine: Engine, outcomes: Sequence[tuple[_Claim, _Outcome]], now: datetime, retry: RetrySettings
) -> list[Verdict]:
    """The outcomes of one batch of sends, in one transaction (the rows read in one query)."""

    def work(session: Session) -> list[Verdict]:
        ids = sorted(claim.delivery_id for claim, _ in outcomes)
        rows = {
            row.id: row
            for row in session.exec(select(Delivery).where(col(Delivery.id).in_(ids)).with_for_update())
        }
        return [
            _record_one(session, rows[claim.delivery_id], claim, outcome, now, retry)
            for claim, outcome in outcomes
        ]

    return transact(engine, work)


def _record_one(
    session: Session, row: Delivery, claim: _Claim, outcome: _Outcome, now: datetime, retry: RetrySettings
) -> Verdict:
    row.attempts += 1
    session.add(
        DeliveryAttempt(
            delivery_id=claim.delivery_id, number=row.attempts, at=now, ok=outcome.ok, error=outcome.error
        )
    )
    ours = row.status == DeliveryStatus.sending and row.lease_until == claim.lease_until
    verdict: Verdict
    if outcome.ok and row.status == DeliveryStatus.sent:
        log.warning("delivery %s was sent twice (its lease ran out while it was being sent)", row.id)
        verdict = "superseded"
    elif outcome.ok:  # delivered: true whoever holds the claim now
        row.status = DeliveryStatus.sent
        row.sent_at = now
        row.last_error = ""
        row.lease_until = None
        verdict = "sent"
    elif not ours:
        # another dispatcher took the row over after our lease ran out; its result counts
        log.warning("delivery %s: attempt failed after losing the claim: %s", row.id, outcome.error)
        verdict = "superseded"
    elif outcome.permanent or row.attempts >= retry.max_attempts:
        row.status = DeliveryStatus.failed
        row.last_error = outcome.error
        row.lease_until = None
        verdict = "failed"
    else:
        row.status = DeliveryStatus.pending
        row.last_error = outcome.error
        row.lease_until = None
        row.next_attempt_at = now + timedelta(seconds=retry.backoff(row.attempts))
        verdict = "retried"
    session.add(row)
    return verdict


def retry_delivery(engine: Engine, delivery_id: int, now: datetime) -> Delivery:
    """An operator's retry: a failed (or pending) delivery is due again at `now`. Its
    attempts are kept, so after exhausted attempts this grants one more try. A sent
    delivery is never sent again; one being sent (unexpired lease) is left to its dispatcher."""

    def work(session: Session) -> Delivery:
        return retry_in(session, delivery_id, now)

    return transact(engine, work)


def retry_in(session: Session, delivery_id: int, now: datetime) -> Delivery:
    """`retry_delivery` inside the caller's transaction (the service audits it there)."""
    now = _utc(now)
    row = session.exec(select(Delivery).where(Delivery.id == delivery_id).with_for_update()).first()
    if row is None:
        raise OutboxError("delivery_id", f"没有编号为 {delivery_id} 的投递", f"no delivery {delivery_id}")
    if row.status == DeliveryStatus.sent:
        raise OutboxError(
            "delivery_id",
            f"投递 {delivery_id} 已于 {row.sent_at} 发出，不再重发",
            f"delivery {delivery_id} was sent at {row.sent_at}; it is not sent twice",
        )
    if row.status == DeliveryStatus.sending and row.lease_until is not None and row.lease_until >= now:
        raise OutboxError(
            "delivery_id",
            f"投递 {delivery_id} 正在发送（占用至 {row.lease_until}）",
            f"delivery {delivery_id} is being sent (claimed until {row.lease_until})",
        )
    row.status = DeliveryStatus.pending
    row.next_attempt_at = now
    row.lease_until = None
    session.add(row)
    return row
