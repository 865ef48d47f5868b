"""Text cells that a spreadsheet program must show as text, never run as a formula.

Excel, WPS and LibreOffice take a CSV cell that starts with `=`, `+`, `-` or `@` (or a tab or
carriage return before one) as a formula: a matter titled `=HYPERLINK(...)` in a published
catalogue would run in every reader's spreadsheet (CSV injection). Such a cell is written with
a leading apostrophe, which spreadsheet programs take as "text follows"; `from_cell` removes it
again, so a file the product wrote reads back to the same text."""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _looks_escaped(value: str) -> bool:
    return value.startswith("'") and value.lstrip("'").startswith(FORMULA_STARTS)


def to_cell(value: str) -> str:
    """`value` as a CSV cell: an apostrophe before a formula start, and before an apostrophe
    that already precedes one (so that `from_cell` gives back exactly `value`)."""
    return "'" + value if value.startswith(FORMULA_STARTS) or _looks_escaped(value) else value


def from_cell(value: str) -> str:
    """The text `to_cell` was given."""
    return value[1:] if _looks_escaped(value) else value
