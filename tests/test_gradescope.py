"""The Gradescope bundle, run locally in a simulated /autograder layout."""
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

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    out = build_bundle("clip", tmp_path_factory.mktemp("bundle") / "clip.zip")
    with zipfile.ZipFile(out) as z:
        names = z.namelist()
    assert {"setup.sh", "run_autograder", "kit/solutions/clip/clip.ipynb", "kit/src/mmkit/checks.py",
            "kit/data/MANIFEST.json", "kit/grader/autograde.py"} <= set(names)
    state = [n for n in names if n.startswith("kit/grader/work/")]      # no grading state but the golden reports
    assert len(state) == 1 and state[0].startswith("kit/grader/work/golden-cache/clip-"), state
    return out


def run_bundle(bundle: Path, folder: Path, notebook) -> dict:
    """Unpack the bundle as /autograder/source, put the notebook in submission/, run it."""
    root = folder / "autograder"
    with zipfile.ZipFile(bundle) as z:
        z.extractall(root / "source")
    (root / "submission").mkdir(parents=True)
    (root / "submission" / "clip.ipynb").write_text(nbformat.writes(notebook))
    env = dict(os.environ, AUTOGRADER_ROOT=str(root), MMGRADE_PYTHON=sys.executable)
    subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env, check=True, capture_output=True)
    return json.loads((root / "results" / "results.json").read_text())


def test_reference_blank_and_hostile(bundle, tmp_path):
    course = Course(ROOT)
    release = samples.read(course.release("clip"))
    reference = samples.solved(release, samples.read(course.source("clip")))

    results = run_bundle(bundle, tmp_path / "reference", reference)
    assert results["score"] == 27 and len(results["tests"]) == 12
    for test in results["tests"]:
        assert test["score"] == test["max_score"] and test["visibility"] == "visible"

    results = run_bundle(bundle, tmp_path / "blank", release)
    assert results["score"] == 0 and all(t["score"] == 0 for t in results["tests"])
    assert any("NotImplementedError" in t["output"] for t in results["tests"])

    hostile = samples.read(course.release("clip"))
    hostile.cells.insert(2, nbformat.v4.new_code_cell(
        "get_ipython().input_transformers_cleanup.append(lambda lines: ['pass\\n'] if any('check_' in l for l in lines) else lines)"))
    results = run_bundle(bundle, tmp_path / "hostile", hostile)
    assert results["score"] == 0 and "flagged" in results["output"]
