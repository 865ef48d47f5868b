"""Loading a year's holiday notice (P2, P13).

The State Council publishes each year's holidays and make-up working days (调休) late in
the previous year. Until then, dates in that year count weekends only and are marked
provisional. An administrator loads the notice from a YAML or CSV file; in one transaction
the year's overrides are replaced and every open deadline whose counting touches that
year is recomputed, audited on its decision's chain and announced through the outbox.

This is an administrative bulk operation, not a public action: it has no decision of its
own and it is not in `procedure.ACTIONS`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import chinese_calendar
import yaml
from sqlalchemy import ColumnElement
from sqlmodel import Session, col, or_, select

from flows import hygiene
from flows import procedure as proc
from flows.calendar import WEEKDAYS_ZH, end_of_day
from flows.errors import invalid
from flows.service import audit
from flows.service.framework import (
    Actor,
    ServiceContext,
    due_instant,
    load_actor,
    load_calendar,
    plan_reminders,
    require_role,
    resolved_settings,
    the_jurisdiction,
)
from models import CalendarDay, CalendarYear, Deadline, Decision, OutboxEvent
from models.db import transact
from models.enums import DeadlineStatus

FIRST_YEAR, LAST_YEAR = 2000, 2100
MAX_BLOCK_DAYS = 31  # no holiday block in any notice has been longer than a few weeks
MAX_FILE_BYTES = 1024 * 1024  # a year's notice is a few KiB; anything near this is not one
NOTE_MAX = 100  # CalendarDay.note
SOURCE_MAX = 300  # CalendarYear.source
ORDINARY_DAY_NOTE = "按载入的通知为平常日"  # a row that undoes a chinesecalendar day the notice does not name
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

Kind = Literal["holiday", "workday"]


# ---------------------------------------------------------------------------- the notice
@dataclass(frozen=True)
class NoticeDay:
    """One day the notice names: a day off in a holiday block, or a make-up working day."""

    day: date
    kind: Kind
    note: str
    where: str  # the file field or line that named it, for error messages
    block: str = ""  # the holiday block it belongs to (for the weekend check)

    @property
    def is_working_day(self) -> bool:
        return self.kind == "workday"


@dataclass(frozen=True)
class HolidayNotice:
    year: int
    source: str
    days: tuple[NoticeDay, ...]  # sorted by day
    warnings: tuple[str, ...]
    file_name: str
    sha256: str

    @property
    def holidays(self) -> tuple[NoticeDay, ...]:
        return tuple(d for d in self.days if d.kind == "holiday")

    @property
    def workdays(self) -> tuple[NoticeDay, ...]:
        return tuple(d for d in self.days if d.kind == "workday")


def weekday_label(day: date) -> str:
    return f"{WEEKDAYS_ZH[day.weekday()]} {WEEKDAYS_EN[day.weekday()]}"


def read_notice(path: Path) -> HolidayNotice:
    """Parse and validate a holiday notice file (.yaml/.yml or .csv). Raises an INPUT
    ProcedureError naming the field or line at the first problem."""
    if not path.is_file():
        raise invalid("file", f"文件不存在：{path}", f"no such file: {path}")
    suffix = path.suffix.lower()
    if suffix not in (".yaml", ".yml", ".csv"):
        raise invalid(
            "file", f"须为 .yaml 或 .csv 文件：{path.name}", f"must be a .yaml or .csv file: {path.name}"
        )
    if path.stat().st_size > MAX_FILE_BYTES:
        raise invalid(
            "file", f"文件不得超过 {MAX_FILE_BYTES // 1024} KiB", f"at most {MAX_FILE_BYTES // 1024} KiB"
        )
    with path.open("rb") as handle:
        data = handle.read(MAX_FILE_BYTES + 1)  # the file may grow after the check
    if len(data) > MAX_FILE_BYTES:
        raise invalid(
            "file", f"文件不得超过 {MAX_FILE_BYTES // 1024} KiB", f"at most {MAX_FILE_BYTES // 1024} KiB"
        )
    try:
        text = data.decode("utf-8-sig")  # spreadsheets save CSV with a byte-order mark
    except UnicodeDecodeError:
        raise invalid("file", "文件须为 UTF-8 编码", "the file must be UTF-8 encoded") from None
    if suffix == ".csv":
        year, source, entries = _parse_csv(text, path)
    else:
        year, source, entries = _parse_yaml(text)
    days, warnings = _validate(year, entries)
    return HolidayNotice(
        year=year,
        source=source or path.name,
        days=days,
        warnings=warnings,
        file_name=path.name,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def _year(value: object, where: str) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or isinstance(value, bool):
        raise invalid(where, "须为四位年份", "must be a four-digit year")
    if not FIRST_YEAR <= value <= LAST_YEAR:
        raise invalid(
            where, f"年份须在 {FIRST_YEAR}–{LAST_YEAR} 之间", f"the year must be {FIRST_YEAR}-{LAST_YEAR}"
        )
    return value


def _clean_text(value: str, where: str) -> None:
    problem = hygiene.text_problem(value, multiline=False)
    if problem is not None:
        raise invalid(where, *problem)


def _source(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise invalid(where, "须为非空文本", "must be non-empty text")
    _clean_text(value, where)
    if len(value.strip()) > SOURCE_MAX:
        raise invalid(where, f"不得超过 {SOURCE_MAX} 字", f"at most {SOURCE_MAX} characters")
    return value.strip()


def _note(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise invalid(where, "须为非空文本", "must be non-empty text")
    _clean_text(value, where)
    # a make-up day's note adds "调休上班" to the holiday's name
    if len(value.strip()) > NOTE_MAX - 4:
        raise invalid(where, f"不得超过 {NOTE_MAX - 4} 字", f"at most {NOTE_MAX - 4} characters")
    return value.strip()


def _one_date(value: object, where: str) -> date:
    if isinstance(value, datetime):  # YAML reads 2027-01-01T00:00 as a datetime
        raise invalid(where, f"{value} 须为日期而非时间", f"{value} must be a date, not a time")
    if isinstance(value, date):
        return value
    text = str(value).strip() if isinstance(value, str | int) else ""
    if ISO_DATE.match(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    raise invalid(where, "不是 YYYY-MM-DD 日期", "is not a YYYY-MM-DD date")


def _dates(value: object, where: str) -> list[date]:
    """A date, or a range FROM..TO with both ends included."""
    if isinstance(value, str) and ".." in value:
        start_text, _, end_text = value.partition("..")
        start, end = _one_date(start_text, where), _one_date(end_text, where)
        if end < start:
            raise invalid(
                where, f"范围 {start}..{end} 的终点早于起点", f"range {start}..{end} ends before it starts"
            )
        if (end - start).days >= MAX_BLOCK_DAYS:
            raise invalid(
                where,
                f"范围 {start}..{end} 超过 {MAX_BLOCK_DAYS} 天",
                f"range {start}..{end} is over {MAX_BLOCK_DAYS} days",
            )
        return [start + timedelta(days=n) for n in range((end - start).days + 1)]
    return [_one_date(value, where)]


def _list(value: object, where: str, *, required: bool) -> list[Any]:
    if value is None and not required:
        return []
    if not isinstance(value, list) or (required and not value):
        raise invalid(where, "须为非空列表", "must be a non-empty list")
    return value


def _only_keys(mapping: Mapping[Any, Any], allowed: Iterable[str], prefix: str) -> None:
    for key in mapping:
        if key not in allowed:
            raise invalid(f"{prefix}{hygiene.safe_label(key)}", "未知字段", "unknown field")


def _parse_yaml(text: str) -> tuple[int, str, list[NoticeDay]]:
    try:
        document = yaml.load(text, Loader=hygiene.UniqueKeyLoader)  # a key given twice is an error
    except ValueError:  # an impossible date such as 2027-02-30 fails in the constructor
        raise invalid("file", "YAML 中有无效日期", "an invalid date in the YAML") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"第 {mark.line + 1} 行" if mark is not None else ""
        line_en = f" at line {mark.line + 1}" if mark is not None else ""
        raise invalid("file", f"YAML 格式错误{line}", f"malformed YAML{line_en}") from None
    if not isinstance(document, dict):
        raise invalid(
            "file",
            "须为 YAML 映射（year, source, holidays）",
            "must be a YAML mapping (year, source, holidays)",
        )
    _only_keys(document, ("year", "source", "holidays", "workdays"), "")
    if "year" not in document:
        raise invalid("year", "必填", "is required")
    year = _year(document["year"], "year")
    source = _source(document["source"], "source") if "source" in document else ""
    entries: list[NoticeDay] = []
    for i, block in enumerate(_list(document.get("holidays"), "holidays", required=True)):
        where = f"holidays[{i}]"
        if not isinstance(block, dict):
            raise invalid(
                where, "须为映射（name, days, workdays）", "must be a mapping (name, days, workdays)"
            )
        _only_keys(block, ("name", "days", "workdays"), f"{where}.")
        name = _note(block.get("name"), f"{where}.name")
        for j, value in enumerate(_list(block.get("days"), f"{where}.days", required=True)):
            for day in _dates(value, f"{where}.days[{j}]"):
                entries.append(NoticeDay(day, "holiday", name, f"{where}.days[{j}]", block=f"{i}"))
        for j, value in enumerate(_list(block.get("workdays"), f"{where}.workdays", required=False)):
            day = _one_date(value, f"{where}.workdays[{j}]")
            entries.append(NoticeDay(day, "workday", f"{name}调休上班", f"{where}.workdays[{j}]"))
    for j, value in enumerate(_list(document.get("workdays"), "workdays", required=False)):
        entries.append(NoticeDay(_one_date(value, f"workdays[{j}]"), "workday", "调休上班", f"workdays[{j}]"))
    return year, source, entries


CSV_COLUMNS = ("date", "kind", "note")
DIRECTIVE = re.compile(r"^#\s*(year|source)\s*:\s*(.*)$")


def _parse_csv(text: str, path: Path) -> tuple[int, str, list[NoticeDay]]:
    """`date,kind,note` rows; `# year: YYYY` and `# source: ...` comment lines above the
    header (the year defaults to a four-digit file name such as 2027.csv)."""
    directives: dict[str, tuple[str, int]] = {}
    lines = text.splitlines()
    header_at = None
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            found = DIRECTIVE.match(stripped)
            if found:
                directives[found.group(1)] = (found.group(2).strip(), number)
            continue
        header_at = number
        break
    if header_at is None:
        raise invalid("file", "CSV 文件没有表头 date,kind,note", "the CSV file has no date,kind,note header")
    if "year" in directives:
        value, number = directives["year"]
        year = _year(value, f"line {number}.year")
    elif re.fullmatch(r"\d{4}", path.stem):
        year = _year(path.stem, "file")
    else:
        raise invalid(
            "year",
            "CSV 文件须以 '# year: YYYY' 注明年份，或以年份命名",
            "state the year in a '# year: YYYY' line or name the file after it",
        )
    source = ""
    if "source" in directives:
        value, number = directives["source"]
        source = _source(value, f"line {number}.source")
    try:
        rows = list(csv.reader(io.StringIO("\n".join(lines[header_at - 1 :])), strict=True))
    except csv.Error as exc:
        raise invalid("file", f"CSV 格式错误：{exc}", f"malformed CSV: {exc}") from None
    header = [cell.strip().lower() for cell in rows[0]]
    if (
        header[:2] != ["date", "kind"]
        or not set(header) <= set(CSV_COLUMNS)
        or len(set(header)) != len(header)
    ):
        raise invalid(
            f"line {header_at}",
            "表头须为 date,kind,note",
            "the header must be date,kind,note",
        )
    entries: list[NoticeDay] = []
    for offset, row in enumerate(rows[1:], start=1):
        number = header_at + offset
        if not any(cell.strip() for cell in row):
            continue
        if row[0].lstrip().startswith("#"):
            continue
        if len(row) != len(header):
            raise invalid(
                f"line {number}",
                f"应有 {len(header)} 列，实有 {len(row)} 列",
                f"expected {len(header)} columns, found {len(row)}",
            )
        cells = dict(zip(header, (cell.strip() for cell in row), strict=True))
        day = _one_date(cells["date"], f"line {number}.date")
        kind = cells["kind"].lower()
        if kind not in ("holiday", "workday"):
            raise invalid(
                f"line {number}.kind",
                "须为 holiday 或 workday",
                "must be holiday or workday",
            )
        note = cells.get("note", "")
        if note and len(note) > NOTE_MAX:
            raise invalid(f"line {number}.note", f"不得超过 {NOTE_MAX} 字", f"at most {NOTE_MAX} characters")
        _clean_text(note, f"line {number}.note")
        if kind == "holiday":
            entries.append(NoticeDay(day, "holiday", note or "假日", f"line {number}.date", block=note))
        else:
            entries.append(NoticeDay(day, "workday", note or "调休上班", f"line {number}.date"))
    return year, source, entries


def _validate(year: int, entries: Sequence[NoticeDay]) -> tuple[tuple[NoticeDay, ...], tuple[str, ...]]:
    """Every date in the stated year, none named twice, make-up days on weekends only.
    A holiday on a weekend outside any weekday block is unusual: a warning, not an error."""
    seen: dict[date, NoticeDay] = {}
    for entry in entries:
        if entry.day.year != year:
            raise invalid(
                entry.where, f"{entry.day} 不在 {year} 年内", f"{entry.day} is not in the year {year}"
            )
        earlier = seen.get(entry.day)
        if earlier is not None:
            if earlier.kind != entry.kind:
                raise invalid(
                    entry.where,
                    f"{entry.day} 同时被列为假日和调休上班日（另见 {earlier.where}）",
                    f"{entry.day} is both a holiday and a make-up working day (see {earlier.where})",
                )
            raise invalid(
                entry.where,
                f"{entry.day} 重复列出（另见 {earlier.where}）",
                f"{entry.day} is listed twice (see {earlier.where})",
            )
        if entry.kind == "workday" and entry.day.weekday() < 5:
            raise invalid(
                entry.where,
                f"{entry.day}（{WEEKDAYS_ZH[entry.day.weekday()]}）本是工作日，调休上班日须为周六或周日",
                f"{entry.day} ({WEEKDAYS_EN[entry.day.weekday()]}) is a weekday already; "
                "a make-up working day must be a Saturday or Sunday",
            )
        seen[entry.day] = entry
    warnings: list[str] = []
    holidays = {e.day: e for e in entries if e.kind == "holiday"}
    for entry in sorted(holidays.values(), key=lambda e: e.day):
        if entry.day.weekday() >= 5 and not _run_has_weekday(entry, holidays):
            warnings.append(
                f"{entry.where}: {entry.day}（{WEEKDAYS_ZH[entry.day.weekday()]}）本是休息日，且不与工作日假期相连"
                f" / {entry.day} ({WEEKDAYS_EN[entry.day.weekday()]}) is a weekend day outside any weekday holiday block"
            )
    if not holidays:
        warnings.append("没有列出任何假日 / the file lists no holidays")
    return tuple(sorted(seen.values(), key=lambda e: e.day)), tuple(warnings)


def _run_has_weekday(entry: NoticeDay, holidays: Mapping[date, NoticeDay]) -> bool:
    """Does the unbroken run of days off in `entry`'s block include a weekday?"""
    for step in (1, -1):
        day = entry.day
        while True:
            day += timedelta(days=step)
            neighbour = holidays.get(day)
            if neighbour is None or neighbour.block != entry.block:
                break
            if day.weekday() < 5:
                return True
    return False


def override_rows(notice: HolidayNotice) -> tuple[list[CalendarDay], list[str]]:
    """The CalendarDay rows that make the notice authoritative for its year: every day it
    names, plus, where chinesecalendar covers the year and disagrees on a day the notice
    does not name, that day at its ordinary weekday/weekend status."""
    rows = [CalendarDay(day=d.day, is_working_day=d.is_working_day, note=d.note) for d in notice.days]
    named = {d.day for d in notice.days}
    warnings: list[str] = []
    day = date(notice.year, 1, 1)
    while day.year == notice.year:
        if day not in named:
            try:
                packaged = bool(chinese_calendar.is_workday(day))
            except NotImplementedError:
                break  # the package does not cover this year: weekends are the base
            ordinary = day.weekday() < 5
            if packaged != ordinary:
                rows.append(CalendarDay(day=day, is_working_day=ordinary, note=ORDINARY_DAY_NOTE))
                warnings.append(
                    f"{day}: chinesecalendar 与文件不一致，以文件为准 / chinesecalendar disagrees; the file wins"
                )
        day += timedelta(days=1)
    return rows, warnings


# ---------------------------------------------------------------------------- loading
@dataclass(frozen=True)
class RecomputedDeadline:
    deadline_id: int
    decision: str | None
    kind: str
    subject_ref: str
    old_due: date
    new_due: date
    old_provisional: bool
    provisional: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "deadline_id": self.deadline_id,
            "kind": self.kind,
            "subject_ref": self.subject_ref,
            "old_due": self.old_due.isoformat(),
            "new_due": self.new_due.isoformat(),
            "old_provisional": self.old_provisional,
            "provisional": self.provisional,
        }


@dataclass(frozen=True)
class LoadResult:
    year: int
    source: str
    holidays: int
    workdays: int
    replaced: bool  # the year had been loaded before
    recomputed: tuple[RecomputedDeadline, ...]
    warnings: tuple[str, ...]
    audit_seq: int  # of the calendar_loaded event on the jurisdiction chain


# Who may load a year's notice: the administrator. The calendar decides every statutory
# deadline, so the load is audited on the set-up chain and on each decision it moves.
CALENDAR_ROLES = frozenset({"admin"})


def load_calendar_file(
    ctx: ServiceContext, path: Path | str, actor: str, now: datetime | None = None
) -> LoadResult:
    """Validate the file, then in one transaction replace the year's overrides and
    recompute the deadlines that depend on them (P13). Nothing changes if anything fails.
    `actor` is an active user holding `admin` (AUTH otherwise); `now` follows the clock
    rules (`ServiceContext.write_time`)."""
    notice = read_notice(Path(path))
    if not actor.strip():
        raise invalid("actor", "必填", "is required")
    moment = ctx.write_time(now)
    return transact(ctx.engine, lambda session: _load(session, notice, actor.strip(), moment, ctx.os_account))


def _load(
    session: Session, notice: HolidayNotice, actor_code: str, now: datetime, os_account: str
) -> LoadResult:
    # alone: no action or sweep computes dates on the calendar while it changes
    jurisdiction = the_jurisdiction(session, lock="calendar_write")
    loader: Actor = load_actor(session, jurisdiction, actor_code)
    require_role(loader, CALENDAR_ROLES, "载入放假通知", "loading a holiday notice")
    actor = loader.code
    tz = ZoneInfo(jurisdiction.timezone)
    settings = resolved_settings(jurisdiction)
    first, last = date(notice.year, 1, 1), date(notice.year, 12, 31)

    previous = session.get(CalendarYear, notice.year)
    was_confirmed = previous is not None or _packaged_year(notice.year)
    for old in session.exec(select(CalendarDay).where(CalendarDay.day >= first, CalendarDay.day <= last)):
        session.delete(old)
    session.flush()
    rows, package_warnings = override_rows(notice)
    session.add_all(rows)
    year_row = previous or CalendarYear(year=notice.year, source="", loaded_at=now, loaded_by=actor)
    year_row.source, year_row.loaded_at, year_row.loaded_by = notice.source, now, actor
    session.add(year_row)
    session.flush()
    calendar = load_calendar(session)  # re-read: the counting below must see the new rows

    # An open deadline depends on the year when the span it counts over touches it.
    # Provisional ones are the point (P13); if the year was confirmed before, a corrected
    # notice can move confirmed ones too.
    depends: list[ColumnElement[bool]] = [
        col(Deadline.status) == DeadlineStatus.open,
        or_(col(Deadline.base_date) <= last, col(Deadline.due_date) <= last),
        or_(col(Deadline.base_date) >= first, col(Deadline.due_date) >= first),
    ]
    if not was_confirmed:
        depends.append(col(Deadline.provisional).is_(True))
    # lock order as in run_action: the decisions, then their deadlines
    decision_ids = sorted(
        {i for i in session.exec(select(Deadline.decision_id).where(*depends).distinct()) if i is not None}
    )
    decisions = {
        d.id: d
        for d in session.exec(
            select(Decision)
            .where(col(Decision.id).in_(decision_ids))
            .order_by(col(Decision.id))
            .with_for_update()
        )
    }
    deadlines = session.exec(
        select(Deadline)
        .where(*depends)
        # only the decisions locked above, should another action have added a deadline since
        .where(or_(col(Deadline.decision_id).in_(decision_ids), col(Deadline.decision_id).is_(None)))
        .order_by(col(Deadline.decision_id), col(Deadline.id))
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()

    changed: list[tuple[Deadline, RecomputedDeadline]] = []
    for deadline in deadlines:
        decision = decisions.get(deadline.decision_id) if deadline.decision_id else None
        result = calendar.add(
            deadline.base_date,
            deadline.days,
            deadline.unit,
            direction=deadline.direction,
            roll=deadline.roll_to_working_day,
        )
        spec = _deadline_kind(decision, deadline.kind)
        due_at = due_instant(spec, result.day, tz) if spec else end_of_day(result.day, tz).astimezone(UTC)
        if (result.day, due_at, result.provisional) == (
            deadline.due_date,
            deadline.due_at,
            deadline.provisional,
        ):
            continue
        assert deadline.id is not None
        record = RecomputedDeadline(
            deadline_id=deadline.id,
            decision=decision.code if decision else None,
            kind=deadline.kind,
            subject_ref=deadline.subject_ref,
            old_due=deadline.due_date,
            new_due=result.day,
            old_provisional=deadline.provisional,
            provisional=result.provisional,
        )
        deadline.due_date, deadline.due_at, deadline.provisional = result.day, due_at, result.provisional
        plan_reminders(deadline, settings, calendar, tz, now)
        session.add(deadline)
        changed.append((deadline, record))

    common = {"year": notice.year, "source": notice.source, "file": notice.file_name, "sha256": notice.sha256}
    for decision_id in sorted({d.decision_id for d, _ in changed if d.decision_id is not None}):
        audit.append(
            session,
            chain=f"decision:{decision_id}",
            action="calendar_recomputed",
            actor=actor,
            actor_roles=loader.roles_text,
            occurred_at=now,
            payload={
                **common,
                "deadlines": [r.as_dict() for d, r in changed if d.decision_id == decision_id],
            },
            decision_id=decision_id,
            os_account=os_account,
        )
    warnings = notice.warnings + tuple(package_warnings)
    for deadline, record in changed:
        # written before the load's event, which records their digests; unique even when a
        # year is loaded again
        session.add(
            OutboxEvent(
                event_type="deadline_recomputed",
                decision_id=deadline.decision_id,
                idempotency_key=f"deadline_recomputed:{deadline.id}:calendar:{uuid.uuid4().hex}",
                payload={
                    "action": "calendar_load",
                    "actor": actor,
                    "decision": record.decision,
                    "year": notice.year,
                    "due_at": deadline.due_at.isoformat(),
                    **record.as_dict(),
                },
                created_at=now,
            )
        )
    loaded = audit.append(
        session,
        chain=f"jurisdiction:{jurisdiction.id}",
        action="calendar_loaded",
        actor=actor,
        actor_roles=loader.roles_text,
        occurred_at=now,
        payload={
            **common,
            "replaced": previous is not None,
            "holidays": {d.day.isoformat(): d.note for d in notice.holidays},
            "workdays": {d.day.isoformat(): d.note for d in notice.workdays},
            "recomputed": [{"decision": r.decision, **r.as_dict()} for _, r in changed],
            "warnings": list(warnings),
        },
        decision_id=None,
        os_account=os_account,
    )
    session.flush()
    return LoadResult(
        year=notice.year,
        source=notice.source,
        holidays=len(notice.holidays),
        workdays=len(notice.workdays),
        replaced=previous is not None,
        recomputed=tuple(r for _, r in changed),
        warnings=warnings,
        audit_seq=loaded.seq,
    )


def _packaged_year(year: int) -> bool:
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


def _deadline_kind(decision: Decision | None, kind: str) -> proc.DeadlineKind | None:
    kinds = proc.procedure(decision.procedure_version if decision else proc.CURRENT_VERSION).deadline_kinds
    return kinds.get(kind)


# ---------------------------------------------------------------------------- reading a year
YearStatus = Literal["loaded", "chinesecalendar", "provisional"]


@dataclass(frozen=True)
class YearSummary:
    year: int
    status: YearStatus
    source: str
    holidays: tuple[tuple[date, str], ...]
    workdays: tuple[tuple[date, str], ...]
    loaded_at: datetime | None = None
    loaded_by: str | None = None

    @property
    def confirmed(self) -> bool:
        return self.status != "provisional"


def year_summary(session: Session, year: int) -> YearSummary:
    """What the calendar knows about `year`: a loaded notice, the package's data, or
    nothing (weekends only, provisional, P13)."""
    loaded = session.get(CalendarYear, year)
    if loaded is not None:
        rows = session.exec(
            select(CalendarDay)
            .where(CalendarDay.day >= date(year, 1, 1), CalendarDay.day <= date(year, 12, 31))
            .order_by(col(CalendarDay.day))
        ).all()
        return YearSummary(
            year,
            "loaded",
            loaded.source,
            tuple((r.day, r.note) for r in rows if not r.is_working_day and r.note != ORDINARY_DAY_NOTE),
            tuple((r.day, r.note) for r in rows if r.is_working_day and r.note != ORDINARY_DAY_NOTE),
            loaded.loaded_at,
            loaded.loaded_by,
        )
    if _packaged_year(year):
        names = {h.value: h.chinese for h in chinese_calendar.Holiday}
        holidays = sorted(
            (d, names.get(n, n)) for d, n in chinese_calendar.holidays.items() if d.year == year
        )
        workdays = sorted(
            (d, names.get(n, n)) for d, n in chinese_calendar.workdays.items() if d.year == year
        )
        return YearSummary(year, "chinesecalendar", "chinesecalendar", tuple(holidays), tuple(workdays))
    return YearSummary(year, "provisional", "", (), ())


def holiday_blocks(days: Sequence[tuple[date, str]]) -> list[tuple[str, date, date]]:
    """Consecutive days off with the same name, as (name, first, last)."""
    blocks: list[tuple[str, date, date]] = []
    for day, name in sorted(days):
        if blocks and blocks[-1][0] == name and blocks[-1][2] + timedelta(days=1) == day:
            blocks[-1] = (name, blocks[-1][1], day)
        else:
            blocks.append((name, day, day))
    return blocks
