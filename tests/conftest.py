"""Shared fixtures: a throwaway course (a copy of solutions/ with its own release and gradebook)."""
from __future__ import annotations

import pytest

from grader.cli import make_course


@pytest.fixture(scope="session")
def clip_course(tmp_path_factory):
    return make_course(tmp_path_factory.mktemp("course") / "root", ["clip"])
