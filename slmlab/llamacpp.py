"""llama.cpp's tools as the lesson teaches them: `convert_hf_to_gguf.py`, `llama-quantize`, `llama-bench`,
`llama-perplexity` (with `--kl-divergence`) and `llama-imatrix`, built from the one pinned source.

Each wrapper runs the real tool through `toolrun.run`, which prints the command, and writes its output under a
temporary name that is renamed only when the tool succeeded. Running models in process is `binding`'s job, and
measuring their memory `probes`'.
"""

from __future__ import annotations

import functools
import json
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from slmlab import paths
from slmlab.errors import SlmlabError
from slmlab.gguf_file import GGUFInfo, read_gguf
from slmlab.toolrun import SETUP_HINT, TOOLS, default_threads, run, tool_env, tool_log, tool_path

CONVERTER_OUTTYPES = ("f32", "f16", "bf16", "q8_0", "tq1_0", "tq2_0")


@functools.lru_cache(maxsize=1)
def quantize_help() -> str:
    """`llama-quantize --help`, read once: the build's own list of types and its reference table."""
    proc = subprocess.run(
        [str(tool_path("llama-quantize")), "--help"],
        capture_output=True,
        text=True,
        env=tool_env(),
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
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
        raise SlmlabError(
            f"unknown --outtype {outtype!r}; convert_hf_to_gguf.py accepts: {', '.join(CONVERTER_OUTTYPES)}"
        )
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


def quantize(
    src: str | Path,
    qtype: str,
    out: str | Path | None = None,
    *,
    allow_requantize: bool = False,
    threads: int | None = None,
    imatrix: str | Path | None = None,
) -> GGUFInfo:
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


def llama_bench(
    gguf_path: str | Path, threads: int, n_prompt: int = 64, n_gen: int = 64, reps: int = 3
) -> dict[str, float]:
    """`llama-bench -o json`: mean prompt (pp) and generation (tg) tokens/s."""
    read_gguf(gguf_path)
    proc = run(
        [
            tool_path("llama-bench"),
            "-m",
            gguf_path,
            "-t",
            str(threads),
            "-p",
            str(n_prompt),
            "-n",
            str(n_gen),
            "-r",
            str(reps),
            "-o",
            "json",
        ]
    )
    results = json.loads(proc.stdout)
    pp = next(r["avg_ts"] for r in results if r["n_prompt"] > 0 and r["n_gen"] == 0)
    tg = next(r["avg_ts"] for r in results if r["n_gen"] > 0 and r["n_prompt"] == 0)
    return {"pp": pp, "tg": tg}


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


def perplexity_command(
    gguf_path: str | Path, text: str | Path, context: int, chunks: int | None, threads: int | None
) -> list[str | Path]:
    """`llama-perplexity -m MODEL -f TEXT -c CONTEXT -b CONTEXT [--chunks N] -t THREADS`: one chunk a batch, so a
    chunk's logits come from one pass (the runs for perplexity, a KL reference and a KL divergence all agree)."""
    cmd: list[str | Path] = [tool_path("llama-perplexity"), "-m", gguf_path, "-f", text, "-c", str(context)]
    cmd += ["-b", str(context), "-t", str(threads or default_threads())]
    return cmd + (["--chunks", str(chunks)] if chunks else [])


def perplexity(
    gguf_path: str | Path,
    text: str | Path | None = None,
    *,
    context: int = 256,
    chunks: int | None = None,
    threads: int | None = None,
) -> Perplexity:
    """`llama-perplexity` on a text file: deterministic for a fixed text, context, chunk count and thread count."""
    gguf_path = Path(gguf_path)
    read_gguf(gguf_path)
    text = Path(text) if text else heldout_text()
    if not text.is_file():
        raise SlmlabError(f"no such text file: {text}")
    threads = threads or default_threads()
    cmd = perplexity_command(gguf_path, text, context, chunks, threads)
    # llama.cpp logs from a background thread, and at exit it can lose the last lines — sometimes the
    # "Final estimate", sometimes a few chunks too. Read both the log file and the output, and accept a run
    # only when it reached its last chunk; otherwise run again (the result is deterministic).
    for attempt in range(3):
        with tempfile.TemporaryDirectory() as tmp:
            log = Path(tmp) / "perplexity.log"
            proc = run([*cmd, "--log-file", log], quiet=attempt > 0)
            output = (log.read_text(errors="replace") if log.exists() else "") + proc.stdout + proc.stderr
        if "tokens in the file" in output or "you need at least" in output:
            raise SlmlabError(
                f"{text} is too short for a perplexity run at context {context}: "
                "give a longer text or a smaller context"
            )
        n = re.search(r"calculating perplexity over (\d+) chunks", output)
        n_chunks = int(n.group(1)) if n else None
        final = re.search(r"Final estimate: PPL = ([\d.]+) \+/- ([\d.]+)", output)
        if final:
            return Perplexity(
                gguf_path.name,
                float(final.group(1)),
                float(final.group(2)),
                context,
                n_chunks or chunks or 0,
                threads,
                str(text),
            )
        running = {int(i): float(v) for i, v in re.findall(r"\[(\d+)\]([\d.]+),", output)}
        if n_chunks and n_chunks in running:  # the running estimate after the last chunk is the final one
            return Perplexity(gguf_path.name, running[n_chunks], float("nan"), context, n_chunks, threads, str(text))
    raise SlmlabError(f"llama-perplexity gave no final estimate for {gguf_path.name} in 3 runs")


IMATRIX_UBATCH = 128  # tokens per micro-batch in llama-imatrix: keeps Binder's 2 GB enough for Gemma's vocabulary


def importance_matrix(
    gguf_path: str | Path,
    out: str | Path,
    text: str | Path | None = None,
    *,
    context: int = 512,
    chunks: int = 16,
    threads: int | None = None,
) -> Path:
    """`llama-imatrix`: run the model over a text and record how much each weight column contributes to its
    outputs; `llama-quantize --imatrix` then spends its rounding error where it matters least. Calibrate on text
    like the text the model will see, never on the text you evaluate with (default: slm-nano's training text)."""
    text = Path(text) if text else training_text()
    out = Path(out)
    with paths.atomic_output(out) as tmp:
        # one chunk a batch (-b), 128 tokens at a time (-ub): llama-imatrix's defaults (-b 2048, four chunks a
        # batch) hold the logits of 2048 tokens, and one token's logits over Gemma's 262k-token vocabulary are
        # 1 MB. Measured on Gemma 3 270M F16: peak 3.27 GB with the defaults, 1.27 GB so, the same matrix
        tool_log(
            [
                tool_path("llama-imatrix"),
                "-m",
                gguf_path,
                "-f",
                text,
                "-o",
                tmp,
                "-c",
                str(context),
                "-b",
                str(context),
                "-ub",
                str(min(context, IMATRIX_UBATCH)),
                "--chunks",
                str(chunks),
                "-t",
                str(threads or default_threads()),
            ]
        )
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


def kl_reference(
    gguf_path: str | Path,
    out: str | Path | None = None,
    text: str | Path | None = None,
    *,
    context: int = 512,
    chunks: int = 4,
    threads: int | None = None,
) -> Path:
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
        tool_log([*perplexity_command(gguf_path, text, context, chunks, threads), "--kl-divergence-base", tmp])
    return out


def kl_divergence(
    gguf_path: str | Path,
    reference: str | Path,
    text: str | Path | None = None,
    *,
    context: int = 512,
    chunks: int = 4,
    threads: int | None = None,
) -> Divergence:
    """KL divergence, top-token agreement and perplexity (with ±) of `gguf_path` against a saved reference."""
    text = Path(text) if text else heldout_text()
    read_gguf(gguf_path)
    cmd = perplexity_command(gguf_path, text, context, chunks, threads)
    labels = ("Mean    KLD", "Same top p", "Mean PPL(Q)", "Mean PPL(base)")
    # llama.cpp logs from a background thread and can lose its last lines at exit (see `perplexity`): the
    # statistics come last, so a run that lost any of them is run again (the result is deterministic)
    for attempt in range(3):
        out = tool_log([*cmd, "--kl-divergence-base", reference, "--kl-divergence"], quiet=attempt > 0)
        if all(re.search(rf"{re.escape(label)}\s*:", out) for label in labels):
            break

    def pair(label: str) -> tuple[float, float]:
        m = re.search(rf"{re.escape(label)}\s*:\s*([-\d.]+)\s*±\s*([\d.]+)", out)
        if not m:
            raise SlmlabError(f"llama-perplexity printed no '{label}' for {Path(gguf_path).name} in 3 runs")
        return float(m.group(1)), float(m.group(2))

    kld, same, ppl = pair("Mean    KLD"), pair("Same top p"), pair("Mean PPL(Q)")
    k99 = re.search(r"99\.0%\s+KLD:\s*([\d.]+)", out)
    return Divergence(
        Path(gguf_path).name,
        Path(reference).name,
        kld[0],
        kld[1],
        float(k99.group(1)) if k99 else float("nan"),
        same[0] / 100,
        same[1] / 100,
        ppl[0],
        ppl[1],
        pair("Mean PPL(base)")[0],
    )


# The options scripts/build-llama-cpp.sh configures, in its order: their values are read back from the build itself.
BUILD_OPTIONS = (
    "CMAKE_BUILD_TYPE",
    "BUILD_SHARED_LIBS",
    "GGML_NATIVE",
    *(f"GGML_{isa}" for isa in ("SSE42", "AVX", "AVX2", "FMA", "F16C", "BMI2", "AVX_VNNI", "AVX512")),
    *(f"GGML_{isa}" for isa in ("AVX512_VBMI", "AVX512_VNNI", "AVX512_BF16", "AMX_TILE", "AMX_INT8", "AMX_BF16")),
    "LLAMA_BUILD_TESTS",
    "LLAMA_BUILD_EXAMPLES",
    "LLAMA_BUILD_TOOLS",
    "LLAMA_BUILD_SERVER",
    "LLAMA_CURL",
    "LLAMA_OPENSSL",
)


def build_commands() -> list[str]:
    """The two cmake lines that configured and built this machine's llama.cpp, with the option values its
    `CMakeCache.txt` holds (so they are what was built, not what a script meant to build)."""
    build = paths.llama_cpp_root() / "build"
    cache = build / "CMakeCache.txt"
    if not cache.is_file():
        raise SlmlabError(f"llama.cpp has not been configured here: {SETUP_HINT}")
    values = dict(re.findall(r"^(\w+):\w+=(.*)$", cache.read_text(errors="replace"), re.M))
    options = [f"-D{name}={values[name]}" for name in BUILD_OPTIONS if name in values]
    done = paths.llama_cpp_root() / "BUILD_OK"
    cores = re.search(r"on (\d+) cores", done.read_text()) if done.is_file() else None
    source = paths.llama_cpp_source().relative_to(paths.llama_cpp_root())
    configure = ["cmake", "-S", str(source), "-B", "build", *options]
    targets = ["llama", "mtmd", *TOOLS]
    compile_ = ["cmake", "--build", "build", "--config", "Release", "-j", cores.group(1) if cores else "2"]
    return [" ".join(configure), " ".join([*compile_, "--target", *targets])]
