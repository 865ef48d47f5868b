"""The clock rules (issue 8), in one place.

- A **production** database (any database without a simulated-clock mark) accepts writes dated
  now only: an explicit time may differ from the process clock by at most `PAST_SLACK` into the
  past and `FUTURE_SLACK` into the future. Nothing can be dated in the future, so a sweep never
  fires a deadline early; nothing can be dated in the past, so a comment period cannot open and
  close before anyone sees it.
- The one exception is an administrator's explicit, audited back-dating (`Backdate`), never later
  than now and never earlier than the last event of the same audit chain.
- A database created by `scenario run` or `demo` carries a simulated-clock mark (kind `scenario`
  or `demo`); there any time may be given, as scenario files and the demo replay history.

The mark is written when the database is created (models.db.create_schema, mark_database)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy.engine import Engine

from flows.errors import invalid, refusal

DatabaseKind = Literal["demo", "scenario", "production"]
KINDS: tuple[DatabaseKind, ...] = ("demo", "scenario", "production")
SIMULATED_KINDS = frozenset({"demo", "scenario"})

PAST_SLACK = timedelta(seconds=60)  # a write dated this much before the clock is still "now"
FUTURE_SLACK = timedelta(seconds=1)  # clock reads of two processes; never enough to fire early


def database_kind(engine: Engine) -> DatabaseKind:
    """`demo` or `scenario` where the database carries that mark; anything else (no mark, an
    empty database, an unknown value) counts as `production`."""
    from models.db import database_kind as marked_kind

    simulated: dict[str, DatabaseKind] = {"demo": "demo", "scenario": "scenario"}
    return simulated.get(marked_kind(engine), "production")


@dataclass(frozen=True)
class Backdate:
    """An administrator's explicit back-dating of one action: when it happened, why it is
    recorded late, and the administrator (a user code) who answers for it."""

    at: datetime
    reason: str
    by: str


MAX_REASON = 2000


def write_time(kind: DatabaseKind, clock_now: datetime, requested: datetime | None) -> datetime:
    """The time a write is dated: the clock's, or `requested` when the database allows it."""
    clock_now = clock_now.astimezone(UTC)
    if requested is None:
        return clock_now
    if requested.tzinfo is None:
        raise invalid("now", "须带时区", "must carry a time zone")
    requested = requested.astimezone(UTC)
    if kind in SIMULATED_KINDS:
        return requested
    if requested > clock_now + FUTURE_SLACK:
        raise refusal(
            "AUTH",
            f"生产数据库不接受将来的时间 {requested.isoformat()}（现在 {clock_now.isoformat()}）",
            f"a production database takes no time in the future: {requested.isoformat()}"
            f" (now {clock_now.isoformat()})",
            field="now",
            kind="forbidden",
        )
    if requested < clock_now - PAST_SLACK:
        raise refusal(
            "AUTH",
            f"生产数据库只接受当前时间；补记须由管理员以 --backdate 并说明理由（{requested.isoformat()}）",
            f"a production database takes only the current time; recording late needs an administrator's"
            f" --backdate with a reason ({requested.isoformat()})",
            field="now",
            kind="forbidden",
        )
    return requested


def check_backdate(backdate: Backdate, clock_now: datetime) -> datetime:
    """The back-dated instant, checked on its own (the admin and the chain are checked by the
    caller, inside the transaction)."""
    if backdate.at.tzinfo is None:
        raise invalid("backdate", "须带时区", "must carry a time zone")
    reason = backdate.reason.strip()
    if not reason:
        raise invalid("reason", "补记须说明理由", "a back-dating needs a reason")
    if len(reason) > MAX_REASON:
        raise invalid("reason", f"不得超过 {MAX_REASON} 字", f"at most {MAX_REASON} characters")
    moment = backdate.at.astimezone(UTC)
    if moment > clock_now.astimezone(UTC) + FUTURE_SLACK:
        raise invalid("backdate", "补记时间不能晚于现在", "a back-dated time cannot be in the future")
    return moment


def not_before_chain(moment: datetime, last: datetime | None, chain: str) -> None:
    """A back-dated event is never earlier than the last event of its chain."""
    if last is not None and moment < last.astimezone(UTC):
        raise invalid(
            "backdate",
            f"补记时间 {moment.isoformat()} 早于审计链 {chain} 的最后一个事件（{last.isoformat()}）",
            f"{moment.isoformat()} is earlier than the last event of audit chain {chain} ({last.isoformat()})",
        )


__all__ = [
    "Backdate",
    "DatabaseKind",
    "check_backdate",
    "database_kind",
    "not_before_chain",
    "write_time",
]
