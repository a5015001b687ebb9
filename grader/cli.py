"""The kit's grading command line: release, collect, autograde, feedback, export, demo.

    python -m grader release [clip ...]          solutions/ -> notebooks/ (and the gradebook)
    python -m grader collect clip FOLDER|ZIP     FOLDER/<student>.ipynb, FOLDER/<student>/*.ipynb, or an LMS zip
    python -m grader autograde clip [-j 2]       every submission, in parallel, in its own process
    python -m grader autograde clip --shard 3/40 one deterministic 40th of the class (a cluster job)
    python -m grader merge clip [FOLDER ...]     the shards' records into this course's gradebook
    python -m grader feedback clip               HTML feedback without hidden tests
    python -m grader export clip                 grader/work/grades-clip.csv: score, status, reason
    python -m grader report clip                 grader/work/report-clip.html: where the class struggled
    python -m grader gradescope clip [OUT.zip]   a Gradescope autograder bundle
    python -m grader student-kit [OUT.zip]       notebooks, data and helper library for students
    python -m grader demo [clip ...]             all of the above on sample submissions
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from .collect import collect
from .course import Course, Record
from .exports import export, export_all, feedback
from .release import release
from .report import report


def print_table(rows: list[Record]) -> None:
    width = max([len("student")] + [len(r.student) for r in rows])
    print(f"\n{'student':<{width}}  {'score':>11}  status")
    for r in rows:
        score = f"{r.score:g} / {r.max_score:g}"
        where = " (graded without a sandbox)" if r.sandboxed is False else ""
        print(f"{r.student:<{width}}  {score:>11}  {r.status}{where}{': ' + r.reason if r.reason else ''}")


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
        print(f"report:   {report(course, assignment).relative_to(course.root)}")
    print(f"all assignments: {export_all(course).relative_to(course.root)}")
    print(f"demo finished in {time.monotonic() - start:.0f} s")


def release_of(course: Course, assignment: str) -> str:
    """The fingerprint of the assignment's current release (what shards must have been graded against)."""
    from .notebooks import read
    from .verdict import release_fingerprint
    return release_fingerprint(read(course.release(assignment)), read(course.source(assignment)))


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
    p.add_argument("--shard", help="I/N: grade the I-th of N shards of the class and write its records")
    p = sub.add_parser("merge", help="merge shard records into the gradebook and the CSV")
    p.add_argument("assignment")
    p.add_argument("folders", nargs="*", type=Path, help="shard folders (default: grader/work/shards/<a>/*)")
    p = sub.add_parser("feedback", help="HTML feedback for graded submissions")
    p.add_argument("assignment")
    p = sub.add_parser("export", help="CSV of scores and statuses")
    p.add_argument("assignment")
    p.add_argument("--out", type=Path)
    p = sub.add_parser("report", help="HTML class report: scores, pass rate per test cell, statuses, time")
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
    p = sub.add_parser("student-kit", help="a zip of what students need (no solutions, grader or tests)")
    p.add_argument("out", type=Path, nargs="?")
    p = sub.add_parser("demo", help="release, grade sample submissions, feedback, export")
    p.add_argument("assignments", nargs="*")
    p.add_argument("-j", "--workers", type=int, default=None)
    parser.add_argument("--course", type=Path, default=None, help="the course root (default: this kit)")
    args = parser.parse_args(argv)

    course = Course(args.course.resolve()) if args.course else Course()
    if args.command == "release":
        release(course, args.assignments or course.assignments())
    elif args.command == "collect":
        collect(course, args.assignment, args.folder, args.pattern)
    elif args.command == "autograde":
        from .autograde import NOTEBOOK_TIMEOUT, autograde
        students = args.students or None
        if args.shard:
            from .shards import parse_shard, shard_students, write_shard
            index, count = parse_shard(args.shard)
            students = shard_students(students or course.students(args.assignment), index, count)
        rows = autograde(course, args.assignment, students, workers=args.workers,
                         timeout=args.timeout or NOTEBOOK_TIMEOUT)
        print_table(rows)
        if args.shard:
            print(f"shard records: {write_shard(course, args.assignment, index, count, release_of(course, args.assignment), rows)}")
    elif args.command == "merge":
        from .shards import merge
        print_table(merge(course, args.assignment, release_of(course, args.assignment), args.folders or None))
        print(export(course, args.assignment))
    elif args.command == "feedback":
        feedback(course, args.assignment)
    elif args.command == "export":
        print(export(course, args.assignment, args.out))
    elif args.command == "report":
        print(report(course, args.assignment, args.out))
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
    elif args.command == "student-kit":
        from .student_kit import build_student_kit
        print(build_student_kit(args.out or course.work / "student-kit.zip"))
    elif args.command == "demo":
        demo(course, args.assignments or course.assignments(), args.workers)
    return 0
