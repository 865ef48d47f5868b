"""The public portal: no sign-in to read."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from web import i18n
from web.app import render

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> HTMLResponse:
    return render(request, "portal/home.html")


@router.get("/lang/{locale}")
def switch_language(locale: str, request: Request, back: str = "/") -> RedirectResponse:
    """Choose the interface language (a cookie; nothing on the server changes)."""
    target = back if back.startswith("/") and not back.startswith("//") else "/"
    response = RedirectResponse(target, status_code=303)
    if locale in i18n.LOCALES:
        response.set_cookie(i18n.LOCALE_COOKIE, locale, max_age=365 * 86400, samesite="lax", httponly=True)
    return response
