"""Parsed OData filters and orderings (``jobhub.odata``) as SQL over the jobs table.

Literals only ever reach SQL as bound parameters; LIKE wildcards in them are escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    Numeric,
    Table,
    UnaryExpression,
    and_,
    func,
    literal,
    not_,
    or_,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from jobhub.db.models import JobRow
from jobhub.odata import FIELDS, And, Match, Node, Not, Operator, Or, Value

jobs = cast(Table, JobRow.__table__)


def compile_filter(node: Node) -> ColumnElement[bool]:
    """The WHERE clause over ``jobs`` for a parsed filter; literals are bound parameters."""
    if isinstance(node, And):
        return and_(*[compile_filter(operand) for operand in node.operands])
    if isinstance(node, Or):
        return or_(*[compile_filter(operand) for operand in node.operands])
    if isinstance(node, Not):
        return not_(compile_filter(node.operand))
    column = jobs.c[FIELDS[node.field].column]
    if isinstance(node, Match):
        condition = _text_match(column, node)
    else:
        value = node.value
        if value is None:
            return column.is_(None) if node.op == "eq" else column.is_not(None)
        if node.op == "ne" and column.nullable:
            return column.is_distinct_from(_bound(column, value))
        condition = _compare(column, node.op, _bound(column, value))
    # Two-valued logic: a comparison with a null column is false, never unknown.
    return and_(column.is_not(None), condition) if column.nullable else condition


def _bound(column: ColumnElement[Any], value: Value) -> ColumnElement[Any]:
    # Integers bind as BIGINT: psycopg would cast them to the column's SMALLINT and overflow.
    if isinstance(value, Decimal):
        return literal(value, Numeric())
    if isinstance(value, int) and not isinstance(value, bool):
        return literal(value, BigInteger())
    return literal(value, column.type)


def _compare(
    column: ColumnElement[Any], op: Operator, bound: ColumnElement[Any]
) -> ColumnElement[bool]:
    if op == "eq":
        return column == bound
    if op == "ne":
        return column != bound
    if op == "gt":
        return column > bound
    if op == "ge":
        return column >= bound
    if op == "lt":
        return column < bound
    return column <= bound


class _PerDialect(FunctionElement[bool]):
    """Renders its first clause, or its second on SQLite."""

    type = Boolean()
    name = "per_dialect"
    inherit_cache = True


@compiles(_PerDialect)
def _render_default(element: _PerDialect, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses.clauses[0], **kw)


@compiles(_PerDialect, "sqlite")
def _render_sqlite(element: _PerDialect, compiler: SQLCompiler, **kw: Any) -> str:
    return f"({compiler.process(element.clauses.clauses[1], **kw)})"


def _text_match(column: ColumnElement[Any], node: Match) -> ColumnElement[bool]:
    """LIKE with escaped wildcards; on SQLite ``instr``, since its LIKE ignores ASCII case."""
    if node.function == "contains":
        like = column.contains(node.text, autoescape=True)
        exact = func.instr(column, node.text) > 0
    else:
        like = column.startswith(node.text, autoescape=True)
        exact = func.instr(column, node.text) == 1
    return _PerDialect(like, exact)


def order_by_clauses(keys: Sequence[tuple[str, bool]]) -> list[UnaryExpression[Any]]:
    """ORDER BY terms for ``parse_orderby``'s keys; nulls sort as the smallest value.

    Non-null columns keep the plain order so PostgreSQL can walk their indexes; add ``id``
    last for a stable order when paging.
    """
    clauses: list[UnaryExpression[Any]] = []
    for name, descending in keys:
        column = jobs.c[name]
        if not column.nullable:
            clauses.append(column.desc() if descending else column.asc())
        else:
            clauses.append(column.desc().nulls_last() if descending else column.asc().nulls_first())
    return clauses
