"""Classrooms: student versions of the notebooks without their solutions, graded with nbgrader.

Every exercise of a notebook has the same four cells: the exercise (with a placeholder such as `my_choice = None`),
a `check_…` function that judges an answer, a **Solution:** heading and the solution, which ends with
`assert check_…(…)`. `source_notebook` turns that into nbgrader's form: the check cell is locked, the solution's
code goes between nbgrader's `### BEGIN SOLUTION` / `### END SOLUTION` markers (a student sees `# YOUR CODE
HERE`), and its final assert becomes a locked, autograded test cell worth `POINTS`. The course's own notebooks
keep their solutions, for self-study, folded out of the first view (the cell's `source_hidden`: one click opens it).

A visible check can be read for its answer. With `hidden_checks=True` (`slmlab classroom release --hidden-checks`,
for a graded test rather than practice) the `check_…` function moves into the test cell between nbgrader's
`### BEGIN HIDDEN TESTS` / `### END HIDDEN TESTS` markers: the student version holds neither the check nor a call
to it (the helpers that define the task, such as notebook 04's `acceptable`, stay visible), and autograding
restores it, so the feedback still shows the check's message.

nbgrader does the rest, as a teacher would run it, in a course folder of its own (`nbgrader_config.py`, its
gradebook database, `source/`, `release/`, `submitted/`, `autograded/`, `feedback/`):
`nbgrader generate_assignment`, `autograde`, `generate_feedback` and `export`. Each notebook is an assignment
named after it, so a class can be given one lesson at a time. Autograding runs a student's code as it is,
unsandboxed, like running their notebook yourself.
"""

from __future__ import annotations

import csv
import html
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from slmlab import paths
from slmlab.errors import SlmlabError

POINTS = 1
CELL_TIMEOUT_S = 3600  # nbgrader's default is 30 s; notebook 03 quantizes and 07 starts servers in one cell
CHECK_CALL = re.compile(r"^assert (check_\w+)\((\w+)\)\s*$", re.M)


@dataclass
class Exercise:
    notebook: str
    check: str  # the check function, e.g. check_choice
    answer: str  # the name the learner sets, e.g. my_choice (or ask, a function)
    solution_cell: int  # index of the solution's code cell in the course notebook


def notebook_names() -> list[str]:
    return sorted(p.stem for p in paths.NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def find_exercises(nb, name: str) -> list[Exercise]:
    """The exercises of a course notebook, in order: each is the code cell after a **Solution:** heading that
    ends with `assert check_x(answer)`."""
    found = []
    for i, cell in enumerate(nb.cells[1:], start=1):
        before = nb.cells[i - 1]
        if cell.cell_type == "code" and before.cell_type == "markdown" and "**Solution" in before.source:
            calls = CHECK_CALL.findall(cell.source)
            if calls:
                found.append(Exercise(name, calls[-1][0], calls[-1][1], i))
    if not found:
        raise SlmlabError(
            f"{name} has no exercise: no code cell after a **Solution:** heading ending with `assert check_…(…)`"
        )
    return found


def max_points(name: str) -> int:
    """What a notebook is worth: POINTS for each of its exercises."""
    import nbformat

    return POINTS * len(find_exercises(nbformat.read(paths.NOTEBOOKS / f"{name}.ipynb", as_version=4), name))


def _meta(grade_id: str, *, solution: bool = False, grade: bool = False, locked: bool = False) -> dict:
    meta = {
        "grade": grade,
        "grade_id": grade_id,
        "locked": locked,
        "schema_version": 3,
        "solution": solution,
        "task": False,
    }
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
        segment = "".join(lines[node.lineno - 1 - len(getattr(node, "decorator_list", [])) : node.end_lineno])
        if isinstance(node, ast.FunctionDef) and node.name == check:
            hidden.append(segment)
        elif not (
            isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Call)
            and getattr(node.value.func, "id", None) == check
        ):
            visible.append(segment)
    return "".join(visible).strip(), "".join(hidden).strip()


def source_notebook(name: str, hidden_checks: bool = False):
    """A course notebook in nbgrader's source form (solutions between markers, a locked autograded test)."""
    import nbformat

    nb = nbformat.read(paths.NOTEBOOKS / f"{name}.ipynb", as_version=4)
    for ex in reversed(find_exercises(nb, name)):  # from the last: inserting a test cell moves what follows
        check_cell = next(
            i
            for i in range(ex.solution_cell - 1, 0, -1)
            if nb.cells[i].cell_type == "code" and f"def {ex.check}(" in nb.cells[i].source
        )
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
        solution.metadata["nbgrader"] = _meta(f"{name}-{ex.check}-answer", solution=True)
        solution.metadata.get("jupyter", {}).pop("source_hidden", None)  # the student's own cell: shown
        test = nbformat.v4.new_code_cell(
            f"# your answer is checked here when your notebook is graded\n"
            f"### BEGIN HIDDEN TESTS\n{hidden}\n\n\nassert {ex.check}({ex.answer})\n"
            "### END HIDDEN TESTS"
            if hidden
            else f"assert {ex.check}({ex.answer})"
        )
        test.metadata["nbgrader"] = _meta(f"{name}-{ex.check}-test", grade=True, locked=True)
        nb.cells.insert(ex.solution_cell + 1, test)
    for cell in nb.cells:  # the text around the exercise no longer promises a solution below
        if cell.cell_type == "code" and "(a solution follows)" in cell.source:
            cell.source = cell.source.replace(" (a solution follows)", "")
    return nb


class GradingTimeout(SlmlabError):
    """An nbgrader run that went past its time limit (its process group was killed)."""


def _nbgrader(
    course: Path, *args: str, env: dict[str, str] | None = None, timeout: float | None = None, quiet: bool = False
) -> str:
    exe = Path(sys.executable).with_name("nbgrader")
    cmd = [str(exe if exe.is_file() else "nbgrader"), *args]
    if not quiet:
        print("$", " ".join(cmd), flush=True)
    bin_dir = str(Path(sys.executable).parent)  # nbgrader runs alembic, from the same venv, by name
    path = os.pathsep.join([bin_dir, os.environ.get("PATH", "")])
    # its own process group: a submission that hangs is stopped with the kernel and whatever it started
    proc = subprocess.Popen(
        cmd,
        cwd=course,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        env={**os.environ, "PATH": path, **(env or {})},
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise GradingTimeout(f"nbgrader {args[0]} ran past {timeout:g} s") from None
    if proc.returncode != 0:
        raise SlmlabError(f"nbgrader {args[0]} failed (exit {proc.returncode}):\n{err[-3000:]}")
    return err + out


def make_course(course: Path, names: list[str], hidden_checks: bool = False) -> None:
    """An nbgrader course folder with each notebook as its own assignment, generated (solutions cleared)."""
    course.mkdir(parents=True, exist_ok=True)
    (course / "nbgrader_config.py").write_text(
        "c = get_config()  # noqa: F821\n"
        f"c.CourseDirectory.root = {str(course)!r}\n"
        f"c.Execute.timeout = {CELL_TIMEOUT_S}\n"
        "c.Execute.kernel_name = 'python3'\n"
        "c.ClearSolutions.code_stub = {'python': '# YOUR CODE HERE\\nraise NotImplementedError()'}\n"
    )
    import nbformat

    for name in names:
        folder = course / "source" / name
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(source_notebook(name, hidden_checks), folder / f"{name}.ipynb")
    # every assignment of the course in one run (it adds each to the gradebook): one process, not one per notebook
    _nbgrader(course, "generate_assignment", "*", "--force")


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
    problem: str | None = None  # why it earned nothing without being graded: missing, unreadable, timed out …
    seconds: float = 0.0  # how long grading it took


NOTEBOOK_TIMEOUT_S = 1800  # one student's notebook, run whole by nbgrader (notebook 07 starts servers: minutes)
GRADES_COLUMNS = ["student", "notebook", "score", "max_score", "problem", "seconds"]


def submission_problem(path: Path) -> str | None:
    """Why a handed-in file cannot be graded, in one line, or None when nbgrader can take it."""
    import json

    import nbformat

    if not path.is_file():
        return f"missing: no {path.name} handed in"
    try:
        nb = nbformat.reads(path.read_text(encoding="utf-8"), as_version=4)
    except UnicodeDecodeError:
        return f"unreadable: {path.name} is not UTF-8 text"
    except (json.JSONDecodeError, nbformat.reader.NotJSONError):
        return f"unreadable: {path.name} is not valid JSON (was it saved from Jupyter?)"
    except Exception as e:  # nbformat's own refusals: no nbformat version, an unknown one …
        return f"not a notebook: {path.name}: {str(e).splitlines()[0][:120]}"
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as e:
        return f"not a notebook: {path.name} breaks the notebook format ({e.message[:120]})"
    return None


def default_jobs() -> int:
    """One grading per core: each runs a notebook's kernel, which llama.cpp and torch keep to one thread."""
    return max(1, len(os.sched_getaffinity(0)))


def grade(
    submissions: Path,
    out_csv: Path,
    names: list[str] | None = None,
    hidden_checks: bool = False,
    *,
    jobs: int | None = None,
    timeout: float = NOTEBOOK_TIMEOUT_S,
    progress: bool = True,
) -> list[Grade]:
    """Autograde `submissions/STUDENT/NOTEBOOK.ipynb` with nbgrader; write every student's grade to `out_csv`
    and each student's feedback (HTML) beside it, in `feedback/STUDENT/NOTEBOOK/`. `hidden_checks` must be what
    the students' version was released with.

    One bad submission never costs another student a grade: a notebook that is missing, unreadable, not a
    notebook, that nbgrader cannot take, or that runs past `timeout` seconds scores zero, with its reason in the
    grade's `problem` (in the CSV and in its feedback file). Up to `jobs` notebooks are graded at once (default:
    one per core), each in a course folder of its own (nbgrader's gradebook is one SQLite file)."""
    from concurrent.futures import ThreadPoolExecutor, as_completed

    from tqdm.auto import tqdm

    names = _check_names(names)
    submissions = Path(submissions)
    students = sorted(p.name for p in submissions.iterdir() if p.is_dir()) if submissions.is_dir() else []
    if not students:
        raise SlmlabError(f"{submissions} holds no student folders: expected SUBMISSIONS/STUDENT/NOTEBOOK.ipynb")
    if jobs is not None and jobs < 1:
        raise SlmlabError(f"--jobs must be 1 or more, not {jobs}")
    if timeout <= 0:
        raise SlmlabError(f"--timeout must be a positive number of seconds, not {timeout:g}")
    out_csv = Path(out_csv)
    paths.ensure_writable_dir(out_csv.parent)
    with tempfile.TemporaryDirectory(prefix="slmlab-course-") as tmp:
        template = Path(tmp) / "course"
        make_course(template, names, hidden_checks)
        grades: dict[tuple[str, str], Grade] = {}
        to_grade = []
        for student in students:
            for name in names:
                problem = submission_problem(submissions / student / f"{name}.ipynb")
                if problem:
                    grades[student, name] = Grade(student, name, 0.0, max_points(name), problem)
                else:
                    to_grade.append((student, name))
        with ThreadPoolExecutor(max_workers=jobs or default_jobs()) as pool:
            futures = [
                pool.submit(_grade_one, template, Path(tmp) / f"grading-{i}", submissions, student, name, timeout)
                for i, (student, name) in enumerate(to_grade)
            ]
            bar = tqdm(
                as_completed(futures),
                total=len(futures),
                desc="grading",
                unit="notebook",
                disable=not progress or not futures,
            )
            for future in bar:
                g = future.result()
                grades[g.student, g.notebook] = g
                bar.write(
                    f"{g.student}/{g.notebook}: {g.score:g} / {g.max_score:g} in {g.seconds:.0f} s"
                    + (f" — {g.problem}" if g.problem else "")
                )
        result = [grades[s, n] for s in students for n in names]
        feedback = out_csv.parent / "feedback"
        shutil.rmtree(feedback, ignore_errors=True)
        for g in result:
            folder = feedback / g.student / g.notebook
            made = Path(tmp) / "feedback" / g.student / g.notebook
            if made.is_dir():
                shutil.copytree(made, folder)
            if g.problem:  # the student reads why, where the feedback would be
                folder.mkdir(parents=True, exist_ok=True)
                (folder / f"{g.notebook}.html").write_text(
                    f"<!DOCTYPE html>\n<html><body><h1>{g.notebook}: 0 / {g.max_score:g}</h1>\n"
                    f"<p>{html.escape(g.problem)}</p></body></html>\n"
                )
    with paths.atomic_output(out_csv) as tmp_csv, open(tmp_csv, "w", newline="") as f:
        writer = csv.DictWriter(f, GRADES_COLUMNS)
        writer.writeheader()
        for g in result:
            writer.writerow({**vars(g), "problem": g.problem or "", "seconds": round(g.seconds, 1)})
    return result


def _grade_one(template: Path, course: Path, submissions: Path, student: str, name: str, timeout: float) -> Grade:
    """One student's notebook, graded in a copy of the course folder: autograde (which adds the student to the
    gradebook), feedback, and the score read from the gradebook."""
    start = time.perf_counter()
    shutil.copytree(template, course)
    config = course / "nbgrader_config.py"
    config.write_text(config.read_text().replace(repr(str(template)), repr(str(course))))
    env = {"SLMLAB_RESULTS": str(course / "results")}  # a student's run must not replace the teacher's results
    folder = course / "submitted" / student / name
    folder.mkdir(parents=True)
    shutil.copy(submissions / student / f"{name}.ipynb", folder / f"{name}.ipynb")
    try:
        _nbgrader(course, "autograde", name, "--student", student, "--force", env=env, timeout=timeout, quiet=True)
        _nbgrader(course, "generate_feedback", name, "--student", student, "--force", quiet=True)
    except GradingTimeout:
        return Grade(
            student,
            name,
            0.0,
            max_points(name),
            f"timed out: still running after {timeout:g} s",
            time.perf_counter() - start,
        )
    except SlmlabError as e:
        last = next((ln for ln in reversed(str(e).splitlines()) if ln.strip()), str(e))
        return Grade(
            student,
            name,
            0.0,
            max_points(name),
            f"nbgrader could not grade it: {last.strip()[:160]}",
            time.perf_counter() - start,
        )
    finally:
        made = course / "feedback" / student / name
        if made.is_dir():
            shutil.copytree(made, course.parent / "feedback" / student / name, dirs_exist_ok=True)
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        graded = gradebook.find_submission(name, student)
        score, max_score = float(graded.score or 0), float(graded.max_score or 0)
    return Grade(student, name, score, max_score, seconds=time.perf_counter() - start)


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
        answers = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")]
        for answer, ex in zip(answers, find_exercises(course, name), strict=True):
            answer.source = CHECK_CALL.sub("", course.cells[ex.solution_cell].source).rstrip()
        nbformat.write(nb, folder / "submissions" / "solutions" / path.name)
    return folder / "submissions"


NBGRADER_LAB_EXTENSION = "@jupyter/nbgrader"  # its JupyterLab menus: Formgrader, Assignment List, Course List
NBGRADER_SERVER_EXTENSIONS = (
    "nbgrader.server_extensions.formgrader",
    "nbgrader.server_extensions.validate_assignment",
    "nbgrader.server_extensions.assignment_list",
    "nbgrader.server_extensions.course_list",
)


def _jupyter(*args: str) -> None:
    exe = Path(sys.executable).with_name("jupyter")
    cmd = [str(exe if exe.is_file() else "jupyter"), *args]
    print("$", " ".join(cmd), flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise SlmlabError(f"{' '.join(args[:3])} failed: {(proc.stderr or proc.stdout).strip().splitlines()[-1:]}")


def set_menus(enabled: bool) -> None:
    """nbgrader's JupyterLab menus and server extensions on or off, for this environment (`--sys-prefix`).
    `make setup` turns them off — a self-study learner has no course to grade; a teacher turns them on with
    `slmlab classroom menus-on`, and grading with `slmlab classroom grade` needs neither."""
    verb = "enable" if enabled else "disable"
    _jupyter("labextension", verb, "--level=sys_prefix", NBGRADER_LAB_EXTENSION)
    for extension in NBGRADER_SERVER_EXTENSIONS:
        _jupyter("server", "extension", verb, "--sys-prefix", extension)


def menus_enabled() -> bool:
    """Whether JupyterLab, as this environment configures it, shows nbgrader's menus."""
    import json

    page = Path(sys.prefix) / "etc" / "jupyter" / "labconfig" / "page_config.json"
    disabled = json.loads(page.read_text()).get("disabledExtensions", {}) if page.is_file() else {}
    return not disabled.get(NBGRADER_LAB_EXTENSION, False)
