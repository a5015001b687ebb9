"""Release an assignment: notebooks/<a>/ generated from solutions/<a>/ by nbgrader, and the golden
reports of its reference solution (what every check compared, grader.verdict) recorded beside
the gradebook."""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from .course import Course


def api(course: Course):
    from nbgrader.apps import NbGraderAPI
    from .config import course_config
    return NbGraderAPI(config=course_config(course.root))


def release(course: Course, assignments: list[str]) -> None:
    """Generate notebooks/<a>/ from solutions/<a>/ and record the assignment in the gradebook."""
    course.work.mkdir(parents=True, exist_ok=True)
    for assignment in assignments:
        if not course.source(assignment).is_file():
            raise SystemExit(f"no source notebook {course.source(assignment)}: "
                             f"assignments are {', '.join(course.assignments())}")
        released = course.release(assignment).parent
        kept = Path(tempfile.mkdtemp(prefix=f"release-{assignment}-"))
        if released.is_dir():                   # nbgrader's force removes it before it knows it can succeed
            shutil.copytree(released, kept / assignment)
        try:
            result = api(course).generate_assignment(assignment, force=True, create=True)
            if not result["success"]:
                if (kept / assignment).is_dir():
                    shutil.rmtree(released, ignore_errors=True)
                    shutil.copytree(kept / assignment, released)
                raise SystemExit(release_failure(course, assignment, result))
        finally:
            shutil.rmtree(kept, ignore_errors=True)
        print(f"released {assignment}: {course.release(assignment).relative_to(course.root)}")
    record_golden(course, assignments)


def release_failure(course: Course, assignment: str, result: dict) -> str:
    """What went wrong, and what to do, for a failed nbgrader generate_assignment."""
    log = f"{result.get('log', '')}\n{result.get('error', '')}"
    kept = f"{course.release(assignment).parent.relative_to(course.root)}/ is left as it was."
    if "Cannot add or remove cells" in log:
        return (f"release of {assignment} failed: the gradebook ({course.work.relative_to(course.root)}/gradebook.db) "
                f"already holds submissions of {assignment}, and nbgrader cannot add or remove cells of a notebook "
                f"that has submissions. {kept} Either release the change as a new assignment (a new folder in "
                f"solutions/), or export the grades first (`python -m grader export {assignment}`), then remove the "
                f"assignment and its grades from the gradebook (`nbgrader db assignment remove {assignment} --force`, "
                f"in the kit's root) and release again.")
    return f"release of {assignment} failed ({kept}):\n{log}"


def record_golden(course: Course, assignments: list[str], workers: int = 2) -> None:
    """Run each reference solution once in the sandbox (`workers` at a time) and keep what its
    checks compared: the golden reports the grader judges every submission against (grader.verdict)."""
    from concurrent.futures import ThreadPoolExecutor

    from . import sandbox
    from .autograde import WorkerServer, golden_reports
    from .notebooks import read
    numba = sandbox.numba_cache() if sandbox.bubblewrap() else None

    def record(assignment: str) -> str:
        start = time.monotonic()
        cells = golden_reports(course, assignment, read(course.release(assignment)), read(course.source(assignment)),
                               numba, server)
        return (f"golden reports of {assignment}: {sum(map(len, cells.values()))} checks in {len(cells)} test cells "
                f"({time.monotonic() - start:.0f} s)")

    with WorkerServer() as server, ThreadPoolExecutor(max_workers=workers) as pool:
        for line in pool.map(record, assignments):
            print(line)


def make_course(root: Path, assignments: list[str], kit: Path | None = None) -> Course:
    """A course of its own in `root` (solutions/ copied from the kit, data/ linked), released.
    Used for grading elsewhere (Gradescope), by the tests and by the benchmark."""
    kit = kit or Course().root
    (root / "solutions").mkdir(parents=True)
    for assignment in assignments:
        shutil.copytree(kit / "solutions" / assignment, root / "solutions" / assignment)
    os.symlink((kit / "data").resolve(), root / "data")
    course = Course(root)
    release(course, assignments)
    return course
