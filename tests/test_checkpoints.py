"""Signed checkpoints catch what a hash chain alone cannot: someone with write access to the
database who recomputes a chain, cuts its tail or deletes it. Each tampering is done here as
an attacker would, directly in the database; the chains then still verify on their own, and
only the checkpoints (signed with a key held outside the database) show it."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from flows.service import ServiceContext
from flows.service import checkpoint as cp
from flows.service.audit import event_hash, event_identity, roles_digest, verify_all
from models import AuditEvent
from tests.helpers import act, at, comment_window, district, drafted


@pytest.fixture
def key(tmp_path: Path) -> Path:
    path = tmp_path / "keys" / "checkpoint.key"
    cp.init_key(path)
    return path


def checkpointed(ctx: ServiceContext, key: Path, when: str = "2026-03-03T09:00") -> str:
    """Two decisions, then a checkpoint; returns the export that a verifier keeps."""
    district(ctx)
    drafted(ctx, "D1")
    drafted(ctx, "D2")
    private = cp.load_private(key)
    with Session(ctx.engine) as session:
        cp.write(session, private, at(when), ctx.data_dir)
        session.commit()
        return cp.export(session, private.public_key())


def verify(ctx: ServiceContext, exported: str, key: Path) -> list[str]:
    public = cp.load_public(cp.public_path(key).read_bytes(), "key")
    trusted, entries = cp.read_export(exported, public)
    with Session(ctx.engine) as session:
        return [f.line() for f in cp.verify(session, trusted, entries)[1]]


def chain_of(session: Session, ref: str) -> list[AuditEvent]:
    first = session.exec(select(AuditEvent).where(col(AuditEvent.payload).is_not(None))).all()
    decision_chain = next(
        e.chain for e in first if e.action == "register_decision" and e.payload["result"]["decision"] == ref
    )
    return list(
        session.exec(
            select(AuditEvent).where(AuditEvent.chain == decision_chain).order_by(col(AuditEvent.seq))
        )
    )


def recompute_from(session: Session, events: list[AuditEvent], start: int) -> None:
    """What an attacker with database access does after editing an event: rehash the rest."""
    prev = events[start - 1].prev_hash
    for event in events[start - 1 :]:
        event.prev_hash = prev
        event.roles_hash = roles_digest(event.actor_roles)
        event.hash = event_hash(
            event.chain,
            event.seq,
            event.action,
            event.actor,
            event.occurred_at,
            dict(event.payload),
            prev,
            event_identity(event),
        )
        prev = event.hash
        session.add(event)
    session.commit()


def test_an_honest_record_matches_its_checkpoints_even_as_it_grows(ctx: ServiceContext, key: Path) -> None:
    exported = checkpointed(ctx, key)
    act(ctx, "revise_draft", "li", "2026-03-04T09:00", decision="D1", draft="第二稿", reason="完善")
    assert verify(ctx, exported, key) == []


def test_a_recomputed_chain_is_caught(ctx: ServiceContext, key: Path) -> None:
    exported = checkpointed(ctx, key)
    with Session(ctx.engine) as session:
        events = chain_of(session, "D1")
        events[1].payload = {**events[1].payload, "input": {"decision": "D1", "forged": True}}
        recompute_from(session, events, 2)
        assert verify_all(session)[2] == []  # the chain alone looks fine
    problems = verify(ctx, exported, key)
    assert any("rewritten and recomputed" in p for p in problems), problems


def test_changed_actor_roles_are_caught_by_the_chain_or_else_by_the_checkpoint(
    ctx: ServiceContext, key: Path
) -> None:
    exported = checkpointed(ctx, key)
    with Session(ctx.engine) as session:
        events = chain_of(session, "D1")
        events[0].actor_roles = "admin,department_staff"  # the registrar made to look like an admin
        session.add(events[0])
        session.commit()
        assert [b.reason for b in verify_all(session)[2]] == ["actor_roles does not match its hash"]
        recompute_from(session, chain_of(session, "D1"), 1)  # the attacker rehashes everything
        assert verify_all(session)[2] == []
    problems = verify(ctx, exported, key)
    assert any("rewritten and recomputed" in p for p in problems), problems


def test_a_deleted_tail_is_caught(ctx: ServiceContext, key: Path) -> None:
    exported = checkpointed(ctx, key)
    with Session(ctx.engine) as session:
        events = chain_of(session, "D2")
        session.delete(events[-1])
        session.commit()
        assert verify_all(session)[2] == []
    problems = verify(ctx, exported, key)
    assert any("tail was deleted" in p for p in problems), problems


def test_a_deleted_chain_is_caught(ctx: ServiceContext, key: Path) -> None:
    exported = checkpointed(ctx, key)
    with Session(ctx.engine) as session:
        for event in chain_of(session, "D2"):
            session.delete(event)
        session.commit()
        assert verify_all(session)[2] == []
    problems = verify(ctx, exported, key)
    assert any("whole chain was deleted" in p for p in problems), problems


def test_a_forged_or_removed_checkpoint_is_caught(ctx: ServiceContext, key: Path) -> None:
    checkpointed(ctx, key)
    private = cp.load_private(key)
    with Session(ctx.engine) as session:
        cp.write(session, private, at("2026-03-03T10:00"), ctx.data_dir)
        cp.write(session, private, at("2026-03-03T11:00"), ctx.data_dir)
        session.commit()
        exported = cp.export(session, private.public_key())
    header, first, second, third = exported.strip().splitlines()
    forged = first.replace('\\"seq\\":1', '\\"seq\\":7')
    assert forged != first
    assert any("bad signature" in p for p in verify(ctx, "\n".join([header, forged, second, third]), key))
    assert any("does not follow" in p for p in verify(ctx, "\n".join([header, first, third]), key))


def test_a_checkpoint_signed_with_another_key_is_not_trusted(
    ctx: ServiceContext, key: Path, tmp_path: Path
) -> None:
    exported = checkpointed(ctx, key)
    other = tmp_path / "other.key"
    cp.init_key(other)
    public = cp.load_public(cp.public_path(other).read_bytes(), "key")
    trusted, entries = cp.read_export(exported, public)
    with Session(ctx.engine) as session:
        assert any("bad signature" in f.line() for f in cp.verify(session, trusted, entries)[1])


def test_the_key_file_is_private_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.key"
    cp.init_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    before = path.read_bytes()
    with pytest.raises(cp.CheckpointError):
        cp.init_key(path)
    assert path.read_bytes() == before


def test_the_log_file_in_the_data_folder_holds_every_checkpoint(ctx: ServiceContext, key: Path) -> None:
    checkpointed(ctx, key)
    private = cp.load_private(key)
    with Session(ctx.engine) as session:
        cp.write(session, private, at("2026-03-03T10:00"), ctx.data_dir)
        session.commit()
    lines = (ctx.data_dir / cp.LOG_NAME).read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    public = private.public_key()
    header = cp.canonical({"public_key": cp.public_pem(public).decode(), "key_id": cp.key_id(public)})
    assert verify(ctx, "\n".join([header, *lines]), key) == []


def test_the_sweep_is_due_for_a_checkpoint_at_most_hourly(ctx: ServiceContext, key: Path) -> None:
    checkpointed(ctx, key, when="2026-03-03T09:00")
    with Session(ctx.engine) as session:
        assert not cp.due(session, at("2026-03-03T09:59"))
        assert cp.due(session, at("2026-03-03T10:00"))


def test_the_sweep_signs_a_checkpoint_at_most_hourly(ctx: ServiceContext, key: Path) -> None:
    from dataclasses import replace

    from flows.service.sweep import sweep

    district(ctx)
    drafted(ctx, "D1")
    signing = replace(ctx, checkpoint_key=key)
    first = sweep(signing, at("2026-03-03T09:00"), deliver=False)
    assert first.checkpoint == 1
    assert sweep(signing, at("2026-03-03T09:30"), deliver=False).checkpoint is None
    assert sweep(signing, at("2026-03-03T10:00"), deliver=False).checkpoint == 2
    assert sweep(ctx, at("2026-03-03T12:00"), deliver=False).checkpoint is None  # no key configured
    lines = (ctx.data_dir / cp.LOG_NAME).read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2


def test_the_cli_signs_exports_and_verifies_against_checkpoints(tmp_path: Path, key: Path) -> None:
    """`audit checkpoint --export`, then an attacker cuts a chain's tail, then `audit verify
    --checkpoints` names it (exit 1), although the chains alone still verify."""
    from typer.testing import CliRunner

    from cli import app
    from models.db import make_engine
    from tests.schema import create_all

    url = f"sqlite:///{tmp_path / 'district.db'}"
    engine = make_engine(url)
    create_all(engine, kind="scenario")
    from models.db import data_dir_for

    ctx = ServiceContext(engine=engine, data_dir=data_dir_for(url))
    district(ctx)
    drafted(ctx, "D1")
    runner = CliRunner()
    exported = tmp_path / "checkpoints.jsonl"
    signed = runner.invoke(
        app, ["audit", "checkpoint", "--key-file", str(key), "--export", str(exported), "--database", url]
    )
    assert signed.exit_code == 0, signed.output
    clean = runner.invoke(app, ["audit", "verify", "--checkpoints", str(exported), "--database", url])
    assert clean.exit_code == 0, clean.output
    with Session(engine) as session:
        session.delete(chain_of(session, "D1")[-1])
        session.commit()
    public = cp.public_path(key)
    tampered = runner.invoke(
        app,
        ["audit", "verify", "--checkpoints", str(exported), "--public-key", str(public), "--database", url],
    )
    assert tampered.exit_code == 1 and "tail was deleted" in tampered.output, tampered.output
    engine.dispose()


# ---------------------------------------------------------------- state rows edited behind the service
def test_a_state_row_edited_behind_the_service_is_caught(ctx: ServiceContext) -> None:
    """Each audit event carries a digest of the rows it changed; `audit verify` compares the
    current rows with the latest digest. The chains themselves are untouched by such an edit."""
    from sqlalchemy import text

    from flows.service import row_digests

    district(ctx)
    drafted(ctx, "D1")
    with Session(ctx.engine) as session:
        assert row_digests.verify(session)[1] == []
    with ctx.engine.begin() as conn:  # the attacker publishes the draft in the database
        conn.execute(text("UPDATE decision SET status = 'published' WHERE code = 'D1'"))
    with Session(ctx.engine) as session:
        assert verify_all(session)[2] == []
        problems = [p.line() for p in row_digests.verify(session)[1]]
    assert len(problems) == 1 and problems[0].startswith("ROW decision:") and "edited behind" in problems[0]


def test_a_state_row_deleted_behind_the_service_is_caught(ctx: ServiceContext) -> None:
    from sqlalchemy import text

    from flows.service import row_digests

    district(ctx)
    drafted(ctx, "D1")
    with ctx.engine.begin() as conn:  # the draft's record disappears
        conn.execute(text("DELETE FROM draftversion"))
    with Session(ctx.engine) as session:
        problems = [p.line() for p in row_digests.verify(session)[1]]
    assert any(p.startswith("ROW draftversion:") and "deleted behind" in p for p in problems), problems


@pytest.mark.parametrize(
    "edit",
    [
        "UPDATE publiccomment SET text = '同意' WHERE code = 'C2'",
        "DELETE FROM publiccomment WHERE code = 'C1'",
        "UPDATE stageinstance SET status = 'completed' WHERE stage = 'legality_review'",
    ],
)
def test_rows_written_without_an_orm_object_are_guarded_too(ctx: ServiceContext, edit: str) -> None:
    """Comments and a registration's stage rows go in by Core INSERT (the hot paths); their
    digests are recorded all the same, so an edit or a deletion behind the service shows."""
    from sqlalchemy import text

    from flows.service import row_digests

    district(ctx)
    drafted(ctx, "D1")
    comment_window(ctx, "2026-03-03", "2026-04-02")
    for opinion in ("反对", "建议延期"):
        act(ctx, "submit_public_comment", "public", "2026-03-04T09:00", decision="D1", text=opinion)
    with Session(ctx.engine) as session:
        checked, problems = row_digests.verify(session)
    assert checked > 15 and problems == []
    with ctx.engine.begin() as conn:
        conn.execute(text(edit))
    with Session(ctx.engine) as session:
        assert verify_all(session)[2] == []  # the chains are untouched
        problems = [p.line() for p in row_digests.verify(session)[1]]
    table = edit.split()[2 if edit.startswith("DELETE") else 1]
    assert len(problems) == 1 and problems[0].startswith(f"ROW {table}:"), problems


def test_rows_changed_by_the_service_keep_matching(ctx: ServiceContext) -> None:
    """A later action that changes the same row records its new digest: no false alarm."""
    from flows.service import row_digests

    district(ctx)
    drafted(ctx, "D1")
    act(ctx, "revise_draft", "li", "2026-03-04T09:00", decision="D1", draft="第二稿", reason="完善")
    act(ctx, "withdraw_decision", "li", "2026-03-05T09:00", decision="D1", reason="不再推进")
    with Session(ctx.engine) as session:
        checked, problems = row_digests.verify(session)
    assert checked > 10 and problems == []
