"""Who is asking: the signed-in user of a page request (the session cookie) as the same
`Actor` the service layer checks roles and units on. The session holds only the user's code;
the user, unit and roles are read again on every request, so a disabled user or a changed
role takes effect at once. The session also carries the account's session number
(`Credential.session_epoch`): signing out, or a new password, moves the number on and every
session that carries the old one stops working, on every device. A session also ends
`WebConfig.session_lifetime` after signing in, however busy it is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from fastapi import HTTPException, Request
from sqlmodel import Session, col, select

from flows.errors import ProcedureError
from flows.service.framework import Actor, load_actor, the_jurisdiction
from models import Credential, Unit, User

SESSION_USER = "user"
SESSION_EPOCH = "epoch"
SESSION_SINCE = "since"  # when the user signed in (POSIX seconds, the service context's clock)


@dataclass(frozen=True)
class WebUser:
    """The signed-in user: the service's `Actor` plus what pages show."""

    actor: Actor
    name: str
    unit_name: str
    session_epoch: int | None = None  # None: the account has no password (cannot sign in)

    @property
    def code(self) -> str:
        return self.actor.code

    @property
    def roles(self) -> frozenset[str]:
        return self.actor.roles


def load_web_user(session: Session, code: str) -> WebUser | None:
    """The active user `code` with unit and roles, or None (unknown, disabled, reserved)."""
    try:
        actor = load_actor(session, the_jurisdiction(session), code)
    except ProcedureError:
        return None
    if actor.user_id is None:  # the public is never signed in
        return None
    found = session.exec(
        select(User.name, Unit.name, Credential.session_epoch)
        .join(Unit, col(Unit.id) == User.unit_id)
        .outerjoin(Credential, col(Credential.user_id) == col(User.id))
        .where(User.id == actor.user_id)
    ).first()
    if found is None:
        return None
    return WebUser(actor, found[0], found[1], found[2])


def current_user(request: Request) -> WebUser | None:
    """The signed-in user of this request (kept on `request.state.user` for the templates)."""
    if hasattr(request.state, "user"):
        user: WebUser | None = request.state.user
        return user
    code = request.session.get(SESSION_USER)
    user = None
    if isinstance(code, str) and code:
        with Session(request.app.state.ctx.engine) as session:
            user = load_web_user(session, code)
        if (
            user is None
            or user.session_epoch is None
            or request.session.get(SESSION_EPOCH) != user.session_epoch
            or not _within_lifetime(request)
        ):
            user = None
            request.session.clear()  # disabled, signed out elsewhere, a new password or too old
    request.state.user = user
    return user


def _within_lifetime(request: Request) -> bool:
    """Whether the session was signed in less than `WebConfig.session_lifetime` ago. The
    session cookie is signed again at every answer, so its own age limit only ends sessions
    left idle: without this, a copied cookie kept in use would work until sign-out."""
    since = request.session.get(SESSION_SINCE)
    if not isinstance(since, int | float):
        return False
    now: datetime = request.app.state.ctx.clock()
    lifetime: int = request.app.state.config.session_lifetime
    return -60 <= now.timestamp() - since <= lifetime  # a minute's grace for a clock set back


def require_user(request: Request) -> WebUser:
    """A page that needs a signed-in user: others are sent to the sign-in page."""
    user = current_user(request)
    if user is None:
        raise HTTPException(status_code=303, headers={"Location": f"/login?next={quote(request.url.path)}"})
    return user
