"""A class with hostile and damaged submissions, graded in one parallel batch.

For every case: the batch finishes, that student's status and score are what they should be,
and nothing else changes: not the other students' grades, not a manual grade already in the
gradebook, not a file outside the grader's own work folders.
"""
from __future__ import annotations

import copy
import hashlib
import json
import pickle
import signal
import subprocess
import sys
import sqlite3
import time
from pathlib import Path

import nbformat
import pytest

from grader import samples, sandbox
from grader.autograde import WorkerServer, autograde, failure_reason, prepare, run_worker
from grader.collect import collect
from grader.exports import export, feedback
from grader.release import make_course
from tests.quiz import ASSIGNMENT, FULL, MUTANTS

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    sandbox.bubblewrap() is None, reason="bubblewrap is not available here, so isolation cannot be "
                                         "tested (Debian: apt-get install bubblewrap)")]


def with_cell(notebook, code: str, after: str | None = "setup"):
    """The notebook with a student-added code cell after the cell `after` (None: at the end)."""
    notebook = copy.deepcopy(notebook)
    cell = nbformat.v4.new_code_cell(code)
    if after is None:
        notebook.cells.append(cell)
    else:
        index = next(i for i, c in enumerate(notebook.cells) if samples.grade_id(c) == after)
        notebook.cells.insert(index + 1, cell)
    return notebook


def answers_returning(notebook, code: str):
    """Every answer cell replaced by `code` (fake answers for cheats that need no implementation)."""
    notebook = copy.deepcopy(notebook)
    for cell in samples.answer_cells(notebook).values():
        cell.source = code
    return notebook


# Two realistic mistakes in two answer cells: they lose test_contrastive_loss (3) and test_precision_recall (2).
WRONG = ["loss-one-direction", "pr-swapped"]
WRONG_LOSES = 5.0


def cases(reference, blank, paths: dict, full: float = FULL, wrong=None, wrong_loses: float = WRONG_LOSES) -> dict:
    """name -> (notebook or raw text, expected status, expected score, words expected in the reason).
    The quiz's by default; another assignment gives its full score and a wrong-answers notebook that
    loses `wrong_loses` points."""
    canary = paths["canary"]
    fake_answers = ("class Anything:\n"
                    "    def __call__(self, *a, **k):\n        return Anything()\n"
                    "    def __getattr__(self, name):\n        return Anything()\n"
                    "    def __getitem__(self, key):\n        return Anything()\n\n\n"
                    + "\n".join(f"{n} = Anything()" for n in
                                 ["normalize", "similarity", "contrastive_loss", "precision_recall"]))
    patched = answers_returning(blank, fake_answers)
    patched = with_cell(patched, (
        "import numpy, torch, mmkit.checks\n"
        "noop = lambda *a, **k: None\n"
        "for module in [numpy.testing, torch.testing, mmkit.checks]:\n"
        "    for name in dir(module):\n"
        "        if name.startswith(('assert', 'check')):\n"
        "            setattr(module, name, noop)\n"
        "check_close = check_equal = check_shape = check_true = check_type = noop"))
    transformer = with_cell(blank, (
        "def _skip(lines):\n"
        "    return ['pass\\n'] if any('check_' in line for line in lines) else lines\n"
        "get_ipython().input_transformers_cleanup.append(_skip)"))
    always_equal = copy.deepcopy(reference)
    samples.answer_cells(always_equal)["precision_recall"].source = (
        "class Same(float):\n    def __eq__(self, other):\n        return True\n\n\n"
        "def precision_recall(flagged, corrupted):\n    return Same(0.5), Same(0.5)")
    renamed = nbformat.writes(reference)
    wrong = wrong_answers(reference) if wrong is None else wrong
    return {
        "wrong-answers": (wrong, "graded", full - wrong_loses, ""),
        "isclose-always-true": (with_cell(wrong, (
            "import numpy\n"
            "numpy.isclose = lambda a, b, **k: numpy.ones(numpy.broadcast(numpy.asarray(a), numpy.asarray(b)).shape, bool)")),
            "flagged", full - wrong_loses, "replaces functions"),
        "swallowed-failures": (with_cell(wrong, (
            "import torch\n\n\n"
            "def lenient(check):\n"
            "    def wrapped(yours, *args, **kwargs):\n"
            "        try:\n"
            "            return check(yours, *args, **kwargs)\n"
            "        except AssertionError:\n"
            "            if isinstance(yours, (torch.Tensor, float, int)):     # the decoys' stand-ins still fail\n"
            "                return None\n"
            "            raise\n"
            "    return wrapped\n\n\n"
            "check_close, check_equal, check_shape, check_type = map(lenient, [check_close, check_equal, check_shape, check_type])")),
            "flagged", full - wrong_loses, "replaces functions"),
        "forged-expected": (with_cell(wrong, (
            "import mmkit.checks\n"
            "real_close, real_equal = mmkit.checks.check_close, mmkit.checks.check_equal\n\n\n"
            "def check_close(yours, expected, *args, **kwargs):      # pass the expected value off as mine\n"
            "    return real_close(expected, expected, *args, **kwargs)\n\n\n"
            "def check_equal(yours, expected, *args, **kwargs):\n"
            "    return real_equal(expected, expected, *args, **kwargs)")),
            "flagged", 0.0, "redefines the checks"),      # every cell's hidden checks then fail
        "null-metadata": (damaged_json(reference, lambda c: c["metadata"].__setitem__("nbgrader", None)), "graded", full, ""),
        "string-metadata": (damaged_json(reference, lambda c: c.__setitem__("metadata", "x")), "graded", full, ""),
        "list-grade-id": (damaged_json(reference, lambda c: c["metadata"]["nbgrader"].__setitem__("grade_id", ["x"])),
                          "graded", full, ""),
        "no-metadata-no-ids": (damaged_json(reference, lambda c: (c.pop("metadata"), c.pop("id")), every=True),
                               "graded", full, ""),
        "not-this-assignment": (json.dumps({"cells": [{"cell_type": "code", "source": "print(1)", "metadata": {}}]}),
                                "failed", 0.0, "none of the answer cells"),
        "reference": (reference, "graded", full, ""),
        "infinite-loop": (with_cell(reference, "while True:\n    pass"), "graded", full, ""),
        "loop-ignoring-sigint": (with_cell(reference, "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                                           "while True:\n    pass"), "flagged", 0.0, "did not stop when interrupted"),
        "os-exit": (with_cell(reference, "import os\nos._exit(0)"), "flagged", 0.0, "kernel died"),
        "kill-kernel": (with_cell(reference, "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"),
                        "flagged", 0.0, "kernel died"),
        "memory-bomb": (with_cell(reference, "hog = bytearray(64 * 2**30)"), "graded", full, ""),
        "huge-output": (with_cell(reference, "print('x' * 100_000_000)"), "graded", full, ""),
        "input-transformer": (transformer, "flagged", 0.0, "IPython hooks"),
        "patched-checks": (patched, "flagged", 0.0, "replaces functions"),
        "swallowed-exceptions": (with_cell(blank, "get_ipython().set_custom_exc((Exception,), lambda *a, **k: None)"),
                                 "flagged", 0.0, "IPython hooks"),
        "eq-always-true": (always_equal, "flagged", full - 2, "comparison"),     # the quiz's test_precision_recall: 2
        "read-hidden-tests": (with_cell(blank, (
            f"import json\nsource = json.load(open({str(paths['solution'])!r}))\n"
            "for cell in source['cells']:\n    if cell['cell_type'] == 'code':\n"
            "        exec(''.join(cell['source']).replace('### BEGIN SOLUTION', '').replace('### END SOLUTION', ''))"),
            after=None), "flagged", 0.0, "course files"),
        "write-gradebook": (with_cell(blank, (
            f"import sqlite3\ndb = sqlite3.connect({str(paths['gradebook'])!r})\n"
            "db.execute('update grade set manual_score = max_score')\ndb.commit()")), "flagged", 0.0, "course files"),
        "read-other-student": (with_cell(blank, (
            f"import json\nother = json.load(open({str(paths['other'])!r}))\n"
            "for cell in other['cells']:\n    if cell['cell_type'] == 'code':\n        exec(''.join(cell['source']))"),
            after=None), "flagged", 0.0, "course files"),
        "write-outside": (with_cell(reference, f"open({str(canary)!r}, 'w').write('escaped')"), "graded", full, ""),
        "deleted-test-cells": (drop_tests(reference), "graded", full, ""),
        "duplicated-test-cells": (duplicate_tests(reference), "graded", full, ""),
        "schema-version": (set_schema(reference, 99), "graded", full, ""),
        "invalid-json": (renamed[: len(renamed) // 3], "failed", 0.0, "not valid JSON"),
        "renamed-file": (renamed, "graded", full, ""),
    }


def wrong_answers(reference):
    mutants = {m.name: m for m in MUTANTS}
    for name in WRONG:
        reference = samples.mutate(reference, mutants[name])
    return reference


def damaged_json(notebook, damage, every: bool = False) -> str:
    """The notebook's file with `damage` done to its answer cell contrastive_loss (or to every cell)."""
    data = json.loads(nbformat.writes(notebook))
    for cell in data["cells"]:
        if every or cell.get("id") == "contrastive_loss":
            damage(cell)
    return json.dumps(data)


def grade_ids_of_tests(notebook) -> list[str]:
    return [samples.grade_id(c) for c in notebook.cells if (samples.grade_id(c) or "").startswith("test_")]


def drop_tests(notebook):
    """Without its last two test cells (the quiz's test_contrastive_loss and test_precision_recall)."""
    notebook = copy.deepcopy(notebook)
    dropped = grade_ids_of_tests(notebook)[-2:]
    notebook.cells = [c for c in notebook.cells if samples.grade_id(c) not in dropped]
    return notebook


def duplicate_tests(notebook):
    """With a second copy of its first test cell (the quiz's test_normalize) at the end."""
    notebook = copy.deepcopy(notebook)
    first = grade_ids_of_tests(notebook)[0]
    notebook.cells += [copy.deepcopy(c) for c in notebook.cells if samples.grade_id(c) == first]
    return notebook


def set_schema(notebook, version):
    notebook = copy.deepcopy(notebook)
    for cell in notebook.cells:
        if "nbgrader" in cell.metadata:
            cell.metadata.nbgrader["schema_version"] = version
    return notebook


def tree_digest(folder: Path, skip: tuple[str, ...]) -> dict:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()
            and not str(p.relative_to(folder)).startswith(skip)}


@pytest.fixture(scope="module")
def hostile_class(tmp_path_factory, quiz_kit):
    course = make_course(tmp_path_factory.mktemp("hostile") / "root", [ASSIGNMENT], kit=quiz_kit)
    release = samples.read(course.release(ASSIGNMENT))
    reference = samples.solved(release, samples.read(course.source(ASSIGNMENT)))
    inbox = tmp_path_factory.mktemp("inbox")

    # A bystander graded first, then given a manual grade: neither may change.
    samples.write(reference, inbox / "bystander.ipynb")
    collect(course, ASSIGNMENT, inbox)
    autograde(course, ASSIGNMENT, ["bystander"], workers=1, progress=False, cell_timeout=30)
    db = course.work / "gradebook.db"
    with sqlite3.connect(db) as conn:
        conn.execute("update grade set manual_score = 1.0 where id = (select min(id) from grade)")
    (inbox / "bystander.ipynb").unlink()

    paths = {"canary": tmp_path_factory.mktemp("outside") / "canary.txt",
             "solution": course.source(ASSIGNMENT), "gradebook": db,
             "other": course.submitted(ASSIGNMENT, "bystander")}
    expected = cases(reference, release, paths)
    for name, (notebook, *_) in expected.items():
        if name == "renamed-file":
            (inbox / name).mkdir()
            (inbox / name / "Copy of quiz (1).ipynb").write_text(notebook)
        elif isinstance(notebook, str):
            (inbox / f"{name}.ipynb").write_text(notebook)
        else:
            samples.write(notebook, inbox / f"{name}.ipynb")

    skip = ("grader/work/autograded", "grader/work/records", "grader/work/backups", "grader/work/gradebook.db",
            "grader/work/submitted", "grader/work/feedback")
    before = tree_digest(course.root, skip)
    kit_before = tree_digest(Path(__file__).resolve().parents[1] / "solutions", ())
    bystander_before = rows_of(db, "bystander")
    collect(course, ASSIGNMENT, inbox)
    records = {r.student: r for r in autograde(course, ASSIGNMENT, sorted(expected), workers=2, progress=False,
                                               cell_timeout=10, timeout=240)}
    return {"course": course, "records": records, "expected": expected, "paths": paths, "before": before,
            "after": tree_digest(course.root, skip), "bystander": (bystander_before, rows_of(db, "bystander")),
            "kit": (kit_before, tree_digest(Path(__file__).resolve().parents[1] / "solutions", ()))}


def rows_of(db: Path, student: str) -> list:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "select grade.id, grade.auto_score, grade.manual_score from grade "
            "join submitted_notebook on grade.notebook_id = submitted_notebook.id "
            "join submitted_assignment on submitted_notebook.assignment_id = submitted_assignment.id "
            "where submitted_assignment.student_id = ? order by grade.id", (student,)).fetchall()


def test_every_case_has_the_right_status_and_score(hostile_class):
    problems = []
    for name, (_, status, score, words) in hostile_class["expected"].items():
        r = hostile_class["records"].get(name)
        if r is None:
            problems.append(f"{name}: no record")
            continue
        if r.status != status or abs(r.score - score) > 1e-9 or words not in r.reason:
            problems.append(f"{name}: {r.status} {r.score:g} ({r.reason}); expected {status} {score:g} ({words})")
    assert not problems, "\n".join(problems)


def test_nothing_else_changed(hostile_class):
    assert hostile_class["after"] == hostile_class["before"], "files of the course changed"
    assert hostile_class["kit"][0] == hostile_class["kit"][1], "the kit's solutions changed"
    assert hostile_class["bystander"][0] == hostile_class["bystander"][1], "another student's grades changed"
    assert hostile_class["bystander"][0][0][2] == 1.0, "the manual grade is gone"
    assert not hostile_class["paths"]["canary"].exists(), "a submission wrote outside its folder"


def test_repairs_are_noted(hostile_class):
    records = hostile_class["records"]
    assert any("restored" in n for n in records["deleted-test-cells"].notes)
    assert any("duplicated" in n for n in records["duplicated-test-cells"].notes)
    assert any("schema" in n for n in records["schema-version"].notes)
    assert any("Copy of quiz (1).ipynb" in n for n in records["renamed-file"].notes)


def test_outputs_stay_small_and_feedback_has_no_hidden_tests(hostile_class):
    course = hostile_class["course"]
    graded = course.autograded(ASSIGNMENT, "huge-output") / f"{ASSIGNMENT}.ipynb"
    assert graded.stat().st_size < 2_000_000
    feedback(course, ASSIGNMENT)
    html = course.feedback(ASSIGNMENT, "huge-output").read_text()
    assert len(html) < 3_000_000 and "output trimmed" in html
    rows = export(course, ASSIGNMENT).read_text()
    assert "flagged" in rows and "failed" in rows


def test_every_student_has_a_json_record(hostile_class):
    folder = hostile_class["course"].work / "records" / ASSIGNMENT
    for name in hostile_class["expected"]:
        record = json.loads((folder / f"{name}.json").read_text())
        assert record["status"] in ("graded", "failed", "flagged")


def sleeper_job(tmp_path, quiz_kit):
    """A prepared job (course of its own) whose notebook, solved, then loops forever."""
    course = make_course(tmp_path / "root", [ASSIGNMENT], kit=quiz_kit)
    release, source = samples.read(course.release(ASSIGNMENT)), samples.read(course.source(ASSIGNMENT))
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    samples.write(with_cell(samples.solved(release, source), "import time\nwhile True:\n    time.sleep(0.1)"),
                  inbox / "sleeper.ipynb")
    collect(course, ASSIGNMENT, inbox)
    return prepare(course, ASSIGNMENT, "sleeper", release, source)


def running(job) -> list[str]:
    """The processes whose command line names the job's workspace: its worker and kernel."""
    return [p.name for p in Path("/proc").glob("[0-9]*") if str(job.workspace).encode() in _cmdline(p)]


def test_notebook_time_limit_kills_the_worker_and_its_kernel(tmp_path, quiz_kit):
    """A notebook that runs past the whole-notebook limit (each cell within its own): the worker's
    session is killed, sandboxed kernel included, and the reason names the limit."""
    job = sleeper_job(tmp_path, quiz_kit)
    start = time.monotonic()
    with WorkerServer() as server:
        job = run_worker(job, ASSIGNMENT, timeout=10, server=server, cell_timeout=60)
    assert job.timed_out and job.returncode == -signal.SIGKILL
    assert time.monotonic() - start < 25
    assert "longer than 10 s" in failure_reason(job, 10)
    time.sleep(1)
    assert not running(job), f"processes of the timed-out submission still run: {running(job)}"


def test_a_grader_that_dies_takes_its_workers_with_it(tmp_path, quiz_kit):
    """The grading process is killed while a worker runs a notebook that never ends: the worker
    server kills that worker and its sandboxed kernel instead of leaving them to run forever (only
    the grader that died would have killed them at the time limit)."""
    job = sleeper_job(tmp_path, quiz_kit)
    (tmp_path / "job.pickle").write_bytes(pickle.dumps(job))
    grader = subprocess.Popen([sys.executable, "-c", (
        "import os, pickle, sys, threading, time\n"
        "from grader.autograde import WorkerServer, run_worker\n"
        "job = pickle.loads(open(sys.argv[1], 'rb').read())\n"
        "threading.Thread(target=run_worker, args=(job, sys.argv[2], 600, WorkerServer()), daemon=True).start()\n"
        "time.sleep(4)\n"
        "os.kill(os.getpid(), 9)\n"), str(tmp_path / "job.pickle"), ASSIGNMENT], cwd=Path(__file__).parents[1])
    assert grader.wait(60) == -signal.SIGKILL
    deadline = time.monotonic() + 15
    while running(job) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not running(job), f"processes of the dead grader's worker still run: {running(job)}"


def _cmdline(process: Path) -> bytes:
    try:
        return (process / "cmdline").read_bytes()
    except OSError:
        return b""
