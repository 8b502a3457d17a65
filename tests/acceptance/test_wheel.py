"""jobhub as users install it: the wheel, with no extras, in a virtual environment of its own.

The development environment brings packages a user's install does not (pytest pulls in
``packaging``, for one), so a green run there proves nothing about ``pip install jobhub``.
Here the wheel is built from this checkout, installed with its declared dependencies only
into a fresh virtual environment, and run from outside the checkout: ``jobhub db
upgrade``, a real worker, and a job to Completed, on PostgreSQL and Redis and on the
embedded default.

``JOBHUB_WHEEL_PINS`` (e.g. ``"celery==5.5.3 kombu==5.5.4"``) installs those versions
beside the wheel, to check the dependency bounds in pyproject.toml.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import venv
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from jobhub import Settings
from tests.conftest import settings_env
from tests.services import free_port

REPOSITORY = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "README.md", "beat_schedule.py", "jobhub", "workers")
DEVELOPMENT_TOOLS = (
    "pytest",
    "hypothesis",
    "ruff",
    "mypy",
    "schemathesis",
    "importlinter",
    "playwright",
)


@dataclass(frozen=True)
class Installed:
    """A virtual environment holding jobhub's wheel and nothing of the development's."""

    root: Path
    wheel: Path

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    def env(self, extra: Mapping[str, str]) -> dict[str, str]:
        """A user's environment: none of this checkout's paths, none of the caller's JOBHUB_*."""
        keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
        env = {key: os.environ[key] for key in keep if key in os.environ}
        env["PATH"] = f"{self.bin}{os.pathsep}{env.get('PATH', '')}"
        env["PYTHONUNBUFFERED"] = "1"
        env.update(extra)
        return env

    def run(
        self, args: list[str], env: Mapping[str, str], cwd: Path, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bin / "jobhub"), *args],
            capture_output=True,
            text=True,
            env=self.env(env),
            cwd=cwd,
            timeout=timeout,
            check=False,
        )


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """Build the wheel from a copy of the sources and install it, with no extras."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    source.mkdir()
    for name in SOURCES:
        path = REPOSITORY / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(path, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    _check([*pip, "wheel", "--no-deps", "--wheel-dir", str(work / "dist"), str(source)])
    [wheel] = (work / "dist").glob("jobhub-*.whl")

    root = work / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(root)
    pins = os.environ.get("JOBHUB_WHEEL_PINS", "").split()
    _check([str(root / "bin" / "python"), *pip[1:], "install", str(wheel), *pins])
    return Installed(root=root, wheel=wheel)


def _check(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=600)
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}"


def test_the_wheel_carries_the_runtime_and_nothing_else(installed: Installed) -> None:
    listing = subprocess.run(
        [sys.executable, "-m", "zipfile", "-l", str(installed.wheel)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "jobhub/db/migrations/versions/0001_initial_schema.py" in listing
    assert "workers/diagnostics.py" in listing
    assert "beat_schedule.py" in listing
    assert "jobhub/ui/templates/base.html" in listing
    assert "jobhub/ui/static/app.js" in listing
    assert "tests/" not in listing
    assert "bench" not in listing


def test_no_development_tool_enters_the_installed_environment(installed: Installed) -> None:
    python = str(installed.bin / "python")
    for module in DEVELOPMENT_TOOLS:
        found = subprocess.run(
            [python, "-c", f"import importlib.util as u; print(u.find_spec({module!r}) is None)"],
            capture_output=True,
            text=True,
            check=True,
            env=installed.env({}),
        )
        assert found.stdout.strip() == "True", f"{module} is installed beside the wheel"


@pytest.fixture
def user_folder(tmp_path: Path) -> Path:
    """Where the user runs jobhub: outside this checkout, so nothing is imported from it."""
    folder = tmp_path / "user"
    folder.mkdir()
    return folder


@pytest.fixture
def worker_of(installed: Installed) -> Iterator[WorkerStarter]:
    started = WorkerStarter(installed)
    yield started
    started.stop_all()


class WorkerStarter:
    """Starts the installed ``jobhub worker`` and stops it afterwards."""

    def __init__(self, installed: Installed) -> None:
        self._installed = installed
        self._running: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(self, env: Mapping[str, str], cwd: Path) -> None:
        log = cwd / f"worker-{len(self._running)}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(
                [str(self._installed.bin / "jobhub"), "worker", "--concurrency=1"],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self._installed.env(env),
                cwd=cwd,
                start_new_session=True,
            )
        self._running.append((popen, log))

    def log(self) -> str:
        return "".join(path.read_text(errors="replace") for _, path in self._running)

    def stop_all(self) -> None:
        for popen, _ in self._running:
            if popen.poll() is None:
                popen.terminate()
                try:
                    popen.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    popen.kill()
                    popen.wait()


def _runs_a_job(
    installed: Installed, env: dict[str, str], cwd: Path, workers: WorkerStarter
) -> None:
    upgrade = installed.run(["db", "upgrade"], env, cwd)
    assert upgrade.returncode == 0, upgrade.stderr
    workers.start(env, cwd)

    done = installed.run(
        ["start", "diagnostics.sleep", "-p", "steps=2", "-p", "seconds=0.1", "--wait", "--json"],
        env,
        cwd,
        timeout=180,
    )

    assert done.returncode == 0, f"{done.stderr}\n--- worker:\n{workers.log()[-3000:]}"
    record = json.loads(done.stdout)
    assert record["status"] == "Completed"
    assert record["worker_id"]
    events = json.loads(installed.run(["events", record["id"], "--json"], env, cwd).stdout)
    assert [e["status"] for e in events] == ["Created", "Queued", "Processing", "Completed"]


def test_the_installed_wheel_runs_a_job_on_postgresql_and_redis(
    installed: Installed, settings: Settings, user_folder: Path, worker_of: WorkerStarter
) -> None:
    _runs_a_job(installed, settings_env(settings), user_folder, worker_of)


def test_the_installed_wheel_runs_a_job_on_the_embedded_default(
    installed: Installed, user_folder: Path, worker_of: WorkerStarter
) -> None:
    env = {"JOBHUB_DATA_DIR": str(user_folder / "data")}
    _runs_a_job(installed, env, user_folder, worker_of)
    assert (user_folder / "data" / "jobhub.sqlite3").is_file()
    _runs_a_workflow_from_yaml(installed, env, user_folder)


def _runs_a_workflow_from_yaml(installed: Installed, env: dict[str, str], cwd: Path) -> None:
    """A chain of three from a YAML file (PyYAML is a dependency of the wheel), each
    step getting the result of the one before."""
    (cwd / "flow.yaml").write_text(
        "name: hello\n"
        "steps:\n"
        "  - {name: first, job_type: diagnostics.echo, parameters: {message: one}}\n"
        "  - {name: second, job_type: diagnostics.echo, after: [first], results: data}\n"
        "  - {name: third, job_type: diagnostics.echo, after: [second], results: data}\n"
    )
    done = installed.run(["workflow", "start", "flow.yaml", "--wait", "--json"], env, cwd)
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["status"] == "Completed"
    assert [step["status"] for step in record["steps"]] == ["Completed"] * 3
    third = json.loads(
        installed.run(["status", record["steps"][2]["job_id"], "--json"], env, cwd).stdout
    )
    assert third["workflow_id"] == record["id"]
    assert "second" in third["parameters"]["data"]


def test_the_installed_wheel_serves_the_dashboard_and_metrics(
    installed: Installed, user_folder: Path, worker_of: WorkerStarter
) -> None:
    env = {"JOBHUB_DATA_DIR": str(user_folder / "data"), "JOBHUB_API_PORT": str(free_port())}
    _runs_a_job(installed, env, user_folder, worker_of)
    key = installed.run(
        ["apikey", "create", "--identity", "ops", "--organization", "local", "--role", "admin"],
        env,
        user_folder,
    ).stdout.split()[0]
    log = user_folder / "api.log"
    with log.open("wb") as out:
        api = subprocess.Popen(
            [str(installed.bin / "jobhub"), "api"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=installed.env(env),
            cwd=user_folder,
            start_new_session=True,
        )
    try:
        base = f"http://127.0.0.1:{env['JOBHUB_API_PORT']}"
        with httpx.Client(base_url=base, timeout=10) as browser:
            _wait_until_up(browser, api, log)
            assert "Sign in" in browser.get("/ui/sign-in").text
            assert browser.get("/ui/static/app.css").status_code == 200
            signed = browser.post("/ui/sign-in", data={"key": key, "next": "/ui/jobs"})
            assert signed.status_code == 303
            listed = browser.get("/ui/jobs")
            assert listed.status_code == 200, listed.text
            assert "diagnostics.sleep" in listed.text
            metrics = browser.get("/metrics")
        assert metrics.status_code == 200
        families = {f.name for f in text_string_to_metric_families(metrics.text)}
        assert "jobhub_jobs_finished" in families  # counters are named without _total
    finally:
        api.terminate()
        api.wait(timeout=20)


def _wait_until_up(client: httpx.Client, api: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        assert api.poll() is None, log.read_text()
        try:
            if client.get("/health").status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.2)
