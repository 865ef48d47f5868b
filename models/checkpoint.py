"""Signed checkpoints of the audit chains (the heads of every chain, signed with a key held
outside the database), as transparency logs sign their tree heads."""

from datetime import datetime

from sqlmodel import Field, SQLModel


class AuditCheckpoint(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    seq: int = Field(unique=True)
    created_at: datetime
    body: str  # the canonical JSON that was signed: time, chains' lengths and heads, previous digest
    digest: str = Field(max_length=64)  # sha256 of `body`; the next checkpoint names it
    key_id: str = Field(max_length=16)  # the first 16 hex digits of the public key's sha256
    signature: str = Field(max_length=200)  # base64 Ed25519 signature of `body`
