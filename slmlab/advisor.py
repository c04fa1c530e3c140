"""Choosing a model, a quantization type and a runtime for a device — from numbers, not adjectives.

For every catalog model and quantization type the advisor computes the memory it needs (file + KV cache +
compute, `sizing.runtime_memory`) and predicts its generation speed from the memory-bandwidth limit:
tokens/s ≈ efficiency × bandwidth ÷ bytes read per token. Bandwidth and efficiency come from the
learner's own measurements (notebook 03 saves them); without them, bandwidth is measured now and the
efficiency defaults to a stated value. Quality is ranked by model size first, then by the perplexity each
type adds in llama.cpp's own reference table (`llama-quantize --help`, measured on Llama-3-8B).

With a language (`Need.language`), each model is judged on its own tokenizer: the same content costs it
`tokens.ratio_to_english` times the tokens, so it needs that many times the speed and the context (KV cache) to
serve the learner as well as an English reader — and its speed is also given in that language's words per second.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from slmlab import catalog, llamacpp, measure, sizing, tokens

TYPES = ("Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q4_0", "Q3_K_M", "Q2_K")
DEFAULT_EFFICIENCY = 0.6  # share of the bandwidth ceiling assumed when nothing was measured (notebook 03 measures it)
OS_RESERVE = 0.2  # leave this share of device memory to the operating system and the application


@dataclass
class Device:
    memory_gb: float
    bandwidth_gb_s: float | None = None  # None: this machine's, measured
    arch: str = "x86_64"  # x86_64 or arm64
    simd: list[str] = field(default_factory=list)
    apple_silicon: bool = False
    gpu: bool = False


@dataclass
class Need:
    min_tokens_per_s: float = 5.0  # with a language: tokens/s of the same content in English
    context: int = 4096  # with a language: tokens of the same conversation in English
    task: str = "chat"  # chat, code, reasoning, multilingual, completion
    offline: bool = True
    # the learner's language, a code of data/languages/ (vi, tl, ar, pa, pcm …): the same content costs each
    # tokenizer a different number of tokens, so each model needs that many times the speed and the context
    language: str | None = None


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
    03 measured it, else the median of those measurements."""

    bandwidth: float  # bytes/s
    efficiency: dict[str, float]  # per quantization type
    default_efficiency: float
    source: str

    def tokens_per_s(self, qtype: str, bytes_per_token: int, bandwidth: float | None = None) -> float:
        return self.efficiency.get(qtype, self.default_efficiency) * (bandwidth or self.bandwidth) / bytes_per_token


def speed_model() -> SpeedModel:
    """The speed model from notebook 03's saved results (Gemma's files, and a stand-in's if 03 ran on one — both
    larger than the CPU caches, unlike slm-nano); without them, bandwidth measured now and a stated efficiency."""
    r = measure.load_results("03_quantizing_with_llama_cpp")
    rows = (r or {}).get("gemma", []) + ((r or {}).get("table", []) if (r or {}).get("stand_in") else [])
    if r and rows:
        bw = r["bandwidth_bytes_per_s"]
        shares: dict[str, list[float]] = {}
        for row in rows:
            qtype = (row.get("file") or row.get("type")).split()[0]
            shares.setdefault(qtype, []).append(min(1.0, row["tg tok/s"] / (bw / row["bytes/token"])))
        efficiency = {t: max(v) for t, v in shares.items()}
        values = sorted(efficiency.values())
        return SpeedModel(
            bw, efficiency, values[len(values) // 2], f"measured in notebook 03 ({len(efficiency)} types)"
        )
    return SpeedModel(
        measure.memory_bandwidth(),
        {},
        DEFAULT_EFFICIENCY,
        f"bandwidth measured now, efficiency {DEFAULT_EFFICIENCY:.0%} assumed (run notebook 03)",
    )


def runtime_for(device: Device) -> str:
    if device.gpu:
        return "vLLM (GPU) or llama.cpp with GPU offload"
    if device.apple_silicon:
        return "MLX or llama.cpp (Metal)"
    cpu = "llama.cpp (CPU" + (", AVX2" if "AVX2" in device.simd else ", NEON" if "NEON" in device.simd else "") + ")"
    # vLLM's CPU backend wants AVX-512 (notebook 06 measures it against llama-server on the same weights)
    return cpu + (" or vLLM's CPU backend" if "AVX-512" in device.simd else "")


TASK_FAMILIES = {"code": ("Qwen3", "Phi-4"), "reasoning": ("Phi-4", "Qwen3"), "multilingual": ("Qwen3", "Gemma 3")}


def recommend(
    device: Device,
    need: Need,
    top: int = 5,
    models: list[str] | None = None,
    quality: dict[str, float] | None = None,
    measured: dict[tuple[str, str], float] | None = None,
) -> tuple[list[Recommendation], str]:
    """Ranked (model, type, runtime) that fit the device and meet the speed, with the reasons.

    `quality`: the perplexity each type adds; by default llama.cpp's own table (`llama-quantize --help`).
    `measured`: tokens/s measured on this machine for (catalog model, type) — say, on a stand-in of the same
    shape — used instead of the prediction when the device is this machine (no bandwidth given)."""
    sm = speed_model()
    bw, source = sm.bandwidth, sm.source
    if device.bandwidth_gb_s:
        bw = device.bandwidth_gb_s * 1e9
        source = f"bandwidth given ({device.bandwidth_gb_s} GB/s), efficiency per type from {sm.source}"
        measured = None  # measured here says nothing about another device
    if quality is None:
        quality = {t: row["llama3_8b_ppl_increase"] for t, row in llamacpp.quant_type_table().items()}
    budget = device.memory_gb * (1 - OS_RESERVE) * 1e9
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
        min_tps = need.min_tokens_per_s * ratio
        ternary = m.family.startswith("BitNet")  # trained ternary: its own types lose nothing
        for q in ("TQ2_0", "TQ1_0") if ternary else TYPES:
            est = sizing.estimate_file(tensors, hp, q)
            mem = sizing.runtime_memory(est.total_bytes, cfg, ctx)
            was_measured = bool(measured) and (name, q) in measured
            tps = measured[(name, q)] if was_measured else sm.tokens_per_s(q, est.total_bytes, bw)
            if mem["total"] > budget or tps < min_tps:
                continue
            if not ternary and q not in quality:
                continue  # a type whose cost in quality nobody measured is not advised
            ppl_increase = 0.0 if ternary else quality[q]
            reasons = [
                f"needs {mem['total'] / 1e9:.2f} GB of the {budget / 1e9:.1f} GB left after the OS reserve",
                (
                    f"measured {tps:.0f} tokens/s on this machine (a stand-in of its shape)"
                    if was_measured
                    else f"predicted {tps:.0f} tokens/s ≥ {min_tps:g} ({source})"
                ),
                "trained with ternary weights: TQ types store it without loss"
                if ternary
                else f"{q} adds {ppl_increase:+.3f} perplexity on Llama-3-8B (llama.cpp's table)",
            ]
            if need.language:
                reasons.append(
                    f"{tokens.language_name(need.language)} costs {ratio:.2f}× English's tokens on its tokenizer: "
                    f"{tps / per_unit:.1f} {tokens.unit_of(need.language)}s/s, "
                    f"{int(window / per_unit):,} {tokens.unit_of(need.language)}s in its {window:,}-token window"
                )
            if need.task in TASK_FAMILIES and m.family in TASK_FAMILIES[need.task]:
                reasons.append(f"{m.family} is a family the lesson recommends for {need.task}")
            if m.gated:
                reasons.append("gated on the hub: accept its licence and use a token to download")
            words = {"words_per_s": tps / per_unit, "context_words": int(window / per_unit)} if per_unit else {}
            out.append(
                Recommendation(
                    name, q, runtime_for(device), mem["total"] / 1e9, tps, params, ppl_increase, reasons, ratio, **words
                )
            )

    def score(r: Recommendation) -> tuple:
        family = catalog.get(r.model).family
        family_bonus = 1 if need.task in TASK_FAMILIES and family in TASK_FAMILIES[need.task] else 0
        # a bigger model at a lower type usually beats a smaller one at a higher type — until the type
        # itself costs a lot (Q2_K adds +3.5 perplexity on Llama-3-8B): weigh parameters by quality kept
        return (family_bonus, r.params * (1 - min(r.ppl_increase, 3.5) / 7), -r.memory_gb)

    out.sort(key=score, reverse=True)
    return out[:top], source
