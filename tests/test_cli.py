import json
import subprocess
import sys

import pytest

from slmlab import paths


def slmlab(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    import os

    return subprocess.run(
        [sys.executable, "-m", "slmlab.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


def test_doctor_reports_all_five_tools_and_the_converter():
    proc = slmlab("doctor", "--json", "--no-network")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert report["ready"] is True
    assert set(report["tools"]) == {
        "llama-quantize",
        "llama-bench",
        "llama-server",
        "llama-cli",
        "llama-perplexity",
        "llama-imatrix",
    }
    assert all(t["ok"] for t in report["tools"].values())
    names = {c["name"]: c for c in report["checks"]}
    assert names["convert_hf_to_gguf.py"]["ok"]
    assert report["hardware"]["cores"] >= 1 and report["hardware"]["ram_bytes"] > 0
    assert "AVX2" in report["hardware"]["simd"] or "NEON" in report["hardware"]["simd"]


def test_doctor_without_the_build_names_the_fix_and_fails(tmp_path):
    proc = slmlab("doctor", "--no-network", env={"SLMLAB_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 1
    assert "MISSING" in proc.stdout and "make setup" in proc.stdout


def test_models_lists_the_offline_models_with_their_files():
    proc = slmlab("models", "--json")
    rows = {r["name"]: r for r in json.loads(proc.stdout)}
    assert {"slm-nano", "gemma-3-270m"} <= set(rows)
    assert rows["gemma-3-270m"]["path"].endswith(".gguf")
    assert rows["slm-nano"]["path"] == str(paths.MODELS_DIR / "slm-nano")


def test_convert_and_quantize_from_the_command_line(tmp_path):
    f16 = tmp_path / "nano-F16.gguf"
    proc = slmlab("convert", "slm-nano", "--outtype", "f16", "-o", str(f16), "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["file_type"] == "F16"
    assert "convert_hf_to_gguf.py" in proc.stderr  # the real command is shown
    proc = slmlab("quantize", str(f16), "Q4_K_M", "--json")
    data = json.loads(proc.stdout)
    assert data["file_type"] == "Q4_K_M" and data["path"].endswith("nano-Q4_K_M.gguf")
    assert "Q4_K" in data["matrix_types"]


def test_bad_input_is_one_line_not_a_traceback(tmp_path):
    proc = slmlab("quantize", str(tmp_path / "missing.gguf"), "Q4_0")
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: no such GGUF file") and "Traceback" not in proc.stderr
    proc = slmlab("generate", "no-such-model", "hello")
    assert proc.returncode == 2 and "unknown model" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.fast
@pytest.mark.parametrize(
    "args",
    [
        ["generate", "slm-nano", "hi", "-n", "-5"],
        ["generate", "slm-nano", "hi", "-n", "many"],
        ["generate", "slm-nano", "hi", "--threads", "0"],
        ["generate", "slm-nano", "hi", "--temperature", "-1"],
        ["serve", "slm-nano", "--port", "70000"],
        ["serve", "slm-nano", "--parallel", "0"],
        ["serve", "slm-nano", "--context", "0"],
        ["ppl", "slm-nano", "--chunks", "0"],
        ["bench", "slm-nano", "--n-gen", "0"],
        ["olive", "slm-nano", "--precision", "int3"],
        ["no-such-command"],
    ],
)
def test_a_number_out_of_range_is_one_error_line_before_anything_runs(args):
    proc = slmlab(*args)
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in proc.stderr, proc.stderr


@pytest.mark.fast
def test_the_range_error_names_the_range():
    proc = slmlab("generate", "slm-nano", "hi", "-n", "-5")
    assert "the number of tokens must be from 1 to 100,000, not -5" in proc.stderr


def test_generate_prints_tokens_per_second():
    proc = slmlab("generate", "slm-nano", "Return the", "-n", "8", "--threads", "1", "--json")
    data = json.loads(proc.stdout)
    assert data["generated_tokens"] > 0 and data["tokens_per_s"] > 0


def test_olive_int8_reports_quantized_operators_and_agreement_as_pure_json(tmp_path):
    proc = slmlab("olive", "slm-nano", "--precision", "int8", "-o", str(tmp_path / "int8"), "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(proc.stdout)  # the exporters' warnings went to the log, not into the JSON
    assert data["quantized_ops"]["MatMulInteger"] > 0 and data["argmax_agreement"] >= 0.85
    assert (tmp_path / "int8" / "model.onnx").is_file() and "Running pass" in open(data["log"]).read()
    assert set(data["pass_seconds"]) == {"conversion", "optimize", "quantize"}


def test_mlx_4bit_writes_a_model_that_generates(tmp_path):
    proc = slmlab("mlx", "slm-nano", "--q-bits", "4", "-o", str(tmp_path / "q4"), "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(proc.stdout)
    assert data["q_bits"] == 4 and data["generation_tokens"] > 0 and data["text"].strip()
    assert json.loads((tmp_path / "q4" / "config.json").read_text())["quantization"]["bits"] == 4
