"""nbval's input: the notebooks papermill ran, with the outputs of their checked cells taken from the repository.

papermill writes each executed notebook into build/notebooks/ (tests/test_notebooks.py). This script copies the
ones that have cells tagged `nbval-check-output` into build/nbval/, clears every output, drops the test's
wrong-answer probe, and puts back, for each tagged cell, the output committed in tests/expected/NOTEBOOK.json.
nbval then runs the copy and compares those cells with what the repository says they print — sizes and counts
computed from the published configs — so a change to them fails the run, whatever the same run computed.

    python scripts/nbval_notebooks.py            # write build/nbval/*.ipynb and print their paths
    python scripts/nbval_notebooks.py --update   # take the expected outputs from build/notebooks/ (after a change
                                                 # that is meant to alter them; review the diff before committing)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXECUTED, OUT, EXPECTED = ROOT / "build" / "notebooks", ROOT / "build" / "nbval", ROOT / "tests" / "expected"
TAG = "nbval-check-output"


def tagged(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if TAG in c.get("metadata", {}).get("tags", [])]


def comparable(outputs: list[dict]) -> list[dict]:
    """What nbval compares, without what changes from run to run (execution counts)."""
    return [{k: v for k, v in o.items() if k != "execution_count"} for o in outputs]


def update() -> None:
    for course in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        cells = tagged(json.loads(course.read_text()))
        if not cells:
            continue
        executed = {c["id"]: c for c in json.loads((EXECUTED / course.name).read_text())["cells"]}
        expected = {c["id"]: comparable(executed[c["id"]]["outputs"]) for c in cells}
        path = EXPECTED / f"{course.stem}.json"
        path.write_text(json.dumps(expected, indent=1, ensure_ascii=False, sort_keys=True) + "\n")
        print(f"wrote {path.relative_to(ROOT)} ({len(expected)} cells)")


def compose() -> list[Path]:
    OUT.mkdir(parents=True, exist_ok=True)
    written = []
    for expected_file in sorted(EXPECTED.glob("*.json")):
        expected = json.loads(expected_file.read_text())
        nb = json.loads((EXECUTED / f"{expected_file.stem}.ipynb").read_text())
        nb["cells"] = [c for c in nb["cells"] if "wrong-answer-probe" not in c.get("metadata", {}).get("tags", [])]
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                cell["outputs"] = []
                cell["execution_count"] = None
        missing = {c["id"] for c in tagged(nb)} ^ set(expected)
        if missing:
            sys.exit(
                f"error: {expected_file.name} and the notebook's tagged cells differ: {sorted(missing)}; "
                "run scripts/nbval_notebooks.py --update after a passing `make test`"
            )
        for n, cell in enumerate(tagged(nb), start=1):  # a reference cell with outputs must look run (a count)
            cell["execution_count"] = n
            cell["outputs"] = [
                dict(o, execution_count=n) if o["output_type"] == "execute_result" else o for o in expected[cell["id"]]
            ]
        path = OUT / f"{expected_file.stem}.ipynb"
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
        written.append(path)
    if not written:
        sys.exit(f"error: no expected outputs in {EXPECTED.relative_to(ROOT)}: nbval would compare nothing")
    return written


if __name__ == "__main__":
    if sys.argv[1:] == ["--update"]:
        update()
    else:
        print("\n".join(str(p) for p in compose()))
