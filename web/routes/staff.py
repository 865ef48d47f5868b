"""The pages civil servants work in, under /work (signed in): the home page per role (tasks
and deadlines with traffic lights), the decisions and each decision's file, the action
forms, the legality review queue and the meeting record. The catalogue workspace and the
administration pages are in `staff_office`. Route code stays thin: reads come from
`flows.service.worklist`, `casefile` and `office`; every write is `run_action` as the
signed-in user."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from flows import procedure as proc
from flows.errors import ProcedureError
from flows.service import ActionResult, run_action
from flows.service.casefile import (
    action_context,
    compare_drafts,
    decision_file,
    document_text,
    meeting_file,
)
from flows.service.framework import require_role
from flows.service.office import unit_names
from flows.service.worklist import decision_rows, legality_queue, my_deadlines, my_tasks
from models.enums import DecisionStatus, UnitKind
from web.app import STATUS_OF_KIND, service_context
from web.csrf import require_csrf
from web.deps import WebUser, require_user
from web.routes import staff_office
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

router = APIRouter(prefix="/work", dependencies=[Depends(require_user)])
router.include_router(staff_office.router)

DEPARTMENTS = frozenset({UnitKind.department})
# actions that have a page of their own instead of the generic form
OWN_PAGE = {"record_meeting": "/work/meetings/{code}"}


# ---------------------------------------------------------------------------- home
@router.get("", response_class=HTMLResponse)
def home(request: Request, user: SignedIn) -> HTMLResponse:
    ctx = app_context(request)
    now = clock(request)
    tasks = my_tasks(ctx, user.actor)
    due = my_deadlines(ctx, user.actor, now)
    counts = {lamp: sum(1 for d in due if d.lamp == lamp) for lamp in ("overdue", "today", "soon", "ok")}
    return page(
        request,
        "staff/home.html",
        {"tasks": tasks, "deadlines": due, "counts": counts, "own_page": OWN_PAGE, "now": now},
    )


# ---------------------------------------------------------------------------- decisions
@router.get("/decisions", response_class=HTMLResponse)
def decisions(
    request: Request,
    user: SignedIn,
    status: str = "",
    unit: str = "",
    stage: str = "",
) -> HTMLResponse:
    ctx = app_context(request)
    rows = decision_rows(
        ctx, user.actor, clock(request), status=status or None, unit=unit or None, stage=stage or None
    )
    return page(
        request,
        "staff/decisions.html",
        {
            "rows": rows,
            "filters": {"status": status, "unit": unit, "stage": stage},
            "statuses": [s.value for s in DecisionStatus],
            "units": unit_names(ctx),
            "stages": [s.id for s in proc.procedure().stages],
            "may_register": bool(user.roles & proc.procedure().actions["register_decision"].roles),
        },
    )


def _register_form(request: Request, user: WebUser) -> ActionForm:
    require_role(
        user.actor,
        proc.procedure().actions["register_decision"].roles,
        "登记决策事项",
        "registering a decision",
    )
    prefill: dict[str, Any] = {}
    if user.actor.unit_code and user.roles & {"department_staff", "department_head"}:
        prefill = {"lead_unit": user.actor.unit_code}
    return action_form(
        "register_decision",
        fixed={},
        post_url="/work/decisions/new",
        back_url="/work/decisions",
        units=unit_names(app_context(request), DEPARTMENTS | {UnitKind.legal_office}),
        prefill={**prefill, **dict(request.query_params)},
    )


@router.get("/decisions/new", response_class=HTMLResponse)
def new_decision(request: Request, user: SignedIn) -> HTMLResponse:
    return form_page(request, _register_form(request, user))


@router.post("/decisions/new", dependencies=[Depends(require_csrf)])
async def register(request: Request, user: SignedIn) -> Response:
    form = await run_in_threadpool(_register_form, request, user)

    def done(result: ActionResult) -> str:
        return f"/work/decisions/{result.data['decision']}"

    return await submit(request, user, form, done)


@router.get("/decisions/{code}", response_class=HTMLResponse)
def decision(code: str, request: Request, user: SignedIn) -> HTMLResponse:
    ctx = app_context(request)
    file = decision_file(ctx, user.actor, code, clock(request))
    units = unit_names(ctx)
    offered = [a for a in file.actions if a.action not in OWN_PAGE]
    forms = action_forms(offered, {"decision": file.code}, f"/work/decisions/{file.code}", units)
    return page(
        request,
        "staff/decision.html",
        {"file": file, "action_forms": forms, "own_page": OWN_PAGE, "units": units},
    )


@router.get("/decisions/{code}/diff", response_class=HTMLResponse)
def diff(code: str, request: Request, user: SignedIn, old: int = 1, new: int = 2) -> HTMLResponse:
    comparison = compare_drafts(app_context(request), user.actor, code, old, new)
    return page(request, "staff/diff.html", {"cmp": comparison})


@router.get("/decisions/{code}/documents/{document_id}", response_class=HTMLResponse)
def document(code: str, document_id: int, request: Request, user: SignedIn) -> HTMLResponse:
    found = document_text(app_context(request), user.actor, code, document_id)
    return page(request, "staff/document.html", {"code": code, "doc": found})


def _decision_form(
    request: Request, user: WebUser, code: str, action: str
) -> tuple[ActionForm, dict[str, Any]]:
    """The form of `action` on decision `code` (AUTH when the user's roles or unit do not
    allow it; NOT_FOUND for an unknown action or decision)."""
    ctx = app_context(request)
    found = action_context(ctx, user.actor, code, action)
    form = action_form(
        action,
        fixed={"decision": found.code},
        post_url=f"/work/decisions/{found.code}/act/{action}",
        back_url=f"/work/decisions/{found.code}",
        choices=found.available.choices if found.available else None,
        units=unit_names(ctx),
        prefill=dict(request.query_params),
    )
    return form, {"subject": found}


@router.get("/decisions/{code}/act/{action}", response_class=HTMLResponse)
def action_page(code: str, action: str, request: Request, user: SignedIn) -> Response:
    if action in OWN_PAGE:
        return RedirectResponse(OWN_PAGE[action].format(code=code), status_code=303)
    form, context = _decision_form(request, user, code, action)
    return form_page(request, form, context=context)


@router.post("/decisions/{code}/act/{action}", dependencies=[Depends(require_csrf)])
async def act(code: str, action: str, request: Request, user: SignedIn) -> Response:
    form, context = await run_in_threadpool(_decision_form, request, user, code, action)

    def done(result: ActionResult) -> str:
        # an adjustment opens a new decision (Art. 37)
        target = result.data.get("decision") if action == "start_adjustment" else None
        return f"/work/decisions/{target or code}"

    return await submit(request, user, form, done, context)


# ---------------------------------------------------------------------------- the legal office
@router.get("/legality", response_class=HTMLResponse)
def legality(request: Request, user: SignedIn) -> HTMLResponse:
    queue = legality_queue(app_context(request), user.actor, clock(request))
    return page(request, "staff/legality.html", {"queue": queue})


# ---------------------------------------------------------------------------- the meeting
@router.get("/meetings/{code}", response_class=HTMLResponse)
def meeting(code: str, request: Request, user: SignedIn) -> HTMLResponse:
    file = meeting_file(app_context(request), user.actor, code)
    return page(request, "staff/meeting.html", {"m": file, "raw": _meeting_defaults(file), "error": None})


def _meeting_defaults(file: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {"meeting_type": "executive", "held_on": "", "head_decision": ""}
    for order, member in enumerate(file.roster, 1):
        raw[f"present_{member.code}"] = "1"
        raw[f"order_{member.code}"] = str(order)
    if file.meeting_date is not None:
        raw["held_on"] = file.meeting_date.isoformat()
    return raw


def meeting_payload(file: Any, sent: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The record_meeting payload from the meeting form: the members ticked present, their
    opinions sorted by the speaking order typed beside them (the service checks that the head
    speaks last and that everyone present spoke once); and the raw values to show again."""
    raw: dict[str, Any] = {}
    for name in ("meeting_type", "held_on", "acting_head", "head_decision", "head_reason", "minutes"):
        value = sent.get(name)
        raw[name] = value.replace("\r\n", "\n") if isinstance(value, str) else ""
    present: list[tuple[int, int, str]] = []
    opinions: list[tuple[int, int, dict[str, str]]] = []
    for index, member in enumerate(file.roster):
        code = member.code
        for key in ("present", "order", "position", "text"):
            value = sent.get(f"{key}_{code}")
            raw[f"{key}_{code}"] = value if isinstance(value, str) else ""
        if raw[f"present_{code}"] != "1":
            continue
        order_text = raw[f"order_{code}"].strip()
        order = int(order_text) if order_text.isdigit() else 10_000 + index
        present.append((order, index, code))
        if raw[f"position_{code}"]:
            opinion = {"member": code, "position": raw[f"position_{code}"]}
            if raw[f"text_{code}"].strip():
                opinion["text"] = raw[f"text_{code}"].strip()
            opinions.append((order, index, opinion))
    payload: dict[str, Any] = {
        "meeting_type": raw["meeting_type"],
        "members_present": [code for _, _, code in sorted(present)],
        "opinions": [opinion for _, _, opinion in sorted(opinions, key=lambda o: (o[0], o[1]))],
    }
    for name in ("held_on", "head_decision", "acting_head", "head_reason", "minutes"):
        if raw[name].strip():
            payload[name] = raw[name].strip()
    return payload, raw


@router.post("/meetings/{code}", dependencies=[Depends(require_csrf)])
async def record_meeting(code: str, request: Request, user: SignedIn) -> Response:
    ctx = app_context(request)
    file = await run_in_threadpool(meeting_file, ctx, user.actor, code)
    payload, raw = meeting_payload(file, await request.form())
    try:
        result = await run_in_threadpool(
            run_action,
            service_context(request, acting=user.code),
            "record_meeting",
            user.code,
            {**payload, "decision": file.code},
        )
    except ProcedureError as exc:
        field = exc.field.split(".")[0] if exc.field else None
        return page(
            request,
            "staff/meeting.html",
            {"m": file, "raw": raw, "error": exc, "error_field": field},
            status_code=STATUS_OF_KIND.get(exc.kind, 409),
        )
    outcome = str(result.data.get("outcome", ""))
    flash(request, f"会议已记录（{outcome}）", f"The meeting is recorded ({outcome})")
    return RedirectResponse(f"/work/meetings/{file.code}", status_code=303)


__all__ = ["meeting_payload", "router"]
