"""Public participation (Arts. 14-18) and hearings (Arts. 16-17)."""

from datetime import date, datetime
from typing import Any

from sqlmodel import Field, SQLModel, UniqueConstraint

from models.columns import json_dict, json_list
from models.enums import CommentPeriodStatus, HearingStatus, text_enum


class CommentPeriod(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    decision_id: int = Field(foreign_key="decision.id", index=True)
    start_date: date
    end_date: date
    channels: list[str] = Field(default_factory=list, sa_column=json_list())
    urgent_reason: str = ""
    status: CommentPeriodStatus = Field(
        default=CommentPeriodStatus.open, sa_column=text_enum(CommentPeriodStatus)
    )
    opened_by: str = Field(max_length=64)
    opened_at: datetime
    closed_at: datetime | None = None


class PublicComment(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("decision_id", "code"),)
    id: int | None = Field(default=None, primary_key=True)
    decision_id: int = Field(foreign_key="decision.id")
    period_id: int = Field(foreign_key="commentperiod.id", index=True)
    code: str = Field(max_length=64)
    name: str = Field(default="", max_length=100)
    contact: str = Field(default="", max_length=200)
    text: str
    attachment_sha256: str | None = Field(default=None, max_length=64)
    submitted_at: datetime


class ParticipationActivity(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    decision_id: int = Field(foreign_key="decision.id", index=True)
    kind: str = Field(max_length=32)  # forum | field_visit | written_request | questionnaire | poll | ...
    held_on: date
    summary: str
    group_name: str = Field(default="", max_length=200)
    evidence_id: int | None = Field(default=None, foreign_key="evidencedocument.id")
    recorded_by: str = Field(max_length=64)
    recorded_at: datetime


class InputResponse(SQLModel, table=True):
    """How one input (comment, hearing statement, expert opinion) was handled (Art. 18)."""

    __table_args__ = (UniqueConstraint("decision_id", "input_kind", "input_code"),)
    id: int | None = Field(default=None, primary_key=True)
    decision_id: int = Field(foreign_key="decision.id")
    input_kind: str = Field(max_length=24)  # comment | hearing_statement | expert_opinion
    input_code: str = Field(max_length=64)
    outcome: str = Field(max_length=24)  # adopted | partly_adopted | not_adopted
    reason: str
    responded_by: str = Field(max_length=64)
    responded_at: datetime


class Hearing(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("decision_id", "code"),)
    id: int | None = Field(default=None, primary_key=True)
    decision_id: int = Field(foreign_key="decision.id")
    code: str = Field(max_length=64)
    starts_at: datetime
    place: str
    quotas: dict[str, Any] = Field(default_factory=dict, sa_column=json_dict())
    registration_opens: date
    registration_closes: date
    selection_method: str
    seed: str = Field(default="", max_length=128)  # made and published at the draw (Art. 16(2))
    seed_source: str = ""  # how the seed was made: system randomness, or the public value named
    draft_link: str = Field(default="", max_length=500)  # where the notice's draft is published
    announced_at: datetime
    selected_at: datetime | None = None
    list_published_at: datetime | None = None
    materials_delivered_at: datetime | None = None
    materials_delivered_on: date | None = None  # the local date of delivery (Art. 16(3), T2)
    held_at: datetime | None = None
    held_on: date | None = None
    record_signed_by: list[str] = Field(default_factory=list, sa_column=json_list())
    # Art. 17: participants named in the record as refusing or failing to sign: [{participant, reason}]
    record_not_signed: list[dict[str, str]] = Field(default_factory=list, sa_column=json_list())
    report_submitted_at: datetime | None = None
    # announced | selected | list_published | materials_delivered | held | reported | postponed
    status: HearingStatus = Field(default=HearingStatus.announced, sa_column=text_enum(HearingStatus))
    replaced_by: str = Field(default="", max_length=64)  # the hearing announced in its place


class HearingRegistration(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("hearing_id", "code"),)
    id: int | None = Field(default=None, primary_key=True)
    hearing_id: int = Field(foreign_key="hearing.id")
    code: str = Field(max_length=64)
    name: str = Field(max_length=100)
    contact: str = Field(default="", max_length=200)
    interest_group: str = Field(max_length=64)
    registered_at: datetime
    selected: bool = False
    draw_rank: int | None = None


class HearingStatement(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("hearing_id", "code"),)
    id: int | None = Field(default=None, primary_key=True)
    hearing_id: int = Field(foreign_key="hearing.id")
    code: str = Field(max_length=64)
    speaker: str = Field(max_length=100)
    text: str
