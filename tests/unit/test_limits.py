"""Limits as values and text (``jobhub.limits``), and limits declared with ``@job``.

The registry is process-global: job types declared here use names under
``tests.unit.limits.`` and the ``scratch_types`` fixture removes them again.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from jobhub.definitions import _REGISTRY, JobDefinition, find_definition, get_definition
from jobhub.errors import ConfigurationError, InvalidInput, InvalidLimit
from jobhub.gates import limit_text
from jobhub.jobs import JSONValue
from jobhub.limits import (
    MAX_LIMIT,
    ORGANIZATION,
    Limit,
    LimitKind,
    declared_limits,
    key_of,
)
from jobhub.parameters import Param
from jobhub.worker.context import JobContext
from jobhub.worker.declare import job

S = timedelta(seconds=1)
MIN = timedelta(minutes=1)
CUSTOMER = Param("customer_id", str, default="")


def body(ctx: JobContext, **_: object) -> JSONValue:
    return None


@pytest.fixture
def scratch_types() -> Iterator[list[str]]:
    """Names the test declares; removed from the registry afterwards."""
    names: list[str] = []
    yield names
    for name in names:
        _REGISTRY.pop(name, None)


# -- the grammar ------------------------------------------------------------------------


VALID = [
    ("2", Limit.concurrency(2), "2"),
    ("2 at once", Limit.concurrency(2), "2"),
    ("  3 AT  ONCE ", Limit.concurrency(3), "3"),
    ("+4", Limit.concurrency(4), "4"),
    ("1000000", Limit.concurrency(MAX_LIMIT), "1000000"),
    ("10 per customer_id", Limit.concurrency(10, "customer_id"), "10 per customer_id"),
    ("2 at once per organization", Limit.concurrency(2, ORGANIZATION), "2 per organization"),
    ("2 per organization", Limit.concurrency(2, ORGANIZATION), "2 per organization"),
    ("100/min", Limit.rate(100, MIN), "100/min"),
    ("100/MINUTE", Limit.rate(100, MIN), "100/min"),
    ("100 / min", Limit.rate(100, MIN), "100/min"),
    ("5/s per customer_id", Limit.rate(5, S, "customer_id"), "5/s per customer_id"),
    ("5/sec", Limit.rate(5, S), "5/s"),
    ("5/second per organization", Limit.rate(5, S, ORGANIZATION), "5/s per organization"),
    ("7/h", Limit.rate(7, timedelta(hours=1)), "7/h"),
    ("7/hour", Limit.rate(7, timedelta(hours=1)), "7/h"),
    ("1/d", Limit.rate(1, timedelta(days=1)), "1/d"),
    ("1/day", Limit.rate(1, timedelta(days=1)), "1/d"),
    ("10/30s", Limit.rate(10, 30 * S), "10/30s"),
    ("10/1m", Limit.rate(10, MIN), "10/min"),
    ("7/90s", Limit.rate(7, 90 * S), "7/1m30s"),
    ("3/1.5s", Limit.rate(3, 1.5 * S), "3/1.5s"),
    ("3/500ms", Limit.rate(3, timedelta(milliseconds=500)), "3/500ms"),
    ("4/2h per tenant_2", Limit.rate(4, timedelta(hours=2), "tenant_2"), "4/2h per tenant_2"),
]


@pytest.mark.parametrize(("text", "expected", "canonical"), VALID, ids=[v[0] for v in VALID])
def test_valid_limit_parses_and_its_text_reads_back_to_the_same_limit(
    text: str, expected: Limit, canonical: str
) -> None:
    limit = Limit.parse(text)

    assert limit == expected
    assert limit.text() == canonical
    assert Limit.parse(limit.text()) == limit


def test_a_limit_knows_its_kind_and_scope() -> None:
    assert Limit.parse("2").kind is LimitKind.CONCURRENCY
    assert Limit.parse("2").period is None
    assert Limit.parse("2").scope == (LimitKind.CONCURRENCY, "")
    assert Limit.parse("100/min per organization").kind is LimitKind.RATE
    assert Limit.parse("100/min per organization").scope == (LimitKind.RATE, ORGANIZATION)


DESCRIBED = [
    ("2", "at most 2 reports.build at once"),
    ("10 per customer_id", "at most 10 reports.build at once per customer_id"),
    ("2 per organization", "at most 2 reports.build at once per organization"),
    ("100/min", "at most 100 reports.build started per minute"),
    ("5/s per customer_id", "at most 5 reports.build started per second per customer_id"),
    ("7/h", "at most 7 reports.build started per hour"),
    ("1/d", "at most 1 reports.build started per day"),
    ("10/30s", "at most 10 reports.build started per 30s"),
]


@pytest.mark.parametrize(("text", "described"), DESCRIBED, ids=[d[0] for d in DESCRIBED])
def test_describe_says_the_limit_in_words(text: str, described: str) -> None:
    assert Limit.parse(text).describe("reports.build") == described


def test_a_held_jobs_status_text_names_the_limit_and_its_key() -> None:
    assert limit_text("reports.build", Limit.parse("2"), "") == (
        "Waiting for a slot: at most 2 reports.build at once"
    )
    assert limit_text("reports.build", Limit.parse("1 per customer_id"), "42") == (
        "Waiting for a slot: at most 1 reports.build at once per customer_id (customer_id 42)"
    )


BAD = [
    ("0", "must be 1 to 1000000, not 0"),
    ("-1", "must be 1 to 1000000, not -1"),
    ("-5/min", "must be 1 to 1000000, not -5"),
    ("0/min", "must be 1 to 1000000, not 0"),
    ("1000001", "must be 1 to 1000000, not 1000001"),
    ("99999999999999999999 per organization", "must be 1 to 1000000"),
    ("", "is not a limit"),
    ("   ", "is not a limit"),
    ("two", "is not a limit"),
    ("1.5", "is not a limit"),
    ("2/", "is not a limit"),
    ("/min", "is not a limit"),
    ("2 per", "is not a limit"),
    ("2 per a b", "is not a limit"),
    ("2 at once/min", "is not a limit"),
    ("2 at twice", "is not a limit"),
    ("2/fortnight", "'fortnight' is not a period"),
    ("2/min/s", "is not a period"),
    ("2/-1s", "is not a period"),
    ("2/0s", "period must be longer than zero"),
    ("2/0", "period must be longer than zero"),
    ("2 per customer-id", "'customer-id' is not a parameter name"),
    ("2 per 9lives", "'9lives' is not a parameter name"),
    ("2/min per é", "is not a parameter name"),
    (f"2 per {'k' * 101}", "is not a parameter name"),
]


@pytest.mark.parametrize(("text", "says"), BAD, ids=[b[0][:30] or "empty" for b in BAD])
def test_bad_limit_is_refused_with_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(InvalidLimit, match=says.replace("(", r"\(")) as raised:
        Limit.parse(text)

    assert isinstance(raised.value, InvalidInput)


def test_a_limit_that_is_not_text_is_refused() -> None:
    with pytest.raises(InvalidLimit, match="is not a limit"):
        Limit.parse(2)  # type: ignore[arg-type]


def test_a_long_bad_limit_is_quoted_shortened() -> None:
    with pytest.raises(InvalidLimit) as raised:
        Limit.parse("x" * 500)

    assert len(raised.value.message) < 150


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda: Limit.concurrency(0), "must be 1 to"),
        (lambda: Limit.concurrency(MAX_LIMIT + 1), "must be 1 to"),
        (lambda: Limit.rate(-3, MIN), "must be 1 to"),
        (lambda: Limit.rate(3, timedelta(0)), "longer than zero"),
        (lambda: Limit.rate(3, -S), "longer than zero"),
        (lambda: Limit(LimitKind.RATE, 3), "a rate limit has a period"),
        (lambda: Limit(LimitKind.CONCURRENCY, 3, "", MIN), "a rate limit has a period"),
        (lambda: Limit.concurrency(3, "no spaces"), "is not a parameter name"),
    ],
)
def test_a_bad_limit_cannot_be_built_in_python_either(make: object, says: str) -> None:
    with pytest.raises(InvalidLimit, match=says):
        make()  # type: ignore[operator]


# -- keys -------------------------------------------------------------------------------


def test_check_key_accepts_a_parameter_organization_or_no_key() -> None:
    parameters = {"customer_id", "seconds"}

    Limit.parse("2").check_key("reports.build", parameters)
    Limit.parse("2 per customer_id").check_key("reports.build", parameters)
    Limit.parse("2 per organization").check_key("reports.build", parameters)
    Limit.parse("2 per organization").check_key("reports.build", set())
    Limit.parse("100/min per seconds").check_key("reports.build", parameters)


def test_check_key_refuses_a_key_that_is_not_a_parameter_and_lists_them() -> None:
    with pytest.raises(InvalidLimit) as raised:
        Limit.parse("2 per customer").check_key("reports.build", {"seconds", "customer_id"})

    assert raised.value.message == (
        "reports.build has no parameter 'customer' to limit per"
        " (its parameters: customer_id, seconds)"
    )
    with pytest.raises(InvalidLimit, match=r"\(its parameters: none\)"):
        Limit.parse("5/s per customer").check_key("reports.build", ())


def test_key_of_is_the_value_a_job_counts_under() -> None:
    parameters: dict[str, object] = {"customer_id": 42, "name": None, "long": "x" * 500}

    assert key_of("", "acme", parameters) == ""
    assert key_of(ORGANIZATION, "acme", parameters) == "acme"
    assert key_of("customer_id", "acme", parameters) == "42"
    assert key_of("name", "acme", parameters) == ""
    assert key_of("missing", "acme", parameters) == ""
    assert key_of("long", "acme", parameters) == "x" * 200


# -- declared limits --------------------------------------------------------------------


def test_declared_limits_gather_concurrency_and_the_others_in_order() -> None:
    found = declared_limits(2, ["10 per customer_id", Limit.rate(100, MIN), "5/s per organization"])

    assert found == (
        Limit.concurrency(2),
        Limit.concurrency(10, "customer_id"),
        Limit.rate(100, MIN),
        Limit.rate(5, S, ORGANIZATION),
    )
    assert declared_limits(None, ()) == ()


@pytest.mark.parametrize(
    ("concurrency", "limits"),
    [
        (2, ["3"]),
        (2, ["3 at once"]),
        (None, ["1 per customer_id", "2 per customer_id"]),
        (None, ["100/min", "5/s"]),
        (None, ["100/min per organization", Limit.rate(1, S, ORGANIZATION)]),
    ],
)
def test_declared_limits_refuse_two_limits_of_one_kind_and_key(
    concurrency: int | None, limits: list[str | Limit]
) -> None:
    with pytest.raises(InvalidLimit, match="one limit of each kind per key"):
        declared_limits(concurrency, limits)


def test_declared_limits_of_one_kind_on_different_keys_may_stand_together() -> None:
    found = declared_limits(2, ["1 per organization", "1 per customer_id", "10/min", "1/s per x"])

    assert len(found) == 5


@pytest.mark.parametrize(
    ("concurrency", "limits", "says"),
    [
        (0, (), "must be 1 to"),
        (-2, (), "must be 1 to"),
        (MAX_LIMIT + 1, (), "must be 1 to"),
        (None, ("0/min",), "must be 1 to"),
        (None, ("100/fortnight",), "is not a period"),
        (None, ("often",), "is not a limit"),
    ],
)
def test_declared_limits_refuse_a_bad_one(
    concurrency: int | None, limits: tuple[str, ...], says: str
) -> None:
    with pytest.raises(InvalidLimit, match=says):
        declared_limits(concurrency, limits)


# -- @job(concurrency=..., limits=[...]) -------------------------------------------------


def test_job_declares_its_limits_on_its_definition(scratch_types: list[str]) -> None:
    scratch_types.append("tests.unit.limits.declared")

    job(
        "tests.unit.limits.declared",
        description="limited",
        params=[CUSTOMER],
        concurrency=2,
        limits=["1 per customer_id", "100/min", "5/s per organization"],
    )(body)

    assert get_definition("tests.unit.limits.declared").limits == (
        Limit.concurrency(2),
        Limit.concurrency(1, "customer_id"),
        Limit.rate(100, MIN),
        Limit.rate(5, S, ORGANIZATION),
    )


def test_a_job_without_limits_declares_none(scratch_types: list[str]) -> None:
    scratch_types.append("tests.unit.limits.free")

    job("tests.unit.limits.free", description="free")(body)

    assert get_definition("tests.unit.limits.free").limits == ()


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"concurrency": 0}, "must be 1 to 1000000, not 0"),
        ({"concurrency": -1}, "must be 1 to 1000000, not -1"),
        ({"limits": ["0 per customer_id"]}, "must be 1 to 1000000, not 0"),
        ({"limits": ["100/fortnight"]}, "'fortnight' is not a period"),
        ({"limits": ["lots"]}, "'lots' is not a limit"),
        ({"concurrency": 2, "limits": ["3"]}, "one limit of each kind per key"),
        ({"limits": ["2 per customer"]}, "has no parameter 'customer' to limit per"),
        ({"limits": ["5/s per seconds"]}, "has no parameter 'seconds' to limit per"),
    ],
)
def test_job_with_a_bad_limit_is_a_configuration_error_and_registers_nothing(
    scratch_types: list[str], options: dict[str, object], says: str
) -> None:
    name = "tests.unit.limits.bad"
    scratch_types.append(name)

    with pytest.raises(ConfigurationError, match=f"job type '{name}': .*{says}"):
        job(name, description="bad", params=[CUSTOMER], **options)(body)  # type: ignore[arg-type]

    assert find_definition(name) is None


def test_a_definition_with_a_key_that_is_not_a_parameter_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="has no parameter 'region' to limit per"):
        JobDefinition(
            name="tests.unit.limits.direct",
            description="direct",
            params=(CUSTOMER,),
            limits=(Limit.concurrency(1, "region"),),
            func=body,
        )


def test_a_limit_per_organization_needs_no_parameter(scratch_types: list[str]) -> None:
    scratch_types.append("tests.unit.limits.tenants")

    job("tests.unit.limits.tenants", description="tenants", limits=["1 per organization"])(body)

    assert get_definition("tests.unit.limits.tenants").limits == (
        Limit.concurrency(1, ORGANIZATION),
    )
