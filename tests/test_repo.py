"""The repository's promises: matching environments, a two-command quick start, CI that installs."""
import os
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONDA_TO_PIP = {"pytorch-cpu": "torch", "pysoundfile": "soundfile"}


def requirement_name_and_spec(text: str):
    name, spec = re.match(r"^\s*([A-Za-z0-9_.-]+)\s*(.*)$", text).groups()
    return CONDA_TO_PIP.get(name.lower(), name.lower()), spec.replace(" ", "")


def test_environment_yml_and_pyproject_list_the_same_packages():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip = dict(requirement_name_and_spec(r) for r in project["dependencies"] + project["optional-dependencies"]["test"])
    lines = (ROOT / "environment.yml").read_text().split("\n")
    start = lines.index("dependencies:")
    conda = {}
    for line in lines[start + 1:]:
        item = line.strip()
        if not item.startswith("- ") or item in ("- pip", "- pip:") or line.startswith("      "):
            continue
        name, spec = requirement_name_and_spec(item[2:])
        if name != "python":
            conda[name] = spec
    assert conda == pip, f"environment.yml and pyproject.toml differ: {set(conda.items()) ^ set(pip.items())}"
    assert pip["torch"] == "==2.13.0"


def test_readme_quick_start_is_two_commands():
    readme = (ROOT / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"^(make \w+)\s*$", quick.split("```")[1], flags=re.M)
    assert commands == ["make demo", "make test"]
    for section in ["## For students", "## For instructors", "## For self-learners", "## Results"]:
        assert section in readme


def test_makefile_targets_and_ci():
    makefile = (ROOT / "Makefile").read_text()
    for target in ["setup", "demo", "test", "lab", "release", "data", "bench"]:
        assert re.search(rf"^{target}:", makefile, flags=re.M), f"make {target} is missing"
    ci = ROOT / ".ci" / "run"
    assert os.access(ci, os.X_OK)
    assert "make test" in ci.read_text()


def test_solutions_hold_only_notebooks():
    """nbgrader copies every file of solutions/<a>/ into the release and the autograded folder."""
    for folder in (ROOT / "solutions").iterdir():
        files = [p.name for p in folder.rglob("*") if p.is_file() and ".ipynb_checkpoints" not in p.parts]
        assert files == [f"{folder.name}.ipynb"], f"solutions/{folder.name} holds {files}"


def test_every_code_cell_of_a_solution_has_a_grade_id():
    """The pre-check identifies a submission's cells by grade id: a code cell without one would be kept
    from the release and added again from the submission, and scanned as the student's own code."""
    import json
    for folder in sorted((ROOT / "solutions").iterdir()):
        cells = json.loads((folder / f"{folder.name}.ipynb").read_text())["cells"]
        unnamed = [i for i, c in enumerate(cells)
                   if c["cell_type"] == "code" and not c["metadata"].get("nbgrader", {}).get("grade_id")]
        assert not unnamed, f"solutions/{folder.name}: code cells {unnamed} have no nbgrader grade_id (make them read-only)"


def grader_imports() -> dict:
    """{module: grader modules it imports, at the top or inside a function} for grader/*.py."""
    import ast
    graph = {}
    for path in sorted((ROOT / "grader").glob("*.py")):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                names |= {node.module} if node.module else {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("grader."):
                names.add(node.module.split(".")[1])
        graph[path.stem] = {n.split(".")[0] for n in names}
    return graph


def test_the_grader_has_no_import_cycle_and_its_production_path_no_samples():
    graph = grader_imports()

    def reach(start):
        seen, todo = set(), [start]
        while todo:
            for nxt in graph.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen
    cycles = [m for m in graph if m in reach(m)]
    assert not cycles, f"import cycles through {cycles}"
    for production in ["autograde", "worker", "precheck", "verdict", "integrity", "sandbox", "release", "collect",
                       "exports", "shards", "gradescope", "student_kit", "pruning"]:
        assert not reach(production) & {"samples", "mutants", "mutation", "cli"}, f"{production} imports test or demo code"
