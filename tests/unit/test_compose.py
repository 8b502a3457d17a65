"""compose.yaml runs the whole system, every service configured by the same JOBHUB_* variables.

Docker is not needed to read the file; this checks its shape so a broken edit shows here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
JOBHUB_SERVICES = ("migrate", "worker", "beat", "api", "flower")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return loaded


def test_compose_has_every_service(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {"postgres", "redis", *JOBHUB_SERVICES}


@pytest.mark.parametrize("name", ["postgres", "redis", "worker", "beat", "api", "flower"])
def test_long_running_services_have_a_health_check(compose: dict[str, Any], name: str) -> None:
    check = compose["services"][name]["healthcheck"]
    assert check["test"]
    assert not check.get("disable", False)


def test_migration_runs_once_before_the_jobhub_services(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["migrate"]["command"] == ["jobhub", "db", "upgrade"]
    assert services["migrate"]["restart"] == "no"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("worker", "beat", "api", "flower"):
        condition = services[name]["depends_on"]["migrate"]["condition"]
        assert condition == "service_completed_successfully"


@pytest.mark.parametrize("name", JOBHUB_SERVICES)
def test_jobhub_services_share_one_image_and_the_jobhub_variables(
    compose: dict[str, Any], name: str
) -> None:
    service = compose["services"][name]
    assert service["image"] == "jobhub:local"
    assert service["command"][0] == "jobhub"
    env = service["environment"]
    assert env["JOBHUB_DATABASE_URL"].startswith("postgresql://")
    assert "@postgres:5432/" in env["JOBHUB_DATABASE_URL"]
    assert env["JOBHUB_BROKER_URL"] == "redis://redis:6379/0"
    assert all(key.startswith(("JOBHUB_", "FLOWER_")) for key in env)


def test_the_image_installs_the_package_and_its_job_modules(compose: dict[str, Any]) -> None:
    dockerfile = compose["services"]["worker"]["build"]["dockerfile_inline"]
    for part in ("COPY jobhub", "COPY workers", "beat_schedule.py", "pip install"):
        assert part in dockerfile


def test_the_api_is_published_on_loopback_and_checks_readiness(compose: dict[str, Any]) -> None:
    api = compose["services"]["api"]
    assert api["command"][:2] == ["jobhub", "api"]
    assert api["ports"] == ["127.0.0.1:8000:8000"]
    assert "/ready" in " ".join(api["healthcheck"]["test"])
