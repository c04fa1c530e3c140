"""The Hugging Face hub: download what a model reference names, and fail fast and clearly offline.

Offline (no network, or `HF_HUB_OFFLINE=1`), every call that would reach the hub fails within
seconds with one line naming the offline choices, never a traceback and never a partial file.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlparse

from slmlab.errors import SlmlabError

OFFLINE_CHOICES = ("use an offline model (slm-nano, gemma-3-270m), a local folder or .gguf file, "
                   "or a model already in the Hugging Face cache (HF_HOME)")


def endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co")


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


def snapshot(repo_id: str, allow_patterns: list[str] | None = None) -> Path:
    """A local folder with the repo's files: from the cache if they are there, else downloaded."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(repo_id, allow_patterns=allow_patterns, local_files_only=True))
    except (LocalEntryNotFoundError, OSError, ValueError):
        pass
    if not hub_reachable():
        raise SlmlabError(f"cannot reach the Hugging Face hub ({endpoint()}) to get {repo_id}: {OFFLINE_CHOICES}")
    return Path(snapshot_download(repo_id, allow_patterns=allow_patterns))
