"""Declared job parameters (jobhub.parameters): validate, parse, parse_assignments, schema."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta, timezone

import jsonschema
import pytest

from jobhub.errors import InvalidInput, InvalidParameters
from jobhub.parameters import (
    MAX_PARAMETERS_BYTES,
    Param,
    parameters_schema,
    parse_assignments,
    validate,
)

JOB = "tests.params"
SLEEP_PARAMS = (
    Param("steps", int, default=5, minimum=1, maximum=10_000, description="how many steps"),
    Param("seconds", float, default=1.0, minimum=0, maximum=3600, description="per step"),
    Param("fail_at_step", int, required=False, minimum=1, description="fail at this step"),
)


def problems_of(params: tuple[Param, ...], values: dict[str, object]) -> dict[str, str]:
    with pytest.raises(InvalidParameters) as caught:
        validate(JOB, params, values)
    assert caught.value.job_type == JOB
    return caught.value.problems


# -- declaration -----------------------------------------------------------------------


def test_param_without_default_is_required() -> None:
    assert Param("x", int).is_required
    assert not Param("x", int).has_default


def test_param_with_default_is_optional() -> None:
    param = Param("x", int, default=3)
    assert not param.is_required
    assert param.has_default


def test_param_required_flag_overrides_the_default_rule() -> None:
    assert not Param("x", int, required=False).is_required
    assert Param("x", int, default=3, required=True).is_required


def test_param_rejects_an_unsupported_type() -> None:
    with pytest.raises(TypeError, match="unsupported type"):
        Param("x", tuple)


@pytest.mark.parametrize("name", ["with space", "1st", "a-b", ""])
def test_param_name_must_be_an_identifier(name: str) -> None:
    with pytest.raises(ValueError, match="not an identifier"):
        Param(name, int)


# -- validate: defaults, unknown, missing ----------------------------------------------


def test_validate_fills_defaults_and_nulls_for_optional_parameters() -> None:
    assert validate(JOB, SLEEP_PARAMS, {}) == {"steps": 5, "seconds": 1.0, "fail_at_step": None}


def test_validate_keeps_given_values() -> None:
    result = validate(JOB, SLEEP_PARAMS, {"steps": 3, "seconds": 0.5, "fail_at_step": 2})
    assert result == {"steps": 3, "seconds": 0.5, "fail_at_step": 2}


def test_validate_accepts_null_for_an_optional_parameter() -> None:
    assert validate(JOB, SLEEP_PARAMS, {"fail_at_step": None})["fail_at_step"] is None


def test_validate_takes_the_default_when_null_is_given_for_a_defaulted_parameter() -> None:
    # the job body declares ``steps: int``; handing it None would break it at run time
    result = validate(JOB, SLEEP_PARAMS, {"steps": None, "seconds": None})
    assert result == {"steps": 5, "seconds": 1.0, "fail_at_step": None}


def test_validate_refuses_null_for_a_required_parameter() -> None:
    problems = problems_of((Param("x", int),), {"x": None})
    assert problems["x"] == "expected integer, got NoneType None"


def test_validate_rejects_unknown_names() -> None:
    problems = problems_of(SLEEP_PARAMS, {"steps": 2, "stpes": 3})
    assert problems == {"stpes": "not a parameter of this job type"}


def test_validate_rejects_missing_required_parameters() -> None:
    params = (Param("path", str), Param("mode", str, default="r"))
    assert problems_of(params, {}) == {"path": "required"}


def test_invalid_parameters_names_every_field_and_is_invalid_input() -> None:
    params = (Param("path", str), Param("count", int))
    with pytest.raises(InvalidParameters) as caught:
        validate(JOB, params, {"count": "many", "extra": 1})
    error = caught.value
    assert isinstance(error, InvalidInput)
    assert set(error.problems) == {"path", "count", "extra"}
    assert error.problems["path"] == "required"
    assert error.problems["count"] == "expected integer, got str 'many'"
    assert error.problems["extra"] == "not a parameter of this job type"
    assert str(error).startswith(f"invalid parameters for {JOB}: ")
    for name in ("path: required", "count: expected integer", "extra: not a parameter"):
        assert name in str(error)


# -- validate: types -------------------------------------------------------------------


@pytest.mark.parametrize("value", [True, False])
def test_bool_is_not_an_int(value: bool) -> None:
    problems = problems_of((Param("n", int),), {"n": value})
    assert problems["n"] == f"expected integer, got bool {value!r}"


def test_bool_is_not_a_float() -> None:
    assert problems_of((Param("x", float),), {"x": True})["x"] == "expected number, got bool True"


def test_float_is_not_an_int() -> None:
    assert problems_of((Param("n", int),), {"n": 5.0})["n"] == "expected integer, got float 5.0"


def test_int_is_accepted_for_float_and_normalised_to_float() -> None:
    value = validate(JOB, (Param("x", float),), {"x": 3})["x"]
    assert value == 3.0
    assert type(value) is float


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_floats_are_refused(value: float) -> None:
    assert problems_of((Param("x", float),), {"x": value})["x"] == "must be a finite number"


def test_an_int_too_large_for_a_float_is_refused_as_invalid_parameters() -> None:
    # 10**400 is a valid JSON integer; it has no float value, so it must be refused cleanly
    problems = problems_of((Param("x", float),), {"x": 10**400})
    assert "x" in problems


@pytest.mark.parametrize(
    ("kind", "value", "problem"),
    [
        (int, "5", "expected integer, got str '5'"),
        (str, 5, "expected string, got int 5"),
        (bool, "yes", "expected boolean, got str 'yes'"),
        (bool, 1, "expected boolean, got int 1"),
        (list, {"a": 1}, "expected array, got dict {'a': 1}"),
        (dict, [1], "expected object, got list [1]"),
    ],
)
def test_wrong_types_are_refused(kind: type, value: object, problem: str) -> None:
    assert problems_of((Param("v", kind),), {"v": value}) == {"v": problem}


def test_long_values_are_shortened_in_the_problem() -> None:
    problem = problems_of((Param("n", int),), {"n": "x" * 100})["n"]
    assert problem == "expected integer, got str '" + "x" * 36 + "..."


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        (str, "text"),
        (bool, False),
        (list, [1, "two", None, {"three": 3.0}]),
        (dict, {"nested": {"list": [True]}}),
    ],
)
def test_values_of_the_declared_type_pass_unchanged(kind: type, value: object) -> None:
    assert validate(JOB, (Param("v", kind),), {"v": value}) == {"v": value}


@pytest.mark.parametrize(
    "value",
    [{"a": math.nan}, {"a": {1, 2}}, [math.inf], [object()]],
    ids=["nan", "set", "infinity", "object"],  # stable across processes (pytest-xdist)
)
def test_containers_must_hold_json(value: object) -> None:
    kind = dict if isinstance(value, dict) else list
    problem = problems_of((Param("v", kind),), {"v": value})["v"]
    assert problem.startswith("not JSON: ")


# -- validate: bounds ------------------------------------------------------------------


@pytest.mark.parametrize("value", [1, 10_000])
def test_bounds_are_inclusive(value: int) -> None:
    assert validate(JOB, SLEEP_PARAMS, {"steps": value})["steps"] == value


def test_below_minimum_is_refused() -> None:
    assert problems_of(SLEEP_PARAMS, {"steps": 0}) == {"steps": "must be at least 1"}


def test_above_maximum_is_refused() -> None:
    assert problems_of(SLEEP_PARAMS, {"steps": 10_001}) == {"steps": "must be at most 10000"}


def test_float_bounds_apply_to_normalised_ints() -> None:
    assert problems_of(SLEEP_PARAMS, {"seconds": -1}) == {"seconds": "must be at least 0"}
    assert problems_of(SLEEP_PARAMS, {"seconds": 3600.5}) == {"seconds": "must be at most 3600"}


# -- validate: datetimes ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-05-01T12:00:00+02:00", "2024-05-01T10:00:00+00:00"),
        ("2024-05-01T12:00:00Z", "2024-05-01T12:00:00+00:00"),
        ("2024-05-01T12:00:00", "2024-05-01T12:00:00+00:00"),
        (" 2024-05-01T12:00:00.250000-05:00 ", "2024-05-01T17:00:00.250000+00:00"),
        ("2024-05-01", "2024-05-01T00:00:00+00:00"),
        (datetime(2024, 5, 1, 12, 0), "2024-05-01T12:00:00+00:00"),
        (
            datetime(2024, 5, 1, 12, 0, tzinfo=timezone(timedelta(hours=-3))),
            "2024-05-01T15:00:00+00:00",
        ),
        (datetime(2024, 5, 1, 12, 0, tzinfo=UTC), "2024-05-01T12:00:00+00:00"),
    ],
    ids=str,
)
def test_datetimes_are_normalised_to_utc_iso_text(value: object, expected: str) -> None:
    assert validate(JOB, (Param("since", datetime),), {"since": value}) == {"since": expected}


@pytest.mark.parametrize("value", ["yesterday", "2024-13-01T00:00:00", "", 1714564800])
def test_datetime_garbage_is_refused(value: object) -> None:
    problem = problems_of((Param("since", datetime),), {"since": value})["since"]
    assert problem.startswith("expected an ISO 8601 date-time, got ")


def test_optional_datetime_accepts_null() -> None:
    params = (Param("since", datetime, required=False),)
    assert validate(JOB, params, {}) == {"since": None}
    assert validate(JOB, params, {"since": None}) == {"since": None}


# -- validate: size --------------------------------------------------------------------


def test_parameters_up_to_the_size_limit_are_accepted() -> None:
    overhead = len('{"blob":""}')
    blob = "x" * (MAX_PARAMETERS_BYTES - overhead)
    assert validate(JOB, (Param("blob", str),), {"blob": blob}) == {"blob": blob}


def test_oversize_parameters_are_refused() -> None:
    overhead = len('{"blob":""}')
    blob = "x" * (MAX_PARAMETERS_BYTES - overhead + 1)
    problems = problems_of((Param("blob", str),), {"blob": blob})
    assert problems == {
        "*": f"{MAX_PARAMETERS_BYTES + 1} bytes of parameters; at most "
        f"{MAX_PARAMETERS_BYTES} allowed"
    }


def test_parameter_size_counts_utf8_bytes() -> None:
    overhead = len('{"blob":""}')
    # "é" is escaped by json.dumps as \u00e9: six bytes per character
    blob = "é" * ((MAX_PARAMETERS_BYTES - overhead) // 6 + 1)
    assert "*" in problems_of((Param("blob", str),), {"blob": blob})


# -- parse and parse_assignments -------------------------------------------------------


def test_parse_assignments_types_each_value() -> None:
    values = parse_assignments(JOB, SLEEP_PARAMS, ["steps=5", "seconds=0.2", "fail_at_step=3"])
    assert values == {"steps": 5, "seconds": 0.2, "fail_at_step": 3}
    assert type(values["seconds"]) is float


def test_parse_assignments_does_not_fill_defaults() -> None:
    assert parse_assignments(JOB, SLEEP_PARAMS, ["steps=2"]) == {"steps": 2}


def test_parse_assignments_then_validate_gives_the_stored_form() -> None:
    values = parse_assignments(JOB, SLEEP_PARAMS, ["seconds=2"])
    assert validate(JOB, SLEEP_PARAMS, values) == {
        "steps": 5,
        "seconds": 2.0,
        "fail_at_step": None,
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("yes", True),
        ("no", False),
        ("true", True),
        ("false", False),
        ("1", True),
        ("0", False),
        ("on", True),
        ("off", False),
        (" TRUE ", True),
        ("No", False),
    ],
)
def test_parse_reads_boolean_words(text: str, expected: bool) -> None:
    assert parse_assignments(JOB, (Param("flag", bool),), [f"flag={text}"]) == {"flag": expected}


@pytest.mark.parametrize("text", ["maybe", "", "2", "y"])
def test_parse_refuses_other_boolean_words(text: str) -> None:
    with pytest.raises(InvalidParameters) as caught:
        parse_assignments(JOB, (Param("flag", bool),), [f"flag={text}"])
    assert caught.value.problems == {"flag": f"expected boolean, got {text!r}"}


def test_parse_reads_json_for_objects_and_arrays() -> None:
    params = (Param("data", dict), Param("items", list))
    values = parse_assignments(JOB, params, ['data={"a": [1, 2], "b": null}', 'items=[1, "x"]'])
    assert values == {"data": {"a": [1, 2], "b": None}, "items": [1, "x"]}


@pytest.mark.parametrize(
    ("assignment", "problem"),
    [
        ("data={not json", "expected object, got '{not json'"),
        ("data=[1, 2]", "expected object, got list [1, 2]"),
        ("steps=5.5", "expected integer, got '5.5'"),
        ("steps=five", "expected integer, got 'five'"),
        ("steps=0", "must be at least 1"),
        ("seconds=nan", "must be a finite number"),
        ("seconds=1e400", "must be a finite number"),
    ],
)
def test_parse_refuses_text_that_does_not_fit(assignment: str, problem: str) -> None:
    params = (*SLEEP_PARAMS, Param("data", dict))
    name = assignment.partition("=")[0]
    with pytest.raises(InvalidParameters) as caught:
        parse_assignments(JOB, params, [assignment])
    assert caught.value.problems == {name: problem}


def test_parse_keeps_text_after_the_first_equals_sign() -> None:
    params = (Param("message", str),)
    assert parse_assignments(JOB, params, ["message=a=b "]) == {"message": "a=b "}
    assert parse_assignments(JOB, params, ["message="]) == {"message": ""}


def test_parse_normalises_datetimes() -> None:
    params = (Param("since", datetime),)
    values = parse_assignments(JOB, params, ["since=2024-05-01T12:00:00+01:00"])
    assert values == {"since": "2024-05-01T11:00:00+00:00"}


def test_parse_refuses_a_name_without_a_value() -> None:
    with pytest.raises(InvalidParameters) as caught:
        parse_assignments(JOB, SLEEP_PARAMS, ["steps"])
    assert caught.value.problems == {"steps": "expected name=value"}


def test_parse_refuses_a_value_without_a_name() -> None:
    with pytest.raises(InvalidParameters) as caught:
        parse_assignments(JOB, SLEEP_PARAMS, ["=5"])
    assert caught.value.problems == {"=5": "expected name=value"}


def test_parse_refuses_unknown_names() -> None:
    with pytest.raises(InvalidParameters) as caught:
        parse_assignments(JOB, SLEEP_PARAMS, ["stepz=5"])
    assert caught.value.problems == {"stepz": "not a parameter of this job type"}


def test_parse_reports_every_bad_assignment_at_once() -> None:
    with pytest.raises(InvalidParameters) as caught:
        parse_assignments(JOB, SLEEP_PARAMS, ["steps=x", "nope=1", "seconds"])
    assert set(caught.value.problems) == {"steps", "nope", "seconds"}


# -- parameters_schema -----------------------------------------------------------------


def test_parameters_schema_describes_each_parameter() -> None:
    params = (
        *SLEEP_PARAMS,
        Param("since", datetime, required=False, description="start"),
        Param("tags", list, default=[]),
        Param("options", dict),
    )
    assert parameters_schema(params) == {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "steps": {
                "type": ["integer", "null"],
                "minimum": 1,
                "maximum": 10_000,
                "default": 5,
                "description": "how many steps",
            },
            "seconds": {
                "type": ["number", "null"],
                "minimum": 0,
                "maximum": 3600,
                "default": 1.0,
                "description": "per step",
            },
            "fail_at_step": {
                "type": ["integer", "null"],
                "minimum": 1,
                "description": "fail at this step",
            },
            "since": {"type": ["string", "null"], "format": "date-time", "description": "start"},
            "tags": {"type": ["array", "null"], "default": []},
            "options": {"type": "object"},
        },
        "required": ["options"],
    }


def test_parameters_schema_is_json_and_accepts_validated_values() -> None:
    schema = parameters_schema(SLEEP_PARAMS)
    jsonschema.Draft202012Validator.check_schema(schema)
    json.dumps(schema)
    validator = jsonschema.Draft202012Validator(schema)
    validator.validate(validate(JOB, SLEEP_PARAMS, {"steps": 2}))
    assert not validator.is_valid({"steps": 0})
    assert not validator.is_valid({"unknown": 1})


def test_parameters_schema_of_no_parameters_is_an_empty_object() -> None:
    assert parameters_schema(()) == {
        "type": "object",
        "additionalProperties": False,
        "properties": {},
        "required": [],
    }
