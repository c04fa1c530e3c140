"""The lesson's speed claims, measured on this machine: each ratio printed with what it means.

The tests assert what does not depend on the machine's speed; every speed, speed-up and ratio of timings the
notebooks show is checked here instead, where a slow or shared machine gives a number to read, not a red test.

    .venv/bin/python benchmarks/bench_lesson.py             # run the notebooks at the learner's defaults, then print
    .venv/bin/python benchmarks/bench_lesson.py --results build/results   # only print, from saved measurements
                                                                           # (make test's, at CI parameters)

A run executes notebooks 00, 04, 07, 08, 09 and 10 as a learner would (09 on the full Qwen3-0.6B stand-in), then 03
and 05 on the full Qwen3-0.6B stand-in, into build/bench/ (about an hour on 2 cores; the stand-in's conversions are
cached). Each line says what held: a prediction within its stated band, a ratio above or below 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "build" / "bench"
FULL = "qwen3-0.6b-standin"  # Qwen3-0.6B's whole depth: speed, memory and the advisor's prediction on the real shape

# (label, notebook, parameters): what `make bench` executes
RUNS = [
    ("course", "00_start_here", {"CHECK_NETWORK": False}),
    ("course", "04_judging_quantized_models", {}),
    ("course", "07_serving_one_model", {}),
    ("course", "08_serving_many_requests", {}),
    ("course", "09_choosing_a_model", {}),  # SEED_LAYERS=None: the full stand-in
    ("course", "10_what_your_language_costs", {}),
    ("full-depth", "03_quantizing_with_llama_cpp", {"MODEL": FULL, "TYPES": ["Q8_0", "Q4_K_M"]}),
    ("full-depth", "05_optimizing_with_olive", {"MODEL": FULL, "PRECISIONS": ["fp32", "int8", "int4"]}),
]


def run_notebooks() -> dict[str, Path]:
    import papermill as pm

    folders = {}
    for label, name, parameters in RUNS:
        results = BENCH / label / "results"
        os.environ["SLMLAB_RESULTS"] = str(results)
        out = BENCH / label / f"{name}.ipynb"
        out.parent.mkdir(parents=True, exist_ok=True)
        print(f"running {name} ({label}) …", file=sys.stderr, flush=True)
        pm.execute_notebook(
            ROOT / "notebooks" / f"{name}.ipynb",
            out,
            parameters=parameters,
            kernel_name="python3",
            cwd=str(ROOT / "notebooks"),
            progress_bar=False,
        )
        folders[label] = results
    return folders


def load(folder: Path | None, name: str) -> dict | None:
    path = folder / f"{name}.json" if folder else None
    return json.loads(path.read_text()) if path and path.is_file() else None


def line(what: str, value: float, meaning: str) -> None:
    print(f"  {what:<58} {value:7.2f}   {meaning}")


def report(course: Path, full: Path | None) -> None:
    r00, r04, r07, r08, r09 = (
        load(course, n)
        for n in (
            "00_start_here",
            "04_judging_quantized_models",
            "07_serving_one_model",
            "08_serving_many_requests",
            "09_choosing_a_model",
        )
    )
    if r00:
        print("00 · generation speed follows the bytes read per token")
        speed = {g["model"]: g["generation tokens/s"] for g in r00["generation"]}
        line(
            "slm-nano tokens/s ÷ gemma-3-270m tokens/s",
            speed["slm-nano"] / speed["gemma-3-270m"],
            "> 1: the smaller model is faster",
        )
    if r04:
        print("04 · the bandwidth ceiling: tokens/s ≤ bandwidth ÷ bytes read per token")
        bw = r04["bandwidth_bytes_per_s"]
        for row in r04["gemma"]:
            share = row["tg tok/s"] * row["bytes/token"] / bw
            line(
                f"share of the ceiling, {row.get('file') or row.get('type')}",
                share,
                "≤ 1.1 holds (10% measuring slack)" + ("" if share <= 1.1 else "  ← ABOVE THE CEILING"),
            )
        sweep = {row["threads"]: row for row in r04["thread_sweep"]["rows"]}
        for t, row in sweep.items():
            line(
                f"measured ÷ predicted at {t} thread(s), {r04['thread_sweep']['file']}",
                row["measured ÷ predicted"],
                "within 0.75–1.25: the bandwidth model holds",
            )
        top = max(sweep)
        if top > 1:
            line(
                f"prompt processing, {top} threads ÷ 1",
                sweep[top]["prompt tok/s"] / sweep[1]["prompt tok/s"],
                "≈ threads with cores of their own; ≈ 1 on hyperthreads of one core",
            )
            line(
                f"generation, {top} threads ÷ 1",
                sweep[top]["measured tok/s"] / sweep[1]["measured tok/s"],
                "follows the bandwidth each thread count reaches",
            )
    if r07:
        print("07 · serving one model")
        load_rows = {row["slots"]: row for row in r07["load"]}
        line(
            "1 slot: requests/s × one request's time alone (Little's law)",
            load_rows[1]["× solo rate"],
            "within 0.75–1.25: a one-slot server is a queue of one",
        )
        top = max(load_rows)
        line(
            f"{top} slots ÷ 1 slot, requests/s (batching)",
            load_rows[top]["requests/s"] / load_rows[1]["requests/s"],
            f"> 1: batching pays; never {top}× on a CPU that is short of arithmetic",
        )
    if r08:
        print("08 · serving many requests")
        for engine in sorted({row["engine"] for row in r08["prefix_cache"]}):
            rows = [row for row in r08["prefix_cache"] if row["engine"] == engine]
            on = [row["seconds"] for row in rows if row["prefix cache"] == "on"]
            off = [row["seconds"] for row in rows if row["prefix cache"] == "off"]
            line(
                f"{engine}: later requests ÷ first, prefix cache on",
                max(on[1:]) / on[0],
                "< 1/3: the shared system prompt is not computed again",
            )
            if off:
                line(
                    f"{engine}: later requests ÷ first, prefix cache off",
                    min(off[1:]) / on[0],
                    "≈ 1: each request pays for the whole prompt",
                )
        spec = {(row["engine"], row["speculation"], row["prompt"]): row for row in r08["speculation"]}
        for engine, _, prompt in sorted(k for k in spec if k[1] == "n-gram"):
            on, off = spec[engine, "n-gram", prompt], spec[engine, "off", prompt]
            accepted = f"acceptance {on['acceptance']:.0%}" if on["drafted"] else "nothing drafted"
            line(
                f"{engine} n-gram speculation, {prompt}: speed-up",
                on["tokens/s"] / off["tokens/s"],
                f"> 1 pays ({accepted}); a CPU short of arithmetic gains little",
            )
        engines = {(row["engine"], row["clients"]): row["tokens/s"] for row in r08["engines"]}
        most = max(c for _, c in engines)
        if ("vLLM", most) in engines:
            ratio = engines["vLLM", most] / engines["llama-server", most]
            line(f"vLLM ÷ llama-server tokens/s at {most} clients", ratio, "which engine serves more here")
    if r09 and r09["seed_checks"]:
        layers = r09.get("seed_layers")
        print(
            "09 · the advisor's prediction on a seed's shape (a stand-in: real size and speed)"
            + (f" — only its first {layers} blocks here: not the real model's speed" if layers else "")
        )
        for row in r09["seed_checks"]:
            line(
                f"{row['seed (stand-in)']} {row['type']}: predicted ÷ measured tok/s",
                1 + row["speed error"],
                "within 0.5–1.5: the speed model carries over from notebook 04's measurements",
            )
    r10 = load(course, "10_what_your_language_costs")
    if r10:
        print("10 · a language's tokens cost time: prompt seconds follow the token count")
        prompt = {(row["model"], row["language"]): row for row in r10["prompt"]}
        for model, language in sorted(k for k in prompt if k[1] != "en" and (k[0], "en") in prompt):
            mine, english = prompt[model, language], prompt[model, "en"]
            line(
                f"{model}, {language} ÷ en: seconds over tokens",
                (mine["seconds"] / english["seconds"]) / (mine["tokens"] / english["tokens"]),
                "≈ 1: each token of any language costs the same time",
            )
    f03, f05 = load(full, "03_quantizing_with_llama_cpp"), load(full, "05_optimizing_with_olive")
    if f03:
        print(f"full depth · {f03['model']}")
        table = {row["type"]: row for row in f03["table"]}
        line(
            "Q4_K_M ÷ F16 generation tokens/s",
            table["Q4_K_M"]["tg tok/s"] / table["F16"]["tg tok/s"],
            "> 1: fewer bytes per token, faster",
        )
    if f05:
        for m in f05["models"]:
            line(
                f"Olive {m['precision']} ({m['route']}): peak ÷ predicted memory",
                m["peak_bytes"] / m["predicted_peak_bytes"],
                "≤ 1.15: the preflight's memory model holds",
            )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--results", type=Path, help="print from this folder of saved measurements; run nothing")
    args = p.parse_args()
    if args.results:
        if not args.results.is_dir():
            sys.exit(f"error: no such folder: {args.results} (run `make test` or `make bench` first)")
        report(args.results, None)
        return
    folders = run_notebooks()
    report(folders["course"], folders["full-depth"])


if __name__ == "__main__":
    main()
