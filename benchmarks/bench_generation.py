"""Does slmlab's generation path cost speed? Ratio of its tokens/s to llama-bench's, same file and threads.

    .venv/bin/python benchmarks/bench_generation.py [MODEL ...] [--threads N]

Target: ratio ≥ 0.95 on Gemma 3 270M at 1 thread (a naive create_completion loop measured 0.94).
Run it on an otherwise idle machine: a busy core skews both numbers. Prints one line per model.
"""

from __future__ import annotations

import argparse

from slmlab import binding, models


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("models", nargs="*", default=["gemma-3-270m", "slm-nano"])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--reps", type=int, default=5)
    args = p.parse_args()
    for ref in args.models:
        b = binding.bench(models.gguf_path(ref), threads=args.threads, reps=args.reps)
        print(
            f"{ref:14s} threads={b.threads}  llama-bench tg {b.llama_bench_tg:8.1f} tok/s  "
            f"slmlab {b.ours_tg:8.1f} tok/s  ratio {b.ratio:.3f}  (target ≥ 0.95)"
        )


if __name__ == "__main__":
    main()
