"""Public notice pages: the comment notice, the hearing notice and participant list, the
published decision, rendered as one self-contained HTML page each in the style of a government
web page. Plain data in, bytes out; the text is the evidence the action stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class NoticePage:
    organ: str  # the issuing organ, e.g. 香洲区人民政府
    title: str  # the notice's title, e.g. 听证公告（H-2026-001）
    decision_code: str
    decision_title: str
    text: str  # the notice's text as stored; paragraphs are separated by line breaks
    issued_on: datetime  # when the action published it (shown as the local date)


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("documents", "templates"),
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("html",)),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_notice(page: NoticePage) -> bytes:
    """The page as UTF-8 HTML. The same page always gives the same bytes."""
    day = page.issued_on.astimezone(LOCAL_TZ).date()
    paragraphs = [line.strip() for line in page.text.splitlines() if line.strip()]
    html = (
        _environment()
        .get_template("notice.html")
        .render(page=page, paragraphs=paragraphs, issued=f"{day.year}年{day.month}月{day.day}日")
    )
    return html.encode("utf-8")
