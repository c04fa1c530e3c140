import pytest

from slmlab import SlmlabError, compare, mlx, models, offline, olive, paths

NANO = paths.MODELS_DIR / "slm-nano"


def test_olive_int8_writes_quantized_operators_that_agree_with_torch(tmp_path, capfd):
    r = olive.optimize(NANO, "int8", tmp_path / "int8")
    printed = capfd.readouterr()
    # the exporters' pages of warnings went to the log beside the model, with Olive's time per pass
    assert "torch.onnx" not in printed.out + printed.err and "torch.onnx" in r.log.read_text()
    assert list(r.pass_seconds) == ["conversion", "optimize", "quantize"] and sum(r.pass_seconds.values()) <= r.seconds
    assert r.model.is_file() and r.quantized_ops.get("MatMulInteger", 0) > 0
    chunks = compare.heldout_chunks(NANO, 2)
    ref = [compare.torch_logits(NANO, c) for c in chunks]
    assert compare.score("int8", olive.OnnxLM(r.model).logits, chunks, ref).argmax_agreement >= 0.85
    assert [p.name for p in tmp_path.iterdir()] == ["int8"]  # no leftover work or cache folders


def test_olive_static_int8_is_calibrated_qdq_that_agrees_with_torch(tmp_path):
    r = olive.optimize(NANO, "int8-static", tmp_path / "static")
    # QDQ: QuantizeLinear/DequantizeLinear pairs around the matrix products, scales fixed by calibration
    assert r.quantized_ops.get("QuantizeLinear", 0) > 0 and r.quantized_ops.get("DequantizeLinear", 0) > 0
    assert "DynamicQuantizeLinear" not in r.ops
    chunks = compare.heldout_chunks(NANO, 2)
    ref = [compare.torch_logits(NANO, c) for c in chunks]
    assert compare.score("static", olive.OnnxLM(r.model).logits, chunks, ref).argmax_agreement >= 0.85


def test_gemma_dequantized_from_its_gguf_goes_through_model_builder_faithfully(tmp_path):
    folder = models.hf_folder("gemma-3-270m")  # dequantized once into the cache (about a minute)
    assert (folder / "model.safetensors").stat().st_size > 1e9  # float32: 4 bytes × 268M parameters
    chunks = compare.heldout_chunks(folder, 1)
    ref = [compare.torch_logits(folder, c) for c in chunks]
    # same weights as the GGUF: llama.cpp on the shipped Q4_K_M predicts the same next tokens as PyTorch
    gguf = compare.score("llama.cpp", lambda ids: compare.llamacpp_logits(offline.gemma_gguf(), ids), chunks, ref)
    assert gguf.argmax_agreement >= 0.9
    # ModelBuilder at fp32 reproduces PyTorch only if both RoPE bases (local 10k, global 1M) reach it
    config = olive.workflow_config(folder, "int4", tmp_path / "out", tmp_path / "cache")
    config["passes"]["builder"]["precision"] = "fp32"
    built = olive.OnnxLM(olive.run(config))
    assert compare.score("builder fp32", built.logits, chunks, ref).max_abs_logit_diff < 0.05


def test_olive_without_output_is_a_clear_error(tmp_path, monkeypatch):
    import olive.workflows as olive_workflows  # Olive's own package (ours is slmlab.olive)

    monkeypatch.setattr(olive_workflows, "run", lambda config: None)  # what a failed pass looks like: no model
    with pytest.raises(SlmlabError, match="without an output model"):
        olive.optimize(NANO, "int8", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_olive_failure_quotes_its_log_and_keeps_it(tmp_path, monkeypatch, capfd):
    import olive.workflows as olive_workflows

    def failing_pass(config):
        print("[torch.onnx] Obtain model graph ...")  # what the exporter prints before it fails
        raise RuntimeError("pass conversion failed: unsupported operator")

    monkeypatch.setattr(olive_workflows, "run", failing_pass)
    with pytest.raises(SlmlabError, match="(?s)RuntimeError: pass conversion failed.*Obtain model graph"):
        olive.optimize(NANO, "int8", tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert "Obtain model graph" in (tmp_path / "out.olive.log").read_text()
    assert "Obtain model graph" not in capfd.readouterr().out


def test_olive_rejects_unknown_precision(tmp_path):
    with pytest.raises(SlmlabError, match="unknown precision"):
        olive.workflow_config(NANO, "int3", tmp_path, tmp_path)


def test_mlx_4bit_model_generates(tmp_path):
    r = mlx.convert(NANO, tmp_path / "q4", q_bits=4)
    assert r.q_bits == 4 and 4.5 < r.bits_per_weight < 5.5
    g = mlx.generate(r.folder, "Return the number of", 8)
    assert g.generation_tokens > 0 and g.text.strip() and g.generation_tps > 0


def test_mlx_bfloat16_is_the_size_of_float16_and_generates(tmp_path):
    bf16 = mlx.convert(NANO, tmp_path / "bf16", q_bits=None, dtype="bfloat16")
    f16 = mlx.convert(NANO, tmp_path / "f16", q_bits=None, dtype="float16")
    assert bf16.dtype == "bfloat16" and abs(bf16.size_bytes - f16.size_bytes) < 0.01 * f16.size_bytes
    assert 15.9 < bf16.bits_per_weight < 16.1
    assert mlx.generate(bf16.folder, "Return the number of", 8).text.strip()


def test_mlx_rejects_a_folder_without_config(tmp_path):
    with pytest.raises(SlmlabError, match="no config.json"):
        mlx.convert(tmp_path, tmp_path / "out")
