#!/usr/bin/env bash
# Every test, as CI runs it: offline, one thread for torch and llama.cpp, caches kept out of $HOME.
#   scripts/test.sh          ruff, unit tests, notebooks with papermill, the seed stage, nbval against tests/expected/
#   scripts/test.sh unit     the fast tier only: tests marked `fast` (no llama.cpp build, no servers)
#   scripts/test.sh bench    make bench: benchmarks/bench_lesson.py, the speed claims measured and printed as ratios
set -euo pipefail
cd "$(dirname "$0")/.."

export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1 DO_NOT_TRACK=1
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 SLMLAB_THREADS=1 TOKENIZERS_PARALLELISM=false
# no MPLBACKEND here: notebooks must show their plots inline, as a learner sees them (the browser test checks)
export PYTHONDONTWRITEBYTECODE=1
export HF_HOME="$PWD/.cache/hf" MPLCONFIGDIR="$PWD/.cache/matplotlib" IPYTHONDIR="$PWD/.cache/ipython"
export JUPYTER_RUNTIME_DIR="$PWD/.cache/jupyter-runtime"
export SLMLAB_RESULTS="$PWD/build/results"  # the notebooks' measurements: never into the learner's cache
mkdir -p .cache build/notebooks

start=$(date +%s)
# every test has a time limit (a hung server fails its test, not the whole run); the slowest 25 are listed at the end
PYTEST=(.venv/bin/python -m pytest -p no:cacheprovider --timeout=2400 --durations=25)
.venv/bin/ruff check .
.venv/bin/ruff format --check .  # `ruff format .` fixes it (notebooks are laid out by hand: see pyproject.toml)
if [[ "${1:-}" == unit ]]; then
  "${PYTEST[@]}" tests -m fast
elif [[ "${1:-}" == bench ]]; then
  # the same environment as the tests, but every thread: speed is what is measured
  unset OMP_NUM_THREADS MKL_NUM_THREADS OPENBLAS_NUM_THREADS SLMLAB_THREADS
  export SLMLAB_RESULTS="$PWD/build/bench/results"
  .venv/bin/python benchmarks/bench_lesson.py
  exit
else
  # the slowest cells of every notebook run, printed however the run ends
  trap '.venv/bin/python scripts/slowest_cells.py 3 || true' EXIT
  "${PYTEST[@]}" tests --ignore=tests/test_seed_notebooks.py
  # the course on a seed's architecture (a 2-block Qwen3-0.6B stand-in), in a fresh process: its Olive steps
  # want most of the machine's memory, and the process above keeps what its in-process model tests touched
  "${PYTEST[@]}" tests/test_seed_notebooks.py
  # nbval runs notebook 01 (the one with cells tagged nbval-check-output) again, as a learner would, and compares
  # those cells with the outputs committed in tests/expected/: sizes and counts computed from the configs. The
  # papermill run above cannot catch a change to them (it compares nothing); this run does
  checked=$(.venv/bin/python scripts/nbval_notebooks.py)  # exits with an error when there is nothing to compare
  "${PYTEST[@]}" --nbval-lax $checked
fi
echo "all tests finished in $(( $(date +%s) - start )) s"
