"""CSV cells are written so that no spreadsheet runs them as a formula, and read back the same."""

from __future__ import annotations

import csv
import io

import pytest

from documents.spreadsheet import from_cell, runs_as_formula, to_cell
from tests.test_attacks_hot_paths import PAYLOADS

TEXTS = [
    "=1+1",
    '=HYPERLINK("http://evil.example","点击")',
    "+86 20 1234",
    "-",
    "@SUM(A1)",
    "\t=1",
    "\r=1",
    "'=1",
    "''=1",
    "'plain",
    "plain",
    "",
    "旧城改造",
    "1-2",
    *PAYLOADS,
]


@pytest.mark.parametrize("text", TEXTS)
def test_a_cell_never_starts_a_formula_and_reads_back_as_written(text: str) -> None:
    cell = to_cell(text)
    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")) and not runs_as_formula(cell)
    buffer = io.StringIO()
    csv.writer(buffer).writerow([cell])
    (read,) = csv.reader(io.StringIO(buffer.getvalue()))
    assert from_cell(read[0]) == text


def test_text_that_starts_no_formula_is_left_alone() -> None:
    assert [to_cell(text) for text in ("plain", "'plain", "1-2", "")] == ["plain", "'plain", "1-2", ""]
