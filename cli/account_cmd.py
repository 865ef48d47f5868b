"""Sign-in credentials from the command line: `user password` (a password is typed at a
hidden prompt or read from standard input, never given as an argument, where the shell
history and the process list would keep it) and `token create|revoke|list` (API tokens for
other government systems; the secret is printed once)."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Annotated, NoReturn
from zoneinfo import ZoneInfo

import typer

from cli import app
from cli.admin_cmd import ActorOption, _print, _table, user_app
from cli.common import DatabaseOption, HelpCommand, HelpGroup, context, fail

token_app = typer.Typer(
    cls=HelpGroup, help="接口令牌 / API tokens for other government systems", no_args_is_help=True
)
app.add_typer(token_app, name="token")

ZONE = ZoneInfo("Asia/Shanghai")
PasswordStdinOption = Annotated[
    bool,
    typer.Option(
        "--password-stdin",
        help="从标准输入读取密码（第一行；改本人密码时：第一行为当前密码，第二行为新密码）"
        " / read the password from standard input (first line; for your own account: the"
        " current password on the first line, the new one on the second)",
    ),
]


def _refused(exc: Exception) -> NoReturn:
    typer.echo(f"refused {exc}", err=True)
    raise typer.Exit(2) from None


def read_new_password(user_code: str, from_stdin: bool) -> str:
    """A new password for `user_code`, typed twice at a hidden prompt or read from stdin,
    checked against the policy before anything is written."""
    from flows.service.accounts import password_problem

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("新密码 / new password", hide_input=True, confirmation_prompt=True)
    problem = password_problem(user_code, password)
    if problem is not None:
        fail("INPUT", "password", *problem)
    return password


def set_password_or_exit(database: str | None, actor: str, user_code: str, password: str) -> None:
    """Set the password of a new account (`user add --password`)."""
    from flows.errors import ProcedureError
    from flows.service.accounts import set_password

    try:
        result = set_password(context(database), actor, user_code, password)
    except ProcedureError as exc:
        _refused(exc)
    typer.echo(
        json.dumps({"ok": True, "action": "set_password", "user": user_code, "audit_seq": result.audit_seq})
    )


@user_app.command("password", cls=HelpCommand)
def user_password(
    id: Annotated[str, typer.Argument(metavar="ID", help="账号 / account code")],
    actor: ActorOption,
    password_stdin: PasswordStdinOption = False,
    database: DatabaseOption = None,
) -> None:
    """设置账号的登录密码（管理员；或本人，须给出当前密码）。留审计记录但不含密码；清除该账号的失败次数和锁定，
    并结束其网页会话。 / Set an account's sign-in password (an administrator; or your own, with the
    current one). Audited, without the password; the account's failures and lock are cleared and its web
    sessions end."""
    from sqlmodel import Session

    from flows.errors import ProcedureError
    from flows.service.accounts import read_account, set_password

    ctx = context(database)
    try:
        with Session(ctx.engine) as session:
            account = read_account(session, id)
    except ProcedureError as exc:
        _refused(exc)
    old: str | None = None
    if account is not None and actor == id and account.password_hash is not None:
        if password_stdin:
            old = sys.stdin.readline().rstrip("\r\n")
        else:
            old = typer.prompt("当前密码 / current password", hide_input=True)
    password = read_new_password(id, password_stdin)
    try:
        result = set_password(ctx, actor, id, password, old_password=old)
    except ProcedureError as exc:
        _refused(exc)
    action = "change_password" if actor == id else "set_password"
    typer.echo(json.dumps({"ok": True, "action": action, "user": id, "audit_seq": result.audit_seq}))


@token_app.command("create", cls=HelpCommand)
def token_create(
    user: Annotated[
        str, typer.Argument(metavar="USER", help="令牌代表的账号 / the account the token acts as")
    ],
    name: Annotated[
        str,
        typer.Option("--name", metavar="TEXT", help="令牌用途，如 政务服务平台对接 / what the token is for"),
    ],
    actor: ActorOption,
    database: DatabaseOption = None,
) -> None:
    """签发代表 USER 的接口令牌（留审计记录）。密钥仅在标准输出上显示一次，只保存其 SHA-256。 / Issue an API
    token acting as USER (audited). The secret is printed once, on standard output; only its SHA-256 is
    kept."""
    from sqlmodel import Session

    from flows.errors import ProcedureError
    from flows.service.accounts import issue_api_token, token_id

    ctx = context(database)
    try:
        secret = issue_api_token(ctx, actor, user, name)
    except ProcedureError as exc:
        _refused(exc)
    with Session(ctx.engine) as session:
        number = token_id(session, secret)
    typer.echo(
        f"令牌 #{number} 已签发给 {user}，仅显示这一次，请妥善保存"
        f" / token #{number} issued for {user}; it is shown only this once, keep it safe",
        err=True,
    )
    typer.echo(secret)


@token_app.command("revoke", cls=HelpCommand)
def token_revoke(
    id: Annotated[
        int,
        typer.Argument(
            metavar="NUMBER", help="令牌编号（见 token list） / the token's number (see token list)"
        ),
    ],
    actor: ActorOption,
    database: DatabaseOption = None,
) -> None:
    """吊销接口令牌（管理员，或令牌代表的用户本人；留审计记录），立即失效。 / Revoke an API token (an
    administrator, or the user it acts as; audited). It stops working at once."""
    from flows.errors import ProcedureError
    from flows.service.accounts import revoke_api_token

    try:
        revoke_api_token(context(database), actor, id)
    except ProcedureError as exc:
        _refused(exc)
    typer.echo(json.dumps({"ok": True, "action": "revoke_api_token", "token": id}))


def _when(moment: datetime | None) -> str:
    return moment.astimezone(ZONE).strftime("%Y-%m-%d %H:%M") if moment else "—"


@token_app.command("list", cls=HelpCommand)
def token_list(
    user: Annotated[
        str | None, typer.Option("--user", metavar="USER", help="仅该账号的令牌 / only this account's tokens")
    ] = None,
    database: DatabaseOption = None,
) -> None:
    """列出接口令牌（不含密钥）：代表谁、最近使用时间、是否已吊销。 / The API tokens (never their secrets):
    whom each acts as, when it was last used, whether it is revoked."""
    from sqlmodel import Session

    from flows.service.accounts import list_api_tokens

    table = _table(
        "编号 / no.",
        "账号 / account",
        "名称 / name",
        "签发 / issued",
        "签发人 / by",
        "最近使用 / last used",
        "状态 / status",
    )
    with Session(context(database).engine) as session:
        tokens = list_api_tokens(session, user)
    for token in tokens:
        status = f"已吊销 / revoked {_when(token.revoked_at)}" if token.revoked_at else "有效 / active"
        table.add_row(
            str(token.id),
            token.user,
            token.name,
            _when(token.created_at),
            token.created_by,
            _when(token.last_used_at),
            status,
        )
    _print(table)
