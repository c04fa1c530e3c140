"""Same-shape stand-ins of the seed models: published shapes, real tokenizers, random weights, marked as such."""

import json
import subprocess
import sys
from collections import namedtuple

import pytest

from slmlab import SlmlabError, catalog, models, sizing, standins
from slmlab.gguf_file import read_gguf

# one seed per architecture the course teaches; BitNet's is refused by llama.cpp's converter itself
ARCHITECTURES = {"qwen3": "qwen3-0.6b", "gemma3_text": "gemma-3-1b", "llama": "llama-3-8b", "phi3": "phi-4-mini"}


@pytest.fixture(scope="module")
def qwen() -> models.Model:
    return models.resolve("qwen3-0.6b-standin")


def test_qwen3_stand_in_has_the_published_count_qwens_token_ids_and_the_flag(qwen):
    from transformers import AutoTokenizer

    assert models.parameter_count(qwen.path) == 596_049_920  # keras-hub's exact count for Qwen3-0.6B
    tokenizer = AutoTokenizer.from_pretrained(qwen.path)
    assert tokenizer("Hello world")["input_ids"] == [9707, 1879]  # Qwen's own ids
    assert tokenizer.bos_token is None and tokenizer.eos_token == "<|im_end|>"  # as Qwen3's tokenizer says
    config = json.loads((qwen.path / "config.json").read_text())
    assert config[standins.CONFIG_KEY]["seed_model"] == "Qwen/Qwen3-0.6B" and config["torch_dtype"] == "bfloat16"
    assert standins.is_standin(qwen.path) and "random weights" in (qwen.path / "README.md").read_text()
    assert "<think>" in tokenizer.chat_template  # Qwen3's own template, thinking mode and all


def test_its_q4_k_m_is_within_half_a_percent_of_the_estimate_and_says_it_is_a_stand_in(qwen):
    q4 = read_gguf(models.quantized_gguf(qwen, "Q4_K_M"))
    estimate = catalog.info("qwen3-0.6b").sizes["Q4_K_M"]
    assert abs(estimate / q4.size_bytes - 1) < 0.005
    assert q4.n_params == 596_049_920 and standins.MARK in q4.description  # the mark survives llama-quantize


@pytest.mark.parametrize("model_type,seed", ARCHITECTURES.items())
def test_every_seed_architecture_builds_two_blocks_and_converts_to_the_estimated_size(model_type, seed):
    folder = standins.build(seed, layers=2)
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == model_type and config["num_hidden_layers"] == 2
    full = catalog.get(seed).config
    assert {k: config[k] for k in ("hidden_size", "vocab_size")} == {k: full[k] for k in ("hidden_size", "vocab_size")}
    f16 = read_gguf(models.gguf_path(folder))  # llama.cpp's own convert_hf_to_gguf.py
    estimate = sizing.estimate_sizes(config, ("F16",))["F16"]
    assert estimate.tensor_bytes == pytest.approx(f16.tensor_bytes, abs=1024)  # Phi-4 adds two RoPE factor vectors
    assert abs(estimate.total_bytes / f16.size_bytes - 1) < 0.005
    assert standins.is_standin(f16.path)


def test_bitnets_refusal_by_the_converter_is_one_error_line_saying_what_to_do_instead():
    folder = standins.build("bitnet-b1.58-2b", layers=2)
    out = folder.parent / "b.gguf"
    proc = subprocess.run(
        [sys.executable, "-m", "slmlab.cli", "convert", str(folder), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert proc.returncode == 2 and len(errors) == 1 and "Traceback" not in proc.stderr
    assert "Can not map tensor" in errors[0] and "bitnet.cpp" in errors[0]
    assert not list(folder.parent.glob("*b.gguf*"))  # nothing half-written


def test_a_llama_3_stand_in_has_exactly_the_configs_vocabulary():
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(standins.tokenizer_folder("llama"))
    assert len(tokenizer) == catalog.get("llama-3-8b").config["vocab_size"] == 128_256  # no extra <|endoftext|>
    assert tokenizer("Hello world", add_special_tokens=False)["input_ids"] == [9906, 1917]


@pytest.mark.fast
def test_too_little_disk_or_memory_is_refused_before_anything_is_written(tmp_path, monkeypatch):
    import shutil

    import psutil

    plan = standins.plan("qwen3-8b")
    Usage = namedtuple("Usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: Usage(10**12, 10**12 - 10**9, 10**9))
    with pytest.raises(SlmlabError, match=r"not enough disk .* needs 16\.\d GB"):
        standins.preflight(plan, tmp_path / "out")
    # the memory check on its own: the disk (whatever this machine has free) is made ample
    monkeypatch.setattr(shutil, "disk_usage", lambda p: Usage(10**14, 0, 10**14))
    Memory = namedtuple("Memory", "available")
    monkeypatch.setattr(psutil, "virtual_memory", lambda: Memory(10**9))
    with pytest.raises(SlmlabError, match="not enough memory.*--layers"):
        standins.build("qwen3-8b", out=tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.fast
def test_layers_keep_every_shape_and_are_range_checked():
    full, two = standins.plan("gemma-3-270m"), standins.plan("gemma-3-270m", layers=2)
    assert set(two.tensors) <= set(full.tensors)  # the same names and shapes, fewer blocks
    assert len(two.config["layer_types"]) == 2
    with pytest.raises(SlmlabError, match="--layers must be from 1 to gemma-3-270m's 18"):
        standins.plan("gemma-3-270m", layers=19)
    with pytest.raises(SlmlabError, match="no stand-in recipe for 'slm-nano'"):
        standins.plan("slm-nano")


def test_the_shape_command_reports_the_stand_in_as_json(qwen):
    proc = subprocess.run(
        [sys.executable, "-m", "slmlab.cli", "shape", "qwen3-0.6b", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    data = json.loads(proc.stdout)
    assert data["path"] == str(qwen.path) and data["parameters"] == 596_049_920 and data["stand_in"] == standins.MARK
