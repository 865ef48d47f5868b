"""Locales and message catalogs (Babel). zh-CN is the default; English is switchable.

The catalogs are the `.po` files under `web/locale/`; they are compiled in memory when first
used, so no build step and no binary file is needed. Message ids are English."""

from __future__ import annotations

import gettext
import io
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALES = ("zh_CN", "en")
DEFAULT_LOCALE = "zh_CN"
LOCALE_DIR = Path(__file__).parent / "locale"
LOCALE_COOKIE = "lang"


@cache
def translations(locale: str) -> gettext.GNUTranslations:
    """The compiled catalog of `locale` (one of LOCALES), built once per process."""
    if locale not in LOCALES:
        raise ValueError(f"unknown locale {locale!r}")
    with (LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalog = read_po(po, locale=locale)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def negotiate(cookie: str | None, accept_language: str | None) -> str:
    """The locale of a request: the user's choice (cookie), else zh-CN. An English browser
    still gets zh-CN first unless English is chosen: the interface is Chinese-first."""
    if cookie in LOCALES:
        return cookie
    return DEFAULT_LOCALE


def pick(locale: str, zh: str, en: str) -> str:
    """Text the service already carries in both languages (refusals): the locale's one."""
    return en if locale == "en" and en else zh
