"""Pre-check: before any student code runs, read the submission and carry its answers into a
fresh copy of the release.

Rebuilding every submission (not only the damaged ones) means that nothing but the student's
code reaches the grader: cell metadata, grade ids, points, schema versions, locked cells and test
cells all come from the release, so none of them can be altered, deleted or duplicated. What was
found and repaired is reported.

The file is untrusted data: any field may be missing, null, of the wrong type, nested, huge or
hold invalid text. Nothing here assumes a shape. A student's answer cell is found by its grade id,
else by its cell id, else by the functions and classes it defines (the release's answer cells
each define theirs), so a notebook whose metadata was mangled is repaired where its answers can
still be told apart. A file that is not a notebook, or in which no answer can be found, is
rejected with a reason; `Rejected` is the only exception `rebuild` raises for a bad file.
"""
from __future__ import annotations

import ast
import copy
import json
from dataclasses import dataclass, field

import nbformat

from . import pysource

MAX_FILE_BYTES = 50_000_000        # a notebook's outputs can be large; its code never is
MAX_CELL_CHARS = 1_000_000         # one cell's source: far above any answer
MAX_CELLS = 5_000


class Rejected(Exception):
    """The submission cannot be graded; the message says why."""


@dataclass
class Precheck:
    notebook: nbformat.NotebookNode
    notes: list[str] = field(default_factory=list)        # what was repaired


@dataclass
class StudentCell:
    """What the pre-check keeps of one cell of the submission, read defensively."""
    kind: str                       # code | markdown | raw
    source: str
    grade_id: str | None            # from metadata.nbgrader.grade_id, if it is text
    cell_id: str | None
    graded: bool                    # metadata says it is a test cell
    schema: object = None           # metadata.nbgrader.schema_version, as found


def _release_meta(cell) -> dict:
    """nbgrader metadata of a release cell (the release is trusted, but may lack it)."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def _text(value) -> str | None:
    """A cell source as text: a string, or a list of strings joined (nbformat allows both)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(part, str) for part in value):
        return "".join(value)
    return None


def _clean(text: str) -> tuple[str, bool]:
    """Text that can be written as UTF-8 (JSON allows lone surrogates, which cannot be)."""
    try:
        text.encode("utf-8")
        return text, False
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8"), True


def _read_cell(raw, index: int, notes: list[str]) -> StudentCell | None:
    where = f"cell {index + 1}"
    if not isinstance(raw, dict):
        notes.append(f"{where} is not a cell (a JSON {type(raw).__name__}): dropped")
        return None
    kind = raw.get("cell_type")
    if kind not in ("code", "markdown", "raw"):
        kind = "code" if "outputs" in raw or "execution_count" in raw else None
        if kind is None:
            notes.append(f"{where} has no valid cell type: dropped")
            return None
        notes.append(f"{where} had no valid cell type: read as a code cell")
    source = _text(raw.get("source", ""))
    if source is None:
        notes.append(f"{where}'s source is not text: dropped")
        return None
    if len(source) > MAX_CELL_CHARS:
        raise Rejected(f"{where} holds {len(source):,} characters of source (the limit is "
                       f"{MAX_CELL_CHARS:,}): remove the pasted data and submit again")
    source, replaced = _clean(source)
    if replaced:
        notes.append(f"{where} held characters that are not valid text: replaced by U+FFFD")
    metadata = raw.get("metadata")
    nbgrader = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    nbgrader = nbgrader if isinstance(nbgrader, dict) else {}
    gid = nbgrader.get("grade_id")
    cell_id = raw.get("id")
    return StudentCell(kind, source,
                       gid if isinstance(gid, str) else None,
                       cell_id if isinstance(cell_id, str) else None,
                       nbgrader.get("grade") is True, nbgrader.get("schema_version"))


def read_submission(data: bytes | str) -> tuple[list[StudentCell], list[str]]:
    """The cells of a submitted file, and what was wrong with them; Rejected if it is no notebook."""
    if len(data) > MAX_FILE_BYTES:
        raise Rejected(f"the file is {len(data) / 1e6:.0f} MB (the limit is {MAX_FILE_BYTES / 1e6:.0f} MB): "
                       "clear the outputs (Edit > Clear Outputs of All Cells), save and submit again")
    if isinstance(data, bytes):
        data = data.decode("utf-8", "replace")
    try:
        notebook = json.loads(data)
    except json.JSONDecodeError as error:
        raise Rejected(f"the notebook file is not valid JSON (damaged or not a notebook): {error.msg} "
                       f"at line {error.lineno}") from None
    except RecursionError:
        raise Rejected("the notebook file is nested too deeply to be a notebook (damaged)") from None
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise Rejected("the file is JSON but not a notebook (it has no list of cells)")
    if len(notebook["cells"]) > MAX_CELLS:
        raise Rejected(f"the notebook has {len(notebook['cells']):,} cells (the limit is {MAX_CELLS:,})")
    notes: list[str] = []
    cells = [_read_cell(raw, i, notes) for i, raw in enumerate(notebook["cells"])]
    return [c for c in cells if c is not None], notes


def defined_names(source: str) -> frozenset[str]:
    """Functions and classes defined at the top of a cell ('' if it does not parse)."""
    try:
        tree = pysource.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return frozenset()
    return frozenset(node.name for node in tree.body
                     if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)))


def _identify(student: list[StudentCell], release_ids: set[str], by_source: dict,
              by_names: dict) -> list[tuple[str | None, str]]:
    """For each student cell, the release cell it stands for (or None) and how it was found ('' by
    grade id). Cells found by no id are matched by their unchanged source (a locked or test cell),
    then by the functions they define (an answer): a scratch copy of a function elsewhere in the
    notebook must not take the place of the answer cell, so ids are matched first everywhere."""
    found = []
    for cell in student:
        if cell.grade_id in release_ids:
            found.append((cell.grade_id, ""))
        elif cell.cell_id in release_ids:
            found.append((cell.cell_id, "cell id"))
        else:
            found.append((None, ""))
    known = {gid for gid, _ in found}
    for index, cell in enumerate(student):
        if found[index][0] is None and cell.kind == "code" and cell.grade_id is None:
            gid = by_source.get(cell.source)
            if gid is not None and gid not in known:          # a locked or test cell, unchanged
                found[index] = (gid, "its source")
                known.add(gid)
                continue
            gid = by_names.get(defined_names(cell.source))
            if gid is not None and gid not in known:
                found[index] = (gid, "the functions it defines")
                known.add(gid)
    return found


def rebuild(submission, release) -> Precheck:
    """Carry the student's answer cells (matched by grade id, cell id or definitions) and the code
    cells they added into a fresh copy of the release."""
    student, read_notes = read_submission(submission)
    result = Precheck(copy.deepcopy(release), notes=read_notes)
    release_ids = {gid for gid in (_release_meta(c).get("grade_id") for c in release.cells) if gid}
    answers = [gid for gid in (_release_meta(c).get("grade_id") for c in release.cells
                               if _release_meta(c).get("solution")) if gid]
    by_source = {c.source: _release_meta(c)["grade_id"] for c in release.cells
                 if c.cell_type == "code" and _release_meta(c).get("grade_id") and not _release_meta(c).get("solution")}
    by_names = {}
    for cell in release.cells:
        if _release_meta(cell).get("solution"):
            names = defined_names(cell.source)
            if names and names not in by_names:
                by_names[names] = _release_meta(cell)["grade_id"]

    seen: dict[str, int] = {}
    taken: dict[str, str] = {}
    found_by: dict[str, str] = {}
    added: dict[str | None, list] = {}        # cells the student added, by the release cell before them
    anchor = None
    for cell, (gid, how) in zip(student, _identify(student, release_ids, by_source, by_names)):
        if gid is not None:
            seen[gid] = seen.get(gid, 0) + 1
            if gid in answers and gid not in taken:
                taken[gid] = cell.source
                if how:
                    found_by[gid] = how
            anchor = gid
            continue
        if cell.kind == "code" and not cell.graded:
            added.setdefault(anchor, []).append(nbformat.v4.new_code_cell(cell.source))
        elif cell.grade_id is not None:
            result.notes.append(f"cell with unknown grade id {cell.grade_id[:80]!r} dropped")

    schema = {repr(c.schema) for c in student if c.schema is not None and c.schema != 3}
    if schema:
        result.notes.append(f"nbgrader schema version {sorted(schema)} reset to the release's")
    if answers and not taken:
        raise Rejected("none of the answer cells of this assignment could be found in the file (no grade "
                       "id, cell id or function of the release): is it this assignment's notebook?")
    if found_by:
        result.notes.append("answer cells whose nbgrader metadata was damaged, found by "
                            + ", ".join(f"{how} ({gid})" for gid, how in sorted(found_by.items()))
                            + ": metadata restored from the release")
    duplicated = sorted(g for g, n in seen.items() if n > 1)
    if duplicated:
        result.notes.append(f"duplicated grade ids {duplicated}: the first copy kept")
    missing_tests = sorted(g for g in release_ids if g not in seen and g not in answers)
    if missing_tests:
        result.notes.append(f"deleted or altered cells {missing_tests} restored from the release")
    missing_answers = sorted(set(answers) - set(taken))
    if missing_answers:
        result.notes.append(f"answer cells {missing_answers} not found: left blank")

    cells = []
    for cell in result.notebook.cells:
        gid = _release_meta(cell).get("grade_id")
        if gid in taken:
            cell.source = taken[gid]
        cells.append(cell)
        cells.extend(added.get(gid, []) if gid else [])
    result.notebook.cells = added.get(None, []) + cells
    for index, cell in enumerate(result.notebook.cells):      # unique cell ids, valid format
        cell["id"] = _release_meta(cell).get("grade_id") or f"cell-{index}"
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.validate(result.notebook)
    return result
