"""The public portal: no sign-in to read (issue 10, part 3).

Pages: the home page; drafts open for comment with the comment form; hearing notices with
registration; the published decisions with the adoption of opinions and their procedure at a
glance; the published catalogues of each year with their files; and the receipt look-up.

Reads come from `flows/service/portal_reads.py`, which shows only what the public may see
(never a confidential or unpublished decision, never a contact). The two forms act as the
public ("submit_public_comment", "register_for_hearing") behind the size limit and the CSRF
check, then through `web.abuse.submit_public`, the one way the public's actions are taken
(the JSON API's too): the HTML sanitising, the duplicate check (comments), the per-address
rate limit and the NOT_FOUND of the pages. A comment's receipt is made and checked by
`web/receipts.py`."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session
from starlette.datastructures import FormData

from flows.errors import ProcedureError
from flows.service import portal_reads
from flows.service.documents import DocumentStore
from web import i18n
from web.abuse import client_address, limit_body, plain_text, portal_guard, submit_public
from web.app import STATUS_OF_KIND, render, service_context
from web.auth import safe_next
from web.csrf import require_csrf
from web.receipts import make_receipt, read_receipt

router = APIRouter()

PAGE_SIZE = 50
FORM_GUARDS = [Depends(limit_body), Depends(require_csrf)]  # in this order: size first


def _now(request: Request) -> datetime:
    """The time the portal shows things at: the service context's clock."""
    now: datetime = request.app.state.ctx.clock()
    return now


def _session(request: Request) -> Session:
    return Session(request.app.state.ctx.engine)


def _documents(request: Request) -> DocumentStore:
    store: DocumentStore = request.app.state.ctx.documents
    return store


def _secret(request: Request) -> str:
    secret: str = request.app.state.config.secret_key
    return secret


async def _form(request: Request) -> FormData:
    """The submitted form (already read within the size limit by `limit_body`)."""
    return await request.form()


PostedForm = Annotated[FormData, Depends(_form)]


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return plain_text(value) if isinstance(value, str) else ""


def _too_many(request: Request, wait: float) -> HTMLResponse:
    minutes = max(1, math.ceil(wait / 60))
    response = render(request, "portal/limited.html", {"minutes": minutes}, status_code=429)
    response.headers["Retry-After"] = str(math.ceil(wait))
    return response


# ------------------------------------------------------------------ home
@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> HTMLResponse:
    with _session(request) as session:
        found = portal_reads.portal_home(session, _now(request))
    return render(request, "portal/home.html", {"home": found})


@router.get("/lang/{locale}")
def switch_language(locale: str, request: Request, back: str = "/") -> RedirectResponse:
    """Choose the interface language (a cookie; nothing on the server changes)."""
    target = safe_next(back, "/")
    response = RedirectResponse(target, status_code=303)
    if locale in i18n.LOCALES:
        response.set_cookie(i18n.LOCALE_COOKIE, locale, max_age=365 * 86400, samesite="lax", httponly=True)
    return response


# ------------------------------------------------------------------ consultations
@router.get("/consultations", response_class=HTMLResponse)
def consultations(request: Request) -> HTMLResponse:
    with _session(request) as session:
        found = portal_reads.open_consultations(session, _now(request))
    return render(request, "portal/consultations.html", {"consultations": found})


def _consultation_page(
    request: Request,
    code: str,
    *,
    error: ProcedureError | None = None,
    typed: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    with _session(request) as session:
        found = portal_reads.consultation(session, _documents(request), code, _now(request))
    context = {"c": found, "error": error, "typed": typed or {}}
    return render(request, "portal/consultation.html", context, status_code=status_code)


@router.get("/consultations/{code}", response_class=HTMLResponse)
def consultation(code: str, request: Request) -> HTMLResponse:
    return _consultation_page(request, code)


@router.post("/consultations/{code}", response_class=HTMLResponse, dependencies=FORM_GUARDS)
def submit_comment(code: str, request: Request, form: PostedForm) -> HTMLResponse:
    """A comment from the public (Art. 15), through `submit_public` (sanitised, checked for a
    duplicate and against the address's rate limit, then submitted as `public`); the answer
    is its receipt."""
    typed = {name: _field(form, name) for name in ("text", "name", "contact")}
    try:
        done = submit_public(
            request.app,
            service_context(request, acting="public"),
            "submit_public_comment",
            {"decision": code, **typed},
            client_address(request),
        )
    except ProcedureError as exc:
        if exc.kind == "not_found":
            raise
        status = STATUS_OF_KIND.get(exc.kind, 409)
        return _consultation_page(request, code, error=exc, typed=typed, status_code=status)
    if done.result is None:
        return _too_many(request, done.retry_after)
    receipt = make_receipt(_secret(request), code, str(done.result.data["comment"]))
    if done.duplicate:
        return _receipt_page(request, receipt, duplicate=True)
    return _receipt_page(request, receipt, status_code=201)


def _receipt_page(
    request: Request, receipt: str, *, duplicate: bool = False, status_code: int = 200
) -> HTMLResponse:
    decision, comment = read_receipt(_secret(request), receipt) or ("", "")
    with _session(request) as session:
        found = portal_reads.comment_receipt(session, decision, comment)
    context = {"receipt": receipt, "found": found, "duplicate": duplicate}
    return render(request, "portal/comment_receipt.html", context, status_code=status_code)


# ------------------------------------------------------------------ receipts
@router.get("/receipts", response_class=HTMLResponse)
def receipts(request: Request) -> HTMLResponse:
    return render(request, "portal/receipts.html", {"asked": "", "found": None})


@router.post("/receipts", response_class=HTMLResponse, dependencies=FORM_GUARDS)
def look_up_receipt(request: Request, form: PostedForm) -> HTMLResponse:
    """A comment and its answer by its receipt number (posted, so that the number stays out
    of addresses and logs); rate-limited per address against guessing."""
    asked = _field(form, "receipt").strip()
    wait = portal_guard(request.app).lookups.hit(client_address(request))
    if wait is not None:
        return _too_many(request, wait)
    found: portal_reads.CommentReceipt | None = None
    parsed = read_receipt(_secret(request), asked)
    if parsed is not None:
        try:
            with _session(request) as session:
                found = portal_reads.comment_receipt(session, *parsed)
        except ProcedureError as exc:
            if exc.kind != "not_found":
                raise
    context: dict[str, Any] = {"asked": asked, "found": found, "missing": found is None}
    return render(request, "portal/receipts.html", context, status_code=200 if found else 404)


# ------------------------------------------------------------------ hearings
@router.get("/hearings", response_class=HTMLResponse)
def hearings(request: Request) -> HTMLResponse:
    with _session(request) as session:
        found = portal_reads.hearing_notices(session, _now(request))
    return render(request, "portal/hearings.html", {"hearings": found})


def _hearing_page(
    request: Request,
    code: str,
    hearing: str,
    *,
    error: ProcedureError | None = None,
    typed: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    with _session(request) as session:
        found = portal_reads.hearing_notice(session, _documents(request), code, hearing, _now(request))
    context = {"h": found, "error": error, "typed": typed or {}}
    return render(request, "portal/hearing.html", context, status_code=status_code)


@router.get("/hearings/{code}/{hearing}", response_class=HTMLResponse)
def hearing_page(code: str, hearing: str, request: Request) -> HTMLResponse:
    return _hearing_page(request, code, hearing)


@router.post("/hearings/{code}/{hearing}", response_class=HTMLResponse, dependencies=FORM_GUARDS)
def register_for_hearing(code: str, hearing: str, request: Request, form: PostedForm) -> HTMLResponse:
    """A registration from the public (Art. 16(2)), through `submit_public` (sanitised and
    rate-limited per address, then made as `public`); the answer is the registration number."""
    typed = {name: _field(form, name) for name in ("name", "contact", "interest_group")}
    try:
        done = submit_public(
            request.app,
            service_context(request, acting="public"),
            "register_for_hearing",
            {"decision": code, "hearing": hearing, **typed},
            client_address(request),
        )
    except ProcedureError as exc:
        if exc.kind == "not_found":
            raise
        status = STATUS_OF_KIND.get(exc.kind, 409)
        return _hearing_page(request, code, hearing, error=exc, typed=typed, status_code=status)
    if done.result is None:
        return _too_many(request, done.retry_after)
    with _session(request) as session:
        notice = portal_reads.hearing_notice(session, _documents(request), code, hearing, _now(request))
    context = {
        "h": notice,
        "registration": done.result.data["registration"],
        "group": typed["interest_group"],
    }
    return render(request, "portal/hearing_registered.html", context, status_code=201)


# ------------------------------------------------------------------ published decisions
@router.get("/decisions", response_class=HTMLResponse)
def decisions(request: Request, q: str = "", page: int = 1) -> HTMLResponse:
    page = max(page, 1)
    with _session(request) as session:
        rows, total = portal_reads.published_decisions(
            session, query=q[:100], offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE
        )
    pages = max(1, math.ceil(total / PAGE_SIZE))
    context = {"rows": rows, "total": total, "q": q[:100], "page": page, "pages": pages}
    return render(request, "portal/decisions.html", context)


@router.get("/decisions/{code}", response_class=HTMLResponse)
def decision(code: str, request: Request) -> HTMLResponse:
    with _session(request) as session:
        found = portal_reads.published_decision(session, _documents(request), code)
    return render(request, "portal/decision.html", {"d": found})


# ------------------------------------------------------------------ catalogues
@router.get("/catalogues", response_class=HTMLResponse)
def catalogues(request: Request) -> HTMLResponse:
    with _session(request) as session:
        years = portal_reads.catalogue_years(session)
    return render(request, "portal/catalogues.html", {"years": years})


@router.get("/catalogues/{year}", response_class=HTMLResponse)
def catalogue(year: int, request: Request, version: int | None = None) -> HTMLResponse:
    with _session(request) as session:
        today = portal_reads.local_today(session, _now(request))
        found = portal_reads.published_catalogue(session, year, version, today)
    return render(request, "portal/catalogue.html", {"cat": found, "formats": FORMATS_SHOWN})


FORMATS_SHOWN = ("xlsx", "docx", "html", "csv", "json")


@router.get("/catalogues/{year}/v{version}/{filename}")
def catalogue_download(year: int, version: int, filename: str, request: Request) -> Response:
    """One catalogue file of a published version: `decisions.xlsx`, `hearings.csv`, ..."""
    kind, _, fmt = filename.partition(".")
    with _session(request) as session:
        today = portal_reads.local_today(session, _now(request))
        found = portal_reads.catalogue_file(session, year, version, kind, fmt, today)
    return Response(
        found.content,
        media_type=found.media_type,
        headers={"Content-Disposition": f'attachment; filename="{found.filename}"'},
    )
