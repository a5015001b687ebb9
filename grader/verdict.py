"""Verdicts decided by the grader, outside the student's process.

In a graded kernel every check of mmkit.checks sends a report (what it compared) as a display
output before it judges. The grader reads the reports of each test cell from the executed
notebook and judges them again here, with mmkit.checks.judge in the grader's own process, where
nothing the student's code patched (numpy, torch, the checks, builtins, IPython) exists:

- the expected values, tolerances and hints come from the *golden* reports, recorded from the
  reference solution's run when the assignment is released and kept with the gradebook, never
  in a sandbox; only the student's side of each check (their value, type, shape, or a
  condition) comes from the student's run (a check written with golden=False compares with the
  expected value of the student's own run, for a task that leaves a choice open);
- a test cell passes only if its kernel raised nothing AND it sent exactly the reference's
  sequence of checks AND every one of them passes here. A check that was removed, skipped,
  wrapped or silenced sends nothing (or something else) and fails the cell.
"""
from __future__ import annotations

import ast
import hashlib
import json
from pathlib import Path

from mmkit.checks import GOLDEN, REPORT_MIME, CheckFailed, decode, judge

from . import pysource

KEPT = "_mmgrade_kept"            # in a graded kernel: lambda value: mmkit.checks.GOLDEN
HIDDEN_MARKERS = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")

STUDENT_SIDE = {"true": ["holds", "message"], "type": ["yours", "yours_desc"], "dtype": ["yours"],
                "shape": ["yours", "yours_desc"], "close": ["yours"], "equal": ["yours"]}
GOLDEN_VERSION = 3          # bump when what a golden run records changes (seeds before test cells, cells left out)


def reports(cell) -> list:
    """The check reports a cell sent, in order."""
    found = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "display_data" and REPORT_MIME in output.get("data", {}):
            found.append(output["data"][REPORT_MIME])
    return found


def without_reports(cell) -> None:
    """Drop the report outputs from a cell (they are for the grader, not for feedback)."""
    if cell.get("outputs"):
        cell.outputs = [o for o in cell.outputs
                        if not (o.get("output_type") == "display_data" and REPORT_MIME in o.get("data", {}))]


def judge_cell(sent: list, golden: list) -> str:
    """'' if the checks a cell sent pass against the golden ones, else the first failure's message."""
    for index, expected in enumerate(golden):
        if index >= len(sent):
            return (f"only {len(sent)} of the {len(golden)} checks of this cell reported a result to the "
                    "grader: a check was skipped, removed or silenced")
        report = sent[index]
        if not isinstance(report, dict) or report.get("check") != expected["check"]:
            return (f"check {index + 1} of this cell is not the test's own check "
                    f"({expected['check']} {expected['name']!r}): the test code did not run as written")
        merged = dict(expected)
        for key in STUDENT_SIDE[expected["check"]]:
            merged[key] = report.get(key)
        if expected["check"] in ("close", "equal") and not expected.get("golden", True):
            merged["expected"] = report.get("expected")
        try:
            if expected["check"] in ("close", "equal") and decode(merged["expected"]) is GOLDEN:
                raise ValueError("no expected value was recorded")
            judge(merged)
        except CheckFailed as failure:
            return str(failure)
        except Exception as error:           # malformed report data: never trusted, never a crash
            return f"{expected['name']}: the grader could not read this check's result ({type(error).__name__})"
    if len(sent) > len(golden):
        return (f"this cell reported {len(sent)} checks where the test makes {len(golden)}: the extra "
                "results did not come from the test's own checks")
    return ""


def keep_expected_values(source: str) -> str:
    """The test cell with the expected argument E of each hidden check_close / check_equal (unless
    golden=False) wrapped as KEPT(E), a function that drops its value and returns
    mmkit.checks.GOLDEN: E still runs (whatever it draws or changes happens as in the reference
    run), but the check never receives it, so a check rewritten to pass the expected value off as
    the student's has nothing to pass off; the grader compares with the reference run's value.
    Only those argument spans change; the visible part stays byte for byte."""
    lines = source.split("\n")
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == HIDDEN_MARKERS[0]) + 1
        end = next(i for i, line in enumerate(lines) if line.strip() == HIDDEN_MARKERS[1]) + 1
        tree = pysource.parse(source)
    except (StopIteration, SyntaxError):
        return source
    spans = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and start < node.lineno < end):
            continue
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
        if name not in ("check_close", "check_equal"):
            continue
        if any(k.arg == "golden" and isinstance(k.value, ast.Constant) and k.value.value is False for k in node.keywords):
            continue
        expected = node.args[1] if len(node.args) > 1 else next((k.value for k in node.keywords if k.arg == "expected"), None)
        if expected is not None:
            spans.append((expected.lineno, expected.col_offset, expected.end_lineno, expected.end_col_offset))
    data = [line.encode("utf-8") for line in lines]     # ast offsets count UTF-8 bytes
    for first, col, last, end_col in sorted(spans, reverse=True):
        head, tail = data[first - 1][:col], data[last - 1][end_col:]
        span = b"\n".join([data[first - 1][col:]] + data[first:last])[: -len(tail) or None] if last > first \
            else data[first - 1][col:end_col]
        kept_lines = (head + KEPT.encode() + b"(" + span + b")" + tail).split(b"\n")
        data[first - 1:last] = kept_lines
    kept = "\n".join(line.decode("utf-8") for line in data)
    pysource.parse(kept)
    return kept


# ---- golden reports ---------------------------------------------------------------------------

def release_fingerprint(release, source) -> str:
    """What the golden reports depend on: every cell of the release and the source's test cells
    and answers. A change of any of them calls for new golden reports."""
    digest = hashlib.sha256()
    for notebook in (release, source):
        for cell in notebook.cells:
            digest.update(cell.cell_type.encode() + b"\0" + cell.source.encode("utf-8", "replace") + b"\0")
    return digest.hexdigest()


def save_golden(path: Path, fingerprint: str, cells: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"version": GOLDEN_VERSION, "release": fingerprint, "cells": cells}))
    tmp.replace(path)


def load_golden(path: Path, fingerprint: str) -> dict | None:
    """{grade_id: [reports]} if the file holds the golden reports of this release, else None."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if data.get("version") != GOLDEN_VERSION or data.get("release") != fingerprint:
        return None
    return data["cells"]
