"""Getting models: the Hugging Face hub, with checksums, and a local registry of model files.

Offline (no network, or `HF_HUB_OFFLINE=1`), every call that would reach the hub fails within
seconds with one line naming the offline choices — never a traceback, never a partial file.
Downloads go through `huggingface_hub`, which writes each file under a temporary name in its cache
and moves it into place only when complete; `download` then checks every file against the SHA-256
the hub records for it.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
import os
import socket
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlparse

from slmlab import offline, paths
from slmlab.errors import SlmlabError
from slmlab.paths import sha256_file

OFFLINE_CHOICES = offline.choices()


HUB = "https://huggingface.co"


def endpoint() -> str:
    """The hub this process talks to now: HF_ENDPOINT, else huggingface.co. Passed to every huggingface_hub call,
    which otherwise keeps the HF_ENDPOINT it saw when it was first imported."""
    return os.environ.get("HF_ENDPOINT", HUB).rstrip("/")


def cache_dir() -> Path:
    """The Hugging Face cache as the environment names it now (HF_HUB_CACHE, else HF_HOME/hub), passed to every
    download for the same reason as `endpoint`."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    return Path(os.environ.get("HF_HOME") or Path.home() / ".cache" / "huggingface").expanduser() / "hub"


def where() -> str:
    """The hub this machine talks to, in words: the Hugging Face hub, or a mirror named by HF_ENDPOINT."""
    return f"the Hugging Face hub ({HUB})" if endpoint() == HUB else f"the mirror at {endpoint()} (HF_ENDPOINT)"


def hub_reachable(timeout: float = 3.0) -> bool:
    """Can we open a TCP connection to the hub? (DNS and connect, bounded by `timeout`.)"""
    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes"):
        return False
    url = urlparse(endpoint())
    try:
        with socket.create_connection((url.hostname, url.port or 443), timeout=timeout):
            return True
    except OSError:
        return False


def require_hub(what: str) -> None:
    if hub_reachable():
        return
    if endpoint() != HUB and os.environ.get("HF_HUB_OFFLINE", "0").lower() not in ("1", "true", "yes"):
        raise SlmlabError(
            f"{where()} is not answering, so cannot {what}: start it (`slmlab mirror ROOT`) or "
            f"unset HF_ENDPOINT to use {HUB}"
        )
    raise SlmlabError(f"cannot reach the Hugging Face hub ({endpoint()}) to {what}: {OFFLINE_CHOICES}")


def _friendly(e: Exception, repo_id: str) -> SlmlabError:
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    if isinstance(e, GatedRepoError):
        return SlmlabError(
            f"{repo_id} is gated: accept its licence on its hub page, then log in "
            "(`hf auth login`, or set HF_TOKEN) and try again"
        )
    if isinstance(e, RepositoryNotFoundError):
        return SlmlabError(f"{repo_id} does not exist on {where()} (or is private): check the id")
    first = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return SlmlabError(f"{where()} refused {repo_id}: {type(e).__name__}: {first}")


def search(
    *,
    author: str | None = None,
    library: str | None = None,
    task: str | None = None,
    query: str | None = None,
    limit: int = 10,
) -> list[dict]:
    """Models on the hub, most downloaded first: filter by author, library (e.g. 'gguf'), task, text."""
    from huggingface_hub import HfApi

    require_hub("search models")
    if endpoint() != HUB:
        raise SlmlabError(
            f"{where()} has no search (olah serves repositories, not the hub's index): "
            "ask its teacher for the list, or search on huggingface.co"
        )
    try:
        found = HfApi(endpoint=endpoint()).list_models(
            author=author, filter=library, pipeline_tag=task, search=query, sort="downloads", limit=limit
        )
        return [
            {"id": m.id, "downloads": m.downloads, "likes": m.likes, "task": m.pipeline_tag, "library": m.library_name}
            for m in found
        ]
    except Exception as e:
        raise _friendly(e, query or author or "the search") from None


@dataclass
class RepoFile:
    name: str
    size: int
    sha256: str | None  # recorded by the hub for files stored with Git LFS (weights)
    blob_id: str | None = None  # git's id of the file's content: SHA-1 of "blob SIZE\0" + content

    @property
    def checksum(self) -> str:
        return f"sha256 {self.sha256}" if self.sha256 else f"git blob {self.blob_id}"


@dataclass
class RepoInfo:
    repo_id: str
    licence: str | None
    gated: bool
    params: int | None  # from the safetensors headers the hub reads (the mirror does not report it)
    files: list[RepoFile]
    commit: str | None = None  # the revision these files and checksums belong to


def repo_info(repo_id: str, revision: str = "main") -> RepoInfo:
    """Licence, gating, parameters, and every file with its size and checksum — from `model_info` and
    `list_repo_tree(expand=True)`, which both the hub and a mirror answer (a mirror ignores `files_metadata`)."""
    from huggingface_hub import HfApi

    require_hub(f"read {repo_id}")
    api = HfApi(endpoint=endpoint())
    try:
        info = api.model_info(repo_id, revision=revision)
        tree = [
            f for f in api.list_repo_tree(repo_id, revision=revision, recursive=True, expand=True) if hasattr(f, "size")
        ]
    except Exception as e:
        raise _friendly(e, repo_id) from None
    card = info.card_data or {}
    licence = card.get("license") if hasattr(card, "get") else None
    files = [RepoFile(f.path, f.size or 0, f.lfs.sha256 if f.lfs else None, f.blob_id) for f in tree]
    params = info.safetensors.total if info.safetensors else None
    return RepoInfo(repo_id, licence, bool(info.gated), params, files, info.sha)


def git_blob_id(path: Path) -> str:
    """The id git gives a file's content (what a repository records for every file not stored with LFS)."""
    import hashlib

    digest = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
    with open(path, "rb") as f:
        while block := f.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


# What a model needs, and nothing more: the config, the safetensors weights, the tokenizer, the chat template and
# the model card (llama.cpp's converter reads its name and licence). Never the duplicates some repositories carry:
# PyTorch `.bin` copies, or Llama 3's `original/` folder with Meta's own checkpoint (another 16 GB).
MODEL_FILES = [
    "config.json",
    "generation_config.json",
    "*.safetensors",
    "model.safetensors.index.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "tokenizer.model",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.json",
    "merges.txt",
    "chat_template.jinja",
    "README.md",
]
NOT_MODEL_FILES = ["original/*", "*.pth", "*.bin", "*.pt", "onnx/*", "*.gguf"]


def is_model_file(name: str) -> bool:
    """One of `MODEL_FILES` and none of `NOT_MODEL_FILES` (a path in the repository, e.g. 'original/model.pth')."""
    return any(fnmatch.fnmatch(name, p) for p in MODEL_FILES) and not any(
        fnmatch.fnmatch(name, p) for p in NOT_MODEL_FILES
    )


def missing_files(folder: Path) -> list[str]:
    """What a model folder lacks to be used: its config, every weight shard its index names, a tokenizer."""
    missing = [] if (folder / "config.json").is_file() else ["config.json"]
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        missing += [s for s in shards if not (folder / s).is_file()]
    elif not list(folder.glob("*.safetensors")):
        missing.append("model.safetensors")
    if not any((folder / t).is_file() for t in ("tokenizer.json", "tokenizer.model", "vocab.json")):
        missing.append("tokenizer.json")
    return missing


def snapshot(repo_id: str, allow_patterns: list[str] | None = None, complete: bool = True) -> Path:
    """A local folder with the repo's model files (`MODEL_FILES`, or `allow_patterns`): from the cache when it
    holds them all, else downloaded. A cached snapshot with files missing (say, one that holds only config.json)
    is completed online and refused offline — never taken as a whole model."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    patterns = allow_patterns or MODEL_FILES
    ignore = None if allow_patterns else NOT_MODEL_FILES
    cached = None
    try:
        cached = Path(
            snapshot_download(
                repo_id,
                allow_patterns=patterns,
                ignore_patterns=ignore,
                local_files_only=True,
                endpoint=endpoint(),
                cache_dir=cache_dir(),
            )
        )
    except (LocalEntryNotFoundError, OSError, ValueError):
        pass
    lacking = missing_files(cached) if cached and complete else []
    if cached and not lacking:
        return cached
    if not hub_reachable():
        if lacking:
            raise SlmlabError(
                f"the cached copy of {repo_id} ({cached}) lacks {', '.join(lacking[:4])}: it is not a "
                f"whole model. Connect and run `slmlab pull {repo_id}`, or {OFFLINE_CHOICES}"
            )
        require_hub(f"get {repo_id}")
    try:
        folder = Path(
            snapshot_download(
                repo_id, allow_patterns=patterns, ignore_patterns=ignore, endpoint=endpoint(), cache_dir=cache_dir()
            )
        )
    except Exception as e:
        raise _friendly(e, repo_id) from None
    if complete and (lacking := missing_files(folder)):
        raise SlmlabError(
            f"{repo_id} has no {', '.join(lacking[:4])}: it is not a model llama.cpp, Olive or MLX can "
            "load (a GGUF-only repository? take its files with `slmlab pull REPO --include '*.gguf'`)"
        )
    return folder


def download(
    repo_id: str, include: list[str] | None = None, expected: RepoInfo | None = None
) -> tuple[Path, list[dict]]:
    """Download the model's files (`MODEL_FILES`), or only those matching `include` (e.g. ['*Q4_K_M.gguf']),
    then check every file: against the SHA-256 the hub records for LFS files, else against its git blob id.
    `expected`: checksums published earlier (a course's manifest, `repo_info` run before) to hold the files to —
    a file that changed since is refused. A file that fails its check is removed from the cache, so nothing
    unverified stays behind. Returns the folder and the checks."""
    if not hub_reachable():  # offline: a shared classroom cache (HF_HOME) may already hold it
        return snapshot(repo_id, allow_patterns=include, complete=False), []
    info = expected or repo_info(repo_id)
    if include:
        wanted = [f for f in info.files if any(fnmatch.fnmatch(f.name, p) for p in include)]
    else:  # a model's own files (MODEL_FILES), never its duplicates (NOT_MODEL_FILES), as `snapshot` takes them
        wanted = [f for f in info.files if is_model_file(f.name)]
    if not wanted:
        names = ", ".join(f.name for f in info.files[:20])
        raise SlmlabError(f"no file of {repo_id} matches {include}; it has: {names}")
    folder = snapshot(repo_id, allow_patterns=[f.name for f in wanted], complete=False)
    checks = []
    for f in wanted:
        path = folder / f.name
        got = sha256_file(path) if f.sha256 else git_blob_id(path)
        want = f.sha256 or f.blob_id
        checks.append(
            {
                "file": f.name,
                "kind": "sha256" if f.sha256 else "git blob (sha1)",
                "expected": want,
                "actual": got,
                "ok": got == want,
            }
        )
        if got != want:
            _evict(path)
            raise SlmlabError(
                f"checksum mismatch for {f.name} from {where()}: expected {f.checksum}, the download "
                f"has {got}. It was removed from the cache; the file changed at its source since its "
                "checksum was published — ask for the new checksum, or download it again"
            )
    return folder, checks


def _evict(path: Path) -> None:
    """Remove a file from the Hugging Face cache: its snapshot link and the blob it points to."""
    target = path.resolve()
    path.unlink(missing_ok=True)
    if target != path and target.is_file():
        target.unlink()


# --- the lesson's experiments (notebook 02): a pull with a fresh cache, what a pull takes, other catalogs ------


@dataclass
class PullRun:
    """`slmlab pull` run once, in a cache of its own: what it printed, how it ended, what it left on disk."""

    command: str
    exit: int
    seconds: float
    output: str  # its error line, or the start of what it printed
    files: list[str]  # the model's files, or (none there) any file left behind
    partial: list[str]  # files huggingface_hub was still writing (`*.incomplete`): none, after a clean end


def pull_fresh(repo_id: str, home: Path, offline: bool = False) -> PullRun:
    """Run `slmlab pull REPO` in a subprocess, with HF_HOME in `home` (an empty folder: a fresh cache) and, when
    `offline`, HF_HUB_OFFLINE=1, as a learner would in a terminal."""
    import subprocess
    import sys
    import time

    env = {**os.environ, "HF_HOME": str(home / "hf")}
    if offline:
        env["HF_HUB_OFFLINE"] = "1"
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "slmlab.cli", "pull", repo_id], capture_output=True, text=True, env=env, cwd=home
    )
    seconds = time.monotonic() - start
    files = sorted(p.name for p in home.rglob("snapshots/*/*")) or [p.name for p in home.rglob("*") if p.is_file()]
    return PullRun(
        f"slmlab pull {repo_id}",
        proc.returncode,
        seconds,
        proc.stderr.strip() or proc.stdout.strip()[:300],
        files,
        sorted(p.name for p in home.rglob("*.incomplete")),
    )


def fetched_table(listing: dict[str, int], fetched: list[str] | set[str] | None = None):
    """A pandas DataFrame of a repository's or folder's files (`listing`: name → bytes) with a column `fetched`:
    whether the file is in `fetched`, or, when `fetched` is None, whether a pull of a model folder takes it —
    `MODEL_FILES` and none of `NOT_MODEL_FILES`, matched by huggingface_hub's `filter_repo_objects`, the function
    `snapshot_download` filters with."""
    import pandas as pd
    from huggingface_hub.utils import filter_repo_objects

    if fetched is None:
        fetched = list(filter_repo_objects(listing, allow_patterns=MODEL_FILES, ignore_patterns=NOT_MODEL_FILES))
    sizes = pd.DataFrame({"file": list(listing), "bytes": list(listing.values())})
    sizes["fetched"] = sizes["file"].isin(set(fetched))
    return sizes


def azure_registry_missing(online: bool) -> list[str]:
    """What listing Azure AI Foundry's `azureml` registry needs that this machine lacks: a network, the
    `azure-ai-ml` package, Azure credentials (a service principal's variables or `az login`'s ~/.azure). Empty:
    nothing lacks."""
    import importlib.util

    try:
        have_sdk = importlib.util.find_spec("azure.ai.ml") is not None
    except ModuleNotFoundError:  # not even the azure namespace package
        have_sdk = False
    credentials = any(os.environ.get(k) for k in ("AZURE_CLIENT_ID", "AZURE_SUBSCRIPTION_ID"))
    credentials = credentials or Path("~/.azure").expanduser().exists()
    needs = [
        (online, "a network"),
        (have_sdk, "the azure-ai-ml package (pip install azure-ai-ml azure-identity)"),
        (credentials, "Azure credentials (az login)"),
    ]
    return [why for ok, why in needs if not ok]


# --- the local registry: named model files with their checksums, in SLMLAB_HOME/registry.json ---------


@dataclass
class RegistryEntry:
    name: str
    path: str
    sha256: str
    size_bytes: int
    source: str
    added: str


def registry_path() -> Path:
    return paths.cache_dir() / "registry.json"


def _load_registry() -> dict[str, RegistryEntry]:
    path = registry_path()
    if not path.is_file():
        return {}
    try:
        return {k: RegistryEntry(**v) for k, v in json.loads(path.read_text()).items()}
    except (json.JSONDecodeError, TypeError) as e:
        raise SlmlabError(f"the registry {path} is damaged ({e}); move it away to start a new one") from None


def _save_registry(entries: dict[str, RegistryEntry]) -> None:
    with paths.atomic_output(registry_path()) as tmp:
        tmp.write_text(json.dumps({k: asdict(v) for k, v in sorted(entries.items())}, indent=2) + "\n")


def register(name: str, path: str | Path, source: str = "local file", replace: bool = False) -> RegistryEntry:
    """Add a model file (or folder's weight file) to the registry, recording its SHA-256."""
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise SlmlabError(f"cannot register {path}: no such file")
    entries = _load_registry()
    if name in entries and not replace:
        raise SlmlabError(
            f"{name!r} is already registered ({entries[name].path}); remove it first or pass replace=True"
        )
    entry = RegistryEntry(
        name,
        str(path),
        sha256_file(path),
        path.stat().st_size,
        source,
        dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )
    entries[name] = entry
    _save_registry(entries)
    return entry


def registered() -> list[RegistryEntry]:
    return list(_load_registry().values())


def verify(name: str) -> dict:
    """Recompute a registered file's SHA-256 and compare with the one recorded when it was added."""
    entries = _load_registry()
    if name not in entries:
        raise SlmlabError(f"{name!r} is not registered; registered: {', '.join(entries) or 'none'}")
    e = entries[name]
    if not Path(e.path).is_file():
        return {"name": name, "ok": False, "problem": f"the file {e.path} is gone"}
    got = sha256_file(Path(e.path))
    return {
        "name": name,
        "ok": got == e.sha256,
        "expected": e.sha256,
        "actual": got,
        "problem": "" if got == e.sha256 else "the file changed since it was registered",
    }


def unregister(name: str, delete_file: bool = False) -> RegistryEntry:
    entries = _load_registry()
    if name not in entries:
        raise SlmlabError(f"{name!r} is not registered")
    entry = entries.pop(name)
    _save_registry(entries)
    if delete_file:
        Path(entry.path).unlink(missing_ok=True)
    return entry
