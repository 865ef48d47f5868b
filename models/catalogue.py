"""The annual decision catalogue (决策事项目录) and hearing catalogue (听证目录), Art. 3."""

from datetime import date, datetime
from typing import Any

from sqlmodel import Field, SQLModel, UniqueConstraint

from models.columns import json_dict, json_list
from models.enums import CatalogueEntryStatus, CatalogueVersionStatus, text_enum


class CatalogueYear(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("jurisdiction_id", "year"),)
    id: int | None = Field(default=None, primary_key=True)
    jurisdiction_id: int = Field(foreign_key="jurisdiction.id")
    year: int
    current_version: int = 1
    published_version: int | None = None  # the version in force on the public portal


class CatalogueEntry(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("catalogue_year_id", "code"),)
    id: int | None = Field(default=None, primary_key=True)
    catalogue_year_id: int = Field(foreign_key="catalogueyear.id")
    code: str = Field(max_length=64)
    seq: int
    matter_name: str = Field(max_length=300)
    main_content: str = ""
    category: int  # Art. 3(1) types 1-5
    lead_unit_id: int = Field(foreign_key="unit.id")
    unit_codes: list[str] = Field(default_factory=list, sa_column=json_list())
    legal_basis: str = ""
    reason: str = ""
    procedures_required: list[str] = Field(default_factory=list, sa_column=json_list())
    hearing_required: bool = False
    planned_decision_time: str = Field(default="", max_length=64)
    # proposed -> included | rejected; included -> removed | deferred (by adjustment)
    status: CatalogueEntryStatus = Field(
        default=CatalogueEntryStatus.proposed, sa_column=text_enum(CatalogueEntryStatus)
    )
    review_reason: str = ""
    review_reason_code: str = Field(default="", max_length=40)
    reviewed_by: str = Field(default="", max_length=64)
    reviewed_at: datetime | None = None
    proposed_by: str = Field(max_length=64)
    proposed_at: datetime
    added_in_version: int = 1
    removed_in_version: int | None = None  # the version whose adjustment removed or deferred it


class CatalogueVersion(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("catalogue_year_id", "number"),)
    id: int | None = Field(default=None, primary_key=True)
    catalogue_year_id: int = Field(foreign_key="catalogueyear.id")
    number: int
    # draft -> approved (executive meeting) -> party_approved -> published (R21);
    # an approved version adjusted before publication is superseded by the next one
    status: CatalogueVersionStatus = Field(
        default=CatalogueVersionStatus.draft, sa_column=text_enum(CatalogueVersionStatus)
    )
    approved_at: datetime | None = None
    approved_on: date | None = None
    meeting_ref: str = ""
    party_approved_at: datetime | None = None
    party_approved_on: date | None = None
    party_approval_ref: str = ""
    published_at: datetime | None = None
    published_on: date | None = None
    published_url: str = ""
    # the entries as the executive meeting approved them, stamped with the publication
    # details when published; frozen thereafter
    snapshot: list[dict[str, Any]] = Field(default_factory=list, sa_column=json_list())


class CatalogueAdjustment(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    catalogue_year_id: int = Field(foreign_key="catalogueyear.id", index=True)
    version_number: int
    kind: str = Field(max_length=16)  # add | remove | defer
    entry_id: int = Field(foreign_key="catalogueentry.id")
    reason: str
    details: dict[str, Any] = Field(default_factory=dict, sa_column=json_dict())
    created_by: str = Field(default="", max_length=64)
    created_at: datetime
