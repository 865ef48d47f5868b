"""Issue 3: the deadline notification templates and their renderer. Every event renders in
both locales with everything a recipient needs; HTML escapes, text does not; a broken
override is caught by check() with the file and the variable named; the environment is
built once. No database is needed."""

from __future__ import annotations

import copy
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import jinja2
import pytest

import notifications.render as render_module
from notifications.config import LOCALES
from notifications.errors import ConfigError
from notifications.render import EVENTS, SAMPLE_CONTEXT, Rendered, Renderer, en_date, zh_date

LINK = SAMPLE_CONTEXT["link"]
ZH_DUE = "2026年10月9日（星期五）24:00前"
EN_DUE = "by 24:00 Beijing time on Friday, 9 October 2026"
PAIRS = [(event, locale) for event in EVENTS for locale in LOCALES]


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


def context(**changes: Any) -> dict[str, Any]:
    """A deep copy of SAMPLE_CONTEXT; `deadline__provisional=True` changes a nested key."""
    ctx = copy.deepcopy(SAMPLE_CONTEXT)
    for key, value in changes.items():
        if "__" in key:
            outer, inner = key.split("__")
            ctx[outer][inner] = value
        else:
            ctx[key] = value
    return ctx


def bodies(rendered: Rendered) -> dict[str, str]:
    return {"subject": rendered.subject, "text": rendered.text, "html": rendered.html}


def write(root: Path, name: str, body: str) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body, encoding="utf-8")


# --------------------------------------------------------------------------- the shipped templates
def test_sample_context_has_exactly_the_documented_keys() -> None:
    assert set(SAMPLE_CONTEXT) == {
        "organ",
        "decision",
        "step",
        "deadline",
        "point",
        "days",
        "level",
        "recipient",
        "late",
        "link",
    }
    assert set(SAMPLE_CONTEXT["deadline"]) == {
        "kind",
        "zh",
        "en",
        "article",
        "due_date",
        "fires",
        "provisional",
        "timezone",
    }
    assert set(SAMPLE_CONTEXT["decision"]) == {"code", "title"}
    assert set(SAMPLE_CONTEXT["step"]) == {"zh", "en"}
    assert set(SAMPLE_CONTEXT["recipient"]) == {"code", "name"}


def test_packaged_templates_pass_check(renderer: Renderer) -> None:
    renderer.check()


@pytest.mark.parametrize(("event", "locale"), PAIRS)
def test_every_event_and_locale_says_what_is_due(renderer: Renderer, event: str, locale: str) -> None:
    rendered = renderer.render(event, locale, SAMPLE_CONTEXT)
    zh = locale == "zh_CN"
    step = SAMPLE_CONTEXT["step"]["zh" if zh else "en"]
    what = SAMPLE_CONTEXT["deadline"]["zh" if zh else "en"]
    for part in (rendered.text, rendered.html):
        assert SAMPLE_CONTEXT["decision"]["code"] in part
        assert SAMPLE_CONTEXT["decision"]["title"] in part
        assert step in part
        assert what in part
        assert (ZH_DUE if zh else EN_DUE) in part
        assert "Art. 28; P6" in part
        assert "《重大行政决策程序暂行条例》" in part
        assert SAMPLE_CONTEXT["recipient"]["name"] in part
        assert SAMPLE_CONTEXT["organ"] in part
    assert LINK in rendered.text
    assert f'<a href="{LINK}"' in rendered.html
    assert rendered.html.startswith("<!DOCTYPE html>")
    # the subject is one non-empty line naming the decision and the deadline
    assert rendered.subject and "\n" not in rendered.subject and rendered.subject == rendered.subject.strip()
    assert SAMPLE_CONTEXT["decision"]["code"] in rendered.subject
    assert what in rendered.subject
    # nothing late or provisional in the sample
    for part in bodies(rendered).values():
        assert "补发" not in part and "sent late" not in part
        assert "暂定" not in part and "provisional" not in part


@pytest.mark.parametrize("event", EVENTS)
def test_zh_subject_is_chinese_and_en_subject_is_not(renderer: Renderer, event: str) -> None:
    zh = renderer.render(event, "zh_CN", SAMPLE_CONTEXT).subject
    en = renderer.render(event, "en", context(decision={"code": "JC-2026-001", "title": "Old estates"}))
    assert re.search(r"[\u4e00-\u9fff]", zh)
    assert zh.startswith("【")
    assert not re.search(r"[\u4e00-\u9fff]", en.subject)


def test_each_event_says_its_own_thing(renderer: Renderer) -> None:
    def zh(event: str, **changes: Any) -> Rendered:
        return renderer.render(event, "zh_CN", context(**changes))

    def en(event: str, **changes: Any) -> Rendered:
        return renderer.render(event, "en", context(**changes))

    upcoming = zh("deadline.upcoming", days=3, point="before:3")
    assert "3 个工作日后到期" in upcoming.subject and "3 个工作日后到期" in upcoming.text
    assert "3 个工作日后到期" in upcoming.html
    assert "falls due in 3 working days" in en("deadline.upcoming", days=3).text
    assert "falls due in 1 working day." in en("deadline.upcoming", days=1).text

    today = zh("deadline.due_today", days=0, point="due")
    assert "今日" in today.subject and "今日24:00到期" in today.text
    assert "falls due today, by 24:00" in en("deadline.due_today", days=0).text

    overdue = zh("deadline.overdue", days=2, point="overdue:2")
    assert "已逾期 2 个工作日" in overdue.subject and "已逾期 2 个工作日" in overdue.text
    assert "已逾期 2 个工作日" in overdue.html
    assert "is 2 working days overdue" in en("deadline.overdue", days=2).text

    transition = zh("deadline.transition", point="transition")
    assert "已届满" in transition.text and "已自动关闭" in transition.text and "已自动关闭" in transition.html
    assert "closed automatically" in en("deadline.transition").text

    # the events are told apart: no two subjects alike
    subjects = {renderer.render(event, "zh_CN", SAMPLE_CONTEXT).subject for event in EVENTS}
    assert len(subjects) == len(EVENTS)


@pytest.mark.parametrize(
    ("level", "zh_whom", "en_whom"),
    [(1, "单位负责人", "the unit head"), (2, "司法局及监督人员", "the legal office and supervisors")],
)
def test_escalation_names_the_level(renderer: Renderer, level: int, zh_whom: str, en_whom: str) -> None:
    zh = renderer.render("deadline.escalated", "zh_CN", context(level=level, days=4))
    assert f"提级至{zh_whom}" in zh.subject
    assert f"提级提醒{zh_whom}" in zh.text and f"提级提醒{zh_whom}" in zh.html
    assert "已逾期 4 个工作日" in zh.text
    en = renderer.render("deadline.escalated", "en", context(level=level, days=4))
    assert f"escalated to {en_whom}" in en.subject
    assert f"escalated to {en_whom}" in en.text and f"escalated to {en_whom}" in en.html
    other = "司法局及监督人员" if level == 1 else "单位负责人"
    assert other not in zh.text


@pytest.mark.parametrize(("event", "locale"), PAIRS)
def test_late_flag_is_said(renderer: Renderer, event: str, locale: str) -> None:
    rendered = renderer.render(event, locale, context(late=True))
    mark = "（补发）" if locale == "zh_CN" else "(sent late)"
    for part in bodies(rendered).values():
        assert mark in part


@pytest.mark.parametrize(("event", "locale"), PAIRS)
def test_provisional_date_is_said(renderer: Renderer, event: str, locale: str) -> None:
    rendered = renderer.render(event, locale, context(deadline__provisional=True))
    if locale == "zh_CN":
        assert f"{ZH_DUE}（日期暂定）" in rendered.text
        assert "（日期暂定）" in rendered.html
    else:
        assert "(provisional date)" in rendered.text and "(provisional date)" in rendered.html


@pytest.mark.parametrize("locale", LOCALES)
def test_start_of_day_deadline_reads_from_midnight(renderer: Renderer, locale: str) -> None:
    ctx = context(
        deadline__fires="start_of_day",
        deadline__zh="最早可提交讨论日",
        deadline__en="earliest discussion date",
        deadline__due_date=date(2026, 10, 10),
    )
    rendered = renderer.render("deadline.upcoming", locale, ctx)
    if locale == "zh_CN":
        assert "2026年10月10日（星期六）00:00起" in rendered.text
        assert "24:00" not in rendered.text
    else:
        assert "from 00:00 Beijing time on Saturday, 10 October 2026" in rendered.text
        assert "24:00" not in rendered.text


@pytest.mark.parametrize(("event", "locale"), PAIRS)
def test_html_escapes_and_text_does_not(renderer: Renderer, event: str, locale: str) -> None:
    evil = "<script>alert(1)</script>"
    rendered = renderer.render(
        event,
        locale,
        context(decision={"code": "JC-2026-009", "title": evil}, recipient={"code": "x", "name": evil}),
    )
    assert evil in rendered.text
    assert evil in rendered.subject
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered.html


def test_subject_is_one_line_even_if_the_title_is_not(renderer: Renderer) -> None:
    rendered = renderer.render(
        "deadline.overdue",
        "zh_CN",
        context(decision={"code": "JC-2026-002", "title": "  关于\n  某事项\t的方案 "}),
    )
    assert "\n" not in rendered.subject and "\t" not in rendered.subject
    assert "关于 某事项 的方案" in rendered.subject


# --------------------------------------------------------------------------- strictness
@pytest.mark.parametrize("missing", ["link", "decision", "late", "days"])
def test_render_with_a_missing_variable_raises(renderer: Renderer, missing: str) -> None:
    ctx = context()
    del ctx[missing]
    with pytest.raises(jinja2.UndefinedError):
        renderer.render("deadline.overdue", "zh_CN", ctx)


def test_render_with_a_missing_nested_variable_raises(renderer: Renderer) -> None:
    ctx = context()
    del ctx["deadline"]["article"]
    with pytest.raises(jinja2.UndefinedError, match="article"):
        renderer.render("deadline.upcoming", "en", ctx)
    bad_fires = context(deadline__fires="noon")
    with pytest.raises(jinja2.UndefinedError, match="noon"):
        renderer.render("deadline.upcoming", "zh_CN", bad_fires)


def test_render_refuses_unknown_event_or_locale(renderer: Renderer) -> None:
    with pytest.raises(ValueError, match=r"deadline\.someday"):
        renderer.render("deadline.someday", "zh_CN", SAMPLE_CONTEXT)
    with pytest.raises(ValueError, match="fr"):
        renderer.render("deadline.overdue", "fr", SAMPLE_CONTEXT)


# --------------------------------------------------------------------------- overrides and check()
def test_override_directory_wins_and_the_package_fills_in(tmp_path: Path) -> None:
    write(
        tmp_path, "zh_CN/deadline.overdue.subject.txt", "【督办】{{ decision.code }} 逾期 {{ days }} 日\n\n"
    )
    renderer = Renderer(tmp_path)
    renderer.check()
    overdue = renderer.render("deadline.overdue", "zh_CN", SAMPLE_CONTEXT)
    assert overdue.subject == "【督办】JC-2026-001 逾期 3 日"
    assert ZH_DUE in overdue.text  # the packaged text part is still used
    assert renderer.render("deadline.upcoming", "zh_CN", SAMPLE_CONTEXT).subject.startswith("【期限提醒】")


def test_check_names_the_file_and_the_undefined_variable(tmp_path: Path) -> None:
    name = "zh_CN/deadline.overdue.text.txt"
    write(
        tmp_path,
        name,
        '{% extends "zh_CN/base.txt" %}\n{% block lead %}\n逾期：{{ overdue_reason }}\n{%- endblock %}\n',
    )
    with pytest.raises(ConfigError) as caught:
        Renderer(tmp_path).check()
    assert caught.value.field == name
    assert "overdue_reason" in caught.value.zh and "overdue_reason" in caught.value.en
    assert "未定义" in caught.value.zh and "undefined" in caught.value.en
    assert "第 3 行" in caught.value.zh and "line 3" in caught.value.en


def test_check_names_an_overridden_base_with_an_undefined_attribute(tmp_path: Path) -> None:
    write(
        tmp_path, "en/base.html", "<!DOCTYPE html><p>{{ decision.titel }}</p>{% block lead %}{% endblock %}"
    )
    with pytest.raises(ConfigError) as caught:
        Renderer(tmp_path).check()
    assert caught.value.field == "en/base.html"
    assert "titel" in caught.value.en and "titel" in caught.value.zh


def test_check_catches_a_variable_used_only_on_a_rare_branch(tmp_path: Path) -> None:
    # SAMPLE_CONTEXT is not late; check() also renders the other side of each flag
    write(tmp_path, "en/deadline.due_today.subject.txt", "{% if late %}{{ late_reason }}{% endif %}due today")
    with pytest.raises(ConfigError) as caught:
        Renderer(tmp_path).check()
    assert caught.value.field == "en/deadline.due_today.subject.txt"
    assert "late_reason" in caught.value.en


def test_check_reports_a_syntax_error(tmp_path: Path) -> None:
    write(tmp_path, "en/deadline.upcoming.subject.txt", "line one\n{{ decision.code ")
    with pytest.raises(ConfigError) as caught:
        Renderer(tmp_path).check()
    assert caught.value.field == "en/deadline.upcoming.subject.txt"
    assert "line 2" in caught.value.en and "语法错误" in caught.value.zh


def test_check_reports_a_missing_template_file(tmp_path: Path) -> None:
    write(tmp_path, "zh_CN/deadline.upcoming.html", '{% extends "zh_CN/layout.html" %}')
    with pytest.raises(ConfigError) as caught:
        Renderer(tmp_path).check()
    assert caught.value.field == "zh_CN/layout.html"
    assert "缺失" in caught.value.zh and "zh_CN/deadline.upcoming.html" in caught.value.en


def test_check_reports_a_missing_templates_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        Renderer(tmp_path / "nowhere").check()
    assert caught.value.field == "notifications.templates_dir"


def test_check_reports_a_filter_misused(tmp_path: Path) -> None:
    write(tmp_path, "zh_CN/deadline.transition.subject.txt", "{{ link|zh_date }}")
    with pytest.raises(ConfigError) as caught:
        Renderer(tmp_path).check()
    assert caught.value.field == "zh_CN/deadline.transition.subject.txt"
    assert "TypeError" in caught.value.en


# --------------------------------------------------------------------------- one environment
def test_environment_is_built_once_and_templates_are_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    renderer = Renderer()
    env = renderer.env
    first = renderer.render("deadline.overdue", "zh_CN", SAMPLE_CONTEXT)
    template = env.get_template("zh_CN/deadline.overdue.html")

    def no_new_environment(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a second Environment was built")

    def no_loading(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a template was loaded again")

    monkeypatch.setattr(render_module, "Environment", no_new_environment)
    assert renderer.env.loader is not None
    monkeypatch.setattr(renderer.env.loader, "get_source", no_loading)
    second = renderer.render("deadline.overdue", "zh_CN", context(days=5))
    assert renderer.env is env
    assert env.get_template("zh_CN/deadline.overdue.html") is template
    assert "已逾期 5 个工作日" in second.text and first.text != second.text


def test_environment_settings(renderer: Renderer) -> None:
    env = renderer.env
    assert env.undefined is jinja2.StrictUndefined
    assert env.keep_trailing_newline is False
    assert env.filters["zh_date"] is zh_date and env.filters["en_date"] is en_date
    assert isinstance(env.loader, jinja2.ChoiceLoader)
    # from_string templates are not autoescaped; only .html files are
    assert env.from_string("{{ x }}").render(x="<b>") == "<b>"


# --------------------------------------------------------------------------- the date filters
@pytest.mark.parametrize(
    ("day", "zh", "en"),
    [
        (date(2026, 10, 9), "2026年10月9日（星期五）", "Friday, 9 October 2026"),
        (date(2026, 10, 10), "2026年10月10日（星期六）", "Saturday, 10 October 2026"),
        (date(2026, 12, 31), "2026年12月31日（星期四）", "Thursday, 31 December 2026"),
        (date(2027, 1, 1), "2027年1月1日（星期五）", "Friday, 1 January 2027"),
        (date(2027, 1, 3), "2027年1月3日（星期日）", "Sunday, 3 January 2027"),
        (date(2028, 2, 29), "2028年2月29日（星期二）", "Tuesday, 29 February 2028"),
    ],
)
def test_date_filters(renderer: Renderer, day: date, zh: str, en: str) -> None:
    assert zh_date(day) == zh
    assert en_date(day) == en
    assert renderer.env.from_string("{{ d|zh_date }} / {{ d|en_date }}").render(d=day) == f"{zh} / {en}"


def test_date_filters_take_aware_datetimes_in_shanghai_and_refuse_naive_ones() -> None:
    # 16:30 UTC on New Year's Eve is already 1 January in Shanghai
    instant = datetime(2026, 12, 31, 16, 30, tzinfo=UTC)
    assert zh_date(instant) == "2027年1月1日（星期五）"
    assert en_date(instant) == "Friday, 1 January 2027"
    assert zh_date(datetime(2026, 12, 31, 15, 59, tzinfo=UTC)) == "2026年12月31日（星期四）"
    with pytest.raises(TypeError):
        zh_date(datetime(2026, 12, 31, 16, 30))
    with pytest.raises(TypeError):
        en_date("2026-10-09")  # type: ignore[arg-type]


def test_date_filter_on_an_undefined_value_names_it(renderer: Renderer) -> None:
    with pytest.raises(jinja2.UndefinedError, match="due_on"):
        renderer.env.from_string("{{ deadline.due_on|zh_date }}").render(deadline={})
