"""Small measuring helpers: peak memory, wall time, and the machine's CPU features."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from slmlab.paths import atomic_output, cache_dir


@dataclass
class Peak:
    bytes: int = 0
    without: int = 0  # the peak without the processes left out (see peak_rss)


def tree_rss_bytes(process, include_self: bool = True, leave_out: str | None = None) -> int:
    """Resident memory of a process and all its descendants (a child that exits meanwhile counts zero).
    `leave_out`: processes whose command line contains this string, and their descendants, are not counted."""
    import psutil

    members = ([process] if include_self else []) + process.children(recursive=True)
    skipped: set[int] = set()
    total = 0
    for member in members:
        try:
            if leave_out and (member.ppid() in skipped or leave_out in " ".join(member.cmdline())):
                skipped.add(member.pid)
                continue
            total += member.memory_info().rss
        except psutil.Error:
            pass
    return total


@contextlib.contextmanager
def peak_rss(interval: float = 0.1, include_self: bool = True, leave_out: str | None = None) -> Iterator[Peak]:
    """The peak resident memory of this process and its children while the block runs, sampled every
    `interval` seconds — unlike getrusage's ru_maxrss, which is the peak of the whole process's life.
    `include_self=False` counts the children only (a notebook's kernel and the servers it starts); with
    `leave_out`, `Peak.without` is the same peak without the processes `tree_rss_bytes` leaves out."""
    import psutil

    me, peak, done = psutil.Process(), Peak(), threading.Event()

    def sample() -> None:
        while True:
            peak.bytes = max(peak.bytes, tree_rss_bytes(me, include_self))
            if leave_out:
                peak.without = max(peak.without, tree_rss_bytes(me, include_self, leave_out))
            if done.wait(interval):
                return

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    try:
        yield peak
    finally:
        done.set()
        watcher.join()


@dataclass
class CPUInfo:
    model: str
    arch: str
    cores: int
    features: dict[str, bool]


SIMD_FLAGS = {
    "SSE4.2": "sse4_2",
    "AVX": "avx",
    "AVX2": "avx2",
    "FMA": "fma",
    "F16C": "f16c",
    "AVX-512": "avx512f",
    "AVX-512 VNNI": "avx512_vnni",
    "AVX-VNNI": "avx_vnni",
    "AMX": "amx_tile",
    "NEON": "asimd",
    "SVE": "sve",
    "ARM dot product": "asimddp",
}


def cpu_info() -> CPUInfo:
    """CPU model and SIMD features from /proc/cpuinfo (the features llama.cpp's kernels use)."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            key, _, value = line.partition(":")
            key = key.strip()
            if key in ("model name", "Model", "Hardware") and model in ("", platform.machine(), platform.processor()):
                model = value.strip()
            elif key in ("flags", "Features"):
                flags |= set(value.split())
    except OSError:
        pass
    machine = platform.machine()
    features = {name: flag in flags for name, flag in SIMD_FLAGS.items()}
    if machine in ("arm64", "aarch64") and platform.system() == "Darwin":
        features["NEON"] = True
    relevant = {
        k: v
        for k, v in features.items()
        if (machine in ("x86_64", "AMD64")) == (k not in ("NEON", "SVE", "ARM dot product"))
    }
    return CPUInfo(model=model or machine, arch=machine, cores=os.cpu_count() or 1, features=relevant)


def results_dir() -> Path:
    """Where notebooks save their measurements: `SLMLAB_RESULTS` if set (the tests use build/), else
    `SLMLAB_HOME/results`."""
    return Path(os.environ["SLMLAB_RESULTS"]) if os.environ.get("SLMLAB_RESULTS") else cache_dir() / "results"


def results_path(notebook: str) -> Path:
    """Where a notebook saves its measurements (`results_dir()/NAME.json`), for later lessons to reuse."""
    return results_dir() / f"{notebook}.json"


def save_results(notebook: str, results: dict) -> Path:
    """Save a notebook's measurements as JSON, atomically, with the machine they were measured on."""
    cpu = cpu_info()
    data = {
        "machine": {"cpu": cpu.model, "cores": cpu.cores, "simd": [k for k, v in cpu.features.items() if v]},
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        **results,
    }
    target = results_path(notebook)
    with atomic_output(target) as tmp:
        tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
    return target


def load_results(notebook: str) -> dict | None:
    path = results_path(notebook)
    return json.loads(path.read_text()) if path.is_file() else None


def memory_bandwidth(size_bytes: int = 1 << 29, repeats: int = 5, threads: int = 1) -> float:
    """Read bandwidth in bytes/s: the best of `repeats` dot products of two float32 arrays that together are far
    larger than the CPU caches (512 MiB; the largest server L3 caches hold about 100 MB). A dot product reads each
    byte once and does almost no arithmetic, like a matrix-vector product in token generation (a plain `sum` is
    slower than memory here: it is compute-bound). With `threads` > 1, each thread reads arrays of its own at the
    same time (numpy lets go of the GIL inside BLAS), as llama.cpp's threads each read their share of a matrix."""
    import numpy as np

    n = size_bytes // 8 // threads  # float32 elements in each of a thread's two arrays
    slices = [(np.ones(n, dtype=np.float32), np.ones(n, dtype=np.float32)) for _ in range(threads)]
    for x, y in slices:
        np.dot(x, y)  # touch every page once
    barrier = threading.Barrier(len(slices) + 1)
    seconds: list[float] = []

    def reader(x, y) -> None:
        for _ in range(repeats):
            barrier.wait()  # every thread starts each round together
            np.dot(x, y)
            barrier.wait()

    workers = [threading.Thread(target=reader, args=pair, daemon=True) for pair in slices]
    for w in workers:
        w.start()
    for _ in range(repeats):
        barrier.wait()
        start = time.perf_counter()
        barrier.wait()
        seconds.append(time.perf_counter() - start)
    for w in workers:
        w.join()
    return sum(x.nbytes + y.nbytes for x, y in slices) / min(seconds)
