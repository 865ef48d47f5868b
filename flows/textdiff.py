"""Differences between two versions of a draft, for people who read Chinese (§15.1).

Pure functions over strings (no I/O). Two views of the same change:

- a line view: a unified diff over lines, as any reviewer of documents knows it;
- a character view of each changed line: Chinese has no spaces between words, so a
  word diff would see a whole sentence as one "word". The character view marks what
  was deleted as ``[-…-]`` and what was inserted as ``{+…+}``, and keeps the rest, so
  that a changed comma is visible as a changed comma. A number or a Latin word counts as
  one token, so that an amount changed from 5000 to 6500 reads as one replaced amount.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass

DELETED_OPEN, DELETED_CLOSE = "[-", "-]"
INSERTED_OPEN, INSERTED_CLOSE = "{+", "+}"


@dataclass(frozen=True)
class LineChange:
    """One line of the old text replaced by one line of the new text (either may be empty
    when a line was only deleted or only inserted). Line numbers start at 1; 0 means none."""

    old_number: int
    new_number: int
    old: str
    new: str
    inline: str  # the character view, with [-…-] and {+…+}
    punctuation_only: bool  # only punctuation or spacing changed


@dataclass(frozen=True)
class TextDiff:
    unified: tuple[str, ...]
    changes: tuple[LineChange, ...]

    @property
    def changed(self) -> bool:
        return bool(self.changes)

    @property
    def punctuation_only(self) -> bool:
        """Every change touches only punctuation or spacing (still a change: the legal office
        decides whether it matters, the engine does not)."""
        return self.changed and all(c.punctuation_only for c in self.changes)


# a number (5000, 3.5, 2026) or a Latin word is one token; every other character, each
# Chinese character and punctuation mark included, is a token of its own
_TOKEN = re.compile(r"[0-9A-Za-z\uff10-\uff19]+(?:[.．][0-9\uff10-\uff19]+)*|.", re.DOTALL)


def tokens(text: str) -> list[str]:
    """Chinese-aware tokens: characters for Chinese, whole numbers and Latin words otherwise,
    so that 5000 → 6500 reads as one replaced amount, not as digits shuffled around."""
    return _TOKEN.findall(text)


def _opcodes(old: str, new: str) -> list[tuple[str, str, str]]:
    """(op, old part, new part) over the tokens of the two texts."""
    a, b = tokens(old), tokens(new)
    # autojunk would treat frequent tokens (，的。) of a long line as noise and
    # produce a diff that replaces whole sentences
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    return [(op, "".join(a[i1:i2]), "".join(b[j1:j2])) for op, i1, i2, j1, j2 in matcher.get_opcodes()]


Segment = tuple[bool, str, str]  # (changed, old part, new part); equal parts carry the same text twice


def _segments(old: str, new: str) -> list[Segment]:
    """The opcodes as alternating equal and changed segments, after a semantic cleanup: a
    short equality between two changes, no longer than the change on either side, is folded
    into them (``由区政府`` → ``由区财政局`` reads ``[-政府-]{+财政局+}``, not
    ``{+财+}政[-府-]{+局+}``)."""
    segments: list[Segment] = []
    for op, before, after in _opcodes(old, new):
        changed = op != "equal"
        if changed and segments and segments[-1][0]:
            _, a, b = segments.pop()
            segments.append((True, a + before, b + after))
        else:
            segments.append((changed, before, after))
    folded = True
    while folded:
        folded = False
        for k in range(1, len(segments) - 1):
            (left, a0, b0), (changed, text, _), (right, a1, b1) = segments[k - 1 : k + 2]
            if (
                left
                and right
                and not changed
                and len(text) <= min(max(len(a0), len(b0)), max(len(a1), len(b1)))
            ):
                segments[k - 1 : k + 2] = [(True, a0 + text + a1, b0 + text + b1)]
                folded = True
                break
    return segments


def segments(old: str, new: str) -> list[Segment]:
    """The changed and unchanged parts of a line, for a page that marks them up itself."""
    return _segments(old, new)


def char_diff(old: str, new: str) -> str:
    """The new line with deletions marked ``[-…-]`` and insertions ``{+…+}``, character by character."""
    parts: list[str] = []
    for changed, before, after in _segments(old, new):
        if not changed:
            parts.append(before)
            continue
        if before:
            parts.append(f"{DELETED_OPEN}{before}{DELETED_CLOSE}")
        if after:
            parts.append(f"{INSERTED_OPEN}{after}{INSERTED_CLOSE}")
    return "".join(parts)


def _is_punctuation_or_space(char: str) -> bool:
    return char.isspace() or unicodedata.category(char).startswith("P")


def punctuation_only(old: str, new: str) -> bool:
    """Whether the two texts differ, and differ only in punctuation and spacing."""
    if old == new:
        return False
    for op, before, after in _opcodes(old, new):
        if op != "equal" and not all(_is_punctuation_or_space(c) for c in before + after):
            return False
    return True


def line_diff(
    old: str, new: str, old_label: str = "old", new_label: str = "new", context: int = 1
) -> list[str]:
    """A unified diff over lines, without line terminators."""
    return list(
        difflib.unified_diff(old.splitlines(), new.splitlines(), old_label, new_label, n=context, lineterm="")
    )


def line_changes(old: str, new: str) -> list[LineChange]:
    """The changed lines, paired: replaced lines are paired in order, surplus ones stand alone."""
    old_lines, new_lines = old.splitlines(), new.splitlines()
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    changes: list[LineChange] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        span = max(i2 - i1, j2 - j1)
        for k in range(span):
            oi, nj = i1 + k, j1 + k
            before = old_lines[oi] if oi < i2 else ""
            after = new_lines[nj] if nj < j2 else ""
            changes.append(
                LineChange(
                    old_number=oi + 1 if oi < i2 else 0,
                    new_number=nj + 1 if nj < j2 else 0,
                    old=before,
                    new=after,
                    inline=char_diff(before, after),
                    punctuation_only=punctuation_only(before, after),
                )
            )
    return changes


def diff(old: str, new: str, old_label: str = "old", new_label: str = "new") -> TextDiff:
    return TextDiff(tuple(line_diff(old, new, old_label, new_label)), tuple(line_changes(old, new)))


def render(result: TextDiff) -> str:
    """The two views as one plain text, for a document in the discussion package."""
    if not result.changed:
        return "（无文字变化）"
    lines = ["逐行对照（unified diff）："]
    lines += list(result.unified)
    lines.append("逐字对照（[-删除-] {+新增+}）：")
    for change in result.changes:
        where = f"第{change.new_number}行" if change.new_number else f"原第{change.old_number}行"
        note = "（仅标点或空白变化）" if change.punctuation_only else ""
        lines.append(f"{where}：{change.inline}{note}")
    if result.punctuation_only:
        lines.append("本次修改仅涉及标点或空白。")
    return "\n".join(lines)
