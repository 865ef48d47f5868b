"""Setting up a jurisdiction: the organ, its settings (R22), units, users and roles."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlmodel import select

from flows import procedure as proc
from flows.errors import ProcedureError, refusal
from flows.service import audit
from flows.service.framework import ServiceContext, validation_error
from models import Jurisdiction, RecipientPreference, Unit, UnitKind, User, UserRole
from models.db import session_scope
from notifications import policy as reminder_policy
from notifications.errors import ConfigError


class UnitSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1)
    kind: UnitKind


class UserSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=64)
    unit: str
    roles: list[str] = Field(min_length=1)
    name: str = ""
    email: str | None = None
    # notification preferences (issue 3): language and external channels
    locale: Literal["zh_CN", "en"] | None = None
    channels: list[Literal["inbox", "email", "webhook"]] | None = None


class JurisdictionSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    organ: str = Field(min_length=1)
    timezone: str = "Asia/Shanghai"
    settings: dict[str, Any] = Field(default_factory=dict)


def validate_settings(values: dict[str, Any]) -> dict[str, Any]:
    """R22: only known keys, with values of the default's type, inside the allowed range."""
    clean: dict[str, Any] = {}
    for key, value in values.items():
        setting = proc.SETTINGS.get(key)
        if setting is None:
            raise refusal("R22", f"未知设置项 {key}", f"unknown setting {key}", field=f"settings.{key}")
        default = setting.default
        if isinstance(default, tuple):
            if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
                raise refusal("R22", f"{key} 须为列表", f"{key} must be a list", field=f"settings.{key}")
            value = list(value)
            if key == "stages_needing_legal_approval":
                unknown = [v for v in value if v not in proc.STAGE_BY_ID]
                if unknown:
                    raise refusal(
                        "R22", f"未知阶段 {unknown}", f"unknown stages {unknown}", field=f"settings.{key}"
                    )
        elif isinstance(default, dict):
            try:
                value = reminder_policy.parse_overrides(value, proc.DEADLINE_KINDS, proc.ROLES)
            except ConfigError as exc:
                raise refusal("R22", exc.zh, exc.en, field=exc.field) from None
        elif isinstance(default, bool):
            if not isinstance(value, bool):
                raise refusal(
                    "R22", f"{key} 须为是/否", f"{key} must be true or false", field=f"settings.{key}"
                )
        elif isinstance(default, int | float):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise refusal("R22", f"{key} 须为数值", f"{key} must be a number", field=f"settings.{key}")
            if setting.minimum is not None and value < setting.minimum:
                raise refusal(
                    "R22",
                    f"{key} 不得小于 {setting.minimum}",
                    f"{key} must be at least {setting.minimum}",
                    field=f"settings.{key}",
                )
        if setting.choices and value not in setting.choices:
            raise refusal(
                "R22",
                f"{key} 须为 {setting.choices} 之一",
                f"{key} must be one of {setting.choices}",
                field=f"settings.{key}",
            )
        clean[key] = value
    return clean


def setup_jurisdiction(
    ctx: ServiceContext,
    jurisdiction: dict[str, Any],
    units: list[dict[str, Any]],
    users: list[dict[str, Any]],
    now: datetime | None = None,
    actor: str = proc.SYSTEM_ACTOR,
) -> int:
    """Create (or extend) the jurisdiction in one transaction, audited on its set-up chain."""
    try:
        j_spec = JurisdictionSpec.model_validate(jurisdiction)
        unit_specs = [UnitSpec.model_validate(u) for u in units]
        user_specs = [UserSpec.model_validate(u) for u in users]
    except ValidationError as exc:
        raise validation_error(exc) from None
    settings = validate_settings(j_spec.settings)
    for user in user_specs:
        for role in user.roles:
            if role not in proc.ROLES or role == "public":
                raise refusal(
                    "INPUT",
                    f"未知角色 {role}",
                    f"unknown role {role}",
                    field=f"users.{user.id}.roles",
                    kind="invalid",
                )
    moment = (now or ctx.clock()).astimezone(UTC)
    with session_scope(ctx.engine) as session:
        row = session.exec(select(Jurisdiction).where(Jurisdiction.organ == j_spec.organ)).first()
        if row is None:
            row = Jurisdiction(
                organ=j_spec.organ, timezone=j_spec.timezone, settings=settings, created_at=moment
            )
        else:
            row.settings = {**row.settings, **settings}
        session.add(row)
        session.flush()
        assert row.id is not None
        unit_ids: dict[str, int] = {
            u.code: u.id for u in session.exec(select(Unit).where(Unit.jurisdiction_id == row.id)) if u.id
        }
        for spec in unit_specs:
            if spec.id in unit_ids:
                raise refusal(
                    "INPUT",
                    f"单位 {spec.id} 已存在",
                    f"unit {spec.id} exists",
                    field="units.id",
                    kind="invalid",
                )
            unit = Unit(jurisdiction_id=row.id, code=spec.id, name=spec.name, kind=spec.kind)
            session.add(unit)
            session.flush()
            assert unit.id is not None
            unit_ids[spec.id] = unit.id
        for u in user_specs:
            if u.unit not in unit_ids:
                raise refusal(
                    "NOT_FOUND",
                    f"单位 {u.unit} 不存在",
                    f"unit {u.unit} does not exist",
                    field=f"users.{u.id}.unit",
                    kind="not_found",
                )
            account = User(
                jurisdiction_id=row.id,
                code=u.id,
                name=u.name or u.id,
                unit_id=unit_ids[u.unit],
                email=u.email,
            )
            session.add(account)
            session.flush()
            assert account.id is not None
            for role in sorted(set(u.roles)):
                session.add(UserRole(user_id=account.id, role=role))
            if u.locale is not None or u.channels is not None:
                session.add(
                    RecipientPreference(
                        user_id=account.id, locale=u.locale or "zh_CN", channels=list(u.channels or [])
                    )
                )
        audit.append(
            session,
            chain=f"jurisdiction:{row.id}",
            action="setup_jurisdiction",
            actor=actor,
            actor_roles="admin",
            occurred_at=moment,
            payload={
                "jurisdiction": j_spec.model_dump(),
                "units": [u.model_dump() for u in unit_specs],
                "users": [u.model_dump() for u in user_specs],
            },
            decision_id=None,
        )
        return row.id


__all__ = ["ProcedureError", "setup_jurisdiction", "validate_settings"]
