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
with AUTH.

The staff's web pages and the JSON API are stricter than the CLI (issue 10: "a department sees
its own drafts"): there a user sees a decision only with a role on it, as above, or once it has
been published (`may_see`), and its audit trail only with a role on it (`has_role_on`)."""

from __future__ import annotations

from typing import NoReturn

from sqlmodel import Session

from flows.errors import refusal
from flows.service.framework import Actor, load_actor, the_jurisdiction
from models import Decision

READ_ROLES = frozenset(
    {"legal_reviewer", "legal_head", "gov_office", "head", "meeting_member", "party_liaison", "supervisor"}
)


def is_confidential(decision: Decision) -> bool:
    return "confidential" in (decision.flags or []) or "confidential" in (decision.proposed_flags or [])


def has_role_on(reader: Actor | None, decision: Decision) -> bool:
    """The reader is a named, active user with a role on the decision: one of `READ_ROLES`,
    or a user of one of its units (undertaking, lead, or acting after the decision)."""
    if reader is None or reader.user_id is None:  # no one named, or the public
        return False
    if reader.roles & READ_ROLES:
        return True
    return reader.unit_code in (decision.unit_codes or []) or (
        reader.unit_id is not None and reader.unit_id == decision.lead_unit_id
    )


def may_read(reader: Actor | None, decision: Decision) -> bool:
    """The CLI's rule: anyone reads a decision that is not confidential."""
    return not is_confidential(decision) or has_role_on(reader, decision)


def may_see(reader: Actor | None, decision: Decision) -> bool:
    """The web's and the API's rule for staff: a decision with a role on it, or one already
    published (which the portal shows anyone; a confidential decision is never published).
    Another unit's drafts stay with that unit."""
    if has_role_on(reader, decision):
        return True
    return decision.published_on is not None and not is_confidential(decision)


def load_reader(session: Session, code: str | None) -> Actor | None:
    """The reader an adapter names (`--actor`), or None when it names no one."""
    if code is None:
        return None
    return load_actor(session, the_jurisdiction(session), code)


def check_see(reader: Actor | None, decision: Decision) -> None:
    """Refuse (AUTH, 403) a staff page or API read of a decision the reader may not see."""
    if not may_see(reader, decision):
        _forbidden(
            reader,
            f"决策 {decision.code} 尚未公布，仅对其负有职责的人员可见",
            f"decision {decision.code} is not published: only a user with a role on it may see it",
        )


def check_role_on(reader: Actor | None, decision: Decision) -> None:
    """Refuse (AUTH, 403) what only a user with a role on the decision may read (its audit
    trail: the events carry what the public gave, e.g. a commenter's contact)."""
    if not has_role_on(reader, decision):
        _forbidden(
            reader,
            f"决策 {decision.code} 的审计记录仅对其负有职责的人员开放",
            f"the audit trail of {decision.code} is open only to users with a role on it",
        )


def _forbidden(reader: Actor | None, zh: str, en: str) -> NoReturn:
    who = reader.code if reader else "—"
    raise refusal("AUTH", f"{zh}（现为 {who}）", f"{en} (now {who})", field="decision", kind="forbidden")


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


# The decision's working file (drafts, inputs, deadlines, audit trail) as the staff pages show
# it: for the offices that handle every decision and the decision's own units (Art. 11).
may_read_file = has_role_on


def check_read_file(reader: Actor | None, decision: Decision) -> None:
    """Refuse (AUTH, forbidden) a reader who may not read the decision's working file."""
    if not may_read_file(reader, decision):
        _forbidden(
            reader,
            f"决策 {decision.code} 的案卷仅供其承办单位和负有职责的机构查阅",
            f"the file of decision {decision.code} is for its own units and the offices with a role on it",
        )


__all__ = [
    "READ_ROLES",
    "check_read",
    "check_read_file",
    "check_role_on",
    "check_see",
    "has_role_on",
    "is_confidential",
    "load_reader",
    "may_read",
    "may_read_file",
    "may_see",
]
