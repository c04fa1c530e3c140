"""Shared fixtures: slm-nano converted once with the real converter and quantized with the real tool."""

from __future__ import annotations

from pathlib import Path

import pytest

from slmlab import llamacpp, models

TYPES = ("Q8_0", "Q5_1", "Q4_0", "Q4_K_M", "TQ2_0")


@pytest.fixture(scope="session")
def nano_f16() -> Path:
    return models.gguf_path("slm-nano", "f16")


@pytest.fixture(scope="session")
def nano_quants(nano_f16: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("quants")
    return {t: llamacpp.quantize(nano_f16, t, out / f"slm-nano-{t}.gguf").path for t in TYPES}


@pytest.fixture(scope="session")
def gemma() -> Path:
    return models.resolve("gemma-3-270m").path
