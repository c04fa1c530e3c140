"""The glossary: every term it defines is linked at its first use in the course, and nowhere is a term it defines
left unused. Reads the notebook files only."""

from __future__ import annotations

import json

import pytest

from slmlab import glossary

pytestmark = pytest.mark.fast


def test_every_glossary_term_is_linked_at_its_first_use_in_the_course():
    uses = {u.term: u for u in glossary.first_uses()}
    unused = [t for t in glossary.terms() if t not in uses]
    assert not unused, f"the glossary defines terms no lesson uses: {unused}"
    unlinked = [f"{u.term} ({u.notebook}, cell {u.cell})" for u in uses.values() if not u.linked]
    assert not unlinked, f"first uses without a link to glossary.md (python -m slmlab.glossary links them): {unlinked}"


def test_first_uses_skip_code_headings_and_links_and_linking_marks_only_the_first(tmp_path):
    (tmp_path / "glossary.md").write_text("# Glossary\n\n## KV cache\nKeys and values.\n\n## GGUF\nA file.\n")
    cells = [
        {"cell_type": "markdown", "source": ["# 01 · The KV cache\n", "Run `kv cache.py` first."]},
        {"cell_type": "code", "source": ["# the KV cache, in a comment"]},
        {
            "cell_type": "markdown",
            "source": ["A [GGUF](glossary.md) file holds the KV cache's size; the KV cache grows."],
        },
    ]
    nb = tmp_path / "01_x.ipynb"
    nb.write_text(json.dumps({"cells": cells}))
    uses = glossary.first_uses(tmp_path / "glossary.md", [nb])
    assert [(u.term, u.cell, u.linked) for u in uses] == [("KV cache", 2, False), ("GGUF", 2, True)]
    assert [u.term for u in glossary.link_first_uses(tmp_path / "glossary.md", [nb])] == ["KV cache"]
    text = "".join(json.loads(nb.read_text())["cells"][2]["source"])
    assert text == "A [GGUF](glossary.md) file holds the [KV cache](glossary.md)'s size; the KV cache grows."
    assert all(u.linked for u in glossary.first_uses(tmp_path / "glossary.md", [nb]))
