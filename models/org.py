"""Jurisdictions, units, users and their roles."""

from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel, UniqueConstraint

from models.columns import json_dict
from models.enums import UnitKind, text_enum


class Jurisdiction(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    organ: str = Field(max_length=200, unique=True)  # 决策机关, e.g. 香洲区人民政府
    timezone: str = Field(default="Asia/Shanghai", max_length=64)
    # overrides of the P-values; defaults live in flows.procedure.SETTINGS (R22)
    settings: dict[str, Any] = Field(default_factory=dict, sa_column=json_dict())
    created_at: datetime


class Unit(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("jurisdiction_id", "code"),)
    id: int | None = Field(default=None, primary_key=True)
    jurisdiction_id: int = Field(foreign_key="jurisdiction.id")
    code: str = Field(max_length=64)  # short id used in scenarios and the CLI
    name: str = Field(max_length=200)
    kind: UnitKind = Field(sa_column=text_enum(UnitKind))
    head_user_code: str | None = Field(default=None, max_length=64)


class User(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("jurisdiction_id", "code"),)
    id: int | None = Field(default=None, primary_key=True)
    jurisdiction_id: int = Field(foreign_key="jurisdiction.id")
    code: str = Field(max_length=64)
    name: str = Field(max_length=200)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    email: str | None = Field(default=None, max_length=320)
    active: bool = True


class UserRole(SQLModel, table=True):
    user_id: int = Field(foreign_key="user.id", primary_key=True)
    role: str = Field(max_length=32, primary_key=True)
