"""Sign-in, sign-out and the user's own password. Every form carries the session's CSRF
token; a sign-in starts a fresh session and goes on only to a path on this site."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from flows.errors import ProcedureError
from flows.service.accounts import PASSWORD_MIN, end_sessions, set_password, verify_sign_in
from web.abuse import client_address
from web.app import STATUS_OF_KIND, render, service_context
from web.auth import end_session, local_minute, safe_next, start_session
from web.csrf import require_csrf
from web.deps import WebUser, current_user, require_user

router = APIRouter()

FIELD_MAX = 512  # longer input is no account name or password: refused without hashing
# the status of each sign-in outcome that is not a success
SIGN_IN_STATUS = {"wrong": 401, "disabled": 403, "locked": 423, "throttled": 429}


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "") -> HTMLResponse:
    current_user(request)
    return render(request, "auth/login.html", {"next": safe_next(next), "typed": ""})


@router.post("/login", dependencies=[Depends(require_csrf)])
def login(
    request: Request,
    user: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    code = user.strip()[:FIELD_MAX]
    target = safe_next(next)
    context: dict[str, Any] = {"next": target, "typed": code}
    if not code or not password or len(password) > FIELD_MAX:
        context["problem"] = "missing" if not code or not password else "wrong"
        return render(request, "auth/login.html", context, status_code=422 if not password else 401)
    result = verify_sign_in(
        service_context(request, acting=code), code, password, address=client_address(request)
    )
    if result.ok:
        start_session(request, result.user_code, result.session_epoch)
        return RedirectResponse(target, status_code=303)
    context["problem"] = result.outcome
    if result.locked_until is not None:
        context["locked_until"] = local_minute(result.locked_until, result.timezone)
    context["retry_minutes"] = max(1, -(-result.retry_after // 60))
    response = render(request, "auth/login.html", context, status_code=SIGN_IN_STATUS[result.outcome])
    if result.outcome == "throttled":
        response.headers["Retry-After"] = str(result.retry_after)
    return response


@router.post("/logout", dependencies=[Depends(require_csrf)])
def logout(request: Request) -> RedirectResponse:
    """Sign out: this session and every other session of the account end."""
    user = current_user(request)
    if user is not None:
        end_sessions(service_context(request, acting=user.code), user.code)
    end_session(request)
    return RedirectResponse("/", status_code=303)


@router.get("/account/password", response_class=HTMLResponse)
def password_page(
    request: Request, user: Annotated[WebUser, Depends(require_user)], done: int = 0
) -> HTMLResponse:
    return render(request, "auth/password.html", {"done": bool(done), "minimum": PASSWORD_MIN})


@router.post("/account/password", dependencies=[Depends(require_csrf)])
def change_password(
    request: Request,
    user: Annotated[WebUser, Depends(require_user)],
    old_password: Annotated[str, Form()] = "",
    new_password: Annotated[str, Form()] = "",
    confirm_password: Annotated[str, Form()] = "",
) -> Response:
    """The signed-in user's new password, with the current one. The session goes on as a
    fresh one; the account's other sessions end."""
    context: dict[str, Any] = {"done": False, "minimum": PASSWORD_MIN}
    if new_password != confirm_password:
        context["mismatch"] = True
        return render(request, "auth/password.html", context, status_code=422)
    try:
        changed = set_password(
            service_context(request, acting=user.code),
            user.code,
            user.code,
            new_password,
            old_password=old_password,
        )
    except ProcedureError as exc:
        context["error"] = exc
        context["error_field"] = "new_password" if exc.field == "password" else exc.field
        return render(request, "auth/password.html", context, status_code=STATUS_OF_KIND.get(exc.kind, 409))
    start_session(request, user.code, changed.session_epoch)
    return RedirectResponse("/account/password?done=1", status_code=303)
