#!/usr/bin/env bash
# Set up everything the course needs, idempotently: a virtual environment with the pinned
# packages, llama.cpp built once into the cache, the Python binding linked to that build,
# and the offline models ready. A second run checks and returns in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${VENV:-.venv}"
PY="${PYTHON:-python3}"
export SLMLAB_HOME="${SLMLAB_HOME:-$HOME/.cache/slmlab}"
LLAMA_VERSION=0.3.36
LLAMA_ROOT="$SLMLAB_HOME/llama.cpp-$LLAMA_VERSION"
start=$(date +%s)
step() { echo "==> [$(( $(date +%s) - start ))s] $*"; }

# What the environment was built from: a change to any of these redoes the pip steps.
stamp_value=$(cat pyproject.toml scripts/setup.sh scripts/build-llama-cpp.sh | sha256sum | cut -c1-16)
stamp="$VENV/.slmlab-setup"

if [[ ! -x "$VENV/bin/python" ]]; then
  step "creating the virtual environment $VENV"
  "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
fi

step "llama.cpp tools (built once into $LLAMA_ROOT)"
PYTHON="$VENV/bin/python" bash scripts/build-llama-cpp.sh

if [[ -f "$stamp" && "$(cat "$stamp")" == "$stamp_value" ]]; then
  step "Python packages: already installed (pins unchanged)"
else
  step "the llama-cpp-python binding, against the llama.cpp just built (no second compile)"
  wheel_dir="$LLAMA_ROOT/wheel"
  if ! ls "$wheel_dir"/llama_cpp_python-*.whl >/dev/null 2>&1; then
    CMAKE_ARGS="-DLLAMA_BUILD=OFF -DLLAVA_BUILD=OFF" "$VENV/bin/python" -m pip wheel --quiet --no-deps \
      --no-cache-dir -w "$wheel_dir.tmp" "$LLAMA_ROOT/llama_cpp_python-$LLAMA_VERSION.tar.gz"
    mv "$wheel_dir.tmp" "$wheel_dir"
  fi
  "$VENV/bin/python" -m pip install --quiet --no-deps --force-reinstall "$wheel_dir"/llama_cpp_python-*.whl
  step "gguf from the same llama.cpp source (PyPI's gguf breaks its converter)"
  "$VENV/bin/python" -m pip install --quiet --force-reinstall --no-deps "$LLAMA_ROOT/src/vendor/llama.cpp/gguf-py"
  step "the pinned packages and slmlab itself (pyproject.toml)"
  "$VENV/bin/python" -m pip install --progress-bar on -e . 2>&1 | grep -E "^(Collecting|Installing|Successfully|ERROR)" || true
  "$VENV/bin/python" -m pip check >/dev/null || { "$VENV/bin/python" -m pip check; exit 1; }
fi

# The binding loads its shared library from llama_cpp/lib: link in the one we built.
libdir=$("$VENV/bin/python" -c "import importlib.util, pathlib; print(pathlib.Path(importlib.util.find_spec('llama_cpp').origin).parent / 'lib')")
mkdir -p "$libdir"
for lib in "$LLAMA_ROOT"/build/bin/lib*.so*; do
  ln -sf "$lib" "$libdir/$(basename "$lib")"
done
echo "$stamp_value" > "$stamp"

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
