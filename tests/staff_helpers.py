"""Helpers for the web app's tests: a TestClient signed in as a user without going through
the sign-in page (its session cookie is made the way Starlette's SessionMiddleware makes
it, with the test's secret key), and the demo district built once per test module.

    web = signed_in(ctx, "liwei")          # a session holding user=liwei and a CSRF token
    web.post("/work/...", data={..., "csrf_token": web.csrf})
"""

from __future__ import annotations

import json
import secrets
import tempfile
import uuid
from base64 import b64encode
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import itsdangerous
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session, select

from flows.demo import DemoResult, build_demo
from flows.service import ServiceContext
from models import Credential, User
from models.db import make_engine, normalise_url
from web.app import SESSION_COOKIE, WebConfig, create_app
from web.csrf import SESSION_KEY as CSRF_SESSION_KEY
from web.deps import SESSION_EPOCH, SESSION_SINCE, SESSION_USER

SECRET = "test-secret-for-the-web-tests"
CONFIG = WebConfig(secret_key=SECRET)
SHANGHAI = ZoneInfo("Asia/Shanghai")
# the demo's "now": a Friday in a year the calendar package covers
DEMO_NOW = datetime(2026, 11, 27, 9, 0, tzinfo=SHANGHAI)


class WebClient(TestClient):
    """A TestClient that knows its session's CSRF token (`csrf`)."""

    csrf: str = ""

    def form(self, url: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """POST a form carrying the session's CSRF token."""
        return self.post(url, data={**(data or {}), "csrf_token": self.csrf}, **kwargs)


def session_cookie(values: dict[str, Any], secret: str = SECRET) -> str:
    """The signed cookie value Starlette's SessionMiddleware would set for `values`."""
    data = b64encode(json.dumps(values).encode("utf-8"))
    return itsdangerous.TimestampSigner(secret).sign(data).decode("utf-8")


def client(ctx: ServiceContext, config: WebConfig = CONFIG) -> WebClient:
    """An anonymous client of the app on `ctx` (redirects are not followed)."""
    return WebClient(create_app(ctx, config), follow_redirects=False)


def signed_in(ctx: ServiceContext, user: str, config: WebConfig = CONFIG) -> WebClient:
    """A client whose session holds `user` (signed in, with the account's session number) and
    a CSRF token. A user with no password yet gets an unusable one written straight into the
    table (a test may write rows; the product sets passwords through the service)."""
    with Session(ctx.engine) as session:
        user_id = session.exec(select(User.id).where(User.code == user)).one()
        credential = session.get(Credential, user_id)
        if credential is None:
            credential = Credential(user_id=user_id, password_hash="!", changed_at=ctx.clock())
            session.add(credential)
            session.commit()
        epoch = credential.session_epoch
    web = client(ctx, config)
    web.csrf = secrets.token_urlsafe(16)
    since = int(ctx.clock().timestamp())  # sessions age on the app's clock
    values = {SESSION_USER: user, SESSION_EPOCH: epoch, SESSION_SINCE: since, CSRF_SESSION_KEY: web.csrf}
    web.cookies.set(SESSION_COOKIE, session_cookie(values, config.secret_key))
    return web


# ---------------------------------------------------------------- the demo, once per module
@contextmanager
def demo_database(now: datetime = DEMO_NOW) -> Iterator[tuple[ServiceContext, DemoResult]]:
    """A fresh database (SQLite in memory, or a new schema on the PostgreSQL server the suite
    runs on) with the demo district played up to `now`, and the app's clock stopped at `now`.
    For module-scoped fixtures: tests that only read share one demo."""
    from tests.conftest import POSTGRES_URL, postgres_reachable, require_postgres, test_database_url
    from tests.schema import create_all

    url = test_database_url()
    with tempfile.TemporaryDirectory() as folder:
        schema = None
        admin = None
        if url == "sqlite-file":
            url = f"sqlite:///{Path(folder) / 'demo.db'}"
        if normalise_url(url).startswith("postgresql"):
            if not postgres_reachable():
                if require_postgres():
                    raise RuntimeError(f"PostgreSQL is required but {POSTGRES_URL} is unreachable")
                url = "sqlite://"
            else:
                schema = f"t_{uuid.uuid4().hex[:12]}"
                admin = make_engine(POSTGRES_URL)
                with admin.begin() as conn:
                    conn.execute(text(f'CREATE SCHEMA "{schema}"'))
                url = POSTGRES_URL
        engine = make_engine(url, schema=schema)
        try:
            create_all(engine, kind="demo")
            ctx = ServiceContext(engine=engine, data_dir=Path(folder) / "data", clock=lambda: now)
            result = build_demo(ctx, now)
            yield ctx, result
        finally:
            engine.dispose()
            if admin is not None:
                with admin.begin() as conn:
                    conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()
