"""The advisor's arithmetic, on the catalog's configs: what fits, how fast, and in which order."""

import pytest

from slmlab import advisor, catalog, sizing

pytestmark = pytest.mark.fast  # no llama.cpp build needed: `make unit`

# the perplexity each type adds: any increasing costs will do to test the arithmetic (the notebooks use
# llama.cpp's own table, read from `llama-quantize --help`)
QUALITY = {"Q8_0": 0.0, "Q6_K": 0.02, "Q5_K_M": 0.05, "Q4_K_M": 0.18, "Q4_0": 0.5, "Q3_K_M": 0.66, "Q2_K": 3.5}


def recommend(memory_gb: float, need: advisor.Need, **kw):
    return advisor.recommend(
        advisor.Device(memory_gb=memory_gb, simd=["AVX2"], bandwidth_gb_s=20), need, quality=QUALITY, **kw
    )


def test_every_recommendation_fits_the_device_and_meets_the_speed():
    recs, source = recommend(2, advisor.Need(min_tokens_per_s=10, context=2048), top=10)
    assert recs and "bandwidth given" in source
    for r in recs:
        assert r.memory_gb <= 2 * (1 - advisor.OS_RESERVE)
        assert r.tokens_per_s >= 10
        cfg = catalog.get(r.model).config
        est = sizing.estimate_sizes(cfg, (r.quant,))[r.quant]
        context = min(2048, catalog.context_length(cfg))
        assert abs(r.memory_gb * 1e9 - sizing.runtime_memory(est.total_bytes, cfg, context)["total"]) < 1e6


def test_more_memory_allows_bigger_models():
    need = advisor.Need(min_tokens_per_s=5, context=4096)
    small, _ = recommend(2, need)
    big, _ = recommend(8, need)
    assert big[0].params > small[0].params


def test_bitnet_is_offered_only_in_ternary_types():
    recs, _ = recommend(4, advisor.Need(min_tokens_per_s=1), top=200, models=["bitnet-b1.58-2b"])
    assert recs and {r.quant for r in recs} <= {"TQ1_0", "TQ2_0"}


def test_nothing_fits_a_tiny_device():
    recs, _ = recommend(0.1, advisor.Need())
    assert recs == []


def test_toy_models_are_never_advised():
    recs, _ = recommend(64, advisor.Need(min_tokens_per_s=1), top=500)
    assert recs and all(catalog.classify(r.params) != "nano" for r in recs)
