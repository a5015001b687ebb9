"""nbgrader settings of the kit, shared by nbgrader_config.py and the grader's own workers.

The values follow measured nbgrader 0.9.6 behaviour: a per-cell timeout that leaves room for a
short training cell, missing test cells put back, stderr noise from libraries ignored in test
cells, outputs capped, and feedback that never shows the source of hidden tests.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from traitlets.config import Config

ROOT = Path(__file__).resolve().parents[1]   # the kit's root: solutions/, notebooks/, grader/
WORK = "grader/work"                          # grading state, relative to the course root
CELL_TIMEOUT = 120                            # seconds per cell; the notebook's budget is 60 s
# stderr lines that libraries print and that say nothing about the student's answer
# (nbgrader gives 0 points to a test cell with any stderr)
IGNORED_STDERR = r"^(\s*warnings\.warn\(|.*(UserWarning|FutureWarning|DeprecationWarning)).*"


def ensure_tools_on_path() -> None:
    """nbgrader runs the `alembic` command of its own environment: put that environment's bin/
    first on PATH, as activating it would, so that `.venv/bin/python -m grader` works as is."""
    bin_dir = str(Path(sys.executable).parent)
    if os.environ.get("PATH", "").split(os.pathsep)[0] != bin_dir:
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")


def course_config(root: Path | str = ROOT) -> Config:
    ensure_tools_on_path()
    root = Path(root).resolve()
    c = Config()
    c.CourseDirectory.root = str(root)
    c.CourseDirectory.course_id = "mmkit"
    c.CourseDirectory.source_directory = "solutions"
    c.CourseDirectory.release_directory = "notebooks"
    c.CourseDirectory.submitted_directory = f"{WORK}/submitted"
    c.CourseDirectory.autograded_directory = f"{WORK}/autograded"
    c.CourseDirectory.feedback_directory = f"{WORK}/feedback"
    c.CourseDirectory.db_url = f"sqlite:///{root / WORK / 'gradebook.db'}"
    c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", ".*"]

    c.Execute.timeout = CELL_TIMEOUT
    c.Execute.startup_timeout = 120
    c.Execute.interrupt_on_timeout = True
    # once the last cell has run, nothing is left to wait for: a graceful shutdown of the sandboxed
    # kernel cost 2 to 3 s of every notebook (WaveNet's worker: 19 to 20 s graceful, 17 s immediate)
    c.Execute.shutdown_kernel = "immediate"
    c.OverwriteCells.add_missing_cells = True
    c.IgnorePattern.enabled = True
    c.IgnorePattern.pattern = IGNORED_STDERR
    c.LimitOutput.max_lines = 200
    c.LimitOutput.max_traceback = 60
    c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}

    # Feedback: grades, then hidden tests removed from sources and from tracebacks.
    c.GenerateFeedback.preprocessors = [
        "nbgrader.preprocessors.GetGrades",
        "grader.preprocessors.HideHiddenTests",
        "grader.preprocessors.TrimOutputs",
        "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
    ]
    return c
