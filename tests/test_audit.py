"""The audit log is append-only and hash-chained per decision (design decision 4): every
chain verifies after normal work, and any edit made behind the service's back is found
and named by chain and sequence number."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from flows.service import ServiceContext
from flows.service.audit import GENESIS, ChainBreak, event_hash, event_identity, verify_all, verify_events
from models import AuditEvent, Decision, Jurisdiction
from models.db import make_engine, mark_database, normalise_url
from tests import conftest as suite
from tests.helpers import act, decided, district, drafted, legality_lawful, participation_done, refused
from tests.schema import create_all


# ---------------------------------------------------------------- helpers
def thin_path(ctx: ServiceContext, ref: str = "D1") -> None:
    """Register to archive, as tests/test_thin_path.py does."""
    drafted(ctx, ref)
    participation_done(ctx, ref)
    legality_lawful(ctx, ref)
    decided(ctx, ref)
    act(ctx, "record_party_report", "chen", "2026-04-20T09:00", decision=ref, on_date="2026-04-20")
    act(
        ctx,
        "record_party_reply",
        "chen",
        "2026-04-21T09:00",
        decision=ref,
        on_date="2026-04-21",
        result="agreed",
    )
    act(
        ctx,
        "publish_decision",
        "zhou",
        "2026-04-22T09:00",
        decision=ref,
        channels=["gazette", "website", "newspaper"],
        published_on="2026-04-22",
        text="决定全文",
    )
    act(ctx, "archive_decision", "zhou", "2026-04-23T09:00", decision=ref)


def chain_of(engine: Engine, ref: str) -> str:
    with Session(engine) as session:
        decision = session.exec(select(Decision).where(Decision.code == ref)).one()
        return f"decision:{decision.id}"


def events_of(engine: Engine, chain: str) -> list[AuditEvent]:
    with Session(engine) as session:
        return list(
            session.exec(select(AuditEvent).where(AuditEvent.chain == chain).order_by(col(AuditEvent.seq)))
        )


def seq_of(engine: Engine, chain: str, action: str) -> int:
    """The sequence number of the (first) event for `action` on `chain`."""
    return next(e.seq for e in events_of(engine, chain) if e.action == action)


def breaks(engine: Engine) -> list[ChainBreak]:
    with Session(engine) as session:
        return verify_all(session)[2]


def raw(engine: Engine, sql: str, **params: object) -> None:
    """Write straight to the table, as someone with database access (not the service) would."""
    with engine.begin() as connection:
        connection.execute(text(sql), params)


def set_payload(engine: Engine, chain: str, seq: int, payload: dict[str, object]) -> None:
    value = json.dumps(payload, ensure_ascii=False)
    cast = "CAST(:payload AS JSON)" if engine.dialect.name == "postgresql" else ":payload"
    raw(
        engine,
        f"UPDATE auditevent SET payload = {cast} WHERE chain = :chain AND seq = :seq",
        payload=value,
        chain=chain,
        seq=seq,
    )


# ---------------------------------------------------------------- a clean log
def test_every_chain_verifies_after_a_thin_path(ctx: ServiceContext) -> None:
    district(ctx)
    thin_path(ctx)
    chain = chain_of(ctx.engine, "D1")
    events = events_of(ctx.engine, chain)
    with Session(ctx.engine) as session:
        chains, total, found = verify_all(session)
        jurisdiction = session.exec(select(Jurisdiction)).one()
    assert found == []
    assert chains == 2  # the set-up chain and D1's chain
    assert total == len(events) + len(events_of(ctx.engine, f"jurisdiction:{jurisdiction.id}"))
    # one event per successful action (and per deadline the sweep fired), numbered 1..n
    actions = [e.action for e in events]
    assert actions[0] == "register_decision" and actions[-1] == "archive_decision"
    assert "deadline_due" in actions
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[0].prev_hash == GENESIS
    assert all(later.prev_hash == earlier.hash for earlier, later in pairwise(events))
    assert all(e.decision_id is not None for e in events)


def test_each_decision_has_its_own_chain(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx, "D1")
    drafted(ctx, "D2")
    first, second = chain_of(ctx.engine, "D1"), chain_of(ctx.engine, "D2")
    assert first != second
    for chain in (first, second):
        assert [e.action for e in events_of(ctx.engine, chain)] == [
            "register_decision",
            "start_procedure",
            "submit_draft",
        ]
    with Session(ctx.engine) as session:
        chains, _, found = verify_all(session)
    assert (chains, found) == (3, [])


def test_a_refused_action_appends_nothing(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx)
    chain = chain_of(ctx.engine, "D1")
    before = events_of(ctx.engine, chain)
    # a comment period shorter than 30 days (R3)
    refused(
        ctx,
        "R3",
        "open_comment_period",
        "li",
        "2026-03-03T09:00",
        decision="D1",
        start_date="2026-03-03",
        end_date="2026-03-20",
        channels=["website"],
    )
    after = events_of(ctx.engine, chain)
    assert [(e.seq, e.hash) for e in after] == [(e.seq, e.hash) for e in before]


def test_the_hash_covers_every_recorded_field(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx)
    event = events_of(ctx.engine, chain_of(ctx.engine, "D1"))[1]
    fields = (event.chain, event.seq, event.action, event.actor, event.occurred_at, dict(event.payload))
    who = event_identity(event)
    assert event_hash(*fields, event.prev_hash, who) == event.hash
    changed = [
        event_hash(event.chain + "x", *fields[1:], event.prev_hash, who),
        event_hash(event.chain, event.seq + 1, *fields[2:], event.prev_hash, who),
        event_hash(*fields[:2], "other_action", *fields[3:], event.prev_hash, who),
        event_hash(*fields[:3], "mallory", *fields[4:], event.prev_hash, who),
        event_hash(*fields[:4], event.occurred_at.replace(microsecond=1), fields[5], event.prev_hash, who),
        event_hash(*fields[:5], {**fields[5], "extra": 1}, event.prev_hash, who),
        event_hash(*fields, GENESIS, who),
        # issue 8: the roles, their hash, the OS account and any back-dating are covered too
        *(event_hash(*fields, event.prev_hash, {**who, key: who[key] + "x"}) for key in who),
    ]
    assert event.hash not in changed
    assert len(set(changed)) == len(changed)


# ---------------------------------------------------------------- tampering is caught
def test_an_edited_payload_is_caught_at_its_seq(ctx: ServiceContext) -> None:
    district(ctx)
    thin_path(ctx)
    drafted(ctx, "D2")  # an untouched neighbour chain
    chain = chain_of(ctx.engine, "D1")
    seq = seq_of(ctx.engine, chain, "issue_legality_opinion")
    original = next(e for e in events_of(ctx.engine, chain) if e.seq == seq)
    doctored = json.loads(json.dumps(original.payload))
    doctored["input"]["outcome"] = "unlawful"
    set_payload(ctx.engine, chain, seq, doctored)

    found = breaks(ctx.engine)
    assert [(b.chain, b.seq) for b in found] == [(chain, seq)]
    assert found[0].reason == "content does not match its hash"
    assert found[0].event_id == original.id


def test_an_edited_actor_is_caught(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx)
    chain = chain_of(ctx.engine, "D1")
    seq = seq_of(ctx.engine, chain, "start_procedure")
    raw(ctx.engine, "UPDATE auditevent SET actor = 'mallory' WHERE chain = :c AND seq = :s", c=chain, s=seq)
    assert [(b.chain, b.seq) for b in breaks(ctx.engine)] == [(chain, seq)]


def test_rehashing_an_edited_event_breaks_the_link_to_the_next(ctx: ServiceContext) -> None:
    """An editor who also recomputes the event's own hash is caught one event later."""
    district(ctx)
    drafted(ctx)
    chain = chain_of(ctx.engine, "D1")
    event = next(e for e in events_of(ctx.engine, chain) if e.action == "start_procedure")
    forged = event_hash(
        event.chain,
        event.seq,
        event.action,
        "mallory",
        event.occurred_at,
        dict(event.payload),
        event.prev_hash,
        event_identity(event),
    )
    raw(
        ctx.engine,
        "UPDATE auditevent SET actor = 'mallory', hash = :h WHERE id = :id",
        h=forged,
        id=event.id,
    )
    found = breaks(ctx.engine)
    assert [(b.chain, b.seq, b.reason) for b in found] == [
        (chain, event.seq + 1, "prev_hash does not match the previous event")
    ]


def test_a_deleted_middle_event_is_a_sequence_gap(ctx: ServiceContext) -> None:
    district(ctx)
    thin_path(ctx)
    chain = chain_of(ctx.engine, "D1")
    seq = seq_of(ctx.engine, chain, "record_legal_adviser_opinion")
    assert 1 < seq < len(events_of(ctx.engine, chain))
    raw(ctx.engine, "DELETE FROM auditevent WHERE chain = :c AND seq = :s", c=chain, s=seq)
    found = breaks(ctx.engine)
    assert [(b.chain, b.seq) for b in found] == [(chain, seq + 1)]
    assert found[0].reason == f"sequence gap: expected {seq}"


def test_a_changed_prev_hash_is_caught(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx)
    chain = chain_of(ctx.engine, "D1")
    raw(
        ctx.engine,
        "UPDATE auditevent SET prev_hash = :p WHERE chain = :c AND seq = 2",
        p="f" * 64,
        c=chain,
    )
    found = breaks(ctx.engine)
    assert [(b.chain, b.seq, b.reason) for b in found] == [
        (chain, 2, "prev_hash does not match the previous event")
    ]


def test_a_renumbered_first_event_is_caught() -> None:
    """verify_events on its own: a chain must start at seq 1 from the genesis hash."""
    occurred = datetime(2026, 3, 2, 1, tzinfo=UTC)
    first = AuditEvent(
        id=1,
        chain="decision:9",
        seq=2,
        action="register_decision",
        actor="li",
        occurred_at=occurred,
        payload={},
        prev_hash=GENESIS,
        hash=event_hash("decision:9", 2, "register_decision", "li", occurred, {}, GENESIS),
    )
    found = verify_events([first])
    assert found is not None and (found.seq, found.reason) == (2, "sequence gap: expected 1")


def test_breaks_in_two_chains_are_each_reported(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx, "D1")
    drafted(ctx, "D2")
    first, second = chain_of(ctx.engine, "D1"), chain_of(ctx.engine, "D2")
    raw(ctx.engine, "UPDATE auditevent SET action = 'x' WHERE chain = :c AND seq = 3", c=first)
    raw(ctx.engine, "DELETE FROM auditevent WHERE chain = :c AND seq = 1", c=second)
    found = {(b.chain, b.seq) for b in breaks(ctx.engine)}
    assert found == {(first, 3), (second, 2)}


# ---------------------------------------------------------------- the CLI
def test_cli_audit_verify_exit_codes(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a SQLite file, or on a fresh PostgreSQL schema when the suite runs there."""
    from cli import app

    monkeypatch.setenv("DECISIONFLOW_DATA_DIR", str(tmp_path / "data"))  # verify reads the evidence too

    if normalise_url(suite.test_database_url()).startswith("postgresql"):
        pg_url, schema = request.getfixturevalue("fresh_postgres_schema")
        url = f"{pg_url}?options=-csearch_path%3D{schema}"
    else:
        url = f"sqlite:///{tmp_path / 'audit.db'}"
    engine = make_engine(url)
    create_all(engine)
    mark_database(engine, "scenario", "tests")
    ctx = ServiceContext(engine=engine, data_dir=tmp_path / "data")
    district(ctx)
    thin_path(ctx)
    chain = chain_of(engine, "D1")
    seq = seq_of(engine, chain, "submit_draft")

    runner = CliRunner()
    clean = runner.invoke(app, ["audit", "verify", "--database", url])
    assert clean.exit_code == 0, clean.output
    assert "BROKEN" not in clean.output
    assert "0 broken" in clean.output
    assert "断裂 0 处 / " in clean.output and "已核验证据文件" in clean.output

    event = next(e for e in events_of(engine, chain) if e.seq == seq)
    doctored = {**event.payload, "input": {**event.payload["input"], "draft": "篡改后的草案"}}
    set_payload(engine, chain, seq, doctored)
    engine.dispose()

    broken = runner.invoke(app, ["audit", "verify", "--database", url])
    assert broken.exit_code == 1, broken.output
    assert f"BROKEN chain {chain} at seq {seq}" in broken.output
    assert "1 broken" in broken.output
    assert "断裂 1 处 / " in broken.output
