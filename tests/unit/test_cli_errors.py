"""The CLI's error table (``jobhub.cli.main.exit_code_for``) and the help of every command.

Only what needs no service runs here: help texts, usage errors, and errors raised before
anything connects.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from datetime import timedelta
from uuid import UUID

import click
import pytest
from click.testing import CliRunner

from jobhub.cli.main import EXIT_CODES, cli, exit_code_for, main
from jobhub.cli.options import DURATION
from jobhub.errors import (
    ConfigurationError,
    Conflict,
    DispatchError,
    InvalidInput,
    InvalidParameters,
    JobCancelled,
    JobHubError,
    JobNotFound,
    KeyConflict,
    NotCancellable,
    NotFound,
    NotRerunnable,
    SchemaOutOfDate,
    StorageError,
    StorageUnavailable,
    UnknownJobType,
    WaitTimeout,
)

JOB_ID = UUID("0b7f3c1e-5d2a-4c8e-9f41-2a6d8e9b1c55")


class PluginError(JobHubError):
    """An error family the CLI does not know."""


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (InvalidInput("bad"), 2),
        (InvalidParameters("diagnostics.sleep", {"steps": "required"}), 2),
        (NotFound(), 3),
        (UnknownJobType("nope", ["diagnostics.sleep"]), 3),
        (JobNotFound(JOB_ID), 3),
        (Conflict(), 4),
        (KeyConflict("diagnostics.sleep", "nightly"), 4),
        (NotCancellable(), 4),
        (NotRerunnable(), 4),
        (WaitTimeout([JOB_ID], 1.5), 5),
        (StorageError(), 6),
        (StorageUnavailable(), 6),
        (SchemaOutOfDate(), 6),
        (DispatchError(), 7),
        (ConfigurationError("JOBHUB_QUEUE"), 8),
        (JobHubError(), 1),
        (JobCancelled(), 1),
        (PluginError(), 1),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else str(value),
)
def test_exit_code_for_each_error_family(error: JobHubError, code: int) -> None:
    assert exit_code_for(error) == code


def test_exit_codes_are_distinct_per_family() -> None:
    assert len(set(EXIT_CODES.values())) == len(EXIT_CODES)
    assert 1 not in EXIT_CODES.values()


# -- help ------------------------------------------------------------------------------


def command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command and subcommand of ``group``, as argument paths."""
    for name, command in sorted(group.commands.items()):
        path = (*prefix, name)
        yield path
        if isinstance(command, click.Group):
            yield from command_paths(command, path)


ALL_COMMANDS = [(), *command_paths(cli)]


def test_the_walk_finds_every_command_family() -> None:
    expected = {
        ("db",),
        ("db", "upgrade"),
        ("db", "current"),
        ("check",),
        ("start",),
        ("status",),
        ("jobs",),
        ("messages",),
        ("events",),
        ("wait",),
        ("cancel",),
        ("rerun",),
        ("available",),
        ("worker",),
        ("beat",),
        ("flower",),
        ("serve",),
        ("limits",),
        ("limit",),
        ("limit", "set"),
        ("limit", "clear"),
        ("pause",),
        ("resume",),
        ("pauses",),
        ("audit",),
    }
    assert expected <= set(ALL_COMMANDS)


@pytest.mark.parametrize("path", ALL_COMMANDS, ids=lambda path: " ".join(path) or "jobhub")
def test_every_command_help_has_an_example(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"], prog_name="jobhub")
    assert result.exit_code == 0, result.output
    assert f"Usage: jobhub {' '.join(path)}".rstrip() in result.output
    assert "Example" in result.output
    # the example lines keep their own line breaks
    example = result.output.split("Example", 1)[1]
    assert "\n" in example.strip()
    assert "jobhub " in example


@pytest.mark.parametrize("path", ALL_COMMANDS, ids=lambda path: " ".join(path) or "jobhub")
def test_short_help_option_works_everywhere(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "-h"], prog_name="jobhub")
    assert result.exit_code == 0, result.output
    assert "Example" in result.output


# -- main(): errors become one line and an exit code -----------------------------------


def run_main(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["jobhub", *args])
    with pytest.raises(SystemExit) as caught:
        main()
    captured = capsys.readouterr()
    code = caught.value.code
    assert isinstance(code, int)
    return code, captured.out, captured.err


def test_unknown_command_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_main(monkeypatch, capsys, "frobnicate")
    assert code == 2
    assert err.startswith("error: ")
    assert "frobnicate" in err
    assert "(see 'jobhub --help')" in err
    assert "Traceback" not in err
    assert err.count("\n") == 1


def test_missing_argument_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_main(monkeypatch, capsys, "status")
    assert code == 2
    assert "Missing argument 'ID'" in err
    assert "(see 'jobhub status --help')" in err


def test_bad_status_filter_is_invalid_input(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_main(monkeypatch, capsys, "jobs", "--status", "Finished")
    assert code == 2
    assert out == ""
    assert err == "error: unknown status 'Finished'\n"


def test_bad_setting_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("JOBHUB_RETENTION", "forever")
    code, _, err = run_main(monkeypatch, capsys, "status", str(JOB_ID))
    assert code == 8
    assert err.startswith("error: JOBHUB_RETENTION: not a duration: 'forever'")
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("args", "mentions"),
    [
        (("wait", str(JOB_ID), "--timeout", "soon"), "'--timeout': not a duration: 'soon'"),
        (("wait", str(JOB_ID), "--timeout", "-5"), "'--timeout': a duration cannot be negative"),
        (("start", "diagnostics.echo", "--wait", "--timeout", "1e3"), "'--timeout'"),
        (("schedule", "set", "diagnostics.echo", "--every", "30m1h"), "largest to smallest"),
        (("schedule", "set", "diagnostics.echo", "--every", ""), "'--every': empty duration"),
    ],
    ids=["wait-soon", "wait-negative", "start-exponent", "every-out-of-order", "every-empty"],
)
def test_a_bad_duration_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: tuple[str, ...],
    mentions: str,
) -> None:
    code, out, err = run_main(monkeypatch, capsys, *args)
    assert code == 2
    assert out == ""
    assert err.startswith("error: Invalid value for ")
    assert mentions in err
    assert "e.g. 250ms, 90s, 1h30m" in err
    assert "Traceback" not in err
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90", timedelta(seconds=90)),
        ("0.5", timedelta(milliseconds=500)),
        ("250ms", timedelta(milliseconds=250)),
        ("1h30m", timedelta(minutes=90)),
        ("2d", timedelta(days=2)),
    ],
)
def test_duration_options_read_the_duration_grammar_and_bare_seconds(
    text: str, expected: timedelta
) -> None:
    assert DURATION.convert(text, None, None) == expected
    assert DURATION.convert(expected, None, None) == expected


@pytest.mark.parametrize(
    ("path", "option"),
    [(("wait",), "--timeout"), (("start",), "--timeout"), (("schedule", "set"), "--every")],
)
def test_duration_options_show_duration_in_their_help(path: tuple[str, ...], option: str) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"], prog_name="jobhub")
    assert f"{option} DURATION" in result.output


def test_an_unknown_log_format_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("JOBHUB_LOG_FORMAT", "xml")
    code, out, err = run_main(monkeypatch, capsys, "status", str(JOB_ID))
    assert (code, out) == (8, "")
    assert err == "error: JOBHUB_LOG_FORMAT must be text or json, got 'xml'\n"


def test_library_warnings_reach_stderr_in_the_json_format(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("JOBHUB_LOG_FORMAT", "json")
    code, _, _ = run_main(monkeypatch, capsys, "--help")
    assert code == 0
    logging.getLogger("jobhub.test").info("not shown")
    logging.getLogger("jobhub.test").warning("shown")
    [line] = capsys.readouterr().err.splitlines()
    assert json.loads(line)["message"] == "shown"


def test_help_through_main_exits_zero(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_main(monkeypatch, capsys, "--help")
    assert code == 0
    assert "Example" in out
    assert err == ""
