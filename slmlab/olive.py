"""Microsoft Olive: HF model → ONNX → optimized → quantized, from a config the learner can read.

`workflow_config` builds the Olive config as plain data (a dict you can print, save as JSON and run with
`olive run --config FILE`); `run` runs it through `olive.workflows.run` and handles Olive's traps:
* it can finish "successfully" without an output model — we check the file exists and say so;
* it caches runs, failures included — every run gets its own fresh cache folder;
* its telemetry waits on the network — we run it with `CI=true`, which switches it off.
"""

from __future__ import annotations

import collections
import contextlib
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from slmlab.errors import SlmlabError

PRECISIONS = ("fp32", "int8", "int4")


def workflow_config(model_dir: str | Path, precision: str, output_dir: str | Path, cache_dir: str | Path) -> dict:
    """The Olive workflow for a precision:
    fp32 — OnnxConversion (dynamo exporter) → OrtTransformersOptimization;
    int8 — the same, then OnnxDynamicQuantization (weights INT8, activations quantized on the fly);
    int4 — ModelBuilder (onnxruntime-genai's builder, INT4 weights, ready for onnxruntime-genai)."""
    if precision not in PRECISIONS:
        raise SlmlabError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
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
        model = {"type": "HfModel", "model_path": str(model_dir), "task": "text-generation"}
    return {
        "input_model": model,
        "systems": {"local_system": {"type": "LocalSystem",
                                     "accelerators": [{"device": "cpu", "execution_providers": ["CPUExecutionProvider"]}]}},
        "passes": passes,
        "host": "local_system", "target": "local_system",
        "cache_dir": str(cache_dir), "output_dir": str(output_dir), "log_severity_level": 3,
    }


@dataclass
class OliveResult:
    precision: str
    folder: Path
    model: Path
    size_bytes: int
    seconds: float
    ops: dict[str, int]

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


def run(config: dict) -> Path:
    """Run an Olive workflow with a fresh cache; return the output model file or raise a clear error."""
    from olive.workflows import run as olive_run

    out = Path(config["output_dir"])
    with _telemetry_off():
        olive_run(config)
    model = out / "model.onnx"
    if not model.is_file():
        raise SlmlabError(f"Olive finished without an output model in {out} (it reports 'No output model produced' "
                          "when a pass fails): read its log above; the failed run is not cached by slmlab")
    return model


def optimize(model_dir: str | Path, precision: str, output_dir: str | Path) -> OliveResult:
    """Run the workflow for `precision` into `output_dir` (replaced only when the new run succeeded)."""
    import onnx

    model_dir, output_dir = Path(model_dir), Path(output_dir)
    if not (model_dir / "config.json").is_file():
        raise SlmlabError(f"{model_dir} is not a Hugging Face model folder (no config.json)")
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".olive-", dir=output_dir.parent))
    try:
        config = workflow_config(model_dir, precision, work / "out", work / "cache")
        start = time.perf_counter()
        model = run(config)
        seconds = time.perf_counter() - start
        shutil.rmtree(work / "cache", ignore_errors=True)
        if output_dir.exists():
            shutil.rmtree(output_dir)
        os.replace(work / "out", output_dir)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    model = output_dir / "model.onnx"
    size = sum(f.stat().st_size for f in output_dir.glob("model.onnx*"))
    ops = collections.Counter(n.op_type for n in onnx.load(model, load_external_data=False).graph.node)
    return OliveResult(precision, output_dir, model, size, seconds, dict(ops.most_common()))


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
