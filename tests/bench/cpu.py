"""CPU time of the process groups one round involves, read from ``/proc`` (Linux).

* **worker**: the worker's main process and its pool processes (with children it reaped);
* **postgres**: every server process: the postmaster's own time, what it reaped from
  backends that ended, and the backends alive now (so connections that come and go
  during a round are counted once);
* **redis**: the ``redis-server`` processes;
* **producer**: the benchmark process while it enqueues (``getrusage``), not while it
  polls for completion.

The servers are the machine's own; the benchmark runs alone on them, so what they spent
during a round is the round's.
"""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass
from pathlib import Path

_TICK = 1.0 / os.sysconf("SC_CLK_TCK")
GROUPS = ("worker", "postgres", "redis", "producer")


@dataclass(frozen=True)
class _Proc:
    comm: str
    ppid: int
    own: float
    reaped: float


def _processes() -> dict[int, _Proc]:
    found: dict[int, _Proc] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue  # it ended while we looked
        comm = text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 2 :].split()
        # fields[1] is ppid; 11..14 utime, stime, cutime, cstime (stat fields 14..17)
        own = (int(fields[11]) + int(fields[12])) * _TICK
        reaped = (int(fields[13]) + int(fields[14])) * _TICK
        found[int(entry.name)] = _Proc(comm, int(fields[1]), own, reaped)
    return found


def _tree(processes: dict[int, _Proc], root: int) -> float:
    """``root``'s time, with what it reaped and what its live descendants spent."""
    total = 0.0
    stack = [root]
    while stack:
        pid = stack.pop()
        proc = processes.get(pid)
        if proc is None:
            continue
        total += proc.own + (proc.reaped if pid == root else 0.0)
        stack.extend(child for child, p in processes.items() if p.ppid == pid)
    return total


def producer_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def snapshot(worker_pid: int) -> dict[str, float]:
    """Seconds of CPU each server group and the worker tree have spent so far."""
    processes = _processes()
    postmasters = [
        pid
        for pid, proc in processes.items()
        if proc.comm == "postgres"
        and processes.get(proc.ppid, _Proc("", 0, 0, 0)).comm != "postgres"
    ]
    return {
        "worker": _tree(processes, worker_pid),
        "postgres": sum(_tree(processes, pid) for pid in postmasters),
        "redis": sum(p.own for p in processes.values() if p.comm == "redis-server"),
    }
