"""The automatic work of one outbox event: what a `decision-procedure` flow run does (issue 9).

The procedure data says which work an event needs (`procedure.EVENT_ROUTES`); this module does
it, one plain function per kind of work, so that the Prefect tasks stay thin and the work can be
tested without Prefect. Every function takes the event's id, reads what it needs, and is
idempotent: running it twice for the same event changes nothing the first run did not.

- `notify`: the notifications people wait for (`notifications.events`), written by `system` in
  one transaction, once per event and recipient.
- `render_notices`: the public notice pages the step needs (the comment notice, the hearing
  notice and participant list, the published decision), rendered from the evidence the action
  stored, under `<data folder>/notices/<decision>/`.
- `refresh_catalogues`: the catalogue files of the year whose catalogue lists the decision
  (flows/catalogue_files.py), so that their progress column follows the decision.
- `assemble_dossier`: the archive dossier of an archived decision (flows/dossier.py).

Time: the notifications are dated now; on a database with a simulated clock (a scenario or the
demo) they are dated at the event's own instant, so a replay stays in its story. Documents are
dated at the event's instant everywhere: the same event always gives the same files."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, select

from flows import procedure as proc
from flows.errors import not_found
from flows.service.framework import ServiceContext, the_jurisdiction
from models import (
    CatalogueEntry,
    CatalogueYear,
    Decision,
    EvidenceDocument,
    Jurisdiction,
    OutboxEvent,
    Unit,
    User,
)
from models.db import SIMULATED_KINDS, transact
from notifications.events import EventMessage, EventNotified, notify_event
from notifications.render import en_date, zh_date

if TYPE_CHECKING:
    from flows.catalogue_files import CatalogueFiles

# The evidence an event's public notice is rendered from (`notice` work), by event type.
NOTICE_EVIDENCE: dict[str, tuple[str, ...]] = {
    "comment_period_opened": ("comment_notice",),
    "hearing_announced": ("hearing_notice", "selection_method"),
    "hearing_list_published": ("participant_list",),
    "decision_published": ("publication_text", "adoption_explanation", "interpretation"),
}

LEGALITY_OUTCOMES: dict[str, tuple[str, str]] = {
    "lawful": ("合法", "lawful"),
    "lawful_after_changes": ("修改后合法", "lawful after the listed changes"),
    "unlawful": ("不合法", "unlawful"),
}
HEAD_DECISIONS: dict[str, tuple[str, str]] = {
    "approve": ("通过", "approved"),
    "approve_with_changes": ("修改后通过", "approved with changes"),
    "reject": ("不予通过", "rejected"),
    "defer": ("暂缓决定", "deferred"),
}
SYSTEM_LABEL = {"code": proc.SYSTEM_ACTOR, "name": "系统", "unit": "系统"}


@dataclass(frozen=True)
class EventFacts:
    """One outbox event, read once, as plain values."""

    id: int
    event_type: str
    decision_id: int | None
    payload: dict[str, Any]
    created_at: datetime

    @property
    def route(self) -> proc.EventRoute | None:
        return proc.EVENT_ROUTES.get(self.event_type)

    @property
    def work(self) -> tuple[proc.EventWork, ...]:
        route = self.route
        return route.work if route is not None and route.flow == proc.DECISION_PROCEDURE else ()


def read_event(ctx: ServiceContext, event_id: int) -> EventFacts:
    """The outbox event `event_id` (NOT_FOUND naming outbox_event_id if there is none)."""
    with Session(ctx.engine) as session:
        row = session.get(OutboxEvent, event_id)
        if row is None:
            raise not_found("outbox_event_id", event_id)
        return EventFacts(
            id=row.id or 0,
            event_type=row.event_type,
            decision_id=row.decision_id,
            payload=dict(row.payload),
            created_at=row.created_at,
        )


def work_time(ctx: ServiceContext, facts: EventFacts) -> datetime:
    """The instant the work of `facts` is dated (see the module's description)."""
    if ctx.database_kind in SIMULATED_KINDS:
        return ctx.write_time(facts.created_at)
    return ctx.write_time()


# ------------------------------------------------------------------------ notify
def notify(ctx: ServiceContext, event_id: int) -> EventNotified:
    """The notifications of the event, in one transaction by `system` (none if the event has
    no notice; none again for recipients an earlier run already told)."""
    facts = read_event(ctx, event_id)
    now = work_time(ctx, facts)

    def work(session: Session) -> EventNotified:
        jurisdiction = the_jurisdiction(session)
        decision = session.get(Decision, facts.decision_id) if facts.decision_id else None
        message = EventMessage(
            event_id=facts.id,
            event_type=facts.event_type,
            decision=decision,
            occurred_at=facts.created_at,
            context=event_context(session, jurisdiction, facts, decision),
        )
        return notify_event(session, message, now, ctx.notifications, ctx.renderer)

    return transact(ctx.engine, work)


def event_context(
    session: Session, jurisdiction: Jurisdiction, facts: EventFacts, decision: Decision | None
) -> dict[str, Any]:
    """The template names of an event notification that do not depend on the recipient
    (`notifications.render.EVENT_SAMPLE_CONTEXT`)."""
    payload = facts.payload
    reason = payload.get("reason")
    return {
        "organ": jurisdiction.organ,
        "decision": {
            "code": decision.code if decision else str(payload.get("decision", "")),
            "title": decision.title if decision else str(payload.get("title", "")),
        },
        "event": {"type": facts.event_type, "at": facts.created_at, "by": _actor(session, payload)},
        "step": _step(facts, decision),
        "detail": _detail(facts.event_type, payload),
        "reason": reason.strip() if isinstance(reason, str) else "",
    }


def _actor(session: Session, payload: dict[str, Any]) -> dict[str, str]:
    code = payload.get("actor")
    if not isinstance(code, str) or code == proc.SYSTEM_ACTOR:
        return dict(SYSTEM_LABEL)
    row = session.exec(
        select(User.name, Unit.name).join(Unit, col(Unit.id) == col(User.unit_id)).where(User.code == code)
    ).first()
    if row is None:  # the public, or an account since removed
        zh, _ = proc.ROLES.get(code, (code, code))
        return {"code": code, "name": zh, "unit": zh}
    name, unit = row
    return {"code": code, "name": name or code, "unit": unit}


def _step(facts: EventFacts, decision: Decision | None) -> dict[str, str]:
    """The stage the event belongs to: the one it names, else its action's, else initiation."""
    procedure = proc.procedure(decision.procedure_version if decision else proc.CURRENT_VERSION)
    stage_id = facts.payload.get("stage")
    if not isinstance(stage_id, str) or stage_id not in procedure.stage_by_id:
        rule = procedure.actions.get(str(facts.payload.get("action", "")))
        stage_id = rule.stage if rule is not None and rule.stage in procedure.stage_by_id else "initiation"
    stage = procedure.stage(stage_id)
    return {"zh": stage.zh, "en": stage.en}


def _detail(event_type: str, payload: dict[str, Any]) -> dict[str, str]:
    """What the event says beyond its step, in both languages ("" when nothing)."""
    if event_type == "legality_review_submitted" and isinstance(payload.get("round"), int):
        return {"zh": f"第{payload['round']}轮", "en": f"round {payload['round']}"}
    if event_type == "legality_opinion_issued" and payload.get("outcome") in LEGALITY_OUTCOMES:
        zh, en = LEGALITY_OUTCOMES[payload["outcome"]]
        return {"zh": zh, "en": en}
    if event_type == "decision_made" and payload.get("outcome") in HEAD_DECISIONS:
        zh, en = HEAD_DECISIONS[payload["outcome"]]
        return {"zh": zh, "en": en}
    if event_type == "flags_proposed" and isinstance(payload.get("flags"), list):
        flags = [proc.FLAGS.get(name, (name, name, "")) for name in payload["flags"]]
        return {"zh": "、".join(f[0] for f in flags), "en": "; ".join(f[1] for f in flags)}
    if event_type == "submitted_for_discussion" and isinstance(payload.get("meeting_date"), str):
        day = date.fromisoformat(payload["meeting_date"])
        return {"zh": zh_date(day), "en": en_date(day)}
    return {"zh": "", "en": ""}


# ------------------------------------------------------------------------ notices
def render_notices(ctx: ServiceContext, event_id: int) -> list[Path]:
    """The public notice pages of the event's step, one per evidence document the action
    stored with the event (NOTICE_EVIDENCE), written to
    `<data folder>/notices/<decision>/<evidence id>-<kind>.html`. Writing the same page again
    gives the same file."""
    from documents.files import write_whole
    from documents.notices import NoticePage, render_notice

    facts = read_event(ctx, event_id)
    kinds = NOTICE_EVIDENCE.get(facts.event_type, ())
    if not kinds or facts.decision_id is None:
        return []
    with Session(ctx.engine) as session:
        jurisdiction = the_jurisdiction(session)
        decision = session.get(Decision, facts.decision_id)
        assert decision is not None
        documents = session.exec(
            select(EvidenceDocument)
            .where(
                EvidenceDocument.decision_id == decision.id,
                col(EvidenceDocument.kind).in_(kinds),
                EvidenceDocument.created_at == facts.created_at,  # stored by the same action
            )
            .order_by(col(EvidenceDocument.id))
        ).all()
    folder = ctx.documents.root.parent / "notices" / decision.code
    written = []
    for document in documents:
        page = NoticePage(
            organ=jurisdiction.organ,
            title=document.title,
            decision_code=decision.code,
            decision_title=decision.title,
            text=ctx.documents.get(document.sha256).decode("utf-8"),
            issued_on=document.created_at,
        )
        written.append(write_whole(folder / f"{document.id}-{document.kind}.html", render_notice(page)))
    return written


# ------------------------------------------------------------------------ catalogues, dossier
def refresh_catalogues(ctx: ServiceContext, event_id: int) -> CatalogueFiles | None:
    """The files of both catalogues of the year whose catalogue lists the event's decision
    (None when no catalogue lists it)."""
    from flows.catalogue_files import generate_catalogue_files

    facts = read_event(ctx, event_id)
    if facts.decision_id is None:
        return None
    with Session(ctx.engine) as session:
        year = session.exec(
            select(CatalogueYear.year)
            .join(CatalogueEntry, col(CatalogueEntry.catalogue_year_id) == col(CatalogueYear.id))
            .join(Decision, col(Decision.catalogue_entry_id) == col(CatalogueEntry.id))
            .where(Decision.id == facts.decision_id)
        ).first()
    if year is None:
        return None
    return generate_catalogue_files(ctx, year, now=facts.created_at)


def assemble_dossier(ctx: ServiceContext, event_id: int) -> Path:
    """The archive dossier of the event's decision, under `<data folder>/dossiers/`."""
    from flows.dossier import build_dossier

    facts = read_event(ctx, event_id)
    code = facts.payload.get("decision")
    if not isinstance(code, str):
        raise not_found("decision", code)
    return build_dossier(ctx, code, now=facts.created_at)
