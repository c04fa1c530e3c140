"""The course's map (notebook 00): its lessons, and the pipeline of files and results they make.

The lessons and the pipeline's steps are data; the notebook that does each step is read from the files in
`notebooks/`, so the table and the figure follow a renamed notebook, and a lesson not written yet shows as coming.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from slmlab import paths
from slmlab.diagrams import Step


@dataclass(frozen=True)
class Lesson:
    """One notebook of the course: its number, its title, what a learner does in it and with which tools."""

    number: str
    title: str
    what: str
    tools: str


LESSONS = [
    Lesson("00", "Start here", "doctor, first completion, why a small model here", "llama-cpp-python"),
    Lesson("01", "Classifying SLMs", "parameters from configs, sizes per quantization, memory", "transformers, gguf"),
    Lesson("02", "Acquiring models", "Hugging Face hub, Azure AI Foundry catalog, local registry", "huggingface_hub"),
    Lesson(
        "03",
        "Quantizing with llama.cpp",
        "GGUF, Q8_0 … TQ1_0 by hand and by tool, size, speed, memory",
        "convert_hf_to_gguf.py, llama-quantize, llama-bench",
    ),
    Lesson("04", "Judging quantized models", "quality and its limits on Gemma 3 270M", "llama-perplexity"),
    Lesson("05", "Optimizing with Olive", "ONNX export, graph optimization, INT8/INT4", "olive-ai, onnxruntime"),
    Lesson("06", "Running with MLX", "4-bit conversion and generation", "mlx, mlx-lm"),
    Lesson(
        "07",
        "Serving one model",
        "an OpenAI-compatible server: client, templates, load, security, Ollama, Foundry Local",
        "llama-server, openai",
    ),
    Lesson(
        "08", "Serving many requests", "KV reservation and paging, prefix caching, speculation", "vllm, llama-server"
    ),
    Lesson("09", "Choosing a model", "an advisor built on your measurements", "everything above"),
    Lesson(
        "10", "What your language costs", "tokens, speed, KV memory, context per language", "slmlab tokens, llama.cpp"
    ),
    Lesson("11", "The lesson's claims, judged", "every claim of the lesson text, with a verdict", "all of the above"),
]

# the pipeline's artefacts (a file or a result), as the figure labels them
HUB, HF, SIZES = "Hugging Face hub", "Hugging Face folder\n(config, weights,\ntokenizer)", "sizes, memory:\npredicted"
F16, QUANT, QUALITY = "GGUF F16", "quantized GGUF\nQ8_0 … TQ1_0", "quality per type:\nperplexity, KL"
ONNX, ONNX_Q, MLX = "ONNX FP32", "ONNX INT8 / INT4", "MLX 4-bit"
SERVER, MANY = "a server:\nOpenAI-style API", "a server for\nmany requests"
TOKENS, PICK = "tokens per\nlanguage", "the advisor's pick:\nmodel, type,\nruntime"

# (source, target, lesson number, tool): each arrow of the figure
STEPS = [
    (HUB, HF, "02", "hf download"),
    (HF, SIZES, "01", "transformers (meta device)"),
    (HF, F16, "03", "convert_hf_to_gguf.py"),
    (F16, QUANT, "03", "llama-quantize"),
    (QUANT, QUALITY, "04", "llama-perplexity"),
    (HF, ONNX, "05", "olive run: OnnxConversion"),
    (ONNX, ONNX_Q, "05", "olive run: INT8 passes,\nModelBuilder (INT4)"),
    (HF, MLX, "06", "mlx_lm.convert"),
    (HF, MANY, "08", "vLLM"),
    (QUANT, SERVER, "07", "llama-server"),
    (SERVER, PICK, "09", "slmlab.advisor"),
    (HF, TOKENS, "10", "slmlab tokens"),
    (TOKENS, PICK, "10", "advisor.Need(language)"),
]
# each artefact's place in the figure: (column, row), rows top to bottom
WHERE = {
    HUB: (2, 0),
    HF: (2, 1),
    SIZES: (0, 2),
    F16: (1, 2),
    ONNX: (2, 2),
    TOKENS: (3, 2),
    MLX: (4, 2),
    MANY: (5, 2),
    QUANT: (1, 3),
    ONNX_Q: (2, 3),
    QUALITY: (0, 4),
    SERVER: (1, 4),
    PICK: (1, 5),
}


def notebooks(folder: Path | None = None) -> dict[str, str]:
    """The course's notebooks in `folder` (default: the course's), by number: {"03": "03_quantizing_with_llama_cpp"}."""
    folder = folder or paths.NOTEBOOKS
    return {p.name[:2]: p.stem for p in sorted(folder.glob("[0-9][0-9]_*.ipynb"))}


def lessons(folder: Path | None = None) -> pd.DataFrame:
    """The lessons as a table: number, title, what you will do, the tools, and the notebook file ("(coming)" where
    none has that number yet)."""
    files = notebooks(folder)
    return pd.DataFrame(
        [
            {
                "lesson": lesson.number,
                "title": lesson.title,
                "you will": lesson.what,
                "tools": lesson.tools,
                "notebook": f"{files[lesson.number]}.ipynb" if lesson.number in files else "(coming)",
            }
            for lesson in LESSONS
        ]
    )


def pipeline(folder: Path | None = None) -> tuple[list[Step], dict[str, tuple[int, int]]]:
    """The pipeline's steps, each labelled with the notebook that does it (its file's name; "NN (coming)" where none
    has that number yet), and where each artefact sits: what `diagrams.pipeline` draws."""
    files = notebooks(folder)
    steps = [Step(a, b, files.get(n, f"{n} (coming)"), tool) for a, b, n, tool in STEPS]
    return steps, dict(WHERE)
