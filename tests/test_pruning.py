"""Which cells the grader leaves out (grader.pruning): only locked cells of the release whose
names no later cell that runs reads."""
from __future__ import annotations

import nbformat
import pytest

from grader import pruning


def cell(source, gid=None, locked=False, solution=False, grade=False):
    c = nbformat.v4.new_code_cell(source)
    if gid:
        c.metadata["nbgrader"] = {"grade_id": gid, "locked": locked, "solution": solution, "grade": grade}
    return c


def release():
    return nbformat.v4.new_notebook(cells=[
        cell("%matplotlib inline\nimport math", "setup", locked=True),
        cell("def f(x):\n    raise NotImplementedError()", "answer", solution=True),
        cell("shown = f(2)\nprint(shown)", "demo", locked=True),
        cell("assert f(1) == 1", "test_f", locked=True, grade=True),
        cell("trained = f(3)\ndef later():\n    return math.pi", "train", locked=True),
        cell("assert trained == 3", "test_trained", locked=True, grade=True),
        cell("for k in range(3):\n    plotted = k\nprint(plotted)", "plot", locked=True),
    ])


def submission(*extra):
    notebook = release()
    notebook.cells[1].source = "def f(x):\n    return x"
    notebook.cells += list(extra)
    return notebook


def left_out(notebook):
    return [notebook.cells[i].metadata["nbgrader"]["grade_id"] for i in pruning.skippable(notebook, release())]


def test_cells_no_later_cell_reads_are_left_out():
    assert left_out(submission()) == ["demo", "plot"]


def test_a_cell_a_test_reads_runs():
    notebook = submission()
    assert "train" not in left_out(notebook)


@pytest.mark.parametrize("source", [
    "print(shown)",                                   # reads it at the top
    "def g():\n    return shown + 1",                  # reads it from a function, at call time
    "class G:\n    value = shown",                     # from a class body
    "[shown for _ in range(2)]",                       # from a comprehension
])
def test_a_students_cell_that_reads_a_demo_name_keeps_it(source):
    assert left_out(submission(cell(source))) == ["plot"]


@pytest.mark.parametrize("source", ["globals()['shown']", "exec('print(shown)')", "from math import *",
                                    "%%time\nprint(1)", "def broken(:", "import sys\nsys.modules",
                                    "x = " + "+".join(["shown"] * 30000)])     # too deep for symtable
def test_a_cell_that_reaches_the_namespace_otherwise_keeps_every_cell_before_it(source):
    assert left_out(submission(cell(source))) == []


@pytest.mark.parametrize("source", [
    "shown = 5\nprint(shown)",                        # its own value: the demo's is never seen
    "a, *shown = [1, 2]\nprint(shown)",
    "import math as shown\nshown.pi",
    "def shown():\n    return 1\nshown()",
    "for shown in range(2):\n    print(shown)",        # the loop's own variable
    "def g(shown):\n    return shown\nshown = 1\ng(shown)",   # a parameter of a function defined first
    "with open('f') as f:\n    shown = f.read()\nprint(shown)",   # a with block runs straight through
])
def test_a_name_the_cell_binds_before_reading_it_does_not_keep_the_demo(source):
    assert left_out(submission(cell(source))) == ["demo", "plot"]


@pytest.mark.parametrize("source", [
    "print(shown)\nshown = 5",                        # read first
    "shown = shown + 1",                               # read while binding
    "shown += 1",
    "def g():\n    return shown\nshown = g()",       # a function defined before the binding
    "def g(x=shown):\n    return x\nshown = 1",       # a default, evaluated at the definition
    "def g(x):\n    return lambda: shown\nshown = 1",
    "@shown\ndef g():\n    pass\nshown = 1",
    "if len('x'):\n    shown = 1\nprint(shown)",     # bound only on one branch
    "try:\n    shown = 1\nexcept Exception:\n    pass\nprint(shown)",
    "for shown in []:\n    pass\nprint(shown)",       # an empty loop binds nothing
    "for i in range(2):\n    print(shown)\nshown = 1",
    "del shown\nshown = 1",
    "with shown:\n    shown = 1",
])
def test_a_name_read_before_the_cell_binds_it_keeps_the_demo(source):
    assert left_out(submission(cell(source))) == ["plot"]


def test_a_function_parameter_is_not_a_global():
    assert left_out(submission(cell("def g(shown):\n    return shown"))) == ["demo", "plot"]


def test_a_changed_locked_cell_is_not_left_out():
    notebook = submission()
    notebook.cells[2].source += "\n"
    assert left_out(notebook) == ["plot"]


def test_tags_are_set_for_the_run_and_restored_with_a_note():
    notebook = submission(cell("print('mine')"))
    notebook.cells[-1].metadata["tags"] = [pruning.SKIP_TAG]      # a student's own tag does not skip it
    assert pruning.leave_out(notebook, release()) == 2
    assert pruning.SKIP_TAG not in notebook.cells[-1].metadata.get("tags", [])
    assert pruning.SKIP_TAG in notebook.cells[2].metadata["tags"]
    pruning.restore(notebook)
    demo = notebook.cells[2]
    assert "tags" not in demo.metadata and "mmgrade_skipped" not in demo.metadata
    assert demo.outputs[0].text.startswith("(not run by the grader")
    assert notebook.cells[3].get("outputs") == []
