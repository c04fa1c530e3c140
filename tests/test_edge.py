"""The edge lesson's two instruments: networking off in one process, and the CPU's energy counters."""

import socket

import pytest

from slmlab import edge

pytestmark = pytest.mark.fast


def test_network_off_refuses_the_outside_and_keeps_this_machine():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)  # the kernel completes a connection to a listening socket: no accept needed
    with edge.network_off():
        with pytest.raises(edge.NetworkOff, match="network off in this process"):
            socket.create_connection(("93.184.215.14", 80), timeout=5)  # refused before any packet leaves
        with pytest.raises(edge.NetworkOff, match="no name lookup"):
            socket.getaddrinfo("huggingface.co", 443)
        socket.create_connection(server.getsockname(), timeout=5).close()  # 127.0.0.1: a local server still works
    assert socket.socket.connect is not None and socket.getaddrinfo.__module__ == "socket"  # restored after
    server.close()


def test_energy_counter_reads_joules_or_says_why_not(tmp_path, monkeypatch):
    counter = edge.energy_counter()
    assert (counter.files and counter.read_joules() > 0) or (not counter.files and counter.problem)
    monkeypatch.setattr(edge, "POWERCAP", tmp_path)  # a machine that exposes one package counter
    (tmp_path / "intel-rapl:0").mkdir()
    (tmp_path / "intel-rapl:0" / "energy_uj").write_text("2500000\n")
    assert edge.energy_counter().read_joules() == 2.5
