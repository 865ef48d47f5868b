"""The JSON API, /api/v1: every action of the procedure and the main queries, over the same
service layer as the pages and the CLI.

Authentication is a bearer token (`Authorization: Bearer <secret>`, flows/service/accounts.py), never the
page session's cookie, so no CSRF token is needed. Each token acts as its user: the service
checks that user's roles and unit exactly as for a page or a command, and the audit records
the user as the actor and `api:<token name>@<address>` as the account.

- `POST /api/v1/actions/{action}`: one route per action, generated from the service's
  registry, each documented with its own request schema, roles and articles. The public's
  actions (`submit_public_comment`, `register_for_hearing`, `submit_execution_feedback`) need
  no token and are taken as `public` (a token, if sent, is checked and named in the audit)
  through `web.abuse.submit_public`, exactly as the portal's forms: sanitised, a resubmission
  answered with the first answer, NOT_FOUND where the portal's pages are, and, without a
  token, the portal's per-address rate limits. A comment's answer carries its receipt.
  Every other action needs a token (401 without one) whose user holds one of its roles (403
  before the body is read).
- an action's body is JSON, sent as `application/json` (415 otherwise: a page on another
  site cannot post one without the browser asking first), at most `MAX_BODY` bytes
  (`MAX_PUBLIC_BODY` without a token), `MAX_DEPTH` levels deep and of `MAX_MEMBERS` members.
- reads: `/me`, `/decisions`, `/decisions/{code}`, `/decisions/{code}/audit`, `/deadlines`
  (a token), `/catalogues/{year}` and `/published` (public); see flows/service/queries.py.

Who may call what is declared once, in web/permissions.py."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Coroutine
from dataclasses import replace
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Path, Query, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from flows import procedure as proc
from flows.calendar import local_date
from flows.errors import ProcedureError, invalid, refusal
from flows.service import REGISTRY, ServiceContext, run_action
from flows.service import queries as q
from flows.service.accounts import TokenHolder, authenticate_token
from flows.service.framework import Actor, check_role, the_jurisdiction
from models import DecisionStatus
from web import labels
from web.abuse import client_address, submit_public
from web.api_errors import ERROR_RESPONSES, ApiRefusal, ApiRoute, unauthenticated
from web.api_reference import SUMMARY_ZH
from web.permissions import ACTION_PATH, API_PREFIX, API_READS, PUBLIC, SIGNED_IN, Audience, action_audience
from web.receipts import make_receipt

MAX_BODY = 2 * 1024 * 1024  # bytes of JSON an action may send (draft texts included)
MAX_PUBLIC_BODY = 128 * 1024  # ... an anonymous one (a comment is at most 20,000 characters)

router = APIRouter(prefix=API_PREFIX, route_class=ApiRoute, tags=["api"], responses=ERROR_RESPONSES)
bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="An API token, issued to a user by an administrator; it acts as that user.",
)


# ---------------------------------------------------------------------------- who is calling
def api_caller(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]
) -> TokenHolder | None:
    """The token's holder, or None when no token was sent; a token that is sent must be good
    (401 otherwise), on public routes too. The page session's cookie is never looked at."""
    if credentials is None:
        if request.headers.get("authorization"):
            raise unauthenticated("须使用 Bearer 令牌", "use a Bearer token")
        return None
    ctx: ServiceContext = request.app.state.ctx
    with Session(ctx.engine) as session:
        holder = authenticate_token(session, credentials.credentials, ctx.clock())
    if holder is None:
        raise unauthenticated(
            "令牌无效、已撤销或其用户已停用", "the token is unknown, revoked or its user disabled"
        )
    return holder


def signed_in(holder: Annotated[TokenHolder | None, Depends(api_caller)]) -> TokenHolder:
    if holder is None:
        raise unauthenticated("须提供 API 令牌", "an API token is required")
    return holder


Caller = Annotated[TokenHolder | None, Depends(api_caller)]
Holder = Annotated[TokenHolder, Depends(signed_in)]


def _reader(audience: Audience) -> Callable[..., Any]:
    """The dependency a read route takes from its audience in web/permissions.py."""
    if audience == PUBLIC:
        return api_caller
    if audience == SIGNED_IN:
        return signed_in
    raise AssertionError(f"reads are public or signed in, not {audience}")


def api_context(request: Request, holder: TokenHolder | None) -> ServiceContext:
    """The app's service context with the account the audit records: the token and address."""
    ctx: ServiceContext = request.app.state.ctx
    client = request.client.host if request.client else "-"
    name = holder.token_name if holder else "-"
    return replace(ctx, os_account=f"api:{name}@{client}"[:64])


# ---------------------------------------------------------------------------- actions
class ActionAnswer(BaseModel):
    action: str
    data: dict[str, Any]
    audit_seq: int
    chain: str


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise invalid(key, "JSON 中键重复", "the key appears twice in the JSON")
        seen[key] = value
    return seen


MAX_DEPTH = 32  # levels of nesting in an action's JSON (no payload needs more than a few)
MAX_MEMBERS = 20_000  # object members and array items in all (the service checks each one)
JSON_TYPE = "application/json"
TOO_DEEP = (f"JSON 嵌套不得超过 {MAX_DEPTH} 层", f"the JSON nests more than {MAX_DEPTH} levels")


def _shape_problem(data: Any) -> tuple[str, str] | None:
    """Why the parsed JSON is too deep or too big to hand on (zh, en), or None: a payload
    nested without end, or of a hundred thousand keys, costs every later step (the
    service's validation took 2.4 s for 150,000 unknown keys) and proves nothing."""
    members = 0
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return TOO_DEEP
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        for child in children:
            members += 1
            if members > MAX_MEMBERS:
                return (
                    f"JSON 的成员不得超过 {MAX_MEMBERS} 个",
                    f"the JSON has more than {MAX_MEMBERS} members",
                )
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
    return None


def _check_json_type(request: Request) -> None:
    """Refuse (415) a body not declared JSON: a form on another site posts text/plain,
    urlencoded or multipart bodies without asking, and `application/json` only after a CORS
    preflight, which this API never grants."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != JSON_TYPE:
        raise ApiRefusal(
            refusal(
                "INPUT",
                f"请求体须为 JSON，Content-Type 须为 {JSON_TYPE}",
                f"the body must be JSON sent as Content-Type {JSON_TYPE}",
                field="Content-Type",
                kind="invalid",
            ),
            "unsupported_media_type",
        )


async def read_payload(request: Request, limit: int) -> dict[str, Any]:
    """The request's JSON object (Content-Type application/json, 415 otherwise), read up to
    `limit` bytes (413 beyond), nested at most `MAX_DEPTH` deep with at most `MAX_MEMBERS`
    members, duplicate keys and non-finite numbers refused (422)."""
    _check_json_type(request)
    declared = request.headers.get("content-length", "")
    too_large = ApiRefusal(
        refusal(
            "INPUT",
            f"请求体超过 {limit} 字节",
            f"the body exceeds {limit} bytes",
            field="body",
            kind="invalid",
        ),
        "too_large",
    )
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise too_large

    def no_constant(name: str) -> Any:
        raise invalid("payload", f"不接受 {name}", f"{name} is not accepted")

    try:
        data = json.loads(bytes(body), object_pairs_hook=_no_duplicate_keys, parse_constant=no_constant)
    except ProcedureError:
        raise
    except RecursionError:  # the parser's own guard (about 1,000 levels): far too deep
        raise invalid("payload", *TOO_DEEP) from None
    except ValueError:
        raise invalid("payload", "请求体须为 JSON（UTF-8）", "the body must be JSON (UTF-8)") from None
    problem = _shape_problem(data)
    if problem is not None:
        raise invalid("payload", *problem)
    if not isinstance(data, dict):
        raise invalid("payload", "须为 JSON 对象", "must be a JSON object")
    return data


def _check_roles(name: str, audience: Audience, actor: Actor) -> None:
    """The action's roles (over every procedure version), checked before the body is read,
    with the service's own refusal; the service checks them again, with the unit, on the
    decision's pinned version."""
    assert isinstance(audience, frozenset)
    rule = replace(proc.procedure().actions[name], roles=audience)
    check_role(name, rule, actor, None)


def _public_action(
    request: Request, holder: TokenHolder | None, name: str, payload: dict[str, Any]
) -> ActionAnswer:
    """One of the public's actions, the portal's way (`web.abuse.submit_public`); without a
    token, under the portal's rate limits. A comment's answer carries its receipt, and a
    resubmission the first answer with `duplicate`."""
    done = submit_public(
        request.app,
        api_context(request, holder),
        name,
        payload,
        client_address(request),
        limited=holder is None,
    )
    if done.result is None:
        raise ApiRefusal(
            refusal(
                "INPUT",
                "来自此地址的请求过于频繁，请稍后再试",
                "too many requests from this address; try again later",
                kind="invalid",
            ),
            "rate_limited",
            {"Retry-After": str(math.ceil(done.retry_after))},
        )
    result = done.result
    data = dict(result.data)
    if name == "submit_public_comment":
        secret: str = request.app.state.config.secret_key
        data["receipt"] = make_receipt(secret, str(done.payload["decision"]).strip(), str(data["comment"]))
    if done.duplicate:
        data["duplicate"] = True
    return ActionAnswer(action=result.action, data=data, audit_seq=result.audit_seq, chain=result.chain)


def action_endpoint(name: str) -> Callable[..., Coroutine[Any, Any, ActionAnswer]]:
    audience = action_audience(name)

    async def take_action(request: Request, holder: Caller) -> ActionAnswer:
        if audience == PUBLIC:
            payload = await read_payload(request, MAX_PUBLIC_BODY if holder is None else MAX_BODY)
            return await run_in_threadpool(_public_action, request, holder, name, payload)
        if holder is None:
            raise unauthenticated("须提供 API 令牌", "an API token is required")
        _check_roles(name, audience, holder.actor)
        payload = await read_payload(request, MAX_BODY)
        result = await run_in_threadpool(
            run_action, api_context(request, holder), name, holder.actor.code, payload
        )
        return ActionAnswer(
            action=result.action, data=result.data, audit_seq=result.audit_seq, chain=result.chain
        )

    take_action.__name__ = f"action_{name}"
    return take_action


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """A model's JSON schema with its `$defs` put in place (the request schemas stay
    self-contained in the operation)."""
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(dict(defs[ref.removeprefix("#/$defs/")]))
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


def _describe(name: str) -> str:
    rule = proc.procedure().actions[name]
    audience = action_audience(name)
    who = "anyone, no token (taken as `public`)" if audience == PUBLIC else ", ".join(sorted(audience))
    doc = (REGISTRY[name].handler.__doc__ or "").strip()
    lines = [f"**Roles:** {who}", f"**Articles:** {rule.articles}"]
    if doc:
        lines.append(doc)
    return "\n\n".join(lines)


def _register_actions() -> None:
    for name in sorted(REGISTRY):
        spec = REGISTRY[name]
        schema = _inline(spec.payload.model_json_schema())
        extra: dict[str, Any] = {
            "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}
        }
        if action_audience(name) == PUBLIC:
            extra["security"] = [{}]  # the token is optional
        summary_zh, summary_en = labels.action(name)
        extra[SUMMARY_ZH] = summary_zh
        router.add_api_route(
            ACTION_PATH.removeprefix(API_PREFIX).replace("{name}", name),
            action_endpoint(name),
            methods=["POST"],
            response_model=ActionAnswer,
            name=f"action_{name}",
            operation_id=f"action_{name}",
            summary=summary_en,
            description=_describe(name),
            tags=["actions"],
            openapi_extra=extra,
        )


_register_actions()


# ---------------------------------------------------------------------------- reads
class Me(BaseModel):
    code: str
    unit: str | None
    roles: list[str]
    token: str


def _read_path(path: str) -> str:
    return path.removeprefix(API_PREFIX)


def _read_doc(path: str, zh: str, en: str) -> dict[str, Any]:
    """A read's summary in both languages, its tag, and for a public one that the token is
    optional (its dependency names the bearer scheme, which alone would read as required)."""
    public = API_READS[path] == PUBLIC
    extra: dict[str, Any] = {SUMMARY_ZH: zh}
    if public:
        extra["security"] = [{}]
    return {"summary": en, "openapi_extra": extra, "tags": ["public" if public else "queries"]}


ME = f"{API_PREFIX}/me"
DECISIONS = f"{API_PREFIX}/decisions"
DECISION = f"{API_PREFIX}/decisions/{{code}}"
AUDIT = f"{API_PREFIX}/decisions/{{code}}/audit"
DEADLINES = f"{API_PREFIX}/deadlines"
CATALOGUE = f"{API_PREFIX}/catalogues/{{year}}"
PUBLISHED = f"{API_PREFIX}/published"


@router.get(_read_path(ME), response_model=Me, **_read_doc(ME, "当前令牌的用户", "The token's user"))
def me(holder: Annotated[TokenHolder, Depends(_reader(API_READS[ME]))]) -> Me:
    """The user the token acts as."""
    actor = holder.actor
    return Me(code=actor.code, unit=actor.unit_code, roles=sorted(actor.roles), token=holder.token_name)


@router.get(
    _read_path(DECISIONS),
    response_model=list[q.DecisionSummary],
    **_read_doc(DECISIONS, "可查看的决策事项", "The decisions the user may see"),
)
def list_decisions(
    request: Request,
    holder: Annotated[TokenHolder, Depends(_reader(API_READS[DECISIONS]))],
    status: Annotated[DecisionStatus | None, Query(description="only decisions with this status")] = None,
    unit: Annotated[
        str | None, Query(description="only decisions this unit undertakes", max_length=64)
    ] = None,
) -> list[q.DecisionSummary]:
    """The decisions the token's user may see: those with a role on them (their unit's, or
    every one for the legal office, the government office, the head, meeting members, the
    Party liaison and supervisors) and the published ones."""
    with Session(request.app.state.ctx.engine) as session:
        return q.visible_decisions(session, holder.actor, status=status.value if status else None, unit=unit)


@router.get(
    _read_path(DECISION),
    response_model=q.DecisionDetail,
    **_read_doc(DECISION, "决策事项详情", "One decision"),
)
def show_decision(
    request: Request, code: str, holder: Annotated[TokenHolder, Depends(_reader(API_READS[DECISION]))]
) -> q.DecisionDetail:
    """One decision: status, stages, deadlines, the projected dates of the remaining statutory
    steps, draft versions and documents (metadata)."""
    ctx: ServiceContext = request.app.state.ctx
    with Session(ctx.engine) as session:
        return q.decision_detail(session, holder.actor, code, ctx.clock())


@router.get(
    _read_path(AUDIT),
    response_model=list[q.AuditEntry],
    **_read_doc(AUDIT, "决策事项的审计记录", "A decision's audit trail"),
)
def decision_audit(
    request: Request, code: str, holder: Annotated[TokenHolder, Depends(_reader(API_READS[AUDIT]))]
) -> list[q.AuditEntry]:
    """The decision's audit chain, for a user with a role on it."""
    with Session(request.app.state.ctx.engine) as session:
        return q.decision_audit(session, holder.actor, code)


@router.get(
    _read_path(DEADLINES),
    response_model=list[q.MyDeadline],
    **_read_doc(DEADLINES, "我负责的期限", "My deadlines"),
)
def deadlines(
    request: Request, holder: Annotated[TokenHolder, Depends(_reader(API_READS[DEADLINES]))]
) -> list[q.MyDeadline]:
    """The live deadlines the token's user answers for, soonest first, with traffic lights."""
    ctx: ServiceContext = request.app.state.ctx
    with Session(ctx.engine) as session:
        return q.my_deadlines(session, holder.actor, ctx.clock())


@router.get(_read_path(CATALOGUE), **_read_doc(CATALOGUE, "年度决策事项目录", "A year's catalogues"))
def catalogue(
    request: Request,
    year: Annotated[int, Path(ge=2000, le=2100)],
    caller: Annotated[TokenHolder | None, Depends(_reader(API_READS[CATALOGUE]))] = None,
) -> dict[str, Any]:
    """The year's decision and hearing catalogues as published and in force (404 before the
    first publication), and the versions published so far."""
    ctx: ServiceContext = request.app.state.ctx
    with Session(ctx.engine) as session:
        today = local_date(ctx.clock(), ZoneInfo(the_jurisdiction(session).timezone))
        return q.published_catalogue(session, year, today)


@router.get(
    _read_path(PUBLISHED),
    response_model=list[q.PublishedDecision],
    **_read_doc(PUBLISHED, "已公布的决策", "The published decisions"),
)
def published(
    request: Request, caller: Annotated[TokenHolder | None, Depends(_reader(API_READS[PUBLISHED]))] = None
) -> list[q.PublishedDecision]:
    """Every published decision, newest first, with its text and the explanation of how the
    opinions received were adopted."""
    ctx: ServiceContext = request.app.state.ctx
    with Session(ctx.engine) as session:
        return q.published_decisions(session, ctx.documents)
