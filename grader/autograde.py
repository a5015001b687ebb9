"""Autograde a class: every submission checked, rebuilt, run in a sandbox, scored by the parent.

For each submission, in this order:
1. pre-check (grader.precheck): the answers are carried into a fresh copy of the release, or the
   file is rejected with a reason; decoys are appended (grader.integrity);
2. a workspace of its own (a copy of the gradebook, the rebuilt notebook, a kernelspec that starts
   the kernel in a bubblewrap sandbox: grader.sandbox) is graded by a child process
   (grader.worker, forked from a server that imported nbgrader once) running nbgrader's
   autograde, under a wall-clock limit;
3. the parent reads the executed notebook and scores each test cell itself (full points if it
   raised no error and wrote nothing to stderr; nothing a cell prints can claim points), checks
   the decoys, and writes grades, the autograded notebook and a record. Only the parent writes
   the real gradebook, which is backed up before every run.
"""
from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook
from sqlalchemy.exc import SAWarning
from tqdm.auto import tqdm

from . import integrity, precheck, sandbox
from .config import CELL_TIMEOUT
from .preprocessors import KERNEL_DIED, KERNEL_STUCK
from .course import Course, Record
from .samples import grade_id

NOTEBOOK_TIMEOUT = 600      # seconds for a whole notebook, on top of nbgrader's per-cell timeout
KEEP_BACKUPS = 20
# One thread per kernel, whatever the pool size: floating-point sums depend on the number of
# threads, and a grade must not depend on how many notebooks were graded at once.
KERNEL_THREADS = 1


@dataclass
class Job:
    """One submission on its way through the grader."""
    student: str
    workspace: Path | None = None
    notes: list[str] = field(default_factory=list)      # repairs made by the pre-check
    suspicious: list[str] = field(default_factory=list)  # what the scan found
    rejected: str = ""
    numba: Path | None = None                            # the warm numba cache its kernel gets a copy of
    sandboxed: bool = False
    returncode: int | None = None
    timed_out: bool = False
    seconds: float = 0.0
    output: str = ""


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


def scratch_folder(workspace: Path, assignment: str, student: str) -> Path:
    return workspace / "grader" / "work" / "autograded" / student / assignment


def prepare(course: Course, assignment: str, student: str, release, source, numba: Path | None = None) -> Job:
    """Pre-check and workspace, in the parent, before any student code runs."""
    job = Job(student)
    submitted = course.submitted(assignment, student)
    notes_file = submitted.parent / "collect-notes.txt"
    collect_notes = notes_file.read_text().splitlines() if notes_file.exists() else []
    text = submitted.read_bytes().decode("utf-8", "replace")
    job.notes = collect_notes
    try:
        checked = precheck.rebuild(text, release)
    except precheck.Rejected as error:
        job.rejected = str(error)
        return job
    job.notes = collect_notes + checked.notes
    job.suspicious = integrity.scan(checked.notebook)
    integrity.add_decoys(checked.notebook, source)

    workspace = Path(tempfile.mkdtemp(prefix=f"mmgrade-{assignment}-{student}-"))
    (workspace / "solutions" / assignment).mkdir(parents=True)
    work = workspace / "grader" / "work"
    work.mkdir(parents=True)
    shutil.copy2(course.work / "gradebook.db", work / "gradebook.db")
    submitted = work / "submitted" / student / assignment / f"{assignment}.ipynb"
    submitted.parent.mkdir(parents=True)
    nbformat.write(checked.notebook, str(submitted))
    scratch = scratch_folder(workspace, assignment, student)
    scratch.mkdir(parents=True)
    runtime = workspace / "runtime"
    runtime.mkdir()
    argv, job.sandboxed = sandbox.kernel_command(scratch, runtime, numba=numba)
    job.numba = numba if job.sandboxed else None
    sandbox.install_kernelspec(workspace / "jupyter", argv)
    job.workspace = workspace
    return job


class WorkerServer:
    """The fork server of grader.worker (`--serve`), which imported nbgrader once, and the exit
    codes of the workers it forked. One per batch; a `with` block closes it."""

    def __init__(self):
        self.process = subprocess.Popen([sys.executable, "-m", "grader.worker", "--serve"],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.started: queue.Queue[int | None] = queue.Queue()
        self.exits: dict[int, int] = {}
        self.ended = False                           # the server is gone: no more exit codes
        self.lock, self.changed = threading.Lock(), threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            word, *numbers = line.split()
            if word == "started":
                self.started.put(int(numbers[0]))
            elif word == "exited":
                with self.changed:
                    self.exits[int(numbers[0])] = int(numbers[1])
                    self.changed.notify_all()
        with self.changed:
            self.ended = True
            self.changed.notify_all()
        self.started.put(None)

    def start(self, argv: list[str], env: dict[str, str]) -> int | None:
        """Fork a worker for argv, with env; its pid (None if the server is gone)."""
        with self.lock:                              # one request at a time: "started" lines come in order
            try:
                self.process.stdin.write(json.dumps([argv, env]) + "\n")
                self.process.stdin.flush()
            except (BrokenPipeError, ValueError):
                return None
            return self.started.get()

    def wait(self, pid: int, timeout: float | None = None) -> int | None:
        """The worker's exit code (negative: the signal that ended it); None if it still runs."""
        with self.changed:
            self.changed.wait_for(lambda: pid in self.exits or self.ended, timeout)
            return self.exits.pop(pid, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.process.stdin.close()
        self.process.wait()


def run_worker(job: Job, assignment: str, timeout: float, server: WorkerServer, threads: int = 1,
               cell_timeout: int = CELL_TIMEOUT) -> Job:
    from .worker import OUTPUT
    if job.workspace is None:
        return job
    sandbox.give_numba_cache(job.numba, job.workspace / "runtime")
    # Threads are set, not left to torch: its threads spin while they wait, and two notebooks with
    # two threads each on two cores ran 40 times slower than one after another.
    env = dict(os.environ, PYTHONUNBUFFERED="1", JUPYTER_PATH=str(job.workspace / "jupyter"),
               JUPYTER_RUNTIME_DIR=str(job.workspace / "runtime"), TMPDIR=str(job.workspace / "runtime"),
               OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads))
    start = time.monotonic()
    pid = server.start([str(job.workspace), assignment, job.student, str(cell_timeout)], env)
    if pid is not None:
        job.returncode = server.wait(pid, timeout)
        if job.returncode is None and not server.ended:
            job.timed_out = True
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)       # the worker, its kernel and their children
            job.returncode = server.wait(pid)
    job.seconds = time.monotonic() - start
    output = job.workspace / OUTPUT
    job.output = output.read_text(errors="replace") if output.exists() else "the grader's worker server stopped"
    return job


def failure_reason(job: Job, timeout: float) -> str:
    """One line a student and an instructor can act on, from what the worker printed."""
    if job.timed_out:
        return f"the notebook ran longer than {timeout:.0f} s in all (an endless loop?)"
    result = job.workspace / "worker-result.json" if job.workspace else None
    text = result.read_text() if result and result.exists() else job.output
    known = [
        ("NotJSONError", "the notebook file is not valid JSON (damaged or not a notebook)"),
        ("DeadKernelError", "the kernel died while running the notebook (os._exit, a crash, or out of memory)"),
        ("CellTimeoutError", "a cell ran longer than the per-cell time limit (an endless loop?)"),
    ]
    for marker, reason in known:
        if marker in text:
            return reason
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return ("grading failed: " + lines[-1][:300]) if lines else f"grading failed (exit code {job.returncode})"


def cell_passed(cell) -> bool:
    """nbgrader's rule without partial credit: a test cell earns its points if it ran, raised no
    error and wrote nothing to stderr. Printed values never count as points here."""
    outputs = cell.get("outputs", [])
    return cell.get("execution_count") is not None and not any(
        o.get("output_type") == "error" or (o.get("output_type") == "stream" and o.get("name") == "stderr")
        for o in outputs)


def stopped_early(executed) -> str:
    """Why the run ended before the last cell (a dead kernel, an uninterruptible loop), or ''."""
    for cell in executed.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error" and output.get("ename") in (KERNEL_DIED, KERNEL_STUCK):
                where = grade_id(cell) or f"cell {executed.cells.index(cell) + 1}"
                return f"{output.get('evalue')} ({where}); later cells were not run"
    return ""


def score(executed, release) -> dict:
    """{grade_id: points earned} for every test cell of the release."""
    points = {grade_id(c): float(c.metadata["nbgrader"]["points"]) for c in release.cells
              if c.get("metadata", {}).get("nbgrader", {}).get("grade")}
    ran = {grade_id(c): c for c in executed.cells if grade_id(c) in points}
    return {gid: (p if gid in ran and cell_passed(ran[gid]) else 0.0) for gid, p in points.items()}


def write_grades(course: Course, assignment: str, student: str, earned: dict | None, review: bool) -> Record:
    """Write auto scores into the real gradebook. Manual scores are never touched (nbgrader's
    rule: a rerun keeps them); a failed or flagged run is marked as needing a look."""
    record = Record(student, assignment)
    warnings.filterwarnings("ignore", category=SAWarning)   # nbgrader's own, harmless
    with Gradebook(course.db_url) as gb:
        gb.update_or_create_student(student)
        submission = gb.update_or_create_submission(assignment, student)
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                grade.auto_score = (earned or {}).get(grade.name, 0.0)
                grade.needs_manual_grade = grade.manual_score is not None or review
        gb.db.commit()
        gb.db.expire_all()          # scores are computed by the database: read them after the commit
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                record.cells[grade.name] = {"score": float(grade.score), "max_score": float(grade.max_score)}
        record.score = float(submission.score)
        record.max_score = float(submission.max_score)
    return record


def finish(course: Course, assignment: str, job: Job, release, timeout: float) -> Record:
    """Turn one worker run into grades, an autograded copy and a record (in the parent)."""
    target = course.autograded(assignment, job.student)
    if target.exists():
        shutil.rmtree(target)
    executed_path = scratch_folder(job.workspace, assignment, job.student) / f"{assignment}.ipynb" \
        if job.workspace else None
    executed = None
    if job.workspace and job.returncode == 0 and not job.timed_out and executed_path.exists():
        executed = nbformat.read(str(executed_path), as_version=4)

    earned, status, reasons = None, "graded", []
    if job.rejected:
        status, reasons = "failed", [job.rejected]
    elif executed is None:
        status, reasons = "failed", [failure_reason(job, timeout)]
    else:
        earned = score(executed, release)
        passed_decoys = integrity.decoys_that_passed(executed)
        early = stopped_early(integrity.without_decoys(nbformat.from_dict(executed)))
        if passed_decoys:
            earned = {gid: 0.0 for gid in earned}
            status = "flagged"
            reasons.append("checks could not fail in this notebook (decoy copies of "
                           f"{', '.join(sorted(passed_decoys)[:3])} passed with the answers removed): no points")
        elif early:
            status, reasons = "failed", [early]
        if job.suspicious:
            status = "flagged"
            reasons += job.suspicious
        target.mkdir(parents=True)
        nbformat.write(integrity.without_decoys(executed), str(target / f"{assignment}.ipynb"))
    record = write_grades(course, assignment, job.student, earned, review=status != "graded")
    record.status, record.reason = status, "; ".join(reasons)
    record.notes = job.notes + ([] if job.sandboxed or job.rejected else ["graded without a sandbox"])
    record.seconds = round(job.seconds, 1)
    record.save(course.record(assignment, job.student))
    if job.workspace:
        shutil.rmtree(job.workspace, ignore_errors=True)
    return record


def autograde(course: Course, assignment: str, students: list[str] | None = None,
              workers: int | None = None, timeout: float = NOTEBOOK_TIMEOUT,
              progress: bool = True, cell_timeout: int = CELL_TIMEOUT) -> list[Record]:
    """Grade every submitted student (or the ones named) with `workers` processes at a time."""
    return autograde_batch(course, {assignment: students}, workers, timeout, progress, cell_timeout)[assignment]


def autograde_batch(course: Course, classes: dict[str, list[str] | None], workers: int | None = None,
                    timeout: float = NOTEBOOK_TIMEOUT, progress: bool = True,
                    cell_timeout: int = CELL_TIMEOUT) -> dict[str, list[Record]]:
    """Grade several assignments ({assignment: students, or None for all submitted}) in one pool, so
    that no worker waits for the last notebook of one assignment before the next one starts."""
    from .samples import read
    classes = {a: students if students is not None else course.students(a) for a, students in classes.items()}
    workers = max(1, workers or os.cpu_count() or 1)
    if sandbox.bubblewrap() is None:
        print("WARNING: bubblewrap (bwrap) is not available here: grading WITHOUT a sandbox. Student "
              "code can read and write the course files. Install it (Debian: apt-get install bubblewrap).",
              file=sys.stderr)
    notebooks = {a: (read(course.release(a)), read(course.source(a))) for a in classes}
    backup_gradebook(course)
    numba = sandbox.numba_cache() if sandbox.bubblewrap() else None
    records = {a: [] for a in classes}
    with WorkerServer() as server, ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {}
        for assignment, students in classes.items():
            for student in students:
                job = prepare(course, assignment, student, *notebooks[assignment], numba)
                futures[pool.submit(run_worker, job, assignment, timeout, server, KERNEL_THREADS, cell_timeout)] = assignment
        for future in tqdm(as_completed(futures), total=len(futures), desc=f"grading {', '.join(classes)}",
                           disable=not progress, unit="notebook"):
            assignment = futures[future]
            records[assignment].append(finish(course, assignment, future.result(), notebooks[assignment][0], timeout))
    return {a: sorted(r, key=lambda r: r.student) for a, r in records.items()}
