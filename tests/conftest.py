"""Shared fixtures: a throwaway course (a copy of solutions/ with its own release and gradebook)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from grader.release import make_course
from grader.course import Course


def pytest_addoption(parser):
    parser.addoption("--browser", action="store_true", help="run the JupyterLab tests in Chromium (make test-browser)")


def pytest_collection_modifyitems(config, items):
    """The browser tests need Chromium and Playwright: they run with --browser only."""
    if config.getoption("--browser"):
        return
    skipped = [item for item in items if item.get_closest_marker("browser")]
    if skipped:
        config.hook.pytest_deselected(items=skipped)
        items[:] = [item for item in items if not item.get_closest_marker("browser")]


@pytest.fixture(scope="session")
def released_course(tmp_path_factory):
    """Every assignment released afresh in a throwaway course."""
    return make_course(tmp_path_factory.mktemp("course") / "root", Course().assignments())


def data_builder(name: str):
    """data/<name>.py as a module (the builders are scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parents[1] / "data" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def one_thread():
    """Runs that must agree bit for bit need the same order of floating-point sums. With several
    threads the math libraries may split a sum differently from one run to the next (MKL, for one,
    can use fewer threads on a busy machine), which changes the last bits; one thread keeps the order."""
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def builder():
    """data/build_checkpoints.py as a module."""
    return data_builder("build_checkpoints")


@pytest.fixture(scope="session")
def quiz_kit(tmp_path_factory):
    """A kit holding only tests/fixtures/quiz (see tests/quiz.py)."""
    from tests.quiz import make_kit
    return make_kit(tmp_path_factory.mktemp("quiz-kit") / "kit")
