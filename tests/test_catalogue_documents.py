"""The catalogues as documents (Art. 3(3), GD-H Art. 3, R21): the decision catalogue and
the hearing catalogue of a year and version, in HTML, DOCX, XLSX, CSV and JSON, read back
and checked against the database."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import docx
import openpyxl
import pytest
from docx.enum.section import WD_ORIENT
from sqlmodel import Session, select
from typer.testing import CliRunner

from cli import app
from documents.catalogue import FORMATS
from flows.catalogue_files import generate_catalogue_files
from flows.demo import ORGAN, build_demo
from flows.errors import ProcedureError
from flows.service import ServiceContext
from flows.service.catalogue import catalogue_rows, catalogue_versions
from models import CatalogueEntry, Decision
from models.db import mark_database
from tests.helpers import act, at, district
from tests.test_catalogue import ELEVATORS, INVESTMENT, RENEWAL, party_approved, publish, published
from tests.test_cli_core import database  # noqa: F401  (the fixture: the standard district as a URL)

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
HEADER = [
    "序号",
    "决策事项名称",
    "主要内容",
    "承办单位",
    "配合单位",
    "法律政策依据",
    "履行程序",
    "是否听证",
    "计划完成时间",
    "状态",
]
# the status column, from the linked decision's status (an independent statement of the rule)
EXPECTED_STATUS = {
    None: "未启动",
    "proposed": "未启动",
    "in_procedure": "推进中",
    "decided": "已完成",
    "published": "已完成",
    "archived": "已完成",
    "rejected": "暂缓/调整",
    "suspended": "暂缓/调整",
    "terminated": "暂缓/调整",
}
YEAR = 2026


def docx_table(path: Path) -> list[list[str]]:
    document = docx.Document(str(path))
    assert len(document.tables) == 1
    return [[cell.text for cell in row.cells] for row in document.tables[0].rows]


def xlsx_rows(path: Path) -> tuple[Any, list[list[Any]]]:
    workbook = openpyxl.load_workbook(path)
    sheet = workbook.active
    return sheet, [list(row) for row in sheet.iter_rows(values_only=True)]


def csv_rows(path: Path) -> list[list[str]]:
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")  # the byte-order mark Excel needs to read UTF-8
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def expected_rows(session: Session, year: int, version: int) -> list[list[str]]:
    """The decision catalogue's table as the database says it should read."""
    rows = catalogue_rows(session, 1, year, version)
    entries = {e.code: e for e in session.exec(select(CatalogueEntry))}
    latest: dict[int, Decision] = {}
    for decision in session.exec(select(Decision)):
        if decision.catalogue_entry_id is not None:
            latest[decision.catalogue_entry_id] = decision
    table = []
    for row in rows:
        entry = entries[row["code"]]
        decision = latest.get(entry.id or 0)
        names = dict(zip(row["undertaking_units"], row["undertaking_unit_names"], strict=True))
        procedures = {
            "public_participation": "公众参与",
            "hearing": "听证",
            "expert_review": "专家论证",
            "risk_assessment": "风险评估",
            "fair_competition_review": "公平竞争审查",
        }
        listed = [procedures[p] for p in procedures if p in row["procedures_required"]]
        table.append(
            [
                str(row["seq"]),
                row["matter_name"],
                row["main_content"],
                row["lead_unit_name"],
                "、".join(names[c] for c in row["cooperating_units"]),
                row["legal_policy_basis"],
                "、".join([*listed, "合法性审查", "集体讨论决定"]),
                "是" if row["hearing_required"] else "否",
                row["planned_decision_time"],
                EXPECTED_STATUS[decision.status.value if decision else None],
            ]
        )
    return table


@pytest.fixture
def demo(ctx: ServiceContext) -> ServiceContext:
    mark_database(ctx.engine, "demo", "tests")
    result = build_demo(ctx, NOW)
    assert result.catalogue_year == YEAR
    return ctx


def test_the_demo_catalogues_in_every_format_match_the_database(demo: ServiceContext, tmp_path: Path) -> None:
    files = generate_catalogue_files(demo, YEAR, now=NOW)
    # the published version in force by default: the demo adjusted its catalogue once
    assert (files.version, files.version_status, files.published) == (2, "published", True)
    assert demo.data_dir is not None and files.directory == demo.data_dir / "catalogues" / "2026" / "v2"
    assert sorted(files.decisions) == sorted(files.hearings) == sorted(FORMATS)
    with Session(demo.engine) as session:
        expected = expected_rows(session, YEAR, 2)
        version = next(v for v in catalogue_versions(session, 1, YEAR) if v["version"] == 2)
        confidential = session.exec(
            select(Decision).where(Decision.title == "区应急物资储备库布局方案")
        ).one()
    published_on = version["published_on"]
    assert len(expected) == 11
    # a real catalogue: every status occurs, and the confidential matter is not disclosed
    assert {row[-1] for row in expected} == {"已完成", "推进中", "暂缓/调整", "未启动"}
    assert confidential.catalogue_entry_id is None
    assert all(row[1] != confidential.title for row in expected)
    title = f"{YEAR}年度{ORGAN}重大行政决策事项目录"
    y, m, d = (int(part) for part in published_on.split("-"))

    # DOCX: the official document, landscape, title, organ, version, published date, table
    document = docx.Document(str(files.decisions["docx"]))
    texts = [p.text for p in document.paragraphs]
    assert texts[0] == ORGAN and texts[1] == title
    assert f"第2版　　{y}年{m}月{d}日发布" in texts
    assert any("区委常委会2026年第9次会议同意" in t for t in texts)
    section = document.sections[0]
    assert section.orientation == WD_ORIENT.LANDSCAPE and section.page_width > section.page_height
    assert docx_table(files.decisions["docx"]) == [HEADER, *expected]
    header_row = document.tables[0].rows[0]._tr
    assert (
        header_row.trPr is not None
        and header_row.trPr.find("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}tblHeader")
        is not None
    )  # repeated on every page
    core = document.core_properties
    assert core.title == title and core.created == core.modified
    assert core.created is not None and core.created.date().isoformat() == published_on

    # XLSX: merged title row, the organ line, the frozen header row, then the rows
    sheet, rows = xlsx_rows(files.decisions["xlsx"])
    assert rows[0][0] == title and "A1:J1" in {str(r) for r in sheet.merged_cells.ranges}
    assert rows[1][0].startswith(f"{ORGAN}　　第2版　　{y}年{m}月{d}日发布")
    assert rows[2] == HEADER and sheet.freeze_panes == "A4"
    assert [[str(c) if c is not None else "" for c in row] for row in rows[3:]] == expected
    assert sheet.page_setup.orientation == "landscape"

    # CSV and JSON (open data)
    assert csv_rows(files.decisions["csv"]) == [HEADER, *expected]
    data = json.loads(files.decisions["json"].read_text(encoding="utf-8"))
    assert {k: data[k] for k in ("catalogue", "year", "version", "organ", "published", "in_force")} == {
        "catalogue": "decisions",
        "year": YEAR,
        "version": 2,
        "organ": ORGAN,
        "published": True,
        "in_force": True,
    }
    assert data["published_on"] == published_on and data["generated_on"] == "2026-11-27"
    assert [c["key"] for c in data["columns"]] == [
        "seq",
        "matter_name",
        "main_content",
        "lead_unit",
        "cooperating_units",
        "legal_basis",
        "procedures",
        "hearing_required",
        "planned_time",
        "status",
    ]
    assert [row["matter_name"] for row in data["rows"]] == [row[1] for row in expected]
    assert [row["status_zh"] for row in data["rows"]] == [row[-1] for row in expected]
    assert all(set(row) >= {c["key"] for c in data["columns"]} for row in data["rows"])

    # HTML: the page carries every row
    page = files.decisions["html"].read_text(encoding="utf-8")
    assert f"<title>{title}</title>" in page and "征求意见稿" not in page
    for row in expected:
        assert f'<td class="matter_name">{row[1]}</td>' in page

    # the hearing catalogue: the parking fees matter alone, numbered on its own
    hearing = json.loads(files.hearings["json"].read_text(encoding="utf-8"))
    parking = next(row for row in expected if row[1] == "区公共停车场收费标准调整方案")
    assert hearing["title"] == f"{YEAR}年度{ORGAN}重大行政决策听证事项目录"
    assert [(r["seq"], r["matter_name"], r["catalogue_seq"]) for r in hearing["rows"]] == [
        (1, parking[1], int(parking[0]))
    ]
    assert docx_table(files.hearings["docx"])[1][1] == parking[1]
    assert csv_rows(files.hearings["csv"])[1][1] == parking[1]

    # the first version, before the adjustment, is still there and exportable
    first = generate_catalogue_files(demo, YEAR, version=1, now=NOW)
    first_rows = csv_rows(first.decisions["csv"])[1:]
    assert [row[1] for row in first_rows] == [row[1] for row in expected[:-1]]
    old = json.loads(first.decisions["json"].read_text(encoding="utf-8"))
    assert old["published"] and not old["in_force"] and old["version"] == 1
    assert "已由第2版调整" in first.decisions["html"].read_text(encoding="utf-8")

    # deterministic: the same data gives the same bytes, whenever in the day it is generated
    again = generate_catalogue_files(
        demo, YEAR, now=NOW.replace(hour=17, minute=45), out_dir=tmp_path / "again"
    )
    for fmt in ("docx", "xlsx"):  # every part of the package dated by the version, not the clock
        with zipfile.ZipFile(files.decisions[fmt]) as package:
            assert {info.date_time for info in package.infolist()} == {(y, m, d, 0, 0, 0)}
    for fmt in FORMATS:
        assert again.decisions[fmt].read_bytes() == files.decisions[fmt].read_bytes(), fmt
        assert again.hearings[fmt].read_bytes() == files.hearings[fmt].read_bytes(), fmt


def test_a_draft_says_so_and_text_is_inert(ctx: ServiceContext) -> None:
    district(ctx)
    hostile = "<script>alert('目录')</script>征收补偿 & 安置"
    act(
        ctx,
        "propose_catalogue_entry",
        "li",
        "2026-01-10T09:00",
        year=YEAR,
        **{**RENEWAL, "matter_name": hostile, "main_content": "第一行\n第二行"},
    )
    act(ctx, "propose_catalogue_entry", "sun", "2026-01-10T09:10", year=YEAR, **INVESTMENT)
    files = generate_catalogue_files(ctx, YEAR, now=at("2026-01-12T10:00"))
    assert (files.version, files.version_status, files.published) == (1, "draft", False)

    page = files.decisions["html"].read_text(encoding="utf-8")
    assert "<script>alert" not in page and "&lt;script&gt;alert(&#39;目录&#39;)&lt;/script&gt;" in page
    assert "&amp; 安置" in page
    assert "（征求意见稿）" in page and "征求意见稿，未发布" in page and "发布日期" not in page
    data = json.loads(files.decisions["json"].read_text(encoding="utf-8"))
    assert data["title"].endswith("重大行政决策事项目录（征求意见稿）")
    assert data["published"] is False and data["published_on"] is None and data["published_url"] is None
    assert data["dated"] == "2026-01-12"
    assert data["rows"][0]["matter_name"] == hostile and data["rows"][0]["status"] == "not_started"
    assert data["rows"][1]["cooperating_units"] == ["区住房和城乡建设局"]

    texts = [p.text for p in docx.Document(str(files.decisions["docx"])).paragraphs]
    assert "（征求意见稿）" in texts and not any("发布" in t and "未发布" not in t for t in texts)
    table = docx_table(files.decisions["docx"])
    assert table[1][1] == hostile and table[1][2] == "第一行\n第二行"
    _, rows = xlsx_rows(files.decisions["xlsx"])
    assert rows[0][0].endswith("（征求意见稿）") and rows[3][1] == hostile
    assert [row[7] for row in csv_rows(files.decisions["csv"])[1:]] == ["是", "否"]
    assert json.loads(files.hearings["json"].read_text(encoding="utf-8"))["rows"][0]["matter_name"] == hostile


def test_publication_is_shown_only_once_published(ctx: ServiceContext) -> None:
    """R21: a version approved by the meeting and the Party committee but not yet published
    carries no publication date; once published it does."""
    party_approved(ctx)
    files = generate_catalogue_files(ctx, YEAR, now=at("2026-02-13T10:00"))
    data = json.loads(files.decisions["json"].read_text(encoding="utf-8"))
    assert (data["version_status"], data["published"], data["published_on"]) == (
        "party_approved",
        False,
        None,
    )
    assert data["title"].endswith("（未发布）") and data["dated"] == "2026-02-12"
    assert data["party_approval_ref"] is None
    assert "发布日期" not in files.decisions["html"].read_text(encoding="utf-8")

    publish(ctx, "2026-02-16T09:00", "2026-02-16")
    files = generate_catalogue_files(ctx, YEAR, now=at("2026-02-16T10:00"))
    data = json.loads(files.decisions["json"].read_text(encoding="utf-8"))
    assert (data["published"], data["published_on"], data["dated"]) == (True, "2026-02-16", "2026-02-16")
    assert not data["title"].endswith("）") and data["party_approval_ref"] == "区委常委会2026年第2次会议"
    assert "发布日期：2026年2月16日" in files.decisions["html"].read_text(encoding="utf-8")


def test_an_adjustment_gives_a_new_version_and_the_old_one_stays(ctx: ServiceContext) -> None:
    published(ctx)
    first = generate_catalogue_files(ctx, YEAR, now=at("2026-02-17T09:00"))
    assert first.version == 1 and first.directory.name == "v1"
    first_bytes = {p: p.read_bytes() for p in first.paths}
    names = [RENEWAL["matter_name"], INVESTMENT["matter_name"]]

    act(
        ctx,
        "adjust_catalogue",
        "li",
        "2026-05-06T09:00",
        year=YEAR,
        kind="add",
        reason="年中新增",
        **ELEVATORS,
    )
    # the published version stays in force until the adjusted one is published
    assert ctx.data_dir is not None
    assert (
        generate_catalogue_files(ctx, YEAR, now=at("2026-05-06T10:00"), out_dir=ctx.data_dir / "x").version
        == 1
    )
    draft = generate_catalogue_files(ctx, YEAR, version=2, now=at("2026-05-06T10:00"))
    assert draft.directory.name == "v2" and not draft.published
    assert [r[1] for r in csv_rows(draft.decisions["csv"])[1:]] == [*names, ELEVATORS["matter_name"]]
    act(ctx, "review_catalogue_entry", "wang", "2026-05-07T09:00", year=YEAR, entry="E4", include=True)
    act(
        ctx,
        "approve_catalogue",
        "zhou",
        "2026-05-14T15:00",
        year=YEAR,
        meeting_ref="第9次常务会议",
        approved_on="2026-05-14",
    )
    act(
        ctx,
        "record_catalogue_party_approval",
        "chen",
        "2026-05-20T10:00",
        year=YEAR,
        approval_ref="区委",
        approved_on="2026-05-20",
    )
    publish(ctx, "2026-05-21T09:00", "2026-05-21")

    second = generate_catalogue_files(ctx, YEAR, now=at("2026-05-21T10:00"))
    assert (second.version, second.published) == (2, True) and second.directory != first.directory
    assert [r[1] for r in csv_rows(second.decisions["csv"])[1:]] == [*names, ELEVATORS["matter_name"]]
    # the first version's files are untouched; exported again, it says it was adjusted
    assert {p: p.read_bytes() for p in first.paths} == first_bytes
    old = generate_catalogue_files(
        ctx, YEAR, version=1, now=at("2026-05-21T10:00"), out_dir=ctx.data_dir / "old"
    )
    data = json.loads(old.decisions["json"].read_text(encoding="utf-8"))
    assert data["version"] == 1 and data["published"] and not data["in_force"]
    assert [r["matter_name"] for r in data["rows"]] == names
    assert csv_rows(old.decisions["csv"]) == csv_rows(first.decisions["csv"])
    assert "已由第2版调整" in old.decisions["html"].read_text(encoding="utf-8")

    # a matter deferred by a later adjustment reads 暂缓/调整 in the version in force
    assert [r[-1] for r in csv_rows(second.decisions["csv"])[1:]] == ["未启动"] * 3
    act(
        ctx,
        "adjust_catalogue",
        "li",
        "2026-06-01T09:00",
        year=YEAR,
        kind="defer",
        entry="E1",
        reason="延至明年",
    )
    deferred = generate_catalogue_files(ctx, YEAR, now=at("2026-06-01T10:00"))
    assert deferred.version == 2
    assert [r[-1] for r in csv_rows(deferred.decisions["csv"])[1:]] == ["暂缓/调整", "未启动", "未启动"]

    with pytest.raises(ProcedureError) as missing:
        generate_catalogue_files(ctx, YEAR, version=4, now=at("2026-05-21T10:00"))
    assert missing.value.rule_id == "NOT_FOUND" and missing.value.field == "version"
    with pytest.raises(ProcedureError) as no_year:
        generate_catalogue_files(ctx, 2027, now=at("2026-05-21T10:00"))
    assert no_year.value.field == "year"


def test_the_export_command(database: str, tmp_path: Path) -> None:  # noqa: F811
    url = database  # the standard district, as a URL for --database
    runner = CliRunner()
    proposed = runner.invoke(
        app,
        [
            "act",
            "propose_catalogue_entry",
            "--actor",
            "li",
            "--database",
            url,
            "--now",
            "2026-01-10T09:00",
            "--with",
            json.dumps(
                {
                    "year": 2026,
                    "matter_name": "旧城改造房屋征收补偿标准",
                    "category": 1,
                    "units": ["housing"],
                },
                ensure_ascii=False,
            ),
        ],
    )
    assert proposed.exit_code == 0, proposed.output
    runner = CliRunner()
    out = tmp_path / "out"
    result = runner.invoke(
        app,
        [
            "catalogue",
            "export",
            "--year",
            "2026",
            "--format",
            "docx",
            "--out",
            str(out),
            "--database",
            url,
            "--now",
            "2026-01-12T10:00",
        ],
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["2026-v1-decisions.docx", "2026-v1-hearings.docx"]
    assert "未发布" in result.output
    result = runner.invoke(
        app, ["catalogue", "export", "--year", "2026", "--out", str(out), "--database", url]
    )
    assert result.exit_code == 0, result.output
    assert len(list(out.iterdir())) == 10
    for args, option in (
        (["--format", "pdf"], "--format"),
        (["--version", "7"], "--version"),
        (["--year", "2031"], "--year"),
    ):
        command = ["catalogue", "export", "--year", "2026", "--out", str(out), "--database", url, *args]
        refused = runner.invoke(app, command)
        assert refused.exit_code == 2 and f"[{option}]" in refused.output, refused.output
