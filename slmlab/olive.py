"""Microsoft Olive: HF model → ONNX → optimized → quantized, from a config the learner can read.

`workflow_config` builds the Olive config as plain data (a dict you can print, save as JSON and run with
`olive run --config FILE`); `run` runs it through `olive.workflows.run` and handles Olive's traps:
* it can finish "successfully" without an output model — we check the file exists and say so;
* it caches runs, failures included — every run gets its own fresh cache folder;
* its telemetry waits on the network — we run it with `CI=true`, which switches it off;
* it and the exporters it drives print pages of warnings and progress bars — `run` sends all of that to a
  log file (`olive.log` beside the model) and shows one progress bar over the workflow's passes instead.
"""

from __future__ import annotations

import collections
import contextlib
import os
import re
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from slmlab import models, paths, quiet
from slmlab.errors import SlmlabError

PRECISIONS = ("fp32", "int8", "int8-static", "int4")
ROUTES = ("export", "builder")  # how the float32 ONNX model is made: torch's dynamo exporter, or ModelBuilder
CALIBRATION_SCRIPT = Path(__file__).with_name("olive_calibration.py")

# Peak resident memory of an Olive step ≈ BASE + FACTOR × the model's float32 weights, measured here with
# `measure.peak_rss` around each run (notebook 05 prints predicted against measured for every run). Measured:
# the dynamo export of a 2-block Qwen3 stand-in (0.75 GB of float32 weights) 10.7 GB, of Gemma 3 270M (1.07 GB)
# 21 GB; on the full Qwen3-0.6B stand-in (2.38 GB): ModelBuilder fp32 5.7 GB, ModelBuilder INT4 10.7–13.5 GB,
# dynamic INT8 of the builder's fp32 model 12.8–16.0 GB (the highest of the runs counts).
PEAK_MODEL = {"export": (2.0e9, 18.0), "builder": (2.0e9, 1.6), "int4": (2.0e9, 5.0), "quantize": (1.0e9, 6.5)}


def step(precision: str, route: str, base: str | Path | None) -> str:
    """Which measured step a run is, for the memory model: an export, a build, an INT4 build or a quantization."""
    if precision == "int4":
        return "int4"
    if precision in ("int8", "int8-static") and base is not None:
        return "quantize"
    return route


def float32_bytes(model_dir: str | Path) -> int:
    return 4 * models.parameter_count(Path(model_dir))


def memory_needed(model_dir: str | Path, step: str) -> int:
    """Predicted peak resident memory of a step ("export", "builder", "int4" or "quantize")."""
    base, factor = PEAK_MODEL[step]
    return int(base + factor * float32_bytes(model_dir))


def available_memory() -> int:
    import psutil

    return psutil.virtual_memory().available


def choose_route(model_dir: str | Path) -> str:
    """The dynamo export where it fits in the memory available now (its graph can be calibrated for static INT8),
    else ModelBuilder, which reads the weights itself and needs a fraction of the memory."""
    return "export" if memory_needed(model_dir, "export") <= available_memory() else "builder"


def preflight(model_dir: str | Path, step: str) -> None:
    """Refuse a step that would not fit in the memory available now — before it starts, saying what would fit."""
    need, have = memory_needed(model_dir, step), available_memory()
    if need <= have:
        return
    fits = [s for s in PEAK_MODEL if memory_needed(model_dir, s) <= have]
    advice = (
        f"what fits here: {', '.join(fits)}"
        if fits
        else "nothing fits: build fewer blocks (slmlab shape SEED --layers N) or use a machine with more memory"
    )
    raise SlmlabError(
        f"Olive's {step} step needs about {need / 1e9:.1f} GB for {Path(model_dir).name} "
        f"({float32_bytes(model_dir) / 1e9:.1f} GB of float32 weights); {have / 1e9:.1f} GB are "
        f"available. {advice}"
    )


def optimizer_model_type(model_dir: str | Path) -> str:
    """onnxruntime's transformer optimizer has no "llama": its decoder fusions (RMSNorm, attention, rotary) are the
    GPT-2 class, which it also uses for "qwen3"."""
    import json

    model_type = json.loads((Path(model_dir) / "config.json").read_text()).get("model_type", "")
    return "qwen3" if model_type == "qwen3" else "gpt2"


def workflow_config(
    model_dir: str | Path,
    precision: str,
    output_dir: str | Path,
    cache_dir: str | Path,
    *,
    route: str = "export",
    base: str | Path | None = None,
    optimize_graph: bool = True,
    calibration_samples: int = 16,
    quantize_options: dict | None = None,
) -> dict:
    """The Olive workflow for a precision:
    fp32 — route "export": OnnxConversion (dynamo exporter) → OrtTransformersOptimization (fused operators);
           route "builder": ModelBuilder (onnxruntime-genai's builder) in float32;
    int8 — OnnxDynamicQuantization of the fp32 model `base` (weights INT8, activations quantized on the fly);
    int8-static — OnnxStaticQuantization of `base` (QDQ: weights and activations INT8, activation scales fixed
        ahead of time from a calibration set cut from local text, see `olive_calibration`);
    int4 — ModelBuilder (INT4 weights, ready for onnxruntime-genai and Foundry Local).
    The INT8 workflows start from the fp32 model, so a model is exported once for every precision."""
    if precision not in PRECISIONS:
        raise SlmlabError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    if route not in ROUTES:
        raise SlmlabError(f"unknown route {route!r}; choose one of {', '.join(ROUTES)}")
    data_configs: list[dict] = []
    # a Hugging Face model is exported in float32 whatever its checkpoint's dtype: a bfloat16 graph has nodes
    # onnxruntime's CPU provider cannot run ("Could not find an implementation for Mul(14)")
    hf_model = {
        "type": "HfModel",
        "model_path": str(model_dir),
        "task": "text-generation",
        "load_kwargs": {"torch_dtype": "float32"},
    }
    if precision == "int4" or (precision == "fp32" and route == "builder"):
        passes = {"builder": {"type": "ModelBuilder", "precision": precision}}
        model = {"type": "HfModel", "model_path": str(model_dir)}
    elif precision == "fp32":
        # the torchscript exporter fails with transformers 5; the dynamo exporter works
        passes = {"conversion": {"type": "OnnxConversion", "use_dynamo_exporter": True, "target_opset": 18}}
        if optimize_graph:
            passes["optimize"] = {"type": "OrtTransformersOptimization", "model_type": optimizer_model_type(model_dir)}
        model = hf_model
    else:
        if base is None:
            raise SlmlabError(f"{precision} quantizes an fp32 ONNX model: give its folder as `base`")
        model = {"type": "ONNXModel", "model_path": str(base), "onnx_file_name": "model.onnx"}
        if precision == "int8":
            passes = {"quantize": {"type": "OnnxDynamicQuantization"}}
        else:
            if (Path(base) / "genai_config.json").is_file():
                raise SlmlabError(
                    "static INT8 calibrates a graph without KV-cache inputs, which only the export "
                    "route makes; this model's fp32 base came from ModelBuilder (the export did not "
                    "fit in memory): use int8 (dynamic) or int4"
                )
            # only the matrix products and the embedding lookup: quantizing every operator's output (norms,
            # softmax, the residual stream) with one fixed scale each breaks a language model (notebook 05)
            passes = {
                "quantize": {
                    "type": "OnnxStaticQuantization",
                    "quant_format": "QDQ",
                    "precision": "int8",
                    "activation_type": "int8",
                    "calibrate_method": "MinMax",
                    "data_config": "calibration",
                    "op_types_to_quantize": ["MatMul", "Gather"],
                }
            }
            data_configs.append(
                {
                    "name": "calibration",
                    "user_script": str(CALIBRATION_SCRIPT),
                    "load_dataset_config": {
                        "type": "slmlab_calibration",
                        "params": {"model_path": str(model_dir), "samples": calibration_samples},
                    },
                }
            )
    config = {
        "input_model": model,
        "systems": {
            "local_system": {
                "type": "LocalSystem",
                "accelerators": [{"device": "cpu", "execution_providers": ["CPUExecutionProvider"]}],
            }
        },
        "passes": passes,
        "host": "local_system",
        "target": "local_system",
        "cache_dir": str(cache_dir),
        "output_dir": str(output_dir),
        "log_severity_level": 1,
    }
    if data_configs:
        config["data_configs"] = data_configs
    if quantize_options:
        if "quantize" not in passes:
            raise SlmlabError(f"precision {precision!r} has no quantization pass to give options to")
        passes["quantize"].update(quantize_options)
    return config


@dataclass
class OliveResult:
    precision: str
    folder: Path
    model: Path
    size_bytes: int
    seconds: float
    ops: dict[str, int]
    pass_seconds: dict[str, float] = field(default_factory=dict)  # from Olive's log: where the time went
    log: Path | None = None
    route: str = "export"
    peak_bytes: int = 0  # resident memory at the peak of the run, measured
    predicted_peak_bytes: int = 0  # what the preflight predicted

    @property
    def quantized_ops(self) -> dict[str, int]:
        return {
            k: v
            for k, v in self.ops.items()
            if k
            in (
                "MatMulInteger",
                "MatMulNBits",
                "DynamicQuantizeLinear",
                "QLinearMatMul",
                "QuantizeLinear",
                "DequantizeLinear",
            )
        }


@contextlib.contextmanager
def _telemetry_off():
    old = os.environ.get("CI")
    os.environ["CI"] = "true"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("CI", None)
        else:
            os.environ["CI"] = old


@contextlib.contextmanager
def _rope_fields_for_model_builder():
    """onnxruntime-genai 0.14's model builder reads RoPE bases the transformers 4 way (`config.rope_theta`,
    and `config.rope_local_base_freq` for Gemma 3); transformers 5 keeps them only in `config.rope_parameters`.
    Without this the builder fails on Gemma 3 — and on models without a local base it would fall back to
    θ = 10,000 silently. While the builder runs, its config gets both spellings, with the same values."""
    from onnxruntime_genai.models import builder

    original = builder.AutoConfig

    class AutoConfigWithRopeFields:
        @staticmethod
        def from_pretrained(*args, **kwargs):
            config = original.from_pretrained(*args, **kwargs)
            for c in (config, getattr(config, "text_config", None)):
                rope = getattr(c, "rope_parameters", None) or {}
                if "full_attention" in rope and "sliding_attention" in rope:
                    c.rope_theta = rope["full_attention"]["rope_theta"]
                    c.rope_local_base_freq = rope["sliding_attention"]["rope_theta"]
                elif "rope_theta" in rope and getattr(c, "rope_theta", None) is None:
                    c.rope_theta = rope["rope_theta"]
            return config

    builder.AutoConfig = AutoConfigWithRopeFields
    try:
        yield
    finally:
        builder.AutoConfig = original


PASS_STARTED = re.compile(r"Running pass (\S+?):")
PASS_FINISHED = re.compile(r"Pass (\S+?):\S+ finished in ([\d.]+) seconds")


def pass_seconds(log_text: str) -> dict[str, float]:
    """Seconds per pass, as Olive logs them ("Pass conversion:onnxconversion finished in 6.3 seconds")."""
    return {name: float(s) for name, s in PASS_FINISHED.findall(log_text)}


@contextlib.contextmanager
def _pass_progress(log_path: Path, passes: list[str], desc: str):
    """A progress bar over the workflow's passes, advanced by reading Olive's log while it runs."""
    from tqdm.auto import tqdm

    console = os.fdopen(os.dup(2), "w", buffering=1)  # the terminal, still, while fd 2 goes to the log
    bar = tqdm(total=len(passes), desc=desc, unit="pass", leave=False, file=console)
    done = threading.Event()

    def follow():
        while not done.wait(0.5):
            text = log_path.read_text(errors="replace") if log_path.exists() else ""
            started, finished = PASS_STARTED.findall(text), PASS_FINISHED.findall(text)
            bar.n = len(finished)
            bar.set_postfix_str(started[-1] if len(started) > len(finished) else "", refresh=True)

    watcher = threading.Thread(target=follow, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()
        bar.close()
        console.close()


def run(config: dict, log: str | Path | None = None, progress: bool = True, desc: str | None = None) -> Path:
    """Run an Olive workflow with a fresh cache; return the output model file or raise a clear error.

    What Olive and the exporters print goes to `log` (default: `olive.log` beside the output folder);
    the error, when there is one, quotes its end."""
    from olive.workflows import run as olive_run

    out = Path(config["output_dir"])
    log_path = Path(log) if log else out.parent / "olive.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    failure = None
    with contextlib.ExitStack() as stack:
        stack.enter_context(quiet.root_logger_kept())
        log_file = stack.enter_context(open(log_path, "w", buffering=1))
        if progress:
            stack.enter_context(_pass_progress(log_path, list(config["passes"]), desc or "olive"))
        stack.enter_context(quiet.all_output_to(log_file))
        stack.enter_context(quiet.transformers_quiet())
        stack.enter_context(_telemetry_off())
        if any(p["type"] == "ModelBuilder" for p in config["passes"].values()):
            stack.enter_context(_rope_fields_for_model_builder())
        try:
            olive_run(config)
        except Exception as e:  # reported below, once the console is back
            failure = e
    model = out / "model.onnx"
    if failure is not None or not model.is_file():
        tail = "\n".join(log_path.read_text(errors="replace").strip().splitlines()[-12:])
        what = (
            f"failed: {type(failure).__name__}: {failure}"
            if failure
            else "finished without an output model (Olive reports 'No output model produced' when a pass fails)"
        )
        raise SlmlabError(f"Olive {what}\nits log, {log_path}, ends with:\n{tail}") from failure
    return model


def command(config_file: str | Path) -> list[str]:
    """Olive's own command line for a workflow saved as JSON: `olive run --config FILE`."""
    return ["olive", "run", "--config", str(config_file)]


def run_command(config_file: str | Path, log: str | Path | None = None) -> Path:
    """Run `command(config_file)` as a terminal would — a separate process, this environment's `olive` — with a
    fresh cache and telemetry off; what it prints goes to `log` (default: `olive.log` beside the output folder).
    Return the output model file, or raise with the end of the log."""
    import json
    import subprocess
    import sys

    config = json.loads(Path(config_file).read_text())
    out, cache = Path(config["output_dir"]), Path(config["cache_dir"])
    log_path = Path(log) if log else out.parent / "olive.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(cache, ignore_errors=True)  # Olive caches failed runs too
    argv = command(config_file)
    beside = Path(sys.executable).with_name("olive.exe" if os.name == "nt" else "olive")
    argv[0] = str(beside) if beside.is_file() else shutil.which("olive") or "olive"
    with open(log_path, "w") as log_file:
        done = subprocess.run(argv, stdout=log_file, stderr=subprocess.STDOUT, env={**os.environ, "CI": "true"})
    shutil.rmtree(cache, ignore_errors=True)
    model = out / "model.onnx"
    if done.returncode != 0 or not model.is_file():
        tail = "\n".join(log_path.read_text(errors="replace").strip().splitlines()[-12:])
        raise SlmlabError(f"`{' '.join(argv)}` exited with {done.returncode}; its log, {log_path}, ends with:\n{tail}")
    return model


@dataclass
class CliRun:
    """A workflow saved as JSON and run by Olive's own command line (or found already made by that same file)."""

    command: list[str]
    config_file: Path
    model: Path
    from_cache: bool
    seconds: float | None  # None when it came from the cache

    @property
    def note(self) -> str:
        if self.from_cache:
            return f"→ from the cache: {self.model.parent} was made by this same config earlier (Olive not run again)"
        return f"→ ran in {self.seconds:.1f} s (most of it starting Python and importing Olive)"


def run_command_once(config: dict, config_file: str | Path) -> CliRun:
    """Save `config` as `config_file` (JSON, rewritten each time) and run `command(config_file)` in a separate process
    with `run_command` — unless its output folder already holds the model made by this same file, unchanged."""
    import json

    config_file = Path(config_file)
    text = json.dumps(config, indent=2)
    model = Path(config["output_dir"]) / "model.onnx"
    cached = model.is_file() and config_file.is_file() and config_file.read_text() == text
    config_file.parent.mkdir(parents=True, exist_ok=True)
    config_file.write_text(text)
    seconds = None
    if not cached:
        start = time.perf_counter()
        run_command(config_file)  # what Olive prints goes to olive.log beside the output folder
        seconds = time.perf_counter() - start
    return CliRun(command(config_file), config_file, model, cached, seconds)


def results_table(results: dict[str, OliveResult], skipped: dict[str, str] | None = None):
    """One row per model built: its route, MB, seconds (and per pass, from Olive's log), peak memory predicted and
    measured, and its quantized operators. Each precision in `skipped` is printed first, with why. An INT8 model's
    route is that of the FP32 model it quantized, when that is in `results`; INT4 is always ModelBuilder's."""
    import pandas as pd

    for p, why in (skipped or {}).items():
        print(f"{p}: skipped — {why}")

    def route(p: str, r: OliveResult) -> str:
        if p == "int4":
            return "builder"
        return results["fp32"].route if p.startswith("int8") and "fp32" in results else r.route

    rows = [
        {
            "precision": p,
            "route": route(p, r),
            "MB": r.size_bytes / 1e6,
            "seconds": r.seconds,
            "seconds per pass": " → ".join(f"{name} {s:.1f}" for name, s in r.pass_seconds.items()),
            "peak GB predicted": r.predicted_peak_bytes / 1e9,
            "peak GB measured": r.peak_bytes / 1e9,
            "quantized operators": r.quantized_ops,
        }
        for p, r in results.items()
    ]
    return pd.DataFrame(rows).set_index("precision")


def optimize(
    model_dir: str | Path,
    precision: str,
    output_dir: str | Path,
    *,
    route: str | None = None,
    base: str | Path | None = None,
    optimize_graph: bool = True,
    quantize_options: dict | None = None,
) -> OliveResult:
    """Run the workflow for `precision` into `output_dir` (replaced only when the new run succeeded).

    `route`: how the fp32 model is made ("export" or "builder"; default: the export where it fits in memory).
    `base`: an fp32 ONNX folder to quantize (int8, int8-static); without it the fp32 model is made first.
    `quantize_options` change the quantization pass (e.g. `{"op_types_to_quantize": None}`).
    A run that would not fit in the memory available is refused before it starts."""
    import onnx

    from slmlab import measure

    model_dir, output_dir = paths.require_hf_folder(model_dir), Path(output_dir)
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    route = route or ("builder" if precision == "int4" else choose_route(model_dir))
    quantizing = precision in ("int8", "int8-static")
    steps = [step(precision, route, base)] + (["quantize"] if quantizing and base is None else [])
    for each in steps:  # an INT8 run without a base exports first, then quantizes
        preflight(model_dir, each)
    predicted = max(memory_needed(model_dir, each) for each in steps)
    # not paths.atomic_output: Olive reads an output path with a suffix (".partial") as a file name and
    # writes beside it, so the run goes to a plain "out" folder in a work folder, renamed at the end
    work = Path(tempfile.mkdtemp(prefix=".olive-", dir=output_dir.parent))
    try:
        with measure.peak_rss() as peak:
            start = time.perf_counter()
            log = output_dir.parent / f"{output_dir.name}.olive.log"  # stays there if the run fails
            earlier = ""  # the export's log, when this run makes its own fp32 model first
            if quantizing and base is None:  # export first (once), then quantize that
                try:
                    base = optimize(model_dir, "fp32", work / "fp32", route=route).folder
                except SlmlabError as e:  # keep the export's log where this run's would be
                    shutil.copy(work / "fp32.olive.log", log)
                    raise SlmlabError(str(e).replace(str(work / "fp32.olive.log"), str(log))) from e.__cause__
                earlier = (base / "olive.log").read_text(errors="replace")
            config = workflow_config(
                model_dir,
                precision,
                work / "out",
                work / "cache",
                route=route,
                base=base,
                optimize_graph=optimize_graph,
                quantize_options=quantize_options,
            )
            run(config, log=log, desc=f"olive {precision}")
            seconds = time.perf_counter() - start
        shutil.rmtree(work / "cache", ignore_errors=True)
        (work / "out" / "olive.log").write_text(earlier + log.read_text(errors="replace"))
        log.unlink()
        if output_dir.exists():
            shutil.rmtree(output_dir)
        os.replace(work / "out", output_dir)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    model = output_dir / "model.onnx"
    log = output_dir / "olive.log"
    size = sum(f.stat().st_size for f in output_dir.glob("model.onnx*"))
    ops = collections.Counter(n.op_type for n in onnx.load(model, load_external_data=False).graph.node)
    return OliveResult(
        precision,
        output_dir,
        model,
        size,
        seconds,
        dict(ops.most_common()),
        pass_seconds(log.read_text(errors="replace")),
        log,
        route,
        peak.bytes,
        predicted,
    )


def recipe_key(model_dir: Path) -> str:
    """What an Olive folder depends on: the weights' content, Olive's and onnxruntime's versions, and the
    recipe (this module's workflows). A cached folder is reused only when all four are unchanged."""
    from importlib.metadata import version

    recipe = paths.sha256_file(Path(__file__))
    return paths.content_key(
        models.fingerprint(model_dir), version("olive-ai"), version("onnxruntime"), version("onnxruntime-genai"), recipe
    )


def cache_folder(ref: str | Path | models.Model) -> Path:
    """Where notebook 05 writes a model's Olive folders (one per precision), keyed by `recipe_key`."""
    model = ref if isinstance(ref, models.Model) else models.resolve(ref)
    return paths.cache_dir() / "olive" / f"{model.name}-{recipe_key(models.hf_folder(model))}"


def built_folder(ref: str | Path, precision: str) -> Path:
    """The folder notebook 05 builds for a model at `precision` (in the cache), built now if it is missing;
    the INT8 precisions start from the cached fp32 folder, so the model is exported once."""
    model = ref if isinstance(ref, models.Model) else models.resolve(ref)
    folder = cache_folder(model) / precision
    if not (folder / "model.onnx").is_file():
        base = built_folder(model, "fp32") if precision in ("int8", "int8-static") else None
        optimize(models.hf_folder(model), precision, folder, base=base)
    return folder


def initializer_bytes(model: str | Path) -> dict[str, int]:
    """Where an ONNX model's bytes are: its stored tensors (initializers) by role — the token embedding (the table
    a Gather reads), the output head (the last MatMul's weights), the other weight matrices, everything else."""
    import onnx

    graph = onnx.load(str(model), load_external_data=False).graph
    gathered = {n.input[0] for n in graph.node if n.op_type == "Gather"}
    matmuls = [n for n in graph.node if n.op_type in ("MatMul", "MatMulNBits", "MatMulInteger")]
    head = set(matmuls[-1].input[1:]) if matmuls else set()
    weights = {i for n in matmuls for i in n.input[1:]}
    out: dict[str, int] = {}
    for t in graph.initializer:
        n = 1
        for d in t.dims:
            n *= d
        size = n * onnx.helper.tensor_dtype_to_np_dtype(t.data_type).itemsize
        role = (
            "token embedding"
            if t.name in gathered
            else "output head"
            if t.name in head
            else "other matrices"
            if t.name in weights
            else "everything else"
        )
        out[role] = out.get(role, 0) + size
    return out


class OnnxLM:
    """An ONNX causal LM run with onnxruntime: full-sequence logits (past key/values given empty)."""

    def __init__(self, path: str | Path | bytes, threads: int = 1):
        """`path`: an ONNX file, or a serialized model (bytes), e.g. one given extra outputs to read."""
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        model = path if isinstance(path, bytes) else str(path)
        self.session = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
        self.inputs = {i.name: i for i in self.session.get_inputs()}

    def outputs(self, ids, names: list[str]) -> list:
        """The graph's outputs `names` for one sequence of token ids, batch dimension dropped."""
        import numpy as np

        ids = np.asarray(ids, dtype=np.int64)[None]
        feed = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
        if "position_ids" in self.inputs:
            feed["position_ids"] = np.arange(ids.shape[1], dtype=np.int64)[None]
        for name, i in self.inputs.items():
            if name.startswith("past"):
                feed[name] = np.zeros((1, i.shape[1], 0, i.shape[3]), dtype=np.float32)
        return [out[0] for out in self.session.run(names, feed)]

    def logits(self, ids):
        return self.outputs(ids, ["logits"])[0]
