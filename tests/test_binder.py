"""Binder's build, checked from outside: repo2docker's Dockerfile rendered, pip check against its base environment.

scripts/check_binder.py does the work (its docstring says how); these tests run it as CI and a maintainer would.
It needs PyPI (package metadata) and repo2docker's venv from `make setup`; not in the fast tier.
"""

import json
import subprocess
import sys

from slmlab import paths

SCRIPT = paths.REPO_ROOT / "scripts" / "check_binder.py"


def check_binder(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=600)


def test_binder_requirements_pass_pip_check_in_repo2dockers_base_environment():
    run = check_binder("--json")
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(run.stdout)
    assert result["ok"] and result["pip_check"] == "No broken requirements found."
    assert result["lock"] == "environment.py-3.11-linux-64.lock"  # binder/runtime.txt: python-3.11
    assert result["base_packages"] > 100
    # the reason for the notebook pin: the base's 7.4.7 wants jupyterlab<4.5, and pip upgrades it alongside ours
    old, new = result["upgraded"]["notebook"]
    assert old == "7.4.7" and new.startswith("7.6.")
    assert result["upgraded"]["jupyterlab"] == ["4.4.9", "4.6.6"]


def test_the_check_fails_when_a_pin_breaks_a_package_of_the_base_image(tmp_path):
    # jupyterlab 4.6.6 alone: pip upgrades it and leaves the base's notebook 7.4.7 behind, broken
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("jupyterlab==4.6.6\n")
    run = check_binder("--requirements", str(requirements))
    assert run.returncode == 1, run.stdout + run.stderr
    assert "notebook 7.4.7 has requirement jupyterlab<4.5" in run.stdout
