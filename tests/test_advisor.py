from slmlab import advisor, catalog, sizing


def test_every_recommendation_fits_the_device_and_meets_the_speed():
    device, need = advisor.Device(memory_gb=2, simd=["AVX2"], bandwidth_gb_s=20), advisor.Need(min_tokens_per_s=10, context=2048)
    recs, source = advisor.recommend(device, need, top=10)
    assert recs and "bandwidth given" in source
    for r in recs:
        assert r.memory_gb <= 2 * (1 - advisor.OS_RESERVE)
        assert r.tokens_per_s >= 10
        cfg = catalog.get(r.model).config
        est = sizing.estimate_sizes(cfg, (r.quant,))[r.quant]
        assert abs(r.memory_gb * 1e9 - sizing.runtime_memory(est.total_bytes, cfg, min(2048, catalog.context_length(cfg)))["total"]) < 1e6


def test_more_memory_allows_bigger_models():
    need = advisor.Need(min_tokens_per_s=5, context=4096)
    small, _ = advisor.recommend(advisor.Device(memory_gb=2, bandwidth_gb_s=20), need)
    big, _ = advisor.recommend(advisor.Device(memory_gb=8, bandwidth_gb_s=20), need)
    assert big[0].params > small[0].params


def test_bitnet_is_offered_only_in_ternary_types():
    recs, _ = advisor.recommend(advisor.Device(memory_gb=4, bandwidth_gb_s=20), advisor.Need(min_tokens_per_s=1), top=200,
                                models=["bitnet-b1.58-2b"])
    assert recs and {r.quant for r in recs} <= {"TQ1_0", "TQ2_0"}


def test_nothing_fits_a_tiny_device():
    recs, _ = advisor.recommend(advisor.Device(memory_gb=0.1, bandwidth_gb_s=20), advisor.Need())
    assert recs == []
