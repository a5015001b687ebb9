"""Grade one submission inside its own workspace (run as a child process by grader.autograde).

    python -m grader.worker WORKSPACE ASSIGNMENT STUDENT [CELL_TIMEOUT]
    python -m grader.worker --serve        a fork server: one worker per request line

The workspace is a small course of its own: a copy of the gradebook, the one submitted notebook
(already rebuilt by the pre-check) and the kernelspec of the sandbox. nbgrader autogrades it
there; the parent process reads the executed notebook, scores it and writes the real gradebook,
so a crash here can lose nothing.

The grader starts its workers from the fork server, which imported this module (and so nbgrader)
once: importing nbgrader costs about 3 s, a sixth of grading a notebook. It is a plain fork of a
process that ran nothing but imports, not multiprocessing's forkserver, which would run the
grading script's own main module again in every worker.
"""
from __future__ import annotations

import json
import os
import selectors
import sys
import tempfile
import time
import traceback
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


def forked(argv: list[str], env: dict[str, str]) -> int:
    """main(argv) in a process forked from the server, set up as `python -m grader.worker` would
    be: its own session (the parent kills the whole group on a timeout), the workspace as working
    directory, exactly `env` as environment, no input, and its output in the workspace's OUTPUT."""
    os.setsid()
    workspace = Path(argv[0])
    os.chdir(workspace)
    os.environ.clear()
    os.environ.update(env)
    tempfile.tempdir = None                       # TMPDIR changed: forget the server's choice
    output = os.open(workspace / OUTPUT, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    nothing = os.open(os.devnull, os.O_RDONLY)
    for source, target in [(nothing, 0), (output, 1), (output, 2)]:
        os.dup2(source, target)
    os.close(output)
    os.close(nothing)
    sys.stdout.reconfigure(line_buffering=True)
    sys.stderr.reconfigure(line_buffering=True)
    return main(argv)


def serve() -> int:
    """Read requests on stdin, one JSON line [argv, env] each, and fork a worker for each.
    Writes "started PID" for each request, in order, and "exited PID CODE" when a worker ends.
    Exits when stdin closes and its last worker has ended."""
    requests = sys.stdin.buffer.fileno()
    selector = selectors.DefaultSelector()
    selector.register(requests, selectors.EVENT_READ)
    pending, running, reading = b"", 0, True
    while reading or running:
        if reading and selector.select(timeout=0.05):
            chunk = os.read(requests, 65536)
            reading = bool(chunk)
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                pid = os.fork()
                if pid == 0:
                    _run_child(*json.loads(line))
                running += 1
                print(f"started {pid}", flush=True)
        elif not reading:
            time.sleep(0.05)                      # no more requests: wait for the last workers
        while running:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                break
            running -= 1
            print(f"exited {pid} {os.waitstatus_to_exitcode(status)}", flush=True)
    return 0


def _run_child(argv: list[str], env: dict[str, str]) -> None:
    """The forked worker: never returns into the server's loop."""
    code = 1
    try:
        code = forked(argv, env)
    except SystemExit as exit:
        code = exit.code if isinstance(exit.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":
    sys.exit(serve() if sys.argv[1:] == ["--serve"] else main(sys.argv[1:]))
