"""Autograde a class: every submission in its own workspace and process, many at a time.

nbgrader grades one student after another in one process and one gradebook, so one broken
notebook can stop the class. Here each submission is copied into a workspace of its own (a copy
of the gradebook and its notebook), graded there by a child process (grader.worker) under a
wall-clock limit, and only the parent process writes the grades into the real gradebook.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from sqlalchemy.exc import SAWarning
from tqdm.auto import tqdm

from .course import Course, Record

NOTEBOOK_TIMEOUT = 600      # seconds for a whole notebook, on top of nbgrader's per-cell timeout
KEEP_BACKUPS = 20


@dataclass
class WorkerRun:
    student: str
    workspace: Path
    returncode: int | None
    timed_out: bool
    seconds: float
    output: str


def backup_gradebook(course: Course) -> Path | None:
    """Copy gradebook.db to work/backups/ before anything writes to it; keep the newest 20."""
    db = course.work / "gradebook.db"
    if not db.exists():
        return None
    folder = course.work / "backups"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"gradebook-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.db"
    shutil.copy2(db, target)
    for old in sorted(folder.glob("gradebook-*.db"))[:-KEEP_BACKUPS]:
        old.unlink()
    return target


def make_workspace(course: Course, assignment: str, student: str) -> Path:
    """A course of one: the gradebook copy and this student's submitted folder."""
    workspace = Path(tempfile.mkdtemp(prefix=f"mmgrade-{assignment}-{student}-"))
    (workspace / "solutions" / assignment).mkdir(parents=True)
    work = workspace / "grader" / "work"
    work.mkdir(parents=True)
    shutil.copy2(course.work / "gradebook.db", work / "gradebook.db")
    submitted = course.submitted(assignment, student).parent
    shutil.copytree(submitted, work / "submitted" / student / assignment)
    return workspace


def run_worker(course: Course, assignment: str, student: str, timeout: float, threads: int = 1) -> WorkerRun:
    workspace = make_workspace(course, assignment, student)
    # Each notebook gets its share of the cores: torch's threads spin while they wait, and two
    # notebooks with two threads each on two cores ran 40 times slower than one after another.
    env = dict(os.environ, MMKIT_DATA=str(course.root / "data"), PYTHONUNBUFFERED="1",
               OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads),
               OPENBLAS_NUM_THREADS=str(threads))
    command = [sys.executable, "-m", "grader.worker", str(workspace), assignment, student]
    start = time.monotonic()
    process = subprocess.Popen(command, cwd=workspace, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, start_new_session=True)
    timed_out = False
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(process.pid, signal.SIGKILL)     # the worker, its kernel and their children
        output, _ = process.communicate()
    return WorkerRun(student, workspace, process.returncode, timed_out,
                     time.monotonic() - start, output.decode("utf-8", "replace"))


def failure_reason(run: WorkerRun, timeout: float) -> str:
    """One line a student and an instructor can act on, from what the worker printed."""
    if run.timed_out:
        return f"the notebook ran longer than {timeout:.0f} s in all (an endless loop?)"
    result = run.workspace / "worker-result.json"
    text = result.read_text() if result.exists() else run.output
    known = [
        ("NotJSONError", "the notebook file is not valid JSON (damaged or not a notebook)"),
        ("NBFormatError", "the notebook file does not follow the notebook format"),
        ("DeadKernelError", "the kernel died while running the notebook (os._exit, a crash, or out of memory)"),
        ("CellTimeoutError", "a cell ran longer than the per-cell time limit (an endless loop?)"),
        ("Skipping unknown notebook", "no notebook with the assignment's name was found in the submission"),
    ]
    for marker, reason in known:
        if marker in text:
            return reason
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return ("grading failed: " + lines[-1][:300]) if lines else f"grading failed (exit code {run.returncode})"


def read_grades(db_url: str, assignment: str, student: str) -> dict:
    """{notebook: {grade_id: (auto_score, max_score)}} and the solution cells' auto comments."""
    grades, comments = {}, {}
    with Gradebook(db_url) as gb:
        submission = gb.find_submission(assignment, student)
        for notebook in submission.notebooks:
            grades[notebook.name] = {g.name: (g.auto_score, g.max_score) for g in notebook.grades}
            comments[notebook.name] = {c.name: c.auto_comment for c in notebook.comments}
        timestamp = submission.timestamp
    return {"grades": grades, "comments": comments, "timestamp": timestamp}


def write_grades(course: Course, assignment: str, student: str, graded: dict | None) -> Record:
    """Write auto scores into the real gradebook; a failed run scores 0 and needs a look.
    Manual scores are never touched (nbgrader's rule: a rerun keeps them)."""
    record = Record(student, assignment)
    warnings.filterwarnings("ignore", category=SAWarning)   # nbgrader's own, harmless
    with Gradebook(course.db_url) as gb:
        gb.update_or_create_student(student)
        timestamp = graded["timestamp"] if graded else None
        submission = gb.update_or_create_submission(assignment, student, timestamp=timestamp)
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                auto = graded["grades"].get(notebook.name, {}).get(grade.name, (None,))[0] if graded else 0.0
                grade.auto_score = auto
                grade.needs_manual_grade = grade.manual_score is not None or auto is None or not graded
            for comment in notebook.comments:
                comment.auto_comment = graded["comments"].get(notebook.name, {}).get(comment.name) if graded else None
        gb.db.commit()
        gb.db.expire_all()          # scores are computed by the database: read them after the commit
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                record.cells[grade.name] = {"score": float(grade.score), "max_score": float(grade.max_score)}
        record.score = float(submission.score)
        record.max_score = float(submission.max_score)
    return record


def finish(course: Course, assignment: str, run: WorkerRun, timeout: float) -> Record:
    """Turn one worker run into grades, an autograded copy and a record (in the parent)."""
    target = course.autograded(assignment, run.student)
    graded = None
    if run.returncode == 0 and not run.timed_out:
        try:
            graded = read_grades(f"sqlite:///{run.workspace / 'grader/work/gradebook.db'}", assignment, run.student)
        except MissingEntry:
            graded = None
    if target.exists():
        shutil.rmtree(target)
    if graded:
        shutil.copytree(run.workspace / "grader/work/autograded" / run.student / assignment, target)
    record = write_grades(course, assignment, run.student, graded)
    record.status = "graded" if graded else "failed"
    record.reason = "" if graded else failure_reason(run, timeout)
    record.seconds = round(run.seconds, 1)
    record.save(course.record(assignment, run.student))
    shutil.rmtree(run.workspace, ignore_errors=True)
    return record


def autograde(course: Course, assignment: str, students: list[str] | None = None,
              workers: int | None = None, timeout: float = NOTEBOOK_TIMEOUT,
              progress: bool = True) -> list[Record]:
    """Grade every submitted student (or the ones named) with `workers` processes at a time."""
    students = students if students is not None else course.students(assignment)
    workers = max(1, workers or os.cpu_count() or 1)
    backup_gradebook(course)
    records = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        threads = max(1, (os.cpu_count() or 1) // workers)
        futures = [pool.submit(run_worker, course, assignment, s, timeout, threads) for s in students]
        for future in tqdm(as_completed(futures), total=len(futures), desc=f"grading {assignment}",
                           disable=not progress, unit="notebook"):
            records.append(finish(course, assignment, future.result(), timeout))
    return sorted(records, key=lambda r: r.student)
