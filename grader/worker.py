"""Grade one submission inside its own workspace (run as a child process by grader.autograde).

    python -m grader.worker WORKSPACE ASSIGNMENT STUDENT

The workspace is a small course of its own: a copy of the gradebook and the one submitted
notebook. nbgrader autogrades it there; the parent process reads the grades back and writes
them into the real gradebook, so a crash here can lose nothing.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    workspace, assignment, student = Path(argv[0]), argv[1], argv[2]
    from nbgrader.apps import NbGraderAPI
    from .config import course_config

    api = NbGraderAPI(config=course_config(workspace))
    result = api.autograde(assignment, student, force=True, create=True)
    (workspace / "worker-result.json").write_text(json.dumps(
        {"success": bool(result.get("success")), "error": result.get("error") or "",
         "log": result.get("log") or ""}))
    return 0 if result.get("success") else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
