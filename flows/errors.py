"""The one error type every refusal and bad input raises (design: "one error type")."""

from __future__ import annotations

from typing import Any, Literal

ErrorKind = Literal["refused", "invalid", "forbidden", "not_found"]


class ProcedureError(Exception):
    """Carries the rule id, the article, and the message in zh-CN and English.

    `kind` tells adapters how to answer: a guard refusal (409), bad input (422),
    a role that may not act (403) or an unknown object (404)."""

    def __init__(
        self,
        rule_id: str,
        article: str,
        message_zh: str,
        message_en: str,
        *,
        field: str | None = None,
        kind: ErrorKind = "refused",
    ) -> None:
        self.rule_id = rule_id
        self.article = article
        self.message_zh = message_zh
        self.message_en = message_en
        self.field = field
        self.kind = kind
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f" [{self.field}]" if self.field else ""
        # bad input and unknown objects rest on no article ("—"): nothing to cite
        cited = f" ({self.article})" if self.article.strip("—- ") else ""
        return f"{self.rule_id}{where}: {self.message_zh} / {self.message_en}{cited}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "article": self.article,
            "message_zh": self.message_zh,
            "message_en": self.message_en,
            "field": self.field,
            "kind": self.kind,
        }


def refusal(
    rule_id: str,
    detail_zh: str = "",
    detail_en: str = "",
    *,
    field: str | None = None,
    kind: ErrorKind = "refused",
) -> ProcedureError:
    """Build the error for a guard from the procedure's own wording, plus a specific detail."""
    from flows.procedure import RULES

    guard = RULES[rule_id]
    zh = f"{guard.zh}：{detail_zh}" if detail_zh else guard.zh
    en = f"{guard.en}: {detail_en}" if detail_en else guard.en
    return ProcedureError(rule_id, guard.article, zh, en, field=field, kind=kind)


def invalid(field: str, detail_zh: str, detail_en: str) -> ProcedureError:
    return refusal(
        "INPUT", f"字段 {field}：{detail_zh}", f"field {field}: {detail_en}", field=field, kind="invalid"
    )


def not_found(field: str, value: object) -> ProcedureError:
    return refusal(
        "NOT_FOUND",
        f"字段 {field} 的值 {value!r} 不存在",
        f"field {field}: {value!r} does not exist",
        field=field,
        kind="not_found",
    )
