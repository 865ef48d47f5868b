"""Hearings (听证), Arts. 16-17; GD-H Arts. 2-3; P4.

The sub-sequence of §7.1(3): notice and selection method → registration → stratified
draw → participant list → materials at least T2 before → the hearing and its signed
record → the report, which the legal office approves like any other pre-review track.
Lead times count back from the hearing day in calendar days (P1, P4) without rolling to a
working day (P14); the deadline rows hold them, so an extension or shortening
(time_limits) is respected here. The draw's seed is made at the draw, after registration
closed, and published in the draw record; the public never chooses its own codes.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import Field, StringConstraints
from sqlmodel import col, select

from flows import rules
from flows.calendar import local_date
from flows.errors import invalid, not_found
from flows.hygiene import next_free_code
from flows.service.framework import DecisionPayload, Payload, Tx, action
from models import (
    Deadline,
    DraftVersion,
    Hearing,
    HearingRegistration,
    HearingStatement,
    InputResponse,
)
from models.enums import DeadlineStatus, HearingStatus

STAGE = "hearing"
LEAD_TIMES = ("hearing_notice", "hearing_participant_list", "hearing_materials")


# -------------------------------------------------------------------- the draw (pure)
def draw_key(seed: str, code: str) -> str:
    """The published ordering key of one registration: sha256 of "<seed>:<code>" in UTF-8."""
    return hashlib.sha256(f"{seed}:{code}".encode()).hexdigest()


def stratified_draw(
    seed: str, quotas: Mapping[str, int], registrations: Iterable[tuple[str, str]]
) -> dict[str, list[str]]:
    """Art. 16(2): a fair, open draw per interest group. `registrations` are (code, group)
    pairs; each group's codes are ranked by their draw key (code breaks a tie) and the
    first `quota` are selected. Anyone holding the seed and the codes gets the same
    ranking, whatever order people registered in."""
    groups: dict[str, list[str]] = {group: [] for group in quotas}
    for code, group in registrations:
        groups.setdefault(group, []).append(code)
    return {
        group: sorted(codes, key=lambda code: (draw_key(seed, code), code)) for group, codes in groups.items()
    }


METHOD_RULE_ZH = (
    "每个利益群体分别抽签：对每一报名编号计算 SHA-256(“随机种子:报名编号”，UTF-8) 的十六进制值，"
    "按该值从小到大排序，取前若干名（名额数）；报名人数不超过名额的全部入选。"
)
METHOD_RULE_EN = (
    "A separate draw per interest group: for each registration code compute the hex SHA-256 of "
    '"<seed>:<code>" (UTF-8), sort ascending and take the quota; a group with no more '
    "registrants than its quota is selected in full."
)


# -------------------------------------------------------------------- helpers
def _aware(tx: Tx, moment: datetime) -> datetime:
    """A time without a zone is local to the jurisdiction (Asia/Shanghai)."""
    return (moment.replace(tzinfo=tx.tz) if moment.tzinfo is None else moment).astimezone(UTC)


def hearing_day(tx: Tx, hearing: Hearing) -> date:
    return local_date(hearing.starts_at, tx.tz)


def find_hearing(tx: Tx, ref: str | None, field_name: str = "hearing") -> Hearing:
    """The decision's hearing named `ref`, or its latest one when no ref is given."""
    decision = tx.require_decision()
    query = select(Hearing).where(Hearing.decision_id == decision.id)
    if ref is not None:
        query = query.where(Hearing.code == ref)
    found = tx.session.exec(query.order_by(col(Hearing.id).desc())).first()
    if found is None:
        raise not_found(field_name, ref or "(none)")
    return found


def _lead_time(tx: Tx, kind: str, hearing: Hearing) -> Deadline:
    """The hearing's deadline row of `kind`, whatever its status (it may have been met or
    extended); the latest row wins."""
    decision = tx.require_decision()
    row = tx.session.exec(
        select(Deadline)
        .where(
            Deadline.decision_id == decision.id, Deadline.kind == kind, Deadline.subject_ref == hearing.code
        )
        .order_by(col(Deadline.id).desc())
    ).first()
    assert row is not None, f"{kind} not scheduled for {hearing.code}"
    return row


def _registrations(tx: Tx, hearing: Hearing) -> list[HearingRegistration]:
    return list(
        tx.session.exec(
            select(HearingRegistration)
            .where(HearingRegistration.hearing_id == hearing.id)
            .order_by(col(HearingRegistration.id))
        )
    )


def _selected(tx: Tx, hearing: Hearing) -> list[HearingRegistration]:
    return [r for r in _registrations(tx, hearing) if r.selected]


# -------------------------------------------------------------------- announce
GroupName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Quota = Annotated[int, Field(gt=0, le=1000)]


class AnnounceHearing(DecisionPayload):
    ref: str | None = Field(default=None, min_length=1, max_length=64)
    starts_at: datetime  # a time without a zone is local to the jurisdiction
    place: str = Field(min_length=1, max_length=300)
    quotas: dict[GroupName, Quota] = Field(min_length=1)  # seats per interest group
    registration_opens: date
    registration_closes: date
    selection_method: str = Field(min_length=1)  # 遴选办法, published with the notice
    notice: str = ""  # 听证公告; generated when empty; the draft (or its link) is always added
    # Art. 16(2): where the draft and its explanation are published; without it the notice
    # carries the current draft and its explanation in full
    draft_link: str = Field(default="", max_length=500, pattern=r"^(https?://\S+)?$")
    replaces: str | None = Field(default=None, max_length=64)  # a not-yet-held hearing this postpones


@action("announce_hearing", AnnounceHearing)
def announce_hearing(tx: Tx, p: AnnounceHearing) -> Mapping[str, Any]:
    """Art. 16(2): notice of time and place, the selection method and registration, at
    least `hearing_notice_days` before the hearing (P4). The stage may be taken up even
    where no law requires it (Art. 16(1)); never for a confidential matter (R2)."""
    decision = tx.require_decision()
    tx.enter_stage(STAGE)  # checked by the declared preconditions: R2, after drafting
    existing = list(tx.session.exec(select(Hearing).where(Hearing.decision_id == decision.id)))
    taken = {h.code for h in existing}
    if p.ref in taken:
        raise invalid("ref", f"听证会编号 {p.ref} 已存在", f"hearing {p.ref} already exists")
    code = p.ref or next_free_code("H", len(existing) + 1, taken)
    replaced = _hearing_replaced(tx, existing, p.replaces)

    starts_at = _aware(tx, p.starts_at)
    if starts_at <= tx.now:
        raise invalid("starts_at", "听证会时间须在将来", "the hearing must be in the future")
    day = local_date(starts_at, tx.tz)
    if p.registration_opens < tx.today:
        raise invalid(
            "registration_opens", "报名不得早于公告开始", "registration cannot open before the notice"
        )
    if p.registration_closes < p.registration_opens:
        raise invalid(
            "registration_closes", "报名截止不得早于开始", "registration cannot close before it opens"
        )

    # Art. 16(2): the notice carries the draft and its explanation, or a link to them (R5)
    from flows.service.lifecycle import current_draft

    draft = current_draft(tx)
    tx.check(
        rules.hearing_notice_carries_draft(
            draft is not None, draft is not None and draft.explanation_sha256 is not None, p.draft_link
        )
    )
    assert draft is not None or p.draft_link

    # P4, Art. 16(3): the lead times, counted back from the hearing day (P14: never rolled)
    notice, roster, materials = (tx.schedule(kind, day, subject_ref=code) for kind in LEAD_TIMES)
    tx.check(rules.hearing_notice_in_time(tx.today, notice.due_date, int(tx.settings["hearing_notice_days"])))
    tx.check(
        rules.registration_window_fits(
            p.registration_opens,
            p.registration_closes,
            notice.due_date,
            roster.due_date,
            materials.due_date,
        )
    )

    hearing = Hearing(
        decision_id=decision.id or 0,
        code=code,
        starts_at=starts_at,
        place=p.place,
        quotas=dict(p.quotas),
        registration_opens=p.registration_opens,
        registration_closes=p.registration_closes,
        selection_method=p.selection_method,
        draft_link=p.draft_link,
        announced_at=tx.now,
    )
    tx.session.add(hearing)
    if replaced is not None:
        tx.advance("hearing", replaced, HearingStatus.postponed, replaced.code, field="replaces")
        replaced.replaced_by = code
        tx.session.add(replaced)
        for kind in LEAD_TIMES:
            tx.close_deadlines(kind, subject_ref=replaced.code, status=DeadlineStatus.cancelled)
    tx.session.flush()

    local_start = starts_at.astimezone(tx.tz).strftime("%Y-%m-%d %H:%M")
    seats = "、".join(f"{group}{n}名" for group, n in p.quotas.items())
    text = p.notice or (
        f"关于召开《{decision.title}》听证会的公告\n"
        f"时间：{local_start}；地点：{p.place}\n"
        f"参加人名额：{seats}\n"
        f"报名时间：{p.registration_opens.isoformat()} 至 {p.registration_closes.isoformat()}\n"
        f"遴选办法见同日公布的《遴选办法》。"
        + (f"\n本公告同时代替听证会 {replaced.code} 的公告（改期）。" if replaced else "")
    )
    text += "\n\n" + _draft_section(tx, draft, p.draft_link)
    tx.add_evidence(STAGE, "hearing_notice", text, f"听证公告（{code}）")
    tx.add_evidence(STAGE, "selection_method", _method_text(p, code), f"遴选办法（{code}）")
    tx.close_deadlines("hearing_notice", subject_ref=code, status=DeadlineStatus.met)
    tx.emit(
        "hearing_announced",
        {
            "hearing": code,
            "starts_at": starts_at.isoformat(),
            "replaces": replaced.code if replaced else None,
        },
    )
    return {
        "hearing": code,
        "hearing_day": day.isoformat(),
        "notice_due": notice.due_date.isoformat(),
        "list_due": roster.due_date.isoformat(),
        "materials_due": materials.due_date.isoformat(),
    }


def _hearing_replaced(tx: Tx, existing: list[Hearing], replaces: str | None) -> Hearing | None:
    """One hearing at a time: a new notice for a hearing not yet held must name the one it
    postpones (which must still be postponable); a held hearing needs its report first."""
    target = None
    if replaces is not None:
        target = next((h for h in existing if h.code == replaces), None)
        if target is None:
            raise not_found("replaces", replaces)
    tx.check(rules.one_hearing_at_a_time({h.code: h.status for h in existing}, replaces))
    return target


def _draft_section(tx: Tx, draft: DraftVersion | None, link: str) -> str:
    """Art. 16(2): the draft and its explanation, in full or by a link, named by version
    and SHA-256 so that the linked text can be checked against the record."""
    if draft is None:
        return f"决策草案及起草说明全文见 / the draft and its explanation: {link}"
    ident = f"第{draft.number}稿，SHA-256 {draft.document_sha256}"
    if link:
        return f"决策草案（{ident}）及起草说明全文见 / the draft and its explanation: {link}"
    assert draft.explanation_sha256 is not None  # rules.hearing_notice_carries_draft
    explanation = tx.documents.get(draft.explanation_sha256).decode()
    draft_text = tx.documents.get(draft.document_sha256).decode()
    return "\n".join(
        [f"附件一：决策草案（{ident}）", draft_text, f"附件二：起草说明（第{draft.number}稿）", explanation]
    )


def _method_text(p: AnnounceHearing, code: str) -> str:
    seed = "随机种子：于报名截止后抽签时生成并公布 / the seed is made and published at the draw"
    quotas = "\n".join(f"- {group}：{n}名" for group, n in p.quotas.items())
    return "\n".join(
        [
            f"听证会 {code} 参加人遴选办法",
            p.selection_method,
            "各利益群体名额：",
            quotas,
            METHOD_RULE_ZH,
            METHOD_RULE_EN,
            seed,
        ]
    )


# -------------------------------------------------------------------- registration
class RegisterForHearing(DecisionPayload):
    hearing: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=100)
    contact: str = Field(min_length=1, max_length=200)  # materials must reach the participant
    interest_group: str = Field(min_length=1, max_length=64)
    # no `ref`: the system numbers registrations; the public never chooses its code (the
    # code decides its place in the draw)


@action("register_for_hearing", RegisterForHearing)
def register_for_hearing(tx: Tx, p: RegisterForHearing) -> Mapping[str, Any]:
    """Art. 16(2): a member of the public registers within the published window."""
    hearing = find_hearing(tx, p.hearing)
    tx.require("hearing", hearing, hearing.code, field="hearing")  # registration is open while announced
    tx.check(
        rules.hearing_registration_open(tx.today, hearing.registration_opens, hearing.registration_closes)
    )
    if p.interest_group not in hearing.quotas:
        raise invalid(
            "interest_group",
            f"须为公告所列群体之一：{'、'.join(hearing.quotas)}",
            f"must be one of the announced groups: {', '.join(hearing.quotas)}",
        )
    registrations = _registrations(tx, hearing)
    if any(r.name == p.name and r.contact == p.contact for r in registrations):
        raise invalid("name", "已报名", "already registered for this hearing")
    code = next_free_code(f"{hearing.code}-R", len(registrations) + 1, {r.code for r in registrations})
    tx.session.add(
        HearingRegistration(
            hearing_id=hearing.id or 0,
            code=code,
            name=p.name,
            contact=p.contact,
            interest_group=p.interest_group,
            registered_at=tx.now,
        )
    )
    return {"registration": code, "hearing": hearing.code}


# -------------------------------------------------------------------- the draw
class SelectParticipants(DecisionPayload):
    hearing: str | None = Field(default=None, max_length=64)
    # A value made public by someone else after registration closed (a notary's roll, a
    # lottery result), used as the seed; its source is published with it. Without one the
    # system makes the seed from a secure random source at the draw.
    public_value: str | None = Field(default=None, min_length=1, max_length=128)
    public_value_source: str = Field(default="", max_length=300)


@action("select_hearing_participants", SelectParticipants)
def select_hearing_participants(tx: Tx, p: SelectParticipants) -> Mapping[str, Any]:
    """Art. 16(2): select fairly and openly so that all sides are represented: a
    stratified draw from the published seed (see `stratified_draw`)."""
    hearing = find_hearing(tx, p.hearing)
    tx.require("hearing", hearing, hearing.code, field="hearing")
    tx.check(rules.draw_after_registration(tx.today, hearing.registration_closes))
    if p.public_value and not p.public_value_source.strip():
        raise invalid(
            "public_value_source",
            "须写明该公开值的来源（由谁、何时公布）",
            "name the source of the public value (who made it public, and when)",
        )
    registrations = _registrations(tx, hearing)
    if not registrations:
        tx.refuse("R5", "无人报名，无法遴选参加人；请改期重新公告", "nobody registered; postpone the hearing")
    # Art. 16(2): the seed is made now, after registration closed, never before
    if p.public_value:
        seed, source = p.public_value, f"公开值 / public value: {p.public_value_source}"
    else:
        seed = secrets.token_hex(16)
        source = "系统于抽签时以安全随机数生成 / made by the system from a secure random source at the draw"
    ranking = stratified_draw(seed, hearing.quotas, [(r.code, r.interest_group) for r in registrations])
    by_code = {r.code: r for r in registrations}
    selected: dict[str, list[str]] = {}
    for group, codes in ranking.items():
        quota = int(hearing.quotas.get(group, 0))
        for rank, registration_code in enumerate(codes, 1):
            row = by_code[registration_code]
            row.draw_rank = rank
            row.selected = rank <= quota
            tx.session.add(row)
        selected[group] = codes[:quota]
    hearing.seed = seed
    hearing.seed_source = source
    hearing.selected_at = tx.now
    tx.advance("hearing", hearing, HearingStatus.selected, hearing.code, field="hearing")
    tx.session.add(hearing)
    tx.add_evidence(STAGE, "hearing_draw", _draw_text(tx, hearing), f"抽签记录（{hearing.code}）")
    tx.notes["draw"] = {"seed": seed, "ranking": ranking}
    tx.emit("hearing_participants_selected", {"hearing": hearing.code, "selected": selected})
    return {"hearing": hearing.code, "seed": seed, "selected": selected}


def _draw_text(tx: Tx, hearing: Hearing) -> str:
    """The published draw: the seed, where it came from, and every code's key and rank,
    so that anyone can repeat the draw (METHOD_RULE_*)."""
    lines = [
        f"听证会 {hearing.code} 参加人抽签记录（{tx.now.astimezone(tx.tz).strftime('%Y-%m-%d %H:%M')}）",
        f"随机种子 / seed: {hearing.seed}",
        f"种子来源 / source: {hearing.seed_source}",
        METHOD_RULE_ZH,
        METHOD_RULE_EN,
    ]
    registrations = _registrations(tx, hearing)
    for group, quota in hearing.quotas.items():
        members = sorted(
            (r for r in registrations if r.interest_group == group), key=lambda r: r.draw_rank or 0
        )
        lines.append(f"【{group}】名额 {quota}，报名 {len(members)}")
        lines += [
            f"  #{r.draw_rank} {r.code} {draw_key(hearing.seed, r.code)}{' 入选' if r.selected else ''}"
            for r in members
        ]
    return "\n".join(lines)


# -------------------------------------------------------------------- the list
class PublishList(DecisionPayload):
    hearing: str | None = Field(default=None, max_length=64)
    note: str = ""


@action("publish_participant_list", PublishList)
def publish_participant_list(tx: Tx, p: PublishList) -> Mapping[str, Any]:
    """Art. 16(2), P4: the list is published at least `hearing_list_days` before the hearing."""
    hearing = find_hearing(tx, p.hearing)
    tx.require("hearing", hearing, hearing.code, field="hearing")
    deadline = _lead_time(tx, "hearing_participant_list", hearing)
    tx.check(
        rules.participant_list_in_time(tx.today, deadline.due_date, int(tx.settings["hearing_list_days"]))
    )
    tx.add_evidence(
        STAGE, "participant_list", _list_text(tx, hearing, p.note), f"听证参加人名单（{hearing.code}）"
    )
    tx.close_deadlines("hearing_participant_list", subject_ref=hearing.code, status=DeadlineStatus.met)
    hearing.list_published_at = tx.now
    tx.advance("hearing", hearing, HearingStatus.list_published, hearing.code, field="hearing")
    tx.session.add(hearing)
    tx.emit("hearing_list_published", {"hearing": hearing.code})
    return {"hearing": hearing.code, "participants": [r.code for r in _selected(tx, hearing)]}


def _list_text(tx: Tx, hearing: Hearing, note: str) -> str:
    """Names of those selected; codes and draw keys of everyone, so the draw can be checked."""
    registrations = _registrations(tx, hearing)
    lines = [
        f"听证会 {hearing.code} 参加人名单",
        f"随机种子 / seed: {hearing.seed}（{hearing.seed_source}）",
    ]
    for group, quota in hearing.quotas.items():
        members = sorted(
            (r for r in registrations if r.interest_group == group), key=lambda r: r.draw_rank or 0
        )
        lines.append(f"【{group}】名额 {quota}，报名 {len(members)}")
        lines += [f"  {r.code} {r.name}" for r in members if r.selected]
        if len(members) < int(quota):
            lines.append(f"  （报名不足，缺 {int(quota) - len(members)} 名）")
        lines += [
            f"  抽签 #{r.draw_rank} {r.code} {draw_key(hearing.seed, r.code)}{' 入选' if r.selected else ''}"
            for r in members
        ]
    if note:
        lines.append(note)
    return "\n".join(lines)


# -------------------------------------------------------------------- materials
class DeliverMaterials(DecisionPayload):
    hearing: str | None = Field(default=None, max_length=64)
    delivered_on: date
    materials: str = ""  # what was delivered (the draft, explanation, basis)


@action("deliver_hearing_materials", DeliverMaterials)
def deliver_hearing_materials(tx: Tx, p: DeliverMaterials) -> Mapping[str, Any]:
    """Art. 16(3): materials reach the participants at least T2 (7 calendar days by
    default) before the hearing (R5)."""
    hearing = find_hearing(tx, p.hearing)
    tx.require("hearing", hearing, hearing.code, field="hearing")
    if p.delivered_on > tx.today:
        raise invalid("delivered_on", "不得晚于今天", "cannot be in the future")
    assert hearing.list_published_at is not None
    if p.delivered_on < local_date(hearing.list_published_at, tx.tz):
        raise invalid("delivered_on", "不得早于名单公布之日", "cannot be before the list was published")
    deadline = _lead_time(tx, "hearing_materials", hearing)
    tx.check(
        rules.materials_in_time(
            p.delivered_on,
            deadline.due_date,
            int(tx.settings["hearing_materials_days"]),
            tx.settings["hearing_materials_unit"] == "working",
        )
    )
    participants = _selected(tx, hearing)
    text = "\n".join(
        [
            f"听证会 {hearing.code} 听证材料送达记录",
            f"送达日期：{p.delivered_on.isoformat()}（最迟 {deadline.due_date.isoformat()}）",
            "送达对象：" + "、".join(f"{r.code} {r.name}" for r in participants),
            p.materials or "材料：决策草案及其说明、法律依据",
        ]
    )
    tx.add_evidence(STAGE, "materials_delivery", text, f"听证材料送达记录（{hearing.code}）")
    tx.close_deadlines("hearing_materials", subject_ref=hearing.code, status=DeadlineStatus.met)
    hearing.materials_delivered_at = tx.now
    hearing.materials_delivered_on = p.delivered_on
    tx.advance("hearing", hearing, HearingStatus.materials_delivered, hearing.code, field="hearing")
    tx.session.add(hearing)
    tx.emit("hearing_materials_delivered", {"hearing": hearing.code, "delivered_on": str(p.delivered_on)})
    return {"hearing": hearing.code, "delivered_on": p.delivered_on.isoformat()}


# -------------------------------------------------------------------- the hearing
class StatementInput(Payload):
    ref: str | None = Field(default=None, min_length=1, max_length=64)
    speaker: str = Field(min_length=1, max_length=100)
    text: str = Field(min_length=1)


class NotSigned(Payload):
    participant: str = Field(min_length=1, max_length=100)  # registration code or name
    reason: str = Field(min_length=1, max_length=500)  # refused, left early, ...


class RecordHearing(DecisionPayload):
    hearing: str | None = Field(default=None, max_length=64)
    held_on: date
    signed_by: list[str] = Field(default_factory=list)  # registration codes or names
    # Art. 17: participants who refused or failed to sign; the record names them
    refused_to_sign: list[NotSigned] = Field(default_factory=list)
    statements: list[StatementInput] = Field(default_factory=list)
    record: str = Field(min_length=1)  # 听证会记录


@action("record_hearing", RecordHearing)
def record_hearing(tx: Tx, p: RecordHearing) -> Mapping[str, Any]:
    """Art. 17: the hearing is held as announced, and every participant confirms and
    signs the record, or is named in it as refusing or failing to sign (R5). Each
    statement becomes an input answered under Art. 18."""
    hearing = find_hearing(tx, p.hearing)
    tx.require("hearing", hearing, hearing.code, field="hearing")
    if p.held_on > tx.today:
        raise invalid("held_on", "不得晚于今天", "cannot be in the future")
    tx.check(rules.hearing_started(tx.now, hearing.starts_at))
    tx.check(rules.hearing_held_as_announced(p.held_on, hearing_day(tx, hearing)))
    participants = _selected(tx, hearing)
    signers = set(p.signed_by)
    signed = [r.code for r in participants if r.code in signers or r.name in signers]
    not_signed: list[tuple[HearingRegistration, str]] = []
    for index, entry in enumerate(p.refused_to_sign):
        who = next((r for r in participants if entry.participant in (r.code, r.name)), None)
        if who is None:
            raise invalid(
                f"refused_to_sign.{index}.participant",
                f"{entry.participant} 不是本次听证会的参加人",
                f"{entry.participant} is not a participant of this hearing",
            )
        not_signed.append((who, entry.reason))
    tx.check(rules.record_signed([r.code for r in participants], signed, [r.code for r, _ in not_signed]))
    others = sorted(signers - {r.code for r in participants} - {r.name for r in participants})

    from flows.service.participation import inputs_of_kind

    taken = set(inputs_of_kind(tx, "hearing_statement"))
    codes: list[str] = []
    for index, statement in enumerate(p.statements, 1):
        if statement.ref in taken:
            raise invalid(
                f"statements.{index - 1}.ref",
                f"发言编号 {statement.ref} 已存在",
                f"statement {statement.ref} exists",
            )
        code = statement.ref or next_free_code(f"{hearing.code}-S", index, taken)
        taken.add(code)
        codes.append(code)
        tx.session.add(
            HearingStatement(
                hearing_id=hearing.id or 0, code=code, speaker=statement.speaker, text=statement.text
            )
        )
    text = "\n".join(
        [
            f"听证会 {hearing.code} 记录（{p.held_on.isoformat()}，{hearing.place}）",
            p.record,
            *(f"[{c}] {s.speaker}：{s.text}" for c, s in zip(codes, p.statements, strict=True)),
            "参加人确认签字："
            + ("、".join(f"{r.code} {r.name}" for r in participants if r.code in signed) or "无"),
            *(
                [
                    "以下参加人拒绝签字或未签字，本记录予以载明："
                    + "、".join(f"{r.code} {r.name}（{reason}）" for r, reason in not_signed)
                ]
                if not_signed
                else []
            ),
            *([f"其他签字人：{'、'.join(others)}"] if others else []),
        ]
    )
    tx.add_evidence(STAGE, "hearing_record", text, f"听证会记录（{hearing.code}）")
    hearing.held_at = hearing.starts_at
    hearing.held_on = p.held_on
    hearing.record_signed_by = list(p.signed_by)
    hearing.record_not_signed = [{"participant": r.code, "reason": reason} for r, reason in not_signed]
    tx.advance("hearing", hearing, HearingStatus.held, hearing.code, field="hearing")
    tx.session.add(hearing)
    tx.emit(
        "hearing_held",
        {"hearing": hearing.code, "statements": codes, "not_signed": [r.code for r, _ in not_signed]},
    )
    return {"hearing": hearing.code, "statements": codes}


# -------------------------------------------------------------------- the report
class SubmitReport(DecisionPayload):
    hearing: str | None = Field(default=None, max_length=64)
    report: str = Field(min_length=1)  # 听证报告


@action("submit_hearing_report", SubmitReport)
def submit_hearing_report(tx: Tx, p: SubmitReport) -> Mapping[str, Any]:
    """PRACTICE (GD-H): the hearing report closes the stage, which then goes to the legal
    office for approval where the jurisdiction requires it. Art. 18: every
    statement made at the hearing has been answered first (R5); the answers are stored on
    their own (hearing_answers) and at the end of the report, for the discussion package
    (Art. 29(2))."""
    hearing = find_hearing(tx, p.hearing)
    # held, or reported and returned by the legal office (the stage is then `returned`): a
    # report already submitted is revised only after a return (declared preconditions)
    tx.require("hearing", hearing, hearing.code, field="hearing")
    statements = list(
        tx.session.exec(
            select(HearingStatement)
            .where(HearingStatement.hearing_id == hearing.id)
            .order_by(col(HearingStatement.id))
        )
    )
    answers = _answers(tx, [s.code for s in statements])
    tx.check(rules.hearing_statements_answered([s.code for s in statements], answers))
    answers_text = _answers_text(hearing, statements, answers)
    tx.add_evidence(STAGE, "hearing_report", f"{p.report}\n\n{answers_text}", f"听证报告（{hearing.code}）")
    tx.add_evidence(STAGE, "hearing_answers", answers_text, f"听证意见研究采纳情况（{hearing.code}）")
    hearing.report_submitted_at = tx.now
    if hearing.status != HearingStatus.reported:
        tx.advance("hearing", hearing, HearingStatus.reported, hearing.code, field="hearing")
    row = tx.finish_stage(STAGE)
    tx.emit("hearing_report_submitted", {"hearing": hearing.code, "statements": len(statements)})
    return {"hearing": hearing.code, "stage": STAGE, "status": row.status.value}


OUTCOME_ZH = {"adopted": "采纳", "partly_adopted": "部分采纳", "not_adopted": "不采纳"}


def _answers(tx: Tx, codes: list[str]) -> dict[str, InputResponse]:
    """The Art. 18 answers (respond_to_input) to the given hearing statements."""
    if not codes:
        return {}
    decision = tx.require_decision()
    rows = tx.session.exec(
        select(InputResponse).where(
            InputResponse.decision_id == decision.id,
            InputResponse.input_kind == "hearing_statement",
            col(InputResponse.input_code).in_(codes),
        )
    )
    return {row.input_code: row for row in rows}


def _answers_text(
    hearing: Hearing, statements: list[HearingStatement], answers: dict[str, InputResponse]
) -> str:
    lines = [f"听证会 {hearing.code} 意见研究采纳情况 / answers to the hearing statements"]
    for statement in statements:
        answer = answers[statement.code]
        lines.append(
            f"[{statement.code}] {statement.speaker}：{statement.text}\n"
            f"  → {OUTCOME_ZH[answer.outcome]} / {answer.outcome}：{answer.reason}"
        )
    if not statements:
        lines.append("听证会上无发言意见 / no statements were made")
    return "\n".join(lines)
