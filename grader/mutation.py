"""Mutants and alternatives graded in one shared process per assignment (tests and benchmark only).

Grading a variant of the reference solution (one answer cell changed) through the real grader
costs a whole sandboxed notebook run. But every cell before the changed one is the reference's,
byte for byte, so its state is the reference's too. Here one process runs the prepared reference
notebook (the grader's hidden tests, seeds and kept expected values: autograde.prepare_tests) cell
by cell in an IPython shell, and just before the first changed cell of a variant it forks: the
child carries on with the variant's cells, up to the last test cell the caller needs, and sends
back the outputs of every cell it ran (leaving out the cells the grader would leave out:
grader.pruning). The main line runs every cell up to the last test cell, so that its grades
show that leaving cells out changes none of the reference's reports. The parent judges those
outputs with the grader's own rules (autograde.score: kernel side and golden reports), so a
variant earns here what it earns under
the grader; only the sandbox and the kernel process are missing, which the grading tests of the
real path cover.

    python -m grader.mutation JOB.json     (run by grade_variants; never imported in production)
"""
from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

from mmkit.checks import REPORT_ENV

from . import pruning
from .config import course_config
from .notebooks import answer_cells, grade_id, read, solved

MAIN = "__reference__"          # the unchanged main line, graded as a check of the runner itself


def _outputs(result, captured) -> list[dict]:
    """nbformat outputs of one cell run in the shell: what nbclient would have recorded."""
    outputs = []
    if captured.stdout:
        outputs.append(nbformat.v4.new_output("stream", name="stdout", text=captured.stdout))
    if captured.stderr:
        outputs.append(nbformat.v4.new_output("stream", name="stderr", text=captured.stderr))
    for rich in captured.outputs:
        outputs.append(nbformat.v4.new_output("display_data", data=rich.data, metadata=rich.metadata or {}))
    error = result.error_before_exec or result.error_in_exec
    if error is not None:
        outputs.append(nbformat.v4.new_output("error", ename=type(error).__name__, evalue=str(error), traceback=[]))
    return outputs


class _CellTimeout(Exception):
    pass


def _alarm(signum, frame):
    raise _CellTimeout("the cell ran longer than its time limit")


def _run(shell, source: str, cell_timeout: int) -> list[dict]:
    from IPython.utils.capture import capture_output
    signal.alarm(cell_timeout)
    try:
        with capture_output() as captured:
            result = shell.run_cell(source, store_history=True, silent=False)
    finally:
        signal.alarm(0)
    return _outputs(result, captured)


def serve(job: dict) -> int:
    """Run job["cells"] on the main line; fork each variant at its first changed cell."""
    os.environ.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", NBGRADER_EXECUTION="autograde",
                      MPLBACKEND="Agg", **{REPORT_ENV: "1"})
    import torch
    torch.set_num_threads(1)
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config
    config = Config()
    config.HistoryManager.enabled = False        # forked children must not share a history database
    shell = InteractiveShell.instance(config=config)
    signal.signal(signal.SIGALRM, _alarm)
    out = Path(job["out"])
    cells, variants = job["cells"], job["variants"]
    starts: dict[int, list[str]] = {}
    for name, variant in variants.items():
        starts.setdefault(min(map(int, variant["sources"])), []).append(name)
    running: set[int] = set()

    def reap(block: bool) -> None:
        while running:
            pid, _ = os.waitpid(-1, 0 if block else os.WNOHANG)
            if pid == 0:
                return
            running.discard(pid)
            if block:
                return

    done: list[list[dict] | None] = []
    for index, source in enumerate(cells[: job["main_stop"] + 1]):
        for name in starts.get(index, []):
            while len(running) >= job["workers"]:
                reap(block=True)
            pid = os.fork()
            if pid == 0:                      # the variant: same state, its own cells from here on
                code = 1
                try:
                    variant = variants[name]
                    ran = list(done)
                    for i in range(index, variant["stop"] + 1):
                        ran.append(None if i in variant["skip"] else
                                   _run(shell, variant["sources"].get(str(i), cells[i]), job["cell_timeout"]))
                    (out / f"{name}.json").write_text(json.dumps(ran))
                    code = 0
                finally:
                    os._exit(code)
            running.add(pid)
        done.append(_run(shell, source, job["cell_timeout"]))
        reap(block=False)
    (out / f"{MAIN}.json").write_text(json.dumps(done))
    while running:
        reap(block=True)
    return 0


def prepared_reference(course, assignment: str):
    """The reference submission as the grader runs it (hidden tests, seeds, kept expected values)."""
    from .autograde import prepare_tests
    release, source = read(course.release(assignment)), read(course.source(assignment))
    notebook = solved(release, source)
    prepare_tests(notebook, source)
    return notebook, release, source


def grade_variants(course, assignment: str, variants: dict[str, dict[str, str]], golden: dict,
                   visible_only: bool = False, until: dict[str, list[str]] | None = None,
                   workers: int = 2, cell_timeout: int = 120, timeout: float = 1800) -> dict[str, dict]:
    """{variant: {grade_id: (points, why)}} for variants {name: {answer cell id: new source}}.

    visible_only: the release's test cells as the student has them, judged on the kernel's side
    only (what a student sees: does the cell raise?). until: {name: test cells that must be run};
    the variant's run stops after the last of them (the others are then 'not run'). The unchanged
    reference comes back as MAIN."""
    from .autograde import kernel_verdict, score
    notebook, release, source = prepared_reference(course, assignment)
    if visible_only:
        visible = {grade_id(c): c.source for c in release.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade")}
        notebook.cells = [c for c in notebook.cells if not c.get("id", "").startswith("mmgrade-")]
        for cell in notebook.cells:
            if grade_id(cell) in visible:
                cell.source = visible[grade_id(cell)]
    index = {grade_id(c): i for i, c in enumerate(notebook.cells) if grade_id(c)}
    answers = answer_cells(notebook)
    code = [c.source if c.cell_type == "code" else "" for c in notebook.cells]
    # the main line stops at the last test cell: a cell after it can change no grade
    last_test = max(i for i, c in enumerate(notebook.cells) if c.get("metadata", {}).get("nbgrader", {}).get("grade"))
    job = {"cells": code, "variants": {}, "workers": workers, "cell_timeout": cell_timeout, "main_stop": last_test}
    for name, changes in variants.items():
        for cell_id in changes:
            if cell_id not in answers:
                raise KeyError(f"variant {name}: no answer cell {cell_id!r}")
        needed = (until or {}).get(name)
        stop = max(index[g] for g in needed) if needed else len(code) - 1
        changed = copy.deepcopy(notebook)
        for cell_id, new in changes.items():
            changed.cells[index[cell_id]].source = new
        job["variants"][name] = {"sources": {str(index[c]): s for c, s in changes.items()}, "stop": stop,
                                 "skip": pruning.skippable(changed, release)}   # as the grader would
    with tempfile.TemporaryDirectory(prefix=f"mmgrade-variants-{assignment}-") as tmp:
        job["out"] = tmp
        (Path(tmp) / "job.json").write_text(json.dumps(job))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[1]),
                                                                           os.environ.get("PYTHONPATH")])))
        subprocess.run([sys.executable, "-m", "grader.mutation", str(Path(tmp) / "job.json")], cwd=tmp, env=env,
                       timeout=timeout, check=True, stdout=subprocess.DEVNULL)
        results = {}
        for name in [*variants, MAIN]:
            path = Path(tmp) / f"{name}.json"
            if not path.exists():
                results[name] = {g: (0.0, "the variant's process died") for g in index if g in golden}
                continue
            executed = _executed(notebook, json.loads(path.read_text()))
            if visible_only:        # what a student sees: does the cell raise?
                results[name] = score(executed, release, golden, judge=lambda cell, _: kernel_verdict(cell))
            else:
                results[name] = score(executed, release, golden)
    return results


def _executed(notebook, outputs: list[list[dict]]):
    """The prepared notebook with the outputs of the cells that ran (None: left out; cells after
    the last one sent: never run)."""
    from nbgrader.preprocessors import IgnorePattern
    executed = copy.deepcopy(notebook)
    for n, (cell, cell_outputs) in enumerate(zip(executed.cells, outputs)):
        if cell.cell_type == "code" and cell_outputs is None:       # left out (grader.pruning)
            cell.outputs, cell.execution_count = [], None
        elif cell.cell_type == "code":
            cell.outputs = [nbformat.from_dict(o) for o in cell_outputs]
            cell.execution_count = n + 1
    for cell in executed.cells[len(outputs):]:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    executed, _ = IgnorePattern(config=course_config()).preprocess(executed, {})
    return executed


if __name__ == "__main__":
    sys.exit(serve(json.loads(Path(sys.argv[1]).read_text())))
