"""Python source parsed under one lock.

CPython 3.11 keeps the AST constructor's recursion counter in interpreter-wide state. When two
threads build ASTs at once (a garbage collection in one can hand the interpreter to the other
half-way through), one of them raises SystemError "AST constructor recursion depth mismatch"
(python/cpython#106905). The grader prepares submissions and records golden reports in thread
pools, so every parse of a cell goes through here.
"""
from __future__ import annotations

import ast
import symtable as _symtable
import threading

_LOCK = threading.Lock()


def parse(source: str) -> ast.Module:
    with _LOCK:
        return ast.parse(source)


def symtable(source: str) -> _symtable.SymbolTable:
    with _LOCK:
        return _symtable.symtable(source, "<cell>", "exec")
