"""The kit's grading command line: release, collect, autograde, feedback, export, demo.

    python -m grader release [clip ...]          solutions/ -> notebooks/ (and the gradebook)
    python -m grader collect clip FOLDER         FOLDER/<student>.ipynb or FOLDER/<student>/clip.ipynb
    python -m grader autograde clip [-j 2]       every submission, in parallel, in its own process
    python -m grader feedback clip               HTML feedback without hidden tests
    python -m grader export clip                 grader/work/grades-clip.csv: score, status, reason
    python -m grader demo [clip ...]             all of the above on sample submissions
"""
from __future__ import annotations

import argparse
import csv
import shutil
import sys
import time
from pathlib import Path

from .course import Course, Record, valid_student_id


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


def collect(course: Course, assignment: str, folder: Path) -> list[str]:
    """Copy submissions into grader/work/submitted/<student>/<assignment>/.

    A file FOLDER/<student>.ipynb or FOLDER/<student>/<assignment>.ipynb is <student>'s notebook.
    """
    if not folder.is_dir():
        raise SystemExit(f"collect: {folder} is not a folder of submissions")
    found = {}
    for path in sorted(folder.glob("*.ipynb")):
        found[path.stem] = path
    for path in sorted(folder.glob(f"*/{assignment}.ipynb")):
        found[path.parent.name] = path
    students = []
    for student, path in sorted(found.items()):
        if not valid_student_id(student):
            print(f"collect: skipped {path}: '{student}' is not a usable student id "
                  "(letters, digits, '.', '_' and '-')", file=sys.stderr)
            continue
        target = course.submitted(assignment, student)
        if target.parent.exists():
            shutil.rmtree(target.parent)
        target.parent.mkdir(parents=True)
        shutil.copyfile(path, target)
        students.append(student)
    print(f"collected {len(students)} submission(s) of {assignment} from {folder}")
    return students


def feedback(course: Course, assignment: str) -> None:
    result = api(course).generate_feedback(assignment, force=True)
    if not result["success"]:
        raise SystemExit(f"feedback for {assignment} failed:\n{result.get('error') or result.get('log')}")


def records(course: Course, assignment: str) -> list[Record]:
    folder = course.work / "records" / assignment
    return [Record.load(p) for p in sorted(folder.glob("*.json"))]


def export(course: Course, assignment: str, out: Path | None = None) -> Path:
    """CSV of every student's score (manual grades included), status and reason."""
    from nbgrader.api import Gradebook, MissingEntry
    out = out or course.work / f"grades-{assignment}.csv"
    rows = []
    with Gradebook(course.db_url) as gb:
        for record in records(course, assignment):
            try:
                submission = gb.find_submission(assignment, record.student)
                record.score, record.max_score = float(submission.score), float(submission.max_score)
            except MissingEntry:
                pass
            rows.append([record.student, assignment, f"{record.score:g}", f"{record.max_score:g}",
                         record.status, record.reason])
    with open(out, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "assignment", "score", "max_score", "status", "reason"])
        writer.writerows(rows)
    return out


def print_table(rows: list[Record]) -> None:
    width = max([len("student")] + [len(r.student) for r in rows])
    print(f"\n{'student':<{width}}  {'score':>11}  status")
    for r in rows:
        score = f"{r.score:g} / {r.max_score:g}"
        print(f"{r.student:<{width}}  {score:>11}  {r.status}{': ' + r.reason if r.reason else ''}")


def demo(course: Course, assignments: list[str], workers: int | None) -> None:
    from .autograde import autograde
    from .samples import make_samples
    start = time.monotonic()
    release(course, assignments)
    for assignment in assignments:
        folder = course.work / "samples" / assignment
        make_samples(course, assignment, folder)
        collect(course, assignment, folder)
        rows = autograde(course, assignment, collect_students(course, assignment, folder), workers=workers)
        feedback(course, assignment)
        csv_path = export(course, assignment)
        print_table(rows)
        print(f"\nfeedback: {(course.work / 'feedback').relative_to(course.root)}/<student>/{assignment}/{assignment}.html")
        print(f"grades:   {csv_path.relative_to(course.root)}")
    print(f"demo finished in {time.monotonic() - start:.0f} s")


def collect_students(course: Course, assignment: str, folder: Path) -> list[str]:
    return sorted(p.stem for p in folder.glob("*.ipynb") if valid_student_id(p.stem))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("release", help="generate notebooks/ from solutions/")
    p.add_argument("assignments", nargs="*")
    p = sub.add_parser("collect", help="copy a folder of submissions in")
    p.add_argument("assignment")
    p.add_argument("folder", type=Path)
    p = sub.add_parser("autograde", help="grade submissions in parallel")
    p.add_argument("assignment")
    p.add_argument("--students", nargs="*")
    p.add_argument("-j", "--workers", type=int, default=None, help="processes at a time (default: cores)")
    p.add_argument("--timeout", type=float, default=None, help="seconds for a whole notebook")
    p = sub.add_parser("feedback", help="HTML feedback for graded submissions")
    p.add_argument("assignment")
    p = sub.add_parser("export", help="CSV of scores and statuses")
    p.add_argument("assignment")
    p.add_argument("--out", type=Path)
    p = sub.add_parser("samples", help="write the sample submissions of an assignment")
    p.add_argument("assignment")
    p.add_argument("folder", type=Path)
    p = sub.add_parser("demo", help="release, grade sample submissions, feedback, export")
    p.add_argument("assignments", nargs="*")
    p.add_argument("-j", "--workers", type=int, default=None)
    args = parser.parse_args(argv)

    course = Course()
    if args.command == "release":
        release(course, args.assignments or course.assignments())
    elif args.command == "collect":
        collect(course, args.assignment, args.folder)
    elif args.command == "autograde":
        from .autograde import NOTEBOOK_TIMEOUT, autograde
        rows = autograde(course, args.assignment, args.students or None, workers=args.workers,
                         timeout=args.timeout or NOTEBOOK_TIMEOUT)
        print_table(rows)
    elif args.command == "feedback":
        feedback(course, args.assignment)
    elif args.command == "export":
        print(export(course, args.assignment, args.out))
    elif args.command == "samples":
        from .samples import make_samples
        make_samples(course, args.assignment, args.folder)
    elif args.command == "demo":
        demo(course, args.assignments or course.assignments(), args.workers)
    return 0
