"""Setting up a jurisdiction: the organ, its settings (R22), units, users and roles."""

from __future__ import annotations

from datetime import datetime
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


def validate_settings(values: dict[str, Any], procedure: proc.Procedure | None = None) -> dict[str, Any]:
    """R22 and P17: only known keys, each with a value of its kind; a Decree 713 minimum may
    be lengthened, never shortened. The first bad value is refused, naming the setting."""
    procedure = procedure or proc.procedure()
    clean: dict[str, Any] = {}
    for key, value in values.items():
        setting = procedure.settings.get(key)
        if setting is None:
            raise refusal("R22", f"未知设置项 {key}", f"unknown setting {key}", field=f"settings.{key}")
        clean[key] = _setting_value(setting, value, procedure)
    return clean


def _setting_value(setting: proc.Setting, value: Any, procedure: proc.Procedure) -> Any:
    key = setting.key
    where = f"settings.{key}"

    def bad(zh: str, en: str, rule_id: str = "R22") -> ProcedureError:
        return refusal(rule_id, f"设置项 {key}：{zh}", f"setting {key}: {en}", field=where)

    if setting.kind == "days":
        # a whole number of days; 7.5 days or true are not day counts
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad("须为天数（整数）", "must be a whole number of days")
        if isinstance(value, float) and not value.is_integer():
            raise bad(f"天数不得为小数（{value}）", f"a day count cannot be fractional ({value})")
        value = int(value)
        if setting.statutory_floor is not None and value < setting.statutory_floor:
            raise bad(
                f"不得少于法定最低 {setting.statutory_floor} 日（{setting.source}），可延长不可缩短",
                f"may not go below the statutory minimum of {setting.statutory_floor} days "
                f"({setting.source}); it may be lengthened, never shortened",
                "P17",
            )
        if value < setting.minimum:
            raise bad(f"不得小于 {setting.minimum}", f"must be at least {setting.minimum}")
        return value
    if setting.kind == "fraction":
        # P11: "more than half" is written 0.5; 0 or 1 would make the quorum meaningless
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
            raise bad(
                f"须为 0 与 1 之间的比例（不含 0 和 1），收到 {value!r}",
                f"must lie strictly between 0 and 1, got {value!r}",
            )
        return float(value)
    if setting.kind in ("stages", "channels"):
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v for v in value):
            raise bad("须为名称列表", "must be a list of names")
        if setting.kind == "channels" and not value:
            raise bad("渠道列表不得为空", "the channel list cannot be empty")
        if setting.kind == "stages":
            unknown = [v for v in value if v not in procedure.stage_by_id]
            if unknown:
                raise bad(f"未知阶段 {unknown}", f"unknown stages {unknown}")
        return list(dict.fromkeys(value))
    if setting.kind == "policy":
        try:
            return reminder_policy.parse_overrides(value, procedure.deadline_kinds, proc.ROLES)
        except ConfigError as exc:
            raise refusal("R22", exc.zh, exc.en, field=exc.field) from None
    if value not in setting.choices or type(value) is not type(setting.default):
        raise bad(f"须为 {list(setting.choices)} 之一", f"must be one of {list(setting.choices)}")
    return value


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
    moment = ctx.write_time(now)
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
            actor_roles="system" if actor == proc.SYSTEM_ACTOR else "admin",
            occurred_at=moment,
            payload={
                "jurisdiction": j_spec.model_dump(),
                "units": [u.model_dump() for u in unit_specs],
                "users": [u.model_dump() for u in user_specs],
            },
            decision_id=None,
            os_account=ctx.os_account,
        )
        return row.id


__all__ = ["ProcedureError", "setup_jurisdiction", "validate_settings"]
