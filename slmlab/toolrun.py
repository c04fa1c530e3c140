"""Running llama.cpp's tools: where they are, the command as the learner would type it, and their output.

The tools (`llama-quantize`, `llama-bench`, `llama-server`, `llama-cli`, `llama-perplexity`, `llama-imatrix`) are
built from the one pinned source by `scripts/build-llama-cpp.sh`. Every run prints its command, so the learner sees
the real thing; a failing tool becomes one `SlmlabError` with its last lines.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from slmlab import paths
from slmlab.errors import SlmlabError

TOOLS = ("llama-quantize", "llama-bench", "llama-server", "llama-cli", "llama-perplexity", "llama-imatrix")

SETUP_HINT = "run `make setup` (it builds llama.cpp once into the cache, about 10 minutes)"


def tool_path(name: str) -> Path:
    """Where a llama.cpp tool is: our cached build first, then PATH."""
    built = paths.llama_cpp_bin() / name
    if built.is_file() and os.access(built, os.X_OK):
        return built
    found = shutil.which(name)
    if found:
        return Path(found)
    raise SlmlabError(f"{name} is not built: {SETUP_HINT}")


def tool_env() -> dict[str, str]:
    """The environment for tool runs: our build's bin/ and this Python's first on PATH, so that `llama-quantize`
    is the course's build and `python` is the kernel's own, with the course's packages."""
    env = dict(os.environ)
    first = [str(paths.llama_cpp_bin()), str(Path(sys.executable).parent)]
    rest = [p for p in env.get("PATH", "").split(os.pathsep) if p and p not in first]
    env["PATH"] = os.pathsep.join(first + rest)
    return env


def tools_on_path() -> None:
    """Let a notebook's `!llama-quantize …` and `!python …` lines run what the course runs (see `tool_env`)."""
    os.environ["PATH"] = tool_env()["PATH"]


def show(cmd: list[str | Path]) -> str:
    """The command as the learner would type it: tools and scripts by their short name."""
    short = []
    for part in cmd:
        p = str(part)
        if p == sys.executable:
            p = "python"
        elif p.startswith(str(paths.llama_cpp_root())):
            p = Path(p).name if Path(p).parent in (paths.llama_cpp_bin(), paths.llama_cpp_source()) else p
        short.append(p)
    return shlex.join(short)


def run(
    cmd: list[str | Path], *, quiet: bool = False, timeout: float | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a tool, printing its command; raise SlmlabError with the tool's last lines if it fails."""
    if not quiet:
        print("$", show(cmd), flush=True)
    try:
        proc = subprocess.run(
            [str(c) for c in cmd],
            capture_output=True,
            text=True,
            env=tool_env(),
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError:
        raise SlmlabError(f"{cmd[0]} was not found: {SETUP_HINT}") from None
    except subprocess.TimeoutExpired:
        raise SlmlabError(f"{Path(str(cmd[0])).name} did not finish within {timeout:.0f} s") from None
    if proc.returncode != 0:
        output = (proc.stderr or proc.stdout).strip()
        name = Path(str(cmd[1] if str(cmd[0]) == sys.executable else cmd[0])).name
        if "Traceback (most recent call last)" in output:  # a Python script: its exception is the message
            raise SlmlabError(f"{name} failed: {output.splitlines()[-1]}")
        tail = "\n".join(output.splitlines()[-8:])
        raise SlmlabError(f"{name} failed (exit {proc.returncode}):\n{tail}")
    return proc


def tool_log(cmd: list[str | Path], quiet: bool = False) -> str:
    """Run a tool with `--log-file` and return everything it logged (llama.cpp logs from a thread, and piped
    output can lose the last lines; the log file keeps them)."""
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "tool.log"
        proc = run([*cmd, "--log-file", log], quiet=quiet)
        return (log.read_text(errors="replace") if log.exists() else "") + proc.stdout + proc.stderr


def tool_version(name: str) -> str:
    """The build number and commit a tool reports, e.g. '1 (4b3f7ab)'."""
    proc = subprocess.run(
        [str(tool_path(name)), "--version"],
        capture_output=True,
        text=True,
        env=tool_env(),
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    m = re.search(r"version:\s*(.+)", proc.stdout + proc.stderr)
    if m:
        return m.group(1).strip()
    if name != "llama-cli" and tool_path(name).parent == tool_path("llama-cli").parent:
        return f"{tool_version('llama-cli')}, the build llama-cli reports"  # llama-quantize has no --version
    return "unknown"


def default_threads() -> int:
    """Threads for llama.cpp: SLMLAB_THREADS if set, else the physical cores we may use."""
    env = os.environ.get("SLMLAB_THREADS")
    return int(env) if env else max(1, len(os.sched_getaffinity(0)))
