"""The reminder sweep: turns due reminder points of deadlines into notifications.

Each deadline carries a cursor (`reminded_until`, `next_remind_at`). The sweep takes the
deadlines whose next point has come, under `FOR UPDATE SKIP LOCKED`, creates one
notification per point and recipient under a unique key, and moves the cursor on, all in
one transaction per batch. Concurrent sweeps therefore share the work and each reminder
is created exactly once; a sweep after downtime sends every missed point once, marked late.
A deadline whose reminders fail is recorded and retried later, without holding up the
others (notifications.sweep_failures).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from models import (
    Deadline,
    DeadlineStatus,
    Decision,
    Delivery,
    DeliveryStatus,
    Notification,
    RecipientPreference,
    Unit,
    UnitKind,
    User,
    UserRole,
)
from models.db import transact
from notifications.config import NotificationSettings
from notifications.policy import (
    UNIT_HEAD,
    Audience,
    ReminderPoint,
    ReminderPolicy,
    WorkingDays,
    points_between,
    resolve,
)
from notifications.render import Renderer
from notifications.sweep_failures import (
    DeadlineFailure,
    clear_failure,
    note_failure,
    record_failure,
    retry_due,
)

HEAD_ROLES = ("department_head", "legal_head")
LIVE = (DeadlineStatus.open, DeadlineStatus.fired)  # fired = overdue, still owed


@dataclass(frozen=True)
class Labels:
    zh: str
    en: str


@dataclass(frozen=True)
class DeadlineInfo:
    kind: Labels
    stage: Labels
    fires: str  # start_of_day (a lead time binding from 00:00) or end_of_day (24:00)


@dataclass(frozen=True)
class ReminderEnv:
    """What the sweep needs from the procedure side, passed in (notifications may not
    import the procedure): the calendar, the labels of deadline kinds and stages, and the
    jurisdiction's policy overrides."""

    settings: NotificationSettings
    renderer: Renderer
    calendar: WorkingDays
    tz: ZoneInfo
    organ: str
    overrides: Mapping[str, Any]
    describe: Callable[[Deadline], DeadlineInfo]

    def policy(self, kind: str) -> ReminderPolicy | None:
        return resolve(kind, self.overrides)


@dataclass
class ReminderReport:
    deadlines: int = 0
    reminders: int = 0
    late: int = 0
    deliveries: int = 0
    unaddressed: list[str] = field(default_factory=list)  # points that found no recipient
    failures: list[DeadlineFailure] = field(default_factory=list)  # deadlines whose reminders failed

    def merge(self, other: ReminderReport) -> None:
        self.deadlines += other.deadlines
        self.reminders += other.reminders
        self.late += other.late
        self.deliveries += other.deliveries
        self.unaddressed.extend(other.unaddressed)
        self.failures.extend(other.failures)


def plan(
    deadline: Deadline, policy: ReminderPolicy | None, calendar: WorkingDays, tz: ZoneInfo, now: datetime
) -> None:
    """Set the deadline's reminder cursor after it was created or its due date moved.
    Points before `now` never apply: they belonged to a date that did not exist then."""
    if deadline.status not in LIVE or policy is None:
        deadline.next_remind_at = None
        return
    after = max(deadline.reminded_until or now, now)
    deadline.reminded_until = after
    _, upcoming = points_between(policy, deadline.due_date, deadline.due_at, calendar, tz, after, after)
    deadline.next_remind_at = upcoming.at if upcoming else None


class Directory:
    """Who holds which role in which unit; read once per sweep (small tables)."""

    @classmethod
    def load(cls, engine: Engine) -> Directory:
        """Read in a session of its own, closed and not rolled back, so that its users and
        units stay loaded (a rollback expires the objects its session read)."""
        with Session(engine) as session:
            return cls(session)

    def __init__(self, session: Session) -> None:
        self.units = {u.id: u for u in session.exec(select(Unit))}
        self.users = {u.id: u for u in session.exec(select(User).where(User.active == True))}  # noqa: E712
        self.by_code = {u.code: u for u in self.users.values()}
        self.holders: dict[tuple[int, str], list[User]] = {}
        for row in session.exec(select(UserRole)):
            user = self.users.get(row.user_id)
            if user is not None:
                self.holders.setdefault((user.unit_id, row.role), []).append(user)
        self.prefs = {p.user_id: p for p in session.exec(select(RecipientPreference))}

    def _units(self, ref: str, decision: Decision | None) -> list[Unit]:
        if ref == "lead":
            unit = self.units.get(decision.lead_unit_id) if decision and decision.lead_unit_id else None
            return [unit] if unit else []
        if ref == "acting":
            codes = set(decision.unit_codes) if decision else set()
            return [u for u in self.units.values() if u.code in codes]
        if ref == "legal_office":
            return [u for u in self.units.values() if u.kind == UnitKind.legal_office]
        if ref == "gov_office":
            return [u for u in self.units.values() if u.kind == UnitKind.gov_office]
        return list(self.units.values())

    def _heads(self, unit: Unit) -> list[User]:
        named = self.by_code.get(unit.head_user_code or "")
        if named is not None:
            return [named]
        return [user for role in HEAD_ROLES for user in self.holders.get((unit.id or 0, role), [])]

    def recipients(self, audiences: Iterable[Audience], decision: Decision | None) -> list[User]:
        found: dict[int, User] = {}
        for audience in audiences:
            for unit in self._units(audience.unit, decision):
                if audience.role == UNIT_HEAD:
                    users = self._heads(unit)
                else:
                    users = self.holders.get((unit.id or 0, audience.role), [])
                for user in users:
                    found.setdefault(user.id or 0, user)
        return sorted(found.values(), key=lambda u: u.id or 0)

    def locale(self, user: User, settings: NotificationSettings) -> str:
        pref = self.prefs.get(user.id or 0)
        return pref.locale if pref and pref.locale else settings.default_locale

    def channels(self, user: User, settings: NotificationSettings) -> list[str]:
        """External channels for this user: their preference (else the defaults), among
        those the installation has enabled. The inbox is always written."""
        pref = self.prefs.get(user.id or 0)
        wanted = pref.channels if pref and pref.channels else list(settings.default_channels)
        return [c for c in wanted if c in settings.channels and c != "inbox"]


def reminder_key(deadline: Deadline, point: ReminderPoint, user: User) -> str:
    # The due date is part of the key: an extended deadline earns its own reminders.
    return f"dl:{deadline.id}:{deadline.due_date.isoformat()}:{point.key}:u{user.id}"


def context(
    env: ReminderEnv,
    deadline: Deadline,
    decision: Decision | None,
    point: ReminderPoint,
    user: User,
    late: bool,
) -> dict[str, Any]:
    info = env.describe(deadline)
    code = decision.code if decision else ""
    return {
        "organ": env.organ,
        "decision": {"code": code, "title": decision.title if decision else ""},
        "step": {"zh": info.stage.zh, "en": info.stage.en},
        "deadline": {
            "kind": deadline.kind,
            "zh": info.kind.zh,
            "en": info.kind.en,
            "article": deadline.article,
            "due_date": deadline.due_date,
            "fires": info.fires,
            "provisional": deadline.provisional,
            "timezone": str(env.tz),
        },
        "point": point.key,
        "days": point.days,
        "level": point.level,
        "recipient": {"code": user.code, "name": user.name or user.code},
        "late": late,
        "link": decision_link(env.settings, code),
    }


def decision_link(settings: NotificationSettings, code: str) -> str:
    return f"{settings.web_base_url.rstrip('/')}/decisions/{code}"


def create_due_reminders(
    engine: Engine, now: datetime, make_env: Callable[[Session], ReminderEnv]
) -> ReminderReport:
    """Create the notifications of every reminder point due at `now`. The environment is
    built only when something is due, so an empty sweep is one indexed query.

    One bad deadline does not abort the batch (notifications.sweep_failures): an error while
    composing its reminders is recorded on it inside the batch, which goes on without it;
    an error when the batch is written (or committed) rolls the batch back, and its
    deadlines are then done one per transaction, so that only the bad one fails. The
    normal case keeps one transaction and one bulk insert per batch."""
    now = now.astimezone(UTC)
    report = ReminderReport()
    directory: Directory | None = None
    env: ReminderEnv | None = None  # plain values: a rollback leaves them usable
    batch_size = 100  # until the settings are read
    ids: list[int] = []
    batch = ReminderReport()

    def one_batch(session: Session) -> bool:
        nonlocal env, directory, batch_size, ids, batch
        ids, batch = [], ReminderReport()
        rows = list(session.exec(_due(now).limit(batch_size).with_for_update(skip_locked=True)))
        if not rows:
            return False
        env = env or make_env(session)
        batch_size = env.settings.batch_size
        # read in this attempt's session: an attempt that lost a race rolled back, and with
        # it the users and units an earlier attempt read
        directory = Directory(session)
        ids = [row.id or 0 for row in rows]
        _remind_batch(session, rows, now, env, directory, batch)
        return True

    while True:
        try:
            if not transact(engine, one_batch):
                return report
        except Exception:
            if not ids or env is None or directory is None:
                raise  # not the batch's rows: the query or the environment failed
            # Another sweep created some of these keys first, or one deadline cannot be
            # written: redo the batch one deadline at a time. The rollback expired the users
            # and units the directory read in the batch's session: read them again.
            directory = Directory.load(engine)
            batch = _remind_one_by_one(engine, ids, now, env, directory)
        report.merge(batch)  # counted only once committed


def _due(now: datetime) -> SelectOfScalar[Deadline]:
    """Deadlines whose next reminder point has come, and which are not waiting for a retry."""
    return (
        select(Deadline)
        .where(col(Deadline.next_remind_at) <= now, retry_due(now))
        .order_by(col(Deadline.next_remind_at), col(Deadline.id))
    )


def _remind_one_by_one(
    engine: Engine, ids: list[int], now: datetime, env: ReminderEnv, directory: Directory
) -> ReminderReport:
    """The deadlines `ids`, each in its own transaction; one that still fails is recorded in
    a transaction of its own after its own rolled back. A deadline another sweep has dealt
    with meanwhile (its cursor moved on) or holds locked is skipped."""
    report = ReminderReport()
    for deadline_id in ids:
        one = ReminderReport()

        def remind_one(session: Session, deadline_id: int = deadline_id, one: ReminderReport = one) -> None:
            row = session.exec(
                _due(now).where(Deadline.id == deadline_id).with_for_update(skip_locked=True)
            ).first()
            if row is not None:
                _remind_batch(session, [row], now, env, directory, one)

        try:
            transact(engine, remind_one)
        except Exception as exc:
            failure = transact(
                engine, partial(record_failure, deadline_id=deadline_id, now=now, step="remind", exc=exc)
            )
            one = ReminderReport(failures=[failure] if failure else [])
        report.merge(one)
    return report


def _remind_batch(
    session: Session,
    rows: list[Deadline],
    now: datetime,
    env: ReminderEnv,
    directory: Directory,
    report: ReminderReport,
) -> None:
    decision_ids = {d.decision_id for d in rows if d.decision_id}
    decisions = (
        {d.id: d for d in session.exec(select(Decision).where(col(Decision.id).in_(decision_ids)))}
        if decision_ids
        else {}
    )
    created: list[tuple[Notification, list[str], User]] = []
    for deadline in rows:
        report.deadlines += 1
        try:
            mine = _compose(deadline, decisions, now, env, directory, report)
        except Exception as exc:
            # nothing of this deadline is written but the failure; the batch goes on
            report.failures.append(note_failure(deadline, now, "remind", exc))
            session.add(deadline)
            continue
        created.extend(mine)
    report.deliveries += add_notifications(session, created, now, directory, env.settings)


def add_notifications(
    session: Session,
    created: Iterable[tuple[Notification, list[str], User]],
    now: datetime,
    directory: Directory,
    settings: NotificationSettings,
) -> int:
    """Write new notifications (each one is its user's inbox entry) and a pending delivery
    for each of its external channels that has a target; returns how many deliveries."""
    created = list(created)
    session.add_all([note for note, _, _ in created])
    session.flush()
    deliveries = []
    for note, channels, user in created:
        for channel in channels:
            target = _target(channel, user, directory, settings)
            if target is None:
                continue
            deliveries.append(
                Delivery(
                    notification_id=note.id or 0,
                    channel=channel,
                    target=target,
                    idempotency_key=f"{note.key}:{channel}",
                    status=DeliveryStatus.pending,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
    session.add_all(deliveries)
    return len(deliveries)


def _compose(
    deadline: Deadline,
    decisions: Mapping[int | None, Decision],
    now: datetime,
    env: ReminderEnv,
    directory: Directory,
    report: ReminderReport,
) -> list[tuple[Notification, list[str], User]]:
    """One deadline's due reminders, and its cursor moved on; counted in `report` only when
    all of them could be composed (an exception leaves the deadline and `report` unchanged)."""
    policy = env.policy(deadline.kind)
    if deadline.status not in LIVE or policy is None:
        deadline.next_remind_at = None
        clear_failure(deadline)
        return []
    decision = decisions.get(deadline.decision_id) if deadline.decision_id else None
    late_after = timedelta(seconds=env.settings.late_after_seconds)
    after = deadline.reminded_until or deadline.created_at
    due, upcoming = points_between(
        policy, deadline.due_date, deadline.due_at, env.calendar, env.tz, after, now
    )
    created: list[tuple[Notification, list[str], User]] = []
    unaddressed: list[str] = []
    late_count = 0
    for point in due:
        late = now - point.at > late_after
        users = directory.recipients(policy.audiences(point.level), decision)
        if not users:
            unaddressed.append(f"{deadline.id}:{point.key}")
        for user in users:
            locale = directory.locale(user, env.settings)
            values = context(env, deadline, decision, point, user, late)
            rendered = env.renderer.render(point.event, locale, values)
            note = Notification(
                key=reminder_key(deadline, point, user),
                user_id=user.id or 0,
                decision_id=deadline.decision_id,
                deadline_id=deadline.id,
                event=point.event,
                point=point.key,
                level=point.level,
                locale=locale,
                scheduled_at=point.at,
                created_at=now,
                late=late,
                subject=rendered.subject,
                body_text=rendered.text,
                body_html=rendered.html,
                link=values["link"],
            )
            created.append((note, directory.channels(user, env.settings), user))
            late_count += late
    deadline.reminded_until = now
    deadline.next_remind_at = upcoming.at if upcoming else None
    clear_failure(deadline)
    report.reminders += len(created)
    report.late += late_count
    report.unaddressed.extend(unaddressed)
    return created


def _target(channel: str, user: User, directory: Directory, settings: NotificationSettings) -> str | None:
    if channel == "email":
        return user.email or None  # no address: the inbox still has it
    if channel == "webhook":
        unit = directory.units.get(user.unit_id)
        if unit is not None and unit.code in settings.webhooks:
            return unit.code
        return "*" if "*" in settings.webhooks else None
    return None
