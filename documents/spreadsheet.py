"""Text cells that a spreadsheet program must show as text, never run as a formula.

Excel, WPS and LibreOffice take a CSV cell that starts with `=`, `+`, `-` or `@` (full-width
too, or after blanks; or a tab or line break) as a formula: a matter titled `=HYPERLINK(...)`
in a published catalogue would run in every reader's spreadsheet (CSV injection). Such a cell
is written with a leading apostrophe, which spreadsheet programs take as "text follows";
`from_cell` removes it again, so a file the product wrote reads back to the same text."""

from __future__ import annotations

# the full-width signs too: Excel and WPS in a Chinese or Japanese locale take `＝SUM(...)` for
# `=SUM(...)`; and blanks before a sign, which LibreOffice's "trim spaces" import drops
FORMULA_SIGNS = ("=", "+", "-", "@", "\uff1d", "\uff0b", "\uff0d", "\uff20")
CONTROL_STARTS = ("\t", "\r", "\n")


def runs_as_formula(value: str) -> bool:
    """Would a spreadsheet program take this cell for a formula?"""
    return value.startswith(CONTROL_STARTS) or value.lstrip().startswith(FORMULA_SIGNS)


def _looks_escaped(value: str) -> bool:
    return value.startswith("'") and runs_as_formula(value.lstrip("'"))


def to_cell(value: str) -> str:
    """`value` as a CSV cell: an apostrophe before a formula start, and before an apostrophe
    that already precedes one (so that `from_cell` gives back exactly `value`)."""
    return "'" + value if runs_as_formula(value) or _looks_escaped(value) else value


def from_cell(value: str) -> str:
    """The text `to_cell` was given."""
    return value[1:] if _looks_escaped(value) else value
