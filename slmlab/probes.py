"""What llama.cpp allocates and how much memory a model takes, measured in a fresh process.

A fresh process, because a notebook's kernel already holds hundreds of MB and its peak would hide the model's.
llama.cpp logs each buffer it allocates (weights, repacked weights, KV cache, compute, output); `buffer_sizes`
reads them, and the sizing lessons compare them with what the formulas predict.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from slmlab import paths
from slmlab.binding import greedy_tokens, open_llama
from slmlab.errors import SlmlabError
from slmlab.gguf_file import read_gguf
from slmlab.toolrun import default_threads


@dataclass
class Memory:
    model: str
    context: int
    baseline_bytes: int  # the Python process before the model is loaded
    loaded_bytes: int  # resident after loading (weights memory-mapped, KV cache and buffers allocated)
    peak_bytes: int  # the process's peak resident memory (VmHWM) after loading and generating
    buffers: dict[str, int] = field(default_factory=dict)  # what llama.cpp says it allocated (see `buffer_sizes`)

    @property
    def model_bytes(self) -> int:
        """Peak memory that the model adds to the process: peak minus the baseline."""
        return self.peak_bytes - self.baseline_bytes


BUFFER_LINE = re.compile(r"^(\w+):\s+(\S+)\s+(model|KV|compute|output) buffer size =\s+([\d.]+) MiB", re.M)


def buffer_sizes(log: str) -> dict[str, int]:
    """The buffers llama.cpp reports while loading a model, in bytes: `weights` (the file, memory-mapped),
    `weights repacked` (copies of some weight matrices re-laid out for this CPU's SIMD kernels), `kv cache`
    (all KV buffers: a sliding-window model has two), `compute` (scratch for one batch) and `output` (logits)."""
    out: dict[str, int] = {}
    for _, device, kind, mib in BUFFER_LINE.findall(log):
        key = {"model": "weights repacked" if "REPACK" in device else "weights", "KV": "kv cache"}.get(kind, kind)
        out[key] = out.get(key, 0) + round(float(mib) * 2**20)
    return out


def _memory_probe(path: str, context: int, n_tokens: int, threads: int) -> dict:
    """Run in a fresh process (`memory_while_generating`): resident memory before loading, after loading, and
    at the peak after generating. It does not read the file with `gguf` first (its Python parse of a large
    vocabulary would dominate the peak). llama.cpp's log goes to stderr, where the caller reads the buffers."""
    import resource

    def rss() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize()

    base = rss()
    llm = open_llama(path, context, threads, verbose=True)
    loaded = rss()
    greedy_tokens(llm, llm.tokenize(b"The", add_bos=True), n_tokens, stop_at_eos=False)
    # the high-water mark of this process's memory: VmHWM, not getrusage's ru_maxrss, which on Linux keeps the
    # peak of the process that forked this one (a 400 MB notebook kernel, say) across exec
    with open("/proc/self/status") as f:
        peak = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))
    return {"baseline": base, "loaded": loaded, "peak": max(peak, rss(), loaded)}


CACHE_TYPES = {"f16": 1, "q8_0": 8}  # ggml's type ids, as llama.cpp's --cache-type-k / --cache-type-v name them


def _kv_probe(path: str, context: int, swa_full: int, cache_type: str) -> None:
    t = CACHE_TYPES[cache_type]
    open_llama(path, context, 1, verbose=True, swa_full=bool(swa_full), type_k=t, type_v=t)  # logs to stderr


def kv_cache_allocated(
    gguf_path: str | Path, context: int, *, swa_full: bool = False, cache_type: str = "f16", cached: bool = True
) -> int:
    """Bytes llama.cpp allocates for the KV cache of a context (both caches of a sliding-window model), read
    from its own log in a fresh process. `swa_full` is llama.cpp's `--swa-full`; `cache_type` its
    `--cache-type-k/-v` (a quantized V cache needs flash attention, which is on).

    The answer depends only on the file, llama.cpp's version and these arguments, so it is kept in the cache
    under that key (`cached=False` asks llama.cpp again)."""
    read_gguf(gguf_path)
    if cache_type not in CACHE_TYPES:
        raise SlmlabError(f"cache_type must be one of {', '.join(CACHE_TYPES)}, not {cache_type!r}")
    key = paths.content_key(paths.file_key(gguf_path), paths.llama_cpp_key(), context, swa_full, cache_type)
    saved = paths.cache_dir() / "probes" / f"kv-{key}.json"
    if cached and saved.is_file():
        return json.loads(saved.read_text())["kv_cache_bytes"]
    allocated = _kv_cache_from_llama_cpp(gguf_path, context, swa_full, cache_type)
    with paths.atomic_output(saved) as tmp:
        tmp.write_text(
            json.dumps(
                {
                    "file": Path(gguf_path).name,
                    "context": context,
                    "swa_full": swa_full,
                    "cache_type": cache_type,
                    "kv_cache_bytes": allocated,
                }
            )
        )
    return allocated


def _kv_cache_from_llama_cpp(gguf_path: str | Path, context: int, swa_full: bool, cache_type: str) -> int:
    code = (
        f"import sys; from slmlab.probes import _kv_probe; _kv_probe(sys.argv[1], {int(context)}, "
        f"{int(swa_full)}, {cache_type!r})"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(gguf_path)],
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    buffers = buffer_sizes(proc.stderr)
    if proc.returncode != 0 or "kv cache" not in buffers:
        raise SlmlabError(
            f"llama.cpp did not allocate a {context}-token context for {Path(gguf_path).name}: "
            f"{proc.stderr.strip().splitlines()[-1:]}"
        )
    return buffers["kv cache"]


_MEMORY_PROBE = (
    "import json, sys; from slmlab.probes import _memory_probe; "
    "print(json.dumps(_memory_probe(sys.argv[1], *map(int, sys.argv[2:]))))"
)


def memory_while_generating(
    gguf_path: str | Path, context: int = 512, n_tokens: int = 32, threads: int | None = None
) -> Memory:
    """Resident memory of a fresh process that loads the model and generates (measured, not estimated),
    with the buffers llama.cpp reports allocating."""
    read_gguf(gguf_path)
    threads = threads or default_threads()
    args = [str(gguf_path), str(context), str(n_tokens), str(threads)]
    proc = subprocess.run(
        [sys.executable, "-c", _MEMORY_PROBE, *args],
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    if proc.returncode != 0:
        last = proc.stderr.strip().splitlines()[-1:]
        raise SlmlabError(f"the memory probe failed for {Path(gguf_path).name}: {last}")
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    return Memory(Path(gguf_path).name, context, r["baseline"], r["loaded"], r["peak"], buffer_sizes(proc.stderr))
