"""The embedded default: SQLite and a file broker under a data folder, no server at all."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import Processes, run_cli, subprocess_env
from tests.services import free_port


def _embedded_env(tmp_path: Path) -> dict[str, str]:
    return {"JOBHUB_DATA_DIR": str(tmp_path / "data"), "JOBHUB_CANCEL_POLL_INTERVAL": "0.1"}


def test_embedded_default_runs_a_job_end_to_end_with_no_servers(
    tmp_path: Path, processes: Processes
) -> None:
    env = _embedded_env(tmp_path)
    assert run_cli(["db", "upgrade"], env).returncode == 0
    processes.start("worker", ["worker", "--concurrency=2"], env).wait_for_log(" ready.")

    result = run_cli(
        ["start", "diagnostics.sleep", "-p", "steps=2", "-p", "seconds=0.1", "--wait", "--json"],
        env,
    )

    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["status"] == "Completed"
    assert record["percent"] == 100
    assert record["worker_id"]
    assert record["started_at"]
    assert record["completed_at"]
    assert (tmp_path / "data" / "jobhub.sqlite3").is_file()
    assert (tmp_path / "data" / "broker" / "queue").is_dir()
    events = json.loads(run_cli(["events", record["id"], "--json"], env).stdout)
    assert [e["status"] for e in events] == ["Created", "Queued", "Processing", "Completed"]


def test_embedded_default_cancels_a_running_job_through_the_database(
    tmp_path: Path, processes: Processes
) -> None:
    env = _embedded_env(tmp_path)
    assert run_cli(["db", "upgrade"], env).returncode == 0
    processes.start("worker", ["worker", "--concurrency=1"], env).wait_for_log(" ready.")
    job_id = run_cli(
        ["start", "diagnostics.sleep", "-p", "steps=100", "-p", "seconds=0.2"], env
    ).stdout.strip()
    deadline = time.monotonic() + 30
    while json.loads(run_cli(["status", job_id, "--json"], env).stdout)["status"] != "Processing":
        assert time.monotonic() < deadline
        time.sleep(0.1)

    assert run_cli(["cancel", job_id], env).returncode == 0
    waited = run_cli(["wait", job_id, "--timeout", "10", "--json"], env)

    assert json.loads(waited.stdout)["status"] == "Cancelled"
    assert waited.returncode == 1  # it ended, but not Completed


def test_serve_runs_a_first_job_and_ctrl_c_stops_every_process(tmp_path: Path) -> None:
    port = free_port()
    env = subprocess_env(
        {
            **_embedded_env(tmp_path),
            "JOBHUB_MAINTENANCE_INTERVAL": "1s",
            "JOBHUB_API_PORT": str(port),
        }
    )
    out = tmp_path / "serve.out"
    with out.open("wb") as sink:
        serve = subprocess.Popen(
            [sys.executable, "-m", "jobhub", "serve", "-p", "steps=2", "-p", "seconds=0.1"],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=tmp_path,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while '"steps": 2' not in out.read_text():  # the result, printed after Completed
            assert serve.poll() is None, out.read_text()
            assert time.monotonic() < deadline, out.read_text()
            time.sleep(0.1)
        text = out.read_text()
        first = next(line for line in text.splitlines() if line.startswith("started "))
        job_id = first.split()[-1]
        assert f"{job_id}  Processing" in text
        assert f"{job_id}  Completed" in text
        assert '"steps": 2' in text  # the result is printed
        housekeeping: list[dict[str, str]] = []
        while len(housekeeping) < 2:  # beat's reaper and outbox run every second here
            assert time.monotonic() < deadline, out.read_text()
            time.sleep(0.5)
            listed = run_cli(["jobs", "--housekeeping", "--json"], _embedded_env(tmp_path))
            housekeeping = [j for j in json.loads(listed.stdout) if j["housekeeping"]]
        time.sleep(1)
        assert "maintenance." not in out.read_text()  # their lifecycle is not printed
        _dashboard_shows(out.read_text(), port, job_id)

        serve.send_signal(signal.SIGINT)
        assert serve.wait(timeout=40) == 0, out.read_text()
    finally:
        if serve.poll() is None:
            os.killpg(serve.pid, signal.SIGKILL)
    assert "stopped" in out.read_text()
    assert _processes_using(tmp_path / "data") == []


def _dashboard_shows(printed: str, port: int, job_id: str) -> None:
    """The dashboard address and key serve printed work: signed in, the job is there."""
    found = re.search(r"dashboard on (http://\S+/ui); sign in with (jh_\S+)", printed)
    assert found is not None, printed
    address, key = found.groups()
    assert address == f"http://127.0.0.1:{port}/ui"
    with httpx.Client(base_url=address.removesuffix("/ui"), timeout=10) as browser:
        signed = browser.post("/ui/sign-in", data={"key": key, "next": f"/ui/jobs/{job_id}"})
        assert signed.status_code == 303
        assert "jobhub_session" in signed.cookies
        shown = browser.get(f"/ui/jobs/{job_id}")
    assert shown.status_code == 200, shown.text
    assert "Completed" in shown.text
    assert "diagnostics.sleep" in shown.text


def _processes_using(data_dir: Path) -> list[int]:
    """Pids of live processes started with JOBHUB_DATA_DIR=data_dir."""
    marker = f"JOBHUB_DATA_DIR={data_dir}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().split()[2]
        except OSError:
            continue
        if marker in environ.split(b"\0") and state != "Z":
            found.append(int(entry.name))
    return found
