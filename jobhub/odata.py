"""OData-style ``$filter`` and ``$orderby`` over the jobs table, for the HTTP API: the language.

``jobhub.db.odata_sql`` compiles what is parsed here to SQL.

A small hand-written recursive-descent parser: the grammar is tiny, and owning it lets every
error carry the character position a caller needs, and the limits below refuse hostile input
before it costs anything. Parsing validates fields and literal types, so a parsed filter
always compiles; literals only ever reach SQL as bound parameters.

Grammar (keywords case-insensitive, field names case-sensitive; ``not`` > ``and`` > ``or``)::

    filter     := or
    or         := and ("or" and)*
    and        := unary ("and" unary)*
    unary      := "not" unary | "(" or ")" | function | comparison
    function   := ("contains" | "startswith") "(" field "," string ")"
    comparison := field ("eq" | "ne" | "gt" | "ge" | "lt" | "le") literal
    literal    := 'string' | integer | decimal | true | false | null | datetime | guid

Strings are single-quoted with ``''`` for a quote. Datetimes and guids are unquoted, as in
OData v4: ``createdAt gt 2026-01-01T00:00:00Z``, ``id eq 0f8fad5b-d9cb-469f-a165-70867728950e``.
A ``+`` offset must reach the parser percent-encoded (``%2B``) or a URL decoder reads a space.

Nulls follow OData's two-valued logic rather than SQL's: ``workerId ne 'w1'`` holds for a job
with no worker, and ``not`` is always the complement of what it negates.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Literal, TypeAlias
from uuid import UUID

from jobhub.errors import InvalidInput
from jobhub.jobs import STORED_STATUSES, JobStatus
from jobhub.vocab import AIMS360_STATUS

MAX_FILTER_LENGTH = 2000
MAX_DEPTH = 20
"""Parentheses and ``not`` nested in each other."""
MAX_COMPARISONS = 50
"""Comparisons and function calls in one filter."""
MAX_STRING_LENGTH = 500
MAX_ORDERBY_KEYS = 5
_INT64 = 2**63 - 1


class InvalidFilter(InvalidInput):
    """The $filter or $orderby expression is not valid."""

    def __init__(self, message: str, position: int) -> None:
        self.reason = message
        self.position = position
        """0-based character offset in the expression."""
        super().__init__(f"{message} at position {position}")


# -- fields ------------------------------------------------------------------------------


class FieldKind(enum.StrEnum):
    """What literals a field compares with."""

    GUID = "guid"
    TEXT = "text"
    """Also the only kind ``contains`` and ``startswith`` take."""
    NUMBER = "number"
    DATETIME = "datetime"
    STATUS = "status"
    """A status label (``'Completed'``) or its numeric code, compared as the code."""
    AIMS360_STATUS = "aims360 status"
    """An AIMS360 jobStatus (Queued, Inprogress, Completed, Failed); eq and ne only."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Field:
    """A name callers may filter and order by, and the ``jobs`` column behind it."""

    name: str
    column: str
    kind: FieldKind


def _fields(*entries: tuple[str, str, FieldKind]) -> MappingProxyType[str, Field]:
    return MappingProxyType(
        {name: Field(name=name, column=column, kind=kind) for name, column, kind in entries}
    )


_K = FieldKind
FIELDS = _fields(
    ("id", "id", _K.GUID),
    ("jobType", "job_type", _K.TEXT),
    ("type", "job_type", _K.TEXT),
    ("category", "category", _K.TEXT),
    ("subcategory", "subcategory", _K.TEXT),
    ("description", "description", _K.TEXT),
    ("status", "status", _K.STATUS),
    ("statusCode", "status", _K.NUMBER),
    ("percent", "percent", _K.NUMBER),
    ("organization", "organization", _K.TEXT),
    ("identity", "identity", _K.TEXT),
    ("key", "concurrency_key", _K.TEXT),
    ("clientRequestId", "client_request_id", _K.TEXT),
    ("workerId", "worker_id", _K.TEXT),
    ("attempt", "attempt", _K.NUMBER),
    ("createdAt", "created_at", _K.DATETIME),
    ("queuedAt", "queued_at", _K.DATETIME),
    ("startedAt", "started_at", _K.DATETIME),
    ("updatedAt", "updated_at", _K.DATETIME),
    ("completedAt", "completed_at", _K.DATETIME),
    ("purgeAt", "purge_at", _K.DATETIME),
)
"""The documented $filter/$orderby names (public API names, case-sensitive)."""


def _aims360_fields(*entries: tuple[str, str]) -> MappingProxyType[str, Field]:
    fields = {name: FIELDS[native] for name, native in entries}
    fields["jobStatus"] = Field(name="status", column="status", kind=FieldKind.AIMS360_STATUS)
    return MappingProxyType(fields)


AIMS360_FIELDS = _aims360_fields(
    ("jobId", "id"),
    ("jobID", "id"),
    ("categoryName", "category"),
    ("subCategoryName", "subcategory"),
    ("jobDescription", "description"),
    ("clientID", "organization"),
    ("accountCode", "organization"),
    ("clientRequestId", "clientRequestId"),
    ("percentCompleted", "percent"),
    ("createdBy", "identity"),
    ("createdDate", "createdAt"),
    ("modifiedDate", "updatedAt"),
    ("startDate", "startedAt"),
    ("completedDate", "completedAt"),
    ("purgeDateTime", "purgeAt"),
)
"""The AIMS360 backgroundjob names, for its OData view; each stands for a native field."""

_AIMS360_STATUSES = {
    label.lower(): frozenset(s for s, name in AIMS360_STATUS.items() if name == label)
    for label in sorted(set(AIMS360_STATUS.values()))
}

_EXPECTED_LITERAL = {
    _K.GUID: "a guid",
    _K.TEXT: "a string",
    _K.NUMBER: "a number",
    _K.DATETIME: "a datetime such as 2026-01-01T00:00:00Z",
    _K.STATUS: "a status label such as 'Completed' or a status code",
}

# -- the parsed filter -------------------------------------------------------------------

Value: TypeAlias = "str | int | Decimal | bool | datetime | UUID | None"
Operator: TypeAlias = Literal["eq", "ne", "gt", "ge", "lt", "le"]
_OPERATORS: tuple[Operator, ...] = ("eq", "ne", "gt", "ge", "lt", "le")


@dataclass(frozen=True, slots=True, kw_only=True)
class Comparison:
    """``field op value``; the value is already of the field's type (statuses as codes)."""

    field: str
    op: Operator
    value: Value


@dataclass(frozen=True, slots=True, kw_only=True)
class Match:
    """``contains(field, 'text')`` or ``startswith(field, 'text')``, case-sensitive."""

    function: Literal["contains", "startswith"]
    field: str
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class And:
    operands: tuple[Node, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Or:
    operands: tuple[Node, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Not:
    operand: Node


Node: TypeAlias = "Comparison | Match | And | Or | Not"

# -- tokens ------------------------------------------------------------------------------

_TokenKind: TypeAlias = Literal[
    "word", "string", "number", "datetime", "guid", "(", ")", ",", "end"
]


@dataclass(frozen=True, slots=True)
class _Token:
    kind: _TokenKind
    text: str
    position: int
    value: Value = None


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HEX = "[0-9A-Fa-f]"
_GUID = re.compile(
    rf"{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}(?![A-Za-z0-9_-])"
)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?"
    r"(?:[Zz]|[+-][0-9]{2}:[0-9]{2})(?![A-Za-z0-9_.:+-])"
)
_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?![A-Za-z0-9_.])")
_PUNCTUATION: dict[str, _TokenKind] = {"(": "(", ")": ")", ",": ","}


class _Lexer:
    """Tokens on demand, so the first error reported is the first one in the text."""

    def __init__(self, text: str) -> None:
        if len(text) > MAX_FILTER_LENGTH:
            raise InvalidFilter(
                f"expected at most {MAX_FILTER_LENGTH} characters", MAX_FILTER_LENGTH
            )
        self.text = text
        self.pos = 0
        self._peeked: _Token | None = None

    def peek(self) -> _Token:
        if self._peeked is None:
            self._peeked = self._scan()
        return self._peeked

    def take(self) -> _Token:
        token = self.peek()
        self._peeked = None
        return token

    def _scan(self) -> _Token:
        text = self.text
        while self.pos < len(text) and text[self.pos].isspace():
            self.pos += 1
        start = self.pos
        if start == len(text):
            return _Token("end", "", start)
        char = text[start]
        if char in _PUNCTUATION:
            self.pos += 1
            return _Token(_PUNCTUATION[char], char, start)
        if char == "'":
            return self._string(start)
        if match := _GUID.match(text, start):
            return self._token("guid", match.group(), start, UUID(match.group()))
        if char.isascii() and (char.isdigit() or char == "-"):
            return self._number_or_datetime(start)
        if match := _WORD.match(text, start):
            return self._token("word", match.group(), start)
        raise InvalidFilter(f"unexpected character {char!r}", start)

    def _token(self, kind: _TokenKind, source: str, start: int, value: Value = None) -> _Token:
        self.pos = start + len(source)
        return _Token(kind, source, start, value)

    def _string(self, start: int) -> _Token:
        parts: list[str] = []
        size = 0
        at = start + 1
        while True:
            end = self.text.find("'", at)
            if end < 0:
                raise InvalidFilter("expected a closing quote for the string", start)
            parts.append(self.text[at:end])
            size += end - at
            if size > MAX_STRING_LENGTH:
                raise InvalidFilter(
                    f"expected a string of at most {MAX_STRING_LENGTH} characters", start
                )
            if self.text.startswith("''", end):
                parts.append("'")
                size += 1
                at = end + 2
                continue
            break
        value = "".join(parts)
        if "\x00" in value or not _encodable(value):
            raise InvalidFilter("expected a string without NUL or unpaired surrogates", start)
        return self._token("string", self.text[start : end + 1], start, value)

    def _number_or_datetime(self, start: int) -> _Token:
        text = self.text
        if _DATE.match(text, start):
            match = _DATETIME.match(text, start)
            if match is None:
                raise InvalidFilter(
                    "expected a datetime with a time and a zone, such as 2026-01-01T00:00:00Z"
                    " or 2026-01-01T02:00:00+02:00",
                    start,
                )
            source = match.group()
            try:
                moment = datetime.fromisoformat(source.upper().replace("Z", "+00:00"))
                moment = moment.astimezone(UTC)
            except (ValueError, OverflowError):
                raise InvalidFilter("expected a valid datetime", start) from None
            return self._token("datetime", source, start, moment)
        match = _NUMBER.match(text, start)
        if match is None:
            raise InvalidFilter("expected a number, a datetime or a guid", start)
        source = match.group()
        number: int | Decimal = Decimal(source) if "." in source else int(source)
        if not -_INT64 <= number <= _INT64:
            raise InvalidFilter("expected a number within the 64-bit integer range", start)
        return self._token("number", source, start, number)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


_LITERAL_TOKEN: dict[FieldKind, _TokenKind] = {
    FieldKind.GUID: "guid",
    FieldKind.TEXT: "string",
    FieldKind.NUMBER: "number",
    FieldKind.DATETIME: "datetime",
}

# -- parsing -----------------------------------------------------------------------------

_FUNCTIONS: tuple[Literal["contains", "startswith"], ...] = ("contains", "startswith")
_RESERVED = frozenset({"and", "or", *_OPERATORS, "null", "true", "false"})
"""Words that are never a field, so their misplacement reads as a syntax error."""


def parse_filter(text: str, fields: Mapping[str, Field] = FIELDS) -> Node:
    """Parse and type-check a ``$filter``; raises InvalidFilter, never anything else.

    ``fields`` is the vocabulary (``FIELDS``, or ``AIMS360_FIELDS`` for that view). An
    empty filter is an error here: the caller decides what "no filter" means.
    """
    return _Parser(text, fields).filter()


class _Parser:
    def __init__(self, text: str, fields: Mapping[str, Field]) -> None:
        self.fields = fields
        self.lexer = _Lexer(text)
        self.depth = 0
        self.comparisons = 0

    def filter(self) -> Node:
        node = self._or()
        end = self.lexer.peek()
        if end.kind != "end":
            raise InvalidFilter("expected 'and', 'or' or the end of the filter", end.position)
        return node

    def _keyword(self, *words: str) -> _Token | None:
        """Take the next token if it is one of ``words`` (any case)."""
        token = self.lexer.peek()
        if token.kind == "word" and token.text.lower() in words:
            return self.lexer.take()
        return None

    def _or(self) -> Node:
        operands = [self._and()]
        while self._keyword("or"):
            operands.append(self._and())
        return operands[0] if len(operands) == 1 else Or(operands=tuple(operands))

    def _and(self) -> Node:
        operands = [self._unary()]
        while self._keyword("and"):
            operands.append(self._unary())
        return operands[0] if len(operands) == 1 else And(operands=tuple(operands))

    def _unary(self) -> Node:
        token = self.lexer.peek()
        if token.kind == "(" or (token.kind == "word" and token.text.lower() == "not"):
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise InvalidFilter(
                    f"expected at most {MAX_DEPTH} nested parentheses or 'not'", token.position
                )
            self.lexer.take()
            if token.kind == "(":
                node: Node = self._or()
                self._expect(")", "')'")
            else:
                node = Not(operand=self._unary())
            self.depth -= 1
            return node
        if token.kind != "word" or token.text.lower() in _RESERVED:
            raise InvalidFilter("expected a field name, a function or '('", token.position)
        self.lexer.take()
        self.comparisons += 1
        if self.comparisons > MAX_COMPARISONS:
            raise InvalidFilter(f"expected at most {MAX_COMPARISONS} comparisons", token.position)
        if self.lexer.peek().kind == "(":
            return self._function(token)
        return self._comparison(token)

    def _expect(self, kind: _TokenKind, what: str) -> _Token:
        token = self.lexer.take()
        if token.kind != kind:
            raise InvalidFilter(f"expected {what}", token.position)
        return token

    def _function(self, name: _Token) -> Match:
        function = name.text.lower()
        if function not in _FUNCTIONS:
            raise InvalidFilter(
                f"unknown function {name.text!r}; expected contains or startswith", name.position
            )
        self.lexer.take()
        argument = self._expect("word", "a field name")
        field = _field(argument, self.fields)
        if field.kind is not FieldKind.TEXT:
            raise InvalidFilter(
                f"expected a text field for {function}(), not {field.name!r}", argument.position
            )
        self._expect(",", "','")
        text = self._expect("string", "a quoted string")
        self._expect(")", "')'")
        return Match(
            function="contains" if function == "contains" else "startswith",
            field=field.name,
            text=str(text.value),
        )

    def _comparison(self, name: _Token) -> Node:
        field = _field(name, self.fields)
        op_token = self.lexer.take()
        op = next((o for o in _OPERATORS if op_token.text.lower() == o), None)
        if op_token.kind != "word" or op is None:
            raise InvalidFilter(
                "expected a comparison operator (eq, ne, gt, ge, lt, le)", op_token.position
            )
        if field.kind is FieldKind.AIMS360_STATUS:
            return _aims360_status(op, op_token, self.lexer.take())
        value = _coerce(field, op, self.lexer.take())
        return Comparison(field=field.name, op=op, value=value)


def _aims360_status(op: Operator, op_token: _Token, token: _Token) -> Node:
    """``jobStatus eq 'Failed'`` as the jobhub statuses it stands for."""
    if op not in ("eq", "ne"):
        raise InvalidFilter("expected eq or ne for jobStatus", op_token.position)
    statuses = _AIMS360_STATUSES.get(str(token.value).lower()) if token.kind == "string" else None
    if statuses is None:
        raise InvalidFilter(
            "expected 'Queued', 'Inprogress', 'Completed' or 'Failed'", token.position
        )
    parts = tuple(Comparison(field="status", op=op, value=int(s)) for s in sorted(statuses))
    if len(parts) == 1:
        return parts[0]
    return Or(operands=parts) if op == "eq" else And(operands=parts)


def _field(token: _Token, fields: Mapping[str, Field] = FIELDS) -> Field:
    field = fields.get(token.text)
    if field is not None:
        return field
    hint = next((f" (did you mean {n!r}?)" for n in fields if n.lower() == token.text.lower()), "")
    raise InvalidFilter(f"unknown field {token.text!r}{hint}", token.position)


def _coerce(field: Field, op: Operator, token: _Token) -> Value:
    """The literal as the field's Python value, or InvalidFilter at the literal."""
    word = token.text.lower() if token.kind == "word" else None
    if word == "null":
        if op not in ("eq", "ne"):
            raise InvalidFilter("expected eq or ne with null", token.position)
        return None
    if word not in (None, "true", "false") or token.kind in ("(", ")", ",", "end"):
        raise InvalidFilter("expected a value", token.position)
    kind = field.kind
    if token.kind == _LITERAL_TOKEN.get(kind):
        return token.value
    if kind is FieldKind.GUID and token.kind == "string":
        try:  # AIMS360 clients quote ids: jobId eq 'd29fac30-...'
            return UUID(str(token.value))
        except ValueError:
            raise InvalidFilter("expected a guid", token.position) from None
    if kind is FieldKind.STATUS and token.kind in ("string", "number"):
        status = _status(token.value)
        if status is None:
            labels = ", ".join(s.label for s in sorted(STORED_STATUSES))
            raise InvalidFilter(f"expected a status ({labels}) or its code", token.position)
        return int(status)
    raise InvalidFilter(
        f"expected {_EXPECTED_LITERAL[kind]} or null for {field.name!r}", token.position
    )


def _status(value: Value) -> JobStatus | None:
    """A stored status from its label (any case) or its code."""
    try:
        if isinstance(value, str):
            status = JobStatus.parse(value)
        elif isinstance(value, int):
            status = JobStatus(value)
        else:
            return None
    except ValueError:
        return None
    return status if status in STORED_STATUSES else None


# -- $orderby ----------------------------------------------------------------------------


def parse_orderby(text: str, fields: Mapping[str, Field] = FIELDS) -> list[tuple[str, bool]]:
    """``"createdAt desc, id"`` as [(jobs column, descending)]; raises InvalidFilter."""
    lexer = _Lexer(text)
    keys: list[tuple[str, bool]] = []
    while True:
        token = lexer.take()
        if token.kind != "word":
            raise InvalidFilter("expected a field name", token.position)
        if len(keys) == MAX_ORDERBY_KEYS:
            raise InvalidFilter(f"expected at most {MAX_ORDERBY_KEYS} keys", token.position)
        field = _field(token, fields)
        if field.kind is FieldKind.AIMS360_STATUS:
            field = FIELDS["status"]
        direction = lexer.peek()
        word = direction.text.lower() if direction.kind == "word" else None
        if word in ("asc", "desc"):
            lexer.take()
        keys.append((field.column, word == "desc"))
        separator = lexer.take()
        if separator.kind == "end":
            return keys
        if separator.kind != ",":
            expected = "',' or the end" if word in ("asc", "desc") else "asc, desc, ',' or the end"
            raise InvalidFilter(f"expected {expected}", separator.position)
