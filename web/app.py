"""The app factory. `create_app(ctx, config)` wires the service context, the session and CSRF
machinery, the locale, the templates and the routers; nothing runs at import."""

from __future__ import annotations

import os
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.middleware.sessions import SessionMiddleware

from flows import hygiene
from flows.errors import ProcedureError, not_found
from flows.service import ServiceContext
from web import i18n
from web.abuse import BodyLimit
from web.csrf import CSRF_FIELD, csrf_token
from web.permissions import OPENAPI_DOCUMENT

WEB_DIR = Path(__file__).parent
SESSION_COOKIE = "decisionflow_session"
SESSION_KEY_FILE = "web-session.key"  # in the data folder, unless DECISIONFLOW_WEB_SECRET is set
SECRET_ENV = "DECISIONFLOW_WEB_SECRET"
SECURE_ENV = "DECISIONFLOW_WEB_SECURE"  # 1: cookies only over HTTPS (behind a TLS proxy)

# how a refusal's kind answers over HTTP (the design: 409 refused, 422 invalid, ...)
STATUS_OF_KIND = {"refused": 409, "invalid": 422, "forbidden": 403, "not_found": 404}


@dataclass(frozen=True)
class WebConfig:
    secret_key: str
    cookie_secure: bool = False
    session_max_age: int = 8 * 3600  # one working day without a request ends a session ...
    session_lifetime: int = 12 * 3600  # ... and so does this long after signing in, whatever happens

    @classmethod
    def from_environment(cls, data_dir: Path | None) -> WebConfig:
        """The session key from DECISIONFLOW_WEB_SECRET, else a key file kept (0600) in the
        data folder, made on first start, so sessions survive a restart."""
        secure = os.environ.get(SECURE_ENV, "") == "1"
        secret = os.environ.get(SECRET_ENV)
        if secret:
            return cls(secret, secure)
        if data_dir is None:
            return cls(secrets.token_urlsafe(48), secure)
        key_file = data_dir / SESSION_KEY_FILE
        if not key_file.exists():
            data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_urlsafe(48))
        return cls(key_file.read_text().strip(), secure)


def create_app(ctx: ServiceContext, config: WebConfig) -> FastAPI:
    from web.routes import all_routers

    app = FastAPI(
        title="decisionflow",
        description="重大行政决策程序 / major administrative decisions (Decree 713)",
        # Swagger UI and ReDoc load from a CDN and run inline scripts, which the CSP refuses and
        # an intranet cannot reach: /api/docs is a server-rendered page (web/routes/api_docs.py)
        docs_url=None,
        redoc_url=None,
        openapi_url=OPENAPI_DOCUMENT,
    )
    app.state.ctx = ctx
    app.state.config = config
    app.state.templates = Jinja2Templates(directory=str(WEB_DIR / "templates"))
    app.add_middleware(
        SessionMiddleware,
        secret_key=config.secret_key,
        session_cookie=SESSION_COOKIE,
        max_age=config.session_max_age,
        same_site="lax",
        https_only=config.cookie_secure,
    )
    app.add_middleware(BodyLimit)  # inside security_headers: its 413 is raised where the body is read
    app.middleware("http")(security_headers)
    app.mount("/static", StaticFiles(directory=str(WEB_DIR / "static")), name="static")
    for router, documented in all_routers():
        app.include_router(router, include_in_schema=documented)
    app.add_exception_handler(ProcedureError, procedure_error)  # type: ignore[arg-type]
    return app


async def security_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    if hygiene.text_problem(request.scope["path"], multiline=False) is not None:
        response: Response = unusable_path(request)  # nothing is named with a control character
    else:
        response = await call_next(request)
    if private_answer(request, response):
        response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    )
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def unusable_path(request: Request) -> Response:
    """404 for a path with a control character (NUL, a line break, a bidi override) in it: no
    code or name holds one, and PostgreSQL refuses a NUL in a query (a 500 otherwise)."""
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": not_found("path", "…").as_dict()}, status_code=404)
    return JSONResponse({"detail": "Not Found"}, status_code=404)


def private_answer(request: Request, response: Response) -> bool:
    """Whether no cache may keep the answer (`Cache-Control: no-store`): every page (it
    carries the session's CSRF token, and the signed-in user's name and data), and every
    answer to a request with a session cookie or a token, or that sets a cookie. Only the
    static files and what anyone gets without credentials (the public API's reads, a
    catalogue file) may be kept by a shared cache."""
    if request.url.path.startswith("/static/"):
        return False
    return (
        SESSION_COOKIE in request.cookies
        or "authorization" in request.headers
        or "set-cookie" in response.headers
        or response.headers.get("content-type", "").startswith("text/html")
    )


async def procedure_error(request: Request, exc: ProcedureError) -> Response:
    """A refusal that no page handled itself: JSON under /api, an error page elsewhere."""
    status = STATUS_OF_KIND.get(exc.kind, 409)
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": exc.as_dict()}, status_code=status)
    return render(request, "error.html", {"error": exc}, status_code=status)


# ------------------------------------------------------------------ shared by every router
def service_context(request: Request, acting: str | None = None) -> ServiceContext:
    """The app's service context, with the account the audit records: the web session's
    user and address instead of the operating-system account."""
    ctx: ServiceContext = request.app.state.ctx
    client = request.client.host if request.client else "-"
    return replace(ctx, os_account=f"web:{acting or '-'}@{client}"[:64])


def locale_of(request: Request) -> str:
    return i18n.negotiate(request.cookies.get(i18n.LOCALE_COOKIE), request.headers.get("accept-language"))


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, *, status_code: int = 200
) -> HTMLResponse:
    """A page in the request's locale, with `_` (gettext), `pick` (zh/en text the service
    carries), the CSRF token and the signed-in user (if any) in its context."""
    from web.deps import current_user  # deps reads the app's context: imported when used

    locale = locale_of(request)
    translation = i18n.translations(locale)
    values: dict[str, Any] = {
        "request": request,
        "locale": locale,
        "_": translation.gettext,
        "ngettext": translation.ngettext,
        "pick": lambda zh, en: i18n.pick(locale, zh, en),
        "csrf_field": CSRF_FIELD,
        "csrf_token": csrf_token(request),
        "user": current_user(request),
    }
    values.update(context or {})
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(request, template, values, status_code=status_code)
