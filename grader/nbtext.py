"""Edit a source notebook as text: solutions/<a>/<a>.ipynb <-> a percent-format .py file.

    python -m grader.nbtext export solutions/clip/clip.ipynb /tmp/clip.py
    python -m grader.nbtext import /tmp/clip.py solutions/clip/clip.ipynb

The notebook stays the single source of truth; the text form is for editing and reviewing it
in any editor. A cell starts with a marker line:

    # %% [markdown]                  a text cell (each line behind '# ')
    # %%                             a free code cell (students may change it)
    # %% readonly id=setup           a locked code cell
    # %% solution id=clip_loss       an answer cell (### BEGIN/END SOLUTION inside)
    # %% tests id=test_loss points=2 a graded test cell (### BEGIN/END HIDDEN TESTS inside)
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

MARKER = re.compile(r"^# %%(.*)$")


def _nbgrader(kind: str, grade_id: str, points: float = 0) -> dict:
    meta = {"grade": kind == "tests", "solution": kind == "solution", "locked": kind != "solution",
            "grade_id": grade_id, "schema_version": 3}
    if kind == "tests":
        meta["points"] = points
    return meta


def text_to_notebook(text: str) -> nbformat.NotebookNode:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata = {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python",
                                        "name": "python3"},
                         "language_info": {"name": "python"}}
    blocks = []
    for line in text.split("\n"):
        match = MARKER.match(line)
        if match:
            blocks.append([match.group(1).strip(), []])
        elif blocks:
            blocks[-1][1].append(line)
    for header, lines in blocks:
        while lines and not lines[-1].strip():
            lines.pop()
        if header == "[markdown]":
            body = "\n".join(l[2:] if l.startswith("# ") else l.lstrip("#") for l in lines)
            notebook.cells.append(nbformat.v4.new_markdown_cell(body))
            continue
        words = header.split()
        options = dict(w.split("=", 1) for w in words if "=" in w)
        kind = next((w for w in words if w in ("readonly", "solution", "tests")), None)
        cell = nbformat.v4.new_code_cell("\n".join(lines))
        if kind:
            if "id" not in options:
                raise ValueError(f"cell '# %% {header}' needs an id=...")
            cell.metadata["nbgrader"] = _nbgrader(kind, options["id"], float(options.get("points", 0)))
        notebook.cells.append(cell)
    for index, cell in enumerate(notebook.cells):       # stable cell ids: clean diffs
        cell["id"] = cell.metadata.get("nbgrader", {}).get("grade_id", f"cell-{index}")
    return notebook


def notebook_to_text(notebook) -> str:
    parts = []
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            body = "\n".join(("# " + l) if l else "#" for l in cell.source.split("\n"))
            parts.append(f"# %% [markdown]\n{body}")
            continue
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade"):
            points = meta.get("points", 0)
            header = f" tests id={meta['grade_id']} points={points:g}"
        elif meta.get("solution"):
            header = f" solution id={meta['grade_id']}"
        elif meta.get("locked"):
            header = f" readonly id={meta['grade_id']}"
        else:
            header = ""
        parts.append(f"# %%{header}\n{cell.source}")
    return "\n\n".join(parts) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] not in ("export", "import"):
        print(__doc__)
        return 2
    source, target = Path(argv[1]), Path(argv[2])
    if argv[0] == "export":
        target.write_text(notebook_to_text(nbformat.read(str(source), as_version=4)))
    else:
        nbformat.write(text_to_notebook(source.read_text()), str(target))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
