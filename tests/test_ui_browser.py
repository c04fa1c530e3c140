"""JupyterLab in a real browser: open a notebook, run all cells, see the widget and the plots render.

Notebook 01 (the explorer widget) and notebook 03, the first of the lessons split in two (03 mechanics, 04 quality),
run to their end with no error. Named to run after the notebook tests, whose runs have built and cached what the
notebooks convert and quantize.

Headless Debian Chromium driven by Playwright's Python package (no browser download). JupyterLab is
started on 127.0.0.1 with a token, on a copy of the notebook so the repository's copy stays clean.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from slmlab import paths, serve

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = paths.REPO_ROOT / "build" / "screenshots"
DONE = "every cell of this notebook ran"  # printed by a cell the test appends: the run reached the end
# what a notebook's parameters cell gets, as papermill's injected cell would (the speed is make bench's)
PARAMETERS = {"03_quantizing_with_llama_cpp": {"THREADS": 1, "BENCH_REPS": 1}}


def copy_for_the_lab(name: str, folder: Path) -> Path:
    """The notebook as a learner opens it, with its parameters set and a last cell that says the run got there."""
    nb = json.loads((paths.NOTEBOOKS / f"{name}.ipynb").read_text())
    params = "".join(f"\n{k} = {v!r}" for k, v in PARAMETERS.get(name, {}).items())
    nb["cells"][1]["source"] = "".join(nb["cells"][1]["source"]) + params
    nb["cells"].append(
        {
            "cell_type": "code",
            "id": "browser-done",
            "metadata": {},
            "execution_count": None,
            "outputs": [],
            "source": f"print({DONE!r})",
        }
    )
    path = folder / f"{name}.ipynb"
    path.write_text(json.dumps(nb))
    return path


@pytest.fixture()
def lab(tmp_path):
    # JupyterLab 4 renders only the cells in view ("windowing"); render all, so every output can be checked
    settings = tmp_path / "settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    (settings / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    port, token = serve.free_port(), "slmlab-browser-test"
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--allow-root",
        f"--ServerApp.port={port}",
        "--ServerApp.ip=127.0.0.1",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={tmp_path}",
        f"--LabApp.user_settings_dir={tmp_path / 'settings'}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    log = open(tmp_path / "lab.log", "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)  # the server's own PID
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                if httpx.get(f"{url}/api/status", params={"token": token}, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            raise AssertionError("JupyterLab did not start:\n" + (tmp_path / "lab.log").read_text()[-2000:])
        yield url, token, tmp_path
    finally:
        proc.terminate()
        proc.wait(20)
        log.close()


def run_all_cells(lab, name: str) -> dict:
    """Open `name` in JupyterLab, Run All Cells, wait for its last cell, and collect what rendered: plots, the
    explorer widget's text, error outputs (a screenshot lands in build/screenshots/ either way)."""
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), (
        "Chromium is missing: `make setup` installs Debian's chromium (apt-get install chromium)"
    )
    url, token, folder = lab
    notebook = copy_for_the_lab(name, folder)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-quic",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{url}/lab/tree/{notebook.name}?token={token}")
            page.wait_for_selector(".jp-Notebook", timeout=60_000)
            # Run → Run All Cells once the kernel reports Idle. Clicked while the kernel is still connecting, Run All
            # walks through the cells without running them, so check that the first cell got an execution
            # count, and click again if it did not.
            status = page.locator(".jp-StatusBar-Widget", has_text="Idle")
            for attempt in range(4):
                status.first.wait_for(state="attached", timeout=180_000)
                page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
                page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
                try:
                    page.wait_for_function(
                        "[...document.querySelectorAll('.jp-InputPrompt')]"
                        ".some(p => /\\[[0-9*]+\\]/.test(p.textContent))",
                        timeout=30_000,
                    )
                    break
                except Exception:
                    if attempt == 3:
                        raise
            # Run All stops at the first error: the appended last cell prints only if every cell before it ran
            done = page.locator(".jp-OutputArea-output", has_text=DONE)
            errors = page.locator("[data-mime-type='application/vnd.jupyter.error']")
            deadline = time.monotonic() + 600
            while not done.count() and not errors.count() and time.monotonic() < deadline:
                time.sleep(1)
            # scroll through the whole notebook (JupyterLab may keep only the cells in view in the page) and
            # collect what rendered: plots, the widget's output, error outputs
            seen = page.evaluate("""async () => {
                const outer = document.querySelector('.jp-WindowedPanel-outer')
                    || document.querySelector('.jp-Notebook');
                const plots = new Set(), errors = new Set();
                let widget = '', widgetAt = 0;
                for (let y = 0; y <= outer.scrollHeight; y += Math.max(200, outer.clientHeight / 2)) {
                    outer.scrollTop = y;
                    await new Promise(r => setTimeout(r, 250));
                    document.querySelectorAll('.jp-OutputArea-output img').forEach(i => plots.add(i.src.slice(-120)));
                    document.querySelectorAll("[data-mime-type='application/vnd.jupyter.error']")
                        .forEach(e => errors.add(e.innerText.slice(0, 300)));
                    // the explorer, not a progress bar (tqdm's bars are widgets too)
                    const w = [...document.querySelectorAll('.jupyter-widgets')]
                        .find(e => e.innerText.includes('fits'));
                    if (w && !widget) { widget = w.innerText; widgetAt = y; }
                }
                outer.scrollTop = widgetAt;
                await new Promise(r => setTimeout(r, 500));
                return {plots: plots.size, errors: [...errors], widget};
            }""")
            seen["done"] = done.count() > 0
            page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
            return seen
        except Exception:
            page.screenshot(path=str(SCREENSHOTS / f"{name}-failed.png"))  # what the browser showed
            raise
        finally:
            browser.close()


def test_notebook_01_runs_in_jupyterlab_with_widget_and_plots(lab):
    seen = run_all_cells(lab, "01_classifying_slms")
    assert not seen["errors"], seen["errors"]
    assert seen["done"], "Run All did not reach the last cell"
    assert seen["plots"] >= 3, f"only {seen['plots']} plots rendered"
    assert "GB" in seen["widget"] and "fits" in seen["widget"], seen["widget"][:300]  # the explorer computed


def test_a_split_lesson_03_runs_to_its_end_in_jupyterlab(lab):
    seen = run_all_cells(lab, "03_quantizing_with_llama_cpp")
    assert not seen["errors"], seen["errors"]
    assert seen["done"], "Run All did not reach the last cell"
    assert seen["plots"] >= 2, f"only {seen['plots']} plots rendered"  # the outlier block; the four-panel table


def test_the_course_website_shows_every_lesson_with_its_plots():
    """`make book` from the notebooks this run executed (tests/test_notebooks.py wrote build/notebooks)."""
    import importlib.util

    import nbformat
    from playwright.sync_api import sync_playwright

    spec = importlib.util.spec_from_file_location("build_book", paths.REPO_ROOT / "scripts" / "build_book.py")
    build_book = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build_book)
    index = build_book.build()
    lessons = sorted(index.parent.glob("[0-9][0-9]_*.html"))
    assert "KV cache" in (index.parent / "glossary.html").read_text()  # the page the lessons link terms to
    assert [p.stem for p in lessons] == sorted(p.stem for p in paths.NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            for lesson in lessons:
                executed = nbformat.read(build_book.EXECUTED / f"{lesson.stem}.ipynb", as_version=4)
                want = sum("image/png" in o.get("data", {}) for c in executed.cells for o in c.get("outputs", []))
                page.goto(lesson.as_uri())
                page.wait_for_load_state("load")
                assert page.locator("main h1").count() >= 1, f"{lesson.name} has no title"
                shown = page.evaluate("""async () => {
                    const imgs = [...document.querySelectorAll('main img')]
                        .filter(i => i.src.includes('_images'));
                    await Promise.all(imgs.map(i => i.complete ? null
                        : new Promise(r => { i.onload = i.onerror = r; })));
                    return imgs.filter(i => i.naturalWidth > 0).length;
                }""")
                assert shown == want, f"{lesson.name}: {shown} of its {want} plots rendered"
                assert "WRONG ANSWERS" not in page.content()  # the tests' probe cells are not part of the lesson
            page.goto(lessons[3].as_uri())
            page.screenshot(path=str(SCREENSHOTS / "book-03.png"))
        finally:
            browser.close()
