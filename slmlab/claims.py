"""The lesson's claims, judged (notebook 11): every verdict with what decided it.

Each function returns a table (a pandas DataFrame) that the notebook shows and saves. The evidence comes in three
kinds:

* **computed** from the models' configs — sizes (`size_verdicts`), after the estimates behind them are checked
  against real files (`file_checks`: slm-nano quantized here, Gemma 3 270M as shipped, every seed architecture as a
  stand-in through llama.cpp's converter, published GGUF sizes) and the runtime-memory formulas against what
  llama.cpp allocates (`buffer_checks`, `kv_allocations`);
* **measured** by earlier notebooks and read from their saved results — notebook 03's files and notebook 04's
  Gemma rows (`quantization_claims`), notebook 10's token counts (`judged_elsewhere`), and the guidelines notebook
  09's advisor follows (`guidelines`). A notebook not run yet gives a row that says "run notebook NN first", never
  an error; a stand-in (random weights) gives no quality verdict;
* **decided by a document** (`by_definition`) or by the installed software (`foundry_verdict`).

A verdict starts with holds, holds only in GiB, partly, does not hold, impossible, not measured or not judged;
after a colon, why.
Verdict tables have the columns of `COLUMNS`: the claim's id (from data/lesson_claims.json, or the claim's words
for a claim that file does not quote), the claim, the case judged, what decided it, and the verdict.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from slmlab import advisor, catalog, measure, models, probes, sizing, standins, tokens
from slmlab.errors import SlmlabError

if TYPE_CHECKING:
    import pandas as pd

THIS = "11_the_lessons_claims_judged"
COLUMNS = ["id", "claim", "case", "decided by", "verdict"]
GEMMA = "gemma-3-270m"
GEMMA_F16 = "F16 (dequantized)"  # notebook 04's label for Gemma's F16 file (it ships as Q4_K_M only)
GEMMA_SHIPPED = "Q4_K_M (shipped)"
# "inference memory ≈ N × the file": the lesson's factor per type
MEMORY_FACTORS = {"F16": 2.0, "Q8_0": 1.5, "Q4_0": 1.2}
# llama.cpp's KV cache of Gemma 3 270M three ways: every layer full size (--swa-full) or its sliding layers kept to
# their window and one micro-batch (llama.cpp's default), in F16 or q8_0 (--cache-type-k/-v q8_0)
KV_VARIANTS = {
    "F16, every layer full size (--swa-full)": (True, "f16"),
    "F16, sliding layers: window + one batch": (False, "f16"),
    "q8_0 cache, sliding layers: window + one batch": (False, "q8_0"),
}
N_UBATCH = 512  # llama.cpp's micro-batch: the tokens one compute pass holds, and what sliding layers keep extra


def _frame(rows: list[dict], columns: list[str] | None = None) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(rows, columns=columns or COLUMNS)


def _row(claim_id: str, claim: str, case: str, decided_by: str, verdict: str) -> dict:
    return {"id": claim_id, "claim": claim, "case": case, "decided by": decided_by, "verdict": verdict}


def lesson_claims() -> dict[str, dict]:
    """The lesson's claims as data/lesson_claims.json quotes them, by id."""
    return {c["id"]: c for c in tokens.lesson_claims()}


# ---------------------------------------------------------------- the size estimates, against real files


@dataclass
class FileChecks:
    """Size estimates against files: `table` has one row per file (`sizing.compare_with_file`'s columns and
    `file`, where the file came from); `refused` says, per seed, why llama.cpp's converter would not convert it."""

    table: pd.DataFrame
    refused: dict[str, str] = field(default_factory=dict)

    def rows(self, *kinds: str) -> pd.DataFrame:
        """The rows whose `file` starts with one of `kinds` ("made here", "shipped", "stand-in", "published"),
        without the columns they leave empty."""
        return self.table[self.table["file"].str.startswith(kinds)].dropna(axis=1, how="all")

    def worst(self, *kinds: str) -> float:
        """The largest |difference| among those rows."""
        return float(self.rows(*kinds)["difference"].abs().max())


def estimate_checks(nano_types: tuple[str, ...] = ("F16", "Q8_0", "Q4_0", "Q4_K_M")) -> pd.DataFrame:
    """slm-nano's files as `llama-quantize` writes them here (cached after the first run), and Gemma 3 270M's
    Q4_K_M file as it ships, each against the size estimated from the model's config."""
    nano = json.loads((models.resolve("slm-nano").path / "config.json").read_text())
    rows = [
        {**sizing.compare_with_file("slm-nano", nano, ft, models.quantized_gguf("slm-nano", ft)), "file": "made here"}
        for ft in nano_types
    ]
    shipped = models.resolve(GEMMA).path
    rows.append({**sizing.compare_with_file(GEMMA, catalog.get(GEMMA).config, "Q4_K_M", shipped), "file": "shipped"})
    return _frame(rows, list(rows[0]))


def seed_checks(seeds: list[str], layers: int, file_types: tuple[str, ...] = ("F16", "Q4_K_M")) -> FileChecks:
    """Every seed architecture as a stand-in (its published config and tokenizer, random weights, `layers` blocks
    at full width: `slmlab shape SEED --layers N`), converted by `convert_hf_to_gguf.py` and quantized by
    `llama-quantize` for real (both cached), each file against its estimate. A file's size depends on its tensors'
    shapes only, so the stand-in's files are sized exactly like the real model's."""
    from tqdm.auto import tqdm

    rows, refused = [], {}
    for seed in tqdm(seeds, desc="stand-ins"):
        folder = standins.build(seed, layers=layers)
        config = json.loads((folder / "config.json").read_text())
        try:
            for ft in file_types:
                path = models.quantized_gguf(folder, ft)
                rows.append(
                    {
                        **sizing.compare_with_file(f"{seed} ({layers} blocks)", config, ft, path),
                        "file": "stand-in, converted here",
                        "architecture": config["model_type"],
                    }
                )
        except SlmlabError as e:
            refused[seed] = str(e)
    columns = ["model", "type", "estimated bytes", "real bytes", "difference", "same tensor types", "file"]
    return FileChecks(_frame(rows, [*columns, "architecture"]), refused)


def published_checks() -> pd.DataFrame:
    """The GGUF sizes their publishers list (the catalog keeps each with its source) against the estimates."""
    rows = []
    for name in catalog.names():
        m = catalog.get(name)
        for ft, size in m.published.get("gguf_bytes", {}).items():
            estimate = sizing.estimate_sizes(m.config, (ft,))[ft].total_bytes
            rows.append(
                {
                    "model": name,
                    "type": ft,
                    "estimated bytes": estimate,
                    "real bytes": size,
                    "difference": estimate / size - 1,
                    "same tensor types": None,  # a listing gives the size only
                    "file": f"published: {m.published.get('gguf_source')}",
                }
            )
    return _frame(rows, ["model", "type", "estimated bytes", "real bytes", "difference", "same tensor types", "file"])


def file_checks(seeds: list[str], layers: int) -> FileChecks:
    """`estimate_checks`, `seed_checks` and `published_checks` in one table (column `file`: made here, shipped,
    stand-in, published)."""
    import pandas as pd

    seeded = seed_checks(seeds, layers)
    table = pd.concat([estimate_checks(), seeded.table, published_checks()], ignore_index=True)
    return FileChecks(table, seeded.refused)


# ---------------------------------------------------------------- memory at run time, against llama.cpp


def buffer_checks(context: int = N_UBATCH) -> pd.DataFrame:
    """The KV cache and compute buffer `sizing.runtime_memory` predicts for slm-nano and Gemma 3 270M (Q8_0) at
    `context` tokens, against the buffers llama.cpp reports while it loads each (a fresh process)."""
    rows = []
    nano = json.loads((models.resolve("slm-nano").path / "config.json").read_text())
    for ref, config in [("slm-nano", nano), (GEMMA, catalog.get(GEMMA).config)]:
        measured = probes.memory_while_generating(models.quantized_gguf(ref, "Q8_0"), context, 4).buffers
        estimate = sizing.runtime_memory(0, config, context)
        for part, key in [("KV cache", "kv_cache"), ("compute", "compute")]:
            allocated = measured[part.lower()]
            rows.append(
                {
                    "model": ref,
                    "buffer": part,
                    "estimated MiB": estimate[key] / 2**20,
                    "llama.cpp MiB": allocated / 2**20,
                    "difference": estimate[key] / allocated - 1,
                }
            )
    return _frame(rows, list(rows[0]))


def kv_allocations(contexts: list[int]) -> pd.DataFrame:
    """Gemma 3 270M's KV cache at each context, the three ways of `KV_VARIANTS`: what llama.cpp allocates (its
    "KV buffer size", a fresh load each, cached) against `sizing.kv_cache`'s formula."""
    config, q8 = catalog.get(GEMMA).config, models.quantized_gguf(GEMMA, "Q8_0")
    rows = []
    for label, (swa_full, cache_type) in KV_VARIANTS.items():
        for c in contexts:
            allocated = probes.kv_cache_allocated(q8, c, swa_full=swa_full, cache_type=cache_type)
            estimate = sizing.kv_cache(
                config,
                c,
                bytes_per_element=sizing.bits_floor(cache_type.upper()) / 8,
                window_limited=not swa_full,
                batch_tokens=N_UBATCH,
            ).bytes
            rows.append(
                {
                    "cache": label,
                    "context": c,
                    "llama.cpp MiB": allocated / 2**20,
                    "estimated MiB": estimate / 2**20,
                    "difference": estimate / allocated - 1,
                }
            )
    return _frame(rows, list(rows[0]))


# ---------------------------------------------------------------- size claims, computed from the configs


def claimed_types(claims: dict[str, dict]) -> tuple[str, ...]:
    """Every file type a size claim names, and F16 (the baseline of a reduction)."""
    types = {ft for c in claims.values() for ft in c.get("file_types", [])}
    types |= {c["reduction_of"] for c in claims.values() if "reduction_of" in c}
    return tuple(sorted(types | {"F16"}))


def catalog_estimates(file_types: tuple[str, ...]) -> dict[str, dict[str, sizing.SizeEstimate]]:
    """Every catalog model's estimated files (slm-nano, the course's own toy, left out)."""
    return {
        name: sizing.estimate_sizes(catalog.get(name).config, file_types)
        for name in catalog.names()
        if name != "slm-nano"
    }


def median_reduction(estimates: dict[str, dict[str, sizing.SizeEstimate]], file_type: str) -> float:
    """How much smaller than F16 a file of `file_type` is, the median over the models of `estimates`."""
    import statistics

    return float(statistics.median(1 - e[file_type].total_bytes / e["F16"].total_bytes for e in estimates.values()))


def size_verdicts(claims: dict[str, dict], estimates: dict[str, dict[str, sizing.SizeEstimate]]) -> pd.DataFrame:
    """Each size claim against the size computed from its model's config (`sizing.judge_range`: GB, or only in
    GiB), and each claimed reduction against the median over the catalog (`sizing.judge_reduction`)."""
    rows = []
    for c in claims.values():
        if "model" in c:
            for ft in c["file_types"]:
                b = estimates[c["model"]][ft].total_bytes
                computed = f"computed: {b / 1e9:.2f} GB = {b / 2**30:.2f} GiB"
                verdict = sizing.judge_range(b, c["low_gb"], c["high_gb"])
                rows.append(_row(c["id"], c["quote"], f"{c['model']} {ft}", computed, verdict))
        elif "reduction_of" in c:
            ft = c["reduction_of"]
            median = median_reduction(estimates, ft)
            verdict = sizing.judge_reduction(ft, c["reduction"], median)
            case = f"{ft} vs F16, median over the catalog"
            rows.append(_row(c["id"], c["quote"], case, f"computed: {median:.1%} smaller", verdict))
    return _frame(rows)


# ---------------------------------------------------------------- claims measured in earlier notebooks


def _not_yet(notebook: str) -> str:
    return f"not judged yet: run notebook {notebook[:2]} first"


def judged_elsewhere(claims: dict[str, dict], load=measure.load_results) -> pd.DataFrame:
    """The claims another notebook judges (`judged_in`, not this one), read from its saved results: today the
    language claim notebook 10 measures on the tokens the same content costs."""
    rows = []
    for c in claims.values():
        where = c.get("judged_in")
        if where is None or where == THIS:
            continue
        r = load(where)
        if r is None:
            rows.append(_row(c["id"], c["quote"], "", c["by"], _not_yet(where)))
            continue
        n, held = len(r["claims"]), sum(row["verdict"] == "holds" for row in r["claims"])
        verdict = "holds" if held == n else f"does not hold: in {n - held} of {n} languages"
        rows.append(_row(c["id"], c["quote"], f"{n} languages", f"measured in {where[:2]}: {c['by']}", verdict))
    return _frame(rows)


def _rows_by(results: dict | None, key: str, label: str) -> dict[str, dict]:
    return {row[label]: row for row in (results or {}).get(key) or []}


def gemma_front(gemma: dict[str, dict]) -> list[str]:
    """Gemma's files on the Pareto front of size against KL divergence (no smaller file is closer to F16)."""
    front, best = [], float("inf")
    for label, row in sorted(((k, v) for k, v in gemma.items() if k != GEMMA_F16), key=lambda kv: kv[1]["MB"]):
        if row["KL divergence"] <= best:
            front.append(label)
            best = row["KL divergence"]
    return front


def quantization_claims(r03: dict | None, r04: dict | None, simd: list[str] | None = None) -> pd.DataFrame:
    """The lesson's quantization claims, judged on notebook 03's files (`r03`: its saved results, rows of `table`
    with type, bytes, MB, memory MB, kv cache MB, compute MB, ppl vs F16) and notebook 04's Gemma 3 270M (`r04`:
    rows of `gemma` with file, MB, KL divergence, same top token, memory MB …): size reductions, inference memory
    as a factor of the file, Q8_0's quality, Q4_0 "for maximum compression", SIMD. Missing results give a row
    "run notebook NN first"; a stand-in (random weights) gives no quality verdict. `simd`: this CPU's SIMD
    features (`measure.cpu_info()` when None)."""
    if r03 is None:
        return _frame([_row("quantization", "the quantization claims", "", "notebook 03's files", _not_yet("03"))])
    rows = []
    model, table, gemma = r03["model"], _rows_by(r03, "table", "type"), _rows_by(r04, "gemma", "file")
    context = r03.get("memory_context")  # the context 03 (and 04) measured memory at, where 03 saved it
    for c in lesson_claims().values():
        ft = c.get("reduction_of")
        if ft in table and "F16" in table:
            red = 1 - table[ft]["bytes"] / table["F16"]["bytes"]
            claim, verdict = (
                f"{ft} reduces size by about {c['reduction']:.0%}",
                sizing.judge_reduction(ft, c["reduction"], red),
            )
            rows.append(_row(c["id"], claim, model, f"measured in 03: {red:.1%} smaller than F16", verdict))
    for ft, factor in MEMORY_FACTORS.items():
        claim = f"inference memory ≈ {factor}× file size ({ft})"
        for name, frame, label, nb in [(model, table, ft, "03"), (GEMMA, gemma, {"F16": GEMMA_F16}.get(ft, ft), "04")]:
            if label in frame:
                r = frame[label]
                ratio = r["memory MB"] / r["MB"]
                at = f" at context {context}" if context else ""
                measured = (
                    f"measured in {nb}: {ratio:.2f}×{at} — KV cache {r['kv cache MB']:.0f} MB and compute buffer "
                    f"{r['compute MB']:.0f} MB on top of the file, whatever its type"
                )
                verdict = "does not hold: no single factor fits, the fixed part dominates small models"
                rows.append(
                    _row(
                        f"memory-{ft.lower()}",
                        claim,
                        name,
                        measured,
                        "holds" if abs(ratio / factor - 1) <= 0.25 else verdict,
                    )
                )
    quality, compression = "Q8_0 keeps almost original quality", "use Q4_0 for maximum compression"
    if r03.get("stand_in"):
        why = "not judged: notebook 03 measured a stand-in (random weights), whose perplexity means nothing"
        rows.append(_row("q8_0-quality", quality, model, "notebook 03", why))
    elif "Q8_0" in table:
        d = table["Q8_0"]["ppl vs F16"]
        verdict = "holds" if abs(d) < 0.01 else "does not hold"
        rows.append(_row("q8_0-quality", quality, model, f"measured in 03: perplexity {d:+.3%} vs F16", verdict))
    if r04 is None:
        rows.append(_row("gemma-quality", f"{quality}; {compression}", GEMMA, "notebook 04's files", _not_yet("04")))
    elif {"Q8_0", "Q4_0", GEMMA_SHIPPED, "Q2_K"} <= set(gemma):
        q8, q40, qkm = gemma["Q8_0"], gemma["Q4_0"], gemma[GEMMA_SHIPPED]
        kl = f"KL divergence {q8['KL divergence']:.4f}, same top token {q8['same top token']:.1%} of the time"
        verdict = "holds" if q8["same top token"] >= 0.95 else "does not hold"
        rows.append(_row("q8_0-quality", quality, GEMMA, f"measured in 04: {kl}", verdict))
        smaller = (
            f"measured in 04: Q4_0 is {1 - q40['MB'] / qkm['MB']:.1%} smaller than Q4_K_M; its KL divergence is "
            f"{q40['KL divergence']:.3f}, and Q2_K is {gemma['Q2_K']['MB']:.0f} MB"
        )
        front = "Q4_0" in gemma_front(gemma)
        verdict = "holds" if front else "does not hold: other types are smaller or closer"
        rows.append(_row("q4_0-max-compression", compression, GEMMA, smaller, verdict))
    simd = [k for k, v in measure.cpu_info().features.items() if v] if simd is None else simd
    why = (
        "not measured: a speed-up needs a second build with SIMD off to compare with; notebook 03 compares speed "
        "with the memory-bandwidth limit instead"
    )
    claim = "CPU inference is SIMD-accelerated"
    rows.append(_row("cpu-simd", claim, "this CPU", f"this CPU: {', '.join(simd) or 'no SIMD found'}", why))
    return _frame(rows)


def guidelines(quantization: pd.DataFrame) -> pd.DataFrame:
    """The lesson's model-selection guidelines, which notebook 09's advisor follows, checked: two computed here
    (Qwen3-0.6B on a 2 GB phone, Phi-4-mini's and Qwen3-4B's class), the quality ones taken from `quantization`
    (`quantization_claims`, or its row saying which notebook to run first), and the framework by hardware from
    notebook 09's compatibility table."""
    config = catalog.get("qwen3-0.6b").config
    q4 = sizing.estimate_sizes(config, ("Q4_K_M",))["Q4_K_M"].total_bytes
    need = sizing.runtime_memory(q4, config, 4096)["total"] / 1e9
    phone = 2.0 * (1 - advisor.OS_RESERVE)  # a 2 GB phone, less the advisor's reserve for the OS and the app
    fits = f"holds: on a 2 GB phone ({phone:.1f} GB left after the reserve)" if need <= phone else "does not hold"
    phi, q4b = catalog.parameters("phi-4-mini").total, catalog.parameters("qwen3-4b").total
    classes = f"does not hold: by the lesson's own bounds they are {catalog.classify(phi)} and {catalog.classify(q4b)}"
    rows = [
        _row(
            "qwen3-0.6b-mobile",
            "Qwen3-0.6B for ultra-lightweight mobile apps",
            "qwen3-0.6b Q4_K_M",
            f"computed: at 4k context it needs {need:.2f} GB",
            fits,
        ),
        _row(
            "phi-4-mini-qwen3-4b-medium",
            "Phi-4-mini and Qwen3-4B are 'medium' SLMs",
            "",
            f"computed: {phi / 1e9:.2f}B, {q4b / 1e9:.2f}B parameters",
            classes,
        ),
    ]
    quality = quantization["id"].isin(["q8_0-quality", "q4_0-max-compression", "gemma-quality", "quantization"])
    framework = _row(
        "framework-by-hardware",
        "choose the framework by target hardware",
        "",
        "notebook 09's compatibility table",
        "holds: each runtime needs specific hardware",
    )
    return _frame([*rows, *quantization[quality].to_dict("records"), framework])


# ---------------------------------------------------------------- claims a document decides


def by_definition(claims: dict[str, dict]) -> pd.DataFrame:
    """The claims about what a feature is, with the verdict data/lesson_claims.json gives and its evidence."""
    rows = [_row(c["id"], c["quote"], "", c["evidence"], c["verdict"]) for c in claims.values() if "verdict" in c]
    return _frame(rows)


def foundry_verdict(
    words: tuple[str, ...] = ("audit", "role", "access", "permission", "sync", "cloud", "compliance"),
) -> str:
    """The lesson's Foundry Local security and sync features, searched for in every public name the installed
    SDK defines (`foundry.sdk_names`)."""
    from slmlab import foundry

    try:
        version, names = foundry.sdk_names()
    except ImportError:
        return "not judged: the Foundry Local SDK is not installed here (make setup installs it)"
    found = sorted(n for n in names if any(w in n.lower() for w in words))
    role = " (MessageRole: a chat message's role, user or assistant)" if found == ["MessageRole"] else ""
    matches = f"of its {len(names)} names, those that match are {found or 'none'}{role}"
    return f"not found in foundry-local-sdk {version}: {matches}"


# ---------------------------------------------------------------- every claim, one verdict


def summarize(verdicts: pd.DataFrame) -> pd.DataFrame:
    """One row per claim (index: its id) with every verdict its cases got (the words before the colon)."""
    kinds = lambda v: "; ".join(sorted({x.split(":")[0] for x in v}))  # noqa: E731
    return verdicts.groupby("id", sort=False).agg(claim=("claim", "first"), verdicts=("verdict", kinds))
