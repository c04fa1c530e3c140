"""The verdicts of notebook 11 (slmlab.claims), on small made-up results: no llama.cpp, no notebook run."""

from __future__ import annotations

import pytest

from slmlab import catalog, claims, sizing

pytestmark = pytest.mark.fast

SIZE_CLAIMS = {
    "qwen-f16": {
        "id": "qwen-f16",
        "quote": "Qwen3-0.6B: 1.2 GB (F16)",
        "model": "qwen3-0.6b",
        "file_types": ["F16"],
        "low_gb": 1.14,
        "high_gb": 1.26,
    },
    "qwen-gib": {
        "id": "qwen-gib",
        "quote": "Qwen3-0.6B: 0.36 GB (Q4_0)",
        "model": "qwen3-0.6b",
        "file_types": ["Q4_0"],
        "low_gb": 0.35,
        "high_gb": 0.37,
    },
    "q5_1": {"id": "q5_1", "quote": "Q5_1 offers 70% reduction", "reduction_of": "Q5_1", "reduction": 0.7},
    "document": {"id": "document", "quote": "a feature", "verdict": "partly: see the paper", "evidence": "a paper"},
}


def nano_table(q4_bytes: int = 32, stand_in: bool = False) -> dict:
    """Notebook 03's saved results, as far as the verdicts read them: a model's files by type."""

    def row(t, size, ppl):
        return {
            "type": t,
            "bytes": size,
            "MB": size,
            "memory MB": 3 * size,
            "kv cache MB": 1,
            "compute MB": 9,
            "ppl vs F16": ppl,
        }

    rows = [row("F16", 100, 0.0), row("Q8_0", 53, 0.001), row("Q5_1", 38, 0.01), row("Q4_0", q4_bytes, 0.05)]
    return {"model": "slm-nano", "stand_in": stand_in, "table": rows}


def gemma_rows(q4_0_kld: float = 0.4) -> dict:
    """Notebook 04's saved results: Gemma 3 270M's files with their size and KL divergence from F16."""

    def row(label, mb, kld, top=0.9):
        return {
            "file": label,
            "MB": mb,
            "KL divergence": kld,
            "same top token": top,
            "memory MB": 1.2 * mb,
            "kv cache MB": 9,
            "compute MB": 539,
        }

    return {
        "gemma": [
            row("F16 (dequantized)", 540, 0.0, 1.0),
            row("Q8_0", 290, 0.003, 0.97),
            row("Q4_K_M (shipped)", 253, 0.2),
            row("Q4_0", 241, q4_0_kld),
            row("Q2_K", 237, 0.9),
        ]
    }


def verdict(table, claim_id: str, case: str | None = None) -> str:
    rows = table[(table["id"] == claim_id) & ((table["case"] == case) if case else True)]
    assert len(rows) == 1, rows
    return rows["verdict"].iloc[0]


def test_size_claims_hold_in_gb_only_in_gib_or_cannot_be():
    estimates = {"qwen3-0.6b": sizing.estimate_sizes(catalog.get("qwen3-0.6b").config, ("F16", "Q4_0", "Q5_1"))}
    table = claims.size_verdicts(SIZE_CLAIMS, estimates)
    assert list(table.columns) == claims.COLUMNS
    assert verdict(table, "qwen-f16") == "holds"  # 1.20 GB from its config
    assert verdict(table, "qwen-gib") == "holds only in GiB"  # 0.38 GB = 0.36 GiB
    assert verdict(table, "q5_1").startswith("impossible")  # 6 bits of 16 save 62.5% at most
    assert set(table["id"]) == {"qwen-f16", "qwen-gib", "q5_1"}  # a document's claim is not a size
    assert claims.claimed_types(SIZE_CLAIMS) == ("F16", "Q4_0", "Q5_1")


def test_quantization_claims_are_judged_on_03s_files_and_04s_gemma():
    table = claims.quantization_claims(nano_table(), gemma_rows(), simd=["AVX2"])
    ids = dict(zip(table["claim"], table["id"]))
    assert ids["Q5_1 reduces size by about 70%"] == "q5_1-70-percent"  # the lesson's own claim, measured
    assert verdict(table, "q5_1-70-percent").startswith("impossible")
    assert verdict(table, "q8_0-50-percent") == "holds"  # 47% measured
    assert verdict(table, "q4_0-75-percent").startswith("does not hold")  # 68% measured
    assert verdict(table, "memory-f16", "slm-nano").startswith("does not hold")  # 3×, not 2×
    assert verdict(table, "memory-q8_0", "gemma-3-270m") == "holds"  # 1.2× against 1.5×: within a quarter
    assert verdict(table, "q8_0-quality", "slm-nano") == "holds"  # +0.1% perplexity
    assert verdict(table, "q8_0-quality", "gemma-3-270m") == "holds"  # the same top token 97% of the time
    # Q2_K (smaller, further) and Q4_K_M (larger, closer) leave Q4_0 on the front here; a closer Q2_K takes it off
    assert verdict(table, "q4_0-max-compression") == "holds"
    worse = claims.quantization_claims(nano_table(), gemma_rows(q4_0_kld=0.95), simd=["AVX2"])
    assert verdict(worse, "q4_0-max-compression").startswith("does not hold")
    assert verdict(table, "cpu-simd").startswith("not measured") and "AVX2" in table["decided by"].iloc[-1]


def test_a_stand_in_gets_no_quality_verdict():
    table = claims.quantization_claims(nano_table(stand_in=True), gemma_rows(), simd=[])
    assert verdict(table, "q8_0-quality", "slm-nano").startswith("not judged: notebook 03 measured a stand-in")
    assert verdict(table, "q8_0-quality", "gemma-3-270m") == "holds"  # Gemma's files are real
    assert verdict(table, "q8_0-50-percent") == "holds"  # a stand-in's sizes are the real model's


def test_missing_results_say_which_notebook_to_run_first():
    nothing = claims.quantization_claims(None, None, simd=[])
    assert nothing["verdict"].tolist() == ["not judged yet: run notebook 03 first"]
    no_gemma = claims.quantization_claims(nano_table(), None, simd=[])
    assert verdict(no_gemma, "gemma-quality") == "not judged yet: run notebook 04 first"
    assert verdict(no_gemma, "q8_0-quality") == "holds"  # 03's own files are judged all the same
    guide = claims.guidelines(nothing)
    assert "not judged yet: run notebook 03 first" in guide["verdict"].tolist()
    lesson = {"lang": {"id": "lang", "quote": "Qwen3 for multilingual", "judged_in": "10_x", "by": "tokens"}}
    assert claims.judged_elsewhere(lesson, load=lambda name: None)["verdict"].tolist() == [
        "not judged yet: run notebook 10 first"
    ]
    measured = {"claims": [{"verdict": "holds"}, {"verdict": "does not hold: 3× the tokens"}]}
    assert claims.judged_elsewhere(lesson, load=lambda name: measured)["verdict"].tolist() == [
        "does not hold: in 1 of 2 languages"
    ]


def test_the_guidelines_computed_here_and_taken_from_the_measurements():
    quantization = claims.quantization_claims(nano_table(), gemma_rows(), simd=[])
    guide = claims.guidelines(quantization)
    assert verdict(guide, "phi-4-mini-qwen3-4b-medium").endswith("they are small and small")  # 3.84B and 4.02B
    assert verdict(guide, "qwen3-0.6b-mobile").startswith("holds: on a 2 GB phone")
    assert set(guide["id"]) >= {"q8_0-quality", "q4_0-max-compression", "framework-by-hardware"}


def test_the_summary_keeps_the_kind_of_each_verdict():
    table = claims.quantization_claims(nano_table(), gemma_rows(), simd=[])
    summary = claims.summarize(table)
    assert summary.loc["memory-f16", "verdicts"] == "does not hold"
    assert summary.loc["q8_0-quality", "verdicts"] == "holds"
    assert claims.by_definition(SIZE_CLAIMS)["verdict"].tolist() == ["partly: see the paper"]


def test_gemma_front_leaves_out_every_file_a_smaller_one_beats():
    rows = {r["file"]: r for r in gemma_rows()["gemma"]}
    assert claims.gemma_front(rows) == ["Q2_K", "Q4_0", "Q4_K_M (shipped)", "Q8_0"]
    rows["Q4_0"]["KL divergence"] = 1.0  # further from F16 than the smaller Q2_K
    assert "Q4_0" not in claims.gemma_front(rows)
