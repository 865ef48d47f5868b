"""A jurisdiction administers itself: units, user accounts and settings, each an audited
action of an administrator on the jurisdiction's chain. The first administrator comes with
the jurisdiction itself (`setup_jurisdiction(..., new_only=True)`, `decisionflow init`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field
from sqlmodel import select

from flows.errors import not_found, refusal
from flows.service.framework import Payload, Tx, action
from flows.service.setup import Ref, UnitSpec, UserSpec, add_units, add_users, validate_settings
from models import UnitKind, User


class AddUnit(Payload):
    id: Ref = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    kind: UnitKind


@action("add_unit", AddUnit)
def add_unit(tx: Tx, p: AddUnit) -> Mapping[str, Any]:
    add_units(tx.session, tx.jurisdiction.id or 0, [UnitSpec(id=p.id, name=p.name, kind=p.kind)])
    return {"unit": p.id}


class AddUser(Payload):
    # references as the set-up takes them: a look-alike such as a Cyrillic `ѕystem` is
    # refused here, naming the field, not later by `UserSpec` as an uncaught error
    id: Ref = Field(min_length=1, max_length=64)
    unit: Ref = Field(min_length=1, max_length=64)
    roles: list[str] = Field(min_length=1)
    name: str = ""
    email: str | None = None
    locale: Literal["zh_CN", "en"] | None = None
    channels: list[Literal["inbox", "email", "webhook"]] | None = None


@action("add_user", AddUser)
def add_user(tx: Tx, p: AddUser) -> Mapping[str, Any]:
    add_users(tx.session, tx.jurisdiction.id or 0, [UserSpec.model_validate(p.model_dump())])
    return {"user": p.id, "roles": sorted(set(p.roles))}


class DisableUser(Payload):
    id: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=1)


@action("disable_user", DisableUser)
def disable_user(tx: Tx, p: DisableUser) -> Mapping[str, Any]:
    """An account that leaves is disabled, never deleted: its past actions stay attributed
    to it in the audit chains. Nobody disables their own account (the last administrator
    would lock the jurisdiction out)."""
    user = tx.session.exec(
        select(User).where(User.jurisdiction_id == tx.jurisdiction.id, User.code == p.id)
    ).first()
    if user is None:
        raise not_found("id", p.id)
    if p.id == tx.actor.code:
        raise refusal(
            "INPUT",
            "不能停用本人账号",
            "an administrator cannot disable their own account",
            field="id",
            kind="invalid",
        )
    if not user.active:
        raise refusal("STATE", f"用户 {p.id} 已停用", f"user {p.id} is already disabled", field="id")
    user.active = False
    tx.session.add(user)
    return {"user": p.id, "active": False}


class ChangeSettings(Payload):
    settings: dict[str, Any] = Field(min_length=1)
    reason: str = Field(min_length=1)


@action("change_settings", ChangeSettings)
def change_settings(tx: Tx, p: ChangeSettings) -> Mapping[str, Any]:
    """R22, P17: the same checks as at set-up. A new value applies to deadlines computed from
    now on; deadlines already set keep the value they were computed with (their row stores
    it)."""
    clean = validate_settings(dict(p.settings))
    tx.jurisdiction.settings = {**(tx.jurisdiction.settings or {}), **clean}
    tx.session.add(tx.jurisdiction)
    return {"settings": clean}
