"""The Gradescope bundle, run locally in a simulated /autograder layout (on the quiz: tests/quiz.py)."""
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from grader import samples
from grader.course import Course
from grader.gradescope import build_bundle
from tests.quiz import ASSIGNMENT, FULL

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, quiz_kit):
    out = build_bundle(ASSIGNMENT, tmp_path_factory.mktemp("bundle") / f"{ASSIGNMENT}.zip", kit=quiz_kit)
    with zipfile.ZipFile(out) as z:
        names = z.namelist()
    assert {"setup.sh", "run_autograder", f"kit/solutions/{ASSIGNMENT}/{ASSIGNMENT}.ipynb", "kit/src/mmkit/checks.py",
            "kit/data/MANIFEST.json", "kit/grader/autograde.py"} <= set(names)
    state = [n for n in names if n.startswith("kit/grader/work/")]      # no grading state but the golden reports
    assert len(state) == 1 and state[0].startswith(f"kit/grader/work/golden-cache/{ASSIGNMENT}-"), state
    return out


def run_bundles(bundle: Path, runs: dict[Path, object]) -> list[dict]:
    """Unpack the bundle as /autograder/source in each folder, put its notebook in submission/, and
    run them all at once, as Gradescope runs each submission in its own container."""
    processes = []
    for folder, notebook in runs.items():
        root = folder / "autograder"
        with zipfile.ZipFile(bundle) as z:
            z.extractall(root / "source")
        (root / "submission").mkdir(parents=True)
        (root / "submission" / f"{ASSIGNMENT}.ipynb").write_text(nbformat.writes(notebook))
        env = dict(os.environ, AUTOGRADER_ROOT=str(root), MMGRADE_PYTHON=sys.executable)
        processes.append((root, subprocess.Popen(["bash", str(root / "source" / "run_autograder")], env=env,
                                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)))
    results = []
    for root, process in processes:
        output, _ = process.communicate(timeout=600)
        assert process.returncode == 0, output[-3000:]
        results.append(json.loads((root / "results" / "results.json").read_text()))
    return results


def test_reference_blank_and_hostile(bundle, tmp_path, quiz_kit):
    course = Course(quiz_kit)
    release = samples.read(course.release(ASSIGNMENT))
    reference = samples.solved(release, samples.read(course.source(ASSIGNMENT)))
    hostile = samples.read(course.release(ASSIGNMENT))
    hostile.cells.insert(2, nbformat.v4.new_code_cell(
        "get_ipython().input_transformers_cleanup.append(lambda lines: ['pass\\n'] if any('check_' in l for l in lines) else lines)"))
    full, blank, flagged = run_bundles(bundle, {tmp_path / "reference": reference, tmp_path / "blank": release,
                                                tmp_path / "hostile": hostile})

    assert full["score"] == FULL and len(full["tests"]) == 4
    for test in full["tests"]:
        assert test["score"] == test["max_score"] and test["visibility"] == "visible"

    assert blank["score"] == 0 and all(t["score"] == 0 for t in blank["tests"])
    assert any("NotImplementedError" in t["output"] for t in blank["tests"])

    assert flagged["score"] == 0 and "flagged" in flagged["output"]
