"""The annual decision catalogue (决策事项目录) and hearing catalogue (听证目录) as documents.

Pure renderers over plain data: a `CatalogueDocument` (gathered by `flows/catalogue_files.py`)
in, bytes out, in five formats: a government web page (HTML), an official document (DOCX,
landscape), a spreadsheet (XLSX), and open data (CSV with a byte-order mark so that Excel
reads the Chinese, and JSON with stable English keys).

The output depends on the document alone: the same document gives the same bytes. The
DOCX and XLSX core properties and the timestamps inside their zip containers are taken from
the document's date (`CatalogueDocument.dated`), never from the wall clock.

The columns follow the catalogues local governments publish (序号, 决策事项名称, 主要内容,
承办单位, 配合单位, 法律政策依据, 履行程序, 是否听证, 计划完成时间) plus a status column
computed from the linked decision.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any, Literal
from xml.sax.saxutils import escape

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from documents.spreadsheet import to_cell

CatalogueKind = Literal["decisions", "hearings"]
Progress = Literal["completed", "in_progress", "deferred", "not_started"]

# The status column: where the matter stands, from the decision linked to the entry.
PROGRESS: Mapping[str, tuple[str, str]] = {
    "completed": ("已完成", "completed"),
    "in_progress": ("推进中", "under way"),
    "deferred": ("暂缓/调整", "deferred or adjusted"),
    "not_started": ("未启动", "not started"),
}

# The version's standing, as the document states it: (title mark, status line zh, en).
VERSION_STANDING: Mapping[str, tuple[str, str, str]] = {
    "draft": ("（征求意见稿）", "征求意见稿，未发布", "draft for comment, not published"),
    "approved": ("（未发布）", "经政府常务会议审议，待党委同意，未发布", "reviewed, awaiting Party approval"),
    "party_approved": (
        "（未发布）",
        "经党委同意，待发布",
        "approved by the Party committee, not yet published",
    ),
    "published": ("", "已发布", "published"),
    "superseded": (
        "（未发布）",
        "已被调整后的版本取代，未发布",
        "superseded by an adjusted version, never published",
    ),
}

FORMATS = ("html", "docx", "xlsx", "csv", "json")
CENTRED = frozenset({"seq", "hearing_required", "status", "catalogue_seq"})  # short cells, centred


@dataclass(frozen=True)
class CatalogueRow:
    """One matter of a catalogue, as shown: unit names, procedures in Chinese."""

    seq: int
    code: str  # the entry's code in the year's catalogue (E1, E2...)
    matter_name: str
    main_content: str
    lead_unit: str  # 承办单位 (牵头单位), by name
    cooperating_units: tuple[str, ...]  # 配合单位, by name
    legal_basis: str
    procedures: tuple[str, ...]  # 履行程序, Chinese names in procedure order
    procedure_ids: tuple[str, ...]  # the same, as the procedure's stage ids
    hearing_required: bool
    planned_time: str
    progress: Progress
    catalogue_seq: int | None = None  # hearing catalogue: the matter's number in the decision catalogue


@dataclass(frozen=True)
class CatalogueDocument:
    """One catalogue of one year and version, with what its title area states."""

    kind: CatalogueKind
    year: int
    version: int
    organ: str
    version_status: str  # draft | approved | party_approved | published | superseded
    dated: date  # the version's date: published, else approved, else the day it was generated
    generated_on: date
    rows: tuple[CatalogueRow, ...]
    current_version: int
    in_force: bool = False  # the published version now in force
    published_on: date | None = None
    published_url: str = ""
    party_approval_ref: str = ""
    meeting_ref: str = ""

    @property
    def published(self) -> bool:
        return self.version_status == "published"

    @property
    def name(self) -> str:
        return "重大行政决策事项目录" if self.kind == "decisions" else "重大行政决策听证事项目录"

    @property
    def title(self) -> str:
        """e.g. 2026年度香洲区人民政府重大行政决策事项目录, with （征求意见稿） on a draft."""
        return f"{self.year}年度{self.organ}{self.name}{self.title_mark}"

    @property
    def title_mark(self) -> str:
        return VERSION_STANDING.get(self.version_status, ("（未发布）", "", ""))[0]

    @property
    def standing(self) -> tuple[str, str]:
        """What the version is (zh, en); a published version says when, and whether it is
        still in force."""
        _, zh, en = VERSION_STANDING.get(self.version_status, ("", self.version_status, self.version_status))
        if self.published and self.published_on is not None:
            zh = f"{chinese_date(self.published_on)}发布"
            en = f"published {self.published_on.isoformat()}"
            if not self.in_force:
                zh += f"，已由第{self.current_version}版调整"
                en += f", adjusted by version {self.current_version}"
        return zh, en

    @property
    def approval_note(self) -> str:
        """The approvals a published catalogue states (Art. 3(3)); nothing before publication."""
        if not self.published:
            return ""
        parts = []
        if self.meeting_ref:
            parts.append(f"经{self.meeting_ref}审议")
        if self.party_approval_ref:
            parts.append(f"经{self.party_approval_ref}同意")
        return "，".join(parts) + "。" if parts else ""


@dataclass(frozen=True)
class Column:
    key: str
    zh: str
    en: str
    width: int  # characters, for the spreadsheet and the document's table


DECISION_COLUMNS: tuple[Column, ...] = (
    Column("seq", "序号", "No.", 6),
    Column("matter_name", "决策事项名称", "Matter", 26),
    Column("main_content", "主要内容", "Main content", 36),
    Column("lead_unit", "承办单位", "Undertaking (lead) unit", 16),
    Column("cooperating_units", "配合单位", "Cooperating units", 16),
    Column("legal_basis", "法律政策依据", "Legal and policy basis", 24),
    Column("procedures", "履行程序", "Procedures required", 22),
    Column("hearing_required", "是否听证", "Hearing", 8),
    Column("planned_time", "计划完成时间", "Planned time", 14),
    Column("status", "状态", "Status", 10),
)
HEARING_COLUMNS: tuple[Column, ...] = (
    Column("seq", "序号", "No.", 6),
    Column("matter_name", "听证事项名称", "Hearing matter", 26),
    Column("main_content", "主要内容", "Main content", 36),
    Column("lead_unit", "听证组织单位", "Organising (lead) unit", 16),
    Column("cooperating_units", "配合单位", "Cooperating units", 16),
    Column("legal_basis", "设立依据", "Basis", 24),
    Column("procedures", "履行程序", "Procedures required", 22),
    Column("planned_time", "计划完成时间", "Planned time", 14),
    Column("status", "状态", "Status", 10),
    Column("catalogue_seq", "决策事项目录序号", "No. in the decision catalogue", 10),
)


def columns(kind: CatalogueKind) -> tuple[Column, ...]:
    return DECISION_COLUMNS if kind == "decisions" else HEARING_COLUMNS


def cell_text(row: CatalogueRow, key: str) -> str:
    """A cell as every tabular format shows it."""
    if key == "cooperating_units":
        return "、".join(row.cooperating_units)
    if key == "procedures":
        return "、".join(row.procedures)
    if key == "hearing_required":
        return "是" if row.hearing_required else "否"
    if key == "status":
        return PROGRESS[row.progress][0]
    if key == "catalogue_seq":
        return "" if row.catalogue_seq is None else str(row.catalogue_seq)
    value = getattr(row, key)
    return str(value)


def chinese_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


# ---------------------------------------------------------------------------- HTML
_TEMPLATES = Path(__file__).resolve().parent / "templates"
_environment: Environment | None = None


def _env() -> Environment:
    global _environment
    if _environment is None:
        _environment = Environment(
            loader=FileSystemLoader(str(_TEMPLATES)),
            autoescape=True,  # every value is text from the record, never markup
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
    return _environment


def render_html(doc: CatalogueDocument) -> bytes:
    """A page in the style of a government website: the organ's masthead, the red headline,
    the issuing organ, version and date, and the table."""
    cols = columns(doc.kind)
    rows = [
        {"cells": [(c.key, cell_text(row, c.key)) for c in cols], "progress": row.progress}
        for row in doc.rows
    ]
    page = (
        _env()
        .get_template("catalogue.html")
        .render(
            doc=doc,
            columns=cols,
            rows=rows,
            standing=doc.standing,
            dated=chinese_date(doc.dated),
            generated=chinese_date(doc.generated_on),
            published_on=chinese_date(doc.published_on) if doc.published_on else "",
        )
    )
    return page.encode("utf-8")


# ---------------------------------------------------------------------------- CSV, JSON
def render_csv(doc: CatalogueDocument) -> bytes:
    """The table with its Chinese header row, UTF-8 with a byte-order mark so that Excel
    shows the Chinese; `decisionflow catalogue import` reads it back. No cell runs as a
    formula (`spreadsheet.to_cell`)."""
    cols = columns(doc.kind)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([c.zh for c in cols])
    for row in doc.rows:
        writer.writerow([to_cell(cell_text(row, c.key)) for c in cols])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def document_data(doc: CatalogueDocument) -> dict[str, Any]:
    """The open-data form: stable English keys, the year, version, organ and dates."""
    return {
        "catalogue": doc.kind,
        "title": doc.title,
        "year": doc.year,
        "version": doc.version,
        "organ": doc.organ,
        "version_status": doc.version_status,
        "published": doc.published,
        "published_on": doc.published_on.isoformat() if doc.published and doc.published_on else None,
        "published_url": doc.published_url if doc.published else None,
        "party_approval_ref": doc.party_approval_ref if doc.published else None,
        "in_force": doc.in_force,
        "dated": doc.dated.isoformat(),
        "generated_on": doc.generated_on.isoformat(),
        "columns": [{"key": c.key, "zh": c.zh, "en": c.en} for c in columns(doc.kind)],
        "rows": [_row_data(doc.kind, row) for row in doc.rows],
    }


def _row_data(kind: CatalogueKind, row: CatalogueRow) -> dict[str, Any]:
    data: dict[str, Any] = {
        "seq": row.seq,
        "code": row.code,
        "matter_name": row.matter_name,
        "main_content": row.main_content,
        "lead_unit": row.lead_unit,
        "cooperating_units": list(row.cooperating_units),
        "legal_basis": row.legal_basis,
        "procedures": list(row.procedures),
        "procedure_ids": list(row.procedure_ids),
        "hearing_required": row.hearing_required,
        "planned_time": row.planned_time,
        "status": row.progress,
        "status_zh": PROGRESS[row.progress][0],
    }
    if kind == "hearings":
        data["catalogue_seq"] = row.catalogue_seq
    return data


def render_json(doc: CatalogueDocument) -> bytes:
    return (json.dumps(document_data(doc), ensure_ascii=False, indent=2) + "\n").encode("utf-8")


# ---------------------------------------------------------------------------- XLSX
def render_xlsx(doc: CatalogueDocument) -> bytes:
    """A merged title row, a merged line with organ, version and date, the header row
    (frozen, repeated on every printed page), then the rows; landscape A4."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter
    from openpyxl.writer.excel import ExcelWriter

    cols = columns(doc.kind)
    last = get_column_letter(len(cols))
    wb = Workbook()
    ws = wb.active
    ws.title = "决策事项目录" if doc.kind == "decisions" else "听证事项目录"
    ws.append([doc.title])
    ws.merge_cells(f"A1:{last}1")
    ws["A1"].font = Font(name="宋体", size=16, bold=True, color="C00000")
    ws["A1"].alignment = Alignment(horizontal="center", vertical="center")
    ws.row_dimensions[1].height = 32
    ws.append([_issue_line(doc)])
    ws.merge_cells(f"A2:{last}2")
    ws["A2"].alignment = Alignment(horizontal="center", vertical="center")
    ws.append([c.zh for c in cols])
    thin = Side(style="thin", color="808080")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    header_font = Font(name="黑体", bold=True)
    header_fill = PatternFill("solid", fgColor="F2DCDB")
    centred = Alignment(horizontal="center", vertical="center", wrap_text=True)
    wrapped = Alignment(vertical="top", wrap_text=True)
    for cell in ws[3]:
        cell.font, cell.fill, cell.border, cell.alignment = header_font, header_fill, border, centred
    # One styled row of cells gives the style of each column; the rows themselves are
    # written as sheet XML (`_xlsx_rows`): openpyxl's cell objects take seconds per 10,000.
    style_ids: list[int] = []
    for index, c in enumerate(cols, start=1):
        cell = ws.cell(row=4, column=index)
        cell.border = border
        cell.alignment = centred if c.key in CENTRED else wrapped
        style_ids.append(cell.style_id)
    for index, c in enumerate(cols, start=1):
        ws.column_dimensions[get_column_letter(index)].width = c.width
    ws.freeze_panes = "A4"
    ws.print_title_rows = "3:3"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    moment = _stamp(doc)
    props = wb.properties
    props.title = doc.title
    props.creator = doc.organ
    props.lastModifiedBy = doc.organ
    props.created = props.modified = moment.replace(tzinfo=None)  # openpyxl writes them as UTC
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        ExcelWriter(wb, archive).save()  # openpyxl.save_workbook would stamp `modified` with the clock
    sheet = "xl/worksheets/sheet1.xml"
    return _fixed_zip(buffer.getvalue(), moment, {sheet: lambda xml: _xlsx_rows(xml, doc, style_ids)})


def _xlsx_rows(sheet: bytes, doc: CatalogueDocument, style_ids: Sequence[int]) -> bytes:
    """The sheet with the styled placeholder row 4 replaced by every row of the catalogue
    (numbers as numbers, text as inline strings) and its dimension updated."""
    from openpyxl.utils import get_column_letter

    cols = columns(doc.kind)
    letters = [get_column_letter(i) for i in range(1, len(cols) + 1)]
    parts: list[str] = []
    for number, row in enumerate(doc.rows, start=4):
        parts.append(f'<row r="{number}">')
        for letter, style, c in zip(letters, style_ids, cols, strict=True):
            ref = f"{letter}{number}"
            if c.key == "seq":
                parts.append(f'<c r="{ref}" s="{style}"><v>{row.seq}</v></c>')
                continue
            text = _xml_safe(cell_text(row, c.key))
            if text:
                parts.append(
                    f'<c r="{ref}" s="{style}" t="inlineStr"><is><t xml:space="preserve">{escape(text)}</t></is></c>'
                )
            else:
                parts.append(f'<c r="{ref}" s="{style}"/>')
        parts.append("</row>")
    text = sheet.decode("utf-8")
    start = text.index('<row r="4"')
    end = text.index("</sheetData>")
    last = f"{letters[-1]}{3 + len(doc.rows)}"
    text = re.sub(r'<dimension ref="[^"]*"/>', f'<dimension ref="A1:{last}"/>', text[:start], count=1)
    return (text + "".join(parts) + sheet.decode("utf-8")[end:]).encode("utf-8")


# ---------------------------------------------------------------------------- DOCX
def render_docx(doc: CatalogueDocument) -> bytes:
    """An official document, landscape A4: the organ's red masthead and rule, the title
    (with 征求意见稿 on a draft), the version and its standing, the table with a header row
    repeated on every page, and the organ and date closing it."""
    from docx import Document
    from docx.enum.section import WD_ORIENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import parse_xml
    from docx.oxml.ns import qn
    from docx.shared import Cm, Pt, RGBColor

    document = Document()
    section = document.sections[0]
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = Cm(29.7), Cm(21.0)
    for side in ("left_margin", "right_margin"):
        setattr(section, side, Cm(2.0))
    section.top_margin, section.bottom_margin = Cm(2.2), Cm(2.0)
    normal = document.styles["Normal"]  # the table's text: 10.5 pt (五号), no spacing
    normal.font.name = "仿宋"
    normal.font.size = Pt(10.5)
    normal.paragraph_format.space_before = normal.paragraph_format.space_after = Pt(0)
    normal.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), "仿宋_GB2312")

    def line(text: str, size: float, *, bold: bool = False, red: bool = False, font: str = "") -> None:
        paragraph = document.add_paragraph()
        if red:  # the red rule under the masthead (发文机关标志下的红色分隔线), before w:jc
            paragraph._p.get_or_add_pPr().append(
                parse_xml(
                    f'<w:pBdr xmlns:w="{_W}"><w:bottom w:val="single" w:sz="18" w:space="6" w:color="C00000"/>'
                    "</w:pBdr>"
                )
            )
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        run = paragraph.add_run(text)
        run.font.size = Pt(size)
        run.font.bold = bold
        if red:
            run.font.color.rgb = RGBColor(0xC0, 0x00, 0x00)
        if font:
            run.font.name = font
            run._element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), font)

    line(doc.organ, 26, bold=True, red=True, font="方正小标宋简体")
    line(f"{doc.year}年度{doc.organ}{doc.name}", 20, bold=True, font="方正小标宋简体")
    if doc.title_mark:
        line(doc.title_mark, 16, font="楷体_GB2312")
    line(_issue_line(doc, organ=False), 12, font="楷体_GB2312")
    # the table goes in as XML where this paragraph stands (`_docx_with_table`): python-docx's
    # cell objects, or even moving a parsed table into the document, take seconds per 10,000 rows
    document.add_paragraph(_TABLE_HERE)
    if doc.approval_note:
        note = document.add_paragraph()
        note.paragraph_format.first_line_indent = Pt(24)
        note.paragraph_format.space_before = Pt(12)
        note.add_run(doc.approval_note).font.size = Pt(12)
    closing = document.add_paragraph()
    closing.paragraph_format.space_before = Pt(18)
    closing.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    closing.add_run(f"{doc.organ}\n{chinese_date(doc.dated)}").font.size = Pt(12)
    moment = _stamp(doc)
    core = document.core_properties
    core.title = doc.title
    core.author = core.last_modified_by = doc.organ
    core.created = core.modified = core.last_printed = moment
    core.revision = doc.version
    core.subject = f"{doc.year} v{doc.version}"
    core.keywords = "重大行政决策"
    core.comments = ""
    _drop_thumbnail(document)
    buffer = io.BytesIO()
    document.save(buffer)
    return _fixed_zip(
        buffer.getvalue(), moment, {"word/document.xml": lambda xml: _docx_with_table(xml, doc)}
    )


def _drop_thumbnail(document: Any) -> None:
    """python-docx's template carries its own thumbnail picture; a catalogue has none."""
    from docx.opc.constants import RELATIONSHIP_TYPE

    rels = document.part.package.rels
    for rel_id, rel in list(rels.items()):
        if rel.reltype == RELATIONSHIP_TYPE.THUMBNAIL:
            del rels[rel_id]


_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_DOCX_WIDTH_TWIPS = 14570  # A4 landscape less 2 cm margins, in twentieths of a point
_TABLE_HERE = "decisionflow-catalogue-table-goes-here"


def _docx_with_table(document_xml: bytes, doc: CatalogueDocument) -> bytes:
    """document.xml with the placeholder paragraph replaced by the table."""
    text = document_xml.decode("utf-8")
    token = text.index(_TABLE_HERE)
    start = max(text.rfind("<w:p>", 0, token), text.rfind("<w:p ", 0, token))
    end = text.index("</w:p>", token) + len("</w:p>")
    return (text[:start] + _docx_table(doc) + text[end:]).encode("utf-8")


def _docx_table(doc: CatalogueDocument) -> str:
    """The table as WordprocessingML (the w: prefix is declared by the document): fixed
    column widths, borders, a shaded header row repeated on every page, rows that do not
    split across pages."""
    cols = columns(doc.kind)
    total = sum(c.width for c in cols)
    widths = [_DOCX_WIDTH_TWIPS * c.width // total for c in cols]
    parts = [
        '<w:tbl><w:tblPr><w:tblStyle w:val="TableGrid"/>'
        f'<w:tblW w:w="{sum(widths)}" w:type="dxa"/>'
        "<w:tblBorders>"
        + "".join(
            f'<w:{side} w:val="single" w:sz="4" w:space="0" w:color="000000"/>'
            for side in ("top", "left", "bottom", "right", "insideH", "insideV")
        )
        + '</w:tblBorders><w:tblLayout w:type="fixed"/></w:tblPr><w:tblGrid>'
        + "".join(f'<w:gridCol w:w="{w}"/>' for w in widths)
        + "</w:tblGrid>"
    ]

    def runs(text: str) -> str:
        return "<w:br/>".join(
            f'<w:t xml:space="preserve">{escape(part)}</w:t>' for part in _xml_safe(text).split("\n")
        )

    parts.append("<w:tr><w:trPr><w:tblHeader/><w:cantSplit/></w:trPr>")
    parts.extend(
        f'<w:tc><w:tcPr><w:tcW w:w="{w}" w:type="dxa"/><w:shd w:val="clear" w:color="auto" w:fill="F2DCDB"/>'
        '<w:vAlign w:val="center"/></w:tcPr><w:p><w:pPr><w:jc w:val="center"/></w:pPr>'
        f"<w:r><w:rPr><w:b/></w:rPr>{runs(c.zh)}</w:r></w:p></w:tc>"
        for c, w in zip(cols, widths, strict=True)
    )
    parts.append("</w:tr>")
    centre = '<w:pPr><w:jc w:val="center"/></w:pPr>'
    for row in doc.rows:
        parts.append("<w:tr><w:trPr><w:cantSplit/></w:trPr>")
        parts.extend(
            f"<w:tc><w:p>{centre if c.key in CENTRED else ''}<w:r>{runs(cell_text(row, c.key))}</w:r></w:p></w:tc>"
            for c in cols
        )
        parts.append("</w:tr>")
    parts.append("</w:tbl>")
    return "".join(parts)


# ---------------------------------------------------------------------------- shared
RENDERERS: Mapping[str, Callable[[CatalogueDocument], bytes]] = {
    "html": render_html,
    "docx": render_docx,
    "xlsx": render_xlsx,
    "csv": render_csv,
    "json": render_json,
}


def render(doc: CatalogueDocument, fmt: str) -> bytes:
    return RENDERERS[fmt](doc)


def _issue_line(doc: CatalogueDocument, *, organ: bool = True) -> str:
    """Organ, version and standing, and the date where the standing does not already say it."""
    zh, _ = doc.standing
    parts = [doc.organ] if organ else []
    parts += [f"第{doc.version}版", zh]
    if not doc.published:
        parts.append(chinese_date(doc.dated))
    return "　　".join(parts)


def _stamp(doc: CatalogueDocument) -> datetime:
    """The instant written into a document's properties: the start of its date (UTC)."""
    return datetime.combine(doc.dated, time.min, tzinfo=UTC)


# Characters XML 1.0 cannot carry (tab and newline can); the service's input hygiene keeps
# them out of the record, this keeps a renderer safe with data from elsewhere.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _xml_safe(text: str) -> str:
    return _NOT_XML.sub("", text)


def _fixed_zip(
    data: bytes, moment: datetime, transform: Mapping[str, Callable[[bytes], bytes]] | None = None
) -> bytes:
    """The same zip with every member dated `moment` (zipfile stamps members with the
    clock, which would make two renderings of the same catalogue differ), and the members
    named in `transform` rewritten."""
    stamp = (max(moment.year, 1980), moment.month, moment.day, moment.hour, moment.minute, moment.second)
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as target,
    ):
        for info in source.infolist():
            member = zipfile.ZipInfo(info.filename, date_time=stamp)
            member.compress_type = zipfile.ZIP_DEFLATED
            member.external_attr = 0o644 << 16
            body = source.read(info.filename)
            if transform and info.filename in transform:
                body = transform[info.filename](body)
            target.writestr(member, body)
    return out.getvalue()


__all__ = [
    "DECISION_COLUMNS",
    "FORMATS",
    "HEARING_COLUMNS",
    "PROGRESS",
    "RENDERERS",
    "CatalogueDocument",
    "CatalogueRow",
    "Column",
    "cell_text",
    "chinese_date",
    "columns",
    "document_data",
    "render",
    "render_csv",
    "render_docx",
    "render_html",
    "render_json",
    "render_xlsx",
]
