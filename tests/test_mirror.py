"""The online path against a real server: olah serving the course's models on 127.0.0.1 over the hub protocol."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from slmlab import SlmlabError, hub, mirror, paths, serve


@pytest.fixture()
def hf_env(tmp_path, monkeypatch):
    """A fresh Hugging Face cache, online: what a student's machine has once HF_ENDPOINT is set."""
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    # huggingface_hub read HF_HUB_OFFLINE when this test process first imported it (test.sh sets it)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", False)
    return tmp_path / "hf"


@pytest.fixture()
def served(tmp_path, hf_env, monkeypatch):
    """A mirror serving a plain copy of slm-nano as course/nano."""
    root = tmp_path / "mirror"
    mirror.add_model(root, "course/nano", paths.MODELS_DIR / "slm-nano")
    with mirror.start(root) as server:
        monkeypatch.setenv("HF_ENDPOINT", mirror.endpoint(server))
        yield root, server


def slmlab(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "slmlab.cli", *args], capture_output=True, text=True, timeout=600, env=dict(os.environ)
    )


def test_slmlab_pull_downloads_nano_from_the_mirror_with_matching_sha256(served):
    root, server = served
    assert server.listening_on() == [("127.0.0.1", server.port)]  # loopback only unless --lan
    proc = slmlab("pull", "course/nano", "--json")
    assert proc.returncode == 0, proc.stderr[-1500:]
    data = json.loads(proc.stdout)
    folder = Path(data["path"])
    source = paths.MODELS_DIR / "slm-nano"
    model_files = sorted(f.name for f in source.iterdir() if hub.is_model_file(f.name))
    assert sorted(f.name for f in folder.iterdir()) == model_files  # the model's files, not its training log
    for name in model_files:
        assert paths.sha256_file(folder / name) == paths.sha256_file(source / name), name  # byte for byte
    assert data["checks"] and all(c["ok"] and c["kind"] == "git blob (sha1)" for c in data["checks"])


def test_a_file_changed_after_its_checksum_was_published_is_refused_and_not_kept(served, hf_env):
    root, _ = served
    published = hub.repo_info("course/nano")  # what a course manifest would record
    config = root / "models" / "course" / "nano" / "config.json"
    config.write_text(config.read_text().replace('"rms_norm_eps": 1e-05', '"rms_norm_eps": 1e-06'))
    mirror.publish(config.parent, "the teacher edits a file")
    with pytest.raises(SlmlabError, match="checksum mismatch for config.json.*removed from the cache"):
        hub.download("course/nano", include=["config.json"], expected=published)
    assert not [p for p in hf_env.rglob("config.json")] and not [p for p in hf_env.rglob("*") if p.is_symlink()]
    _, checks = hub.download("course/nano", include=["config.json"])  # with today's checksums it is fine
    assert checks[0]["ok"]


def test_a_mirror_stopped_mid_download_leaves_no_partial_file_and_a_second_pull_completes(
    tmp_path, hf_env, monkeypatch
):
    root = tmp_path / "mirror"
    big = tmp_path / "big"
    big.mkdir()
    shutil.copy(paths.MODELS_DIR / "slm-nano" / "config.json", big / "config.json")
    (big / "model.safetensors").write_bytes(os.urandom(300 << 20))  # 300 MB, incompressible
    mirror.add_model(root, "course/big", big)
    port = serve.free_port()
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    server = mirror.start(root, port=port)
    result: dict = {}

    def pull():
        try:
            result["folder"] = hub.snapshot("course/big", allow_patterns=["model.safetensors"], complete=False)
        except SlmlabError as e:
            result["error"] = str(e)

    worker = threading.Thread(target=pull)
    worker.start()
    deadline = time.monotonic() + 60
    while not list(hf_env.rglob("*.incomplete")) and time.monotonic() < deadline:
        time.sleep(0.01)
    os.killpg(server.process.pid, signal.SIGKILL)  # the mirror dies mid-transfer (SIGTERM would let it finish)
    server.stop()
    worker.join(120)
    final = list(hf_env.rglob("snapshots/*/model.safetensors"))
    assert "error" in result and not final, result  # failed, and nothing half-written in the final place
    with mirror.start(root, port=port):
        folder = hub.snapshot("course/big", allow_patterns=["model.safetensors"], complete=False)
    assert paths.sha256_file(folder / "model.safetensors") == paths.sha256_file(big / "model.safetensors")


def test_olah_writes_its_logs_in_the_mirrors_folder_not_where_it_was_started(served):
    root, _ = served
    assert list((root / ".mirror" / "logs").glob("olah*.log"))


def test_an_unknown_repository_is_one_line_naming_it(served):
    proc = slmlab("pull", "course/nothing")
    assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0
    assert "course/nothing does not exist on the mirror at http://127.0.0.1:" in proc.stderr


def test_a_mirror_that_is_down_is_named_as_such(hf_env, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{serve.free_port()}")
    proc = slmlab("pull", "course/nano")
    assert proc.returncode == 2 and "is not answering" in proc.stderr and "slmlab mirror" in proc.stderr
    assert "cannot reach the Hugging Face hub" not in proc.stderr


def test_the_mirror_says_what_it_does_not_provide(served):
    with pytest.raises(SlmlabError, match="has no search"):
        hub.search(query="nano")
    info = hub.repo_info("course/nano")  # model_info(files_metadata=True) is ignored: sizes come from the tree
    assert {f.name: f.size for f in info.files}["model.safetensors"] == 16_790_528


def test_the_mirror_command_serves_and_stops_on_sigterm(tmp_path):
    mirror.add_model(tmp_path / "root", "course/nano", paths.MODELS_DIR / "slm-nano")
    proc = subprocess.Popen(
        [sys.executable, "-m", "slmlab.cli", "mirror", str(tmp_path / "root")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = []
        while "export HF_ENDPOINT=" not in (line := proc.stderr.readline()):
            assert line, "".join(lines)
            lines.append(line)
        url = line.split("HF_ENDPOINT=")[1].strip()
        assert url.startswith("http://127.0.0.1:")
        import psutil

        olah = [c for c in psutil.Process(proc.pid).children(recursive=True) if "olah" in " ".join(c.cmdline())]
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        assert olah and all(_gone(p) for p in olah), "olah outlived `slmlab mirror`"
    finally:
        proc.kill()


def _gone(process, within: float = 15) -> bool:
    """Has the process exited (or is it a zombie, waiting only for its parent to read its status)?"""
    import psutil

    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if process.status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.2)
    return False
