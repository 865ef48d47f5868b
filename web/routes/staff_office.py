"""The offices' desks under /work: the catalogue workspace of a year (proposals, review,
approval, Party approval, publication, adjustments, exports), and the administration of
the calendar (a year's holiday notice), of user accounts and of units. Mounted by
`web.routes.staff` (which requires a signed-in user for all of /work)."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from documents.catalogue import FORMATS
from flows import procedure as proc
from flows.calendar import local_date
from flows.catalogue_files import generate_catalogue_files
from flows.errors import ProcedureError, invalid
from flows.service import ActionResult
from flows.service.calendar_admin import CALENDAR_ROLES, MAX_FILE_BYTES, holiday_blocks, load_calendar_file
from flows.service.casefile import timezone_of
from flows.service.framework import require_role
from flows.service.office import (
    ADMIN_ROLES,
    CATALOGUE_ACTIONS,
    calendar_desk,
    catalogue_desk,
    directory,
    unit_names,
)
from web.app import STATUS_OF_KIND, service_context
from web.csrf import require_csrf
from web.deps import WebUser
from web.workdesk import (
    ActionForm,
    SignedIn,
    action_form,
    action_forms,
    app_context,
    clock,
    flash,
    form_page,
    page,
    submit,
)

router = APIRouter()

ADMIN_ACTIONS = {
    "add_user": "/work/admin/users",
    "disable_user": "/work/admin/users",
    "add_unit": "/work/admin/units",
}
CATALOGUE_KINDS = ("decisions", "hearings")
MEDIA_TYPES = {
    "html": "text/html; charset=utf-8",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
}


# ---------------------------------------------------------------------------- the catalogue workspace
@router.get("/catalogue")
def catalogue_now(request: Request) -> RedirectResponse:
    ctx = app_context(request)
    year = local_date(clock(request), timezone_of(ctx)).year
    return RedirectResponse(f"/work/catalogue/{year}", status_code=303)


def _year(year: int) -> int:
    if not 2000 <= year <= 2100:
        raise invalid("year", "须在 2000–2100 年之间", "must lie in 2000-2100")
    return year


@router.get("/catalogue/{year}", response_class=HTMLResponse)
def catalogue(year: int, request: Request, user: SignedIn) -> HTMLResponse:
    ctx = app_context(request)
    desk = catalogue_desk(ctx, user.actor, _year(year))
    forms = action_forms(desk.actions, {"year": desk.year}, f"/work/catalogue/{desk.year}", unit_names(ctx))
    return page(
        request,
        "staff/catalogue.html",
        {
            "desk": desk,
            "action_forms": forms,
            "formats": FORMATS,
            "kinds": CATALOGUE_KINDS,
            "may_register": bool(user.roles & proc.procedure().actions["register_decision"].roles),
        },
    )


def _catalogue_form(request: Request, user: WebUser, year: int, action: str) -> ActionForm:
    ctx = app_context(request)
    desk = catalogue_desk(ctx, user.actor, _year(year))
    found = next((a for a in desk.actions if a.action == action), None)
    if action not in CATALOGUE_ACTIONS:
        raise HTTPException(status_code=404)
    return action_form(
        action,
        fixed={"year": desk.year},
        post_url=f"/work/catalogue/{desk.year}/act/{action}",
        back_url=f"/work/catalogue/{desk.year}",
        choices=found.choices if found else None,
        units=unit_names(ctx),
        prefill=dict(request.query_params),
    )


@router.get("/catalogue/{year}/act/{action}", response_class=HTMLResponse)
def catalogue_action_page(year: int, action: str, request: Request, user: SignedIn) -> HTMLResponse:
    return form_page(request, _catalogue_form(request, user, year, action))


@router.post("/catalogue/{year}/act/{action}", dependencies=[Depends(require_csrf)])
async def catalogue_act(year: int, action: str, request: Request, user: SignedIn) -> Response:
    form = await run_in_threadpool(_catalogue_form, request, user, year, action)
    return await submit(request, user, form, lambda _: f"/work/catalogue/{year}")


@router.get("/catalogue/{year}/export/{version}/{name}")
def catalogue_export(year: int, version: int, name: str, request: Request, user: SignedIn) -> Response:
    """One catalogue of one version as a file (`flows.catalogue_files`): decisions or hearings,
    in any format the documents package renders."""
    kind, _, fmt = name.partition(".")
    if kind not in CATALOGUE_KINDS or fmt not in FORMATS:
        raise HTTPException(status_code=404)
    files = generate_catalogue_files(
        app_context(request), _year(year), version=version, now=clock(request), formats=(fmt,)
    )
    path = (files.decisions if kind == "decisions" else files.hearings)[fmt]
    return FileResponse(path, media_type=MEDIA_TYPES[fmt], filename=path.name)


# ---------------------------------------------------------------------------- administration
@router.get("/admin/users", response_class=HTMLResponse)
def users(request: Request, user: SignedIn) -> HTMLResponse:
    ctx = app_context(request)
    found = directory(ctx, user.actor)
    add = action_form(
        "add_user",
        fixed={},
        post_url="/work/admin/act/add_user",
        back_url="/work/admin/users",
        units=unit_names(ctx),
    )
    return page(request, "staff/admin_users.html", {"directory": found, "add_form": add})


@router.get("/admin/units", response_class=HTMLResponse)
def units(request: Request, user: SignedIn) -> HTMLResponse:
    found = directory(app_context(request), user.actor)
    add = action_form("add_unit", fixed={}, post_url="/work/admin/act/add_unit", back_url="/work/admin/units")
    return page(request, "staff/admin_units.html", {"directory": found, "add_form": add})


def _admin_form(request: Request, user: WebUser, action: str) -> ActionForm:
    if action not in ADMIN_ACTIONS:
        raise HTTPException(status_code=404)
    require_role(user.actor, ADMIN_ROLES, "用户和单位管理", "user and unit administration")
    return action_form(
        action,
        fixed={},
        post_url=f"/work/admin/act/{action}",
        back_url=ADMIN_ACTIONS[action],
        units=unit_names(app_context(request)) if action == "add_user" else None,
        prefill=dict(request.query_params),
    )


@router.get("/admin/act/{action}", response_class=HTMLResponse)
def admin_action_page(action: str, request: Request, user: SignedIn) -> HTMLResponse:
    return form_page(request, _admin_form(request, user, action))


@router.post("/admin/act/{action}", dependencies=[Depends(require_csrf)])
async def admin_act(action: str, request: Request, user: SignedIn) -> Response:
    form = await run_in_threadpool(_admin_form, request, user, action)

    def done(_: ActionResult) -> str:
        return ADMIN_ACTIONS[action]

    return await submit(request, user, form, done)


# ---------------------------------------------------------------------------- the calendar
def _calendar_page(request: Request, user: WebUser, **extra: Any) -> HTMLResponse:
    desk = calendar_desk(app_context(request), user.actor, clock(request))
    status = extra.pop("status_code", 200)
    return page(
        request,
        "staff/admin_calendar.html",
        {"desk": desk, "blocks": holiday_blocks, "max_kib": MAX_FILE_BYTES // 1024, "error": None, **extra},
        status_code=status,
    )


@router.get("/admin/calendar", response_class=HTMLResponse)
def calendar(request: Request, user: SignedIn) -> HTMLResponse:
    return _calendar_page(request, user)


SAFE_NAME = re.compile(r"[^\w.-]+")


async def _upload(file: Any) -> tuple[str, bytes]:
    """The uploaded notice's name and bytes, at most MAX_FILE_BYTES (INPUT naming `file`)."""
    if not isinstance(file, UploadFile) or not file.filename:
        raise invalid(
            "file", "请选择放假通知文件（.yaml 或 .csv）", "choose the holiday notice file (.yaml or .csv)"
        )
    data = await file.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise invalid(
            "file", f"文件不得超过 {MAX_FILE_BYTES // 1024} KiB", f"at most {MAX_FILE_BYTES // 1024} KiB"
        )
    name = SAFE_NAME.sub("_", Path(file.filename).name)[-100:] or "notice"
    return name, data


UPLOAD_SLACK = 64 * 1024  # the multipart envelope and the form's other fields


def upload_capped(request: Request) -> None:
    """Refuse an upload larger than a holiday notice can be before its body is read: the
    body's declared length is checked first (a browser always declares it)."""
    declared = request.headers.get("content-length", "")
    if not declared.isdigit() or int(declared) > MAX_FILE_BYTES + UPLOAD_SLACK:
        raise invalid(
            "file", f"文件不得超过 {MAX_FILE_BYTES // 1024} KiB", f"at most {MAX_FILE_BYTES // 1024} KiB"
        )


@router.post("/admin/calendar", dependencies=[Depends(upload_capped), Depends(require_csrf)])
async def load_calendar(request: Request, user: SignedIn) -> Response:
    """Load a year's holiday notice (`calendar_admin.load_calendar_file`, one audited
    transaction that recomputes the deadlines counted on that year)."""
    require_role(user.actor, CALENDAR_ROLES, "载入放假通知", "loading a holiday notice")
    form = await request.form()
    try:
        name, data = await _upload(form.get("file"))
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / name
            path.write_bytes(data)
            result = await run_in_threadpool(
                load_calendar_file, service_context(request, acting=user.code), path, user.code
            )
    except ProcedureError as exc:
        return await run_in_threadpool(
            _calendar_page, request, user, error=exc, status_code=STATUS_OF_KIND.get(exc.kind, 409)
        )
    flash(
        request,
        f"已载入 {result.year} 年放假安排：{result.holidays} 个假日、{result.workdays} 个调休上班日，"
        f"重新计算期限 {len(result.recomputed)} 项",
        f"Loaded {result.year}: {result.holidays} holidays, {result.workdays} make-up working days, "
        f"{len(result.recomputed)} deadlines recomputed",
    )
    return RedirectResponse("/work/admin/calendar", status_code=303)


__all__ = ["router"]
