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
    NowOption,
    ReasonOption,
    context,
    fail,
    parse_now,
)

app = typer.Typer(help="重大行政决策程序引擎 / decisionflow", no_args_is_help=True, add_completion=False)
procedure_app = typer.Typer(help="法定程序 / the statutory procedure", no_args_is_help=True)
scenario_app = typer.Typer(help="场景文件 / scenario files", no_args_is_help=True)
audit_app = typer.Typer(help="审计日志 / the audit log", no_args_is_help=True)
db_app = typer.Typer(help="数据库 / database", no_args_is_help=True)
app.add_typer(procedure_app, name="procedure")
app.add_typer(scenario_app, name="scenario")
app.add_typer(audit_app, name="audit")
app.add_typer(db_app, name="db")


@procedure_app.command("show")
def procedure_show(
    format: Annotated[str, typer.Option("--format", help="table | mermaid")] = "table",
    version: Annotated[str | None, typer.Option(help="procedure version")] = None,
) -> None:
    """Print the procedure with its articles."""
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


@scenario_app.command("run")
def scenario_run(
    files: Annotated[list[Path], typer.Argument(help="scenario YAML files")],
    database: Annotated[
        str, typer.Option("--database", help="database URL; fresh SQLite in memory by default")
    ] = "sqlite://",
) -> None:
    """Run scenario files, each on a fresh database. Exit 0 only if every step met its expectation."""
    from flows.scenario import ScenarioError, run_file
    from models.db import make_engine

    all_passed = True
    for path in files:
        if not path.exists():
            fail("INPUT", "FILE", f"文件不存在：{path}", f"no such file: {path}")
        engine = make_engine(database)
        if engine.dialect.name == "postgresql":
            _reset_postgres(engine)
        try:
            report = run_file(path, engine=engine)
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


def _reset_postgres(engine: Any) -> None:
    """`--database` on PostgreSQL: each file runs on a fresh schema."""
    from sqlmodel import SQLModel

    import models  # noqa: F401

    SQLModel.metadata.drop_all(engine)


@audit_app.command("verify")
def audit_verify(database: DatabaseOption = None) -> None:
    """Recompute every hash chain and name the first broken event of each."""
    from sqlmodel import Session

    from flows.service.audit import verify_all

    ctx = context(database)
    with Session(ctx.engine) as session:
        chains, events, breaks = verify_all(session)
    for found in breaks:
        typer.echo(
            f"BROKEN chain {found.chain} at seq {found.seq} (event id {found.event_id}): {found.reason}"
        )
    typer.echo(f"{chains} chains, {events} events checked, {len(breaks)} broken")
    raise typer.Exit(1 if breaks else 0)


@db_app.command("upgrade")
def db_upgrade(database: DatabaseOption = None) -> None:
    """Apply the Alembic migrations to the database."""
    from cli.common import upgrade_database

    upgrade_database(database)
    typer.echo("database at head")


@app.command("act")
def act(
    action_name: Annotated[str, typer.Argument(metavar="ACTION", help="e.g. register_decision")],
    actor: Annotated[str, typer.Option("--actor", help="user id, or 'public'")],
    with_json: Annotated[str | None, typer.Option("--with", help="the payload as a JSON object")] = None,
    field: Annotated[
        list[str] | None, typer.Option("--set", help="one payload field, key=value (repeatable)")
    ] = None,
    now: NowOption = None,
    backdate: BackdateOption = None,
    reason: ReasonOption = None,
    backdated_by: BackdatedByOption = None,
    database: DatabaseOption = None,
) -> None:
    """Perform one action through the service layer. `--actor` names an active user or
    `public`; on a production database the action is dated now, or, by an administrator,
    back-dated with `--backdate TIME --reason TEXT` (audited)."""
    from flows.errors import ProcedureError
    from flows.service import Backdate, run_action

    payload: dict[str, Any] = {}
    if with_json:
        try:
            loaded = json.loads(with_json)
        except json.JSONDecodeError as exc:
            fail("INPUT", "--with", f"不是有效的 JSON：{exc.msg}", f"not valid JSON: {exc.msg}")
        if not isinstance(loaded, dict):
            fail("INPUT", "--with", "须为 JSON 对象", "must be a JSON object")
        payload.update(loaded)
    for item in field or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            fail("INPUT", "--set", f"{item!r} 须为 key=value", f"{item!r} must be key=value")
        try:
            payload[key] = json.loads(value)
        except json.JSONDecodeError:
            payload[key] = value
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
