"""Pre-check: before any student code runs, read the submission and carry its answers into a
fresh copy of the release.

Rebuilding every submission (not only the damaged ones) means that nothing but the student's
code reaches the grader: cell metadata, grade ids, points, schema versions, locked cells and test
cells all come from the release, so none of them can be altered, deleted or duplicated. What was
found and repaired is reported; a file that cannot be read at all is rejected with a reason.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field

import nbformat

from .samples import grade_id


class Rejected(Exception):
    """The submission cannot be graded; the message says why."""


@dataclass
class Precheck:
    notebook: nbformat.NotebookNode
    notes: list[str] = field(default_factory=list)        # what was repaired


def _meta(cell) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def read_submission(text: str) -> nbformat.NotebookNode:
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise Rejected(f"the notebook file is not valid JSON (damaged or not a notebook): {error.msg} "
                       f"at line {error.lineno}") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise Rejected("the file is JSON but not a notebook (it has no list of cells)")
    for cell in data["cells"]:
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            raise Rejected("the notebook holds a cell that is not a code, markdown or raw cell")
        if isinstance(cell.get("source"), list):
            cell["source"] = "".join(str(s) for s in cell["source"])
        if not isinstance(cell.get("source", ""), str):
            raise Rejected("a cell's source is not text")
    return nbformat.from_dict(data)


def rebuild(submission_text: str, release) -> Precheck:
    """Carry the student's answer cells (matched by grade id) and added cells into the release."""
    student = read_submission(submission_text)
    result = Precheck(copy.deepcopy(release))
    release_ids = [grade_id(c) for c in release.cells]
    answers = {grade_id(c) for c in release.cells if _meta(c).get("solution")}
    schema = {_meta(c).get("schema_version") for c in student.cells if _meta(c)} - {None}
    if schema - {3}:
        result.notes.append(f"nbgrader schema version {sorted(schema)} reset to the release's")

    seen: dict[str, int] = {}
    taken: dict[str, str] = {}
    added: dict[str | None, list] = {}        # cells the student added, by the release cell before them
    anchor = None
    for cell in student.cells:
        gid = grade_id(cell) if _meta(cell) else None
        if gid is not None:
            seen[gid] = seen.get(gid, 0) + 1
        if gid is not None and gid in release_ids:
            if gid in answers and gid not in taken:
                taken[gid] = cell.source
            anchor = gid
            continue
        if cell.cell_type == "code" and not _meta(cell).get("grade"):
            added.setdefault(anchor, []).append(nbformat.v4.new_code_cell(cell.source))
        elif gid is not None:
            result.notes.append(f"cell with unknown grade id {gid!r} dropped")

    duplicated = sorted(g for g, n in seen.items() if n > 1)
    if duplicated:
        result.notes.append(f"duplicated grade ids {duplicated}: the first copy kept")
    missing_tests = sorted(g for g in release_ids if g and g not in seen and g not in answers)
    if missing_tests:
        result.notes.append(f"deleted or altered cells {missing_tests} restored from the release")
    missing_answers = sorted(answers - set(taken))
    if missing_answers:
        result.notes.append(f"answer cells {missing_answers} not found: left blank")

    cells = []
    for cell in result.notebook.cells:
        gid = grade_id(cell)
        if gid in taken:
            cell.source = taken[gid]
        cells.append(cell)
        cells.extend(added.get(gid, []) if gid else [])
    result.notebook.cells = added.get(None, []) + cells
    for index, cell in enumerate(result.notebook.cells):      # unique cell ids, valid format
        cell["id"] = grade_id(cell) or f"cell-{index}"
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.validate(result.notebook)
    return result
