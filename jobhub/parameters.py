"""Declared job parameters and their validation (pure).

A job type declares its parameters (name, type, required, default). Whatever starts a
job, the manager, the CLI, beat or a plain ``task.delay()``, the values are checked here
before anything is written, and what gets stored and sent is the normalised result:
every declared parameter present, defaults filled in, nothing undeclared.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from jobhub.errors import InvalidParameters
from jobhub.jobs import JSONValue

MAX_PARAMETERS_BYTES: Final = 256 * 1024
"""Parameters travel in every message and row; larger inputs belong in a document."""


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()

_TYPE_NAMES: Final[dict[type, str]] = {
    int: "integer",
    float: "number",
    str: "string",
    bool: "boolean",
    list: "array",
    dict: "object",
    datetime: "string",
}
"""Declarable types and their JSON Schema names; a datetime travels as ISO 8601 text."""
_BOOL_WORDS: Final = {
    **dict.fromkeys(("true", "yes", "on", "1"), True),
    **dict.fromkeys(("false", "no", "off", "0"), False),
}


@dataclass(frozen=True, slots=True)
class Param:
    """One declared parameter of a job type."""

    name: str
    type: type
    default: JSONValue | _Missing = MISSING
    required: bool | None = None
    """Defaults to True when there is no default."""
    description: str = ""
    minimum: float | None = None
    maximum: float | None = None

    def __post_init__(self) -> None:
        if self.type not in _TYPE_NAMES:
            raise TypeError(f"parameter {self.name}: unsupported type {self.type!r}")
        if not self.name.isidentifier():
            raise ValueError(f"parameter name {self.name!r} is not an identifier")

    @property
    def is_required(self) -> bool:
        if self.required is not None:
            return self.required
        return isinstance(self.default, _Missing)

    @property
    def has_default(self) -> bool:
        return not isinstance(self.default, _Missing)

    @property
    def type_name(self) -> str:
        return _TYPE_NAMES[self.type]

    def check(self, value: object) -> JSONValue:
        """Return ``value`` if it has this parameter's type, else raise ValueError."""
        if value is None and not self.is_required:
            return None
        kind = self.type
        if kind is datetime:
            return _iso_datetime(value)
        if kind is bool:
            ok = isinstance(value, bool)
        elif kind is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif kind is float:
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            if ok:
                try:
                    value = float(value)  # type: ignore[arg-type]
                except OverflowError:
                    raise ValueError("must be a finite number") from None
                if not math.isfinite(value):
                    raise ValueError("must be a finite number")
        else:
            ok = isinstance(value, kind)
        if not ok:
            raise ValueError(f"expected {self.type_name}, got {_describe(value)}")
        if self.minimum is not None and value < self.minimum:  # type: ignore[operator]
            raise ValueError(f"must be at least {self.minimum:g}")
        if self.maximum is not None and value > self.maximum:  # type: ignore[operator]
            raise ValueError(f"must be at most {self.maximum:g}")
        if kind in (list, dict):
            try:
                json.dumps(value, allow_nan=False)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"not JSON: {exc}") from None
        return value  # type: ignore[return-value]

    def parse(self, text: str) -> JSONValue:
        """Read a value typed as text (``-p steps=5`` on the command line)."""
        kind = self.type
        value: object = text
        try:
            if kind is int:
                value = int(text)
            elif kind is float:
                value = float(text)
            elif kind is bool:
                value = _BOOL_WORDS[text.strip().lower()]
            elif kind in (list, dict):
                value = json.loads(text)
        except (ValueError, KeyError):
            raise ValueError(f"expected {self.type_name}, got {text!r}") from None
        return self.check(value)

    def json_schema(self) -> dict[str, JSONValue]:
        schema: dict[str, JSONValue] = {"type": self.type_name}
        if not self.is_required:
            schema["type"] = [self.type_name, "null"]
        if self.type is datetime:
            schema["format"] = "date-time"
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        if not isinstance(self.default, _Missing):
            schema["default"] = self.default
        if self.description:
            schema["description"] = self.description
        return schema


def validate(
    job_type: str, params: Sequence[Param], values: Mapping[str, object]
) -> dict[str, JSONValue]:
    """Normalise ``values`` against the declaration or raise InvalidParameters."""
    problems: dict[str, str] = {}
    declared = {param.name for param in params}
    for name in values:
        if name not in declared:
            problems[name] = "not a parameter of this job type"
    result: dict[str, JSONValue] = {}
    for param in params:
        given = values.get(param.name)
        if param.name in values and (given is not None or not param.has_default):
            try:
                result[param.name] = param.check(values[param.name])
            except ValueError as exc:
                problems[param.name] = str(exc)
        elif not isinstance(param.default, _Missing):
            result[param.name] = param.default
        elif param.is_required:
            problems[param.name] = "required"
        else:
            result[param.name] = None
    if problems:
        raise InvalidParameters(job_type, problems)
    for name, value in result.items():
        where = unstorable_text(value, name)
        if where is not None:
            at = "" if where == name else f" at {where}"
            problems[name] = f"not storable text{at} (a NUL character or invalid UTF-8)"
    if problems:
        raise InvalidParameters(job_type, problems)
    size = len(json.dumps(result, separators=(",", ":")).encode())
    if size > MAX_PARAMETERS_BYTES:
        raise InvalidParameters(
            job_type, {"*": f"{size} bytes of parameters; at most {MAX_PARAMETERS_BYTES} allowed"}
        )
    return result


def parse_assignments(
    job_type: str, params: Sequence[Param], assignments: Sequence[str]
) -> dict[str, JSONValue]:
    """Turn ``["steps=5", "seconds=0.2"]`` into typed values (not yet validated as a whole)."""
    by_name = {param.name: param for param in params}
    values: dict[str, JSONValue] = {}
    problems: dict[str, str] = {}
    for assignment in assignments:
        name, sep, text = assignment.partition("=")
        name = name.strip()
        if not sep or not name:
            problems[assignment] = "expected name=value"
            continue
        param = by_name.get(name)
        if param is None:
            problems[name] = "not a parameter of this job type"
            continue
        try:
            values[name] = param.parse(text)
        except ValueError as exc:
            problems[name] = str(exc)
    if problems:
        raise InvalidParameters(job_type, problems)
    return values


def parameters_schema(params: Sequence[Param]) -> dict[str, JSONValue]:
    """The JSON Schema of a job type's parameters object."""
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {param.name: param.json_schema() for param in params},
        "required": [param.name for param in params if param.is_required],
    }


def _iso_datetime(value: object) -> str:
    """Normalise an ISO 8601 date-time to UTC text; a value without a zone is taken as UTC."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"expected an ISO 8601 date-time, got {value!r}") from None
    else:
        raise ValueError(f"expected an ISO 8601 date-time, got {_describe(value)}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()


def unstorable_text(value: object, where: str) -> str | None:
    """Where in ``value`` a string holds what no database text column can: NUL, or a lone
    surrogate (what bytes that were not UTF-8 become when decoded with surrogateescape)."""
    if isinstance(value, str):
        if "\x00" in value:
            return where
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return where
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            found = unstorable_text(key, where) or unstorable_text(item, f"{where}.{key}")
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = unstorable_text(item, f"{where}[{index}]")
            if found is not None:
                return found
    return None


def _describe(value: object) -> str:
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{type(value).__name__} {text}"
