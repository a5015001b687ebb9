"""Gradescope export: an autograder bundle that grades one assignment with this kit's grader.

    python -m grader gradescope clip grader/work/gradescope-clip.zip   # build the bundle
    (on Gradescope) setup.sh once, then run_autograder for every submission

The bundle holds the kit itself (helper library, grader, data, the assignment's source
notebook and the golden reports of its reference solution, recorded once when the bundle is
built), so Gradescope grades exactly as `python -m grader autograde` does here: pre-check,
sandbox (Gradescope's image gets bubblewrap from setup.sh), decoys, scores per test cell.
results.json has one test per graded cell with its score, its maximum, its visibility and the
failing check's message (hidden tests never shown).
"""
from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

from .config import ROOT, WORK

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once when it builds the autograder image.
set -euo pipefail
apt-get update
apt-get install -y python3 python3-venv python3-pip bubblewrap
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install --upgrade pip
/autograder/venv/bin/pip install -e /autograder/source/kit
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission; it writes results/results.json.
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
PYTHON="${MMGRADE_PYTHON:-$ROOT/venv/bin/python}"
cd "$ROOT/source/kit"
export MMKIT_DATA="$ROOT/source/kit/data"
exec "$PYTHON" -m grader gradescope-run ASSIGNMENT --root "$ROOT"
"""

KIT_PARTS = ["pyproject.toml", "README.md", "nbgrader_config.py", "src/mmkit", "grader", "data"]


def build_bundle(assignment: str, out: Path, kit: Path = ROOT) -> Path:
    """Write the bundle zip: setup.sh and run_autograder at the top, the kit in kit/."""
    if not (kit / "solutions" / assignment / f"{assignment}.ipynb").is_file():
        raise SystemExit(f"gradescope: no assignment {assignment!r} in {kit / 'solutions'}")
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, text in [("setup.sh", SETUP_SH), ("run_autograder", RUN_AUTOGRADER.replace("ASSIGNMENT", assignment))]:
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o755 << 16            # executable
            bundle.writestr(info, text)
        golden = recorded_golden(assignment, kit)      # recorded once here, not for every submission there
        bundle.write(golden, f"kit/{WORK}/golden-cache/{golden.name}")     # where the bundled grader looks
        parts = KIT_PARTS + [f"solutions/{assignment}"]
        for part in parts:
            path = kit / part
            files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
            for file in files:
                relative = file.relative_to(kit)
                if "__pycache__" in relative.parts or relative.parts[:2] == ("grader", "work"):
                    continue
                bundle.write(file, f"kit/{relative.as_posix()}")
    return out


def recorded_golden(assignment: str, kit: Path = ROOT) -> Path:
    """The golden reports of the assignment's current release, recorded if they are not yet."""
    from . import sandbox, verdict
    from .autograde import golden_reports, shared_golden
    from .course import Course
    from .notebooks import read
    course = Course(kit)
    release, source = read(course.release(assignment)), read(course.source(assignment))
    golden_reports(course, assignment, release, source, sandbox.numba_cache() if sandbox.bubblewrap() else None)
    return shared_golden(assignment, verdict.release_fingerprint(release, source))


def run(assignment: str, root: Path) -> dict:
    """Grade /autograder/submission/*.ipynb and write /autograder/results/results.json."""
    from .autograde import autograde
    from .collect import collect
    from .release import make_course
    kit = root / "source" / "kit"
    work = root / "work"
    if work.exists():
        shutil.rmtree(work)
    course = make_course(work, [assignment], kit)
    submission = root / "submission"
    notebooks = sorted(submission.rglob("*.ipynb"))
    results_path = root / "results" / "results.json"
    results_path.parent.mkdir(parents=True, exist_ok=True)
    if not notebooks:
        results = {"score": 0.0, "output": "No notebook (.ipynb) was found in the submission.", "tests": []}
        results_path.write_text(json.dumps(results, indent=2))
        return results
    inbox = work / "inbox" / "student"
    inbox.mkdir(parents=True)
    shutil.copyfile(notebooks[0], inbox / notebooks[0].name)
    collect(course, assignment, inbox.parent)
    record = autograde(course, assignment, ["student"], progress=False)[0]
    tests = [{"name": gid, "score": cell["score"], "max_score": cell["max_score"], "visibility": "visible",
              "output": cell.get("message") or ("passed" if cell["score"] >= cell["max_score"] else "")}
             for gid, cell in record.cells.items()]
    status = record.status + (f": {record.reason}" if record.reason else "")
    output = f"Status: {status}." + (f" Notes: {'; '.join(record.notes)}." if record.notes else "")
    results = {"score": record.score, "output": output, "visibility": "visible", "tests": tests}
    results_path.write_text(json.dumps(results, indent=2))
    return results
