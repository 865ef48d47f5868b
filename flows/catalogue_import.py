"""Import a decision catalogue as local governments publish it: an XLSX workbook or a CSV
file, with merged title rows above the header, a 序号 column, units separated by 、 and a
是否听证 column of 是/否 (procedure.md §9.1).

How it works, and the decisions taken:
- **Columns** are recognised by the names published catalogues use (`FIELD_ALIASES`, and the
  Wuyang style 是否履行X yes/no columns); the header is the first of the top rows that names
  the matter column and one more. Columns not recognised are listed in the report, unused.
- **Rows.** Every non-blank row below the header is either imported or reported with its row
  number (as the spreadsheet shows it) and the reason, Chinese first. Blank rows are not rows.
  A row with a single filled cell and no matter name is a heading or note, reported as such.
- **Units** are matched by name (or code) against the jurisdiction's units; a name not found
  becomes a new unit (`add_unit`), created only if a row that is imported needs it. The first
  unit of 承办单位 leads unless another is marked 牵头; the rest and 配合单位 cooperate.
- **Procedures** named in 决策程序 map to the procedure's stages by their Chinese names
  (`PROCEDURE_NAMES`). Legality review and collective discussion are always required (Arts.
  25, 30): accepted, not stored. A name not recognised is a row problem.
- **Identity.** Everything is done in the importing user's own name, so the audit says who
  entered the file: `add_unit` needs `admin`, and `propose_catalogue_entry` accepts `admin` (a
  catalogue compiled outside the system is entered by an administrator) besides the
  departments, each for its own matters. No department user is made to appear to have acted.
- **One transaction.** Row problems are found first, with the same validation the actions
  apply, and are not fatal. The units and the proposals of every good row are then written in
  one transaction (`run_actions`): a refusal there (the year's catalogue already published, an
  actor without the role) writes nothing and names the row it stopped at.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from documents.spreadsheet import from_cell
from flows import procedure as proc
from flows.errors import ProcedureError, invalid
from flows.hygiene import next_free_code
from flows.rules import undertaking_units_named
from flows.service.catalogue import CATALOGUE_PROCEDURES, IN_CATALOGUE
from flows.service.framework import (
    ActionResult,
    BatchRefused,
    ServiceContext,
    load_actor,
    run_actions,
    the_jurisdiction,
    validate_payload,
)
from models import CatalogueEntry, CatalogueYear, Unit

MAX_FILE_BYTES = 10 << 20
HEADER_SCAN_ROWS = 30

# Our field -> the column names published catalogues use (§9.1), after `_header_key`.
FIELD_ALIASES: Mapping[str, tuple[str, ...]] = {
    "seq": ("序号", "编号", "seq"),
    "matter_name": (
        "决策事项名称",
        "决策事项",
        "决策项目",
        "事项名称",
        "项目名称",
        "重大行政决策事项",
        "重大行政决策事项名称",
        "matter_name",
    ),
    "units": (
        "承办单位",
        "组织承办部门",
        "责任单位",
        "牵头承办单位",
        "决策承办单位",
        "承办部门",
        "牵头单位",
        "决策实施单位",
        "lead_unit",
    ),
    "cooperating_units": ("配合单位", "配合部门", "协办单位", "cooperating_units"),
    "main_content": ("主要内容", "决策事项主要内容", "事项内容", "main_content"),
    "legal_basis": ("法律政策依据", "决策依据", "法律依据", "legal_basis"),
    "hearing": ("是否听证", "决策中是否需听证", "是否需要听证", "是否举行听证", "hearing_required"),
    "planned_time": (
        "计划完成时间",
        "拟决策时间",
        "计划决策时间",
        "决策时间",
        "完成时间",
        "planned_time",
    ),
    "procedures": ("决策程序", "决策事项程序", "履行程序要求", "履行程序", "procedures"),
    "category": ("类别", "事项类别", "决策类别", "category"),
}
_FIELD_BY_HEADER = {alias: name for name, aliases in FIELD_ALIASES.items() for alias in aliases}
# Wuyang 2021 style: one yes/no column per procedure, 是否履行公众参与 / 是否履行听证程序
_PER_PROCEDURE_COLUMN = re.compile(r"^是否(?:履行|需要|需)?(.+?)(?:程序)?$")


def _procedure_names() -> dict[str, str]:
    """Chinese procedure name -> stage id: the procedure data's own names, plus the
    spellings catalogues use."""
    names = {stage.zh: stage.id for stage in proc.procedure().stages}
    names.update(
        {
            "征求意见": "public_participation",
            "公开征求意见": "public_participation",
            "征求公众意见": "public_participation",
            "听证会": "hearing",
            "举行听证": "hearing",
            "专家咨询论证": "expert_review",
            "专家咨询": "expert_review",
            "社会稳定风险评估": "risk_assessment",
            "风险评估评价": "risk_assessment",
            "集体讨论": "discussion",
            "集体讨论决定程序": "discussion",
            "集体审议": "discussion",
            "政府常务会议审议": "discussion",
        }
    )
    return names


PROCEDURE_NAMES: Mapping[str, str] = _procedure_names()
ALWAYS_REQUIRED = frozenset({"legality_review", "discussion"})  # Arts. 25, 30
ACCEPTED_PROCEDURES = frozenset(CATALOGUE_PROCEDURES) | ALWAYS_REQUIRED
YES = frozenset({"是", "需要", "需", "要", "有", "√", "✓", "y", "yes", "true", "1"})
NO = frozenset({"否", "不需要", "无", "不", "×", "n", "no", "false", "0", "-", "—", "/", "／"})
_UNIT_SEPARATORS = re.compile(r"[、，,；;\n\r]+")
_PROCEDURE_SEPARATORS = re.compile(r"[、，,；;\n\r\s]+")
_LEAD_MARK = re.compile(r"[（(]\s*牵头\s*[)）]|^牵头(?:单位|部门)?[:：]")
_COOPERATING_MARK = re.compile(r"^(?:配合|协办)(?:单位|部门)?[:：]")
_LOWER_GOVERNMENT = ("街道办事处", "镇人民政府", "乡人民政府", "镇政府", "乡政府", "街道")
DEFAULT_CATEGORY = 5  # 其他重大事项: published catalogues rarely state the Art. 3(1) category


@dataclass(frozen=True)
class RowProblem:
    row: int  # as the spreadsheet numbers it (1 = the first row of the sheet or file)
    zh: str
    en: str

    def __str__(self) -> str:
        return f"第{self.row}行：{self.zh} / row {self.row}: {self.en}"


@dataclass(frozen=True)
class ImportedRow:
    row: int
    entry: str  # the entry's code in the year's catalogue
    matter_name: str


@dataclass
class ImportReport:
    year: int
    sheet: str
    header_row: int
    columns: dict[str, str]  # header as written -> field
    ignored_columns: list[str] = field(default_factory=list)
    imported: list[ImportedRow] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    units_created: list[tuple[str, str]] = field(default_factory=list)  # (code, name)
    default_category: int = DEFAULT_CATEGORY
    rows_with_default_category: int = 0

    @property
    def rows_seen(self) -> int:
        return len(self.imported) + len(self.problems)


@dataclass
class _Row:
    number: int
    payload: dict[str, Any]
    unit_names: list[str]  # lead first


# ---------------------------------------------------------------------------- reading files
def read_table(path: Path) -> Iterator[tuple[str, list[list[Any]]]]:
    """Each sheet of an XLSX workbook (a CSV file is one sheet) as rows of cell values."""
    if not path.is_file():
        raise invalid("FILE", f"文件不存在：{path}", f"no such file: {path}")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise invalid("FILE", "文件超过 10 MiB", "the file is larger than 10 MiB")
    data = path.read_bytes()
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise invalid(
            "FILE",
            "旧版 Excel（.xls）格式无法读取，请另存为 .xlsx 或 CSV",
            "old Excel (.xls) files cannot be read; save it as .xlsx or CSV",
        )
    if data[:4] == b"PK\x03\x04":
        yield from _xlsx_sheets(data)
        return
    try:
        # a cell the product escaped as text (`spreadsheet.to_cell`) reads back as written
        rows = [[from_cell(cell) for cell in row] for row in csv.reader(io.StringIO(_decode(data)))]
    except csv.Error as exc:
        raise invalid("FILE", f"不是可读的 CSV 文件：{exc}", f"not a readable CSV file: {exc}") from None
    yield path.name, rows


def _xlsx_sheets(data: bytes) -> Iterator[tuple[str, list[list[Any]]]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise invalid(
            "FILE", f"不是可读的 XLSX 工作簿：{type(exc).__name__}", f"not a readable XLSX workbook ({exc})"
        ) from None
    try:
        for sheet in workbook.worksheets:
            yield sheet.title, [list(row) for row in sheet.iter_rows(values_only=True)]
    finally:
        workbook.close()


def _decode(data: bytes) -> str:
    """UTF-8 (with or without a byte-order mark), else GB18030, which Chinese Excel writes
    when it saves CSV."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise invalid("FILE", "文件编码须为 UTF-8 或 GB18030", "the file must be UTF-8 or GB18030")


def _header_key(value: Any) -> str:
    """A header cell (or a unit name) as compared: no spaces, line breaks or * marks."""
    return re.sub(r"[\s\u3000*＊]+", "", _text(value))


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return f"{value.year}年{value.month}月{value.day}日"
    return str(value).replace("\r\n", "\n").strip()


def _field_of(header: Any) -> str | None:
    key = _header_key(header)
    if not key:
        return None
    found = _FIELD_BY_HEADER.get(key) or _FIELD_BY_HEADER.get(re.sub(r"[（(].*?[)）]$", "", key))
    if found is not None:
        return found
    per_procedure = _PER_PROCEDURE_COLUMN.match(key)
    if per_procedure and per_procedure.group(1) in PROCEDURE_NAMES and key not in _FIELD_BY_HEADER:
        return f"procedure:{PROCEDURE_NAMES[per_procedure.group(1)]}"
    return None


def find_header(rows: Sequence[Sequence[Any]]) -> tuple[int, dict[int, str]] | None:
    """The first of the top rows that names the matter column and at least one more
    recognised column: (its index, field by column index)."""
    for index, row in enumerate(rows[:HEADER_SCAN_ROWS]):
        fields: dict[int, str] = {}
        for column, cell in enumerate(row):
            name = _field_of(cell)
            if name is not None and name not in fields.values():
                fields[column] = name
        if "matter_name" in fields.values() and len(fields) >= 2:
            return index, fields
    return None


# ---------------------------------------------------------------------------- the import
def import_catalogue(
    ctx: ServiceContext,
    path: Path,
    *,
    year: int,
    actor: str,
    now: datetime | None = None,
    default_category: int = DEFAULT_CATEGORY,
) -> ImportReport:
    """Read `path` (XLSX or CSV) and propose each good row into `year`'s draft catalogue as
    `actor`, creating the units it names that do not exist yet, all in one transaction.
    Rows that cannot be imported are reported, not fatal. Raises ProcedureError when nothing
    can be imported at all (no header, a refusal while writing); then nothing is written."""
    if not 2000 <= year <= 2100:
        raise invalid("year", "须在 2000–2100 年之间", "must lie in 2000-2100")
    if not 1 <= default_category <= 5:
        raise invalid("category", "须为 1–5（条例第三条第一款）", "must be 1-5 (Art. 3(1))")
    found = None
    for sheet, rows in read_table(path):
        header = find_header(rows)
        if header is not None:
            found = (sheet, rows, header)
            break
    if found is None:
        raise invalid(
            "FILE",
            "找不到表头：须有“决策事项名称”（或决策事项、事项名称、项目名称）及“承办单位”等列",
            "no header row: it needs a matter-name column (决策事项名称, 决策事项, 事项名称, 项目名称) "
            "and another such as 承办单位",
        )
    sheet, rows, (header_index, fields) = found
    header_row = rows[header_index]
    report = ImportReport(
        year=year,
        sheet=sheet,
        header_row=header_index + 1,
        columns={_text(header_row[i]): name for i, name in sorted(fields.items())},
        ignored_columns=[_text(cell) for i, cell in enumerate(header_row) if i not in fields and _text(cell)],
        default_category=default_category,
    )
    with Session(ctx.engine) as session:
        jurisdiction = the_jurisdiction(session)
        load_actor(session, jurisdiction, actor)  # a wrong --actor is an error even with nothing to write
        units = list(session.exec(select(Unit).where(Unit.jurisdiction_id == jurisdiction.id)))
        existing = _matter_names(session, jurisdiction.id or 0, year)
    planner = _UnitPlanner(units)
    accepted: list[_Row] = []
    seen_names: dict[str, int] = {}
    for offset, cells in enumerate(rows[header_index + 1 :], start=header_index + 2):
        values = {name: cells[i] if i < len(cells) else None for i, name in fields.items()}
        if all(not _text(cell) for cell in cells):
            continue  # a blank row is not a row
        row, problem = _read_row(offset, values, year, planner, report)
        if problem is None and row is not None:
            name = row.payload["matter_name"]
            if name in existing:
                problem = RowProblem(
                    offset,
                    f"{year}年目录中已有此事项（{existing[name]}），未重复导入",
                    f"the {year} catalogue already holds this matter ({existing[name]}); not imported again",
                )
            elif name in seen_names:
                problem = RowProblem(
                    offset,
                    f"与第{seen_names[name]}行的事项重复",
                    f"the same matter as row {seen_names[name]}",
                )
        if problem is not None:
            report.problems.append(problem)
            continue
        assert row is not None
        seen_names[row.payload["matter_name"]] = offset
        accepted.append(row)
    if not accepted:
        return report
    new_units = planner.new_units_for(accepted)
    steps: list[tuple[str, str, Mapping[str, Any]]] = [
        ("add_unit", actor, {"id": code, "name": name, "kind": _unit_kind(name)}) for code, name in new_units
    ]
    steps += [("propose_catalogue_entry", actor, row.payload) for row in accepted]
    try:
        results = run_actions(ctx, steps, now)
    except BatchRefused as refused:
        raise _fatal(refused, new_units, accepted) from None
    report.units_created = new_units
    proposals: list[ActionResult] = results[len(new_units) :]
    report.imported = [
        ImportedRow(row.number, str(result.data["entry"]), row.payload["matter_name"])
        for row, result in zip(accepted, proposals, strict=True)
    ]
    return report


def _fatal(refused: BatchRefused, new_units: list[tuple[str, str]], rows: list[_Row]) -> ProcedureError:
    """The refusal that stopped the transaction, naming the row (or unit) it concerned."""
    error = refused.error
    if refused.index < len(new_units):
        code, name = new_units[refused.index]
        zh, en = f"新建单位“{name}”（{code}）时", f"creating the unit {name} ({code})"
    else:
        number = rows[refused.index - len(new_units)].number
        zh, en = f"第{number}行", f"row {number}"
    return ProcedureError(
        error.rule_id,
        error.article,
        f"{zh}：{error.message_zh}；未导入任何内容",
        f"{en}: {error.message_en}; nothing was imported",
        field=error.field,
        kind=error.kind,
    )


def _matter_names(session: Session, jurisdiction_id: int, year: int) -> dict[str, str]:
    """The matters already proposed or included in the year's catalogue: name -> code."""
    entries = session.exec(
        select(CatalogueEntry.matter_name, CatalogueEntry.code)
        .join(CatalogueYear, col(CatalogueYear.id) == CatalogueEntry.catalogue_year_id)
        .where(CatalogueYear.jurisdiction_id == jurisdiction_id, CatalogueYear.year == year)
        .where(col(CatalogueEntry.status).in_(IN_CATALOGUE))
    ).all()
    return dict(entries)


def _read_row(
    number: int, values: Mapping[str, Any], year: int, planner: _UnitPlanner, report: ImportReport
) -> tuple[_Row | None, RowProblem | None]:
    def problem(zh: str, en: str) -> tuple[None, RowProblem]:
        return None, RowProblem(number, zh, en)

    name = _text(values.get("matter_name"))
    filled = [key for key, value in values.items() if _text(value)]
    if not name:
        if len(filled) <= 1:
            return problem(
                "不是事项行（标题、分类或说明），未导入",
                "not a matter row (a heading, section or note); not imported",
            )
        return problem("缺少决策事项名称", "the matter name is missing")
    units = _units(_text(values.get("units")))
    if not units:
        return problem("承办单位为空", "the undertaking unit is empty")
    lead, *rest = units
    cooperating = [u for u in [*rest, *_units(_text(values.get("cooperating_units")))] if u != lead]
    unit_names = list(dict.fromkeys([lead, *cooperating]))

    procedures: list[str] = []
    for word in _PROCEDURE_SEPARATORS.split(_text(values.get("procedures"))):
        word = word.strip("。.")
        if not word:
            continue
        stage = PROCEDURE_NAMES.get(word)
        if stage is None or stage not in ACCEPTED_PROCEDURES:
            known = "、".join(
                n for n, s in PROCEDURE_NAMES.items() if s in ACCEPTED_PROCEDURES and len(n) <= 6
            )
            return problem(f"决策程序“{word}”无法识别（可用：{known}）", f"unknown procedure {word!r}")
        procedures.append(stage)
    for key, value in values.items():
        if key.startswith("procedure:") and _text(value):
            answer = _yes_no(_text(value))
            if answer is None:
                return problem(f"“{_text(value)}”不是 是/否", f"{_text(value)!r} is not yes or no (是/否)")
            if answer:
                procedures.append(key.removeprefix("procedure:"))
    hearing_text = _text(values.get("hearing"))
    hearing = _yes_no(hearing_text) if hearing_text else False
    if hearing is None:
        return problem(f"是否听证“{hearing_text}”应为 是 或 否", f"hearing {hearing_text!r} must be 是 or 否")

    category = report.default_category
    category_text = _text(values.get("category"))
    if category_text:
        parsed = _category(category_text)
        if parsed is None:
            return problem(
                f"事项类别“{category_text}”无法识别（1–5 或条例第三条的类别名称）",
                f"category {category_text!r} is not 1-5 or an Art. 3(1) category name",
            )
        category = parsed
    else:
        report.rows_with_default_category += 1

    codes = [planner.code_for(unit) for unit in unit_names]
    for unit, code in zip(unit_names, codes, strict=True):
        if planner.is_new(code):
            try:
                validate_payload("add_unit", {"id": code, "name": unit, "kind": _unit_kind(unit)})
            except ProcedureError as exc:
                return problem(
                    f"单位名称“{unit[:40]}”无效：{exc.message_zh}", f"unit name invalid: {exc.message_en}"
                )
    payload: dict[str, Any] = {
        "year": year,
        "matter_name": name,
        "main_content": _text(values.get("main_content")),
        "category": category,
        "units": codes,
        "lead_unit": codes[0],
        "legal_basis": _text(values.get("legal_basis")),
        "procedures_required": [p for p in CATALOGUE_PROCEDURES if p in procedures],
        "hearing_required": hearing,
        "planned_decision_time": _planned(values.get("planned_time")),
    }
    try:
        validate_payload("propose_catalogue_entry", payload)
    except ProcedureError as exc:
        column = {"matter_name": "决策事项名称", "planned_decision_time": "计划完成时间"}.get(
            exc.field or "", ""
        )
        return problem(f"{column}{exc.message_zh}", exc.message_en)
    violation = undertaking_units_named(codes, codes[0])
    if violation is not None:
        return problem(violation.zh, violation.en)
    return _Row(number, payload, unit_names), None


def _units(text: str) -> list[str]:
    """Unit names in a cell, the one marked 牵头 first; 配合单位： parts after."""
    lead: list[str] = []
    others: list[str] = []
    for part in _UNIT_SEPARATORS.split(text):
        part = part.strip().strip("。.")
        if not part:
            continue
        if _LEAD_MARK.search(part):
            name = _LEAD_MARK.sub("", part).strip()
            (lead if name else others).append(name)
            continue
        name = _COOPERATING_MARK.sub("", part).strip()
        if name:
            others.append(name)
    return list(dict.fromkeys([*lead, *others]))


def _yes_no(text: str) -> bool | None:
    word = text.strip().lower()
    if word in YES or word.startswith("是"):
        return True
    if word in NO or word.startswith("否"):
        return False
    return None


def _category(text: str) -> int | None:
    if text.isdigit() and 1 <= int(text) <= 5:
        return int(text)
    for number, label in proc.CATEGORIES.items():
        zh = label.split(" / ")[0]
        if text in (zh, zh.replace("重大", "")):
            return number
    return None


def _planned(value: Any) -> str:
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return f"{value.year}年{value.month}月"
    return _text(value)


def _unit_kind(name: str) -> str:
    return "lower_government" if name.endswith(_LOWER_GOVERNMENT) else "department"


class _UnitPlanner:
    """Unit names -> codes: existing units by name or code; a new name gets the next free
    U-code, in the order the file names them."""

    def __init__(self, units: Sequence[Unit]) -> None:
        self._by_name = {_header_key(u.name): u.code for u in units}
        self._codes = {u.code for u in units}
        self._new: dict[str, str] = {}  # code -> name

    def code_for(self, name: str) -> str:
        key = _header_key(name)
        if key in self._by_name:
            return self._by_name[key]
        if name in self._codes:
            return name
        code = next_free_code("U", len(self._codes) + 1, self._codes, width=3)
        self._codes.add(code)
        self._by_name[key] = code
        self._new[code] = name
        return code

    def is_new(self, code: str) -> bool:
        return code in self._new

    def new_units_for(self, rows: Sequence[_Row]) -> list[tuple[str, str]]:
        used = dict.fromkeys(code for row in rows for code in row.payload["units"])
        return [(code, self._new[code]) for code in used if code in self._new]


__all__ = [
    "FIELD_ALIASES",
    "PROCEDURE_NAMES",
    "ImportReport",
    "ImportedRow",
    "RowProblem",
    "find_header",
    "import_catalogue",
    "read_table",
]
