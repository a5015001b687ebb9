"""The kit's grading command line: release, collect, autograde, feedback, export, demo.

    python -m grader release [clip ...]          solutions/ -> notebooks/ (and the gradebook)
    python -m grader collect clip FOLDER|ZIP     FOLDER/<student>.ipynb, FOLDER/<student>/*.ipynb, or an LMS zip
    python -m grader autograde clip [-j 2]       every submission, in parallel, in its own process
    python -m grader feedback clip               HTML feedback without hidden tests
    python -m grader export clip                 grader/work/grades-clip.csv: score, status, reason
    python -m grader gradescope clip [OUT.zip]   a Gradescope autograder bundle
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


def make_course(root: Path, assignments: list[str], kit: Path | None = None) -> Course:
    """A course of its own in `root` (solutions/ copied from the kit, data/ linked), released.
    Used for grading elsewhere (Gradescope), by the tests and by the benchmark."""
    import os
    kit = kit or Course().root
    (root / "solutions").mkdir(parents=True)
    for assignment in assignments:
        shutil.copytree(kit / "solutions" / assignment, root / "solutions" / assignment)
    os.symlink((kit / "data").resolve(), root / "data")
    course = Course(root)
    release(course, assignments)
    return course


def collect(course: Course, assignment: str, source: Path, pattern: str | None = None) -> list[str]:
    """Copy submissions into grader/work/submitted/<student>/<assignment>/.

    `source` is a folder (FOLDER/<student>.ipynb or FOLDER/<student>/<any name>.ipynb) or a zip
    exported by a learning-management system, whose file names carry the student id (Canvas,
    Moodle and Blackboard names are recognised; `pattern` is a regex with a (?P<student>...)
    group for others). What was renamed or chosen is noted in the student's record.
    """
    from .lms import find_submissions
    if not source.exists():
        raise SystemExit(f"collect: {source} does not exist: give a folder of notebooks or an LMS zip")
    found, skipped = find_submissions(source, assignment, pattern)
    for path, why in skipped:
        print(f"collect: skipped {path}: {why}", file=sys.stderr)
    for student, (data, notes) in sorted(found.items()):
        target = course.submitted(assignment, student)
        if target.parent.exists():
            shutil.rmtree(target.parent)
        target.parent.mkdir(parents=True)
        target.write_bytes(data)
        if notes:
            (target.parent / "collect-notes.txt").write_text("\n".join(notes) + "\n")
    print(f"collected {len(found)} submission(s) of {assignment} from {source}")
    return sorted(found)


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
                         record.status, record.reason, "; ".join(record.notes)])
    with open(out, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "assignment", "score", "max_score", "status", "reason", "notes"])
        writer.writerows(rows)
    return out


def export_all(course: Course) -> Path:
    """grader/work/grades.csv: the rows of every assignment's export, one file for the class."""
    out = course.work / "grades.csv"
    rows = []
    for assignment in course.assignments():
        if (course.work / "records" / assignment).is_dir():
            with open(export(course, assignment)) as f:
                rows += list(csv.reader(f))[1:]
    with open(out, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "assignment", "score", "max_score", "status", "reason", "notes"])
        writer.writerows(rows)
    return out


def print_table(rows: list[Record]) -> None:
    width = max([len("student")] + [len(r.student) for r in rows])
    print(f"\n{'student':<{width}}  {'score':>11}  status")
    for r in rows:
        score = f"{r.score:g} / {r.max_score:g}"
        print(f"{r.student:<{width}}  {score:>11}  {r.status}{': ' + r.reason if r.reason else ''}")


def demo(course: Course, assignments: list[str], workers: int | None) -> None:
    from .autograde import autograde_batch
    from .samples import make_samples
    start = time.monotonic()
    release(course, assignments)
    classes = {}
    for assignment in assignments:
        folder = course.work / "samples" / assignment
        make_samples(course, assignment, folder)
        classes[assignment] = collect(course, assignment, folder)
    graded = autograde_batch(course, classes, workers=workers)      # all assignments in one pool
    for assignment, rows in graded.items():
        feedback(course, assignment)
        csv_path = export(course, assignment)
        print(f"\n{assignment}:")
        print_table(rows)
        print(f"\nfeedback: {(course.work / 'feedback').relative_to(course.root)}/<student>/{assignment}/{assignment}.html")
        print(f"grades:   {csv_path.relative_to(course.root)}")
    print(f"all assignments: {export_all(course).relative_to(course.root)}")
    print(f"demo finished in {time.monotonic() - start:.0f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("release", help="generate notebooks/ from solutions/")
    p.add_argument("assignments", nargs="*")
    p = sub.add_parser("collect", help="copy a folder of submissions, or an LMS zip, in")
    p.add_argument("assignment")
    p.add_argument("folder", type=Path)
    p.add_argument("--pattern", help="regex with a (?P<student>...) group, for other LMS file names")
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
    p = sub.add_parser("gradescope", help="build a Gradescope autograder bundle (zip)")
    p.add_argument("assignment")
    p.add_argument("out", type=Path, nargs="?")
    p = sub.add_parser("gradescope-run", help="(inside Gradescope) grade /autograder/submission")
    p.add_argument("assignment")
    p.add_argument("--root", type=Path, default=Path("/autograder"))
    p = sub.add_parser("demo", help="release, grade sample submissions, feedback, export")
    p.add_argument("assignments", nargs="*")
    p.add_argument("-j", "--workers", type=int, default=None)
    args = parser.parse_args(argv)

    course = Course()
    if args.command == "release":
        release(course, args.assignments or course.assignments())
    elif args.command == "collect":
        collect(course, args.assignment, args.folder, args.pattern)
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
    elif args.command == "gradescope":
        from .gradescope import build_bundle
        out = args.out or course.work / f"gradescope-{args.assignment}.zip"
        print(build_bundle(args.assignment, out))
    elif args.command == "gradescope-run":
        from .gradescope import run
        results = run(args.assignment, args.root)
        print(f"score {results['score']:g}: {results['output']}")
    elif args.command == "demo":
        demo(course, args.assignments or course.assignments(), args.workers)
    return 0
