"""Tamper defence: decoys that must fail, and a scan for known tricks.

Decoys are a second line behind the grader's own verdicts (grader.verdict). After the notebook's own cells, every test cell runs once more,
byte for byte the same source, but with each answer (the functions and classes the student
wrote) replaced by a stand-in object that is not a tensor, a number or anything else a check
expects. Genuine checks must fail on it. If a decoy
passes, something in the kernel stops checks from failing (an input transformer rewriting test
cells, patched assertions or comparison functions, swallowed exceptions, faked outputs), however
it was done, and no test cell of that notebook can be trusted: it scores zero and is flagged.

The scan is the second line: it names known tricks in the student's code (IPython hooks,
patched modules, operator overloads, process exits, reading course files) so that an instructor
can look, even where the trick did not change a grade.
"""
from __future__ import annotations

import ast
import random
import re

import nbformat

from . import pysource
from .notebooks import grade_id

GRADER_PREFIX = "mmgrade-"                # the ids of cells the grader adds to a notebook
DECOY_PREFIX = GRADER_PREFIX + "decoy-"

PATTERNS = [
    (r"get_ipython\s*\(|\bIPython\b", "uses the IPython shell from the code"),
    (r"input_transformers|ast_transformers|set_custom_exc|register_magic|events\.register|showtraceback",
     "installs IPython hooks that can rewrite or hide later cells"),
    (r"sys\.(excepthook|settrace|setprofile|modules|_getframe|displayhook)|\bf_back\b|inspect\.(stack|currentframe)",
     "reaches into the interpreter (hooks, frames or loaded modules)"),
    (r"\b__builtins__\b|\bbuiltins\b", "changes or reads Python's builtins"),
    (r"\b(np|numpy|torch|mmkit|checks|testing)\.[\w.]+\s*=[^=]|\bcheck_\w+\s*=[^=]|\bsetattr\s*\(",
     "replaces functions of libraries or of the checks"),
    (r"\bdef\s+(check_\w+|seed_everything)\s*\(|\b_mmgrade\w*",
     "redefines the checks or touches the grader's own names"),
    (r"def\s+__(eq|ne|bool|lt|le|gt|ge|hash|float|int|index|len|instancecheck|subclasscheck)__",
     "defines comparison or conversion operators (objects that compare equal to anything)"),
    (r"os\._exit|os\.kill|os\.abort|\bsignal\.|\bctypes\b|faulthandler", "exits or kills the process, or handles signals"),
    (r"sqlite3|gradebook|\.db\b|solutions/|submitted/|autograded/|\.\./", "looks for course files outside its folder"),
    (r"__code__|__globals__|__closure__|\bexec\s*\(|\beval\s*\(|\bcompile\s*\(|__import__",
     "runs or rewrites code at run time"),
    (r"\bsubprocess\b|os\.system|\bsocket\b|urllib|requests\.", "starts programs or opens connections"),
]


def answer_names(source_notebook) -> list[str]:
    """Functions and classes defined at the top of the answer cells of the source notebook."""
    names = []
    for cell in source_notebook.cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            for node in pysource.parse(cell.source).body:
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    names.append(node.name)
    return names


def add_decoys(notebook, source_notebook, seed: int | None = None) -> list[str]:
    """Append the decoys to a rebuilt submission; returns the ids of the decoy test cells."""
    rng = random.Random(seed)
    tag = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(8))
    names = answer_names(source_notebook)
    # The stand-in answers anything with another stand-in, so that a decoy's test code runs on
    # until it reaches a check: a genuine check fails there, a neutered one does not.
    setup = (f"class _Stand_{tag}:\n"
             f"    def __init__(self, *args, **kwargs):\n        pass\n\n"
             f"    def __call__(self, *args, **kwargs):\n        return _Stand_{tag}()\n\n"
             f"    def __getattr__(self, name):\n        return _Stand_{tag}()\n\n"
             f"    def __getitem__(self, key):\n        return _Stand_{tag}()\n\n"
             f"    def __iter__(self):\n        return iter(())\n\n\n"
             f"globals().update({{name: _Stand_{tag}() for name in {names!r}}})")
    tests = [c for c in source_notebook.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade")
             and c.cell_type == "code"]
    rng.shuffle(tests)
    cell = nbformat.v4.new_code_cell(setup)
    cell["id"] = f"{DECOY_PREFIX}setup"
    notebook.cells.append(cell)
    ids = []
    for test in tests:
        cell = nbformat.v4.new_code_cell(test.source)
        cell["id"] = f"{DECOY_PREFIX}{grade_id(test)}"
        notebook.cells.append(cell)
        ids.append(cell["id"])
    return ids


def decoy_cells(executed) -> list:
    """The decoy copies of the test cells in an executed notebook (not the stand-ins' setup)."""
    return [c for c in executed.cells
            if c.get("id", "").startswith(DECOY_PREFIX) and c.id != f"{DECOY_PREFIX}setup"]


def without_grader_cells(executed):
    """The notebook without the cells the grader added (decoys, seeds): what the student wrote and ran."""
    executed.cells = [c for c in executed.cells if not c.get("id", "").startswith(GRADER_PREFIX)]
    return executed


def scan(notebook) -> list[str]:
    """Reasons to look at the student's code: known tricks in answer cells and added cells."""
    code = "\n".join(c.source for c in notebook.cells if c.cell_type == "code"
                     and not c.get("id", "").startswith(GRADER_PREFIX)
                     and not c.get("metadata", {}).get("nbgrader", {}).get("locked"))
    return [reason for pattern, reason in PATTERNS if re.search(pattern, code)]
