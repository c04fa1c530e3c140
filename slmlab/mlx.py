"""Apple MLX on any machine: `mlx_lm.convert` to float or 4/8-bit, then `load` + `generate`.

On Linux, mlx runs on its CPU backend (the `mlx[cpu]` package); on Apple Silicon the same code uses the
GPU through Metal and unified memory. The calls below are mlx-lm's own; this module only adds timing.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from pathlib import Path

from slmlab import models, paths, quiet
from slmlab.errors import SlmlabError


@dataclass
class MlxResult:
    folder: Path
    q_bits: int | None
    group_size: int | None
    dtype: str | None
    size_bytes: int
    bits_per_weight: float | None
    seconds: float


def convert(
    model_dir: str | Path,
    output_dir: str | Path,
    q_bits: int | None = 4,
    group_size: int = 64,
    dtype: str | None = None,
) -> MlxResult:
    """`mlx_lm.convert(hf_path, mlx_path, quantize=True, q_bits=…, q_group_size=…)`, or a float `dtype`."""
    from mlx_lm import convert as mlx_convert

    model_dir, output_dir = paths.require_hf_folder(model_dir), Path(output_dir)
    if q_bits not in (None, 2, 3, 4, 6, 8):
        raise SlmlabError(f"q_bits must be 2, 3, 4, 6 or 8 (or None for a float dtype), not {q_bits}")
    start = time.perf_counter()
    # mlx_lm.convert prints "[INFO] Loading", "[INFO] Quantizing"…: the result below says what it did
    with paths.atomic_output(output_dir) as tmp, quiet.stdout_swallowed():
        if q_bits:
            mlx_convert(str(model_dir), mlx_path=str(tmp), quantize=True, q_bits=q_bits, q_group_size=group_size)
        else:
            mlx_convert(str(model_dir), mlx_path=str(tmp), dtype=dtype or "float16")
    seconds = time.perf_counter() - start
    size = sum(f.stat().st_size for f in output_dir.glob("*.safetensors"))
    n_params = models.parameter_count(model_dir)
    return MlxResult(
        output_dir,
        q_bits,
        group_size if q_bits else None,
        None if q_bits else (dtype or "float16"),
        size,
        8 * size / n_params if n_params else None,
        seconds,
    )


@dataclass
class MlxGeneration:
    text: str
    prompt_tokens: int
    generation_tokens: int
    prompt_tps: float
    generation_tps: float
    peak_memory_gb: float


def generate(
    model_dir: str | Path, prompt: str, max_tokens: int = 32, temp: float = 0.0, top_p: float = 1.0
) -> MlxGeneration:
    """`load` + `stream_generate` with `make_sampler(temp, top_p)`; the last response carries mlx's own timings."""
    import mlx.core as mx
    from mlx_lm import load, stream_generate
    from mlx_lm.sample_utils import make_sampler

    model, tokenizer = load(str(model_dir))
    mx.reset_peak_memory()  # the peak is per process: start counting here
    text, last = "", None
    sampler = make_sampler(temp=temp, top_p=top_p)
    for last in stream_generate(model, tokenizer, prompt=prompt, max_tokens=max_tokens, sampler=sampler):
        text += last.text
    if last is None:
        raise SlmlabError("mlx generated nothing")
    return MlxGeneration(
        text, last.prompt_tokens, last.generation_tokens, last.prompt_tps, last.generation_tps, last.peak_memory
    )


@functools.lru_cache(maxsize=4)
def _load(model_dir: str):
    from mlx_lm import load

    return load(model_dir)


def logits(model_dir: str | Path, ids):
    """Full-sequence logits from an MLX model, as a numpy array."""
    import mlx.core as mx
    import numpy as np

    model, _ = _load(str(model_dir))
    out = model(mx.array(np.asarray(ids)[None]))
    return np.array(out[0].astype(mx.float32))


def tensors(model_dir: str | Path) -> dict:
    """Every tensor of a converted folder, loaded lazily: each is read from disk only when used."""
    import mlx.core as mx

    return {k: v for f in sorted(Path(model_dir).glob("*.safetensors")) for k, v in mx.load(str(f)).items()}


def same_as_stored(ours, theirs, dtype) -> bool:
    """Are two arrays identical once both are rounded to `dtype`, as MLX rounds the scales and biases it stores?
    (For float32 there is no rounding at all: identical means bit for bit.)"""
    import mlx.core as mx
    import numpy as np

    def as_stored(x):
        return np.array(mx.array(x).astype(dtype).astype(mx.float32))

    return bool(np.array_equal(as_stored(ours), as_stored(theirs)))


def unpack_codes(words, bits: int = 4):
    """The codes packed in `uint32` words by `mx.quantize`, 32 / bits to a word, the first in the lowest bits:
    one row per row of `words`, the codes in order."""
    import numpy as np

    words = np.asarray(words, dtype=np.uint32)
    per_word = 32 // bits
    shifts = bits * np.arange(per_word, dtype=np.uint32)
    codes = (words[..., None] >> shifts) & np.uint32(2**bits - 1)
    return codes.reshape(*words.shape[:-1], words.shape[-1] * per_word)


def bits_per_weight(result: MlxResult) -> dict:
    """Bits per weight of a quantized folder's quantized tensors, two ways: by the formula bits + 8 × (scale bytes +
    bias bytes) / group size, with the scales' dtype read from the file, and counted from the tensors' bytes; and
    the whole file's (which adds the tensors left unquantized, such as the norms)."""
    t = tensors(result.folder)
    stems = [k.removesuffix(".scales") for k in t if k.endswith(".scales")]
    side = t[stems[0] + ".scales"]  # scales and biases share one dtype
    n_weights = sum(t[s + ".weight"].size * 32 // result.q_bits for s in stems)  # 32 / bits codes in each uint32
    n_bytes = sum(t[s + part].nbytes for s in stems for part in (".weight", ".scales", ".biases"))
    return {
        "scale dtype": str(side.dtype).removeprefix("mlx.core."),
        "formula": result.q_bits + 8 * 2 * side.itemsize / result.group_size,
        "from the bytes": 8 * n_bytes / n_weights,
        "whole file": result.bits_per_weight,
    }


def plot_group_errors(w, scales, biases, in_half_steps, group_size: int = 64, bits: int = 4):
    """Left: the group with the largest error — its weights, its levels and 0. Right: every group's largest
    error, in half-steps; right of the dashed line, a clipped far edge."""
    import matplotlib.pyplot as plt
    import numpy as np

    k = int(np.argmax(in_half_steps))
    levels = 2**bits
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4))
    left.hist(np.asarray(w).reshape(-1, group_size)[k], bins=48, color="tab:gray")
    for level in np.arange(levels) * np.asarray(scales).reshape(-1)[k] + np.asarray(biases).reshape(-1)[k]:
        left.axvline(level, color="tab:green", lw=0.8)
    left.axvline(0, color="black", ls="--", lw=1)
    left.set_xlabel("weight")
    left.set_ylabel("weights")
    left.set_title(
        f"Group {k} (largest error): {group_size} weights (bars), {levels} levels\n"
        "(green), 0 (dashed) is a level; the far edge is past the last"
    )
    over = float(np.mean(np.asarray(in_half_steps) > 1 + 1e-4))
    right.hist(in_half_steps, bins=40)
    right.axvline(1, color="black", ls="--")
    right.set_xlabel("largest |w − ŵ| in the group / (|scale| / 2)")
    right.set_ylabel("groups")
    n = len(in_half_steps)
    right.set_title(f"Largest error per group: {over:.0%} of {n:,} groups\nexceed half a step (dashed)")
    plt.tight_layout()
    plt.show()
