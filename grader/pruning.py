"""Cells no grade depends on are not run by the grader.

Half of a notebook's time goes to cells that show things: an experiment, a plot, a retrieval
demo, a filtering run. They are the release's own locked cells, and a test cell after them may
read what they define, or may not. The grader reads every cell's global names (Python's own
`symtable`: what a cell binds at the top level, and what it and the functions it defines read
from the module's globals) and, walking back from the last cell, leaves out each locked cell of
the release whose bindings no later cell that runs reads. A name a cell binds before it reads it,
or reads only as its own loop variable, is the cell's own (`own_names`): test cells reuse names
such as `scores` or `k`, and those reads must not keep a demo alive. A student's own cells always run, and
what they read keeps alive the cells that define it; a cell that reaches the namespace by other
means (globals(), exec, get_ipython, a star import, a cell magic, code that does not parse) keeps
every cell before it. Left-out cells carry nbclient's `skip-execution` tag while the grader runs
the notebook, and a line in the feedback saying why they show no output.

What this cannot see is a left-out cell changing an object in place that a later test reads; the
tests check that it does not happen in the release (the reference solution run with every cell
gives the same reports as the golden run without the left-out cells: tests/test_grading.py).
"""
from __future__ import annotations

import ast
import re

import nbformat

from . import pysource
from .notebooks import grade_id

SKIP_TAG = "skip-execution"            # nbclient leaves cells with this tag unexecuted
NOTE = "(not run by the grader: no graded cell depends on this cell, so it has no output here)"
DYNAMIC = {"globals", "locals", "vars", "eval", "exec", "get_ipython", "__import__", "__builtins__",
           "sys", "inspect", "importlib", "builtins"}
MAGIC_LINE = re.compile(r"^\s*[%!].*$", re.MULTILINE)


def names(source: str) -> tuple[set[str], set[str], bool]:
    """(global names the cell binds, global names it or its functions read, whether it may reach
    the namespace in a way these sets do not show)."""
    if source.lstrip().startswith("%%"):
        return set(), set(), True
    code = MAGIC_LINE.sub("", source)
    try:
        table = pysource.symtable(code)
        tree = pysource.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):   # code nested too deep to analyse
        return set(), set(), True
    star = any(isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names) for node in tree.body)
    bound, read = set(), set()
    for symbol in table.get_symbols():
        if symbol.is_assigned() or symbol.is_imported() or symbol.is_namespace():
            bound.add(symbol.get_name())
        if symbol.is_referenced():
            read.add(symbol.get_name())
    stack = list(table.get_children())
    while stack:
        scope = stack.pop()
        stack.extend(scope.get_children())
        for symbol in scope.get_symbols():
            if symbol.is_declared_global() and symbol.is_assigned():
                bound.add(symbol.get_name())
            if symbol.is_global() and symbol.is_referenced():
                read.add(symbol.get_name())
    # symtable does not count `x += 1` or `del x` as reading x; both need an x from before
    read |= {name for node in ast.walk(tree) if isinstance(node, ast.AugAssign) for name in _targets(node.target)}
    read |= {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Del)}
    dynamic = star or bool(read & DYNAMIC) or bool(bound & DYNAMIC)
    return bound, read - own_names(tree), dynamic


def _targets(node) -> list[str]:
    """Plain names an assignment target binds (a, b = ...; *rest); attributes and items bind none."""
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, (ast.Tuple, ast.List)):
        return [name for element in node.elts for name in _targets(element)]
    if isinstance(node, ast.Starred):
        return _targets(node.value)
    return []


def _binds(statement) -> list[str]:
    """Names a top-level statement binds whenever it runs (loops, ifs and trys may not)."""
    if isinstance(statement, ast.Assign):
        return [name for target in statement.targets for name in _targets(target)]
    if isinstance(statement, ast.AnnAssign) and statement.value is not None:
        return _targets(statement.target)
    if isinstance(statement, (ast.Import, ast.ImportFrom)):
        return [(alias.asname or alias.name).split(".")[0] for alias in statement.names]
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [statement.name]
    return []


def _reads(node) -> set[str]:
    """Every name a piece of code may read, nested functions and comprehensions included, less the
    parameters of the functions it is inside (their other locals count: counting too many reads
    only keeps more cells). Iterative: a student's expression may be nested thousands deep."""
    names = set()
    stack = [(node, frozenset())]
    while stack:
        node, parameters = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            arguments = node.args
            own = {a.arg for a in arguments.posonlyargs + arguments.args + arguments.kwonlyargs}
            own |= {a.arg for a in (arguments.vararg, arguments.kwarg) if a is not None}
            outside = [*arguments.defaults, *[d for d in arguments.kw_defaults if d is not None],
                       *getattr(node, "decorator_list", [])]         # evaluated where the function is defined
            stack += [(part, parameters) for part in outside]
            body = node.body if isinstance(node.body, list) else [node.body]
            stack += [(part, parameters | own) for part in body]
            continue
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Store) and node.id not in parameters:
            names.add(node.id)
        elif isinstance(node, ast.AugAssign):
            names.update(set(_targets(node.target)) - parameters)
        stack += [(child, parameters) for child in ast.iter_child_nodes(node)]
    return names


def _steps(statements):
    """(names read, names bound whenever it runs, loop variables) for each statement, in the order they
    run; a with block's body runs straight through, so its statements count as top-level ones."""
    for statement in statements:
        if isinstance(statement, (ast.With, ast.AsyncWith)):
            yield ({name for item in statement.items for name in _reads(item.context_expr)},
                   [name for item in statement.items if item.optional_vars is not None
                    for name in _targets(item.optional_vars)], set())
            yield from _steps(statement.body)
        elif isinstance(statement, (ast.For, ast.AsyncFor)):
            loop_variables = set(_targets(statement.target))
            read = _reads(statement.iter) | _reads(statement.target) - loop_variables
            read |= {name for part in statement.body for name in _reads(part)} - loop_variables
            read |= {name for part in statement.orelse for name in _reads(part)}
            yield read, [], loop_variables
        else:
            yield _reads(statement), _binds(statement), set()


def own_names(tree: ast.Module) -> set[str]:
    """Names whose every read sees the cell's own value, never an earlier cell's: those it binds
    before it first reads them (`scores = f(); print(scores)`), and top-level loop variables read
    only in their loop's body. A function defined before the binding counts as reading at its
    definition."""
    first_bind: dict[str, int] = {}
    first_read: dict[str, int] = {}
    loop_only: set[str] = set()
    index = -1
    for index, (read, bound, loop_variables) in enumerate(_steps(tree.body)):
        for name in read:
            first_read.setdefault(name, index)
        for name in bound:
            first_bind.setdefault(name, index)
        loop_only |= loop_variables - set(first_read)
    loop_only -= set(first_read)                    # read after its loop too: an empty loop binds nothing
    return loop_only | {name for name, i in first_bind.items() if i < first_read.get(name, index + 1)}


def _release_cells(release) -> dict[str, str]:
    """{grade id: source} of the release's locked cells that are neither answers nor tests."""
    cells = {}
    for cell in release.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("locked") and not meta.get("grade") and not meta.get("solution"):
            cells[grade_id(cell)] = cell.source
    return cells


def skippable(notebook, release) -> list[int]:
    """Indices of the cells of `notebook` the grader may leave out (see the module's text)."""
    locked = _release_cells(release)
    needed: set[str] = set()
    everything = False
    skip = []
    for index in range(len(notebook.cells) - 1, -1, -1):
        cell = notebook.cells[index]
        if cell.cell_type != "code":
            continue
        bound, read, dynamic = names(cell.source)
        gid = grade_id(cell)
        candidate = gid in locked and locked[gid] == cell.source and not dynamic
        if candidate and not everything and not (bound & needed):
            skip.append(index)
            continue
        needed |= read
        everything = everything or dynamic
    return sorted(skip)


def leave_out(notebook, release) -> int:
    """Tag the cells the grader leaves out; returns how many. A tag the student set is removed:
    under the grader every other cell runs."""
    for cell in notebook.cells:
        if SKIP_TAG in cell.get("metadata", {}).get("tags", []):
            cell.metadata["tags"] = [t for t in cell.metadata["tags"] if t != SKIP_TAG]
    skip = skippable(notebook, release)
    for index in skip:
        tags = notebook.cells[index].metadata.setdefault("tags", [])
        if SKIP_TAG not in tags:
            tags.append(SKIP_TAG)
        notebook.cells[index].metadata["mmgrade_skipped"] = True
    return len(skip)


def restore(executed) -> None:
    """Untag the left-out cells of an executed notebook and say in each why it has no output."""
    for cell in executed.cells:
        if cell.get("metadata", {}).pop("mmgrade_skipped", False):
            tags = [t for t in cell.metadata.get("tags", []) if t != SKIP_TAG]
            if tags:
                cell.metadata["tags"] = tags
            else:
                cell.metadata.pop("tags", None)
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=NOTE + "\n")]
            cell.execution_count = None
