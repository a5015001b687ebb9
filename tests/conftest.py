"""Shared fixtures: a throwaway course (a copy of solutions/ with its own release and gradebook)."""
from __future__ import annotations

import pytest

from grader.cli import make_course
from grader.course import Course


@pytest.fixture(scope="session")
def released_course(tmp_path_factory):
    """Every assignment released afresh in a throwaway course."""
    return make_course(tmp_path_factory.mktemp("course") / "root", Course().assignments())
