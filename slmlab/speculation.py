"""Speculative decoding: guessed tokens checked by the model in one step — measured on a server, and by hand.

`timed_runs` sends each prompt to a running server once to fill its prompt cache, then times a greedy answer and
reads how many tokens were drafted and how many of those the model accepted (llama-server's `timings`, vLLM's
/metrics counters: `serve.timed_chat`); `speed_ups` turns the rows into tokens/s with drafts ÷ without, and
`plot_speed_ups` draws them with a verdict. What an acceptance rate is worth is worked out by hand in notebook 08.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from slmlab import serve

if TYPE_CHECKING:
    import pandas as pd

COLUMNS = ["engine", "speculation", "prompt", "tokens", "tokens/s", "drafted", "accepted", "acceptance", "text"]


def timed_runs(
    server: serve.Server, prompts: dict[str, list[dict]], tokens: int, model: str, **labels: str
) -> list[dict]:
    """Each prompt (name → chat messages) once with max_tokens=1, so that its keys and values are cached, then
    timed for `tokens` greedy tokens: one row each, with `labels` (engine=…, speculation=…) in front."""
    rows = []
    for name, messages in prompts.items():
        serve.timed_chat(server, messages, 1, model)  # the prompt, processed and cached: the timed run generates
        r = serve.timed_chat(server, messages, tokens, model)
        rows.append({**labels, "prompt": name, **{k: r[k] for k in COLUMNS[3:-1]}, "text": r["text"][:50]})
    return rows


def table(rows: list[dict]) -> pd.DataFrame:
    """The runs as a table, with its columns also when no run was made (`SPECULATION = False`)."""
    import pandas as pd

    return pd.DataFrame(rows, columns=COLUMNS)


def speed_ups(runs: pd.DataFrame) -> pd.DataFrame:
    """Generation speed with n-gram drafts ÷ without, for each engine and prompt (columns off, n-gram, speed-up)."""
    import pandas as pd

    if runs.empty:
        return pd.DataFrame(columns=["off", "n-gram", "speed-up"])
    gain = runs.pivot_table(index=["engine", "prompt"], columns="speculation", values="tokens/s")
    gain["speed-up"] = gain["n-gram"] / gain["off"]
    return gain


def verdict(gain: pd.DataFrame) -> str:
    """One line: where n-gram speculation paid most on this machine, or that it did not pay."""
    if gain.empty:
        return "speculation was not run (SPECULATION = False)"
    (engine, prompt), best = gain["speed-up"].idxmax(), gain["speed-up"].max()
    if best > 1:
        return f"n-gram speculation pays most on {prompt} with {engine} ({best:.2f}×)"
    return f"n-gram speculation did not pay on this machine (at best {best:.2f}×, {prompt} with {engine})"


def plot_speed_ups(gain: pd.DataFrame, model: str) -> str:
    """A bar per engine and prompt (green: it paid), titled with the verdict, which it returns."""
    import matplotlib.pyplot as plt

    said = verdict(gain)
    if gain.empty:
        return said
    fig, ax = plt.subplots(figsize=(8, 3.5))
    gain["speed-up"].plot.barh(ax=ax, color=["tab:green" if g > 1 else "tab:red" for g in gain["speed-up"]])
    ax.axvline(1, color="gray", lw=1)
    ax.set_xlabel("generation speed with n-gram speculation ÷ without")
    ax.set_ylabel("")
    ax.set_title(f"{model}: {said}", fontsize=9)
    fig.tight_layout()
    return said
