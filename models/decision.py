"""Decisions, their drafts, stage instances and evidence documents."""

from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel, UniqueConstraint

from models.columns import json_dict, json_list
from models.enums import DecisionStatus, StageStatus, text_enum


class Decision(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("jurisdiction_id", "code"),)
    id: int | None = Field(default=None, primary_key=True)
    jurisdiction_id: int = Field(foreign_key="jurisdiction.id")
    code: str = Field(max_length=64)
    title: str = Field(max_length=300)
    category: int  # Art. 3(1) types 1-5
    # the length of the decision's audit chain, kept with the row every writer locks, so the
    # lock that fetches the row also fetches the head event (0: not kept yet; the chain is read)
    audit_seq: int = 0
    # public comments received, the counter behind their system-made codes (C<n>)
    comment_seq: int = 0
    organ: str = Field(max_length=200)
    lead_unit_id: int | None = Field(default=None, foreign_key="unit.id")
    unit_codes: list[str] = Field(default_factory=list, sa_column=json_list())
    proposal_source: str = Field(max_length=32)
    catalogue_entry_id: int | None = Field(default=None, foreign_key="catalogueentry.id")
    # the flags in effect: they decide the stage set and every flag-dependent rule
    flags: list[str] = Field(default_factory=list, sa_column=json_list())
    # P16: confidential / exploratory_reform as proposed by the undertaking unit, waiting for
    # the legal office's confirmation; until confirmed they have no effect
    proposed_flags: list[str] = Field(default_factory=list, sa_column=json_list())
    # P16: flag -> {"legal_basis", "by", "at"[, "carried_from"]}, the confirmation in force
    flag_confirmations: dict[str, Any] = Field(default_factory=dict, sa_column=json_dict())
    # Art. 3(3) catalogue: the procedures (stage ids) the catalogue entry lists, required stages of this
    # decision; one is dropped only by change_flags with a reason
    catalogue_procedures: list[str] = Field(default_factory=list, sa_column=json_list())
    procedure_version: str = Field(max_length=32)  # pinned at registration (design: versioned data)
    status: DecisionStatus = Field(sa_column=text_enum(DecisionStatus, index=True))
    outcome: str = Field(default="", max_length=32)  # the head's decision at the meeting
    decided_on: datetime | None = None
    published_on: datetime | None = None
    adjusts_decision_id: int | None = Field(default=None, foreign_key="decision.id")
    registered_by: str = Field(max_length=64)
    created_at: datetime
    updated_at: datetime


class DraftVersion(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("decision_id", "number"),)
    id: int | None = Field(default=None, primary_key=True)
    decision_id: int = Field(foreign_key="decision.id")
    number: int
    document_sha256: str = Field(max_length=64)
    explanation_sha256: str | None = Field(default=None, max_length=64)
    legal_bases: list[str] = Field(default_factory=list, sa_column=json_list())
    alternatives: str = ""
    cost_benefit: str = ""
    consultation_record: str = ""
    dispute_statement: str = ""
    reason: str = ""
    created_by: str = Field(max_length=64)
    created_at: datetime


class StageInstance(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("decision_id", "stage"),)
    id: int | None = Field(default=None, primary_key=True)
    decision_id: int = Field(foreign_key="decision.id")
    stage: str = Field(max_length=32)
    status: StageStatus = Field(sa_column=text_enum(StageStatus))
    note: str = ""
    details: dict[str, Any] = Field(default_factory=dict, sa_column=json_dict())
    updated_at: datetime


class StoredDocument(SQLModel, table=True):
    """One blob, content-addressed by SHA-256 under the data folder."""

    sha256: str = Field(primary_key=True, max_length=64)
    size: int
    media_type: str = Field(default="text/plain; charset=utf-8", max_length=100)
    created_at: datetime


class EvidenceDocument(SQLModel, table=True):
    """A typed document produced by a stage; every one is an archive item (Art. 33)."""

    id: int | None = Field(default=None, primary_key=True)
    decision_id: int = Field(foreign_key="decision.id", index=True)
    stage: str = Field(max_length=32)
    kind: str = Field(max_length=48, index=True)
    title: str = Field(max_length=300)
    sha256: str = Field(foreign_key="storeddocument.sha256", max_length=64)
    created_by: str = Field(max_length=64)
    created_at: datetime
