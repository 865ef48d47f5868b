"""Input hygiene (pure): what text, references, dates, time zones and numbers the engine
accepts from outside, and how it makes codes that nobody holds yet.

Text that reaches the record, the terminal, e-mails and published notices must not carry
NUL or other control characters, ANSI escape sequences or Unicode bidi overrides, which
could hide or reorder what a reader sees ("Trojan source"). Long text keeps its newlines
and tabs; single-line text (names, titles, references) has none.
"""

from __future__ import annotations

import re
from collections.abc import Container
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

# References a user may choose (a decision's `ref`, catalogue entry codes, hearing refs,
# unit and user ids): ASCII letters and digits, then also `_ . -`; at most 64 characters.
REF_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
REF = re.compile(REF_PATTERN)

# C0 controls except tab and newline, DEL, C1 controls (CSI 0x9b included), the bidi
# embeddings, overrides and isolates, and lone surrogates (not encodable as UTF-8).
_ALWAYS_BAD = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_LINE_BREAKS = re.compile("[\n\t\u2028\u2029\x85]")

FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2100, 12, 31)
MAX_ID = 2**63 - 1  # the largest id a BIGINT column holds (SQLite and PostgreSQL)

# Free-text fields whose value is a single line: names, titles, references, labels.
# Every other text field is long text, which may contain newlines and tabs.
SINGLE_LINE_FIELDS = frozenset(
    {
        "acting_head",
        "adviser",
        "affiliation",
        "attachment_name",
        "catalogue_entry",
        "channels",
        "contact",
        "decision",
        "defer_to",
        "departments_consulted",
        "draft_link",
        "email",
        "entry",
        "expert",
        "group_name",
        "hearing",
        "id",
        "input",
        "interest_group",
        "kind",
        "lead_unit",
        "level",
        "locale",
        "matter_name",
        "meeting_type",
        "member",
        "members_present",
        "name",
        "organ",
        "participant",
        "place",
        "planned_decision_time",
        "ref",
        "replaces",
        "roles",
        "signed_by",
        "speaker",
        "stage",
        "timezone",
        "title",
        "unit",
        "units",
        "url",
        "urgency",
        "year",
    }
)
SINGLE_LINE_SUFFIXES = ("_ref", "_unit", "_link", "_source", "_code", "_id")


def single_line(field_name: str) -> bool:
    """Is the text field `field_name` a one-line value (by the naming convention)?"""
    return field_name in SINGLE_LINE_FIELDS or field_name.endswith(SINGLE_LINE_SUFFIXES)


def text_problem(value: str, *, multiline: bool) -> tuple[str, str] | None:
    """Why `value` is not acceptable text, in Chinese and English; None if it is. The
    message names the character by its code point and never echoes the text."""
    found = _ALWAYS_BAD.search(value)
    if found is None and not multiline:
        found = _LINE_BREAKS.search(value)
    if found is None:
        return None
    char = found.group()
    point = f"U+{ord(char):04X}"
    if char in {"\x1b", "\x9b"}:
        return f"含终端转义序列（{point}）", f"contains a terminal escape sequence ({point})"
    if "\u202a" <= char <= "\u202e" or "\u2066" <= char <= "\u2069":
        return f"含双向文本控制字符（{point}）", f"contains a bidi override or isolate ({point})"
    if "\ud800" <= char <= "\udfff":
        return f"含无效的代理字符（{point}）", f"contains a lone surrogate ({point})"
    if char in "\n\t\u2028\u2029\x85":
        return f"须为单行文本（含 {point}）", f"must be a single line (contains {point})"
    return f"含控制字符（{point}）", f"contains a control character ({point})"


def ref_problem(value: str) -> tuple[str, str] | None:
    if REF.match(value):
        return None
    return (
        "编号须以字母或数字开头，只含字母、数字和 _ . -，不超过 64 个字符",
        "a reference starts with a letter or digit and holds only letters, digits and _ . -, "
        "at most 64 characters",
    )


def date_problem(value: date) -> tuple[str, str] | None:
    day = value.date() if isinstance(value, datetime) else value
    if FIRST_DAY <= day <= LAST_DAY:
        return None
    return (
        f"日期须在 {FIRST_DAY.year}–{LAST_DAY.year} 年之间",
        f"the date must lie in the years {FIRST_DAY.year}-{LAST_DAY.year}",
    )


def int_problem(value: int) -> tuple[str, str] | None:
    if -MAX_ID <= value <= MAX_ID:
        return None
    return "数值超出范围", "the number is out of range"


def timezone_problem(name: object) -> tuple[str, str] | None:
    """An IANA time zone name that this system knows, e.g. Asia/Shanghai."""
    if isinstance(name, str) and 0 < len(name) <= 64 and re.fullmatch(r"[A-Za-z0-9_+\-/]+", name):
        try:
            ZoneInfo(name)
            return None
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
    return (
        "未知时区（须为 IANA 名称，如 Asia/Shanghai）",
        "unknown time zone (an IANA name, e.g. Asia/Shanghai)",
    )


def safe_label(value: object, limit: int = 40) -> str:
    """`value` fit to appear inside an error message: a short, clean reference as it is,
    anything else as a placeholder (messages never echo what a file or user sent)."""
    if isinstance(value, str) and len(value) <= limit and REF.match(value):
        return value
    return "(?)"


def next_free_code(prefix: str, start: int, taken: Container[str], *, width: int = 0) -> str:
    """`prefix` + the first number from `start` whose code nobody holds yet (a user may
    have chosen one of the numbers the system would have drawn)."""
    number = max(start, 1)
    while f"{prefix}{number:0{width}d}" in taken:
        number += 1
    return f"{prefix}{number:0{width}d}"


class UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a key written twice in one mapping is an error
    rather than silently the last one."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, str | int | float | bool):
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, "a key appears twice in one mapping", key_node.start_mark
                    )
                seen.add(key)
        return super().construct_mapping(node, deep=deep)
