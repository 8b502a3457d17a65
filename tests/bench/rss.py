"""Worker memory from /proc: a prefork worker's main process and its pool children.

``VmHWM`` is a process's peak resident set, ``VmRSS`` its current one (both in kB).
Children are found through ``/proc/<pid>/task/*/children``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


def children(pid: int) -> list[int]:
    """The direct children of ``pid`` (empty when it is gone)."""
    found: set[int] = set()
    for listing in (PROC / str(pid) / "task").glob("*/children"):
        try:
            found.update(int(part) for part in listing.read_text().split())
        except (OSError, ValueError):
            continue
    return sorted(found)


def status_kb(pid: int, field: str) -> int | None:
    """One ``kB`` field of ``/proc/<pid>/status``; None when the process is gone."""
    try:
        text = (PROC / str(pid) / "status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return None


@dataclass(frozen=True, slots=True)
class Memory:
    """A worker's memory: the main process and each pool child, in kB."""

    main_kb: int
    children_kb: tuple[int, ...]

    @property
    def max_child_kb(self) -> int:
        return max(self.children_kb, default=0)

    @property
    def total_kb(self) -> int:
        return self.main_kb + sum(self.children_kb)

    def as_dict(self) -> dict[str, int | list[int]]:
        return {
            "main_kb": self.main_kb,
            "max_child_kb": self.max_child_kb,
            "total_kb": self.total_kb,
            "children_kb": list(self.children_kb),
        }


def measure(pid: int, field: str) -> Memory:
    """``field`` (``VmHWM`` or ``VmRSS``) of the worker at ``pid`` and of its children."""
    kids = tuple(v for v in (status_kb(child, field) for child in children(pid)) if v is not None)
    return Memory(status_kb(pid, field) or 0, kids)


def peak(pid: int) -> Memory:
    """Peak resident memory so far (``VmHWM``)."""
    return measure(pid, "VmHWM")


def current(pid: int) -> Memory:
    """Resident memory now (``VmRSS``)."""
    return measure(pid, "VmRSS")
