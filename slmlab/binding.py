"""llama.cpp in process, through the llama-cpp-python binding: load a model once, decode greedily, time it.

`open_llama` is the one place where the binding's settings are chosen (those of llama.cpp's own tools); every
in-process use in the package (generation here, the memory probes, `compare`'s logits) goes through it.
"""

from __future__ import annotations

import atexit
import functools
import time
from dataclasses import dataclass
from pathlib import Path

from slmlab.gguf_file import read_gguf
from slmlab.llamacpp import llama_bench
from slmlab.toolrun import default_threads


def open_llama(gguf_path: str | Path, n_ctx: int, threads: int | None = None, *, verbose: bool = False, **overrides):
    """A `llama_cpp.Llama` with the settings llama.cpp's own tools use. Flash attention on: the tools use it on
    CPU ("auto"), while the binding's default is off — measurably slower (see `slmlab bench`). `swa_full=False`:
    a sliding-window layer (Gemma 3's) keeps only its window in the KV cache; the binding's default keeps the whole
    context there too. `verbose=True` lets llama.cpp log its buffers to stderr; `overrides` change any setting."""
    import llama_cpp

    threads = threads or default_threads()
    settings = {
        "n_ctx": n_ctx,
        "n_threads": threads,
        "n_threads_batch": threads,
        "flash_attn": True,
        "swa_full": False,
        "seed": 0,
        "verbose": verbose,
        **overrides,
    }
    return llama_cpp.Llama(model_path=str(gguf_path), **settings)


@dataclass
class Generation:
    model: str
    prompt: str
    text: str
    prompt_tokens: int
    generated_tokens: int
    prompt_seconds: float
    generation_seconds: float
    threads: int

    @property
    def prompt_tokens_per_s(self) -> float:
        return self.prompt_tokens / self.prompt_seconds if self.prompt_seconds else float("nan")

    @property
    def tokens_per_s(self) -> float:
        return self.generated_tokens / self.generation_seconds if self.generation_seconds else float("nan")


@functools.lru_cache(maxsize=4)
def load(gguf_path: str, n_ctx: int = 512, threads: int | None = None):
    """Load a GGUF with llama-cpp-python (cached, so a notebook loads each model once)."""
    read_gguf(gguf_path)
    return open_llama(gguf_path, n_ctx, threads)


def greedy_tokens(
    llm, prompt_tokens: list[int], n_tokens: int, stop_at_eos: bool = True
) -> tuple[list[int], float, float]:
    """Greedy decoding: evaluate the prompt, then repeatedly take the most likely token and evaluate it.

    The logits are read in place from llama.cpp's buffer (no copy), so the loop costs almost nothing
    beyond llama.cpp's own work. Returns the tokens and the prompt and generation wall times.
    """
    import numpy as np

    n_vocab, eos = llm.n_vocab(), llm.token_eos()
    llm.reset()
    t0 = time.perf_counter()
    llm.eval(prompt_tokens)
    t1 = time.perf_counter()
    out: list[int] = []
    for _ in range(n_tokens):
        token = int(np.argmax(np.ctypeslib.as_array(llm._ctx.get_logits_ith(-1), shape=(n_vocab,))))
        if stop_at_eos and token == eos:
            break
        out.append(token)
        llm.eval([token])
    t2 = time.perf_counter()
    return out, t1 - t0, t2 - t1


def generate(
    gguf_path: str | Path,
    prompt: str,
    n_tokens: int = 32,
    *,
    threads: int | None = None,
    temperature: float = 0.0,
    n_ctx: int | None = None,
) -> Generation:
    """Complete `prompt` with llama-cpp-python and time the prompt and the generated tokens (wall clock).

    At temperature 0 this is greedy decoding (`greedy_tokens`); otherwise llama-cpp-python's sampler."""
    threads = threads or default_threads()
    llm = load(str(gguf_path), n_ctx or context_for(gguf_path), threads)
    prompt_tokens = llm.tokenize(prompt.encode(), add_bos=True)
    if temperature == 0:
        tokens, t_prompt, t_gen = greedy_tokens(llm, prompt_tokens, n_tokens)
        text = llm.detokenize(tokens, prev_tokens=prompt_tokens).decode("utf-8", errors="replace")
        n_gen = len(tokens)
    else:
        llm.reset()
        start = time.perf_counter()
        out = llm.create_completion(prompt, max_tokens=n_tokens, temperature=temperature)
        t_gen, t_prompt = time.perf_counter() - start, 0.0
        text, n_gen = out["choices"][0]["text"], out["usage"]["completion_tokens"]
    return Generation(
        model=Path(gguf_path).name,
        prompt=prompt,
        text=text,
        prompt_tokens=len(prompt_tokens),
        generated_tokens=n_gen,
        prompt_seconds=t_prompt,
        generation_seconds=t_gen,
        threads=threads,
    )


def context_for(gguf_path: str | Path, cap: int = 2048) -> int:
    """A context size for a model: its training context, capped (the KV cache grows with it)."""
    trained = read_gguf(gguf_path).context_length or cap
    return int(min(trained, cap))


@dataclass
class Bench:
    model: str
    threads: int
    n_prompt: int
    n_gen: int
    llama_bench_pp: float  # prompt tokens/s, llama-bench
    llama_bench_tg: float  # generated tokens/s, llama-bench
    ours_tg: float  # generated tokens/s, slmlab's greedy path (llama-cpp-python), same file and threads

    @property
    def ratio(self) -> float:
        return self.ours_tg / self.llama_bench_tg


def bench(
    gguf_path: str | Path, threads: int | None = None, n_prompt: int = 64, n_gen: int = 64, reps: int = 3
) -> Bench:
    """llama-bench and our own generation path on the same file and threads; `ratio` = ours / llama-bench."""
    threads = threads or default_threads()
    lb = llama_bench(gguf_path, threads, n_prompt, n_gen, reps)
    llm = load(str(gguf_path), max(256, n_prompt + n_gen), threads)  # the context llama-bench gives a test
    start = [llm.token_bos()] if llm.token_bos() >= 0 else [0]
    greedy_tokens(llm, start, 8, stop_at_eos=False)  # warm-up, as llama-bench does
    speeds = []
    for _ in range(reps):
        tokens, _, seconds = greedy_tokens(llm, start, n_gen, stop_at_eos=False)
        speeds.append(len(tokens) / seconds)
    return Bench(Path(gguf_path).name, threads, n_prompt, n_gen, lb["pp"], lb["tg"], sum(speeds) / len(speeds))


# Free cached models before the interpreter tears its modules down (otherwise llama-cpp-python's
# destructor runs too late and prints "TypeError: 'NoneType' object is not callable" at exit).
atexit.register(load.cache_clear)
