"""The meeting record is complete and consistent (Art. 30; Local Organic Law Art. 78; P11; R14).

The roster is the jurisdiction's active users holding `meeting_member` (here the head `mayor`
and the deputies `vice1`-`vice3`); quorum counts the members present against it. Every member
present has exactly one opinion, nobody else has one, the head (by role, or an acting head
named in the record) speaks last, and the head departing from the majority of all members
present, or from the head's own opinion, states the reasons. Every refusal goes through
`tests.helpers.refused`, which also checks that the database did not change."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session, col, select

from flows import rules
from flows.service import ServiceContext
from models import Decision, DecisionStatus, EvidenceDocument, Meeting, MemberOpinion, User
from tests.helpers import (
    MEETING_MEMBERS,
    act,
    district,
    drafted,
    legality_lawful,
    participation_done,
    refused,
)

WHEN = "2026-04-17T11:00"
LATER = "2026-04-17T11:30"


def opinions(*pairs: tuple[str, str]) -> list[dict[str, Any]]:
    """(member, position) in speaking order; a dissent gets its text."""
    return [
        {"member": member, "position": position, "text": "反对理由" if position == "disagree" else ""}
        for member, position in pairs
    ]


def meeting(**overrides: Any) -> dict[str, Any]:
    """All four members of the roster present and agreeing, the head last."""
    payload: dict[str, Any] = {
        "decision": "D1",
        "meeting_type": "executive",
        "held_on": "2026-04-17",
        "members_present": list(MEETING_MEMBERS),
        "opinions": opinions(*[(m, "agree") for m in MEETING_MEMBERS]),
        "head_decision": "approve",
    }
    payload.update(overrides)
    return payload


@pytest.fixture
def submitted(ctx: ServiceContext) -> ServiceContext:
    district(ctx)
    drafted(ctx)
    participation_done(ctx)
    legality_lawful(ctx)
    act(ctx, "submit_for_discussion", "li", "2026-04-10T09:00", decision="D1", meeting_date="2026-04-17")
    return ctx


def the_meeting(ctx: ServiceContext) -> tuple[Meeting, list[MemberOpinion]]:
    with Session(ctx.engine) as session:
        row = session.exec(select(Meeting)).one()
        spoken = session.exec(
            select(MemberOpinion)
            .where(MemberOpinion.meeting_id == row.id)
            .order_by(col(MemberOpinion.speaking_order))
        ).all()
        return row, list(spoken)


def minutes_text(ctx: ServiceContext) -> str:
    with Session(ctx.engine) as session:
        doc = session.exec(select(EvidenceDocument).where(EvidenceDocument.kind == "meeting_minutes")).one()
    return ctx.documents.get(doc.sha256).decode("utf-8")


def status(ctx: ServiceContext) -> DecisionStatus:
    with Session(ctx.engine) as session:
        return session.exec(select(Decision).where(Decision.code == "D1")).one().status


# ================================================================ P11: quorum against the roster


def test_p11_quorum_counts_the_roster_not_a_number_in_the_form(submitted: ServiceContext) -> None:
    two = ["vice1", "mayor"]
    error = refused(
        submitted,
        "P11",
        "record_meeting",
        "zhou",
        WHEN,
        **meeting(members_present=two, opinions=opinions(*[(m, "agree") for m in two])),
    )
    assert error.field == "members_present"
    assert "2/4" in error.message_en
    # the form cannot claim a smaller meeting: there is no members_total to type in
    error = refused(
        submitted,
        "INPUT",
        "record_meeting",
        "zhou",
        WHEN,
        **meeting(members_present=two, opinions=opinions(*[(m, "agree") for m in two]), members_total=3),
    )
    assert error.field == "members_total"
    three = ["vice1", "vice2", "mayor"]
    act(
        submitted,
        "record_meeting",
        "zhou",
        LATER,
        **meeting(members_present=three, opinions=opinions(*[(m, "agree") for m in three])),
    )
    row, _ = the_meeting(submitted)
    assert row.members_total == 4
    assert row.roster == ["mayor", "vice1", "vice2", "vice3"]
    assert row.members_present == three


def test_p11_a_person_off_the_roster_does_not_count_as_present(submitted: ServiceContext) -> None:
    """Chosen rule: P11, naming members_present. The quorum counts members of the roster;
    listing the office secretary (a real user, but not a meeting member) or an unknown code
    as present would make up the count, which is what P11 guards."""
    with_secretary = ["vice1", "zhou", "mayor"]
    error = refused(
        submitted,
        "P11",
        "record_meeting",
        "zhou",
        WHEN,
        **meeting(members_present=with_secretary, opinions=opinions(*[(m, "agree") for m in with_secretary])),
    )
    assert error.field == "members_present"
    assert "zhou" in error.message_en
    unknown = ["vice1", "vice2", "vice9", "mayor"]
    refused(
        submitted,
        "P11",
        "record_meeting",
        "zhou",
        WHEN,
        **meeting(members_present=unknown, opinions=opinions(*[(m, "agree") for m in unknown])),
    )


def test_p11_an_inactive_user_is_off_the_roster(submitted: ServiceContext) -> None:
    with Session(submitted.engine) as session:
        user = session.exec(select(User).where(User.code == "vice3")).one()
        user.active = False
        session.add(user)
        session.commit()
    refused(submitted, "P11", "record_meeting", "zhou", WHEN, **meeting())
    # two of the remaining three is more than half
    two = ["vice1", "mayor"]
    act(
        submitted,
        "record_meeting",
        "zhou",
        LATER,
        **meeting(members_present=two, opinions=opinions(*[(m, "agree") for m in two])),
    )
    row, _ = the_meeting(submitted)
    assert row.roster == ["mayor", "vice1", "vice2"]
    assert row.members_total == 3


# ================================================================ R14: one opinion per member present


def test_r14_a_member_present_without_an_opinion(submitted: ServiceContext) -> None:
    error = refused(
        submitted,
        "R14",
        "record_meeting",
        "zhou",
        WHEN,
        **meeting(opinions=opinions(("vice1", "agree"), ("vice2", "agree"), ("mayor", "agree"))),
    )
    assert error.field == "opinions"
    assert "vice3" in error.message_en


def test_r14_an_absent_member_with_an_opinion(submitted: ServiceContext) -> None:
    three = ["vice1", "vice2", "mayor"]
    error = refused(
        submitted,
        "R14",
        "record_meeting",
        "zhou",
        WHEN,
        **meeting(members_present=three, opinions=opinions(*[(m, "agree") for m in MEETING_MEMBERS])),
    )
    assert error.field == "opinions"
    assert "vice3" in error.message_en
    # nor anybody who is not a member at all
    error = refused(
        submitted,
        "R14",
        "record_meeting",
        "zhou",
        WHEN,
        **meeting(opinions=opinions(*[(m, "agree") for m in ["zhou", *MEETING_MEMBERS]])),
    )
    assert "zhou" in error.message_en


def test_r14_two_opinions_from_one_member(submitted: ServiceContext) -> None:
    twice = opinions(("vice1", "agree"), ("vice2", "agree"), ("vice1", "disagree"), ("vice3", "agree"))
    error = refused(
        submitted,
        "R14",
        "record_meeting",
        "zhou",
        WHEN,
        **meeting(opinions=[*twice, {"member": "mayor", "position": "agree"}]),
    )
    assert error.field == "opinions"
    assert "vice1" in error.message_en


def test_r14_a_dissent_is_recorded_as_stated(submitted: ServiceContext) -> None:
    bare = [
        {"member": "vice1", "position": "disagree", "text": " "},
        *opinions(("vice2", "agree"), ("vice3", "agree"), ("mayor", "agree")),
    ]
    error = refused(submitted, "R14", "record_meeting", "zhou", WHEN, **meeting(opinions=bare))
    assert error.field == "opinions"


def test_the_payload_has_no_is_head_flag(submitted: ServiceContext) -> None:
    flagged = [*opinions(("vice1", "agree"), ("vice2", "agree"), ("vice3", "agree"))]
    flagged.append({"member": "mayor", "position": "agree", "is_head": True})
    refused(submitted, "INPUT", "record_meeting", "zhou", WHEN, **meeting(opinions=flagged))


# ================================================================ R14: the head, by role, speaks last


def test_r14_the_head_speaks_last(submitted: ServiceContext) -> None:
    head_first = opinions(("mayor", "agree"), ("vice1", "agree"), ("vice2", "agree"), ("vice3", "agree"))
    error = refused(submitted, "R14", "record_meeting", "zhou", WHEN, **meeting(opinions=head_first))
    assert error.field == "opinions"
    assert "mayor" in error.message_en


def test_r14_no_head_and_no_acting_head(submitted: ServiceContext) -> None:
    deputies = ["vice1", "vice2", "vice3"]
    spoken = opinions(*[(m, "agree") for m in deputies])
    error = refused(
        submitted, "R14", "record_meeting", "zhou", WHEN, **meeting(members_present=deputies, opinions=spoken)
    )
    assert error.field == "acting_head"
    # the acting head must be a member present
    error = refused(
        submitted,
        "R14",
        "record_meeting",
        "zhou",
        WHEN,
        **meeting(
            members_present=deputies,
            opinions=opinions(("vice1", "agree"), ("vice2", "agree"), ("vice3", "agree")),
            acting_head="zhou",
        ),
    )
    assert error.field == "acting_head"
    # and nobody acts as head while the head is present
    error = refused(submitted, "R14", "record_meeting", "zhou", WHEN, **meeting(acting_head="vice3"))
    assert error.field == "acting_head"


def test_an_acting_head_decides_when_the_head_is_absent(submitted: ServiceContext) -> None:
    deputies = ["vice1", "vice2", "vice3"]
    result = act(
        submitted,
        "record_meeting",
        "zhou",
        WHEN,
        **meeting(
            members_present=deputies,
            opinions=opinions(("vice2", "agree"), ("vice3", "agree"), ("vice1", "agree")),
            acting_head="vice1",
        ),
    )
    assert result.data["head"] == "vice1" and result.data["acting_head"] is True
    row, spoken = the_meeting(submitted)
    assert row.head_member == "vice1" and row.acting_head
    assert [(o.member, o.is_head) for o in spoken] == [("vice2", False), ("vice3", False), ("vice1", True)]
    assert "副区长甲（vice1）（代行行政首长职责）" in minutes_text(submitted)
    assert status(submitted) == DecisionStatus.decided


# ================================================================ R14: the majority and the head's reasons


def test_r14_head_against_the_majority_without_reasons(submitted: ServiceContext) -> None:
    against = opinions(
        ("vice1", "disagree"), ("vice2", "disagree"), ("vice3", "disagree"), ("mayor", "agree")
    )
    for decision in ("approve", "approve_with_changes"):
        error = refused(
            submitted,
            "R14",
            "record_meeting",
            "zhou",
            WHEN,
            **meeting(opinions=against, head_decision=decision),
        )
        assert error.field == "head_reason"
    # deferring what the majority wanted decided also needs reasons
    error = refused(submitted, "R14", "record_meeting", "zhou", WHEN, **meeting(head_decision="defer"))
    assert error.field == "head_reason"


def test_r14_minutes_leaving_out_the_dissenters_do_not_hide_the_majority(submitted: ServiceContext) -> None:
    """Three deputies opposed, the head approved without reasons. Leaving the dissenters'
    opinions out of the minutes is refused (every member present has one); leaving them out
    of the attendance as well breaks the quorum."""
    only_the_head = opinions(("mayor", "agree"))
    error = refused(submitted, "R14", "record_meeting", "zhou", WHEN, **meeting(opinions=only_the_head))
    assert error.field == "opinions"
    error = refused(
        submitted,
        "P11",
        "record_meeting",
        "zhou",
        WHEN,
        **meeting(members_present=["mayor"], opinions=only_the_head),
    )
    assert error.field == "members_present"


def test_r14_head_against_own_recorded_position_without_reasons(submitted: ServiceContext) -> None:
    head_opposed = opinions(("vice1", "agree"), ("vice2", "agree"), ("vice3", "agree"), ("mayor", "disagree"))
    error = refused(submitted, "R14", "record_meeting", "zhou", WHEN, **meeting(opinions=head_opposed))
    assert error.field == "head_reason"
    assert "own" in error.message_en
    # a head who agreed and rejects: against both the majority and the head's own opinion
    refused(submitted, "R14", "record_meeting", "zhou", WHEN, **meeting(head_decision="reject"))
    act(
        submitted,
        "record_meeting",
        "zhou",
        LATER,
        **meeting(opinions=head_opposed, head_reason="个人有保留意见，但尊重集体讨论结果"),
    )
    assert status(submitted) == DecisionStatus.decided


def test_the_head_overrules_the_majority_with_reasons(submitted: ServiceContext) -> None:
    against = opinions(
        ("vice1", "disagree"), ("vice2", "disagree"), ("vice3", "disagree"), ("mayor", "agree")
    )
    result = act(
        submitted,
        "record_meeting",
        "zhou",
        WHEN,
        **meeting(opinions=against, head_reason="该事项已列入省重点项目，时间窗口紧"),
    )
    assert result.data["majority"] == "disagree"
    row, spoken = the_meeting(submitted)
    assert row.majority_view == "disagree" and row.head_reason == "该事项已列入省重点项目，时间窗口紧"
    assert [o.position for o in spoken] == ["disagree", "disagree", "disagree", "agree"]
    text = minutes_text(submitted)
    assert text.count("不同意 反对理由") == 3
    assert "该事项已列入省重点项目" in text
    assert status(submitted) == DecisionStatus.decided


def test_the_head_s_own_opinion_counts_in_the_majority(submitted: ServiceContext) -> None:
    """Two deputies against, one for, the head for: counted over all members present the
    sides are even, so there is no majority to depart from."""
    even = opinions(("vice1", "disagree"), ("vice2", "disagree"), ("vice3", "agree"), ("mayor", "agree"))
    result = act(submitted, "record_meeting", "zhou", WHEN, **meeting(opinions=even))
    assert result.data["majority"] == "split"


def test_a_deferral_following_a_disagreeing_majority_needs_no_reasons(submitted: ServiceContext) -> None:
    against = opinions(
        ("vice1", "disagree"), ("vice2", "disagree"), ("vice3", "agree"), ("mayor", "disagree")
    )
    result = act(
        submitted, "record_meeting", "zhou", WHEN, **meeting(opinions=against, head_decision="defer")
    )
    assert result.data["outcome"] == "defer"
    assert status(submitted) == DecisionStatus.in_procedure


# ================================================================ acceptance: the record


def test_a_valid_meeting_is_recorded_with_its_roster_and_opinions(submitted: ServiceContext) -> None:
    spoken = opinions(("vice2", "agree"), ("vice3", "abstain"), ("vice1", "disagree"), ("mayor", "agree"))
    result = act(
        submitted,
        "record_meeting",
        "zhou",
        WHEN,
        **meeting(opinions=spoken, minutes="会议听取了区住房和城乡建设局的汇报。"),
    )
    assert result.data == {"outcome": "approve", "majority": "agree", "head": "mayor", "acting_head": False}
    row, stored = the_meeting(submitted)
    assert row.roster == ["mayor", "vice1", "vice2", "vice3"]
    assert row.members_total == 4
    assert row.members_present == MEETING_MEMBERS
    assert row.head_member == "mayor" and not row.acting_head
    assert row.majority_view == "agree"
    assert [(o.speaking_order, o.member, o.position, o.is_head) for o in stored] == [
        (1, "vice2", "agree", False),
        (2, "vice3", "abstain", False),
        (3, "vice1", "disagree", False),
        (4, "mayor", "agree", True),
    ]
    assert status(submitted) == DecisionStatus.decided


def test_the_minutes_list_the_opinions_in_speaking_order(submitted: ServiceContext) -> None:
    spoken = opinions(("vice3", "agree"), ("vice1", "disagree"), ("vice2", "abstain"), ("mayor", "agree"))
    act(
        submitted,
        "record_meeting",
        "zhou",
        WHEN,
        **meeting(opinions=spoken, minutes="会议听取了汇报。"),
    )
    lines = minutes_text(submitted).splitlines()
    assert "会议听取了汇报。" in lines  # the narrative given is kept ...
    numbered = [line for line in lines if line[:2] in ("1.", "2.", "3.", "4.")]
    assert numbered == [  # ... and every opinion follows it, dissent as stated, the head last
        "1. 副区长丙（vice3）：同意",
        "2. 副区长甲（vice1）：不同意 反对理由",
        "3. 副区长乙（vice2）：弃权",
        "4. mayor（mayor）（行政首长）：同意",
    ]
    assert lines[1] == "应到 4 人，实到 4 人"
    assert lines[-1] == "行政首长决定：通过"


# ================================================================ the predicates


def test_majority_is_counted_over_all_members_present() -> None:
    def speeches(*positions: str) -> list[rules.Speech]:
        return [rules.Speech(f"m{i}", p) for i, p in enumerate(positions)]

    # the head's own opinion (last) counts
    assert rules.majority_position(speeches("agree", "disagree", "agree")) == "agree"
    assert rules.majority_position(speeches("disagree", "agree", "agree")) == "agree"
    # abstentions count for neither side; a tie is no majority
    assert rules.majority_position(
        speeches("disagree", "disagree", "disagree", "agree", "abstain", "agree")
    ) == ("disagree")
    assert rules.majority_position(speeches("abstain", "abstain")) == "split"
    assert rules.majority_position(speeches("agree", "disagree")) == "split"


def test_head_decision_matches_a_view() -> None:
    assert rules.head_decision_matches("approve", "agree")
    assert rules.head_decision_matches("approve_with_changes", "agree")
    assert not rules.head_decision_matches("reject", "agree")
    assert not rules.head_decision_matches("defer", "agree")
    assert rules.head_decision_matches("reject", "disagree")
    assert rules.head_decision_matches("defer", "disagree")
    assert not rules.head_decision_matches("approve", "disagree")
    for decision in ("approve", "reject", "defer", "approve_with_changes"):
        assert rules.head_decision_matches(decision, "split")
        assert rules.head_decision_matches(decision, "abstain")
