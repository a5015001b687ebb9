"""Shared fixtures: a throwaway course (a copy of solutions/ with its own release and gradebook)
and one batch of graded sample submissions that many tests read."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def make_course(tmp: Path, assignments: list[str]):
    """A course root in tmp with solutions/ copied, data/ linked, and a fresh release."""
    from grader.cli import release
    from grader.course import Course
    (tmp / "solutions").mkdir(parents=True)
    for assignment in assignments:
        shutil.copytree(ROOT / "solutions" / assignment, tmp / "solutions" / assignment)
    os.symlink(ROOT / "data", tmp / "data")
    course = Course(tmp)
    release(course, assignments)
    return course


@pytest.fixture(scope="session")
def clip_course(tmp_path_factory):
    return make_course(tmp_path_factory.mktemp("course"), ["clip"])
