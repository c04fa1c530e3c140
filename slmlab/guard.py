"""Run a server so that it ends with the Python process that started it — whatever ends that process.

`serve` starts every server as `python -m slmlab.guard PARENT_PID -- COMMAND ...`. A `with` block or an
`atexit` hook stops a server when Python exits normally, but not when the process is killed (a notebook
kernel killed or restarted hard, `kill -9`, a test runner shot down). For those:
* on Linux the guard asks the kernel to send the server SIGTERM when its parent dies
  (`prctl(PR_SET_PDEATHSIG)`), then *becomes* the server with `exec` — no extra process stays behind;
* elsewhere it stays as a small parent that starts the server, passes on SIGTERM/SIGINT, and stops the
  server when it sees its own parent gone.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _exec_with_parent_death_signal(parent: int, cmd: list[str]) -> None:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:  # the parent died before the signal was armed
        sys.exit(1)
    os.execvp(cmd[0], cmd)


def _watch(parent: int, cmd: list[str]) -> int:
    child = subprocess.Popen(cmd)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, frame: child.send_signal(signum))
    while child.poll() is None:
        if os.getppid() != parent:
            child.terminate()
            try:
                child.wait(10)
            except subprocess.TimeoutExpired:
                child.kill()
            break
        time.sleep(0.5)
    return child.wait()


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python -m slmlab.guard PARENT_PID -- COMMAND [ARGS ...]", file=sys.stderr)
        return 2
    parent, cmd = int(argv[0]), argv[2:]
    if sys.platform.startswith("linux"):
        _exec_with_parent_death_signal(parent, cmd)  # does not return
    return _watch(parent, cmd)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
