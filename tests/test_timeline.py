"""The decision timeline: pure projections from constructed facts (dates derived by
counting on the 2026 holiday calendar in the comments), then the loader on a database."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

import pytest
from sqlmodel import Session

from flows import procedure as proc
from flows import rules
from flows.calendar import WorkingCalendar
from flows.errors import ProcedureError
from flows.service import ServiceContext
from flows.timeline import (
    DeadlineFact,
    DecisionFacts,
    ProjectedStep,
    current_stages,
    load_facts,
    project_timeline,
)
from models import DecisionStatus, StageStatus
from models.enums import DeadlineStatus
from tests.helpers import act, district, drafted, legality_lawful, participation_done


def facts(
    flags: Iterable[str] = (),
    *,
    done: Iterable[str] = ("initiation", "drafting"),
    status: DecisionStatus = DecisionStatus.in_procedure,
    stages: dict[str, StageStatus] | None = None,
    deadlines: Iterable[DeadlineFact] = (),
    **extra: Any,
) -> DecisionFacts:
    statuses = dict(rules.initial_stage_statuses(proc.procedure().stages, frozenset(flags)))
    statuses.update(dict.fromkeys(done, StageStatus.completed))
    statuses.update(stages or {})
    return DecisionFacts(
        code="D1",
        title="测试决策",
        status=status,
        flags=frozenset(flags),
        stages=statuses,
        deadlines=tuple(deadlines),
        **extra,
    )


def row(
    id_: int, kind: str, due: str, status: DeadlineStatus = DeadlineStatus.open, provisional: bool = False
) -> DeadlineFact:
    spec = proc.DEADLINE_KINDS[kind]
    return DeadlineFact(
        id_, kind, date.fromisoformat(due), provisional, status, article=spec.article, stage=spec.stage
    )


def project(f: DecisionFacts, today: str, **settings: Any) -> list[ProjectedStep]:
    values = {key: s.default for key, s in proc.SETTINGS.items()} | settings
    return project_timeline(f, proc.procedure(), values, WorkingCalendar(), date.fromisoformat(today))


def by_key(steps: list[ProjectedStep]) -> dict[str, ProjectedStep]:
    keyed = {s.key: s for s in steps}
    assert len(keyed) == len(steps), [s.key for s in steps]
    return keyed


def days(steps: list[ProjectedStep]) -> dict[str, str]:
    return {key: step.day.isoformat() for key, step in by_key(steps).items()}


# ------------------------------------------------------------------ pure projections
def test_a_draft_of_2026_09_01_projects_every_remaining_step_across_national_day() -> None:
    steps = project(facts(), "2026-09-01")
    assert days(steps) == {
        "comment_period_open": "2026-09-01",  # P3: opens the day the draft is published
        # T1: 09-01 + 30 = 10-01, National Day (10-01..10-07 off) -> rolls to Thu 10-08 (P2)
        "comment_period_end": "2026-10-08",
        "legality_submission": "2026-10-09",  # the next working day
        # T4: 7 working days after Fri 10-09: Sat 10-10 (make-up working day) 1, 10-12 2,
        # 10-13 3, 10-14 4, 10-15 5, 10-16 6, Mon 10-19 7
        "legality_review_min": "2026-10-19",
        # P6: 15 working days: ...10-19 7, 10-20..10-23 8-11, 10-26..10-29 12-15
        "legality_opinion_due": "2026-10-29",
        "party_report": "2026-10-19",  # P8: after a meeting on the earliest day
        # P9: 20 working days after 10-19: 10-20..10-23 (4), 10-26..10-30 (9),
        # 11-02..11-06 (14), 11-09..11-13 (19), Mon 11-16 (20)
        "publication_due": "2026-11-16",
        "archive_due": "2026-12-16",  # P10: 11-16 + 30 = Wed 12-16, a working day
    }
    keyed = by_key(steps)
    assert keyed["comment_period_end"].article == "Art. 15(1)"
    assert keyed["legality_review_min"].article == "Art. 26(2)"
    assert keyed["legality_opinion_due"].article == "Art. 28; P6"
    assert keyed["party_report"].article.startswith("Art. 31")
    assert keyed["publication_due"].article == "Art. 32; P9"
    assert keyed["archive_due"].article == "Art. 33; P10"
    assert not any(s.provisional for s in steps)
    assert {s.source for s in steps} == {"projected"}
    assert [s.day for s in steps] == sorted(s.day for s in steps)


def test_dates_that_cross_into_an_unconfirmed_year_are_provisional() -> None:
    steps = by_key(project(facts(), "2026-11-20"))
    # T1: 11-20 + 30 = Sun 12-20 -> Mon 12-21; submission Tue 12-22
    assert steps["comment_period_end"].day == date(2026, 12, 21)
    # T4: 12-23, 12-24, 12-25, 12-28, 12-29, 12-30, Thu 12-31: still inside 2026
    assert steps["legality_review_min"].day == date(2026, 12, 31)
    assert not steps["legality_review_min"].provisional
    # P6 needs 8 more working days, counted in 2027 with weekends only (P13)
    assert steps["legality_opinion_due"].day == date(2027, 1, 12)
    assert steps["legality_opinion_due"].provisional
    assert steps["publication_due"].provisional and steps["archive_due"].provisional


def test_a_longer_local_comment_period_moves_everything_after_it() -> None:
    steps = by_key(project(facts(), "2026-09-01", comment_period_min_days=45))
    # 09-01 + 45 = Fri 10-16; submission Mon 10-19
    assert steps["comment_period_end"].day == date(2026, 10, 16)
    assert steps["legality_submission"].day == date(2026, 10, 19)


def test_open_deadline_rows_take_precedence_over_projections() -> None:
    f = facts(
        stages={"public_participation": StageStatus.active},
        deadlines=[row(1, "comment_period_end", "2026-06-15")],  # e.g. an urgent 14-day period
    )
    steps = by_key(project(f, "2026-06-01"))
    assert "comment_period_open" not in steps
    assert steps["comment_period_end"].day == date(2026, 6, 15)
    assert steps["comment_period_end"].source == "deadline"
    assert steps["legality_submission"].day == date(2026, 6, 16)  # Tue, the day after
    # T4: 06-17 1, 06-18 2, (06-19 Dragon Boat Festival), 06-22 3 ... 06-26 7
    assert steps["legality_review_min"].day == date(2026, 6, 26)


def test_a_closed_comment_period_is_not_shown_or_projected_again() -> None:
    f = facts(
        stages={"public_participation": StageStatus.active},
        deadlines=[row(1, "comment_period_end", "2026-05-29", DeadlineStatus.fired)],
    )
    steps = by_key(project(f, "2026-06-01"))
    assert "comment_period_end" not in steps and "comment_period_open" not in steps
    assert steps["legality_submission"].day == date(2026, 6, 1)  # as soon as the opinions are handled


def test_stages_that_are_not_required_are_skipped() -> None:
    """A confidential matter has no comment period and no publication (R2); it is archived
    30 days after the decision (P10)."""
    steps = project(facts(["confidential"]), "2026-06-01")
    assert days(steps) == {
        "legality_submission": "2026-06-01",  # Monday: today
        "legality_review_min": "2026-06-10",  # 06-02..06-05 (4), 06-08..06-10 (7)
        # P6: ...06-11 8, 06-12 9, 06-15..06-18 13, (06-19 Dragon Boat), 06-22 14, 06-23 15
        "legality_opinion_due": "2026-06-23",
        "party_report": "2026-06-10",
        "archive_due": "2026-07-10",  # 06-10 + 30
    }


def test_a_waived_or_completed_stage_is_skipped() -> None:
    f = facts(
        done=("initiation", "drafting", "public_participation", "legality_review", "discussion"),
        status=DecisionStatus.rejected,
        stages={"party_report": StageStatus.waived, "publication": StageStatus.waived},
        deadlines=[row(7, "archive_due", "2026-05-17")],
        decided_on=date(2026, 4, 17),
    )
    steps = project(f, "2026-04-20")
    assert [(s.key, s.day, s.source) for s in steps] == [("archive_due", date(2026, 5, 17), "deadline")]


def test_a_decided_decision_projects_the_party_report_publication_and_archive() -> None:
    f = facts(
        done=("initiation", "drafting", "public_participation", "legality_review", "discussion"),
        status=DecisionStatus.decided,
        deadlines=[
            row(3, "legality_review_min", "2026-04-17", DeadlineStatus.met),
            row(4, "publication_due", "2026-05-19"),
        ],
        decided_on=date(2026, 4, 17),
    )
    steps = days(project(f, "2026-04-20"))
    assert steps == {
        "party_report": "2026-04-20",  # after the meeting; today is the first day left
        "publication_due": "2026-05-19",  # the open row
        "archive_due": "2026-06-18",  # 05-19 + 30 = Thu 06-18
    }


def test_the_party_report_follows_the_local_order_setting() -> None:
    after = by_key(project(facts(), "2026-09-01"))
    assert after["party_report"].day == after["legality_review_min"].day == date(2026, 10, 19)
    before = by_key(project(facts(), "2026-09-01", party_report_order="before_meeting"))
    assert before["party_report"].day == date(2026, 10, 19)  # by the meeting at the latest
    either = by_key(project(facts(), "2026-09-01", party_report_order="either"))
    assert either["party_report"].day == date(2026, 9, 1)  # any time before publication
    # a meeting planned for Tue 09-01 and not yet recorded on Thu 09-03
    waiting = facts(
        done=("initiation", "drafting", "public_participation", "legality_review"),
        stages={"discussion": StageStatus.active},
        meeting_date=date(2026, 9, 1),
    )
    assert by_key(project(waiting, "2026-09-03"))["party_report"].day == date(2026, 9, 3)
    ahead = project(waiting, "2026-09-03", party_report_order="before_meeting")
    assert by_key(ahead)["party_report"].day == date(2026, 9, 1)


def test_hearing_lead_times_give_the_earliest_hearing_date() -> None:
    steps = by_key(project(facts(["hearing_required_by_law"]), "2026-09-01"))
    assert steps["hearing_notice"].day == date(2026, 9, 1)  # the notice goes out today
    # P4: 10 days after the notice: Fri 09-11
    assert steps["hearing_earliest"].day == date(2026, 9, 11)
    # T2: materials 7 days before: Fri 09-04; P4: list 5 days before = Sun 09-06, not rolled (P14)
    assert steps["hearing_materials"].day == date(2026, 9, 4)
    assert steps["hearing_participant_list"].day == date(2026, 9, 6)
    assert steps["hearing_earliest"].article.startswith("Art. 16")
    # the 30-day comment period ends later, so the review still waits for it
    assert steps["legality_submission"].day == date(2026, 10, 9)


def test_an_announced_hearing_later_than_the_comment_period_decides_the_submission() -> None:
    f = facts(
        ["hearing_required_by_law"],
        stages={"public_participation": StageStatus.active, "hearing": StageStatus.active},
        deadlines=[row(1, "comment_period_end", "2026-10-08"), row(2, "hearing_materials", "2026-10-13")],
        hearing_date=date(2026, 10, 20),
    )
    steps = by_key(project(f, "2026-09-20"))
    assert steps["hearing"].source == "planned" and steps["hearing"].day == date(2026, 10, 20)
    assert steps["hearing_materials"].source == "deadline"
    assert steps["hearing_participant_list"].day == date(2026, 10, 15)  # 10-20 - 5
    assert steps["legality_submission"].day == date(2026, 10, 21)
    assert "hearing_notice" not in steps


def test_a_held_hearing_is_not_projected_again() -> None:
    f = facts(
        ["hearing_required_by_law"],
        stages={"public_participation": StageStatus.completed, "hearing": StageStatus.active},
        hearing_held=True,  # held; the record and report are being finished
    )
    steps = by_key(project(f, "2026-09-01"))
    assert not {"hearing_notice", "hearing_earliest", "hearing", "hearing_materials"} & set(steps)
    assert steps["legality_submission"].day == date(2026, 9, 1)


def test_under_review_the_rows_give_the_earliest_meeting_and_a_missed_opinion_is_overdue() -> None:
    f = facts(
        done=("initiation", "drafting", "public_participation"),
        stages={"legality_review": StageStatus.active},
        deadlines=[
            row(1, "legality_review_min", "2026-04-17", DeadlineStatus.fired),
            row(2, "legality_opinion_due", "2026-04-29", DeadlineStatus.fired),
        ],
        legality_status="under_review",
    )
    steps = by_key(project(f, "2026-05-06"))
    assert not steps["legality_review_min"].overdue  # an earliest date that has passed is fine
    assert steps["legality_opinion_due"].overdue
    assert "legality_submission" not in steps
    # the meeting can be today (Wed 05-06): the Party report follows it, publication 20 working
    # days later: 05-07, 05-08, Sat 05-09 (make-up day) 3, 05-11..05-15 8, 05-18..05-22 13,
    # 05-25..05-29 18, 06-01 19, Tue 06-02 20
    assert steps["party_report"].day == date(2026, 5, 6)
    assert steps["publication_due"].day == date(2026, 6, 2)


def test_a_returned_review_projects_a_resubmission_and_p5_decides_the_clock() -> None:
    f = facts(
        done=("initiation", "drafting", "public_participation"),
        stages={"legality_review": StageStatus.active},
        deadlines=[row(1, "legality_review_min", "2026-04-17")],  # from round 1, still open
        legality_status="returned",
        legality_first_submitted_on=date(2026, 4, 8),
    )
    restarted = by_key(project(f, "2026-04-20"))
    assert restarted["legality_submission"].day == date(2026, 4, 20)
    assert restarted["legality_review_min"].day == date(2026, 4, 29)  # 04-21..04-24 (4), 04-27..04-29 (7)
    kept = by_key(project(f, "2026-04-20", legality_clock_restarts=False))
    assert kept["legality_review_min"].day == date(2026, 4, 17)  # counted from round 1 (P5)


def test_closed_decisions_have_no_remaining_steps() -> None:
    for status in (DecisionStatus.withdrawn, DecisionStatus.archived):
        assert project(facts(status=status), "2026-09-01") == []


def test_current_stage_is_the_first_unfinished_phase() -> None:
    f = facts(["market_activity"], stages={"public_participation": StageStatus.awaiting_approval})
    assert current_stages(f.stages) == ["public_participation", "fair_competition_review"]
    decided = facts(done=("initiation", "drafting", "public_participation", "legality_review", "discussion"))
    assert current_stages(decided.stages) == ["party_report", "publication"]


# ------------------------------------------------------------------ the loader
def test_the_loader_reads_rows_and_the_projection_follows_them(ctx: ServiceContext) -> None:
    district(ctx)
    drafted(ctx)  # D1, drafted 2026-03-02
    with Session(ctx.engine) as session:
        loaded = load_facts(session, "D1")
    assert loaded.facts.stages["drafting"] == StageStatus.completed
    # nothing open yet: the comment period would open today, 03-02 + 30 = Wed 04-01
    assert days(loaded.project(date(2026, 3, 2)))["comment_period_end"] == "2026-04-01"

    participation_done(ctx)  # comment period 03-03..04-02, approved 04-03
    legality_lawful(ctx)  # submitted Wed 04-08, lawful 04-09
    with Session(ctx.engine) as session:
        loaded = load_facts(session, "D1")
    steps = by_key(loaded.project(date(2026, 4, 10)))
    assert "comment_period_end" not in steps
    earliest = steps["legality_review_min"]
    # the row: 04-09, 04-10, 04-13..04-17 -> Fri 04-17 (as the scenario checks)
    assert (earliest.day, earliest.source) == (date(2026, 4, 17), "deadline")
    assert steps["publication_due"].day == date(2026, 5, 19)  # 20 working days after 04-17

    act(ctx, "submit_for_discussion", "li", "2026-04-10T09:00", decision="D1", meeting_date="2026-04-21")
    with Session(ctx.engine) as session:
        loaded = load_facts(session, "D1")
    steps = by_key(loaded.project(date(2026, 4, 10)))
    assert steps["meeting"].day == date(2026, 4, 21) and steps["meeting"].source == "planned"
    assert "legality_review_min" not in steps  # met at the submission


def test_the_loader_names_an_unknown_decision(ctx: ServiceContext) -> None:
    district(ctx)
    with Session(ctx.engine) as session, pytest.raises(ProcedureError) as caught:
        load_facts(session, "NOPE")
    assert caught.value.rule_id == "NOT_FOUND" and caught.value.kind == "not_found"
