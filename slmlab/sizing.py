"""How big is a model file, and how much memory does it need? Computed from tensor shapes.

* `gguf_tensors(config)` lists the tensors llama.cpp's converter writes for a model, with shapes, from
  the model built on PyTorch's meta device (no weights, no download).
* `tensor_type(...)` picks the type `llama-quantize` gives each tensor for a file type. It follows
  `llama_tensor_get_type` in llama.cpp's `src/llama-quant.cpp` (the version this course builds) for the
  types the course teaches: norms stay F32; the output / tied embedding goes to Q6_K (or Q8_0); the
  `_M` K-quant mixes give some attn_v and ffn_down layers Q6_K; rows whose length is not a multiple of
  a type's block fall back to another type.
* Bytes per tensor come from the `gguf` package's own table `GGML_QUANT_SIZES` (block size, bytes per
  block) — never typed in here.

Units are always named: GB = 10⁹ bytes, GiB = 2³⁰ bytes.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from slmlab import offline, paths
from slmlab.gguf_file import read_gguf, skim, vocabulary_size
from slmlab.meta import build_on_meta

GB = 10**9
GiB = 2**30

# GGUF metadata is mostly the tokenizer: tokens, their types, and a BPE vocabulary's merges too. Where llama.cpp's
# source ships a model family's vocabulary as a GGUF of its own, that file's size *is* the metadata (within 0.1% of
# converted Qwen3 and Llama 3 files); Gemma 3's tokenizer is the one in the shipped Gemma 3 270M file. Otherwise:
# 24 bytes per token, measured on this course's SentencePiece files (slm-nano 23.0, Gemma 3 270M 24.9), which
# has no merges — an underestimate for BPE vocabularies.
METADATA_BYTES_PER_TOKEN = 24
TOKENIZER_GGUF = {
    "qwen2": "ggml-vocab-qwen2.gguf",
    "qwen3": "ggml-vocab-qwen2.gguf",
    "llama": "ggml-vocab-llama-bpe.gguf",
    "bitnet": "ggml-vocab-llama-bpe.gguf",
    "gemma3": "gemma-3-270m",
    "gemma3_text": "gemma-3-270m",
}


def tokenizer_gguf(config: dict) -> Path | None:
    """The GGUF that holds this model's real tokenizer offline, if one ships: a vocabulary file in llama.cpp's
    source (`models/ggml-vocab-*.gguf`) or an offline model's file — checked to have the config's vocabulary size."""
    cfg = config.get("text_config", config)
    return _tokenizer_gguf(cfg.get("model_type") or config.get("model_type", ""), cfg["vocab_size"])


@functools.lru_cache(maxsize=32)
def _tokenizer_gguf(model_type: str, vocab_size: int) -> Path | None:
    name = TOKENIZER_GGUF.get(model_type)
    if name is None:
        return None
    path = (
        offline.OFFLINE_MODELS[name].locate()
        if name in offline.OFFLINE_MODELS
        else paths.llama_cpp_source() / "models" / name
    )
    if not path.is_file():
        return None
    n = vocabulary_size(path)
    return path if abs(n - vocab_size) <= 0.001 * vocab_size else None  # slm-nano is "llama" too


def metadata_bytes(config: dict) -> int:
    """Estimated GGUF metadata (see TOKENIZER_GGUF): measured from the family's tokenizer GGUF — all of a
    vocabulary-only file, everything before a model file's tensor data — else per token."""
    path = tokenizer_gguf(config)
    if path is not None:
        return skim(path).data_offset
    return config.get("text_config", config)["vocab_size"] * METADATA_BYTES_PER_TOKEN


FILE_TYPES = (
    "F32",
    "F16",
    "BF16",
    "Q8_0",
    "Q6_K",
    "Q5_K_M",
    "Q5_K_S",
    "Q5_1",
    "Q5_0",
    "Q4_K_M",
    "Q4_K_S",
    "Q4_1",
    "Q4_0",
    "Q3_K_M",
    "Q2_K",
    "TQ2_0",
    "TQ1_0",
)
DEFAULT_TYPE = {"Q5_K_M": "Q5_K", "Q5_K_S": "Q5_K", "Q4_K_M": "Q4_K", "Q4_K_S": "Q4_K", "Q3_K_M": "Q3_K"}
FALLBACK = {
    "Q2_K": "Q4_0",
    "Q3_K": "Q4_0",
    "TQ1_0": "Q4_0",
    "TQ2_0": "Q4_0",
    "Q4_K": "Q5_0",
    "Q5_K": "Q5_1",
    "Q6_K": "Q8_0",
}  # llama-quant.cpp tensor_type_fallback


@dataclass
class Tensor:
    name: str
    category: str  # token_embd, output, attn_q, attn_k, attn_v, attn_output, attn_qkv, ffn_gate, ffn_up, ffn_down, norm
    shape: tuple[int, ...]  # HF order; the GGUF row length (ne[0]) is the last dimension
    layer: int | None

    @property
    def n_elements(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def row_length(self) -> int:
        return self.shape[-1]


CATEGORY = [
    (r"embed_tokens", "token_embd"),
    (r"lm_head", "output"),
    (r"qkv_proj", "attn_qkv"),
    (r"q_proj", "attn_q"),
    (r"k_proj", "attn_k"),
    (r"v_proj", "attn_v"),
    (r"o_proj|dense", "attn_output"),
    (r"gate_up_proj|up_proj", "ffn_up"),
    (r"gate_proj", "ffn_gate"),
    (r"down_proj", "ffn_down"),
]


def gguf_tensors(config: dict) -> tuple[list[Tensor], dict]:
    """The tensors of a model (shapes only) and the hyper-parameters the quantization rules need."""
    model = build_on_meta(config)
    tensors = []
    for name, p in model.named_parameters():  # a tied output head is not listed twice
        m = re.search(r"layers\.(\d+)\.", name)
        layer = int(m.group(1)) if m else None
        category = "norm" if p.dim() == 1 else next((c for pat, c in CATEGORY if re.search(pat, name)), "other")
        tensors.append(Tensor(name, category, tuple(p.shape), layer))
    cfg = model.config
    hparams = {
        "n_layer": cfg.num_hidden_layers,
        "n_gqa": cfg.num_attention_heads // (getattr(cfg, "num_key_value_heads", None) or cfg.num_attention_heads),
        "tied": (
            model.get_output_embeddings() is None
            or model.get_output_embeddings().weight is model.get_input_embeddings().weight
        ),
        "vocab_size": cfg.vocab_size,
        "metadata_bytes": metadata_bytes(config),
    }
    return tensors, hparams


def block_layout(type_name: str) -> tuple[int, int]:
    """(weights per block, bytes per block) of a llama.cpp type, from gguf-py's `GGML_QUANT_SIZES`."""
    import gguf

    return gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType[type_name]]


def _use_more_bits(i: int, n: int) -> bool:
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


def tensor_type(t: Tensor, file_type: str, hp: dict) -> str:
    """The type llama-quantize gives tensor `t` in a `file_type` file (see the module docstring)."""
    if file_type not in FILE_TYPES:
        raise ValueError(f"unknown file type {file_type}; known: {', '.join(FILE_TYPES)}")
    if t.category == "norm" or len(t.shape) < 2:
        return "F32"
    new = DEFAULT_TYPE.get(file_type, file_type)
    if new in ("F32", "F16", "BF16"):
        return new
    i, n, ft = t.layer or 0, hp["n_layer"], file_type
    if t.category == "output" or (hp["tied"] and t.category == "token_embd"):
        if t.row_length % block_layout(new)[0] != 0:
            new = "Q8_0"
        elif new != "Q8_0":
            new = "Q6_K"
    elif t.category == "token_embd":
        if ft in ("TQ1_0", "TQ2_0"):
            new = "Q4_K"
    elif t.category in ("attn_v", "attn_qkv"):  # llama-quant.cpp's category_is_attn_v: fused QKV counts as V
        if ft == "Q2_K":
            new = "Q4_K" if hp["n_gqa"] >= 4 else "Q3_K"
        elif ft == "Q3_K_M":
            new = "Q5_K" if i < 2 else "Q4_K"
        elif ft in ("Q4_K_M", "Q5_K_M") and _use_more_bits(i, n):
            new = "Q6_K"
        elif ft == "Q4_K_S" and i < 4:
            new = "Q5_K"
    elif t.category == "ffn_down":
        if ft == "Q2_K":
            new = "Q3_K"
        elif ft == "Q3_K_M":
            new = "Q5_K" if i < n // 16 else "Q4_K"
        elif ft in ("Q4_K_M", "Q5_K_M") and _use_more_bits(i, n):
            new = "Q6_K"
        elif ft == "Q4_K_S" and i < n // 8:
            new = "Q5_K"
    elif t.category == "attn_output":
        if ft == "Q2_K":
            new = "Q3_K"
        elif ft == "Q3_K_M":
            new = "Q4_K"
    if t.row_length % block_layout(new)[0] != 0:  # shapes a type cannot hold fall back (with a warning in the tool)
        new = FALLBACK.get(new, new)
        if t.row_length % block_layout(new)[0] != 0:
            new = "F16"
    return new


def tensor_bytes(t: Tensor, type_name: str) -> int:
    block, size = block_layout(type_name)
    rows = t.n_elements // t.row_length
    return rows * (t.row_length // block) * size


@dataclass
class SizeEstimate:
    file_type: str
    tensor_bytes: int
    metadata_bytes: int
    n_params: int
    types: dict[str, int]  # parameters per tensor type

    @property
    def total_bytes(self) -> int:
        return self.tensor_bytes + self.metadata_bytes

    @property
    def bits_per_weight(self) -> float:
        return 8 * self.tensor_bytes / self.n_params

    @property
    def gb(self) -> float:
        return self.total_bytes / GB

    @property
    def gib(self) -> float:
        return self.total_bytes / GiB


def estimate_file(tensors: list[Tensor], hp: dict, file_type: str) -> SizeEstimate:
    types: dict[str, int] = {}
    total = 0
    for t in tensors:
        ty = tensor_type(t, file_type, hp)
        total += tensor_bytes(t, ty)
        types[ty] = types.get(ty, 0) + t.n_elements
    return SizeEstimate(
        file_type,
        total,
        hp["metadata_bytes"],
        sum(t.n_elements for t in tensors),
        dict(sorted(types.items(), key=lambda kv: -kv[1])),
    )


def estimate_sizes(config: dict, file_types: tuple[str, ...] = FILE_TYPES) -> dict[str, SizeEstimate]:
    tensors, hp = gguf_tensors(config)
    return {ft: estimate_file(tensors, hp, ft) for ft in file_types}


def compare_with_file(model: str, config: dict, file_type: str, path: str | Path) -> dict:
    """An estimate against the file itself, as one row of a table: both sizes in bytes, their relative
    difference, and whether every weight matrix has the type the estimate gave it (the F32 norms left out)."""
    real, est = read_gguf(path), estimate_sizes(config, (file_type,))[file_type]
    return {
        "model": model,
        "type": file_type,
        "estimated bytes": est.total_bytes,
        "real bytes": real.size_bytes,
        "difference": est.total_bytes / real.size_bytes - 1,
        "same tensor types": {k: v for k, v in est.types.items() if k != "F32"} == real.matrix_types,
    }


def bits_floor(file_type: str) -> float:
    """The fewest bits per weight a file of this type can have: its main type's bits, from gguf's table."""
    block, size = block_layout(DEFAULT_TYPE.get(file_type, file_type))
    return 8 * size / block


@dataclass
class KVCache:
    context: int
    bytes: int
    per_token_bytes: float
    layers_full: int
    layers_sliding: int
    window: int | None


def kv_cache(
    config: dict, context: int, bytes_per_element: float = 2, window_limited: bool = True, batch_tokens: int = 0
) -> KVCache:
    """Bytes of the K and V caches at `context` tokens: 2 × layers × KV heads × head dim × tokens × bytes
    (2 for F16; a q8_0 cache stores 8.5 bits, `bits_floor("Q8_0") / 8`).

    Sliding-window layers (Gemma 3) hold at most `sliding_window` tokens when `window_limited`, plus
    `batch_tokens`: llama.cpp keeps the window and one micro-batch (`n_ubatch`, 512) for them, so that a batch
    can still see a full window behind each of its tokens. `window_limited=False` is llama.cpp's `--swa-full`
    (and llama-cpp-python's default): every layer full size.
    """
    cfg = config.get("text_config", config)
    n_layer = cfg["num_hidden_layers"]
    n_head = cfg["num_attention_heads"]
    n_kv = cfg.get("num_key_value_heads") or n_head
    head_dim = cfg.get("head_dim") or cfg["hidden_size"] // n_head
    window = cfg.get("sliding_window")
    layer_types = cfg.get("layer_types")
    if layer_types is None and window and cfg.get("model_type", "").startswith("gemma3"):
        pattern = cfg.get("sliding_window_pattern") or cfg.get("_sliding_window_pattern") or 6
        layer_types = ["full_attention" if (i + 1) % pattern == 0 else "sliding_attention" for i in range(n_layer)]
    if layer_types is None or window is None or window >= context:
        layer_types = ["full_attention"] * n_layer
    sliding = sum(1 for t in layer_types if t == "sliding_attention")
    full = n_layer - sliding
    per_layer_token = 2 * n_kv * head_dim * bytes_per_element
    tokens_sliding = min(context, window + batch_tokens) if (window and window_limited) else context
    total = round(per_layer_token * (full * context + sliding * tokens_sliding))
    return KVCache(context, total, total / context, full, sliding, window)


def runtime_memory(
    file_bytes: int, config: dict, context: int, window_limited: bool = False, n_ubatch: int = 512
) -> dict[str, int]:
    """Memory while generating with llama.cpp: the weights (the file, memory-mapped) + the KV cache + the
    compute buffer. llama.cpp reserves its compute buffer for one micro-batch of up to `n_ubatch` tokens, and
    what dominates it is that batch's logits in F32 — `n_ubatch × vocabulary × 4` bytes — plus two hidden-state
    rows per token (checked against llama.cpp's own "compute buffer size" in the tests and in notebook 11).
    Sliding-window layers get a full-size cache unless `window_limited` (llama.cpp's default, `--swa-full`)."""
    cfg = config.get("text_config", config)
    kv = kv_cache(config, context, window_limited=window_limited).bytes
    tokens = min(n_ubatch, context)
    compute = 4 * tokens * (cfg["vocab_size"] + 2 * cfg["hidden_size"])
    return {"weights": file_bytes, "kv_cache": kv, "compute": compute, "total": file_bytes + kv + compute}


def judge_range(size_bytes: int, low_gb: float, high_gb: float) -> str:
    """Does a size fall in a claimed range? 'holds', 'holds only in GiB' (the claim's GB are really GiB),
    or 'does not hold'."""
    if low_gb <= size_bytes / GB <= high_gb:
        return "holds"
    if low_gb <= size_bytes / GiB <= high_gb:
        return "holds only in GiB"
    return "does not hold"


def judge_reduction(
    file_type: str, claimed: float, measured: float, baseline: str = "F16", tolerance: float = 0.05
) -> str:
    """A claimed size reduction against the baseline, read as "about" (± `tolerance`):
    'impossible' if even the generous reading needs fewer bits per weight than the type's floor (from gguf's
    table), 'holds' if the computed reduction is within the tolerance, else 'does not hold'."""
    best = 1 - bits_floor(file_type) / bits_floor(baseline)
    if claimed - tolerance > best:
        return f"impossible: even at the {bits_floor(file_type)} bits/weight floor the reduction is {best:.1%}"
    if abs(claimed - measured) <= tolerance:
        return "holds"
    return f"does not hold: at most {best:.1%} is possible, {measured:.1%} measured"
