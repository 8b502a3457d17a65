"""Hostile and random input at the live HTTP API: a real uvicorn, a real worker, real
PostgreSQL and Redis, one server pair for the whole module.

* ``$filter`` and ``$orderby`` garbage on both query routes (``/jobs`` and the AIMS360
  view) is a 400 problem naming the character position, never a 5xx and never a 200;
* inputs just inside each limit of the filter language are answered (200), so the limits
  refuse exactly what they say and the SQL behind them copes with the extremes;
* SQL-looking text that is properly quoted is data: it finds the job that carries it;
* hostile JSON bodies (unstorable text in a new job, nonsense schedules) are a 4xx problem;
* hypothesis throws random text, token soup and random well-formed expressions at
  ``$filter`` and ``$orderby``: always 200 or 400;
* schemathesis walks every operation of the live OpenAPI document with an admin key and
  finds no server error.

Found this way, and pinned by tests here: a schedule ``start``/``stop`` whose UTC instant
leaves years 1..9999 was a 500; ``GET /jobs/{id}/messages?after=`` past 2**63-1 was a
503; ``Prefer: odata.maxpagesize=1000`` (the documented maximum) was a 400.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import schemathesis
from hypothesis import HealthCheck, event, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error

from jobhub import JobManager, JobStatus, Settings, odata
from jobhub.odata import MAX_COMPARISONS, MAX_DEPTH, MAX_STRING_LENGTH
from tests import services as svc
from tests.conftest import ApiServer, Processes, copied_database, own_queue, quick_settings

ORGANIZATION = "fuzz-org"
IDENTITY = "fuzzer@example.com"
SEEDED = 3
SQL_TEXT = "x'; DROP TABLE jobs; --"
KNOWN_TYPE = "diagnostics.echo"
PROBLEM_JSON = "application/problem+json"
_FUZZ_SETTINGS = hypothesis_settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# -- one server pair for the module -----------------------------------------------------


@pytest.fixture(scope="module")
def fuzz_database_url(services: svc.Services, template_database: str) -> Iterator[str]:
    """A database of this module's own, copied from the migrated template."""
    with copied_database(services, template_database) as url:
        yield url


@pytest.fixture(scope="module")
def fuzz_queue(services: svc.Services) -> Iterator[str]:
    with own_queue(services) as name:
        yield name


@pytest.fixture(scope="module")
def fuzz_settings(
    fuzz_database_url: str,
    services: svc.Services,
    fuzz_queue: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Settings:
    return quick_settings(
        tmp_path_factory.mktemp("fuzz-data"), fuzz_database_url, services, fuzz_queue
    )


@pytest.fixture(scope="module")
def fuzz_manager(fuzz_settings: Settings) -> Iterator[JobManager]:
    jobs = JobManager.from_settings(fuzz_settings)
    yield jobs
    jobs.close()


@pytest.fixture(scope="module")
def api(fuzz_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """One worker and one API server on the module's database and queue."""
    started = Processes(Path(tmp_path_factory.mktemp("fuzz")))
    try:
        started.worker(fuzz_settings)
        yield started.api(fuzz_settings)
    finally:
        started.stop_all()


@pytest.fixture(scope="module")
def admin_token(fuzz_manager: JobManager) -> str:
    return fuzz_manager.access.create_api_key(
        identity=IDENTITY, organization=ORGANIZATION, role="admin"
    ).token


@pytest.fixture(scope="module")
def seeded(api: ApiServer, fuzz_manager: JobManager) -> list[uuid.UUID]:
    """A few completed jobs in the key's organization, so queries have rows to scan."""
    ids = [
        fuzz_manager.start_job(
            KNOWN_TYPE,
            {"message": f"seed {n}"},
            identity=IDENTITY,
            organization=ORGANIZATION,
            description=f"seed {n}",
        ).id
        for n in range(SEEDED)
    ]
    done = fuzz_manager.wait_for_completion(ids, timeout=60)
    assert [job.status for job in done] == [JobStatus.COMPLETED] * SEEDED, api.process.log()
    return ids


@pytest.fixture(scope="module")
def client(api: ApiServer, admin_token: str, seeded: list[uuid.UUID]) -> Iterator[httpx.Client]:
    with api.client(admin_token) as http:
        yield http


def _explain(api: ApiServer, response: httpx.Response) -> str:
    """What a failed assertion needs: the request, the answer and the server's log."""
    request = response.request
    return (
        f"{request.method} {request.url}\n-> {response.status_code} "
        f"{response.headers.get('content-type')}\n{response.text[:2000]}\n"
        f"--- api log (tail) ---\n{api.process.log()[-4000:]}"
    )


# -- the two query vocabularies ----------------------------------------------------------


@dataclass(frozen=True)
class Vocab:
    """One query route and a field of each kind in its $filter language."""

    name: str
    path: str
    text: str
    number: str
    time: str
    guid: str
    status: str

    def __str__(self) -> str:
        return self.name


NATIVE = Vocab("native", "/jobs", "jobType", "percent", "createdAt", "id", "status")
AIMS360 = Vocab(
    "aims360",
    "/jobsmanagement/odata/v1.0/backgroundjob",
    "categoryName",
    "percentCompleted",
    "createdDate",
    "jobId",
    "jobStatus",
)
VOCABS = [NATIVE, AIMS360]

Case = Callable[[Vocab], tuple[str, int]]
"""A hostile input for a vocabulary, and the 0-based position the 400 must name."""


def _at(text: str, part: str | int) -> tuple[str, int]:
    """``text`` and where ``part`` first occurs in it (or ``part`` itself, an offset)."""
    return text, part if isinstance(part, int) else text.index(part)


def _last(text: str, part: str) -> tuple[str, int]:
    return text, text.rindex(part)


def _end(text: str) -> tuple[str, int]:
    return text, len(text)


def _or_chain(v: Vocab, n: int) -> tuple[str, int]:
    clause = f"{v.text} eq 'x'"
    text = " or ".join([clause] * n)
    return text, MAX_COMPARISONS * (len(clause) + len(" or "))


HOSTILE_FILTERS: dict[str, Case] = {
    # quotes
    "unbalanced-quote": lambda v: _at(f"{v.text} eq 'a''", "'a"),
    "unterminated-string": lambda v: _at(f"{v.text} eq 'abc", "'"),
    "lone-quote": lambda v: _at("'", 0),
    "double-quotes": lambda v: _at(f'{v.text} eq "x"', '"'),
    "backslash-is-no-escape": lambda v: _at(f"{v.text} eq 'x\\' or 1 eq 1 --'", "1 eq"),
    # SQL
    "stacked-sql": lambda v: _at(f"{v.text} eq 'x'; DROP TABLE jobs; --", ";"),
    "lone-semicolon": lambda v: _at(";", 0),
    "one-eq-one": lambda v: _at("1 eq 1 or 1=1", 0),
    "or-1=1-after-string": lambda v: _at(f"{v.text} eq 'x' or 1=1", "1=1"),
    "union-select": lambda v: _at(f"{v.text} eq 'x' UNION SELECT * FROM api_keys", "UNION"),
    "block-comment": lambda v: _at("/* */", 0),
    "block-comment-after": lambda v: _at(f"{v.text} eq 'x' /* */", "/"),
    "line-comment": lambda v: _at(f"{v.text} eq 'x' --", "--"),
    "sql-equals": lambda v: _at(f"{v.text} = 'x'", "="),
    "sql-like": lambda v: _at(f"{v.text} LIKE '%'", "LIKE"),
    "bare-sql-word": lambda v: _at("DROP", 0),
    "column-name": lambda v: _at("job_type eq 'x'", 0),
    "reserved-word-as-field": lambda v: _at("and eq 'x'", 0),
    "percent-sign": lambda v: _at(f"{v.text} eq %", "%"),
    # structure
    "open-paren": lambda v: _end(f"({v.text} eq 'x'"),
    "close-paren": lambda v: _at(f"{v.text} eq 'x')", ")"),
    "empty-parens": lambda v: _at("()", ")"),
    "trailing-and": lambda v: _end(f"{v.text} eq 'x' and"),
    "only-not": lambda v: _end("not"),
    "no-value": lambda v: _end(f"{v.text} eq"),
    "field-as-value": lambda v: _last(f"{v.text} eq {v.text}", v.text),
    "bad-operator": lambda v: _at(f"{v.text} equals 'x'", "equals"),
    "null-ordered": lambda v: _at(f"{v.text} gt null", "null"),
    "bool-for-text": lambda v: _at(f"{v.text} eq true", "true"),
    # limits
    "25-nested-parens": lambda v: _at("(" * 25 + f"{v.text} eq 'x'" + ")" * 25, MAX_DEPTH),
    "30-nots": lambda v: _at("not " * 30 + f"{v.text} eq 'x'", MAX_DEPTH * len("not ")),
    "60-ors": lambda v: _or_chain(v, 60),
    "600-char-string": lambda v: _at(f"{v.text} eq '{'a' * 600}'", "'"),
    # characters
    "nul-in-string": lambda v: _at(f"{v.text} eq 'a\x00b'", "'"),
    "nul-between-tokens": lambda v: _at(f"{v.text} eq\x00'x'", "\x00"),
    "unicode-unquoted": lambda v: _at(f"{v.text} eq ünïcødé", "ü"),
    "homoglyph-field": lambda v: _at("job\u0422ype eq 'x'", "\u0422"),  # Cyrillic Te
    "fullwidth-digits": lambda v: _at(f"{v.number} eq \uff11\uff12", "\uff11"),
    "emoji-after": lambda v: _at(f"{v.text} eq 'x' 🚀", "🚀"),
    "rtl-override": lambda v: _at(f"\u202e{v.text} eq 'x'", 0),
    # numbers
    "int64-overflow": lambda v: _at(f"{v.number} eq 9223372036854775808", "9"),
    "int64-underflow": lambda v: _at(f"{v.number} eq -9223372036854775809", "-"),
    "400-digit-int": lambda v: _at(f"{v.number} eq {'9' * 400}", "9"),
    "decimal-overflow": lambda v: _at(f"{v.number} gt 9223372036854775807.5", "9"),
    "exponent": lambda v: _at(f"{v.number} eq 1e400", "1e"),
    "nan": lambda v: _at(f"{v.number} eq NaN", "NaN"),
    # datetimes
    "impossible-datetime": lambda v: _at(f"{v.time} gt 2026-13-45T99:00:00Z", "2026"),
    "datetime-without-zone": lambda v: _at(f"{v.time} gt 2026-01-01T00:00:00", "2026"),
    "date-only": lambda v: _at(f"{v.time} gt 2026-01-01", "2026"),
    "year-zero": lambda v: _at(f"{v.time} gt 0000-01-01T00:00:00Z", "0000"),
    "past-year-9999": lambda v: _at(f"{v.time} gt 9999-12-31T23:59:59-01:00", "9999"),
    "before-year-1": lambda v: _at(f"{v.time} lt 0001-01-01T00:00:00+01:00", "0001"),
    "datetime-for-text": lambda v: _at(f"{v.text} eq 2026-01-01T00:00:00Z", "2026"),
    "string-for-datetime": lambda v: _at(f"{v.time} gt 'yesterday'", "'"),
    # guids and statuses
    "not-a-guid": lambda v: _at(f"{v.guid} eq 'not-a-guid'", "'"),
    "guid-too-long": lambda v: _at(f"{v.guid} eq 0f8fad5b-d9cb-469f-a165-70867728950eff", "0f"),
    "unknown-status": lambda v: _at(f"{v.status} eq 'Bogus'", "'"),
    "huge-status-code": lambda v: _at(f"{v.status} eq 99999999999", "9"),
    # fields and functions
    "unknown-field": lambda v: _at("password eq 'x'", 0),
    "field-wrong-case": lambda v: _at(f"{v.text.upper()} eq 'x'", 0),
    "substringof": lambda v: _at(f"substringof('x', {v.text})", 0),
    "endswith": lambda v: _at(f"endswith({v.text}, 'x')", 0),
    "tolower": lambda v: _at(f"tolower({v.text}) eq 'x'", 0),
    "contains-number-field": lambda v: _at(f"contains({v.number}, 'x')", v.number),
    "contains-number-arg": lambda v: _at(f"contains({v.text}, 1)", "1"),
    "contains-no-comma": lambda v: _at(f"contains({v.text} 'x')", "'"),
}

HOSTILE_ORDERBYS: dict[str, Case] = {
    "direction-twice": lambda v: _last(f"{v.time} desc desc", "desc"),
    "stacked-sql": lambda v: _at(f"{v.time}; DROP TABLE jobs", ";"),
    "sql-comment": lambda v: _at(f"{v.time} -- x", "--"),
    "empty-key": lambda v: _last(f"{v.time}, , {v.guid}", ","),
    "unknown-direction": lambda v: _at(f"{v.time} sideways", "sideways"),
    "trailing-comma": lambda v: _end(f"{v.guid} asc,"),
    "unknown-field": lambda v: _at("password", 0),
    "column-name": lambda v: _at("created_at desc", 0),
    "six-keys": lambda v: _last(", ".join([f"{v.time} asc"] * 6), v.time),
    "parenthesised": lambda v: _at(f"({v.time})", 0),
    "quoted": lambda v: _at(f"'{v.time}'", 0),
    "number": lambda v: _at("1", 0),
    "nulls-last": lambda v: _at(f"{v.time} desc NULLS LAST", "NULLS"),
    "function": lambda v: _at("random()", 0),
    "nul": lambda v: _at(f"{v.time}\x00", "\x00"),
}


def _problem(api: ApiServer, response: httpx.Response) -> dict[str, Any]:
    """The 400 problem body, after checking it is one."""
    assert response.status_code == 400, _explain(api, response)
    assert response.headers["content-type"].startswith(PROBLEM_JSON), _explain(api, response)
    body: dict[str, Any] = response.json()
    assert body["status"] == 400
    return body


@pytest.mark.parametrize("vocab", VOCABS, ids=str)
@pytest.mark.parametrize("case", list(HOSTILE_FILTERS))
def test_a_hostile_filter_is_a_400_naming_the_position(
    api: ApiServer, client: httpx.Client, vocab: Vocab, case: str
) -> None:
    text, position = HOSTILE_FILTERS[case](vocab)

    response = client.get(vocab.path, params={"$filter": text})

    body = _problem(api, response)
    assert body["type"] == "urn:jobhub:problem:InvalidFilter", body
    assert body["position"] == position, (text, body)


@pytest.mark.parametrize("vocab", VOCABS, ids=str)
@pytest.mark.parametrize("case", list(HOSTILE_ORDERBYS))
def test_a_hostile_orderby_is_a_400_naming_the_position(
    api: ApiServer, client: httpx.Client, vocab: Vocab, case: str
) -> None:
    text, position = HOSTILE_ORDERBYS[case](vocab)

    response = client.get(vocab.path, params={"$orderby": text})

    body = _problem(api, response)
    assert body["type"] == "urn:jobhub:problem:InvalidFilter", body
    assert body["position"] == position, (text, body)


@pytest.mark.parametrize("vocab", VOCABS, ids=str)
@pytest.mark.parametrize(
    ("name", "size"), [("$filter", 5000), ("$filter", 2001), ("$orderby", 600)]
)
def test_an_overlong_expression_is_refused_before_parsing(
    api: ApiServer, client: httpx.Client, vocab: Vocab, name: str, size: int
) -> None:
    """FastAPI's ``max_length`` refuses it first: a 400 naming the parameter (the
    parser's own length limit, with its position, is never reached over HTTP)."""
    text = (f"{vocab.text} eq 'x' or " * size)[:size]

    response = client.get(vocab.path, params={name: text})

    body = _problem(api, response)
    assert body["type"] == "urn:jobhub:problem:InvalidInput", body
    assert [error["name"] for error in body["errors"]] == [f"query.{name}"], body


RAW_QUERIES = {
    # percent-encodings a client library would never produce from a str
    "nul": ("%00", 0),
    "overlong-nul": ("%C0%80", 0),
    "surrogate-half": ("%ED%A0%80", 0),
    "lone-continuation-byte": ("%80", 0),
    "invalid-byte": ("%FF%FE", 0),
    "surrogate-after-field": ("{text}%20eq%20%ED%B0%80", "{text} eq "),
    "nul-after-string": ("{text}%20eq%20'x'%00", "{text} eq 'x'"),
}


@pytest.mark.parametrize("vocab", VOCABS, ids=str)
@pytest.mark.parametrize("case", list(RAW_QUERIES))
def test_a_broken_percent_encoding_is_a_400(
    api: ApiServer, client: httpx.Client, vocab: Vocab, case: str
) -> None:
    raw, before = RAW_QUERIES[case]
    query = raw.format(text=vocab.text)
    position = before if isinstance(before, int) else len(before.format(text=vocab.text))

    response = client.get(f"{vocab.path}?%24filter={query}")

    body = _problem(api, response)
    assert body["position"] == position, (query, body)


@pytest.mark.parametrize("vocab", VOCABS, ids=str)
@pytest.mark.parametrize(
    "raw",
    ["'%ED%A0%80'", "'%00'", "'%FF'", "'%C0%80'"],
    ids=["surrogate-half", "nul", "invalid-byte", "overlong-nul"],
)
def test_broken_bytes_inside_a_string_are_data_or_a_400(
    api: ApiServer, client: httpx.Client, vocab: Vocab, raw: str
) -> None:
    """Starlette decodes the query string leniently (U+FFFD for bad UTF-8), so inside a
    quoted string a broken byte may be data that matches nothing; a NUL never is."""
    response = client.get(f"{vocab.path}?%24filter={vocab.text}%20eq%20{raw}")

    if response.status_code == 200:
        assert response.json()["value"] == [], _explain(api, response)
    else:
        assert _problem(api, response)["position"] == len(f"{vocab.text} eq "), response.text
    if raw == "'%00'":
        assert response.status_code == 400


# -- just inside every limit: answered, and right ----------------------------------------

SOME, NONE = "some", "none"
QUOTE = "''"
"""A quote inside a string literal: one character of the value."""
Valid = Callable[[Vocab], str]

VALID_FILTERS: dict[str, tuple[Valid, str]] = {
    "20-nested-parens": (lambda v: "(" * MAX_DEPTH + f"{v.text} ne 'zzz'" + ")" * MAX_DEPTH, SOME),
    "20-nots": (lambda v: "not " * MAX_DEPTH + f"{v.text} eq 'zzz'", NONE),
    "19-nots": (lambda v: "not " * (MAX_DEPTH - 1) + f"{v.text} eq 'zzz'", SOME),
    "50-comparisons": (
        lambda v: " or ".join(
            [f"{v.text} eq 'zzz'"] * (MAX_COMPARISONS - 1) + [f"{v.text} ne 'z'"]
        ),
        SOME,
    ),
    "500-char-string": (lambda v: f"{v.text} eq '{'a' * MAX_STRING_LENGTH}'", NONE),
    "500-char-string-of-quotes": (lambda v: f"{v.text} eq '{QUOTE * MAX_STRING_LENGTH}'", NONE),
    "int64-max": (lambda v: f"{v.number} lt 9223372036854775807", SOME),
    "int64-min": (lambda v: f"{v.number} gt -9223372036854775807", SOME),
    "long-decimal": (lambda v: f"{v.number} gt 0.{'0' * 1900}1", SOME),
    "decimal": (lambda v: f"{v.number} eq 1.5", NONE),
    "year-1": (lambda v: f"{v.time} gt 0001-01-01T00:00:00Z", SOME),
    "year-9999": (lambda v: f"{v.time} lt 9999-12-31T23:59:59.999999Z", SOME),
    "plus-offset": (lambda v: f"{v.time} gt 2000-01-01T00:00:00+14:00", SOME),
    "zero-guid": (lambda v: f"{v.guid} eq 00000000-0000-0000-0000-000000000000", NONE),
    "quoted-guid": (lambda v: f"{v.guid} eq '00000000-0000-0000-0000-000000000000'", NONE),
    "status": (lambda v: f"{v.status} eq 'Completed'", SOME),
    "quoted-sql-is-data": (lambda v: f"{v.text} eq 'x'' OR ''1''=''1'", NONE),
    "quoted-comment-is-data": (lambda v: f"{v.text} eq '/* */ --'", NONE),
    "unicode-is-data": (lambda v: f"{v.text} eq 'ünïcødé 🚀 \u202e 中文'", NONE),
    "keywords-any-case": (lambda v: f"{v.text} NE 'zzz' AND NOT ({v.text} EQ 'zzz')", SOME),
    "odd-whitespace": (lambda v: f"\t{v.text}\nne\r\n'zzz'  ", SOME),
    "null": (lambda v: f"{v.text} eq null", NONE),
    "like-percent-is-literal": (lambda v: f"contains({v.text}, '%')", NONE),
    "like-underscore-is-literal": (lambda v: f"startswith({v.text}, '_')", NONE),
    "like-escape-char": (lambda v: f"contains({v.text}, '/')", NONE),
    "backslash": (lambda v: f"contains({v.text}, '\\')", NONE),
    "trailing-backslash": (lambda v: f"startswith({v.text}, 'x\\')", NONE),
    "empty-string-contains": (lambda v: f"contains({v.text}, '')", SOME),
    "whitespace-only": (lambda v: "   ", SOME),
}


@pytest.mark.parametrize("vocab", VOCABS, ids=str)
@pytest.mark.parametrize("case", list(VALID_FILTERS))
def test_a_filter_just_inside_the_limits_is_answered(
    api: ApiServer, client: httpx.Client, vocab: Vocab, case: str
) -> None:
    build, expected = VALID_FILTERS[case]
    text = build(vocab)

    response = client.get(vocab.path, params={"$filter": text, "$count": "true"})

    assert response.status_code == 200, _explain(api, response)
    body = response.json()
    assert len(body["value"]) == body["@odata.count"]
    if expected == SOME:
        assert body["@odata.count"] >= SEEDED, (text, body)
    else:
        assert body["@odata.count"] == 0, (text, body)


@pytest.mark.parametrize("vocab", VOCABS, ids=str)
def test_five_orderby_keys_are_answered(api: ApiServer, client: httpx.Client, vocab: Vocab) -> None:
    keys = [f"{vocab.time} DESC", vocab.guid, f"{vocab.number} asc", vocab.status, vocab.text]
    text = ",".join(keys)

    response = client.get(vocab.path, params={"$orderby": text})

    assert response.status_code == 200, _explain(api, response)
    assert len(response.json()["value"]) >= SEEDED


@pytest.mark.parametrize("vocab", VOCABS, ids=str)
def test_the_largest_documented_page_size_is_answered(
    api: ApiServer, client: httpx.Client, vocab: Vocab
) -> None:
    """``Prefer: odata.maxpagesize=N`` takes N up to 1,000 (jobhub/api/routes/jobs.py)."""
    response = client.get(vocab.path, headers={"Prefer": "odata.maxpagesize=1000"})

    assert response.status_code == 200, _explain(api, response)


# -- quoted SQL is only ever data ---------------------------------------------------------


def test_quoted_sql_in_a_filter_finds_the_job_that_carries_it(
    api: ApiServer,
    client: httpx.Client,
    fuzz_manager: JobManager,
    fuzz_database_url: str,
) -> None:
    started = client.post(
        "/jobs",
        json={
            "type": KNOWN_TYPE,
            "parameters": {"message": SQL_TEXT},
            "description": SQL_TEXT,
            "key": SQL_TEXT,
        },
    )
    assert started.status_code == 201, _explain(api, started)
    job_id = started.json()["id"]
    (done,) = fuzz_manager.wait_for_completion([job_id], timeout=30)
    assert done.status is JobStatus.COMPLETED
    quoted = "'" + SQL_TEXT.replace("'", "''") + "'"

    for path, field in [
        ("/jobs", "description"),
        ("/jobs", "key"),
        (AIMS360.path, "jobDescription"),
    ]:
        response = client.get(path, params={"$filter": f"{field} eq {quoted}"})
        assert response.status_code == 200, _explain(api, response)
        found = response.json()["value"]
        ids = [record.get("id", record.get("jobID")) for record in found]
        assert ids == [job_id], (path, field, found)

    unquoted = client.get("/jobs", params={"$filter": f"description eq {SQL_TEXT}"})
    assert _problem(api, unquoted)["position"] == len("description eq ")

    with psycopg.connect(svc.libpq_url(fuzz_database_url)) as connection:
        (table,) = connection.execute("SELECT to_regclass('jobs')::text").fetchone() or (None,)
        (rows,) = connection.execute("SELECT count(*) FROM jobs").fetchone() or (0,)
    assert table == "jobs"
    assert rows >= SEEDED + 1
    assert fuzz_manager.get_job(job_id).description == SQL_TEXT


# -- hostile bodies ----------------------------------------------------------------------

BAD_TEXT = {"nul": "\\u0000", "high-surrogate": "\\ud800", "low-surrogate": "\\udfff"}
"""JSON escapes of text PostgreSQL cannot store (NUL) or UTF-8 cannot encode."""
JOB_BODIES = {
    "type": '{{"type": "{bad}"}}',
    "description": '{{"type": "diagnostics.echo", "description": "{bad}"}}',
    "key": '{{"type": "diagnostics.echo", "key": "x{bad}"}}',
    "clientRequestId": '{{"type": "diagnostics.echo", "clientRequestId": "{bad}"}}',
    "parameter": '{{"type": "diagnostics.echo", "parameters": {{"message": "{bad}"}}}}',
    "nested-key": '{{"type": "diagnostics.echo", "parameters": {{"data": {{"{bad}": 1}}}}}}',
}


@pytest.mark.parametrize("bad", list(BAD_TEXT))
@pytest.mark.parametrize("field", list(JOB_BODIES))
def test_unstorable_text_in_a_new_job_is_refused(
    api: ApiServer, client: httpx.Client, field: str, bad: str
) -> None:
    """PostgreSQL stores neither NUL nor a lone surrogate: refused, and nothing started."""
    body = JOB_BODIES[field].format(bad=BAD_TEXT[bad])
    before = client.get("/jobs", params={"$count": "true", "$top": "1"}).json()["@odata.count"]

    response = client.post("/jobs", content=body, headers={"Content-Type": "application/json"})

    assert response.status_code in (400, 404, 422), _explain(api, response)
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    after = client.get("/jobs", params={"$count": "true", "$top": "1"}).json()["@odata.count"]
    assert after == before


HOSTILE_SCHEDULES: dict[str, dict[str, Any]] = {
    "zero-interval": {"interval": "0s"},
    "negative-interval": {"interval": "-1s"},
    "endless-interval": {"interval": "99999999999999999999d"},
    "exponent-interval": {"interval": "1e3s"},
    "fullwidth-interval": {"interval": "\uff11s"},
    "iso-interval": {"interval": "P1D"},
    "nul-interval": {"interval": "1s\x00"},
    "hour-25": {"at": "25:00"},
    "second-60": {"at": "09:30:60"},
    "nul-time": {"at": "\x00"},
    "unknown-zone": {"interval": "1h", "tz": "Mars/Olympus"},
    "zone-path-traversal": {"interval": "1h", "tz": "../../etc/passwd"},
    "zone-absolute-path": {"interval": "1h", "tz": "/etc/localtime"},
    "zone-nul": {"interval": "1h", "tz": "UTC\x00"},
    "zone-5000-chars": {"interval": "1h", "tz": "a" * 5000},
    "stop-before-start": {
        "interval": "1h",
        "start": "2030-01-01T00:00:00Z",
        "stop": "2020-01-01T00:00:00Z",
    },
    "naive-start": {"interval": "1h", "start": "2030-01-01T00:00:00"},
    "unknown-day": {"at": "09:00", "days": "Funday"},
    "day-soup": {"at": "09:00", "days": "Mon-Sun-Fri"},
    "interval-and-time": {"interval": "1h", "at": "09:00"},
    "nothing": {},
    "unknown-parameter": {"interval": "1h", "parameters": {"nope": 1}},
    "nul-parameter": {"interval": "1h", "parameters": {"message": "\x00"}},
    "101-schedules": {"schedules": [{"interval": "1h"}] * 101},
    "unknown-member": {"interval": "1h", "cron": "* * * * *"},
}


@pytest.mark.parametrize("case", list(HOSTILE_SCHEDULES))
def test_a_hostile_schedule_is_refused(api: ApiServer, client: httpx.Client, case: str) -> None:
    """400 or 422 with a problem, and the type's schedules stay as they were."""
    path = f"/job-types/{KNOWN_TYPE}/schedules"
    before = client.get(path).json()["value"]

    response = client.put(path, json=HOSTILE_SCHEDULES[case])

    assert response.status_code in (400, 422), _explain(api, response)
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    assert client.get(path).json()["value"] == before


@pytest.mark.parametrize(
    "bounds",
    [
        pytest.param({"start": "9999-12-31T23:59:59-12:00"}, id="start-past-9999"),
        pytest.param({"stop": "9999-12-31T23:00:00-01:00"}, id="stop-past-9999"),
        pytest.param({"start": "0001-01-01T00:00:00+01:00"}, id="start-before-1"),
        pytest.param({"stop": "0001-01-01T00:30:00+01:00"}, id="stop-before-1"),
    ],
)
def test_a_schedule_bound_beyond_the_datetime_range_is_a_400(
    api: ApiServer, admin_token: str, bounds: dict[str, str]
) -> None:
    # a client of its own: after a 500 uvicorn drops the connection, and the next request
    # on it (the module's client) would fail with "connection reset by peer"
    with api.client(admin_token) as http:
        response = http.put(f"/job-types/{KNOWN_TYPE}/schedules", json={"interval": "1h", **bounds})

    assert response.status_code == 400, _explain(api, response)
    assert response.headers["content-type"].startswith(PROBLEM_JSON)


# -- random input ------------------------------------------------------------------------

_WORDS = [
    *{getattr(v, kind) for v in VOCABS for kind in ("text", "number", "time", "guid", "status")},
    "description",
    "key",
    "jobDescription",
    "eq",
    "ne",
    "gt",
    "ge",
    "lt",
    "le",
    "and",
    "or",
    "not",
    "NOT",
    "contains",
    "startswith",
    "null",
    "true",
    "asc",
    "desc",
    "(",
    ")",
    ",",
    "'",
    "''",
    "'x'",
    "'Completed'",
    "'Failed'",
    "1",
    "-1",
    "1.5",
    "9223372036854775807",
    "9223372036854775808",
    "2026-01-01T00:00:00Z",
    "2026-01-01T00:00:00+02:00",
    "0f8fad5b-d9cb-469f-a165-70867728950e",
    ";",
    "--",
    "/*",
    "*/",
    "%",
    "\x00",
    "\\",
]
_SOUP = st.lists(st.one_of(st.sampled_from(_WORDS), st.text(max_size=4)), max_size=14).map(" ".join)
_NOISE = st.text(max_size=200)
_INPUT = st.one_of(_NOISE, _SOUP)


def _answered_or_refused(api: ApiServer, response: httpx.Response, limit: int, text: str) -> None:
    assert response.status_code in (200, 400), _explain(api, response)
    if response.status_code == 200:
        assert isinstance(response.json()["value"], list)
        return
    body = _problem(api, response)
    if len(text) <= limit:  # longer input is refused by FastAPI's max_length first
        assert 0 <= body["position"] <= len(text), (text, body)


@pytest.mark.parametrize("vocab", VOCABS, ids=str)
@_FUZZ_SETTINGS
@given(text=_INPUT)
def test_any_filter_is_answered_or_refused(
    api: ApiServer, client: httpx.Client, vocab: Vocab, text: str
) -> None:
    response = client.get(vocab.path, params={"$filter": text})
    event(f"status {response.status_code}")
    _answered_or_refused(api, response, 2000, text)


@pytest.mark.parametrize("vocab", VOCABS, ids=str)
@_FUZZ_SETTINGS
@given(text=_INPUT)
def test_any_orderby_is_answered_or_refused(
    api: ApiServer, client: httpx.Client, vocab: Vocab, text: str
) -> None:
    response = client.get(vocab.path, params={"$orderby": text})
    event(f"status {response.status_code}")
    _answered_or_refused(api, response, 500, text)


# -- random well-formed expressions: the SQL behind the parser copes with all of them ----

_FIELDS = {NATIVE.name: odata.FIELDS, AIMS360.name: odata.AIMS360_FIELDS}
_OFFSETS = [UTC, timezone(timedelta(hours=14)), timezone(-timedelta(hours=12, minutes=30))]


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _datetime(moment: datetime) -> str:
    text = moment.isoformat()
    return text.replace("+00:00", "Z") if moment.microsecond % 2 else text


_LITERALS = st.one_of(
    st.text(max_size=20).map(_quoted),
    st.integers(min_value=-(2**64), max_value=2**64).map(str),
    st.decimals(
        min_value=-(10**20), max_value=10**20, places=6, allow_nan=False, allow_infinity=False
    ).map(lambda number: format(number, "f")),
    st.datetimes(
        min_value=datetime(1, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.sampled_from(_OFFSETS),
    ).map(_datetime),
    st.uuids().map(str),
    st.uuids().map(lambda guid: _quoted(str(guid))),
    st.sampled_from(["'Completed'", "'failed'", "'Queued'", "'Running'", "'Inprogress'"]),
    st.integers(min_value=-2, max_value=12).map(str),
    st.sampled_from(["null", "true", "false"]),
)


_K = odata.FieldKind
_TYPED_LITERALS: dict[odata.FieldKind, st.SearchStrategy[str]] = {
    _K.GUID: st.uuids().map(str) | st.uuids().map(lambda guid: _quoted(str(guid))),
    _K.TEXT: st.text(max_size=20).map(_quoted) | st.just("null"),
    _K.NUMBER: st.integers(min_value=-(2**63) + 1, max_value=2**63 - 1).map(str),
    _K.DATETIME: st.datetimes(
        min_value=datetime(1, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.sampled_from(_OFFSETS),
    ).map(_datetime),
    _K.STATUS: st.sampled_from(["'Completed'", "'failed'", "'Queued'", "'Running'", "3"]),
    _K.AIMS360_STATUS: st.sampled_from(["'Queued'", "'Inprogress'", "'Completed'", "'Failed'"]),
    _K.BOOLEAN: st.sampled_from(["true", "false", "TRUE", "null"]),
}


def _comparison(fields: dict[str, odata.Field], name: str) -> st.SearchStrategy[str]:
    """``name op literal``, the literal of the field's type about half the time."""
    kind = fields[name].kind
    eq_ne_only = kind in (_K.AIMS360_STATUS, _K.BOOLEAN)
    ops = ["eq", "ne"] if eq_ne_only else ["eq", "ne", "gt", "ge", "lt", "le"]
    return st.builds(
        f"{name} {{}} {{}}".format,
        st.sampled_from(ops),
        st.one_of(_TYPED_LITERALS[kind], _LITERALS),
    )


def _well_formed_filters(fields: dict[str, odata.Field]) -> st.SearchStrategy[str]:
    names = sorted(fields)
    comparison = st.sampled_from(names).flatmap(lambda name: _comparison(fields, name))
    function = st.builds(
        "{}({}, {})".format,
        st.sampled_from(["contains", "startswith"]),
        st.sampled_from(names),
        st.text(max_size=10).map(_quoted),
    )
    return st.recursive(
        comparison | function,
        lambda inner: st.one_of(
            st.builds("{} and {}".format, inner, inner),
            st.builds("{} or {}".format, inner, inner),
            inner.map("not {}".format),
            inner.map("({})".format),
        ),
        max_leaves=8,
    )


@pytest.mark.parametrize("vocab", VOCABS, ids=str)
@_FUZZ_SETTINGS
@given(data=st.data())
def test_any_well_formed_filter_is_answered_or_refused_for_its_types(
    api: ApiServer, client: httpx.Client, vocab: Vocab, data: st.DataObject
) -> None:
    """Well-formed but not always well-typed (a datetime for a text field): 200 or 400."""
    text = data.draw(_well_formed_filters(dict(_FIELDS[vocab.name])), label="$filter")
    response = client.get(vocab.path, params={"$filter": text})
    event(f"status {response.status_code}")
    _answered_or_refused(api, response, 2000, text)


@pytest.mark.parametrize("vocab", VOCABS, ids=str)
@_FUZZ_SETTINGS
@given(data=st.data())
def test_any_well_formed_orderby_is_answered(
    api: ApiServer, client: httpx.Client, vocab: Vocab, data: st.DataObject
) -> None:
    keys = data.draw(
        st.lists(
            st.tuples(
                st.sampled_from(sorted(_FIELDS[vocab.name])),
                st.sampled_from(["", " asc", " desc", " DESC"]),
            ),
            min_size=1,
            max_size=odata.MAX_ORDERBY_KEYS,
        ),
        label="keys",
    )
    text = ", ".join(field + direction for field, direction in keys)
    response = client.get(vocab.path, params={"$orderby": text, "$top": "2"})
    assert response.status_code == 200, _explain(api, response)
    assert len(response.json()["value"]) == 2


# -- integers beyond what PostgreSQL holds -----------------------------------------------

INT64_MAX = 2**63 - 1


@pytest.mark.parametrize(
    "after",
    [
        pytest.param(INT64_MAX, id="int64-max"),
        pytest.param(INT64_MAX + 1, id="int64-max+1"),
        pytest.param(10**30, id="10**30"),
    ],
)
def test_messages_after_any_integer_is_answered_below_500(
    api: ApiServer, client: httpx.Client, seeded: list[uuid.UUID], after: int
) -> None:
    response = client.get(f"/jobs/{seeded[0]}/messages", params={"after": str(after)})

    assert response.status_code in (200, 400), _explain(api, response)
    if response.status_code == 200:
        assert response.json()["value"] == []


# -- every operation of the OpenAPI document ---------------------------------------------
#
# schemathesis.pytest.from_fixture would be the natural fit, but schemathesis 4.32's lazy
# loader reads ``request.node._nodeid``, which pytest 9 no longer has (AttributeError).
# So the live document is loaded in the test, and each operation is fuzzed by hypothesis
# over schemathesis's own strategies, positive and negative, one subtest per operation.

EXAMPLES_PER_OPERATION = int(os.environ.get("JOBHUB_TEST_FUZZ_EXAMPLES", "25"))
"""Per operation and kind of case; raise it for a deeper run (the default keeps ~40 s)."""


@dataclass(frozen=True)
class Run:
    """One hypothesis run over an operation: how its cases are made."""

    label: str
    strategy: st.SearchStrategy[schemathesis.Case]


def _runs(operation: schemathesis.APIOperation, job_id: str) -> list[Run]:
    """Positive and negative cases, and positive ones on a real job and a real type (random
    ids and names only ever reach the 404 branch)."""
    label = operation.label
    runs = [Run(f"positive {label}", operation.as_strategy())]
    if any(True for _ in operation.iter_parameters()) or len(operation.body) > 0:
        negative = schemathesis.GenerationMode.NEGATIVE
        runs.append(Run(f"negative {label}", operation.as_strategy(generation_mode=negative)))
    known = {
        name: value
        for name, value in (("job_id", job_id), ("name", KNOWN_TYPE))
        if name in operation.path_parameters
    }
    if known:
        strategy = operation.as_strategy(path_parameters=known)
        runs.append(Run(f"known {sorted(known)} {label}", strategy))
    if operation.method.upper() == "POST" and operation.path == "/jobs":
        runs.append(Run(f"known type {label}", operation.as_strategy().map(_of_known_type)))
    return runs


def _of_known_type(case: schemathesis.Case) -> schemathesis.Case:
    if isinstance(case.body, dict):
        case.body["type"] = KNOWN_TYPE
    return case


def _fuzz(run: Run, api: ApiServer, token: str, calls: list[int]) -> None:
    @hypothesis_settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=run.strategy)
    def check(case: schemathesis.Case) -> None:
        response = case.call(
            base_url=api.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        calls.append(response.status_code)
        try:
            case.validate_response(response, checks=[not_a_server_error])
        except Exception as exc:
            exc.add_note(f"--- api log (tail) ---\n{api.process.log()[-4000:]}")
            raise

    check()


@pytest.fixture(scope="module")
def victim(fuzz_manager: JobManager, seeded: list[uuid.UUID]) -> str:
    """A completed job of the key's organization for the fuzzer to read, cancel, rerun."""
    job = fuzz_manager.start_job(
        KNOWN_TYPE, {"message": "fuzz me"}, identity=IDENTITY, organization=ORGANIZATION
    )
    fuzz_manager.wait_for_completion([job.id], timeout=30)
    return str(job.id)


def test_no_operation_answers_a_server_error(
    api: ApiServer, admin_token: str, victim: str, subtests: pytest.Subtests
) -> None:
    """Every operation of the live document, with an admin key, answers below 500."""
    schema = schemathesis.openapi.from_url(f"{api.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15, [operation.label for operation in operations]
    statuses: dict[str, list[int]] = {}

    for operation in operations:
        for run in _runs(operation, victim):
            calls = statuses.setdefault(run.label, [])
            with subtests.test(msg=run.label):
                _fuzz(run, api, admin_token, calls)

    print(f"\n{sum(map(len, statuses.values()))} requests over {len(operations)} operations")
    for label, calls in statuses.items():
        print(f"  {label}: {len(calls)} calls, statuses {sorted(set(calls))}")
    assert all(code < 500 for calls in statuses.values() for code in calls)
    assert api.process.popen.poll() is None


def test_a_body_over_a_mebibyte_is_refused_before_it_is_read(
    api: ApiServer, admin_token: str
) -> None:
    body = b'{"type": "diagnostics.echo", "parameters": {"message": "' + b"x" * 2_000_000 + b'"}}'
    with api.client(admin_token) as http:
        response = http.post("/jobs", content=body, headers={"content-type": "application/json"})

    assert response.status_code == 413, _explain(api, response)
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
