"""Expert review (Arts. 19-21), risk assessment (Arts. 22-24), fair competition review
(Art. 29(1)) and legality review (Arts. 25-28)."""

from datetime import date, datetime

from sqlmodel import Field, SQLModel, UniqueConstraint

from models.columns import json_list
from models.enums import ReviewStatus, text_enum


class Expert(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("jurisdiction_id", "code"),)
    id: int | None = Field(default=None, primary_key=True)
    jurisdiction_id: int = Field(foreign_key="jurisdiction.id")
    code: str = Field(max_length=64)
    name: str = Field(max_length=100)
    fields: list[str] = Field(default_factory=list, sa_column=json_list())
    affiliation: str = Field(default="", max_length=200)
    active: bool = True


class ExpertSelection(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("decision_id", "expert_id"),)
    id: int | None = Field(default=None, primary_key=True)
    decision_id: int = Field(foreign_key="decision.id")
    expert_id: int = Field(foreign_key="expert.id")
    declaration: str = ""  # interest declaration, Art. 20
    has_direct_interest: bool = False
    holds_differing_view: bool = False
    selected_at: datetime


class ExpertOpinion(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("decision_id", "code"),)
    id: int | None = Field(default=None, primary_key=True)
    decision_id: int = Field(foreign_key="decision.id")
    code: str = Field(max_length=64)
    expert_id: int = Field(foreign_key="expert.id")
    text: str
    signed: bool
    sealed: bool = False
    evidence_id: int | None = Field(default=None, foreign_key="evidencedocument.id")
    recorded_at: datetime


class RiskAssessment(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    decision_id: int = Field(foreign_key="decision.id", index=True)
    existing_reference: str = ""  # Art. 22(2): an assessment made under other rules
    existing_kind: str = Field(default="", max_length=32)  # e.g. social_stability, environmental_impact
    risk_points: list[str] = Field(default_factory=list, sa_column=json_list())
    prevention_measures: list[str] = Field(default_factory=list, sa_column=json_list())
    handling_plan: str = ""
    level: str = Field(default="", max_length=8)  # P12: high | medium | low
    departments_consulted: list[str] = Field(default_factory=list, sa_column=json_list())
    evidence_id: int | None = Field(default=None, foreign_key="evidencedocument.id")
    controllable: bool | None = None  # the organ's judgement, Art. 24
    judged_at: datetime | None = None
    judged_draft_number: int | None = None
    submitted_at: datetime


class FairCompetitionReview(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    decision_id: int = Field(foreign_key="decision.id", index=True)
    conclusion: str = Field(max_length=32)  # compliant | non_compliant | exception_applies
    reviewer_unit: str = Field(default="", max_length=200)
    notes: str = ""
    draft_number: int = 0  # the draft the conclusion is about; a non-compliant one needs a new draft
    recorded_at: datetime


class LegalityReview(SQLModel, table=True):
    """One submission round; a return for supplement ends a round (P5, P7)."""

    __table_args__ = (UniqueConstraint("decision_id", "round"),)
    id: int | None = Field(default=None, primary_key=True)
    decision_id: int = Field(foreign_key="decision.id")
    round: int
    draft_number: int
    submitted_at: datetime
    submitted_on: date  # the local date the T4 clock counts from
    procedures_statement: str
    status: ReviewStatus = Field(default=ReviewStatus.under_review, sa_column=text_enum(ReviewStatus))
    return_reason: str = ""
    outcome: str = Field(default="", max_length=32)  # P7: lawful | lawful_after_changes | unlawful
    opinion_text: str = ""
    opinion_evidence_id: int | None = Field(default=None, foreign_key="evidencedocument.id")
    issued_at: datetime | None = None
    changes_recorded_at: datetime | None = None
    legal_risk_statement: str = ""  # exploratory-reform route, Art. 25(2)


class LegalAdviserOpinion(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    review_id: int = Field(foreign_key="legalityreview.id", index=True)
    adviser: str = Field(max_length=100)
    adviser_kind: str = Field(max_length=24)  # legal_adviser | public_lawyer
    evidence_id: int = Field(foreign_key="evidencedocument.id")
    recorded_at: datetime


class RiskJudgement(SQLModel, table=True):
    """One judgement of the organ on whether the risk is controllable (Art. 24). Every
    judgement is kept: an uncontrollable one stands (R7) until a later judgement finds the
    risk controllable on a draft no older than the one judged uncontrollable. RiskAssessment
    keeps a copy of the latest judgement of its report for the readers of that row."""

    id: int | None = Field(default=None, primary_key=True)
    decision_id: int = Field(foreign_key="decision.id", index=True)
    assessment_id: int = Field(foreign_key="riskassessment.id")
    controllable: bool
    draft_number: int  # the draft version judged
    reason: str
    evidence_id: int | None = Field(default=None, foreign_key="evidencedocument.id")
    judged_by: str = Field(max_length=64)
    judged_at: datetime


class RevisionConfirmation(SQLModel, table=True):
    """The legal office's written confirmation that a draft revised after its opinion does not
    touch legality (Arts. 25, 28; P15). It covers exactly one draft version, under the opinion
    of one review round; a further revision needs a new review or a new confirmation."""

    __table_args__ = (UniqueConstraint("review_id", "draft_number"),)
    id: int | None = Field(default=None, primary_key=True)
    decision_id: int = Field(foreign_key="decision.id", index=True)
    review_id: int = Field(foreign_key="legalityreview.id")
    draft_number: int
    reason: str
    evidence_id: int | None = Field(default=None, foreign_key="evidencedocument.id")
    confirmed_by: str = Field(max_length=64)
    confirmed_at: datetime
