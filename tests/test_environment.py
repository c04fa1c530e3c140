"""One source of truth for the pins: pyproject.toml. environment.yml and binder/ must agree with it."""

import re
import tomllib

import pytest

from slmlab import paths

pytestmark = pytest.mark.fast  # no llama.cpp build needed: `make unit`

SETUP_BUILT = {"llama-cpp-python"}  # installed by scripts/setup.sh against the cached llama.cpp build


def requirements(lines):
    reqs = {}
    for line in lines:
        line = line.split("#")[0].strip().strip('"').strip("- ").strip('"')
        m = re.match(r"^([A-Za-z0-9_.-]+)(\[[^]]*\])?\s*([=<>~!].*)?$", line)
        if m and not line.startswith("-"):
            reqs[m.group(1).lower()] = (m.group(3) or "").replace(" ", "")
    return reqs


def pyproject():
    deps = tomllib.loads((paths.REPO_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return requirements(deps)


def test_torch_is_pinned_to_the_cpu_wheel_everywhere():
    assert pyproject()["torch"] == "==2.13.0"
    for f in ("environment.yml", "binder/requirements.txt"):
        assert "torch==2.13.0" in (paths.REPO_ROOT / f).read_text()


def test_environment_yml_agrees_with_pyproject():
    text = (paths.REPO_ROOT / "environment.yml").read_text()
    pip = requirements(text.split("- pip:", 1)[1].splitlines())
    want = {k: v for k, v in pyproject().items() if k not in SETUP_BUILT}
    assert pip == want


def test_binder_agrees_with_pyproject_and_builds_llama_cpp():
    binder = paths.REPO_ROOT / "binder"
    reqs = requirements((binder / "requirements.txt").read_text().splitlines())
    assert reqs == {k: v for k, v in pyproject().items() if k not in SETUP_BUILT}
    apt = (binder / "apt.txt").read_text().split()
    assert "cmake" in apt and "build-essential" in apt
    assert "scripts/setup.sh" in (binder / "postBuild").read_text()


def test_binder_builds_llama_cpp_for_any_avx2_cpu_and_a_local_build_for_this_one():
    import os
    import platform
    import subprocess

    assert "SLMLAB_PORTABLE=1 " in (paths.REPO_ROOT / "binder/postBuild").read_text()
    script = str(paths.REPO_ROOT / "scripts/build-llama-cpp.sh")

    def flags(portable):
        env = {**os.environ, "SLMLAB_PORTABLE": portable}
        return subprocess.run(
            ["bash", script, "--print-flags"], capture_output=True, text=True, env=env, check=True
        ).stdout.split()

    portable, local = flags("1"), flags("0")
    assert "-DGGML_NATIVE=OFF" in portable and "-DGGML_AMX_INT8=ON" not in local
    if platform.machine() == "x86_64":
        assert "-DGGML_AVX2=ON" in portable and "-DGGML_AVX512=OFF" in portable
        cpu = open("/proc/cpuinfo").read().split("\nflags", 1)[1].split("\n", 1)[0].split()
        assert ("-DGGML_AVX512=ON" in local) == ("avx512f" in cpu)  # local builds use what this CPU has


def test_setup_installs_the_pinned_binding_version():
    pin = pyproject()["llama-cpp-python"].removeprefix("==")
    assert pin == paths.LLAMA_CPP_PYTHON_VERSION
    assert f"LLAMA_CPP_PYTHON_VERSION:-{pin}" in (paths.REPO_ROOT / "scripts/build-llama-cpp.sh").read_text()
    assert f"LLAMA_VERSION={pin}" in (paths.REPO_ROOT / "scripts/setup.sh").read_text()


def test_ci_runs_exactly_the_readme_test_command():
    readme = (paths.REPO_ROOT / "README.md").read_text()
    commands = re.findall(r"```(?:bash|sh)?\n(.*?)```", readme, flags=re.S)
    assert commands[0].strip() == "make lab" and commands[1].strip() == "make test"
    lines = (paths.REPO_ROOT / ".ci/run").read_text().splitlines()
    ci = [line for line in lines if line and not line.startswith(("#", "set ", "cd "))]
    assert ci == ["make test"]


def test_jupyterlab_opens_as_a_course_without_news_or_update_checks():
    import json

    from jupyterlab.commands import get_app_dir

    overrides = json.loads((paths.REPO_ROOT / get_app_dir() / "settings" / "overrides.json").read_text())
    notification = overrides["@jupyterlab/apputils-extension:notification"]
    assert notification == {"fetchNews": "false", "checkForUpdates": False}  # where JupyterLab reads overrides
