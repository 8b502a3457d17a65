"""The job type registry (jobhub.definitions): shipped types, resolve, duplicate names.

The registry is process-global: job types made up here use names under ``tests.unit.``
and the ``scratch_types`` fixture removes them again.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import workers
from jobhub.definitions import (
    _REGISTRY,
    JobDefinition,
    all_definitions,
    find_definition,
    get_definition,
    load_job_modules,
    register_definition,
    resolve,
)
from jobhub.errors import ConfigurationError, InvalidParameters, NotFound, UnknownJobType
from jobhub.jobs import JSONValue, StartType
from jobhub.parameters import Param
from jobhub.worker.context import JobContext
from jobhub.worker.declare import job
from jobhub.worker.task import JobTask

SHIPPED = {
    # name: (category, subcategory, declared params, can_cancel); all can be rerun
    "diagnostics.sleep": ("Diagnostics", "Canary", ("steps", "seconds", "fail_at_step"), True),
    "diagnostics.echo": ("Diagnostics", "Echo", ("message", "data"), True),
    "maintenance.purge_jobs": ("Maintenance", "Retention", ("batch_size",), False),
    "reports.job_statistics": ("Reports", "Jobs", ("since", "until"), True),
}


def body_one(ctx: JobContext) -> JSONValue:
    return 1


def body_two(ctx: JobContext) -> JSONValue:
    return 2


@pytest.fixture
def scratch_types() -> Iterator[list[str]]:
    """Names registered by the test; removed from the registry afterwards."""
    names: list[str] = []
    yield names
    for name in names:
        _REGISTRY.pop(name, None)


def scratch(name: str, names: list[str], **fields: object) -> JobDefinition:
    names.append(name)
    definition = JobDefinition(
        name=name,
        description=str(fields.pop("description", "scratch job")),
        func=fields.pop("func", body_one),  # type: ignore[arg-type]
        **fields,  # type: ignore[arg-type]
    )
    register_definition(definition)
    return definition


# -- shipped job types -----------------------------------------------------------------


def test_importing_workers_registers_the_shipped_job_types() -> None:
    assert workers.diagnostics is not None
    assert set(SHIPPED) <= {definition.name for definition in all_definitions()}


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_job_type_declaration(name: str) -> None:
    category, subcategory, params, can_cancel = SHIPPED[name]
    definition = get_definition(name)
    assert definition.name == name
    assert definition.description
    assert (definition.category, definition.subcategory) == (category, subcategory)
    assert tuple(param.name for param in definition.params) == params
    assert definition.can_cancel is can_cancel
    assert definition.can_rerun is True
    assert definition.start_type is StartType.TIMER_ONLY


def test_only_the_maintenance_job_types_are_housekeeping() -> None:
    housekeeping = {d.name for d in all_definitions() if d.housekeeping}

    assert housekeeping == {
        "maintenance.purge_jobs",
        "maintenance.reap_lost_jobs",
        "maintenance.reconcile_outbox",
    }


def test_a_job_type_is_housekeeping_only_when_declared_so(scratch_types: list[str]) -> None:
    scratch_types.append("tests.unit.upkeep")

    job("tests.unit.upkeep", description="upkeep", housekeeping=True)(body_one)

    assert get_definition("tests.unit.upkeep").housekeeping is True
    assert scratch("tests.unit.plain", scratch_types).housekeeping is False


def test_diagnostics_sleep_parameters() -> None:
    definition = get_definition("diagnostics.sleep")
    assert definition.validate({}) == {"steps": 5, "seconds": 1.0, "fail_at_step": None}
    with pytest.raises(InvalidParameters) as caught:
        definition.validate({"steps": 0, "bogus": 1})
    assert set(caught.value.problems) == {"steps", "bogus"}
    assert caught.value.job_type == "diagnostics.sleep"


def test_job_statistics_takes_optional_datetimes() -> None:
    definition = get_definition("reports.job_statistics")
    assert definition.validate({"since": "2024-05-01T00:00:00+02:00"}) == {
        "since": "2024-04-30T22:00:00+00:00",
        "until": None,
    }
    schema = definition.parameters_schema()
    assert schema["required"] == []
    assert schema["properties"]["since"]["format"] == "date-time"  # type: ignore[index,call-overload]


def test_purge_jobs_cannot_be_cancelled_but_can_be_rerun() -> None:
    definition = get_definition("maintenance.purge_jobs")
    assert not definition.can_cancel
    assert definition.can_rerun
    assert definition.validate({}) == {"batch_size": 500}


def test_shipped_tasks_are_job_tasks_carrying_their_definition() -> None:
    task = workers.diagnostics.sleep
    assert isinstance(task, JobTask)
    assert task.name == "diagnostics.sleep"
    assert task.definition is get_definition("diagnostics.sleep")


def test_all_definitions_are_sorted_by_name() -> None:
    names = [definition.name for definition in all_definitions()]
    assert names == sorted(names)
    assert len(names) == len(set(names))


# -- resolve ---------------------------------------------------------------------------


def test_resolve_by_name() -> None:
    assert resolve("diagnostics.echo") is get_definition("diagnostics.echo")


def test_resolve_by_definition() -> None:
    definition = get_definition("diagnostics.echo")
    assert resolve(definition) is definition


def test_resolve_by_task_object() -> None:
    assert resolve(workers.diagnostics.echo) is get_definition("diagnostics.echo")
    assert resolve(workers.maintenance.purge_jobs) is get_definition("maintenance.purge_jobs")


def test_resolve_a_definition_that_is_not_registered_returns_it_as_is() -> None:
    loose = JobDefinition(name="tests.unit.loose", description="never registered", func=body_one)
    assert resolve(loose) is loose
    assert find_definition("tests.unit.loose") is None


def test_unknown_name_raises_unknown_job_type_listing_the_known_ones() -> None:
    with pytest.raises(UnknownJobType) as caught:
        resolve("diagnostics.slep")
    error = caught.value
    assert isinstance(error, NotFound)
    assert error.name == "diagnostics.slep"
    assert "unknown job type 'diagnostics.slep'" in str(error)
    for name in SHIPPED:
        assert name in str(error)


def test_get_definition_of_an_unknown_name_raises_unknown_job_type() -> None:
    with pytest.raises(UnknownJobType, match="known: "):
        get_definition("nope")
    assert find_definition("nope") is None


@pytest.mark.parametrize("thing", [42, None, object(), body_one])
def test_resolve_refuses_what_is_neither_name_definition_nor_task(thing: object) -> None:
    with pytest.raises(UnknownJobType, match=r"diagnostics\.sleep"):
        resolve(thing)


# -- registering -----------------------------------------------------------------------


def test_registered_definition_is_found_and_resolved(scratch_types: list[str]) -> None:
    definition = scratch(
        "tests.unit.found",
        scratch_types,
        category="Tests",
        params=(Param("n", int, default=1),),
        can_cancel=False,
        can_rerun=False,
    )
    assert find_definition("tests.unit.found") is definition
    assert resolve("tests.unit.found") is definition
    assert definition in all_definitions()
    assert definition.validate({"n": 2}) == {"n": 2}


def test_registering_the_same_function_again_replaces_the_definition(
    scratch_types: list[str],
) -> None:
    scratch("tests.unit.again", scratch_types, description="first")
    second = scratch("tests.unit.again", scratch_types, description="second")
    assert get_definition("tests.unit.again") is second


def test_a_second_function_under_an_existing_name_is_refused(scratch_types: list[str]) -> None:
    first = scratch("tests.unit.clash", scratch_types, func=body_one)
    other = JobDefinition(name="tests.unit.clash", description="other", func=body_two)
    with pytest.raises(ConfigurationError, match=r"'tests\.unit\.clash' is already declared in"):
        register_definition(other)
    assert get_definition("tests.unit.clash") is first


def test_declaring_a_job_under_a_shipped_name_is_refused() -> None:
    before = get_definition("diagnostics.sleep")
    declare = job("diagnostics.sleep", description="an impostor")
    with pytest.raises(ConfigurationError, match=r"already declared in workers\.diagnostics"):
        declare(body_two)
    assert get_definition("diagnostics.sleep") is before


# -- load_job_modules ------------------------------------------------------------------


def test_load_job_modules_imports_the_shipped_modules() -> None:
    load_job_modules(["workers", "workers.diagnostics"])
    assert find_definition("diagnostics.sleep") is not None


def test_load_job_modules_refuses_a_missing_module() -> None:
    with pytest.raises(ConfigurationError, match=r"cannot import job module 'tests\.unit\.nope'"):
        load_job_modules(["tests.unit.nope"])
