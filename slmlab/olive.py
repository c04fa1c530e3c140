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
import logging
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from slmlab import models, paths
from slmlab.errors import SlmlabError

PRECISIONS = ("fp32", "int8", "int8-static", "int4")
CALIBRATION_SCRIPT = Path(__file__).with_name("olive_calibration.py")


def workflow_config(model_dir: str | Path, precision: str, output_dir: str | Path, cache_dir: str | Path,
                    calibration_samples: int = 16, quantize_options: dict | None = None) -> dict:
    """The Olive workflow for a precision:
    fp32 — OnnxConversion (dynamo exporter) → OrtTransformersOptimization;
    int8 — the same, then OnnxDynamicQuantization (weights INT8, activations quantized on the fly);
    int8-static — the same, then OnnxStaticQuantization (QDQ: weights and activations INT8, activation
        scales fixed ahead of time from a calibration set cut from local text, see `olive_calibration`);
    int4 — ModelBuilder (onnxruntime-genai's builder, INT4 weights, ready for onnxruntime-genai)."""
    if precision not in PRECISIONS:
        raise SlmlabError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    data_configs: list[dict] = []
    if precision == "int4":
        passes = {"builder": {"type": "ModelBuilder", "precision": "int4"}}
        model = {"type": "HfModel", "model_path": str(model_dir)}
    else:
        passes = {
            # the torchscript exporter fails with transformers 5; the dynamo exporter works
            "conversion": {"type": "OnnxConversion", "use_dynamo_exporter": True, "target_opset": 18},
            "optimize": {"type": "OrtTransformersOptimization", "model_type": "gpt2"},
        }
        if precision == "int8":
            passes["quantize"] = {"type": "OnnxDynamicQuantization"}
        if precision == "int8-static":
            # only the matrix products and the embedding lookup: quantizing every operator's output (norms,
            # softmax, the residual stream) with one fixed scale each breaks a language model (notebook 04)
            passes["quantize"] = {"type": "OnnxStaticQuantization", "quant_format": "QDQ", "precision": "int8",
                                  "activation_type": "int8", "calibrate_method": "MinMax", "data_config": "calibration",
                                  "op_types_to_quantize": ["MatMul", "Gather"]}
            data_configs.append({
                "name": "calibration",
                "user_script": str(CALIBRATION_SCRIPT),
                "load_dataset_config": {"type": "slmlab_calibration",
                                        "params": {"model_path": str(model_dir), "samples": calibration_samples}},
            })
        model = {"type": "HfModel", "model_path": str(model_dir), "task": "text-generation"}
    config = {
        "input_model": model,
        "systems": {"local_system": {
            "type": "LocalSystem",
            "accelerators": [{"device": "cpu", "execution_providers": ["CPUExecutionProvider"]}]}},
        "passes": passes,
        "host": "local_system", "target": "local_system",
        "cache_dir": str(cache_dir), "output_dir": str(output_dir), "log_severity_level": 1,
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

    @property
    def quantized_ops(self) -> dict[str, int]:
        return {k: v for k, v in self.ops.items() if k in ("MatMulInteger", "MatMulNBits", "DynamicQuantizeLinear",
                                                           "QLinearMatMul", "QuantizeLinear", "DequantizeLinear")}


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


def _console_handlers() -> list[logging.StreamHandler]:
    """Every logging handler that writes to a stream rather than to a file it owns (consoles, in practice)."""
    named = (lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger))
    loggers = [logging.getLogger(), *named]
    return [h for lg in loggers for h in lg.handlers if type(h) is logging.StreamHandler]


@contextlib.contextmanager
def _all_output_to(log: TextIO):
    """Everything printed inside the block goes to `log`: print(), warnings, tqdm bars, logging handlers that
    write to the console, and C/C++ code writing to file descriptors 1 and 2 (onnxruntime, the exporters)."""
    moved = [(h, h.stream) for h in _console_handlers()]
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    try:
        for h, _ in moved:
            h.stream = log  # not setStream(), which flushes the old stream first (it may be a closed one)
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            yield
    finally:
        log.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)
        for h, stream in moved:
            h.stream = stream
        for h in _console_handlers():  # created inside the block, with `log` as their console
            if h.stream is log:
                h.stream = sys.stderr


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


@contextlib.contextmanager
def _transformers_bars_off():
    """transformers draws its own bars ("Loading weights") as notebook widgets, which no stream redirect catches."""
    from transformers.utils import logging as hf_logging

    was_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_on:
            hf_logging.enable_progress_bar()


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
        log_file = stack.enter_context(open(log_path, "w", buffering=1))
        if progress:
            stack.enter_context(_pass_progress(log_path, list(config["passes"]), desc or "olive"))
        stack.enter_context(_all_output_to(log_file))
        stack.enter_context(_transformers_bars_off())
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
        what = f"failed: {type(failure).__name__}: {failure}" if failure else \
            "finished without an output model (Olive reports 'No output model produced' when a pass fails)"
        raise SlmlabError(f"Olive {what}\nits log, {log_path}, ends with:\n{tail}") from failure
    return model


def optimize(model_dir: str | Path, precision: str, output_dir: str | Path, *,
             quantize_options: dict | None = None) -> OliveResult:
    """Run the workflow for `precision` into `output_dir` (replaced only when the new run succeeded);
    `quantize_options` change the quantization pass (e.g. `{"op_types_to_quantize": None}`)."""
    import onnx

    model_dir, output_dir = paths.require_hf_folder(model_dir), Path(output_dir)
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    # not paths.atomic_output: Olive reads an output path with a suffix (".partial") as a file name and
    # writes beside it, so the run goes to a plain "out" folder in a work folder, renamed at the end
    work = Path(tempfile.mkdtemp(prefix=".olive-", dir=output_dir.parent))
    try:
        config = workflow_config(model_dir, precision, work / "out", work / "cache", quantize_options=quantize_options)
        start = time.perf_counter()
        log = output_dir.parent / f"{output_dir.name}.olive.log"  # stays there if the run fails
        run(config, log=log, desc=f"olive {precision}")
        seconds = time.perf_counter() - start
        shutil.rmtree(work / "cache", ignore_errors=True)
        os.replace(log, work / "out" / "olive.log")
        if output_dir.exists():
            shutil.rmtree(output_dir)
        os.replace(work / "out", output_dir)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    model = output_dir / "model.onnx"
    log = output_dir / "olive.log"
    size = sum(f.stat().st_size for f in output_dir.glob("model.onnx*"))
    ops = collections.Counter(n.op_type for n in onnx.load(model, load_external_data=False).graph.node)
    return OliveResult(precision, output_dir, model, size, seconds, dict(ops.most_common()),
                       pass_seconds(log.read_text(errors="replace")), log)


def built_folder(ref: str | Path, precision: str) -> Path:
    """The folder notebook 04 builds for a model at `precision` (in the cache), built now if it is missing."""
    model = ref if isinstance(ref, models.Model) else models.resolve(ref)
    folder = paths.cache_dir() / "olive" / model.name / precision
    if not (folder / "model.onnx").is_file():
        optimize(models.hf_folder(model), precision, folder)
    return folder


class OnnxLM:
    """An ONNX causal LM run with onnxruntime: full-sequence logits (past key/values given empty)."""

    def __init__(self, path: str | Path, threads: int = 1):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self.inputs = {i.name: i for i in self.session.get_inputs()}

    def logits(self, ids):
        import numpy as np

        ids = np.asarray(ids, dtype=np.int64)[None]
        feed = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
        if "position_ids" in self.inputs:
            feed["position_ids"] = np.arange(ids.shape[1], dtype=np.int64)[None]
        for name, i in self.inputs.items():
            if name.startswith("past"):
                feed[name] = np.zeros((1, i.shape[1], 0, i.shape[3]), dtype=np.float32)
        return self.session.run(["logits"], feed)[0][0]
