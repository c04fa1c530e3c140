"""Notebooks 03 and 04's tables of quantized files: one row per GGUF file (size, quality, speed, memory), the
plots drawn from them, and the small helpers the by-hand blocks are checked with.

* `measure_file` runs the measurements on one file — `llama-perplexity` (or, given a reference, its
  `--kl-divergence`), `llama-bench -o json` and a memory probe in a fresh process — and returns its row;
  `frame` makes the table, `show` formats it, `plot_table`, `plot_front`, `plot_memory` and `plot_sweep` draw it.
* `tensor_weights` / `same_bytes` read one tensor of a GGUF file, to compare a block quantized in numpy with the
  bytes `llama-quantize` wrote; `block_layout` / `bits_per_weight` read llama.cpp's type table (gguf-py's
  `GGML_QUANT_SIZES`); `tensor_types` and `row_lengths` say how each role of a file is stored.

A stand-in (random weights, see `standins`) is measured like any model — its size, speed and memory are the real
model's — but its quality is not: `measure_file` runs no perplexity for it, and `show` and `plot_table` put
"n/a (random weights)" and the speed where a quality figure would be. So a lesson's cell reads the same for every
model, and only this module knows what differs.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from slmlab import llamacpp, probes, sizing, standins
from slmlab.gguf_file import bytes_read_per_token, read_gguf

NO_QUALITY = "n/a (random weights)"  # what a stand-in's quality columns say
QUALITY = ("perplexity", "± ppl", "ppl vs F16", "KL divergence", "± KLD", "KLD 99%", "same top token")
ROLES = ("token_embd", "attn_v", "ffn_down")  # the roles notebook 03's type table shows beside the main type
FORMATS = {
    "MB": "{:.2f}",
    "bits/weight": "{:.2f}",
    "KL divergence": "{:.4f}",
    "± KLD": "{:.4f}",
    "same top token": "{:.1%}",
    "perplexity": "{:.3f}",
    "± ppl": "{:.3f}",
    "ppl vs F16": "{:+.2%}",
    "pp tok/s": "{:,.0f}",
    "tg tok/s": "{:,.1f}",
    "memory MB": "{:.1f}",
}
MEMORY_PARTS = ("weights MB", "weights repacked MB", "kv cache MB", "compute MB", "output MB")


def describe(path: str | Path) -> str:
    """One line on a GGUF file (bytes, parameters, bits per weight), and a second one if it is a stand-in."""
    info = read_gguf(path)
    text = (
        f"{Path(path).name}: {info.size_bytes:,} bytes, {info.n_params:,} parameters, "
        f"{info.bits_per_weight:.2f} bits per weight"
    )
    if standins.is_standin(path):
        text += (
            f"\nSTAND-IN ({info.description}): every size, speed and memory figure below is the real model's; "
            "its perplexity is that of random weights, so this notebook shows no quality number for it"
        )
    return text


# --- llama.cpp's type table, and one tensor of a file -------------------------------------------------------------


block_layout = sizing.block_layout  # (weights per block, bytes per block): llama.cpp's table, read in one place


def bits_per_weight(type_name: str) -> float:
    """A type's bits per weight: its block's bytes × 8 ÷ the weights in the block (scales included)."""
    weights, nbytes = block_layout(type_name)
    return 8 * nbytes / weights


def _tensor(path: str | Path, name: str):
    import gguf

    found = [t for t in gguf.GGUFReader(path).tensors if t.name == name]
    if not found:
        raise KeyError(f"{Path(path).name} has no tensor {name}")
    return found[0]


def tensor_weights(path: str | Path, name: str) -> np.ndarray:
    """A float tensor of a GGUF file (F16, BF16, F32) as float32, flattened: what `llama-quantize` reads."""
    return np.asarray(_tensor(path, name).data, dtype=np.float32).reshape(-1)


def tensor_bytes(path: str | Path, name: str) -> bytes:
    """The bytes a GGUF file stores for one tensor, as written (blocks of a quantized type included)."""
    return np.asarray(_tensor(path, name).data).tobytes()


def same_bytes(mine: bytes, path: str | Path, name: str, n_weights: int) -> dict:
    """A row comparing blocks quantized by hand with the bytes `llama-quantize` wrote for the same tensor."""
    return {
        "tensor": name,
        "bytes": len(mine),
        "bits per weight": 8 * len(mine) / n_weights,
        "identical to llama-quantize's": mine == tensor_bytes(path, name),
    }


def _role(tensor_name: str) -> str:
    return tensor_name.split(".")[-2] if tensor_name.startswith("blk.") else tensor_name.removesuffix(".weight")


def types_by_role(path: str | Path) -> dict[str, str]:
    """The type(s) each role's weight matrices are stored as ("Q4_K/Q6_K" where the layers differ)."""
    roles: dict[str, set[str]] = {}
    for t in read_gguf(path).weight_matrices:
        roles.setdefault(_role(t.name), set()).add(t.type)
    return {r: "/".join(sorted(v)) for r, v in roles.items()}


def row_lengths(path: str | Path) -> dict[str, int]:
    """Each role's row length (weights per row: the length of the matrix's input), the dimension blocks cut."""
    return {_role(t.name): t.shape[0] for t in read_gguf(path).weight_matrices}


def tensor_types(files: dict[str, Path], roles: tuple[str, ...] | None = ROLES) -> pd.DataFrame:
    """For each file: the types its weight matrices are stored as (share of their parameters), and the type(s)
    of each role in `roles` (None: every role). A file type names the main type, not every tensor's."""
    rows = {}
    for label, path in files.items():
        counts = read_gguf(path).matrix_types
        total = sum(counts.values())
        by_role = types_by_role(path)
        rows[label] = {
            "stored as (share of parameters)": " · ".join(f"{t} {n / total:.0%}" for t, n in counts.items()),
            **{r: by_role.get(r, "–") for r in (roles or by_role)},
        }
    return pd.DataFrame(rows).T


# --- one row per file, and the table -------------------------------------------------------------------------------


def measure_file(
    path: str | Path,
    *,
    context: int,
    chunks: int | None,
    threads: int,
    reps: int,
    memory_context: int,
    reference: str | Path | None = None,
) -> dict:
    """Measure one GGUF file: its size; its quality — `llama-perplexity` on the held-out text, or with a
    `reference` (saved by `llamacpp.kl_reference`) the KL divergence of its next-token distributions from the
    reference's, with top-token agreement and perplexity — (none for a stand-in: random weights); `llama-bench`'s
    prompt (pp) and generation (tg) tokens/s; and the memory of a fresh process that loads it and generates,
    with the buffers llama.cpp reports. Every tool's command is printed as it runs."""
    g = read_gguf(path)
    stand_in = standins.is_standin(path)
    row: dict = {"bytes": g.size_bytes, "MB": g.size_bytes / 1e6, "MiB": g.size_bytes / 2**20}
    row["bits/weight"] = g.bits_per_weight
    if reference is not None:
        d = llamacpp.kl_divergence(path, reference, context=context, chunks=chunks or 4, threads=threads)
        row |= {"KL divergence": d.mean_kld, "± KLD": d.kld_uncertainty, "KLD 99%": d.kld_99}
        row |= {"same top token": d.same_top, "perplexity": d.perplexity, "± ppl": d.perplexity_uncertainty}
    elif stand_in:
        row |= {"perplexity": math.nan, "± ppl": math.nan}
    else:
        ppl = llamacpp.perplexity(path, context=context, chunks=chunks, threads=threads)
        row |= {"perplexity": ppl.perplexity, "± ppl": ppl.uncertainty}
    speed = llamacpp.llama_bench(path, threads, reps=reps)
    mem = probes.memory_while_generating(path, memory_context, 32, threads)
    row |= {"pp tok/s": speed["pp"], "tg tok/s": speed["tg"], "memory MB": mem.model_bytes / 1e6}
    row |= {f"{k} MB": v / 1e6 for k, v in mem.buffers.items()}
    return row | {"bytes/token": bytes_read_per_token(g), "stand-in": stand_in}


def frame(rows: list[dict], index: str, f16: str = "F16") -> pd.DataFrame:
    """The table of `measure_file` rows, indexed by `index`, with each file's perplexity against the `f16` row's
    ("ppl vs F16"). Whether the files are a stand-in's goes into `attrs["stand_in"]`, not into a column."""
    table = pd.DataFrame(rows).set_index(index)
    table.attrs["stand_in"] = bool(table.pop("stand-in").any()) if "stand-in" in table else False
    if "weights repacked MB" not in table:
        table["weights repacked MB"] = 0.0
    table = table.fillna({"weights repacked MB": 0.0})
    table["ppl vs F16"] = table["perplexity"] / table.loc[f16, "perplexity"] - 1
    return table


def show(table: pd.DataFrame, columns: tuple[str, ...] | None = None):
    """The table's main columns, formatted (a pandas Styler); a stand-in's quality columns say NO_QUALITY."""
    columns = tuple(c for c in (columns or tuple(FORMATS)) if c in table)
    shown = table[list(columns)]
    formats = {c: FORMATS[c] for c in columns if c in FORMATS}
    if table.attrs.get("stand_in"):
        quality = [c for c in columns if c in QUALITY]
        shown = shown.astype(dict.fromkeys(quality, object))
        shown.loc[:, quality] = NO_QUALITY
        formats = {k: v for k, v in formats.items() if k not in quality}
    return shown.style.format(formats, na_rep="–")


# --- plots ---------------------------------------------------------------------------------------------------------


def _front(table: pd.DataFrame, y: str, same_size: float = 0.001) -> pd.DataFrame:
    """The Pareto front: the files that no file of the same size or smaller beats on `y` (lower is better); sizes
    within `same_size` of each other count as the same (a Q2_K file with and without an importance matrix)."""
    keep = [t for t, r in table.iterrows() if not (table.loc[table["MB"] <= r["MB"] * (1 + same_size), y] < r[y]).any()]
    return table.loc[keep].sort_values("MB")


def plot_front(table: pd.DataFrame, y: str, model: str, ax=None, ylabel: str | None = None):
    """`y` (lower is better, drawn on a log scale) against file size, each file labelled, with the Pareto front;
    the title says which files a file no larger beats."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4.5))
    ax.scatter(table["MB"], table[y], zorder=3)
    for label, r in table.iterrows():
        ax.annotate(label, (r["MB"], r[y]), textcoords="offset points", xytext=(5, 3), fontsize=8)
    front = _front(table, y)
    ax.plot(front["MB"], front[y], "--", color="tab:green", label="Pareto front: nothing smaller is better")
    ax.set_xlabel("file size (MB = 10⁶ bytes)")
    ax.set_ylabel(ylabel or y)
    ax.set_yscale("symlog", linthresh=1e-3) if (table[y] <= 0).any() else ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    off = [t for t in table.index if t not in front.index]
    beaten = f"{', '.join(off)} {'is' if len(off) == 1 else 'are'} beaten by a file no larger" if off else "none beaten"
    ax.set_title(f"{model}: {len(front)} files on the front; {beaten}", fontsize=10)
    return ax.figure


def plot_memory(table: pd.DataFrame, title: str, ax) -> None:
    """The buffers llama.cpp reports for each file, stacked, with the peak resident memory measured."""
    parts = [p for p in MEMORY_PARTS if p in table]
    table[parts].plot.bar(stacked=True, ax=ax, width=0.7)
    ax.scatter(range(len(table)), table["memory MB"], color="black", zorder=3, label="peak resident (measured)")
    ax.set_ylabel("MB (10⁶ bytes)")
    ax.set_xlabel("")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)


def plot_table(table: pd.DataFrame, model: str, *, threads: int, context: int, memory_context: int):
    """Four panels from notebook 03's table: quality against size (a stand-in: speed against size), generation
    speed, the size estimated from the config against the file written, and where the memory goes."""
    import matplotlib.pyplot as plt

    fig, ((a1, a2), (a3, a4)) = plt.subplots(2, 2, figsize=(12, 8.5))
    if table.attrs.get("stand_in"):  # random weights: no quality axis, show what is real, the speed
        a1.scatter(table["MB"], table["tg tok/s"], zorder=3)
        for t, r in table.iterrows():
            a1.annotate(t, (r["MB"], r["tg tok/s"]), textcoords="offset points", xytext=(5, 3), fontsize=8)
        a1.set_xlabel("file size (MB = 10⁶ bytes)")
        a1.set_ylabel(f"generation tokens/s ({threads} thread)")
        fastest = table.loc[table["MB"].idxmin(), "tg tok/s"] / table["tg tok/s"].iloc[0]
        a1.set_title(
            f"{model} (stand-in, random weights): the smallest file generates {fastest:.1f}× as fast "
            f"as {table.index[0]}",
            fontsize=10,
        )
        a1.grid(alpha=0.3)
    else:
        plot_front(table, "perplexity", model, ax=a1, ylabel=f"perplexity on held-out text (ctx {context})")
        worst, best = table["ppl vs F16"].idxmax(), table.drop(index=table.index[0])["ppl vs F16"].abs().idxmin()
        a1.set_title(
            f"{model}: {best} is {1 - table.loc[best, 'MB'] / table['MB'].iloc[0]:.0%} smaller than "
            f"{table.index[0]} at {table.loc[best, 'ppl vs F16']:+.2%} perplexity; {worst} costs "
            f"{table.loc[worst, 'ppl vs F16']:+.0%}",
            fontsize=10,
        )
    table["tg tok/s"].plot.bar(ax=a2, color="tab:blue")
    a2.set_ylabel(f"generation tokens/s ({threads} thread)")
    a2.set_xlabel("")
    a2.set_title(f"fastest: {table['tg tok/s'].idxmax()}, slowest: {table['tg tok/s'].idxmin()}", fontsize=10)
    if "estimated bytes" in table:
        a3.scatter(table["estimated bytes"] / 1e6, table["bytes"] / 1e6)
        lim = [0, table["bytes"].max() / 1e6 * 1.05]
        a3.plot(lim, lim, ":", color="gray")
        for t, r in table.iterrows():
            a3.annotate(
                t,
                (r["estimated bytes"] / 1e6, r["bytes"] / 1e6),
                textcoords="offset points",
                xytext=(4, -3),
                fontsize=8,
            )
        worst = (table["estimated bytes"] / table["bytes"] - 1).abs().max()
        a3.set_xlabel("estimated from the config (MB)")
        a3.set_ylabel("written by llama-quantize (MB)")
        a3.set_title(f"estimates within {worst:.2%} of the real files", fontsize=10)
    fixed = (table["kv cache MB"] + table["compute MB"]).iloc[0]
    plot_memory(
        table, f"the KV cache and compute buffer add {fixed:.0f} MB to every file at context {memory_context}", a4
    )
    fig.tight_layout()
    return fig


def sweep_verdict(sweep: pd.DataFrame, tolerance: float = 0.25) -> str:
    """What a thread sweep says (columns: measured and predicted tok/s, prompt tok/s, indexed by threads): whether
    the bandwidth model held at the most threads, and whether prompt processing scaled with them."""
    top, first = sweep.index[-1], sweep.index[0]
    r = sweep.loc[top]
    ratio = r["measured tok/s"] / r["predicted tok/s"]
    held = abs(ratio - 1) <= tolerance
    gain = r["prompt tok/s"] / sweep.loc[first, "prompt tok/s"]
    text = (
        f"with {top} threads: measured {r['measured tok/s']:.1f} tokens/s, predicted {r['predicted tok/s']:.1f} "
        f"({ratio:.2f}×): the bandwidth model "
        + (f"holds (within {tolerance:.0%})" if held else f"does not hold here (more than {tolerance:.0%} off)")
    )
    text += f"\nprompt processing with {top} threads: {gain:.2f}× as fast as with {first}"
    if top != first and gain < 1.3:
        text += (
            " — it did not scale: this machine's virtual CPUs most likely share one physical core (hyperthreads),"
            " or the host is busy; arithmetic needs cores of its own"
        )
    return text


def plot_sweep(sweep: pd.DataFrame, label: str, share: float):
    """Generation speed against threads: the bandwidth ceiling, the prediction (its share) and the measurement."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(sweep.index, sweep["ceiling tok/s"], "k--", label="ceiling: bandwidth ÷ bytes per token")
    ax.plot(sweep.index, sweep["predicted tok/s"], "o-", label=f"predicted: {share:.0%} of the ceiling")
    ax.plot(sweep.index, sweep["measured tok/s"], "s-", label="measured (llama-bench)")
    ax.set_xlabel("threads")
    ax.set_ylabel("tokens per second")
    ax.set_xticks(list(sweep.index))
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    gain = sweep.iloc[-1] / sweep.iloc[0]  # each column at the most threads, over the fewest
    ax.set_title(
        f"{label}: {sweep.index[-1]} threads generate {gain['measured tok/s']:.2f}× as fast as "
        f"{sweep.index[0]}; bandwidth rose {gain['bandwidth GB/s']:.2f}×",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def plot_outlier(block: np.ndarray, quantize, times: float = 8, index: int = 5):
    """One block of 32 weights through a Q4_0 quantizer (`quantize`: weights → bytes) and back, as it is and with
    weight `index` made `times` × the block's largest |weight|: each weight's |error| (the outlier's own left out)."""
    import gguf
    import matplotlib.pyplot as plt

    outlier = block.copy()
    outlier[index] = times * np.abs(block).max()
    fig, ax = plt.subplots(figsize=(9, 3))
    for label, b, shift in [("as stored", block, -0.2), (f"one outlier (weight {index})", outlier, 0.2)]:
        back = gguf.quants.dequantize(
            np.frombuffer(quantize(b), np.uint8).reshape(1, -1), gguf.GGMLQuantizationType.Q4_0
        )
        error = np.abs(back.reshape(-1) - b)
        if b is outlier:
            error[index] = np.nan
        ax.bar(np.arange(32) + shift, error, width=0.4, label=f"{label}: mean error {np.nanmean(error):.2e}")
    ax.set_xlabel("weight in the block")
    ax.set_ylabel("|dequantized − original|")
    ax.legend(fontsize=8)
    ax.set_title(
        f"Q4_0: one outlier ({times:g}× the largest) coarsens the grid for the other 31 weights of its block",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def outlier_ratios(weights: np.ndarray, quantize, times: float, index: int = 5) -> np.ndarray:
    """For every block of 32 of `weights`: the mean |error| that Q4_0 (`quantize`: weights → bytes) leaves on the
    block's weights other than `index` once weight `index` is made `times` × the block's largest |weight|, ÷ the
    same error as stored (NaN for a block of zeros: it has no error to grow)."""
    blocks = weights.reshape(-1, 32)
    hit = blocks.copy()
    hit[:, index] = times * np.abs(blocks).max(axis=1)
    before, after = (_q4_0_errors(b, quantize, index) for b in (blocks, hit))
    return after / np.where(before > 0, before, np.nan)


def _q4_0_errors(blocks: np.ndarray, quantize, index: int) -> np.ndarray:
    import gguf

    back = gguf.quants.dequantize(
        np.frombuffer(quantize(blocks), np.uint8).reshape(len(blocks), -1), gguf.GGMLQuantizationType.Q4_0
    )
    return np.delete(np.abs(back - blocks), index, axis=1).mean(axis=1)
