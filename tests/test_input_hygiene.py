"""Input hygiene (issue 8, item 5): text without control characters, ANSI escapes or bidi
overrides; references of a safe form; generated codes that skip codes already taken; the
public never choosing its own references; strict types and no duplicate keys; dates,
time zones, database URLs and ids out of range refused with exit 2 and no traceback;
calendar files capped and their errors not echoing their contents."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import Result
from sqlmodel import Session, col, select

from flows import hygiene
from flows import procedure as proc
from flows.errors import ProcedureError
from flows.scenario import ScenarioError
from flows.scenario import _Loader as ScenarioLoader
from flows.scenario import load as load_scenario
from flows.service import REGISTRY, ServiceContext, setup_jurisdiction
from flows.service.calendar_admin import MAX_FILE_BYTES, read_notice
from flows.service.framework import CleanInput, Payload, validate_payload
from models import CalendarYear, Decision, PublicComment
from tests.helpers import UNITS, USERS, act, at, comment_window, district, drafted, refused
from tests.test_cli_core import REGISTER, database, register, run  # noqa: F401  (database: a fixture)

ROOT = Path(__file__).resolve().parent.parent
THIN_PATH = ROOT / "scenarios" / "01_thin_path.yaml"
REGISTER_ARGS: dict[str, Any] = {"title": "区政务服务事项清单调整", "category": 1, "lead_unit": "housing"}


def register_refused(ctx: ServiceContext, field: str, **payload: Any) -> ProcedureError:
    error = refused(
        ctx, "INPUT", "register_decision", "li", "2026-03-02T09:00", **{**REGISTER_ARGS, **payload}
    )
    assert error.field == field, error
    return error


def invalid_payload(action: str, payload: dict[str, Any]) -> ProcedureError:
    with pytest.raises(ProcedureError) as caught:
        validate_payload(action, payload)
    assert caught.value.rule_id == "INPUT" and caught.value.kind == "invalid"
    return caught.value


def assert_exit_2(result: Result, field: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert field in result.output, result.output


# ---------------------------------------------------------------- text
@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("title", "清单\x00调整", "U+0000"),
        ("title", "清单\x07调整", "U+0007"),
        ("proposal", "正文\x1b[2J\x1b[31m伪造的意见", "terminal escape"),
        ("proposal", "正文\x9b31m", "terminal escape"),
        ("title", "调整\u202etxt.exe", "bidi"),
        ("proposal", "a\u2066b\u2069", "bidi"),
        ("title", "第一行\n第二行", "single line"),
        ("title", "名称\t制表", "single line"),
        ("organ", "香洲区\r人民政府", "U+000D"),
    ],
)
def test_text_with_control_characters_escapes_or_bidi_overrides_is_refused(
    ctx: ServiceContext, field: str, value: str, named: str
) -> None:
    """On both databases: nothing is written, the error is INPUT naming the field and the
    character by its code point (never echoing the text)."""
    district(ctx)
    error = register_refused(ctx, field, **{field: value})
    assert named in error.message_en and value not in str(error)


def test_long_text_keeps_newlines_and_tabs(ctx: ServiceContext) -> None:
    district(ctx)
    proposal = "一、背景\n\t现行清单已不适应需要。\r\n二、建议\n\t调整。"
    act(ctx, "register_decision", "li", "2026-03-02T09:00", ref="D1", proposal=proposal, **REGISTER_ARGS)
    with Session(ctx.engine) as session:
        assert session.exec(select(Decision.code)).all() == ["D1"]


def test_hygiene_reaches_list_items_dict_keys_and_nested_models() -> None:
    error = invalid_payload("register_decision", {**REGISTER_ARGS, "units": ["housing", "evil\x1b[0m"]})
    assert error.field == "units.1"
    quotas = {"居民\u202e": 2}
    error = invalid_payload(
        "announce_hearing",
        {
            "decision": "D1",
            "starts_at": "2026-10-15T09:30",
            "place": "会议室",
            "quotas": quotas,
            "registration_opens": "2026-09-14",
            "registration_closes": "2026-09-29",
            "selection_method": "抽签",
        },
    )
    assert error.field is not None and error.field.startswith("quotas"), error
    statements = [{"speaker": "张三", "text": "ok"}, {"speaker": "李四", "text": "伪造\x00"}]
    error = invalid_payload(
        "record_hearing",
        {"decision": "D1", "held_on": "2026-10-15", "record": "记录", "statements": statements},
    )
    assert error.field == "statements.1.text"
    opinions = [{"member": "mayor", "position": "agree", "text": "同意\u202d"}]
    error = invalid_payload(
        "record_meeting",
        {
            "decision": "D1",
            "meeting_type": "executive",
            "held_on": "2026-05-01",
            "members_present": ["mayor"],
            "opinions": opinions,
            "minutes": "纪要",
            "head_decision": "approve",
            "head_reason": "同意",
        },
    )
    assert error.field == "opinions.0.text", error


def test_every_action_and_every_nested_input_model_gets_the_check() -> None:
    assert issubclass(Payload, CleanInput)
    for spec in REGISTRY.values():
        assert issubclass(spec.payload, Payload), spec.name
        assert spec.payload.model_config.get("strict") is True, spec.name


def test_set_up_input_is_checked_too(ctx: ServiceContext) -> None:
    cases: list[tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]], str]] = [
        ({"organ": "区政府\x00"}, UNITS, USERS, "organ"),
        ({"organ": "区政府", "timezone": "Mars/Olympus"}, UNITS, USERS, "timezone"),
        ({"organ": "区政府", "timezone": "../../etc/passwd"}, UNITS, USERS, "timezone"),
        (
            {"organ": "区政府"},
            [*UNITS, {"id": "a b", "name": "x", "kind": "department"}],
            USERS,
            "units.6.id",
        ),
        ({"organ": "区政府"}, UNITS, [{"id": "li;rm", "unit": "housing", "roles": ["admin"]}], "users.0.id"),
        (
            {"organ": "区政府"},
            UNITS,
            [{"id": "ma", "unit": "housing", "roles": ["admin"], "name": "马\n六"}],
            "users.0.name",
        ),
        ({"organ": "区政府", "settings": {"comment_period_min_days": True}}, UNITS, USERS, "settings"),
    ]
    for jurisdiction, units, users, field in cases:
        with pytest.raises(ProcedureError) as caught:
            setup_jurisdiction(ctx, jurisdiction, units, users, now=at("2026-01-05T09:00"))
        assert caught.value.field is not None and caught.value.field.startswith(field), caught.value
    with Session(ctx.engine) as session:
        assert session.exec(select(Decision)).first() is None


# ---------------------------------------------------------------- references
@pytest.mark.parametrize("ref", ["../D1", "D 1", "D1;drop", "-D1", "决策一", "D1\u202e", "x" * 65, "D/1"])
def test_a_chosen_reference_must_have_a_safe_form(ctx: ServiceContext, ref: str) -> None:
    district(ctx)
    register_refused(ctx, "ref", ref=ref)


def test_hearing_and_opinion_refs_have_the_same_form() -> None:
    error = invalid_payload(
        "record_expert_opinion", {"decision": "D1", "ref": "E 1", "expert": "x", "text": "意见"}
    )
    assert error.field == "ref"
    statements = [{"ref": "S 1", "speaker": "张三", "text": "发言"}]
    error = invalid_payload(
        "record_hearing",
        {"decision": "D1", "held_on": "2026-10-15", "record": "记录", "statements": statements},
    )
    assert error.field == "statements.0.ref"


# ---------------------------------------------------------------- generated codes
def test_next_free_code_skips_codes_already_taken() -> None:
    assert hygiene.next_free_code("C", 4, {"C4", "C5"}) == "C6"
    assert hygiene.next_free_code("JC-2026-", 2, {"JC-2026-002"}, width=3) == "JC-2026-003"
    assert hygiene.next_free_code("H", 1, set()) == "H1"


def test_a_chosen_decision_code_does_not_block_auto_numbering(ctx: ServiceContext) -> None:
    """The attack: someone registers ref JC-2026-002; the next automatic number used to be
    count+1 = JC-2026-002, refused as taken, for every later registration."""
    district(ctx)
    act(ctx, "register_decision", "li", "2026-03-02T09:00", ref="JC-2026-002", **REGISTER_ARGS)
    first = act(ctx, "register_decision", "li", "2026-03-02T09:10", **REGISTER_ARGS).data["decision"]
    second = act(ctx, "register_decision", "li", "2026-03-02T09:20", **REGISTER_ARGS).data["decision"]
    assert first == "JC-2026-003" and second == "JC-2026-004"
    with Session(ctx.engine) as session:
        codes = session.exec(select(Decision.code).order_by(col(Decision.id))).all()
    assert codes == ["JC-2026-002", "JC-2026-003", "JC-2026-004"]


# ---------------------------------------------------------------- the public chooses nothing
def test_no_public_action_accepts_a_reference() -> None:
    public = [name for name, rule in proc.procedure().actions.items() if "public" in rule.roles]
    assert {"submit_public_comment", "register_for_hearing", "submit_execution_feedback"} <= set(public)
    for name in public:
        fields = set(REGISTRY[name].payload.model_fields)
        assert not {f for f in fields if f == "ref" or f.endswith(("_ref", "code"))}, (name, fields)


def test_an_anonymous_commenter_cannot_pick_a_comment_code(ctx: ServiceContext) -> None:
    """The attack: one anonymous commenter sends `ref: C4`, and every later comment that
    would be numbered C4 is refused. The public never chooses a code: the field is unknown,
    and the system numbers the comments."""
    district(ctx)
    drafted(ctx)
    comment_window(ctx, "2026-03-03", "2026-04-02")
    error = refused(
        ctx,
        "INPUT",
        "submit_public_comment",
        "public",
        "2026-03-04T09:00",
        decision="D1",
        text="意见",
        ref="C4",
    )
    assert error.field == "ref"
    codes = [
        act(
            ctx, "submit_public_comment", "public", f"2026-03-04T1{i}:00", decision="D1", text=f"意见{i}"
        ).data["comment"]
        for i in range(5)
    ]
    assert codes == ["C1", "C2", "C3", "C4", "C5"]
    with Session(ctx.engine) as session:
        assert len(session.exec(select(PublicComment)).all()) == 5


# ---------------------------------------------------------------- strict types
@pytest.mark.parametrize("value", [True, "1", 1.5, None])
def test_category_must_be_a_number(ctx: ServiceContext, value: Any) -> None:
    district(ctx)
    register_refused(ctx, "category", category=value)


def test_booleans_are_not_strings_and_dates_still_come_as_iso_strings() -> None:
    opinion = {"decision": "D1", "expert": "x", "text": "意见", "signed": "yes"}
    assert invalid_payload("record_expert_opinion", opinion).field == "signed"
    assert invalid_payload("record_expert_opinion", {**opinion, "signed": 1}).field == "signed"
    period = {"decision": "D1", "start_date": "2026-03-03", "end_date": "2026-04-02", "channels": ["website"]}
    _, payload = validate_payload("open_comment_period", period)
    assert str(payload.model_dump()["start_date"]) == "2026-03-03"


@pytest.mark.parametrize("day", ["1999-12-31", "2101-01-01", "0001-01-01", "9999-12-31"])
def test_dates_outside_2000_to_2100_are_refused(day: str) -> None:
    period = {"decision": "D1", "start_date": day, "end_date": "2026-04-02", "channels": ["website"]}
    assert invalid_payload("open_comment_period", period).field == "start_date"


def test_a_number_too_large_for_a_database_id_is_refused() -> None:
    payload = {"decision": "D1", "reason": "未涉及合法性", "draft": 10**20}
    assert invalid_payload("confirm_revision", payload).field == "draft"


def test_non_json_values_and_non_text_keys_are_refused() -> None:
    assert invalid_payload("register_decision", {**REGISTER_ARGS, "title": b"bytes"}).field == "title"
    error = invalid_payload("register_decision", {**REGISTER_ARGS, "category": float("nan")})
    assert error.field == "payload"


# ---------------------------------------------------------------- scenario files
def scenario_text(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_scenario_with_a_key_given_twice_is_refused(tmp_path: Path) -> None:
    original = THIN_PATH.read_text(encoding="utf-8")
    doubled = original.replace("timezone:", "timezone: Asia/Tokyo\ntimezone:", 1)
    with pytest.raises(ScenarioError, match="a key appears twice"):
        load_scenario(scenario_text(tmp_path, doubled))


def test_a_scenario_with_an_unknown_time_zone_or_unclean_text_is_refused(tmp_path: Path) -> None:
    raw = yaml.load(THIN_PATH.read_text(encoding="utf-8"), Loader=ScenarioLoader)
    raw["timezone"] = "Mars/Olympus"
    with pytest.raises(ScenarioError, match=r"timezone: .*unknown time zone"):
        load_scenario(scenario_text(tmp_path, yaml.safe_dump(raw, allow_unicode=True)))
    raw["timezone"] = "Asia/Shanghai"
    raw["description"] = "a\x1b[31m"
    with pytest.raises(ScenarioError, match=r"description: .*terminal escape"):
        load_scenario(scenario_text(tmp_path, yaml.safe_dump(raw, allow_unicode=True)))
    raw["description"] = ""
    raw["steps"][0]["with"]["title"] = "调整\u202e"
    with pytest.raises(ScenarioError, match=r"step 1, field with_\.title: .*bidi"):
        load_scenario(scenario_text(tmp_path, yaml.safe_dump(raw, allow_unicode=True)))


def test_a_scenario_step_outside_2000_to_2100_is_refused(tmp_path: Path) -> None:
    from flows.scenario import parse_at
    from tests.helpers import SHANGHAI

    with pytest.raises(ScenarioError, match="2000-2100"):
        parse_at("1999-12-31T09:00", SHANGHAI, "step 1")


# ---------------------------------------------------------------- calendar files
def test_a_calendar_file_over_the_cap_is_refused_without_reading_it(tmp_path: Path) -> None:
    path = tmp_path / "2027.yaml"
    path.write_text("year: 2027\n" + "#" * MAX_FILE_BYTES, encoding="utf-8")
    with pytest.raises(ProcedureError) as caught:
        read_notice(path)
    assert caught.value.field == "file" and "KiB" in caught.value.message_en


@pytest.mark.parametrize(
    ("name", "text", "field"),
    [
        ("2027.csv", "date,kind,note\nEVIL\x1b[31m,holiday,元旦\n", "line 2.date"),
        ("2027.csv", "date,kind,note\n2027-01-01,EVIL-KIND,元旦\n", "line 2.kind"),
        ("2027.csv", "date,EVIL-HEADER\n2027-01-01,holiday\n", "line 1"),
        ("2027.yaml", "year: 2027\nEVIL KEY: 1\nholidays: []\n", "(?)"),
        ("2027.yaml", "year: 2027\nholidays:\n  - name: 元旦\n    days: [EVIL-DAY]\n", "holidays[0].days[0]"),
        ("2027.yaml", "year: 2027\nyear: 2028\nholidays: []\n", "file"),
    ],
)
def test_calendar_errors_name_the_place_but_never_echo_the_contents(
    tmp_path: Path, name: str, text: str, field: str
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ProcedureError) as caught:
        read_notice(path)
    assert caught.value.rule_id == "INPUT" and caught.value.field == field, caught.value
    assert "EVIL" not in str(caught.value) and "\x1b" not in str(caught.value)


def test_calendar_names_and_notes_are_clean_single_lines(tmp_path: Path) -> None:
    path = tmp_path / "2027.yaml"
    path.write_text(
        'year: 2027\nholidays:\n  - name: "元旦\\u202e"\n    days: [2027-01-01]\n', encoding="utf-8"
    )
    with pytest.raises(ProcedureError) as caught:
        read_notice(path)
    assert caught.value.field == "holidays[0].name" and "bidi" in caught.value.message_en


def test_cli_calendar_load_of_an_oversized_file_is_exit_2(database: str, tmp_path: Path) -> None:  # noqa: F811
    path = tmp_path / "2027.csv"
    path.write_text(
        "date,kind,note\n" + "2027-01-01,holiday,元旦\n" * (MAX_FILE_BYTES // 20), encoding="utf-8"
    )
    result = run("calendar", "load", str(path), "--actor", "liu", "--database", database)
    assert_exit_2(result, "[file]")
    from sqlmodel import create_engine

    from models.db import normalise_url

    engine = create_engine(normalise_url(database))
    with Session(engine) as session:
        assert session.exec(select(CalendarYear)).first() is None
    engine.dispose()


# ---------------------------------------------------------------- the CLI
def act_with(url: str, payload_text: str, *extra: str) -> Result:
    return run(
        "act",
        "register_decision",
        "--actor",
        "li",
        "--with",
        payload_text,
        "--now",
        "2026-03-02T09:00",
        "--database",
        url,
        *extra,
    )


def test_cli_duplicate_json_keys_are_an_error(database: str) -> None:  # noqa: F811
    text = '{"ref": "D1", "title": "a", "category": 1, "category": 2, "lead_unit": "housing"}'
    result = act_with(database, text)
    assert_exit_2(result, "[--with]")
    assert "'category'" in result.output
    nested = '{"ref": "D1", "title": "a", "category": 1, "lead_unit": "housing", "x": {"k": 1, "k": 2}}'
    assert_exit_2(act_with(database, nested), "[--with]")
    result = act_with(database, json.dumps(REGISTER), "--set", "title=甲", "--set", "title=乙")
    assert_exit_2(result, "[--set]")
    assert_exit_2(act_with(database, '{"title": "a", "category": NaN}'), "[--with]")


def test_cli_strict_types_and_text_hygiene(database: str) -> None:  # noqa: F811
    result = register(database, {**REGISTER, "category": True})
    assert_exit_2(result, "[category]")
    result = register(database, {**REGISTER, "title": "调整\u202eexe"})
    assert_exit_2(result, "[title]")
    result = register(database, {**REGISTER, "ref": "D1\x1b[2J"})
    assert_exit_2(result, "[ref]")


@pytest.mark.parametrize(
    "now", ["1999-12-31T09:00", "2101-01-01T09:00", "9999-12-31T23:59+00:00", "0001-01-01"]
)
def test_cli_now_outside_2000_to_2100_is_exit_2(database: str, now: str) -> None:  # noqa: F811
    result = register(database, REGISTER, "--now", now)
    assert_exit_2(result, "[--now]")


@pytest.mark.parametrize(
    "url",
    [
        "nonsense",
        "mysql://root@localhost/x",
        "postgresql://postgres@127.0.0.1:1/unreachable",
        "postgresql://user:s3cret@127.0.0.1:1/unreachable",
        "postgresql://postgres@127.0.0.1:notaport/x",
    ],
)
def test_cli_bad_database_url_or_unreachable_server_is_exit_2(url: str) -> None:
    result = run("audit", "verify", "--database", url)
    assert_exit_2(result, "[--database]")
    assert "s3cret" not in result.output
    result = run(
        "act", "register_decision", "--actor", "li", "--with", json.dumps(REGISTER), "--database", url
    )
    assert_exit_2(result, "[--database]")


@pytest.mark.parametrize(
    "args",
    [
        ("outbox", "retry", "99999999999999999999"),
        ("outbox", "retry", "0"),
        ("inbox", "li", "--read", "99999999999999999999"),
        ("inbox", "li", "--limit", "99999999999999999999"),
    ],
)
def test_cli_out_of_range_ids_are_exit_2(database: str, args: tuple[str, ...]) -> None:  # noqa: F811
    result = run(*args, "--database", database)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "ID" in result.output or "--read" in result.output or "--limit" in result.output


def test_cli_calendar_add_days_outside_2000_to_2100_is_exit_2(database: str) -> None:  # noqa: F811
    result = run("calendar", "add-days", "1999-12-31", "5", "--database", database)
    assert_exit_2(result, "[DATE]")


def test_a_comment_code_taken_out_of_turn_is_skipped(ctx: ServiceContext) -> None:
    """The next code is C<counter + 1> when free; a code already taken out of turn (a row
    written by an earlier version, say) is skipped, never a conflict."""
    from datetime import UTC, datetime

    district(ctx)
    drafted(ctx)
    comment_window(ctx, "2026-03-03", "2026-04-02")
    first = act(ctx, "submit_public_comment", "public", "2026-03-04T09:00", decision="D1", text="意见一")
    assert first.data["comment"] == "C1"
    with Session(ctx.engine) as session:
        decision = session.exec(select(Decision).where(Decision.code == "D1")).one()
        period_id = session.exec(select(PublicComment.period_id)).first()
        session.add(
            PublicComment(
                decision_id=decision.id or 0,
                period_id=period_id or 0,
                code="C3",
                text="旧数据",
                submitted_at=datetime(2026, 3, 4, 2, tzinfo=UTC),
            )
        )
        session.commit()
    second = act(ctx, "submit_public_comment", "public", "2026-03-04T10:00", decision="D1", text="意见二")
    assert second.data["comment"] == "C2"  # the decision's counter goes on: C2 is free
    third = act(ctx, "submit_public_comment", "public", "2026-03-04T11:00", decision="D1", text="意见三")
    assert third.data["comment"] == "C4"  # C3 is taken: the next free one
