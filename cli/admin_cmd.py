"""A real government sets itself up: `init`, then `unit`, `user` and `settings` (adapters
over the service layer; every change is an audited action of an administrator)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console
from rich.table import Table

from cli import app
from cli.common import DatabaseOption, HelpCommand, HelpGroup, context, fail

unit_app = typer.Typer(cls=HelpGroup, help="单位 / units", no_args_is_help=True)
user_app = typer.Typer(cls=HelpGroup, help="用户 / user accounts", no_args_is_help=True)
settings_app = typer.Typer(
    cls=HelpGroup, help="地方设置 / jurisdiction settings (R22, P17)", no_args_is_help=True
)
app.add_typer(unit_app, name="unit")
app.add_typer(user_app, name="user")
app.add_typer(settings_app, name="settings")

ActorOption = Annotated[
    str,
    typer.Option(
        "--actor",
        metavar="ADMIN",
        help="执行操作的管理员（具有 admin 角色的用户） / the administrator acting (a user with the admin role)",
    ),
]

# Column names as bureaus keep them in their spreadsheets, Chinese or English.
UNIT_COLUMNS = {
    "id": ("id", "代码", "单位代码"),
    "name": ("name", "名称", "单位名称"),
    "kind": ("kind", "类型", "单位类型"),
}
USER_COLUMNS = {
    "id": ("id", "账号", "用户名"),
    "unit": ("unit", "单位", "单位代码"),
    "roles": ("roles", "角色"),
    "name": ("name", "姓名"),
    "email": ("email", "邮箱", "电子邮件"),
}
UNIT_KINDS = {
    "决策承办单位": "department",
    "部门": "department",
    "司法局": "legal_office",
    "合法性审查机构": "legal_office",
    "政府办": "gov_office",
    "政府办公室": "gov_office",
    "党委办公室": "party_office",
    "人大常委会办公室": "congress_office",
    "下级政府": "lower_government",
    "第三方": "third_party",
}
MAX_FILE_BYTES = 1 << 20


def read_text(path: Path, option: str) -> str:
    if not path.is_file():
        fail("INPUT", option, f"文件不存在：{path}", f"no such file: {path}")
    if path.stat().st_size > MAX_FILE_BYTES:
        fail("INPUT", option, "文件超过 1 MiB", "the file is larger than 1 MiB")
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        fail("INPUT", option, "文件须为 UTF-8 编码", "the file must be UTF-8")


def read_csv(path: Path, option: str, columns: Mapping[str, tuple[str, ...]]) -> list[dict[str, str]]:
    """Rows keyed by our field names, whichever of the usual headers the file uses."""
    reader = csv.DictReader(io.StringIO(read_text(path, option)))
    headers = [h.strip() for h in reader.fieldnames or []]
    mapping: dict[str, str] = {}
    for field, aliases in columns.items():
        found = next((h for h in headers if h in aliases), None)
        if found is not None:
            mapping[found] = field
    missing = [f for f in ("id", "unit" if "unit" in columns else "name") if f not in mapping.values()]
    if missing:
        fail("INPUT", option, f"缺少列：{'、'.join(missing)}", f"missing columns: {', '.join(missing)}")
    rows = []
    for row in reader:
        rows.append(
            {mapping[k.strip()]: (v or "").strip() for k, v in row.items() if k and k.strip() in mapping}
        )
    return rows


def units_from_csv(path: Path) -> list[dict[str, Any]]:
    return [
        {
            "id": r["id"],
            "name": r.get("name") or r["id"],
            "kind": UNIT_KINDS.get(r.get("kind", ""), r.get("kind", "")),
        }
        for r in read_csv(path, "--units-csv", UNIT_COLUMNS)
    ]


def users_from_csv(path: Path) -> list[dict[str, Any]]:
    users = []
    for r in read_csv(path, "--users-csv", USER_COLUMNS):
        roles = [
            x for x in r.get("roles", "").replace("、", " ").replace(";", " ").replace(",", " ").split() if x
        ]
        user: dict[str, Any] = {"id": r["id"], "unit": r["unit"], "roles": roles, "name": r.get("name", "")}
        if r.get("email"):
            user["email"] = r["email"]
        users.append(user)
    return users


@app.command("init", cls=HelpCommand)
def init(
    file: Annotated[
        Path,
        typer.Argument(
            metavar="FILE",
            help="辖区设置 YAML：决策机关、时区、设置、单位、用户 / jurisdiction YAML: organ, timezone, settings, units, users",
        ),
    ],
    units_csv: Annotated[
        Path | None,
        typer.Option("--units-csv", metavar="FILE", help="从 CSV 文件补充单位 / more units from a CSV file"),
    ] = None,
    users_csv: Annotated[
        Path | None,
        typer.Option("--users-csv", metavar="FILE", help="从 CSV 文件补充用户 / more users from a CSV file"),
    ] = None,
    database: DatabaseOption = None,
) -> None:
    """建立新辖区：决策机关、时区、设置（按法定下限检查）、单位和用户，其中包括首位管理员。 / Set up a new
    jurisdiction: organ, time zone, settings (checked against the statutory floors), units and users,
    the first administrator among them."""
    import getpass

    from flows.errors import ProcedureError
    from flows.service import setup_jurisdiction

    try:
        spec = yaml.safe_load(read_text(file, "FILE"))
    except yaml.YAMLError as exc:
        fail("INPUT", "FILE", "不是有效的 YAML", f"not valid YAML ({type(exc).__name__})")
    if not isinstance(spec, dict) or not isinstance(spec.get("jurisdiction"), dict):
        fail("INPUT", "jurisdiction", "文件须有 jurisdiction 节", "the file needs a jurisdiction section")
    unknown = set(spec) - {"jurisdiction", "units", "users", "units_csv", "users_csv"}
    if unknown:
        fail("INPUT", sorted(unknown)[0], "未知字段", "unknown field")
    units = list(spec.get("units") or [])
    users = list(spec.get("users") or [])
    for name, given, reader in (
        ("units_csv", units_csv, units_from_csv),
        ("users_csv", users_csv, users_from_csv),
    ):
        path = given or (file.parent / spec[name] if spec.get(name) else None)
        if path is not None:
            (units if name == "units_csv" else users).extend(reader(path))
    if not any("admin" in (u.get("roles") or []) for u in users if isinstance(u, dict)):
        fail(
            "INPUT", "users", "须至少有一名管理员（admin 角色）", "at least one user must hold the admin role"
        )
    ctx = context(database)
    try:
        setup_jurisdiction(ctx, spec["jurisdiction"], units, users, actor=getpass.getuser(), new_only=True)
    except ProcedureError as exc:
        typer.echo(f"refused {exc}", err=True)
        raise typer.Exit(2) from None
    admins = [u["id"] for u in users if "admin" in (u.get("roles") or [])]
    typer.echo(
        f"已设置 {spec['jurisdiction'].get('organ')}：{len(units)} 个单位，{len(users)} 名用户；管理员 {'、'.join(admins)}"
        f" / set up {spec['jurisdiction'].get('organ')}: {len(units)} units, {len(users)} users; "
        f"administrators {', '.join(admins)}"
    )


def _act(database: str | None, action: str, actor: str, payload: dict[str, Any]) -> None:
    from flows.errors import ProcedureError
    from flows.service import run_action

    try:
        result = run_action(context(database), action, actor, payload)
    except ProcedureError as exc:
        typer.echo(f"refused {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps({"ok": True, "action": result.action, **result.data}, ensure_ascii=False))


def _table(*columns: str) -> Table:
    return Table(*columns, header_style="bold")


def _print(table: Table) -> None:
    Console(width=160, color_system=None).print(table)


@unit_app.command("add", cls=HelpCommand)
def unit_add(
    id: Annotated[str, typer.Argument(metavar="CODE", help="单位代码，如 housing / unit code, e.g. housing")],
    name: Annotated[
        str,
        typer.Argument(
            metavar="NAME", help="单位名称，如 区住房和城乡建设局 / unit name, e.g. 区住房和城乡建设局"
        ),
    ],
    kind: Annotated[
        str,
        typer.Option(
            "--kind",
            metavar="KIND",
            help="单位类型：department | legal_office | gov_office | … / unit kind: department | legal_office | gov_office | …",
        ),
    ],
    actor: ActorOption,
    database: DatabaseOption = None,
) -> None:
    """新增单位（留审计记录）。 / Add a unit (audited)."""
    _act(database, "add_unit", actor, {"id": id, "name": name, "kind": UNIT_KINDS.get(kind, kind)})


@unit_app.command("list", cls=HelpCommand)
def unit_list(database: DatabaseOption = None) -> None:
    """列出辖区的单位。 / The jurisdiction's units."""
    from sqlmodel import Session, col, select

    from models import Unit

    table = _table("代码 / code", "名称 / name", "类型 / kind")
    with Session(context(database).engine) as session:
        for unit in session.exec(select(Unit).order_by(col(Unit.code))):
            table.add_row(unit.code, unit.name, unit.kind.value)
    _print(table)


@user_app.command("add", cls=HelpCommand)
def user_add(
    id: Annotated[str, typer.Argument(metavar="ID", help="账号 / account code")],
    unit: Annotated[
        str, typer.Option("--unit", metavar="CODE", help="用户所在单位代码 / the user's unit code")
    ],
    role: Annotated[
        list[str], typer.Option("--role", metavar="ROLE", help="角色（可重复） / a role (repeatable)")
    ],
    actor: ActorOption,
    name: Annotated[str, typer.Option("--name", metavar="NAME", help="姓名 / full name")] = "",
    email: Annotated[
        str | None, typer.Option("--email", metavar="ADDRESS", help="电子邮箱 / e-mail address")
    ] = None,
    password: Annotated[
        bool,
        typer.Option(
            "--password",
            help="同时设置登录密码，在隐藏提示下输入 / also set the sign-in password, typed at a hidden prompt",
        ),
    ] = False,
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin",
            help="同时设置登录密码，从标准输入读取 / also set the sign-in password, read from standard input",
        ),
    ] = False,
    database: DatabaseOption = None,
) -> None:
    """新增用户账号及其角色（留审计记录）；加 --password 或 --password-stdin 同时设置登录密码。 / Add a user
    account with its roles (audited); with --password or --password-stdin, also its sign-in password."""
    from cli.account_cmd import read_new_password, set_password_or_exit

    secret = read_new_password(id, password_stdin) if password or password_stdin else None
    _act(database, "add_user", actor, {"id": id, "unit": unit, "roles": role, "name": name, "email": email})
    if secret is not None:
        set_password_or_exit(database, actor, id, secret)


@user_app.command("disable", cls=HelpCommand)
def user_disable(
    id: Annotated[str, typer.Argument(metavar="ID", help="账号 / account code")],
    reason: Annotated[str, typer.Option("--reason", metavar="TEXT", help="理由 / the reason")],
    actor: ActorOption,
    database: DatabaseOption = None,
) -> None:
    """停用账号（不删除：其既往操作仍归属该账号）。 / Disable an account (never deleted: its past actions
    stay attributed to it)."""
    _act(database, "disable_user", actor, {"id": id, "reason": reason})


@user_app.command("list", cls=HelpCommand)
def user_list(
    unit: Annotated[
        str | None, typer.Option("--unit", metavar="CODE", help="仅该单位 / only this unit")
    ] = None,
    database: DatabaseOption = None,
) -> None:
    """列出辖区的用户及其单位和角色。 / The jurisdiction's users, their units and roles."""
    from sqlmodel import Session, col, select

    from models import Unit, User, UserRole

    table = _table("账号 / account", "姓名 / name", "单位 / unit", "角色 / roles", "状态 / status")
    with Session(context(database).engine) as session:
        units = {u.id: u.code for u in session.exec(select(Unit))}
        for user in session.exec(select(User).order_by(col(User.code))):
            if unit is not None and units.get(user.unit_id) != unit:
                continue
            roles = session.exec(select(UserRole.role).where(UserRole.user_id == user.id)).all()
            status = "在用 / active" if user.active else "已停用 / disabled"
            table.add_row(
                user.code, user.name, units.get(user.unit_id, "?"), ", ".join(sorted(roles)), status
            )
    _print(table)


@settings_app.command("show", cls=HelpCommand)
def settings_show(database: DatabaseOption = None) -> None:
    """列出全部设置：现行值、713 号令默认值、法定下限、依据。 / Every setting: the value in force, the
    Decree 713 default, the statutory floor, the source."""
    from sqlmodel import Session

    from flows import procedure as proc
    from flows.procedure_view import _shown
    from flows.service.framework import the_jurisdiction

    table = _table("设置 / setting", "取值 / value", "默认 / default", "法定下限 / floor", "依据 / source")
    with Session(context(database).engine) as session:
        local = the_jurisdiction(session).settings or {}
    for key, setting in proc.procedure().settings.items():
        value = local.get(key, setting.default)
        floor = "" if setting.statutory_floor is None else str(setting.statutory_floor)
        table.add_row(key, _shown(value), _shown(setting.default), floor, setting.source)
    _print(table)


@settings_app.command("set", cls=HelpCommand)
def settings_set(
    key: Annotated[str, typer.Argument(metavar="KEY", help="设置项 / the setting")],
    value: Annotated[
        str, typer.Argument(metavar="VALUE", help="取值（JSON 或纯文本） / its value (JSON, or plain text)")
    ],
    reason: Annotated[str, typer.Option("--reason", metavar="TEXT", help="理由 / the reason")],
    actor: ActorOption,
    database: DatabaseOption = None,
) -> None:
    """变更一项设置（按法定下限检查；留审计记录）。 / Change one setting (checked against the statutory
    floors; audited)."""
    try:
        parsed: Any = json.loads(value)
    except json.JSONDecodeError:
        parsed = value
    _act(database, "change_settings", actor, {"settings": {key: parsed}, "reason": reason})
