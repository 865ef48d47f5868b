"""Signed-in sessions: starting one after a successful sign-in (a fresh session, so nothing
from before it carries over), ending one, and where a sign-in may send the browser next."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from fastapi import Request

from web.csrf import csrf_token
from web.deps import SESSION_EPOCH, SESSION_SINCE, SESSION_USER

HOME = "/work"  # the signed-in user's home page (my tasks)


def safe_next(target: str | None, default: str = HOME) -> str:
    """`target` if it is a path on this site, else `default`: a sign-in never sends the
    browser to another site (`//host`, `/\\host`, `https://...`, `javascript:`)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    if any(c in target for c in "\\\r\n\t") or any(ord(c) < 32 or ord(c) == 127 for c in target):
        return default
    return target


def start_session(request: Request, user_code: str, session_epoch: int) -> None:
    """Sign `user_code` in on a fresh session: whatever the session held before (and its
    CSRF token) is dropped, so a session made before sign-in is never the signed-in one."""
    request.session.clear()
    request.session[SESSION_USER] = user_code
    request.session[SESSION_EPOCH] = session_epoch
    request.session[SESSION_SINCE] = int(request.app.state.ctx.clock().timestamp())
    csrf_token(request)  # a new token for the new session
    if hasattr(request.state, "user"):
        del request.state.user


def end_session(request: Request) -> None:
    request.session.clear()
    request.state.user = None


def local_minute(moment: datetime, zone: str) -> str:
    """A time as the jurisdiction reads it, to the minute."""
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")
