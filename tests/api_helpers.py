"""Helpers for the JSON API's tests: API tokens written straight into the table (tests may
write rows directly; the product issues tokens through the service), a test client whose
clock the test moves, and a page session cookie signed as Starlette's SessionMiddleware
signs it."""

from __future__ import annotations

import json
import secrets
from base64 import b64encode
from dataclasses import dataclass, replace
from datetime import datetime

from fastapi.testclient import TestClient
from itsdangerous import TimestampSigner
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from flows.service import ServiceContext
from flows.service.accounts import TOKEN_PREFIX, token_digest
from models import User
from models.web import ApiToken, Credential
from web.app import SESSION_COOKIE, WebConfig, create_app
from web.deps import SESSION_EPOCH, SESSION_SINCE

SECRET_KEY = "test-secret-key"


def issue_token(
    engine: Engine,
    user_code: str,
    now: datetime,
    *,
    name: str | None = None,
    revoked_at: datetime | None = None,
) -> str:
    """A new API token row for `user_code`; returns the secret (stored only as its SHA-256)."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with Session(engine) as session:
        user = session.exec(select(User).where(User.code == user_code)).one()
        session.add(
            ApiToken(
                user_id=user.id or 0,
                name=name or f"{user_code}-system",
                token_hash=token_digest(secret),
                created_at=now,
                created_by="tests",
                revoked_at=revoked_at,
            )
        )
        session.commit()
    return secret


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@dataclass
class Clock:
    """The app's clock, moved by the test."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now


def api_client(ctx: ServiceContext, clock: Clock) -> TestClient:
    """A client of a fresh app over `ctx`, whose service context reads time from `clock`."""
    app = create_app(replace(ctx, clock=clock), WebConfig(secret_key=SECRET_KEY))
    return TestClient(app)


def session_cookie(
    user_code: str,
    secret_key: str = SECRET_KEY,
    *,
    ctx: ServiceContext | None = None,
    signed_in_at: datetime | None = None,
) -> dict[str, str]:
    """The page session cookie of a signed-in `user_code`, as SessionMiddleware makes it,
    carrying the account's session number when `ctx` is given (else it is not honoured) and
    the time of signing in (`signed_in_at` by the app's clock, else `ctx`'s clock)."""
    body: dict[str, object] = {"user": user_code}
    if ctx is not None:
        body[SESSION_SINCE] = int((signed_in_at or ctx.clock()).timestamp())
        with Session(ctx.engine) as session:
            user_id = session.exec(select(User.id).where(User.code == user_code)).first()
            credential = session.get(Credential, user_id) if user_id is not None else None
        if credential is not None:
            body[SESSION_EPOCH] = credential.session_epoch
    data = b64encode(json.dumps(body).encode())
    return {SESSION_COOKIE: TimestampSigner(secret_key).sign(data).decode()}
