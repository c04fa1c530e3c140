"""Where things live: the repository, its data, and the cache that holds built tools and models.

Writes are atomic: `atomic_output` hands out a temporary name beside the target and renames it
only when the work succeeded, so a failed or refused run leaves nothing half-written.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tomllib
import uuid
from collections.abc import Iterator
from pathlib import Path

from slmlab.errors import SlmlabError

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA = REPO_ROOT / "data"
NOTEBOOKS = REPO_ROOT / "notebooks"
MODELS_DIR = DATA / "models"
CORPUS_DIR = DATA / "corpus"

LLAMA_CPP_PYTHON_VERSION = "0.3.36"  # the sdist that vendors llama.cpp; pinned in pyproject.toml


def cache_dir() -> Path:
    """The cache (`SLMLAB_HOME`, default `~/.cache/slmlab`): built tools, assembled and converted models."""
    home = Path(os.environ.get("SLMLAB_HOME") or Path.home() / ".cache" / "slmlab").expanduser()
    home.mkdir(parents=True, exist_ok=True)
    return home


def llama_cpp_root() -> Path:
    """The llama.cpp build made by `scripts/build-llama-cpp.sh` (source in `src/`, binaries in `build/bin`)."""
    return cache_dir() / f"llama.cpp-{LLAMA_CPP_PYTHON_VERSION}"


def llama_cpp_key() -> str:
    """What every file llama.cpp's tools made depends on, as a short id: the pinned source and our patches to it.
    Cached conversions, quantizations and probes carry it in their keys, so a new llama.cpp never reuses them."""
    digest = hashlib.sha256(LLAMA_CPP_PYTHON_VERSION.encode())
    for patch in sorted((REPO_ROOT / "scripts" / "patches").glob("*.patch")):
        digest.update(patch.read_bytes())
    return digest.hexdigest()[:8]


def content_key(*parts: object) -> str:
    """A short id of several things together (content ids, tool versions, arguments): a cache key."""
    return hashlib.sha256("\x00".join(map(str, parts)).encode()).hexdigest()[:12]


def llama_cpp_bin() -> Path:
    return llama_cpp_root() / "build" / "bin"


def llama_cpp_source() -> Path:
    return llama_cpp_root() / "src" / "vendor" / "llama.cpp"


def converter_script() -> Path:
    """llama.cpp's HF → GGUF converter, from the same vendored source as the tools."""
    return llama_cpp_source() / "convert_hf_to_gguf.py"


def server_venv(name: str) -> Path:
    """The virtual environment of a server with pins of its own (olah, vLLM), made by `make setup` in the cache
    from pyproject.toml's [tool.slmlab.server-venvs]: SLMLAB_HOME/venvs/PACKAGE-VERSION."""
    pins = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["slmlab"]["server-venvs"][name]
    return cache_dir() / "venvs" / pins[0].replace("==", "-")


def require_hf_folder(folder: str | Path) -> Path:
    """`folder` as a Path if it is a Hugging Face model folder (it has a config.json), else a clear error."""
    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise SlmlabError(f"{folder} is not a Hugging Face model folder (no config.json)")
    return folder


def ensure_writable_dir(directory: Path) -> None:
    """Fail early, with a clear message, if `directory` cannot be created or written."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise SlmlabError(f"cannot create the output directory {directory}: {e.strerror}") from None
    probe = directory / f".slmlab-write-test-{uuid.uuid4().hex[:8]}"
    try:
        probe.touch()
        probe.unlink()
    except OSError:
        raise SlmlabError(f"the output directory {directory} is not writable: choose another path with -o") from None


@contextlib.contextmanager
def atomic_output(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside `target`; rename it to `target` only if the block succeeds.

    The block may write a file or a folder there. On any error (or a refused tool run) the temporary
    path is removed and `target` is untouched; on success a folder replaces the old `target` folder.
    """
    target = Path(target)
    ensure_writable_dir(target.parent)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        yield tmp
        if not tmp.exists():
            raise SlmlabError(f"no output was written for {target}")
        if tmp.is_dir() and target.is_dir():
            shutil.rmtree(target)
        os.replace(tmp, target)
    except OSError as e:
        if e.errno == 28:  # ENOSPC
            raise SlmlabError(
                f"the disk is full while writing {target}; nothing was kept. Free space and retry."
            ) from None
        raise
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)


def file_key(path: str | Path, chunk: int = 4 * 2**20) -> str:
    """A quick key for a large file's content, not its path: its size, its first and its last 4 MiB. For a model
    file that is the header and the first and last weights, which any change of model or quantization alters."""
    path = Path(path)
    size = path.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with path.open("rb") as f:
        digest.update(f.read(chunk))
        f.seek(max(0, size - chunk))
        digest.update(f.read(chunk))
    return digest.hexdigest()[:12]


def sha256_file(path: str | Path) -> str:
    """The SHA-256 of a file, read in 4 MiB blocks (never the whole file at once)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()
