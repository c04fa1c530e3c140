"""The course's website: a static Jupyter Book (version 1, Sphinx) of the notebooks `make test` executed.

    .venv/bin/python scripts/build_book.py      (make book)

Reads build/notebooks/ (outputs and plots included; nothing is executed again), leaves out the cells the tests
appended (tagged wrong-answer-probe), and writes build/book/html/index.html. Jupyter Book runs from its own
virtual environment, made by `make setup` (pyproject.toml [tool.slmlab.server-venvs]).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

from slmlab import paths
from slmlab.errors import SlmlabError

EXECUTED = paths.REPO_ROOT / "build" / "notebooks"
OUT = paths.REPO_ROOT / "build" / "book"
CONFIG = """title: "slmlab: small language models on edge hardware"
author: the slmlab authors
execute:
  execute_notebooks: "off"   # the outputs are those make test measured on this machine
only_build_toc_files: true
sphinx:
  config:
    html_show_copyright: false
"""


def build() -> Path:
    names = sorted(p.stem for p in paths.NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    missing = [n for n in names if not (EXECUTED / f"{n}.ipynb").is_file()]
    if missing:
        raise SlmlabError(f"{EXECUTED} lacks the executed {', '.join(missing)}: run `make test` first")
    jupyter_book = paths.server_venv("jupyter_book") / "bin" / "jupyter-book"
    if not jupyter_book.is_file():
        raise SlmlabError(f"Jupyter Book is not installed in {jupyter_book.parents[1]}: run `make setup`")
    with tempfile.TemporaryDirectory(prefix="slmlab-book-") as tmp:
        src = Path(tmp)
        for name in names:
            nb = nbformat.read(EXECUTED / f"{name}.ipynb", as_version=4)
            nb.cells = [c for c in nb.cells if "wrong-answer-probe" not in c.metadata.get("tags", [])]
            nbformat.write(nb, src / f"{name}.ipynb")
        shutil.copy(paths.NOTEBOOKS / "glossary.md", src / "glossary.md")  # the lessons link terms to it
        (src / "_config.yml").write_text(CONFIG)
        (src / "_toc.yml").write_text(
            f"format: jb-book\nroot: {names[0]}\nchapters:\n"
            + "".join(f"- file: {n}\n" for n in [*names[1:], "glossary"])
        )
        cmd = [
            str(jupyter_book),
            "build",
            str(src),
            "--path-output",
            str(src / "out"),
            "--warningiserror",
            "--keep-going",
        ]
        print("$", " ".join(cmd), flush=True)
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SlmlabError(f"jupyter-book failed (exit {proc.returncode}):\n{(proc.stdout + proc.stderr)[-3000:]}")
        with paths.atomic_output(OUT) as staging:
            staging.mkdir()
            shutil.copytree(src / "out" / "_build" / "html", staging / "html")
    return OUT / "html" / "index.html"


if __name__ == "__main__":
    try:
        index = build()
    except SlmlabError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    print(f"the course's website: {index} ({len(list(index.parent.glob('[0-9][0-9]_*.html')))} lessons)")
