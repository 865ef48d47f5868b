"""The archive dossier of one decision (一事一档, Art. 33): gathering it, and verifying it offline.

`build_dossier` reads the decision's evidence, the texts held only in the database, its audit
chain and the latest signed checkpoint covering that chain, and has `documents.dossier` write
them as one deterministic ZIP. It writes no database state. `verify_dossier` needs no
database: it checks the manifest, recomputes the audit chain with the function `audit verify`
uses, checks that every evidence document is the one the chain recorded, and checks the
checkpoint's signature. The layout is described in docs/dossier.md.
"""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
import zlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlmodel import Session, col, select

from documents import dossier as layout
from flows import procedure as proc
from flows.calendar import local_date
from flows.errors import invalid, not_found, refusal
from flows.service import checkpoint as cp
from flows.service.access import is_confidential
from flows.service.audit import ChainBreak, verify_events
from flows.service.documents import DocumentStore
from flows.service.framework import ServiceContext, the_jurisdiction, utc
from flows.timeline import DECISION_STATUS_ZH
from models import (
    ArchiveDossier,
    AuditCheckpoint,
    AuditEvent,
    Decision,
    EvidenceDocument,
    InputResponse,
    Jurisdiction,
    PublicComment,
    StoredDocument,
    Unit,
    User,
)
from models.db import DATA_DIR_ENV
from models.execution import ExecutionFeedback

# the stage whose record holds the answers to each kind of input (Art. 18, 29; Art. 35(2))
RESPONSE_STAGE = {
    "comment": "public_participation",
    "hearing_statement": "hearing",
    "expert_opinion": "expert_review",
    "feedback": "execution",
}
SECTION_ORDER = {layout.DOCUMENTS: 0, layout.ATTACHMENTS: 1, layout.RECORDS: 2}
# an item with the moment that orders it within its stage, and a tie-breaker (the row's id)
Dated = tuple[datetime, int, layout.DossierItem]


# ------------------------------------------------------------------ building
def build_dossier(
    ctx: ServiceContext, decision_code: str, *, out_dir: Path | None = None, now: datetime
) -> Path:
    """Write `<out_dir>/<code>.zip` (default `<data folder>/dossiers`) for an archived decision
    and return its path. Idempotent: the same record and `now` give the same bytes, and the
    file is replaced atomically. Refused with STATE for a decision not yet archived, with
    NOT_FOUND for an unknown one, with INPUT when an evidence file is missing or altered."""
    generated = utc(now, "now")
    if out_dir is None:
        if ctx.data_dir is None:
            raise invalid(
                DATA_DIR_ENV,
                "未配置数据文件夹，档案无处写入（或用 --out 指定）",
                "no data folder is configured for the dossier (or give --out)",
            )
        out_dir = ctx.data_dir / "dossiers"
    public = checkpoint_public_key(ctx)
    with Session(ctx.engine) as session:
        data = gather(session, ctx.documents, decision_code, generated, public)
    return layout.write_dossier(data, out_dir / f"{data.code}.zip")


def checkpoint_public_key(ctx: ServiceContext) -> Ed25519PublicKey | None:
    """The public half of the checkpoint key this installation signs with (its `.pub` file, or
    derived from the key file); None when no key is configured or it cannot be read."""
    if ctx.checkpoint_key is None:
        return None
    public_file = cp.public_path(ctx.checkpoint_key)
    try:
        if public_file.is_file():
            return cp.load_public(public_file.read_bytes(), "checkpoint_key")
        return cp.load_private(ctx.checkpoint_key).public_key()
    except (OSError, cp.CheckpointError):
        return None


def gather(
    session: Session,
    store: DocumentStore,
    code: str,
    now: datetime,
    public: Ed25519PublicKey | None = None,
) -> layout.DossierData:
    """Everything the dossier holds, read in one transaction. The decision's row is share-locked
    (writers lock it first), so no action on it commits halfway through the read."""
    jurisdiction = the_jurisdiction(session)
    decision = session.exec(
        select(Decision)
        .where(Decision.jurisdiction_id == jurisdiction.id, Decision.code == code)
        .with_for_update(read=True)
    ).first()
    if decision is None:
        raise not_found("decision", code)
    archive = session.exec(select(ArchiveDossier).where(ArchiveDossier.decision_id == decision.id)).first()
    if archive is None:
        raise refusal(
            "STATE",
            f"决策 {code} 尚未归档（archive_decision），不能生成档案",
            f"decision {code} is not archived yet (archive_decision): no dossier",
            field="decision",
        )
    procedure = proc.procedure(decision.procedure_version)
    reader = _Reader(session, store, jurisdiction, decision, procedure)
    chain = f"decision:{decision.id}"
    events = list(
        session.exec(select(AuditEvent).where(AuditEvent.chain == chain).order_by(col(AuditEvent.seq)))
    )
    signed = latest_checkpoint(session, chain, public)
    return layout.DossierData(
        code=decision.code,
        title=decision.title,
        organ=decision.organ,
        procedure_version=decision.procedure_version,
        status=decision.status.value,
        status_zh=DECISION_STATUS_ZH[decision.status],
        confidential=is_confidential(decision),
        archived_at=utc(archive.archived_at),
        generated_at=now,
        timezone=jurisdiction.timezone,
        items=reader.items(),
        chain=chain,
        events=[event_record(e) for e in events],
        checkpoint=checkpoint_text(signed, public) if signed and public else None,
        checkpoint_seq=signed.seq if signed else None,
        checkpoint_key_id=signed.key_id if signed else "",
    )


def event_record(event: AuditEvent) -> dict[str, Any]:
    """One line of the dossier's chain: every field the hash covers, and the event's id."""
    return {
        "id": event.id,
        "chain": event.chain,
        "seq": event.seq,
        "action": event.action,
        "actor": event.actor,
        "actor_roles": event.actor_roles,
        "roles_hash": event.roles_hash,
        "os_account": event.os_account,
        "backdated_by": event.backdated_by,
        "backdate_reason": event.backdate_reason,
        "occurred_at": utc(event.occurred_at).isoformat(timespec="microseconds"),
        "payload": dict(event.payload),
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


def latest_checkpoint(
    session: Session, chain: str, public: Ed25519PublicKey | None
) -> AuditCheckpoint | None:
    """The newest checkpoint signed with this installation's key that covers `chain`. Without
    the public key there is nothing a verifier could check the signature with: none."""
    if public is None:
        return None
    rows = session.exec(
        select(AuditCheckpoint)
        .where(AuditCheckpoint.key_id == cp.key_id(public))
        .order_by(col(AuditCheckpoint.seq).desc())
    )
    return next((row for row in rows if chain in cp.canonical_chains(row)), None)


def checkpoint_text(row: AuditCheckpoint, public: Ed25519PublicKey) -> str:
    """The checkpoint as `audit checkpoint --export` writes it: the public key, then the line."""
    header = cp.canonical({"public_key": cp.public_pem(public).decode(), "key_id": cp.key_id(public)})
    return f"{header}\n{cp.export_line(row)}\n"


@dataclass
class _Reader:
    session: Session
    store: DocumentStore
    jurisdiction: Jurisdiction
    decision: Decision
    procedure: proc.Procedure
    units: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        rows = self.session.exec(
            select(User.code, Unit.name)
            .join(Unit, col(Unit.id) == User.unit_id)
            .where(User.jurisdiction_id == self.jurisdiction.id)
        )
        self.units = dict(rows.all())

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.jurisdiction.timezone)

    def responsible(self, *actors: str) -> str:
        """责任者: the unit of the user who made the document; the public; the organ itself
        for what the system made (the sweep and the flows act for it)."""
        names: list[str] = []
        for actor in actors:
            if actor == "public":
                name = "社会公众"
            elif actor == proc.SYSTEM_ACTOR:
                name = self.decision.organ
            else:
                name = self.units.get(actor, actor)
            if name not in names:
                names.append(name)
        return "、".join(sorted(names))

    def stage_zh(self, stage: str) -> str:
        found = self.procedure.stage_by_id.get(stage)
        return found.zh if found else stage

    def blob(self, sha256: str, what: str) -> bytes:
        """A file from the data folder, refused when it is missing or no longer matches."""
        try:
            content = self.store.get(sha256)
        except OSError:
            content = None
        if content is None or hashlib.sha256(content).hexdigest() != sha256:
            state_zh, state_en = ("缺失", "missing") if content is None else ("被改动", "altered")
            raise invalid(
                "decision",
                f"{what} 的文件{state_zh}（SHA-256 {sha256}），请先运行 audit verify",
                f"the file of {what} is {state_en} (SHA-256 {sha256}); run audit verify",
            )
        return content

    def items(self) -> list[layout.DossierItem]:
        """Every document in archival order: the procedure's stage order, then date."""
        order = {stage.id: index for index, stage in enumerate(self.procedure.stages)}
        keyed: list[tuple[tuple[int, datetime, int, int], layout.DossierItem]] = []
        for moment, tie, item in [*self.evidence(), *self.comments(), *self.responses(), *self.feedback()]:
            key = (order.get(item.stage, len(order)), moment, SECTION_ORDER[item.section], tie)
            keyed.append((key, item))
        keyed.sort(key=lambda pair: pair[0])
        return [item for _, item in keyed]

    def evidence(self) -> Iterable[Dated]:
        documents = self.session.exec(
            select(EvidenceDocument, StoredDocument.media_type)
            .join(StoredDocument, col(StoredDocument.sha256) == EvidenceDocument.sha256)
            .where(EvidenceDocument.decision_id == self.decision.id)
            .order_by(col(EvidenceDocument.id))
        ).all()
        for document, media_type in documents:
            yield (
                document.created_at,
                document.id or 0,
                layout.DossierItem(
                    stage=document.stage,
                    stage_zh=self.stage_zh(document.stage),
                    title=document.title,
                    day=local_date(document.created_at, self.tz),
                    responsible=self.responsible(document.created_by),
                    kind=document.kind,
                    section=layout.DOCUMENTS,
                    content=self.blob(document.sha256, document.title),
                    media_type=media_type,
                ),
            )

    def comments(self) -> Iterable[Dated]:
        """Public comments (Art. 15) are held only in the database, their attachments in the
        data folder: the texts as one record, each attachment as a file. Contacts are left out
        (they stay in the database and in the audit chain's payloads)."""
        rows = list(
            self.session.exec(
                select(PublicComment)
                .where(PublicComment.decision_id == self.decision.id)
                .order_by(col(PublicComment.submitted_at), col(PublicComment.id))
            )
        )
        if not rows:
            return
        stage = "public_participation"
        for row in rows:
            if row.attachment_sha256:
                yield (
                    row.submitted_at,
                    row.id or 0,
                    layout.DossierItem(
                        stage=stage,
                        stage_zh=self.stage_zh(stage),
                        title=f"公众意见附件（{row.code}）",
                        day=local_date(row.submitted_at, self.tz),
                        responsible=self.responsible("public"),
                        kind="comment_attachment",
                        section=layout.ATTACHMENTS,
                        content=self.blob(row.attachment_sha256, f"公众意见 {row.code} 的附件"),
                        ref=row.code,
                    ),
                )
        texts = [
            {
                "code": row.code,
                "name": row.name,
                "text": row.text,
                "submitted_at": utc(row.submitted_at).isoformat(),
                "attachment_sha256": row.attachment_sha256,
            }
            for row in rows
        ]
        yield self.record(
            stage, "public_comments", f"公众意见（{len(rows)} 条）", rows[-1].submitted_at, texts
        )

    def responses(self) -> Iterable[Dated]:
        """How each input was handled (Art. 18), one record per stage the inputs belong to."""
        rows = self.session.exec(
            select(InputResponse)
            .where(InputResponse.decision_id == self.decision.id)
            .order_by(col(InputResponse.responded_at), col(InputResponse.id))
        ).all()
        by_stage: dict[str, list[InputResponse]] = defaultdict(list)
        for row in rows:
            by_stage[RESPONSE_STAGE.get(row.input_kind, "public_participation")].append(row)
        for stage, answers in by_stage.items():
            texts = [
                {
                    "input_kind": a.input_kind,
                    "input_code": a.input_code,
                    "outcome": a.outcome,
                    "reason": a.reason,
                    "responded_by": a.responded_by,
                    "responded_at": utc(a.responded_at).isoformat(),
                }
                for a in answers
            ]
            yield self.record(
                stage,
                "input_responses",
                f"意见研究处理情况（{len(answers)} 条）",
                max(a.responded_at for a in answers),
                texts,
                *(a.responded_by for a in answers),
            )

    def feedback(self) -> Iterable[Dated]:
        """Opinions from the public on the decision's execution (Art. 35(2))."""
        rows = list(
            self.session.exec(
                select(ExecutionFeedback)
                .where(ExecutionFeedback.decision_id == self.decision.id)
                .order_by(col(ExecutionFeedback.submitted_at), col(ExecutionFeedback.id))
            )
        )
        if rows:
            texts = [
                {"code": r.code, "text": r.text, "submitted_at": utc(r.submitted_at).isoformat()}
                for r in rows
            ]
            yield self.record(
                "execution",
                "execution_feedback",
                f"执行中的公众意见（{len(rows)} 条）",
                rows[-1].submitted_at,
                texts,
            )

    def record(
        self, stage: str, kind: str, title: str, moment: datetime, texts: list[dict[str, Any]], *actors: str
    ) -> Dated:
        return (
            moment,
            0,
            layout.DossierItem(
                stage=stage,
                stage_zh=self.stage_zh(stage),
                title=title,
                day=local_date(moment, self.tz),
                responsible=self.responsible(*(actors or ("public",))),
                kind=kind,
                section=layout.RECORDS,
                content=layout.canonical_json({"decision": self.decision.code, "kind": kind, "items": texts}),
                media_type="application/json",
            ),
        )


# ------------------------------------------------------------------ verifying, offline
class UnusableDossier(Exception):
    """Input that is no dossier at all (no file, not a ZIP): exit 2, not a failed check."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(f"{zh} / {en}")
        self.zh, self.en = zh, en


@dataclass(frozen=True)
class Finding:
    """One thing missing or altered: `subject` names the file, or the audit event by its seq."""

    subject: str
    zh: str
    en: str

    def line(self) -> str:
        return f"{self.subject}: {self.zh} / {self.en}"


@dataclass(frozen=True)
class Verification:
    decision: str
    files: int  # files listed in the manifest
    events: int  # audit events recomputed
    checkpoint: int | None  # the checkpoint whose signature was checked
    key_id: str  # of the key it was checked with
    key_given: bool  # a trusted key was given (else the key inside the dossier was used)
    findings: list[Finding]

    @property
    def ok(self) -> bool:
        return not self.findings


@dataclass(frozen=True)
class ChainRecord:
    """An audit event read back from the dossier (`flows.service.audit.ChainEvent`)."""

    id: int | None
    chain: str
    seq: int
    action: str
    actor: str
    actor_roles: str
    roles_hash: str
    os_account: str
    backdated_by: str
    backdate_reason: str
    occurred_at: datetime
    payload: dict[str, Any]
    prev_hash: str
    hash: str


TEXT_FIELDS = (
    "chain",
    "action",
    "actor",
    "actor_roles",
    "roles_hash",
    "os_account",
    "backdated_by",
    "backdate_reason",
    "prev_hash",
    "hash",
)
SHA256 = re.compile(r"^[0-9a-f]{64}$")
READ_LIMIT = 1 << 30  # a file in the ZIP larger than this is not read into memory


def event_subject(seq: int) -> str:
    return f"审计事件 audit event seq {seq}"


BREAK_ZH = {
    "prev_hash does not match the previous event": "prev_hash 与前一事件的哈希不符",
    "actor_roles does not match its hash": "所记角色与其哈希不符",
    "content does not match its hash": "内容与其哈希不符（被改动）",
}


def break_finding(found: ChainBreak) -> Finding:
    if found.reason.startswith("sequence gap"):
        zh = f"序号不连续（此处应为 {found.reason.rpartition(' ')[2]}）"
    else:
        zh = BREAK_ZH.get(found.reason, found.reason)
    return Finding(event_subject(found.seq), zh, found.reason)


def verify_dossier(path: Path, public: Ed25519PublicKey | None = None) -> Verification:
    """Check a dossier with no database. `public` is the checkpoint key the verifier trusts
    (published separately); without it the key inside the dossier is used, which shows the
    checkpoint is intact but not who signed it."""
    if not path.is_file():
        raise UnusableDossier(f"文件不存在：{path}", f"no such file: {path}")
    try:
        with zipfile.ZipFile(path) as archive:
            return _Verifier(archive, public).run()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
        raise UnusableDossier("不是可读的 ZIP 文件", f"not a readable ZIP file ({exc})") from None


@dataclass
class _Verifier:
    archive: zipfile.ZipFile
    public: Ed25519PublicKey | None
    findings: list[Finding] = field(default_factory=list)
    digests: dict[str, str] = field(default_factory=dict)  # entry -> SHA-256 of its content
    sizes: dict[str, int] = field(default_factory=dict)

    def note(self, subject: str, zh: str, en: str) -> None:
        self.findings.append(Finding(subject, zh, en))

    def run(self) -> Verification:
        self.hash_entries()
        manifest = self.manifest()
        listed = self.check_files(manifest)
        chain_name = str(manifest.get("audit", {}).get("chain", "")) if manifest else ""
        records = self.chain(manifest, chain_name)
        checked, key_id = self.checkpoint(manifest, records)
        return Verification(
            decision=str(manifest.get("decision", "")) if manifest else "",
            files=listed,
            events=len(records),
            checkpoint=checked,
            key_id=key_id,
            key_given=self.public is not None,
            findings=self.findings,
        )

    # ---------------------------------------------------------------- the files
    def hash_entries(self) -> None:
        seen: set[str] = set()
        for info in self.archive.infolist():
            if info.filename in seen:
                self.note(info.filename, "在 ZIP 中出现两次", "appears twice in the ZIP")
                continue
            seen.add(info.filename)
            if info.is_dir():
                continue
            digest = hashlib.sha256()
            size = 0
            try:
                with self.archive.open(info) as handle:
                    for chunk in iter(lambda: handle.read(1 << 20), b""):
                        digest.update(chunk)
                        size += len(chunk)
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, NotImplementedError):
                self.note(info.filename, "已损坏，无法读取", "is damaged and cannot be read")
                continue
            self.digests[info.filename] = digest.hexdigest()
            self.sizes[info.filename] = size

    def read(self, name: str) -> bytes | None:
        if name not in self.digests or self.sizes[name] > READ_LIMIT:
            return None
        return self.archive.read(name)

    def manifest(self) -> dict[str, Any] | None:
        """The manifest, or None (with a finding) when it is missing or malformed."""
        content = self.read(layout.MANIFEST)
        if content is None:
            self.note(layout.MANIFEST, "缺少清单", "the manifest is missing")
            return None
        try:
            value = json.loads(content.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            value = None
        problem = manifest_problem(value)
        if problem is not None:
            self.note(
                layout.MANIFEST, f"清单格式不正确：{problem[0]}", f"the manifest is malformed: {problem[1]}"
            )
            return None
        assert isinstance(value, dict)
        return value

    def check_files(self, manifest: Mapping[str, Any] | None) -> int:
        if manifest is None:
            return 0
        listed: dict[str, Mapping[str, Any]] = {entry["path"]: entry for entry in manifest["files"]}
        for name, entry in sorted(listed.items()):
            if name not in self.digests:
                if not any(f.subject == name for f in self.findings):
                    self.note(name, "缺失", "missing")
            elif self.digests[name] != entry["sha256"] or self.sizes[name] != entry["size"]:
                self.note(
                    name,
                    "内容被改动（与清单的 SHA-256 或大小不符）",
                    "altered (SHA-256 or size differs from the manifest)",
                )
        for name in sorted(self.digests):
            if name != layout.MANIFEST and name not in listed:
                self.note(name, "未列入清单", "not listed in the manifest")
        return len(listed)

    # ---------------------------------------------------------------- the audit chain
    def chain(self, manifest: Mapping[str, Any] | None, chain_name: str) -> list[ChainRecord]:
        content = self.read(layout.CHAIN)
        if content is None:
            if not any(f.subject == layout.CHAIN for f in self.findings):
                self.note(layout.CHAIN, "缺少审计链", "the audit chain is missing")
            return []
        records: list[ChainRecord] = []
        for number, line in enumerate(content.decode("utf-8", errors="replace").splitlines(), start=1):
            record = parse_record(line)
            if record is None:
                self.note(
                    f"{layout.CHAIN} 第 {number} 行 line {number}",
                    "不是完整的审计事件",
                    "not a complete audit event",
                )
                return []
            records.append(record)
        if not records:
            self.note(layout.CHAIN, "审计链为空", "the audit chain is empty")
            return []
        name = chain_name or records[0].chain
        for record in records:
            if record.chain != name:
                self.note(
                    event_subject(record.seq), f"不属于链 {name}", f"does not belong to the chain {name}"
                )
                return records
        found = verify_events(records)
        if found is not None:
            self.findings.append(break_finding(found))
            return records
        if manifest is not None:
            audit = manifest["audit"]
            if audit.get("length") != len(records) or audit.get("head") != records[-1].hash:
                self.note(
                    layout.CHAIN,
                    f"与清单所记不符（清单：{audit.get('length')} 个事件）",
                    f"does not match the manifest ({audit.get('length')} events recorded there)",
                )
        self.evidence(manifest, records)
        return records

    def evidence(self, manifest: Mapping[str, Any] | None, records: Sequence[ChainRecord]) -> None:
        """Each evidence document is the one the chain recorded when it was filed (the event's
        `evidence` note carries its SHA-256), and each one the chain recorded is here. A file
        already named as missing or altered against the manifest is not named again."""
        recorded: dict[str, tuple[int, str]] = {}
        for record in records:
            for note in record.payload.get("evidence") or []:
                if isinstance(note, Mapping) and isinstance(note.get("sha256"), str):
                    recorded.setdefault(note["sha256"], (record.seq, str(note.get("kind", ""))))
        flagged = {finding.subject for finding in self.findings}
        listed = {
            entry["path"]: entry["sha256"]
            for entry in (manifest["files"] if manifest else [])
            if entry["path"].startswith(f"{layout.DOCUMENTS}/")
        }
        present = {sha for path, sha in listed.items() if path in flagged}
        for name, digest in sorted(self.digests.items()):
            if not name.startswith(f"{layout.DOCUMENTS}/") or name in flagged:
                continue
            present.add(digest)
            if digest not in recorded:
                self.note(
                    name,
                    "内容未被任何审计事件记录（被替换）",
                    "its content was recorded by no audit event (replaced)",
                )
        for digest, (seq, kind) in sorted(recorded.items(), key=lambda item: item[1]):
            if digest not in present:
                self.note(
                    event_subject(seq),
                    f"所记证据 {kind}（SHA-256 {digest[:16]}…）不在档案中",
                    f"the evidence it recorded, {kind} (SHA-256 {digest[:16]}...), is not in the dossier",
                )

    # ---------------------------------------------------------------- the checkpoint
    def checkpoint(
        self, manifest: Mapping[str, Any] | None, records: Sequence[ChainRecord]
    ) -> tuple[int | None, str]:
        content = self.read(layout.CHECKPOINT)
        if content is None:
            return None, ""
        try:
            public, entries = cp.read_export(content.decode("utf-8"), self.public)
        except (UnicodeDecodeError, cp.CheckpointError) as exc:
            en = exc.en if isinstance(exc, cp.CheckpointError) else "not UTF-8 text"
            zh = exc.zh if isinstance(exc, cp.CheckpointError) else "不是 UTF-8 文本"
            self.note(layout.CHECKPOINT, zh, en)
            return None, ""
        if len(entries) != 1:
            self.note(layout.CHECKPOINT, "须恰好含一个检查点", "must hold exactly one checkpoint")
            return None, cp.key_id(public)
        entry = entries[0]
        seq = int(entry.body.get("seq", 0)) if isinstance(entry.body, dict) else 0
        subject = f"检查点 checkpoint {seq}"
        if not cp.signed_by(public, entry):
            self.note(subject, "签名无效（或非此公钥所签）", "bad signature (or not signed with this key)")
            return seq, cp.key_id(public)
        if manifest is not None and manifest["audit"].get("checkpoint") != seq:
            self.note(
                layout.MANIFEST, "所记检查点与档案中的不符", "names another checkpoint than the dossier holds"
            )
        chain = manifest["audit"]["chain"] if manifest else (records[0].chain if records else "")
        covered = (
            entry.body.get("chains", {}).get(chain) if isinstance(entry.body.get("chains"), dict) else None
        )
        if not isinstance(covered, dict):
            self.note(subject, f"未覆盖审计链 {chain}", f"does not cover the audit chain {chain}")
            return seq, cp.key_id(public)
        length, head = covered.get("length"), covered.get("head")
        if not isinstance(length, int) or length < 1:
            self.note(subject, "所记链长无效", "records no valid chain length")
        elif len(records) < length:
            self.note(
                layout.CHAIN,
                f"链尾被删除（检查点记有 {length} 个事件，档案中 {len(records)} 个）",
                f"its tail was cut ({length} events signed, {len(records)} in the dossier)",
            )
        elif records[length - 1].hash != head:
            self.note(
                event_subject(length),
                "哈希与签名检查点不符（链被改写并重算）",
                "its hash differs from the signed checkpoint (the chain was rewritten and recomputed)",
            )
        return seq, cp.key_id(public)


def manifest_problem(value: Any) -> tuple[str, str] | None:
    """Why `value` is not a well-formed manifest (zh, en), or None."""
    if not isinstance(value, dict):
        return "不是 JSON 对象", "not a JSON object"
    if value.get("format") != layout.FORMAT:
        return f"格式须为 {layout.FORMAT}", f"format must be {layout.FORMAT}"
    if not isinstance(value.get("decision"), str) or not isinstance(value.get("generated_at"), str):
        return "缺少决策编号或生成时间", "the decision or the generation time is missing"
    audit = value.get("audit")
    if not isinstance(audit, dict) or not isinstance(audit.get("chain"), str):
        return "缺少审计链信息", "the audit chain is not described"
    files = value.get("files")
    if not isinstance(files, list):
        return "缺少文件列表", "the file list is missing"
    paths: set[str] = set()
    for index, entry in enumerate(files):
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("path"), str)
            and isinstance(entry.get("size"), int)
            and not isinstance(entry.get("size"), bool)
            and isinstance(entry.get("sha256"), str)
            and SHA256.match(entry["sha256"])
        ):
            return f"第 {index + 1} 个文件条目不完整", f"file entry {index + 1} is incomplete"
        if entry["path"] in paths or entry["path"] == layout.MANIFEST:
            return f"文件 {entry['path']} 重复列出", f"the file {entry['path']} is listed twice"
        paths.add(entry["path"])
    return None


def parse_record(line: str) -> ChainRecord | None:
    """One line of the chain file, or None when it is not a complete event."""
    try:
        value = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, dict):
        return None
    texts = [value.get(name) for name in TEXT_FIELDS]
    numbers = [value.get("id"), value.get("seq")]
    if not all(isinstance(t, str) for t in texts) or not all(
        isinstance(n, int) and not isinstance(n, bool) for n in numbers
    ):
        return None
    if not isinstance(value.get("payload"), dict) or not isinstance(value.get("occurred_at"), str):
        return None
    try:
        occurred = datetime.fromisoformat(value["occurred_at"])
    except ValueError:
        return None
    if occurred.tzinfo is None:
        return None
    return ChainRecord(
        id=value["id"],
        chain=value["chain"],
        seq=value["seq"],
        action=value["action"],
        actor=value["actor"],
        actor_roles=value["actor_roles"],
        roles_hash=value["roles_hash"],
        os_account=value["os_account"],
        backdated_by=value["backdated_by"],
        backdate_reason=value["backdate_reason"],
        occurred_at=occurred,
        payload=value["payload"],
        prev_hash=value["prev_hash"],
        hash=value["hash"],
    )
