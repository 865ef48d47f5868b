"""The annual decision catalogue (决策事项目录) and the hearing catalogue (听证目录):
Art. 3(3), GD-H Art. 3; the columns follow published catalogues.

A catalogue year goes through numbered versions. Departments propose entries into the
draft version, the legal office includes or rejects each one (keeping a reason for what
it leaves out, §2.5), the executive meeting reviews the draft, the same-level Party
committee approves it, and only then may it be published (R21). An adjustment during
the year opens the next version, which goes through review, approval and publication
again; a published version stays frozen exactly as it was published.

Every action of a catalogue year appends to that year's own audit chain, and takes the
year's row lock first, so that actions on one year are serialised.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any, Literal

from pydantic import Field, ValidationError
from sqlalchemy import func
from sqlmodel import Session, col, select

from flows import procedure as proc
from flows import rules
from flows.errors import invalid, not_found, refusal
from flows.hygiene import next_free_code
from flows.service.framework import DEPARTMENT_ROLES, Payload, Tx, action, the_jurisdiction, validation_error
from models import (
    CatalogueAdjustment,
    CatalogueEntry,
    CatalogueEntryStatus,
    CatalogueVersion,
    CatalogueVersionStatus,
    CatalogueYear,
    Jurisdiction,
    Unit,
)

# The procedures a catalogue lists per entry (Wuyang 2021 columns, §9.1). Legality review and
# collective discussion are always required (Arts. 25, 30), so they are not a choice.
CATALOGUE_PROCEDURES = (
    "public_participation",
    "hearing",
    "expert_review",
    "risk_assessment",
    "fair_competition_review",
)
ProcedureName = Literal[
    "public_participation", "hearing", "expert_review", "risk_assessment", "fair_competition_review"
]

# Recognised reasons for leaving a proposed matter out of the catalogue (§2.5): (zh, en, basis).
EXCLUSION_REASONS: dict[str, tuple[str, str, str]] = {
    "implements_higher_decision": (
        "执行上级决定",
        "implements a higher-level decision",
        "Guangdong procedure rules Art. 3 (§10.1)",
    ),
    "excluded_by_art_3_2": (
        "属于条例第三条第二款排除事项",
        "excluded by Art. 3(2): procedure set by another law, macro-control, law-making or emergency response",
        "Art. 3(2)",
    ),
    "not_major": ("不属于重大行政决策事项", "not a major decision matter", "Art. 3(1)"),
}
ExclusionReason = Literal["implements_higher_decision", "excluded_by_art_3_2", "not_major"]

IN_CATALOGUE = (CatalogueEntryStatus.proposed, CatalogueEntryStatus.included)  # entries a draft version shows

ENTRY_CODE = r"^[A-Za-z0-9_.-]+$"  # no "/": register_decision reads "2026/E3"


# ---------------------------------------------------------------------------- payloads
class CatalogueYearPayload(Payload):
    year: int = Field(ge=2000, le=2100)


class EntryFields(Payload):
    """One matter of the catalogue, in the union of the columns published catalogues use."""

    ref: str | None = Field(default=None, min_length=1, max_length=64, pattern=ENTRY_CODE)
    matter_name: str = Field(min_length=1, max_length=300)
    main_content: str = ""
    category: int = Field(ge=1, le=5)  # Art. 3(1)
    units: list[str] = Field(default_factory=list)
    lead_unit: str | None = None
    legal_basis: str = ""
    reason: str = ""
    procedures_required: list[ProcedureName] = Field(default_factory=list)
    hearing_required: bool = False  # GD-H Art. 3: the hearing catalogue flag
    planned_decision_time: str = Field(default="", max_length=64)  # e.g. 2026年第三季度


class ProposeEntry(EntryFields):
    year: int = Field(ge=2000, le=2100)


class ReviewEntry(CatalogueYearPayload):
    entry: str = Field(min_length=1, max_length=64)
    include: bool
    reason: str = ""
    reason_code: ExclusionReason | None = None


class ApproveCatalogue(CatalogueYearPayload):
    meeting_ref: str = Field(min_length=1, max_length=200)  # e.g. 区政府第5次常务会议
    approved_on: date


class PartyApproval(CatalogueYearPayload):
    approval_ref: str = Field(min_length=1, max_length=200)
    approved_on: date


class PublishCatalogue(CatalogueYearPayload):
    url: str = Field(min_length=1, max_length=500, pattern=r"^https?://\S+$")
    published_on: date


ENTRY_FIELD_NAMES = (
    "ref",
    "matter_name",
    "main_content",
    "category",
    "units",
    "lead_unit",
    "legal_basis",
    "procedures_required",
    "hearing_required",
    "planned_decision_time",
)


class AdjustCatalogue(CatalogueYearPayload):
    kind: Literal["add", "remove", "defer"]
    reason: str = Field(min_length=1)
    entry: str | None = Field(default=None, min_length=1, max_length=64)  # remove, defer
    defer_to: str = Field(default="", max_length=64)  # defer: e.g. 2027年
    # add: the new entry (validated as EntryFields; `reason` becomes its reason)
    ref: str | None = None
    matter_name: str | None = None
    main_content: str | None = None
    category: int | None = None
    units: list[str] | None = None
    lead_unit: str | None = None
    legal_basis: str | None = None
    procedures_required: list[str] | None = None
    hearing_required: bool | None = None
    planned_decision_time: str | None = None


# ---------------------------------------------------------------------------- actions
@action("propose_catalogue_entry", ProposeEntry)
def propose_catalogue_entry(tx: Tx, p: ProposeEntry) -> Mapping[str, Any]:
    """§2.3 step 2: a department proposes a matter for the year's draft catalogue. Once a
    version has been published, new matters come in through adjust_catalogue (Art. 3(3))."""
    year = _open_year(tx, p.year, create=True)
    version = _current_version(tx, year)
    # once published, new matters come in through an adjustment (Art. 3(3), §2.4)
    tx.check(rules.catalogue_open_for_proposals(p.year, year.published_version))
    tx.require("catalogue_version", version, f"#{version.number}", field="year")
    entry = _add_entry(tx, year, version.number, p)
    tx.emit("catalogue_entry_proposed", {"year": p.year, "entry": entry.code, "version": version.number})
    return {"year": p.year, "entry": entry.code, "version": version.number, "status": entry.status}


@action("review_catalogue_entry", ReviewEntry)
def review_catalogue_entry(tx: Tx, p: ReviewEntry) -> Mapping[str, Any]:
    """§2.3 step 3: the legal office includes a proposed matter or leaves it out, keeping the
    reason for anything left out (§2.5)."""
    if p.include and p.reason_code is not None:
        raise invalid("reason_code", "仅用于不纳入目录的事项", "only for an entry that is left out")
    if not p.include and not p.reason and p.reason_code is None:
        raise invalid("reason", "不纳入目录须说明理由", "an entry left out needs a reason (§2.5)")
    year = _open_year(tx, p.year)
    version = _current_version(tx, year)
    entry = _entry(tx, year, p.entry)
    tx.require("catalogue_entry", entry, entry.code, field="entry")
    tx.require("catalogue_version", version, f"#{version.number}", field="entry")
    _move_entry(tx, entry, CatalogueEntryStatus.included if p.include else CatalogueEntryStatus.rejected)
    entry.review_reason = p.reason or (EXCLUSION_REASONS[p.reason_code][0] if p.reason_code else "")
    entry.review_reason_code = p.reason_code or ""
    entry.reviewed_by = tx.actor.code
    entry.reviewed_at = tx.now
    tx.emit(
        "catalogue_entry_reviewed",
        {"year": p.year, "entry": entry.code, "status": entry.status, "reason": entry.review_reason},
    )
    return {"year": p.year, "entry": entry.code, "status": entry.status}


@action("approve_catalogue", ApproveCatalogue)
def approve_catalogue(tx: Tx, p: ApproveCatalogue) -> Mapping[str, Any]:
    """§2.3 step 4: the executive meeting reviews the draft version. Its entries are frozen
    as approved; any later change opens a new version."""
    _not_in_future(tx, "approved_on", p.approved_on)
    year = _open_year(tx, p.year)
    version = _current_version(tx, year)
    tx.require("catalogue_version", version, f"#{version.number}", field="year")
    entries = _version_entries(tx.session, year, version.number)
    tx.check(
        rules.catalogue_ready_for_review(
            [e.code for e in entries if e.status == CatalogueEntryStatus.proposed],
            [e.code for e in entries if e.status == CatalogueEntryStatus.included],
        )
    )
    _move_version(tx, version, CatalogueVersionStatus.approved)
    version.approved_at = tx.now
    version.approved_on = p.approved_on
    version.meeting_ref = p.meeting_ref
    version.snapshot = _live_rows(tx.session, tx.jurisdiction, year, version)
    codes = [row["code"] for row in version.snapshot]
    tx.emit("catalogue_approved", {"year": p.year, "version": version.number, "entries": codes})
    return {"year": p.year, "version": version.number, "status": version.status, "entries": codes}


@action("record_catalogue_party_approval", PartyApproval)
def record_catalogue_party_approval(tx: Tx, p: PartyApproval) -> Mapping[str, Any]:
    """Art. 3(3): the same-level Party committee approves the version the executive meeting
    reviewed."""
    _not_in_future(tx, "approved_on", p.approved_on)
    year = _open_year(tx, p.year)
    version = _current_version(tx, year)
    tx.require("catalogue_version", version, f"#{version.number}", field="year")
    if version.approved_on is not None and p.approved_on < version.approved_on:
        raise invalid(
            "approved_on",
            f"早于常务会议审议日期 {version.approved_on.isoformat()}",
            f"before the executive meeting's review on {version.approved_on.isoformat()}",
        )
    _move_version(tx, version, CatalogueVersionStatus.party_approved)
    version.party_approved_at = tx.now
    version.party_approved_on = p.approved_on
    version.party_approval_ref = p.approval_ref
    tx.emit("catalogue_party_approved", {"year": p.year, "version": version.number})
    return {"year": p.year, "version": version.number, "status": version.status}


@action("publish_catalogue", PublishCatalogue)
def publish_catalogue(tx: Tx, p: PublishCatalogue) -> Mapping[str, Any]:
    """R21 (Art. 3(3)): published only after the Party committee approved this version. The
    published rows are the ones approved, stamped with the publication details."""
    _not_in_future(tx, "published_on", p.published_on)
    year = _open_year(tx, p.year)
    version = _current_version(tx, year)
    tx.require("catalogue_version", version, f"#{version.number}", field="year")
    tx.check(rules.catalogue_publishable(version.status, version.party_approved_on, p.published_on))
    _move_version(tx, version, CatalogueVersionStatus.published)
    version.published_at = tx.now
    version.published_on = p.published_on
    version.published_url = p.url
    stamp = {
        "party_committee_approval_ref": version.party_approval_ref,
        "published_at": p.published_on.isoformat(),
        "published_url": p.url,
    }
    version.snapshot = [{**row, **stamp} for row in version.snapshot]
    year.published_version = version.number
    tx.session.add(year)
    hearing_count = sum(1 for row in version.snapshot if row["hearing_required"])
    tx.emit(
        "catalogue_published",
        {"year": p.year, "version": version.number, "url": p.url, "entries": len(version.snapshot)},
    )
    return {
        "year": p.year,
        "version": version.number,
        "entries": len(version.snapshot),
        "hearing_entries": hearing_count,
    }


@action("adjust_catalogue", AdjustCatalogue)
def adjust_catalogue(tx: Tx, p: AdjustCatalogue) -> Mapping[str, Any]:
    """Art. 3(3) "根据实际情况调整"; §2.4. An adjustment of an approved or published catalogue
    opens the next version (R21: adjustments are versioned and re-published); further
    adjustments join that draft until it is approved. Published snapshots are never touched."""
    new_entry = _adjustment_input(p)
    year = _open_year(tx, p.year)
    current = _current_version(tx, year)
    tx.check(rules.catalogue_adjustable(current.status, current.number))
    version = (
        current if current.status == CatalogueVersionStatus.draft else _open_next_version(tx, year, current)
    )
    details: dict[str, Any] = {}
    if new_entry is not None:
        entry = _add_entry(tx, year, version.number, new_entry)
        details["matter_name"] = entry.matter_name
    else:
        assert p.entry is not None
        entry = _entry(tx, year, p.entry)
        _department_may_act(tx, entry.unit_codes, "entry")
        tx.require("catalogue_entry", entry, entry.code, field="entry")
        details["previous_status"] = entry.status
        _move_entry(
            tx, entry, CatalogueEntryStatus.removed if p.kind == "remove" else CatalogueEntryStatus.deferred
        )
        entry.removed_in_version = version.number
        if p.defer_to:
            details["defer_to"] = p.defer_to
    adjustment = CatalogueAdjustment(
        catalogue_year_id=year.id or 0,
        version_number=version.number,
        kind=p.kind,
        entry_id=entry.id or 0,
        reason=p.reason,
        details=details,
        created_by=tx.actor.code,
        created_at=tx.now,
    )
    tx.session.add(adjustment)
    tx.emit(
        "catalogue_adjusted",
        {"year": p.year, "version": version.number, "kind": p.kind, "entry": entry.code},
    )
    return {
        "year": p.year,
        "version": version.number,
        "kind": p.kind,
        "entry": entry.code,
        "entry_status": entry.status,
    }


# ---------------------------------------------------------------------------- helpers (writing)
def _open_year(tx: Tx, year: int, *, create: bool = False) -> CatalogueYear:
    """Lock the year's row (FOR UPDATE) and point the audit at the year's chain. The first
    proposal of a year creates it, serialised on the jurisdiction's row."""
    tx.chain = f"catalogue:{tx.jurisdiction.id}:{year}"
    row = _lock_year(tx, year)
    if row is None and create:
        the_jurisdiction(tx.session, lock=True)
        row = _lock_year(tx, year)  # a concurrent first proposal may have created it meanwhile
        if row is None:
            row = CatalogueYear(jurisdiction_id=tx.jurisdiction.id or 0, year=year, current_version=1)
            tx.session.add(row)
            tx.session.flush()
            tx.session.add(
                CatalogueVersion(catalogue_year_id=row.id or 0, number=1, status=CatalogueVersionStatus.draft)
            )
            tx.session.flush()
    if row is None:
        raise not_found("year", year)
    return row


def _lock_year(tx: Tx, year: int) -> CatalogueYear | None:
    return tx.session.exec(
        select(CatalogueYear)
        .where(CatalogueYear.jurisdiction_id == tx.jurisdiction.id, CatalogueYear.year == year)
        .with_for_update()
    ).first()


def _current_version(tx: Tx, year: CatalogueYear) -> CatalogueVersion:
    version = _version(tx.session, year, year.current_version)
    assert version is not None, "a catalogue year always has its current version"
    return version


def _open_next_version(tx: Tx, year: CatalogueYear, current: CatalogueVersion) -> CatalogueVersion:
    if current.status != CatalogueVersionStatus.published:
        _move_version(
            tx, current, CatalogueVersionStatus.superseded
        )  # never published; the new version replaces it
    version = CatalogueVersion(
        catalogue_year_id=year.id or 0, number=current.number + 1, status=CatalogueVersionStatus.draft
    )
    tx.session.add(version)
    year.current_version = version.number
    tx.session.add(year)
    tx.session.flush()
    tx.notes["catalogue_version"] = f"{current.number}->{version.number}"
    return version


def _entry(tx: Tx, year: CatalogueYear, code: str) -> CatalogueEntry:
    entry = tx.session.exec(
        select(CatalogueEntry).where(CatalogueEntry.catalogue_year_id == year.id, CatalogueEntry.code == code)
    ).first()
    if entry is None:
        raise not_found("entry", code)
    return entry


def _add_entry(tx: Tx, year: CatalogueYear, version_number: int, f: EntryFields) -> CatalogueEntry:
    units = list(dict.fromkeys(f.units))
    lead_code = f.lead_unit if f.lead_unit is not None else (units[0] if len(units) == 1 else None)
    tx.check(rules.undertaking_units_named(units, lead_code))  # R1-style, Art. 11
    assert lead_code is not None
    for code in units:
        tx.unit(code, "units")
    _department_may_act(tx, units, "units")
    seq = _next_seq(tx, year)
    if f.ref is not None:
        if _code_taken(tx, year, f.ref):
            raise invalid("ref", f"事项编号 {f.ref} 已存在", f"entry {f.ref} already exists")
        code = f.ref
    else:
        taken = set(
            tx.session.exec(
                select(CatalogueEntry.code).where(CatalogueEntry.catalogue_year_id == year.id)
            ).all()
        )
        code = next_free_code("E", seq, taken)
    # A hearing flagged in the catalogue is one of the entry's procedures, and vice versa.
    hearing = f.hearing_required or "hearing" in f.procedures_required
    wanted = {*f.procedures_required, *(["hearing"] if hearing else [])}
    entry = CatalogueEntry(
        catalogue_year_id=year.id or 0,
        code=code,
        seq=seq,
        matter_name=f.matter_name,
        main_content=f.main_content,
        category=f.category,
        lead_unit_id=tx.unit(lead_code, "lead_unit").id or 0,
        unit_codes=units,
        legal_basis=f.legal_basis,
        reason=f.reason,
        procedures_required=[name for name in CATALOGUE_PROCEDURES if name in wanted],
        hearing_required=hearing,
        planned_decision_time=f.planned_decision_time,
        status=CatalogueEntryStatus.proposed,
        proposed_by=tx.actor.code,
        proposed_at=tx.now,
        added_in_version=version_number,
    )
    tx.session.add(entry)
    tx.session.flush()
    return entry


def _next_seq(tx: Tx, year: CatalogueYear) -> int:
    value = tx.session.exec(
        select(func.max(CatalogueEntry.seq)).where(CatalogueEntry.catalogue_year_id == year.id)
    ).one()
    return int(value or 0) + 1


def _code_taken(tx: Tx, year: CatalogueYear, code: str) -> bool:
    found = tx.session.exec(
        select(CatalogueEntry.id).where(
            CatalogueEntry.catalogue_year_id == year.id, CatalogueEntry.code == code
        )
    ).first()
    return found is not None


def _department_may_act(tx: Tx, unit_codes: list[str], field: str) -> None:
    """A department proposes and adjusts only matters it undertakes (Art. 11), as it acts
    only on decisions it undertakes."""
    acting = tx.rule.roles & tx.actor.roles
    if tx.actor.is_system or not acting or not acting <= DEPARTMENT_ROLES:
        return
    if tx.actor.unit_code not in unit_codes:
        raise refusal(
            "AUTH",
            f"{tx.actor.unit_code} 不是该事项的承办单位",
            f"{tx.actor.unit_code} is not an undertaking unit of this matter",
            field=field,
            kind="forbidden",
        )


def _move_entry(tx: Tx, entry: CatalogueEntry, to: CatalogueEntryStatus) -> None:
    tx.advance("catalogue_entry", entry, to, entry.code, field="entry")


def _move_version(tx: Tx, version: CatalogueVersion, to: CatalogueVersionStatus) -> None:
    tx.advance("catalogue_version", version, to, f"#{version.number}", field="year")


def _not_in_future(tx: Tx, field: str, day: date) -> None:
    if day > tx.today:
        raise invalid(field, f"{day.isoformat()} 晚于今天", f"{day.isoformat()} is in the future")


def _adjustment_input(p: AdjustCatalogue) -> EntryFields | None:
    """The new entry of an `add`, validated like a proposal; for remove and defer, the
    entry to change and no new-entry fields (none is silently ignored)."""
    given = [name for name in ENTRY_FIELD_NAMES if name in p.model_fields_set]
    if p.kind != "defer" and p.defer_to:
        raise invalid("defer_to", "仅用于延期", "only for kind defer")
    if p.kind != "add":
        if p.entry is None:
            raise invalid("entry", "调出或延期须指明事项", "is required to remove or defer an entry")
        if given:
            raise invalid(given[0], "仅用于新增事项", "only for kind add")
        return None
    if p.entry is not None:
        raise invalid("entry", "新增事项不指明已有事项", "not used for kind add")
    fields = {name: getattr(p, name) for name in given}
    try:
        return EntryFields.model_validate({**fields, "reason": p.reason})
    except ValidationError as exc:
        raise validation_error(exc) from None


# ---------------------------------------------------------------------------- reading (CLI, web)
def catalogue_rows(
    session: Session,
    jurisdiction_id: int,
    year: int,
    version: int | None = None,
    *,
    published: bool = False,
) -> list[dict[str, Any]]:
    """The catalogue's rows in the union schema of §9.1, in published order.

    `version=None` means the current version (the draft being compiled, or the approved or
    published one); `published=True` means the version in force on the public portal
    instead, and never returns an unpublished version. An approved or published version
    returns its frozen rows; a draft returns its live entries, proposed ones included."""
    catalogue_year = _find_year(session, jurisdiction_id, year)
    if catalogue_year is None:
        return []
    number = version
    if number is None:
        number = catalogue_year.published_version if published else catalogue_year.current_version
    if number is None:
        return []
    row = _version(session, catalogue_year, number)
    if row is None or (published and row.status != "published"):
        return []
    if row.status != "draft":
        return [dict(item) for item in row.snapshot]
    jurisdiction = session.get(Jurisdiction, jurisdiction_id)
    assert jurisdiction is not None
    return _live_rows(session, jurisdiction, catalogue_year, row)


def hearing_catalogue_rows(
    session: Session,
    jurisdiction_id: int,
    year: int,
    version: int | None = None,
    *,
    published: bool = False,
) -> list[dict[str, Any]]:
    """The hearing catalogue (听证目录, GD-H Art. 3): the catalogue's matters flagged for a
    hearing, numbered on their own, with the §9.2 columns added."""
    rows = [
        row
        for row in catalogue_rows(session, jurisdiction_id, year, version, published=published)
        if row["hearing_required"]
    ]
    return [
        {
            **row,
            "seq": seq,
            "hearing_matter": row["matter_name"],
            "basis": row["legal_policy_basis"],
            "organiser": row["lead_unit_name"],  # the lead unit organises (GD-H, §3)
            "linked_decision_item": row["code"],
            "planned_time": row["planned_decision_time"],
        }
        for seq, row in enumerate(rows, start=1)
    ]


def catalogue_entries(session: Session, jurisdiction_id: int, year: int) -> list[dict[str, Any]]:
    """Every entry ever proposed for the year, whatever its status, with the legal office's
    review and the reason for anything left out (§2.5)."""
    catalogue_year = _find_year(session, jurisdiction_id, year)
    if catalogue_year is None:
        return []
    jurisdiction = session.get(Jurisdiction, jurisdiction_id)
    assert jurisdiction is not None
    entries = list(
        session.exec(
            select(CatalogueEntry)
            .where(CatalogueEntry.catalogue_year_id == catalogue_year.id)
            .order_by(col(CatalogueEntry.seq))
        )
    )
    rows = _rows_for(session, jurisdiction, catalogue_year, catalogue_year.current_version, entries)
    for row, entry in zip(rows, entries, strict=True):
        row["seq"] = entry.seq
        row["review_reason"] = entry.review_reason
        row["review_reason_code"] = entry.review_reason_code
        row["reviewed_by"] = entry.reviewed_by
        row["proposed_by"] = entry.proposed_by
        row["added_in_version"] = entry.added_in_version
        row["removed_in_version"] = entry.removed_in_version
    return rows


def catalogue_versions(session: Session, jurisdiction_id: int, year: int) -> list[dict[str, Any]]:
    """Each version of the year's catalogue with its approvals and publication."""
    catalogue_year = _find_year(session, jurisdiction_id, year)
    if catalogue_year is None:
        return []
    versions = session.exec(
        select(CatalogueVersion)
        .where(CatalogueVersion.catalogue_year_id == catalogue_year.id)
        .order_by(col(CatalogueVersion.number))
    )
    return [
        {
            "version": v.number,
            "status": v.status,
            "current": v.number == catalogue_year.current_version,
            "in_force": v.number == catalogue_year.published_version,
            "meeting_ref": v.meeting_ref,
            "approved_on": v.approved_on.isoformat() if v.approved_on else None,
            "party_approval_ref": v.party_approval_ref,
            "party_approved_on": v.party_approved_on.isoformat() if v.party_approved_on else None,
            "published_on": v.published_on.isoformat() if v.published_on else None,
            "published_url": v.published_url,
            "entries": len(v.snapshot),
        }
        for v in versions
    ]


def _find_year(session: Session, jurisdiction_id: int, year: int) -> CatalogueYear | None:
    return session.exec(
        select(CatalogueYear).where(
            CatalogueYear.jurisdiction_id == jurisdiction_id, CatalogueYear.year == year
        )
    ).first()


def _version(session: Session, year: CatalogueYear, number: int) -> CatalogueVersion | None:
    return session.exec(
        select(CatalogueVersion).where(
            CatalogueVersion.catalogue_year_id == year.id, CatalogueVersion.number == number
        )
    ).first()


def _version_entries(session: Session, year: CatalogueYear, number: int) -> list[CatalogueEntry]:
    """The entries a draft version lists: added up to it and still proposed or included."""
    return list(
        session.exec(
            select(CatalogueEntry)
            .where(
                CatalogueEntry.catalogue_year_id == year.id,
                col(CatalogueEntry.added_in_version) <= number,
                col(CatalogueEntry.status).in_(IN_CATALOGUE),
            )
            .order_by(col(CatalogueEntry.seq))
        )
    )


def _live_rows(
    session: Session, jurisdiction: Jurisdiction, year: CatalogueYear, version: CatalogueVersion
) -> list[dict[str, Any]]:
    entries = _version_entries(session, year, version.number)
    return _rows_for(session, jurisdiction, year, version.number, entries)


def _rows_for(
    session: Session,
    jurisdiction: Jurisdiction,
    year: CatalogueYear,
    version_number: int,
    entries: list[CatalogueEntry],
) -> list[dict[str, Any]]:
    units = list(session.exec(select(Unit).where(Unit.jurisdiction_id == jurisdiction.id)))
    name_by_code = {u.code: u.name for u in units}
    code_by_id = {u.id: u.code for u in units}
    history: dict[int, list[dict[str, Any]]] = {}
    adjustments = session.exec(
        select(CatalogueAdjustment)
        .where(
            CatalogueAdjustment.catalogue_year_id == year.id,
            col(CatalogueAdjustment.version_number) <= version_number,
        )
        .order_by(col(CatalogueAdjustment.id))
    )
    for adjustment in adjustments:
        history.setdefault(adjustment.entry_id, []).append(
            {
                "version": adjustment.version_number,
                "kind": adjustment.kind,
                "reason": adjustment.reason,
                "on": adjustment.created_at.isoformat(),
                **adjustment.details,
            }
        )
    rows: list[dict[str, Any]] = []
    for seq, entry in enumerate(entries, start=1):
        lead = code_by_id.get(entry.lead_unit_id, "")
        rows.append(
            {
                "seq": seq,
                "code": entry.code,
                "year": year.year,
                "version": version_number,
                "matter_name": entry.matter_name,
                "main_content": entry.main_content,
                "category": entry.category,
                "category_name": proc.CATEGORIES[entry.category],
                "decision_organ": jurisdiction.organ,
                "undertaking_units": list(entry.unit_codes),
                "undertaking_unit_names": [name_by_code.get(c, c) for c in entry.unit_codes],
                "lead_unit": lead,
                "lead_unit_name": name_by_code.get(lead, lead),
                "cooperating_units": [c for c in entry.unit_codes if c != lead],
                "legal_policy_basis": entry.legal_basis,
                "reason": entry.reason,
                "procedures_required": list(entry.procedures_required),
                "hearing_required": entry.hearing_required,
                "planned_decision_time": entry.planned_decision_time,
                "status": entry.status,
                "adjustment_history": history.get(entry.id or 0, []),
                "party_committee_approval_ref": "",
                "published_at": None,
                "published_url": "",
            }
        )
    return rows
