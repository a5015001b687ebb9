"""Grade one submission inside its own workspace (run as a child process by grader.autograde).

    python -m grader.worker WORKSPACE ASSIGNMENT STUDENT [CELL_TIMEOUT]

The workspace is a small course of its own: a copy of the gradebook, the one submitted notebook
(already rebuilt by the pre-check) and the kernelspec of the sandbox. nbgrader autogrades it
there; the parent process reads the executed notebook, scores it and writes the real gradebook,
so a crash here can lose nothing.

The grader starts workers with `forked`, from a fork server that imported this module (and so
nbgrader) once: importing nbgrader costs about 3 s, more than a tenth of grading one notebook.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

from nbconvert.preprocessors import ClearMetadataPreprocessor
from nbgrader.apps import NbGraderAPI
from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, IgnorePattern, LimitOutput,
                                    SaveAutoGrades)

from .config import course_config
from .preprocessors import SafeExecute
from .sandbox import KERNEL_NAME

OUTPUT = "worker-output.txt"   # what the worker printed, in its workspace


def main(argv: list[str]) -> int:
    workspace, assignment, student = Path(argv[0]), argv[1], argv[2]
    cell_timeout = int(argv[3]) if len(argv) > 3 else None
    config = course_config(workspace)
    config.Execute.kernel_name = KERNEL_NAME      # the sandboxed kernelspec the parent wrote
    if cell_timeout:
        config.Execute.timeout = cell_timeout
    config.KernelManager.transport = "ipc"        # Unix sockets: the kernel has no network
    config.KernelManager.ip = str(workspace / "runtime" / "kernel")   # socket files, shared with the sandbox
    config.Autograde.autograde_preprocessors = [SafeExecute, IgnorePattern, ClearMetadataPreprocessor,
                                                LimitOutput, SaveAutoGrades, AssignLatePenalties,
                                                CheckCellMetadata]
    api = NbGraderAPI(config=config)
    result = api.autograde(assignment, student, force=True, create=True)
    (workspace / "worker-result.json").write_text(json.dumps(
        {"success": bool(result.get("success")), "error": result.get("error") or "",
         "log": result.get("log") or ""}))
    return 0 if result.get("success") else 1


def forked(argv: list[str], env: dict[str, str]) -> None:
    """main(argv) in a process forked from the fork server, set up as `python -m grader.worker`
    would be: its own session (the parent kills the whole group on a timeout), the workspace as
    working directory, exactly `env` as environment, and its output in the workspace's OUTPUT."""
    os.setsid()
    workspace = Path(argv[0])
    os.chdir(workspace)
    os.environ.clear()
    os.environ.update(env)
    tempfile.tempdir = None                       # TMPDIR changed: forget the server's choice
    output = os.open(workspace / OUTPUT, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(output, 1)
    os.dup2(output, 2)
    os.close(output)
    sys.stdout.reconfigure(line_buffering=True)
    sys.stderr.reconfigure(line_buffering=True)
    sys.exit(main(argv))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
