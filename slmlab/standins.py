"""Same-shape stand-ins of the seed models: the published config, the real tokenizer, random weights.

A model's file sizes, speed and memory do not depend on the values of its weights — only on their shapes and
types (vLLM's `--load-format dummy` rests on the same fact). So a Hugging Face folder built from a seed's
published `config.json`, with its real tokenizer and seeded random weights, measures that seed's real cost on
this machine without downloading it, and goes through exactly the code a real checkpoint goes through:
`convert_hf_to_gguf.py`, `llama-quantize`, Olive, `mlx_lm.convert`, the servers.

What a stand-in cannot do: say anything about quality. Its text is noise and its perplexity is that of random
weights. Everything here marks it — the folder's config (`slmlab_stand_in`), its model card, and the
`general.name` / `general.description` that llama.cpp's converter copies from that card into every GGUF made
from it — so that tables and plots can say "stand-in" and leave quality columns empty.

Tokenizers come from the llama.cpp source the course builds (its `models/` folder ships vocabulary-only GGUFs,
and `models/templates/` the chat templates of many models); transformers rebuilds a tokenizer from a GGUF.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import psutil

from slmlab import catalog, offline, paths, quiet
from slmlab.errors import SlmlabError
from slmlab.gguf_file import read_gguf, vocabulary_size
from slmlab.meta import build_on_meta

MARK = "slmlab stand-in: same shape, random weights"  # in every stand-in's config, model card and GGUF
CONFIG_KEY = "slmlab_stand_in"
# "qwen3-0.6b-standin": a seed's shape with random weights; "qwen3-0.6b-2l-standin": its first 2 blocks
STANDIN_SUFFIX = "-standin"
SHARD_BYTES = 2 * 10**9  # safetensors shards of at most this size (the size Hugging Face repositories use too)


@dataclass(frozen=True)
class TokenizerRecipe:
    """Where a seed family's tokenizer and chat template come from, offline."""

    vocab: str  # a vocabulary GGUF in llama.cpp's models/, or "gemma-3-270m" for the shipped Gemma GGUF
    bos: str | None
    eos: str
    pad: str | None
    template: str | None  # a file in llama.cpp's models/templates/, or None: the seed has no chat template offline
    note: str  # what is real and what stands in, in words
    tokenizer_class: str | None = None  # what the seed's tokenizer_config.json names (the converter reads it)
    sentencepiece: bool = False  # the seed ships a SentencePiece tokenizer.model: write one from the GGUF


RECIPES: dict[str, TokenizerRecipe] = {
    "qwen3": TokenizerRecipe(
        "ggml-vocab-qwen2.gguf",
        None,
        "<|im_end|>",
        "<|endoftext|>",
        "Qwen-Qwen3-0.6B.jinja",
        "Qwen's real tokenizer (Qwen2/Qwen3 share it, 151,643 BPE tokens + specials) and Qwen3's chat template, "
        "both from llama.cpp's source",
    ),
    "llama": TokenizerRecipe(
        "ggml-vocab-llama-bpe.gguf",
        "<|begin_of_text|>",
        "<|end_of_text|>",
        None,
        None,
        "Llama 3's real tokenizer (128,256 tokens) from llama.cpp's source; the base model has no chat template",
    ),
    "bitnet": TokenizerRecipe(
        "ggml-vocab-llama-bpe.gguf",
        "<|begin_of_text|>",
        "<|end_of_text|>",
        None,
        None,
        "BitNet b1.58 2B4T uses Llama 3's tokenizer (128,256 tokens), from llama.cpp's source; its own chat "
        "template does not ship offline",
    ),
    "gemma3_text": TokenizerRecipe(
        "gemma-3-270m",
        "<bos>",
        "<eos>",
        "<pad>",
        "google-gemma-2-2b-it.jinja",
        "Gemma 3's real SentencePiece tokenizer (262,144 tokens), read from the shipped Gemma 3 270M GGUF; the chat "
        "template is Gemma 2's from llama.cpp's source — the same <start_of_turn> turn format Gemma 3 uses",
        sentencepiece=True,
    ),
    "phi3": TokenizerRecipe(
        "ggml-vocab-qwen2.gguf",
        None,
        "<|endoftext|>",
        "<|endoftext|>",
        None,
        "Phi-4-mini's own 200,064-token vocabulary does not ship offline: Qwen's byte-level BPE vocabulary "
        "(151,936 entries) stands in, padded by the converter to the config's 200,064 rows, so the embedding and "
        "the file have Phi-4-mini's real size; token ids are not Phi-4-mini's",
        tokenizer_class="GPT2Tokenizer",
    ),
}


def seeds() -> list[str]:
    """The catalog models a stand-in can be built for: every seed with a hub id and a tokenizer recipe."""
    return [n for n in catalog.names() if catalog.get(n).hub_id and catalog.get(n).config.get("model_type") in RECIPES]


def folder_for(seed: str, layers: int | None = None, seed_value: int = 0) -> Path:
    """The cached folder of a stand-in, named by what its content follows from: the seed's config, the depth, the
    tokenizer recipe, the random seed and torch's version (its generator makes the weights)."""
    from importlib.metadata import version

    if seed not in seeds():
        raise SlmlabError(f"no stand-in recipe for {seed!r}; seeds: {', '.join(seeds())}")
    config = catalog.get(seed).config
    key = paths.content_key(
        json.dumps(config, sort_keys=True), layers, RECIPES[config["model_type"]], MARK, seed_value, version("torch")
    )
    return paths.cache_dir() / "standins" / f"{seed}{f'-{layers}l' if layers else ''}-{key}"


def parse_name(name: str) -> tuple[str, int | None] | None:
    """A stand-in's course name → (seed, layers): "qwen3-0.6b-standin" is the whole model, "qwen3-0.6b-2l-standin"
    its first two blocks (same width, tokenizer and dtype: every code path, a fraction of the time)."""
    if not name.endswith(STANDIN_SUFFIX):
        return None
    base = name.removesuffix(STANDIN_SUFFIX)
    m = re.fullmatch(r"(.+)-(\d+)l", base)
    seed, layers = (m.group(1), int(m.group(2))) if m else (base, None)
    return (seed, layers) if seed in seeds() else None


def is_standin(path: str | Path) -> bool:
    """Does this folder (or GGUF) hold a stand-in? Read from the marks the builder leaves."""
    path = Path(path)
    if path.is_dir():
        try:
            return CONFIG_KEY in json.loads((path / "config.json").read_text())
        except (OSError, ValueError):
            return False
    if path.suffix.lower() == ".gguf" and path.is_file():
        return MARK in (read_gguf(path).description or "")
    return False


@dataclass
class Plan:
    seed: str
    config: dict
    tensors: list[tuple[str, tuple[int, ...]]]  # name and shape of every stored parameter, tied ones once
    dtype: str
    bytes_per_weight: int

    @property
    def n_params(self) -> int:
        return sum(math.prod(shape) for _, shape in self.tensors)

    @property
    def weight_bytes(self) -> int:
        return self.n_params * self.bytes_per_weight


DTYPE_BYTES = {"bfloat16": 2, "float16": 2, "float32": 4}


def seed_config(seed: str, layers: int | None = None) -> dict:
    """The seed's published config, cut to its first `layers` blocks if given."""
    if seed not in seeds():
        raise SlmlabError(f"no stand-in recipe for {seed!r}; seeds: {', '.join(seeds())}")
    config = catalog.get(seed).config
    n_layers = config["num_hidden_layers"]
    if layers is not None:
        if not 1 <= layers <= n_layers:
            raise SlmlabError(f"--layers must be from 1 to {seed}'s {n_layers}, not {layers}")
        config["num_hidden_layers"] = layers
        if "layer_types" in config:  # Gemma 3 lists each layer's attention type: keep the first `layers`
            config["layer_types"] = config["layer_types"][:layers]
    return config


def plan(seed: str, layers: int | None = None) -> Plan:
    """The seed's config (with `layers` blocks if given) and the tensors a checkpoint of it holds."""
    config = seed_config(seed, layers)
    dtype = config.get("torch_dtype") or config.get("dtype") or "bfloat16"
    model = build_on_meta(config)
    config.setdefault("architectures", [type(model).__name__])
    tensors = [(name, tuple(p.shape)) for name, p in model.named_parameters()]  # a tied output head is listed once
    return Plan(seed, config, tensors, dtype, DTYPE_BYTES[dtype])


def preflight(p: Plan, out: Path) -> None:
    """Refuse, in one line, before writing anything, when disk or memory would not suffice."""
    out.parent.mkdir(parents=True, exist_ok=True)
    need_disk = int(p.weight_bytes * 1.02) + 100 * 10**6  # weights, tokenizer, a margin
    free = shutil.disk_usage(out.parent).free
    if free < need_disk:
        raise SlmlabError(
            f"not enough disk for the {p.seed} stand-in: it needs {need_disk / 1e9:.1f} GB in "
            f"{out.parent}, {free / 1e9:.1f} GB are free. Free space, set SLMLAB_HOME to a larger "
            "disk, or build fewer blocks with --layers N"
        )
    largest = max(math.prod(shape) for _, shape in p.tensors) * 4  # generated in float32, one tensor at a time
    need_ram = min(SHARD_BYTES, p.weight_bytes) + 2 * largest + 2 * 10**9  # one shard, a tensor, the tokenizer
    available = psutil.virtual_memory().available
    if available < need_ram:
        raise SlmlabError(
            f"not enough memory to build the {p.seed} stand-in: it needs about {need_ram / 1e9:.1f} "
            f"GB, {available / 1e9:.1f} GB are available. Close programs or build fewer blocks "
            "with --layers N"
        )


def random_tensor(name: str, shape: tuple[int, ...], dtype: str, std: float, seed: int, zero_norms: bool):
    """A weight with seeded random values: each tensor from its own generator (seed and name), so the result does
    not depend on the order of writing. Norm scales are ones (zeros where the model adds 1, as Gemma does),
    biases zeros, matrices normal(0, std) — the initialization transformers itself uses."""
    import torch

    if len(shape) == 1:
        fill = 0.0 if ("norm" not in name or zero_norms) else 1.0
        return torch.full(shape, fill, dtype=getattr(torch, dtype))
    gen = torch.Generator().manual_seed(seed * 1_000_003 + zlib.crc32(name.encode()))
    return torch.empty(shape, dtype=torch.float32).normal_(0.0, std, generator=gen).to(getattr(torch, dtype))


def write_weights(p: Plan, folder: Path, seed: int = 0, progress: bool = True) -> None:
    """The weights as safetensors shards of at most SHARD_BYTES (+ an index when there are several), written
    one tensor at a time: memory stays at one shard however large the model."""
    from safetensors.torch import save_file
    from tqdm.auto import tqdm

    shards: list[list[tuple[str, tuple[int, ...]]]] = [[]]
    size = 0
    for name, shape in p.tensors:
        n = math.prod(shape) * p.bytes_per_weight
        if shards[-1] and size + n > SHARD_BYTES:
            shards.append([])
            size = 0
        shards[-1].append((name, shape))
        size += n
    files = (
        ["model.safetensors"]
        if len(shards) == 1
        else [f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors" for i in range(len(shards))]
    )
    std = p.config.get("initializer_range", 0.02)
    zero_norms = p.config.get("model_type", "").startswith("gemma")  # Gemma scales by (1 + weight)
    bar = tqdm(total=p.weight_bytes, unit="B", unit_scale=True, desc=f"{p.seed} random weights", disable=not progress)
    weight_map = {}
    for file, shard in zip(files, shards):
        tensors = {}
        for name, shape in shard:
            tensors[name] = random_tensor(name, shape, p.dtype, std, seed, zero_norms)
            weight_map[name] = file
            bar.update(math.prod(shape) * p.bytes_per_weight)
        save_file(tensors, str(folder / file), metadata={"format": "pt"})
        del tensors
    bar.close()
    if len(files) > 1:
        index = {"metadata": {"total_size": p.weight_bytes}, "weight_map": weight_map}
        (folder / "model.safetensors.index.json").write_text(json.dumps(index, indent=2) + "\n")


def tokenizer_folder(model_type: str) -> Path:
    """The seed family's tokenizer, rebuilt by transformers from a vocabulary GGUF once and cached."""
    recipe = RECIPES[model_type]
    cached = paths.cache_dir() / "standins" / "tokenizers" / model_type
    if (cached / "tokenizer_config.json").is_file():
        return cached
    from transformers import AutoTokenizer

    if recipe.vocab == "gemma-3-270m":
        gguf = offline.OFFLINE_MODELS["gemma-3-270m"].locate()
    else:
        gguf = paths.llama_cpp_source() / "models" / recipe.vocab
        if not gguf.is_file():
            raise SlmlabError(f"llama.cpp's vocabulary file {recipe.vocab} is missing: run `make setup`")
    print(f"rebuilding the {model_type} tokenizer from {gguf.name} (once) …", flush=True)
    with quiet.transformers_quiet():
        tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    with paths.atomic_output(cached) as tmp:
        tok.save_pretrained(tmp)
        _fix_tokenizer_files(tmp, recipe, n_tokens=vocabulary_size(gguf))
        if recipe.sentencepiece:
            write_sentencepiece_model(gguf, tmp / "tokenizer.model")
    return cached


def write_sentencepiece_model(gguf_path: Path, out: Path) -> None:
    """A SentencePiece `tokenizer.model` from a GGUF of a SentencePiece model (pieces, scores and piece types:
    llama.cpp numbers the types as SentencePiece does), so a converter reads the vocabulary as the original
    model ships it — without BPE merges, which a SentencePiece model does not store."""
    import gguf
    from sentencepiece import sentencepiece_model_pb2 as sp

    fields = gguf.GGUFReader(gguf_path).fields
    model = sp.ModelProto()
    model.trainer_spec.model_type = sp.TrainerSpec.BPE
    model.trainer_spec.vocab_size = len(fields["tokenizer.ggml.tokens"].data)
    model.trainer_spec.byte_fallback = True
    model.normalizer_spec.name = "identity"
    model.normalizer_spec.add_dummy_prefix = bool(fields["tokenizer.ggml.add_space_prefix"].contents())
    model.normalizer_spec.remove_extra_whitespaces = False
    pieces = zip(
        fields["tokenizer.ggml.tokens"].contents(),
        fields["tokenizer.ggml.scores"].contents(),
        fields["tokenizer.ggml.token_type"].contents(),
    )
    for piece, score, kind in pieces:
        model.pieces.add(piece=piece, score=score, type=kind)
    out.write_bytes(model.SerializeToString())


def _fix_tokenizer_files(folder: Path, recipe: TokenizerRecipe, n_tokens: int) -> None:
    """Make the saved tokenizer say what the seed's own does: its special tokens, its class, its chat template;
    and drop tokens transformers' GGUF reader adds beyond the file's `n_tokens` (Llama 3's gets an extra
    `<|endoftext|>`, one id past the config's 128,256, which llama.cpp's converter rightly rejects)."""
    tj = json.loads((folder / "tokenizer.json").read_text())
    tj["added_tokens"] = [t for t in tj["added_tokens"] if t["id"] < n_tokens]
    (folder / "tokenizer.json").write_text(json.dumps(tj, ensure_ascii=False))
    config = json.loads((folder / "tokenizer_config.json").read_text())
    decoder = config.get("added_tokens_decoder", {})
    config["added_tokens_decoder"] = {k: v for k, v in decoder.items() if int(k) < n_tokens}
    config.update({"bos_token": recipe.bos, "eos_token": recipe.eos, "pad_token": recipe.pad})
    if recipe.tokenizer_class:
        config["tokenizer_class"] = recipe.tokenizer_class
        config["add_prefix_space"] = False  # as GPT2Tokenizer configs say
    (folder / "chat_template.jinja").unlink(missing_ok=True)
    config.pop("chat_template", None)
    if recipe.template:
        template = paths.llama_cpp_source() / "models" / "templates" / recipe.template
        config["chat_template"] = template.read_text()
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n")
    (folder / "special_tokens_map.json").unlink(missing_ok=True)


def model_card(p: Plan, layers: int | None, seed: int) -> str:
    m = catalog.get(p.seed)
    recipe = RECIPES[p.config["model_type"]]
    depth = f"{layers} of its {catalog.get(p.seed).config['num_hidden_layers']} blocks" if layers else "every block"
    return f"""---
name: {m.hub_id.split("/")[-1]} stand-in
description: "{MARK} (seed {m.hub_id})"
license: {m.licence.lower() if m.licence in ("MIT", "Apache-2.0") else "other"}
tags: [slmlab, stand-in, random-weights]
---
# {m.hub_id} — stand-in: same shape, random weights

This folder was built by `slmlab shape {p.seed}{f" --layers {layers}" if layers else ""}` from {m.hub_id}'s
published `config.json` ({depth}), with **random weights** (seed {seed}, normal(0, initializer_range)) in the seed's
own dtype ({p.dtype}). It has {p.n_params:,} parameters.

**What holds:** file sizes, bits per weight, memory, and speed on your machine are the real model's — they depend
on tensor shapes and types, not on the values. Every tool a real checkpoint goes through accepts it.

**What does not:** its text is noise and its perplexity is that of random weights. Never draw a conclusion about
quality from it.

**Tokenizer:** {recipe.note}.

Sources of the config: `data/catalog/SOURCES.md` in the slmlab repository.
"""


def build(
    seed: str, layers: int | None = None, out: str | Path | None = None, seed_value: int = 0, progress: bool = True
) -> Path:
    """A cached Hugging Face folder standing in for `seed` (a catalog name such as "qwen3-0.6b"):
    its published config, its real tokenizer where one ships offline, seeded random weights."""
    folder = Path(out) if out else folder_for(seed, layers, seed_value)
    if is_standin(folder) and (folder / "tokenizer_config.json").is_file():
        return folder
    p = plan(seed, layers)
    preflight(p, folder)
    start = time.perf_counter()
    tokenizer = tokenizer_folder(p.config["model_type"])
    with paths.atomic_output(folder) as tmp:
        tmp.mkdir()
        write_weights(p, tmp, seed_value, progress)
        for f in tokenizer.iterdir():
            shutil.copy(f, tmp / f.name)
        config = dict(p.config)
        config[CONFIG_KEY] = {
            "seed_model": catalog.get(seed).hub_id,
            "weights": f"random (seed {seed_value})",
            "layers": layers or config["num_hidden_layers"],
            "note": MARK,
        }
        (tmp / "config.json").write_text(json.dumps(config, indent=2) + "\n")
        (tmp / "README.md").write_text(model_card(p, layers, seed_value))
        (tmp / "slmlab-build.json").write_text(
            json.dumps({"seconds": round(time.perf_counter() - start, 1), "parameters": p.n_params}) + "\n"
        )
    return folder
