"""Every notebook, executed end to end with papermill (CI parameters), then checked like a learner would.

The executed copies land in build/notebooks/; `make test` then runs nbval over them.
"""

from __future__ import annotations

import json

import papermill as pm
import pytest

from slmlab import measure, paths

pytestmark = pytest.mark.notebook

# small parameters for CI: one thread (see the README on why), fewer tokens, no network probe
CI_PARAMETERS = {
    "00_start_here": {"N_TOKENS": 16, "THREADS": 1, "CHECK_NETWORK": False},
}
OUT = paths.REPO_ROOT / "build" / "notebooks"


def execute(name: str) -> dict:
    OUT.mkdir(parents=True, exist_ok=True)
    nb = pm.execute_notebook(paths.NOTEBOOKS / f"{name}.ipynb", OUT / f"{name}.ipynb",
                             parameters=CI_PARAMETERS.get(name, {}), kernel_name="python3",
                             cwd=str(paths.NOTEBOOKS), progress_bar=False)
    return nb


def outputs(nb) -> str:
    text = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            text.append(o.get("text", "") + json.dumps(o.get("data", {})))
    return "\n".join(text)


def test_every_notebook_has_ci_parameters_and_a_parameters_cell():
    names = sorted(p.stem for p in paths.NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    assert names and set(names) == set(CI_PARAMETERS)
    import nbformat

    for name in names:
        nb = nbformat.read(paths.NOTEBOOKS / f"{name}.ipynb", as_version=4)
        assert "parameters" in nb.cells[1].metadata.get("tags", []), name
        assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), f"{name} is saved with outputs"


def test_00_start_here_checks_the_machine_and_measures_both_models():
    nb = execute("00_start_here")
    text = outputs(nb)
    results = measure.load_results("00_start_here")
    speeds = {r["model"]: r for r in results["generation"]}
    assert set(speeds) == {"gemma-3-270m", "slm-nano"}
    assert all(r["generation tokens/s"] > 0 and r["generated tokens"] > 0 for r in speeds.values())
    # the tiny model is faster than the 270M one: generation speed follows the bytes read per token
    assert speeds["slm-nano"]["generation tokens/s"] > speeds["gemma-3-270m"]["generation tokens/s"]
    assert "✓ Right" in text  # the exercise's check ran on the solution
    assert "SIMD  " in text and "CPU   " in text  # the doctor section printed the hardware
