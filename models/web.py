"""Web sign-in: the credential and lock-out state of a user, and API tokens for other
government systems. Passwords and tokens are stored only as hashes."""

from datetime import datetime

from sqlmodel import Field, SQLModel


class Credential(SQLModel, table=True):
    """A user's local password (argon2id hash) and sign-in bookkeeping. Kept apart from the
    user row so that the audited identity (user, unit, roles) is not rewritten on every
    failed sign-in."""

    user_id: int = Field(foreign_key="user.id", primary_key=True)
    password_hash: str = Field(max_length=200)
    changed_at: datetime
    failed_attempts: int = 0  # consecutive failures since the last success
    locked_until: datetime | None = None
    last_sign_in_at: datetime | None = None
    # the account's sessions: a web session is valid while it carries this number; signing
    # out and a new password move it on, which ends every session of the account at once
    session_epoch: int = 0


class ApiToken(SQLModel, table=True):
    """A bearer token of the JSON API: it acts as its user; only its SHA-256 is kept."""

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    name: str = Field(max_length=100)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime
    created_by: str = Field(max_length=64)
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
