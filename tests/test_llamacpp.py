import pytest

from slmlab import SlmlabError, binding, llamacpp, paths, probes
from slmlab.gguf_file import read_gguf


@pytest.mark.parametrize(
    "qtype,main_type", [("Q8_0", "Q8_0"), ("Q5_1", "Q5_1"), ("Q4_0", "Q4_0"), ("Q4_K_M", "Q4_K"), ("TQ2_0", "TQ2_0")]
)
def test_quantized_files_really_hold_that_type(nano_quants, qtype, main_type):
    info = read_gguf(nano_quants[qtype])
    assert info.file_type == qtype
    # most weight parameters are of the requested type (the tied embedding may be kept at Q6_K / Q8_0)
    types = info.matrix_types
    assert max(types, key=types.get) == main_type, types
    assert all(t.type == "F32" for t in info.tensors if len(t.shape) == 1)  # norms stay F32


def test_lower_bit_types_make_smaller_files(nano_f16, nano_quants):
    size = {t: p.stat().st_size for t, p in nano_quants.items()}
    assert size["TQ2_0"] < size["Q4_0"] < size["Q5_1"] < size["Q8_0"] < nano_f16.stat().st_size


def test_perplexity_orders_f16_q8_q4_ternary(nano_f16, nano_quants):
    ppl = {"F16": llamacpp.perplexity(nano_f16, threads=1).perplexity}
    for t in ("Q8_0", "Q5_1", "Q4_0", "TQ2_0"):
        ppl[t] = llamacpp.perplexity(nano_quants[t], threads=1).perplexity
    assert abs(ppl["Q8_0"] / ppl["F16"] - 1) < 0.001, ppl  # 8 bits: indistinguishable
    # fewer bits, worse perplexity; runs are deterministic, so even slm-nano's small 4-bit gap is real
    assert ppl["F16"] < ppl["Q5_1"] < ppl["Q4_0"], ppl
    assert ppl["TQ2_0"] > 2 * ppl["F16"], ppl  # ternary weights on a model not trained for them


def test_perplexity_is_deterministic(nano_quants):
    a = llamacpp.perplexity(nano_quants["Q4_0"], threads=1, chunks=8)
    b = llamacpp.perplexity(nano_quants["Q4_0"], threads=1, chunks=8)
    assert a.perplexity == b.perplexity and a.chunks == 8


def test_requantizing_is_refused_and_leaves_nothing(nano_quants, tmp_path):
    out = tmp_path / "again.gguf"
    with pytest.raises(SlmlabError, match="already quantized.*--allow-requantize"):
        llamacpp.quantize(nano_quants["Q4_0"], "Q8_0", out)
    assert list(tmp_path.iterdir()) == []


def test_requantizing_with_permission_works(gemma, tmp_path):
    info = llamacpp.quantize(gemma, "Q8_0", tmp_path / "gemma-Q8_0.gguf", allow_requantize=True)
    assert info.file_type == "Q8_0"
    assert [p.name for p in tmp_path.iterdir()] == ["gemma-Q8_0.gguf"]


def test_unknown_type_lists_the_valid_ones(nano_f16, tmp_path):
    with pytest.raises(SlmlabError) as err:
        llamacpp.quantize(nano_f16, "Q3_X", tmp_path / "x.gguf")
    assert "Q4_0" in str(err.value) and "Q4_K_M" in str(err.value) and "TQ1_0" in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_quant_types_come_from_the_tool_itself():
    types = llamacpp.quant_types()
    assert {"Q4_0", "Q5_1", "Q8_0", "Q4_K_M", "Q2_K", "TQ1_0", "TQ2_0", "F16"} <= set(types)


def test_unwritable_output_directory_is_a_clear_error(nano_f16):
    # /sys refuses new files even to root, unlike a chmod-ed folder
    with pytest.raises(SlmlabError, match="not writable"):
        llamacpp.quantize(nano_f16, "Q4_0", "/sys/slm-nano-Q4_0.gguf")


def test_output_under_a_file_is_a_clear_error(nano_f16, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(SlmlabError, match="cannot create the output directory"):
        llamacpp.quantize(nano_f16, "Q4_0", blocker / "sub" / "x.gguf")


def test_convert_rejects_a_folder_without_config(tmp_path):
    with pytest.raises(SlmlabError, match="no config.json"):
        llamacpp.convert(tmp_path, tmp_path / "x.gguf")


def test_generate_completes_and_measures_speed(nano_quants):
    g = binding.generate(nano_quants["Q8_0"], "Return the number of", n_tokens=16, threads=1)
    assert g.generated_tokens > 0 and g.text.strip()
    assert g.tokens_per_s > 0 and g.prompt_tokens >= 4


def test_gemma_completes_a_prompt(gemma):
    g = binding.generate(gemma, "The Eiffel Tower is in the city of", n_tokens=8, threads=1)
    assert "Paris" in g.text or "paris" in g.text.lower(), g.text


def test_llama_cpp_tokenizes_slm_nano_like_sentencepiece(nano_f16):
    import sentencepiece as spm

    from slmlab import paths

    text = llamacpp.heldout_text().read_text()[:20000]
    sp = spm.SentencePieceProcessor(model_file=str(paths.MODELS_DIR / "slm-nano" / "tokenizer.model"))
    llm = binding.load(str(nano_f16), 512, 1)
    ids = llm.tokenize(text.encode(), add_bos=False)
    assert ids == sp.encode(text)


def test_importance_matrix_of_a_large_vocabulary_fits_binders_memory(gemma, tmp_path):
    # Gemma's 262k-token vocabulary: one token's logits are 1 MB. llama-imatrix's default batch (2048 tokens,
    # several chunks at once) held 2 GB of them and took notebook 03 to 3.9 GB on a cold cache (CI, measured)
    from slmlab import measure

    with measure.peak_rss(include_self=False) as peak:
        out = llamacpp.importance_matrix(gemma, tmp_path / "imatrix.gguf", chunks=2, threads=1)
    assert len(read_gguf(out).tensors) > 100  # a matrix for every layer's weights
    assert peak.bytes < 1.2e9, f"llama-imatrix peaked at {peak.bytes / 1e9:.2f} GB"


def test_kv_cache_probe_is_cached_by_content_and_the_cached_answer_is_llama_cpps(gemma, tmp_path, monkeypatch):
    # one real run of the probe in every CI run, in a cache of its own; the second answer comes from that cache
    monkeypatch.setenv("SLMLAB_HOME", str(tmp_path))
    fresh = probes.kv_cache_allocated(gemma, 4096, cached=False)
    assert list((tmp_path / "probes").glob("kv-*.json"))
    assert probes.kv_cache_allocated(gemma, 4096) == fresh
    assert probes.kv_cache_allocated(gemma, 4096, swa_full=True) > fresh  # another key: every layer full
    # the same content under another name shares the answer; llama.cpp's version is part of the key
    twin = tmp_path / "renamed.gguf"
    twin.symlink_to(gemma)
    assert probes.kv_cache_allocated(twin, 4096) == fresh
    saved = len(list((tmp_path / "probes").glob("kv-*.json")))
    monkeypatch.setattr(paths, "llama_cpp_key", lambda: "another-build")
    assert probes.kv_cache_allocated(gemma, 4096) == fresh and len(list((tmp_path / "probes").glob("*"))) > saved
