"""Collective discussion (Art. 30), Party and congress steps (Arts. 31, 8), publication
(Art. 32) and the archive dossier (Art. 33)."""

from datetime import date, datetime
from typing import Any

from sqlmodel import Field, SQLModel, UniqueConstraint

from models.columns import json_dict, json_list


class DiscussionSubmission(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    decision_id: int = Field(foreign_key="decision.id", index=True)
    meeting_date: date
    package: list[dict[str, Any]] = Field(default_factory=list, sa_column=json_list())
    submitted_at: datetime


class Meeting(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    decision_id: int = Field(foreign_key="decision.id", index=True)
    meeting_type: str = Field(max_length=16)  # executive | plenary (R14)
    held_on: date
    # the roster (users holding `meeting_member`) at the time of the meeting; P11 counts
    # the members present against it (Local Organic Law Art. 78)
    roster: list[str] = Field(default_factory=list, sa_column=json_list())
    members_total: int  # len(roster)
    members_present: list[str] = Field(default_factory=list, sa_column=json_list())
    head_member: str = Field(default="", max_length=64)  # who presided and decided (Art. 30)
    acting_head: bool = False  # the head was absent; a present member acted as head
    head_decision: str = Field(max_length=32)  # approve | reject | defer | approve_with_changes
    head_reason: str = ""
    majority_view: str = Field(default="", max_length=16)
    minutes_evidence_id: int | None = Field(default=None, foreign_key="evidencedocument.id")
    recorded_at: datetime


class MemberOpinion(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("meeting_id", "speaking_order"),)
    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id")
    speaking_order: int
    member: str = Field(max_length=64)  # user code of a member present
    is_head: bool = False  # the head's (or acting head's) statement, stored last (R14)
    position: str = Field(max_length=16)  # agree | disagree | abstain
    text: str = ""


class PartyStep(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    decision_id: int = Field(foreign_key="decision.id", index=True)
    kind: str = Field(max_length=16)  # report | reply
    on_date: date
    document_ref: str = Field(default="", max_length=200)
    result: str = Field(default="", max_length=32)  # agreed | not_agreed (reply only)
    evidence_id: int | None = Field(default=None, foreign_key="evidencedocument.id")
    recorded_at: datetime


class CongressStep(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    decision_id: int = Field(foreign_key="decision.id", index=True)
    kind: str = Field(max_length=24)  # report | discussion | decision
    on_date: date
    result: str = Field(default="", max_length=200)
    evidence_id: int | None = Field(default=None, foreign_key="evidencedocument.id")
    recorded_at: datetime


class Publication(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    decision_id: int = Field(foreign_key="decision.id", index=True)
    channels: list[str] = Field(default_factory=list, sa_column=json_list())
    published_on: date
    url: str = Field(default="", max_length=500)
    text_evidence_id: int | None = Field(default=None, foreign_key="evidencedocument.id")
    recorded_at: datetime


class ArchiveDossier(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    decision_id: int = Field(foreign_key="decision.id", unique=True)
    manifest: dict[str, Any] = Field(default_factory=dict, sa_column=json_dict())
    manifest_sha256: str = Field(max_length=64)
    audit_head_hash: str = Field(max_length=64)
    archived_at: datetime
