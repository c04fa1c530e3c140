"""Train slm-nano, the course's offline model, from scratch on the shipped corpus.

slm-nano is a Llama-architecture model (the family of Meta-Llama-3, and the layout Qwen3 and
Phi share), small enough to ship in the repo and to run the whole course in minutes, with:
- hidden size 256 and FFN 768 (multiples of 256), so K-quants and ternary types apply to
  real tensors instead of silently falling back;
- a SentencePiece BPE tokenizer with identity normalization and no whitespace collapsing,
  so llama.cpp and sentencepiece produce the same token ids.

Tests never retrain it. Re-run this to reproduce it (about 15 minutes on 2 cores):

    python scripts/make_corpus.py && python scripts/train_slm_nano.py

Environment variables change the recipe (SLM_NANO_STEPS, _LR, _LR_FLOOR, _WD, _TIED, _OUT); the model
card lists the recipes tried and how quantization-sensitive each came out.
"""

from __future__ import annotations

import gzip
import io
import json
import math
import os
import time
from pathlib import Path

import sentencepiece as spm
import torch
from transformers import LlamaConfig, LlamaForCausalLM

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "data" / "corpus"
OUT = Path(os.environ.get("SLM_NANO_OUT", ROOT / "data" / "models" / "slm-nano"))

VOCAB = 4096
CONTEXT = 256
BATCH = 16
STEPS = int(os.environ.get("SLM_NANO_STEPS", "800"))
LR = float(os.environ.get("SLM_NANO_LR", "3e-3"))
WEIGHT_DECAY = float(os.environ.get("SLM_NANO_WD", "0.1"))
TIED = os.environ.get("SLM_NANO_TIED", "1") == "1"
LR_FLOOR = float(os.environ.get("SLM_NANO_LR_FLOOR", "0.1"))  # the cosine ends at this fraction of LR
WARMUP = 50
SEED = 0


def train_tokenizer(text: str) -> spm.SentencePieceProcessor:
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(text.split("\n")),
        model_writer=model,
        model_type="bpe",
        vocab_size=VOCAB,
        normalization_rule_name="identity",
        remove_extra_whitespaces=False,
        byte_fallback=True,
        split_digits=True,
        character_coverage=1.0,
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
        num_threads=2,
        minloglevel=2,
    )
    (OUT / "tokenizer.model").write_bytes(model.getvalue())
    return spm.SentencePieceProcessor(model_proto=model.getvalue())


def encode(sp: spm.SentencePieceProcessor, text: str) -> torch.Tensor:
    ids: list[int] = []
    for doc in text.split("\n\n"):
        ids += [sp.bos_id()] + sp.encode(doc) + [sp.eos_id()]
    return torch.tensor(ids, dtype=torch.long)


def q4_0_roundtrip(w: torch.Tensor) -> torch.Tensor:
    """ggml's Q4_0 (quantize_row_q4_0_ref) and back: blocks of 32, d = signed max / -8, codes 0..15."""
    x = w.reshape(-1, 32)
    signed_max = x.gather(1, x.abs().argmax(dim=1, keepdim=True))
    d = signed_max / -8
    inv = torch.where(d != 0, 1 / d, torch.zeros_like(d))
    q = torch.clamp((x * inv + 8.5).to(torch.int8).float(), max=15)
    return ((q - 8) * d).reshape(w.shape)


@torch.no_grad()
def perplexity(model: LlamaForCausalLM, ids: torch.Tensor) -> float:
    model.eval()
    n = (len(ids) - 1) // CONTEXT
    x = ids[: n * CONTEXT].view(n, CONTEXT)
    total = 0.0
    for chunk in x.split(16):
        total += model(chunk, labels=chunk).loss.item() * len(chunk)
    model.train()
    return math.exp(total / n)


@torch.no_grad()
def q4_0_gap(model: LlamaForCausalLM, ids: torch.Tensor, base: float) -> float:
    """How much perplexity grows (in %) when the matrices llama-quantize makes Q4_0 go through Q4_0:
    every layer matrix, and the input embedding when it is not tied to the output (which gets Q6_K)."""
    names = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
    saved = {}
    for name, p in model.named_parameters():
        if name.endswith(tuple(f"{k}.weight" for k in names)) or (not TIED and name.endswith("embed_tokens.weight")):
            saved[name] = p.detach().clone()
            p.copy_(q4_0_roundtrip(p))
    quantized = perplexity(model, ids)
    for name, p in model.named_parameters():
        if name in saved:
            p.copy_(saved[name])
    return 100 * (quantized / base - 1)


def main() -> None:
    torch.manual_seed(SEED)
    OUT.mkdir(parents=True, exist_ok=True)
    train_text = gzip.open(CORPUS / "stdlib-docstrings.train.txt.gz", "rt", encoding="utf-8").read()
    heldout_text = (CORPUS / "stdlib-docstrings.heldout.txt").read_text(encoding="utf-8")
    sp = train_tokenizer(train_text)
    train_ids, heldout_ids = encode(sp, train_text), encode(sp, heldout_text)
    print(f"tokens: {len(train_ids):,} train, {len(heldout_ids):,} held-out")

    config = LlamaConfig(
        vocab_size=VOCAB,
        hidden_size=256,
        intermediate_size=768,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=64,
        max_position_embeddings=CONTEXT,
        rms_norm_eps=1e-5,
        rope_theta=10000.0,
        tie_word_embeddings=TIED,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=None,
        torch_dtype="float32",
    )
    model = LlamaForCausalLM(config)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"parameters: {n_params:,}")
    opt = torch.optim.AdamW(model.parameters(), lr=LR, betas=(0.9, 0.95), weight_decay=WEIGHT_DECAY)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt,
        lambda s: (
            min(1.0, (s + 1) / WARMUP)
            * (LR_FLOOR + (1 - LR_FLOOR) * 0.5 * (1 + math.cos(math.pi * min(s, STEPS) / STEPS)))
        ),
    )
    gen = torch.Generator().manual_seed(SEED)
    log = []
    start = time.time()
    for step in range(1, STEPS + 1):
        starts = torch.randint(0, len(train_ids) - CONTEXT - 1, (BATCH,), generator=gen)
        batch = torch.stack([train_ids[s : s + CONTEXT] for s in starts])
        loss = model(batch, labels=batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        if step % 50 == 0 or step == STEPS:
            entry = {"step": step, "train_loss": round(loss.item(), 4), "seconds": round(time.time() - start)}
            if step % 300 == 0 or step == STEPS:
                entry["heldout_perplexity"] = round(perplexity(model, heldout_ids), 3)
                entry["q4_0_gap_percent"] = round(q4_0_gap(model, heldout_ids, entry["heldout_perplexity"]), 3)
            log.append(entry)
            print(entry, flush=True)

    model.save_pretrained(OUT, safe_serialization=True)
    (OUT / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "tokenizer_class": "LlamaTokenizer",
                "bos_token": "<s>",
                "eos_token": "</s>",
                "unk_token": "<unk>",
                "add_bos_token": True,
                "add_eos_token": False,
                "legacy": False,
                "add_prefix_space": True,
                "model_max_length": CONTEXT,
                "clean_up_tokenization_spaces": False,
            },
            indent=2,
        )
        + "\n"
    )
    (OUT / "training_log.json").write_text(
        json.dumps(
            {
                "parameters": n_params,
                "train_tokens": len(train_ids),
                "heldout_tokens": len(heldout_ids),
                "steps": STEPS,
                "batch": BATCH,
                "context": CONTEXT,
                "lr": LR,
                "lr_floor": LR_FLOOR,
                "weight_decay": WEIGHT_DECAY,
                "tied_embeddings": TIED,
                "seed": SEED,
                "torch": torch.__version__,
                "threads": torch.get_num_threads(),
                "seconds": round(time.time() - start),
                "log": log,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"saved to {OUT} in {time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
