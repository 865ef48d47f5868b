"""What the staff pages share: the app's clock, one-time notices after an action, and the
action forms (made from the payload model, sent to `run_action` as the signed-in user,
shown again with the refusal next to its field when the service refuses)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from flows import procedure as proc
from flows.calendar import WEEKDAYS_ZH
from flows.errors import ProcedureError
from flows.service import REGISTRY, ActionResult, ServiceContext, run_action
from flows.service.worklist import Available
from web import forms, labels
from web.app import STATUS_OF_KIND, locale_of, render, service_context
from web.deps import WebUser, require_user

FLASH = "flash"
WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

# a route parameter: the signed-in user (others are sent to the sign-in page)
SignedIn = Annotated[WebUser, Depends(require_user)]


def app_context(request: Request) -> ServiceContext:
    ctx: ServiceContext = request.app.state.ctx
    return ctx


def clock(request: Request) -> datetime:
    """Now, by the app's clock (the service context's: tests and demos move it)."""
    return app_context(request).clock()


def flash(request: Request, zh: str, en: str) -> None:
    """A notice shown once, on the next page (kept in the signed session)."""
    request.session[FLASH] = [zh, en]


def take_flash(request: Request) -> tuple[str, str] | None:
    value = request.session.pop(FLASH, None)
    if isinstance(value, list) and len(value) == 2:
        return str(value[0]), str(value[1])
    return None


def timezone(request: Request) -> ZoneInfo:
    """The jurisdiction's time zone, read once per app (pages show local dates and times)."""
    tz: ZoneInfo | None = getattr(request.app.state, "staff_timezone", None)
    if tz is None:
        from flows.service.casefile import timezone_of

        tz = request.app.state.staff_timezone = timezone_of(app_context(request))
    return tz


def page(
    request: Request, template: str, context: Mapping[str, Any] | None = None, *, status_code: int = 200
) -> HTMLResponse:
    """A staff page: `render` plus the labels, the one-time notice, and `when` / `day` to show
    instants and dates in the jurisdiction's time zone with the weekday."""
    tz = timezone(request)
    english = locale_of(request) == "en"

    def when(moment: datetime | None) -> str:
        return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M") if moment else "—"

    def day(value: date | None) -> str:
        if value is None:
            return "—"
        weekday = WEEKDAYS_EN[value.weekday()] if english else WEEKDAYS_ZH[value.weekday()]
        return f"{value.isoformat()} {weekday}"

    def until(moment: datetime | None) -> str:
        """A deadline's instant: 24:00 of its last day rather than 00:00 of the next (P2)."""
        if moment is None:
            return "—"
        local = moment.astimezone(tz)
        if (local.hour, local.minute) == (0, 0):
            return f"{(local - timedelta(days=1)).date().isoformat()} 24:00"
        return local.strftime("%Y-%m-%d %H:%M")

    values = {
        "labels": labels,
        "flash": take_flash(request),
        "when": when,
        "day": day,
        "until": until,
        **(context or {}),
    }
    return render(request, template, values, status_code=status_code)


def payload_model(action: str) -> Any:
    spec = REGISTRY.get(action)
    if spec is None:
        raise HTTPException(status_code=404)
    return spec.payload


@dataclass
class ActionForm:
    """One action's form: its fields, the values fixed by the page (the decision, the
    catalogue year), where it is sent and where the user goes back to."""

    action: str
    fields: list[forms.FormField]
    fixed: dict[str, Any]
    post_url: str
    back_url: str
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def articles(self) -> str:
        rule = proc.procedure().actions.get(self.action)
        return rule.articles if rule else ""


def action_form(
    action: str,
    *,
    fixed: Mapping[str, Any],
    post_url: str,
    back_url: str,
    choices: Mapping[str, Sequence[str]] | None = None,
    units: Mapping[str, str] | None = None,
    prefill: Mapping[str, Any] | None = None,
) -> ActionForm:
    fields = forms.form_fields(payload_model(action), skip=tuple(fixed), choices=choices, units=units)
    return ActionForm(action, fields, dict(fixed), post_url, back_url, forms.prefill(fields, prefill or {}))


def action_forms(
    available: Sequence[Available], fixed: Mapping[str, Any], base_url: str, units: Mapping[str, str]
) -> list[ActionForm]:
    """The forms of the actions available on one subject (a decision, a catalogue year), each
    sent to `{base_url}/act/{action}`."""
    return [
        action_form(
            a.action,
            fixed=fixed,
            post_url=f"{base_url}/act/{a.action}",
            back_url=base_url,
            choices=a.choices,
            units=units,
        )
        for a in available
    ]


def form_page(
    request: Request,
    form: ActionForm,
    *,
    error: ProcedureError | None = None,
    context: Mapping[str, Any] | None = None,
) -> HTMLResponse:
    status = STATUS_OF_KIND.get(error.kind, 409) if error is not None else 200
    return page(
        request,
        "staff/action.html",
        {
            "form": form,
            "error": error,
            "error_field": forms.error_field(error, form.fields),
            **(context or {}),
        },
        status_code=status,
    )


async def submit(
    request: Request,
    user: WebUser,
    form: ActionForm,
    done: Callable[[ActionResult], str],
    context: Mapping[str, Any] | None = None,
) -> Response:
    """Run the form's action as the signed-in user (audited with the web session's account);
    on success go to `done(result)` with a notice, on a refusal show the form again with the
    refusal next to its field and everything the user typed."""
    tz = await run_in_threadpool(timezone, request)
    sent, error = forms.submitted(await request.form(), form.fields, tz)
    form.raw = sent.raw
    if error is None:
        try:
            result = await run_in_threadpool(
                run_action,
                service_context(request, acting=user.code),
                form.action,
                user.code,
                {**sent.payload, **form.fixed},
            )
        except ProcedureError as exc:
            error = exc
    if error is not None:
        return form_page(request, form, error=error, context=context)
    zh, en = labels.action(form.action)
    flash(
        request, f"已办理：{zh}（审计序号 {result.audit_seq}）", f"Done: {en} (audit no. {result.audit_seq})"
    )
    return RedirectResponse(done(result), status_code=303)


__all__ = [
    "ActionForm",
    "SignedIn",
    "action_form",
    "action_forms",
    "app_context",
    "clock",
    "flash",
    "form_page",
    "page",
    "payload_model",
    "submit",
    "take_flash",
]
