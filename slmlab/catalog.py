"""The model catalog: facts from published configs, parameter counts computed from them, and classes.

Parameter counts are never typed in. `count_parameters` builds the model from its `config.json` on
PyTorch's *meta* device — every tensor has a shape but no memory, so even a 27B model is built in a
fraction of a second without a download — and counts. Tied embeddings are counted once.

The lesson's classes: micro 100M–1.4B, small 1.5B–13.9B, medium 14B–30B. It leaves gaps and edges
open; this course's rule (`classify`) closes them:
* the **total** parameter count decides (it is what you download and load; non-embedding counts
  are shown beside it);
* models are named by their count rounded to 0.1B, so the gaps close at the midpoints: a 1.45B model
  is "1.5B" → small, a 1.44B model is "1.4B" → micro, 13.95B → medium; nothing falls between classes;
* below 100M is **nano** (toy and teaching models like slm-nano), above 30B is **large** — outside
  what the lesson calls small.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from slmlab import hub, paths, sizing
from slmlab.errors import SlmlabError
from slmlab.meta import build_on_meta

if TYPE_CHECKING:
    import pandas as pd

CATALOG_DIR = paths.DATA / "catalog"

CLASSES = [  # (name, lower bound inclusive, upper bound exclusive), in total parameters
    ("nano", 0, 100e6),
    ("micro", 100e6, 1.45e9),  # lesson: 100M–1.4B
    ("small", 1.45e9, 13.95e9),  # lesson: 1.5B–13.9B
    ("medium", 13.95e9, 30.05e9),  # lesson: 14B–30B
    ("large", 30.05e9, float("inf")),
]


@dataclass
class CatalogModel:
    name: str
    hub_id: str | None
    family: str
    licence: str
    gated: bool
    config_path: Path
    published: dict = field(default_factory=dict)
    note: str = ""
    offline: str = ""

    @property
    def config(self) -> dict:
        return json.loads(self.config_path.read_text())


@dataclass
class ParameterCount:
    total: int
    embedding: int  # the token embedding table, plus the output head when it is not tied
    tied_embeddings: bool
    architecture: str

    @property
    def non_embedding(self) -> int:
        return self.total - self.embedding


@functools.lru_cache(maxsize=1)
def _catalog() -> dict[str, CatalogModel]:
    data = json.loads((CATALOG_DIR / "catalog.json").read_text())
    models = {}
    for m in data["models"]:
        models[m["name"]] = CatalogModel(
            name=m["name"],
            hub_id=m.get("hub_id"),
            family=m["family"],
            licence=m["licence"],
            gated=m["gated"],
            config_path=(CATALOG_DIR / m["config"]).resolve(),
            published=m.get("published", {}),
            note=m.get("note", ""),
            offline=m.get("offline", ""),
        )
    return models


def names() -> list[str]:
    return list(_catalog())


def get(name: str) -> CatalogModel:
    try:
        return _catalog()[name]
    except KeyError:
        raise SlmlabError(f"{name!r} is not in the catalog; known: {', '.join(names())}") from None


def by_hub_id(hub_id: str) -> CatalogModel | None:
    return next((m for m in _catalog().values() if m.hub_id and m.hub_id.lower() == hub_id.lower()), None)


def count_parameters(config: dict) -> ParameterCount:
    """Exact parameter counts from a config: total, embedding and non-embedding (tied weights counted once)."""
    model = build_on_meta(config)
    total = sum(p.numel() for p in model.parameters())  # parameters() yields a tied tensor once
    emb = model.get_input_embeddings().weight
    out = model.get_output_embeddings()
    tied = out is not None and out.weight is emb
    embedding = emb.numel() + (out.weight.numel() if out is not None and not tied else 0)
    return ParameterCount(total=total, embedding=embedding, tied_embeddings=tied, architecture=type(model).__name__)


@functools.lru_cache(maxsize=64)
def parameters(name: str) -> ParameterCount:
    return count_parameters(get(name).config)


def classify(n_params: int) -> str:
    """The lesson's size class for a total parameter count (see the module docstring for the rule)."""
    for name, low, high in CLASSES:
        if low <= n_params < high:
            return name
    raise AssertionError("the classes cover every count")


def context_length(config: dict) -> int | None:
    return config.get("max_position_embeddings") or config.get("text_config", {}).get("max_position_embeddings")


def parameter_table() -> pd.DataFrame:
    """Every catalog model in one table (a pandas DataFrame, one row per model): its counts from its config
    (`count_parameters`), class, the count its authors or a library publish and how far ours is from it,
    context length and licence."""
    import pandas as pd

    rows = []
    for name in names():
        m, p = get(name), parameters(name)
        published = m.published.get("params")
        rows.append(
            {
                "model": name,
                "family": m.family,
                "params": p.total,
                "non-embedding": p.non_embedding,
                "embedding share": p.embedding / p.total,
                "tied": p.tied_embeddings,
                "class": classify(p.total),
                "published": published,
                "vs published": (p.total / published - 1) if published else None,
                "context": context_length(m.config),
                "licence": m.licence,
            }
        )
    return pd.DataFrame(rows).set_index("model")


@dataclass
class ModelInfo:
    name: str
    params: int
    embedding: int
    non_embedding: int
    tied_embeddings: bool
    size_class: str
    context_length: int | None
    sizes: dict[str, int]  # estimated GGUF bytes per file type
    source: str


def config_for(ref: str | Path) -> tuple[dict, str, str]:
    """(config, where it came from, a name) for a catalog name, a hub id (the catalog's copy when it has one,
    else the hub's config.json alone), or a local model folder."""
    ref = str(ref)
    path = Path(ref).expanduser()
    if ref in _catalog():
        return get(ref).config, f"catalog: {get(ref).config_path.name}", ref
    if (m := by_hub_id(ref)) is not None:
        return m.config, f"catalog: {m.config_path.name}", m.name
    if (path / "config.json").is_file():
        return json.loads((path / "config.json").read_text()), str(path / "config.json"), path.name
    if "/" in ref and not path.exists():
        folder = hub.snapshot(ref, allow_patterns=["config.json"], complete=False)
        return json.loads((folder / "config.json").read_text()), f"hub: {ref}", ref.split("/")[-1]
    raise SlmlabError(f"no config for {ref!r}: give a catalog name ({', '.join(names())}), a model folder or a hub id")


def info(ref: str, file_types: tuple[str, ...] | None = None) -> ModelInfo:
    """Parameters, class and estimated GGUF sizes for a catalog name, a hub id in the catalog, or a local folder."""
    config, source, ref = config_for(ref)
    count = count_parameters(config)
    estimates = sizing.estimate_sizes(config, file_types or sizing.FILE_TYPES)
    return ModelInfo(
        name=ref,
        params=count.total,
        embedding=count.embedding,
        non_embedding=count.non_embedding,
        tied_embeddings=count.tied_embeddings,
        size_class=classify(count.total),
        context_length=context_length(config),
        sizes={ft: e.total_bytes for ft, e in estimates.items()},
        source=source,
    )
