"""Release an assignment: notebooks/<a>/ generated from solutions/<a>/ by nbgrader, and the golden
reports of its reference solution (what every check compared, grader.verdict) recorded beside
the gradebook."""
from __future__ import annotations

import os
import shutil
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
        result = api(course).generate_assignment(assignment, force=True, create=True)
        if not result["success"]:
            raise SystemExit(f"release of {assignment} failed:\n{result.get('log', '')}\n{result.get('error', '')}")
        print(f"released {assignment}: {course.release(assignment).relative_to(course.root)}")
    record_golden(course, assignments)


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
