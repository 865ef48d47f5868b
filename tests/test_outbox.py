"""The outbox dispatcher, mostly against a real SMTP server on 127.0.0.1 (aiosmtpd): retries
with exponential backoff, permanent failures, the operator's retry, leases of crashed
dispatchers, and two dispatchers racing over one outbox without sending a key twice.
Time is an input: each run is given its `now`; nothing sleeps."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from flows.service import ServiceContext
from models.db import make_engine, mark_database, session_scope
from models.decision import Decision
from models.enums import DeliveryStatus
from models.notification import Delivery, DeliveryAttempt, Notification
from models.org import User
from notifications.channels import OutgoingMessage
from notifications.config import RetrySettings
from notifications.email import EmailChannel, message_id
from notifications.errors import DeliveryError
from notifications.outbox import DispatchReport, OutboxError, dispatch, retry_delivery
from tests.helpers import district, registered
from tests.schema import create_all
from tests.smtp_server import SmtpTestServer, serve_smtp

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
RETRY = RetrySettings(max_attempts=4, base_seconds=30, max_seconds=3600, lease_seconds=300)
NOTHING = DispatchReport(sent=0, retried=0, failed=0)


# ---------------------------------------------------------------- fixtures and helpers
@pytest.fixture
def smtp() -> Iterator[SmtpTestServer]:
    with serve_smtp() as server:
        yield server


@pytest.fixture
def email(smtp: SmtpTestServer) -> Iterator[EmailChannel]:
    channel = EmailChannel(smtp.settings())
    yield channel
    channel.close()  # the caller owns the channel, as in production


@pytest.fixture
def outbox(ctx: ServiceContext) -> Engine:
    district(ctx)
    return ctx.engine


def seed(engine: Engine, count: int, *, channel: str = "email", decision_id: int | None = None) -> list[str]:
    """`count` notifications to li, each with one pending delivery due at T0; their keys,
    in id order."""
    keys = []
    with session_scope(engine) as session:
        li = session.exec(select(User).where(User.code == "li")).one()
        assert li.id is not None
        start = len(session.exec(select(Notification.id)).all())
        for i in range(start, start + count):
            notification = Notification(
                key=f"deadline:{i}:li:before:3",
                user_id=li.id,
                decision_id=decision_id,
                event="deadline.before",
                point="before:3",
                locale="zh_CN",
                scheduled_at=T0,
                created_at=T0,
                subject=f"【提醒】第{i}项期限将于3日后届满",
                body_text=f"第{i}项期限将于3日后届满。",
                body_html=f"<p>第{i}项期限将于3日后届满。</p>",
                link=f"http://127.0.0.1:8000/deadlines/{i}",
            )
            session.add(notification)
            session.flush()
            assert notification.id is not None
            key = f"{notification.key}:{channel}"
            session.add(
                Delivery(
                    notification_id=notification.id,
                    channel=channel,
                    target=f"li+{i}@example.org",
                    idempotency_key=key,
                    status=DeliveryStatus.pending,
                    next_attempt_at=T0,
                    created_at=T0,
                )
            )
            keys.append(key)
    return keys


def deliveries(engine: Engine) -> dict[str, Delivery]:
    with Session(engine) as session:
        return {d.idempotency_key: d for d in session.exec(select(Delivery))}


def attempts(engine: Engine, key: str) -> list[tuple[int, datetime, bool, str]]:
    with Session(engine) as session:
        rows = session.exec(
            select(DeliveryAttempt)
            .join(Delivery, col(Delivery.id) == col(DeliveryAttempt.delivery_id))
            .where(Delivery.idempotency_key == key)
            .order_by(col(DeliveryAttempt.number))
        ).all()
        return [(a.number, a.at, a.ok, a.error) for a in rows]


def update(engine: Engine, key: str, **values: object) -> None:
    with session_scope(engine) as session:
        row = session.exec(select(Delivery).where(Delivery.idempotency_key == key)).one()
        for name, value in values.items():
            setattr(row, name, value)
        session.add(row)


class Recorder:
    """An in-memory channel: what the dispatcher handed over, and whether it closed us."""

    name = "email"

    def __init__(self) -> None:
        self.sent: list[OutgoingMessage] = []
        self.closed = 0

    def send(self, message: OutgoingMessage) -> None:
        self.sent.append(message)

    def close(self) -> None:
        self.closed += 1


class Broken(Recorder):
    def send(self, message: OutgoingMessage) -> None:
        raise RuntimeError(f"template cache corrupted for {message.idempotency_key}")


# ---------------------------------------------------------------- retries
def test_a_batch_stopped_in_the_middle_is_finished_after_the_backoff(
    outbox: Engine, smtp: SmtpTestServer, email: EmailChannel
) -> None:
    keys = seed(outbox, 20)
    smtp.refuse(at="DATA", after=7)  # the server takes 7 messages, then says "try again later"

    assert dispatch(outbox, T0, {"email": email}, RETRY) == DispatchReport(sent=7, retried=13, failed=0)
    assert [m.key for m in smtp.messages] == keys[:7]
    backoff = timedelta(seconds=RETRY.backoff(1))
    for key in keys[7:]:
        row = deliveries(outbox)[key]
        assert (row.status, row.attempts, row.sent_at) == (DeliveryStatus.pending, 1, None)
        assert row.next_attempt_at == T0 + backoff and row.lease_until is None
        assert "451 4.3.0 try again later" in row.last_error

    smtp.accept()  # the server is back
    assert dispatch(outbox, T0 + backoff - timedelta(seconds=1), {"email": email}, RETRY) == NOTHING
    assert dispatch(outbox, T0 + backoff, {"email": email}, RETRY) == DispatchReport(
        sent=13, retried=0, failed=0
    )

    received = smtp.messages
    assert Counter(m.key for m in received) == dict.fromkeys(keys, 1)  # each exactly once
    assert sorted(m.message_id for m in received) == sorted(message_id(k) for k in keys)
    assert len(smtp.refusals) == 13
    rows = deliveries(outbox)
    for key in keys[:7]:
        assert (rows[key].status, rows[key].attempts, rows[key].sent_at) == (DeliveryStatus.sent, 1, T0)
        assert attempts(outbox, key) == [(1, T0, True, "")]
    for key in keys[7:]:
        row = rows[key]
        assert (row.status, row.attempts, row.sent_at, row.last_error) == (
            DeliveryStatus.sent,
            2,
            T0 + backoff,
            "",
        )
        (n1, at1, ok1, error1), second = attempts(outbox, key)
        assert (n1, at1, ok1) == (1, T0, False) and "451 4.3.0 try again later" in error1
        assert second == (2, T0 + backoff, True, "")


def test_a_second_run_at_the_same_instant_does_nothing(
    outbox: Engine, smtp: SmtpTestServer, email: EmailChannel
) -> None:
    keys = seed(outbox, 3)
    smtp.refuse(at="RCPT", after=1)
    assert dispatch(outbox, T0, {"email": email}, RETRY) == DispatchReport(sent=1, retried=2, failed=0)
    smtp.accept()
    assert dispatch(outbox, T0, {"email": email}, RETRY) == NOTHING  # not before next_attempt_at
    assert dispatch(outbox, T0 + timedelta(seconds=29), {"email": email}, RETRY) == NOTHING
    assert [m.key for m in smtp.messages] == keys[:1]
    assert [d.attempts for d in deliveries(outbox).values()] == [1, 1, 1]


def test_backoff_doubles_and_is_capped() -> None:
    retry = RetrySettings(base_seconds=30, max_seconds=3600)
    assert [retry.backoff(n) for n in range(1, 10)] == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]


def test_exhausted_attempts_fail_and_the_operators_retry_sends_it(
    outbox: Engine, smtp: SmtpTestServer, email: EmailChannel
) -> None:
    (key,) = seed(outbox, 1)
    smtp.refuse(at="RCPT")
    now = T0
    for n in range(1, RETRY.max_attempts):
        assert dispatch(outbox, now, {"email": email}, RETRY) == DispatchReport(sent=0, retried=1, failed=0)
        row = deliveries(outbox)[key]
        assert row.attempts == n
        assert row.next_attempt_at - now == timedelta(seconds=[30, 60, 120][n - 1])
        now = row.next_attempt_at
    assert dispatch(outbox, now, {"email": email}, RETRY) == DispatchReport(sent=0, retried=0, failed=1)
    row = deliveries(outbox)[key]
    assert (row.status, row.attempts) == (DeliveryStatus.failed, RETRY.max_attempts)
    assert "451 4.3.0 try again later" in row.last_error  # visible to the operator
    assert dispatch(outbox, now + timedelta(days=30), {"email": email}, RETRY) == NOTHING

    smtp.accept()
    later = now + timedelta(days=1)
    retried = retry_delivery(outbox, row.id or 0, later)
    assert (retried.status, retried.next_attempt_at) == (DeliveryStatus.pending, later)
    assert dispatch(outbox, later, {"email": email}, RETRY) == DispatchReport(sent=1, retried=0, failed=0)
    row = deliveries(outbox)[key]
    assert (row.status, row.attempts, row.sent_at, row.last_error) == (DeliveryStatus.sent, 5, later, "")
    assert [(n, ok) for n, _, ok, _ in attempts(outbox, key)] == [
        (1, False),
        (2, False),
        (3, False),
        (4, False),
        (5, True),
    ]
    assert [m.key for m in smtp.messages] == [key]


def test_a_permanent_rejection_fails_at_once(
    outbox: Engine, smtp: SmtpTestServer, email: EmailChannel
) -> None:
    keys = seed(outbox, 2)
    smtp.reject(at="RCPT")
    assert dispatch(outbox, T0, {"email": email}, RETRY) == DispatchReport(sent=0, retried=0, failed=2)
    for key in keys:
        row = deliveries(outbox)[key]
        assert (row.status, row.attempts, row.next_attempt_at) == (DeliveryStatus.failed, 1, T0)
        assert "550 5.1.1 mailbox unavailable" in row.last_error
        assert [ok for _, _, ok, _ in attempts(outbox, key)] == [False]
    smtp.accept()
    assert dispatch(outbox, T0 + timedelta(days=30), {"email": email}, RETRY) == NOTHING
    assert smtp.messages == []


def test_a_channel_that_is_not_enabled_fails_the_delivery_clearly(outbox: Engine) -> None:
    (key,) = seed(outbox, 1, channel="webhook")
    recorder = Recorder()
    assert dispatch(outbox, T0, {"email": recorder}, RETRY) == DispatchReport(sent=0, retried=0, failed=1)
    row = deliveries(outbox)[key]
    assert row.status == DeliveryStatus.failed
    assert "channel webhook is not enabled" in row.last_error and "未启用" in row.last_error
    assert recorder.sent == []


def test_an_unexpected_channel_error_is_recorded_logged_and_retried(
    outbox: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    (key,) = seed(outbox, 1)
    with caplog.at_level(logging.ERROR, logger="notifications.outbox"):
        report = dispatch(outbox, T0, {"email": Broken()}, RETRY)
    assert report == DispatchReport(sent=0, retried=1, failed=0)
    row = deliveries(outbox)[key]
    assert row.status == DeliveryStatus.pending and row.next_attempt_at == T0 + timedelta(seconds=30)
    assert f"RuntimeError: template cache corrupted for {key}" in row.last_error
    ((_, _, ok, error),) = attempts(outbox, key)
    assert not ok and "RuntimeError" in error
    assert any(r.exc_info and isinstance(r.exc_info[1], RuntimeError) for r in caplog.records)

    recorder = Recorder()
    assert dispatch(outbox, T0 + timedelta(seconds=30), {"email": recorder}, RETRY).sent == 1
    assert [m.idempotency_key for m in recorder.sent] == [key]


def test_a_transient_delivery_error_of_the_last_attempt_fails(outbox: Engine) -> None:
    class Flaky(Recorder):
        def send(self, message: OutgoingMessage) -> None:
            raise DeliveryError("暂时不可用 / temporarily unavailable")

    (key,) = seed(outbox, 1)
    retry = RetrySettings(max_attempts=1)
    assert dispatch(outbox, T0, {"email": Flaky()}, retry) == DispatchReport(sent=0, retried=0, failed=1)
    assert deliveries(outbox)[key].last_error == "暂时不可用 / temporarily unavailable"


def test_the_message_carries_the_rendered_notification_and_channels_stay_open(ctx: ServiceContext) -> None:
    district(ctx)
    registered(ctx)
    with Session(ctx.engine) as session:
        decision = session.exec(select(Decision)).one()
        li = session.exec(select(User).where(User.code == "li")).one()
    (key,) = seed(ctx.engine, 1, decision_id=decision.id)
    recorder = Recorder()
    dispatch(ctx.engine, T0, {"email": recorder}, RETRY)
    (message,) = recorder.sent
    assert message.idempotency_key == key and message.target == deliveries(ctx.engine)[key].target
    assert message.subject.startswith("【提醒】") and message.text and message.html.startswith("<p>")
    assert (message.event, message.recipient, message.decision, message.now) == (
        "deadline.before",
        li.name,
        decision.code,
        T0,
    )
    assert message.link.startswith("http://127.0.0.1:8000/deadlines/")
    assert recorder.closed == 0  # the caller closes its channels


def test_limit_and_batch_size(outbox: Engine) -> None:
    keys = seed(outbox, 5)
    recorder = Recorder()
    assert dispatch(outbox, T0, {"email": recorder}, RETRY, limit=2, batch_size=1).sent == 2
    assert dispatch(outbox, T0, {"email": recorder}, RETRY, batch_size=2).sent == 3
    assert [m.idempotency_key for m in recorder.sent] == keys


def test_now_must_carry_a_time_zone(outbox: Engine) -> None:
    with pytest.raises(ValueError, match="time zone"):
        dispatch(outbox, datetime(2026, 3, 2, 9, 0), {}, RETRY)


# ---------------------------------------------------------------- the operator's retry
def test_retry_delivery_refuses_sent_unknown_and_busy_deliveries(outbox: Engine) -> None:
    sent_key, busy_key, crashed_key, pending_key = seed(outbox, 4)
    rows = deliveries(outbox)
    update(outbox, sent_key, status=DeliveryStatus.sent, sent_at=T0, attempts=1)
    update(outbox, busy_key, status=DeliveryStatus.sending, lease_until=T0 + timedelta(minutes=5))
    update(outbox, crashed_key, status=DeliveryStatus.sending, lease_until=T0 - timedelta(minutes=1))

    with pytest.raises(OutboxError) as caught:
        retry_delivery(outbox, rows[sent_key].id or 0, T0)
    assert caught.value.field == "delivery_id"
    assert "not sent twice" in caught.value.en and "不再重发" in caught.value.zh
    with pytest.raises(OutboxError) as caught:
        retry_delivery(outbox, 999_999, T0)
    assert "no delivery 999999" in str(caught.value)
    with pytest.raises(OutboxError) as caught:
        retry_delivery(outbox, rows[busy_key].id or 0, T0)
    assert "being sent" in caught.value.en
    assert deliveries(outbox)[sent_key].status == DeliveryStatus.sent

    later = T0 + timedelta(hours=1)
    for key in (crashed_key, pending_key):
        row = retry_delivery(outbox, rows[key].id or 0, later)
        assert (row.status, row.next_attempt_at, row.lease_until) == (DeliveryStatus.pending, later, None)


# ---------------------------------------------------------------- leases
def test_an_expired_lease_is_reclaimed_and_a_live_one_is_not(
    outbox: Engine, smtp: SmtpTestServer, email: EmailChannel
) -> None:
    crashed, busy, orphan = seed(outbox, 3)
    update(outbox, crashed, status=DeliveryStatus.sending, lease_until=T0 - timedelta(seconds=1))
    update(outbox, busy, status=DeliveryStatus.sending, lease_until=T0 + timedelta(seconds=60))
    update(outbox, orphan, status=DeliveryStatus.sending, lease_until=None)  # hand-edited row

    assert dispatch(outbox, T0, {"email": email}, RETRY) == DispatchReport(sent=2, retried=0, failed=0)
    rows = deliveries(outbox)
    assert rows[crashed].status == rows[orphan].status == DeliveryStatus.sent
    assert (rows[busy].status, rows[busy].lease_until) == (DeliveryStatus.sending, T0 + timedelta(seconds=60))
    assert [m.key for m in smtp.messages] == [crashed, orphan]

    assert dispatch(outbox, T0 + timedelta(seconds=61), {"email": email}, RETRY).sent == 1
    assert [m.key for m in smtp.messages] == [crashed, orphan, busy]


def test_a_claim_lost_to_another_dispatcher_does_not_override_its_result(outbox: Engine) -> None:
    """Dispatcher A's lease runs out while it is still sending; B reclaims the row and
    fails it. A's late failure is recorded as an attempt but leaves B's state alone."""
    (key,) = seed(outbox, 1)
    late = T0 + timedelta(seconds=RETRY.lease_seconds + 1)

    class SlowThenFails(Recorder):
        def send(self, message: OutgoingMessage) -> None:
            # while A is "still sending", B runs with a later clock and reclaims the row
            assert dispatch(outbox, late, {"email": Broken()}, RETRY).retried == 1
            raise DeliveryError("超时 / timed out")

    assert dispatch(outbox, T0, {"email": SlowThenFails()}, RETRY) == NOTHING
    row = deliveries(outbox)[key]
    assert (row.status, row.attempts) == (DeliveryStatus.pending, 2)
    assert row.next_attempt_at == late + timedelta(seconds=30) and "RuntimeError" in row.last_error


# ---------------------------------------------------------------- concurrency
@pytest.fixture(params=["postgresql", "sqlite-file"])
def race_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """PostgreSQL (row locks, SKIP LOCKED) or a SQLite file (one writer at a time); an
    in-memory SQLite database shares one connection, so it cannot host a race."""
    if request.param == "postgresql":
        yield request.getfixturevalue("pg_engine")
        return
    engine = make_engine(f"sqlite:///{tmp_path / 'race.db'}")
    event.listen(engine, "connect", lambda dbapi, _: dbapi.execute("PRAGMA synchronous=OFF"))
    create_all(engine)
    mark_database(engine, "scenario", "tests")  # simulated clock: the test replays time
    try:
        yield engine
    finally:
        engine.dispose()


class Gated:
    """Holds its first send until the other dispatcher holds a claim too, so that the two
    runs certainly overlap."""

    def __init__(self, channel: EmailChannel, gate: threading.Barrier) -> None:
        self.name = channel.name
        self.channel = channel
        self.gate = gate
        self.first = True

    def send(self, message: OutgoingMessage) -> None:
        if self.first:
            self.first = False
            self.gate.wait(timeout=30)
        self.channel.send(message)

    def close(self) -> None:
        self.channel.close()


def test_two_dispatchers_never_send_one_key_twice(
    race_engine: Engine, tmp_path: Path, smtp: SmtpTestServer
) -> None:
    district(ServiceContext(engine=race_engine, data_dir=tmp_path / "data"))
    keys = seed(race_engine, 300)
    start, gate = threading.Barrier(2), threading.Barrier(2)
    reports: dict[str, DispatchReport] = {}
    errors: list[BaseException] = []

    def run(name: str) -> None:
        channel = Gated(EmailChannel(smtp.settings()), gate)
        try:
            start.wait(timeout=30)
            reports[name] = dispatch(race_engine, T0, {"email": channel}, RETRY, batch_size=10)
        except BaseException as exc:
            errors.append(exc)
            gate.abort()
        finally:
            channel.close()

    threads = [threading.Thread(target=run, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert sum(r.sent for r in reports.values()) == 300
    assert all(r.sent >= 10 and r.retried == r.failed == 0 for r in reports.values()), reports

    received = smtp.messages
    assert smtp.duplicates() == {}
    assert Counter(m.message_id for m in received) == {message_id(k): 1 for k in keys}
    assert smtp.connections == 2  # one SMTP session per dispatcher
    rows = deliveries(race_engine)
    assert {(d.status, d.attempts) for d in rows.values()} == {(DeliveryStatus.sent, 1)}
    with Session(race_engine) as session:
        assert len(session.exec(select(DeliveryAttempt)).all()) == 300
