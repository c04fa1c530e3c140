"""The advisor's arithmetic, on the catalog's configs: what fits, how fast, and in which order."""

from dataclasses import replace

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
    need = advisor.Need(min_tokens_per_s=1, context=4096)  # a speed every candidate meets: memory decides
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


def row(model: str, params: float, memory_gb: float, tokens_per_s: float, quant: str = "Q4_K_M") -> advisor.Candidate:
    return advisor.Candidate(model, "test", quant, "llama.cpp", int(params), memory_gb, tokens_per_s, "measured", 0.18)


def test_a_measured_speed_or_memory_flips_the_pick():
    device, need = advisor.Device(memory_gb=8), advisor.Need(min_tokens_per_s=5)
    big, small = row("big", 8e9, 5.0, 6.0), row("small", 4e9, 3.0, 12.0)
    assert [r.model for r in advisor.rank([big, small], device, need)] == ["big", "small"]
    # the same rows, one number measured differently: the bigger model no longer qualifies
    assert [r.model for r in advisor.rank([replace(big, tokens_per_s=4.9), small], device, need)] == ["small"]
    assert [r.model for r in advisor.rank([replace(big, memory_gb=6.5), small], device, need)] == ["small"]  # > 6.4
    # quality: a type that costs more than the need accepts is dropped, a cheaper one is preferred
    assert advisor.rank([replace(big, ppl_increase=3.5), small], device, need)[0].model == "small"
    assert advisor.rank([replace(big, quant="Q2_K", ppl_increase=0.5), big], device, need)[0].quant == "Q4_K_M"


@pytest.fixture
def fixed_speed(monkeypatch):
    """This machine's speed model and runtimes, fixed: 100 GB/s, 60% of it, nothing but llama.cpp measured."""
    monkeypatch.setattr(advisor, "speed_model", lambda: advisor.SpeedModel(100e9, {}, 0.6, "fixed for the test"))
    monkeypatch.setattr(advisor, "runtime_speeds", lambda: ([], []))


def test_a_speed_measured_here_replaces_the_prediction_and_changes_the_advice(fixed_speed):
    here, need, models = advisor.Device(memory_gb=8), advisor.Need(min_tokens_per_s=5), ["qwen3-4b", "gemma-3-1b"]
    recs, _ = advisor.recommend(here, need, models=models, quality=QUALITY)
    assert recs[0].model == "qwen3-4b"
    slow = {("qwen3-4b", t): 4.0 for t in QUALITY}  # measured on a stand-in of its shape: slower than predicted
    recs, _ = advisor.recommend(here, need, models=models, quality=QUALITY, measured=slow)
    assert recs and {r.model for r in recs} == {"gemma-3-1b"}
    rows, _ = advisor.candidates(here, need, models=models, quality=QUALITY, measured=slow)
    assert {r.tokens_per_s for r in rows if r.model == "qwen3-4b"} == {4.0}
    assert {r.speed for r in rows} == {"measured", "predicted"}


def fake_results(mlx_4bit_tokens_per_s: float):
    """Notebook 03 (llama.cpp) and 06 (MLX) on one model, as they save them; 04, 05 and 08 not run."""
    r03 = {
        "model": "m",
        "table": [
            {"type": "Q4_0", "tg tok/s": 100.0, "bytes/token": 1},
            {"type": "Q8_0", "tg tok/s": 50.0, "bytes/token": 1},
        ],
    }
    r06 = {
        "model": "m",
        "mlx": [{"model": "4-bit", "tokens_per_s": mlx_4bit_tokens_per_s}, {"model": "8-bit", "tokens_per_s": 25.0}],
    }
    return {"03_quantizing_with_llama_cpp": r03, "06_running_with_mlx": r06}.get


def test_the_runtime_is_the_fastest_measured_at_the_types_width(monkeypatch):
    monkeypatch.setattr(advisor, "speed_model", lambda: advisor.SpeedModel(100e9, {}, 0.6, "fixed for the test"))
    here, need = advisor.Device(memory_gb=8), advisor.Need()
    picked = {}
    for mlx in (150.0, 50.0):  # MLX 4-bit 1.5× llama.cpp's Q4_0 speed, then 0.5×
        monkeypatch.setattr(advisor.measure, "load_results", fake_results(mlx))
        speeds, missing = advisor.runtime_speeds()
        assert missing == ["04_judging_quantized_models", "05_optimizing_with_olive", "08_serving_many_requests"]
        assert {(s.precision, s.ratio) for s in speeds} == {("4-bit", mlx / 100), ("8-bit", 0.5)}
        rows, _ = advisor.candidates(here, need, models=["qwen3-4b"], quality=QUALITY)
        picked[mlx] = {r.quant: (r.runtime, r.tokens_per_s) for r in rows}
    assert picked[150.0]["Q4_K_M"][0] == "MLX" and picked[50.0]["Q4_K_M"][0] == "llama.cpp"
    assert picked[150.0]["Q4_K_M"][1] == pytest.approx(1.5 * picked[50.0]["Q4_K_M"][1])  # at MLX's measured speed
    # Q8_0: MLX 8-bit ran at half llama.cpp's speed; Q6_K exists only in llama.cpp
    assert picked[150.0]["Q8_0"][0] == picked[150.0]["Q6_K"][0] == "llama.cpp"


def test_edge_devices_bandwidth_is_transfers_times_bus_width_and_orders_the_advice():
    devices = {d.id: d for d in advisor.edge_devices()}
    # Apple's published 100 GB/s for M2 is LPDDR5-6400 on 128 bits; a Pi 5's LPDDR4X-4267 on 32 bits is 17 GB/s
    assert devices["mac-m2-16gb"].bandwidth_gb_s == pytest.approx(102.4)
    assert devices["raspberry-pi-5-8gb"].bandwidth_gb_s == pytest.approx(17.068)
    assert all(d.source for d in devices.values())
    # the same need on a Pi and on a Mac: the Mac's bandwidth and memory allow a bigger model
    need = advisor.Need(min_tokens_per_s=5, context=2048)
    pi, _ = advisor.recommend(devices["raspberry-pi-5-8gb"].as_device(), need, quality=QUALITY)
    mac, _ = advisor.recommend(devices["mac-m2-16gb"].as_device(), need, quality=QUALITY)
    assert pi and mac and mac[0].params > pi[0].params


def test_a_stand_ins_name_says_its_depth():
    from slmlab import standins

    assert advisor.standin_ref("qwen3-0.6b") == "qwen3-0.6b-standin"
    assert advisor.standin_ref("qwen3-0.6b", 2) == "qwen3-0.6b-2l-standin"
    assert standins.parse_name(advisor.standin_ref("qwen3-0.6b", 2)) == ("qwen3-0.6b", 2)  # what resolve reads


def test_vllm_runs_on_a_gpu_on_avx_512_or_on_arm_and_not_on_plain_avx2():
    def vllm(arch, simd, gpu=False):
        return next(r for r in advisor.compatibility(arch, simd, gpu) if r.runtime == "vLLM")

    assert not vllm("x86_64", ["AVX2"]).runs_here and "no AVX-512" in vllm("x86_64", ["AVX2"]).this_machine
    assert vllm("x86_64", ["AVX2", "AVX-512"]).runs_here and vllm("aarch64", ["NEON"]).runs_here
    assert vllm("x86_64", [], gpu=True).this_machine == "GPU present"
    llama = advisor.compatibility("x86_64", [], False)[0]
    assert llama.runs_here and "no SIMD found" in llama.this_machine


def test_the_feasible_region_draws_every_row_once_with_both_limits():
    import matplotlib

    matplotlib.use("Agg")
    rows = [row("a", 8e9, 5.0, 6.0), row("b", 4e9, 3.0, 12.0), row("c", 1e9, 9.0, 2.0)]
    device, need = advisor.Device(memory_gb=8), advisor.Need(min_tokens_per_s=5)
    picks = advisor.rank(rows, device, need)
    fig = advisor.plot_region(rows, picks, [], picks[:1], device, need)
    ax = fig.axes[0]
    # one scatter per group (outside, lossy, kept, picked): c outside, a and b kept, a picked
    assert [len(c.get_offsets()) for c in ax.collections] == [1, 0, 2, 1]
    assert [line.get_xdata()[0] for line in ax.lines][:1] == [8 * (1 - advisor.OS_RESERVE)]
    assert "2 of 3 candidates" in ax.get_title()


def test_without_saved_results_the_bandwidth_is_measured_once_per_process(monkeypatch):
    calls = []
    monkeypatch.setattr(advisor.measure, "load_results", lambda name: None)
    monkeypatch.setattr(advisor.measure, "memory_bandwidth", lambda: calls.append(1) or 20e9)
    advisor.bandwidth_now.cache_clear()
    try:
        models = [advisor.speed_model() for _ in range(3)]
    finally:
        advisor.bandwidth_now.cache_clear()
    assert len(calls) == 1 and {m.bandwidth for m in models} == {20e9}
    assert models[0].efficiency == {} and "run notebook 04" in models[0].source


def test_notebook_05s_int4_speed_and_08s_served_speeds_reach_the_advice(monkeypatch):
    """05 (ONNX Runtime GenAI int4) changes the runtime of the 4-bit rows; 08 (vLLM beside llama-server) is shown
    beside the rest, but at 16 bits it has no type of the advisor's to compete for."""
    monkeypatch.setattr(advisor, "speed_model", lambda: advisor.SpeedModel(100e9, {}, 0.6, "fixed for the test"))
    r03 = fake_results(50.0)("03_quantizing_with_llama_cpp")
    r08 = {
        "model": "m",
        "engines": [
            {"engine": "vLLM", "clients": 1, "tokens/s": 80.0},
            {"engine": "llama-server", "clients": 1, "tokens/s": 40.0},
        ],
    }
    picked = {}
    for genai in (200.0, 20.0):  # ONNX int4 at 2× llama.cpp's Q4_0 speed, then 0.2×
        r05 = {"model": "m", "genai_int4_tokens_per_s": genai}
        saved = {"03_quantizing_with_llama_cpp": r03, "05_optimizing_with_olive": r05, "08_serving_many_requests": r08}
        monkeypatch.setattr(advisor.measure, "load_results", saved.get)
        speeds, _ = advisor.runtime_speeds()
        assert {(s.runtime, s.ratio) for s in speeds} == {("ONNX Runtime GenAI", genai / 100), ("vLLM", 2.0)}
        rows, _ = advisor.candidates(advisor.Device(memory_gb=8), advisor.Need(), models=["qwen3-4b"], quality=QUALITY)
        picked[genai] = {r.quant: r.runtime for r in rows}
    assert picked[200.0]["Q4_K_M"] == "ONNX Runtime GenAI" and picked[20.0]["Q4_K_M"] == "llama.cpp"
    assert picked[200.0]["Q8_0"] == "llama.cpp"  # no 8-bit runtime measured faster
