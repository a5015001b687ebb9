"""Compute budget: a full run for a student, a short one under the autograder.

nbgrader sets NBGRADER_EXECUTION ('autograde' or 'validate') in the kernel it runs; the kit's
own tests set MMKIT_QUICK=1 for the same effect. Training loops ask `budget(full, quick)`.
"""
from __future__ import annotations

import os

__all__ = ["is_autograding", "budget"]


def is_autograding() -> bool:
    """True inside nbgrader (autograde or validate) or when MMKIT_QUICK is set."""
    return bool(os.environ.get("NBGRADER_EXECUTION")) or os.environ.get("MMKIT_QUICK", "0") not in ("", "0")


def budget(full, quick):
    """`full` for a student's run, `quick` under the autograder (a number of steps, a size, ...)."""
    return quick if is_autograding() else full
