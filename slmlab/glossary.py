"""The course's glossary (notebooks/glossary.md) and where each of its terms is first used.

A term is a glossary heading (`## KV cache`); the words before a parenthesis, split at commas, are what a lesson
writes (`## Prompt processing, generation` names two). Its first use is the first prose line of the course, notebooks
in order, that names it outside code and links; `link_first_uses` makes that occurrence a link to the glossary, and
the tests check that every term's first use is one.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from slmlab import paths

GLOSSARY = paths.NOTEBOOKS / "glossary.md"
LINK = "glossary.md"


@dataclass(frozen=True)
class FirstUse:
    term: str  # as the glossary heading names it
    notebook: str  # file name
    cell: int
    linked: bool  # the occurrence is a link to the glossary


def terms(glossary: Path = GLOSSARY) -> dict[str, list[str]]:
    """Each glossary heading and the words a lesson writes for it."""
    found = {}
    for heading in re.findall(r"^## (.+)$", glossary.read_text(), re.M):
        names = heading.split(" (")[0]
        found[heading] = [n.strip() for n in names.split(",") if n.strip()]
    return found


def _pattern(words: list[str]) -> re.Pattern:
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<![\w`/#-])((?:{alternatives})(?:s|es)?)(?![\w`-])", re.I)


def _prose_spans(line: str) -> list[tuple[int, int]]:
    """The parts of a markdown line outside code spans, links and images, as (start, end)."""
    taken = [m.span() for m in re.finditer(r"`[^`]*`|!?\[[^\]]*\]\([^)]*\)|<[^>]+>|\$[^$]*\$", line)]
    spans, at = [], 0
    for start, end in taken:
        spans.append((at, start))
        at = end
    spans.append((at, len(line)))
    return spans


def _find(source: str, pattern: re.Pattern) -> tuple[int, int] | None:
    """Where the term is first named in a markdown cell's source: in prose, or as a whole code span (`swa_full`);
    heading lines, code blocks and links skipped."""
    offset, fenced = 0, False
    for line in source.splitlines(keepends=True):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and not line.lstrip().startswith("#"):
            hits = []
            for start, end in _prose_spans(line):
                m = pattern.search(line, start, end)
                if m:
                    hits.append((m.start(1), m.end(1)))
            for m in re.finditer(r"(?<!\[)`([^`]+)`", line):
                if pattern.fullmatch(re.split(r"[=(]", m.group(1))[0]):  # `swa_full=False`: the span is the link
                    hits.append(m.span())
            if hits:
                start, end = min(hits)
                return offset + start, offset + end
        offset += len(line)
    return None


def _notebooks() -> list[Path]:
    return sorted(paths.NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def first_uses(glossary: Path = GLOSSARY, notebooks: list[Path] | None = None) -> list[FirstUse]:
    """Each term's first use in the course, and whether it is linked there (a link to the glossary whose text names
    the term counts as the first use)."""
    loaded = [(nb, json.loads(nb.read_text())["cells"]) for nb in notebooks or _notebooks()]
    uses = []
    for heading, words in terms(glossary).items():
        pattern = _pattern(words)
        linked_pattern = re.compile(rf"\[[^\]]*\b({'|'.join(re.escape(w) for w in words)})[^\]]*\]\({LINK}", re.I)
        for nb, cells in loaded:
            hit = None
            for i, cell in enumerate(cells):
                if cell["cell_type"] != "markdown":
                    continue
                source = "".join(cell["source"])
                link, plain = linked_pattern.search(source), _find(source, pattern)
                if link and (plain is None or link.start() < plain[0]):
                    hit = FirstUse(heading, nb.name, i, True)
                elif plain is not None:
                    hit = FirstUse(heading, nb.name, i, False)
                if hit:
                    break
            if hit:
                uses.append(hit)
                break
    return uses


def link_first_uses(glossary: Path = GLOSSARY, notebooks: list[Path] | None = None) -> list[FirstUse]:
    """Make each term's first use that is not a link yet a link to the glossary; returns what it linked."""
    done = []
    for use in first_uses(glossary, notebooks):
        if use.linked:
            continue
        path = (
            paths.NOTEBOOKS / use.notebook
            if notebooks is None
            else next(p for p in notebooks if p.name == use.notebook)
        )
        nb = json.loads(path.read_text())
        cell = nb["cells"][use.cell]
        source = "".join(cell["source"])
        start, end = _find(source, _pattern(terms(glossary)[use.term]))
        source = f"{source[:start]}[{source[start:end]}]({LINK}){source[end:]}"
        lines = source.split("\n")
        cell["source"] = [ln + "\n" for ln in lines[:-1]] + [lines[-1]]
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
        done.append(use)
    return done


if __name__ == "__main__":  # python -m slmlab.glossary: link every first use that is not linked yet
    for use in link_first_uses():
        print(f"linked {use.term!r} in {use.notebook}, cell {use.cell}")
