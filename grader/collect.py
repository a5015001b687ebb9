"""Collect a class's submissions into grader/work/submitted/<student>/<assignment>/."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

from .course import Course
from .lms import find_submissions


def collect(course: Course, assignment: str, source: Path, pattern: str | None = None) -> list[str]:
    """Copy submissions into grader/work/submitted/<student>/<assignment>/.

    `source` is a folder (FOLDER/<student>.ipynb or FOLDER/<student>/<any name>.ipynb) or a zip
    exported by a learning-management system, whose file names carry the student id (Canvas,
    Moodle and Blackboard names are recognised; `pattern` is a regex with a (?P<student>...)
    group for others). What was renamed or chosen is noted in the student's record.
    """
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
