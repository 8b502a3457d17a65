"""The recursive-descent parser of ``$filter`` and ``$orderby`` (grammar: ``jobhub.odata``).

Parsing validates fields and literal types, so a parsed filter always compiles
(``jobhub.db.odata_sql``); literals only ever reach SQL as bound parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal
from uuid import UUID

from jobhub.formats.vocab import AIMS360_STATUS
from jobhub.jobs import STORED_STATUSES, JobStatus
from jobhub.odata.fields import FIELDS, Field, FieldKind
from jobhub.odata.lexer import Lexer, Token, TokenKind
from jobhub.odata.nodes import (
    MAX_COMPARISONS,
    MAX_DEPTH,
    MAX_ORDERBY_KEYS,
    OPERATORS,
    And,
    Comparison,
    InvalidFilter,
    Match,
    Node,
    Not,
    Operator,
    Or,
    Value,
)

_AIMS360_STATUSES = {
    label.lower(): frozenset(s for s, name in AIMS360_STATUS.items() if name == label)
    for label in sorted(set(AIMS360_STATUS.values()))
}

_EXPECTED_LITERAL = {
    FieldKind.GUID: "a guid",
    FieldKind.TEXT: "a string",
    FieldKind.NUMBER: "a number",
    FieldKind.DATETIME: "a datetime such as 2026-01-01T00:00:00Z",
    FieldKind.STATUS: "a status label such as 'Completed' or a status code",
    FieldKind.BOOLEAN: "true, false",
}


_LITERAL_TOKEN: dict[FieldKind, TokenKind] = {
    FieldKind.GUID: "guid",
    FieldKind.TEXT: "string",
    FieldKind.NUMBER: "number",
    FieldKind.DATETIME: "datetime",
}

# -- parsing -----------------------------------------------------------------------------

_FUNCTIONS: tuple[Literal["contains", "startswith"], ...] = ("contains", "startswith")
_RESERVED = frozenset({"and", "or", *OPERATORS, "null", "true", "false"})
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
        self.lexer = Lexer(text)
        self.depth = 0
        self.comparisons = 0

    def filter(self) -> Node:
        node = self._or()
        end = self.lexer.peek()
        if end.kind != "end":
            raise InvalidFilter("expected 'and', 'or' or the end of the filter", end.position)
        return node

    def _keyword(self, *words: str) -> Token | None:
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

    def _expect(self, kind: TokenKind, what: str) -> Token:
        token = self.lexer.take()
        if token.kind != kind:
            raise InvalidFilter(f"expected {what}", token.position)
        return token

    def _function(self, name: Token) -> Match:
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

    def _comparison(self, name: Token) -> Node:
        field = _field(name, self.fields)
        op_token = self.lexer.take()
        op = next((o for o in OPERATORS if op_token.text.lower() == o), None)
        if op_token.kind != "word" or op is None:
            raise InvalidFilter(
                "expected a comparison operator (eq, ne, gt, ge, lt, le)", op_token.position
            )
        if field.kind is FieldKind.AIMS360_STATUS:
            return _aims360_status(op, op_token, self.lexer.take())
        if field.kind is FieldKind.BOOLEAN and op not in ("eq", "ne"):
            raise InvalidFilter(f"expected eq or ne for {field.name!r}", op_token.position)
        value = _coerce(field, op, self.lexer.take())
        return Comparison(field=field.name, op=op, value=value)


def _aims360_status(op: Operator, op_token: Token, token: Token) -> Node:
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


def _field(token: Token, fields: Mapping[str, Field] = FIELDS) -> Field:
    field = fields.get(token.text)
    if field is not None:
        return field
    hint = next((f" (did you mean {n!r}?)" for n in fields if n.lower() == token.text.lower()), "")
    raise InvalidFilter(f"unknown field {token.text!r}{hint}", token.position)


def _coerce(field: Field, op: Operator, token: Token) -> Value:
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
    if kind is FieldKind.BOOLEAN and word is not None:
        return word == "true"
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
    lexer = Lexer(text)
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
