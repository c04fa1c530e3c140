"""Why a model at the edge: it works with the network off, and what it costs in energy where the CPU says.

`network_off()` switches networking off *in this Python process* — every connection to anything but this machine
is refused — so a notebook can show a model answering with no network at all. `energy_counter()` reads the CPU's
own energy counters (Linux powercap, Intel RAPL and AMD's equivalent) where the machine exposes them; where it does
not, it says why, and no number is made up.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

POWERCAP = Path("/sys/class/powercap")


class NetworkOff(OSError):
    """A connection refused by `network_off`: it would have left this machine."""


def _local_host(host: object) -> bool:
    if not isinstance(host, str):
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: resolving it is already the network


def _local(address: object) -> bool:
    if isinstance(address, str):  # an AF_UNIX socket's path: a file on this machine
        return True
    return isinstance(address, tuple) and _local_host(address[0])


@contextlib.contextmanager
def network_off() -> Iterator[None]:
    """Refuse every connection from this process that would leave the machine (127.0.0.1 and ::1 still work: a
    local server is local). Name lookups are refused too."""
    connect, connect_ex, getaddrinfo = socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo

    def guarded(self, address):
        if not _local(address):
            raise NetworkOff(f"network off in this process: no connection to {address!r}")
        return connect(self, address)

    def guarded_ex(self, address):
        if not _local(address):
            raise NetworkOff(f"network off in this process: no connection to {address!r}")
        return connect_ex(self, address)

    def lookup(host, *args, **kwargs):
        if not _local_host(host):
            raise NetworkOff(f"network off in this process: no name lookup for {host!r}")
        return getaddrinfo(host, *args, **kwargs)

    socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo = guarded, guarded_ex, lookup
    try:
        yield
    finally:
        socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo = connect, connect_ex, getaddrinfo


@dataclass
class EnergyCounter:
    """The CPU packages' energy counters (microjoules), or why there are none."""

    files: list[Path]
    problem: str | None = None

    def read_joules(self) -> float:
        return sum(int(f.read_text()) for f in self.files) / 1e6


def energy_counter() -> EnergyCounter:
    """The package-level powercap counters (`intel-rapl:N/energy_uj`, which AMD's driver also fills), readable by
    this user. Reading them needs root on Linux 5.10 and later, and virtual machines rarely expose them."""
    if not POWERCAP.is_dir():
        return EnergyCounter([], f"{POWERCAP} does not exist: this kernel or machine exposes no energy counters")
    files = sorted(POWERCAP.glob("intel-rapl:[0-9]/energy_uj"))
    if not files:
        return EnergyCounter([], f"{POWERCAP} has no package energy counter (intel-rapl:N)")
    try:
        for f in files:
            int(f.read_text())
    except PermissionError:
        return EnergyCounter([], f"{files[0]} is readable only by root here (Linux 5.10 and later)")
    return EnergyCounter(files)
