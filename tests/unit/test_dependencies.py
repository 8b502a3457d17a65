"""Every package jobhub's code imports is one it declares, not one that happens to be there.

The development environment brings packages a user's install does not (pytest brings
``packaging``, for one); this catches a new import of such a package as soon as it is
written. The installed wheel is exercised for real by ``tests/acceptance/test_wheel.py``.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
OWN = {"jobhub", "workers", "beat_schedule"}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _imported_top_levels() -> dict[str, str]:
    """Each third-party top-level module imported by jobhub/, workers/ or beat_schedule.py,
    with one file that imports it."""
    found: dict[str, str] = {}
    files = [*(ROOT / "jobhub").rglob("*.py"), *(ROOT / "workers").rglob("*.py")]
    for path in [*files, ROOT / "beat_schedule.py"]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in OWN and top not in sys.stdlib_module_names:
                    found.setdefault(top, str(path.relative_to(ROOT)))
    return found


def test_every_third_party_import_is_a_declared_dependency() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {_canonical(Requirement(text).name) for text in project["dependencies"]}
    providers = packages_distributions()

    undeclared = {
        module: where
        for module, where in _imported_top_levels().items()
        if not {_canonical(dist) for dist in providers.get(module, [])} & declared
    }

    assert undeclared == {}, f"imported but not in [project] dependencies: {undeclared}"
