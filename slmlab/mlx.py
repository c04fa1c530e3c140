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
