"""Housekeeping jobs do not bury the users' jobs: the real CLI and the real HTTP API list
them only when asked, and still show each one by id."""

from __future__ import annotations

import json
from typing import Any

import pytest

from jobhub import JobManager, RemoteJobManager, Settings, WaitTimeout
from tests.conftest import Processes, run_cli, settings_env

AIMS360 = "/jobsmanagement/odata/v1.0/backgroundjob"
ANY = "housekeeping eq true or housekeeping eq false"


def test_cli_and_http_lists_show_housekeeping_jobs_only_when_asked(
    manager: JobManager, processes: Processes, settings: Settings
) -> None:
    # No worker runs: both stay Queued, which is enough to be listed.
    upkeep = str(manager.start_job("maintenance.reconcile_outbox", organization="acme").id)
    user = str(manager.start_job("diagnostics.echo", {"message": "mine"}, organization="acme").id)
    env = settings_env(settings)

    def cli(*args: str) -> str:
        result = run_cli(["jobs", *args], env)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def cli_ids(*args: str) -> list[str]:
        return [record["id"] for record in json.loads(cli("--json", *args))]

    assert cli_ids() == [user]
    assert cli_ids("--housekeeping") == [user, upkeep]
    assert cli_ids("--type", "maintenance.reconcile_outbox") == [upkeep]
    assert cli_ids("--type", "diagnostics.echo", "--housekeeping") == [user]
    table = cli()
    assert user in table
    assert upkeep not in table
    assert upkeep in cli("--housekeeping")
    assert json.loads(cli("--json", "--housekeeping"))[1]["housekeeping"] is True

    api = processes.api(settings)
    token = manager.access.create_api_key(identity="ops", organization="acme", role="viewer").token
    with api.client(token) as http:

        def listed(path: str, **params: Any) -> list[dict[str, Any]]:
            response = http.get(path, params=params)
            assert response.status_code == 200, response.text
            value: list[dict[str, Any]] = response.json()["value"]
            return value

        assert [r["id"] for r in listed("/jobs")] == [user]
        assert [r["id"] for r in listed("/jobs", **{"$filter": "housekeeping eq true"})] == [upkeep]
        both = listed("/jobs", **{"$filter": ANY})
        assert [(r["id"], r["housekeeping"]) for r in both] == [(user, False), (upkeep, True)]
        counted = http.get("/jobs", params={"$count": "true"}).json()
        assert counted["@odata.count"] == 1
        assert [r["jobID"] for r in listed(AIMS360)] == [user]
        aims = listed(AIMS360, **{"$filter": "housekeeping eq true"})
        assert [r["jobID"] for r in aims] == [upkeep]
        bad = http.get("/jobs", params={"$filter": "housekeeping eq 'yes'"})
        assert bad.status_code == 400
        # one job by id is shown whatever it is
        assert http.get(f"/jobs/{upkeep}").json()["housekeeping"] is True

    with RemoteJobManager(api.url, token) as remote:
        assert [str(job.id) for job in remote.find_jobs()] == [user]
        assert [str(job.id) for job in remote.pending_jobs(housekeeping=True)] == [user, upkeep]
        assert [
            str(job.id) for job in remote.find_jobs(job_type="maintenance.reconcile_outbox")
        ] == [upkeep]
        assert remote.get_job(upkeep) == manager.get_job(upkeep)
        with pytest.raises(WaitTimeout):  # found (not JobNotFound), and still Queued
            remote.wait_for_completion([upkeep], timeout=0.2)
