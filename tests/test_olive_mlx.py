import pytest

from slmlab import SlmlabError, compare, mlx, olive, paths

NANO = paths.MODELS_DIR / "slm-nano"


def test_olive_int8_writes_quantized_operators_that_agree_with_torch(tmp_path):
    r = olive.optimize(NANO, "int8", tmp_path / "int8")
    assert r.model.is_file() and r.quantized_ops.get("MatMulInteger", 0) > 0
    chunks = compare.heldout_chunks(NANO, 2)
    ref = [compare.torch_logits(NANO, c) for c in chunks]
    assert compare.score("int8", olive.OnnxLM(r.model).logits, chunks, ref).argmax_agreement >= 0.85
    assert [p.name for p in tmp_path.iterdir()] == ["int8"]  # no leftover work or cache folders


def test_olive_without_output_is_a_clear_error(tmp_path, monkeypatch):
    import olive.workflows as olive_workflows  # Olive's own package (ours is slmlab.olive)

    monkeypatch.setattr(olive_workflows, "run", lambda config: None)  # what a failed pass looks like: no model
    with pytest.raises(SlmlabError, match="without an output model"):
        olive.optimize(NANO, "int8", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_olive_rejects_unknown_precision(tmp_path):
    with pytest.raises(SlmlabError, match="unknown precision"):
        olive.workflow_config(NANO, "int3", tmp_path, tmp_path)


def test_mlx_4bit_model_generates(tmp_path):
    r = mlx.convert(NANO, tmp_path / "q4", q_bits=4)
    assert r.q_bits == 4 and 4.5 < r.bits_per_weight < 5.5
    g = mlx.generate(r.folder, "Return the number of", 8)
    assert g.generation_tokens > 0 and g.text.strip() and g.generation_tps > 0


def test_mlx_rejects_a_folder_without_config(tmp_path):
    with pytest.raises(SlmlabError, match="no config.json"):
        mlx.convert(tmp_path, tmp_path / "out")
