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

``true`` and ``false`` compare with the one boolean field, ``housekeeping`` (eq and ne).
A job listing implies ``housekeeping eq false`` unless its filter mentions that field
(``implied_filter``).

Strings are single-quoted with ``''`` for a quote. Datetimes and guids are unquoted, as in
OData v4: ``createdAt gt 2026-01-01T00:00:00Z``, ``id eq 0f8fad5b-d9cb-469f-a165-70867728950e``.
A ``+`` offset must reach the parser percent-encoded (``%2B``) or a URL decoder reads a space.

Nulls follow OData's two-valued logic rather than SQL's: ``workerId ne 'w1'`` holds for a job
with no worker, and ``not`` is always the complement of what it negates.
"""

from __future__ import annotations

from jobhub.odata.fields import AIMS360_FIELDS, FIELDS, Field, FieldKind
from jobhub.odata.implied import NO_HOUSEKEEPING, implied_filter
from jobhub.odata.nodes import (
    MAX_COMPARISONS,
    MAX_DEPTH,
    MAX_FILTER_LENGTH,
    MAX_ORDERBY_KEYS,
    MAX_STRING_LENGTH,
    And,
    Comparison,
    InvalidFilter,
    Match,
    Node,
    Not,
    Operator,
    Or,
    Value,
    mentions,
)
from jobhub.odata.parser import parse_filter, parse_orderby

__all__ = [
    "AIMS360_FIELDS",
    "FIELDS",
    "MAX_COMPARISONS",
    "MAX_DEPTH",
    "MAX_FILTER_LENGTH",
    "MAX_ORDERBY_KEYS",
    "MAX_STRING_LENGTH",
    "NO_HOUSEKEEPING",
    "And",
    "Comparison",
    "Field",
    "FieldKind",
    "InvalidFilter",
    "Match",
    "Node",
    "Not",
    "Operator",
    "Or",
    "Value",
    "implied_filter",
    "mentions",
    "parse_filter",
    "parse_orderby",
]
