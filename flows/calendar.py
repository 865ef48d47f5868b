"""The working-day calendar (P2, P13). Pure: no database, no clock.

Working days follow the State Council's yearly holiday notice including make-up working
days (调休). The `chinesecalendar` package is the base; administrators load overrides for
years it does not cover. A result computed on a year nobody confirmed is provisional.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar

from models.enums import DayUnit

SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class DateResult:
    day: date
    provisional: bool  # some day on the way lay in a year with no confirmed calendar (P13)


class WorkingCalendar:
    def __init__(
        self, overrides: Mapping[date, bool] | None = None, loaded_years: Iterable[int] = ()
    ) -> None:
        self._overrides = dict(overrides or {})
        self._loaded_years = frozenset(loaded_years)
        self._memo: dict[date, tuple[bool, bool]] = {}

    def is_confirmed_year(self, year: int) -> bool:
        if year in self._loaded_years:
            return True
        try:
            chinese_calendar.is_workday(date(year, 6, 1))
        except NotImplementedError:
            return False
        return True

    def working_day(self, day: date) -> tuple[bool, bool]:
        """(is it a working day, is that answer provisional). Memoised: a sweep asks about
        the same few weeks thousands of times, and the calendar never changes under it."""
        known = self._memo.get(day)
        if known is None:
            known = self._memo[day] = self._working_day(day)
        return known

    def _working_day(self, day: date) -> tuple[bool, bool]:
        if day in self._overrides:
            return self._overrides[day], False
        try:
            return bool(chinese_calendar.is_workday(day)), False
        except NotImplementedError:
            return day.weekday() < 5, day.year not in self._loaded_years

    def is_working_day(self, day: date) -> bool:
        return self.working_day(day)[0]

    def add(
        self, start: date, days: int, unit: DayUnit, *, direction: int = 1, roll: bool = True
    ) -> DateResult:
        if unit is DayUnit.working:
            return self.add_working_days(start, days, direction=direction)
        return self.add_calendar_days(start, days, direction=direction, roll=roll)

    def add_working_days(self, start: date, days: int, *, direction: int = 1) -> DateResult:
        """The day on which the `days`-th working day after (or before) `start` falls.
        The start day itself is not counted (Civil Code Art. 201, P2)."""
        step = timedelta(days=direction)
        day, counted, provisional = start, 0, False
        while counted < days:
            day += step
            working, unsure = self.working_day(day)
            provisional |= unsure
            counted += working
        return DateResult(day, provisional)

    def add_calendar_days(
        self, start: date, days: int, *, direction: int = 1, roll: bool = True
    ) -> DateResult:
        """`start` plus `days` calendar days; if that day is not a working day the period ends
        on the next working day (Civil Code Art. 203, P2). Counting backwards (a lead time
        "at least N days before" an event) never rolls: any day on or before the event
        minus N keeps the lead time, whatever kind of day it is (P14); only the reminder
        for it moves to the previous working day (notifications.policy)."""
        day = start + timedelta(days=days * direction)
        working, provisional = self.working_day(day)
        if roll and direction > 0:
            while not working:
                day += timedelta(days=direction)
                working, unsure = self.working_day(day)
                provisional |= unsure
        return DateResult(day, provisional)

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after `start` up to and including `end`."""
        count, day = 0, start
        while day < end:
            day += timedelta(days=1)
            count += self.is_working_day(day)
        return count


def local_date(moment: datetime, tz: ZoneInfo = SHANGHAI) -> date:
    return moment.astimezone(tz).date()


def start_of_day(day: date, tz: ZoneInfo = SHANGHAI) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz)


def end_of_day(day: date, tz: ZoneInfo = SHANGHAI) -> datetime:
    """24:00 on `day`, i.e. the first instant of the next day (P2)."""
    return start_of_day(day + timedelta(days=1), tz)


WEEKDAYS_ZH = ("星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日")
