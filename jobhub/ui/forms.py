"""Forms built from a job type's parameter schema, and what they send back as values.

The start form and the schedule form show an input per parameter, typed by its JSON
Schema: a number input for integers and numbers, a checkbox for booleans, a select for
an ``enum``, a date-time input for ``date-time`` text, a text area for arrays and objects
(as JSON), a text input otherwise. The values read back are handed to the manager as
they are: text that should have been a number stays text, so the manager's own
validation, the one the HTTP API and the CLI go through, says what is wrong with it.
The browser's own checks are off (``novalidate``) for the same reason: one judge.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from jobhub.jobs import JSONValue

Form = Mapping[str, str]
"""A submitted form's text fields (a request's form data, files left out)."""


async def submitted(request: Request) -> dict[str, str]:
    """The text fields of the request's form (read once; the CSRF check read it too)."""
    form = await request.form()
    return {name: value for name, value in form.items() if isinstance(value, str)}


Submitted = Annotated[dict[str, str], Depends(submitted)]


@dataclass(frozen=True, slots=True, kw_only=True)
class Field:
    """One parameter's input."""

    name: str
    widget: str
    """``number``, ``checkbox``, ``select``, ``datetime``, ``json`` or ``text``."""
    type_name: str
    required: bool
    description: str = ""
    default: JSONValue = None
    has_default: bool = False
    minimum: float | None = None
    maximum: float | None = None
    step: str = "any"
    options: tuple[JSONValue, ...] = ()

    @property
    def option_texts(self) -> tuple[str, ...]:
        return tuple(text_of(option) for option in self.options)

    def input_name(self, prefix: str) -> str:
        return f"{prefix}{self.name}"

    def shown(self, submitted: Form | None, prefix: str) -> str:
        """The text the input holds: what was submitted, else the default."""
        if submitted is not None:
            return submitted.get(self.input_name(prefix), "")
        return text_of(self.default) if self.has_default else ""

    def checked(self, submitted: Form | None, prefix: str) -> bool:
        if submitted is not None:
            return self.input_name(prefix) in submitted
        return self.default is True


def fields_of(schema: Mapping[str, JSONValue]) -> list[Field]:
    """The inputs of a parameters schema (``JobDefinition.parameters_schema()``)."""
    properties = schema.get("properties")
    required = schema.get("required")
    wanted = set(required) if isinstance(required, list) else set()
    if not isinstance(properties, dict):
        return []
    return [
        _field(name, spec, name in wanted)
        for name, spec in properties.items()
        if isinstance(spec, dict)
    ]


def _field(name: str, spec: Mapping[str, JSONValue], required: bool) -> Field:
    kinds = spec.get("type")
    names = kinds if isinstance(kinds, list) else [kinds]
    type_name = next((str(k) for k in names if k != "null"), "string")
    enum = spec.get("enum")
    if isinstance(enum, list):
        widget = "select"
    elif type_name in ("integer", "number"):
        widget = "number"
    elif type_name == "boolean":
        widget = "checkbox"
    elif type_name in ("array", "object"):
        widget = "json"
    elif spec.get("format") == "date-time":
        widget = "datetime"
    else:
        widget = "text"
    description = spec.get("description")
    return Field(
        name=name,
        widget=widget,
        type_name=type_name,
        required=required,
        description=description if isinstance(description, str) else "",
        default=spec.get("default"),
        has_default="default" in spec,
        minimum=_number(spec.get("minimum")),
        maximum=_number(spec.get("maximum")),
        step="1" if type_name == "integer" else "any",
        options=tuple(enum) if isinstance(enum, list) else (),
    )


def _number(value: JSONValue) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def values_of(fields: Sequence[Field], form: Form, prefix: str) -> dict[str, object]:
    """The parameters a submitted form gives, for the manager to validate.

    An empty input is left out (its default applies, or the manager says it is
    required); a checkbox is true when sent and false when not; text that does not read
    as the parameter's type is passed on as text, for the manager to refuse by name.
    """
    values: dict[str, object] = {}
    for field in fields:
        key = field.input_name(prefix)
        if field.widget == "checkbox":
            values[field.name] = key in form
            continue
        text = form.get(key, "")
        if not text.strip():
            continue
        values[field.name] = _read(field, text.strip())
    return values


def _read(field: Field, text: str) -> object:
    if field.widget == "select":
        return next((option for option in field.options if text_of(option) == text), text)
    try:
        if field.type_name == "integer":
            return int(text)
        if field.type_name == "number":
            return float(text)
        if field.type_name in ("array", "object"):
            parsed: object = json.loads(text)
            return parsed
    except ValueError:
        return text
    return text


def text_of(value: JSONValue) -> str:
    """A value as an input shows it: JSON for arrays and objects, plain text otherwise."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
