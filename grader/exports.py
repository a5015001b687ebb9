"""What a graded class gives back: HTML feedback (nbgrader's, hidden tests removed) and CSV grades
written from the students' records."""
from __future__ import annotations

import csv
from pathlib import Path

from .course import Course, Record
from .release import api


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
