"""Every lesson opens with a frame a learner can plan by — what they will learn, what they need, how long it takes —
and the two course diagrams are in their notebooks. Reads the notebook files only: no kernel, no tools."""

from __future__ import annotations

import json
import re

import pytest

from slmlab import catalog, diagrams, paths, sizing

pytestmark = pytest.mark.fast

FRAMED = sorted(paths.NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
MAX_CELLS = 35  # a lesson a learner finishes in a sitting; a longer one is two lessons
MAX_CODE_LINES = 20  # a cell a learner reads whole: one idea, the call that does the work
# a lesson cell that decides by itself what to show for a stand-in: the package decides (standins, quant_table …)
STANDIN_BRANCH = re.compile(r"\bif\b[^\n]*\bSTANDIN\b|\bSTANDIN\b[^\n]*\belse\b|\bnot STANDIN\b")


def cells(notebook) -> list[dict]:
    return json.loads(notebook.read_text())["cells"]


def frame_problems(text: str) -> list[str]:
    """What is missing from a notebook's first cell: the three labelled parts, 3–5 bullets of what it teaches, a
    reading time and a running time."""
    problems = [
        f"no line starting {label}"
        for label in ("**You will learn**", "**You need**", "**Time**")
        if not re.search(rf"^{re.escape(label)}", text, re.M)
    ]
    if problems:
        return problems
    learn = text[text.index("**You will learn**") : text.index("**You need**")]
    bullets = re.findall(r"^[-*] ", learn, re.M)
    if not 3 <= len(bullets) <= 5:
        problems.append(f"{len(bullets)} bullets under **You will learn** (3 to 5)")
    time = text[text.index("**Time**") :].split("\n\n")[0]
    if not re.search(r"\d+ minutes? to read", time):
        problems.append("**Time** gives no reading time ('N minutes to read')")
    if not re.search(r"took \d+ (s|min)", time):
        problems.append("**Time** gives no measured running time ('took N s' / 'took N min')")
    return problems


def test_the_frame_check_catches_a_missing_part():
    framed = (
        "# 99 · X\n\n**You will learn**\n- a\n- b\n- c\n\n**You need** x\n\n**Time** 3 minutes to read; it took 5 s"
    )
    assert frame_problems(framed) == []
    assert frame_problems(framed.replace("**Time**", "Time")) == ["no line starting **Time**"]
    assert frame_problems(framed.replace("- c\n", "")) == ["2 bullets under **You will learn** (3 to 5)"]
    assert frame_problems(framed.replace("it took 5 s", "it is quick")) != []


@pytest.mark.parametrize("notebook", FRAMED, ids=lambda p: p.stem)
def test_every_lesson_opens_with_what_you_learn_need_and_the_time(notebook):
    first = cells(notebook)[0]
    assert first["cell_type"] == "markdown" and "".join(first["source"]).startswith(f"# {notebook.name[:2]} · ")
    assert frame_problems("".join(first["source"])) == [], notebook.name


def test_the_course_pipeline_and_the_decoder_block_are_drawn_where_they_are_taught():
    for prefix, tag, call in [
        ("00_", "course-pipeline", "diagrams.pipeline("),
        ("01_", "decoder-block", "diagrams.decoder_block("),
    ]:
        notebook = next(paths.NOTEBOOKS.glob(f"{prefix}*.ipynb"))
        drawn = [c for c in cells(notebook) if tag in c["metadata"].get("tags", [])]
        assert len(drawn) == 1 and drawn[0]["cell_type"] == "code", f"{notebook.name}: no one cell tagged {tag}"
        assert call in "".join(drawn[0]["source"]), f"{notebook.name}: the {tag} cell does not call {call}"
    # notebook 01's figure sits in section 1, where parameters are first counted, before section 2
    sources = ["".join(c["source"]) for c in cells(next(paths.NOTEBOOKS.glob("01_*.ipynb")))]
    at = next(i for i, s in enumerate(sources) if "diagrams.decoder_block(" in s)
    section = [next(i for i, s in enumerate(sources) if re.search(rf"^## {n} ", s, re.M)) for n in (1, 2)]
    assert section[0] < at < section[1]


@pytest.mark.parametrize("name", ["qwen3-0.6b", "gemma-3-270m", "phi-4-mini", "slm-nano"])
def test_the_decoder_block_diagram_places_every_parameter_once(name):
    config = catalog.get(name).config
    tensors, hp = sizing.gguf_tensors(config)
    block = [t for t in tensors if t.layer == 0]
    stages = diagrams.block_stages(block)
    drawn = [t for _, ts in stages for t in ts]
    assert sorted(t.name for t in drawn) == sorted(t.name for t in block)  # each tensor of the block, once
    assert "other" not in dict(stages)  # every tensor has its place in the data flow
    assert [s for s, _ in stages].count("+") == 2  # two residual adds: after attention, after the MLP
    per_block = sum(t.n_elements for t in drawn)
    outside = sum(t.n_elements for t in tensors if t.layer is None)
    assert outside + hp["n_layer"] * per_block == catalog.count_parameters(config).total


def pacing_problems(cells: list[dict]) -> list[str]:
    """What makes a lesson hard to follow at its pace: too many cells, a code cell too long to read whole, a cell
    that branches on stand-ins."""
    problems = [f"{len(cells)} cells (at most {MAX_CELLS})"] if len(cells) > MAX_CELLS else []
    for i, cell in enumerate(cells):
        text = "".join(cell["source"])
        if cell["cell_type"] != "code":
            continue
        if len(text.splitlines()) > MAX_CODE_LINES:
            problems.append(f"cell {i} has {len(text.splitlines())} lines (at most {MAX_CODE_LINES})")
        if STANDIN_BRANCH.search(text):
            problems.append(f"cell {i} branches on STANDIN")
    return problems


def test_the_pacing_check_catches_long_lessons_long_cells_and_stand_in_branches():
    code = {"cell_type": "code", "source": ["x = 1\n"]}
    assert pacing_problems([code] * MAX_CELLS) == []
    assert pacing_problems([code] * (MAX_CELLS + 1)) == [f"{MAX_CELLS + 1} cells (at most {MAX_CELLS})"]
    long = {"cell_type": "code", "source": ["x = 1\n"] * (MAX_CODE_LINES + 1)}
    assert pacing_problems([long]) == [f"cell 0 has {MAX_CODE_LINES + 1} lines (at most {MAX_CODE_LINES})"]
    for branch in ("if STANDIN:", "y = 1 if not STANDIN else 2", "print('a' if STANDIN else 'b')"):
        assert pacing_problems([{"cell_type": "code", "source": [branch]}]) == ["cell 0 branches on STANDIN"]
    shown = {"cell_type": "code", "source": ["STANDIN = standins.is_standin(f16)\n", "print(STANDIN)"]}
    prose = {"cell_type": "markdown", "source": ["if STANDIN is true, the table has no quality column"]}
    assert pacing_problems([shown, prose]) == []


@pytest.mark.parametrize("notebook", FRAMED, ids=lambda p: p.stem)
def test_every_lesson_is_short_with_short_cells_and_no_stand_in_branches(notebook):
    assert pacing_problems(cells(notebook)) == [], notebook.name


@pytest.mark.parametrize("notebook", FRAMED, ids=lambda p: p.stem)
def test_lesson_cells_speak_to_the_learner_not_to_ci(notebook):
    # `CI=true` (an environment variable a tool reads) is a fact a learner may need; "CI runs this notebook" is not
    for i, cell in enumerate(cells(notebook)):
        text = "".join(cell["source"])
        assert not re.search(r"\bCI\b(?!=)", text), f"{notebook.name} cell {i} talks about CI: {text[:120]!r}"


@pytest.mark.parametrize("notebook", FRAMED, ids=lambda p: p.stem)
def test_every_lesson_has_tiered_exercises_with_folded_solutions(notebook):
    import nbformat

    from slmlab import classroom

    nb = nbformat.read(notebook, as_version=4)
    exercises = classroom.find_exercises(nb, notebook.stem)
    assert len(exercises) >= 2, f"{notebook.name} has {len(exercises)} exercise(s)"
    for ex in exercises:
        assert nb.cells[ex.solution_cell].metadata.get("jupyter", {}).get("source_hidden"), (
            f"{notebook.name}: {ex.check}'s solution is in the first view (set its cell's source_hidden)"
        )
    # tiered: a warm-up, a core and a stretch in 3-exercise notebooks (two tiers at least in the rest)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    tiers = {t for t in ("Warm-up", "Core", "Stretch") if re.search(rf"\*\*{t}\b", text)}
    assert len(tiers) >= min(len(exercises), 3) - (len(exercises) < 3), f"{notebook.name} names tiers {tiers}"
