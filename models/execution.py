"""After the decision: execution, problem reports, post-evaluation, suspension and
adjustment (Arts. 34-37)."""

from datetime import date, datetime

from sqlmodel import Field, SQLModel


class ExecutionAssignment(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    decision_id: int = Field(foreign_key="decision.id", index=True)
    unit_id: int = Field(foreign_key="unit.id")
    assigned_at: datetime


class ExecutionReport(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    decision_id: int = Field(foreign_key="decision.id", index=True)
    kind: str = Field(max_length=16)  # progress | problem
    trigger: str = Field(default="", max_length=32)  # Art. 35 trigger, for problems
    text: str
    reported_by: str = Field(max_length=64)
    reported_at: datetime


class PostEvaluation(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    decision_id: int = Field(foreign_key="decision.id", index=True)
    trigger: str = Field(max_length=32)  # Art. 36 trigger
    evaluator_unit_id: int = Field(foreign_key="unit.id")
    started_at: datetime
    report_evidence_id: int | None = Field(default=None, foreign_key="evidencedocument.id")
    reported_at: datetime | None = None


class Suspension(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    decision_id: int = Field(foreign_key="decision.id", index=True)
    trigger: str = Field(max_length=32)
    urgency: str
    decided_by: str = Field(max_length=64)
    on_date: date
    recorded_at: datetime
