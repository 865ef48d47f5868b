"""Bearer tokens of the JSON API: who a token acts as.

A token is a random secret that another government system sends as
`Authorization: Bearer <secret>`. Only its SHA-256 is stored (`models.web.ApiToken`); a
token acts as its user, with that user's unit and roles read again on every request, so a
disabled user or a changed role takes effect at once. An unknown or revoked token, or one
whose user is disabled, authenticates no one.

The lookup records when a token was last used (`last_used_at`, sign-in bookkeeping that the
row digests leave out): at most once a minute per token, so that a busy integration does not
turn every read into a write."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from flows.errors import ProcedureError
from flows.service.framework import Actor, load_actor, the_jurisdiction
from models import User
from models.web import ApiToken

LAST_USED_RESOLUTION = timedelta(minutes=1)
MAX_SECRET_LENGTH = 256  # longer is no token of ours; refused before hashing


def token_hash(secret: str) -> str:
    """The stored form of a secret: its SHA-256, hex."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class TokenHolder:
    """An authenticated API caller: the token's user as the service's `Actor`, and the
    token's own name (which the audit records as the account that acted)."""

    actor: Actor
    token_id: int
    token_name: str


def authenticate(session: Session, secret: str, now: datetime) -> TokenHolder | None:
    """The holder of `secret`, or None when it is unknown, revoked or its user is not active.
    Commits the `last_used_at` bookkeeping when it moved."""
    if not secret or len(secret) > MAX_SECRET_LENGTH or not secret.isascii():
        return None
    found = session.exec(
        select(ApiToken, User.code)
        .join(User, col(User.id) == col(ApiToken.user_id))
        .where(ApiToken.token_hash == token_hash(secret), col(ApiToken.revoked_at).is_(None))
    ).first()
    if found is None:
        return None
    token, user_code = found
    try:
        actor = load_actor(session, the_jurisdiction(session), user_code)
    except ProcedureError:  # disabled since the token was issued
        return None
    if actor.user_id is None:
        return None
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        session.execute(update(ApiToken).where(col(ApiToken.id) == token.id).values(last_used_at=now))
        session.commit()
    return TokenHolder(actor, token.id or 0, token.name)


def actor_for_token(session: Session, secret: str, now: datetime) -> Actor | None:
    """The actor a bearer token acts as, or None (unknown, revoked, user not active)."""
    holder = authenticate(session, secret, now)
    return holder.actor if holder is not None else None


__all__ = ["TokenHolder", "actor_for_token", "authenticate", "token_hash"]
