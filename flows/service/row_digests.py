"""Digests of the state rows each audit event changed, so that a row edited behind the service
shows: `audit verify` compares every row with the digest its latest event recorded.

The session collects the objects it inserts, updates or deletes (`_collect`, a flush hook on every
session); `audit.append` puts a digest of each into the event's payload under `"rows"`, where
the chained hash covers it. Rows that change without an audit event by design are left out:
append-only logs and delivery bookkeeping (`UNTRACKED`), the reminder cursor and failure
bookkeeping of a deadline, which the sweep moves on every reminder, an outbox event's dispatch
bookkeeping (the event itself is guarded: the dispatcher acts on what it says), and the
counters kept on a decision, which the chain and the comments vouch for (`VOLATILE`)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from functools import cache
from typing import Any

from sqlalchemy import event, insert, inspect
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, SQLModel, col, select

CHANGED = "decisionflow_changed_rows"
INSERTED = "decisionflow_inserted_rows"  # digests of rows written by a Core INSERT (no ORM object)
DELETED = "deleted"

UNTRACKED = frozenset(
    {
        "auditevent",
        "auditcheckpoint",
        "notification",
        "delivery",
        "deliveryattempt",
        "sweeprun",
        "databasemark",
        "alembic_version",
    }
)
VOLATILE: Mapping[str, frozenset[str]] = {
    # derived: the chain's length from the chain itself, the comment counter from the
    # comments (each a tracked row); a digest taken before either existed still matches
    "decision": frozenset({"audit_seq", "audit_head", "comment_seq"}),
    # sign-in bookkeeping, moved by every sign-in attempt and every API call
    "credential": frozenset({"failed_attempts", "locked_until", "last_sign_in_at", "session_epoch"}),
    "apitoken": frozenset({"last_used_at"}),
    "deadline": frozenset(
        {"next_remind_at", "reminded_until", "failures", "failed_step", "last_error", "failed_at", "retry_at"}
    ),
    # the dispatcher's bookkeeping; what the event says and whom it concerns is guarded
    "outboxevent": frozenset(
        {"dispatched_at", "flow", "flow_run_id", "lease_until", "dispatch_attempts", "dispatch_error"}
    ),
}


# ------------------------------------------------------------------ collecting
@event.listens_for(OrmSession, "before_flush")
def _collect(session: OrmSession, _context: Any, _instances: Any) -> None:
    changed: dict[int, tuple[Any, bool]] = session.info.setdefault(CHANGED, {})
    for obj in session.new:
        changed[id(obj)] = (obj, False)
    for obj in session.dirty:
        if session.is_modified(obj, include_collections=False):
            changed[id(obj)] = (obj, False)
    for obj in session.deleted:
        changed[id(obj)] = (obj, True)


@event.listens_for(OrmSession, "after_commit")
@event.listens_for(OrmSession, "after_rollback")
def _forget(session: OrmSession) -> None:
    session.info.pop(CHANGED, None)
    session.info.pop(INSERTED, None)


def record_inserted(session: Session, model: type[SQLModel], rows: Iterable[Mapping[str, Any]]) -> None:
    """Digests of rows inserted with a Core statement, for the next event of the transaction:
    each row must carry every column, primary key included, as the database now holds it."""
    table = str(model.__tablename__)
    columns, key_columns = _shape(model)
    inserted: dict[str, str] = session.info.setdefault(INSERTED, {})
    for row in rows:
        if row.keys() != columns:
            raise ValueError(f"{table}: a recorded row needs exactly the columns {sorted(columns)}")
        key = ",".join(str(row[c]) for c in key_columns)
        inserted[f"{table}:{key}"] = digest(table, row)


@cache
def _shape(model: type[SQLModel]) -> tuple[frozenset[str], tuple[str, ...]]:
    """A table's column names and primary-key names (mapped once per process)."""
    mapper = inspect(model)
    return frozenset(attr.key for attr in mapper.column_attrs), tuple(c.key for c in mapper.primary_key)


def insert_rows(
    session: Session, model: type[SQLModel], rows: Sequence[Mapping[str, Any]], match: str | None = None
) -> list[int]:
    """Insert rows of a tracked table with one Core statement (the hot paths: no ORM object per
    row), record their digests for the transaction's next event, and return their new ids in
    the rows' order. Each row carries every column but the id; several rows need `match`, a
    column unique among them, by which the ids the database returns are matched to the rows."""
    assert match is not None or len(rows) == 1, "several rows need a column to match their ids"
    statement = _insert_returning(model, match)
    connection = session.connection()
    if match is None:
        ids = [int(connection.execute(statement, dict(rows[0])).scalar_one())]
    else:
        returned: Sequence[Any] = connection.execute(statement, list(rows)).all()
        by_match = {value: int(row_id) for row_id, value in returned}
        ids = [by_match[row[match]] for row in rows]
    record_inserted(session, model, [{"id": row_id, **row} for row_id, row in zip(ids, rows, strict=True)])
    return ids


def insert_row(session: Session, model: type[SQLModel], row: Mapping[str, Any]) -> int:
    """`insert_rows` for one row: its new id."""
    return insert_rows(session, model, [row])[0]


@cache  # one statement per table and match column, built on first use
def _insert_returning(model: type[SQLModel], match: str | None) -> Any:
    table = model.__table__  # type: ignore[attr-defined]
    returned = [table.c.id] if match is None else [table.c.id, table.c[match]]
    return insert(table).returning(*returned)


def take(session: Session) -> dict[str, str]:
    """The digests of every tracked row this transaction changed, keyed `table:pk`, and
    forget them (the next event of the same transaction records only what follows)."""
    session.flush()
    changed: dict[int, tuple[Any, bool]] = session.info.pop(CHANGED, {})
    # an ORM change of the same row later in the transaction overrides its inserted digest
    digests: dict[str, str] = dict(session.info.pop(INSERTED, {}))
    for obj, deleted in changed.values():
        table = getattr(obj, "__tablename__", None)
        if not isinstance(obj, SQLModel) or table is None or table in UNTRACKED:
            continue
        key = f"{table}:{primary_key(obj)}"
        digests[key] = DELETED if deleted else digest(table, values(obj))
    return dict(sorted(digests.items()))


# ------------------------------------------------------------------ digests
def primary_key(obj: Any) -> str:
    identity = inspect(obj).identity
    if identity is None:  # deleted before it was flushed, or never flushed
        identity = tuple(getattr(obj, c.key) for c in inspect(type(obj)).primary_key)
    return ",".join(str(part) for part in identity)


def values(obj: Any) -> dict[str, Any]:
    mapper = inspect(type(obj))
    return {attr.key: getattr(obj, attr.key) for attr in mapper.column_attrs}


def digest(table: str, row: Mapping[str, Any]) -> str:
    volatile = VOLATILE.get(table, frozenset())
    body = {key: _plain(value) for key, value in row.items() if key not in volatile}
    text = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


_SCALARS = frozenset({str, int, float, bool})


def _plain(value: Any) -> Any:
    """One spelling per value, whether it comes from the session or back from either database."""
    if value is None or type(value) in _SCALARS:
        return value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat(timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


# ------------------------------------------------------------------ verifying
@dataclass(frozen=True)
class RowProblem:
    row: str  # table:pk
    event: str  # chain#seq of the latest event that recorded it ("" when none did)
    reason: str

    def line(self) -> str:
        if not self.event:
            return f"ROW {self.row}: {self.reason}"
        return f"ROW {self.row} (last recorded by {self.event}): {self.reason}"


def latest_digests(events: Iterable[tuple[str, int, Mapping[str, Any]]]) -> dict[str, tuple[str, str]]:
    """For every row any event recorded, the digest of its latest event: events in the order
    they were written (by id), as (chain, seq, payload)."""
    latest: dict[str, tuple[str, str]] = {}
    for chain, seq, payload in events:
        for key, value in (payload.get("rows") or {}).items():
            latest[key] = (str(value), f"{chain}#{seq}")
    return latest


def verify(session: Session) -> tuple[int, list[RowProblem]]:
    """(rows checked, problems): every row an audit event recorded against the digest of its
    latest event. A row edited or deleted without an audit event is named. On a database
    whose first event already recorded digests, every row of a table keyed by a generated
    id was recorded by the event that wrote it, so a row no event recorded was written
    behind the service (a forged comment) and is named too. (On a database older than the
    digests, rows no event recorded are not judged: they may predate them.)"""
    from models import AuditEvent

    rows = session.exec(
        select(AuditEvent.chain, AuditEvent.seq, AuditEvent.payload).order_by(col(AuditEvent.id))
    ).all()
    latest = latest_digests((chain, seq, payload or {}) for chain, seq, payload in rows)
    digests_from_start = bool(rows) and "rows" in (rows[0][2] or {})
    problems: list[RowProblem] = []
    seen: set[str] = set()
    for table in tracked_tables():
        model = table_models()[table]
        every_row_recorded = digests_from_start and _shape(model)[1] == ("id",)
        for obj in session.exec(select(model)):
            key = f"{table}:{primary_key(obj)}"
            seen.add(key)
            recorded = latest.get(key)
            if recorded is not None and recorded[0] != digest(table, values(obj)):
                problems.append(RowProblem(key, recorded[1], "edited behind the service"))
            elif recorded is None and every_row_recorded:
                problems.append(
                    RowProblem(key, "", "written behind the service (no audit event recorded it)")
                )
    for key, (value, where) in latest.items():
        if key not in seen and value != DELETED and key.split(":", 1)[0] in table_models():
            problems.append(RowProblem(key, where, "deleted behind the service"))
    return len(seen), problems


def table_models() -> dict[str, type[SQLModel]]:
    import models  # noqa: F401  (registers every table)

    found: dict[str, type[SQLModel]] = {}
    for mapper in SQLModel._sa_registry.mappers:
        cls = mapper.class_
        table = getattr(cls, "__tablename__", None)
        if isinstance(table, str) and table not in UNTRACKED:
            found[table] = cls
    return found


def tracked_tables() -> list[str]:
    return sorted(table_models())
