"""Build slm-nano's training corpus: the docstrings and help topics of the Python standard library.

The text is English prose about programming, varied enough that a tiny model cannot memorise
it, so quantization error shows up in perplexity. It comes from CPython's own source files
(PSF License Version 2, a permissive licence) and is read with `ast`, never imported, so the
extraction has no side effects and gives the same text for the same Python version.

Modules are split into train and held-out by a hash of their name, so no held-out sentence
was seen in training.

    python scripts/make_corpus.py            # writes data/corpus/
"""

from __future__ import annotations

import ast
import gzip
import hashlib
import sys
import sysconfig
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "data" / "corpus"
SKIP_DIRS = {"test", "tests", "idlelib", "lib2to3", "site-packages", "ensurepip", "turtledemo", "__pycache__"}


def docstrings(path: Path) -> list[str]:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (SyntaxError, UnicodeDecodeError):
        return []
    nodes = [tree] + [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    out = []
    for node in nodes:
        doc = ast.get_docstring(node, clean=True)
        if doc and len(doc) >= 40 and doc.isascii():
            out.append(doc.strip())
    return out


def is_heldout(module: str) -> bool:
    return int(hashlib.sha256(module.encode()).hexdigest(), 16) % 20 == 0  # ~5% of modules


def main() -> None:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    train, heldout = [], []
    for path in sorted(stdlib.rglob("*.py")):
        rel = path.relative_to(stdlib)
        if SKIP_DIRS & set(rel.parts):
            continue
        module = ".".join(rel.with_suffix("").parts)
        (heldout if is_heldout(module) else train).extend(docstrings(path))
    # the language reference's help topics, which pydoc ships as plain text
    from pydoc_data.topics import topics

    for key in sorted(topics):
        text = topics[key].strip()
        if text:
            (heldout if is_heldout("topic:" + key) else train).append(text)
    OUT.mkdir(parents=True, exist_ok=True)
    sep = "\n\n"
    with gzip.open(OUT / "stdlib-docstrings.train.txt.gz", "wt", encoding="utf-8", compresslevel=9) as f:
        f.write(sep.join(train) + "\n")
    (OUT / "stdlib-docstrings.heldout.txt").write_text(sep.join(heldout) + "\n", encoding="utf-8")
    print(f"Python {sys.version.split()[0]}: {len(train)} train docstrings, {len(heldout)} held-out")
    for name in ("stdlib-docstrings.train.txt.gz", "stdlib-docstrings.heldout.txt"):
        print(f"  {name}: {(OUT / name).stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
