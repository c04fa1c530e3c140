"""What a text costs in tokens: the seed models' real tokenizers, offline, and `slmlab tokens`."""

from __future__ import annotations

import subprocess
import sys

import pytest

from slmlab import SlmlabError, advisor, catalog, standins, tokens


@pytest.fixture(scope="module")
def counts():
    rows = tokens.table(tokens.passages())
    return {(c.tokenizer, c.language): c for c in rows}, tokens.ratios_to(rows)


def test_every_language_on_every_tokenizer(counts):
    by_key, _ = counts
    assert {t for t, _ in by_key} == set(tokens.TOKENIZERS)
    assert {c for _, c in by_key} == {"en", "vi", "tl", "ar", "pa", "pcm", "hi", "sw", "zh", "am"}
    assert all(c.tokens > 0 and c.units > 0 for c in by_key.values())


def test_orderings_that_follow_from_the_vocabularies(counts):
    by_key, ratio = counts
    # the same content costs more tokens outside English on every tokenizer, Pidgin (English-like) least of those
    for t in tokens.TOKENIZERS:
        others = {c: ratio[t, c] for _, c in by_key if c != "en"}
        assert min(others.values()) > 1 and min(others, key=others.get) in ("pcm", "zh")
    # Gurmukhi: the vocabularies with pieces for it (Gemma 3's SentencePiece, o200k) against the byte-level ones
    assert max(ratio["gemma3", "pa"], ratio["phi4-mini", "pa"]) < 0.5 * min(ratio[t, "pa"] for t in ("qwen3", "llama3"))
    # GPT-2's 50k English merges cut Vietnamese, Hindi and Arabic far finer than Qwen3's 151k multilingual ones
    assert all(ratio["gpt2", c] > ratio["qwen3", c] for c in ("vi", "hi", "ar"))


def test_byte_fallback_is_counted_where_a_vocabulary_has_no_piece_for_a_character(counts):
    by_key, _ = counts
    assert by_key["qwen3", "pa"].partial_tokens > by_key["qwen3", "pa"].tokens / 2  # Gurmukhi in bytes
    assert by_key["gemma3", "pa"].partial_tokens == 0  # Gemma has Gurmukhi pieces
    assert all(by_key[t, "en"].partial_tokens == 0 for t in tokens.TOKENIZERS)  # ASCII: whole characters
    assert tokens.is_partial(b"\xe0\xa8") and not tokens.is_partial("ਇ".encode())


def test_the_pieces_join_back_into_the_text():
    text = tokens.passages(codes=["pa"])["pa"].text
    for t in tokens.TOKENIZERS:
        joined = b"".join(tokens.pieces(t, text)).decode("utf-8")
        assert joined.strip() == text.strip(), t  # lossless, whatever the tokenizer cut


def test_llama_cpp_and_transformers_cut_qwen3_text_into_the_same_tokens():
    # two implementations of Qwen's tokenizer: llama.cpp's (the vocabulary file) and Hugging Face's (rebuilt by
    # transformers from it, the one the stand-ins ship); bit-exact on every language of the passage
    from transformers import AutoTokenizer

    hf = AutoTokenizer.from_pretrained(standins.tokenizer_folder("qwen3"))
    for code, p in tokens.passages().items():
        assert tokens.token_ids("qwen3", p.text) == hf.encode(p.text, add_special_tokens=False), code


def test_o200k_is_openais_table():
    assert tokens.pieces("phi4-mini", "Hello world") == [b"Hello", b" world"]
    assert len(tokens.pieces("phi4-mini", "Hello world, this is a test of the tokenizer.")) == 11


def test_a_model_name_picks_its_tokenizer_and_an_unknown_one_is_refused():
    assert tokens.resolve_names(["qwen3-8b", "gemma-3-1b", "llama-3-8b", "gpt2"]) == [
        "qwen3",
        "gemma3",
        "llama3",
        "gpt2",
    ]
    assert tokens.tokenizer_for("bitnet-b1.58-2b") == "llama3" and tokens.tokenizer_for("phi-4-mini") == "phi4-mini"
    with pytest.raises(SlmlabError, match="unknown tokenizer or model 'mistral'"):
        tokens.resolve_names(["mistral"])


def slmlab_tokens(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "slmlab.cli", "tokens", *args], input=stdin, capture_output=True)


def test_slmlab_tokens_reads_a_file_and_standard_input(tmp_path):
    page = tmp_path / "page.txt"
    page.write_text(tokens.passages(codes=["vi"])["vi"].text, encoding="utf-8")
    proc = slmlab_tokens(str(page), "--models", "qwen3", "gpt2")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.decode()
    assert out.startswith(f"{page}: ") and "qwen3" in out and "gpt2" in out and "gemma3" not in out
    piped = slmlab_tokens("-", "--models", "qwen3", "--json", stdin=page.read_bytes())
    assert piped.returncode == 0, piped.stderr
    import json

    (row,) = json.loads(piped.stdout)
    assert row["tokens"] == tokens.count("qwen3", page.read_text(encoding="utf-8")).tokens


@pytest.mark.parametrize(
    "content,args,message",
    [
        (b"", [], "is empty: there is nothing to count"),
        (b"\xff\xfe\x00 not text", [], "is not UTF-8 text"),
        (b"fine text", ["--models", "mistral"], "unknown tokenizer or model 'mistral'"),
    ],
)
def test_slmlab_tokens_refuses_bad_input_with_one_line(tmp_path, content, args, message):
    page = tmp_path / "page.txt"
    page.write_bytes(content)
    for proc in (slmlab_tokens(str(page), *args), slmlab_tokens("-", *args, stdin=content)):
        err = proc.stderr.decode()
        assert proc.returncode == 2 and err.startswith("error: ") and message in err and err.count("\n") == 1, err


def test_the_learners_language_changes_the_pick(monkeypatch):
    # a fixed speed model, so the test does not depend on this machine's bandwidth
    monkeypatch.setattr(advisor, "speed_model", lambda: advisor.SpeedModel(100e9, {}, 0.6, "fixed for the test"))
    device = advisor.Device(memory_gb=8, bandwidth_gb_s=100)
    picks = {}
    for lang in ("en", "pa"):
        recs, _ = advisor.recommend(device, advisor.Need(min_tokens_per_s=5, context=4096, language=lang), top=3)
        picks[lang] = recs
    # Punjabi costs Qwen3's and Llama 3's tokenizers about 7× English's tokens: an 8B model no longer reaches the
    # speed; Gemma 3's tokenizer needs about 2.5×, so a Gemma 3 model is advised instead
    assert picks["en"][0].model != picks["pa"][0].model
    assert catalog.get(picks["pa"][0].model).family.startswith("Gemma 3")
    assert all(r.tokens_per_s >= 5 * r.language_ratio for r in picks["pa"])
    assert all(
        r.words_per_s == pytest.approx(r.tokens_per_s / tokens.tokens_per_unit(tokens.tokenizer_for(r.model), "pa"))
        for r in picks["pa"]
    )
    assert any("Punjabi costs" in reason for reason in picks["pa"][0].reasons)


def test_the_plots_label_every_language_and_name_the_costliest():
    import matplotlib
    import pandas as pd

    matplotlib.use("Agg")
    names = {"en": "English", "pa": "Punjabi"}
    ratio = pd.DataFrame({"qwen3": [1.0, 7.0], "gemma3": [1.0, 2.4]}, index=["en", "pa"])
    ax = tokens.plot_ratios(ratio, names).axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["English", "Punjabi"]
    assert len(ax.texts) == 4 and "up to 7.0× (Punjabi on qwen3)" in ax.get_title()
    prompts = pd.DataFrame(
        [
            {"model": "m", "language": "pa", "seconds": 0.9},  # measured first: its bar comes first
            {"model": "m", "language": "en", "seconds": 0.3},
        ]
    )
    ax = tokens.plot_prompt_seconds(prompts, names, 1).axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["pa", "en"]
    assert "Punjabi takes m 3.0× English's time" in ax.get_title() and "(1 thread)" in ax.get_ylabel()
