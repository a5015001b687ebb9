"""JupyterLab in a real browser, as a student sees it.

For each assignment, the student's JupyterLab (`python -m mmkit.lab`, its own server on a free port,
kernels at the autograder's quick budget) opens the solution and the blank student notebook in
Chromium. The solution runs every cell; then no cell may show an error, every plot must be an image
the browser decoded, every audio player must have a playable duration, the widgets must answer an
input, and nbgrader's Validate button must pass the solution and fail the blank notebook.
Screenshots go to grader/work/screenshots/ for a person to look at.

    make test-browser      (Debian's chromium and Playwright for Python; .ci/run installs both)

These tests run only with --browser (conftest.py), so `make test` does not need a browser.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.test_lab import free_port

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "grader" / "work" / "screenshots"
ASSIGNMENTS = ["clip", "llava", "wavenet", "valle"]
RUN_TIMEOUT = 300          # seconds for Run All or Validate at the quick budget (each takes well under a minute)


def settings(folder: Path) -> None:
    """JupyterLab settings for a test: every cell in the page (no virtual scrolling, so that every
    output is in the DOM) and no news or update prompts over the notebook."""
    for plugin, values in {"@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
                           "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False}}.items():
        path = folder / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """The student's JupyterLab over a folder holding each assignment's student notebook (<a>/) and
    its solution (solution/<a>/); yields (base url, token, folder)."""
    folder = tmp_path_factory.mktemp("lab")
    for a in ASSIGNMENTS:
        (folder / a).mkdir()
        shutil.copy(ROOT / "notebooks" / a / f"{a}.ipynb", folder / a)
        (folder / "solution" / a).mkdir(parents=True)
        shutil.copy(ROOT / "solutions" / a / f"{a}.ipynb", folder / "solution" / a)
    settings(folder / ".settings")
    port, token = free_port(), "browser-test"
    env = {**os.environ, "MMKIT_QUICK": "1"}
    log = open(folder / "lab.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "mmkit.lab", "--no-browser", "--allow-root", f"--port={port}",
                                f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={folder}",
                                f"--LabApp.user_settings_dir={folder / '.settings'}",
                                f"--LabApp.workspaces_dir={folder / '.workspaces'}"],
                               env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5):
                    break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, \
                    f"JupyterLab did not start: {(folder / 'lab.log').read_text()[-2000:]}"
                time.sleep(0.5)
        yield base, token, folder
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def browser():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.fail("Chromium is not installed (Debian: apt-get install chromium); .ci/run installs it")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright is not installed: pip install -e '.[browser]' (make test-browser does it)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"])   # root, containers, no GPU
        yield browser
        browser.close()


def open_notebook(browser, lab, path: str):
    """A new page with the notebook alone, in a fresh workspace (JupyterLab would otherwise reopen
    the notebooks of the earlier tests beside it)."""
    base, token, _ = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(60_000)
    workspace = path.replace("/", "-").replace(".", "-")
    page.goto(f"{base}/lab/workspaces/{workspace}/tree/{path}?token={token}&reset")
    page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for()
    page.wait_for_function("() => document.querySelector('.jp-Notebook-ExecutionIndicator')?.getAttribute('data-status') === 'idle'",
                           timeout=90_000)
    return page


def shut_down_kernels(lab) -> None:
    """Closing a page leaves its kernel running: stop every kernel, so that the next test starts
    with the memory and the cores to itself."""
    base, token, _ = lab
    with urllib.request.urlopen(f"{base}/api/kernels?token={token}", timeout=10) as response:
        kernels = json.load(response)
    for kernel in kernels:
        request = urllib.request.Request(f"{base}/api/kernels/{kernel['id']}?token={token}", method="DELETE")
        urllib.request.urlopen(request, timeout=30).close()


def menu(page, top: str, item: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=top).first.click()
    page.locator(".lm-Menu-itemLabel", has_text=item).first.click()


def run_all(page) -> None:
    menu(page, "Run", "Run All Cells")
    # every code cell numbered, none waiting ([*]) and the kernel idle
    page.wait_for_function(
        """() => {
            const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')].map(p => p.textContent);
            const idle = document.querySelector('.jp-Notebook-ExecutionIndicator')?.getAttribute('data-status') === 'idle';
            return idle && prompts.length > 0 && prompts.every(t => /\\[\\d+\\]/.test(t));
        }""", timeout=RUN_TIMEOUT * 1000)


def save(page, path: Path) -> dict:
    before = path.stat().st_mtime_ns
    page.keyboard.press("Control+s")
    deadline = time.monotonic() + 30
    while path.stat().st_mtime_ns == before:
        assert time.monotonic() < deadline, f"{path.name} was not saved"
        time.sleep(0.2)
    time.sleep(0.5)
    return json.loads(path.read_text())


def outputs(notebook: dict):
    for index, cell in enumerate(notebook["cells"]):
        for output in cell.get("outputs", []):
            yield index, cell, output


def validate(page) -> str:
    """Click nbgrader's Validate button; returns 'success' or 'failed' and leaves the dialog shot."""
    page.locator(".jp-NotebookPanel-toolbar .jp-ToolbarButtonComponent", has_text="Validate").first.click()
    result = page.locator(".validation-success, .validation-failed, .jp-Dialog-body:has-text('There was an error')").first
    result.wait_for(timeout=RUN_TIMEOUT * 1000)
    classes = result.get_attribute("class") or ""
    return "success" if "validation-success" in classes else "failed" if "validation-failed" in classes else "error"


def audio_players(page, selector: str, timeout: float = 60) -> list[dict]:
    """Every audio player under `selector`, once each has loaded its metadata (or the time is up):
    [{'ready': readyState, 'duration': seconds, 'error': MediaError code or None}]."""
    script = (f"() => [...document.querySelectorAll({selector!r})].map(a => "
              "({ready: a.readyState, duration: a.duration, error: a.error ? a.error.code : null}))")
    deadline = time.monotonic() + timeout
    while True:
        players = page.evaluate(script)
        if all(p["ready"] >= 1 or p["error"] for p in players) or time.monotonic() > deadline:
            return players
        time.sleep(0.5)


def expect_validation(page, name: str, expected: str) -> None:
    outcome = validate(page)
    shot(page, f"{name}-validate")
    assert outcome == expected, f"{name}: Validate says {outcome}, expected {expected}"


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def check_widgets(page, assignment: str) -> None:
    """Each widget answers an input as a student would give it."""
    if assignment == "clip":
        images = page.locator(".widget-output img")
        before = images.count()
        page.locator("button.jupyter-button", has_text="Search").click()
        page.wait_for_function(f"() => document.querySelectorAll('.widget-output img').length > {before}")
        page.locator("button.jupyter-button", has_text="Zero-shot").click()
        page.locator(".widget-output", has_text="template(s): seen pairs").first.wait_for()
    elif assignment == "llava":
        page.locator("button.jupyter-button", has_text="Ask").click()
        page.locator(".widget-output", has_text="answer:").first.wait_for()
    elif assignment == "wavenet":
        plot = page.locator(".widget-interact .widget-output img").first
        plot.wait_for()
        before = plot.get_attribute("src")
        handle = page.locator(".widget-interact .widget-slider .noUi-handle").first
        handle.focus()
        page.keyboard.press("ArrowRight")
        page.wait_for_function("before => { const img = document.querySelector('.widget-interact .widget-output img');"
                               " return img && img.complete && img.getAttribute('src') !== before; }", arg=before)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_runs_renders_and_validates_in_jupyterlab(browser, lab, assignment):
    _, _, folder = lab
    page = open_notebook(browser, lab, f"solution/{assignment}/{assignment}.ipynb")
    try:
        shot(page, f"{assignment}-solution-opened")
        run_all(page)
        notebook = save(page, folder / "solution" / assignment / f"{assignment}.ipynb")
        errors = [f"cell {i}: {o.get('ename')}: {o.get('evalue', '')[:200]}" for i, _, o in outputs(notebook)
                  if o["output_type"] == "error"]
        assert not errors, f"{assignment}: cells show errors in JupyterLab: {errors}"

        plots = sum("image/png" in o.get("data", {}) for _, _, o in outputs(notebook))
        drawn = page.evaluate("() => [...document.querySelectorAll('.jp-OutputArea-output img')]"
                              ".filter(img => img.complete && img.naturalWidth > 0).length")
        assert plots > 0 and drawn >= plots, f"{assignment}: {plots} plots in the notebook, {drawn} drawn by the browser"

        players = sum("<audio" in "".join(o.get("data", {}).get("text/html", "")) for _, _, o in outputs(notebook))
        if players:
            found = audio_players(page, ".jp-OutputArea-output audio")
            assert len(found) >= players and all(p["duration"] > 0 for p in found), \
                f"{assignment}: {players} audio outputs; players in the page (readyState, duration, error): {found}"
        expected_players = {"clip": 0, "llava": 0, "wavenet": 1, "valle": 1}[assignment]
        assert (players > 0) == bool(expected_players), f"{assignment}: {players} audio players"

        widgets = sum("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for _, _, o in outputs(notebook))
        rendered = page.locator(".jp-OutputArea-output .jupyter-widgets").count()
        assert rendered >= widgets, f"{assignment}: {widgets} widgets in the notebook, {rendered} rendered"
        check_widgets(page, assignment)
        widget = page.locator(".jp-OutputArea-output .jupyter-widgets").first
        if widgets:
            widget.scroll_into_view_if_needed()
        shot(page, f"{assignment}-solution-run")

        expect_validation(page, f"{assignment}-solution", "success")
    finally:
        page.close()
        shut_down_kernels(lab)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_blank_notebook_opens_and_fails_validation(browser, lab, assignment):
    page = open_notebook(browser, lab, f"{assignment}/{assignment}.ipynb")
    try:
        shot(page, f"{assignment}-student-opened")
        expect_validation(page, f"{assignment}-student", "failed")
    finally:
        page.close()
        shut_down_kernels(lab)


@pytest.fixture(scope="module")
def graded_feedback(tmp_path_factory):
    """A VALL-E submission with a realistic mistake (the residual not subtracted in RVQ), graded
    through the real grader, and its HTML feedback written."""
    import nbformat

    from grader import samples
    from grader.autograde import autograde
    from grader.collect import collect
    from grader.exports import feedback
    from grader.release import make_course
    folder = tmp_path_factory.mktemp("feedback")
    course = make_course(folder / "course", ["valle"])
    release = samples.read(course.release("valle"))
    reference = samples.solved(release, samples.read(course.source("valle")))
    mutants = {m.name: m for m in samples.catalogue("valle")[0]}
    submission = samples.mutate(reference, mutants["residual-not-subtracted"])
    # the student's own cell reads the codec-quality demo, so the grader runs it: its plot and audio players
    # reach the feedback (cells no grade reads are left out, and VALL-E's other plots are among them)
    submission.cells.append(nbformat.v4.new_code_cell("print(f'my codec error with 8 codebooks: {codec_errors[-1]:.2f} dB')"))
    samples.write(submission, folder / "inbox" / "student1.ipynb")
    collect(course, "valle", folder / "inbox")
    record = autograde(course, "valle", ["student1"], workers=1, progress=False)[0]
    feedback(course, "valle")
    return course, record


def test_feedback_reads_well_in_the_browser(browser, graded_feedback):
    """The HTML feedback a student gets: every failing check's message visible, no hidden test and no
    decoy anywhere in it, its plots drawn and its audio playable, and no sideways scrolling."""
    import html as html_lib

    from grader import samples
    from grader.integrity import GRADER_PREFIX
    course, record = graded_feedback
    assert record.status == "graded", (record.status, record.reason)
    failed = {gid: cell for gid, cell in record.cells.items() if cell["score"] < cell["max_score"]}
    assert failed, "the mistake must lose points"
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.goto(course.feedback("valle", record.student).as_uri())
        page.wait_for_load_state("load")
        shot(page, "valle-feedback-top")
        for gid, cell in failed.items():
            line = next(l.strip() for l in cell["message"].splitlines() if l.strip())[:60]
            message = page.get_by_text(line).first
            assert message.count() and message.is_visible(), f"{gid}: the message {line!r} is not visible in the feedback"
        message.scroll_into_view_if_needed()
        shot(page, "valle-feedback-failure")

        page_html = html_lib.unescape(page.content())
        source = samples.read(course.source("valle"))
        hidden = [line.strip() for cell in source.cells if "### BEGIN HIDDEN TESTS" in cell.source
                  for line in cell.source.split("### BEGIN HIDDEN TESTS")[1].split("### END HIDDEN TESTS")[0].split("\n")
                  if len(line.strip()) > 25]
        leaked = [line for line in hidden if line in page_html]
        assert hidden and not leaked, f"hidden test lines in the feedback: {leaked[:3]}"
        assert GRADER_PREFIX not in page_html and "_Stand_" not in page_html, "a decoy or grader cell in the feedback"

        drawn = page.evaluate("() => [...document.images].filter(img => img.complete && img.naturalWidth > 0).length")
        assert drawn >= 1, "no plot drawn in the feedback"
        found = audio_players(page, "audio")
        assert found and all(p["duration"] > 0 for p in found), \
            f"audio players in the feedback (readyState, duration, error): {found}"
        width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= 1.05 * width[1], f"the feedback scrolls sideways: {width[0]} px in a {width[1]} px window"
    finally:
        page.close()
