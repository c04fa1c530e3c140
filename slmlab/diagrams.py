"""Two diagrams drawn with matplotlib from data: the course's pipeline (notebook 00) and one decoder block of a
model with each tensor's parameter count (notebook 01). The data come from elsewhere — the steps and the notebook
files that do them from `slmlab.syllabus`, the tensors of a config from `slmlab.sizing` — and each notebook gives
its figure a title."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

from matplotlib.axes import Axes
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

from slmlab.sizing import Tensor

BOX = {"boxstyle": "round,pad=0.02,rounding_size=0.05", "linewidth": 1.2}


@dataclass(frozen=True)
class Step:
    """One arrow of the pipeline: `tool`, in notebook `lesson` (its label, e.g. "03_quantizing_with_llama_cpp"),
    turns artefact `source` into artefact `target`."""

    source: str
    target: str
    lesson: str
    tool: str


def _box(ax: Axes, x: float, y: float, w: float, h: float, text: str, color: str, alpha: float = 0.3) -> None:
    """A box centred on (x, y), its fill light enough that black text reads on it in a light and a dark theme."""
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, facecolor=color, edgecolor="0.3", alpha=alpha, **BOX))
    ax.text(x, y, text, ha="center", va="center", fontsize=8, color="black")


def _arrow(ax: Axes, start: tuple[float, float], end: tuple[float, float]) -> None:
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=12, color="0.45", lw=1.2))


def pipeline(ax: Axes, steps: Sequence[Step], where: dict[str, tuple[int, int]]) -> None:
    """Draw, top to bottom, each artefact of `where` (name → column, row) as a box and each step as an arrow from its
    source to its target, labelled with its notebook and its tool. An arrow to the next row leaves its source's
    bottom (arrows fanning out of one box share a bus) and enters its target's top; one that skips rows runs down
    its source's column and enters its target from the side. Artefacts no step makes (the start) are grey."""
    w, h, pitch, dy = 2.6, 0.8, 2.9, 2.0
    made = {s.target for s in steps}
    at = {name: (col * pitch, -row * dy) for name, (col, row) in where.items()}
    for name, (x, y) in at.items():
        _box(ax, x, y, w, h, name, "tab:blue" if name in made else "0.8", alpha=0.25 if name in made else 0.6)
    for s in steps:
        (x0, y0), (x1, y1) = at[s.source], at[s.target]
        start = (x0, y0 - h / 2)
        if x0 == x1:
            points = [start, (x1, y1 + h / 2)]
        elif round((y0 - y1) / dy) == 1:  # down to a bus under the source, along it, down into the target
            bus = y0 - h / 2 - 0.3
            points = [start, (x0, bus), (x1, bus), (x1, y1 + h / 2)]
        else:  # down the source's column, then into the target's side
            points = [start, (x0, y1), (x1 + (w / 2 if x0 > x1 else -w / 2), y1)]
        xs, ys = zip(*points[:-1])
        ax.plot(xs, ys, color="0.45", lw=1.2)
        _arrow(ax, points[-2], points[-1])
        (lx, ly0), (_, ly1) = points[:2] if len(points) == 3 else points[-2:]  # the vertical run the label is beside
        label = f"{textwrap.fill(s.lesson.replace('_', ' '), 22)}\n{s.tool}"
        ax.text(lx + 0.12, (ly0 + ly1) / 2, label, ha="left", va="center", fontsize=7, linespacing=1.1)
    xs, ys = [x for x, _ in at.values()], [y for _, y in at.values()]
    ax.set_xlim(min(xs) - w / 2 - 0.1, max(xs) + w / 2 + 1.0)  # room for the last column's labels
    ax.set_ylim(min(ys) - h / 2 - 0.1, max(ys) + h / 2 + 0.1)
    ax.set_aspect("equal")
    ax.axis("off")


def _stages(four_norms: bool) -> list[tuple[str, str | None]]:
    """Where each tensor of a decoder block sits in the data flow, in order: (stage, pattern of its name; None for a
    residual add). Llama, Qwen and Phi have two norms per block: input_layernorm before the attention,
    post_attention_layernorm before the MLP. Gemma 3 has four: its post_attention_layernorm normalizes the
    attention's output before the residual add, and pre/post_feedforward_layernorm wrap the MLP."""
    after_attention = [("norm", r"post_attention_layernorm")] if four_norms else []
    before_mlp = r"pre_feedforward_layernorm" if four_norms else r"post_attention_layernorm"
    return [
        ("norm", r"input_layernorm"),
        ("attention: q, k, v", r"(q|k|v|qkv)_proj|(q|k)_norm"),
        ("attention: o", r"o_proj|self_attn\.dense"),
        *after_attention,
        ("+", None),
        ("norm", before_mlp),
        ("MLP: gate, up", r"gate_up_proj|gate_proj|up_proj"),
        ("MLP: down", r"down_proj"),
        ("norm", r"post_feedforward_layernorm"),
        ("+", None),
    ]


def block_stages(block: Sequence[Tensor]) -> list[tuple[str, list[Tensor]]]:
    """The tensors of one decoder block grouped into the stages of its data flow (norm, attention, +, norm, MLP, +),
    in order; a tensor no stage names goes to a last stage "other", so every parameter is drawn once."""
    left = list(block)
    stages = []
    for stage, pattern in _stages(any("pre_feedforward_layernorm" in t.name for t in block)):
        mine = [t for t in left if pattern and re.search(pattern, t.name)]
        left = [t for t in left if t not in mine]
        if mine or pattern is None:
            stages.append((stage, mine))
    if left:
        stages.append(("other", left))
    return stages


def short_name(t: Tensor) -> str:
    """`model.layers.0.self_attn.q_proj.weight` → `q_proj`."""
    return t.name.removesuffix(".weight").split(".")[-1]


def _tensor_label(t: Tensor) -> str:
    """Its name, its shape and its parameter count (one number for a vector: its length is its count)."""
    name = short_name(t)
    if len(name) > 16:  # post_attention_layernorm → post_attention_ / layernorm, to fit its box
        cut = name.rindex("_", 0, len(name) * 2 // 3 + 1) + 1
        name = f"{name[:cut]}\n{name[cut:]}"
    if len(t.shape) == 1:
        return f"{name}\n{t.n_elements:,}"
    return f"{name}\n{' × '.join(f'{d:,}' for d in t.shape)}\n{t.n_elements:,}"


def decoder_block(ax: Axes, tensors: Sequence[Tensor], n_blocks: int, tied: bool, norm: str = "norm") -> None:
    """Draw, top to bottom, embedding → [one decoder block's stages] × n_blocks → final norm → output head: each tensor
    a box with its shape and parameter count, tensors that work side by side in one row, the block framed with its
    count per block, the residual connections as lines beside it. `tensors` are `sizing.gguf_tensors`'s: the block
    drawn is layer 0; those outside the layers are the embedding, the final norm and an untied output head. `norm`
    names the norm layers ("RMSNorm")."""
    block = [t for t in tensors if t.layer == 0]
    outside = [t for t in tensors if t.layer is None]
    embedding = [t for t in outside if t.category == "token_embd"]
    head = [t for t in outside if t.category == "output"]
    final = [t for t in outside if t not in embedding and t not in head]
    rows: list[tuple[str, list[Tensor] | str]] = [("embedding", embedding), *block_stages(block), ("norm", final)]
    rows.append(("output head", head or ("tied to\nembed_tokens:\n0 new" if tied else "none")))
    colors = {"embedding": "tab:purple", "norm": "tab:gray", "output head": "tab:purple", "other": "tab:red"}
    w, h, gap, dy, r = 2.3, 0.95, 0.2, 1.3, 0.28  # box width and height, gap between boxes, row pitch, + radius
    half = max(len(c) if isinstance(c, list) else 1 for _, c in rows) * (w + gap) / 2  # half the widest row
    edge = {"+": r}  # how far a row's top and bottom are from its centre
    for i, (stage, content) in enumerate(rows):
        y = -i * dy
        if stage == "+":
            ax.add_patch(Circle((0, y), r, facecolor="white", edgecolor="0.3", lw=1.2))
            ax.text(0, y, "+", ha="center", va="center", fontsize=13)
        else:
            color = colors.get(stage, "tab:blue" if stage.startswith("attention") else "tab:orange")
            items = [_tensor_label(t) for t in content] if isinstance(content, list) else [content]
            for j, text in enumerate(items):
                _box(ax, (j - (len(items) - 1) / 2) * (w + gap), y, w, h, text, color)
        name = {"norm": norm, "+": "residual add"}.get(stage, stage)
        ax.text(
            -half - 0.3, y, name, ha="right", va="center", fontsize=9, fontweight="normal" if stage == "+" else "bold"
        )
        if i:  # from the previous row's bottom to this row's top
            _arrow(ax, (0, y + dy - edge.get(rows[i - 1][0], h / 2)), (0, y + edge.get(stage, h / 2)))
    adds = [i for i, (stage, _) in enumerate(rows) if stage == "+"]
    right, branch = half + 0.35, 0.5  # each residual add's input branches off before its sub-layer and skips it
    for i in adds:
        ax.plot([0, right, right], [-branch * dy, -branch * dy, -i * dy], color="tab:green", lw=1.3)
        _arrow(ax, (right, -i * dy), (r, -i * dy))
        branch = i + 0.5
    top, bottom, left = -h / 2 - 0.05, -adds[-1] * dy - 0.45, -half - 3.5
    frame = {"boxstyle": "round,pad=0.02,rounding_size=0.2", "linewidth": 1.5, "linestyle": "--"}
    ax.add_patch(FancyBboxPatch((left, bottom), right + 0.3 - left, top - bottom, fc="none", ec="tab:green", **frame))
    green = {"ha": "left", "va": "top", "color": "tab:green", "fontweight": "bold"}
    per_block = sum(t.n_elements for t in block)
    ax.text(right + 0.6, top - 0.1, f"× {n_blocks}", fontsize=16, **green)
    ax.text(
        right + 0.6, top - 1.1, f"blocks of\n{per_block:,}\nparameters:\n{per_block * n_blocks:,}", fontsize=9, **green
    )
    ax.set_xlim(left - 0.1, right + 3.6)
    ax.set_ylim(-(len(rows) - 1) * dy - h / 2 - 0.1, h / 2 + 0.1)
    ax.set_aspect("equal")
    ax.axis("off")
