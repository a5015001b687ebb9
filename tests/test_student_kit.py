"""The student kit: nothing an instructor keeps, and it installs and runs on its own."""
import subprocess
import sys
import sysconfig
import zipfile

import pytest

from grader.student_kit import build_student_kit


def test_the_kit_holds_what_students_need_and_nothing_of_the_instructors(tmp_path):
    names = zipfile.ZipFile(build_student_kit(tmp_path / "kit.zip")).namelist()
    assert {"README.md", "pyproject.toml", "environment.yml", "src/mmkit/checks.py",
            "notebooks/clip/clip.ipynb", "data/MANIFEST.json", "data/checkpoints/lm.pt"} <= set(names)
    assert not [n for n in names if n.split("/")[0] in ("solutions", "grader", "tests")]
    assert not [n for n in names if n.startswith("data/") and n.endswith(".py")], "builders run the solutions"
    with zipfile.ZipFile(tmp_path / "kit.zip") as bundle:
        for name in names:
            if name.endswith(".ipynb"):
                text = bundle.read(name).decode()
                assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text, name


@pytest.mark.slow
def test_the_kit_installs_in_an_empty_folder_and_validates_a_notebook(tmp_path):
    folder = tmp_path / "student"
    zipfile.ZipFile(build_student_kit(tmp_path / "kit.zip")).extractall(folder)
    env = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    python = env / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    # The kit's own packages stand in for the ones pip would download: the environment gets them
    # through a path entry, and pip installs the student kit itself, from the folder, without them.
    with open(f"{site}/kit-dependencies.pth", "w") as pth:
        pth.write(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", str(folder)],
                   check=True, cwd=tmp_path)
    where = subprocess.run([str(python), "-c", "import mmkit; print(mmkit.__file__)"], cwd=tmp_path,
                           capture_output=True, text=True, check=True).stdout
    assert where.startswith(site), f"mmkit was imported from {where}, not the student's install"
    result = subprocess.run([str(python), "-m", "nbgrader", "validate", "notebooks/llava/llava.ipynb"],
                            cwd=folder, capture_output=True, text=True, timeout=600)
    assert "VALIDATION FAILED" in result.stdout, result.stdout[-2000:] + result.stderr[-2000:]
    assert "NotImplementedError" in result.stdout
