"""Importing a catalogue as local governments publish it (XLSX or CSV, procedure.md §9.1):
the header found below merged title rows, the usual column names, units split and created,
是/否, procedures mapped to the procedure's stages; every row imported or reported with its
reason; the whole file in one transaction."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from cli import app
from flows.catalogue_files import generate_catalogue_files
from flows.catalogue_import import ImportReport, import_catalogue
from flows.errors import ProcedureError
from flows.service import ServiceContext, row_digests
from flows.service.audit import verify_all
from models import AuditEvent, CatalogueEntry, Unit
from tests.helpers import act, at, district, snapshot
from tests.test_catalogue import published
from tests.test_cli_core import database  # noqa: F401  (the fixture: the standard district as a URL)

YEAR = 2026
WHEN = "2026-01-10T09:00"


def xlsx(path: Path, title_rows: list[str], header: list[str], rows: list[list[Any]]) -> Path:
    """A workbook as bureaus publish it: title rows merged across the table, then the header."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "附件"
    width = len(header)
    for number, text in enumerate(title_rows, start=1):
        sheet.cell(row=number, column=1, value=text)
        sheet.merge_cells(start_row=number, start_column=1, end_row=number, end_column=width)
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


def import_file(ctx: ServiceContext, path: Path, actor: str = "liu", **extra: Any) -> ImportReport:
    return import_catalogue(ctx, path, year=YEAR, actor=actor, now=at(WHEN), **extra)


def entries(ctx: ServiceContext) -> dict[str, CatalogueEntry]:
    with Session(ctx.engine) as session:
        return {
            e.matter_name: e for e in session.exec(select(CatalogueEntry).order_by(col(CatalogueEntry.seq)))
        }


def units(ctx: ServiceContext) -> dict[str, str]:
    with Session(ctx.engine) as session:
        return {u.name: u.code for u in session.exec(select(Unit))}


def reasons(report: ImportReport) -> dict[int, str]:
    return {p.row: f"{p.zh} / {p.en}" for p in report.problems}


def fields(e: CatalogueEntry) -> tuple[Any, ...]:
    """What a catalogue file carries of an entry."""
    return (
        e.matter_name,
        e.main_content,
        e.unit_codes,
        e.procedures_required,
        e.hearing_required,
        e.legal_basis,
        e.planned_decision_time,
    )


def every_row_accounted_for(report: ImportReport, data_rows: set[int]) -> None:
    imported = {r.row for r in report.imported}
    reported = {p.row for p in report.problems}
    assert not imported & reported
    assert imported | reported == data_rows


def test_a_meixian_style_workbook_with_merged_titles_and_the_hearing_column(
    ctx: ServiceContext, tmp_path: Path
) -> None:
    """Meixian District 2022: 序号 · 决策事项名称 · 承办单位 · 是否听证, with a section heading,
    units joined by 、, a unit the district does not have yet, and bad rows."""
    district(ctx)
    path = xlsx(
        tmp_path / "meixian.xlsx",
        ["附件", "香洲区2026年度重大行政决策事项目录", "（经区委同意，2026年2月12日）"],
        ["序号", "决策事项名称", "承办单位", "是否听证"],
        [
            ["一、经济社会发展类", None, None, None],
            [1, "旧城改造房屋征收补偿标准", "区住房和城乡建设局、区自然资源局", "是"],
            [2, "招商引资若干扶持政策", "区商务局", "否"],
            [None, None, None, None],  # blank: not a row
            [3, "既有住宅加装电梯补贴办法", "区财政局（牵头）、区住房和城乡建设局", "否"],
            [4, None, "区商务局", "否"],
            [5, "农贸市场升级改造方案", "、 ", "否"],
            [6, "公共停车场收费标准", "区发展和改革局", "待定"],
            ["注：本目录实行动态管理。", None, None, None],
        ],
    )
    report = import_file(ctx, path)
    assert report.header_row == 4 and report.sheet == "附件"
    assert report.columns == {
        "序号": "seq",
        "决策事项名称": "matter_name",
        "承办单位": "units",
        "是否听证": "hearing",
    }
    every_row_accounted_for(report, {5, 6, 7, 9, 10, 11, 12, 13})
    assert [(r.row, r.entry) for r in report.imported] == [(6, "E1"), (7, "E2"), (9, "E3")]
    why = reasons(report)
    assert "标题" in why[5] and "heading" in why[5]
    assert "缺少决策事项名称" in why[10] and "matter name is missing" in why[10]
    assert "承办单位为空" in why[11] and "undertaking unit is empty" in why[11]
    assert "待定" in why[12] and "是 或 否" in why[12]
    assert "标题" in why[13]  # the note under the table
    assert all(str(p).startswith(f"第{p.row}行：") for p in report.problems)

    # missing units are created, by the administrator, audited
    created = dict(report.units_created)
    assert sorted(created.values()) == ["区自然资源局", "区财政局"]
    known = units(ctx)
    assert known["区自然资源局"] in created and known["区财政局"] in created
    assert "区发展和改革局" in known  # the standard district has it already: matched by name
    found = entries(ctx)
    renewal = found["旧城改造房屋征收补偿标准"]
    assert renewal.unit_codes == ["housing", known["区自然资源局"]] and renewal.hearing_required
    assert renewal.procedures_required == ["hearing"] and renewal.status == "proposed"
    elevators = found["既有住宅加装电梯补贴办法"]
    assert elevators.unit_codes == [known["区财政局"], "housing"]  # the unit marked 牵头 leads
    assert not found["招商引资若干扶持政策"].hearing_required
    assert {e.category for e in found.values()} == {5} and report.rows_with_default_category == 3
    with Session(ctx.engine) as session:
        events = session.exec(
            select(AuditEvent).where(col(AuditEvent.action).in_(["add_unit", "propose_catalogue_entry"]))
        ).all()
    assert sorted(e.action for e in events) == ["add_unit"] * 2 + ["propose_catalogue_entry"] * 3
    assert {e.actor for e in events} == {"liu"}
    with Session(ctx.engine) as session:  # one transaction, every event and row digest in order
        assert verify_all(session)[2] == [] and row_digests.verify(session)[1] == []

    # imported again: every matter is already there, nothing is written twice
    before = snapshot(ctx)
    again = import_file(ctx, path)
    assert again.imported == [] and snapshot(ctx) == before
    assert "已有此事项（E1）" in reasons(again)[6]


def test_a_panyu_style_workbook_with_procedures_content_and_dates(
    ctx: ServiceContext, tmp_path: Path
) -> None:
    """Panyu 2017 and a Jiangxi district 2025: 决策事项 · 决策事项主要内容 · 组织承办部门 ·
    决策事项程序 · 决策中是否需听证 · 决策时间 (a date cell); headers broken over lines."""
    district(ctx)
    path = xlsx(
        tmp_path / "panyu.xlsx",
        ["2026年重大行政决策事项目录"],
        [
            "序号",
            "决策\n事项",
            "决策事项主要内容",
            "组织承办部门",
            "决策事项程序",
            "决策中是否需听证",
            "决策时间",
            "备注",
        ],
        [
            [
                1,
                "旧城改造房屋征收补偿标准",
                "制定补偿标准",
                "区住房和城乡建设局",
                "公众参与、专家论证、风险评估、合法性审查、集体讨论决定",
                "是",
                datetime(2026, 7, 1),
                "",
            ],
            [
                2,
                "招商引资若干扶持政策",
                "扶持政策",
                "区商务局",
                "公开征求意见，公平竞争审查，合法性审查",
                "否",
                "2026年第二季度",
                "",
            ],
            [3, "区级储备粮轮换方案", "轮换", "区商务局", "公众参与、民主测评", "否", "2026年9月", ""],
            [4, "x" * 301, "", "区商务局", "", "否", "", ""],
        ],
    )
    report = import_file(ctx, path)
    assert report.header_row == 2 and report.ignored_columns == ["备注"]
    every_row_accounted_for(report, {3, 4, 5, 6})
    assert {r.row for r in report.imported} == {3, 4}
    why = reasons(report)
    assert "民主测评" in why[5] and "unknown procedure" in why[5]
    assert "决策事项名称" in why[6] and "matter_name" in why[6]
    found = entries(ctx)
    renewal = found["旧城改造房屋征收补偿标准"]
    assert renewal.procedures_required == [
        "public_participation",
        "hearing",
        "expert_review",
        "risk_assessment",
    ]
    assert renewal.main_content == "制定补偿标准" and renewal.planned_decision_time == "2026年7月"
    investment = found["招商引资若干扶持政策"]
    assert investment.procedures_required == ["public_participation", "fair_competition_review"]
    assert investment.planned_decision_time == "2026年第二季度" and report.units_created == []


def test_a_gb18030_csv_with_lead_and_cooperating_units_and_a_category(
    ctx: ServiceContext, tmp_path: Path
) -> None:
    """Danxi 2023 and Tangyuankou 2025 style, saved by Excel as CSV (GB18030): 项目名称 ·
    牵头承办单位 · 配合单位 · 法律政策依据 · 履行程序要求 · 计划完成时间 · 事项类别."""
    district(ctx)
    lines = [
        ["2026年度重大行政决策事项目录", "", "", "", "", "", "", ""],
        [
            "序号",
            "项目名称",
            "牵头承办单位",
            "配合单位",
            "法律政策依据",
            "履行程序要求",
            "计划完成时间",
            "事项类别",
        ],
        [
            "1",
            "区国土空间总体规划",
            "区自然资源局",
            "区住房和城乡建设局；区发展和改革局",
            "《土地管理法》",
            "公众参与；专家论证；合法性审查；集体讨论决定",
            "2026年12月",
            "重要规划",
        ],
        ["2", "区养老服务设施布局", "区民政局", "", "", "听证、公众参与", "2026年10月", "2"],
        ["3", "区公共交通票价调整", "区交通运输局", "", "《价格法》", "公众参与", "2026年8月", "7"],
        ["4", "区河道整治工程", "", "区水务局", "", "", "", "4"],
    ]
    buffer = io.StringIO()
    csv.writer(buffer).writerows(lines)
    path = tmp_path / "danxi.csv"
    path.write_bytes(buffer.getvalue().encode("gb18030"))
    report = import_file(ctx, path)
    assert report.header_row == 2
    every_row_accounted_for(report, {3, 4, 5, 6})
    why = reasons(report)
    assert "类别" in why[5] and "category" in why[5]
    assert "承办单位为空" in why[6]
    found = entries(ctx)
    known = units(ctx)
    plan = found["区国土空间总体规划"]
    assert plan.category == 2 and plan.legal_basis == "《土地管理法》"
    assert plan.unit_codes == [known["区自然资源局"], "housing", "evaluator"]
    assert plan.procedures_required == ["public_participation", "expert_review"]
    care = found["区养老服务设施布局"]
    assert (
        care.category == 2
        and care.hearing_required
        and care.procedures_required == ["public_participation", "hearing"]
    )
    # units only rows that failed would need are not created
    assert "区交通运输局" not in known and "区水务局" not in known
    assert sorted(name for _, name in report.units_created) == ["区民政局", "区自然资源局"]


def test_a_wuyang_style_workbook_with_a_yes_no_column_per_procedure(
    ctx: ServiceContext, tmp_path: Path
) -> None:
    """Wuyang County 2021: 计划决策时间 and 是否履行X columns for each procedure."""
    district(ctx)
    path = xlsx(
        tmp_path / "wuyang.xlsx",
        ["武阳县2021年度重大行政决策事项目录"],
        [
            "序号",
            "决策事项名称",
            "承办单位",
            "计划决策时间",
            "是否履行公众参与",
            "是否履行听证程序",
            "是否履行专家论证",
            "是否履行风险评估",
            "是否履行公平竞争审查",
        ],
        [
            [1, "城区集中供热价格调整", "区发展和改革局", "第一季度", "是", "是", "否", "是", "否"],
            [2, "城区停车秩序管理办法", "区住房和城乡建设局", "第三季度", "是", "否", "否", "否", "也许"],
        ],
    )
    report = import_file(ctx, path)
    every_row_accounted_for(report, {3, 4})
    assert [r.row for r in report.imported] == [3] and "也许" in reasons(report)[4]
    heating = entries(ctx)["城区集中供热价格调整"]
    assert heating.procedures_required == ["public_participation", "hearing", "risk_assessment"]
    assert heating.hearing_required and heating.planned_decision_time == "第一季度"


def test_the_export_reads_back_into_another_year(ctx: ServiceContext) -> None:
    district(ctx)
    act(
        ctx,
        "propose_catalogue_entry",
        "li",
        WHEN,
        year=YEAR,
        matter_name="旧城改造房屋征收补偿标准",
        category=1,
        units=["housing"],
        procedures_required=["expert_review"],
        hearing_required=True,
        legal_basis="《国有土地上房屋征收与补偿条例》",
        planned_decision_time="2026年第三季度",
    )
    act(
        ctx,
        "propose_catalogue_entry",
        "sun",
        WHEN,
        year=YEAR,
        matter_name="招商引资若干扶持政策",
        category=1,
        units=["commerce", "housing"],
        lead_unit="commerce",
        main_content="第一行\n第二行",
    )
    files = generate_catalogue_files(ctx, YEAR, now=at(WHEN))
    for fmt, year in (("csv", 2027), ("xlsx", 2028)):
        report = import_catalogue(
            ctx, files.decisions[fmt], year=year, actor="liu", now=at(WHEN), default_category=1
        )
        assert report.problems == [] and report.units_created == [] and len(report.imported) == 2
        assert report.ignored_columns == ["状态"]
        with Session(ctx.engine) as session:
            rows = session.exec(select(CatalogueEntry).order_by(col(CatalogueEntry.id))).all()
        assert [fields(e) for e in rows[-2:]] == [fields(e) for e in rows[:2]]


FORMULAS = ['=HYPERLINK("http://evil.example","点击")', "+1+1", "-2+3", "@SUM(A1)", "'=已转义"]


def test_the_csv_export_runs_no_formula_and_reads_back_the_same_text(ctx: ServiceContext) -> None:
    """A matter whose text starts like a formula is written as text (a leading apostrophe),
    so a reader's spreadsheet never runs it (CSV injection); the import gives back the text."""
    district(ctx)
    for index, name in enumerate(FORMULAS):
        act(
            ctx,
            "propose_catalogue_entry",
            "li",
            WHEN,
            year=YEAR,
            matter_name=name,
            category=1,
            units=["housing"],
            legal_basis=FORMULAS[-1 - index],
        )
    files = generate_catalogue_files(ctx, YEAR, now=at(WHEN))
    cells = [
        cell for row in csv.reader(io.StringIO(files.decisions["csv"].read_text("utf-8-sig"))) for cell in row
    ]
    for name in FORMULAS:
        assert name not in cells and f"'{name}" in cells
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@")]
    report = import_catalogue(
        ctx, files.decisions["csv"], year=2027, actor="liu", now=at(WHEN), default_category=1
    )
    assert report.problems == [] and len(report.imported) == len(FORMULAS)
    with Session(ctx.engine) as session:
        rows = session.exec(select(CatalogueEntry).order_by(col(CatalogueEntry.id))).all()
    assert [fields(e) for e in rows[len(FORMULAS) :]] == [fields(e) for e in rows[: len(FORMULAS)]]
    assert {e.matter_name for e in rows[len(FORMULAS) :]} == set(FORMULAS)


def test_a_refusal_while_writing_writes_nothing(ctx: ServiceContext, tmp_path: Path) -> None:
    published(ctx)  # the standard district, with its 2026 catalogue published
    path = xlsx(
        tmp_path / "c.xlsx",
        ["目录"],
        ["序号", "决策事项名称", "承办单位"],
        [[1, "区国土空间总体规划", "区自然资源局"], [2, "区养老服务设施布局", "区商务局"]],
    )
    before = snapshot(ctx)
    # a department may not create units (admin only): refused, and the other row is not written either
    with pytest.raises(ProcedureError) as refused:
        import_catalogue(ctx, path, year=2027, actor="sun", now=at("2026-03-01T09:00"))
    assert refused.value.rule_id == "AUTH" and "区自然资源局" in refused.value.message_zh
    assert "未导入任何内容" in refused.value.message_zh and "nothing was imported" in refused.value.message_en
    assert snapshot(ctx) == before

    # the year's catalogue is published: new matters come in by adjustment (Art. 3(3))
    with pytest.raises(ProcedureError) as late:
        import_catalogue(ctx, path, year=YEAR, actor="liu", now=at("2026-03-01T09:00"))
    assert late.value.rule_id == "STATE" and "第3行" in late.value.message_zh
    assert snapshot(ctx) == before

    no_header = tmp_path / "x.csv"
    no_header.write_text("名称,单位\n甲,乙\n", encoding="utf-8")
    with pytest.raises(ProcedureError) as bad:
        import_file(ctx, no_header)
    assert bad.value.field == "FILE" and "表头" in bad.value.message_zh


def test_the_import_command(database: str, tmp_path: Path) -> None:  # noqa: F811
    path = xlsx(
        tmp_path / "c.xlsx",
        ["目录"],
        ["序号", "决策事项名称", "承办单位", "是否听证"],
        [[1, "区国土空间总体规划", "区自然资源局", "否"], [2, "招商引资若干扶持政策", "", "否"]],
    )
    runner = CliRunner()
    base = ["catalogue", "import", str(path), "--year", "2026", "--database", database, "--now", WHEN]
    partly = runner.invoke(app, [*base, "--actor", "liu"])
    assert partly.exit_code == 1, partly.output
    assert "第3行 → 2026/E1 区国土空间总体规划" in partly.output
    assert "新建单位 / unit created: U" in partly.output
    assert "第4行：承办单位为空 / row 4: the undertaking unit is empty" in partly.output
    assert "已导入 1 行，未导入 1 行" in partly.output

    clean = xlsx(
        tmp_path / "d.xlsx",
        [],
        ["序号", "决策事项名称", "承办单位"],
        [[1, "招商引资若干扶持政策", "区商务局"]],
    )
    done = runner.invoke(
        app,
        [
            "catalogue",
            "import",
            str(clean),
            "--year",
            "2026",
            "--database",
            database,
            "--now",
            WHEN,
            "--actor",
            "sun",
        ],
    )
    assert done.exit_code == 0, done.output
    missing = runner.invoke(app, [*base, "--actor", "nobody"])
    assert missing.exit_code == 2 and "nobody" in missing.output
    absent = runner.invoke(
        app,
        [
            "catalogue",
            "import",
            str(tmp_path / "none.xlsx"),
            "--year",
            "2026",
            "--database",
            database,
            "--actor",
            "liu",
        ],
    )
    assert absent.exit_code == 2 and "[FILE]" in absent.output
