import pytest

from slmlab import SlmlabError
from slmlab.gguf_file import read_gguf

pytestmark = pytest.mark.fast  # no llama.cpp build needed: `make unit`


def test_f16_conversion_keeps_every_weight_matrix_in_f16(nano_f16):
    info = read_gguf(nano_f16)
    assert info.architecture == "llama"
    assert info.file_type == "F16"
    assert set(info.matrix_types) == {"F16"}
    assert info.n_params == 4_196_608  # the parameters slm-nano's config gives (tied embeddings counted once)
    assert 15.9 < info.bits_per_weight < 16.1  # norms stay F32


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(SlmlabError, match="no such GGUF file"):
        read_gguf(tmp_path / "nope.gguf")


def test_a_file_that_is_not_gguf_is_refused_before_llama_cpp_sees_it(tmp_path):
    bad = tmp_path / "model.gguf"
    bad.write_bytes(b"PK\x03\x04 this is a zip, not a model")
    with pytest.raises(SlmlabError, match="not a GGUF file"):
        read_gguf(bad)


@pytest.mark.parametrize("keep", [0.5, 0.999])
def test_truncated_gguf_is_detected(nano_f16, tmp_path, keep):
    data = nano_f16.read_bytes()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(SlmlabError, match="truncated|damaged"):
        read_gguf(cut)


def test_gemma_file_is_the_published_q4_k_m(gemma):
    info = read_gguf(gemma)
    assert info.architecture == "gemma3"
    assert info.file_type == "Q4_K_M"
    assert info.size_bytes == 253_113_024
    assert 260e6 < info.n_params < 280e6  # "270M"
