"""How the JSON API answers when it does not do what was asked: one error body everywhere,

    {"error": {"rule_id", "article", "message_zh", "message_en", "field", "kind"}}

with the rule id one of the procedure's rules (`flows.procedure.RULES`: the guards R1-R22,
the product rules P*, and the error kinds STATE, ORDER, AUTH, INPUT, NOT_FOUND). The
service's refusals (`ProcedureError`) keep their own rule; the API's own refusals (no or a
bad token, a body too large or not JSON, too many requests) and FastAPI's parameter validation are put in
the same shape. `ApiRoute` is the route class of the API's router that does this."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, Literal

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field

from flows import procedure as proc
from flows.errors import ProcedureError, refusal
from web.app import STATUS_OF_KIND

ApiErrorKind = Literal[
    "refused",
    "invalid",
    "forbidden",
    "not_found",
    "unauthenticated",
    "too_large",
    "unsupported_media_type",
    "rate_limited",
]
STATUS_OF_API_KIND: dict[str, int] = {
    **STATUS_OF_KIND,
    "unauthenticated": 401,
    "too_large": 413,
    "unsupported_media_type": 415,
    "rate_limited": 429,
}


class ErrorDetail(BaseModel):
    rule_id: str = Field(
        description="the rule that refused: a guard (R1-R22), a product rule (P*) or an error kind",
        json_schema_extra={"enum": list(proc.RULES)},
    )
    article: str = Field(description="the article (or product rule) the refusal rests on")
    message_zh: str
    message_en: str
    field: str | None = Field(description="the input field (or header) the refusal names, if any")
    kind: ApiErrorKind


class ErrorBody(BaseModel):
    error: ErrorDetail


ERROR_DESCRIPTIONS: dict[int, str] = {
    401: "no bearer token, or an unknown or revoked one / 未提供令牌或令牌无效",
    403: "the token's user may not do this (role or unit) / 无权操作",
    404: "no such object / 对象不存在",
    409: "refused by a rule of the procedure / 程序规则不允许",
    413: "request body too large / 请求过大",
    415: "the body is not sent as application/json / 请求体须为 application/json",
    422: "invalid input / 输入无效",
    429: "too many requests from this address / 请求过于频繁",
}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text} for status, text in ERROR_DESCRIPTIONS.items()
}


class ApiRefusal(Exception):
    """An answer of the API's own (401, 413, 415, 429) in the error body's shape."""

    def __init__(
        self, error: ProcedureError, kind: ApiErrorKind, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(str(error))
        self.error = error
        self.kind = kind
        self.headers = headers or {}


def unauthenticated(zh: str, en: str) -> ApiRefusal:
    """401: no one is authenticated (the message says why, without the role wording of AUTH)."""
    error = ProcedureError(
        "AUTH", proc.RULES["AUTH"].article, zh, en, field="Authorization", kind="forbidden"
    )
    return ApiRefusal(error, "unauthenticated", {"WWW-Authenticate": 'Bearer realm="decisionflow"'})


def error_response(
    error: ProcedureError, kind: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = error.as_dict()
    body["kind"] = kind or error.kind
    return JSONResponse(
        {"error": body}, status_code=STATUS_OF_API_KIND.get(body["kind"], 409), headers=headers
    )


def _validation_error(exc: RequestValidationError) -> ProcedureError:
    """FastAPI's own parameter check (a path or query value) as an INPUT refusal."""
    first = exc.errors()[0] if exc.errors() else {}
    loc = [str(p) for p in first.get("loc", ()) if p not in ("path", "query", "header", "body")]
    where = ".".join(loc) or "request"
    message = str(first.get("msg", "invalid"))
    return refusal(
        "INPUT",
        f"字段 {where}：取值无效（{message}）",
        f"field {where}: {message}",
        field=where,
        kind="invalid",
    )


class ApiRoute(APIRoute):
    """Every answer that is not a success comes in the error body's shape."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except ApiRefusal as exc:
                return error_response(exc.error, exc.kind, exc.headers)
            except ProcedureError as exc:
                return error_response(exc)
            except RequestValidationError as exc:
                return error_response(_validation_error(exc))

        return answer


__all__ = [
    "ERROR_RESPONSES",
    "ApiRefusal",
    "ApiRoute",
    "ErrorBody",
    "ErrorDetail",
    "error_response",
    "unauthenticated",
]
