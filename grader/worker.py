"""Run one submission's notebook inside its own workspace (a child process of grader.autograde).

    python -m grader.worker WORKSPACE [CELL_TIMEOUT]
    python -m grader.worker --serve        a fork server: one worker per request line

The workspace holds the notebook the pre-check rebuilt (submitted.ipynb), the kernelspec of
the sandbox and the kernel's folders. The worker executes the notebook there with nbgrader's
Execute (SafeExecute), its stderr filter and its output limits, and writes executed.ipynb. It
grades nothing and touches no gradebook: the parent reads the executed notebook, decides every
verdict (grader.verdict) and writes the one record and the real gradebook, so a crash here can
lose nothing.

The grader starts its workers from the fork server, which imported this module (and so nbgrader
and nbclient) once: the imports cost seconds, a good part of running a notebook. It is a plain
fork of a process that ran nothing but imports, not multiprocessing's forkserver, which would run
the grading script's own main module again in every worker.
"""
from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

import nbformat
from nbgrader.preprocessors import IgnorePattern, LimitOutput

from .config import course_config
from .preprocessors import SafeExecute
from .sandbox import KERNEL_NAME

OUTPUT = "worker-output.txt"      # what the worker printed, in its workspace
SUBMITTED = "submitted.ipynb"     # the rebuilt notebook, written by the parent
EXECUTED = "executed.ipynb"       # the notebook after the run, read by the parent
SCRATCH = "scratch"               # the kernel's working folder (the only one it may write)


def main(argv: list[str]) -> int:
    workspace = Path(argv[0])
    cell_timeout = int(argv[1]) if len(argv) > 1 else None
    config = course_config(workspace)
    config.Execute.kernel_name = KERNEL_NAME      # the sandboxed kernelspec the parent wrote
    if cell_timeout:
        config.Execute.timeout = cell_timeout
    config.KernelManager.transport = "ipc"        # Unix sockets: the kernel has no network
    config.KernelManager.ip = str(workspace / "runtime" / "kernel")   # socket files, shared with the sandbox
    os.environ["NBGRADER_EXECUTION"] = "autograde"   # the notebooks' short budgets (mmkit.budget)
    notebook = nbformat.read(str(workspace / SUBMITTED), as_version=4)
    resources = {"metadata": {"path": str(workspace / SCRATCH)}}
    for step in (SafeExecute, IgnorePattern, LimitOutput):
        notebook, resources = step(config=config).preprocess(notebook, resources)
    nbformat.write(notebook, str(workspace / EXECUTED))
    return 0


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
    Exits when stdin closes and its last worker has ended. A batch closes stdin only after its last
    worker ended, so workers still running then were asked for by a grader that is gone (killed or
    crashed): nobody will read what they write, and they are killed, sandboxed kernels included."""
    requests = sys.stdin.buffer.fileno()
    selector = selectors.DefaultSelector()
    selector.register(requests, selectors.EVENT_READ)
    pending, running, reading = b"", set(), True
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
                running.add(pid)
                _tell(f"started {pid}")
        elif not reading:
            for pid in running:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)    # each worker leads its own session
            time.sleep(0.05)
        while running:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                break
            running.discard(pid)
            _tell(f"exited {pid} {os.waitstatus_to_exitcode(status)}")
    return 0


def _tell(line: str) -> None:
    """A line to the grader; if it has gone, the line has no reader and this and later lines are dropped."""
    try:
        print(line, flush=True)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())   # no error again at exit


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
