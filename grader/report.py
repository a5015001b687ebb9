"""A class report: one self-contained HTML page per assignment that shows where the class struggled.

    python -m grader report clip       # grader/work/report-clip.html

It reads the per-student records that grading wrote (grader/work/records/<assignment>/), so it
needs no notebook and no kernel: the score histogram, the pass rate of every test cell (hardest
first, named by the task it checks), the statuses with their reasons, the flagged submissions with
the scan's reasons, and the seconds each notebook took. Plots are PNGs embedded in the page.
"""
from __future__ import annotations

import base64
import html
import io
import re
from collections import Counter
from pathlib import Path

import nbformat

from .course import Course, Record
from .exports import records


def task_names(course: Course, assignment: str) -> dict[str, str]:
    """grade_id of each test cell -> the task it checks ("Task 3"), from the released notebook."""
    path = course.release(assignment)
    if not path.exists():
        return {}
    names, task = {}, ""
    for cell in nbformat.read(str(path), as_version=4).cells:
        found = re.search(r"\*\*Task (\d+)\.\*\*", cell.source) if cell.cell_type == "markdown" else None
        if found:
            task = f"Task {found.group(1)}"
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id and cell.metadata["nbgrader"].get("grade") and task:
            names[grade_id] = task
    return names


def pass_rates(rows: list[Record]) -> dict[str, tuple[float, int]]:
    """grade_id -> (share of the graded submissions with full marks on that cell, how many were graded)."""
    full, seen = Counter(), Counter()
    for record in rows:
        if record.status != "graded":
            continue
        for grade_id, cell in record.cells.items():
            seen[grade_id] += 1
            full[grade_id] += float(cell.get("score") or 0) >= float(cell.get("max_score") or 0) > 0
    return {grade_id: (full[grade_id] / seen[grade_id], seen[grade_id]) for grade_id in seen}


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return f'<img alt="plot" src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}">'


def _plots(rows: list[Record], rates: dict, names: dict) -> dict[str, str]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    plots = {}
    scores = [100 * r.score / r.max_score for r in rows if r.max_score]
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.hist(scores, bins=[i * 5 for i in range(21)], color="tab:blue", edgecolor="white")
    ax.set_xlabel("score (% of the points)")
    ax.set_ylabel("submissions")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))       # counts of submissions are whole
    ax.set_title(f"{len(scores)} submissions", fontsize=10)
    plots["scores"] = _png(fig)
    plt.close(fig)

    ordered = sorted(rates, key=lambda g: rates[g][0])
    fig, ax = plt.subplots(figsize=(6, 0.35 * len(ordered) + 1))
    ax.barh([f"{g} ({names[g]})" if g in names else g for g in ordered], [100 * rates[g][0] for g in ordered],
            color="tab:orange")
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("graded submissions with full marks on the cell (%)")
    plots["cells"] = _png(fig)
    plt.close(fig)

    seconds = [r.seconds for r in rows if r.seconds]
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.hist(seconds, bins=20, color="tab:green", edgecolor="white")
    ax.set_xlabel("seconds to grade one notebook")
    ax.set_ylabel("submissions")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))       # counts of submissions are whole
    plots["seconds"] = _png(fig)
    plt.close(fig)
    return plots


def _table(header: list[str], body: list[list]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    rows = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in body)
    return f"<table><tr>{head}</tr>{rows}</table>"


def report(course: Course, assignment: str, out: Path | None = None, slowest: int = 5) -> Path:
    """Write the class report of `assignment` and return its path."""
    rows = records(course, assignment)
    if not rows:
        raise SystemExit(f"no graded submissions of {assignment} in {course.work / 'records' / assignment}: "
                         f"run `python -m grader autograde {assignment}` first")
    names = task_names(course, assignment)
    rates = pass_rates(rows)
    plots = _plots(rows, rates, names)
    statuses = Counter(r.status for r in rows)
    graded = [r for r in rows if r.status == "graded" and r.max_score]
    mean = sum(r.score / r.max_score for r in graded) / len(graded) if graded else float("nan")
    hardest = sorted(rates, key=lambda g: rates[g][0])[:3]
    summary = (f"{len(rows)} submissions: " + ", ".join(f"{n} {s}" for s, n in statuses.most_common())
               + (f". Mean score of the graded ones {100 * mean:.0f}%." if graded else ".")
               + (" Hardest test cells: " + ", ".join(f"{g} ({100 * rates[g][0]:.0f}% full marks)" for g in hardest)
                  + "." if hardest else ""))
    not_graded = [[r.student, r.status, r.reason or "(no reason recorded)"] for r in rows if r.status != "graded"]
    flagged = [[r.student, r.reason] for r in rows if r.status == "flagged"]
    slow = sorted(rows, key=lambda r: r.seconds, reverse=True)[:slowest]
    cells = [[g, names.get(g, ""), f"{100 * rates[g][0]:.0f}%", rates[g][1]] for g in sorted(rates, key=lambda g: rates[g][0])]
    page = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Class report: {html.escape(assignment)}</title>
<style>body {{ font-family: sans-serif; max-width: 60em; margin: 2em auto; }}
table {{ border-collapse: collapse; margin: 1em 0; }} td, th {{ border: 1px solid #ccc; padding: 0.3em 0.6em;
text-align: left; vertical-align: top; }} th {{ background: #f3f3f3; }}</style></head>
<body>
<h1>Class report: {html.escape(assignment)}</h1>
<p>{html.escape(summary)}</p>
<h2>Scores</h2>
{plots["scores"]}
<h2>Where the class struggled</h2>
<p>For each test cell, the share of the graded submissions that earned all its points (hardest first).</p>
{plots["cells"]}
{_table(["test cell", "task", "full marks", "graded"], cells)}
<h2>Statuses</h2>
{_table(["status", "submissions"], [[s, n] for s, n in statuses.most_common()])}
{_table(["student", "status", "reason"], not_graded) if not_graded else "<p>Every submission was graded.</p>"}
<h2>Flagged for a look</h2>
{_table(["student", "the scan's reasons"], flagged) if flagged else "<p>No submission was flagged.</p>"}
<h2>Time</h2>
{plots["seconds"]}
{_table(["student", "seconds", "status"], [[r.student, f"{r.seconds:.1f}", r.status] for r in slow])}
</body></html>
"""
    out = out or course.work / f"report-{assignment}.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page)
    return out
