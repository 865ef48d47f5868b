"""Forms made from an action's payload model (the pydantic model the service validates).

Every field becomes an input by its type: text (one line or long text, by
`flows.hygiene.single_line`), number, yes/no, date, date and time, a choice (Literal,
enum, or values the state allows), several choices (a list of Literals), one item per line
(a list of text), one record per line with its parts separated by `|` (a list of models),
or `key = value` per line (a mapping). `parse` turns what the browser sent back into the
payload the service takes, and keeps what the user typed, so that a refused form is shown
again as it was. Only the shapes are read here: every value is checked by the service."""

from __future__ import annotations

import json
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from starlette.datastructures import FormData

from flows import hygiene
from flows import procedure as proc
from flows.errors import ProcedureError, invalid
from web import labels

Kind = Literal[
    "line", "text", "int", "bool", "date", "datetime", "select", "choices", "lines", "records", "mapping"
]

# Fields whose values are units or roles of the jurisdiction: chosen from a list.
UNIT_FIELDS = frozenset({"lead_unit", "unit", "evaluator_unit"})
UNITS_FIELDS = frozenset({"units"})
FIXED_OPTIONS: dict[str, tuple[str, ...]] = {
    "meeting_type": ("executive", "plenary"),
    "level": ("high", "medium", "low"),
    "roles": tuple(role for role in proc.ROLES if role != "public"),
}
YES = frozenset({"1", "true", "yes", "y", "是", "on"})
NO = frozenset({"0", "false", "no", "n", "否", "off", ""})


@dataclass(frozen=True)
class Option:
    value: str
    zh: str
    en: str


@dataclass(frozen=True)
class FormField:
    name: str
    kind: Kind
    required: bool
    zh: str
    en: str
    options: tuple[Option, ...] = ()
    columns: tuple[str, ...] = ()  # the parts of a record, in order (kind "records")
    column_kinds: tuple[str, ...] = ()
    value_kind: str = "str"  # "int" or "any": the values of a mapping
    numeric: bool = False  # a choice whose values are numbers
    boolean: bool = False  # a yes/no choice (a required boolean: no default to fall back on)

    @property
    def multiline(self) -> bool:
        return self.kind in ("text", "lines", "records", "mapping")

    def hint(self, locale: str) -> str:
        """How to type a field with several values."""
        zh_en = locale != "en"
        if self.kind == "lines":
            return "每行一项" if zh_en else "one per line"
        if self.kind == "records":
            parts = [labels.field(c)[0 if zh_en else 1] for c in self.columns]
            return ("每行一条：" if zh_en else "one per line: ") + " | ".join(parts)
        if self.kind == "mapping":
            return "每行一项：名称 = 数值" if zh_en else "one per line: name = value"
        return ""


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """The type inside Optional/Annotated, and whether None is allowed."""
    optional = False
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in get_args(annotation) if a is not type(None)]
            optional = optional or len(args) < len(get_args(annotation))
            if len(args) == 1:
                annotation = args[0]
            else:
                return annotation, optional
        else:
            return annotation, optional


def _literal_values(annotation: Any) -> tuple[str, ...] | None:
    """The values of a Literal, an enum, or a union of them."""
    annotation, _ = _unwrap(annotation)
    origin = get_origin(annotation)
    if origin is Literal:
        return tuple(str(v) for v in get_args(annotation))
    if origin in (Union, types.UnionType):
        values: list[str] = []
        for arg in get_args(annotation):
            found = _literal_values(arg)
            if found is None:
                return None
            values += found
        return tuple(dict.fromkeys(values))
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return tuple(str(m.value) for m in annotation)
    return None


def _options(values: Sequence[str]) -> tuple[Option, ...]:
    return tuple(Option(v, *labels.value(v)) for v in values)


def form_fields(
    model: type[BaseModel],
    *,
    skip: Sequence[str] = ("decision",),
    choices: Mapping[str, Sequence[str]] | None = None,
    units: Mapping[str, str] | None = None,
) -> list[FormField]:
    """The form of `model`: one field per payload field but those in `skip`. `choices` limits a
    field to values the state allows; `units` (code -> name) is the list unit fields choose from."""
    choices = choices or {}
    unit_options = tuple(Option(code, name, name) for code, name in (units or {}).items())
    return [
        _field(name, info.annotation, info.is_required(), choices, unit_options)
        for name, info in model.model_fields.items()
        if name not in skip
    ]


def _field(
    name: str,
    annotation: Any,
    is_required: bool,
    choices: Mapping[str, Sequence[str]],
    unit_options: tuple[Option, ...],
) -> FormField:
    annotation, optional = _unwrap(annotation)
    required = is_required and not optional
    zh, en = labels.field(name)
    origin = get_origin(annotation)
    literal = _literal_values(annotation)

    def make(kind: Kind, options: tuple[Option, ...] = (), **extra: Any) -> FormField:
        return FormField(name, kind, required, zh, en, options, **extra)

    if name in choices:
        return make("choices" if origin is list else "select", _options(choices[name]))
    if name == "category" and annotation is int:
        return make(
            "select", tuple(Option(str(n), *labels.category(n)) for n in proc.CATEGORIES), numeric=True
        )
    if name in UNIT_FIELDS and unit_options:
        return make("select", unit_options)
    if name in UNITS_FIELDS and unit_options:
        return make("choices", unit_options)
    if name in FIXED_OPTIONS:
        return make("choices" if origin is list else "select", _options(FIXED_OPTIONS[name]))
    if literal is not None:
        return make("select", _options(literal))
    if annotation is bool:
        if required:  # no default to fall back on: a yes/no choice, not a checkbox
            return make("select", (Option("1", "是", "yes"), Option("0", "否", "no")), boolean=True)
        return make("bool")
    simple: dict[Any, Kind] = {int: "int", date: "date", datetime: "datetime"}
    if annotation in simple:
        return make(simple[annotation])
    if origin is list:
        (item,) = get_args(annotation)
        item, _ = _unwrap(item)
        item_values = _literal_values(item)
        if item_values is not None:
            return make("choices", _options(item_values))
        if isinstance(item, type) and issubclass(item, BaseModel):
            columns = tuple(item.model_fields)
            kinds = tuple(_column_kind(item.model_fields[c].annotation) for c in columns)
            return make("records", columns=columns, column_kinds=kinds)
        return make("lines")
    if origin is dict:
        _, value_type = get_args(annotation)
        value_type, _ = _unwrap(value_type)
        return make("mapping", value_kind="int" if value_type is int else "any")
    return make("line" if hygiene.single_line(name) else "text")


def _column_kind(annotation: Any) -> str:
    inner, _ = _unwrap(annotation)
    if inner is bool:
        return "bool"
    if inner is int:
        return "int"
    return "str"


# ---------------------------------------------------------------------------- reading a form back
@dataclass
class Submitted:
    """What the browser sent: the payload for the service, and the raw values to show again."""

    payload: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)  # name -> str, or list[str] for choices


def raw_values(form: FormData | Mapping[str, Any], fields: Sequence[FormField]) -> dict[str, Any]:
    raw: dict[str, Any] = {}
    for f in fields:
        if f.kind == "choices":
            getter = getattr(form, "getlist", None)
            values = getter(f.name) if getter else form.get(f.name, [])
            raw[f.name] = [str(v) for v in (values if isinstance(values, list) else [values])]
        elif f.kind == "bool":
            raw[f.name] = "1" if str(form.get(f.name, "")).strip().lower() in YES - {""} else ""
        else:
            value = form.get(f.name)
            raw[f.name] = value.replace("\r\n", "\n") if isinstance(value, str) else ""
    return raw


def parse(fields: Sequence[FormField], raw: Mapping[str, Any], tz: ZoneInfo) -> dict[str, Any]:
    """The payload from the raw values: empty optional fields are left out (the payload's
    defaults apply); a value that does not fit its field's shape is refused as INPUT naming the
    field. Everything else (required fields, ranges, the rules) is the service's to check."""
    payload: dict[str, Any] = {}
    for f in fields:
        value = raw.get(f.name)
        if f.kind == "choices":
            picked = [v for v in (value or []) if v]
            if picked or f.required:
                payload[f.name] = picked
            continue
        if f.kind == "bool":
            if value == "1":  # unchecked: the payload's default (False, or none given)
                payload[f.name] = True
            continue
        text = (value or "").strip() if isinstance(value, str) else ""
        if not text:
            continue  # a required field left empty: the service names it
        payload[f.name] = _parse_value(f, text, tz)
    return payload


def _parse_value(f: FormField, text: str, tz: ZoneInfo) -> Any:
    if f.kind == "int" or (f.kind == "select" and f.numeric):
        return _int(text, f.name)
    if f.boolean:
        return text == "1"
    if f.kind == "datetime":
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise invalid(f.name, "须为日期和时间", "must be a date and time") from None
        return (moment if moment.tzinfo else moment.replace(tzinfo=tz)).isoformat()
    if f.kind == "lines":
        return [line.strip() for line in text.splitlines() if line.strip()]
    if f.kind == "records":
        return [_record(f, line, n) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    if f.kind == "mapping":
        return _mapping(f, text)
    return text  # line, text, date (ISO, checked by the service), select


def _int(text: str, where: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise invalid(where, "须为整数", "must be a whole number") from None


def _record(f: FormField, line: str, number: int) -> dict[str, Any]:
    parts = [part.strip() for part in line.split("|")]
    if len(parts) > len(f.columns):
        raise invalid(
            f.name,
            f"第{number}行有 {len(parts)} 项，最多 {len(f.columns)} 项（以 | 分隔）",
            f"line {number} has {len(parts)} parts, at most {len(f.columns)} (separated by |)",
        )
    record: dict[str, Any] = {}
    for column, kind, part in zip(f.columns, f.column_kinds, parts, strict=False):
        if not part:
            continue
        if kind == "bool":
            lowered = part.lower()
            if lowered not in YES | NO:
                raise invalid(
                    f.name, f"第{number}行 {column} 须为 是/否", f"line {number}: {column} must be yes or no"
                )
            record[column] = lowered in YES
        elif kind == "int":
            record[column] = _int(part, f.name)
        else:
            record[column] = part
    return record


def _mapping(f: FormField, text: str) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        key, sep, rest = line.partition("=")
        if not sep or not key.strip():
            raise invalid(f.name, f"第{number}行须为 名称 = 数值", f"line {number} must read name = value")
        rest = rest.strip()
        if f.value_kind == "int":
            result[key.strip()] = _int(rest, f.name)
        else:
            try:
                result[key.strip()] = json.loads(rest)
            except ValueError:
                result[key.strip()] = rest
    return result


def submitted(
    form: FormData | Mapping[str, Any], fields: Sequence[FormField], tz: ZoneInfo
) -> tuple[Submitted, ProcedureError | None]:
    """The payload and raw values of a sent form; a shape error is returned, not raised, so
    that the page shows it next to its field with the rest of what was typed."""
    raw = raw_values(form, fields)
    try:
        return Submitted(parse(fields, raw, tz), raw), None
    except ProcedureError as exc:
        return Submitted({}, raw), exc


def prefill(fields: Sequence[FormField], values: Mapping[str, Any]) -> dict[str, Any]:
    """Raw values for a new form from known values (query parameters, defaults)."""
    raw: dict[str, Any] = {}
    for f in fields:
        if f.name not in values:
            continue
        value = values[f.name]
        if f.kind == "choices":
            raw[f.name] = [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]
        elif f.kind == "bool":
            raw[f.name] = "1" if value in (True, "1", "true", "on") else ""
        elif f.kind == "lines" and isinstance(value, list | tuple):
            raw[f.name] = "\n".join(str(v) for v in value)
        else:
            raw[f.name] = str(value)
    return raw


def error_field(error: ProcedureError | None, fields: Sequence[FormField]) -> str | None:
    """The form field an error is about (its first part: `opinions.2.member` is `opinions`),
    or None when it names no field of the form (then it is shown at the top)."""
    if error is None or not error.field:
        return None
    head = error.field.split(".")[0]
    return head if any(f.name == head for f in fields) else None


__all__ = [
    "FormField",
    "Option",
    "Submitted",
    "error_field",
    "form_fields",
    "parse",
    "prefill",
    "raw_values",
    "submitted",
]
