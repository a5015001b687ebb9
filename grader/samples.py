"""Sample submissions made from the release and the reference solution.

A perfect submission is the student notebook with every answer cell filled in with the
reference code. A mutant is that submission with one realistic mistake, an alternative is one
with a correct answer written another way; both are described per assignment in
grader/mutants/<assignment>.py. The demo grades such samples, and the tests check that every
mutant loses points and every alternative earns full marks.
"""
from __future__ import annotations

import copy
import importlib
from dataclasses import dataclass, field

from . import pysource
from .notebooks import answer_cells, grade_id, read, solved, write  # noqa: F401 (used by the tests and the demo)


@dataclass
class Mutant:
    """A realistic mistake: in answer cell `cell`, replace `old` by `new` (exactly once)."""
    name: str
    cell: str
    old: str
    new: str
    loses: list[str] = field(default_factory=list)   # test cells that must score below max
    why: str = ""


@dataclass
class Alternative:
    """A correct answer written another way: answer cell `cell` becomes `code`."""
    name: str
    cell: str
    code: str


def _copy_with_answer(notebook, cell_id: str, what: str):
    """A copy of the notebook and its answer cell `cell_id` (KeyError naming `what` if none)."""
    notebook = copy.deepcopy(notebook)
    cells = answer_cells(notebook)
    if cell_id not in cells:
        raise KeyError(f"{what}: no answer cell {cell_id!r}")
    return notebook, cells[cell_id]


def mutate(notebook, mutant: Mutant):
    notebook, cell = _copy_with_answer(notebook, mutant.cell, f"mutant {mutant.name}")
    count = cell.source.count(mutant.old)
    if count != 1:
        raise ValueError(f"mutant {mutant.name}: expected the text to replace once in cell "
                         f"{mutant.cell!r}, found it {count} times:\n{mutant.old}")
    cell.source = cell.source.replace(mutant.old, mutant.new)
    try:                     # a realistic mistake runs: one that does not parse tests nothing
        pysource.parse(cell.source)
    except SyntaxError as error:
        raise ValueError(f"mutant {mutant.name}: the changed cell does not parse ({error})") from None
    return notebook


def substitute(notebook, alternative: Alternative):
    notebook, cell = _copy_with_answer(notebook, alternative.cell, f"alternative {alternative.name}")
    cell.source = alternative.code.strip("\n")
    return notebook


def catalogue(assignment: str):
    """(mutants, alternatives, demo sample names) of an assignment."""
    module = importlib.import_module(f"grader.mutants.{assignment}")
    return module.MUTANTS, module.ALTERNATIVES, getattr(module, "DEMO", [])


def make_samples(course, assignment: str, folder) -> list[str]:
    """Write the demo's submissions: the reference answers, the blank release, the mutants the
    assignment's catalogue lists in DEMO, and a damaged file (cut-off JSON)."""
    import shutil
    if folder.exists():
        shutil.rmtree(folder)
    release = read(course.release(assignment))
    reference = solved(release, read(course.source(assignment)))
    mutants, _, demo_names = catalogue(assignment)
    samples = {"reference": reference, "blank": release}
    by_name = {m.name: m for m in mutants}
    for name in demo_names:
        samples[f"buggy-{name}"] = mutate(reference, by_name[name])
    for name, notebook in samples.items():
        write(notebook, folder / f"{name}.ipynb")
    text = (folder / "reference.ipynb").read_text()
    (folder / "damaged.ipynb").write_text(text[: len(text) // 2])
    return sorted([*samples, "damaged"])
