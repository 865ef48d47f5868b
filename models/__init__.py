"""SQLModel tables and the engine/session factory. No business rules live here."""

from models.catalogue import CatalogueAdjustment, CatalogueEntry, CatalogueVersion, CatalogueYear
from models.decision import Decision, DraftVersion, EvidenceDocument, StageInstance, StoredDocument
from models.enums import DayUnit, DeadlineStatus, DecisionStatus, StageStatus, UnitKind
from models.execution import ExecutionAssignment, ExecutionReport, PostEvaluation, Suspension
from models.machinery import AuditEvent, CalendarDay, CalendarYear, Deadline, OutboxEvent
from models.meeting import (
    ArchiveDossier,
    CongressStep,
    DiscussionSubmission,
    Meeting,
    MemberOpinion,
    PartyStep,
    Publication,
)
from models.org import Jurisdiction, Unit, User, UserRole
from models.participation import (
    CommentPeriod,
    Hearing,
    HearingRegistration,
    HearingStatement,
    InputResponse,
    ParticipationActivity,
    PublicComment,
)
from models.review import (
    Expert,
    ExpertOpinion,
    ExpertSelection,
    FairCompetitionReview,
    LegalAdviserOpinion,
    LegalityReview,
    RiskAssessment,
)

__all__ = [
    "ArchiveDossier",
    "AuditEvent",
    "CalendarDay",
    "CalendarYear",
    "CatalogueAdjustment",
    "CatalogueEntry",
    "CatalogueVersion",
    "CatalogueYear",
    "CommentPeriod",
    "CongressStep",
    "DayUnit",
    "Deadline",
    "DeadlineStatus",
    "Decision",
    "DecisionStatus",
    "DiscussionSubmission",
    "DraftVersion",
    "EvidenceDocument",
    "ExecutionAssignment",
    "ExecutionReport",
    "Expert",
    "ExpertOpinion",
    "ExpertSelection",
    "FairCompetitionReview",
    "Hearing",
    "HearingRegistration",
    "HearingStatement",
    "InputResponse",
    "Jurisdiction",
    "LegalAdviserOpinion",
    "LegalityReview",
    "Meeting",
    "MemberOpinion",
    "OutboxEvent",
    "ParticipationActivity",
    "PartyStep",
    "PostEvaluation",
    "PublicComment",
    "Publication",
    "RiskAssessment",
    "StageInstance",
    "StageStatus",
    "StoredDocument",
    "Suspension",
    "Unit",
    "UnitKind",
    "User",
    "UserRole",
]
