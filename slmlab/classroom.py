"""Classrooms: student versions of the notebooks without their solutions, graded with nbgrader.

Every notebook's exercise has the same four cells: the exercise (with a placeholder such as `my_choice = None`),
a `check_…` function that judges an answer, a **Solution:** heading and the solution, which ends with
`assert check_…(…)`. `source_notebook` turns that into nbgrader's form: the check cell is locked, the solution's
code goes between nbgrader's `### BEGIN SOLUTION` / `### END SOLUTION` markers (a student sees `# YOUR CODE
HERE`), and its final assert becomes a locked, autograded test cell worth `POINTS`. The course's own notebooks
keep their solutions, for self-study.

A visible check can be read for its answer. With `hidden_checks=True` (`slmlab classroom release --hidden-checks`,
for a graded test rather than practice) the `check_…` function moves into the test cell between nbgrader's
`### BEGIN HIDDEN TESTS` / `### END HIDDEN TESTS` markers: the student version holds neither the check nor a call
to it (the helpers that define the task, such as notebook 03's `acceptable`, stay visible), and autograding
restores it, so the feedback still shows the check's message.

nbgrader does the rest, as a teacher would run it, in a course folder of its own (`nbgrader_config.py`, its
gradebook database, `source/`, `release/`, `submitted/`, `autograded/`, `feedback/`):
`nbgrader generate_assignment`, `autograde`, `generate_feedback` and `export`. Each notebook is an assignment
named after it, so a class can be given one lesson at a time. Autograding runs a student's code as it is,
unsandboxed, like running their notebook yourself.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from slmlab import paths
from slmlab.errors import SlmlabError

POINTS = 1
CELL_TIMEOUT_S = 3600  # nbgrader's default is 30 s; notebook 03 quantizes and 06 starts servers in one cell
CHECK_CALL = re.compile(r"^assert (check_\w+)\((\w+)\)\s*$", re.M)


@dataclass
class Exercise:
    notebook: str
    check: str  # the check function, e.g. check_choice
    answer: str  # the name the learner sets, e.g. my_choice (or ask, a function)
    solution_cell: int  # index of the solution's code cell in the course notebook


def notebook_names() -> list[str]:
    return sorted(p.stem for p in paths.NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def find_exercise(nb, name: str) -> Exercise:
    """The exercise of a course notebook: the code cell after a **Solution:** heading that ends with
    `assert check_x(answer)`."""
    for i, cell in enumerate(nb.cells[1:], start=1):
        before = nb.cells[i - 1]
        if cell.cell_type == "code" and before.cell_type == "markdown" and "**Solution" in before.source:
            calls = CHECK_CALL.findall(cell.source)
            if calls:
                return Exercise(name, calls[-1][0], calls[-1][1], i)
    raise SlmlabError(f"{name} has no exercise: no code cell after a **Solution:** heading ending with "
                      "`assert check_…(…)`")


def _meta(grade_id: str, *, solution: bool = False, grade: bool = False, locked: bool = False) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution,
            "task": False}
    if grade:
        meta["points"] = POINTS
    return meta


def split_check(source: str, check: str) -> tuple[str, str]:
    """A check cell's code, split into what stays visible (helpers, imports) and the `check` function itself;
    top-level calls of the check are dropped (a student version has nothing to call)."""
    import ast

    lines = source.splitlines(keepends=True)
    visible, hidden = [], []
    for node in ast.parse(source).body:
        segment = "".join(lines[node.lineno - 1 - len(getattr(node, "decorator_list", [])):node.end_lineno])
        if isinstance(node, ast.FunctionDef) and node.name == check:
            hidden.append(segment)
        elif not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
                  and getattr(node.value.func, "id", None) == check):
            visible.append(segment)
    return "".join(visible).strip(), "".join(hidden).strip()


def source_notebook(name: str, hidden_checks: bool = False):
    """A course notebook in nbgrader's source form (solutions between markers, a locked autograded test)."""
    import nbformat

    nb = nbformat.read(paths.NOTEBOOKS / f"{name}.ipynb", as_version=4)
    ex = find_exercise(nb, name)
    check_cell = next(i for i in range(ex.solution_cell - 1, 0, -1)
                      if nb.cells[i].cell_type == "code" and f"def {ex.check}(" in nb.cells[i].source)
    nb.cells[check_cell].metadata["nbgrader"] = _meta(f"{ex.check}-definition", locked=True)
    hidden = ""
    if hidden_checks:
        visible, hidden = split_check(nb.cells[check_cell].source, ex.check)
        nb.cells[check_cell].source = visible or "# the check of this exercise is hidden: it runs when you hand in"
    heading = nb.cells[ex.solution_cell - 1]
    heading.source = "**Your answer** (the test cell below it grades it):"
    solution = nb.cells[ex.solution_cell]
    body = CHECK_CALL.sub("", solution.source).rstrip()
    solution.source = f"### BEGIN SOLUTION\n{body}\n### END SOLUTION"
    solution.metadata["nbgrader"] = _meta(f"{name}-answer", solution=True)
    test = nbformat.v4.new_code_cell(f"# your answer is checked here when your notebook is graded\n"
                                     f"### BEGIN HIDDEN TESTS\n{hidden}\n\n\nassert {ex.check}({ex.answer})\n"
                                     "### END HIDDEN TESTS" if hidden else f"assert {ex.check}({ex.answer})")
    test.metadata["nbgrader"] = _meta(f"{name}-test", grade=True, locked=True)
    nb.cells.insert(ex.solution_cell + 1, test)
    for cell in nb.cells:  # the text around the exercise no longer promises a solution below
        if cell.cell_type == "code" and "(a solution follows)" in cell.source:
            cell.source = cell.source.replace(" (a solution follows)", "")
    return nb


def _nbgrader(course: Path, *args: str, env: dict[str, str] | None = None) -> str:
    exe = Path(sys.executable).with_name("nbgrader")
    cmd = [str(exe if exe.is_file() else "nbgrader"), *args]
    print("$", " ".join(cmd), flush=True)
    bin_dir = str(Path(sys.executable).parent)  # nbgrader runs alembic, from the same venv, by name
    path = os.pathsep.join([bin_dir, os.environ.get("PATH", "")])
    proc = subprocess.run(cmd, cwd=course, capture_output=True, text=True,
                          env={**os.environ, "PATH": path, **(env or {})})
    if proc.returncode != 0:
        raise SlmlabError(f"nbgrader {args[0]} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc.stderr + proc.stdout


def make_course(course: Path, names: list[str], hidden_checks: bool = False) -> None:
    """An nbgrader course folder with each notebook as its own assignment, generated (solutions cleared)."""
    course.mkdir(parents=True, exist_ok=True)
    (course / "nbgrader_config.py").write_text(
        "c = get_config()  # noqa: F821\n"
        f"c.CourseDirectory.root = {str(course)!r}\n"
        f"c.Execute.timeout = {CELL_TIMEOUT_S}\n"
        "c.Execute.kernel_name = 'python3'\n"
        "c.ClearSolutions.code_stub = {'python': '# YOUR CODE HERE\\nraise NotImplementedError()'}\n")
    import nbformat

    for name in names:
        folder = course / "source" / name
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(source_notebook(name, hidden_checks), folder / f"{name}.ipynb")
        _nbgrader(course, "db", "assignment", "add", name)
        _nbgrader(course, "generate_assignment", name, "--force")


def _check_names(names: list[str] | None) -> list[str]:
    known = notebook_names()
    unknown = sorted(set(names or []) - set(known))
    if unknown:
        raise SlmlabError(f"no such notebook: {', '.join(unknown)}; the course has {', '.join(known)}")
    return names or known


def release(out: Path, names: list[str] | None = None, hidden_checks: bool = False) -> list[Path]:
    """Student versions of the notebooks (no solutions, locked checks and tests) in `out`."""
    names = _check_names(names)
    with tempfile.TemporaryDirectory(prefix="slmlab-course-") as tmp:
        course = Path(tmp)
        make_course(course, names, hidden_checks)
        written = []
        Path(out).mkdir(parents=True, exist_ok=True)  # other files there stay; each notebook replaced whole
        for name in names:
            with paths.atomic_output(Path(out) / f"{name}.ipynb") as tmp:
                shutil.copy(course / "release" / name / f"{name}.ipynb", tmp)
            written.append(Path(out) / f"{name}.ipynb")
    return written


@dataclass
class Grade:
    student: str
    notebook: str
    score: float
    max_score: float


def grade(submissions: Path, out_csv: Path, names: list[str] | None = None,
          hidden_checks: bool = False) -> list[Grade]:
    """Autograde `submissions/STUDENT/NOTEBOOK.ipynb` with nbgrader; write grades to `out_csv` and each
    student's feedback (HTML) beside it, in `feedback/STUDENT/`. `hidden_checks` must be what the students'
    version was released with."""
    names = _check_names(names)
    students = sorted(p.name for p in Path(submissions).iterdir() if p.is_dir()) if Path(submissions).is_dir() else []
    if not students:
        raise SlmlabError(f"{submissions} holds no student folders: expected SUBMISSIONS/STUDENT/NOTEBOOK.ipynb")
    with tempfile.TemporaryDirectory(prefix="slmlab-course-") as tmp:
        course = Path(tmp)
        make_course(course, names, hidden_checks)
        env = {"SLMLAB_RESULTS": str(course / "results")}  # a student's run must not replace the teacher's results
        for student in students:
            _nbgrader(course, "db", "student", "add", student)
            for name in names:
                handed_in = Path(submissions) / student / f"{name}.ipynb"
                if handed_in.is_file():
                    folder = course / "submitted" / student / name
                    folder.mkdir(parents=True, exist_ok=True)
                    shutil.copy(handed_in, folder / f"{name}.ipynb")
        for name in names:
            if any((course / "submitted" / s / name).is_dir() for s in students):
                _nbgrader(course, "autograde", name, "--force", env=env)
                _nbgrader(course, "generate_feedback", name, "--force")
        _nbgrader(course, "export", "--to", str(course / "grades.csv"))
        rows = list(csv.DictReader(open(course / "grades.csv")))
        out_csv = Path(out_csv)
        with paths.atomic_output(out_csv) as tmp_csv:
            shutil.copy(course / "grades.csv", tmp_csv)
        if (course / "feedback").is_dir():
            feedback = out_csv.parent / "feedback"
            shutil.rmtree(feedback, ignore_errors=True)
            shutil.copytree(course / "feedback", feedback)
    return [Grade(r["student_id"], r["assignment"], float(r["raw_score"] or 0), float(r["max_score"] or 0))
            for r in rows]


def self_test_submissions(folder: Path, names: list[str] | None = None, hidden_checks: bool = False) -> Path:
    """Two submissions to grade: `solutions` (each student notebook with the course's solution filled in) and
    `untouched` (the student notebooks as released)."""
    import nbformat

    names = _check_names(names)
    released = release(folder / "release", names, hidden_checks)
    for student in ("solutions", "untouched"):
        (folder / "submissions" / student).mkdir(parents=True, exist_ok=True)
    for name, path in zip(names, released):
        shutil.copy(path, folder / "submissions" / "untouched" / path.name)
        nb = nbformat.read(path, as_version=4)
        course = nbformat.read(paths.NOTEBOOKS / f"{name}.ipynb", as_version=4)  # read once: it has the solution
        answer = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution"))
        answer.source = CHECK_CALL.sub("", course.cells[find_exercise(course, name).solution_cell].source).rstrip()
        nbformat.write(nb, folder / "submissions" / "solutions" / path.name)
    return folder / "submissions"
