"""JupyterLab for students or for instructors.

    python -m mmkit.lab [JUPYTER LAB ARGUMENTS]                 students: assignment list and Validate
    python -m mmkit.lab --instructor [JUPYTER LAB ARGUMENTS]    instructors: every nbgrader tool

nbgrader installs its instructor tools (Create Assignment, the formgrader, the course list) beside
the student's. A student needs none of them, and they invite edits to cell metadata that the grader
then has to repair. The student mode adds one Jupyter configuration folder (lab_config/student)
with the highest priority: it turns off those lab plugins and their server extensions, and leaves
everything else as installed.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

STUDENT_CONFIG = Path(__file__).with_name("lab_config") / "student"


def environment(instructor: bool) -> dict[str, str]:
    env = dict(os.environ)
    if not instructor:
        env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(filter(None, [str(STUDENT_CONFIG), env.get("JUPYTER_CONFIG_PATH")]))
    return env


def main(argv: list[str]) -> None:
    instructor = "--instructor" in argv
    args = [a for a in argv if a != "--instructor"]
    jupyter = Path(sys.executable).with_name("jupyter")
    command = [str(jupyter), "lab", *args] if jupyter.exists() else [sys.executable, "-m", "jupyterlab", *args]
    os.execvpe(command[0], command, environment(instructor))


if __name__ == "__main__":
    main(sys.argv[1:])
