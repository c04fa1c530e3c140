import time

import pytest

from slmlab import SlmlabError, hub


@pytest.fixture()
def registry(monkeypatch, tmp_path):
    monkeypatch.setenv("SLMLAB_HOME", str(tmp_path / "home"))
    return tmp_path


@pytest.mark.fast
def test_offline_hub_calls_fail_fast_and_say_what_to_do(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    for call in (lambda: hub.search(author="Qwen"), lambda: hub.repo_info("Qwen/Qwen3-0.6B")):
        start = time.monotonic()
        with pytest.raises(SlmlabError, match="cannot reach the Hugging Face hub.*slm-nano"):
            call()
        assert time.monotonic() - start < 20


@pytest.mark.fast
def test_pull_offline_exits_nonzero_quickly_and_writes_nothing(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"}
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "slmlab.cli", "pull", "Qwen/Qwen3-0.6B"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        cwd=tmp_path,
    )
    assert time.monotonic() - start < 20
    assert proc.returncode == 2 and "cannot reach the Hugging Face hub" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []  # no partial download anywhere


@pytest.mark.fast
def test_registry_add_list_verify_remove(registry, nano_f16):
    import shutil

    copy = registry / "nano.gguf"
    shutil.copy(nano_f16, copy)
    entry = hub.register("nano", copy)
    assert entry.sha256 == hub.sha256_file(copy) and entry.size_bytes == copy.stat().st_size
    assert [e.name for e in hub.registered()] == ["nano"]
    assert hub.verify("nano")["ok"]
    with open(copy, "r+b") as f:  # one flipped byte
        f.seek(1000)
        b = f.read(1)
        f.seek(1000)
        f.write(bytes([b[0] ^ 0xFF]))
    assert not hub.verify("nano")["ok"]
    with pytest.raises(SlmlabError, match="already registered"):
        hub.register("nano", copy)
    hub.unregister("nano")
    assert hub.registered() == [] and copy.exists()


@pytest.mark.fast
def test_registered_models_resolve_by_name(registry, nano_f16):
    from slmlab import models

    hub.register("my-nano", nano_f16)
    assert models.resolve("my-nano").path == nano_f16
    assert "my-nano" in [r["name"] for r in models.list_models()]


@pytest.mark.fast
def test_a_pull_without_include_takes_the_model_files_and_no_duplicates():
    assert all(hub.is_model_file(f) for f in ["config.json", "model-00001-of-00002.safetensors", "tokenizer.json"])
    # Llama 3's Meta checkpoint, PyTorch copies, a build record: not the model llama.cpp, Olive and MLX load
    assert not any(
        hub.is_model_file(f)
        for f in ["original/consolidated.00.pth", "pytorch_model.bin", "original/model.safetensors", "build.json"]
    )
