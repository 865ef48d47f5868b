"""The offices' desks in the staff pages (issue 10): the catalogue workspace of a year, the
directory of units and user accounts, and the calendar's years. Read only; every change
is an action (`run_action`) or the calendar load (`calendar_admin.load_calendar_file`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from flows import procedure as proc
from flows import rules
from flows.service.calendar_admin import YearSummary, year_summary
from flows.service.catalogue import catalogue_entries, catalogue_versions
from flows.service.framework import Actor, ServiceContext, require_role, the_jurisdiction
from flows.service.worklist import Available, role_allows
from models import CalendarYear, CatalogueYear, Unit, User, UserRole
from models.enums import CatalogueEntryStatus, CatalogueVersionStatus, UnitKind

ADMIN_ROLES = frozenset({"admin"})
CATALOGUE_ACTIONS = (
    "propose_catalogue_entry",
    "review_catalogue_entry",
    "approve_catalogue",
    "record_catalogue_party_approval",
    "publish_catalogue",
    "adjust_catalogue",
)


# ---------------------------------------------------------------------------- units and users
def unit_names(ctx: ServiceContext, kinds: frozenset[UnitKind] | None = None) -> dict[str, str]:
    """Code -> name of the jurisdiction's units (of `kinds`), departments first, by code."""
    with Session(ctx.engine) as session:
        jurisdiction = the_jurisdiction(session)
        units = session.exec(select(Unit).where(Unit.jurisdiction_id == jurisdiction.id)).all()
    ordered = sorted(units, key=lambda u: (u.kind != UnitKind.department, u.code))
    return {u.code: u.name for u in ordered if kinds is None or u.kind in kinds}


@dataclass(frozen=True)
class UnitRow:
    code: str
    name: str
    kind: str
    users: int


@dataclass(frozen=True)
class UserRow:
    code: str
    name: str
    unit: str
    unit_name: str
    roles: tuple[str, ...]
    email: str
    active: bool


@dataclass(frozen=True)
class Directory:
    units: tuple[UnitRow, ...]
    users: tuple[UserRow, ...]


def directory(ctx: ServiceContext, reader: Actor) -> Directory:
    """Every unit and user account with its roles: for administrators (AUTH otherwise)."""
    require_role(reader, ADMIN_ROLES, "用户和单位管理", "user and unit administration")
    with Session(ctx.engine) as session:
        jurisdiction = the_jurisdiction(session)
        units = session.exec(
            select(Unit).where(Unit.jurisdiction_id == jurisdiction.id).order_by(col(Unit.code))
        ).all()
        users = session.exec(
            select(User).where(User.jurisdiction_id == jurisdiction.id).order_by(col(User.code))
        ).all()
        roles: dict[int, list[str]] = {}
        for user_id, role in session.exec(
            select(UserRole.user_id, UserRole.role).order_by(col(UserRole.role))
        ):
            roles.setdefault(user_id, []).append(role)
    by_id = {u.id: u for u in units}
    counts: dict[int, int] = {}
    for user in users:
        counts[user.unit_id] = counts.get(user.unit_id, 0) + 1
    return Directory(
        units=tuple(UnitRow(u.code, u.name, u.kind.value, counts.get(u.id or 0, 0)) for u in units),
        users=tuple(
            UserRow(
                code=u.code,
                name=u.name,
                unit=by_id[u.unit_id].code if u.unit_id in by_id else "",
                unit_name=by_id[u.unit_id].name if u.unit_id in by_id else "",
                roles=tuple(roles.get(u.id or 0, [])),
                email=u.email or "",
                active=u.active,
            )
            for u in users
        ),
    )


# ---------------------------------------------------------------------------- the calendar
@dataclass(frozen=True)
class CalendarDesk:
    years: tuple[YearSummary, ...]


def calendar_desk(ctx: ServiceContext, reader: Actor, now: datetime) -> CalendarDesk:
    """What the calendar knows of this year, the next, and every year loaded: for
    administrators, who load the holiday notices (AUTH otherwise)."""
    from flows.service.calendar_admin import CALENDAR_ROLES

    require_role(reader, CALENDAR_ROLES, "放假安排管理", "calendar administration")
    with Session(ctx.engine) as session:
        loaded = set(session.exec(select(CalendarYear.year)).all())
        this_year = now.year
        years = sorted({this_year, this_year + 1, *loaded})
        return CalendarDesk(tuple(year_summary(session, year) for year in years))


# ---------------------------------------------------------------------------- the catalogue workspace
@dataclass(frozen=True)
class CatalogueDesk:
    year: int
    years: tuple[int, ...]  # every year with a catalogue
    versions: tuple[Mapping[str, Any], ...]
    entries: tuple[Mapping[str, Any], ...]  # every entry ever proposed, with its review
    current_status: str | None  # of the current version (None: no catalogue for the year yet)
    published_version: int | None
    actions: tuple[Available, ...]


def catalogue_desk(ctx: ServiceContext, reader: Actor, year: int) -> CatalogueDesk:
    """The year's catalogue as the departments, the legal office, the government office and
    the Party liaison work on it (Art. 3(3)): its versions with their approvals, every entry
    with its review, and the catalogue actions `reader` may take now. Catalogues hold no
    confidential matter (Arts. 14, 32), so any signed-in user may read them."""
    with Session(ctx.engine) as session:
        jurisdiction = the_jurisdiction(session)
        jid = jurisdiction.id or 0
        years = tuple(
            session.exec(
                select(CatalogueYear.year)
                .where(CatalogueYear.jurisdiction_id == jid)
                .order_by(col(CatalogueYear.year))
            ).all()
        )
        versions = tuple(catalogue_versions(session, jid, year))
        entries = tuple(catalogue_entries(session, jid, year))
    current = next((v for v in versions if v["current"]), None)
    published = next((int(v["version"]) for v in versions if v["in_force"]), None)
    status = str(current["status"]) if current else None
    return CatalogueDesk(
        year=year,
        years=years,
        versions=versions,
        entries=entries,
        current_status=status,
        published_version=published,
        actions=tuple(
            _catalogue_actions(
                reader, year, status, int(current["version"]) if current else 0, published, entries
            )
        ),
    )


def _catalogue_actions(
    reader: Actor,
    year: int,
    status: str | None,
    number: int,
    published: int | None,
    entries: tuple[Mapping[str, Any], ...],
) -> list[Available]:
    """The catalogue actions `reader` holds a role for and whose version status holds."""
    procedure = proc.procedure()
    proposed = tuple(str(e["code"]) for e in entries if e["status"] == CatalogueEntryStatus.proposed)
    included = tuple(str(e["code"]) for e in entries if e["status"] == CatalogueEntryStatus.included)
    found: list[Available] = []
    for name in CATALOGUE_ACTIONS:
        rule = procedure.actions[name]
        if not role_allows(name, rule, reader, None):
            continue
        needed = rule.needs.get("catalogue_version", frozenset())
        version_ready = status is None or status in needed
        choices: dict[str, tuple[str, ...]] = {}
        if name == "propose_catalogue_entry":
            ok = rules.catalogue_open_for_proposals(year, published) is None and version_ready
        elif name == "review_catalogue_entry":
            ok, choices = bool(proposed) and version_ready, {"entry": proposed}
        elif name == "adjust_catalogue":
            ok = status is not None and rules.catalogue_adjustable(status, number) is None
            choices = {"entry": included}
        else:
            ok = status is not None and version_ready and status != CatalogueVersionStatus.published
        if ok:
            found.append(Available(name, None, name != "adjust_catalogue", choices))
    return found


__all__ = [
    "ADMIN_ROLES",
    "CATALOGUE_ACTIONS",
    "CalendarDesk",
    "CatalogueDesk",
    "Directory",
    "UnitRow",
    "UserRow",
    "calendar_desk",
    "catalogue_desk",
    "directory",
    "unit_names",
]
