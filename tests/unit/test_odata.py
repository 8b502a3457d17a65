"""$filter and $orderby parsing (jobhub.odata): grammar, types, positions, limits, hostility."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from jobhub.db.job_store import jobs
from jobhub.db.odata_sql import compile_filter, order_by_clauses
from jobhub.errors import InvalidInput
from jobhub.jobs import JobStatus
from jobhub.odata import (
    AIMS360_FIELDS,
    FIELDS,
    MAX_COMPARISONS,
    MAX_DEPTH,
    MAX_FILTER_LENGTH,
    MAX_ORDERBY_KEYS,
    MAX_STRING_LENGTH,
    NO_HOUSEKEEPING,
    And,
    Comparison,
    FieldKind,
    InvalidFilter,
    Match,
    Node,
    Not,
    Or,
    implied_filter,
    mentions,
    parse_filter,
    parse_orderby,
)

GUID = "0f8fad5b-d9cb-469f-a165-70867728950e"


def c(field: str, op: str, value: object) -> Comparison:
    return Comparison(field=field, op=op, value=value)  # type: ignore[arg-type]


def refused(text: str) -> InvalidFilter:
    with pytest.raises(InvalidFilter) as caught:
        parse_filter(text)
    return caught.value


def sql(node: Node, dialect: str = "postgresql") -> tuple[str, dict[str, object]]:
    chosen = postgresql.psycopg.dialect() if dialect == "postgresql" else sqlite.dialect()
    compiled = select(jobs.c.id).where(compile_filter(node)).compile(dialect=chosen)
    return str(compiled), dict(compiled.params)


# -- operators and literals -----------------------------------------------------------------


@pytest.mark.parametrize("op", ["eq", "ne", "gt", "ge", "lt", "le"])
def test_every_comparison_operator(op: str) -> None:
    assert parse_filter(f"percent {op} 5") == c("percent", op, 5)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("description eq 'hello'", c("description", "eq", "hello")),
        ("description eq ''", c("description", "eq", "")),
        ("description eq 'it''s'", c("description", "eq", "it's")),
        ("description eq ''''''", c("description", "eq", "''")),
        ("description eq 'a ''b'' c'", c("description", "eq", "a 'b' c")),
        ("percent eq 42", c("percent", "eq", 42)),
        ("percent gt -3", c("percent", "gt", -3)),
        ("percent ge 12.5", c("percent", "ge", Decimal("12.5"))),
        ("attempt le 2", c("attempt", "le", 2)),
        ("statusCode eq 4", c("statusCode", "eq", 4)),
        ("workerId eq null", c("workerId", "eq", None)),
        ("completedAt ne null", c("completedAt", "ne", None)),
        (
            "createdAt gt 2026-01-01T00:00:00Z",
            c("createdAt", "gt", datetime(2026, 1, 1, tzinfo=UTC)),
        ),
        (
            "createdAt gt 2026-01-01T02:30:00+02:00",
            c("createdAt", "gt", datetime(2026, 1, 1, 0, 30, tzinfo=UTC)),
        ),
        (
            "updatedAt lt 2026-01-01T00:00:00.25-01:00",
            c("updatedAt", "lt", datetime(2026, 1, 1, 1, 0, 0, 250000, tzinfo=UTC)),
        ),
        ("purgeAt le 2026-06-30T12:00Z", c("purgeAt", "le", datetime(2026, 6, 30, 12, tzinfo=UTC))),
        (f"id eq {GUID}", c("id", "eq", UUID(GUID))),
        (f"id eq {GUID.upper()}", c("id", "eq", UUID(GUID))),
        (
            "id eq deadbeef-0000-4000-8000-000000000000",
            c("id", "eq", UUID("deadbeef-0000-4000-8000-000000000000")),
        ),
        ("status eq 'Completed'", c("status", "eq", int(JobStatus.COMPLETED))),
        ("status eq 'completedwitherrors'", c("status", "eq", 4)),
        ("status ne 'Cancelled'", c("status", "ne", 5)),
        ("status ge 3", c("status", "ge", 3)),
        ("status eq null", c("status", "eq", None)),
        ("key eq 'k'", c("key", "eq", "k")),
        ("type eq 'reports.daily'", c("type", "eq", "reports.daily")),
        ("description eq 'héllo ✓ 日本語 🎉'", c("description", "eq", "héllo ✓ 日本語 🎉")),
        ("housekeeping eq true", c("housekeeping", "eq", True)),
        ("housekeeping eq false", c("housekeeping", "eq", False)),
        ("housekeeping ne TRUE", c("housekeeping", "ne", True)),
        ("housekeeping eq null", c("housekeeping", "eq", None)),
        ("queue eq 'reports'", c("queue", "eq", "reports")),
        ("priority ge 7", c("priority", "ge", 7)),
        ("maxAttempts gt 1", c("maxAttempts", "gt", 1)),
        ("retries ge 1", c("retries", "ge", 1)),
        ("dueAt ne null", c("dueAt", "ne", None)),
        ("dueAt lt 2026-06-30T12:00Z", c("dueAt", "lt", datetime(2026, 6, 30, 12, tzinfo=UTC))),
    ],
)
def test_literals(text: str, expected: Comparison) -> None:
    assert parse_filter(text) == expected


def test_functions() -> None:
    assert parse_filter("contains(description, 'x')") == Match(
        function="contains", field="description", text="x"
    )
    assert parse_filter("startswith(jobType,'reports.')") == Match(
        function="startswith", field="jobType", text="reports."
    )
    assert parse_filter("contains(description, '50%_/''')") == Match(
        function="contains", field="description", text="50%_/'"
    )


def test_every_documented_field_parses_with_a_literal_of_its_kind() -> None:
    literal = {
        FieldKind.GUID: GUID,
        FieldKind.TEXT: "'x'",
        FieldKind.NUMBER: "1",
        FieldKind.DATETIME: "2026-01-01T00:00:00Z",
        FieldKind.STATUS: "'Queued'",
        FieldKind.BOOLEAN: "true",
    }
    for name, field in FIELDS.items():
        assert field.column in jobs.c, name
        node = parse_filter(f"{name} eq {literal[field.kind]}")
        assert isinstance(node, Comparison)
        assert node.field == name
        assert parse_filter(f"{name} eq null") == c(name, "eq", None)


# -- precedence, parentheses, keywords --------------------------------------------------------

A = c("percent", "eq", 1)
B = c("percent", "eq", 2)
C = c("percent", "eq", 3)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("percent eq 1 or percent eq 2 and percent eq 3", Or(operands=(A, And(operands=(B, C))))),
        ("percent eq 1 and percent eq 2 or percent eq 3", Or(operands=(And(operands=(A, B)), C))),
        ("(percent eq 1 or percent eq 2) and percent eq 3", And(operands=(Or(operands=(A, B)), C))),
        ("not percent eq 1 and percent eq 2", And(operands=(Not(operand=A), B))),
        ("not (percent eq 1 and percent eq 2)", Not(operand=And(operands=(A, B)))),
        ("not not percent eq 1", Not(operand=Not(operand=A))),
        ("percent eq 1 and percent eq 2 and percent eq 3", And(operands=(A, B, C))),
        ("percent eq 1 or percent eq 2 or percent eq 3", Or(operands=(A, B, C))),
        ("((((percent eq 1))))", A),
        ("  percent\teq\n1  ", A),
        ("(percent eq 1)or(percent eq 2)", Or(operands=(A, B))),
    ],
)
def test_precedence_and_parentheses(text: str, expected: Node) -> None:
    assert parse_filter(text) == expected


def test_keywords_are_case_insensitive() -> None:
    assert parse_filter("percent EQ 1 OR Not percent Eq 2 AnD percent eQ 3") == Or(
        operands=(A, And(operands=(Not(operand=B), C)))
    )
    assert parse_filter("workerId eq NULL") == c("workerId", "eq", None)
    assert parse_filter("CONTAINS(description, 'x')") == parse_filter("contains(description,'x')")
    assert parse_filter("StartsWith(description, 'x')") == Match(
        function="startswith", field="description", text="x"
    )
    assert parse_filter("createdAt gt 2026-01-01T00:00:00z") == parse_filter(
        "createdAt gt 2026-01-01T00:00:00Z"
    )


def test_field_names_are_case_sensitive() -> None:
    error = refused("CreatedAt eq null")
    assert error.position == 0
    assert "unknown field 'CreatedAt'" in error.message
    assert "did you mean 'createdAt'" in error.message


# -- errors and their positions --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "position", "expected"),
    [
        ("", 0, "expected a field name, a function or '('"),
        ("   ", 3, "expected a field name, a function or '('"),
        ("percent", 7, "expected a comparison operator"),
        ("description foo 'x'", 12, "expected a comparison operator"),
        ("percent == 5", 8, "unexpected character '='"),
        ("percent eq", 10, "expected a value"),
        ("percent eq and", 11, "expected a value"),
        ("percent eq (", 11, "expected a value"),
        ("nope eq 1", 0, "unknown field 'nope'"),
        ("percent eq 1 and nope eq 1", 17, "unknown field 'nope'"),
        ("(percent eq 1", 13, "expected ')'"),
        ("percent eq 1)", 12, "expected 'and', 'or' or the end of the filter"),
        ("percent eq 1 percent eq 2", 13, "expected 'and', 'or' or the end"),
        ("percent eq 1 and", 16, "expected a field name"),
        ("percent eq 1 or or", 16, "expected a field name"),
        ("percent eq 1 and eq 1", 17, "expected a field name"),
        ("null eq null", 0, "expected a field name"),
        ("()", 1, "expected a field name"),
        ("percent eq 'x'", 11, "expected a number or null for 'percent'"),
        ("percent eq true", 11, "expected a number or null"),
        ("description eq 5", 15, "expected a string or null"),
        ("description eq false", 15, "expected a string or null"),
        ("housekeeping eq 1", 16, "expected true, false or null for 'housekeeping'"),
        ("housekeeping eq 'true'", 16, "expected true, false or null"),
        ("housekeeping eq yes", 16, "expected a value"),
        ("housekeeping gt false", 13, "expected eq or ne for 'housekeeping'"),
        ("housekeeping le null", 13, "expected eq or ne for 'housekeeping'"),
        ("contains(housekeeping, 'x')", 9, "expected a text field for contains()"),
        ("true eq housekeeping", 0, "expected a field name"),
        ("createdAt gt 5", 13, "expected a datetime"),
        ("createdAt gt '2026-01-01T00:00:00Z'", 13, "expected a datetime"),
        ("id eq 'x'", 6, "expected a guid"),
        (f"percent eq {GUID}", 11, "expected a number"),
        ("status eq 'Finished'", 10, "expected a status (Created, Queued"),
        ("status eq 7", 10, "expected a status"),
        ("status eq 99", 10, "expected a status"),
        ("status eq 'Unknown'", 10, "expected a status"),
        ("status eq 3.0", 10, "expected a status"),
        ("percent gt null", 11, "expected eq or ne with null"),
        ("contains(percent, '1')", 9, "expected a text field for contains()"),
        (f"startswith(id, '{GUID[:4]}')", 11, "expected a text field for startswith()"),
        ("contains(description 'x')", 21, "expected ','"),
        ("contains(description, 5)", 22, "expected a quoted string"),
        ("contains(description, 'x'", 25, "expected ')'"),
        ("contains('x', description)", 9, "expected a field name"),
        ("endswith(description, 'x')", 0, "unknown function 'endswith'"),
        ("description eq 'abc", 15, "expected a closing quote"),
        ("description eq 'it''s", 15, "expected a closing quote"),
        ("createdAt gt 2026-01-01", 13, "expected a datetime with a time and a zone"),
        ("createdAt gt 2026-01-01T00:00:00", 13, "expected a datetime with a time and a zone"),
        ("createdAt gt 2026-01-01T00:00:00 01:00", 13, "with a time and a zone"),
        ("createdAt gt 2026-13-01T00:00:00Z", 13, "expected a valid datetime"),
        ("createdAt gt 0001-01-01T00:00:00+01:00", 13, "expected a valid datetime"),
        ("percent eq 12abc", 11, "expected a number, a datetime or a guid"),
        ("percent eq 1.2.3", 11, "expected a number"),
        ("percent eq -", 11, "expected a number"),
        ("percent eq 9223372036854775808", 11, "64-bit integer range"),
        ("percent eq 1 #", 13, "unexpected character '#'"),
        ("percent eq 1; DROP TABLE jobs", 12, "unexpected character ';'"),
        ('percent eq "x"', 11, "unexpected character '\"'"),
        ("créé eq 1", 2, "unexpected character 'é'"),
    ],
)
def test_errors_name_what_was_expected_and_where(text: str, position: int, expected: str) -> None:
    error = refused(text)
    assert error.position == position
    assert expected in error.message
    assert error.message.endswith(f" at position {position}")


def test_invalid_filter_is_invalid_input() -> None:
    error = refused("percent eq")
    assert isinstance(error, InvalidInput)
    assert error.reason == "expected a value"
    assert str(error) == "expected a value at position 10"


def test_the_first_error_in_the_text_is_the_one_reported() -> None:
    # Tokens are read on demand: the unknown field comes before the unterminated string.
    assert refused("nope eq 'abc").position == 0


# -- limits -----------------------------------------------------------------------------------


def test_filter_length_limit() -> None:
    padding = MAX_FILTER_LENGTH - len("percent eq 1")
    assert parse_filter("percent eq 1" + " " * padding) == A
    error = refused("percent eq 1" + " " * (padding + 1))
    assert error.position == MAX_FILTER_LENGTH


def test_nesting_limit() -> None:
    deep = "(" * MAX_DEPTH + "percent eq 1" + ")" * MAX_DEPTH
    assert parse_filter(deep) == A
    error = refused("(" + deep + ")")
    assert error.position == MAX_DEPTH
    assert "nested" in error.message
    nots = "not " * MAX_DEPTH + "percent eq 1"
    assert isinstance(parse_filter(nots), Not)
    assert refused("not " + nots).position == 4 * MAX_DEPTH


def test_comparison_limit() -> None:
    many = " or ".join(["percent eq 1"] * MAX_COMPARISONS)
    node = parse_filter(many)
    assert isinstance(node, Or)
    assert len(node.operands) == MAX_COMPARISONS
    error = refused(many + " or contains(description, 'x')")
    assert error.position == len(many) + 4
    assert f"at most {MAX_COMPARISONS} comparisons" in error.message


def test_string_literal_limit() -> None:
    longest = "x" * MAX_STRING_LENGTH
    assert parse_filter(f"description eq '{longest}'") == c("description", "eq", longest)
    quotes = "''" * MAX_STRING_LENGTH
    assert parse_filter(f"description eq '{quotes}'") == c("description", "eq", "'" * 500)
    error = refused(f"description eq '{longest}x'")
    assert error.position == 15
    assert f"at most {MAX_STRING_LENGTH} characters" in error.message
    assert refused(f"description eq '{quotes}'''").position == 15


# -- hostile input ----------------------------------------------------------------------------

HOSTILE = [
    "'; DROP TABLE jobs; --",
    "description eq ''; DROP TABLE jobs; --",
    "description eq 'x' ; DROP TABLE jobs; --",
    "description eq 'x' -- comment",
    "description eq 'x' /* comment */",
    "percent eq 1 union select * from jobs",
    "percent eq 1 or 1 eq 1",
    "1 eq 1",
    "select eq 1",
    "drop eq 'x'",
    "jobs eq 'x'",
    "where eq null",
    "job_type eq 'x'",
    "jobs.status eq 1",
    "status; eq 1",
    "description eq 'x''",
    "'",
    "''",
    "'''",
    "\\",
    "percent eq 0x10",
    "percent eq 1e10",
    "percent eq NaN",
    "percent eq inf",
    "description eq 'a\x00b'",
    "description eq '\ud800'",
    "description\x00 eq 'x'",
    "\uff50ercent eq 1",
    "percent eq \u0661",
    "(" * 10_000 + "percent eq 1" + ")" * 10_000,
    "(" * 1_000,
    ")" * 1_000,
    "not " * 499,
    "description eq '" + "x" * 1_000_000 + "'",
    "description eq '" + "x" * 1_000_000,
    "x" * 1_000_000,
    "contains(" * 200,
    " and ".join(["percent eq 1"] * 60),
]


@pytest.mark.parametrize("text", HOSTILE, ids=lambda text: repr(text[:40]))
def test_hostile_filters_are_refused(text: str) -> None:
    refused(text)


@pytest.mark.parametrize(
    "text",
    [
        "description eq '''; DROP TABLE jobs; --'",
        "contains(description, ''' OR 1=1 --')",
        "description eq 'Robert''); DROP TABLE jobs;--'",
    ],
)
def test_sql_in_a_string_literal_is_only_a_bound_value(text: str) -> None:
    node = parse_filter(text)
    assert isinstance(node, Match | Comparison)
    for dialect in ("postgresql", "sqlite"):
        statement, params = sql(node, dialect)
        assert "DROP" not in statement
        assert "1=1" not in statement
        assert any(isinstance(v, str) and "--" in v for v in params.values())


VOCABULARY = [
    *FIELDS,
    "eq", "ne", "gt", "ge", "lt", "le", "and", "or", "not", "AND", "Not",
    "contains", "startswith", "(", ")", ",", "null", "true", "false",
    "'x'", "'it''s'", "'Completed'", "'%_'", "'", "''", "0", "-1", "12.5", "99999999999999999999",
    "2026-01-01T00:00:00Z", "2026-01-01T00:00:00+02:00", "2026-01-01", GUID,
    ";", "--", "*", "é", "\x00",
]  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=300))
def test_any_text_parses_or_raises_invalid_filter(text: str) -> None:
    _parse_and_compile(text)


@settings(max_examples=1000, deadline=None)
@given(
    st.lists(st.sampled_from(VOCABULARY), max_size=40),
    st.lists(st.sampled_from(["", " ", "  "]), min_size=40, max_size=40),
)
def test_any_token_soup_parses_or_raises_invalid_filter(
    words: list[str], spaces: list[str]
) -> None:
    text = "".join(word + (space or " ") for word, space in zip(words, spaces, strict=False))
    _parse_and_compile(text)
    _parse_and_compile("".join(word + space for word, space in zip(words, spaces, strict=False)))


def _parse_and_compile(text: str) -> None:
    positions: list[int] = []
    try:
        node = parse_filter(text)
    except InvalidFilter as error:
        positions.append(error.position)
    else:
        sql(node, "postgresql")
        sql(node, "sqlite")
    try:
        parse_orderby(text)
    except InvalidFilter as error:
        positions.append(error.position)
    assert all(0 <= position <= max(len(text), MAX_FILTER_LENGTH) for position in positions)


# -- what a listing's filter implies ---------------------------------------------------------


def test_no_filter_implies_no_housekeeping_jobs() -> None:
    assert implied_filter(None) == c("housekeeping", "eq", False) == NO_HOUSEKEEPING


@pytest.mark.parametrize(
    "text",
    [
        "percent eq 1",
        "percent eq 1 or percent eq 2",
        "not (percent eq 1)",
        "jobType eq 'maintenance.reap_lost_jobs'",
        "description eq 'housekeeping eq true'",
        "contains(description, 'housekeeping')",
    ],
)
def test_a_filter_that_does_not_mention_housekeeping_leaves_those_jobs_out(text: str) -> None:
    node = parse_filter(text)

    assert not mentions(node, "housekeeping")
    assert implied_filter(node) == And(operands=(node, NO_HOUSEKEEPING))


@pytest.mark.parametrize(
    "text",
    [
        "housekeeping eq true",
        "housekeeping eq false",
        "housekeeping eq true or housekeeping eq false",
        "percent eq 1 and housekeeping ne false",
        "not (percent eq 1 or not housekeeping eq true)",
        "((housekeeping eq null))",
    ],
)
def test_a_filter_that_mentions_housekeeping_is_taken_as_it_is(text: str) -> None:
    node = parse_filter(text)

    assert mentions(node, "housekeeping")
    assert implied_filter(node) == node


def test_the_aims360_view_asks_for_housekeeping_jobs_by_the_same_name() -> None:
    node = parse_filter("jobStatus eq 'Failed' and housekeeping eq true", AIMS360_FIELDS)

    assert implied_filter(node) == node
    assert implied_filter(parse_filter("jobStatus eq 'Failed'", AIMS360_FIELDS)) == And(
        operands=(parse_filter("status eq 4 or status eq 5"), NO_HOUSEKEEPING)
    )


# -- compiled SQL -----------------------------------------------------------------------------


def test_a_boolean_compiles_to_a_plain_comparison_with_a_bound_boolean() -> None:
    statement, params = sql(parse_filter("housekeeping eq true"))
    assert "jobs.housekeeping = %(param_1)s" in statement
    assert "IS NOT NULL" not in statement
    assert list(params.values()) == [True]
    statement, params = sql(parse_filter("housekeeping ne true"), "sqlite")
    assert "jobs.housekeeping != ?" in statement
    assert list(params.values()) == [True]


def test_null_comparisons_compile_to_is_null() -> None:
    assert "jobs.worker_id IS NULL" in sql(parse_filter("workerId eq null"))[0]
    assert "jobs.worker_id IS NOT NULL" in sql(parse_filter("workerId ne null"))[0]


def test_comparisons_on_nullable_columns_are_never_unknown() -> None:
    statement, _ = sql(parse_filter("workerId ne 'w1'"))
    assert "jobs.worker_id IS DISTINCT FROM" in statement
    statement, _ = sql(parse_filter("not (workerId eq 'w1')"))
    assert "jobs.worker_id IS NOT NULL AND jobs.worker_id =" in statement
    # Not-null columns stay plain, so their indexes serve them.
    statement, _ = sql(parse_filter("organization ne 'acme'"))
    assert "jobs.organization !=" in statement
    assert "IS NOT NULL" not in statement


def test_status_compiles_to_its_code_and_integers_bind_as_bigint() -> None:
    statement, params = sql(parse_filter("status eq 'Completed' and percent lt 100000"))
    assert list(params.values()) == [3, 100000]
    assert "::BIGINT" in statement
    assert "SMALLINT" not in statement


def test_like_wildcards_are_escaped() -> None:
    statement, params = sql(parse_filter("contains(description, '50%_a/b')"))
    assert "LIKE '%%' ||" in statement
    assert "ESCAPE '/'" in statement
    assert list(params.values()) == ["50/%/_a//b"]
    statement, params = sql(parse_filter("startswith(key, '%')"))
    assert list(params.values()) == ["/%"]
    # SQLite's LIKE ignores ASCII case; instr() does not, and needs no escaping.
    statement, params = sql(parse_filter("contains(description, '50%_a/b')"), "sqlite")
    assert "instr(jobs.description, ?)" in statement
    assert "LIKE" not in statement
    assert "50%_a/b" in params.values()


# -- $orderby ---------------------------------------------------------------------------------


def test_parse_orderby() -> None:
    assert parse_orderby("createdAt desc, id") == [("created_at", True), ("id", False)]
    assert parse_orderby(" status DESC ,percent Asc,key") == [
        ("status", True),
        ("percent", False),
        ("concurrency_key", False),
    ]
    assert parse_orderby("type") == [("job_type", False)]


@pytest.mark.parametrize(
    ("text", "position", "expected"),
    [
        ("", 0, "expected a field name"),
        ("createdAt,", 10, "expected a field name"),
        (",id", 0, "expected a field name"),
        ("createdAt desc desc", 15, "expected ',' or the end"),
        ("createdAt sideways", 10, "expected asc, desc, ',' or the end"),
        ("id, nope desc", 4, "unknown field 'nope'"),
        ("id, CreatedAt", 4, "did you mean 'createdAt'"),
        ("'id'", 0, "expected a field name"),
        ("id; DROP TABLE jobs", 2, "unexpected character ';'"),
        ("a, b, c, d, e, f", 0, "unknown field 'a'"),
        ("id, id, id, id, id, id", 20, f"at most {MAX_ORDERBY_KEYS} keys"),
        ("id desc" + " " * MAX_FILTER_LENGTH, MAX_FILTER_LENGTH, "at most"),
    ],
)
def test_orderby_errors(text: str, position: int, expected: str) -> None:
    with pytest.raises(InvalidFilter) as caught:
        parse_orderby(text)
    assert caught.value.position == position
    assert expected in caught.value.message


def test_order_by_clauses_put_nulls_first_ascending_only_on_nullable_columns() -> None:
    keys = parse_orderby("createdAt desc, completedAt, workerId desc, id")
    rendered = [str(clause) for clause in order_by_clauses(keys)]
    assert rendered == [
        "jobs.created_at DESC",
        "jobs.completed_at ASC NULLS FIRST",
        "jobs.worker_id DESC NULLS LAST",
        "jobs.id ASC",
    ]


def test_a_quoted_guid_is_a_guid_as_aims360_clients_write_it() -> None:
    assert parse_filter(f"id eq '{GUID}'") == parse_filter(f"id eq {GUID}")


def test_aims360_names_stand_for_native_fields() -> None:
    aims = parse_filter(f"jobId eq '{GUID}' and percentCompleted ge 50", AIMS360_FIELDS)
    assert aims == parse_filter(f"id eq {GUID} and percent ge 50")


@pytest.mark.parametrize(
    ("text", "native"),
    [
        ("jobStatus eq 'Completed'", "status eq 3"),
        ("jobStatus eq 'queued'", "status eq 0 or status eq 1"),
        ("jobStatus eq 'Failed'", "status eq 4 or status eq 5"),
        ("jobStatus ne 'Failed'", "status ne 4 and status ne 5"),
        ("jobStatus eq 'Inprogress'", "status eq 2"),
    ],
)
def test_aims360_job_status_stands_for_its_jobhub_statuses(text: str, native: str) -> None:
    assert parse_filter(text, AIMS360_FIELDS) == parse_filter(native)


@pytest.mark.parametrize(
    ("text", "position"),
    [("jobStatus gt 'Completed'", 10), ("jobStatus eq 'Running'", 13), ("jobStatus eq 3", 13)],
)
def test_aims360_job_status_takes_its_four_labels_with_eq_or_ne(text: str, position: int) -> None:
    with pytest.raises(InvalidFilter) as caught:
        parse_filter(text, AIMS360_FIELDS)
    assert caught.value.position == position


def test_native_names_are_not_aims360_names() -> None:
    with pytest.raises(InvalidFilter, match="unknown field 'status'"):
        parse_filter("status eq 'Completed'", AIMS360_FIELDS)
