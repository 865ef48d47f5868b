"""After the decision: execution, problem reports, post-evaluation, suspension and
adjustment (Arts. 34-37)."""

from datetime import date, datetime

from sqlmodel import Field, SQLModel, UniqueConstraint

from models.columns import json_list


class ExecutionAssignment(SQLModel, table=True):
    """The organ names the execution unit (Art. 34); the latest row is the current one."""

    id: int | None = Field(default=None, primary_key=True)
    decision_id: int = Field(foreign_key="decision.id", index=True)
    unit_id: int = Field(foreign_key="unit.id")
    # The undertaking units (Art. 11) as they were before any after-decision unit was
    # given access to the decision, so that R19 can still tell who did the main work.
    undertaking_units: list[str] = Field(default_factory=list, sa_column=json_list())
    assigned_by: str = Field(default="", max_length=64)
    assigned_at: datetime


class ExecutionReport(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    decision_id: int = Field(foreign_key="decision.id", index=True)
    kind: str = Field(max_length=16)  # progress | problem
    trigger: str = Field(default="", max_length=32)  # Art. 35 trigger, for problems
    text: str
    evidence_id: int | None = Field(default=None, foreign_key="evidencedocument.id")
    reported_by: str = Field(max_length=64)
    reported_at: datetime


class PostEvaluation(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    decision_id: int = Field(foreign_key="decision.id", index=True)
    trigger: str = Field(max_length=32)  # Art. 36 trigger
    evaluator_unit_id: int = Field(foreign_key="unit.id")
    started_by: str = Field(default="", max_length=64)
    started_at: datetime
    report_evidence_id: int | None = Field(default=None, foreign_key="evidencedocument.id")
    reported_by: str = Field(default="", max_length=64)
    reported_at: datetime | None = None


class Suspension(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    decision_id: int = Field(foreign_key="decision.id", index=True)
    trigger: str = Field(max_length=32)
    urgency: str
    previous_status: str = Field(default="", max_length=32)  # what the decision was before
    evidence_id: int | None = Field(default=None, foreign_key="evidencedocument.id")
    decided_by: str = Field(max_length=64)
    on_date: date
    recorded_at: datetime
    # how the suspension ended: resumed | terminated (Art. 37); empty while in force
    ended_how: str = Field(default="", max_length=16)
    ended_on: date | None = None
    end_reason: str = ""
    end_evidence_id: int | None = Field(default=None, foreign_key="evidencedocument.id")
    ended_by: str = Field(default="", max_length=64)
    ended_at: datetime | None = None


class ExecutionFeedback(SQLModel, table=True):
    """An opinion from the public on a decision being carried out (Art. 35(2)); the
    execution unit answers it like any other input (`respond_to_input`, kind `feedback`)."""

    __table_args__ = (UniqueConstraint("decision_id", "code"),)
    id: int | None = Field(default=None, primary_key=True)
    decision_id: int = Field(foreign_key="decision.id")
    code: str = Field(max_length=64)  # made by the system (F1, F2, ...), never by the sender
    text: str
    contact: str = Field(default="", max_length=200)
    submitted_at: datetime
