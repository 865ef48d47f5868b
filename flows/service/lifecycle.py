"""Registering a decision and carrying it through initiation and drafting (Arts. 10-13),
plus the legal office's stage approvals."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any, Literal

from pydantic import Field, field_validator
from sqlalchemy import bindparam, exists, func
from sqlalchemy import select as sa_select
from sqlmodel import col, select

from flows import procedure as proc
from flows import rules
from flows.errors import invalid, not_found
from flows.hygiene import next_free_code
from flows.service import row_digests
from flows.service.framework import DecisionPayload, Payload, Tx, action, the_jurisdiction
from models import (
    CatalogueEntry,
    CatalogueVersion,
    CatalogueYear,
    Decision,
    DecisionStatus,
    DraftVersion,
    StageInstance,
    StageStatus,
    Unit,
)

ProposalSource = Literal["leader", "department", "lower_government", "deputy_or_cppcc", "public"]
FlagName = Literal[
    "confidential",
    "technical",
    "stability_risk",
    "market_activity",
    "hearing_required_by_law",
    "affects_specific_group",
    "high_public_concern",
    "exploratory_reform",
    "congress_step",
]


class RegisterDecision(Payload):
    ref: str | None = Field(default=None, min_length=1, max_length=64)
    title: str = Field(min_length=1, max_length=300)
    category: int = Field(ge=1, le=5)  # Art. 3(1)
    lead_unit: str | None = None
    # read in one statement (`Tx.read_units`): bounded far below PostgreSQL's 65,535 bound
    # parameters, which a longer list broke with a raw database error
    units: list[str] = Field(default_factory=list, max_length=200)
    proposal_source: ProposalSource = "department"
    proposal: str = ""
    catalogue_entry: str | None = None  # "2026/E3" or an entry code of the current year
    flags: list[FlagName] = Field(default_factory=list)
    organ: str | None = None


@action("register_decision", RegisterDecision)
def register_decision(tx: Tx, p: RegisterDecision) -> Mapping[str, Any]:
    decision = create_decision(tx, p)
    return {"decision": decision.code, "procedure_version": proc.CURRENT_VERSION}


def create_decision(
    tx: Tx, p: RegisterDecision, *, entry: CatalogueEntry | None = None, adjusts: Decision | None = None
) -> Decision:
    """Register a new decision and make it `tx.decision`: shared by register_decision and
    start_adjustment (a major adjustment runs as a new procedure instance, Art. 37).
    `entry` passes an already resolved catalogue entry (the adjusted decision's)."""
    units = list(dict.fromkeys([*([p.lead_unit] if p.lead_unit else []), *p.units]))
    code = p.ref or _next_code(tx)
    params = {"jurisdiction_id": tx.jurisdiction.id, "code": code, "units": units}
    if units:
        taken = tx.read_units(units, "units", _units_and_code_query(), params)
    else:
        taken = tx.session.execute(_code_taken_query(), params).scalar_one()
    if taken:
        raise invalid("ref", f"决策编号 {code} 已存在", f"decision {code} already exists")
    # P16: confidential and exploratory_reform are proposals until the legal office confirms
    # them; an adjustment (Art. 37) keeps the confirmations of the decision it adjusts.
    flags: set[str] = set(p.flags)
    proposed = {f for f in flags if f in proc.FLAGS_NEEDING_CONFIRMATION}
    confirmations: dict[str, Any] = {}
    for name in sorted(proposed):
        if adjusts is not None and name in adjusts.flags and name in adjusts.flag_confirmations:
            confirmations[name] = {**adjusts.flag_confirmations[name], "carried_from": adjusts.code}
            proposed.discard(name)
    flags -= proposed
    if p.catalogue_entry:
        entry = _catalogue_entry(tx, p.catalogue_entry)
    if entry is not None and entry.hearing_required:
        flags.add("hearing_in_catalogue")  # GD-H Art. 3
    # Art. 3(3) catalogue: the procedures the entry lists are required stages of the decision
    listed = set(entry.procedures_required) if entry is not None else set()
    if entry is not None and entry.hearing_required:
        listed.add("hearing")
    catalogue_procedures = [stage.id for stage in tx.procedure.stages if stage.id in listed]
    lead = (
        tx.unit(p.lead_unit, "lead_unit") if p.lead_unit else (tx.unit(units[0]) if len(units) == 1 else None)
    )
    decision = Decision(
        jurisdiction_id=tx.jurisdiction.id or 0,
        code=code,
        title=p.title,
        category=p.category,
        organ=p.organ or tx.jurisdiction.organ,
        lead_unit_id=lead.id if lead else None,
        unit_codes=units,
        proposal_source=p.proposal_source,
        catalogue_entry_id=entry.id if entry else None,
        flags=sorted(flags),
        proposed_flags=sorted(proposed),
        flag_confirmations=confirmations,
        catalogue_procedures=catalogue_procedures,
        procedure_version=proc.CURRENT_VERSION,
        status=DecisionStatus.proposed,
        adjusts_decision_id=adjusts.id if adjusts else None,
        registered_by=tx.actor.code,
        created_at=tx.now,
        updated_at=tx.now,
        audit_seq=1,  # its registration is the first event of its chain, appended below
    )
    tx.session.add(decision)
    tx.session.flush()
    tx.decision = decision
    statuses = rules.initial_stage_statuses(
        tx.procedure.stages, frozenset(flags), frozenset(catalogue_procedures)
    )
    # initiation is under way from registration (Art. 10): made active as it is created
    assert (statuses["initiation"], StageStatus.active) in proc.STAGE_TRANSITIONS
    tx.notes.setdefault("stages", {})["initiation"] = f"{statuses['initiation'].value}->active"
    statuses["initiation"] = StageStatus.active
    # one multi-row INSERT (registration is a hot path): no ORM object per stage
    rows: list[dict[str, Any]] = [
        {
            "decision_id": decision.id,
            "stage": stage_id,
            "status": status,
            "note": "",
            "details": {},
            "updated_at": tx.now,
        }
        for stage_id, status in statuses.items()
    ]
    # executemany through insertmanyvalues: one cached statement; ids matched by stage
    row_digests.insert_rows(tx.session, StageInstance, rows, match="stage")
    if p.proposal:
        tx.add_evidence("initiation", "proposal", p.proposal)
    if entry is None:
        # A matter is major by substance, not by listing (Art. 3(1)): it enters the
        # procedure and the catalogue must be adjusted to include it (§2.5).
        tx.emit("catalogue_adjustment_needed", {"title": p.title})
    elif entry.planned_decision_time:
        tx.notes["planned_decision_time"] = entry.planned_decision_time
    if proposed:
        tx.emit("flags_proposed", {"flags": sorted(proposed)})  # for the legal office (P16)
    tx.emit("decision_registered", {"title": p.title})
    return decision


# registration's statements, built once per process (its hot path)
@cache
def _code_taken() -> Any:
    return exists().where(
        col(Decision.jurisdiction_id) == bindparam("jurisdiction_id"), col(Decision.code) == bindparam("code")
    )


@cache
def _code_taken_query() -> Any:
    return sa_select(_code_taken())


@cache
def _units_and_code_query() -> Any:
    """The units a registration names, each with whether its code is taken."""
    return sa_select(Unit, _code_taken()).where(
        col(Unit.jurisdiction_id) == bindparam("jurisdiction_id"),
        col(Unit.code).in_(bindparam("units", expanding=True)),
    )


def _next_code(tx: Tx) -> str:
    # serialise automatic numbering per jurisdiction, so two registrations never draw one code
    the_jurisdiction(tx.session, lock=True)
    prefix = f"JC-{tx.today.year}-"
    count = tx.session.exec(
        select(func.count()).select_from(Decision).where(Decision.jurisdiction_id == tx.jurisdiction.id)
    ).one()
    # a code someone chose as their `ref` is skipped, never drawn again
    taken = tx.session.exec(
        select(Decision.code).where(
            Decision.jurisdiction_id == tx.jurisdiction.id, col(Decision.code).startswith(prefix)
        )
    ).all()
    return next_free_code(prefix, int(count) + 1, set(taken), width=3)


def _catalogue_entry(tx: Tx, ref: str) -> CatalogueEntry:
    year_text, _, code = ref.rpartition("/")
    year = int(year_text) if year_text.isdigit() else tx.today.year
    entry = tx.session.exec(
        select(CatalogueEntry)
        .join(CatalogueYear, col(CatalogueYear.id) == CatalogueEntry.catalogue_year_id)
        .where(CatalogueYear.jurisdiction_id == tx.jurisdiction.id, CatalogueYear.year == year)
        .where(CatalogueEntry.code == code)
    ).first()
    if entry is None:
        raise not_found("catalogue_entry", ref)
    if entry.status != "included":
        raise invalid(
            "catalogue_entry", f"目录事项状态为 {entry.status}", f"the catalogue entry is {entry.status}"
        )
    # R21, Art. 3(3): only a published catalogue binds; the version in force must list the entry
    catalogue_year = tx.session.get(CatalogueYear, entry.catalogue_year_id)
    assert catalogue_year is not None
    published = (
        tx.session.exec(
            select(CatalogueVersion).where(
                CatalogueVersion.catalogue_year_id == catalogue_year.id,
                CatalogueVersion.number == catalogue_year.published_version,
                CatalogueVersion.status == "published",
            )
        ).first()
        if catalogue_year.published_version is not None
        else None
    )
    if published is None or all(row.get("code") != entry.code for row in published.snapshot):
        tx.refuse(
            "R21",
            f"目录事项 {ref} 所在的目录版本尚未公布",
            f"the catalogue version that includes {ref} has not been published",
            field="catalogue_entry",
        )
    return entry


class StartProcedure(DecisionPayload):
    lead_unit: str | None = None
    units: list[str] | None = None
    initiation_decision: str = Field(default="", description="启动决定 text")


@action("start_procedure", StartProcedure)
def start_procedure(tx: Tx, p: StartProcedure) -> Mapping[str, Any]:
    """Arts. 10-11: the organ decides to start and names the undertaking unit(s)."""
    decision = tx.require_decision()  # still proposed (declared)
    units = list(dict.fromkeys([*([p.lead_unit] if p.lead_unit else []), *(p.units or decision.unit_codes)]))
    lead_code = p.lead_unit or (tx.unit_by_id(decision.lead_unit_id).code if decision.lead_unit_id else None)
    if lead_code is None and len(units) == 1:
        lead_code = units[0]
    tx.check(rules.undertaking_units_named(units, lead_code))
    for code in units:
        tx.unit(code, "units")
    assert lead_code is not None
    decision.unit_codes = units
    decision.lead_unit_id = tx.unit(lead_code, "lead_unit").id
    tx.set_decision_status(DecisionStatus.in_procedure)
    text = (
        p.initiation_decision
        or f"{decision.organ}决定启动“{decision.title}”决策程序，承办单位：{'、'.join(units)}"
    )
    tx.add_evidence("initiation", "initiation_decision", text)
    tx.move_stage("initiation", StageStatus.completed)
    tx.move_stage("drafting", StageStatus.active)
    tx.emit("procedure_started", {"units": units, "lead_unit": lead_code})
    return {"lead_unit": lead_code, "units": units}


class DraftPayload(DecisionPayload):
    draft: str = Field(min_length=1)
    explanation: str = ""
    legal_bases: list[str] = Field(default_factory=list)
    alternatives: str = ""
    cost_benefit: str = ""
    consultation_record: str = ""
    dispute_statement: str = ""


def _add_draft(tx: Tx, p: DraftPayload, reason: str) -> DraftVersion:
    decision = tx.require_decision()
    number = current_draft_number(tx) + 1
    draft_doc = tx.add_evidence("drafting", "draft", p.draft, f"决策草案（第{number}稿）")
    explanation = tx.add_evidence("drafting", "draft_explanation", p.explanation) if p.explanation else None
    version = DraftVersion(
        decision_id=decision.id or 0,
        number=number,
        document_sha256=draft_doc.sha256,
        explanation_sha256=explanation.sha256 if explanation else None,
        legal_bases=list(p.legal_bases),
        alternatives=p.alternatives,
        cost_benefit=p.cost_benefit,
        consultation_record=p.consultation_record,
        dispute_statement=p.dispute_statement,
        reason=reason,
        created_by=tx.actor.code,
        created_at=tx.now,
    )
    tx.session.add(version)
    tx.session.flush()
    return version


def current_draft_number(tx: Tx) -> int:
    decision = tx.require_decision()
    value = tx.session.exec(
        select(func.max(DraftVersion.number)).where(DraftVersion.decision_id == decision.id)
    ).one()
    return int(value or 0)


def current_draft(tx: Tx) -> DraftVersion | None:
    decision = tx.require_decision()
    return tx.session.exec(
        select(DraftVersion)
        .where(DraftVersion.decision_id == decision.id)
        .order_by(col(DraftVersion.number).desc())
    ).first()


@action("submit_draft", DraftPayload)
def submit_draft(tx: Tx, p: DraftPayload) -> Mapping[str, Any]:
    """Arts. 12-13. Declared: R1, drafting starts only once the organ started the procedure
    and named the undertaking unit; the drafting stage is open until the first draft (a
    later one is a revision)."""
    version = _add_draft(tx, p, "初稿")
    tx.move_stage("drafting", StageStatus.completed)
    tx.emit("draft_submitted", {"draft": version.number})
    return {"draft": version.number}


class ReviseDraft(DraftPayload):
    reason: str = Field(min_length=1)


@action("revise_draft", ReviseDraft)
def revise_draft(tx: Tx, p: ReviseDraft) -> Mapping[str, Any]:
    """A new draft version; all earlier versions are kept. After the decision the draft is
    frozen: only a suspension or an adjustment procedure may change it (R20, Art. 37);
    there must be a first draft (both declared)."""
    version = _add_draft(tx, p, p.reason)
    # Material changes may mean earlier tracks no longer describe the draft (§7.3):
    # flag it for the department, who may re-open them; the engine does not guess.
    tx.emit("draft_revised", {"draft": version.number, "reason": p.reason})
    return {"draft": version.number}


class Withdraw(DecisionPayload):
    reason: str = Field(min_length=1)


@action("withdraw_decision", Withdraw)
def withdraw_decision(tx: Tx, p: Withdraw) -> Mapping[str, Any]:
    """Before the decision only (declared: R20, a made decision is suspended or adjusted)."""
    tx.set_decision_status(DecisionStatus.withdrawn)
    tx.close_all_deadlines()
    tx.emit("decision_withdrawn", {"reason": p.reason})
    return {"status": DecisionStatus.withdrawn.value}


class StageDecision(DecisionPayload):
    stage: str
    note: str = ""
    reason: str = ""

    @field_validator("stage")
    @classmethod
    def known_stage(cls, value: str) -> str:
        if value not in proc.procedure().stage_by_id:
            raise ValueError(f"unknown stage {value!r}")
        return value


@action("approve_stage", StageDecision)
def approve_stage(tx: Tx, p: StageDecision) -> Mapping[str, Any]:
    """The legal office approves a stage the department completed and that awaits approval
    (declared)."""
    tx.move_stage(p.stage, StageStatus.completed, p.note)
    tx.emit("stage_approved", {"stage": p.stage, "note": p.note})
    return {"stage": p.stage, "status": "completed"}


@action("return_stage", StageDecision)
def return_stage(tx: Tx, p: StageDecision) -> Mapping[str, Any]:
    if not p.reason.strip():
        raise invalid("reason", "退回须说明理由", "a return needs a reason")
    tx.move_stage(p.stage, StageStatus.returned, p.reason)
    tx.emit("stage_returned", {"stage": p.stage, "reason": p.reason})
    return {"stage": p.stage, "status": "returned"}


# ---------------------------------------------------------------------------- flags (P16)
ConfirmableFlag = Literal["confidential", "exploratory_reform"]
CatalogueProcedure = Literal[
    "public_participation", "hearing", "expert_review", "risk_assessment", "fair_competition_review"
]
# the flag the hearing catalogue derives (GD-H Art. 3); it can be removed, never added by hand
RemovableFlag = FlagName | Literal["hearing_in_catalogue"]
OPEN_STATUSES = (DecisionStatus.proposed, DecisionStatus.in_procedure)


def _not_decided(tx: Tx, what_zh: str, what_en: str) -> Decision:
    """R20, Art. 37: once the organ has decided, the procedure that led there is closed; a
    change of its basis needs an adjustment procedure (start_adjustment)."""
    decision = tx.require_decision()
    if decision.status not in OPEN_STATUSES:
        tx.refuse(
            "R20",
            f"决策已作出（{decision.status.value}），不得{what_zh}；须启动决策调整程序",
            f"the decision has been made ({decision.status.value}); {what_en} needs an adjustment procedure",
            field="decision",
        )
    return decision


def _apply_stage_set(
    tx: Tx,
    decision: Decision,
    flags: set[str],
    required_stages: list[str],
    note: str,
) -> rules.StageChanges:
    """Store the new flags in effect and catalogue-required stages, and recompute the stage
    set from them (P16). Started stages are never rolled back."""
    old = (frozenset(decision.flags), frozenset(decision.catalogue_procedures))
    new = (frozenset(flags), frozenset(required_stages))
    changes = rules.recomputed_stages(tx.procedure.stages, tx.stage_statuses(), old, new)
    for stage_id in changes.to_pending:
        tx.move_stage(stage_id, StageStatus.pending, note)
    for stage_id in changes.to_not_required:
        tx.move_stage(stage_id, StageStatus.not_required, note)
    decision.flags = sorted(flags)
    decision.catalogue_procedures = list(required_stages)
    tx.session.add(decision)
    return changes


def _changes_result(tx: Tx, changes: rules.StageChanges) -> dict[str, Any]:
    """The recomputed stage set; a newly required pre-review stage after the legality review
    started is reported, because discussion now waits for it (Arts. 26, 29)."""
    result: dict[str, Any] = {
        "now_pending": list(changes.to_pending),
        "now_not_required": list(changes.to_not_required),
        "kept": list(changes.kept),
    }
    pre_review = [s for s in changes.to_pending if tx.procedure.stage(s).pre_review]
    if pre_review and tx.stage("legality_review").status != StageStatus.pending:
        result["discussion_waits_for"] = pre_review
        tx.emit("legality_review_affected", {"stages": pre_review})
    if changes.kept:
        tx.emit("stages_kept", {"stages": list(changes.kept)})
    return result


class ConfirmFlag(DecisionPayload):
    flag: ConfirmableFlag
    confirm: bool = True
    legal_basis: str = ""  # required to confirm; for confidential: the law that keeps it undisclosed
    reason: str = ""  # required to refuse


@action("confirm_flag", ConfirmFlag)
def confirm_flag(tx: Tx, p: ConfirmFlag) -> Mapping[str, Any]:
    """P16 (Arts. 14, 25(2), 32): the legal office confirms, with its legal basis, or refuses,
    with a reason, a confidential or exploratory-reform flag the undertaking unit proposed.
    Only a confirmed flag switches stages off (R2) or opens the exploratory route (R12)."""
    decision = _not_decided(tx, "确认标记", "confirming a flag")
    if p.confirm and not p.legal_basis:
        raise invalid("legal_basis", "确认标记须写明法律依据", "a confirmation needs its legal basis")
    if not p.confirm and not p.reason:
        raise invalid("reason", "不予确认须说明理由", "a refusal needs a reason")
    if p.flag not in decision.proposed_flags:
        state_zh, state_en = (
            ("已生效", "already in effect") if p.flag in decision.flags else ("未被提出", "not proposed")
        )
        tx.refuse(
            "P16",
            f"标记 {p.flag} {state_zh}，须由承办单位提出后确认",
            f"the flag {p.flag} is {state_en}; the undertaking unit proposes it first",
            field="flag",
        )
    proposed = [f for f in decision.proposed_flags if f != p.flag]
    what_zh, what_en = proc.FLAGS_NEEDING_CONFIRMATION[p.flag]
    if not p.confirm:
        decision.proposed_flags = proposed
        tx.session.add(decision)
        tx.add_evidence(
            "initiation",
            "flag_confirmation",
            f"不予确认标记 {p.flag}。理由：{p.reason}",
            f"不予确认：{p.flag}",
        )
        tx.emit("flag_refused", {"flag": p.flag, "reason": p.reason})
        return {"flag": p.flag, "confirmed": False, "flags": list(decision.flags)}
    flags = {*decision.flags, p.flag}
    tx.check(rules.exclusion_possible(tx.procedure.stages, tx.stage_statuses(), frozenset(flags)))
    decision.proposed_flags = proposed
    decision.flag_confirmations = {
        **decision.flag_confirmations,
        p.flag: {"legal_basis": p.legal_basis, "by": tx.actor.code, "at": tx.now.isoformat()},
    }
    changes = _apply_stage_set(
        tx, decision, flags, list(decision.catalogue_procedures), f"confirm_flag {p.flag}"
    )
    tx.add_evidence(
        "initiation",
        "flag_confirmation",
        f"确认标记 {p.flag}。{what_zh}：{p.legal_basis}\n{what_en}: {p.legal_basis}",
        f"标记确认：{p.flag}",
    )
    tx.emit("flag_confirmed", {"flag": p.flag, "legal_basis": p.legal_basis})
    return {
        "flag": p.flag,
        "confirmed": True,
        "legal_basis": p.legal_basis,
        "flags": list(decision.flags),
        **_changes_result(tx, changes),
    }


class ChangeFlags(DecisionPayload):
    add: list[FlagName] = Field(default_factory=list)
    remove: list[RemovableFlag] = Field(default_factory=list)
    # Art. 3(3) catalogue: a procedure the catalogue entry listed, dropped for this decision with the reason
    remove_required_stages: list[CatalogueProcedure] = Field(default_factory=list)
    reason: str = Field(min_length=1)


@action("change_flags", ChangeFlags)
def change_flags(tx: Tx, p: ChangeFlags) -> Mapping[str, Any]:
    """P16: the undertaking unit adds a flag found later (a stability risk, market activity, a
    technical question) or removes one, with a reason, and the stage set is recomputed: a
    newly required stage is pending and must be done before legality review (and before
    discussion if the review already started); a stage no longer required is dropped only if
    it has not started. Adding confidential or exploratory_reform is again only a proposal."""
    decision = _not_decided(tx, "变更标记", "changing its flags")
    add: set[str] = set(p.add)
    remove: set[str] = set(p.remove)
    drop: set[str] = set(p.remove_required_stages)
    if not (add or remove or drop):
        raise invalid("add", "未指定要增加或去除的标记", "nothing to add or remove")
    if add & remove:
        raise invalid("remove", "同一标记不能同时增加和去除", "a flag cannot be both added and removed")
    effective, proposed = set(decision.flags), set(decision.proposed_flags)
    for name in sorted(add):
        if name in effective or name in proposed:
            raise invalid("add", f"标记 {name} 已设置或已提出", f"the flag {name} is already set or proposed")
    for gone in sorted(remove):
        if gone not in effective and gone not in proposed:
            raise invalid("remove", f"该决策没有标记 {gone}", f"the decision has no flag {gone}")
    # the hearing catalogue's flag and the catalogue's hearing procedure are one requirement
    if "hearing_in_catalogue" in remove:
        drop.add("hearing")
    if "hearing" in drop and "hearing_in_catalogue" in effective:
        remove.add("hearing_in_catalogue")
    for stage_id in sorted(drop):
        if stage_id not in decision.catalogue_procedures:
            raise invalid(
                "remove_required_stages",
                f"目录未将 {stage_id} 列为本决策的必经程序",
                f"the catalogue does not list {stage_id} for this decision",
            )
    confirmable = set(proc.FLAGS_NEEDING_CONFIRMATION)
    new_effective = (effective - remove) | (add - confirmable)
    new_proposed = (proposed - remove) | (add & confirmable)
    required = [s for s in decision.catalogue_procedures if s not in drop]
    decision.proposed_flags = sorted(new_proposed)
    decision.flag_confirmations = {k: v for k, v in decision.flag_confirmations.items() if k in new_effective}
    changes = _apply_stage_set(tx, decision, new_effective, required, f"change_flags: {p.reason}")
    lines = [
        *(
            f"增加 add: {name}" + ("（待司法局确认 to be confirmed）" if name in confirmable else "")
            for name in sorted(add)
        ),
        *(f"去除 remove: {name}" for name in sorted(remove)),
        *(f"去除目录所列程序 drop catalogue procedure: {name}" for name in sorted(drop)),
        f"理由 reason: {p.reason}",
    ]
    tx.add_evidence("initiation", "flag_change", "\n".join(lines))
    if add & confirmable:
        tx.emit("flags_proposed", {"flags": sorted(add & confirmable)})
    tx.emit(
        "flags_changed",
        {"added": sorted(add), "removed": sorted(remove), "dropped": sorted(drop), "reason": p.reason},
    )
    return {
        "flags": list(decision.flags),
        "proposed_flags": list(decision.proposed_flags),
        "catalogue_procedures": list(decision.catalogue_procedures),
        **_changes_result(tx, changes),
    }
