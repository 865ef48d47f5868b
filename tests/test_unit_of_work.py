"""The one unit of work every writer uses (`models.db.transact`): one transaction, committed
when the work returns, rolled back when it raises, and run again after a lost race."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, func, select

from models import CalendarDay
from models.db import transact


class Race(Exception):
    sqlstate = "40001"  # serialization_failure, as PostgreSQL reports a lost race


def count(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.exec(select(func.count()).select_from(CalendarDay)).one())


def test_the_work_commits_when_it_returns(engine: Engine) -> None:
    transact(engine, lambda session: session.add(CalendarDay(day=date(2027, 1, 4), is_working_day=False)))
    assert count(engine) == 1


def test_a_lost_race_runs_the_work_again_from_the_start(engine: Engine) -> None:
    calls: list[int] = []

    def work(session: Session) -> str:
        calls.append(1)
        session.add(CalendarDay(day=date(2027, 1, len(calls) + 3), is_working_day=False))
        if len(calls) == 1:
            raise IntegrityError("insert", {}, Race())
        return "done"

    assert transact(engine, work) == "done"
    assert len(calls) == 2
    assert count(engine) == 1  # the first attempt's row was rolled back with it


def test_any_other_error_rolls_back_and_is_raised_at_once(engine: Engine) -> None:
    calls: list[int] = []

    def work(session: Session) -> None:
        calls.append(1)
        session.add(CalendarDay(day=date(2027, 1, 4), is_working_day=False))
        session.flush()
        raise ValueError("a refusal")

    with pytest.raises(ValueError):
        transact(engine, work)
    assert calls == [1] and count(engine) == 0


def test_a_race_lost_every_time_gives_up_after_the_last_attempt(engine: Engine) -> None:
    calls: list[int] = []

    def work(session: Session) -> None:
        calls.append(1)
        raise IntegrityError("insert", {}, Race())

    with pytest.raises(IntegrityError):
        transact(engine, work, attempts=3)
    assert len(calls) == 3
