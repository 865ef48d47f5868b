"""The year's catalogues as files: the decision catalogue (决策事项目录) and the hearing
catalogue (听证目录) of one version, in every format `documents/catalogue.py` renders.

This module gathers the data (a read over the service layer's catalogue read functions and
the decisions linked to the entries) and writes the files; it changes no database state.
The Prefect flow `catalogues` and `decisionflow catalogue export` call
`generate_catalogue_files`.

Which version: the published one in force by default, else the current one (a draft is
marked 征求意见稿 and carries no publication date; R21: published only after the Party
committee's approval, so only a published version says it is published). Each adjustment
is a new numbered version (Art. 3(3)); every earlier version stays exportable from its
frozen snapshot, into its own folder `v{n}`.

The status column says where each matter stands, from the latest decision registered
against its entry (`progress`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from documents.catalogue import FORMATS, CatalogueDocument, CatalogueKind, CatalogueRow, Progress, render
from documents.files import write_whole
from flows import procedure as proc
from flows.calendar import local_date
from flows.errors import invalid, not_found
from flows.service.catalogue import catalogue_rows, catalogue_versions, hearing_catalogue_rows
from flows.service.framework import ServiceContext, the_jurisdiction
from models import CatalogueEntry, CatalogueYear, Decision

# Legality review and collective discussion are required of every major decision (Arts. 25,
# 30); published catalogues list them among the procedures with those the entry names.
ALWAYS_LISTED = ("legality_review", "discussion")

_PROGRESS_OF_DECISION: Mapping[str, Progress] = {
    "proposed": "not_started",  # registered; the organ has not decided to start (Art. 10)
    "in_procedure": "in_progress",
    "decided": "completed",  # the executive meeting has decided (Art. 30)
    "published": "completed",
    "archived": "completed",
    "rejected": "deferred",
    "suspended": "deferred",  # execution suspended (Art. 37)
    "terminated": "deferred",
    "withdrawn": "deferred",
}


def progress(entry_status: str | None, latest_decision_status: str | None) -> Progress:
    """The status column (已完成 / 推进中 / 暂缓/调整 / 未启动) of one matter: an entry
    removed or deferred by an adjustment is 暂缓/调整 whatever its decision; otherwise the
    latest decision registered against the entry says it; no decision yet is 未启动."""
    if entry_status in ("removed", "deferred"):
        return "deferred"
    if latest_decision_status is None:
        return "not_started"
    return _PROGRESS_OF_DECISION.get(latest_decision_status, "in_progress")


@dataclass(frozen=True)
class CatalogueFiles:
    """The files written for one year and version, by catalogue and format."""

    year: int
    version: int
    version_status: str
    published: bool
    directory: Path
    decisions: dict[str, Path] = field(default_factory=dict)  # format -> path
    hearings: dict[str, Path] = field(default_factory=dict)

    @property
    def paths(self) -> list[Path]:
        return [*self.decisions.values(), *self.hearings.values()]


# ---------------------------------------------------------------------------- reading
def catalogue_documents(
    session: Session, year: int, *, version: int | None = None, today: date
) -> tuple[CatalogueDocument, CatalogueDocument]:
    """The decision catalogue and the hearing catalogue of `year`, version `version` (default:
    the published one in force, else the current one), as the renderers take them. `today`
    dates a version that has no date of its own (a draft)."""
    jurisdiction = the_jurisdiction(session)
    jid = jurisdiction.id or 0
    versions = catalogue_versions(session, jid, year)
    if not versions:
        raise not_found("year", year)
    if version is None:
        chosen = next((v for v in versions if v["in_force"]), None) or next(
            v for v in versions if v["current"]
        )
    else:
        found = next((v for v in versions if v["version"] == version), None)
        if found is None:
            raise not_found("version", version)
        chosen = found
    number = int(chosen["version"])
    rows = catalogue_rows(session, jid, year, number)
    hearing_rows = hearing_catalogue_rows(session, jid, year, number)
    states = _entry_states(session, jid, year)
    published = chosen["status"] == "published"
    published_on = date.fromisoformat(chosen["published_on"]) if chosen["published_on"] else None
    # the version's own date: its publication, else its latest approval; a draft has none
    approved = chosen["party_approved_on"] or chosen["approved_on"]
    dated = today
    if published and published_on is not None:
        dated = published_on
    elif approved and chosen["status"] != "draft":
        dated = date.fromisoformat(approved)
    seq_of = {row["code"]: int(row["seq"]) for row in rows}
    current = next(int(v["version"]) for v in versions if v["current"])

    def document(kind: CatalogueKind, source: list[dict[str, Any]]) -> CatalogueDocument:
        return CatalogueDocument(
            kind=kind,
            year=year,
            version=number,
            organ=jurisdiction.organ,
            version_status=str(chosen["status"]),
            dated=dated,
            generated_on=today,
            rows=tuple(
                _row(row, states.get(row["code"]), seq_of.get(row["code"]) if kind == "hearings" else None)
                for row in source
            ),
            current_version=current,
            in_force=bool(chosen["in_force"]),
            published_on=published_on if published else None,
            published_url=str(chosen["published_url"] or "") if published else "",
            party_approval_ref=str(chosen["party_approval_ref"] or "") if published else "",
            meeting_ref=str(chosen["meeting_ref"] or "") if published else "",
        )

    return document("decisions", rows), document("hearings", hearing_rows)


def _row(
    row: Mapping[str, Any], state: tuple[str, str | None] | None, catalogue_seq: int | None
) -> CatalogueRow:
    names = dict(zip(row["undertaking_units"], row["undertaking_unit_names"], strict=True))
    listed = {*row["procedures_required"], *ALWAYS_LISTED}
    if row["hearing_required"]:
        listed.add("hearing")
    stages = [stage for stage in proc.procedure().stages if stage.id in listed]
    entry_status, decision_status = state if state is not None else (None, None)
    return CatalogueRow(
        seq=int(row["seq"]),
        code=str(row["code"]),
        matter_name=str(row["matter_name"]),
        main_content=str(row["main_content"]),
        lead_unit=str(row["lead_unit_name"]),
        cooperating_units=tuple(names.get(code, code) for code in row["cooperating_units"]),
        legal_basis=str(row["legal_policy_basis"]),
        procedures=tuple(stage.zh for stage in stages),
        procedure_ids=tuple(stage.id for stage in stages),
        hearing_required=bool(row["hearing_required"]),
        planned_time=str(row["planned_decision_time"]),
        progress=progress(entry_status, decision_status),
        catalogue_seq=catalogue_seq,
    )


def _entry_states(session: Session, jurisdiction_id: int, year: int) -> dict[str, tuple[str, str | None]]:
    """Per entry code: the entry's status now, and the status of the latest decision
    registered against it (None: none yet)."""
    entries = session.exec(
        select(CatalogueEntry.id, CatalogueEntry.code, CatalogueEntry.status)
        .join(CatalogueYear, col(CatalogueYear.id) == CatalogueEntry.catalogue_year_id)
        .where(CatalogueYear.jurisdiction_id == jurisdiction_id, CatalogueYear.year == year)
    ).all()
    code_of = {entry_id: code for entry_id, code, _ in entries}
    latest: dict[str, str] = {}
    if code_of:
        decisions = session.exec(
            select(Decision.catalogue_entry_id, Decision.status)
            .where(col(Decision.catalogue_entry_id).in_(list(code_of)))
            .order_by(col(Decision.created_at), col(Decision.id))
        ).all()
        for entry_id, status in decisions:  # the latest registered wins
            if entry_id is not None:
                latest[code_of[entry_id]] = str(status)
    return {code: (str(status), latest.get(code)) for _, code, status in entries}


# ---------------------------------------------------------------------------- writing files
def generate_catalogue_files(
    ctx: ServiceContext,
    year: int,
    *,
    version: int | None = None,
    out_dir: Path | None = None,
    now: datetime,
    formats: Sequence[str] = FORMATS,
) -> CatalogueFiles:
    """Write both catalogues of `year` (version `version`, default the published one, else
    the current one) in `formats` into `out_dir` (default: the data folder's
    `catalogues/<year>/v<n>`), and return the paths. Files are replaced whole (written
    beside and renamed), so a flow run again leaves complete files; other versions' folders
    are never touched. `now` dates a draft and the generation."""
    if not 2000 <= year <= 2100:
        raise invalid("year", "须在 2000–2100 年之间", "must lie in 2000-2100")
    if version is not None and version < 1:
        raise invalid("version", "版本号从 1 开始", "versions are numbered from 1")
    unknown = [fmt for fmt in formats if fmt not in FORMATS]
    if unknown or not formats:
        raise invalid(
            "format",
            f"未知格式 {', '.join(unknown)}（可用 {', '.join(FORMATS)}）",
            f"unknown format {', '.join(unknown)} (one of {', '.join(FORMATS)})",
        )
    with Session(ctx.engine) as session:
        tz = ZoneInfo(the_jurisdiction(session).timezone)
        decisions, hearings = catalogue_documents(session, year, version=version, today=local_date(now, tz))
    if out_dir is None:
        if ctx.data_dir is None:
            raise invalid(
                "out_dir", "未配置数据文件夹，须指定输出文件夹", "no data folder is configured; give one"
            )
        out_dir = ctx.data_dir / "catalogues" / str(year) / f"v{decisions.version}"
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{year}-v{decisions.version}"
    written: dict[CatalogueKind, dict[str, Path]] = {"decisions": {}, "hearings": {}}
    for doc in (decisions, hearings):
        for fmt in dict.fromkeys(formats):
            path = out_dir / f"{stem}-{doc.kind}.{fmt}"
            write_whole(path, render(doc, fmt))
            written[doc.kind][fmt] = path
    return CatalogueFiles(
        year=year,
        version=decisions.version,
        version_status=decisions.version_status,
        published=decisions.published,
        directory=out_dir,
        decisions=written["decisions"],
        hearings=written["hearings"],
    )


__all__ = ["ALWAYS_LISTED", "CatalogueFiles", "catalogue_documents", "generate_catalogue_files", "progress"]
