"""The append-only, hash-chained audit log."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import func
from sqlmodel import Session, col, select

from flows.service import row_digests
from flows.service.documents import DocumentStore
from models import AuditEvent, Decision, StoredDocument

GENESIS = "0" * 64


def roles_digest(actor_roles: str) -> str:
    """The hash of an event's recorded roles (`AuditEvent.roles_hash`)."""
    return hashlib.sha256(actor_roles.encode()).hexdigest()


def identity_fields(
    actor_roles: str, roles_hash: str, os_account: str, backdated_by: str, backdate_reason: str
) -> dict[str, str]:
    """Who acted, beyond the actor's code: covered by the chained hash (issue 8)."""
    return {
        "roles": actor_roles,
        "roles_hash": roles_hash,
        "os_account": os_account,
        "backdated_by": backdated_by,
        "backdate_reason": backdate_reason,
    }


class ChainEvent(Protocol):
    """What recomputing a chain reads of an event: an `AuditEvent` row, or the same fields
    read back from a file with no database (an archive dossier's chain, `flows.dossier`)."""

    @property
    def id(self) -> int | None: ...
    @property
    def chain(self) -> str: ...
    @property
    def seq(self) -> int: ...
    @property
    def action(self) -> str: ...
    @property
    def actor(self) -> str: ...
    @property
    def actor_roles(self) -> str: ...
    @property
    def roles_hash(self) -> str: ...
    @property
    def os_account(self) -> str: ...
    @property
    def backdated_by(self) -> str: ...
    @property
    def backdate_reason(self) -> str: ...
    @property
    def occurred_at(self) -> datetime: ...
    @property
    def payload(self) -> Mapping[str, Any]: ...
    @property
    def prev_hash(self) -> str: ...
    @property
    def hash(self) -> str: ...


def event_identity(event: ChainEvent) -> dict[str, str]:
    return identity_fields(
        event.actor_roles, event.roles_hash, event.os_account, event.backdated_by, event.backdate_reason
    )


def event_hash(
    chain: str,
    seq: int,
    action: str,
    actor: str,
    occurred_at: datetime,
    payload: dict[str, Any],
    prev_hash: str,
    identity: dict[str, str] | None = None,
) -> str:
    """The event's hash over every recorded field; `identity` (see `identity_fields`) holds
    the roles, their hash, the operating-system account and any back-dating."""
    fields: dict[str, Any] = {
        "chain": chain,
        "seq": seq,
        "action": action,
        "actor": actor,
        "at": occurred_at.isoformat(timespec="microseconds"),
        "payload": payload,
        "prev": prev_hash,
    }
    if identity is not None:
        fields["identity"] = identity
    body = json.dumps(
        fields,
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def append(
    session: Session,
    *,
    chain: str,
    action: str,
    actor: str,
    actor_roles: str,
    occurred_at: datetime,
    payload: dict[str, Any],
    decision_id: int | None,
    os_account: str = "",
    backdated_by: str = "",
    backdate_reason: str = "",
    new_chain: bool = False,
    head: tuple[int, str] | None = None,
) -> Appended:
    """Append one event. The caller holds the row lock that owns `chain`; the unique
    (chain, seq) key turns any race that slips past it into a retryable conflict.
    `actor_roles` is the actor's roles as held at the time (comma-separated, sorted),
    `os_account` the operating-system account that ran the command; `backdated_by` and
    `backdate_reason` record an administrator's back-dating (issue 8). `head` is the chain's
    last (seq, hash) when the caller read it with the owner's lock (`framework.open_subject`)."""
    owner = _chain_decision(session, chain)
    last = None if new_chain else _last_event(session, chain, owner, head)
    occurred_at = occurred_at.astimezone(UTC)  # hashed as it will read back from the database
    seq = (last[0] + 1) if last else 1
    prev = last[1] if last else GENESIS
    if owner is not None:
        # set before the flush below, so the owner's row is written once per action
        owner.audit_seq = seq
        session.add(owner)
    # the digests of the state rows this transaction changed, so a later edit behind the
    # service shows (row_digests.verify); covered by the chained hash with the payload
    rows = row_digests.take(session)
    payload = json.loads(
        json.dumps({**payload, "rows": rows} if rows else payload, ensure_ascii=False, default=str)
    )
    os_account = os_account[:64]
    roles_hash = roles_digest(actor_roles)
    identity = identity_fields(actor_roles, roles_hash, os_account, backdated_by, backdate_reason)
    digest = event_hash(chain, seq, action, actor, occurred_at, payload, prev, identity)
    # a Core INSERT on the session's connection, after the flush in `row_digests.take`: every
    # action appends one event, and an ORM object per event costs more than the statement
    session.connection().execute(
        _INSERT_EVENT,
        {
            "chain": chain,
            "seq": seq,
            "decision_id": decision_id,
            "action": action,
            "actor": actor,
            "actor_roles": actor_roles,
            "roles_hash": roles_hash,
            "os_account": os_account,
            "backdated_by": backdated_by,
            "backdate_reason": backdate_reason,
            "occurred_at": occurred_at,
            "payload": payload,
            "prev_hash": prev,
            "hash": digest,
        },
    )
    return Appended(chain, seq, digest)


@dataclass(frozen=True)
class Appended:
    """The event `append` wrote: its place in the chain and its hash."""

    chain: str
    seq: int
    hash: str


_INSERT_EVENT = AuditEvent.__table__.insert()  # type: ignore[attr-defined]


def _last_event(
    session: Session, chain: str, owner: Decision | None, head: tuple[int, str] | None
) -> tuple[int, str] | None:
    """The chain's last (seq, hash): as read with the owner's lock, else by the length the
    owner keeps, else from the chain's newest event. A chain this transaction starts (a
    decision just registered) has none; the unique (chain, seq) key guards every claim."""
    if owner is not None and owner.audit_seq and head is not None and head[0] == owner.audit_seq:
        return head
    query = select(AuditEvent.seq, AuditEvent.hash).where(AuditEvent.chain == chain)
    if owner is not None and owner.audit_seq:
        query = query.where(AuditEvent.seq == owner.audit_seq)
    found = session.exec(query.order_by(col(AuditEvent.seq).desc()).limit(1)).first()
    return (found[0], found[1]) if found else None


def _chain_decision(session: Session, chain: str) -> Decision | None:
    """The decision that owns a `decision:<id>` chain (from the session when it is loaded)."""
    kind, _, key = chain.partition(":")
    return session.get(Decision, int(key)) if kind == "decision" and key.isdigit() else None


@dataclass(frozen=True)
class ChainBreak:
    chain: str
    seq: int
    event_id: int
    reason: str


def verify_events(events: Sequence[ChainEvent]) -> ChainBreak | None:
    """Recompute one chain (events in seq order); name the first broken event. Pure: it
    reads only the events given, database rows or records read from a file."""
    prev = GENESIS
    for expected_seq, event in enumerate(events, start=1):
        assert event.id is not None
        if event.seq != expected_seq:
            return ChainBreak(event.chain, event.seq, event.id, f"sequence gap: expected {expected_seq}")
        if event.prev_hash != prev:
            return ChainBreak(event.chain, event.seq, event.id, "prev_hash does not match the previous event")
        # an event written before identities were recorded (migration 0007 left its
        # roles_hash empty) was hashed without them; a later edit of it still breaks the hash
        legacy = event.roles_hash == "" and not (event.os_account or event.backdated_by)
        if not legacy and event.roles_hash != roles_digest(event.actor_roles):
            return ChainBreak(event.chain, event.seq, event.id, "actor_roles does not match its hash")
        recomputed = event_hash(
            event.chain,
            event.seq,
            event.action,
            event.actor,
            event.occurred_at,
            dict(event.payload),
            event.prev_hash,
            None if legacy else event_identity(event),
        )
        if recomputed != event.hash:
            return ChainBreak(event.chain, event.seq, event.id, "content does not match its hash")
        prev = event.hash
    return None


def verify_all(session: Session) -> tuple[int, int, list[ChainBreak]]:
    """(chains checked, events checked, breaks)."""
    chains = session.exec(select(AuditEvent.chain).distinct()).all()
    breaks: list[ChainBreak] = []
    total = 0
    for chain in sorted(chains):
        events = list(
            session.exec(select(AuditEvent).where(AuditEvent.chain == chain).order_by(col(AuditEvent.seq)))
        )
        total += len(events)
        found = verify_events(events)
        if found:
            breaks.append(found)
    return len(chains), total, breaks


@dataclass(frozen=True)
class BlobProblem:
    sha256: str
    reason: str


def verify_documents(session: Session, store: DocumentStore) -> tuple[int, list[BlobProblem]]:
    """(blobs checked, problems): every stored document's file in the data folder is read
    back and compared with its row's SHA-256 and size; a missing or altered file is named."""
    rows = session.exec(select(StoredDocument).order_by(col(StoredDocument.sha256))).all()
    if rows and store.data_dir is None:
        return len(rows), [BlobProblem("*", "no data folder is configured (DECISIONFLOW_DATA_DIR)")]
    problems: list[BlobProblem] = []
    for row in rows:
        reason = store.problem(row.sha256, row.size)
        if reason is not None:
            problems.append(BlobProblem(row.sha256, reason))
    return len(rows), problems


def last_occurred_at(session: Session, chain: str) -> datetime | None:
    """When the chain's newest event happened (None for a new chain)."""
    return session.exec(
        select(AuditEvent.occurred_at)
        .where(AuditEvent.chain == chain)
        .order_by(col(AuditEvent.seq).desc())
        .limit(1)
    ).first()


def head_hash(session: Session, chain: str) -> str:
    last = session.exec(
        select(AuditEvent.hash).where(AuditEvent.chain == chain).order_by(col(AuditEvent.seq).desc()).limit(1)
    ).first()
    return last or GENESIS


def count(session: Session) -> int:
    return int(session.exec(select(func.count()).select_from(AuditEvent)).one())
