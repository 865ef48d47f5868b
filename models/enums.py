"""Lifecycle enums, stored as text (never native PostgreSQL ENUMs, a native PostgreSQL ENUM would need ALTER TYPE for every new value)."""

from enum import StrEnum
from typing import Any

from sqlalchemy import Column
from sqlalchemy import Enum as SAEnum


class StageStatus(StrEnum):
    not_required = "not_required"
    pending = "pending"
    active = "active"
    awaiting_approval = "awaiting_approval"
    returned = "returned"
    completed = "completed"
    waived = "waived"


class DecisionStatus(StrEnum):
    proposed = "proposed"  # registered, organ has not yet decided to start (Art. 10)
    in_procedure = "in_procedure"
    decided = "decided"  # head's decision recorded at the meeting (Art. 30)
    rejected = "rejected"
    published = "published"
    archived = "archived"
    suspended = "suspended"  # execution suspended by the head (Art. 37)
    terminated = "terminated"  # execution stopped for good by the organ after a suspension (Art. 37)
    withdrawn = "withdrawn"


class CommentPeriodStatus(StrEnum):
    open = "open"
    closed = "closed"


class HearingStatus(StrEnum):
    """The hearing sub-sequence of Arts. 16-17, in order; `postponed` leaves it."""

    announced = "announced"
    selected = "selected"
    list_published = "list_published"
    materials_delivered = "materials_delivered"
    held = "held"
    reported = "reported"
    postponed = "postponed"


class ReviewStatus(StrEnum):
    """One legality review round (P5, P7)."""

    under_review = "under_review"
    returned = "returned"
    opinion_issued = "opinion_issued"


class CatalogueEntryStatus(StrEnum):
    proposed = "proposed"
    included = "included"
    rejected = "rejected"
    removed = "removed"
    deferred = "deferred"


class CatalogueVersionStatus(StrEnum):
    draft = "draft"
    approved = "approved"
    party_approved = "party_approved"
    published = "published"
    superseded = "superseded"


class UnitKind(StrEnum):
    department = "department"
    legal_office = "legal_office"
    gov_office = "gov_office"
    party_office = "party_office"
    congress_office = "congress_office"
    lower_government = "lower_government"
    third_party = "third_party"


class DeadlineStatus(StrEnum):
    open = "open"
    met = "met"
    fired = "fired"  # came due while still open (overdue / automatic transition done)
    cancelled = "cancelled"


class DeliveryStatus(StrEnum):
    pending = "pending"  # waiting for its next attempt
    sending = "sending"  # claimed by a dispatcher until its lease ends
    sent = "sent"
    failed = "failed"  # gave up (permanent error or attempts exhausted); retry by hand


class DayUnit(StrEnum):
    calendar = "calendar"
    working = "working"


def text_enum(enum: type[StrEnum], *, nullable: bool = False, index: bool = False) -> Any:
    """A fresh Column storing the enum's value as text (one Column per table)."""
    return Column(
        SAEnum(enum, values_callable=lambda e: [m.value for m in e], native_enum=False, length=32),
        nullable=nullable,
        index=index,
    )
