"""Serving under load: requests/s and latency p50/p95 for 1 vs N llama-server slots (continuous batching).

    .venv/bin/python benchmarks/bench_serving.py [MODEL] [--clients 16] [--per-client 2] [--slots 1 4] [--max-tokens 16]

Everything runs on 127.0.0.1: the script starts each server, sends a bounded number of requests from
concurrent asyncio clients, and stops the server. Prints one line per slot count and the ratio N : 1.
"""

from __future__ import annotations

import argparse

from slmlab import models, serve, toolrun


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("model", nargs="?", default="gemma-3-270m")
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--per-client", type=int, default=2)
    p.add_argument("--slots", type=int, nargs="+", default=[1, 4])
    p.add_argument("--max-tokens", type=int, default=16)
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args()
    gguf = models.gguf_path(args.model)
    rps = {}
    for slots in args.slots:
        with serve.start_llama_server(gguf, parallel=slots, threads=args.threads or toolrun.default_threads()) as s:
            r = serve.load_test(s.base_url, args.clients, args.per_client, max_tokens=args.max_tokens)
        rps[slots] = r.requests_per_s
        print(
            f"{args.model}: {slots} slot(s)  {r.requests} requests, {r.errors} errors  "
            f"{r.requests_per_s:7.2f} req/s  "
            f"{r.tokens_per_s:8.1f} tok/s  p50 {r.percentile(50):.3f} s  p95 {r.percentile(95):.3f} s"
        )
    lo, hi = min(rps), max(rps)
    print(f"ratio {hi} slots : {lo} slot = {rps[hi] / rps[lo]:.2f}")


if __name__ == "__main__":
    main()
