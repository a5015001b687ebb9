"""Small helpers over nbformat notebooks shared by the grader: grade ids, answer cells, and the
release filled in with the reference answers."""
from __future__ import annotations

import copy

import nbformat

SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


def grade_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def strip_solution_markers(source: str) -> str:
    return "\n".join(line for line in source.split("\n")
                     if line.strip() not in SOLUTION_MARKERS)


def answer_cells(notebook) -> dict:
    return {grade_id(c): c for c in notebook.cells
            if c.get("metadata", {}).get("nbgrader", {}).get("solution")}


def solved(release, source):
    """The release notebook with each answer cell holding the reference answer."""
    notebook = copy.deepcopy(release)
    reference = answer_cells(source)
    for gid, cell in answer_cells(notebook).items():
        if gid not in reference:
            raise KeyError(f"answer cell {gid!r} of the release is not in the source notebook")
        cell.source = strip_solution_markers(reference[gid].source)
    return notebook


def read(path) -> nbformat.NotebookNode:
    return nbformat.read(str(path), as_version=4)


def write(notebook, path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, str(path))
