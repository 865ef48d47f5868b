"""`decisionflow catalogue export` and `catalogue import`: the year's decision and hearing
catalogues as files, and a catalogue file (XLSX or CSV, as local governments publish them)
proposed into the year's draft catalogue. Thin adapters over flows/catalogue_files.py and
flows/catalogue_import.py."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from cli import app
from cli.common import (
    DatabaseOption,
    HelpCommand,
    HelpGroup,
    NowOption,
    ReadNowOption,
    context,
    fail,
    parse_now,
)

catalogue_app = typer.Typer(
    cls=HelpGroup, help="决策事项目录、听证目录 / the annual catalogues (Art. 3(3))", no_args_is_help=True
)
app.add_typer(catalogue_app, name="catalogue")

FORMAT_CHOICES = ("html", "docx", "xlsx", "csv", "json", "all")
YearOption = Annotated[int, typer.Option("--year", help="the catalogue's year, e.g. 2026")]


@catalogue_app.command("export", cls=HelpCommand)
def export(
    year: YearOption,
    version: Annotated[
        int | None,
        typer.Option("--version", help="version number (default: the published one, else the current)"),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="html | docx | xlsx | csv | json | all")] = "all",
    out: Annotated[
        Path | None,
        typer.Option("--out", help="output folder (default: <data folder>/catalogues/<year>/v<n>)"),
    ] = None,
    database: DatabaseOption = None,
    now: ReadNowOption = None,
) -> None:
    """Write the decision catalogue and the hearing catalogue of a year and version."""
    from documents.catalogue import FORMATS
    from flows.catalogue_files import generate_catalogue_files
    from flows.errors import ProcedureError

    if fmt not in FORMAT_CHOICES:
        fail(
            "INPUT",
            "--format",
            f"未知格式 {fmt!r}（可用 {' | '.join(FORMAT_CHOICES)}）",
            f"unknown format {fmt!r} (one of {' | '.join(FORMAT_CHOICES)})",
        )
    if out is not None and out.exists() and not out.is_dir():
        fail("INPUT", "--out", f"不是文件夹：{out}", f"not a folder: {out}")
    moment = parse_now(now) or datetime.now(UTC)
    ctx = context(database)
    try:
        files = generate_catalogue_files(
            ctx, year, version=version, out_dir=out, now=moment, formats=FORMATS if fmt == "all" else (fmt,)
        )
    except ProcedureError as exc:
        fail(exc.rule_id, _option(exc.field), exc.message_zh, exc.message_en)
    finally:
        ctx.engine.dispose()
    standing = "已发布 published" if files.published else f"未发布 not published ({files.version_status})"
    typer.echo(f"{year}年度目录 第{files.version}版 / {year} catalogue version {files.version}: {standing}")
    for path in files.paths:
        typer.echo(str(path))


@catalogue_app.command("import", cls=HelpCommand)
def import_file(
    file: Annotated[Path, typer.Argument(help="the catalogue, XLSX or CSV (UTF-8 or GB18030)")],
    year: YearOption,
    actor: Annotated[
        str,
        typer.Option(
            "--actor",
            help="who enters it: an administrator (creates missing units; proposes for any unit), or a"
            " department for its own matters",
        ),
    ],
    category: Annotated[
        int, typer.Option("--category", help="Art. 3(1) category 1-5 for rows without a 类别 column")
    ] = 5,
    database: DatabaseOption = None,
    now: NowOption = None,
) -> None:
    """Propose every row of a catalogue as local governments publish it into the year's draft catalogue, in one transaction; rows that cannot be read are listed with their row numbers and reasons.

    Exit 0: every row imported; 1: some rows reported, the others imported; 2: nothing imported (a bad file, a refusal)."""
    from flows.catalogue_import import import_catalogue
    from flows.errors import ProcedureError

    moment = parse_now(now)
    ctx = context(database)
    try:
        report = import_catalogue(ctx, file, year=year, actor=actor, now=moment, default_category=category)
    except ProcedureError as exc:
        fail(exc.rule_id, _option(exc.field), exc.message_zh, exc.message_en)
    finally:
        ctx.engine.dispose()
    typer.echo(
        f"表 {report.sheet}，表头在第{report.header_row}行 / sheet {report.sheet}, header on row {report.header_row}"
    )
    if report.ignored_columns:
        typer.echo(f"未使用的列 / columns not used: {'、'.join(report.ignored_columns)}")
    for row in report.imported:
        typer.echo(f"第{row.row}行 → {year}/{row.entry} {row.matter_name}")
    for code, name in report.units_created:
        typer.echo(f"新建单位 / unit created: {code} {name}")
    if report.rows_with_default_category:
        typer.echo(
            f"{report.rows_with_default_category} 行未注明类别，按第{report.default_category}类登记"
            f" / {report.rows_with_default_category} rows without a category were entered as category"
            f" {report.default_category}"
        )
    for problem in report.problems:
        typer.echo(f"未导入 not imported: {problem}", err=True)
    typer.echo(
        f"已导入 {len(report.imported)} 行，未导入 {len(report.problems)} 行"
        f" / {len(report.imported)} rows imported, {len(report.problems)} not imported"
    )
    if report.problems:
        raise typer.Exit(1)


def _option(field: str | None) -> str:
    """The command-line option an error's field stands for."""
    return {
        "year": "--year",
        "version": "--version",
        "format": "--format",
        "out_dir": "--out",
        "actor": "--actor",
        "category": "--category",
    }.get(field or "", field or "FILE")
