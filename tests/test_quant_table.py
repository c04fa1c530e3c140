"""quant_table: the tables of notebooks 03 and 04, and what differs for a stand-in (no quality figure), on tiny
GGUF files written here with gguf-py and with llama.cpp's tools replaced by stand-ins of their own: no build needed."""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pytest

from slmlab import llamacpp, probes, quant_table, standins

matplotlib.use("Agg")
pytestmark = pytest.mark.fast


def tiny_gguf(path, *, stand_in: bool = False, qtype: str = "F16"):
    """A GGUF file with one 64 × 64 attention matrix (rows of 64) and an embedding table (rows of 256)."""
    import gguf

    rng = np.random.default_rng(0)
    w = rng.normal(0, 0.02, (64, 64)).astype(np.float32)
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("tiny")
    if stand_in:
        writer.add_description(standins.MARK)
    kind = gguf.GGMLQuantizationType[qtype]
    data = w.astype(np.float16) if qtype == "F16" else gguf.quants.quantize(w, kind)
    writer.add_tensor("blk.0.attn_q.weight", data, raw_dtype=kind)
    writer.add_tensor("token_embd.weight", rng.normal(0, 0.02, (8, 256)).astype(np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path, w.reshape(-1)


@pytest.fixture()
def no_tools(monkeypatch):
    """llama-bench and the memory probe answer at once; llama-perplexity records that it was asked."""
    asked = []
    monkeypatch.setattr(llamacpp, "llama_bench", lambda path, threads, reps=3: {"pp": 1000.0, "tg": 100.0})
    memory = probes.Memory(
        "x", 512, 100, 150, 200 * 10**6, {"weights": 10**6, "kv cache": 2 * 10**6, "compute": 3 * 10**6}
    )
    monkeypatch.setattr(probes, "memory_while_generating", lambda *a, **k: memory)

    def perplexity(path, **kw):
        asked.append(path)
        return llamacpp.Perplexity(str(path), 12.0, 0.5, 256, 1, 1, "text")

    monkeypatch.setattr(llamacpp, "perplexity", perplexity)
    return asked


def measure(path):
    return quant_table.measure_file(path, context=256, chunks=None, threads=1, reps=1, memory_context=512)


def test_a_stand_in_is_measured_for_size_speed_and_memory_but_never_for_quality(tmp_path, no_tools):
    real, _ = tiny_gguf(tmp_path / "real.gguf")
    fake, _ = tiny_gguf(tmp_path / "fake.gguf", stand_in=True)
    row = measure(fake)
    assert no_tools == [] and math.isnan(row["perplexity"])  # llama-perplexity never ran on random weights
    assert row["tg tok/s"] == 100.0 and row["memory MB"] > 0 and row["weights MB"] == 1.0
    assert measure(real)["perplexity"] == 12.0 and no_tools == [real]
    assert "STAND-IN" in quant_table.describe(fake) and "STAND-IN" not in quant_table.describe(real)


def test_the_table_of_a_stand_in_says_so_where_the_quality_would_be(tmp_path, no_tools):
    fake, _ = tiny_gguf(tmp_path / "fake.gguf", stand_in=True)
    table = quant_table.frame([{"type": t, "estimated bytes": 1000, **measure(fake)} for t in ("F16", "Q8_0")], "type")
    assert table.attrs["stand_in"] is True and "stand-in" not in table  # a mark, not a column that would be saved
    html = quant_table.show(table).to_html()
    assert quant_table.NO_QUALITY in html and "12.000" not in html
    fig = quant_table.plot_table(table, "fake", threads=1, context=256, memory_context=512)
    assert "stand-in" in fig.axes[0].get_title() and "perplexity" not in fig.axes[0].get_ylabel()


def test_a_real_model_s_table_compares_each_perplexity_with_f16s(tmp_path, no_tools):
    real, _ = tiny_gguf(tmp_path / "real.gguf")
    rows = [{"type": "F16", **measure(real)}, {"type": "Q4_0", **measure(real), "perplexity": 15.0}]
    table = quant_table.frame(rows, "type")
    assert table.attrs["stand_in"] is False
    assert table.loc["Q4_0", "ppl vs F16"] == pytest.approx(0.25) and table.loc["F16", "ppl vs F16"] == 0
    assert (table["weights repacked MB"] == 0).all()  # no repacked buffer reported: none held
    assert quant_table.NO_QUALITY not in quant_table.show(table).to_html()


def test_the_pareto_front_drops_a_file_beaten_by_one_no_larger(tmp_path):
    import pandas as pd

    table = pd.DataFrame(
        {"MB": [300.0, 250.0, 237.0, 237.0001, 241.0], "KL": [0.002, 0.005, 0.5, 0.3, 0.4]},
        index=["Q8_0", "Q4_K_M", "Q2_K", "Q2_K + imatrix", "Q4_0"],
    )
    assert list(quant_table._front(table, "KL").index) == ["Q2_K + imatrix", "Q4_K_M", "Q8_0"]


def test_bits_per_weight_come_from_llama_cpps_type_table():
    assert quant_table.block_layout("Q8_0") == (32, 34)
    assert quant_table.bits_per_weight("Q8_0") == 8.5 and quant_table.bits_per_weight("Q4_K") == 4.5
    assert quant_table.bits_per_weight("Q6_K") == 210 * 8 / 256


def test_a_block_quantized_by_gguf_py_is_the_file_s_bytes_and_its_roles_and_rows_are_read(tmp_path):
    import gguf

    path, w = tiny_gguf(tmp_path / "q8.gguf", qtype="Q8_0")
    mine = gguf.quants.quantize(w.reshape(64, 64), gguf.GGMLQuantizationType.Q8_0).tobytes()
    row = quant_table.same_bytes(mine, path, "blk.0.attn_q.weight", w.size)
    assert row["identical to llama-quantize's"] is True and row["bits per weight"] == 8.5
    assert quant_table.row_lengths(path) == {"attn_q": 64, "token_embd": 256}
    types = quant_table.tensor_types({"Q8_0": path}, roles=None)
    assert types.loc["Q8_0", "attn_q"] == "Q8_0" and types.loc["Q8_0", "token_embd"] == "F32"
    with pytest.raises(KeyError, match="no tensor"):
        quant_table.tensor_bytes(path, "output.weight")


def test_an_outlier_grows_q4_0_s_error_with_the_grid_step():
    import gguf

    def q4_0(x):
        return gguf.quants.quantize(x.reshape(-1, 32), gguf.GGMLQuantizationType.Q4_0).tobytes()

    weights = np.random.default_rng(1).normal(0, 0.02, 32 * 256).astype(np.float32)
    ratios = quant_table.outlier_ratios(weights, q4_0, times=3)
    assert len(ratios) == 256 and 2 < np.nanmean(ratios) < 4  # the step grows about 3×, and the error with it
    assert np.isnan(quant_table.outlier_ratios(np.zeros(64, np.float32), q4_0, times=3)).all()  # nothing to grow
