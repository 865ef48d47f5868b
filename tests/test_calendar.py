"""The working-day calendar (design decision 3, P2, P13): the 2026 notice, counting
rules, provisional years and loading a year's notice through the service and the CLI."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import chinese_calendar
import pytest
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from cli import app
from flows.calendar import WorkingCalendar
from flows.errors import ProcedureError
from flows.service import ServiceContext, audit, calendar_admin
from flows.service.calendar_admin import load_calendar_file, read_notice
from models import AuditEvent, CalendarDay, CalendarYear, Deadline, Decision, OutboxEvent
from models.db import make_engine, mark_database
from models.enums import DayUnit, DeadlineStatus
from tests.helpers import act, at, district, drafted, participation_done
from tests.schema import create_all

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_YAML = ROOT / "calendars" / "2027.yaml"
SAMPLE_CSV = ROOT / "calendars" / "2027.csv"


def d(text: str) -> date:
    return date.fromisoformat(text)


def days_between(first: str, last: str) -> list[date]:
    start, end = d(first), d(last)
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


# ---------------------------------------------------------------------------- 2026, from chinesecalendar
SPRING_FESTIVAL_2026 = days_between("2026-02-15", "2026-02-23")
NATIONAL_DAY_2026 = days_between("2026-10-01", "2026-10-07")
MAKE_UP_DAYS_2026 = [d("2026-02-14"), d("2026-02-28"), d("2026-10-10")]  # all Saturdays


def test_the_2026_notice_holidays_and_make_up_days() -> None:
    calendar = WorkingCalendar()
    for day in SPRING_FESTIVAL_2026 + NATIONAL_DAY_2026:
        assert not chinese_calendar.is_workday(day), day  # the package agrees with the notice
        assert calendar.working_day(day) == (False, False), day
    for day in MAKE_UP_DAYS_2026:
        assert day.weekday() == 5
        assert calendar.working_day(day) == (True, False), day
    assert calendar.is_working_day(d("2026-02-24")) and calendar.is_working_day(d("2026-10-08"))
    assert calendar.is_confirmed_year(2026) and not calendar.is_confirmed_year(2027)


def test_working_days_across_the_spring_festival() -> None:
    calendar = WorkingCalendar()
    # from Fri 02-13: Sat 02-14 (make-up) 1; 02-15..02-23 off; 02-24 2, 02-25 3, 02-26 4,
    # 02-27 5, Sat 02-28 (make-up) 6, Sun 03-01 off, Mon 03-02 7
    assert calendar.add_working_days(d("2026-02-13"), 7) == calendar_result("2026-03-02")
    # from Thu 02-12: 02-13 1, Sat 02-14 2; the holiday; Tue 02-24 3
    assert calendar.add_working_days(d("2026-02-12"), 3) == calendar_result("2026-02-24")


def test_working_days_across_national_day() -> None:
    calendar = WorkingCalendar()
    # from Wed 09-30: 10-01..10-07 off; Thu 10-08 1, Fri 10-09 2, Sat 10-10 (make-up) 3
    assert calendar.add_working_days(d("2026-09-30"), 3) == calendar_result("2026-10-10")
    # from Tue 09-29: Wed 09-30 1; the holiday; Thu 10-08 2
    assert calendar.add_working_days(d("2026-09-29"), 2) == calendar_result("2026-10-08")
    # backwards from Fri 10-09: Thu 10-08 1; 10-07..10-01 off; Wed 09-30 2
    assert calendar.add_working_days(d("2026-10-09"), 2, direction=-1) == calendar_result("2026-09-30")


def calendar_result(day: str, provisional: bool = False) -> Any:
    from flows.calendar import DateResult

    return DateResult(d(day), provisional)


# ---------------------------------------------------------------------------- P2
def test_p2_the_start_day_is_not_counted() -> None:
    calendar = WorkingCalendar()
    # a comment period published Tue 03-03 for 30 days: 03-04 is day 1, Thu 04-02 day 30
    assert calendar.add_calendar_days(d("2026-03-03"), 30) == calendar_result("2026-04-02")
    # Mon 03-02 plus one working day is Tue 03-03, not Monday itself
    assert calendar.add_working_days(d("2026-03-02"), 1) == calendar_result("2026-03-03")


def test_p2_a_calendar_day_period_ending_on_a_day_off_rolls_to_the_next_working_day() -> None:
    calendar = WorkingCalendar()
    # 09-01 + 30 days = Thu 10-01, National Day: the period ends on Thu 10-08
    assert calendar.add_calendar_days(d("2026-09-01"), 30) == calendar_result("2026-10-08")
    assert calendar.add(d("2026-09-01"), 30, DayUnit.calendar) == calendar_result("2026-10-08")
    # without rolling the day stays where the count ends
    assert calendar.add_calendar_days(d("2026-09-01"), 30, roll=False) == calendar_result("2026-10-01")
    # 03-01 + 7 = Sun 03-08: rolls to Mon 03-09
    assert calendar.add_calendar_days(d("2026-03-01"), 7) == calendar_result("2026-03-09")
    # 09-10 + 30 = Sat 10-10, a make-up working day: no roll
    assert calendar.add_calendar_days(d("2026-09-10"), 30) == calendar_result("2026-10-10")


def test_p14_a_lead_time_counted_back_does_not_roll() -> None:
    calendar = WorkingCalendar()
    # 7 days before Mon 10-12 is Mon 10-05 (National Day): any day on or before it keeps
    # the lead time, so the latest day stays 10-05 (only its reminder moves, P14)
    assert calendar.add_calendar_days(d("2026-10-12"), 7, direction=-1) == calendar_result("2026-10-05")
    assert calendar.add(d("2026-10-12"), 7, DayUnit.calendar, direction=-1) == calendar_result("2026-10-05")


# ---------------------------------------------------------------------------- P13, pure
def sample_calendar() -> WorkingCalendar:
    notice = read_notice(SAMPLE_YAML)
    return WorkingCalendar({x.day: x.is_working_day for x in notice.days}, [notice.year])


def test_p13_an_unconfirmed_year_counts_weekends_only_and_is_provisional() -> None:
    assert d("2027-01-01").weekday() == 4  # the sample's New Year holiday is a Friday
    # from Mon 2026-12-28: 12-29 1, 12-30 2, 12-31 3, Fri 01-01 4 (weekends only), 01-04 5,
    # 01-05 6, Wed 01-06 7
    assert WorkingCalendar().add_working_days(d("2026-12-28"), 7) == calendar_result("2027-01-06", True)
    # with the notice: 01-01..01-03 off, so Mon 01-04 is 4 and Thu 01-07 is 7
    assert sample_calendar().add_working_days(d("2026-12-28"), 7) == calendar_result("2027-01-07")
    # 12-02 + 30 days = Fri 2027-01-01: a working day unless the notice says otherwise
    assert WorkingCalendar().add_calendar_days(d("2026-12-02"), 30) == calendar_result("2027-01-01", True)
    assert sample_calendar().add_calendar_days(d("2026-12-02"), 30) == calendar_result("2027-01-04")


# ---------------------------------------------------------------------------- reading notice files
def test_the_sample_yaml_and_csv_hold_the_same_notice() -> None:
    from_yaml, from_csv = read_notice(SAMPLE_YAML), read_notice(SAMPLE_CSV)
    assert from_yaml.year == from_csv.year == 2027
    assert [(x.day, x.kind, x.note) for x in from_yaml.days] == [
        (x.day, x.kind, x.note) for x in from_csv.days
    ]
    assert from_yaml.source == from_csv.source and "测试样例" in from_yaml.source
    assert len(from_yaml.holidays) == 29 and len(from_yaml.workdays) == 5
    assert all(x.day.weekday() >= 5 for x in from_yaml.workdays)
    assert from_yaml.warnings == ()


def test_a_weekend_holiday_outside_a_weekday_block_is_a_warning_not_an_error(tmp_path: Path) -> None:
    path = tmp_path / "2027.yaml"
    path.write_text(
        "year: 2027\nholidays:\n"
        "  - {name: 元旦, days: [2027-01-01..2027-01-03]}\n"
        "  - {name: 奇怪, days: [2027-03-06]}\n",  # a lone Saturday
        encoding="utf-8",
    )
    notice = read_notice(path)
    assert [x.day for x in notice.holidays] == [*days_between("2027-01-01", "2027-01-03"), d("2027-03-06")]
    assert len(notice.warnings) == 1 and "2027-03-06" in notice.warnings[0]
    assert "holidays[1].days[0]" in notice.warnings[0]


GOOD_BLOCK = "  - {name: 春节, days: [2027-02-05..2027-02-13], workdays: [2027-02-20]}\n"
BAD_FILES = [
    pytest.param(
        "2027.yaml",
        "year: 2027\nholidays:\n  - {name: 元旦, days: [2026-12-31]}\n",
        "holidays[0].days[0]",
        id="yaml-date-outside-the-year",
    ),
    pytest.param(
        "2027.yaml",
        "year: 2027\nholidays:\n" + GOOD_BLOCK + "  - {name: 元旦, days: [2027-12-31..2028-01-01]}\n",
        "holidays[1].days[0]",
        id="yaml-range-running-into-the-next-year",
    ),
    pytest.param(
        "2027.yaml",
        "year: 2027\nholidays:\n  - {name: 春节, days: [2027-02-05], workdays: [2027-02-22]}\n",
        "holidays[0].workdays[0]",
        id="yaml-weekday-as-make-up-day",
    ),
    pytest.param(
        "2027.yaml",
        "year: 2027\nholidays:\n" + GOOD_BLOCK + "workdays: [2027-02-06]\n",
        "workdays[0]",
        id="yaml-day-both-holiday-and-workday",
    ),
    pytest.param(
        "2027.yaml",
        "year: 2027\nholidays:\n  - {name: 元旦, days: [2027-01-01, '2027-02-30']}\n",
        "holidays[0].days[1]",
        id="yaml-impossible-date",
    ),
    pytest.param(
        "2027.yaml",
        "year: 2027\nholidays:\n  - {name: 元旦, days: [2027-01-03..2027-01-01]}\n",
        "holidays[0].days[0]",
        id="yaml-backwards-range",
    ),
    pytest.param("2027.yaml", "year: 2027\nholidays: [\n  - {name: 元旦\n", "file", id="yaml-malformed"),
    pytest.param("2027.yaml", "year: 2027\nholidays: []\nholiday: x\n", "holiday", id="yaml-unknown-field"),
    pytest.param("2027.yaml", "holidays:\n" + GOOD_BLOCK, "year", id="yaml-year-missing"),
    pytest.param("2027.yaml", "year: 27\nholidays:\n" + GOOD_BLOCK, "year", id="yaml-year-out-of-range"),
    pytest.param("2027.yaml", "- 2027-01-01\n", "file", id="yaml-not-a-mapping"),
    pytest.param(
        "2027.csv",
        "date,kind,note\n2027-01-01,holiday,元旦\n2027-01-04,workday,调休\n",
        "line 3.date",
        id="csv-weekday-as-make-up-day",
    ),
    pytest.param(
        "2027.csv", "date,kind,note\n2028-01-01,holiday,元旦\n", "line 2.date", id="csv-date-outside-the-year"
    ),
    pytest.param(
        "2027.csv", "date,kind,note\n2027-01-01,day-off,元旦\n", "line 2.kind", id="csv-unknown-kind"
    ),
    pytest.param(
        "2027.csv", "# year: 2027\ndate,kind,note\n2027-01-01,holiday\n", "line 3", id="csv-short-row"
    ),
    pytest.param("2027.csv", "day,type\n2027-01-01,holiday\n", "line 1", id="csv-wrong-header"),
    pytest.param(
        "2027.csv", "date,kind,note\n01/01/2027,holiday,元旦\n", "line 2.date", id="csv-not-an-iso-date"
    ),
    pytest.param("notice.csv", "date,kind,note\n2027-01-01,holiday,元旦\n", "year", id="csv-no-year"),
    pytest.param(
        "2027.csv",
        "date,kind,note\n2027-01-01,holiday,元旦\n2027-01-01,workday,x\n",
        "line 3.date",
        id="csv-day-both-holiday-and-workday",
    ),
    pytest.param("2027.txt", "year: 2027\n", "file", id="unknown-file-type"),
]


def calendar_state(ctx: ServiceContext) -> dict[str, Any]:
    """Everything a calendar load may change."""
    with Session(ctx.engine) as session:
        return {
            "days": sorted((r.day, r.is_working_day, r.note) for r in session.exec(select(CalendarDay))),
            "years": sorted((r.year, r.source, r.loaded_by) for r in session.exec(select(CalendarYear))),
            "deadlines": sorted(
                (r.id, r.due_date, r.due_at, r.provisional, r.status) for r in session.exec(select(Deadline))
            ),
            "audit": audit.count(session),
            "outbox": len(session.exec(select(OutboxEvent)).all()),
        }


@pytest.mark.parametrize(("name", "content", "field"), BAD_FILES)
def test_a_bad_notice_file_is_refused_naming_the_field_and_changes_nothing(
    ctx: ServiceContext, tmp_path: Path, name: str, content: str, field: str
) -> None:
    district(ctx)
    load_calendar_file(ctx, SAMPLE_YAML, actor="liu", now=at("2026-12-01T09:00"))  # something to keep
    before = calendar_state(ctx)
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ProcedureError) as caught:
        load_calendar_file(ctx, path, actor="liu", now=at("2026-12-02T09:00"))
    error = caught.value
    assert (error.rule_id, error.kind, error.field) == ("INPUT", "invalid", field), str(error)
    assert error.message_zh and error.message_en and field in error.message_en
    assert calendar_state(ctx) == before


def test_a_missing_file_is_refused(ctx: ServiceContext, tmp_path: Path) -> None:
    district(ctx)
    with pytest.raises(ProcedureError) as caught:
        load_calendar_file(ctx, tmp_path / "2027.yaml", actor="liu", now=at("2026-12-02T09:00"))
    assert caught.value.field == "file"


# ---------------------------------------------------------------------------- loading into the database
def legality_review_submitted_on(ctx: ServiceContext, when: str) -> None:
    """D1 through public participation, then submitted for legality review (Art. 26)."""
    district(ctx)
    drafted(ctx)
    participation_done(ctx)
    act(
        ctx,
        "submit_for_legality_review",
        "li",
        when,
        decision="D1",
        procedures_statement="已履行公众参与程序",
    )


def open_deadline(session: Session, kind: str) -> Deadline:
    return session.exec(
        select(Deadline).where(Deadline.kind == kind, Deadline.status == DeadlineStatus.open)
    ).one()


def shanghai_midnight(day: str) -> datetime:
    return at(f"{day}T00:00").astimezone(UTC)


def test_loading_2027_recomputes_provisional_deadlines(ctx: ServiceContext) -> None:
    legality_review_submitted_on(ctx, "2026-12-28T09:00")  # a Monday
    with Session(ctx.engine) as session:
        review_min = open_deadline(session, "legality_review_min")  # T4: 7 working days
        opinion = open_deadline(session, "legality_opinion_due")  # P6: 15 working days
        comment_end = session.exec(select(Deadline).where(Deadline.kind == "comment_period_end")).one()
        decision = session.exec(select(Decision).where(Decision.code == "D1")).one()
    # weekends only in 2027: 12-29, 12-30, 12-31, Fri 01-01, 01-04, 01-05, Wed 01-06 (7th)
    assert (review_min.due_date, review_min.provisional) == (d("2027-01-06"), True)
    # ... then 01-07 8, 01-08 9, 01-11..01-15 10-14, Mon 01-18 (15th)
    assert (opinion.due_date, opinion.provisional) == (d("2027-01-18"), True)

    result = load_calendar_file(ctx, SAMPLE_YAML, actor="liu", now=at("2026-12-29T10:00"))

    with Session(ctx.engine) as session:
        review_after = session.get(Deadline, review_min.id)
        opinion_after = session.get(Deadline, opinion.id)
        comment_after = session.get(Deadline, comment_end.id)
        assert review_after is not None and opinion_after is not None and comment_after is not None
        # New Year 01-01..01-03 is off: 12-29, 12-30, 12-31, 01-04, 01-05, 01-06, Thu 01-07 (7th)
        assert review_after.due_date == d("2027-01-07") != review_min.due_date
        assert review_after.provisional is False
        assert review_after.due_at == shanghai_midnight("2027-01-07")  # binding from the start of the day
        # ... 01-08 8, 01-11..01-15 9-13, 01-18 14, Tue 01-19 (15th), due at 24:00 (P2)
        assert opinion_after.due_date == d("2027-01-19") != opinion.due_date
        assert opinion_after.provisional is False
        assert opinion_after.due_at == shanghai_midnight("2027-01-20")
        # a deadline that never touched 2027 is left alone
        assert (comment_after.due_date, comment_after.due_at, comment_after.status) == (
            comment_end.due_date,
            comment_end.due_at,
            comment_end.status,
        )

        year = session.get(CalendarYear, 2027)
        assert year is not None and year.loaded_by == "liu" and "测试样例" in year.source
        jan_first = session.get(CalendarDay, d("2027-01-01"))
        assert jan_first is not None and jan_first.is_working_day is False and jan_first.note == "元旦"

        assert audit.verify_all(session)[2] == []
        recomputed = session.exec(
            select(AuditEvent).where(
                AuditEvent.chain == f"decision:{decision.id}", AuditEvent.action == "calendar_recomputed"
            )
        ).one()
        moved = {x["kind"]: (x["old_due"], x["new_due"]) for x in recomputed.payload["deadlines"]}
        assert moved == {
            "legality_review_min": ("2027-01-06", "2027-01-07"),
            "legality_opinion_due": ("2027-01-18", "2027-01-19"),
        }
        assert recomputed.actor == "liu" and recomputed.decision_id == decision.id
        loaded = session.exec(select(AuditEvent).where(AuditEvent.action == "calendar_loaded")).one()
        assert loaded.chain.startswith("jurisdiction:") and loaded.seq == result.audit_seq
        assert loaded.payload["year"] == 2027 and loaded.payload["holidays"]["2027-01-01"] == "元旦"

        events = session.exec(
            select(OutboxEvent)
            .where(OutboxEvent.event_type == "deadline_recomputed")
            .order_by(col(OutboxEvent.id))
        ).all()
        assert sorted((e.payload["kind"], e.payload["new_due"]) for e in events) == [
            ("legality_opinion_due", "2027-01-19"),
            ("legality_review_min", "2027-01-07"),
        ]
        assert all(e.decision_id == decision.id for e in events)
        assert len({e.idempotency_key for e in events}) == 2

    assert {(r.kind, r.old_due, r.new_due, r.provisional) for r in result.recomputed} == {
        ("legality_review_min", d("2027-01-06"), d("2027-01-07"), False),
        ("legality_opinion_due", d("2027-01-18"), d("2027-01-19"), False),
    }
    assert (result.year, result.holidays, result.workdays, result.replaced) == (2027, 29, 5, False)


def test_loading_the_same_notice_again_moves_nothing(ctx: ServiceContext) -> None:
    legality_review_submitted_on(ctx, "2026-12-28T09:00")
    load_calendar_file(ctx, SAMPLE_YAML, actor="liu", now=at("2026-12-29T10:00"))
    before = calendar_state(ctx)
    again = load_calendar_file(ctx, SAMPLE_CSV, actor="liu", now=at("2026-12-29T11:00"))
    after = calendar_state(ctx)
    assert again.replaced and again.recomputed == ()
    assert after["days"] == before["days"] and after["deadlines"] == before["deadlines"]
    assert after["outbox"] == before["outbox"]
    assert after["audit"] == before["audit"] + 1  # only the jurisdiction's calendar_loaded
    with Session(ctx.engine) as session:
        assert audit.verify_all(session)[2] == []


def test_a_corrected_notice_moves_deadlines_computed_on_the_first_one(
    ctx: ServiceContext, tmp_path: Path
) -> None:
    legality_review_submitted_on(ctx, "2026-12-28T09:00")
    load_calendar_file(ctx, SAMPLE_YAML, actor="liu", now=at("2026-12-29T10:00"))
    corrected = tmp_path / "2027.yaml"
    corrected.write_text(
        SAMPLE_YAML.read_text(encoding="utf-8").replace(
            "days: [2027-01-01..2027-01-03]", "days: [2027-01-02..2027-01-03]"
        ),
        encoding="utf-8",
    )
    result = load_calendar_file(ctx, corrected, actor="liu", now=at("2026-12-30T10:00"))
    # New Year now only on the weekend: Fri 01-01 is 4, so the 7th working day is Wed 01-06 again
    assert [
        (r.kind, r.old_due, r.new_due, r.provisional)
        for r in result.recomputed
        if r.kind == "legality_review_min"
    ] == [("legality_review_min", d("2027-01-07"), d("2027-01-06"), False)]
    assert result.replaced and result.warnings  # Sat-Sun alone is not a weekday block
    with Session(ctx.engine) as session:
        assert session.get(CalendarDay, d("2027-01-01")) is None
        assert open_deadline(session, "legality_review_min").due_date == d("2027-01-06")


def test_a_load_failing_midway_rolls_everything_back(
    ctx: ServiceContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    legality_review_submitted_on(ctx, "2026-12-28T09:00")
    before = calendar_state(ctx)
    real_append = audit.append

    def failing_append(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("action") == "calendar_loaded":  # after the rows and deadlines were written
            raise RuntimeError("disk full")
        return real_append(*args, **kwargs)

    monkeypatch.setattr(calendar_admin.audit, "append", failing_append)
    with pytest.raises(RuntimeError):
        load_calendar_file(ctx, SAMPLE_YAML, actor="liu", now=at("2026-12-29T10:00"))
    assert calendar_state(ctx) == before


def test_loading_needs_a_jurisdiction(ctx: ServiceContext) -> None:
    with pytest.raises(ProcedureError) as caught:
        load_calendar_file(ctx, SAMPLE_YAML, actor="liu", now=at("2026-12-29T10:00"))
    assert caught.value.rule_id == "NOT_FOUND"


# ---------------------------------------------------------------------------- the CLI
@pytest.fixture
def cli_database(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    engine = make_engine(url)
    create_all(engine)
    mark_database(engine, "scenario", "tests")  # simulated clock: the test replays time
    district(ServiceContext(engine=engine, data_dir=tmp_path / "data"))
    engine.dispose()
    yield url


def run(*args: str) -> Any:
    return CliRunner().invoke(app, ["calendar", *args])


def test_cli_load_show_and_add_days(cli_database: str) -> None:
    before = run("add-days", "2026-12-28", "7", "--database", cli_database)
    assert before.exit_code == 0, before.output
    assert "2027-01-06" in before.output and "provisional" in before.output
    assert "provisional" in run("show", "2027", "--database", cli_database).output

    loaded = run("load", str(SAMPLE_YAML), "--actor", "liu", "--database", cli_database)
    assert loaded.exit_code == 0, loaded.output
    assert "2027" in loaded.output and "29" in loaded.output

    shown = run("show", "2027", "--database", cli_database)
    assert shown.exit_code == 0 and "confirmed" in shown.output and "provisional" not in shown.output
    assert "2027-02-20" in shown.output and "元旦" in shown.output

    after = run("add-days", "2026-12-28", "7", "--working", "--database", cli_database)
    assert after.exit_code == 0 and "2027-01-07" in after.output and "provisional" not in after.output
    rolled = run("add-days", "2026-09-01", "30", "--calendar", "--database", cli_database)
    assert rolled.exit_code == 0 and "2026-10-08" in rolled.output  # 10-01 is a holiday (P2)


def test_cli_show_a_chinesecalendar_year(cli_database: str) -> None:
    shown = run("show", "2026", "--database", cli_database)
    assert shown.exit_code == 0 and "chinesecalendar" in shown.output
    assert "2026-02-14" in shown.output and "2026-10-10" in shown.output


def test_cli_bad_input_exits_2_naming_the_field(cli_database: str, tmp_path: Path) -> None:
    bad = tmp_path / "2027.yaml"
    bad.write_text("year: 2027\nholidays:\n  - {name: 春节, days: [2027-02-05], workdays: [2027-02-22]}\n")
    refused = run("load", str(bad), "--actor", "liu", "--database", cli_database)
    assert refused.exit_code == 2
    assert "error INPUT [holidays[0].workdays[0]]" in refused.output
    assert "provisional" in run("show", "2027", "--database", cli_database).output  # nothing loaded

    for args, field in [
        (("load", str(tmp_path / "missing.yaml"), "--actor", "liu"), "FILE"),
        (("add-days", "2026-02-30", "3"), "DATE"),
        (("add-days", "2026-02-01", "three"), "N"),
        (("add-days", "2026-02-01", "99999"), "N"),
        (("show", "27"), "YEAR"),
    ]:
        result = run(*args, "--database", cli_database)
        assert result.exit_code == 2, (args, result.output)
        assert f"error INPUT [{field}]" in result.output, result.output
