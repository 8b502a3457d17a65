"""Test hosts: network namespaces on this machine, each with its own address on a private
bridge that lives in a namespace of its own, as ``../shared/tools/hosts.sh`` makes them.

``Network.up(["svc", "h1", "h2"])`` makes the hosts; the test process itself gets a link
to the bridge too (address ``.1``), so it reaches every host as a client on another host
would, and never anything else. ``Host.cut`` takes a host's link down on the bridge (the
host is cut off from every other), ``Host.heal`` brings it back. Each network takes a
subnet of its own (``10.210.K.0/24``, K claimed by an atomic ``mkdir``), so test
processes running side by side never share one. Needs root (``ip netns``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

CLAIMS = Path("/tmp/jobhub-test-networks")
SUBNETS = range(20, 250)


class NetworkUnavailable(Exception):
    """This machine cannot make test hosts (not root, or no ``ip``)."""


def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise NetworkUnavailable(f"ip {' '.join(args)}: {result.stderr.strip()}")


@dataclass
class Host:
    """One test host: a namespace and its address."""

    name: str
    namespace: str
    address: str
    bridge_end: str
    bridge: str

    def command(self, argv: Sequence[str]) -> list[str]:
        """``argv`` run inside this host."""
        return ["ip", "netns", "exec", self.namespace, *argv]

    def cut(self) -> None:
        """Cut this host off: its link on the bridge goes down."""
        _ip("-n", self.bridge, "link", "set", self.bridge_end, "down")

    def heal(self) -> None:
        _ip("-n", self.bridge, "link", "set", self.bridge_end, "up")


@dataclass
class Network:
    """Hosts on one private bridge; ``down`` removes every namespace it made."""

    subnet: int
    hosts: dict[str, Host] = field(default_factory=dict)

    @property
    def prefix(self) -> str:
        return f"jt{self.subnet}"

    @property
    def bridge(self) -> str:
        return f"{self.prefix}br"

    @property
    def own_address(self) -> str:
        """The test process's address on the bridge."""
        return f"10.210.{self.subnet}.1"

    def __getitem__(self, name: str) -> Host:
        return self.hosts[name]

    @classmethod
    @contextlib.contextmanager
    def up(cls, names: Sequence[str]) -> Iterator[Network]:
        """Make the hosts ``names`` (addresses .10, .11, ... in that order)."""
        if os.geteuid() != 0 or shutil.which("ip") is None:
            raise NetworkUnavailable("test hosts need root and iproute2 (ip netns)")
        network = cls(_claim_subnet())
        try:
            network._make(names)
            yield network
        finally:
            network.down()

    def _make(self, names: Sequence[str]) -> None:
        self._remove_namespaces()  # left by a run that was killed
        _ip("netns", "add", self.bridge)
        _ip("-n", self.bridge, "link", "add", "br0", "type", "bridge")
        _ip("-n", self.bridge, "link", "set", "br0", "up")
        own, own_end = f"{self.prefix}r", f"{self.prefix}rb"
        _ip("link", "add", own, "type", "veth", "peer", "name", own_end)
        self._attach(own_end)
        _ip("addr", "add", f"{self.own_address}/24", "dev", own)
        _ip("link", "set", own, "up")
        for index, name in enumerate(names):
            namespace = f"{self.prefix}{name}"
            inside, outside = f"{self.prefix}v{index}", f"{self.prefix}b{index}"
            address = f"10.210.{self.subnet}.{10 + index}"
            _ip("netns", "add", namespace)
            _ip("link", "add", inside, "type", "veth", "peer", "name", outside)
            _ip("link", "set", inside, "netns", namespace)
            self._attach(outside)
            _ip("-n", namespace, "addr", "add", f"{address}/24", "dev", inside)
            _ip("-n", namespace, "link", "set", inside, "up")
            _ip("-n", namespace, "link", "set", "lo", "up")
            self.hosts[name] = Host(name, namespace, address, outside, self.bridge)

    def _attach(self, end: str) -> None:
        _ip("link", "set", end, "netns", self.bridge)
        _ip("-n", self.bridge, "link", "set", end, "master", "br0")
        _ip("-n", self.bridge, "link", "set", end, "up")

    def down(self) -> None:
        self._remove_namespaces()
        with contextlib.suppress(OSError):
            (CLAIMS / str(self.subnet)).rmdir()

    def _remove_namespaces(self) -> None:
        # Deleting a namespace deletes its veth ends, and with them their peers (ours too).
        listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
        for line in listed.stdout.splitlines():
            name = line.split()[0] if line.split() else ""
            if name.startswith(self.prefix) and name[len(self.prefix) :][:1].isalpha():
                subprocess.run(["ip", "netns", "del", name], check=False)
        subprocess.run(["ip", "link", "del", f"{self.prefix}r"], capture_output=True, check=False)


def _claim_subnet() -> int:
    CLAIMS.mkdir(parents=True, exist_ok=True)
    for subnet in SUBNETS:
        try:
            (CLAIMS / str(subnet)).mkdir()
        except FileExistsError:
            continue
        return subnet
    raise NetworkUnavailable(f"every test subnet is claimed: remove {CLAIMS} if no test runs")
