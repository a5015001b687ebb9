"""The student kit: one zip with what a student needs and nothing an instructor keeps.

    python -m grader student-kit [OUT.zip]        (make student-kit)

It holds the released notebooks, the data (not its builders, which run the reference solutions),
the helper library, environment.yml, a pyproject.toml that installs the helper library alone, and
a short README. Nothing of solutions/, grader/ or tests/; a test unzips it into an empty folder,
installs it and validates a notebook there.
"""
from __future__ import annotations

import tomllib
import zipfile
from pathlib import Path

from .config import ROOT

PARTS = ["notebooks", "data/MANIFEST.json", "data/checkpoints", "data/shapes", "data/spoken", "src/mmkit",
         "environment.yml"]
LEFT_OUT = ("__pycache__", ".ipynb_checkpoints")

README = """# Multimodal course kit: student version

Four assignments that build the systems of the lecture: `notebooks/clip`, `notebooks/llava`,
`notebooks/wavenet` and `notebooks/valle`. Everything runs on a laptop CPU; nothing is downloaded.

## Install (once)

With conda:

    conda env create -f environment.yml && conda activate mmkit

or with pip (Python 3.10 or newer):

    python3 -m venv .venv && .venv/bin/pip install -e .

## Work

    python -m mmkit.lab notebooks

(JupyterLab with nbgrader's student tools: the assignment list and *Validate*.)

Fill in every `# YOUR CODE HERE` (and delete the `raise NotImplementedError()` under it), and run
the test cell after each task: a failing check says what it compared, yours against expected,
and gives a hint. Before you submit, run *Kernel > Restart and Run All*, then nbgrader's
*Validate* button (or `nbgrader validate notebooks/clip/clip.ipynb`). Submit the `.ipynb` file.
The grader runs the same checks, plus hidden ones on the same functions, with a shorter training.
"""


def student_pyproject(kit: Path = ROOT) -> str:
    """The kit's pyproject.toml, reduced to the helper library and its dependencies."""
    project = tomllib.loads((kit / "pyproject.toml").read_text())["project"]
    dependencies = "\n".join(f'    "{d}",' for d in project["dependencies"])
    return f'''[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "mmkit"
version = "{project["version"]}"
description = "Helper library of the multimodal course kit's assignments"
requires-python = "{project["requires-python"]}"
dependencies = [
{dependencies}
]

[tool.setuptools]
package-dir = {{"" = "src"}}
packages = ["mmkit"]
'''


def build_student_kit(out: Path, kit: Path = ROOT) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("README.md", README)
        bundle.writestr("pyproject.toml", student_pyproject(kit))
        for part in PARTS:
            path = kit / part
            files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
            for file in files:
                relative = file.relative_to(kit)
                if not any(skip in relative.parts for skip in LEFT_OUT):
                    bundle.write(file, relative.as_posix())
    return out
