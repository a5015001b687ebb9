"""Autograde a class: every submission checked, rebuilt, run in a sandbox, judged by the parent.

For each submission, in this order:
1. pre-check (grader.precheck): the answers are carried into a fresh copy of the release, or the
   file is rejected with a reason; the cells no grade depends on are marked to be left out
   (grader.pruning); decoys are appended (grader.integrity);
2. a workspace of its own (the rebuilt notebook, a scratch folder, a kernelspec that starts the
   kernel in a bubblewrap sandbox: grader.sandbox) is run by a child process (grader.worker,
   forked from a server that imported nbgrader once) under a wall-clock limit;
3. the parent reads the executed notebook and decides every test cell itself: the kernel's side
   (no error, nothing on stderr) and the grader's (the checks' reports judged against the golden
   reports of the reference solution: grader.verdict) must both pass; it checks the decoys, and
   writes the one record of the student, from which the gradebook, CSV, feedback and Gradescope's
   results are written. Only the parent writes the real gradebook, backed up before every run.

Nothing that goes wrong with one submission (a damaged file, a crash of the worker, an error of
the grader itself on that file) stops the batch: it becomes that student's failed record.
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
import zlib
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook
from sqlalchemy.exc import SAWarning
from tqdm.auto import tqdm

from mmkit.checks import REPORT_ENV

from . import integrity, precheck, pruning, sandbox, verdict
from .config import CELL_TIMEOUT, ROOT, WORK
from .preprocessors import KERNEL_DIED, KERNEL_STUCK
from .course import Course, Record
from .notebooks import grade_id

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


def prepare(course: Course, assignment: str, student: str, release, source, numba: Path | None = None,
            golden_run: bool = False, notebook=None) -> Job:
    """Pre-check and workspace, in the parent, before any student code runs. Never raises: whatever
    goes wrong with this one submission becomes its job's `rejected` reason. golden_run: `notebook`
    is the reference solution, run to record the golden reports (no decoys, expected values kept)."""
    job = Job(student)
    try:
        if notebook is None:
            submitted = course.submitted(assignment, student)
            notes_file = submitted.parent / "collect-notes.txt"
            job.notes = notes_file.read_text(errors="replace").splitlines() if notes_file.exists() else []
            try:
                data = submitted.read_bytes()
            except OSError as error:
                job.rejected = f"the submitted file could not be read ({error.strerror or error}): submit it again"
                return job
            try:
                checked = precheck.rebuild(data, release)
            except precheck.Rejected as error:
                job.rejected = str(error)
                return job
            job.notes += checked.notes
            notebook = checked.notebook
        job.suspicious = integrity.scan(notebook)
        prepare_tests(notebook, source, golden_run)
        pruning.leave_out(notebook, release)        # after the hidden tests: they too read names
        if not golden_run:
            integrity.add_decoys(notebook, source)
        job.workspace = _workspace(course, assignment, student, notebook, job, numba)
    except Exception as error:          # a defect of the grader or of this file: this student only
        job.rejected = (f"the grader could not prepare this submission ({type(error).__name__}: "
                        f"{str(error)[:200]}); nothing was graded: look at the file by hand")
    return job


def prepare_tests(notebook, source, golden_run: bool = False) -> None:
    """Each test cell as the source notebook has it, hidden tests included (the release has only
    the visible part; the source is the instructor's, outside any sandbox), with the expected
    values of its hidden checks kept out of the kernel (verdict.keep_expected_values; not in the
    golden run, which records them), and a fixed seed just before it: under the grader a test
    cell draws the same random numbers however the cells before it ran (a failed earlier test, an
    extra cell of the student's), so its values can be compared with the reference run's."""
    tests = {grade_id(c): c.source for c in source.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade")}
    cells = []
    for cell in notebook.cells:
        gid = grade_id(cell)
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade") and gid in tests:
            cell.source = tests[gid] if golden_run else verdict.keep_expected_values(tests[gid])
            seed = nbformat.v4.new_code_cell(f"import mmkit as _mmgrade, mmkit.checks as _mmgrade_checks\n"
                                             f"_mmgrade.seed_everything({zlib.crc32(gid.encode())})\n"
                                             f"{verdict.KEPT} = lambda value: _mmgrade_checks.GOLDEN")
            seed["id"] = f"{integrity.GRADER_PREFIX}seed-{gid}"
            cells.append(seed)
        cells.append(cell)
    notebook.cells = cells


def _workspace(course: Course, assignment: str, student: str, notebook, job: Job, numba: Path | None) -> Path:
    """A folder of this submission's own: the rebuilt notebook, the kernel's scratch folder (its
    working directory, the only place it may write) and runtime folder, and the sandbox's kernelspec."""
    from .worker import SCRATCH, SUBMITTED
    workspace = Path(tempfile.mkdtemp(prefix=f"mmgrade-{assignment}-{student}-"))
    nbformat.write(notebook, str(workspace / SUBMITTED))
    scratch = workspace / SCRATCH
    scratch.mkdir()
    runtime = workspace / "runtime"
    runtime.mkdir()
    argv, job.sandboxed = sandbox.kernel_command(scratch, runtime, numba=numba)
    job.numba = numba if job.sandboxed else None
    sandbox.install_kernelspec(workspace / "jupyter", argv)
    return workspace


class WorkerServer:
    """The fork server of grader.worker (`--serve`), which imported nbgrader once, and the exit
    codes of the workers it forked. One per batch; a `with` block closes it. The server starts
    with the first worker: a batch with nothing to run (golden reports already recorded, every
    submission rejected) does not wait seconds for nbgrader's import."""

    def __init__(self):
        self.process: subprocess.Popen | None = None
        self.started: queue.Queue[int | None] = queue.Queue()
        self.exits: dict[int, int] = {}
        self.ended = False                           # the server is gone: no more exit codes
        self.lock, self.changed = threading.Lock(), threading.Condition()

    def _serve(self) -> subprocess.Popen:
        if self.process is None:
            self.process = subprocess.Popen([sys.executable, "-m", "grader.worker", "--serve"],
                                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            threading.Thread(target=self._read, daemon=True).start()
        return self.process

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
                process = self._serve()
                process.stdin.write(json.dumps([argv, env]) + "\n")
                process.stdin.flush()
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
        with self.lock:
            if self.process is not None:
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
               **{REPORT_ENV: "1"},                  # the checks send their reports (grader.verdict)
               OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads))
    start = time.monotonic()
    pid = server.start([str(job.workspace), str(cell_timeout)], env)
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
    text = job.output
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
    """nbgrader's rule without partial credit, the kernel's side of a verdict: a test cell can earn
    its points only if it ran, raised no error and wrote nothing to stderr. Printed values never
    count as points here."""
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


def kernel_verdict(cell) -> str:
    """'' if the kernel's side of a test cell passed (it ran, no error, no stderr), else why not:
    all a student sees in JupyterLab."""
    if cell is None:
        return "this test cell was not run"
    if not cell_passed(cell):
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if errors:
            return f"{errors[0].get('ename')}: {errors[0].get('evalue')}"[:4000]
        return "the cell did not run, or wrote to stderr" if cell.get("execution_count") is None \
            else "the cell wrote to stderr (a warning or an error message)"
    return ""


def cell_verdict(cell, golden: list) -> str:
    """'' if a test cell (or its decoy copy) passed, else why not: the kernel's side (no error, no
    stderr) and the grader's (its checks' reports judged against the golden ones) must agree."""
    why = kernel_verdict(cell)
    if why:
        return why
    why = verdict.judge_cell(verdict.reports(cell), golden)
    return f"CheckFailed: {why}" if why else ""


def score(executed, release, golden: dict, judge=cell_verdict) -> dict:
    """{grade_id: (points earned, '' or why not)} for every test cell of the release; judge(cell,
    golden reports of the cell) says why a cell failed ('' if it passed)."""
    points = {grade_id(c): float(c.metadata["nbgrader"]["points"]) for c in release.cells
              if c.get("metadata", {}).get("nbgrader", {}).get("grade")}
    ran = {grade_id(c): c for c in executed.cells if grade_id(c) in points}
    result = {}
    for gid, p in points.items():
        why = judge(ran.get(gid), golden.get(gid, []))
        result[gid] = (0.0 if why else p, why)
    return result


def decoys_that_passed(executed, golden: dict) -> list[str]:
    """Test cells whose decoy copy (answers replaced by stand-ins) passed: checks that could not fail."""
    return [cell.id[len(integrity.DECOY_PREFIX):] for cell in integrity.decoy_cells(executed)
            if not cell_verdict(cell, golden.get(cell.id[len(integrity.DECOY_PREFIX):], []))]


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


def executed_notebook(job: Job):
    """The notebook the worker ran, or None if the run did not end normally."""
    from .worker import EXECUTED
    if not job.workspace or job.returncode != 0 or job.timed_out:
        return None
    path = job.workspace / EXECUTED
    return nbformat.read(str(path), as_version=4) if path.exists() else None


def mark_grader_failures(executed, scored: dict) -> None:
    """Where the grader failed a cell that the kernel passed, say so in the cell (for feedback)."""
    for cell in executed.cells:
        why = scored.get(grade_id(cell), (0, ""))[1]
        verdict.without_reports(cell)
        if why and cell_passed(cell):
            why = why.removeprefix("CheckFailed: ") + "\n(judged by the grader from the values your code produced)"
            cell.outputs.append(nbformat.v4.new_output("error", ename="CheckFailed", evalue=why, traceback=[why]))


def finish(course: Course, assignment: str, job: Job, release, golden: dict, timeout: float,
           fingerprint: str = "") -> Record:
    """Turn one worker run into grades, an autograded copy and a record (in the parent)."""
    target = course.autograded(assignment, job.student)
    if target.exists():
        shutil.rmtree(target)
    executed = None if job.rejected else executed_notebook(job)

    earned, status, reasons, messages = None, "graded", [], {}
    if job.rejected:
        status, reasons = "failed", [job.rejected]
    elif executed is None:
        status, reasons = "failed", [failure_reason(job, timeout)]
    else:
        scored = score(executed, release, golden)
        earned = {gid: points for gid, (points, _) in scored.items()}
        messages = {gid: why for gid, (_, why) in scored.items()}
        passed_decoys = decoys_that_passed(executed, golden)
        executed = integrity.without_grader_cells(executed)
        pruning.restore(executed)
        early = stopped_early(executed)
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
        mark_grader_failures(executed, scored)
        target.mkdir(parents=True)
        nbformat.write(executed, str(target / f"{assignment}.ipynb"))
    record = write_grades(course, assignment, job.student, earned, review=status != "graded")
    record.status, record.reason = status, "; ".join(reasons)
    for gid, cell in record.cells.items():
        cell["auto_score"] = (earned or {}).get(gid, 0.0)
        cell["message"] = messages.get(gid, "")
    record.release = fingerprint
    record.notes = job.notes + ([] if job.sandboxed or job.rejected else ["graded without a sandbox"])
    record.sandboxed = job.sandboxed if job.workspace and not job.rejected else None
    record.seconds = round(job.seconds, 1)
    record.save(course.record(assignment, job.student))
    return record


def finish_safely(course: Course, assignment: str, job: Job, release, golden: dict, timeout: float,
                  fingerprint: str = "") -> Record:
    """finish(), and whatever goes wrong there becomes this student's failed record, not the batch's end."""
    try:
        return finish(course, assignment, job, release, golden, timeout, fingerprint)
    except Exception as error:
        record = Record(job.student, assignment, status="failed", seconds=round(job.seconds, 1),
                        reason=f"the grader could not score this submission ({type(error).__name__}: "
                               f"{str(error)[:200]}): grade it by hand or run the grader again",
                        notes=job.notes, sandboxed=job.sandboxed if job.workspace else None, release=fingerprint)
        with contextlib.suppress(Exception):
            record.save(course.record(assignment, job.student))
        return record
    finally:
        if job.workspace:
            shutil.rmtree(job.workspace, ignore_errors=True)


def run_safely(job: Job, *args) -> Job:
    """run_worker(), and an error of the grader itself fails this job only."""
    try:
        return run_worker(job, *args)
    except Exception as error:
        job.rejected = f"the grader could not run this submission ({type(error).__name__}: {str(error)[:200]})"
        return job


def shared_golden(assignment: str, fingerprint: str) -> Path:
    """Where courses made from this kit (Gradescope, the tests, the benchmark) find golden reports
    already recorded: they depend only on the release, the source and the environment."""
    return ROOT / WORK / "golden-cache" / f"{assignment}-{fingerprint[:20]}.json"


def golden_reports(course: Course, assignment: str, release, source, numba: Path | None = None,
                   server: WorkerServer | None = None) -> dict:
    """{grade_id: [reports]} of the reference solution's run, recorded once per release in
    grader/work/golden/ (beside the gradebook, never in a sandbox)."""
    from .notebooks import solved
    path = course.work / "golden" / f"{assignment}.json"
    fingerprint = verdict.release_fingerprint(release, source)
    shared = shared_golden(assignment, fingerprint)
    for found in (path, shared):
        cells = verdict.load_golden(found, fingerprint)
        if cells is not None:
            _keep_golden(path, shared, fingerprint, cells)
            return cells
    job = prepare(course, assignment, "golden-reference", release, source, numba, golden_run=True,
                  notebook=solved(release, source))
    if job.rejected:
        raise RuntimeError(f"golden reports of {assignment}: {job.rejected}")
    try:
        with contextlib.ExitStack() as stack:
            server = server or stack.enter_context(WorkerServer())
            run_worker(job, assignment, NOTEBOOK_TIMEOUT, server, KERNEL_THREADS)
        executed = executed_notebook(job)
        if executed is None:
            raise RuntimeError(f"the reference solution of {assignment} did not run: {failure_reason(job, NOTEBOOK_TIMEOUT)}")
        cells = {}
        for cell in executed.cells:
            gid = grade_id(cell)
            if cell.get("metadata", {}).get("nbgrader", {}).get("grade"):
                if not cell_passed(cell):
                    raise RuntimeError(f"the reference solution of {assignment} fails its own test {gid}: "
                                       f"{cell_verdict(cell, [])}")
                cells[gid] = verdict.reports(cell)
                why = verdict.judge_cell(cells[gid], cells[gid])
                if why:
                    raise RuntimeError(f"the reference solution's reports of {assignment}/{gid} do not pass "
                                       f"against themselves: {why}")
    finally:
        shutil.rmtree(job.workspace, ignore_errors=True)
    _keep_golden(path, shared, fingerprint, cells)
    return cells


def _keep_golden(path: Path, shared: Path, fingerprint: str, cells: dict) -> None:
    if verdict.load_golden(path, fingerprint) is None:
        verdict.save_golden(path, fingerprint, cells)
    if verdict.load_golden(shared, fingerprint) is None:       # missing, or of an older grader
        with contextlib.suppress(OSError):       # the kit's folder may be read-only: the course's copy is enough
            verdict.save_golden(shared, fingerprint, cells)


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
    from .notebooks import read
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
        golden = dict(zip(classes, pool.map(lambda a: golden_reports(course, a, *notebooks[a], numba, server), classes)))
        fingerprints = {a: verdict.release_fingerprint(*notebooks[a]) for a in classes}
        futures = {}
        for assignment, students in classes.items():
            for student in students:
                job = prepare(course, assignment, student, *notebooks[assignment], numba)
                futures[pool.submit(run_safely, job, assignment, timeout, server, KERNEL_THREADS, cell_timeout)] = assignment
        for future in tqdm(as_completed(futures), total=len(futures), desc=f"grading {', '.join(classes)}",
                           disable=not progress, unit="notebook"):
            assignment = futures[future]
            records[assignment].append(finish_safely(course, assignment, future.result(), notebooks[assignment][0],
                                                     golden[assignment], timeout, fingerprints[assignment]))
    return {a: sorted(r, key=lambda r: r.student) for a, r in records.items()}
