"""The `slmlab` command: one subcommand per stage of the course.

Each prints a table for people and, with `--json`, data for scripts. Bad input ends with one
`error:` line and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from slmlab import (
    binding,
    catalog,
    classroom,
    compare,
    doctor,
    foundry,
    hub,
    llamacpp,
    mirror,
    mlx,
    models,
    olive,
    paths,
    serve,
    standins,
    tokens,
)
from slmlab.errors import SlmlabError


def table(rows: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    """A plain text table, columns sized to their content."""
    if not rows:
        return "(nothing)"
    columns = columns or list(rows[0])
    cells = [[str(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    line = lambda vals: "  ".join(v.ljust(w) for v, w in zip(vals, widths)).rstrip()
    return "\n".join([line(columns), line(["-" * w for w in widths])] + [line(r) for r in cells])


class Result:
    """What a subcommand hands back: data for --json, text for people, and the exit status."""

    def __init__(self, data: Any, text: str, status: int = 0) -> None:
        self.data, self.text, self.status = data, text, status


def gib(n: int) -> str:
    return f"{n / 2**30:.1f} GiB"


# Every subcommand: its name, its one-line help and the function that adds its arguments, registered by the
# `command` decorator on its handler (the arguments sit just above the handler they feed).
Handler = Callable[[argparse.Namespace], "Result"]
Arguments = Callable[[argparse.ArgumentParser], None]
COMMANDS: dict[str, tuple[Handler, str, Arguments | None]] = {}


def command(name: str, help: str, arguments: Arguments | None = None) -> Callable[[Handler], Handler]:
    def register(func: Handler) -> Handler:
        COMMANDS[name] = (func, help, arguments)
        return func

    return register


def doctor_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-network", action="store_true", help="skip the hub reachability check")


@command("doctor", "check tools, packages, models and hardware; exit 1 if the course cannot run", doctor_arguments)
def cmd_doctor(args: argparse.Namespace) -> Result:
    report = doctor.run_checks(check_network=not args.no_network)
    rows = [
        {
            "": "ok" if c.ok else ("MISSING" if c.required else "--"),
            "check": c.name,
            "detail": c.detail,
            "fix": "" if c.ok else c.fix,
        }
        for c in report.checks
    ]
    hw = report.hardware
    simd = ", ".join(k for k, v in hw["simd"].items() if v) or "none"
    text = (
        table(rows) + f"\n\nCPU: {hw['cpu']} ({hw['arch']}, {hw['cores']} cores; SIMD: {simd})"
        f"\nRAM: {gib(hw['ram_bytes'])} ({gib(hw['ram_available_bytes'])} available)  "
        f"disk free: {gib(hw['disk_free_bytes'])} in {hw['cache_dir']}"
        f"\n{'Ready for the course.' if report.ready else 'Not ready: run the fixes above.'}"
    )
    return Result(report.as_dict(), text, 0 if report.ready else 1)


def models_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--add", nargs=2, metavar=("NAME", "PATH"), help="register a model file under NAME (records its SHA-256)"
    )
    p.add_argument("--verify", metavar="NAME", help="check a registered file against its recorded SHA-256")
    p.add_argument("--remove", metavar="NAME", help="remove NAME from the registry (the file stays)")


@command("models", "list the offline and registered models; manage the local registry", models_arguments)
def cmd_models(args: argparse.Namespace) -> Result:
    if args.add:
        e = hub.register(args.add[0], args.add[1], source="added with slmlab models --add")
        return Result(vars(e), f"registered {e.name}: {e.path} ({e.size_bytes:,} bytes, sha256 {e.sha256[:16]}…)")
    if args.verify:
        v = hub.verify(args.verify)
        return Result(
            v,
            f"{args.verify}: {'ok, the SHA-256 matches' if v['ok'] else 'FAILED: ' + v['problem']}",
            0 if v["ok"] else 1,
        )
    if args.remove:
        e = hub.unregister(args.remove)
        return Result(vars(e), f"removed {e.name} from the registry (the file {e.path} stays)")
    rows = models.list_models()
    text = table(
        [
            {"name": r["name"], "kind": r["kind"], "size": f"{r['size_bytes'] / 1e6:.1f} MB", "path": r["path"]}
            for r in rows
        ]
    )
    return Result(rows, text)


def convert_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="slm-nano, a model folder, or a hub id")
    p.add_argument("--outtype", default="f16", help="f32, f16, bf16, q8_0, tq1_0 or tq2_0 (default f16)")
    p.add_argument("-o", "--output", help="output .gguf (default MODEL-OUTTYPE.gguf here)")


@command("convert", "Hugging Face model → GGUF with llama.cpp's convert_hf_to_gguf.py", convert_arguments)
def cmd_convert(args: argparse.Namespace) -> Result:
    model = models.resolve(args.model)
    if model.kind != "hf":
        raise SlmlabError(f"{args.model} is already a GGUF file; convert takes a Hugging Face model")
    out = Path(args.output) if args.output else Path(f"{model.name}-{args.outtype.upper()}.gguf")
    info = llamacpp.convert(model.path, out, args.outtype)
    return Result(_gguf_row(info), table([_gguf_row(info)]))


def quantize_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", help="an F16/BF16/F32 .gguf file")
    p.add_argument("type", help="quantization type, e.g. Q4_0, Q8_0, Q4_K_M, TQ2_0")
    p.add_argument("-o", "--output", help="output .gguf (default SOURCE-TYPE.gguf beside the source)")
    p.add_argument("--allow-requantize", action="store_true", help="allow a source that is already quantized")
    p.add_argument("--threads", type=THREADS, default=None)


@command("quantize", "GGUF → quantized GGUF with llama-quantize", quantize_arguments)
def cmd_quantize(args: argparse.Namespace) -> Result:
    info = llamacpp.quantize(
        args.source, args.type, args.output, allow_requantize=args.allow_requantize, threads=args.threads
    )
    return Result(_gguf_row(info), table([_gguf_row(info)]))


def generate_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="slm-nano, gemma-3-270m, a .gguf file or a model folder")
    p.add_argument("prompt")
    p.add_argument("-n", type=TOKENS, default=32, help="tokens to generate")
    p.add_argument("--threads", type=THREADS, default=None)
    p.add_argument("--temperature", type=non_negative("the temperature"), default=0.0)


@command("generate", "complete a prompt with llama-cpp-python and measure tokens/s", generate_arguments)
def cmd_generate(args: argparse.Namespace) -> Result:
    path = models.gguf_path(args.model)
    g = binding.generate(path, args.prompt, args.n, threads=args.threads, temperature=args.temperature)
    data = {
        "model": g.model,
        "prompt": g.prompt,
        "text": g.text,
        "prompt_tokens": g.prompt_tokens,
        "generated_tokens": g.generated_tokens,
        "prompt_tokens_per_s": round(g.prompt_tokens_per_s, 2),
        "tokens_per_s": round(g.tokens_per_s, 2),
        "threads": g.threads,
    }
    return Result(
        data,
        f"{g.prompt}{g.text}\n\n{g.generated_tokens} tokens at {g.tokens_per_s:.1f} tokens/s "
        f"(prompt: {g.prompt_tokens} tokens at {g.prompt_tokens_per_s:.1f} tokens/s, "
        f"{g.threads} threads)",
    )


def pull_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("repo", help="a hub id, e.g. Qwen/Qwen3-0.6B")
    p.add_argument(
        "--include", action="append", help="only files matching this pattern (repeatable), e.g. '*Q4_K_M.gguf'"
    )
    p.add_argument("--name", help="registry name for a downloaded GGUF")


@command("pull", "download a model from the Hugging Face hub, checking SHA-256s (needs a network)", pull_arguments)
def cmd_pull(args: argparse.Namespace) -> Result:
    folder, checks = hub.download(args.repo, args.include)
    for c in checks:
        if c["file"].endswith(".gguf"):
            hub.register(
                args.name or Path(c["file"]).stem, folder / c["file"], source=f"hub: {args.repo}", replace=True
            )
    text = f"{args.repo} → {folder}\n" + (
        table([{"file": c["file"], "checked against": c["kind"], "ok": c["ok"]} for c in checks])
        if checks
        else f"{hub.where()} is not reachable: these are the files already in the Hugging Face cache (HF_HOME), "
        "checked when they were downloaded"
    )
    return Result({"repo": args.repo, "path": str(folder), "checks": checks}, text)


def info_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="a catalog name (qwen3-0.6b …), a hub id, or a model folder")


@command("info", "parameters, size class and estimated GGUF sizes, computed from the model's config", info_arguments)
def cmd_info(args: argparse.Namespace) -> Result:
    i = catalog.info(args.model)
    data = {
        "name": i.name,
        "params": i.params,
        "embedding_params": i.embedding,
        "non_embedding_params": i.non_embedding,
        "tied_embeddings": i.tied_embeddings,
        "class": i.size_class,
        "context_length": i.context_length,
        "sizes": i.sizes,
        "source": i.source,
    }
    rows = [
        {"type": t, "bytes": f"{b:,}", "GB": f"{b / 1e9:.3f}", "GiB": f"{b / 2**30:.3f}"} for t, b in i.sizes.items()
    ]
    text = (
        f"{i.name}: {i.params:,} parameters ({i.non_embedding:,} non-embedding, "
        f"{'tied' if i.tied_embeddings else 'untied'} embeddings) → class {i.size_class}; "
        f"context {i.context_length}\n"
        f"estimated GGUF file sizes (GB = 10^9 bytes, GiB = 2^30 bytes):\n" + table(rows)
    )
    return Result(data, text)


def shape_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("seed", help="a seed in the catalog: qwen3-0.6b, qwen3-8b, phi-4-mini, gemma-3-1b, llama-3-8b …")
    p.add_argument(
        "--layers",
        type=whole(1, 1000, "the number of blocks"),
        default=None,
        help="keep every tensor's shape but only N blocks (where the whole model does not fit)",
    )
    p.add_argument("-o", "--output", help="output folder (default: the cache, SLMLAB_HOME/standins/SEED-KEY)")


@command(
    "shape",
    "build a same-shape stand-in of a seed model: its published config and real "
    "tokenizer, random weights (its sizes, speed and memory are the seed's; "
    "its text means nothing)",
    shape_arguments,
)
def cmd_shape(args: argparse.Namespace) -> Result:
    p = standins.plan(args.seed, args.layers)
    folder = standins.build(args.seed, args.layers, args.output)
    data = {
        "seed": args.seed,
        "hub_id": catalog.get(args.seed).hub_id,
        "path": str(folder),
        "parameters": p.n_params,
        "layers": p.config["num_hidden_layers"],
        "dtype": p.dtype,
        "size_bytes": sum(f.stat().st_size for f in folder.glob("*.safetensors")),
        "stand_in": standins.MARK,
        "tokenizer": standins.RECIPES[p.config["model_type"]].note,
    }
    text = (
        f"{data['hub_id']} stand-in ({standins.MARK}): {folder}\n"
        f"{p.n_params:,} parameters, {data['layers']} blocks, {p.dtype}, "
        f"{data['size_bytes'] / 1e9:.2f} GB of weights\n"
        f"tokenizer: {data['tokenizer']}\n"
        f"its sizes, speed and memory are the real model's; its text and perplexity mean nothing"
    )
    return Result(data, text)


def bench_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="a .gguf file (or slm-nano, gemma-3-270m)")
    p.add_argument("--threads", type=THREADS, default=None)
    p.add_argument("--n-prompt", type=TOKENS, default=64)
    p.add_argument("--n-gen", type=TOKENS, default=64)
    p.add_argument("--reps", type=whole(1, 100, "the number of repetitions"), default=3)


@command("bench", "generation speed: llama-bench and slmlab's own path on the same file and threads", bench_arguments)
def cmd_bench(args: argparse.Namespace) -> Result:
    b = binding.bench(
        models.gguf_path(args.model), threads=args.threads, n_prompt=args.n_prompt, n_gen=args.n_gen, reps=args.reps
    )
    data = {
        "model": b.model,
        "threads": b.threads,
        "n_prompt": b.n_prompt,
        "n_gen": b.n_gen,
        "llama_bench": {
            "prompt_tokens_per_s": round(b.llama_bench_pp, 2),
            "generation_tokens_per_s": round(b.llama_bench_tg, 2),
        },
        "slmlab": {"generation_tokens_per_s": round(b.ours_tg, 2)},
        "ratio": round(b.ratio, 3),
    }
    text = table(
        [
            {
                "path": "llama-bench",
                "prompt tok/s": f"{b.llama_bench_pp:.1f}",
                "generation tok/s": f"{b.llama_bench_tg:.1f}",
            },
            {"path": "slmlab (llama-cpp-python, greedy)", "prompt tok/s": "", "generation tok/s": f"{b.ours_tg:.1f}"},
        ]
    )
    return Result(data, f"{b.model}, {b.threads} thread(s)\n{text}\nratio slmlab / llama-bench: {b.ratio:.3f}")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def serve_until_stopped(server: serve.Server) -> None:
    """Wait while the server runs; stop it on Ctrl-C, on SIGTERM (`kill`, systemd) or when it dies."""
    try:
        while server.alive():
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


def serve_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="an offline model, a stand-in, a .gguf file or a Hugging Face folder")
    p.add_argument(
        "--engine",
        choices=["llama-server", "vllm"],
        default="llama-server",
        help="llama-server (a GGUF) or vLLM's CPU backend (a Hugging Face folder; its own venv)",
    )
    p.add_argument("--port", type=PORT, default=None, help="default: a free port")
    p.add_argument("--api-key", default=None, help="require this key (Authorization: Bearer KEY)")
    p.add_argument(
        "--parallel",
        type=whole(1, 256, "the number of slots"),
        default=1,
        help="sequences decoded together (llama-server's slots, vLLM's --max-num-seqs)",
    )
    p.add_argument("--context", type=CONTEXT, default=512, help="context tokens per sequence")
    p.add_argument("--threads", type=THREADS, default=None)


@command(
    "serve",
    "serve a model with an OpenAI-compatible API on 127.0.0.1: llama-server or vLLM (Ctrl-C stops it)",
    serve_arguments,
)
def cmd_serve(args: argparse.Namespace) -> Result:
    if args.engine == "vllm":  # vLLM loads Hugging Face folders; a GGUF-only model is dequantized into one (cached)
        model = models.resolve(args.model)
        server = serve.start_vllm(
            models.hf_folder(model),
            name=model.name,
            port=args.port,
            api_key=args.api_key,
            max_model_len=args.context,
            max_num_seqs=args.parallel,
            threads=args.threads,
        )
    else:
        server = serve.start_llama_server(
            models.gguf_path(args.model),
            port=args.port,
            api_key=args.api_key,
            parallel=args.parallel,
            context_per_slot=args.context,
            threads=args.threads,
        )
    info = {
        "url": server.base_url,
        "openai_base_url": f"{server.base_url}/v1",
        "pid": server.process.pid,
        "engine": args.engine,
        "parallel": args.parallel,
        "api_key": bool(args.api_key),
    }
    # `kill`, systemd and supervisors send SIGTERM: stop the server the same way as on Ctrl-C (installed before
    # saying "serving", so a SIGTERM sent as soon as it is said is caught too)
    signal.signal(signal.SIGTERM, _interrupt)
    print(
        f"serving {args.model} with {args.engine} at {server.base_url}/v1 (loopback only; Ctrl-C stops it)",
        file=sys.stderr,
        flush=True,
    )
    serve_until_stopped(server)
    return Result(info, f"stopped the server at {server.base_url}")


def mirror_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("root", help="a folder with models at ROOT/models/ORG/NAME (git repositories or plain folders)")
    p.add_argument("--port", type=PORT, default=None, help="default: a free port")
    p.add_argument("--lan", action="store_true", help="listen on every interface, not only 127.0.0.1")
    p.add_argument(
        "--proxy",
        action="store_true",
        help="also fetch what ROOT lacks from huggingface.co, keeping a copy (needs the internet)",
    )
    p.add_argument(
        "--add",
        action="append",
        metavar="ORG/NAME=FOLDER",
        help="copy a model folder into ROOT as ORG/NAME first (repeatable)",
    )


@command(
    "mirror",
    "serve models over the Hugging Face protocol (olah) for a classroom or tests; "
    "students set HF_ENDPOINT (Ctrl-C stops it)",
    mirror_arguments,
)
def cmd_mirror(args: argparse.Namespace) -> Result:
    for spec in args.add or []:
        repo_id, _, folder = spec.partition("=")
        if not models.HUB_ID.match(repo_id) or not folder:
            raise SlmlabError(f"--add takes ORG/NAME=FOLDER, not {spec!r}")
        mirror.add_model(args.root, repo_id, paths.require_hf_folder(Path(folder).expanduser()))
    host = "0.0.0.0" if args.lan else serve.LOOPBACK
    server = mirror.start(args.root, port=args.port, host=host, proxy=args.proxy)
    url = mirror.endpoint(server)
    repos = mirror.repositories(args.root)
    signal.signal(signal.SIGTERM, _interrupt)
    print(
        f"serving {len(repos)} models from {args.root} at {url} "
        f"({'the whole network can reach it' if args.lan else 'loopback only'}; Ctrl-C stops it)\n"
        f"students set:  export HF_ENDPOINT={url}\n" + "\n".join(f"  {r}" for r in repos),
        file=sys.stderr,
        flush=True,
    )
    serve_until_stopped(server)
    return Result({"url": url, "repositories": repos}, f"stopped the mirror at {url}")


def classroom_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["release", "grade", "menus-on", "menus-off"])
    p.add_argument("submissions", nargs="?", help="grade: a folder SUBMISSIONS/STUDENT/NOTEBOOK.ipynb")
    p.add_argument(
        "-o",
        "--output",
        default=None,
        help="release: a folder for the student notebooks; grade: the grades CSV (feedback goes beside it)",
    )
    p.add_argument("--notebooks", nargs="+", metavar="NAME", help="only these notebooks (default: every notebook)")
    p.add_argument(
        "--self-test",
        action="store_true",
        help="grade: the solutions (full marks) and the untouched student version (zero), to check the grading itself",
    )
    p.add_argument("--jobs", type=int, default=None, help="grade: notebooks graded at once (default: one per core)")
    p.add_argument(
        "--timeout",
        type=float,
        default=classroom.NOTEBOOK_TIMEOUT_S,
        help=f"grade: seconds one student's notebook may run (default {classroom.NOTEBOOK_TIMEOUT_S})",
    )
    p.add_argument(
        "--hidden-checks",
        action="store_true",
        help="for a graded test: the student version holds no check to read the answer from; autograding "
        "restores it (release and grade alike)",
    )


@command(
    "classroom",
    "student versions of the notebooks without solutions (release), and "
    "nbgrader's autograding of what students hand in (grade)",
    classroom_arguments,
)
def cmd_classroom(args: argparse.Namespace) -> Result:
    if args.action in ("menus-on", "menus-off"):
        classroom.set_menus(args.action == "menus-on")
        state = "on" if classroom.menus_enabled() else "off"
        return Result({"menus": state}, f"nbgrader's JupyterLab menus are {state} (restart JupyterLab to see it)")
    if not args.output:
        raise SlmlabError(f"{args.action} needs -o: " + ("a folder" if args.action == "release" else "a grades CSV"))
    if args.action == "release":
        written = classroom.release(Path(args.output), args.notebooks, args.hidden_checks)
        checks = "checks hidden" if args.hidden_checks else "checks and tests locked"
        return Result(
            {"notebooks": [str(p) for p in written]},
            f"{len(written)} student notebooks (no solutions; {checks}) in {args.output}\n"
            + "\n".join(f"  {p.name}" for p in written),
        )
    if args.self_test == bool(args.submissions):
        raise SlmlabError("grade takes a SUBMISSIONS folder (SUBMISSIONS/STUDENT/NOTEBOOK.ipynb) or --self-test")
    with tempfile.TemporaryDirectory(prefix="slmlab-self-test-") as tmp:
        submissions = (
            classroom.self_test_submissions(Path(tmp), args.notebooks, args.hidden_checks)
            if args.self_test
            else Path(args.submissions)
        )
        start = time.perf_counter()
        grades = classroom.grade(
            submissions, Path(args.output), args.notebooks, args.hidden_checks, jobs=args.jobs, timeout=args.timeout
        )
        seconds = time.perf_counter() - start
    rows = [
        {
            "student": g.student,
            "notebook": g.notebook,
            "score": f"{g.score:g} / {g.max_score:g}",
            "seconds": f"{g.seconds:.0f}",
            "problem": g.problem or "",
        }
        for g in grades
    ]
    problems = [g for g in grades if g.problem]
    status = 1 if problems else 0  # every student graded, but a teacher should look at these
    if args.self_test:  # the solutions must earn every point, the untouched copy none
        wrong = [g for g in grades if g.score != (g.max_score if g.student == "solutions" else 0)]
        status = 1 if wrong or problems else 0
        rows.append({"student": "self-test", "notebook": "", "score": "FAILED" if status else "passed"})
    summary = (
        f"\n\n{len(grades)} notebooks graded in {seconds:.0f} s"
        + (f"; {len(problems)} could not be graded (problem column)" if problems else "")
        + f"\ngrades: {args.output}; feedback: {Path(args.output).parent / 'feedback'}"
    )
    return Result([vars(g) for g in grades], table(rows) + summary, status)


def olive_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="slm-nano, gemma-3-270m (its GGUF, dequantized), or a Hugging Face model folder")
    p.add_argument("--precision", choices=olive.PRECISIONS, default="int8")
    p.add_argument("-o", "--output", help="output folder (default MODEL-onnx-PRECISION)")
    p.add_argument("--chunks", type=CHUNKS, default=4, help="held-out chunks of 256 tokens for the comparison")


@command(
    "olive",
    "Olive: HF model → ONNX (fp32, int8 dynamic, int8-static calibrated QDQ, int4 ModelBuilder), compared with PyTorch",
    olive_arguments,
)
def cmd_olive(args: argparse.Namespace) -> Result:
    model = models.resolve(args.model)
    folder = models.hf_folder(model)  # Olive starts from transformers weights: a GGUF is dequantized first
    out = Path(args.output or f"{model.name}-onnx-{args.precision}")
    r = olive.optimize(folder, args.precision, out)
    data = {
        "model": model.name,
        "precision": r.precision,
        "path": str(r.model),
        "size_bytes": r.size_bytes,
        "seconds": round(r.seconds, 1),
        "pass_seconds": {k: round(v, 2) for k, v in r.pass_seconds.items()},
        "quantized_ops": r.quantized_ops,
        "log": str(r.log),
    }
    chunks = compare.heldout_chunks(folder, args.chunks)
    ref = [compare.torch_logits(folder, c) for c in chunks]
    s = compare.score(f"onnx {args.precision}", olive.OnnxLM(r.model).logits, chunks, ref)
    data |= {
        "argmax_agreement": round(s.argmax_agreement, 4),
        "max_abs_logit_diff": round(s.max_abs_logit_diff, 4),
        "perplexity": round(s.perplexity, 4),
    }
    torch_score = compare.score("torch", lambda ids: compare.torch_logits(folder, ids), chunks, ref)
    data["torch_perplexity"] = round(torch_score.perplexity, 4)
    text = "\n".join(f"{k}: {v}" for k, v in data.items())
    return Result(data, text)


def mlx_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="slm-nano, gemma-3-270m (its GGUF, dequantized), or a Hugging Face model folder")
    p.add_argument("--q-bits", type=int, choices=[4, 8], default=4)
    p.add_argument("--group-size", type=int, choices=[32, 64, 128], default=64)
    p.add_argument("-o", "--output", help="output folder (default MODEL-mlx-QBITSbit)")
    p.add_argument("--prompt", default="Return the number of")
    p.add_argument("-n", type=TOKENS, default=16)


@command("mlx", "MLX: mlx_lm.convert to 4- or 8-bit, then generate", mlx_arguments)
def cmd_mlx(args: argparse.Namespace) -> Result:
    model = models.resolve(args.model)
    folder = models.hf_folder(model)  # mlx_lm.convert starts from transformers weights: a GGUF is dequantized first
    out = Path(args.output or f"{model.name}-mlx-{args.q_bits}bit")
    r = mlx.convert(folder, out, q_bits=args.q_bits, group_size=args.group_size)
    g = mlx.generate(out, args.prompt, args.n)
    data = {
        "model": model.name,
        "path": str(out),
        "q_bits": r.q_bits,
        "group_size": r.group_size,
        "size_bytes": r.size_bytes,
        "bits_per_weight": round(r.bits_per_weight or 0, 3),
        "convert_seconds": round(r.seconds, 2),
        "prompt": args.prompt,
        "text": g.text,
        "generation_tokens": g.generation_tokens,
        "generation_tokens_per_s": round(g.generation_tps, 1),
        "peak_memory_gb": round(g.peak_memory_gb, 4),
    }
    return Result(data, "\n".join(f"{k}: {v}" for k, v in data.items()))


def foundry_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "model",
        help="an ONNX Runtime GenAI folder (genai_config.json), or a model reference "
        "(slm-nano, gemma-3-270m …) to build one with Olive",
    )
    p.add_argument("--id", default="slmlab-local-generic-cpu:1", help="model id, NAME:VERSION")
    p.add_argument("--prompt", default="Return the number of")
    p.add_argument("-n", type=TOKENS, default=16)
    p.add_argument(
        "--add-template",
        action="store_true",
        help="give a base model a chat template (Gemma's turns for Gemma, else pass-through)",
    )
    p.add_argument("--web", action="store_true", help="also try the SDK's OpenAI-compatible web service")


@command(
    "foundry",
    "Foundry Local in process: register an ONNX Runtime GenAI folder, load it, chat, unload",
    foundry_arguments,
)
def cmd_foundry(args: argparse.Namespace) -> Result:
    path = Path(args.model)
    if not (path / "genai_config.json").is_file():  # a model reference: build its INT4 folder with Olive first
        path = olive.built_folder(args.model, "int4")
    if args.add_template:
        foundry.add_chat_template(path)
    with foundry.LocalModel(path, args.id) as local:
        budget = local.preflight(args.prompt, args.n)
        answer = local.chat(args.prompt, args.n)
        data = {
            "folder": str(path),
            "id": local.id,
            "register_seconds": round(local.register_seconds, 4),
            "load_seconds": round(local.load_seconds, 4),
            "prompt": args.prompt,
            "answer": answer.text,
            "request_seconds": round(answer.seconds, 4),
            "preflight": {
                "prompt_tokens": budget.prompt_tokens,
                "required_tokens": budget.required_tokens,
                "context_limit_tokens": budget.context_limit_tokens,
                "fits": budget.fits,
            },
        }
        if args.web:
            web = foundry.probe_web_service(local, args.prompt)
            data["web_service"] = {
                "url": web.url,
                "models_listed": web.models_listed,
                "model_status": web.model_status,
                "chat_status": web.chat_status,
                "answer": web.chat_answer,
            }
    return Result(data, "\n".join(f"{k}: {v}" for k, v in data.items()))


def ppl_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="a .gguf file (or slm-nano, gemma-3-270m)")
    p.add_argument("--text", help="a text file (default: slm-nano's held-out text)")
    p.add_argument("--context", type=CONTEXT, default=256, help="tokens per chunk (default 256)")
    p.add_argument("--chunks", type=CHUNKS, default=None, help="at most this many chunks (default: the whole text)")
    p.add_argument("--threads", type=THREADS, default=None)


@command("ppl", "perplexity of a model on a text with llama-perplexity (lower is better)", ppl_arguments)
def cmd_ppl(args: argparse.Namespace) -> Result:
    path = models.gguf_path(args.model)
    p = llamacpp.perplexity(path, args.text, context=args.context, chunks=args.chunks, threads=args.threads)
    data = {
        "model": p.model,
        "perplexity": p.perplexity,
        "uncertainty": p.uncertainty,
        "context": p.context,
        "chunks": p.chunks,
        "threads": p.threads,
        "text": p.text,
    }
    return Result(
        data,
        f"{p.model}: perplexity {p.perplexity:.4f} ± {p.uncertainty:.4f} "
        f"({p.chunks} chunks of {p.context} tokens, {p.threads} threads, text {p.text})",
    )


def _gguf_row(info) -> dict[str, Any]:
    return {
        "path": str(info.path),
        "file_type": info.file_type,
        "size_bytes": info.size_bytes,
        "size_mb": round(info.size_bytes / 1e6, 2),
        "bits_per_weight": round(info.bits_per_weight, 3),
        "params": info.n_params,
        "matrix_types": info.matrix_types,
    }


class Parser(argparse.ArgumentParser):
    """argparse, with bad input reported like every other error of the command: one `error:` line, exit 2."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"error: {self.prog}: {message} (see {self.prog} --help)\n")


def tokens_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("text", help="a text, a UTF-8 file, or - for standard input")
    p.add_argument(
        "--models",
        nargs="+",
        metavar="NAME",
        help=f"tokenizers ({', '.join(tokens.TOKENIZERS)}) or catalog models (default: every tokenizer)",
    )
    p.add_argument(
        "--unit",
        choices=["word", "character"],
        default="word",
        help="what a reader counts: words, or characters for a language written without spaces",
    )


@command(
    "tokens",
    "what a text costs in tokens on each seed model's real tokenizer (the same table as notebook 10)",
    tokens_arguments,
)
def cmd_tokens(args: argparse.Namespace) -> Result:
    names = tokens.resolve_names(args.models)  # an unknown name is refused before anything is read
    if args.text == "-":
        data = sys.stdin.buffer.read()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise SlmlabError(f"standard input is not UTF-8 text (byte {e.start}); send UTF-8") from None
        if not text.strip():
            raise SlmlabError("standard input is empty: there is nothing to count")
        where = "standard input"
    elif Path(args.text).is_file() or Path(args.text).suffix in (".txt", ".md") or "/" in args.text:
        text, where = tokens.read_text(args.text), args.text
    else:
        text, where = args.text, "the text given"
    counts = [tokens.count(n, text, "text", args.unit) for n in names]
    rows = [
        {
            "tokenizer": c.tokenizer,
            "models": tokens.TOKENIZERS[c.tokenizer].models,
            "tokens": c.tokens,
            "characters/token": f"{c.characters_per_token:.2f}",
            f"tokens/{args.unit}": f"{c.tokens_per_unit:.2f}",
            "partial-character tokens": c.partial_tokens,
        }
        for c in counts
    ]
    data = [
        {**vars(c), "characters_per_token": c.characters_per_token, "tokens_per_unit": c.tokens_per_unit}
        for c in counts
    ]
    units = tokens.units(text, args.unit)
    return Result(data, f"{where}: {len(text):,} characters, {units:,} {args.unit}s\n{table(rows)}")


def whole(low: int, high: int, what: str):
    """An argparse type: a whole number from `low` to `high`, or a one-line error naming the range."""

    def parse(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be a whole number, not {text!r}") from None
        if not low <= n <= high:
            raise argparse.ArgumentTypeError(f"{what} must be from {low:,} to {high:,}, not {n:,}")
        return n

    return parse


def non_negative(what: str):
    def parse(text: str) -> float:
        try:
            x = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be a number, not {text!r}") from None
        if not x >= 0:
            raise argparse.ArgumentTypeError(f"{what} must be 0 or more, not {text}")
        return x

    return parse


TOKENS = whole(1, 100_000, "the number of tokens")
THREADS = whole(1, 1024, "the number of threads")
CONTEXT = whole(16, 1 << 20, "the context (tokens)")
PORT = whole(1, 65535, "the port")
CHUNKS = whole(1, 100_000, "the number of chunks")


def parser() -> argparse.ArgumentParser:
    p = Parser(prog="slmlab", description="Small language models on edge hardware: the course's command.")
    sub = p.add_subparsers(dest="command", required=True)
    for name, (func, help, arguments) in COMMANDS.items():
        sp = sub.add_parser(name, help=help, description=help)
        sp.add_argument("--json", action="store_true", help="print JSON for scripts")
        sp.set_defaults(func=func)
        if arguments:
            arguments(sp)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        # with --json, stdout carries only the JSON: the commands the tools run are echoed on stderr
        with contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext():
            result = args.func(args)
        print(json.dumps(result.data, indent=2, default=str) if args.json else result.text)
        return result.status
    except SlmlabError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; nothing half-written was kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
