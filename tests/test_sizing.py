import json

import pytest

from slmlab import catalog, paths, probes, sizing
from slmlab.gguf_file import read_gguf


def nano_config():
    return json.loads((paths.MODELS_DIR / "slm-nano" / "config.json").read_text())


@pytest.mark.parametrize("qtype", ["Q8_0", "Q5_1", "Q4_0", "Q4_K_M", "TQ2_0"])
def test_estimate_is_within_2_percent_of_what_llama_quantize_writes(nano_quants, qtype):
    est = sizing.estimate_sizes(nano_config(), (qtype,))[qtype]
    real = read_gguf(nano_quants[qtype])
    assert abs(est.total_bytes / real.size_bytes - 1) < 0.02
    assert {k: v for k, v in est.types.items() if k != "F32"} == real.matrix_types  # the same tensor types


@pytest.mark.fast
def test_estimate_of_the_f16_conversion(nano_f16):
    est = sizing.estimate_sizes(nano_config(), ("F16",))["F16"]
    assert abs(est.total_bytes / nano_f16.stat().st_size - 1) < 0.02


@pytest.mark.fast
def test_estimate_of_the_shipped_gemma_q4_k_m(gemma):
    est = sizing.estimate_sizes(catalog.get("gemma-3-270m").config, ("Q4_K_M",))["Q4_K_M"]
    real = read_gguf(gemma)
    assert abs(est.total_bytes / real.size_bytes - 1) < 0.02
    assert {k: v for k, v in est.types.items() if k != "F32"} == real.matrix_types
    # the same comparison as one row of a table (notebooks 01 and 11); the wrong file type is caught
    row = sizing.compare_with_file("gemma-3-270m", catalog.get("gemma-3-270m").config, "Q4_K_M", gemma)
    assert row["real bytes"] == real.size_bytes and row["estimated bytes"] == est.total_bytes
    assert abs(row["difference"]) < 0.02 and row["same tensor types"] is True
    wrong = sizing.compare_with_file("gemma-3-270m", catalog.get("gemma-3-270m").config, "Q8_0", gemma)
    assert wrong["difference"] > 0.1 and wrong["same tensor types"] is False


@pytest.mark.fast
def test_block_sizes_come_from_gguf():
    import gguf

    assert sizing.bits_floor("Q4_0") == 8 * gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType.Q4_0][1] / 32 == 4.5
    assert sizing.bits_floor("Q8_0") == 8.5 and sizing.bits_floor("Q4_K_M") == 4.5


@pytest.mark.fast
def test_kv_cache_grows_linearly_with_context():
    cfg = catalog.get("qwen3-0.6b").config
    a, b = sizing.kv_cache(cfg, 1024), sizing.kv_cache(cfg, 2048)
    assert b.bytes == 2 * a.bytes
    # 2 (K, V) × 28 layers × 8 KV heads × 128 dims × 2 bytes per token
    assert a.per_token_bytes == 2 * 28 * 8 * 128 * 2


@pytest.mark.fast
def test_gemma_sliding_window_layers_hold_at_most_the_window():
    cfg = catalog.get("gemma-3-270m").config
    kv = sizing.kv_cache(cfg, 32768)
    assert (kv.layers_full, kv.layers_sliding, kv.window) == (3, 15, 512)
    full = sizing.kv_cache(cfg, 32768, window_limited=False)
    assert kv.bytes < full.bytes / 5


@pytest.mark.parametrize("model", ["slm-nano", "gemma-3-270m"])
def test_kv_cache_and_compute_estimates_match_the_buffers_llama_cpp_allocates(model):
    from slmlab import models

    config = nano_config() if model == "slm-nano" else catalog.get(model).config
    measured = probes.memory_while_generating(models.quantized_gguf(model, "Q8_0"), 512, 4, threads=1).buffers
    estimate = sizing.runtime_memory(0, config, 512)  # llama.cpp's default: a full-size sliding-window cache
    assert estimate["kv_cache"] == measured["kv cache"]
    assert abs(estimate["compute"] / measured["compute"] - 1) < 0.02  # Gemma: 514.5 MiB, its 262k-token logits


@pytest.mark.fast
def test_reduction_claims_are_judged_against_the_bits_floor():
    # Q5_1 stores 6 bits per weight: against 16-bit F16 at most 62.5% can be saved, so "70%" cannot be
    assert sizing.judge_reduction("Q5_1", 0.70, 0.61).startswith("impossible")
    assert sizing.judge_reduction("Q8_0", 0.50, 0.463) == "holds"  # "about 50%": 46.3% measured
    assert sizing.judge_reduction("Q4_0", 0.75, 0.678).startswith("does not hold")
    assert sizing.judge_range(1_050_000_000, 0, 1.0) == "holds only in GiB"  # 1.05 GB = 0.98 GiB
