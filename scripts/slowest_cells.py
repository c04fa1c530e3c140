"""The slowest cells of each notebook the tests executed (papermill records every cell's duration).

python scripts/slowest_cells.py [N]   # N cells per notebook (default 3), from build/notebooks*/
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(n: int = 3) -> None:
    for path in sorted(ROOT.glob("build/notebooks*/*.ipynb")):
        if path.parent.name == "notebooks-input":
            continue
        cells = json.loads(path.read_text())["cells"]
        timed = [
            (c["metadata"].get("papermill", {}).get("duration") or 0.0, i, c)
            for i, c in enumerate(cells)
            if c["cell_type"] == "code"
        ]
        total = sum(t for t, _, _ in timed)
        print(f"{path.parent.name}/{path.name}: {total:.0f} s in {len(timed)} code cells")
        for seconds, i, cell in sorted(timed, key=lambda x: -x[0])[:n]:
            first = next((ln for ln in "".join(cell["source"]).splitlines() if ln.strip()), "")
            print(f"  {seconds:7.1f} s  cell {i:2d}  {first[:90]}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
