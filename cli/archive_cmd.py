"""`decisionflow archive build` and `archive verify`: the archive dossier of one decision
(一事一档, Art. 33) as a ZIP, and its offline verification (no database needed)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from cli import app
from cli.common import DatabaseOption, HelpCommand, HelpGroup, context, fail

archive_app = typer.Typer(cls=HelpGroup, help="决策档案 / the archive dossier", no_args_is_help=True)
app.add_typer(archive_app, name="archive")


@archive_app.command("build", cls=HelpCommand)
def archive_build(
    code: Annotated[
        str,
        typer.Argument(
            metavar="CODE", help="决策编号，如 SF-2026-001 / the decision's code, e.g. SF-2026-001"
        ),
    ],
    actor: Annotated[
        str,
        typer.Option(
            "--actor",
            metavar="USER",
            help="生成人账号；依法不予公开的决策须在其中有职责 / who builds it (user id); a confidential decision needs a role on it",
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            metavar="FOLDER",
            help="档案 CODE.zip 的存放文件夹（默认：数据文件夹下的 dossiers） / the folder to write CODE.zip to (default: dossiers/ in the data folder)",
        ),
    ] = None,
    database: DatabaseOption = None,
) -> None:
    """生成已归档决策的档案（一事一档）：按归档顺序的目录（HTML、CSV、JSON）、全部证据文件、数据库中的文本、
    审计链、覆盖它的最近签名检查点，以及每个文件 SHA-256 的清单。同一记录重复生成得到相同字节。档案为内部档案：
    生成人须为具名用户，依法不予公开的决策须在其中有职责（承办单位、法制机构、政府办公室、会议、党委联络人或监督人员）。

    Build the dossier of an archived decision: its index in archival order (HTML, CSV,
    JSON), every evidence document, the texts held in the database, its audit chain, the
    latest signed checkpoint covering it, and a manifest of every file's SHA-256. Building
    again gives the same bytes for the same record. The dossier is an internal archive: the
    actor must be a named user, and for a confidential decision one with a role on it
    (its units, the legal office, the government office, the meeting, the Party liaison or a
    supervisor)."""
    from sqlmodel import Session

    from flows.dossier import build_dossier
    from flows.errors import ProcedureError
    from flows.service.access import check_read, load_reader
    from flows.timeline import find_decision

    if out is not None and out.exists() and not out.is_dir():
        fail("INPUT", "--out", f"不是文件夹：{out}", f"not a folder: {out}")
    ctx = context(database)
    with Session(ctx.engine) as session:
        try:
            _, decision = find_decision(session, code)
        except ProcedureError:
            fail("NOT_FOUND", "CODE", f"决策 {code} 不存在", f"no decision {code}")
        try:
            reader = load_reader(session, actor)
            if reader is None or reader.user_id is None:
                fail(
                    "AUTH",
                    "--actor",
                    "决策档案为内部档案，须由具名用户生成",
                    "the dossier is an internal archive: a named user builds it",
                )
            check_read(reader, decision)
        except ProcedureError as exc:
            fail(exc.rule_id, "--actor", exc.message_zh, exc.message_en)
    try:
        path = build_dossier(ctx, code, out_dir=out, now=datetime.now(UTC))
    except ProcedureError as exc:
        fail(exc.rule_id, exc.field or "CODE", exc.message_zh, exc.message_en)
    except OSError as exc:
        fail("INPUT", "--out", f"无法写入档案：{exc}", f"cannot write the dossier: {exc}")
    finally:
        ctx.engine.dispose()
    typer.echo(f"已生成决策档案 / dossier written: {path}")


@archive_app.command("verify", cls=HelpCommand)
def archive_verify(
    file: Annotated[
        Path,
        typer.Argument(
            metavar="FILE.ZIP", help="由 archive build 生成的档案 / a dossier made by archive build"
        ),
    ],
    public_key: Annotated[
        Path | None,
        typer.Option(
            "--public-key",
            metavar="FILE",
            help="你信任的检查点公钥（默认：档案内的公钥） / the checkpoint public key you trust (default: the one inside the dossier)",
        ),
    ] = None,
) -> None:
    """无需数据库核验档案：清单中每个文件都在且 SHA-256 相符，别无他物；审计链逐条重算且无缺号；每份证据文件即审计链
    所记录的那份；签名检查点的签名成立，审计链仍以其签名的链头为准。指明缺失或被改动之处（文件，或审计事件序号）。
    退出码 0 通过，1 未通过，2 输入不可用。

    Check a dossier with no database: every file listed in the manifest is present with its
    SHA-256 and nothing else is in it; the audit chain recomputes, event by event and without
    gaps; every evidence document is the one the chain recorded; the signed checkpoint's
    signature holds and the chain still has the head it signed. Names what is missing or
    altered (the file, or the audit event's seq). Exit 0 verified, 1 failed, 2 unusable input."""
    from flows.dossier import UnusableDossier, verify_dossier
    from flows.service import checkpoint as cp

    trusted = None
    if public_key is not None:
        try:
            trusted = cp.load_public(public_key.read_bytes(), "--public-key")
        except OSError:
            fail("INPUT", "--public-key", f"无法读取 {public_key}", f"cannot read {public_key}")
        except cp.CheckpointError as exc:
            fail("INPUT", exc.field, exc.zh, exc.en)
    try:
        result = verify_dossier(file, trusted)
    except UnusableDossier as exc:
        fail("INPUT", "FILE", exc.zh, exc.en)
    for finding in result.findings:
        typer.echo(finding.line())
    typer.echo(
        f"决策 {result.decision or '?'}：清单列出 {result.files} 个文件，审计链含 {result.events} 个事件"
        f" / decision {result.decision or '?'}: {result.files} files listed, {result.events} audit events"
        " in the chain"
    )
    if result.checkpoint is not None:
        source = (
            ("所给公钥", "the key given")
            if result.key_given
            else ("档案内附公钥", "the key inside the dossier")
        )
        typer.echo(
            f"检查点 {result.checkpoint} 已用{source[0]}核验（密钥标识 {result.key_id}，请与公布的标识核对）"
            f" / checkpoint {result.checkpoint} checked with {source[1]} (key id {result.key_id}; compare it"
            " with the published one)"
        )
    else:
        typer.echo("档案中没有签名检查点 / the dossier holds no signed checkpoint")
    if result.findings:
        typer.echo(
            f"核验未通过：{len(result.findings)} 处缺失或被改动 / verification FAILED: "
            f"{len(result.findings)} missing or altered"
        )
        raise typer.Exit(1)
    typer.echo("核验通过 / verified")
