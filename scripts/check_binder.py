"""Would Binder's build of this repository pass `pip check`? Checked without Docker, against the real base image.

repo2docker builds a Binder image in three steps: a conda environment from a lock file it ships (Python 3.11 with
JupyterLab, notebook, jupyterhub-singleuser), then `pip install -r binder/requirements.txt` into it, then
`binder/postBuild` (our scripts/setup.sh, which runs `pip check` and fails the build on a broken requirement).
pip upgrades only what the requirements ask for, so a package of the base image that we never name (notebook
7.4.7 wants jupyterlab<4.5) can end up broken by one we pin (jupyterlab 4.6.6). This script rebuilds that:

1. `repo2docker --no-build --debug` renders the Dockerfile (no Docker daemon needed); from it, the lock file of
   the base environment and the pip step.
2. The lock's Python packages, at their versions, from PyPI into a virtual environment of their own (cached by the
   lock's hash): the base environment as pip sees it. (conda-forge builds these from the same sources; four have
   other names on conda-forge, mapped below; conda's metapackages carry no code and are left out.)
3. pip itself resolves `binder/requirements.txt` in that environment (`pip install --dry-run --report`): what it
   would install or upgrade, with each package's metadata, nothing downloaded but metadata.
4. Those packages' metadata shadow the base's (metadata-only .dist-info folders ahead on the path) and the real
   `pip check` runs over the result.

    python scripts/check_binder.py [--requirements FILE] [--json]
Exit status 0: no broken requirement; 1: pip check found some (printed); 2: the check could not run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HOME = Path(os.environ.get("SLMLAB_HOME", Path.home() / ".cache" / "slmlab"))
# conda-forge name -> PyPI name, where they differ
CONDA_TO_PYPI = {
    "brotli-python": "brotli",
    "python-fastjsonschema": "fastjsonschema",
    "jupyterhub-base": "jupyterhub",
    "nbconvert-core": "nbconvert",
}
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def repo2docker_venv() -> Path:
    pins = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["slmlab"]["server-venvs"]["repo2docker"]
    return HOME / "venvs" / pins[0].replace("==", "-")


def render_dockerfile() -> str:
    """The Dockerfile repo2docker would build this repository with."""
    exe = repo2docker_venv() / "bin" / "repo2docker"
    if not exe.exists():
        raise SystemExit(f"repo2docker is not installed in {exe.parent.parent}: run `make setup` first")
    run = subprocess.run([str(exe), "--no-build", "--debug", str(REPO)], capture_output=True, text=True)
    if run.returncode != 0 or "FROM " not in run.stdout:
        raise SystemExit(f"repo2docker could not render the Dockerfile:\n{run.stderr[-2000:]}")
    return run.stdout


def unescape(name: str) -> str:
    """repo2docker names copied build files with escapism's escaping: '-2f' is '/', '-2e' is '.'."""
    return re.sub(r"-([0-9a-f]{2})", lambda m: chr(int(m.group(1), 16)), name)


def base_lock(dockerfile: str) -> Path:
    """The conda lock file the Dockerfile copies to /tmp/env/environment.lock."""
    match = re.search(r"^COPY \S+ build_script_files/(\S+) /tmp/env/environment\.lock$", dockerfile, re.M)
    if not match:
        raise SystemExit("the Dockerfile copies no environment.lock: repo2docker's layout has changed")
    path = Path(unescape(match.group(1).rsplit("-", 1)[0]))  # the last '-xxxxxx' is a hash of the content
    if not path.exists():
        raise SystemExit(f"the base environment's lock file {path} is not on this machine")
    return path


def python_packages(lock: Path) -> list[str]:
    """`name==version` for each Python package of a conda lock file (their build strings name a Python)."""
    pins = []
    for url in re.findall(r"^https://\S+", lock.read_text(), re.M):
        stem = re.sub(r"\.(conda|tar\.bz2)$", "", url.rsplit("/", 1)[1].split("#")[0])
        name, version, build = stem.rsplit("-", 2)
        if "py" in build and name != "python":
            pins.append(f"{CONDA_TO_PYPI.get(name, name)}=={version}")
    return pins


def base_venv(lock: Path) -> Path:
    """A virtual environment holding the base image's Python packages (made once per lock file)."""
    venv = HOME / "venvs" / f"repo2docker-base-{hashlib.sha256(lock.read_bytes()).hexdigest()[:12]}"
    if (venv / ".slmlab-ready").exists():
        return venv
    shutil.rmtree(venv, ignore_errors=True)
    pins = python_packages(lock)
    # progress goes to stderr: stdout is the result (pure JSON with --json), also on the first, cold run
    print(
        f"==> repo2docker's base environment: {len(pins)} Python packages from {lock.name} into {venv}",
        file=sys.stderr,
        flush=True,
    )
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("\n".join(pins) + "\n")
    try:
        pip(venv, "install", "--quiet", "--no-deps", "-r", f.name)
    finally:
        os.unlink(f.name)
    (venv / ".slmlab-ready").write_text(lock.name + "\n")
    return venv


def pip(venv: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    run = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", *args],
        capture_output=True,
        text=True,
        env=env,
    )
    if run.returncode != 0 and args[0] != "check":
        noise = "\n".join(line for line in run.stderr.splitlines() if "is ignored" not in line)
        raise SystemExit(f"pip {' '.join(args[:3])} failed:\n{noise[-3000:]}")
    return run


def reachable(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=5).close()
        return True
    except OSError:
        return False


def resolve(venv: Path, requirements: Path) -> tuple[list[dict], str]:
    """What `pip install -r requirements` would install into the base environment (pip's own report)."""
    text = requirements.read_text()
    note = ""
    if TORCH_CPU_INDEX in text and not reachable(TORCH_CPU_INDEX + "/torch/"):
        # this machine's own pip indexes hold the same CPU wheel; on Binder the index is reachable
        text = "\n".join(line for line in text.splitlines() if TORCH_CPU_INDEX not in line)
        note = f"{TORCH_CPU_INDEX} is not reachable here: torch's CPU wheel came from this machine's pip indexes"
    with tempfile.TemporaryDirectory() as tmp:
        req = Path(tmp) / "requirements.txt"
        req.write_text(text)
        report = Path(tmp) / "report.json"
        pip(venv, "install", "--quiet", "--dry-run", "--report", str(report), "-r", str(req))
        return json.loads(report.read_text())["install"], note


def write_metadata(item: dict, folder: Path) -> None:
    """A metadata-only .dist-info folder for one package of pip's report: all `pip check` reads."""
    meta = item["metadata"]
    dist_info = folder / f"{re.sub(r'[-_.]+', '_', meta['name'])}-{meta['version']}.dist-info"
    dist_info.mkdir()
    lines = [
        f"Metadata-Version: {meta.get('metadata_version', '2.1')}",
        f"Name: {meta['name']}",
        f"Version: {meta['version']}",
    ]
    if meta.get("requires_python"):
        lines.append(f"Requires-Python: {meta['requires_python']}")
    lines += [f"Provides-Extra: {extra}" for extra in meta.get("provides_extra", [])]
    lines += [f"Requires-Dist: {req}" for req in meta.get("requires_dist", [])]
    (dist_info / "METADATA").write_text("\n".join(lines) + "\n")
    (dist_info / "INSTALLER").write_text("pip\n")


def check(requirements: Path) -> dict:
    dockerfile = render_dockerfile()
    pip_step = re.search(r'^RUN \S+/bin/pip install --no-cache-dir -r "binder/requirements.txt"$', dockerfile, re.M)
    post_build = re.search(r"^RUN \./binder/postBuild$", dockerfile, re.M)
    if not (pip_step and post_build and pip_step.start() < post_build.start()):
        raise SystemExit("the Dockerfile does not run pip install -r binder/requirements.txt and then postBuild")
    lock = base_lock(dockerfile)
    venv = base_venv(lock)
    base = {
        line.split("==")[0].lower(): line.split("==")[1] for line in pip(venv, "list", "--format=freeze").stdout.split()
    }
    install, note = resolve(venv, requirements)
    with tempfile.TemporaryDirectory() as overlay:
        for item in install:
            write_metadata(item, Path(overlay))
        # pip finds each distribution once, first on the path: these shadow the base's older versions
        result = pip(venv, "check", env={**os.environ, "PYTHONPATH": overlay})
    changed = {item["metadata"]["name"]: item["metadata"]["version"] for item in install}
    return {
        "base_image": re.search(r"^FROM (\S+)", dockerfile, re.M).group(1),
        "lock": lock.name,
        "base_packages": len(base),
        "installed_or_upgraded": len(changed),
        "upgraded": {name: [base[name.lower()], version] for name, version in changed.items() if name.lower() in base},
        "note": note,
        "pip_check": (result.stdout + result.stderr).strip(),
        "ok": result.returncode == 0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requirements", type=Path, default=REPO / "binder" / "requirements.txt")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    try:
        result = check(args.requirements)
    except SystemExit as error:
        print(f"check_binder: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        print(
            f"Binder image: {result['base_image']}, conda environment {result['lock']} "
            f"({result['base_packages']} Python packages)"
        )
        print(
            f"pip install -r {args.requirements.name}: {result['installed_or_upgraded']} packages installed, "
            f"{len(result['upgraded'])} of the base's upgraded:"
        )
        for name, (old, new) in sorted(result["upgraded"].items()):
            print(f"    {name:24} {old} -> {new}")
        if result["note"]:
            print(f"note: {result['note']}")
        print(f"pip check: {result['pip_check']}")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
