"""The API reference page's content, read from the app's OpenAPI document (`app.openapi()`):
each operation under /api/v1 grouped by its tag, with its parameters, request body fields,
response codes and whether it needs a token. The page (/api/docs) is rendered on the server
from this, so it needs no script, no CDN and no network: the Content-Security-Policy
(`script-src 'self'; style-src 'self'`) stays as it is, and it works offline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from web import labels

Label = tuple[str, str]  # (zh, en)
HTTP_METHODS = ("get", "put", "post", "delete", "patch")
SUMMARY_ZH = "x-summary-zh"  # an operation's Chinese summary, next to the English `summary`
SUCCESS = "Successful Response"  # FastAPI's description of a 2xx answer (English only)


@dataclass(frozen=True)
class Parameter:
    name: str
    where: str  # path, query, header, cookie
    required: bool
    type: str
    values: tuple[str, ...]  # the allowed values, when the schema is an enum
    description: str


@dataclass(frozen=True)
class BodyField:
    name: str
    label: Label | None  # the field's name in the pages (web/labels.py), when it has one
    required: bool
    type: str
    values: tuple[str, ...]
    default: str | None


@dataclass(frozen=True)
class Answer:
    status: str
    description: Label  # zh, en (FastAPI's own descriptions are English only: zh is then "")


@dataclass(frozen=True)
class Operation:
    method: str  # upper case
    path: str
    summary: Label
    description: str
    token: str  # "required", "optional" (a public route that checks a token if one is sent) or "none"
    parameters: tuple[Parameter, ...]
    body: tuple[BodyField, ...]
    answers: tuple[Answer, ...]

    @property
    def anchor(self) -> str:
        return f"{self.method.lower()}-{self.path.strip('/').replace('/', '-').replace('{', '').replace('}', '')}"


@dataclass(frozen=True)
class Group:
    tag: str
    operations: tuple[Operation, ...]


def reference(document: dict[str, Any], prefix: str) -> tuple[Group, ...]:
    """The operations of `document` whose path starts with `prefix`, grouped by their most
    specific tag (the last one; the router's own tag comes first), groups and operations in
    the document's order."""
    components: dict[str, Any] = document.get("components", {}).get("schemas", {})
    default_security = document.get("security")
    groups: dict[str, list[Operation]] = {}
    for path, item in document.get("paths", {}).items():
        if not path.startswith(prefix):
            continue
        for method in HTTP_METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            tags = operation.get("tags") or ["default"]
            groups.setdefault(tags[-1], []).append(
                _operation(method, path, operation, components, default_security)
            )
    return tuple(Group(tag, tuple(operations)) for tag, operations in groups.items())


def _operation(
    method: str,
    path: str,
    operation: dict[str, Any],
    components: dict[str, Any],
    default_security: list[dict[str, Any]] | None,
) -> Operation:
    summary_en = str(operation.get("summary") or operation.get("operationId") or path)
    parameters = tuple(
        Parameter(
            name=p["name"],
            where=p["in"],
            required=bool(p.get("required")),
            type=type_of(p.get("schema", {}), components),
            values=values_of(p.get("schema", {}), components),
            description=str(p.get("description", "")),
        )
        for p in operation.get("parameters", [])
    )
    return Operation(
        method=method.upper(),
        path=path,
        summary=(str(operation.get(SUMMARY_ZH, summary_en)), summary_en),
        description=plain(str(operation.get("description", ""))),
        token=token_need(operation.get("security", default_security)),
        parameters=parameters,
        body=_body(operation, components),
        answers=tuple(
            Answer(status, _bilingual(str(answer.get("description", ""))))
            for status, answer in sorted(operation.get("responses", {}).items())
        ),
    )


def token_need(security: list[dict[str, Any]] | None) -> str:
    """ "required" when every alternative names a scheme, "optional" when one is empty (`{}`:
    no credentials), "none" when the operation declares no security at all."""
    if not security:
        return "none"
    return "optional" if {} in security else "required"


def _body(operation: dict[str, Any], components: dict[str, Any]) -> tuple[BodyField, ...]:
    content: dict[str, Any] = operation.get("requestBody", {}).get("content", {})
    media: dict[str, Any] = content.get("application/json") or next(iter(content.values()), {})
    schema = resolve(media.get("schema", {}), components)
    required = set(schema.get("required", []))
    return tuple(
        BodyField(
            name=name,
            label=labels.FIELDS.get(name),
            required=name in required,
            type=type_of(field, components),
            values=values_of(field, components),
            default=None if "default" not in field else _shown(field["default"]),
        )
        for name, field in schema.get("properties", {}).items()
    )


def resolve(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    """`schema` itself, or the component its `$ref` names."""
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        found: dict[str, Any] = components.get(ref.rsplit("/", 1)[1], {})
        return found
    return schema


def type_of(schema: dict[str, Any], components: dict[str, Any]) -> str:
    """A schema's type in a few words: `string (date)`, `array of string`, `DecisionStatus`,
    `integer | null`."""
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return ref.rsplit("/", 1)[1]
    for combined in ("anyOf", "oneOf", "allOf"):
        if combined in schema:
            return " | ".join(type_of(part, components) for part in schema[combined])
    kind = schema.get("type")
    if kind == "array":
        return f"array of {type_of(schema.get('items', {}), components)}"
    if isinstance(kind, list):
        return " | ".join(str(k) for k in kind)
    if kind is None:
        return "object" if "properties" in schema else "any"
    return f"{kind} ({schema['format']})" if "format" in schema else str(kind)


def values_of(schema: dict[str, Any], components: dict[str, Any]) -> tuple[str, ...]:
    """The values an enum allows, also through a reference, a nullable `anyOf` or an array."""
    target = resolve(schema, components)
    if "enum" in target:
        return tuple(_shown(v) for v in target["enum"])
    parts = [*target.get("anyOf", []), *target.get("oneOf", [])]
    if isinstance(target.get("items"), dict):
        parts.append(target["items"])
    for part in parts:
        found = values_of(part, components)
        if found:
            return found
    return ()


def _shown(value: Any) -> str:
    return "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def _bilingual(text: str) -> Label:
    """The project's "english / 中文" descriptions split into (zh, en); an English-only one
    (FastAPI's) is ("", en)."""
    en, sep, zh = text.rpartition(" / ")
    return (zh.strip(), en.strip()) if sep else ("", text)


def plain(markdown: str) -> str:
    """A docstring-style description as plain text: the emphasis and code marks dropped, the
    lines of a paragraph joined (paragraphs stay apart)."""
    paragraphs = [" ".join(line.strip() for line in block.splitlines()) for block in markdown.split("\n\n")]
    return "\n\n".join(p.replace("**", "").replace("`", "") for p in paragraphs if p)


__all__ = [
    "SUCCESS",
    "SUMMARY_ZH",
    "Answer",
    "BodyField",
    "Group",
    "Operation",
    "Parameter",
    "plain",
    "reference",
    "resolve",
    "token_need",
    "type_of",
    "values_of",
]
