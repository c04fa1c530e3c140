"""Classrooms: student versions without solutions, and nbgrader's autograding of what students hand in."""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
import sys
from html import unescape

import nbformat
import pytest

from slmlab import SlmlabError, classroom, paths

pytestmark = pytest.mark.notebook


def _meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def test_release_writes_every_student_notebook_without_its_solution(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "teacher-notes.md").write_text("mine")  # a teacher's own file in the folder stays
    proc = subprocess.run(
        [sys.executable, "-m", "slmlab.cli", "classroom", "release", "-o", str(tmp_path / "out")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"{len(classroom.notebook_names())} student notebooks" in proc.stdout
    assert (tmp_path / "out" / "teacher-notes.md").read_text() == "mine"
    for name in classroom.notebook_names():
        course = nbformat.read(paths.NOTEBOOKS / f"{name}.ipynb", as_version=4)
        exercises = classroom.find_exercises(course, name)
        student = nbformat.read(tmp_path / "out" / f"{name}.ipynb", as_version=4)
        answers = [c for c in student.cells if _meta(c).get("solution")]
        tests = [c for c in student.cells if _meta(c).get("grade")]
        assert len(answers) == len(tests) == len(exercises)
        for ex, answer, test in zip(exercises, answers, tests, strict=True):
            solution = classroom.CHECK_CALL.sub("", course.cells[ex.solution_cell].source).strip()
            assert not any(solution in c.source for c in student.cells), f"{name} gives its solution away"
            assert "raise NotImplementedError()" in answer.source
            assert test.source == f"assert {ex.check}({ex.answer})" and _meta(test)["locked"]
            assert _meta(test)["points"] == classroom.POINTS
            assert any(_meta(c).get("locked") and f"def {ex.check}(" in c.source for c in student.cells)
        assert len({_meta(c)["grade_id"] for c in answers + tests}) == 2 * len(exercises)  # nbgrader wants them unique
        assert "**Solution" not in "".join(c.source for c in student.cells if c.cell_type == "markdown")
    # the course's own notebooks keep their solutions, for self-study
    assert "assert check_choice(my_choice)" in (paths.NOTEBOOKS / "01_classifying_slms.ipynb").read_text()


def test_grading_gives_the_solutions_full_marks_a_wrong_answer_none_and_survives_bad_files(tmp_path):
    names = ["02_acquiring_models", "00_start_here"]  # two of the quickest notebooks, run whole by nbgrader
    submissions = classroom.self_test_submissions(tmp_path, names)
    wrong = nbformat.read(submissions / "solutions" / "02_acquiring_models.ipynb", as_version=4)
    answer = next(c for c in wrong.cells if _meta(c).get("grade_id") == "02_acquiring_models-check_digest-answer")
    answer.source = 'my_digest = "0" * 64  # typed, not computed from the file'
    (submissions / "wrong").mkdir()
    nbformat.write(wrong, submissions / "wrong" / "02_acquiring_models.ipynb")  # hands in one notebook only
    (submissions / "corrupt").mkdir()  # a file cut off while copying, and a file that is not a notebook
    good = (submissions / "solutions" / "02_acquiring_models.ipynb").read_text()
    (submissions / "corrupt" / "02_acquiring_models.ipynb").write_text(good[: len(good) // 2])
    (submissions / "corrupt" / "00_start_here.ipynb").write_text('{"cells": "none"}')
    grades = classroom.grade(submissions, tmp_path / "grades.csv", names, jobs=2, progress=False)
    scores = {(g.student, g.notebook): (g.score, g.max_score) for g in grades}
    problems = {(g.student, g.notebook): g.problem for g in grades if g.problem}
    full = {name: classroom.max_points(name) for name in names}  # a point for each exercise
    assert all(scores[("solutions", name)] == (full[name], full[name]) for name in names)
    assert all(scores[("untouched", name)] == (0, full[name]) for name in names)
    # one wrong answer costs its point, the notebook's other exercises keep theirs
    assert scores[("wrong", "02_acquiring_models")] == (full["02_acquiring_models"] - 1, full["02_acquiring_models"])
    assert scores[("wrong", "00_start_here")] == (0, full["00_start_here"])
    # every bad file scores zero with one line saying why; every other student is graded all the same
    assert problems == {
        ("wrong", "00_start_here"): "missing: no 00_start_here.ipynb handed in",
        ("corrupt", "02_acquiring_models"): problems[("corrupt", "02_acquiring_models")],
        ("corrupt", "00_start_here"): problems[("corrupt", "00_start_here")],
    }
    assert problems[("corrupt", "02_acquiring_models")].startswith("unreadable: 02_acquiring_models.ipynb is not valid")
    assert problems[("corrupt", "00_start_here")].startswith("not a notebook: 00_start_here.ipynb")
    rows = list(csv.DictReader(open(tmp_path / "grades.csv")))
    assert (
        len(rows) == 8
        and {
            "student": "solutions",
            "notebook": "02_acquiring_models",
            "score": f"{full['02_acquiring_models']:.1f}",
        }.items()
        <= next(r for r in rows if r["student"] == "solutions" and r["notebook"] == "02_acquiring_models").items()
    )
    assert next(r for r in rows if r["student"] == "corrupt" and r["notebook"] == "02_acquiring_models")["problem"]
    feedback = tmp_path / "feedback"
    html = (feedback / "wrong" / "02_acquiring_models" / "02_acquiring_models.html").read_text()
    assert "did you hash the whole file" in unescape(re.sub(r"<[^>]+>", "", html))  # in the check's words
    note = (feedback / "corrupt" / "02_acquiring_models" / "02_acquiring_models.html").read_text()
    assert "is not valid JSON" in note  # the student with the bad file reads why too


def test_a_submission_that_hangs_is_stopped_at_the_timeout_and_scores_zero(tmp_path):
    import psutil

    names = ["00_start_here"]
    submissions = classroom.self_test_submissions(tmp_path, names)
    shutil.rmtree(submissions / "untouched")
    hangs = nbformat.read(submissions / "solutions" / "00_start_here.ipynb", as_version=4)
    next(c for c in hangs.cells if _meta(c).get("solution")).source = "import time\ntime.sleep(3600)"
    nbformat.write(hangs, submissions / "solutions" / "00_start_here.ipynb")
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    grades = classroom.grade(submissions, tmp_path / "grades.csv", names, timeout=20, progress=False)
    assert [(g.score, g.problem) for g in grades] == [(0, "timed out: still running after 20 s")]
    left = {p.pid for p in psutil.Process().children(recursive=True)} - before
    assert not left, "a kernel outlived its timed-out grading"


def test_grading_with_a_bad_file_exits_1_and_writes_every_grade(tmp_path):
    (tmp_path / "subs" / "ana").mkdir(parents=True)
    (tmp_path / "subs" / "ana" / "00_start_here.ipynb").write_bytes(b"\xff\xfe not text")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "slmlab.cli",
            "classroom",
            "grade",
            str(tmp_path / "subs"),
            "--notebooks",
            "00_start_here",
            "-o",
            str(tmp_path / "g.csv"),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1, proc.stderr
    assert "unreadable: 00_start_here.ipynb is not UTF-8 text" in proc.stdout and "1 could not be graded" in proc.stdout
    rows = list(csv.DictReader(open(tmp_path / "g.csv")))
    assert [(r["student"], r["score"], r["problem"]) for r in rows] == [
        ("ana", "0.0", "unreadable: 00_start_here.ipynb is not UTF-8 text")
    ]


def test_hidden_checks_leave_nothing_to_read_the_answer_from_and_still_grade(tmp_path):
    written = classroom.release(tmp_path / "out", hidden_checks=True)
    assert len(written) == len(classroom.notebook_names())
    for name, path in zip(classroom.notebook_names(), written, strict=True):
        code = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
        for ex in classroom.find_exercises(nbformat.read(paths.NOTEBOOKS / f"{name}.ipynb", as_version=4), name):
            assert f"def {ex.check}(" not in code and f"{ex.check}(" not in code, f"{name} shows its check"
    # the task's own helpers stay: notebook 04's bounds, 05's merit
    assert "def acceptable(" in (tmp_path / "out" / "04_judging_quantized_models.ipynb").read_text()
    assert "merit = " in (tmp_path / "out" / "05_optimizing_with_olive.ipynb").read_text()
    # autograding restores the check: the solution earns its point, a wrong answer none, with the check's message
    names = ["02_acquiring_models"]
    submissions = classroom.self_test_submissions(tmp_path / "graded", names, hidden_checks=True)
    wrong = nbformat.read(submissions / "solutions" / "02_acquiring_models.ipynb", as_version=4)
    answer = next(c for c in wrong.cells if _meta(c).get("grade_id") == "02_acquiring_models-check_digest-answer")
    answer.source = 'my_digest = "0" * 64'
    (submissions / "wrong").mkdir()
    nbformat.write(wrong, submissions / "wrong" / "02_acquiring_models.ipynb")
    shutil.rmtree(submissions / "untouched")  # graded zero by the test above; each grading runs the notebook whole
    grades = classroom.grade(submissions, tmp_path / "grades.csv", names, hidden_checks=True, progress=False)
    full = classroom.max_points("02_acquiring_models")
    assert {g.student: g.score for g in grades} == {"solutions": full, "wrong": full - 1}
    html = (tmp_path / "feedback" / "wrong" / "02_acquiring_models" / "02_acquiring_models.html").read_text()
    assert "did you hash the whole file" in unescape(re.sub(r"<[^>]+>", "", html))


@pytest.mark.fast
def test_classroom_bad_input_is_one_clear_line(tmp_path):
    with pytest.raises(SlmlabError, match="no such notebook: 09_nothing"):
        classroom.release(tmp_path / "out", ["09_nothing"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(SlmlabError, match="holds no student folders"):
        classroom.grade(tmp_path / "empty", tmp_path / "grades.csv")
    proc = subprocess.run(
        [sys.executable, "-m", "slmlab.cli", "classroom", "grade", "-o", str(tmp_path / "g.csv")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and proc.stderr.startswith("error: grade takes a SUBMISSIONS folder")
    assert not (tmp_path / "out").exists() and not (tmp_path / "grades.csv").exists()


@pytest.mark.fast
def test_nbgraders_menus_are_off_for_learners_and_a_teacher_turns_them_on():
    assert not classroom.menus_enabled()  # as make setup leaves the environment
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "slmlab.cli", "classroom", "menus-on"], capture_output=True, text=True
        )
        assert proc.returncode == 0 and "menus are on" in proc.stdout and classroom.menus_enabled()
    finally:
        classroom.set_menus(False)
    assert not classroom.menus_enabled()
