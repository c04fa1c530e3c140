"""Why a model at the edge: it works with the network off, and what it costs in energy where the CPU says.

`network_off()` switches networking off *in this Python process* — every connection to anything but this machine
is refused — so a notebook can show a model answering with no network at all. `energy_counter()` reads the CPU's
own energy counters (Linux powercap, Intel RAPL and AMD's equivalent) where the machine exposes them; where it does
not, it says why, and no number is made up; `energy_per_token` measures one generation with them (notebook 00).
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


@dataclass
class EnergyReading:
    """Joules per generated token over a whole generation (the CPU package: every core, not the model alone), or
    why this machine cannot say."""

    joules_per_token: float | None
    why_not: str | None = None
    tokens: int = 0

    def __str__(self) -> str:
        if self.joules_per_token is None:
            return f"not measured on this machine — {self.why_not}"
        return f"{self.joules_per_token:.3f} J (the whole CPU package, over {self.tokens} tokens)"


def energy_per_token(llm: Callable[..., Any], prompt: str, n_tokens: int = 32) -> EnergyReading:
    """Generate `n_tokens` after `prompt` with `llm` (a `llama_cpp.Llama`, greedy) and divide the energy the CPU
    counted meanwhile by the tokens generated. Where the counters are not readable, nothing is generated and the
    reading says why."""
    counter = energy_counter()
    if counter.problem:
        return EnergyReading(None, counter.problem)
    before = counter.read_joules()
    n = llm(prompt, max_tokens=n_tokens, temperature=0.0)["usage"]["completion_tokens"]
    joules = counter.read_joules() - before
    if n == 0:
        return EnergyReading(None, "the model generated no token after this prompt: try another", n)
    if joules <= 0:  # the counter wrapped around meanwhile (at its max_energy_range_uj, some hundred kJ)
        return EnergyReading(None, "the energy counter wrapped around during the run: run the cell again", n)
    return EnergyReading(joules / n, None, n)
