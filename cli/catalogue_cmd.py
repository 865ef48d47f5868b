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
YearOption = Annotated[
    int, typer.Option("--year", metavar="YEAR", help="目录年度，如 2026 / the catalogue's year, e.g. 2026")
]


@catalogue_app.command("export", cls=HelpCommand)
def export(
    year: YearOption,
    version: Annotated[
        int | None,
        typer.Option(
            "--version",
            metavar="N",
            help="版本号（默认：已公布的版本，否则为当前版本） / version number (default: the published one, else the current)",
        ),
    ] = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format", metavar="FORMAT", help="格式：html | docx | xlsx | csv | json | all / the format"
        ),
    ] = "all",
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            metavar="FOLDER",
            help="输出文件夹（默认：数据文件夹下的 catalogues/YEAR/vN） / output folder (default: catalogues/YEAR/vN in the data folder)",
        ),
    ] = None,
    database: DatabaseOption = None,
    now: ReadNowOption = None,
) -> None:
    """导出某年度某版本的决策事项目录和听证事项目录。 / Write the decision catalogue and the hearing
    catalogue of a year and version."""
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
    file: Annotated[
        Path,
        typer.Argument(
            metavar="FILE",
            help="目录文件，XLSX 或 CSV（UTF-8 或 GB18030） / the catalogue, XLSX or CSV (UTF-8 or GB18030)",
        ),
    ],
    year: YearOption,
    actor: Annotated[
        str,
        typer.Option(
            "--actor",
            metavar="USER",
            help="录入人：管理员（补建缺少的单位；可为任一单位申报），或为本单位事项申报的部门人员 / who enters it:"
            " an administrator (creates missing units; proposes for any unit), or a department for its own matters",
        ),
    ],
    category: Annotated[
        int,
        typer.Option(
            "--category",
            metavar="N",
            help="没有“类别”列的行所用的第三条第一款类别 1-5 / Art. 3(1) category 1-5 for rows without a 类别 column",
        ),
    ] = 5,
    database: DatabaseOption = None,
    now: NowOption = None,
) -> None:
    """将地方政府公布格式的目录逐行申报进当年的目录草案，在一个事务中完成；无法读取的行列出行号和原因。 / Propose
    every row of a catalogue as local governments publish it into the year's draft catalogue, in one
    transaction; rows that cannot be read are listed with their row numbers and reasons.

    退出码 0：全部导入；1：部分行被报告，其余已导入；2：未导入任何行（文件有误或被拒绝）。

    Exit 0: every row imported; 1: some rows reported, the others imported; 2: nothing imported (a bad
    file, a refusal)."""
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
