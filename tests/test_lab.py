"""What JupyterLab shows a student and an instructor (python -m mmkit.lab, make lab): the page
config JupyterLab serves and the server extensions it answers for."""
from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

pytestmark = pytest.mark.slow

INSTRUCTOR_PLUGINS = {"@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment", "@jupyter/nbgrader:course-list"}
STUDENT_PLUGINS = {"@jupyter/nbgrader:assignment-list", "@jupyter/nbgrader:validate-assignment"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""
    except (urllib.error.URLError, OSError):         # not listening yet
        return 0, ""


@pytest.fixture(params=["student", "instructor"])
def lab(request, tmp_path):
    port, token = free_port(), "kit-test"
    role = ["--instructor"] if request.param == "instructor" else []
    process = subprocess.Popen([sys.executable, "-m", "mmkit.lab", *role, "--no-browser", "--allow-root",
                                f"--port={port}", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={tmp_path}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while get(f"{base}/api/status?token={token}")[0] != 200:
            assert process.poll() is None and time.monotonic() < deadline, "JupyterLab did not start"
            time.sleep(0.5)
        yield request.param, base, token
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_students_see_the_student_tools_only(lab):
    role, base, token = lab
    status, page = get(f"{base}/lab?token={token}")
    assert status == 200
    config = json.loads(re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', page, re.S).group(1))
    disabled = set(config.get("disabledExtensions", []))
    formgrader = get(f"{base}/formgrader?token={token}")[0]
    if role == "student":
        assert INSTRUCTOR_PLUGINS <= disabled and not STUDENT_PLUGINS & disabled, disabled
        assert formgrader == 404
    else:
        assert not (INSTRUCTOR_PLUGINS | STUDENT_PLUGINS) & disabled, disabled
        assert formgrader != 404
