"""Forms built from a parameter schema: the inputs they show, the values they send on, and
that the manager's validation judges those values as it judges the API's."""

from __future__ import annotations

from datetime import datetime

import pytest

from jobhub.errors import InvalidParameters
from jobhub.jobs import JSONValue
from jobhub.parameters import Param, parameters_schema, validate
from jobhub.ui.forms import Field, fields_of, values_of

PARAMS = (
    Param("steps", int, default=5, minimum=1, maximum=10, description="how many"),
    Param("seconds", float, default=1.0),
    Param("verbose", bool, default=True),
    Param("since", datetime, required=False),
    Param("data", dict, required=False),
    Param("name", str),
)


def _fields() -> list[Field]:
    return fields_of(parameters_schema(PARAMS))


def test_each_parameter_gets_an_input_of_its_schema_type() -> None:
    widgets = {f.name: f.widget for f in _fields()}

    assert widgets == {
        "steps": "number",
        "seconds": "number",
        "verbose": "checkbox",
        "since": "datetime",
        "data": "json",
        "name": "text",
    }
    steps = next(f for f in _fields() if f.name == "steps")
    assert (steps.minimum, steps.maximum, steps.step, steps.required) == (1, 10, "1", False)
    assert steps.shown(None, "p.") == "5"
    assert next(f for f in _fields() if f.name == "name").required


def test_an_enum_in_a_schema_is_a_select_and_reads_back_as_its_value() -> None:
    schema: dict[str, JSONValue] = {
        "type": "object",
        "properties": {"level": {"type": "integer", "enum": [1, 2, 3]}},
        "required": ["level"],
    }
    (field,) = fields_of(schema)

    assert field.widget == "select"
    assert field.option_texts == ("1", "2", "3")
    assert values_of([field], {"x.level": "2"}, "x.") == {"level": 2}


def test_typed_text_becomes_values_and_empty_inputs_are_left_to_their_defaults() -> None:
    form = {"p.steps": "3", "p.seconds": "0.25", "p.since": "", "p.data": '{"a": 1}', "p.name": "x"}

    values = values_of(_fields(), form, "p.")

    assert values == {"steps": 3, "seconds": 0.25, "verbose": False, "data": {"a": 1}, "name": "x"}
    assert validate("t", PARAMS, values)["since"] is None


def test_a_checked_checkbox_is_true_and_an_unchecked_one_false_whatever_its_default() -> None:
    assert values_of(_fields(), {"p.verbose": "true"}, "p.")["verbose"] is True
    assert values_of(_fields(), {}, "p.")["verbose"] is False


def test_text_that_is_not_of_its_type_is_passed_on_for_the_manager_to_refuse_by_name() -> None:
    form = {"p.steps": "many", "p.seconds": "0.5", "p.data": "{not json", "p.name": "x"}

    values = values_of(_fields(), form, "p.")
    with pytest.raises(InvalidParameters) as refused:
        validate("t", PARAMS, values)

    assert refused.value.problems == {
        "steps": "expected integer, got str 'many'",
        "data": "expected object, got str '{not json'",
    }


def test_a_missing_required_parameter_is_the_managers_required() -> None:
    with pytest.raises(InvalidParameters) as refused:
        validate("t", PARAMS, values_of(_fields(), {"p.name": "  "}, "p."))

    assert refused.value.problems == {"name": "required"}


def test_a_refused_form_shows_what_was_sent_not_the_defaults() -> None:
    steps = next(f for f in _fields() if f.name == "steps")
    verbose = next(f for f in _fields() if f.name == "verbose")

    assert steps.shown({"p.steps": "0"}, "p.") == "0"
    assert verbose.checked(None, "p.") is True
    assert verbose.checked({"p.steps": "0"}, "p.") is False
