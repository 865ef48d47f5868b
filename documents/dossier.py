"""The archive dossier of one decision (一事一档, Art. 33) as a ZIP, built from plain data.

`flows.dossier` gathers the data (a read) and verifies a dossier offline; this module only lays
the files out and writes the ZIP. The layout (docs/dossier.md):

- `manifest.json`: the decision, the generation time, the audit chain's length and head, and
  every other file with its size and SHA-256;
- `index.html`, `index.csv`, `index.json`: the index in archival order (卷内目录);
- `documents/NNNN-<kind>.<ext>`: every evidence document, numbered by its 序号;
- `records/NNNN-<kind>.json`: texts held only in the database (public comments, the answers to
  inputs, feedback on execution);
- `attachments/NNNN-<kind>-<ref>.<ext>`: files attached to public comments;
- `audit/chain.jsonl`: the decision's audit chain, one event a line, every hashed field;
- `audit/checkpoint.jsonl`: the latest signed checkpoint covering the chain, with its public key,
  in the format of `audit checkpoint --export` (when there is one).

The ZIP is deterministic: entries sorted by name, each dated the generation time, fixed
permissions and compression, so the same data gives the same bytes.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, select_autoescape

from documents.files import write_whole
from documents.spreadsheet import to_cell

FORMAT = "decisionflow-dossier/1"
MANIFEST = "manifest.json"
INDEX_HTML = "index.html"
INDEX_CSV = "index.csv"
INDEX_JSON = "index.json"
CHAIN = "audit/chain.jsonl"
CHECKPOINT = "audit/checkpoint.jsonl"
DOCUMENTS = "documents"  # evidence documents: each one's content is recorded by the audit chain
RECORDS = "records"
ATTACHMENTS = "attachments"
SECTIONS = (DOCUMENTS, RECORDS, ATTACHMENTS)

INDEX_COLUMNS = ("序号", "阶段", "文件题名", "日期", "责任者", "大小（字节）", "文件名")
EXTENSIONS = {
    "text/plain": ".txt",
    "application/json": ".json",
    "text/html": ".html",
    "application/pdf": ".pdf",
}


@dataclass(frozen=True)
class DossierItem:
    """One document of the file; its 序号 is its place in `DossierData.items` (archival order)."""

    stage: str  # the stage id
    stage_zh: str  # 阶段
    title: str  # 文件题名
    day: date  # 日期, local
    responsible: str  # 责任者
    kind: str  # the evidence kind, or the kind of record
    section: str  # DOCUMENTS, RECORDS or ATTACHMENTS
    content: bytes
    media_type: str = "text/plain; charset=utf-8"
    ref: str = ""  # e.g. the comment an attachment belongs to


@dataclass(frozen=True)
class DossierData:
    code: str
    title: str
    organ: str
    procedure_version: str
    status: str
    status_zh: str
    confidential: bool
    archived_at: datetime
    generated_at: datetime
    timezone: str
    items: Sequence[DossierItem]
    chain: str
    events: Sequence[Mapping[str, Any]]  # the chain's events in seq order, JSON-ready
    checkpoint: str | None = None  # the export-format text of the checkpoint, with its public key
    checkpoint_seq: int | None = None
    checkpoint_key_id: str = ""


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def canonical_json(value: Any) -> bytes:
    """Stable JSON: sorted keys, UTF-8 text, a final newline."""
    return (json.dumps(value, ensure_ascii=False, sort_keys=True, indent=1) + "\n").encode()


def item_path(seq: int, item: DossierItem) -> str:
    media = item.media_type.split(";")[0].strip().lower()
    extension = ".json" if item.section == RECORDS else EXTENSIONS.get(media, ".bin")
    ref = f"-{re.sub(r'[^A-Za-z0-9_.-]', '_', item.ref)}" if item.ref else ""
    return f"{item.section}/{seq:04d}-{item.kind}{ref}{extension}"


def index_rows(data: DossierData) -> list[dict[str, Any]]:
    return [
        {
            "seq": seq,
            "stage": item.stage,
            "stage_zh": item.stage_zh,
            "title": item.title,
            "date": item.day.isoformat(),
            "responsible": item.responsible,
            "size": len(item.content),
            "file": item_path(seq, item),
            "kind": item.kind,
            "sha256": sha256(item.content),
        }
        for seq, item in enumerate(data.items, start=1)
    ]


def _local(moment: datetime, data: DossierData) -> str:
    return moment.astimezone(ZoneInfo(data.timezone)).strftime("%Y-%m-%d %H:%M")


def index_html(data: DossierData) -> bytes:
    environment = Environment(
        loader=PackageLoader("documents", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        keep_trailing_newline=True,
    )
    template = environment.get_template("dossier_index.html.j2")
    return template.render(
        data=data,
        rows=index_rows(data),
        archived_at=_local(data.archived_at, data),
        generated_at=_local(data.generated_at, data),
        events=len(data.events),
        head=data.events[-1]["hash"] if data.events else "",
        manifest=MANIFEST,
        chain=CHAIN,
        checkpoint=CHECKPOINT,
    ).encode()


def index_csv(data: DossierData) -> bytes:
    """UTF-8 with a byte-order mark, so that spreadsheet programs read the Chinese right; no
    cell runs as a formula (`spreadsheet.to_cell`)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(INDEX_COLUMNS)
    for row in index_rows(data):
        cells = ("seq", "stage_zh", "title", "date", "responsible", "size", "file")
        writer.writerow([to_cell(row[key]) if isinstance(row[key], str) else row[key] for key in cells])
    return ("\ufeff" + out.getvalue()).encode()


def index_json(data: DossierData) -> bytes:
    return canonical_json(
        {
            "decision": data.code,
            "title": data.title,
            "columns": list(INDEX_COLUMNS),
            "items": index_rows(data),
        }
    )


def chain_jsonl(events: Sequence[Mapping[str, Any]]) -> bytes:
    return "".join(
        json.dumps(event, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n"
        for event in events
    ).encode()


def manifest(data: DossierData, files: Mapping[str, bytes]) -> bytes:
    """The decision, when the file was made, the audit chain's length and head, and every other
    file's path, size and SHA-256 (sorted by path)."""
    return canonical_json(
        {
            "format": FORMAT,
            "decision": data.code,
            "title": data.title,
            "organ": data.organ,
            "procedure_version": data.procedure_version,
            "status": data.status,
            "confidential": data.confidential,
            "archived_at": data.archived_at.isoformat(),
            "generated_at": data.generated_at.isoformat(),
            "audit": {
                "chain": data.chain,
                "length": len(data.events),
                "head": data.events[-1]["hash"] if data.events else "",
                "checkpoint": data.checkpoint_seq,
                "key_id": data.checkpoint_key_id,
            },
            "files": [
                {"path": path, "size": len(content), "sha256": sha256(content)}
                for path, content in sorted(files.items())
            ],
        }
    )


def dossier_files(data: DossierData) -> dict[str, bytes]:
    """Every file of the dossier by its path in the ZIP, the manifest included."""
    files = {item_path(seq, item): item.content for seq, item in enumerate(data.items, start=1)}
    files[INDEX_HTML] = index_html(data)
    files[INDEX_CSV] = index_csv(data)
    files[INDEX_JSON] = index_json(data)
    files[CHAIN] = chain_jsonl(data.events)
    if data.checkpoint is not None:
        files[CHECKPOINT] = data.checkpoint.encode()
    files[MANIFEST] = manifest(data, files)
    return files


def zip_bytes(files: Mapping[str, bytes], stamp: datetime) -> bytes:
    """A deterministic ZIP: entries in name order, all dated `stamp` (local wall time, as ZIP
    keeps it), regular files readable by all, deflated at a fixed level."""
    when = (stamp.year, stamp.month, stamp.day, stamp.hour, stamp.minute, stamp.second)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=when)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, so the permission bits below are read
            info.external_attr = 0o100644 << 16
            archive.writestr(info, files[name], compresslevel=9)
    return out.getvalue()


def write_dossier(data: DossierData, target: Path) -> Path:
    """Write the ZIP to `target` atomically (a reader never sees half a file; writing the same
    data again gives the same bytes)."""
    local = data.generated_at.astimezone(ZoneInfo(data.timezone))
    # the whole record, confidential decisions' included: the owner's only, as before
    return write_whole(target, zip_bytes(dossier_files(data), local), mode=0o600)
