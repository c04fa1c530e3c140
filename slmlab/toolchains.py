"""One model across toolchains (notebooks 05 and 06): what its scores can say, and one table for them all.

Every runtime scores the same held-out tokens against PyTorch float32 (`compare.score`): perplexity, argmax agreement
and the largest logit difference. Real weights are judged on quality (agreement: higher is closer to PyTorch). A
seed's stand-in has random weights: its perplexity and agreement are those of noise, so it is judged on fidelity
only — the largest logit difference (lower is closer), how faithfully each toolchain reproduces the same weights.
`Yardstick` holds that choice, so that a lesson's cells read one object and never branch on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

NA = "n/a (random weights)"
# the quality columns, as notebook 05 (`compare.Score`'s fields) and notebook 06 (a table for reading) name them
QUALITY = ("perplexity", "argmax_agreement", "argmax agreement", "ppl vs PyTorch")
AGREEMENT, LOGIT_DIFF = "argmax agreement", "max |Δlogit|"


@dataclass(frozen=True)
class Yardstick:
    """What a run's scores mean: `standin` (random weights) keeps size, speed, memory and fidelity, drops quality."""

    standin: bool

    @classmethod
    def for_model(cls, folder: str | Path) -> Yardstick:
        from slmlab import standins

        return cls(standins.is_standin(folder))

    @property
    def label(self) -> str:
        """Said once, beside the model's name."""
        return "(stand-in: random weights — sizes, times and memory are real, outputs are not)" if self.standin else ""

    @property
    def text_mark(self) -> str:
        """Appended to a generated text."""
        return "   ← random weights: the text is noise" if self.standin else ""

    @property
    def metric(self) -> str:
        """The column that says which runtime is closest to PyTorch."""
        return LOGIT_DIFF if self.standin else AGREEMENT

    def closer(self, a, b) -> bool:
        """Is row `a` closer to PyTorch than row `b`, by `metric`?"""
        return a[self.metric] < b[self.metric] if self.standin else a[self.metric] > b[self.metric]

    def closest(self, table) -> str:
        """The row of `table` closest to PyTorch, by `metric`."""
        column = table[self.metric]
        return column.idxmin() if self.standin else column.idxmax()

    def fmt(self, value: float) -> str:
        return f"{value:.2f}" if self.standin else f"{value:.1%}"

    def shown(self, table):
        """`table` as a learner should read it: on a stand-in, its quality columns say "n/a (random weights)"."""
        columns = [c for c in QUALITY if c in table.columns] if self.standin else []
        shown = table.astype({c: object for c in columns})
        shown.loc[:, columns] = NA
        return shown

    def styled(self, table, formats: dict[str, str]):
        """`shown(table)` with `formats` (column → format) for the columns that still hold numbers."""
        shown = self.shown(table)
        return shown.style.format({c: f for c, f in formats.items() if c in shown and shown[c].dtype != object})

    def quality(self, text: str) -> str:
        """A quality verdict as written, or — on a stand-in — the reason there is none."""
        if self.standin:
            return f"quality: {NA} — perplexity and agreement are those of noise, no verdict here"
        return text

    def per_megabyte(self, row, megabytes: float, time_column: str) -> float:
        """Notebook 05's merit of a model, highest wins: argmax agreement per MB; on a stand-in, where agreement is
        noise, −(MB × forward milliseconds), so that the smallest and fastest wins."""
        if self.standin:
            return -megabytes * row[time_column]
        return row["argmax_agreement"] / megabytes


def notebook03_f16_perplexity(model: str) -> str:
    """llama.cpp's F16 perplexity in notebook 03's saved results, formatted, when 03 ran on the same `model`."""
    from slmlab import measure

    r03 = measure.load_results("03_quantizing_with_llama_cpp") or {}
    ppl = next((row.get("perplexity") for row in r03.get("table", []) if row.get("type") == "F16"), None)
    if r03.get("model") != model or ppl is None:
        return f"not measured (notebook 03 has not run on {model})"
    return f"{ppl:.2f}"


def runtimes(source, mlx_models: dict, gguf_types=("Q8_0", "Q4_K_M", "Q4_0"), onnx_precisions=("int8", "int4")):
    """Each runtime's model of `source` and how to get its logits: name → (bytes on disk, ids → logits). llama.cpp's
    files come from notebook 03's cache and ONNX models from notebook 05's (each made now if missing); `mlx_models`
    maps a label (e.g. "4-bit") to an `mlx.MlxResult`."""
    from slmlab import compare, mlx, models, olive

    found = {}
    for t in gguf_types:
        path = models.quantized_gguf(source, t)  # cached; made with llama-quantize if missing
        found[f"llama.cpp {t}"] = (path.stat().st_size, lambda ids, p=path: compare.llamacpp_logits(p, ids))
    for p in onnx_precisions:
        onnx_dir = olive.built_folder(source, p)  # notebook 05's, or built now
        size = sum(f.stat().st_size for f in onnx_dir.glob("model.onnx*"))
        found[f"ONNX {p}"] = (size, olive.OnnxLM(onnx_dir / "model.onnx").logits)
    for label, r in mlx_models.items():
        found[f"MLX {label}"] = (r.size_bytes, lambda ids, f=r.folder: mlx.logits(f, ids))
    return found


def cross_table(found: dict, chunks: list[list[int]], reference: list, torch_perplexity: float):
    """One row per runtime of `runtimes`: MB, perplexity, argmax agreement and largest logit difference against
    PyTorch (`reference`: its logits on `chunks`), and the perplexity relative to PyTorch's."""
    import pandas as pd

    from slmlab import compare

    rows = []
    for name, (size, logits) in found.items():
        s = compare.score(name, logits, chunks, reference)
        rows.append(
            {
                "runtime": name,
                "MB": size / 1e6,
                "perplexity": s.perplexity,
                AGREEMENT: s.argmax_agreement,
                LOGIT_DIFF: s.max_abs_logit_diff,
            }
        )
    table = pd.DataFrame(rows).set_index("runtime")
    table["ppl vs PyTorch"] = table["perplexity"] / torch_perplexity - 1
    return table


def plot_by_size(table, yard: Yardstick):
    """Each runtime at its size and its closeness to PyTorch (`yard.metric`), coloured by toolchain."""
    import matplotlib.pyplot as plt

    metric, best = yard.metric, yard.closest(table)
    fig, ax = plt.subplots(figsize=(8, 4))
    colors = {"llama.cpp": "tab:blue", "ONNX": "tab:orange", "MLX": "tab:green"}
    for name, r in table.iterrows():
        ax.scatter(r["MB"], r[metric], color=colors[name.split()[0]], s=60)
        ax.annotate(name, (r["MB"], r[metric]), textcoords="offset points", xytext=(5, 3), fontsize=8)
    ax.set_xlabel("model size (MB)")
    ax.set_ylabel(f"{metric} vs PyTorch fp32")
    ax.set_title(f"Same model, three toolchains: {best} is closest to PyTorch ({metric} {table.loc[best, metric]:.3g})")
    ax.grid(alpha=0.3)
    plt.tight_layout()
    plt.show()


def output_layer_bits(gguf: str | Path, mlx_folder: str | Path) -> tuple[str, str]:
    """What a 4-bit GGUF and a 4-bit MLX folder do with the output layer (for a tied model: the embedding table):
    the GGUF's type for that tensor, and "4-bit" or "16-bit" for MLX (whether it stored scales for it)."""
    from safetensors import safe_open

    from slmlab.gguf_file import read_gguf

    info = read_gguf(gguf)
    tensor = "output.weight" if any(t.name == "output.weight" for t in info.tensors) else "token_embd.weight"
    llama = next(t.type for t in info.tensors if t.name == tensor)
    quantized = False
    for f in sorted(Path(mlx_folder).glob("*.safetensors")):
        with safe_open(str(f), "np") as st:
            quantized |= any(k.endswith(("lm_head.scales", "embed_tokens.scales")) for k in st.keys())
    return llama, "4-bit" if quantized else "16-bit"
