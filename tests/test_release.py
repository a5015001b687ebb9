"""The student notebooks: in sync with solutions/, free of solutions and hidden tests, well formed."""
import json
from pathlib import Path

import pytest

from grader import nbtext, samples
from grader.course import Course

ROOT = Path(__file__).resolve().parents[1]
COURSE = Course(ROOT)
ASSIGNMENTS = COURSE.assignments()


def regions(source: str, begin: str, end: str) -> list[str]:
    out, inside = [], False
    for line in source.split("\n"):
        if begin in line:
            inside = True
        elif end in line:
            inside = False
        elif inside:
            out.append(line)
    return out


def test_there_are_assignments():
    assert {"clip", "llava"} <= set(ASSIGNMENTS)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_is_what_nbgrader_generates(released_course, assignment):
    generated = json.loads(released_course.release(assignment).read_text())
    committed = json.loads(COURSE.release(assignment).read_text())
    for i, (a, b) in enumerate(zip(generated["cells"], committed["cells"])):
        assert a == b, f"notebooks/{assignment} cell {i} differs from a fresh release: run `make release`"
    assert generated == committed, f"notebooks/{assignment} is out of date: run `make release`"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_holds_no_solution_and_no_hidden_test(assignment):
    source = samples.read(COURSE.source(assignment))
    text = COURSE.release(assignment).read_text()
    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text
    secret = []
    for cell in source.cells:
        secret += regions(cell.source, "### BEGIN SOLUTION", "### END SOLUTION")
        secret += regions(cell.source, "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
    released = "\n".join(c.source for c in samples.read(COURSE.release(assignment)).cells)
    leaked = [line.strip() for line in secret if len(line.strip()) > 30 and line.strip() in released]
    assert not leaked, f"solution or hidden-test lines in notebooks/{assignment}: {leaked[:3]}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_graded_cells_have_visible_and_hidden_tests(assignment):
    source = samples.read(COURSE.source(assignment))
    ids = [c.metadata["nbgrader"]["grade_id"] for c in source.cells if "nbgrader" in c.metadata]
    assert len(ids) == len(set(ids)), "duplicated grade ids"
    tests = [c for c in source.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert len(tests) >= 8
    for cell in tests:
        visible, _, rest = cell.source.partition("### BEGIN HIDDEN TESTS")
        assert "check_" in visible, f"{cell.metadata.nbgrader.grade_id} has no visible check"
        assert "check_" in rest, f"{cell.metadata.nbgrader.grade_id} has no hidden check"
        assert cell.metadata.nbgrader.points > 0


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_answer_cells_are_stubs(assignment):
    release = samples.read(COURSE.release(assignment))
    for gid, cell in samples.answer_cells(release).items():
        assert "raise NotImplementedError()" in cell.source, f"{gid} is not a stub"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_mutants_and_alternatives_apply(assignment):
    release = samples.read(COURSE.release(assignment))
    reference = samples.solved(release, samples.read(COURSE.source(assignment)))
    mutants, alternatives, demo = samples.catalogue(assignment)
    answer_ids = set(samples.answer_cells(release))
    graded_ids = {c.metadata["nbgrader"]["grade_id"] for c in release.cells
                  if c.metadata.get("nbgrader", {}).get("grade")}
    for mutant in mutants:
        samples.mutate(reference, mutant)            # raises if the text is not there exactly once
        assert set(mutant.loses) <= graded_ids
    assert {m.cell for m in mutants} == answer_ids, "every answer cell needs at least one mutant"
    assert len({a.cell for a in alternatives}) >= 3
    for alternative in alternatives:
        samples.substitute(reference, alternative)
    assert set(demo) <= {m.name for m in mutants} and len(demo) >= 2


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_text_form_round_trips(assignment):
    notebook = samples.read(COURSE.source(assignment))
    again = nbtext.text_to_notebook(nbtext.notebook_to_text(notebook))
    assert [c.source for c in again.cells] == [c.source for c in notebook.cells]
    assert [c.metadata.get("nbgrader") for c in again.cells] == [c.metadata.get("nbgrader") for c in notebook.cells]


def test_a_release_nbgrader_refuses_keeps_the_old_one_and_says_what_to_do(tmp_path, quiz_kit):
    """nbgrader cannot add or remove cells of a notebook with submissions, and its force removes the
    old release before it finds out: the kit's release puts it back and says what to do."""
    from nbgrader.api import Gradebook

    from grader.release import make_course, release
    from tests.quiz import ASSIGNMENT
    course = make_course(tmp_path / "course", [ASSIGNMENT], kit=quiz_kit)
    with Gradebook(course.db_url) as gradebook:
        gradebook.add_student("ada")
        gradebook.add_submission(ASSIGNMENT, "ada")
    before = course.release(ASSIGNMENT).read_text()
    source = json.loads(course.source(ASSIGNMENT).read_text())
    locked = next(c for c in source["cells"] if c["metadata"].get("nbgrader", {}).get("locked")
                  and not c["metadata"]["nbgrader"].get("grade"))
    extra = json.loads(json.dumps(locked))
    extra["metadata"]["nbgrader"]["grade_id"] = extra["id"] = "a_new_cell"
    source["cells"].append(extra)
    course.source(ASSIGNMENT).write_text(json.dumps(source))
    with pytest.raises(SystemExit) as failure:
        release(course, [ASSIGNMENT])
    message = str(failure.value)
    assert "holds submissions" in message and f"nbgrader db assignment remove {ASSIGNMENT} --force" in message
    assert course.release(ASSIGNMENT).read_text() == before
