"""The helpers of notebooks 05 and 06: what a stand-in's scores may show, tiny ONNX graphs run alone, MLX's packed
codes, and Olive's command line run once per config. No Olive run, no model: seconds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from slmlab import mlx, olive, onnxgraph, toolchains

pytestmark = pytest.mark.fast

SCORES = pd.DataFrame(
    {"MB": [2.7, 2.6], "perplexity": [60.4, 61.0], "argmax agreement": [0.95, 0.88], "max |Δlogit|": [0.6, 1.5]},
    index=["llama.cpp Q4_0", "MLX 4-bit"],
)


def test_a_stand_in_shows_sizes_and_fidelity_but_no_quality():
    standin, real = toolchains.Yardstick(True), toolchains.Yardstick(False)
    shown = standin.shown(SCORES)
    assert (shown["perplexity"] == toolchains.NA).all() and (shown["argmax agreement"] == toolchains.NA).all()
    assert shown["MB"].tolist() == [2.7, 2.6] and shown["max |Δlogit|"].tolist() == [0.6, 1.5]
    assert real.shown(SCORES).equals(SCORES)
    html = standin.styled(SCORES, {"MB": "{:.2f}", "perplexity": "{:.3f}"}).to_html()
    assert toolchains.NA in html and "2.70" in html and "60.400" not in html
    # a verdict on quality is written for real weights only, and never quotes a stand-in's numbers
    assert real.quality("perplexity 60.41") == "perplexity 60.41"
    assert "60.41" not in standin.quality("perplexity 60.41") and toolchains.NA in standin.quality("x")
    assert standin.text_mark and not real.text_mark and standin.label and not real.label


def test_closeness_to_pytorch_is_agreement_for_real_weights_and_the_logit_difference_for_a_stand_in():
    real, standin = toolchains.Yardstick(False), toolchains.Yardstick(True)
    q4, m4 = SCORES.loc["llama.cpp Q4_0"], SCORES.loc["MLX 4-bit"]
    assert real.metric == "argmax agreement" and real.closer(q4, m4) and real.closest(SCORES) == "llama.cpp Q4_0"
    assert standin.metric == "max |Δlogit|" and standin.closer(q4, m4)  # 0.6 < 1.5: closer, though lower
    assert standin.closest(SCORES.assign(**{"max |Δlogit|": [2.0, 0.1]})) == "MLX 4-bit"
    row = pd.Series({"argmax_agreement": 0.9, "forward ms": 20.0})
    assert real.per_megabyte(row, 5.0, "forward ms") == pytest.approx(0.18)
    assert standin.per_megabyte(row, 5.0, "forward ms") == -100.0  # smaller and faster scores higher


def test_notebook03s_f16_perplexity_is_quoted_only_for_the_same_model(monkeypatch):
    from slmlab import measure

    saved = {"model": "slm-nano", "table": [{"type": "F16", "perplexity": 48.0825}, {"type": "Q8_0"}]}
    monkeypatch.setattr(measure, "load_results", lambda name: saved)
    assert toolchains.notebook03_f16_perplexity("slm-nano") == "48.08"
    assert "not measured" in toolchains.notebook03_f16_perplexity("gemma-3-270m")
    monkeypatch.setattr(measure, "load_results", lambda name: None)
    assert "not measured" in toolchains.notebook03_f16_perplexity("slm-nano")


def test_nodes_run_alone_give_the_by_hand_dynamic_quantization():
    from onnx import helper

    v = np.array([0.3, -1.2, 2.5, 0.05, -0.4, 1.0], dtype=np.float32)
    dql = helper.make_node("DynamicQuantizeLinear", ["v"], ["v_q", "v_scale", "v_zero"])
    v_q, v_scale, v_zero = onnxgraph.run_nodes([dql], {"v": v}, {}, ["v_q", "v_scale", "v_zero"])
    scale = (v.max() - min(np.float32(0), v.min())) / np.float32(255)
    zero = np.rint(-min(np.float32(0), v.min()) / scale)
    assert v_scale == scale and v_zero == zero
    assert v_q.tolist() == np.clip(np.rint(v / scale) + zero, 0, 255).astype(int).tolist()
    # an initializer is stored in the graph: an integer product with a stored weight
    w = np.array([[1, -2], [3, 4]], dtype=np.int8)
    mm = helper.make_node("MatMulInteger", ["a", "w", "a_zero", "w_zero"], ["acc"])
    a = np.array([[10, 20]], dtype=np.uint8)
    (acc,) = onnxgraph.run_nodes([mm], {"a": a}, {"w": w, "a_zero": np.uint8(0), "w_zero": np.int8(0)}, ["acc"])
    assert acc.tolist() == [[70, 60]]


def tiny_model(path: Path) -> Path:
    """Gather (the embedding) → Add → MatMul, with float32 tables: a graph small enough to read by eye."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes = [
        helper.make_node("Gather", ["emb", "ids"], ["h"]),
        helper.make_node("Add", ["h", "bias"], ["h2"]),
        helper.make_node("MatMul", ["h2", "head"], ["logits"]),
    ]
    inits = [
        numpy_helper.from_array(np.ones((10, 4), np.float32), "emb"),
        numpy_helper.from_array(np.ones(4, np.float32), "bias"),
        numpy_helper.from_array(np.ones((4, 10), np.float16), "head"),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, [3])],
        [helper.make_empty_tensor_value_info("logits")],
        inits,
    )
    onnx.save(helper.make_model(graph), path)
    return path


def test_a_graph_is_followed_counted_and_its_bytes_add_up(tmp_path):
    model = tiny_model(tmp_path / "tiny.onnx")
    assert onnxgraph.summary(model) == "3 nodes, 3 initializers; inputs: ids"
    assert onnxgraph.follow(model, depth=3) == [
        "Gather (emb, ids) → h",
        "    Add (h, bias) → h2",
        "        MatMul (h2, head) → logits",
    ]
    table = onnxgraph.op_table({"a": model, "b": model})
    assert table.to_dict() == {"a": {"Add": 1, "Gather": 1, "MatMul": 1}, "b": {"Add": 1, "Gather": 1, "MatMul": 1}}
    sizes = onnxgraph.bytes_by_dtype(model)
    assert sizes["float32"] == 4 * (40 + 4) and sizes["float16"] == 2 * 40
    # what the two parts leave out is each stored tensor's framing (its name, shape and type): a few bytes each
    assert 0 <= model.stat().st_size - sum(sizes.values()) <= 20 * 3


def test_mlx_codes_unpack_as_mx_quantize_packed_them():
    import mlx.core as mx

    w = mx.random.normal((4, 128), key=mx.random.key(1))
    packed, scales, biases = mx.quantize(w, group_size=64, bits=4, stream=mx.cpu)
    codes = mlx.unpack_codes(np.array(packed), bits=4)
    assert codes.shape == (4, 128) and codes.max() <= 15
    # the codes, read back with each group's scale and bias, are what mx.dequantize returns
    by_codes = codes * np.repeat(np.array(scales), 64, axis=1) + np.repeat(np.array(biases), 64, axis=1)
    by_mlx = np.array(mx.dequantize(packed, scales, biases, group_size=64, bits=4, stream=mx.cpu))
    assert np.allclose(by_codes, by_mlx, rtol=0, atol=1e-6)
    x = np.array([1.0, 1.0 + 2**-12], dtype=np.float32)  # equal in bfloat16 (7 mantissa bits), not in float32
    assert mlx.same_as_stored(x[:1], x[1:], mx.bfloat16) and not mlx.same_as_stored(x[:1], x[1:], mx.float32)


def test_olives_command_line_runs_once_per_config(tmp_path, monkeypatch):
    runs = []

    def fake_run(config_file):  # what `olive run --config FILE` leaves: the model in the config's output folder
        import json

        out = Path(json.loads(Path(config_file).read_text())["output_dir"])
        out.mkdir(parents=True, exist_ok=True)
        (out / "model.onnx").write_bytes(b"onnx")
        runs.append(config_file)

    monkeypatch.setattr(olive, "run_command", fake_run)
    config = {"output_dir": str(tmp_path / "int8"), "passes": {"quantize": {"type": "OnnxDynamicQuantization"}}}
    first = olive.run_command_once(config, tmp_path / "int8.json")
    assert not first.from_cache and first.seconds is not None and first.command[:3] == ["olive", "run", "--config"]
    assert "ran in" in first.note and (tmp_path / "int8.json").is_file()
    again = olive.run_command_once(config, tmp_path / "int8.json")
    assert again.from_cache and "from the cache" in again.note and len(runs) == 1
    config["passes"]["quantize"]["per_channel"] = True  # an edited recipe runs again
    assert not olive.run_command_once(config, tmp_path / "int8.json").from_cache and len(runs) == 2


def test_olives_results_table_says_what_was_skipped(tmp_path, capsys):
    fp32 = olive.OliveResult("fp32", tmp_path, tmp_path / "model.onnx", 21_000_000, 9.0, {}, route="builder")
    r = olive.OliveResult("int8", tmp_path, tmp_path / "model.onnx", 5_300_000, 0.5, {"MatMulInteger": 29})
    table = olive.results_table({"fp32": fp32, "int8": r}, {"int4": "needs 9 GB"})
    assert "int4: skipped — needs 9 GB" in capsys.readouterr().out
    assert table.loc["int8", "MB"] == 5.3 and table.loc["int8", "quantized operators"] == {"MatMulInteger": 29}
    assert table["route"].tolist() == ["builder", "builder"]  # INT8 quantized the builder's FP32 model
