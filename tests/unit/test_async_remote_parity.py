"""``AsyncRemoteJobManager`` offers every operation of ``RemoteJobManager``, awaited, with
the same parameters (both run the same ``jobhub.remote.operations``)."""

from __future__ import annotations

import inspect

import pytest

from jobhub.remote import (
    AsyncRemoteJobManager,
    AsyncRemoteRunners,
    RemoteJobManager,
    RemoteRunners,
)

PAIRS = [(RemoteJobManager, AsyncRemoteJobManager), (RemoteRunners, AsyncRemoteRunners)]


def _operations(kind: type) -> dict[str, object]:
    return {
        name: member
        for name, member in vars(kind).items()
        if callable(member) and not name.startswith("_") and name != "close"
    }


@pytest.mark.parametrize(("blocking", "awaited"), PAIRS)
def test_every_operation_is_there_awaited_with_the_same_parameters(
    blocking: type, awaited: type
) -> None:
    sync, aio = _operations(blocking), _operations(awaited)

    assert sorted(sync) == sorted(aio)
    for name, function in sync.items():
        assert inspect.iscoroutinefunction(aio[name]), name
        assert inspect.signature(function).parameters.keys() == (  # type: ignore[arg-type]
            inspect.signature(aio[name]).parameters.keys()  # type: ignore[arg-type]
        ), name
