"""A parsed filter: its nodes, its limits, and the error that names a position."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal, TypeAlias
from uuid import UUID

from jobhub.errors import InvalidInput

MAX_FILTER_LENGTH = 2000
MAX_DEPTH = 20
"""Parentheses and ``not`` nested in each other."""
MAX_COMPARISONS = 50
"""Comparisons and function calls in one filter."""
MAX_STRING_LENGTH = 500
MAX_ORDERBY_KEYS = 5
INT64 = 2**63 - 1


class InvalidFilter(InvalidInput):
    """The $filter or $orderby expression is not valid."""

    def __init__(self, message: str, position: int) -> None:
        self.reason = message
        self.position = position
        """0-based character offset in the expression."""
        super().__init__(f"{message} at position {position}")


Value: TypeAlias = "str | int | Decimal | bool | datetime | UUID | None"
Operator: TypeAlias = Literal["eq", "ne", "gt", "ge", "lt", "le"]
OPERATORS: tuple[Operator, ...] = ("eq", "ne", "gt", "ge", "lt", "le")


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


def mentions(node: Node, field: str) -> bool:
    """Whether a comparison or function anywhere in ``node`` names ``field``."""
    if isinstance(node, And | Or):
        return any(mentions(operand, field) for operand in node.operands)
    if isinstance(node, Not):
        return mentions(node.operand, field)
    return node.field == field
