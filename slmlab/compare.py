"""One yardstick for every toolchain: the same tokens, scored by each runtime's own logits.

Each runtime (PyTorch, llama.cpp, onnxruntime, MLX) returns logits for the same token ids; from them
we compute perplexity and how often the runtime's most likely next token agrees with PyTorch's
(argmax agreement). Same text, same tokens, same formula — only the runtime differs.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from slmlab import llamacpp


def heldout_chunks(model_dir: str | Path, n_chunks: int = 4, context: int = 256) -> list[list[int]]:
    """The first `n_chunks` × `context` tokens of the held-out text, each chunk opened by the tokenizer's BOS
    token when it has one (Qwen's has none: its chunks start with text).

    slm-nano's SentencePiece model is used directly (it is what llama.cpp reproduces exactly); other
    folders use their transformers tokenizer."""
    text = llamacpp.heldout_text().read_text()
    spm_file = Path(model_dir) / "tokenizer.model"
    if spm_file.is_file():
        import sentencepiece as spm

        sp = spm.SentencePieceProcessor(model_file=str(spm_file))
        ids, bos = sp.encode(text), sp.bos_id()
    else:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        ids, bos = tokenizer(text, add_special_tokens=False)["input_ids"], tokenizer.bos_token_id
    start = [] if bos is None or bos < 0 else [bos]
    size = context - len(start)
    return [start + ids[i * size : (i + 1) * size] for i in range(n_chunks)]


def token_scores(logits: np.ndarray, ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Negative log-likelihood of each next token, and the argmax prediction, for positions 0 … n−2."""
    x = logits[:-1].astype(np.float64)
    m = x.max(-1, keepdims=True)
    logp = x - (m + np.log(np.exp(x - m).sum(-1, keepdims=True)))
    return -logp[np.arange(len(ids) - 1), ids[1:]], x.argmax(-1)


@functools.lru_cache(maxsize=2)
def _torch_model(model_dir: str):
    import torch
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()


def torch_logits(model_dir: str | Path, ids: list[int]) -> np.ndarray:
    import torch

    with torch.no_grad():
        return _torch_model(str(model_dir))(torch.tensor([ids])).logits[0].numpy()


def llamacpp_logits(gguf: str | Path, ids: list[int]) -> np.ndarray:

    llm = _llama_all_logits(str(gguf), len(ids))
    llm.reset()
    llm.eval(ids)
    return np.array(llm.scores[: len(ids)])


@functools.lru_cache(maxsize=4)
def _llama_all_logits(gguf: str, n_ctx: int):
    from slmlab.binding import open_llama

    return open_llama(gguf, max(n_ctx, 256), 1, logits_all=True)  # every position's logits, not only the last


@dataclass
class Score:
    runtime: str
    perplexity: float
    argmax_agreement: float  # with PyTorch float32
    max_abs_logit_diff: float


def score(
    runtime: str, logits_fn, chunks: list[list[int]], reference: list[np.ndarray], second_half: bool = False
) -> Score:
    """Perplexity, argmax agreement and the largest |logit − PyTorch logit| over the chunks. With `second_half`,
    only the positions of each chunk's second half are scored — as `llama-perplexity` does, so that every scored
    token has at least half a chunk of context."""
    nll, agree, n, worst = 0.0, 0, 0, 0.0
    for ids, ref in zip(chunks, reference):
        logits = logits_fn(ids)
        t_nll, t_arg = token_scores(logits, ids)
        ref_arg = ref[:-1].argmax(-1)
        start = len(ids) // 2 if second_half else 0
        nll += t_nll[start:].sum()
        agree += int((t_arg[start:] == ref_arg[start:]).sum())
        n += len(t_nll) - start
        worst = max(worst, float(np.abs(logits - ref).max()))
    return Score(runtime, float(np.exp(nll / n)), agree / n, worst)
