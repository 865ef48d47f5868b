"""The `decisionflow` command (Typer). A thin adapter over the service layer."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.common import (
    BackdatedByOption,
    BackdateOption,
    DatabaseOption,
    HelpCommand,
    HelpGroup,
    NowOption,
    ReasonOption,
    context,
    database_error,
    fail,
    load_json,
    open_database,
    parse_now,
    set_value,
)

app = typer.Typer(
    cls=HelpGroup, help="重大行政决策程序引擎 / decisionflow", no_args_is_help=True, add_completion=False
)
procedure_app = typer.Typer(cls=HelpGroup, help="法定程序 / the statutory procedure", no_args_is_help=True)
scenario_app = typer.Typer(cls=HelpGroup, help="场景文件 / scenario files", no_args_is_help=True)
audit_app = typer.Typer(cls=HelpGroup, help="审计日志 / the audit log", no_args_is_help=True)
db_app = typer.Typer(cls=HelpGroup, help="数据库 / database", no_args_is_help=True)
app.add_typer(procedure_app, name="procedure")
app.add_typer(scenario_app, name="scenario")
app.add_typer(audit_app, name="audit")
app.add_typer(db_app, name="db")


@procedure_app.command("show", cls=HelpCommand)
def procedure_show(
    format: Annotated[
        str, typer.Option("--format", metavar="FORMAT", help="格式：table | mermaid / the format")
    ] = "table",
    version: Annotated[
        str | None, typer.Option(metavar="VERSION", help="程序版本 / procedure version")
    ] = None,
) -> None:
    """显示法定程序及其依据条款。 / Print the procedure with its articles."""
    from flows import procedure as proc
    from flows.procedure_view import as_mermaid, as_table

    if format not in ("table", "mermaid"):
        fail("INPUT", "--format", "须为 table 或 mermaid", "must be table or mermaid")
    chosen = version or proc.CURRENT_VERSION
    if chosen not in proc.PROCEDURES:
        fail("INPUT", "--version", f"未知版本 {chosen}", f"unknown version {chosen}")
    typer.echo(
        as_mermaid(proc.procedure(chosen)) if format == "mermaid" else as_table(proc.procedure(chosen))
    )


SCENARIO_DATABASE_HELP = (
    "数据库地址。默认：每个文件各用一个新的内存 SQLite。给出的数据库须为新的或空的（无任何记录），将被标记为场景数据库，"
    "且只运行一个文件。已有内容的数据库被拒绝且保持不变。 / database URL. Default: a fresh SQLite in memory for each file. A given database must be new or "
    "empty (no rows); it is marked as a scenario database and takes one file. A database that holds "
    "anything is refused and left unchanged."
)


@scenario_app.command("run", cls=HelpCommand)
def scenario_run(
    files: Annotated[list[Path], typer.Argument(metavar="FILE", help="场景 YAML 文件 / scenario YAML files")],
    database: Annotated[
        str, typer.Option("--database", metavar="URL", help=SCENARIO_DATABASE_HELP)
    ] = "sqlite://",
) -> None:
    """运行场景文件，每个文件用一个新数据库；仅当每一步都符合预期时退出码为 0。 / Run scenario files, each on a
    new database. Exit 0 only if every step met its expectation.

    从不删除任何内容：给出 --database 时目标须为新的或空的（新建 SQLite 文件），因此一个 --database 只运行一个文件。

    Nothing is ever dropped: with --database the target must be new or empty (a new SQLite
    file is created), so one --database takes exactly one file."""
    from sqlalchemy.exc import ArgumentError

    from flows.scenario import ScenarioError, run_file
    from models.db import DATA_DIR_ENV, DatabaseStateError, data_dir_for, is_in_memory

    for path in files:
        if not path.exists():
            fail("INPUT", "FILE", f"文件不存在：{path}", f"no such file: {path}")
    try:
        persistent = not is_in_memory(database)
    except ArgumentError:
        fail(
            "INPUT", "--database", f"无法识别的数据库 URL：{database!r}", f"not a database URL: {database!r}"
        )
    if persistent and len(files) > 1:
        fail(
            "INPUT",
            "--database",
            f"一个数据库只能运行一个场景文件（收到 {len(files)} 个）；省略 --database 则每个文件用各自的内存数据库",
            f"one database takes one scenario file (got {len(files)}); without --database each file "
            "gets its own database in memory",
        )
    data_dir = data_dir_for(database) if persistent else None
    if persistent and data_dir is None:
        fail(
            "INPUT",
            DATA_DIR_ENV,
            "此数据库的证据文件夹未配置：请设置 DECISIONFLOW_DATA_DIR",
            "no data folder for this database's evidence files: set DECISIONFLOW_DATA_DIR",
        )
    all_passed = True
    for path in files:
        engine = open_database(database, create=True)
        try:
            report = run_file(path, engine=engine, data_dir=data_dir)
        except DatabaseStateError as exc:
            database_error(exc)
        except ScenarioError as exc:
            typer.echo(f"ERROR {exc}", err=True)
            all_passed = False
            continue
        finally:
            engine.dispose()
        typer.echo(f"== {path.name}: {report.name}")
        for outcome in report.outcomes:
            typer.echo(outcome.line())
        typer.echo(f"== {'PASSED' if report.passed else 'FAILED'}")
        all_passed &= report.passed
    raise typer.Exit(0 if all_passed else 1)


@audit_app.command("verify", cls=HelpCommand)
def audit_verify(
    checkpoints: Annotated[
        Path | None,
        typer.Option(
            "--checkpoints",
            metavar="FILE",
            help="导出的检查点文件：同时据此核验记录 / an exported checkpoint file: also check the record against it",
        ),
    ] = None,
    public_key: Annotated[
        Path | None,
        typer.Option(
            "--public-key",
            metavar="FILE",
            help="你信任的公钥（默认：文件中的公钥） / the public key you trust (default: the one in the file)",
        ),
    ] = None,
    database: DatabaseOption = None,
) -> None:
    """重算每条哈希链并指明每条链第一个断裂的事件；读回数据文件夹中的每个证据文件，指明缺失或被改动者（SHA-256 和大小）；
    将每条状态记录与其最近审计事件记录的摘要比对；给出 --checkpoints 时，以签名检查点核验记录，可发现改动后重算的链、
    被删除的链尾或整条链，以及伪造的检查点。

    Recompute every hash chain and name the first broken event of each; read back every
    evidence file in the data folder and name those missing or altered (SHA-256 and size);
    compare every state row with the digest its latest audit event recorded;
    with --checkpoints, check the record against signed checkpoints, which catch a chain
    recomputed after an edit, a deleted tail or chain, and a forged checkpoint."""
    from sqlmodel import Session

    from flows.service import checkpoint as cp
    from flows.service import row_digests
    from flows.service.audit import verify_all, verify_documents

    signed: cp.Exported | None = None
    if checkpoints is not None:
        try:
            trusted = (
                cp.load_public(public_key.read_bytes(), "--public-key") if public_key is not None else None
            )
            signed = cp.read_export(_read_small(checkpoints, "--checkpoints"), trusted)
        except (OSError, cp.CheckpointError) as exc:
            field, zh, en = (
                (exc.field, exc.zh, exc.en)
                if isinstance(exc, cp.CheckpointError)
                else ("--public-key", "无法读取", "cannot be read")
            )
            fail("INPUT", field, zh, en)
    ctx = context(database)
    with Session(ctx.engine) as session:
        chains, events, breaks = verify_all(session)
        blobs, problems = verify_documents(session, ctx.documents)
        rows, row_problems = row_digests.verify(session)
        checked, findings = cp.verify(session, *signed) if signed else (0, [])
    ctx.engine.dispose()
    for found in breaks:
        typer.echo(
            f"BROKEN chain {found.chain} at seq {found.seq} (event id {found.event_id}): {found.reason}"
        )
    for problem in problems:
        typer.echo(f"BLOB {problem.sha256}: {problem.reason}")
    for row in row_problems:
        typer.echo(row.line())
    for finding in findings:
        typer.echo(f"CHECKPOINT {finding.line()}")
    typer.echo(
        f"已核验审计链 {chains} 条、事件 {events} 个，断裂 {len(breaks)} 处 / "
        f"{chains} chains, {events} events checked, {len(breaks)} broken"
    )
    typer.echo(
        f"已核验证据文件 {blobs} 个，缺失或被改动 {len(problems)} 个 / "
        f"{blobs} evidence files checked, {len(problems)} missing or altered"
    )
    typer.echo(
        f"已按审计摘要核验状态记录 {rows} 条，绕过服务层被改动 {len(row_problems)} 条 / "
        f"{rows} state rows checked against their audit digests, {len(row_problems)} changed behind the service"
    )
    if signed:
        typer.echo(
            f"已核验检查点 {checked} 个，发现问题 {len(findings)} 处 / "
            f"{checked} checkpoints checked, {len(findings)} findings"
        )
    raise typer.Exit(1 if breaks or problems or row_problems or findings else 0)


def _read_small(path: Path, option: str, limit: int = 64 << 20) -> str:
    if not path.is_file():
        fail("INPUT", option, f"文件不存在：{path}", f"no such file: {path}")
    if path.stat().st_size > limit:
        fail("INPUT", option, "文件过大", "the file is too large")
    return path.read_text(encoding="utf-8")


@db_app.command("upgrade", cls=HelpCommand)
def db_upgrade(database: DatabaseOption = None) -> None:
    """应用随软件包发布的数据库迁移（可在任何目录运行）。新数据库将被创建，迁移机制之前建立的数据库会被识别并升级到
    当前版本；从不删除任何内容。

    Apply the migrations shipped with the package (from any directory). A new database is
    created, a database made before the migrations is recognised and brought to the current
    version; nothing is ever dropped."""
    from cli.common import upgrade_database

    was = upgrade_database(database)
    was_zh = {"new": "新建", "current": "原已是当前版本", "behind": "已从旧版本升级"}.get(was, was)
    typer.echo(
        f"数据库已是当前版本（{was_zh}）/ database at head ({'created' if was == 'new' else 'was ' + was})"
    )


ACT_HELP = (
    "经服务层执行一项操作。--actor 为在用账号或 public；生产数据库上操作时间为当前时间，"
    "管理员可用 --backdate 时间 --reason 理由 补记（留审计记录）。"
    "可用操作及其中英文名称：decisionflow act --list。 / "
    "Perform one action through the service layer. --actor names an active user or public; on a "
    "production database the action is dated now, or, by an administrator, back-dated with "
    "--backdate TIME --reason TEXT (audited). The actions and their names: decisionflow act --list."
)


def action_names() -> list[str]:
    """Every action the service layer performs, in the order it registers them."""
    from flows.service import REGISTRY

    return list(REGISTRY)


@app.command("act", cls=HelpCommand, help=ACT_HELP)
def act(
    action_name: Annotated[
        str | None,
        typer.Argument(
            metavar="ACTION",
            help="操作名，如 register_decision（见 --list） / the action, e.g. register_decision (see --list)",
        ),
    ] = None,
    actor: Annotated[
        str | None,
        typer.Option("--actor", metavar="USER", help="执行人账号，或 public / user id, or public"),
    ] = None,
    with_json: Annotated[
        str | None,
        typer.Option("--with", metavar="JSON", help="操作内容，JSON 对象 / the payload as a JSON object"),
    ] = None,
    field: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="KEY=VALUE",
            help="操作内容的一个字段（可重复） / one payload field (repeatable)",
        ),
    ] = None,
    list_actions: Annotated[
        bool,
        typer.Option("--list", help="列出全部操作及其中英文名称 / list every action with its names"),
    ] = False,
    now: NowOption = None,
    backdate: BackdateOption = None,
    reason: ReasonOption = None,
    backdated_by: BackdatedByOption = None,
    database: DatabaseOption = None,
) -> None:
    """Perform one action through the service layer (see ACT_HELP)."""
    from flows.errors import ProcedureError
    from flows.service import Backdate, run_action
    from web.labels import action as action_label

    if list_actions:
        for name in action_names():
            zh, en = action_label(name)
            typer.echo(f"{name}  {zh} / {en}")
        return
    if action_name is None:
        fail(
            "INPUT", "ACTION", "须指明操作（decisionflow act --list 列出全部）", "name an action (see --list)"
        )
    if action_name not in action_names():
        known = ", ".join(action_names())
        fail(
            "INPUT",
            "action",
            f"未知操作 {action_name!r}；可用操作：{known}",
            f"unknown action {action_name!r}; the actions are: {known}",
        )
    if actor is None:
        fail("INPUT", "--actor", "须指明执行人（账号或 public）", "--actor is required (a user id or public)")
    payload: dict[str, Any] = {}
    if with_json:
        loaded = load_json(with_json, "--with")
        if not isinstance(loaded, dict):
            fail("INPUT", "--with", "须为 JSON 对象", "must be a JSON object")
        payload.update(loaded)
    set_keys: set[str] = set()
    for item in field or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            fail("INPUT", "--set", f"{item!r} 须为 key=value", f"{item!r} must be key=value")
        if key in set_keys:
            fail("INPUT", "--set", f"字段 {key!r} 重复给出", f"the field {key!r} is given twice")
        set_keys.add(key)
        payload[key] = set_value(value)
    ctx = context(database)
    moment = parse_now(now)
    late: Backdate | None = None
    if backdate is None and (reason is not None or backdated_by is not None):
        fail(
            "INPUT",
            "--backdate",
            "--reason / --backdated-by 须与 --backdate 同用",
            "--reason needs --backdate",
        )
    if backdate is not None:
        if now is not None:
            fail("INPUT", "--backdate", "--now 与 --backdate 只能给一个", "give either --now or --backdate")
        if not (reason or "").strip():
            fail("INPUT", "--reason", "补记须说明理由", "a back-dating needs --reason")
        at = parse_now(backdate, "--backdate")
        assert at is not None
        late = Backdate(at=at, reason=reason or "", by=backdated_by or actor)
    ctx = context(database)
    try:
        result = run_action(ctx, action_name, actor, payload, now=moment, backdate=late)
    except ProcedureError as exc:
        typer.echo(f"refused {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(
        json.dumps({"ok": True, "action": result.action, **result.data}, ensure_ascii=False, default=str)
    )


def _register_optional_commands() -> None:
    """Sub-command modules register themselves on `app` when they exist."""
    from cli import commands  # noqa: F401


_register_optional_commands()


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover
        sys.exit(130)


__all__ = ["app", "datetime", "main"]
