"""llama.cpp: the tools the lesson teaches (`convert_hf_to_gguf.py`, `llama-quantize`, `llama-cli`,
`llama-bench`, `llama-perplexity`, `llama-server`) and the llama-cpp-python binding, all built
from the one pinned source by `scripts/build-llama-cpp.sh`.

Every tool call prints the command it runs, so the learner sees the real thing, and writes its
output under a temporary name that is renamed only when the tool succeeded.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from slmlab import paths
from slmlab.errors import SlmlabError
from slmlab.gguf_file import GGUFInfo, read_gguf

TOOLS = ("llama-quantize", "llama-bench", "llama-server", "llama-cli", "llama-perplexity", "llama-imatrix")
CONVERTER_OUTTYPES = ("f32", "f16", "bf16", "q8_0", "tq1_0", "tq2_0")
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
    """The environment for tool runs: our build's bin/ first on PATH, so `!llama-quantize` works in a notebook."""
    env = dict(os.environ)
    env["PATH"] = f"{paths.llama_cpp_bin()}{os.pathsep}{env.get('PATH', '')}"
    return env


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


def run(cmd: list[str | Path], *, quiet: bool = False,
        timeout: float | None = None) -> subprocess.CompletedProcess[str]:
    """Run a tool, printing its command; raise SlmlabError with the tool's last lines if it fails."""
    if not quiet:
        print("$", show(cmd), flush=True)
    try:
        proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=tool_env(),
                              timeout=timeout, stdin=subprocess.DEVNULL)
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


def tool_version(name: str) -> str:
    """The build number and commit a tool reports, e.g. '1 (4b3f7ab)'."""
    proc = subprocess.run([str(tool_path(name)), "--version"], capture_output=True, text=True,
                          env=tool_env(), timeout=30, stdin=subprocess.DEVNULL)
    m = re.search(r"version:\s*(.+)", proc.stdout + proc.stderr)
    if m:
        return m.group(1).strip()
    if name != "llama-cli" and tool_path(name).parent == tool_path("llama-cli").parent:
        return f"{tool_version('llama-cli')}, the build llama-cli reports"  # llama-quantize has no --version
    return "unknown"


@functools.lru_cache(maxsize=1)
def quantize_help() -> str:
    """`llama-quantize --help`, read once: the build's own list of types and its reference table."""
    proc = subprocess.run([str(tool_path("llama-quantize")), "--help"], capture_output=True, text=True,
                          env=tool_env(), timeout=30, stdin=subprocess.DEVNULL)
    return proc.stdout + proc.stderr


def quant_types() -> tuple[str, ...]:
    """The types `llama-quantize` accepts, read from its own help text (so they match the build)."""
    section = quantize_help().split("Allowed quantization types:", 1)[-1]
    names = re.findall(r"^\s*\d+\s+or\s+([A-Z0-9_]+)\s*:", section, flags=re.M)
    if not names:
        raise SlmlabError("could not read the quantization types from `llama-quantize --help`")
    return tuple(dict.fromkeys(names))


def quant_type_table() -> dict[str, dict[str, float]]:
    """llama.cpp's own reference table, from `llama-quantize --help`: for each type, the size of Llama-3-8B
    in that type (GB) and the perplexity it adds over F16 on that model."""
    rows = re.findall(r"or\s+([A-Z0-9_]+)\s*:\s*([\d.]+)G,\s*\+([\d.]+) ppl @ Llama-3-8B", quantize_help())
    return {name: {"llama3_8b_gb": float(size), "llama3_8b_ppl_increase": float(ppl)} for name, size, ppl in rows}


def check_quant_type(qtype: str) -> str:
    valid = quant_types()
    match = {t.upper(): t for t in valid}.get(qtype.upper())
    if match is None:
        raise SlmlabError(f"unknown quantization type {qtype!r}; llama-quantize accepts: {', '.join(valid)}")
    return match


def convert(model_dir: str | Path, outfile: str | Path, outtype: str = "f16") -> GGUFInfo:
    """Hugging Face folder → GGUF with llama.cpp's own `convert_hf_to_gguf.py`."""
    model_dir, outfile = Path(model_dir), Path(outfile)
    if outtype.lower() not in CONVERTER_OUTTYPES:
        raise SlmlabError(f"unknown --outtype {outtype!r}; "
                          f"convert_hf_to_gguf.py accepts: {', '.join(CONVERTER_OUTTYPES)}")
    paths.require_hf_folder(model_dir)
    script = paths.converter_script()
    if not script.is_file():
        raise SlmlabError(f"convert_hf_to_gguf.py is missing: {SETUP_HINT}")
    with paths.atomic_output(outfile) as tmp:
        try:
            run([sys.executable, script, model_dir, "--outtype", outtype.lower(), "--outfile", tmp])
        except SlmlabError as e:
            raise SlmlabError(f"{e}{CONVERTER_LIMITS.get(_model_type(model_dir), '')}") from None
        info = read_gguf(tmp)
    info.path = outfile
    return info


# What a learner does where llama.cpp's converter refuses a model family (notebooks 01 and 03 show it).
CONVERTER_LIMITS = {
    "bitnet": ". llama.cpp's converter does not map BitNet's transformers weights (ffn_sub_norm, attn_sub_norm): "
              "Microsoft ships BitNet b1.58 2B4T as a GGUF for its bitnet.cpp fork (microsoft/BitNet-b1.58-2B-4T-gguf)"
              " — run that with bitnet.cpp, or measure the ternary idea here with llama-quantize's TQ1_0/TQ2_0",
}


def _model_type(model_dir: Path) -> str:
    try:
        return json.loads((model_dir / "config.json").read_text()).get("model_type", "")
    except (OSError, ValueError):
        return ""


def default_quant_output(src: Path, qtype: str) -> Path:
    stem = re.sub(r"[-_.](f32|f16|bf16|q\d\w*|tq\d_\d)$", "", src.stem, flags=re.I)
    return src.with_name(f"{stem}-{qtype}.gguf")


def quantize(src: str | Path, qtype: str, out: str | Path | None = None, *, allow_requantize: bool = False,
             threads: int | None = None, imatrix: str | Path | None = None) -> GGUFInfo:
    """`llama-quantize [--imatrix FILE] SRC OUT TYPE`: refuses an already-quantized source unless allowed,
    writes atomically. An importance matrix (`importance_matrix`) tells it which weights matter most."""
    src = Path(src)
    qtype = check_quant_type(qtype)
    source = read_gguf(src)  # clear error for a missing, truncated or non-GGUF file
    if source.is_quantized and not allow_requantize:
        raise SlmlabError(
            f"{src.name} is already quantized ({source.file_type}); quantizing it again compounds the error. "
            "Start from an F16/BF16/F32 GGUF, or pass --allow-requantize to do it anyway."
        )
    out = Path(out) if out else default_quant_output(src, qtype)
    if out.resolve() == src.resolve():
        raise SlmlabError("the output would overwrite the source; choose another -o")
    cmd: list[str | Path] = [tool_path("llama-quantize")]
    if allow_requantize:
        cmd.append("--allow-requantize")
    if imatrix:
        cmd += ["--imatrix", imatrix]
    with paths.atomic_output(out) as tmp:
        cmd += [src, tmp, qtype]
        if threads:
            cmd.append(str(threads))
        run(cmd)
        info = read_gguf(tmp)
    info.path = out
    return info


@dataclass
class Generation:
    model: str
    prompt: str
    text: str
    prompt_tokens: int
    generated_tokens: int
    prompt_seconds: float
    generation_seconds: float
    threads: int

    @property
    def prompt_tokens_per_s(self) -> float:
        return self.prompt_tokens / self.prompt_seconds if self.prompt_seconds else float("nan")

    @property
    def tokens_per_s(self) -> float:
        return self.generated_tokens / self.generation_seconds if self.generation_seconds else float("nan")


def default_threads() -> int:
    """Threads for llama.cpp: SLMLAB_THREADS if set, else the physical cores we may use."""
    env = os.environ.get("SLMLAB_THREADS")
    return int(env) if env else max(1, len(os.sched_getaffinity(0)))


@functools.lru_cache(maxsize=4)
def load(gguf_path: str, n_ctx: int = 512, threads: int | None = None):
    """Load a GGUF with llama-cpp-python (cached, so a notebook loads each model once).

    Flash attention is switched on: llama.cpp's own tools use it on CPU ("auto"), while the binding's
    default is off — measurably slower (see `slmlab bench`). `swa_full=False` as in llama.cpp's tools: a
    sliding-window layer (Gemma 3's) keeps only its window in the KV cache; the binding's default keeps the
    whole context there too."""
    import llama_cpp

    read_gguf(gguf_path)
    threads = threads or default_threads()
    return llama_cpp.Llama(model_path=str(gguf_path), n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads,
                           flash_attn=True, swa_full=False, seed=0, verbose=False)


def greedy_tokens(llm, prompt_tokens: list[int], n_tokens: int,
                  stop_at_eos: bool = True) -> tuple[list[int], float, float]:
    """Greedy decoding: evaluate the prompt, then repeatedly take the most likely token and evaluate it.

    The logits are read in place from llama.cpp's buffer (no copy), so the loop costs almost nothing
    beyond llama.cpp's own work. Returns the tokens and the prompt and generation wall times.
    """
    import numpy as np

    n_vocab, eos = llm.n_vocab(), llm.token_eos()
    llm.reset()
    t0 = time.perf_counter()
    llm.eval(prompt_tokens)
    t1 = time.perf_counter()
    out: list[int] = []
    for _ in range(n_tokens):
        token = int(np.argmax(np.ctypeslib.as_array(llm._ctx.get_logits_ith(-1), shape=(n_vocab,))))
        if stop_at_eos and token == eos:
            break
        out.append(token)
        llm.eval([token])
    t2 = time.perf_counter()
    return out, t1 - t0, t2 - t1


def generate(gguf_path: str | Path, prompt: str, n_tokens: int = 32, *, threads: int | None = None,
             temperature: float = 0.0, n_ctx: int | None = None) -> Generation:
    """Complete `prompt` with llama-cpp-python and time the prompt and the generated tokens (wall clock).

    At temperature 0 this is greedy decoding (`greedy_tokens`); otherwise llama-cpp-python's sampler."""
    threads = threads or default_threads()
    llm = load(str(gguf_path), n_ctx or context_for(gguf_path), threads)
    prompt_tokens = llm.tokenize(prompt.encode(), add_bos=True)
    if temperature == 0:
        tokens, t_prompt, t_gen = greedy_tokens(llm, prompt_tokens, n_tokens)
        text = llm.detokenize(tokens, prev_tokens=prompt_tokens).decode("utf-8", errors="replace")
        n_gen = len(tokens)
    else:
        llm.reset()
        start = time.perf_counter()
        out = llm.create_completion(prompt, max_tokens=n_tokens, temperature=temperature)
        t_gen, t_prompt = time.perf_counter() - start, 0.0
        text, n_gen = out["choices"][0]["text"], out["usage"]["completion_tokens"]
    return Generation(model=Path(gguf_path).name, prompt=prompt, text=text, prompt_tokens=len(prompt_tokens),
                      generated_tokens=n_gen, prompt_seconds=t_prompt, generation_seconds=t_gen, threads=threads)


def context_for(gguf_path: str | Path, cap: int = 2048) -> int:
    """A context size for a model: its training context, capped (the KV cache grows with it)."""
    trained = read_gguf(gguf_path).context_length or cap
    return int(min(trained, cap))


@dataclass
class Bench:
    model: str
    threads: int
    n_prompt: int
    n_gen: int
    llama_bench_pp: float  # prompt tokens/s, llama-bench
    llama_bench_tg: float  # generated tokens/s, llama-bench
    ours_tg: float  # generated tokens/s, slmlab's greedy path (llama-cpp-python), same file and threads

    @property
    def ratio(self) -> float:
        return self.ours_tg / self.llama_bench_tg


def llama_bench(gguf_path: str | Path, threads: int, n_prompt: int = 64, n_gen: int = 64,
                reps: int = 3) -> dict[str, float]:
    """`llama-bench -o json`: mean prompt (pp) and generation (tg) tokens/s."""
    read_gguf(gguf_path)
    proc = run([tool_path("llama-bench"), "-m", gguf_path, "-t", str(threads), "-p", str(n_prompt), "-n", str(n_gen),
                "-r", str(reps), "-o", "json"])
    results = json.loads(proc.stdout)
    pp = next(r["avg_ts"] for r in results if r["n_prompt"] > 0 and r["n_gen"] == 0)
    tg = next(r["avg_ts"] for r in results if r["n_gen"] > 0 and r["n_prompt"] == 0)
    return {"pp": pp, "tg": tg}


def bench(gguf_path: str | Path, threads: int | None = None, n_prompt: int = 64, n_gen: int = 64,
          reps: int = 3) -> Bench:
    """llama-bench and our own generation path on the same file and threads; `ratio` = ours / llama-bench."""
    threads = threads or default_threads()
    lb = llama_bench(gguf_path, threads, n_prompt, n_gen, reps)
    llm = load(str(gguf_path), max(256, n_prompt + n_gen), threads)  # the context llama-bench gives a test
    start = [llm.token_bos()] if llm.token_bos() >= 0 else [0]
    greedy_tokens(llm, start, 8, stop_at_eos=False)  # warm-up, as llama-bench does
    speeds = []
    for _ in range(reps):
        tokens, _, seconds = greedy_tokens(llm, start, n_gen, stop_at_eos=False)
        speeds.append(len(tokens) / seconds)
    return Bench(Path(gguf_path).name, threads, n_prompt, n_gen, lb["pp"], lb["tg"], sum(speeds) / len(speeds))


@dataclass
class Perplexity:
    model: str
    perplexity: float
    uncertainty: float
    context: int
    chunks: int
    threads: int
    text: str


def heldout_text() -> Path:
    """The held-out text slm-nano never saw in training (Python stdlib docstrings of held-out modules)."""
    return paths.CORPUS_DIR / "stdlib-docstrings.heldout.txt"


def perplexity(gguf_path: str | Path, text: str | Path | None = None, *, context: int = 256,
               chunks: int | None = None, threads: int | None = None) -> Perplexity:
    """`llama-perplexity` on a text file: deterministic for a fixed text, context, chunk count and thread count."""
    gguf_path = Path(gguf_path)
    read_gguf(gguf_path)
    text = Path(text) if text else heldout_text()
    if not text.is_file():
        raise SlmlabError(f"no such text file: {text}")
    threads = threads or default_threads()
    cmd: list[str | Path] = [tool_path("llama-perplexity"), "-m", gguf_path, "-f", text, "-c", str(context),
                             "-b", str(context), "-t", str(threads)]
    if chunks:
        cmd += ["--chunks", str(chunks)]
    # llama.cpp logs from a background thread, and at exit it can lose the last lines — sometimes the
    # "Final estimate", sometimes a few chunks too. Read both the log file and the output, and accept a run
    # only when it reached its last chunk; otherwise run again (the result is deterministic).
    for attempt in range(3):
        with tempfile.TemporaryDirectory() as tmp:
            log = Path(tmp) / "perplexity.log"
            proc = run([*cmd, "--log-file", log], quiet=attempt > 0)
            output = (log.read_text(errors="replace") if log.exists() else "") + proc.stdout + proc.stderr
        if "tokens in the file" in output or "you need at least" in output:
            raise SlmlabError(f"{text} is too short for a perplexity run at context {context}: "
                              "give a longer text or a smaller context")
        n = re.search(r"calculating perplexity over (\d+) chunks", output)
        n_chunks = int(n.group(1)) if n else None
        final = re.search(r"Final estimate: PPL = ([\d.]+) \+/- ([\d.]+)", output)
        if final:
            return Perplexity(gguf_path.name, float(final.group(1)), float(final.group(2)), context,
                              n_chunks or chunks or 0, threads, str(text))
        running = {int(i): float(v) for i, v in re.findall(r"\[(\d+)\]([\d.]+),", output)}
        if n_chunks and n_chunks in running:  # the running estimate after the last chunk is the final one
            return Perplexity(gguf_path.name, running[n_chunks], float("nan"), context, n_chunks, threads, str(text))
    raise SlmlabError(f"llama-perplexity gave no final estimate for {gguf_path.name} in 3 runs")


def _tool_log(cmd: list[str | Path], quiet: bool = False) -> str:
    """Run a tool with `--log-file` and return everything it logged (llama.cpp logs from a thread, and piped
    output can lose the last lines; the log file keeps them)."""
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "tool.log"
        proc = run([*cmd, "--log-file", log], quiet=quiet)
        return (log.read_text(errors="replace") if log.exists() else "") + proc.stdout + proc.stderr


IMATRIX_UBATCH = 128  # tokens per micro-batch in llama-imatrix: keeps Binder's 2 GB enough for Gemma's vocabulary


def importance_matrix(gguf_path: str | Path, out: str | Path, text: str | Path | None = None, *, context: int = 512,
                      chunks: int = 16, threads: int | None = None) -> Path:
    """`llama-imatrix`: run the model over a text and record how much each weight column contributes to its
    outputs; `llama-quantize --imatrix` then spends its rounding error where it matters least. Calibrate on text
    like the text the model will see, never on the text you evaluate with (default: slm-nano's training text)."""
    text = Path(text) if text else training_text()
    out = Path(out)
    with paths.atomic_output(out) as tmp:
        # one chunk a batch (-b), 128 tokens at a time (-ub): llama-imatrix's defaults (-b 2048, four chunks a
        # batch) hold the logits of 2048 tokens, and one token's logits over Gemma's 262k-token vocabulary are
        # 1 MB. Measured on Gemma 3 270M F16: peak 3.27 GB with the defaults, 1.27 GB so, the same matrix
        _tool_log([tool_path("llama-imatrix"), "-m", gguf_path, "-f", text, "-o", tmp, "-c", str(context),
                   "-b", str(context), "-ub", str(min(context, IMATRIX_UBATCH)),
                   "--chunks", str(chunks), "-t", str(threads or default_threads())])
        if not tmp.is_file():  # older builds append .gguf to the name they are given
            next(tmp.parent.glob(f"{tmp.name}*")).rename(tmp)
    return out


def training_text() -> Path:
    """slm-nano's training text, unpacked once into the cache (calibration data: never the held-out text)."""
    import gzip

    out = paths.cache_dir() / "corpus" / "stdlib-docstrings.train.txt"
    if not out.is_file():
        with paths.atomic_output(out) as tmp, gzip.open(paths.CORPUS_DIR / "stdlib-docstrings.train.txt.gz") as f:
            tmp.write_bytes(f.read())
    return out


@dataclass
class Divergence:
    """How far a quantized model's next-token distributions are from the reference's, on the same text:
    llama.cpp's own quality measure for quantization (`llama-perplexity --kl-divergence`)."""
    model: str
    reference: str
    mean_kld: float
    kld_uncertainty: float
    kld_99: float  # the 99th percentile: how bad the worst tokens get
    same_top: float  # share of positions where both models' most likely token is the same
    same_top_uncertainty: float
    perplexity: float
    perplexity_uncertainty: float
    reference_perplexity: float


def kl_reference(gguf_path: str | Path, out: str | Path | None = None, text: str | Path | None = None, *,
                 context: int = 512, chunks: int = 4, threads: int | None = None) -> Path:
    """Save the reference model's token distributions (`--kl-divergence-base FILE`), once, for `kl_divergence`.
    Without `out`, the file goes beside the model's, named by the text's content, the context and the chunks (the
    model's folder in the cache is keyed by its content and llama.cpp's version): a later run reuses it."""
    gguf_path = Path(gguf_path)
    text = Path(text) if text else heldout_text()
    key = paths.content_key(paths.sha256_file(text), context, chunks)
    out = Path(out) if out else gguf_path.with_name(f"{gguf_path.stem}-{key}.kld")
    if out.is_file():
        return out
    with paths.atomic_output(out) as tmp:
        _tool_log([tool_path("llama-perplexity"), "-m", gguf_path, "-f", text, "-c", str(context), "-b", str(context),
                   "--chunks", str(chunks), "-t", str(threads or default_threads()), "--kl-divergence-base", tmp])
    return out


def kl_divergence(gguf_path: str | Path, reference: str | Path, text: str | Path | None = None, *,
                  context: int = 512, chunks: int = 4, threads: int | None = None) -> Divergence:
    """KL divergence, top-token agreement and perplexity (with ±) of `gguf_path` against a saved reference."""
    text = Path(text) if text else heldout_text()
    read_gguf(gguf_path)
    out = _tool_log([tool_path("llama-perplexity"), "-m", gguf_path, "-f", text, "-c", str(context), "-b",
                     str(context), "--chunks", str(chunks), "-t", str(threads or default_threads()),
                     "--kl-divergence-base", reference, "--kl-divergence"])

    def pair(label: str) -> tuple[float, float]:
        m = re.search(rf"{re.escape(label)}\s*:\s*([-\d.]+)\s*±\s*([\d.]+)", out)
        if not m:
            raise SlmlabError(f"llama-perplexity printed no '{label}' for {Path(gguf_path).name}")
        return float(m.group(1)), float(m.group(2))

    kld, same, ppl = pair("Mean    KLD"), pair("Same top p"), pair("Mean PPL(Q)")
    k99 = re.search(r"99\.0%\s+KLD:\s*([\d.]+)", out)
    return Divergence(Path(gguf_path).name, Path(reference).name, kld[0], kld[1], float(k99.group(1)) if k99 else
                      float("nan"), same[0] / 100, same[1] / 100, ppl[0], ppl[1], pair("Mean PPL(base)")[0])


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

    import llama_cpp

    def rss() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize()

    base = rss()
    llm = llama_cpp.Llama(model_path=path, n_ctx=context, n_threads=threads, n_threads_batch=threads,
                          flash_attn=True, swa_full=False, verbose=True)
    loaded = rss()
    greedy_tokens(llm, llm.tokenize(b"The", add_bos=True), n_tokens, stop_at_eos=False)
    # the high-water mark of this process's memory: VmHWM, not getrusage's ru_maxrss, which on Linux keeps the
    # peak of the process that forked this one (a 400 MB notebook kernel, say) across exec
    with open("/proc/self/status") as f:
        peak = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))
    return {"baseline": base, "loaded": loaded, "peak": max(peak, rss(), loaded)}


CACHE_TYPES = {"f16": 1, "q8_0": 8}  # ggml's type ids, as llama.cpp's --cache-type-k / --cache-type-v name them


def _kv_probe(path: str, context: int, swa_full: int, cache_type: str) -> None:
    import llama_cpp

    t = CACHE_TYPES[cache_type]
    llama_cpp.Llama(model_path=path, n_ctx=context, n_threads=1, flash_attn=True, swa_full=bool(swa_full),
                    type_k=t, type_v=t, verbose=True)  # llama.cpp logs its buffers to stderr


def kv_cache_allocated(gguf_path: str | Path, context: int, *, swa_full: bool = False,
                       cache_type: str = "f16", cached: bool = True) -> int:
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
        tmp.write_text(json.dumps({"file": Path(gguf_path).name, "context": context, "swa_full": swa_full,
                                   "cache_type": cache_type, "kv_cache_bytes": allocated}))
    return allocated


def _kv_cache_from_llama_cpp(gguf_path: str | Path, context: int, swa_full: bool, cache_type: str) -> int:
    code = f"import sys; from slmlab.llamacpp import _kv_probe; _kv_probe(sys.argv[1], {int(context)}, " \
           f"{int(swa_full)}, {cache_type!r})"
    proc = subprocess.run([sys.executable, "-c", code, str(gguf_path)], capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL)
    buffers = buffer_sizes(proc.stderr)
    if proc.returncode != 0 or "kv cache" not in buffers:
        raise SlmlabError(f"llama.cpp did not allocate a {context}-token context for {Path(gguf_path).name}: "
                          f"{proc.stderr.strip().splitlines()[-1:]}")
    return buffers["kv cache"]


_MEMORY_PROBE = "import json, sys; from slmlab.llamacpp import _memory_probe; " \
                "print(json.dumps(_memory_probe(sys.argv[1], *map(int, sys.argv[2:]))))"


def memory_while_generating(gguf_path: str | Path, context: int = 512, n_tokens: int = 32,
                            threads: int | None = None) -> Memory:
    """Resident memory of a fresh process that loads the model and generates (measured, not estimated),
    with the buffers llama.cpp reports allocating."""
    read_gguf(gguf_path)
    threads = threads or default_threads()
    args = [str(gguf_path), str(context), str(n_tokens), str(threads)]
    proc = subprocess.run([sys.executable, "-c", _MEMORY_PROBE, *args], capture_output=True, text=True, timeout=600,
                          stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        last = proc.stderr.strip().splitlines()[-1:]
        raise SlmlabError(f"the memory probe failed for {Path(gguf_path).name}: {last}")
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    return Memory(Path(gguf_path).name, context, r["baseline"], r["loaded"], r["peak"], buffer_sizes(proc.stderr))


# Free cached models before the interpreter tears its modules down (otherwise llama-cpp-python's
# destructor runs too late and prints "TypeError: 'NoneType' object is not callable" at exit).
atexit.register(load.cache_clear)
