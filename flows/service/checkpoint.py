"""Signed checkpoints of the audit chains.

A hash chain alone does not stop someone with write access to the database from recomputing
it or cutting its tail. So every chain's length and head hash are periodically written into a
checkpoint, signed with an Ed25519 key that is held outside the database (a key file named by
configuration), as Certificate Transparency signs its tree heads. Each checkpoint names the
digest of the one before it, so the log of checkpoints is itself a chain. Checkpoints go to a
table and to an append-only log file in the data folder, and can be exported for publication
(for example with the annual report). `verify` checks the database against them:

- a chain recomputed after an edit: the event at the recorded length no longer has the
  recorded head hash;
- a deleted tail: the chain is shorter than recorded;
- a deleted chain: a recorded chain has no events;
- a forged or removed checkpoint: a bad signature, or a broken link between checkpoints.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import func
from sqlmodel import Session, col, select

from models import AuditCheckpoint, AuditEvent

GENESIS = "0" * 64
LOG_NAME = "audit-checkpoints.jsonl"
KEY_ENV = "DECISIONFLOW_CHECKPOINT_KEY"
EVERY = timedelta(hours=1)  # the sweep writes at most one an hour


class CheckpointError(Exception):
    """A key or checkpoint file that cannot be used; `field` names the option or file."""

    def __init__(self, field: str, zh: str, en: str) -> None:
        super().__init__(f"{field}: {zh} / {en}")
        self.field, self.zh, self.en = field, zh, en


# ------------------------------------------------------------------ keys
def init_key(path: Path) -> str:
    """Create a new Ed25519 key file (owner-only) and its public key beside it (`.pub`).
    Never overwrites: a lost key would orphan every checkpoint signed with it."""
    if path.exists():
        raise CheckpointError(
            "--key-file", f"{path} 已存在，不会覆盖", f"{path} exists; it is never overwritten"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    public_path(path).write_bytes(public_pem(key.public_key()))
    return key_id(key.public_key())


def public_path(key_file: Path) -> Path:
    return key_file.with_name(key_file.name + ".pub")


def public_pem(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def load_private(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        raise CheckpointError(
            "--key-file", f"无法读取签名密钥 {path}", f"cannot read the signing key {path}"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise CheckpointError("--key-file", "须为 Ed25519 密钥", "must be an Ed25519 key")
    return key


def load_public(pem: bytes, field: str) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError):
        raise CheckpointError(field, "无法读取公钥", "cannot read the public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise CheckpointError(field, "须为 Ed25519 公钥", "must be an Ed25519 public key")
    return key


# ------------------------------------------------------------------ writing
def chain_heads(session: Session) -> dict[str, dict[str, Any]]:
    """Every chain's length and head hash, as they stand in this transaction."""
    lengths = session.exec(
        select(AuditEvent.chain, func.max(AuditEvent.seq)).group_by(col(AuditEvent.chain))
    ).all()
    heads: dict[str, dict[str, Any]] = {}
    for chain, length in lengths:
        head = session.exec(
            select(AuditEvent.hash).where(AuditEvent.chain == chain, AuditEvent.seq == length)
        ).one()
        heads[chain] = {"length": int(length), "head": head}
    return heads


def canonical(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def write(session: Session, key: Ed25519PrivateKey, now: datetime, log_dir: Path) -> AuditCheckpoint:
    """Sign the heads of every chain into a new checkpoint: a row, and a line of the log file.
    The caller commits; the log line is written first, so a checkpoint in the table is always
    in the file too (a line whose row rolled back is harmless: it still matches the chains)."""
    previous = session.exec(
        select(AuditCheckpoint).order_by(col(AuditCheckpoint.seq).desc()).limit(1).with_for_update()
    ).first()
    seq = previous.seq + 1 if previous else 1
    body = canonical(
        {
            "seq": seq,
            "at": now.astimezone(UTC).isoformat(timespec="seconds"),
            "chains": chain_heads(session),
            "previous": previous.digest if previous else GENESIS,
        }
    )
    signature = base64.b64encode(key.sign(body.encode())).decode()
    row = AuditCheckpoint(
        seq=seq,
        created_at=now.astimezone(UTC),
        body=body,
        digest=hashlib.sha256(body.encode()).hexdigest(),
        key_id=key_id(key.public_key()),
        signature=signature,
    )
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / LOG_NAME).open("a", encoding="utf-8") as log:
        log.write(export_line(row) + "\n")
    session.add(row)
    session.flush()
    return row


def canonical_chains(row: AuditCheckpoint) -> dict[str, Any]:
    chains: dict[str, Any] = json.loads(row.body)["chains"]
    return chains


def due(session: Session, now: datetime) -> bool:
    """The sweep writes a checkpoint when the last one is an hour old or there is none."""
    last = session.exec(select(func.max(AuditCheckpoint.created_at))).one()
    return last is None or now - last >= EVERY


def export_line(row: AuditCheckpoint) -> str:
    return canonical({"body": row.body, "key_id": row.key_id, "signature": row.signature})


def export(session: Session, public: Ed25519PublicKey) -> str:
    """Every checkpoint, one JSON line each, after a first line with the public key: the file
    to publish, and the one `audit verify --checkpoints` reads."""
    rows = session.exec(select(AuditCheckpoint).order_by(col(AuditCheckpoint.seq))).all()
    header = canonical({"public_key": public_pem(public).decode(), "key_id": key_id(public)})
    return "\n".join([header, *(export_line(r) for r in rows)]) + "\n"


# ------------------------------------------------------------------ verifying
@dataclass(frozen=True)
class Finding:
    checkpoint: int
    chain: str
    problem: str

    def line(self) -> str:
        where = f" chain {self.chain}" if self.chain else ""
        return f"checkpoint {self.checkpoint}{where}: {self.problem}"


@dataclass(frozen=True)
class Signed:
    body: dict[str, Any]
    raw: str
    key_id: str
    signature: str


Exported = tuple[Ed25519PublicKey, list[Signed]]


def read_export(text: str, public: Ed25519PublicKey | None = None) -> Exported:
    """Parse an exported file. Its public key is used unless one is given (a verifier should
    give the key it trusts, published separately)."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise CheckpointError("--checkpoints", "文件为空", "the file is empty")
    entries: list[Signed] = []
    try:
        header = json.loads(lines[0])
        if public is None:
            public = load_public(str(header["public_key"]).encode(), "--checkpoints")
        for line in lines[1:]:
            item = json.loads(line)
            raw = str(item["body"])
            entries.append(Signed(json.loads(raw), raw, str(item["key_id"]), str(item["signature"])))
    except (ValueError, KeyError, TypeError):
        raise CheckpointError(
            "--checkpoints", "不是导出的检查点文件", "not an exported checkpoint file"
        ) from None
    return public, entries


def signed_by(public: Ed25519PublicKey, entry: Signed) -> bool:
    """The checkpoint's body carries a valid signature by `public`."""
    try:
        public.verify(base64.b64decode(entry.signature), entry.raw.encode())
    except (InvalidSignature, ValueError):
        return False
    return True


def verify(session: Session, public: Ed25519PublicKey, entries: list[Signed]) -> tuple[int, list[Finding]]:
    """Check the signatures and links of the checkpoints, then the database against each:
    (checkpoints checked, findings). No finding means the record matches every checkpoint."""
    findings: list[Finding] = []
    previous = GENESIS
    current = chain_heads(session)
    for entry in entries:
        seq = int(entry.body.get("seq", 0))
        if not signed_by(public, entry):
            findings.append(Finding(seq, "", "签名无效 / bad signature"))
            continue
        if entry.body.get("previous") != previous:
            findings.append(
                Finding(
                    seq,
                    "",
                    "与前一检查点不衔接（检查点被删除或伪造） / does not follow the previous checkpoint",
                )
            )
        previous = hashlib.sha256(entry.raw.encode()).hexdigest()
        for chain, recorded in sorted(entry.body.get("chains", {}).items()):
            findings += _check_chain(
                session, seq, chain, int(recorded["length"]), str(recorded["head"]), current
            )
    return len(entries), findings


def _check_chain(
    session: Session, seq: int, chain: str, length: int, head: str, current: dict[str, dict[str, Any]]
) -> list[Finding]:
    now = current.get(chain)
    if now is None:
        return [
            Finding(
                seq,
                chain,
                f"整条链被删除（曾有 {length} 条） / the whole chain was deleted (had {length} events)",
            )
        ]
    if now["length"] < length:
        return [
            Finding(
                seq,
                chain,
                f"链尾被删除（曾有 {length} 条，现有 {now['length']} 条） / its tail was deleted "
                f"({length} events recorded, {now['length']} now)",
            )
        ]
    event_hash = session.exec(
        select(AuditEvent.hash).where(AuditEvent.chain == chain, AuditEvent.seq == length)
    ).first()
    if event_hash != head:
        return [
            Finding(
                seq,
                chain,
                f"第 {length} 条事件的哈希与检查点不符（链被改写并重算） / event {length} no longer has the "
                "recorded hash (the chain was rewritten and recomputed)",
            )
        ]
    return []
