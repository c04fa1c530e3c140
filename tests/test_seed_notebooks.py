"""The course on a seed model's architecture: the notebooks run with MODEL = a 2-block Qwen3-0.6B stand-in.

A learner with internet changes one parameter to run a lesson on a seed model; the stand-in (Qwen3-0.6B's
published config cut to its first 2 of 28 blocks, its real tokenizer, chat template and bfloat16, random weights)
goes through exactly the code a real checkpoint takes: the converter, llama-quantize, Olive's ModelBuilder route,
MLX, llama-server and vLLM. None of that depends on depth, so 2 blocks cover it in a fraction of the time; figures
that need the full depth (speed ordering, Olive's memory model, the advisor's prediction) are `make bench`'s.
Each notebook must say it is a stand-in and show no quality figure for it. Results go to their own folder so
that they do not replace the slm-nano runs' (build/results-seeds). Notebook 09 takes no model parameter: the main
run covers it.

Notebooks 02 and 03 take the learner's online path for real: a mirror (olah, on 127.0.0.1) serves the stand-in
under the seed's own id, `Qwen/Qwen3-0.6B`, and its Q8_0 GGUF as `Qwen/Qwen3-0.6B-GGUF`, into a Hugging Face
cache of the test's own — so it never reaches a learner's cache or a notebook's default.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import papermill as pm
import pytest
from test_notebooks import outputs, plots

from slmlab import hub, measure, mirror, models, paths

pytestmark = pytest.mark.notebook

OUT = paths.REPO_ROOT / "build" / "notebooks-seeds"
STANDIN = "qwen3-0.6b-2l-standin"  # Qwen3-0.6B's first 2 blocks: same width, vocabulary, template and dtype


@pytest.fixture(scope="module")
def standin(tmp_path_factory) -> str:
    folder = models.resolve(STANDIN).path  # slmlab shape qwen3-0.6b --layers 2 (cached)
    os.environ["SLMLAB_RESULTS"] = str(paths.REPO_ROOT / "build" / "results-seeds")
    yield str(folder)
    os.environ["SLMLAB_RESULTS"] = str(paths.REPO_ROOT / "build" / "results")


@pytest.fixture(scope="module")
def seed_mirror_root(standin, tmp_path_factory):
    """A mirror's folder with the stand-in as Qwen/Qwen3-0.6B, and its Q8_0 file as Qwen/Qwen3-0.6B-GGUF."""
    root = tmp_path_factory.mktemp("mirror")
    mirror.add_model(root, "Qwen/Qwen3-0.6B", standin)
    gguf_repo = root / "models" / "Qwen" / "Qwen3-0.6B-GGUF"
    gguf_repo.mkdir(parents=True)
    shutil.copy(models.quantized_gguf(STANDIN, "Q8_0"), gguf_repo / "Qwen3-0.6B-Q8_0.gguf")
    (gguf_repo / "README.md").write_text(
        "Qwen3-0.6B stand-in, 2 blocks, Q8_0 (random weights: slmlab shape qwen3-0.6b --layers 2)\n"
    )
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture()
def online(seed_mirror_root, tmp_path, monkeypatch):
    """A learner's machine with internet, as far as the kernel can tell: HF_ENDPOINT set to a running mirror,
    nothing offline. The mirror runs for this test only (olah keeps what it served in memory)."""
    server = mirror.start(seed_mirror_root)
    monkeypatch.setenv("HF_ENDPOINT", mirror.endpoint(server))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    with server:
        yield tmp_path / "hf"
    shutil.rmtree(tmp_path / "hf", ignore_errors=True)


def run(name: str, **parameters):
    OUT.mkdir(parents=True, exist_ok=True)
    return pm.execute_notebook(
        paths.NOTEBOOKS / f"{name}.ipynb",
        OUT / f"{name}.ipynb",
        parameters=parameters,
        kernel_name="python3",
        cwd=str(paths.NOTEBOOKS),
        progress_bar=False,
    )


def test_01_counts_the_stand_in_folder_from_its_config(standin):
    nb = run("01_classifying_slms", MODEL=standin)
    r = measure.load_results("01_classifying_slms")
    # counted from the config alone (a model built on the meta device) = the tensors the safetensors file holds
    assert r["model"]["params"] == models.parameter_count(Path(standin)) and r["model"]["stand_in"] is True
    assert r["model"]["params"] < 596_049_920  # 2 of Qwen3-0.6B's 28 blocks
    assert "config from" in outputs(nb) and plots(nb) >= 3


def test_02_acquires_the_seed_from_the_mirror_with_every_file_checked(online, standin):
    nb = run("02_acquiring_models", REPO="Qwen/Qwen3-0.6B", GGUF_REPO="Qwen/Qwen3-0.6B-GGUF", INCLUDE="*Q8_0.gguf")
    text = outputs(nb)
    r = measure.load_results("02_acquiring_models")
    assert r["online"] is True and r["where"].startswith("the mirror at http://127.0.0.1:")
    assert "has no search" in text  # said, not hidden
    files = {f["file"]: f for f in r["files"]}
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= set(files)
    # the file the mirror served, byte for byte the stand-in's (bfloat16: 2 bytes a parameter)
    assert files["model.safetensors"]["MB"] * 1e6 == pytest.approx(
        (Path(standin) / "model.safetensors").stat().st_size, abs=1e4
    )
    assert [c["file"] for c in r["download_checks"]] == ["Qwen3-0.6B-Q8_0.gguf"]
    assert all(c["ok"] for c in r["download_checks"])
    assert r["pull"]["exit"] == 0 and "model.safetensors" in r["pull"]["files"]
    assert not any(f.endswith(".bin") for f in r["pull"]["files"])  # only the model's files
    assert all(hub.is_model_file(f) for f in r["pull"]["files"])  # not the stand-in's build record either
    assert r["scratch_left"] is False  # the 1.2 GB it pulled into scratch space is gone again


def test_03_measures_the_seed_pulled_by_its_hub_id_without_any_quality_figure(online):
    # MODEL is the seed's id, exactly as a learner with internet sets it: resolve, download, convert, quantize
    nb = run(
        "03_quantizing_with_llama_cpp",
        MODEL="Qwen/Qwen3-0.6B",
        TYPES=["Q8_0", "Q4_K_M"],
        THREADS=1,
        BENCH_REPS=1,
    )
    assert list(online.rglob("snapshots/*/model.safetensors"))  # it came through the hub's cache
    text = outputs(nb)
    r = measure.load_results("03_quantizing_with_llama_cpp")
    assert r["stand_in"] is True and "STAND-IN" in text and "n/a (random weights)" in text
    table = {row["type"]: row for row in r["table"]}
    assert set(table) == {"F16", "Q8_0", "Q4_K_M"}
    assert table["Q4_K_M"]["bytes"] < table["Q8_0"]["bytes"] < table["F16"]["bytes"]
    assert all(abs(row["estimated bytes"] / row["bytes"] - 1) < 0.005 for row in table.values())
    # its speed is the real model's; its perplexity is not measured at all: no quality figure from noise
    assert all(row["tg tok/s"] > 0 and row["perplexity"] != row["perplexity"] for row in table.values())  # NaN
    # perplexity and KL divergence by hand are slm-nano's whatever MODEL is (a trained model's: they mean something)
    assert abs(r["ppl_by_hand"]["difference"]) < 0.001 and "slm-nano F16, perplexity by hand" in text
    assert r["by_hand"]["Q8_0"]["identical to llama-quantize's"] is True  # Qwen3's bfloat16, via F16, by hand
    assert "✓" in text


def test_05_runs_olive_on_a_bfloat16_checkpoint_within_memory(standin):
    # ModelBuilder's route, which the full 0.6B model takes because its export (~45 GB) cannot fit in 24 GB; the
    # static INT8 recipe needs the exported graph, so it is left out
    nb = run("05_optimizing_with_olive", MODEL=standin, THREADS=1, PRECISIONS=["fp32", "int8", "int4"], ROUTE="builder")
    text = outputs(nb)
    r = measure.load_results("05_optimizing_with_olive")
    built = {m["precision"]: m for m in r["models"]}
    assert set(built) == {"fp32", "int8", "int4"}, r["skipped"]  # each fits a 24 GB machine, or was refused
    assert r["route"] == "builder"  # ModelBuilder reads the bfloat16 weights itself
    assert "MatMulNBits" in built["int4"]["quantized_ops"] and "MatMulInteger" in built["int8"]["quantized_ops"]
    # (the preflight's memory model is fitted on whole models: on 2 blocks its fixed part dominates — a 0.75 GB
    # model's quantize step measured 9.0 GB against 5.9 predicted — so make bench checks it at full depth)
    fp32 = next(q for q in r["quality"] if q["runtime"] == "ONNX fp32")
    assert fp32["max_abs_logit_diff"] < 1e-2  # the bfloat16 checkpoint exported faithfully in float32
    assert "n/a (random weights)" in text and "✓" in text


def test_06_mlx_converts_the_stand_in_and_marks_its_text(standin):
    # MLX's CPU backend is slow on quantized layers (~3 s a token through the full 0.6B model): 16 tokens, not 256
    nb = run("06_running_with_mlx", MODEL=standin, N_TOKENS=4, CHUNKS=1, CONTEXT=16)
    r = measure.load_results("06_running_with_mlx")
    mlx = {m["model"]: m for m in r["mlx"]}
    assert mlx["4-bit"]["size_bytes"] < mlx["8-bit"]["size_bytes"] < mlx["float16"]["size_bytes"]
    assert r["stand_in"] is True and "n/a (random weights)" in outputs(nb)


def test_07_serves_the_stand_in_and_shows_qwen3s_thinking_switch(standin):
    nb = run("07_serving_one_model", MODEL=standin, THREADS=1, CLIENTS=4)
    text = outputs(nb)
    r = measure.load_results("07_serving_one_model")
    assert r["stand_in"] is True and all(row["errors"] == 0 for row in r["load"])
    assert "<think>\n\n</think>" in text  # enable_thinking=False pre-fills an empty think block
    assert "Paris" in r["chat"]["answer"]  # chat goes to the instruction-tuned model
    assert r["foundry_local"]["template"] == "the model's own"  # Qwen3's template was kept
    assert "(a stand-in: random weights" in text


def test_08_serves_the_qwen3_shape_on_vllm_beside_llama_server(standin):
    # the chat model's sections (prefix caching, speculation) do not depend on MODEL: the main run covers them
    nb = run("08_serving_many_requests", MODEL=standin, THREADS=1, ENGINE_CLIENTS=[1, 4], SPECULATION=False)
    r = measure.load_results("08_serving_many_requests")
    assert r["stand_in"] is True and "(a stand-in: random weights" in outputs(nb)
    # vLLM serves the Qwen3-0.6B shape in bfloat16 beside llama-server's F16 file
    assert {row["engine"] for row in r["engines"]} == {"llama-server", "vLLM"}
    assert all(row["errors"] == 0 for row in r["engines"])
    # KV bytes per token from the config (grouped-query attention, head_dim from the config) = llama-server's
    check = {row["engine"]: row["reported ÷ config"] for row in r["kv_check"]}
    assert check["llama-server"] == pytest.approx(1, abs=0.005)
    assert r["prefix_cache"] == [] and r["speculation"] == []
