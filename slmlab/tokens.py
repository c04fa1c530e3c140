"""What a text costs in tokens on each seed model's real tokenizer, and how that differs between languages.

A tokenizer cuts text into the pieces a model reads and writes. Its vocabulary was learnt from some training mix
of languages: text like that mix is cut into few, long pieces; text unlike it into many short ones — down to
single bytes of a character (byte fallback). Every token then costs time (prompt processing and generation),
KV-cache memory and room in the context window, so the same content costs more in some languages than in others.

The tokenizers are the real ones, offline: llama.cpp's vocabulary files (`models/ggml-vocab-*.gguf` in the source
the course builds) for Qwen3, Llama 3 and GPT-2, the shipped GGUFs for Gemma 3 and SmolLM2, read by llama.cpp
itself (`vocab_only`), and OpenAI's o200k ranks for Phi-4-mini (its vocabulary is o200k plus special tokens;
they ship inside the `bpe-openai` package).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

from slmlab import catalog, offline, paths
from slmlab.errors import SlmlabError

LANGUAGES_DIR = paths.DATA / "languages"


@dataclass(frozen=True)
class Tokenizer:
    name: str
    models: str  # the models that use it, in words
    source: str  # where its vocabulary comes from here


TOKENIZERS = {
    t.name: t
    for t in [
        Tokenizer("qwen3", "Qwen3 0.6B–8B", "llama.cpp's models/ggml-vocab-qwen2.gguf (Qwen2 and Qwen3 share it)"),
        Tokenizer("llama3", "Llama 3 8B, BitNet b1.58 2B4T", "llama.cpp's models/ggml-vocab-llama-bpe.gguf"),
        Tokenizer("gemma3", "Gemma 3 270M–27B", "the shipped Gemma 3 270M GGUF"),
        Tokenizer("phi4-mini", "Phi-4-mini", "OpenAI's o200k ranks, from the bpe-openai package"),
        Tokenizer("smollm2", "SmolLM2 135M", "the shipped SmolLM2-135M-Instruct GGUF"),
        Tokenizer("gpt2", "GPT-2 (2019: published comparisons' baseline)", "llama.cpp's models/ggml-vocab-gpt-2.gguf"),
    ]
}
# the tokenizer of each catalog family
FAMILY_TOKENIZER = {
    "Qwen3": "qwen3",
    "Llama 3": "llama3",
    "BitNet": "llama3",
    "Gemma 3": "gemma3",
    "Phi-4": "phi4-mini",
}


def tokenizer_for(model: str) -> str | None:
    """The tokenizer of a catalog model (`qwen3-0.6b` → `qwen3`), or None where the course has none offline."""
    family = catalog.get(model).family
    return next((t for f, t in FAMILY_TOKENIZER.items() if family.startswith(f)), None)


def resolve_names(names: list[str] | None) -> list[str]:
    """Tokenizer names from tokenizer or catalog model names (default: every tokenizer), or a one-line error."""
    if not names:
        return list(TOKENIZERS)
    out = []
    for name in names:
        if name in TOKENIZERS:
            out.append(name)
        elif name in catalog.names() and tokenizer_for(name):
            out.append(tokenizer_for(name))
        else:
            raise SlmlabError(
                f"unknown tokenizer or model {name!r}: use one of {', '.join(TOKENIZERS)}, or a catalog model "
                f"({', '.join(n for n in catalog.names() if tokenizer_for(n))})"
            )
    return list(dict.fromkeys(out))


def _vocab_file(name: str) -> Path:
    if name == "gemma3":
        return offline.OFFLINE_MODELS["gemma-3-270m"].locate()
    if name == "smollm2":
        return offline.OFFLINE_MODELS["smollm2-135m-instruct"].locate()
    file = {"qwen3": "ggml-vocab-qwen2.gguf", "llama3": "ggml-vocab-llama-bpe.gguf", "gpt2": "ggml-vocab-gpt-2.gguf"}
    path = paths.llama_cpp_source() / "models" / file[name]
    if not path.is_file():
        raise SlmlabError(f"llama.cpp's vocabulary file {path.name} is missing: run `make setup`")
    return path


@functools.lru_cache(maxsize=8)
def _llama_vocab(name: str):
    """llama.cpp's own tokenizer for a vocabulary: the model file loaded `vocab_only` (no weights, no context)."""
    import llama_cpp
    from llama_cpp._internals import LlamaModel

    params = llama_cpp.llama_model_default_params()
    params.vocab_only = True
    return LlamaModel(path_model=str(_vocab_file(name)), params=params, verbose=False)


@functools.lru_cache(maxsize=1)
def _o200k():
    try:
        import bpe_openai
    except ImportError:
        raise SlmlabError(
            "the package bpe-openai (o200k, Phi-4-mini's tokenizer) is not installed: run `make setup`"
        ) from None
    return bpe_openai.get_encoding("o200k_base")


def token_ids(name: str, text: str) -> list[int]:
    """The token ids a tokenizer gives `text` (no start-of-text token added)."""
    if name not in TOKENIZERS:
        raise SlmlabError(f"unknown tokenizer {name!r}: use one of {', '.join(TOKENIZERS)}")
    if name == "phi4-mini":
        return list(_o200k().encode(text))
    return _llama_vocab(name).tokenize(text.encode("utf-8"), add_bos=False, special=False)


def pieces(name: str, text: str) -> list[bytes]:
    """The pieces a tokenizer cuts `text` into, each as its bytes."""
    ids = token_ids(name, text)
    if name == "phi4-mini":
        return [_o200k().decode_bytes([t]) for t in ids]
    vocab = _llama_vocab(name)
    return [vocab.detokenize([t]) for t in ids]


def is_partial(piece: bytes) -> bool:
    """A piece that is not whole characters: some bytes of a character whose other bytes are in another token
    (a byte-level BPE cuts inside a character; a SentencePiece model falls back to single bytes)."""
    try:
        piece.decode("utf-8")
        return False
    except UnicodeDecodeError:
        return True


@dataclass
class TokenCount:
    tokenizer: str
    language: str  # a language code, or "text" for a learner's own text
    tokens: int
    characters: int
    units: int  # words, or characters for a language written without spaces
    unit: str
    partial_tokens: int  # pieces that are only part of a character (byte fallback)

    @property
    def characters_per_token(self) -> float:
        return self.characters / self.tokens

    @property
    def tokens_per_unit(self) -> float:
        return self.tokens / self.units


def units(text: str, unit: str) -> int:
    return len(text.split()) if unit == "word" else sum(not c.isspace() for c in text)


def count(name: str, text: str, language: str = "text", unit: str = "word") -> TokenCount:
    cut = pieces(name, text)
    return TokenCount(name, language, len(cut), len(text), units(text, unit), unit, sum(map(is_partial, cut)))


@dataclass(frozen=True)
class Passage:
    code: str
    name: str
    script: str
    unit: str
    text: str


def passages(folder: str | Path | None = None, codes: list[str] | None = None) -> dict[str, Passage]:
    """The parallel passage (data/languages/CODE.txt), or any folder of CODE.txt files (FLORES-200's, say)."""
    folder = Path(folder) if folder else LANGUAGES_DIR
    meta_file = folder / "languages.json"
    meta = json.loads(meta_file.read_text()) if meta_file.is_file() else {}
    found = {p.stem: p for p in sorted(folder.glob("*.txt"))}
    if not found:
        raise SlmlabError(f"{folder} holds no CODE.txt files")
    unknown = sorted(set(codes or []) - set(found))
    if unknown:
        raise SlmlabError(f"no passage for {', '.join(unknown)} in {folder}; there are {', '.join(found)}")
    out = {}
    for code in codes or list(found):
        m = meta.get(code, {})
        text = read_text(found[code])
        out[code] = Passage(code, m.get("name", code), m.get("script", ""), m.get("unit", "word"), text)
    return out


def read_text(path: str | Path) -> str:
    """A text file as UTF-8, refusing an empty file or one that is not UTF-8 with one line that says which."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise SlmlabError(
            f"{path} is not UTF-8 text (byte {e.start}: {e.object[e.start : e.start + 1]!r}); save it as UTF-8"
        ) from None
    except OSError as e:
        raise SlmlabError(f"cannot read {path}: {e.strerror}") from None
    if not text.strip():
        raise SlmlabError(f"{path} is empty: there is nothing to count")
    return text


def table(texts: dict[str, Passage], names: list[str] | None = None) -> list[TokenCount]:
    """Every passage on every tokenizer."""
    return [count(n, p.text, p.code, p.unit) for n in resolve_names(names) for p in texts.values()]


def ratios_to(counts: list[TokenCount], reference: str = "en") -> dict[tuple[str, str], float]:
    """Tokens of each (tokenizer, language) ÷ tokens of the same content in `reference` on that tokenizer."""
    base = {c.tokenizer: c.tokens for c in counts if c.language == reference}
    if not base:
        raise SlmlabError(f"no {reference!r} passage to compare with")
    return {(c.tokenizer, c.language): c.tokens / base[c.tokenizer] for c in counts if c.tokenizer in base}


@functools.lru_cache(maxsize=64)
def tokens_per_unit(tokenizer: str, language: str) -> float:
    """Tokens per word (per character for Chinese) of the course's passage in `language` on `tokenizer`: what a
    token budget is worth in that language's words."""
    p = passages(codes=[language])[language]
    return count(tokenizer, p.text, language, p.unit).tokens_per_unit


@functools.lru_cache(maxsize=64)
def ratio_to_english(tokenizer: str, language: str) -> float:
    """Tokens of the course's passage in `language` ÷ tokens of its English, on `tokenizer`."""
    texts = passages(codes=sorted({"en", language}))
    return count(tokenizer, texts[language].text).tokens / count(tokenizer, texts["en"].text).tokens


def language_name(code: str) -> str:
    return passages(codes=[code])[code].name


def unit_of(code: str) -> str:
    return passages(codes=[code])[code].unit


def lesson_claims() -> list[dict]:
    """The lesson's claims as the course quotes them (data/lesson_claims.json); notebook 10 judges the language ones."""
    return json.loads((paths.DATA / "lesson_claims.json").read_text())["claims"]


@dataclass(frozen=True)
class ModelFiles:
    """What notebook 10 runs a model from: a GGUF (with the model's own tokenizer inside) and its config."""

    ref: str
    gguf: Path
    config: dict


def model_files(ref: str) -> ModelFiles:
    """A model's GGUF and config, for a course name: a GGUF model as it ships (Gemma 3 270M), or a Hugging Face
    folder (a stand-in) converted to Q8_0 once (cached) with the config of its folder."""
    from slmlab import models

    source = models.resolve(ref)
    if source.kind == "gguf":
        return ModelFiles(ref, source.path, catalog.config_for(ref)[0])
    return ModelFiles(ref, models.quantized_gguf(source, "Q8_0"), catalog.config_for(str(source.path))[0])


def plot_ratios(ratio, names: dict[str, str]):
    """The heat map of tokens ÷ English's: a row per language (`ratio`'s index, named by `names`), a column per
    tokenizer, each cell labelled with its ratio; the title names the costliest pair."""
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(8, 5))
    im = ax.imshow(ratio.values, cmap="Reds", vmin=1, vmax=max(4, ratio.values.max()), aspect="auto")
    ax.set_xticks(range(len(ratio.columns)), ratio.columns)
    ax.set_yticks(range(len(ratio)), [names[c] for c in ratio.index])
    for (i, j), value in np.ndenumerate(ratio.values):
        ax.text(j, i, f"{value:.1f}×", ha="center", va="center", fontsize=8, color="white" if value > 3 else "black")
    language, tokenizer = ratio.stack().idxmax()
    ax.set_title(
        f"Tokens for the same content ÷ English's: up to {ratio.values.max():.1f}× ({names[language]} on {tokenizer})",
        fontsize=10,
    )
    fig.colorbar(im, ax=ax, shrink=0.8)
    fig.tight_layout()
    return fig


def plot_prompt_seconds(prompts, names: dict[str, str], threads: int):
    """Bars of the seconds each model took to read the passage in each language (`prompts`: rows of model,
    language, seconds), languages in the order they were measured; the title compares the slowest with English."""
    import matplotlib.pyplot as plt

    order = list(dict.fromkeys(prompts["language"]))
    fig, ax = plt.subplots(figsize=(8, 3.5))
    prompts.pivot(index="language", columns="model", values="seconds").loc[order].plot.bar(ax=ax)
    ax.set_ylabel(f"seconds to read the passage ({threads} thread{'s' * (threads > 1)})")
    ax.set_xlabel("")
    slow = prompts.loc[prompts["seconds"].idxmax()]
    english = prompts[(prompts["model"] == slow["model"]) & (prompts["language"] == "en")]["seconds"]
    ratio = f"{slow['seconds'] / english.iloc[0]:.1f}× English's time" if len(english) else "the longest time"
    ax.set_title(f"The same content: {names[slow['language']]} takes {slow['model']} {ratio}", fontsize=10)
    fig.tight_layout()
    return fig
