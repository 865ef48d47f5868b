"""Message templates for deadline notifications (issue 3).

One Jinja2 environment, built once per Renderer: templates come from an optional override
directory, then from the packaged `notifications/templates`. Each event has three parts per
locale: `<locale>/<event>.subject.txt`, `<locale>/<event>.text.txt` and `<locale>/<event>.html`
(the text and HTML parts extend `<locale>/base.txt` and `<locale>/base.html`). Variables are
strict: a template that names a variable the context lacks fails instead of printing nothing.
Only files ending in `.html` are autoescaped; the subject and text parts are plain text.

`Renderer.check()` renders every event, locale and part with SAMPLE_CONTEXT (and a variant
with every flag flipped) so that a broken override is found at start-up, not at the first send.

Two families of events share the machinery: the deadline reminders (`EVENTS`, context
SAMPLE_CONTEXT) and the domain-event notifications that the decision-procedure flow sends
(`DOMAIN_EVENTS`, the templates named in `policy.EVENT_NOTICES`, context EVENT_SAMPLE_CONTEXT;
their text and HTML parts extend `<locale>/event_base.txt` and `<locale>/event_base.html`).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
    TemplateNotFound,
    TemplateSyntaxError,
    Undefined,
    UndefinedError,
    select_autoescape,
)

from notifications.config import LOCALES
from notifications.errors import ConfigError
from notifications.policy import EVENT_NOTICES

__all__ = [
    "DOMAIN_EVENTS",
    "EVENTS",
    "EVENT_SAMPLE_CONTEXT",
    "LOCALES",
    "PARTS",
    "SAMPLE_CONTEXT",
    "Rendered",
    "Renderer",
    "en_date",
    "template_name",
    "zh_date",
]

EVENTS: Final[tuple[str, ...]] = (
    "deadline.upcoming",
    "deadline.due_today",
    "deadline.overdue",
    "deadline.escalated",
    "deadline.transition",
)
# The domain-event notifications (issue 9): one template per entry of policy.EVENT_NOTICES.
DOMAIN_EVENTS: Final[tuple[str, ...]] = tuple(sorted({notice.template for notice in EVENT_NOTICES.values()}))
PARTS: Final[tuple[str, ...]] = ("subject", "text", "html")

LOCAL_TZ: Final = ZoneInfo("Asia/Shanghai")
PACKAGED_TEMPLATES: Final = Path(__file__).resolve().parent / "templates"

# What the reminder sweep passes to `render`; every template may use exactly these names.
SAMPLE_CONTEXT: dict[str, Any] = {
    "organ": "香洲区人民政府",  # the jurisdiction's organ, signs the message
    "decision": {"code": "JC-2026-001", "title": "香洲区老旧小区改造实施方案"},
    "step": {"zh": "合法性审查", "en": "legality review"},  # the procedure stage the deadline belongs to
    "deadline": {
        "kind": "legality_opinion_due",  # DEADLINE_KINDS id
        "zh": "合法性审查意见应出具",
        "en": "legality opinion due",
        "article": "Art. 28; P6",  # the legal basis, printed after 《重大行政决策程序暂行条例》
        "due_date": date(2026, 10, 9),  # the local (Asia/Shanghai) date it falls due
        "fires": "end_of_day",  # "end_of_day": by 24:00 that day; "start_of_day": from 00:00 that day
        "provisional": False,  # the year's holiday calendar is not loaded yet
        "timezone": "Asia/Shanghai",
    },
    "point": "before:3",  # "before:N", "due", "overdue:N" or "transition"
    "days": 3,  # working days left (upcoming) or overdue (overdue, escalated); 0 on the due day
    "level": 0,  # escalation level: 0 assignee, 1 unit head, 2 legal office and supervisors
    "recipient": {"code": "li", "name": "李明"},
    "late": False,  # created after downtime: the message says it is sent late
    "link": "http://127.0.0.1:8000/decisions/JC-2026-001",
}

# What the decision-procedure flow passes to `render` for a domain event; every event
# template may use exactly these names. `detail` and `reason` may be empty strings.
EVENT_SAMPLE_CONTEXT: dict[str, Any] = {
    "organ": "香洲区人民政府",
    "decision": {"code": "JC-2026-001", "title": "香洲区老旧小区改造实施方案"},
    "event": {
        "type": "stage_returned",  # the outbox event's type
        "at": datetime(2026, 10, 9, 2, 30, tzinfo=UTC),  # when the action was taken
        "by": {"code": "wang", "name": "王芳", "unit": "区司法局"},  # who took it, and their unit
    },
    "step": {"zh": "合法性审查", "en": "legality review"},  # the procedure stage concerned
    "detail": {"zh": "第1轮", "en": "round 1"},  # what the event says: an outcome, a date, flags
    "reason": "请补充社会稳定风险评估报告。",  # the reasons given (a return), else ""
    "recipient": {"code": "li", "name": "李明"},
    "late": False,  # sent well after the event (Prefect was down): the message says so
    "link": "http://127.0.0.1:8000/decisions/JC-2026-001",
}

_ZH_WEEKDAYS: Final = ("星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日")
_EN_WEEKDAYS: Final = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_EN_MONTHS: Final = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


@dataclass(frozen=True)
class Rendered:
    subject: str  # one line, whitespace collapsed
    text: str
    html: str


def template_name(event: str, locale: str, part: str) -> str:
    """The file of one part: `zh_CN/deadline.overdue.subject.txt`, `.text.txt` or `.html`."""
    suffix = {"subject": "subject.txt", "text": "text.txt", "html": "html"}[part]
    return f"{locale}/{event}.{suffix}"


def _local_date(value: object) -> date:
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise TypeError("需要带时区的时间或本地日期 / expected an aware datetime or a local date")
        return value.astimezone(LOCAL_TZ).date()
    if isinstance(value, date):
        return value
    raise TypeError(f"需要日期，得到 {type(value).__name__} / expected a date, got {type(value).__name__}")


def zh_date(value: date) -> str:
    """2026-10-09 -> "2026年10月9日（星期五）". An aware datetime is taken in Asia/Shanghai."""
    day = _local_date(value)
    return f"{day.year}年{day.month}月{day.day}日（{_ZH_WEEKDAYS[day.weekday()]}）"


def en_date(value: date) -> str:
    """2026-10-09 -> "Friday, 9 October 2026". An aware datetime is taken in Asia/Shanghai."""
    day = _local_date(value)
    return f"{_EN_WEEKDAYS[day.weekday()]}, {day.day} {_EN_MONTHS[day.month - 1]} {day.year}"


def _check_contexts() -> Iterator[Mapping[str, Any]]:
    """SAMPLE_CONTEXT, then a variant taking the other side of every branch."""
    yield SAMPLE_CONTEXT
    variant = copy.deepcopy(SAMPLE_CONTEXT)
    variant["late"] = not SAMPLE_CONTEXT["late"]
    variant["deadline"]["provisional"] = not SAMPLE_CONTEXT["deadline"]["provisional"]
    variant["deadline"]["fires"] = (
        "start_of_day" if SAMPLE_CONTEXT["deadline"]["fires"] == "end_of_day" else "end_of_day"
    )
    variant["days"] = 1
    variant["level"] = 2
    yield variant


def _event_check_contexts() -> Iterator[Mapping[str, Any]]:
    """EVENT_SAMPLE_CONTEXT, then a variant taking the other side of every branch."""
    yield EVENT_SAMPLE_CONTEXT
    variant = copy.deepcopy(EVENT_SAMPLE_CONTEXT)
    variant["late"] = not EVENT_SAMPLE_CONTEXT["late"]
    variant["detail"] = {"zh": "", "en": ""}
    variant["reason"] = ""
    yield variant


def check_contexts(event: str) -> Iterator[Mapping[str, Any]]:
    """The contexts `Renderer.check` renders `event` with."""
    return _check_contexts() if event in EVENTS else _event_check_contexts()


class Renderer:
    """Renders (event, locale, context) into subject, text and HTML. Build one per process."""

    def __init__(self, templates_dir: Path | None = None) -> None:
        self.templates_dir = Path(templates_dir) if templates_dir is not None else None
        loaders: list[BaseLoader] = []
        if self.templates_dir is not None:
            loaders.append(FileSystemLoader(self.templates_dir))
        loaders.append(PackageLoader("notifications", "templates"))
        self.env = Environment(
            loader=ChoiceLoader(loaders),
            undefined=StrictUndefined,
            autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
            keep_trailing_newline=False,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,  # templates are loaded once and cached; run check() at start-up
        )
        self.env.filters["zh_date"] = zh_date
        self.env.filters["en_date"] = en_date

    def render(self, event: str, locale: str, context: Mapping[str, Any]) -> Rendered:
        """Raises ValueError for an unknown event or locale, and Jinja2's errors (UndefinedError
        for a variable missing from `context`, TemplateNotFound, ...) as they are."""
        if event not in EVENTS and event not in DOMAIN_EVENTS:
            raise ValueError(f"未知通知事件 {event!r} / unknown notification event {event!r}")
        if locale not in LOCALES:
            raise ValueError(f"不支持的语言 {locale!r} / unsupported locale {locale!r}")
        parts = [self.env.get_template(template_name(event, locale, part)).render(context) for part in PARTS]
        subject, text, html = parts
        return Rendered(subject=" ".join(subject.split()), text=text.strip(), html=html.strip())

    def check(self) -> None:
        """Render every event (deadline and domain) x locale x part; the first problem becomes a ConfigError naming
        the template file and the undefined variable, the syntax error or the missing file."""
        if self.templates_dir is not None and not self.templates_dir.is_dir():
            raise ConfigError(
                "notifications.templates_dir",
                f"模板目录不存在：{self.templates_dir}",
                f"templates directory not found: {self.templates_dir}",
            )
        for event in (*EVENTS, *DOMAIN_EVENTS):
            for locale in LOCALES:
                for part in PARTS:
                    name = template_name(event, locale, part)
                    for context in check_contexts(event):
                        try:
                            self.env.get_template(name).render(context)
                        except Exception as exc:
                            raise self._config_error(name, exc) from exc

    # ------------------------------------------------------------------ errors
    def _config_error(self, name: str, exc: Exception) -> ConfigError:
        if isinstance(exc, TemplateNotFound):
            missing = exc.name if isinstance(exc.name, str) and exc.name else name
            if missing == name:
                return ConfigError(name, "模板文件缺失", "template file missing")
            return ConfigError(
                missing,
                f"模板文件缺失（{name} 引用）",
                f"template file missing (referenced by {name})",
            )
        if isinstance(exc, TemplateSyntaxError):
            return ConfigError(
                exc.name or name,
                f"模板语法错误（第 {exc.lineno} 行）：{exc.message}",
                f"template syntax error (line {exc.lineno}): {exc.message}",
            )
        where = self._template_frame(exc)
        field, line = where if where is not None else (name, None)
        at_zh = f"第 {line} 行" if line is not None else ""
        at_en = f" at line {line}" if line is not None else ""
        if isinstance(exc, UndefinedError):
            return ConfigError(
                field,
                f"模板{at_zh}使用了未定义的变量：{exc.message}",
                f"template uses an undefined variable{at_en}: {exc.message}",
            )
        return ConfigError(
            field,
            f"模板{at_zh}渲染失败：{type(exc).__name__}: {exc}",
            f"template failed to render{at_en}: {type(exc).__name__}: {exc}",
        )

    def _template_frame(self, exc: BaseException) -> tuple[str, int] | None:
        """The innermost template frame of Jinja2's rewritten traceback: (template name, line)."""
        found: tuple[str, int] | None = None
        tb = exc.__traceback__
        while tb is not None:
            if "__jinja_exception__" in tb.tb_frame.f_globals:
                found = (self._name_of(tb.tb_frame.f_code.co_filename), tb.tb_lineno)
            tb = tb.tb_next
        return found

    def _name_of(self, filename: str) -> str:
        path = Path(filename).resolve()
        roots = [PACKAGED_TEMPLATES]
        if self.templates_dir is not None:
            roots.insert(0, self.templates_dir.resolve())
        for root in roots:
            if path.is_relative_to(root):
                return path.relative_to(root).as_posix()
        return "/".join(path.parts[-2:])
