"""A local Hugging Face mirror for a classroom and for the tests: olah, serving folders of models on loopback.

A class of thirty downloading the same 1.2 GB model needs one copy served to everyone; tests need the online
code (model info, downloads, checksums, faults) to run against a real server without the internet. olah
("self-hosted lightweight huggingface mirror", PyPI, MIT) speaks the Hugging Face protocol: set
`HF_ENDPOINT=http://HOST:PORT` and `huggingface_hub` — `hf download`, `snapshot_download`, `slmlab pull` — fetches
from it. It serves every git repository it finds at `ROOT/models/ORG/NAME` on branch `main`; `prepare` turns plain
Hugging Face folders into such repositories. With `proxy=True` (a machine with internet) it also fetches what it
does not hold from huggingface.co and keeps a copy for the next student.

olah has pins of its own, so it lives in its own virtual environment (`make setup` makes it, in the cache); the
course starts it on 127.0.0.1 as a child process and stops it, like every server it starts (`slmlab.serve`).

What the mirror does not provide, and what the course does instead:
* search (`list_models`) — not implemented by olah: `hub.search` says so;
* `model_info(files_metadata=True)` — olah ignores it: `hub.repo_info` lists files with `list_repo_tree`, whose
  entries carry each file's size and git blob id (and, for files stored with Git LFS on the real hub, SHA-256);
* SHA-256 for files that are not in LFS — a git repository records a SHA-1 of every file's content (its blob id),
  so downloads are checked against that instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from slmlab import paths, serve
from slmlab.errors import SlmlabError


def venv_dir() -> Path:
    """olah's own virtual environment, made by `make setup` from the pin in pyproject.toml ([tool.slmlab])."""
    return paths.server_venv("olah")


def olah_cli() -> Path:
    cli = venv_dir() / "bin" / "olah-cli"
    if not cli.is_file():
        raise SlmlabError(f"olah is not installed in {venv_dir()}: run `make setup` (it makes olah's own venv)")
    return cli


def repositories(root: str | Path) -> list[str]:
    """The repositories under ROOT/models: 'ORG/NAME' for every folder two levels down."""
    models = Path(root) / "models"
    if not models.is_dir():
        raise SlmlabError(f"{root} has no models/ folder: put each model at {root}/models/ORG/NAME")
    return sorted(
        f"{org.name}/{repo.name}" for org in models.iterdir() if org.is_dir() for repo in org.iterdir() if repo.is_dir()
    )


def _git(folder: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "slmlab mirror",
        "GIT_AUTHOR_EMAIL": "mirror@localhost",
        "GIT_COMMITTER_NAME": "slmlab mirror",
        "GIT_COMMITTER_EMAIL": "mirror@localhost",
    }
    proc = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SlmlabError(f"git {' '.join(args)} failed in {folder}: {proc.stderr.strip()[-300:]}")
    return proc.stdout.strip()


def publish(folder: str | Path, message: str = "files as they are") -> str:
    """Make a model folder a git repository on branch `main` holding its files as they are now (a new commit
    when they changed); return the commit. This is what the mirror serves."""
    folder = Path(folder)
    if not (folder / ".git").exists():
        _git(folder, "init", "-q", "-b", "main")
    if _git(folder, "branch", "--show-current") != "main":
        raise SlmlabError(
            f"{folder} is a git repository on branch {_git(folder, 'branch', '--show-current')!r}: "
            "the mirror serves branch main (git branch -m main)"
        )
    # weights do not compress: store them as they are (a 1.2 GB model is hashed in seconds, not deflated for minutes)
    _git(folder, "-c", "core.compression=0", "-c", "core.looseCompression=0", "add", "-A")
    if _git(folder, "status", "--porcelain"):
        _git(folder, "commit", "-q", "-m", message)
    return _git(folder, "rev-parse", "HEAD")


def prepare(root: str | Path) -> list[str]:
    """Publish every model folder under ROOT/models (see `publish`); return the repositories."""
    repos = repositories(root)
    if not repos:
        raise SlmlabError(f"no models under {root}/models: put each at {root}/models/ORG/NAME")
    for repo in repos:
        publish(Path(root) / "models" / repo)
    return repos


def add_model(root: str | Path, repo_id: str, source: str | Path) -> Path:
    """Copy a Hugging Face model folder into the mirror as ROOT/models/ORG/NAME and publish it."""
    target = Path(root) / "models" / repo_id
    if target.exists():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".git"))
    publish(target, f"{repo_id} from {Path(source).name}")
    return target


def config_text(root: Path, host: str, port: int, work: Path, proxy: bool) -> str:
    netloc = f"{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    return "\n".join(
        [
            "[basic]",
            f'host = "{host}"',
            f"port = {port}",
            f'repos-path = "{work / "repos"}"',
            f'mirror-netloc = "{netloc}"',
            f'mirror-lfs-netloc = "{netloc}"',
            f'mirrors-path = ["{root}"]',
            "[accessibility]",
            f"offline = {'false' if proxy else 'true'}",
            "",
        ]
    )


def start(
    root: str | Path, *, port: int | None = None, host: str = serve.LOOPBACK, proxy: bool = False, timeout: float = 60
) -> serve.Server:
    """Start olah for the models under ROOT (published first) on `host:port`; stop it with `.stop()` or a
    `with` block. `proxy`: also fetch from huggingface.co what ROOT does not hold (needs the internet)."""
    root = Path(root).resolve()
    repos = prepare(root)
    port = serve.check_port(port, host)
    work = root / ".mirror"
    work.mkdir(exist_ok=True)
    (work / "config.toml").write_text(config_text(root, host, port, work, proxy))
    # olah writes logs/olah.DATE.log where it runs: in the mirror's own folder, not the caller's
    return serve.launch(
        [str(olah_cli()), "-c", str(work / "config.toml")],
        host,
        port,
        None,
        timeout,
        f"/api/models/{repos[0]}/revision/main",
        cwd=work,
    )


def endpoint(server: serve.Server) -> str:
    """What students set: HF_ENDPOINT=… (the address a machine reaches the mirror at)."""
    return f"http://{server.host if server.host not in ('0.0.0.0', '::') else lan_address()}:{server.port}"


def lan_address() -> str:
    """This machine's address on its network (for --lan): the source address of a route outwards."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: no packet is sent for a UDP connect
            return s.getsockname()[0]
        except OSError:
            return "127.0.0.1"
