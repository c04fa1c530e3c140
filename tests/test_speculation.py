"""Speculative decoding's tables and verdict, from made-up runs: no server (notebook 08 measures real ones)."""

from __future__ import annotations

import math

import matplotlib
import pytest

from slmlab import speculation

matplotlib.use("Agg")
pytestmark = pytest.mark.fast


def run(engine: str, setting: str, prompt: str, tokens_per_s: float, drafted: int = 0, accepted: int = 0) -> dict:
    acceptance = accepted / drafted if drafted else math.nan
    values = (engine, setting, prompt, 32, tokens_per_s, drafted, accepted, acceptance, "")
    return dict(zip(speculation.COLUMNS, values))


def test_the_speed_up_is_tokens_per_s_with_drafts_over_without_and_the_verdict_names_the_best():
    runs = speculation.table(
        [
            run("vLLM", "off", "copy code", 20.0),
            run("vLLM", "n-gram", "copy code", 50.0, drafted=40, accepted=30),
            run("vLLM", "off", "free text", 20.0),
            run("vLLM", "n-gram", "free text", 16.0, drafted=8, accepted=1),
        ]
    )
    gain = speculation.speed_ups(runs)
    assert gain.loc[("vLLM", "copy code"), "speed-up"] == pytest.approx(2.5)
    assert gain.loc[("vLLM", "free text"), "speed-up"] == pytest.approx(0.8)
    assert speculation.plot_speed_ups(gain, "m") == "n-gram speculation pays most on copy code with vLLM (2.50×)"
    slower = gain.assign(**{"speed-up": [0.9, 0.8]})
    assert speculation.verdict(slower).startswith("n-gram speculation did not pay on this machine (at best 0.90×")


def test_no_runs_make_empty_tables_that_say_speculation_was_not_run():
    runs = speculation.table([])
    assert list(runs.columns) == speculation.COLUMNS and runs.empty
    gain = speculation.speed_ups(runs)
    assert gain.empty and speculation.plot_speed_ups(gain, "m") == "speculation was not run (SPECULATION = False)"
