"""Every notebook, executed end to end with papermill (CI parameters), then checked like a learner would.

The executed copies land in build/notebooks/; `make test` then runs nbval over them.
"""

from __future__ import annotations

import json
import os

import papermill as pm
import pytest

from slmlab import classroom, measure, paths

pytestmark = pytest.mark.notebook

# small parameters for CI: one thread (see the README on why), fewer tokens, no network probe
CI_PARAMETERS = {
    "00_start_here": {"N_TOKENS": 16, "THREADS": 1, "CHECK_NETWORK": False},
    "01_classifying_slms": {},
    "02_acquiring_models": {"ONLINE": False},
    # speed is make bench's: one llama-bench repetition shows the columns
    "03_quantizing_with_llama_cpp": {"THREADS": 1, "BENCH_REPS": 1},
    # Gemma's quality lesson on the types its assertions read (the learner's default measures eight)
    "04_judging_quantized_models": {
        "THREADS": 1,
        "BENCH_REPS": 1,
        "GEMMA_PPL_CHUNKS": 4,
        "GEMMA_TYPES": ["Q8_0", "Q4_0", "Q2_K"],
    },
    # the route fixed, not chosen from the memory free at that instant (slm-nano's export fits anywhere)
    "05_optimizing_with_olive": {"THREADS": 1, "ROUTE": "export"},
    "06_running_with_mlx": {},
    # speculation's speed-up is make bench's: here 32 tokens show that drafts are made and accepted
    "07_serving_one_model": {"THREADS": 1},
    "08_serving_many_requests": {"THREADS": 1, "SPEC_TOKENS": 32, "PREFIX_CHARS": 1000},
    # the seed's speed on its full depth is make bench's: 2 blocks run the same code
    "09_choosing_a_model": {"SEED_LAYERS": 2},
    # the Qwen3 stand-in's prompt timing on 2 blocks: the token counts, KV sizes and the check are the same code
    "10_what_your_language_costs": {"SPEED_MODELS": ["gemma-3-270m", "qwen3-0.6b-2l-standin"], "THREADS": 1},
    "11_the_lessons_claims_judged": {},
}
OUT = paths.REPO_ROOT / "build" / "notebooks"
BINDER_MEMORY = 2 << 30  # mybinder.org's memory limit for a learner's whole session


# Wrong answers for each exercise's check, run in the notebook's kernel after its last cell: each must be
# rejected (an AssertionError) with a message that helps. (expression, what the message must say)
WRONG_ANSWERS = {
    "00_start_here": [
        ("check_seconds(100 * speed.iloc[0]['generation tokens/s'])", "tokens ÷ speed"),
        ("check_seconds(my_seconds / 2)", "is too short"),
        ("check_token_counts({k: v + 1 for k, v in my_counts.items()})", "count again with add_bos=False"),
        ("check_tokens_per_s(speed.iloc[0]['generation tokens/s'])", "a bigger file takes longer to read"),
        ("check_tokens_per_s(my_tokens_per_s / 1.5)", "both in the same unit"),
    ],
    "01_classifying_slms": [
        ("check_mlp_share(100 * my_mlp_share)", "a fraction between 0 and 1"),
        ("check_mlp_share(1 - my_mlp_share)", "add the gate, up and down boxes"),
        ("check_mlp_share(n_blocks * my_mlp_share * per_block / total)", "the whole model's parameters"),
        ('check_choice("Q9_9")', "not in llama.cpp's table"),
        ("check_choice(max(rated, key=lambda ft: est4[ft].total_bytes))", "does not fit"),
        ("check_choice(max((ft for ft in rated if fits[ft]), key=rated.get))", "costs less"),
        ("check_q4_1_gb(phi.total * bits['Q4_1'] / 8 / 1e9)", "Q6_K's bits per weight"),
        ("check_q4_1_gb(my_q4_1_gb * 1e9 / 2**30)", "not 2³⁰"),
        ("check_q4_1_gb(my_q4_1_gb * 1.1)", "too large"),
    ],
    "02_acquiring_models": [
        ("check_biggest((sizes.sort_values('bytes')['file'].iloc[-2], my_biggest[1]))", "another file holds more"),
        ("check_biggest((my_biggest[0], my_biggest[1] - 0.1))", "not its share"),
        ("check_digest(my_digest[::-1])", "did you hash the whole file"),
        ("check_saved(my_saved * 2)", "too many bytes"),  # as if each weight took 4 bytes
        ("check_saved(16e9)", "too few bytes"),  # the nominal 8B × 2
    ],
    "03_quantizing_with_llama_cpp": [
        ("check_block_bytes(32)", "what else does a block need"),
        ("check_block_bytes(36)", "a float16"),
        ("check_error_ratio(OUTLIER**2)", "is too large"),
        ("check_error_ratio(1.0)", "is too small"),
        ("check_q6_k_bits(6.0)", "the 6-bit numbers alone"),
        ("check_q6_k_bits(6 + (16 * 6 / 8 + 2) * 8 / 256)", "is too few"),
    ],
    "04_judging_quantized_models": [
        ('check_k_roles({"attn_q"})', "weights long"),  # 640 weights a row: not a whole number of super-blocks
        ('check_k_roles({"ffn_down"})', "a role is missing"),
        ('check_type("Q9_0")', "was not measured"),
        ('check_type(gemma["memory MB"].idxmax())', "breaks a bound"),
        # the ceiling itself (the share forgotten), and bits read per token where bytes are meant
        ('check_device_speed(my_device_tokens_per_s / limit.loc["Q4_K_M (shipped)", "share of ceiling"])', "too many"),
        ("check_device_speed(my_device_tokens_per_s / 8)", "too few"),
    ],
    "05_optimizing_with_olive": [
        ('check_pick("int2")', "was not built here"),
        ("check_pick(min(results, key=merit))", "another precision scores more"),
        ("check_uint8([c + (i == 0) for i, c in enumerate(my_uint8)])", "codes differ from onnxruntime's"),
        ("check_uint8(np.rint(v / (np.ptp(v) / 255)).tolist())", "did you add the zero point"),
        ("check_int4_saving(my_int4_saving * 1e6 / 2**20)", "is too few"),  # MiB, not MB
        ('check_int4_saving(gemma["vocab_size"] * gemma["hidden_size"] * 3.5 / 1e6)', "is too many"),  # no scales
    ],
    "06_running_with_mlx": [
        ("check_answer((next(k for k in mlx_rows.index if k != nearest), my_answer[1]))", "look again"),
        ('check_answer((nearest, {"closer": "farther", "farther": "closer"}[my_answer[1]]))', "the wrong direction"),
        # the textbook recipe (bias = min, scale = range / 15): not MLX's anchored grid
        ("check_codes(np.clip(np.rint((group - group.min()) / (np.ptp(group) / 15)), 0, 15).tolist())", "MLX anchors"),
        ("check_codes([15 - c for c in my_codes])", "run backwards"),
        ("check_codes([c + 1 for c in my_codes])", "did you clip"),
        ('check_group32((bits_check["4-bit"]["formula"], my_group32[1]))', "not the bits per weight"),
        ("check_group32((my_group32[0], 1 / my_group32[1]))", "the ratio is too large"),
    ],
    "07_serving_one_model": [
        ("check_slots(load['p95 s'].idxmax())", "another slot count's p95 is lower"),
        ("check_ask(lambda base_url, key, prompt: '')", "expected the completion's text"),
    ],
    "08_serving_many_requests": [
        # the engine that answered one client later
        ("check_engine(alone.idxmax())", "another engine answered sooner"),
        ('check_engine("TGI")', "is not an engine the load test ran"),
        ("check_kv_bytes(my_kv_bytes / 2)", "too few bytes per token"),  # the key or the value forgotten
        ("check_kv_bytes(my_kv_bytes * 2)", "too many bytes per token"),  # the query heads, not the KV heads
        ("check_fit(paging['budget tokens'] // 100)", "a sequence is given whole blocks"),
        ("check_fit(paging['contiguous sequences'])", "that is the contiguous count"),
    ],
    "09_choosing_a_model": [
        ("check_headroom(DEVICE_GB - recs[0].memory_gb)", "too much"),  # the OS reserve forgotten
        ("check_headroom(my_headroom - 0.1)", "too little"),
        ("check_prediction(my_prediction * 1.5)", "more than the advisor's model predicts"),
        ("check_prediction(-my_prediction)", "a speed is positive"),
        ("check_quality_first(('qwen3-8b', 'Q8_0'))", "outside the limits"),
        # (the size-first pick is a wrong answer only where the two orders differ: on this machine's CI they did not)
        ("check_quality_first(('gemma-3-270m', 'Q8_0'))", "another kept row adds less perplexity"),
    ],
    "10_what_your_language_costs": [
        ('check_fewest("gpt-4")', "is not one of the tokenizers"),
        ('check_fewest(tokens_table.loc["pa"].idxmax())', "another tokenizer needs fewer"),
        ("check_words(my_words * 1.5)", "is too many"),
        ("check_words(my_words / 1.5)", "is too few"),
        ("check_kv(my_kv * 4)", "is too many"),  # every attention head, not the KV heads
        ("check_kv(my_kv / 2)", "is too few"),  # keys or values, not both
    ],
}
# Every tool the lesson teaches, as a literal command in a code cell of the notebook that teaches it: a `!` line
# in the source, or the command a cell printed ("$ …") and ran; for a Python API, the call in the source.
LITERAL_COMMANDS = {
    "03_quantizing_with_llama_cpp": [
        ("shell", "convert_hf_to_gguf.py"),
        ("shell", "llama-quantize"),
        ("shell", "llama-bench"),
        ("shell", "llama-perplexity"),
        ("shell", "cmake -S"),
        ("shell", "cmake --build"),
    ],
    "05_optimizing_with_olive": [("shell", "olive run --config")],
    "06_running_with_mlx": [("call", "convert(hf_path=")],
    "07_serving_one_model": [("shell", "llama-server -m")],
    "08_serving_many_requests": [("shell", "vllm.entrypoints.openai.api_server")],
}


def shows_command(nb, kind: str, text: str) -> bool:
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        lines = [ln.strip() for ln in cell.source.splitlines()]
        if kind == "call" and any(text in ln and not ln.startswith("#") for ln in lines):
            return True
        if kind == "shell" and any(ln.startswith("!") and text in ln for ln in lines):
            return True
        printed = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")
        if kind == "shell" and any(ln.startswith("$ ") and text in ln for ln in printed.splitlines()):
            return True
    return False


WRONG_ANSWERS["11_the_lessons_claims_judged"] = [
    ('check_furthest("Q9_9")', "is not in the Qwen3-0.6B row"),
    ("check_furthest(next(t for t in QWEN_ROW if t != my_furthest))", "not the furthest"),
    ("check_first_block(my_first_block - 1)", "too early"),
    ("check_first_block(my_first_block + 1)", "too late"),
]
PROBE = """# added by tests/test_notebooks.py (not part of the course): each exercise's check, given wrong answers;
# and whether a refusal spells out the right answer (the value the solution gave the answer's name)
import json as _json


def _forms(v):
    if callable(v) or isinstance(v, bool) or v is None:
        return []
    if isinstance(v, (tuple, list)):
        return [f for x in v for f in _forms(x)]
    if isinstance(v, float):
        forms = {{f"{{v:.1f}}", f"{{v:.2f}}", f"{{v:.3f}}", f"{{v:,.0f}}", f"{{v:.0%}}", repr(v)}}
        return [f for f in forms if len(f) >= 3]
    return [str(v)] if len(str(v)) >= 2 else []


_verdicts = []
for _expr, _answer in {exprs!r}:
    try:
        eval(_expr)
        _verdicts.append([_expr, None, []])
    except AssertionError as _e:
        _verdicts.append([_expr, str(_e), [f for f in _forms(globals().get(_answer)) if f in str(_e)]])
print("WRONG ANSWERS " + _json.dumps(_verdicts))
"""


def execute(name: str) -> dict:
    """Run a notebook as CI does, with its wrong-answer probe appended, and check the probe's verdicts."""
    import nbformat

    OUT.mkdir(parents=True, exist_ok=True)
    probes = WRONG_ANSWERS[name]
    nb = nbformat.read(paths.NOTEBOOKS / f"{name}.ipynb", as_version=4)
    answers = {ex.check: ex.answer for ex in classroom.find_exercises(nb, name)}  # check_choice → my_choice
    exprs = [(e, answers.get(e.split("(")[0], "")) for e, _ in probes]
    nb.cells.append(nbformat.v4.new_code_cell(PROBE.format(exprs=exprs), metadata={"tags": ["wrong-answer-probe"]}))
    source = OUT.parent / "notebooks-input" / f"{name}.ipynb"
    source.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, source)
    # the kernel and everything it starts (servers, llama.cpp tools), sampled while the notebook runs; and the
    # same without vLLM's server, which Binder does not install
    with measure.peak_rss(interval=0.25, include_self=False, leave_out="vllm") as peak:
        nb = pm.execute_notebook(
            source,
            OUT / f"{name}.ipynb",
            parameters=CI_PARAMETERS.get(name, {}),
            kernel_name="python3",
            cwd=str(paths.NOTEBOOKS),
            progress_bar=False,
        )
    record_peak_memory(name, peak.bytes, peak.without)
    text = outputs(nb)
    # a lesson's output is the lesson's: no library log lines, no reprs of the package's objects
    for noise in ("[INFO]", "llama_kv_cache_iswa", "PosixPath(", "RegistryEntry("):
        assert noise not in text, f"{name}: its output shows {noise!r}"
    assert plots(nb) >= 1, f"{name} shows no figure"  # a picture where a table would be dull: every notebook
    for kind, command in LITERAL_COMMANDS.get(name, []):
        assert shows_command(nb, kind, command), f"{name} never shows the command {command!r} that it teaches"
    line = next(ln for ln in text.splitlines() if ln.startswith("WRONG ANSWERS "))
    for (expr, message), (_, got, leaked) in zip(probes, json.loads(line.removeprefix("WRONG ANSWERS ")), strict=True):
        assert got is not None, f"{name}: the check accepted a wrong answer: {expr}"
        assert message in got, f"{name}: {expr} was rejected with {got!r}"
        assert not leaked, f"{name}: refusing {expr}, the check gives the answer away ({leaked}): {got!r}"
    return nb


def record_peak_memory(name: str, peak_bytes: int, without_vllm: int) -> None:
    """Binder gives a learner 2 GB: every notebook, kernel and children together, must fit (README, Binder)."""
    path = OUT.parent / "results" / "notebook_peak_memory.json"
    peaks = json.loads(path.read_text()) if path.exists() else {}
    peaks[name] = {"peak_bytes": peak_bytes, "without_vllm_bytes": without_vllm}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(peaks, indent=1, sort_keys=True))
    print(
        f"{name}: peak memory of the kernel and its children {peak_bytes / 2**30:.2f} GiB, "
        f"without vLLM's server {without_vllm / 2**30:.2f} GiB"
    )
    assert without_vllm < BINDER_MEMORY, (
        f"{name} needs {without_vllm / 2**30:.2f} GiB at its CI parameters: more than Binder's 2 GiB"
    )


def plots(nb) -> int:
    return sum("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))


def outputs(nb) -> str:
    """Every output of every cell as text. A cell's printed text is joined whole: the kernel may flush one long
    line in two stream outputs (it did with the wrong-answer probe's line)."""
    text = []
    for cell in nb.cells:
        printed = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")
        text += [printed] if printed else []
        text += [json.dumps(o["data"]) for o in cell.get("outputs", []) if "data" in o]
    return "\n".join(text)


def test_a_line_printed_in_two_flushes_is_read_whole():
    import nbformat

    cell = nbformat.v4.new_code_cell("print(long_line)")
    cell.outputs = [
        nbformat.v4.new_output("stream", text="WRONG ANSWERS [1, "),
        nbformat.v4.new_output("stream", text="2]\n"),
    ]
    nb = nbformat.v4.new_notebook(cells=[cell])
    assert "WRONG ANSWERS [1, 2]" in outputs(nb).splitlines()


def test_every_tool_the_lesson_teaches_has_a_literal_command():
    taught = {text.split()[0] for commands in LITERAL_COMMANDS.values() for _, text in commands}
    assert taught == {"convert_hf_to_gguf.py", "llama-quantize", "llama-bench", "llama-perplexity", "cmake"} | {
        "olive",
        "convert(hf_path=",
        "llama-server",
        "vllm.entrypoints.openai.api_server",
    }
    # the check itself: a command only mentioned in a comment or in markdown is not shown
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("# !llama-quantize in a comment")])
    nb.cells.append(nbformat.v4.new_markdown_cell("`llama-quantize F16 OUT TYPE`"))
    assert not shows_command(nb, "shell", "llama-quantize")
    nb.cells.append(nbformat.v4.new_code_cell("!llama-quantize {f16} {out} Q4_0"))
    assert shows_command(nb, "shell", "llama-quantize")


def test_every_notebook_has_ci_parameters_and_a_parameters_cell():
    names = sorted(p.stem for p in paths.NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    assert names and set(names) == set(CI_PARAMETERS)
    import nbformat

    for name in names:
        nb = nbformat.read(paths.NOTEBOOKS / f"{name}.ipynb", as_version=4)
        assert "parameters" in nb.cells[1].metadata.get("tags", []), name
        assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), f"{name} is saved with outputs"
        # nbformat 5.1+ wants a cell id (a future release refuses notebooks without): cells added by hand lack one
        # (read as stored: nbformat.read fills missing ids in, with only a warning)
        raw = json.loads((paths.NOTEBOOKS / f"{name}.ipynb").read_text())
        assert all(c.get("id") for c in raw["cells"]), f"{name} has cells without an id"
    # nbval's second run compares the outputs that must not change (counts and sizes computed from configs)
    checked = [
        c
        for name in names
        for c in nbformat.read(paths.NOTEBOOKS / f"{name}.ipynb", as_version=4).cells
        if "nbval-check-output" in c.metadata.get("tags", [])
    ]
    assert len(checked) >= 3
    # every exercise's check is fed wrong answers (WRONG_ANSWERS, run by execute)
    import re

    assert set(WRONG_ANSWERS) == set(names)
    for name in names:
        code = "\n".join(c.source for c in nbformat.read(paths.NOTEBOOKS / f"{name}.ipynb", as_version=4).cells)
        for check in re.findall(r"^def (check_\w+)\(", code, re.M):
            assert any(e.startswith(f"{check}(") for e, _ in WRONG_ANSWERS[name]), f"{name}: {check} is never refuted"


def test_00_start_here_checks_the_machine_and_measures_both_models():
    nb = execute("00_start_here")
    text = outputs(nb)
    results = measure.load_results("00_start_here")
    speeds = {r["model"]: r for r in results["generation"]}
    assert set(speeds) == {"gemma-3-270m", "slm-nano"}
    assert all(r["generation tokens/s"] > 0 and r["generated tokens"] > 0 for r in speeds.values())
    assert "✓ Right" in text  # the exercise's check ran on the solution
    assert plots(nb) >= 1  # the speed plot is shown inline
    assert "SIMD  " in text and "CPU   " in text  # the doctor section printed the hardware
    assert "Paris" in results["chat"]  # the instruction-tuned model answers, through its own chat template
    # why at the edge: with networking off in the kernel the hub is refused and Gemma still answers
    edge = results["edge"]
    assert "network off in this process" in edge["network"] and edge["offline answer"].strip()
    assert edge["first token s"] > 0 and edge["process bytes"] > 0
    assert (edge["joules per token"] or 0) > 0 or edge["why not"]  # measured, or why not: never made up
    # the exercises' solutions, saved with the measurements: 100 tokens at Gemma's measured speed; Qwen3-4B's speed
    # predicted from Gemma's by the bytes each token reads (its published Q4_K_M file, kept in the catalog)
    from slmlab import catalog

    ex, gemma = results["exercises"], speeds["gemma-3-270m"]
    assert ex["seconds for 100 tokens"] == pytest.approx(100 / gemma["generation tokens/s"])
    qwen = catalog.get("qwen3-4b").published["gguf_bytes"]["Q4_K_M"]
    predicted = ex["qwen3-4b Q4_K_M tokens/s predicted"]
    assert predicted == pytest.approx(gemma["generation tokens/s"] * gemma["file MB"] * 1e6 / qwen)
    assert predicted < gemma["generation tokens/s"] / 5  # a file ten times the size: a tenth of the speed
    assert set(ex["token counts"]) == {"gemma-3-270m", "slm-nano"}
    assert "✓ Right" in text and "s for 100 tokens at" in text and "tokens/s predicted for qwen3-4b" in text


def test_01_classifying_counts_estimates_and_checks_one_real_file():
    nb = execute("01_classifying_slms")
    text = outputs(nb)
    results = measure.load_results("01_classifying_slms")
    params = {r["model"]: r for r in results["parameters"]}
    assert params["qwen3-0.6b"]["params"] == 596_049_920 and params["qwen3-0.6b"]["class"] == "micro"
    assert params["qwen3-1.7b"]["params"] == 1_720_574_976 and params["qwen3-1.7b"]["class"] == "small"
    assert results["model"]["name"] == "qwen3-0.6b" and results["model"]["params"] == 596_049_920  # MODEL's own
    # the estimate, checked against one real file: Gemma 3 270M's Q4_K_M as it ships (notebook 11 checks the rest)
    real = results["real_file"]
    assert (real["model"], real["type"]) == ("gemma-3-270m", "Q4_K_M")
    assert abs(real["difference"]) < 0.02 and real["same tensor types"] is True
    assert "✓" in text and "VBox" in text  # the exercise's check passed; the explorer widget was built
    # the exercises' solutions: the MLP's share of a block = the diagram's gate + up + down over its block total;
    # Phi-4-mini's Q4_1 file by hand (Q4_1 and a Q6_K head) within 1% of llama.cpp's rules, and a one-type rule is not
    from slmlab import catalog, sizing

    ex = results["exercises"]
    assert ex["mlp share"] == pytest.approx(3 * 3072 * 1024 / 15_730_944)  # Qwen3-0.6B's block: 15,730,944
    phi = sizing.estimate_sizes(catalog.get("phi-4-mini").config, ("Q4_1",))["Q4_1"].total_bytes
    assert abs(ex["phi-4-mini Q4_1 GB"] * 1e9 / phi - 1) < 0.01
    assert catalog.parameters("phi-4-mini").total * 5 / 8 / phi < 0.99  # every weight at Q4_1's 5 bits: refused
    assert "of each block is its MLP" in text and "GB by hand; llama.cpp's rules give" in text
    assert plots(nb) >= 3  # classes, sizes, KV cache


def test_02_acquiring_offline_fails_fast_and_the_registry_catches_damage():
    nb = execute("02_acquiring_models")
    text = outputs(nb)
    results = measure.load_results("02_acquiring_models")
    assert results["online"] is False
    assert results["offline_pull"]["exit"] == 2 and results["offline_pull"]["seconds"] < 20
    assert "skipped: no network" in text and "'ok': False" in text and "matches SHA256SUMS" in text
    assert results["scratch_left"] is False  # its scratch folder (a seed pull is 1.2 GB) is removed
    # offline, the files plot shows slm-nano's folder: the model-file patterns take the weights, not the training log
    fetched = {f["file"]: f["fetched"] for f in results["fetched"]}
    assert fetched["model.safetensors"] is True and fetched["config.json"] is True
    assert fetched["training_log.json"] is False and plots(nb) >= 1
    # the exercises: the largest file of the listing is the weights; the stretch's closed-form count of Llama 3 8B's
    # parameters is the model's own (built on PyTorch's meta device), so `original/` is a second copy of the weights
    from slmlab import catalog

    assert "✓ model.safetensors: " in text
    assert f"{catalog.parameters('llama-3-8b').total:,} parameters in bfloat16" in text


def test_03_quantizing_measures_every_type_and_builds_the_blocks_by_hand():
    nb = execute("03_quantizing_with_llama_cpp")
    text = outputs(nb)
    r = measure.load_results("03_quantizing_with_llama_cpp")
    assert r["model"] == "slm-nano" and r["stand_in"] is False and "claims" not in r  # the claims are notebook 11's
    table = {row["type"]: row for row in r["table"]}
    assert set(table) == {"F16", "Q8_0", "Q5_1", "Q5_K_M", "Q4_K_M", "Q4_0", "Q2_K", "TQ2_0", "TQ1_0"}
    ppl = {t: row["perplexity"] for t, row in table.items()}
    assert abs(ppl["Q8_0"] / ppl["F16"] - 1) < 0.01 and ppl["TQ2_0"] > ppl["Q4_0"] > ppl["F16"]
    assert all(row["ppl vs F16"] == pytest.approx(row["perplexity"] / ppl["F16"] - 1) for row in table.values())
    assert all(row["tg tok/s"] > 0 and row["pp tok/s"] > 0 and row["memory MB"] > 0 for row in table.values())
    assert all(abs(row["estimated bytes"] / row["bytes"] - 1) < 0.02 for row in table.values())
    assert table["Q4_0"]["bytes"] < table["Q8_0"]["bytes"] < table["F16"]["bytes"]
    # where the memory goes: llama.cpp's own buffers, measured per file (the KV cache does not depend on the type)
    assert len({round(row["kv cache MB"], 3) for row in table.values()}) == 1
    assert all(row["weights MB"] <= row["MB"] for row in table.values())
    # built by hand in numpy, checked byte for byte: the blocks are the bytes llama-quantize wrote for that tensor
    hand = r["by_hand"]
    identical = {t: row["identical to llama-quantize's"] for t, row in hand.items()}
    assert identical == {"Q8_0": True, "Q4_0": True, "TQ2_0": True}
    assert hand["Q8_0"]["bits per weight"] == 8.5 and hand["Q4_0"]["bits per weight"] == 4.5  # the scale's half bit
    assert hand["TQ2_0"]["bits per weight"] == 2.0625  # 2 bits a weight + one float16 per 256
    # a Q4_K super-block decoded by hand (6-bit scales and minimums) = gguf-py's dequantizer, 144 bytes / 256
    sb = r["super_block"]
    assert sb["identical to gguf's dequantizer"] is True and sb["bits per weight"] == 4.5
    # five ternary digits in a byte: every one of the 3^5 groups comes back from its byte
    assert r["ternary"]["groups unpacked intact"] == 243 and r["ternary"]["TQ1_0 bits per weight"] == 1.6875
    # KL divergence from both models' logits = llama-perplexity --kl-divergence on the same positions (the tool's
    # reference log-probabilities are stored in 16 bits: 0.1%)
    kl = r["kl_by_hand"]
    assert abs(kl["by hand"] / kl["llama-perplexity"] - 1) < 0.001
    assert kl["same top token by hand"] == pytest.approx(kl["same top token, llama-perplexity"], abs=1e-4)
    # the literal commands in the cells write the bytes the cached helpers wrote
    assert r["literal"] == {"convert_hf_to_gguf.py": True, "llama-quantize": True}
    # perplexity = exp(mean NLL of the second half of the chunk), from llama.cpp's logits = llama-perplexity's
    assert abs(r["ppl_by_hand"]["difference"]) < 0.001
    assert "✓" in text and plots(nb) >= 2  # the outlier's block; size, quality, speed and memory
    # the exercises' solutions: a Q8_0 block is a float16 scale and 32 int8 numbers; an outlier 3× the largest
    # weight triples Q4_0's step, and the error measured on the figure's block lies within twice the ratio's spread
    # over the tensor's blocks (a prediction of no change would not); Q6_K from its layout = llama.cpp's table
    ex = r["exercises"]
    assert ex["q8_0 block bytes"] == 2 + 32
    out = ex["outlier"]
    assert out["predicted"] == pytest.approx(out["times"]) and out["measured"] > 1
    assert abs(out["predicted"] - out["measured"]) <= 2 * out["spread"] < out["times"] - 1
    assert ex["q6_k bits"] == 210 * 8 / 256


def test_04_judging_quantized_models_on_gemma_kl_memory_and_bandwidth():
    nb = execute("04_judging_quantized_models")
    text = outputs(nb)
    r = measure.load_results("04_judging_quantized_models")
    assert r["model"] == "gemma-3-270m"
    gemma = {row["file"]: row for row in r["gemma"]}
    assert set(gemma) == {"F16 (dequantized)", "Q4_K_M (shipped)", "Q8_0", "Q4_0", "Q2_K", "Q2_K + imatrix"}
    # block quantization of a small model: Q4_0 is barely smaller than Q4_K_M and clearly worse
    assert gemma["Q4_0"]["perplexity"] > gemma["Q4_K_M (shipped)"]["perplexity"] * 1.1
    assert gemma["Q4_0"]["MB"] < gemma["Q4_K_M (shipped)"]["MB"]
    # llama.cpp's own quality measure, against the F16 reference: fewer bits, further away
    kld = {label: row["KL divergence"] for label, row in gemma.items()}
    assert kld["F16 (dequantized)"] < 1e-4 and kld["Q8_0"] < kld["Q4_0"] < kld["Q2_K"]
    assert gemma["Q8_0"]["same top token"] > 0.95 > gemma["Q2_K"]["same top token"]
    assert kld["Q2_K + imatrix"] < 0.8 * kld["Q2_K"]  # an importance matrix spends the rounding error better
    # Q4_0's repacked weights: llama.cpp keeps a second, interleaved copy for this CPU's kernels
    assert gemma["Q4_0"]["weights repacked MB"] > gemma["Q8_0"]["weights repacked MB"]
    # the same Q4_0 recipe, measured the same way on both models: slm-nano hides what 4 bits cost, Gemma does not;
    # ternary weights on a model not trained for them
    side = {row["file"]: row for row in r["nano_vs_gemma"]}
    assert side["slm-nano Q4_0"]["KL divergence"] < 0.1 * side["gemma-3-270m Q4_0"]["KL divergence"]
    assert side["slm-nano Q4_0"]["ppl vs F16"] < 0.01 and side["gemma-3-270m Q4_0"]["ppl vs F16"] > 0.1
    assert side["slm-nano TQ2_0"]["ppl vs F16"] > 0.5
    assert r["bandwidth_bytes_per_s"] > 1e9
    # bytes read per token: every weight matrix once (the tied embedding only as the output layer; a token's
    # embedding row is negligible), so less than the file and more than the file less its embedding table
    assert all(g["bytes/token"] <= g["MB"] * 1e6 for g in r["gemma"])
    # predict, then measure: generation speed at 1 … nproc threads against the bandwidth at each; how close they
    # come depends on the machine (make bench prints it), the formula does not
    sweep = r["thread_sweep"]
    rows = {row["threads"]: row for row in sweep["rows"]}
    assert sweep["file"] == "gemma Q8_0" and min(rows) == 1 and max(rows) == len(os.sched_getaffinity(0))
    per_token = gemma["Q8_0"]["bytes/token"]
    for row in rows.values():
        assert row["measured tok/s"] > 0 and row["prompt tok/s"] > 0 and row["bandwidth GB/s"] > 1
        assert row["ceiling tok/s"] == pytest.approx(row["bandwidth GB/s"] * 1e9 / per_token)
        assert row["predicted tok/s"] == pytest.approx(sweep["share"] * row["ceiling tok/s"])
    assert "the bandwidth model" in text and "prompt processing with" in text
    assert "Paris" in text  # llama-cli, a chat program, answers with the instruction-tuned model
    assert "✓" in text and plots(nb) >= 3  # the KL front, the memory, the thread sweep
    # the exercises' solutions: the roles whose rows are a multiple of 256 are the ones that got a K-quant; the
    # file within both bounds closest to F16; the device's speed = this machine's share × its ceiling
    ex = r["exercises"]
    assert ex["k roles"] == ["attn_output", "ffn_down"]  # 4 heads × 256 and the MLP's 2048; the rest read 640
    import statistics

    # the core exercise's bounds: the median memory of the quantized files, a KL divergence of 0.05
    budget = statistics.median(g["memory MB"] for g in r["gemma"] if g["file"] != "F16 (dequantized)")
    ok = [g for g in r["gemma"] if g["KL divergence"] <= 0.05 and g["memory MB"] <= budget]
    assert ex["type"] == min(ok, key=lambda g: g["KL divergence"])["file"]
    # the file-size reading is refused: a file within the budget whose memory is not
    assert any(g["MB"] <= budget < g["memory MB"] for g in r["gemma"] if g["file"] != "F16 (dequantized)")
    shipped = gemma["Q4_K_M (shipped)"]
    from slmlab import advisor

    pi = next(d for d in advisor.edge_devices() if d.id == ex["device tokens/s"]["device"])
    share = shipped["tg tok/s"] / (r["bandwidth_bytes_per_s"] / shipped["bytes/token"])
    assert ex["device tokens/s"]["predicted"] == pytest.approx(share * pi.bandwidth_gb_s * 1e9 / shipped["bytes/token"])


def test_07_serving_one_model_measures_load_and_rejects_bad_requests():
    nb = execute("07_serving_one_model")
    text = outputs(nb)
    r = measure.load_results("07_serving_one_model")
    load = {row["slots"]: row for row in r["load"]}
    assert set(load) == {1, 4} and all(row["errors"] == 0 and row["requests"] == 32 for row in load.values())
    # predict, then measure: the prediction and the measurement are shown (how close they come is make bench's)
    assert all(row["× solo rate"] == pytest.approx(row["requests/s"] * r["alone_latency_s"]) for row in load.values())
    bad = {(row["server"], row["request"]): row["status"] for row in r["bad_requests"]}
    assert bad["llama-server", "max_tokens = -5"] == 400 and bad["llama-server", "chat without messages"] == 400
    assert bad["llama-server", "prompt longer than the context"] == 400
    assert all(status >= 400 for (server, request), status in bad.items() if request != "chat without messages")
    assert "the course serves with llama-server" in text
    assert "without the key: 401" in text and "listening on [('127.0.0.1'," in text
    assert "Paris" in r["chat"]["answer"]  # the instruction-tuned model chats
    assert "<think>\n\n</think>" in text  # Qwen3's template with thinking switched off
    fl = r["foundry_local"]  # Olive's INT4 folder, registered and answered in process
    assert fl["answer"].strip() and fl["tokens"] > 0
    # batching's ceiling on a CPU: prompt tokens/s at N ÷ generation tokens/s, never more than N
    assert 0 < r["batching"]["gain at most"] <= r["batching"]["slots"]
    assert plots(nb) >= 1  # slots: requests/s and latency
    # the exercises: the solutions pass their checks
    assert "✓ the server that requires a key answered" in text and " slot(s): p95 " in text


def test_08_serving_many_requests_puts_vllm_beside_llama_server_and_pages_the_kv_cache():
    nb = execute("08_serving_many_requests")
    text = outputs(nb)
    r = measure.load_results("08_serving_many_requests")
    # llama-server and vLLM (its CPU backend) under the same load, on the same 16-bit weights
    engines = {(row["engine"], row["clients"]): row for row in r["engines"]}
    assert set(engines) == {(e, c) for e in ("llama-server", "vLLM") for c in (1, 4, 16)}
    assert all(row["errors"] == 0 and row["tokens/s"] > 0 for row in engines.values())
    kv = {row["engine"]: row for row in r["kv_cache"]}
    assert kv["llama-server"]["sequences that fit"] == 16  # its slots, fixed at start
    assert kv["vLLM"]["sequences that fit"] > 16  # paged blocks from a budget: more short sequences fit
    # a shared system prompt: with llama-server's cache on, later requests reuse its tokens; off, each pays it
    # again (counted by the server; the time it saves is make bench's)
    prefix = [row for row in r["prefix_cache"] if row["engine"] == "llama-server"]
    on = [row for row in prefix if row["prefix cache"] == "on"]
    off = [row for row in prefix if row["prefix cache"] == "off"]
    assert len(on) == len(off) == 4 and on[0]["cached tokens"] == 0
    assert all(row["cached tokens"] > row["prompt tokens"] / 2 for row in on[1:])
    assert all(row["cached tokens"] == 0 for row in off)
    assert "vLLM's counters (GET /metrics): " in text  # vLLM's prefix-cache hits, read back
    spec = {(row["engine"], row["speculation"], row["prompt"]): row for row in r["speculation"]}
    # n-gram drafts come from text repeated in the context: an answer that copies its prompt has them at once (a
    # free text may not repeat itself within CI's 32 tokens); with speculation off nothing is drafted
    assert len(spec) == 8 and all(spec[e, "n-gram", "copy code"]["drafted"] > 0 for e in ("llama-server", "vLLM"))
    assert all(row["drafted"] == 0 for key, row in spec.items() if key[1] == "off")
    # n-gram drafts match when the answer copies its prompt: vLLM accepts more of them there (greedy: the same
    # tokens every run)
    assert spec["vLLM", "n-gram", "copy code"]["acceptance"] > spec["vLLM", "n-gram", "free text"]["acceptance"]
    assert "n-gram speculation" in text  # the verdict, from this machine's speed-ups
    # by hand: attention over cached keys and values = recomputing them all
    assert r["kv_by_hand"]["largest difference"] < 1e-12
    # KV bytes per token from the config = what llama-server reserved (its MiB printed to 2 decimals) and, within
    # one block of 16 tokens of its budget, what vLLM did
    check = {row["engine"]: row["reported ÷ config"] for row in r["kv_check"]}
    assert check["llama-server"] == pytest.approx(1, abs=0.005) and check["vLLM"] == pytest.approx(1, abs=0.01)
    # the block table: contiguous reservation fits exactly what vLLM reported; 16-token blocks fit more
    paging = r["paging"]
    assert paging["contiguous sequences"] == int(kv["vLLM"]["sequences that fit"])
    assert paging["paged sequences"] > paging["contiguous sequences"] and paging["unused in last blocks"] < 0.5
    assert plots(nb) >= 4  # engines, KV arithmetic, speculation, tokens per check
    # the exercises: Qwen3-0.6B's KV bytes per token from its config = what llama-server reserved for the 2-block
    # stand-in, per block (logged in MiB with 2 decimals); the solutions pass their checks
    from slmlab import catalog, sizing

    qwen3, q = catalog.get("qwen3-0.6b").config, r["qwen_kv"]
    per_block = q["reserved MB"] * 1e6 / q["tokens held"] / 2
    rel = 0.005 * 2**20 / (q["reserved MB"] * 1e6)
    assert per_block * qwen3["num_hidden_layers"] == pytest.approx(sizing.kv_cache(qwen3, 1).per_token_bytes, rel=rel)
    assert "bytes per token: llama-server reserved" in text and "sequences of 100 tokens, 7 blocks each" in text
    assert " for a client alone, against " in text  # the warm-up's solution: the engine that answers one client sooner


def test_05_olive_builds_int8_and_int4_that_agree_with_torch():
    nb = execute("05_optimizing_with_olive")
    r = measure.load_results("05_optimizing_with_olive")
    built = {m["precision"]: m for m in r["models"]}
    assert "MatMulInteger" in built["int8"]["quantized_ops"] and "MatMulNBits" in built["int4"]["quantized_ops"]
    assert built["int8"]["size_bytes"] < built["fp32"]["size_bytes"] / 3
    q = {row["runtime"]: row for row in r["quality"]}
    assert q["ONNX fp32"]["argmax_agreement"] == 1.0 and q["ONNX fp32"]["max_abs_logit_diff"] < 1e-3
    assert q["ONNX int8"]["argmax_agreement"] >= 0.85 and q["ONNX int4"]["argmax_agreement"] >= 0.85
    # the model was exported once: the INT8 models were quantized from the fp32 one, each step within its prediction
    assert r["route"] == "export" and all(m["peak_bytes"] <= 1.15 * m["predicted_peak_bytes"] for m in r["models"])
    # INT4 is larger than INT8 because of what neither quantizes: the float32 embedding table
    int4 = built["int4"]["bytes_by_role"]
    assert int4["token embedding"] > int4["other matrices"]
    assert "QuantizeLinear" in built["int8-static"]["quantized_ops"]
    assert q["ONNX int8-static"]["argmax_agreement"] >= 0.85
    # the naive static recipe (every operator quantized) is shown failing, with the number
    assert q["ONNX int8-static, every operator"]["perplexity"] > 2 * q["PyTorch fp32"]["perplexity"]
    assert r["genai_int4_tokens_per_s"] > 0 and "✓" in outputs(nb)
    # the INT8 workflow, saved as JSON and run by Olive's own `olive run --config FILE`, makes the same file
    assert r["cli"]["command"][:3] == ["olive", "run", "--config"] and r["cli"]["identical"]
    # one INT8 MatMul by hand in numpy equals onnxruntime's DynamicQuantizeLinear + MatMulInteger, integers bit for bit
    h = r["by_hand"]
    assert h["activation_identical"] and h["int32_identical"] and h["weights_identical"] and h["identical"]
    assert h["max_abs_diff"] <= 1e-6 * h["max_abs_output"] and 0 < h["int8_vs_float32_relative_error"] < 0.05
    # the graph optimizer fused the RMS norms: fewer nodes, ReduceMean gone, the fused operator new
    ops = r["op_counts"]
    assert sum(ops["optimized"].values()) < sum(ops["exported"].values())
    assert ops["exported"]["ReduceMean"] > 0 and ops["optimized"]["ReduceMean"] == 0
    fused = "SkipSimplifiedLayerNormalization"
    assert ops["optimized"][fused] > 0 and ops["exported"][fused] == 0
    # each file's tensors by element type plus its graph, measured apart, add up to the file's size within 1%
    for m in r["models"]:
        assert abs(sum(m["bytes_by_dtype"].values()) - m["size_bytes"]) <= 0.01 * m["size_bytes"], m["precision"]
    assert built["int4"]["bytes_by_dtype"]["float32"] > built["int8"]["bytes_by_dtype"].get("float32", 0)
    # three exercises, a tier each, every solution accepted by its check (the notebook ran to its end)
    checks = [ex.check for ex in classroom.find_exercises(nb, "05_optimizing_with_olive")]
    assert checks == ["check_pick", "check_uint8", "check_int4_saving"]
    assert "onnxruntime's DynamicQuantizeLinear gives the same codes" in outputs(nb)


def test_06_mlx_quantizes_generates_and_joins_the_cross_toolchain_table():
    nb = execute("06_running_with_mlx")
    r = measure.load_results("06_running_with_mlx")
    mlx = {m["model"]: m for m in r["mlx"]}
    assert mlx["4-bit"]["size_bytes"] < mlx["8-bit"]["size_bytes"] < mlx["float16"]["size_bytes"]
    assert abs(mlx["bfloat16"]["size_bytes"] - mlx["float16"]["size_bytes"]) < 0.01 * mlx["float16"]["size_bytes"]
    assert 4.5 < mlx["4-bit"]["bits_per_weight"] < 5.5  # 4 bits + a scale and a bias per 64 weights + the norms
    # MLX in one screen: NumPy views an MLX array's buffer, no copy (a write through the view is seen by MLX)
    assert r["mlx_basics"]["numpy_view_shares_memory"] is True
    # the by-hand affine recipe is mx.quantize's, bit for bit: codes, scales, biases; mx.dequantize gives back ŵ
    h = r["by_hand"]
    assert h["groups"] > 0 and h["packed_identical"] and h["scales_identical"] and h["biases_identical"]
    assert h["dequantized_max_abs_diff"] == 0.0  # float32 scale · q + bias on both sides
    assert h["zero_gap_in_steps"] < 1e-4  # MLX's adjusted scale puts 0 on a level (to float rounding)
    # past half a step only where the far edge was clipped (code 15), and never past a whole step
    assert 0 < h["groups_over_half_step"] < 1 and h["over_half_step_at_code_15"] is True
    assert h["max_error_in_half_steps"] <= 2 + 1e-3
    # the literal mlx_lm.convert call writes the wrapper's tensors, and section 2's arrays for the matrix by hand
    assert r["literal_call"] == {"same_as_wrapper": True, "matches_by_hand": True}
    for name, bits in (("4-bit", 4), ("8-bit", 8)):
        b = r["bits_per_weight_check"][name]
        width = {"float32": 4, "float16": 2, "bfloat16": 2}[b["scale dtype"]]
        assert b["formula"] == bits + 8 * 2 * width / 64 and abs(b["from the bytes"] - b["formula"]) < 1e-9
        assert b["from the bytes"] < b["whole file"] == mlx[name]["bits_per_weight"]  # the file adds the norms
    assert all(m["text"].strip() and m["tokens_per_s"] > 0 for m in mlx.values())
    runtimes = {row["runtime"] for row in r["toolchains"]}
    assert {
        "llama.cpp Q8_0",
        "llama.cpp Q4_0",
        "ONNX int8",
        "ONNX int4",
        "MLX bfloat16",
        "MLX 4-bit",
        "MLX 8-bit",
    } <= runtimes
    assert all(row["argmax agreement"] >= 0.85 for row in r["toolchains"]) and "✓" in outputs(nb)
    # three exercises, a tier each, every solution accepted by its check (the notebook ran to its end)
    checks = [ex.check for ex in classroom.find_exercises(nb, "06_running_with_mlx")]
    assert checks == ["check_answer", "check_codes", "check_group32"]
    assert "codes are mx.quantize's" in outputs(nb)


def test_09_advises_within_the_device_and_runs_the_security_checklist():
    nb = execute("09_choosing_a_model")
    text = outputs(nb)
    r = measure.load_results("09_choosing_a_model")
    assert r["recommendations"] and all(x["memory_gb"] <= r["device_gb"] for x in r["recommendations"])
    small, big = r["for_2_and_8_gb"]["2"], r["for_2_and_8_gb"]["8"]
    # each fits its device; a larger device never gets only smaller models
    assert all(x["memory_gb"] <= 2 for x in small) and all(x["memory_gb"] <= 8 for x in big)
    assert max(x["memory_gb"] for x in big) >= max(x["memory_gb"] for x in small)
    # five checks the code ran (slmlab.security): the file's digest, three on the server, generating offline
    assert len(r["security"]) == 5 and all(row["passed"] == "✓" for row in r["security"])
    assert "llama.cpp (GGUF)" in text and "runs_here" in text  # what each runtime needs, against this machine
    seeds = {(c["seed (stand-in)"], c["type"]) for c in r["seed_checks"]}
    assert not any(c["whole model"] for c in r["seed_checks"])  # 2 blocks: their speed must not replace a prediction
    assert seeds == {("qwen3-0.6b", "Q8_0"), ("qwen3-0.6b", "Q4_K_M")}
    assert len(r["speed_model"]["efficiency"]) >= 5  # one efficiency per type notebooks 03 and 04 measured
    assert "✓ predicted" in text and "VBox" in text
    # the rule written out in the notebook gives the package's picks (the widget's and notebook 10's), within its
    # three limits, the largest model first
    from slmlab import advisor

    need, recs = r["need"], r["recommendations"]
    assert r["same_as_package"] is True and r["candidates"] > r["kept"] >= len(recs)
    assert all(x["memory_gb"] <= r["device_gb"] * (1 - advisor.OS_RESERVE) for x in recs)
    assert all(x["tokens_per_s"] >= need["min_tokens_per_s"] * x["language_ratio"] for x in recs)
    assert all(x["ppl_increase"] <= need["max_ppl_increase"] for x in recs)
    assert [x["params"] for x in recs] == sorted((x["params"] for x in recs), reverse=True)
    # the runtime column comes from the runtimes measured here: llama.cpp, or one measured faster at that width
    runtimes = r["runtimes"]
    assert all(s["ratio"] is None or s["ratio"] == s["tokens_per_s"] / s["reference_tokens_per_s"] for s in runtimes)
    faster = {s["runtime"] for s in runtimes if (s["ratio"] or 0) > 1}
    assert all(x["runtime"] in {"llama.cpp"} | faster for x in recs + r["for_2_and_8_gb"]["8"])
    assert all(f"{name}: no results saved yet" in text for name in r["missing_results"])  # said, not hidden
    assert plots(nb) >= 1  # the feasible region
    # the exercises' solutions pass their checks: the headroom read from the picks, the rule with its keys swapped
    assert "GB left after the reserve" in text and "size first, the same 4 GB device gets" in text
    # four real devices, each bandwidth from its memory's spec with the source named, asked the same need
    edge = {row["device"]: row for row in r["edge_devices"]}
    assert len(edge) == 4 and all(row["source"] and row["peak GB/s"] > 10 for row in edge.values())


def test_10_counts_every_language_on_every_tokenizer_and_judges_qwen3_for_multilingual_use():
    nb = execute("10_what_your_language_costs")
    text = outputs(nb)
    r = measure.load_results("10_what_your_language_costs")
    counts = {(row["tokenizer"], row["language"]): row for row in r["tokens"]}
    ratio = {tuple(k.split("/")): v for k, v in r["ratio_to_english"].items()}
    tokenizers = {"qwen3", "llama3", "gemma3", "phi4-mini", "smollm2", "gpt2"}
    assert {t for t, _ in counts} == tokenizers and len({c for _, c in counts}) == 10
    # what follows from the vocabularies (deterministic): every tokenizer pays more for Punjabi than for English;
    # the two with pieces for Gurmukhi (Gemma 3's SentencePiece, o200k) pay far less than the byte-level rest
    assert all(ratio[t, "en"] == 1 and ratio[t, "pa"] > 1 for t in tokenizers)
    assert max(ratio[t, "pa"] for t in ("gemma3", "phi4-mini")) < 0.5 * min(ratio[t, "pa"] for t in ("qwen3", "llama3"))
    assert counts["gemma3", "pa"]["partial_tokens"] == 0 < counts["qwen3", "pa"]["partial_tokens"]
    assert ratio["gpt2", "vi"] > ratio["qwen3", "vi"]  # GPT-2's English-only merges split Vietnamese's diacritics
    # measured for the same content: more tokens, a longer prompt and a larger KV cache (the formula, checked)
    prompt = {(row["model"], row["language"]): row for row in r["prompt"]}
    assert set(prompt) == {(m, c) for m in ("gemma-3-270m", "qwen3-0.6b-2l-standin") for c in ("en", "pa", "vi")}
    assert all(row["seconds"] > 0 for row in prompt.values())
    # the model's own tokenizer (inside its GGUF) cuts the same pieces as the vocabulary file; a BOS at most added
    assert prompt["qwen3-0.6b-2l-standin", "pa"]["tokens"] - counts["qwen3", "pa"]["tokens"] in (0, 1)
    assert prompt["gemma-3-270m", "pa"]["tokens"] - counts["gemma3", "pa"]["tokens"] in (0, 1)
    kv = {(row["model"], row["language"]): row["KV MiB"] for row in r["kv"]}
    assert kv["qwen3-0.6b-2l-standin", "pa"] > kv["qwen3-0.6b-2l-standin", "vi"] > kv["qwen3-0.6b-2l-standin", "en"]
    assert abs(r["kv_check"]["formula"] / r["kv_check"]["allocated"] - 1) < 0.001  # 01's formula, llama.cpp's buffer
    verdicts = {row["language"]: row["verdict"] for row in r["claims"]}
    assert verdicts["Punjabi"].startswith("does not hold") and "Qwen3 series for multilingual" in text
    assert "✓" in text and plots(nb) >= 2  # the heat map and the prompt times
    # three exercises, each with its own solution (classroom grades each), every solution accepted by its check
    checks = [ex.check for ex in classroom.find_exercises(nb, "10_what_your_language_costs")]
    assert checks == ["check_fewest", "check_words", "check_kv"]
    assert "Punjabi tokens against" in text


def test_11_gives_every_claim_of_the_lesson_a_verdict():
    nb = execute("11_the_lessons_claims_judged")
    r = measure.load_results("11_the_lessons_claims_judged")
    from slmlab import tokens

    summary = {row["id"]: row["verdicts"] for row in r["summary"]}
    assert {c["id"] for c in tokens.lesson_claims()} <= set(summary)  # every claim in data/lesson_claims.json
    assert not any("not judged" in v for v in summary.values())  # 03, 04 and 10 ran before: read, not guessed
    # the size estimates, checked against files llama-quantize wrote in this run and Gemma's as it ships
    assert {(x["model"], x["type"]) for x in r["estimate_check"]} >= {
        ("slm-nano", "Q4_0"),
        ("slm-nano", "Q8_0"),
        ("gemma-3-270m", "Q4_K_M"),
    }
    assert all(abs(x["difference"]) < 0.02 and x["same tensor types"] for x in r["estimate_check"])
    # every seed architecture, as a 2-block stand-in through the real converter and llama-quantize
    seeds = r["seed_architectures"]
    assert {x["architecture"] for x in seeds} == {"qwen3", "gemma3_text", "llama", "phi3"}
    assert all(abs(x["difference"]) < 0.005 and x["same tensor types"] for x in seeds)
    assert "Can not map tensor" in r["converter_refused"]["bitnet-b1.58-2b"]
    # the KV-cache and compute-buffer estimates agree with what llama.cpp allocates
    assert all(abs(b["difference"]) < 0.02 for b in r["buffers"])
    # and at long contexts: llama.cpp's allocation follows the formula (window + one batch for sliding layers)
    kv = {
        (x["cache"].split(",")[0] + (" full" if "full size" in x["cache"] else ""), x["context"]): x
        for x in r["kv_vs_context"]
    }
    assert all(abs(x["difference"]) < 0.01 for x in kv.values())
    full, limited, q8 = kv[("F16 full", 32768)], kv[("F16", 32768)], kv[("q8_0 cache", 32768)]
    assert full["llama.cpp MiB"] > 4 * limited["llama.cpp MiB"]  # sliding windows pay at 32k tokens
    assert 0.5 < q8["llama.cpp MiB"] / limited["llama.cpp MiB"] < 0.55  # 8.5 bits of 16
    # the size claims, computed from the configs
    verdicts = {x["verdict"].split(":")[0] for x in r["claims"]}
    assert "impossible" in verdicts and "holds" in verdicts  # Q5_1 "70%" cannot be; Qwen3-0.6B "under 1 GB" is
    by_case = {(x["claim"], x["case"]): x["verdict"] for x in r["claims"]}
    assert by_case[("Phi-4-mini: 7.6 GB (F16)", "phi-4-mini F16")] == "holds"  # 7.68 GB from its config
    assert by_case[("Phi-4-mini: 2.0 GB (Q4_0)", "phi-4-mini Q4_0")] == "does not hold"  # 2.32 GB computed
    gemma = [v for (claim, _), v in by_case.items() if claim.startswith("Gemma3: 4.8 GB")]
    assert gemma and all(v == "does not hold" for v in gemma)  # no Gemma 3 is 4.8 GB in F16
    # the quantization claims, on the files notebook 03 measured (slm-nano) and notebook 04's Gemma 3 270M
    q = {(x["claim"], x["case"]): x["verdict"] for x in r["quantization_claims"]}
    assert q["Q5_1 reduces size by about 70%", "slm-nano"].startswith("impossible")  # 6 bits of 16 cannot save 70%
    assert q["Q4_0 reduces size by about 75%", "slm-nano"].startswith("does not hold")
    assert q["Q8_0 reduces size by about 50%", "slm-nano"] == "holds"
    assert q["Q8_0 keeps almost original quality", "gemma-3-270m"] == "holds"  # the same top token ≥ 95% of the time
    # the guidelines notebook 09's advisor follows: Phi-4-mini and Qwen3-4B are small by the lesson's own bounds
    g = {x["claim"]: x["verdict"] for x in r["guidelines"]}
    medium = g["Phi-4-mini and Qwen3-4B are 'medium' SLMs"]
    assert medium.startswith("does not hold") and medium.endswith("they are small and small")
    assert g["Qwen3-0.6B for ultra-lightweight mobile apps"].startswith("holds: on a 2 GB phone")
    # measured: Gemma 3's residual stream outgrows float16's 65,504 and, in float16, the answer is lost
    f = r["float16"]
    assert f["largest value"] > 65504 and f["blocks finite in float16"] < f["blocks"]
    assert f["answer float16"] != f["answer bfloat16"]
    assert r["bitnet_bits"] == {"TQ1_0": 1.6875, "TQ2_0": 2.0625}  # gguf's table: 54 and 66 bytes per 256
    verdict = {row["id"]: row["verdict"] for row in r["verdicts"]}
    assert verdict["foundry-local-enterprise-security"].startswith("not found in foundry-local-sdk")
    assert plots(nb) >= 2
