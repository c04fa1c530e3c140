"""Choosing a model, a quantization type and a runtime for a device — from numbers, not adjectives.

For every catalog model and quantization type the advisor computes the memory it needs (file + KV cache +
compute, `sizing.runtime_memory`) and predicts its generation speed from the memory-bandwidth limit:
tokens/s ≈ efficiency × bandwidth ÷ bytes read per token. Bandwidth and efficiency come from the
learner's own measurements (notebooks 03 and 04 save them); without them, bandwidth is measured now and the
efficiency defaults to a stated value. Quality is the perplexity each type adds in llama.cpp's own reference
table (`llama-quantize --help`, measured on Llama-3-8B). The runtime is the fastest one notebooks 03–08 measured
on this machine at the type's width (llama.cpp where nothing else was measured, and for the types only it has).

This module loads those numbers into typed rows (`Candidate`, `RuntimeSpeed`: named fields, not the display
labels the notebooks save). The rule that ranks them, `rank`, is a few lines that notebook 09 writes out in the
open for a learner to read and change; the widget, notebook 10 and the tests use this copy.

With a language (`Need.language`), each model is judged on its own tokenizer: the same content costs it
`tokens.ratio_to_english` times the tokens, so it needs that many times the speed and the context (KV cache) to
serve the learner as well as an English reader — and its speed is also given in that language's words per second.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field

from slmlab import catalog, llamacpp, measure, paths, sizing, tokens

TYPES = ("Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q4_0", "Q3_K_M", "Q2_K")
DEFAULT_EFFICIENCY = 0.6  # share of the bandwidth ceiling assumed when nothing was measured (notebook 04 measures it)
OS_RESERVE = 0.2  # leave this share of device memory to the operating system and the application
# the width at which a type is compared with other runtimes' formats (ONNX int4, MLX 4-bit …); the other types
# (Q6_K, Q5_K_M, Q3_K_M, Q2_K, TQ…) exist only in llama.cpp
BITS = {"Q8_0": 8, "Q4_K_M": 4, "Q4_0": 4}
RESULTS = (
    "03_quantizing_with_llama_cpp",
    "04_judging_quantized_models",
    "05_optimizing_with_olive",
    "06_running_with_mlx",
    "08_serving_many_requests",
)


@dataclass
class Device:
    memory_gb: float
    bandwidth_gb_s: float | None = None  # None: this machine's, measured (and the runtimes measured on it)
    arch: str = "x86_64"  # x86_64 or arm64
    simd: list[str] = field(default_factory=list)
    apple_silicon: bool = False
    gpu: bool = False


@dataclass(frozen=True)
class EdgeDevice:
    """A device from data/devices.json: its memory and the peak bandwidth of its memory bus, with the source."""

    id: str
    name: str
    memory_gb: float
    memory: str  # the memory type, e.g. LPDDR5X-9600
    bandwidth_gb_s: float  # transfers per second × bus bytes: a peak
    arch: str
    apple_silicon: bool
    source: str

    def as_device(self) -> Device:
        return Device(self.memory_gb, self.bandwidth_gb_s, self.arch, apple_silicon=self.apple_silicon)


def edge_devices() -> list[EdgeDevice]:
    """The devices of data/devices.json, each bandwidth computed from its memory's transfer rate and bus width."""
    rows = json.loads((paths.DATA / "devices.json").read_text())["devices"]
    return [
        EdgeDevice(
            d["id"],
            d["name"],
            d["memory_gb"],
            d["memory"],
            d["transfers_per_s"] * d["bus_bits"] / 8 / 1e9,
            d["arch"],
            d.get("apple_silicon", False),
            d["source"],
        )
        for d in rows
    ]


@dataclass
class Need:
    min_tokens_per_s: float = 5.0  # with a language: tokens/s of the same content in English
    context: int = 4096  # with a language: tokens of the same conversation in English
    task: str = "chat"  # chat, code, reasoning, multilingual, completion (no number behind it: `rank` ignores it)
    offline: bool = True
    # the learner's language, a code of data/languages/ (vi, tl, ar, pa, pcm …): the same content costs each
    # tokenizer a different number of tokens, so each model needs that many times the speed and the context
    language: str | None = None
    # the most perplexity a type may add (llama.cpp's table, on Llama-3-8B): Q3_K_M adds 0.66, Q2_K 3.5
    max_ppl_increase: float = 1.0


@dataclass(frozen=True)
class Candidate:
    """One (model, type, runtime) the device might run: what it needs and what it gives."""

    model: str
    family: str
    quant: str
    runtime: str
    params: int
    memory_gb: float  # file + KV cache + compute buffer at the need's context (`sizing.runtime_memory`)
    tokens_per_s: float  # generation speed on the device
    speed: str  # how tokens_per_s was found: "measured" (a stand-in of its shape, here) or "predicted"
    ppl_increase: float  # perplexity its type adds on Llama-3-8B (llama.cpp's table); 0 for a ternary-trained model
    language_ratio: float = 1.0  # tokens of the same content in the need's language ÷ in English, on its tokenizer
    words_per_s: float | None = None  # with a language: its words (characters for Chinese) per second
    context_words: int | None = None  # with a language: its words that fit in the model's context window
    gated: bool = False
    runtime_note: str = ""  # which runtimes were measured at its width, and how fast against llama.cpp


@dataclass
class Recommendation:
    model: str
    quant: str
    runtime: str
    memory_gb: float
    tokens_per_s: float
    params: int
    ppl_increase: float
    reasons: list[str]
    language_ratio: float = 1.0  # tokens of the same content in the need's language ÷ in English, on its tokenizer
    words_per_s: float | None = None  # with a language: its words (characters for Chinese) per second
    context_words: int | None = None  # with a language: its words that fit in the model's context window


@dataclass
class SpeedModel:
    """tokens/s ≈ efficiency(type) × bandwidth ÷ bytes read per token. The share of the bandwidth ceiling a file
    reaches depends on its type (its kernels do more or less arithmetic per byte): measured per type where notebook
    04 measured it, else the median of those measurements."""

    bandwidth: float  # bytes/s
    efficiency: dict[str, float]  # per quantization type
    default_efficiency: float
    source: str

    def tokens_per_s(self, qtype: str, bytes_per_token: int, bandwidth: float | None = None) -> float:
        return self.efficiency.get(qtype, self.default_efficiency) * (bandwidth or self.bandwidth) / bytes_per_token


@dataclass(frozen=True)
class LlamaCppRun:
    """One file notebook 03 (its model) or 04 (Gemma 3 270M) measured with llama-bench."""

    model: str
    quant: str  # its type; `label` says more where 04 measured variants of one type ("Q2_K + imatrix")
    label: str
    tokens_per_s: float  # generation
    bytes_per_token: int  # weights read for each generated token


def llamacpp_runs(r03: dict | None, r04: dict | None = None) -> list[LlamaCppRun]:
    """Notebook 03's table (its model's files) and 04's (Gemma's) as typed rows: the one place that reads their
    labels."""
    labelled = [(r03["model"], row["type"], row) for row in (r03 or {}).get("table", [])]
    labelled += [("gemma-3-270m", row["file"], row) for row in (r04 or {}).get("gemma", [])]
    return [LlamaCppRun(m, label.split()[0], label, row["tg tok/s"], row["bytes/token"]) for m, label, row in labelled]


@functools.cache
def bandwidth_now() -> float:
    """This machine's read bandwidth, measured once per process (a notebook asks the advisor many times)."""
    return measure.memory_bandwidth()


def speed_model() -> SpeedModel:
    """The speed model from notebook 04's bandwidth and Gemma's files (and a stand-in's, if 03 ran on one — both
    larger than the CPU caches, unlike slm-nano); without them, bandwidth measured now and a stated efficiency."""
    r03, r04 = (measure.load_results(nb) for nb in RESULTS[:2])
    runs = [x for x in llamacpp_runs(r03, r04) if x.model == "gemma-3-270m" or (r03 or {}).get("stand_in")]
    if r04 and runs:
        bw = r04["bandwidth_bytes_per_s"]
        shares: dict[str, list[float]] = {}
        for x in runs:
            shares.setdefault(x.quant, []).append(min(1.0, x.tokens_per_s / (bw / x.bytes_per_token)))
        efficiency = {t: max(v) for t, v in shares.items()}
        values = sorted(efficiency.values())
        return SpeedModel(
            bw, efficiency, values[len(values) // 2], f"measured in notebooks 03 and 04 ({len(efficiency)} types)"
        )
    return SpeedModel(
        bandwidth_now(),
        {},
        DEFAULT_EFFICIENCY,
        f"bandwidth measured now, efficiency {DEFAULT_EFFICIENCY:.0%} assumed (run notebook 04)",
    )


@dataclass(frozen=True)
class RuntimeSpeed:
    """A runtime's generation speed measured on this machine, beside llama.cpp's on the same model and width."""

    runtime: str
    precision: str  # in the runtime's own words (int4, 4-bit, bfloat16)
    bits: int
    model: str  # what it was measured on
    tokens_per_s: float
    reference: str  # what it is compared with: llama.cpp at the same width, on the same model
    reference_tokens_per_s: float | None  # None: llama.cpp was not measured on that model
    notebook: str

    @property
    def ratio(self) -> float | None:
        return self.tokens_per_s / self.reference_tokens_per_s if self.reference_tokens_per_s else None


def runtime_speeds() -> tuple[list[RuntimeSpeed], list[str]]:
    """The runtimes notebooks 05, 06 and 08 measured generating, each beside llama.cpp (03, or 08's llama-server) on the
    same model and width; and the notebooks of `RESULTS` whose results are missing."""
    r03, r04, r05, r06, r08 = results = [measure.load_results(nb) for nb in RESULTS]
    llama = {(x.model, x.label): x.tokens_per_s for x in llamacpp_runs(r03, r04)}
    plain = {4: "Q4_0", 8: "Q8_0", 16: "F16"}  # llama.cpp's plain block types: one scale per block, as int4 and MLX
    found = []  # (runtime, precision, bits, model, tokens/s, notebook)
    if r05 and r05.get("genai_int4_tokens_per_s"):
        found.append(("ONNX Runtime GenAI", "int4", 4, r05["model"], r05["genai_int4_tokens_per_s"], RESULTS[2]))
    for m in (r06 or {}).get("mlx", []):
        bits = int(m["model"].removesuffix("-bit")) if m["model"].endswith("-bit") else 16
        found.append(("MLX", m["model"], bits, r06["model"], m["tokens_per_s"], RESULTS[3]))
    rows = [
        RuntimeSpeed(rt, p, b, m, tps, f"llama.cpp {plain[b]}", llama.get((m, plain[b])), nb)
        for rt, p, b, m, tps, nb in found
    ]
    served = {e["engine"]: e["tokens/s"] for e in (r08 or {}).get("engines", []) if e["clients"] == 1}
    if "vLLM" in served:  # both servers on the same 16-bit weights, one client: llama-server is the reference
        rows.append(
            RuntimeSpeed(
                "vLLM",
                "bfloat16",
                16,
                r08["model"],
                served["vLLM"],
                "llama-server F16, one client",
                served.get("llama-server"),
                RESULTS[4],
            )
        )
    return rows, [nb for nb, r in zip(RESULTS, results, strict=True) if r is None]


def pick_runtime(quant: str, runtimes: list[RuntimeSpeed]) -> tuple[str, float, str]:
    """The fastest runtime measured at the type's width, its speed ÷ llama.cpp's, and what was measured."""
    same = [s for s in runtimes if s.bits == BITS.get(quant) and s.ratio]
    if not same:
        return "llama.cpp", 1.0, ""
    seen = ", ".join(f"{s.runtime} {s.precision} {s.ratio:.2f}×" for s in same)
    best = max(same, key=lambda s: s.ratio)
    if best.ratio > 1:
        return (
            best.runtime,
            best.ratio,
            f"{best.runtime} was the fastest measured here ({seen} llama.cpp's, on {best.model})",
        )
    return "llama.cpp", 1.0, f"llama.cpp was the fastest measured here ({seen} llama.cpp's, on {best.model})"


def candidates(
    device: Device,
    need: Need,
    models: list[str] | None = None,
    quality: dict[str, float] | None = None,
    measured: dict[tuple[str, str], float] | None = None,
    runtimes: list[RuntimeSpeed] | None = None,
) -> tuple[list[Candidate], str]:
    """Every (catalog model, type) with its memory, speed, quality and runtime — unfiltered: `rank` decides.

    `quality`: the perplexity each type adds; by default llama.cpp's own table (`llama-quantize --help`).
    `measured`: tokens/s measured on this machine for (catalog model, type) — say, on a stand-in of the same
    shape — used instead of the prediction when the device is this machine (no bandwidth given).
    `runtimes`: runtimes measured on this machine (default: `runtime_speeds()` when the device is this machine)."""
    sm = speed_model()
    bw, source = sm.bandwidth, sm.source
    here = not device.bandwidth_gb_s
    if not here:
        bw = device.bandwidth_gb_s * 1e9
        source = f"bandwidth given ({device.bandwidth_gb_s} GB/s), efficiency per type from {sm.source}"
        measured, runtimes = None, []  # measured here says nothing about another device
    if runtimes is None:
        runtimes = runtime_speeds()[0]
    if quality is None:
        quality = {t: row["llama3_8b_ppl_increase"] for t, row in llamacpp.quant_type_table().items()}
    out = []
    for name in models or catalog.names():
        m = catalog.get(name)
        cfg = m.config
        tensors, hp = sizing.gguf_tensors(cfg)
        params = sum(t.n_elements for t in tensors)
        if catalog.classify(params) == "nano":  # toy and teaching models (slm-nano) are not candidates
            continue
        window = catalog.context_length(cfg) or need.context
        ratio, per_unit = 1.0, None
        if need.language:  # the same content in the learner's language, on this model's own tokenizer
            tok = tokens.tokenizer_for(name)
            ratio = tokens.ratio_to_english(tok, need.language)
            per_unit = tokens.tokens_per_unit(tok, need.language)
            if need.context * ratio > window:
                continue  # the conversation, in that language, does not fit its context window
        ctx = min(int(need.context * ratio), window)
        ternary = m.family.startswith("BitNet")  # trained ternary: its own types lose nothing
        for q in ("TQ2_0", "TQ1_0") if ternary else TYPES:
            if not ternary and q not in quality:
                continue  # a type whose cost in quality nobody measured is not a candidate
            est = sizing.estimate_file(tensors, hp, q)
            mem = sizing.runtime_memory(est.total_bytes, cfg, ctx)
            was_measured = bool(measured) and (name, q) in measured
            tps = measured[(name, q)] if was_measured else sm.tokens_per_s(q, est.total_bytes, bw)
            runtime, faster, note = pick_runtime(q, runtimes)
            words = (
                {"words_per_s": tps * faster / per_unit, "context_words": int(window / per_unit)} if per_unit else {}
            )
            out.append(
                Candidate(
                    name,
                    m.family,
                    q,
                    runtime,
                    params,
                    mem["total"] / 1e9,
                    tps * faster,
                    "measured" if was_measured else "predicted",
                    0.0 if ternary else quality[q],
                    ratio,
                    gated=m.gated,
                    runtime_note=note,
                    **words,
                )
            )
    return out, source


def rank(rows: list[Candidate], device: Device, need: Need, top: int = 5) -> list[Candidate]:
    """The rule (notebook 09 writes it out): keep what fits the memory left after the OS reserve, reaches the
    speed (in the need's language) and loses at most `need.max_ppl_increase`; then the most parameters first (a
    bigger model knows more; nothing here measured one model's quality against another's), the type that costs
    the least quality next, the least memory last."""
    budget = device.memory_gb * (1 - OS_RESERVE)
    feasible = [
        r
        for r in rows
        if r.memory_gb <= budget
        and r.tokens_per_s >= need.min_tokens_per_s * r.language_ratio
        and r.ppl_increase <= need.max_ppl_increase
    ]
    return sorted(feasible, key=lambda r: (-r.params, r.ppl_increase, r.memory_gb))[:top]


def reasons(r: Candidate, device: Device, need: Need, source: str) -> list[str]:
    """Why a candidate was kept, in words, from its numbers."""
    budget = device.memory_gb * (1 - OS_RESERVE)
    out = [
        f"needs {r.memory_gb:.2f} GB of the {budget:.1f} GB left after the OS reserve",
        f"measured {r.tokens_per_s:.0f} tokens/s on this machine (a stand-in of its shape)"
        if r.speed == "measured"
        else f"predicted {r.tokens_per_s:.0f} tokens/s ≥ {need.min_tokens_per_s * r.language_ratio:g} ({source})",
        "trained with ternary weights: TQ types store it without loss"
        if r.family.startswith("BitNet")
        else f"{r.quant} adds {r.ppl_increase:+.3f} perplexity on Llama-3-8B (llama.cpp's table)",
    ]
    if r.runtime_note:
        out.append(r.runtime_note)
    if need.language and r.words_per_s is not None:
        unit = tokens.unit_of(need.language)
        out.append(
            f"{tokens.language_name(need.language)} costs {r.language_ratio:.2f}× English's tokens on its tokenizer: "
            f"{r.words_per_s:.1f} {unit}s/s, {r.context_words:,} {unit}s in its context window"
        )
    if r.gated:
        out.append("gated on the hub: accept its licence and use a token to download")
    return out


def recommend(
    device: Device,
    need: Need,
    top: int = 5,
    models: list[str] | None = None,
    quality: dict[str, float] | None = None,
    measured: dict[tuple[str, str], float] | None = None,
) -> tuple[list[Recommendation], str]:
    """`candidates` ranked by `rank`, with the reasons: what the widget and notebook 10 show."""
    rows, source = candidates(device, need, models, quality, measured)
    return [
        Recommendation(
            r.model,
            r.quant,
            r.runtime,
            r.memory_gb,
            r.tokens_per_s,
            r.params,
            r.ppl_increase,
            reasons(r, device, need, source),
            r.language_ratio,
            r.words_per_s,
            r.context_words,
        )
        for r in rank(rows, device, need, top)
    ], source


def standin_ref(seed: str, layers: int | None = None) -> str:
    """The course's name of a seed's stand-in, as `models.resolve` reads it: "qwen3-0.6b-standin" for the whole
    model, "qwen3-0.6b-2l-standin" for its first 2 blocks."""
    return f"{seed}-{layers}l-standin" if layers else f"{seed}-standin"


@dataclass(frozen=True)
class RuntimeSupport:
    """Whether a runtime runs on a machine, from what it needs and what the machine has."""

    runtime: str
    needs: str
    runs_here: bool
    this_machine: str


def compatibility(arch: str, simd: list[str], gpu: bool) -> list[RuntimeSupport]:
    """What each runtime the course uses needs, and whether this machine (its CPU's architecture, SIMD features
    and an NVIDIA GPU or none) has it."""
    simd_set, arm = set(simd), arch in ("aarch64", "arm64")
    vllm_cpu = "AVX-512" in simd_set or arm
    vllm = "GPU present" if gpu else "CPU backend: AVX-512 present" if vllm_cpu else "CPU backend limited: no AVX-512"
    return [
        RuntimeSupport(
            "llama.cpp (GGUF)",
            "any x86-64 or ARM64 CPU; faster with AVX2/AVX-512 or NEON",
            True,
            f"{arch}, {', '.join(sorted(simd_set)) or 'no SIMD found'}",
        ),
        RuntimeSupport(
            "ONNX Runtime (Olive)",
            "x86-64 or ARM64; NPUs and GPUs through execution providers",
            arch == "x86_64" or arm,
            arch,
        ),
        RuntimeSupport(
            "MLX",
            "Apple Silicon (Metal, unified memory); a CPU backend on Linux",
            True,
            "CPU backend only" if arch == "x86_64" else arch,
        ),
        RuntimeSupport(
            "vLLM",
            "an NVIDIA/AMD GPU, or its CPU backend (x86-64 with AVX-512 recommended, AVX2 limited; ARM64)",
            gpu or vllm_cpu,
            vllm,
        ),
        RuntimeSupport(
            "BitNet (TQ1_0/TQ2_0, bitnet.cpp)",
            "ternary kernels; bitnet.cpp's I2_S/TL kernels for x86 and ARM",
            True,
            "llama.cpp's TQ types run here",
        ),
    ]


def plot_region(
    rows: list[Candidate],
    kept: list[Candidate],
    lossy: list[Candidate],
    picks: list[Candidate],
    device: Device,
    need: Need,
):
    """The feasible region: every candidate at its memory (x) and speed (y), the device's memory (after the OS
    reserve) and the needed speed as dashed lines; `kept` (inside the limits), `lossy` (inside the device's limits
    but adding more perplexity than the need allows) and the numbered `picks` drawn apart from the rest."""
    import matplotlib.pyplot as plt

    outside = [r for r in rows if r not in kept and r not in lossy]
    fig, ax = plt.subplots(figsize=(9, 5))
    for label, group, style in [
        ("outside the limits", outside, {"c": "tab:gray", "alpha": 0.4, "s": 18}),
        (f"inside, but adds > {need.max_ppl_increase:g} perplexity", lossy, {"c": "tab:orange", "marker": "x"}),
        ("kept", kept, {"c": "tab:blue", "s": 24}),
        ("picked (numbered)", picks, {"c": "tab:red", "marker": "*", "s": 180}),
    ]:
        ax.scatter(
            [r.memory_gb for r in group], [r.tokens_per_s for r in group], label=f"{label} ({len(group)})", **style
        )
    for i, r in enumerate(picks, 1):
        ax.annotate(str(i), (r.memory_gb, r.tokens_per_s), xytext=(6, 3), textcoords="offset points", fontsize=8)
    budget = device.memory_gb * (1 - OS_RESERVE)
    ax.axvline(budget, color="tab:purple", ls="--", label=f"memory the device leaves ({budget:.1f} GB)")
    speed = need.min_tokens_per_s
    ax.axhline(speed, color="tab:green", ls="--", label=f"speed needed ({speed:g} tok/s)")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    ax.xaxis.set_major_formatter("{x:g}")
    ax.yaxis.set_major_formatter("{x:g}")
    ax.set(
        xlabel=f"memory needed at {need.context:,} tokens of context (GB, log scale)",
        ylabel="generation speed (tokens/s, measured or predicted, log scale)",
    )
    pick = f"{picks[0].model} {picks[0].quant} on {picks[0].runtime}" if picks else "nothing"
    ax.set_title(
        f"{len(kept)} of {len(rows)} candidates fit {device.memory_gb:g} GB, reach {speed:g} tokens/s and add "
        f"≤ {need.max_ppl_increase:g} perplexity; the pick: {pick}",
        size=9,
    )
    fig.tight_layout()
    return fig
