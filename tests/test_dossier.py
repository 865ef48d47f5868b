"""The archive dossier (一事一档, Art. 33): one decision driven to archive, its dossier built
(index in archival order, every evidence document, the texts held in the database, the audit
chain, the signed checkpoint, the manifest), and verified offline. Each tampering is done as
someone holding the ZIP would do it; verification names the file or the audit event's seq."""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import struct
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import Result
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from cli import app
from documents import dossier as layout
from flows import procedure as proc
from flows.dossier import build_dossier, verify_dossier
from flows.errors import ProcedureError
from flows.scenario import sweep_until
from flows.service import ServiceContext
from flows.service import checkpoint as cp
from flows.service.audit import event_hash, roles_digest
from models import AuditEvent, EvidenceDocument
from models.db import DATA_DIR_ENV, make_engine, normalise_url
from tests import conftest as suite
from tests.helpers import (
    act,
    at,
    comment_window,
    decided,
    district,
    drafted,
    legality_lawful,
    published,
    registered,
)
from tests.schema import create_all

BUILT_AT = "2026-04-23T10:00"
TAMPERED = itertools.count(1)


def archived(ctx: ServiceContext, key: Path) -> None:
    """D1 from registration to archive: two draft versions, a public comment with an attachment
    and its answer, legality review, the meeting, the Party steps, publication; a checkpoint is
    signed before the archive, so the chain has grown past it."""
    district(ctx)
    drafted(ctx)
    act(
        ctx,
        "revise_draft",
        "li",
        "2026-03-02T15:00",
        decision="D1",
        draft="草案第二稿",
        reason="完善",
        legal_bases=["国务院令第713号"],
    )
    comment_window(ctx, "2026-03-03", "2026-04-02")
    act(
        ctx,
        "submit_public_comment",
        "public",
        "2026-03-10T14:00",
        decision="D1",
        text="建议延长过渡期",
        name="市民甲",
        contact="13800000000",
        attachment="附件：过渡期测算",
    )
    act(
        ctx,
        "respond_to_input",
        "li",
        "2026-03-20T09:00",
        decision="D1",
        input="C1",
        outcome="adopted",
        reason="已延长",
    )
    sweep_until(ctx, at("2026-04-03T09:00"))
    act(ctx, "complete_participation", "li", "2026-04-03T09:30", decision="D1")
    act(ctx, "approve_stage", "wang", "2026-04-03T10:00", decision="D1", stage="public_participation")
    legality_lawful(ctx)
    decided(ctx)
    published(ctx)
    with Session(ctx.engine) as session:
        cp.write(session, cp.load_private(key), at("2026-04-22T12:00"), ctx.data_dir or Path())
        session.commit()
    act(ctx, "archive_decision", "zhou", "2026-04-23T09:00", decision="D1")


@pytest.fixture
def key(tmp_path: Path) -> Path:
    path = tmp_path / "keys" / "checkpoint.key"
    cp.init_key(path)
    return path


@pytest.fixture
def dossier(ctx: ServiceContext, key: Path) -> Path:
    archived(ctx, key)
    ctx.checkpoint_key = key  # the installation's key: the dossier carries its public half
    return build_dossier(ctx, "D1", now=at(BUILT_AT))


@pytest.fixture(scope="module")
def offline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One dossier for the tampering tests, which read only the ZIP (no database is involved
    in verifying, so it is built once, on SQLite in memory, whatever the suite's database)."""
    folder = tmp_path_factory.mktemp("offline")
    engine = make_engine("sqlite://")
    create_all(engine, kind="scenario")
    key = folder / "keys" / "checkpoint.key"
    cp.init_key(key)
    ctx = ServiceContext(engine=engine, data_dir=folder / "data")
    archived(ctx, key)
    ctx.checkpoint_key = key
    path = build_dossier(ctx, "D1", now=at(BUILT_AT))
    engine.dispose()
    return path


def entries(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def rewrite(path: Path, change: Callable[[dict[str, bytes]], None], *, fix_manifest: bool = False) -> Path:
    """Change the files of a dossier as someone holding the ZIP would; with `fix_manifest`, the
    manifest's sizes and hashes are recomputed so that only the deeper checks can catch it."""
    files = entries(path)
    change(files)
    if fix_manifest:
        manifest = json.loads(files[layout.MANIFEST])
        manifest["files"] = [
            {"path": name, "size": len(content), "sha256": hashlib.sha256(content).hexdigest()}
            for name, content in sorted(files.items())
            if name != layout.MANIFEST
        ]
        files[layout.MANIFEST] = json.dumps(manifest, ensure_ascii=False).encode()
    target = path.with_name(f"tampered-{next(TAMPERED)}.zip")
    with zipfile.ZipFile(target, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return target


def subjects(path: Path, public: Ed25519PublicKey | None = None) -> list[str]:
    return [f.subject for f in verify_dossier(path, public).findings]


def document(files: dict[str, bytes], kind: str) -> str:
    return next(name for name in sorted(files) if name.startswith("documents/") and f"-{kind}." in name)


# ---------------------------------------------------------------- the dossier
def test_the_dossier_holds_the_whole_file_in_archival_order(ctx: ServiceContext, dossier: Path) -> None:
    assert dossier == (ctx.data_dir or Path()) / "dossiers" / "D1.zip"
    files = entries(dossier)
    with Session(ctx.engine) as session:
        evidence = list(session.exec(select(EvidenceDocument).order_by(col(EvidenceDocument.id))))
        chain = list(session.exec(select(AuditEvent).where(AuditEvent.chain == "decision:1")))
    # every evidence document, byte for byte: both drafts, the opinions, minutes, the published text
    stored = sorted(ctx.documents.get(e.sha256) for e in evidence)
    assert sorted(c for n, c in files.items() if n.startswith("documents/")) == stored
    drafts = [c.decode() for n, c in sorted(files.items()) if n.startswith("documents/") and "-draft." in n]
    assert drafts == ["草案", "草案第二稿"]
    # the texts held only in the database, and the comment's attachment
    comments = json.loads(
        next(c for n, c in files.items() if n.startswith("records/") and "public_comments" in n)
    )
    assert [(c["code"], c["text"]) for c in comments["items"]] == [("C1", "建议延长过渡期")]
    assert "13800000000" not in json.dumps(comments, ensure_ascii=False)  # contacts stay in the database
    assert [c for n, c in files.items() if n.startswith("attachments/")] == ["附件：过渡期测算".encode()]
    assert any(n.startswith("records/") and "input_responses" in n for n in files)

    # the index: one row per document, in the procedure's stage order, then date
    index = json.loads(files[layout.INDEX_JSON])["items"]
    assert {row["file"] for row in index} == {n for n in files if n.split("/")[0] in layout.SECTIONS}
    assert [row["seq"] for row in index] == list(range(1, len(index) + 1))
    order = [s.id for s in proc.procedure().stages]
    keys = [(order.index(row["stage"]), row["date"]) for row in index]
    assert keys == sorted(keys)
    assert index[0]["stage_zh"] == "决策启动" and index[-1]["stage_zh"] == "归档"
    first_draft = next(row for row in index if row["kind"] == "draft")
    assert (first_draft["title"], first_draft["date"], first_draft["responsible"]) == (
        "决策草案（第1稿）",
        "2026-03-02",
        "区住房和城乡建设局",
    )
    rows = list(csv.reader(io.StringIO(files[layout.INDEX_CSV].decode("utf-8-sig"))))
    assert rows[0] == ["序号", "阶段", "文件题名", "日期", "责任者", "大小（字节）", "文件名"]
    assert [r[6] for r in rows[1:]] == [row["file"] for row in index]
    html = files[layout.INDEX_HTML].decode()
    assert "卷内目录" in html and "决策草案（第2稿）" in html and "决策D1" in html

    # the chain, every event with every hashed field; the checkpoint with its public key
    lines = [json.loads(line) for line in files[layout.CHAIN].decode().splitlines()]
    assert [line["seq"] for line in lines] == list(range(1, len(chain) + 1))
    assert lines[-1]["action"] == "archive_decision"
    header = json.loads(files[layout.CHECKPOINT].decode().splitlines()[0])
    assert header["public_key"] == cp.public_path(ctx.checkpoint_key or Path()).read_text()

    # the manifest: the decision, the time, every other file with its size and SHA-256
    manifest = json.loads(files[layout.MANIFEST])
    assert (manifest["decision"], manifest["title"]) == ("D1", "决策D1")
    assert manifest["generated_at"] == at(BUILT_AT).astimezone(UTC).isoformat()
    assert manifest["audit"]["length"] == len(chain) and manifest["audit"]["checkpoint"] == 1
    assert {f["path"]: (f["size"], f["sha256"]) for f in manifest["files"]} == {
        name: (len(content), hashlib.sha256(content).hexdigest())
        for name, content in files.items()
        if name != layout.MANIFEST
    }

    result = verify_dossier(dossier)
    assert result.ok, [f.line() for f in result.findings]
    assert (result.files, result.events, result.checkpoint) == (len(files) - 1, len(chain), 1)


def test_building_twice_gives_the_same_bytes(ctx: ServiceContext, dossier: Path, tmp_path: Path) -> None:
    first = dossier.read_bytes()
    again = build_dossier(ctx, "D1", now=at(BUILT_AT))
    elsewhere = build_dossier(ctx, "D1", out_dir=tmp_path / "elsewhere", now=at(BUILT_AT))
    assert again == dossier and again.read_bytes() == first
    assert elsewhere.read_bytes() == first
    with zipfile.ZipFile(dossier) as archive:
        infos = archive.infolist()
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    assert {i.date_time for i in infos} == {(2026, 4, 23, 10, 0, 0)}


def test_only_an_archived_decision_has_a_dossier(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx)
    with pytest.raises(ProcedureError) as caught:
        build_dossier(ctx, "D1", now=at(BUILT_AT))
    assert caught.value.rule_id == "STATE"
    with pytest.raises(ProcedureError) as unknown:
        build_dossier(ctx, "D9", now=at(BUILT_AT))
    assert unknown.value.rule_id == "NOT_FOUND"


def test_an_evidence_file_altered_in_the_data_folder_is_refused(ctx: ServiceContext, key: Path) -> None:
    archived(ctx, key)
    with Session(ctx.engine) as session:
        draft = session.exec(select(EvidenceDocument).where(EvidenceDocument.kind == "draft")).first()
    assert draft is not None
    ctx.documents.path_for(draft.sha256).write_text("篡改")
    with pytest.raises(ProcedureError) as caught:
        build_dossier(ctx, "D1", now=at(BUILT_AT))
    assert caught.value.rule_id == "INPUT" and draft.sha256 in caught.value.message_en


# ---------------------------------------------------------------- tampering, caught offline
def test_one_altered_byte_names_the_file(offline: Path) -> None:
    files = entries(offline)
    target = document(files, "legality_opinion")

    def flip(files: dict[str, bytes]) -> None:
        content = bytearray(files[target])
        content[0] ^= 0x01
        files[target] = bytes(content)

    assert subjects(rewrite(offline, flip)) == [target]

    # the same byte flipped inside the ZIP itself: the entry no longer inflates or fails its CRC
    raw = bytearray(offline.read_bytes())
    with zipfile.ZipFile(offline) as archive:
        info = archive.getinfo(target)
    start = info.header_offset  # the local header: 30 bytes, the name, then its extra field
    name_length, extra_length = struct.unpack("<HH", raw[start + 26 : start + 30])
    raw[start + 30 + name_length + extra_length + info.compress_size // 2] ^= 0x01
    damaged = offline.with_name("damaged.zip")
    damaged.write_bytes(bytes(raw))
    result = verify_dossier(damaged)
    assert [f.subject for f in result.findings] == [target], [f.line() for f in result.findings]


def test_an_altered_audit_event_is_named_by_its_seq(offline: Path) -> None:
    def forge(files: dict[str, bytes]) -> None:
        lines = files[layout.CHAIN].decode().splitlines()
        event = json.loads(lines[4])
        event["payload"]["input"]["reason"] = "伪造"
        lines[4] = json.dumps(event, ensure_ascii=False)
        files[layout.CHAIN] = ("\n".join(lines) + "\n").encode()

    assert subjects(rewrite(offline, forge, fix_manifest=True)) == ["审计事件 audit event seq 5"]


def test_a_removed_file_and_an_unlisted_file_are_named(offline: Path) -> None:
    files = entries(offline)
    removed = document(files, "meeting_minutes")
    assert subjects(rewrite(offline, lambda f: f.pop(removed))) == [removed]
    assert subjects(rewrite(offline, lambda f: f.update({"documents/9999-extra.txt": b"x"}))) == [
        "documents/9999-extra.txt"
    ]
    assert subjects(rewrite(offline, lambda f: f.pop(layout.MANIFEST))) == [layout.MANIFEST]


def test_evidence_swapped_with_a_recomputed_manifest_is_caught_by_the_chain(offline: Path) -> None:
    """The chain recorded each document's SHA-256 when it was filed: a document replaced, or
    one taken out, shows even when the manifest was made to match; the event that recorded the
    original is named."""
    files = entries(offline)
    seq = {
        event["action"]: event["seq"] for event in map(json.loads, files[layout.CHAIN].decode().splitlines())
    }
    replaced = document(files, "publication_text")
    swapped = rewrite(offline, lambda f: f.update({replaced: "另一文本".encode()}), fix_manifest=True)
    assert subjects(swapped) == [replaced, f"审计事件 audit event seq {seq['publish_decision']}"]
    removed = document(files, "party_reply")
    assert subjects(rewrite(offline, lambda f: f.pop(removed), fix_manifest=True)) == [
        f"审计事件 audit event seq {seq['record_party_reply']}"
    ]


def test_a_recomputed_chain_is_caught_by_the_signed_checkpoint(offline: Path, tmp_path: Path) -> None:
    """Someone who edits an event and rehashes the rest of the chain (and the manifest) passes
    the chain check; the checkpoint signed outside the database still names the event."""
    signed = json.loads(json.loads(entries(offline)[layout.CHECKPOINT].decode().splitlines()[1])["body"])
    length = signed["chains"]["decision:1"]["length"]

    def rehash(files: dict[str, bytes]) -> None:
        events = [json.loads(line) for line in files[layout.CHAIN].decode().splitlines()]
        events[2]["payload"]["input"]["forged"] = True
        prev = events[2]["prev_hash"]
        for event in events[2:]:
            event["prev_hash"] = prev
            event["roles_hash"] = roles_digest(event["actor_roles"])
            identity = {k: event[k] for k in ("os_account", "backdated_by", "backdate_reason")}
            identity |= {"roles": event["actor_roles"], "roles_hash": event["roles_hash"]}
            event["hash"] = event_hash(
                event["chain"],
                event["seq"],
                event["action"],
                event["actor"],
                datetime.fromisoformat(event["occurred_at"]),
                event["payload"],
                prev,
                identity,
            )
            prev = event["hash"]
        files[layout.CHAIN] = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events).encode()
        manifest = json.loads(files[layout.MANIFEST])
        manifest["audit"]["head"] = prev
        files[layout.MANIFEST] = json.dumps(manifest).encode()

    tampered = rewrite(offline, rehash, fix_manifest=True)
    assert subjects(tampered) == [f"审计事件 audit event seq {length}"]

    # a verifier who trusts another key sees the signature fail
    other = tmp_path / "other.key"
    cp.init_key(other)
    stranger = cp.load_public(cp.public_path(other).read_bytes(), "key")
    assert subjects(offline, stranger) == ["检查点 checkpoint 1"]


# ---------------------------------------------------------------- the commands
@pytest.fixture
def database(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The suite's database as a URL for --database (a SQLite file or a PostgreSQL schema),
    its data folder and checkpoint key configured as an operator would."""
    if normalise_url(suite.test_database_url()).startswith("postgresql"):
        url, schema = request.getfixturevalue("fresh_postgres_schema")
        url = f"{url}?options=-csearch_path%3D{schema}"
    else:
        url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "data"))
    engine = make_engine(url)
    create_all(engine, kind="scenario")
    engine.dispose()
    return url


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def test_archive_build_and_verify_on_the_command_line(
    database: str, key: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(database)
    ctx = ServiceContext(engine=engine, data_dir=tmp_path / "data")
    archived(ctx, key)
    engine.dispose()
    monkeypatch.setenv(cp.KEY_ENV, str(key))

    built = run(
        "archive", "build", "D1", "--actor", "zhou", "--out", str(tmp_path / "out"), "--database", database
    )
    assert built.exit_code == 0, built.output
    path = tmp_path / "out" / "D1.zip"
    assert str(path) in built.output

    # verify needs no database: one that cannot be reached is never touched
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    checked = run("archive", "verify", str(path), "--public-key", str(cp.public_path(key)))
    assert checked.exit_code == 0, checked.output
    assert "核验通过 / verified" in checked.output and "检查点 1 已用所给公钥核验" in checked.output

    files = entries(path)
    target = document(files, "draft")
    tampered = rewrite(path, lambda f: f.update({target: b"altered"}))
    failed = run("archive", "verify", str(tampered))
    assert failed.exit_code == 1, failed.output
    assert failed.output.splitlines()[0].startswith(f"{target}: 内容被改动")
    assert "核验未通过" in failed.output

    not_zip = tmp_path / "not.zip"
    not_zip.write_text("not a zip")
    for bad in (not_zip, tmp_path / "absent.zip"):
        unusable = run("archive", "verify", str(bad))
        assert unusable.exit_code == 2 and "[FILE]" in unusable.output, unusable.output


def test_the_dossier_is_built_only_by_someone_with_a_role_on_a_confidential_decision(
    database: str, tmp_path: Path
) -> None:
    engine = make_engine(database)
    ctx = ServiceContext(engine=engine, data_dir=tmp_path / "data")
    district(ctx)
    registered(ctx, "D2", ["confidential"])
    engine.dispose()

    def build(actor: str) -> Result:
        return run("archive", "build", "D2", "--actor", actor, "--database", database)

    outsider = build("sun")  # commerce has no role on housing's confidential D2
    assert outsider.exit_code == 2 and "AUTH" in outsider.output and "[--actor]" in outsider.output
    assert build("public").exit_code == 2
    insider = build("wang")  # the legal office may read it: refused only because it is not archived
    assert insider.exit_code == 2 and "STATE" in insider.output, insider.output
    unknown = run("archive", "build", "D9", "--actor", "wang", "--database", database)
    assert unknown.exit_code == 2 and "NOT_FOUND" in unknown.output
