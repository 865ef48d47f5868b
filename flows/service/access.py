"""Who may read a decision (issue 8).

A decision is readable by anyone unless it is confidential (the flag in effect, or proposed and
awaiting the legal office's confirmation: until then it is treated as confidential). A
confidential decision is readable only by a named, active user who has a role on it:

- a user of one of its units (the lead unit or an undertaking unit, Art. 11);
- the legal office (`legal_reviewer`, `legal_head`), which reviews its legality;
- the government office (`gov_office`), which manages the procedure, and the head and the
  members of the executive meeting (`head`, `meeting_member`), who discuss and decide it;
- the Party liaison (`party_liaison`), who records the Party committee's steps on it;
- supervisors (`supervisor`), who oversee every decision.

An administrator (`admin`) runs the system and has no access to a decision's content by that role.
Listing commands leave out what the reader may not see; a command about one decision refuses
with AUTH."""

from __future__ import annotations

from sqlmodel import Session

from flows.errors import refusal
from flows.service.framework import Actor, load_actor, the_jurisdiction
from models import Decision

READ_ROLES = frozenset(
    {"legal_reviewer", "legal_head", "gov_office", "head", "meeting_member", "party_liaison", "supervisor"}
)


def is_confidential(decision: Decision) -> bool:
    return "confidential" in (decision.flags or []) or "confidential" in (decision.proposed_flags or [])


def may_read(reader: Actor | None, decision: Decision) -> bool:
    if not is_confidential(decision):
        return True
    if reader is None or reader.user_id is None:  # no one named, or the public
        return False
    if reader.roles & READ_ROLES:
        return True
    return reader.unit_code in (decision.unit_codes or []) or (
        reader.unit_id is not None and reader.unit_id == decision.lead_unit_id
    )


def load_reader(session: Session, code: str | None) -> Actor | None:
    """The reader an adapter names (`--actor`), or None when it names no one."""
    if code is None:
        return None
    return load_actor(session, the_jurisdiction(session), code)


def check_read(reader: Actor | None, decision: Decision) -> None:
    if not may_read(reader, decision):
        who = reader.code if reader else "—"
        raise refusal(
            "AUTH",
            f"决策 {decision.code} 依法不予公开，须由对其负有职责的人员查阅（--actor，现为 {who}）",
            f"decision {decision.code} is confidential: only a user with a role on it may read it"
            f" (--actor; now {who})",
            field="actor",
            kind="forbidden",
        )


def may_read_file(reader: Actor | None, decision: Decision) -> bool:
    """The decision's working file (drafts, inputs, deadlines, audit trail) as the staff pages
    and the API show it, confidential or not: the offices that handle every decision
    (`READ_ROLES`) and the decision's own units. A department sees its own drafts, not another
    department's (Art. 11); the public reads what is published, on the portal. Everyone who may
    read the file may also read a confidential decision (`may_read`)."""
    if reader is None or reader.user_id is None:
        return False
    if reader.roles & READ_ROLES:
        return True
    return reader.unit_code in (decision.unit_codes or []) or (
        reader.unit_id is not None and reader.unit_id == decision.lead_unit_id
    )


def check_read_file(reader: Actor | None, decision: Decision) -> None:
    """Refuse (AUTH, forbidden) a reader who may not read the decision's working file."""
    if not may_read_file(reader, decision):
        who = reader.code if reader else "—"
        raise refusal(
            "AUTH",
            f"决策 {decision.code} 的案卷仅供其承办单位和负有职责的机构查阅（{who}）",
            f"the file of decision {decision.code} is for its own units and the offices with a role on it"
            f" ({who})",
            field="actor",
            kind="forbidden",
        )


__all__ = [
    "READ_ROLES",
    "check_read",
    "check_read_file",
    "is_confidential",
    "load_reader",
    "may_read",
    "may_read_file",
]
