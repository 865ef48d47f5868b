"""Setting up a jurisdiction: the organ, its settings (R22), units, users and roles."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, field_validator
from pydantic_core import PydanticCustomError
from sqlmodel import Session, select

from flows import hygiene
from flows import procedure as proc
from flows.errors import ProcedureError, refusal
from flows.service import audit
from flows.service.framework import Payload, ServiceContext, strict_input
from models import Jurisdiction, RecipientPreference, Unit, UnitKind, User, UserRole
from models.db import transact
from notifications import policy as reminder_policy
from notifications.errors import ConfigError

Ref = Annotated[str, StringConstraints(pattern=hygiene.REF_PATTERN)]


class UnitSpec(Payload):
    id: Ref = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    kind: UnitKind


class UserSpec(Payload):
    id: Ref = Field(min_length=1, max_length=64)
    unit: Ref
    roles: list[str] = Field(min_length=1)
    name: str = Field(default="", max_length=100)
    email: str | None = Field(default=None, max_length=254)
    # notification preferences (issue 3): language and external channels
    locale: Literal["zh_CN", "en"] | None = None
    channels: list[Literal["inbox", "email", "webhook"]] | None = None


class JurisdictionSpec(Payload):
    organ: str = Field(min_length=1, max_length=200)
    timezone: str = "Asia/Shanghai"
    settings: dict[str, Any] = Field(default_factory=dict)

    @field_validator("timezone")
    @classmethod
    def known_timezone(cls, value: str) -> str:
        problem = hygiene.timezone_problem(value)
        if problem is not None:
            raise PydanticCustomError("input_hygiene", problem[1], {"where": "timezone", "zh": problem[0]})
        return value


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


def check_roles(user_specs: list[UserSpec]) -> None:
    """Every role a user is given is one of the procedure's roles; nobody is `public`."""
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


def add_units(session: Session, jurisdiction_id: int, unit_specs: list[UnitSpec]) -> dict[str, int]:
    """Create units; refuses a code already taken. Returns every unit's id by code."""
    unit_ids: dict[str, int] = {
        u.code: u.id
        for u in session.exec(select(Unit).where(Unit.jurisdiction_id == jurisdiction_id))
        if u.id
    }
    for spec in unit_specs:
        if spec.id in unit_ids:
            raise refusal(
                "INPUT", f"单位 {spec.id} 已存在", f"unit {spec.id} exists", field="units.id", kind="invalid"
            )
        unit = Unit(jurisdiction_id=jurisdiction_id, code=spec.id, name=spec.name, kind=spec.kind)
        session.add(unit)
        session.flush()
        assert unit.id is not None
        unit_ids[spec.id] = unit.id
    return unit_ids


RESERVED_USER_IDS = frozenset({proc.SYSTEM_ACTOR, "public"})


def add_users(session: Session, jurisdiction_id: int, user_specs: list[UserSpec]) -> None:
    """Create user accounts with their roles and notification preferences; refuses a code
    already taken and a unit that does not exist."""
    check_roles(user_specs)
    unit_ids = add_units(session, jurisdiction_id, [])
    taken = set(session.exec(select(User.code).where(User.jurisdiction_id == jurisdiction_id)).all())
    for u in user_specs:
        if u.id.lower() in RESERVED_USER_IDS:
            # `system` is the sweep's and the flows' own identity, `public` the anonymous
            # commenter's: an account by either name would be mistaken for it
            raise refusal(
                "INPUT",
                f"用户编号 {u.id} 为系统保留",
                f"user id {u.id} is reserved",
                field="users.id",
                kind="invalid",
            )
        if u.id in taken:
            raise refusal(
                "INPUT", f"用户 {u.id} 已存在", f"user {u.id} exists", field="users.id", kind="invalid"
            )
        if u.unit not in unit_ids:
            raise refusal(
                "NOT_FOUND",
                f"单位 {u.unit} 不存在",
                f"unit {u.unit} does not exist",
                field=f"users.{u.id}.unit",
                kind="not_found",
            )
        account = User(
            jurisdiction_id=jurisdiction_id,
            code=u.id,
            name=u.name or u.id,
            unit_id=unit_ids[u.unit],
            email=u.email,
        )
        session.add(account)
        session.flush()
        assert account.id is not None
        taken.add(u.id)
        for role in sorted(set(u.roles)):
            session.add(UserRole(user_id=account.id, role=role))
        if u.locale is not None or u.channels is not None:
            session.add(
                RecipientPreference(
                    user_id=account.id, locale=u.locale or "zh_CN", channels=list(u.channels or [])
                )
            )


def setup_jurisdiction(
    ctx: ServiceContext,
    jurisdiction: dict[str, Any],
    units: list[dict[str, Any]],
    users: list[dict[str, Any]],
    now: datetime | None = None,
    actor: str = proc.SYSTEM_ACTOR,
    *,
    new_only: bool = False,
) -> int:
    """Create (or extend) the jurisdiction in one transaction, audited on its set-up chain.
    `new_only` refuses a database that already holds a jurisdiction (`decisionflow init`)."""
    j_spec = strict_input(JurisdictionSpec, jurisdiction)
    unit_specs = [strict_input(UnitSpec, u, f"units.{i}") for i, u in enumerate(units)]
    user_specs = [strict_input(UserSpec, u, f"users.{i}") for i, u in enumerate(users)]
    settings = validate_settings(j_spec.settings)
    check_roles(user_specs)
    moment = ctx.write_time(now)

    def work(session: Session) -> int:
        if new_only and session.exec(select(Jurisdiction.id)).first() is not None:
            raise refusal(
                "STATE",
                "该数据库已设置辖区；请用 unit/user/settings 命令修改",
                "this database already has a jurisdiction; change it with the unit, user and settings commands",
                field="database",
            )
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
        add_units(session, row.id, unit_specs)
        add_users(session, row.id, user_specs)
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

    return transact(ctx.engine, work)


__all__ = ["ProcedureError", "setup_jurisdiction", "validate_settings"]
