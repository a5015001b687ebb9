"""Grading the assignments: end to end through the real grader (the reference answers, the blank
release, the correct alternatives together, a damaged file; every assignment's class in one
parallel batch), and every mutant through grader.mutation, which runs one shared process per
assignment with the grader's own rules but no sandbox (the alternatives go through it one by one
only when together they lose points)."""
from __future__ import annotations

import csv

import pytest

from grader import samples
from grader.autograde import autograde_batch
from grader.collect import collect
from grader.exports import export, feedback
from grader.release import make_course
from grader.course import Course

ASSIGNMENTS = Course().assignments()


def write_class(course, assignment, folder):
    """Every sample submission of an assignment, as files in folder; returns their names."""
    release = samples.read(course.release(assignment))
    reference = samples.solved(release, samples.read(course.source(assignment)))
    _, alternatives, _ = samples.catalogue(assignment)
    notebooks = {"reference": reference, "blank": release}
    combined = reference                       # all alternatives in one notebook: it must earn full marks
    for alternative in alternatives:
        combined = samples.substitute(combined, alternative)
    notebooks["alternatives"] = combined
    for name, notebook in notebooks.items():
        samples.write(notebook, folder / f"{name}.ipynb")
    (folder / "damaged.ipynb").write_text((folder / "reference.ipynb").read_text()[:5000])
    return sorted([*notebooks, "damaged"])


@pytest.fixture(scope="module")
def graded_course(tmp_path_factory):
    """One course, every assignment's class graded in one pool (no worker idles at an assignment's end)."""
    course = make_course(tmp_path_factory.mktemp("course") / "root", ASSIGNMENTS)
    classes = {}
    for assignment in ASSIGNMENTS:
        folder = tmp_path_factory.mktemp(f"submissions-{assignment}")
        classes[assignment] = write_class(course, assignment, folder)
        collect(course, assignment, folder)
    graded = autograde_batch(course, classes, workers=2, progress=False)
    return course, {a: {r.student: r for r in records} for a, records in graded.items()}


@pytest.fixture(params=ASSIGNMENTS)
def graded(request, graded_course):
    course, records = graded_course
    return course, request.param, records[request.param]


pytestmark = pytest.mark.slow


def test_reference_earns_full_marks(graded):
    _, _, records = graded
    r = records["reference"]
    lost = {k: v for k, v in r.cells.items() if v["score"] < v["max_score"]}
    assert r.status == "graded" and r.score == r.max_score > 0, f"reference lost points in {lost}"


def test_grading_is_deterministic(graded, variants):
    """The reference graded three times: when the release recorded its golden reports, by the grader
    in the class batch (full marks means every report equal to the golden one), and once with every
    cell run in the shared process (grader.mutation). Same points and messages in every test cell."""
    from grader.mutation import MAIN
    _, assignment, records = graded
    batch = records["reference"]
    assert batch.score == batch.max_score, batch.cells
    third = {gid: (points, why) for gid, (points, why) in variants[assignment][MAIN].items()}
    assert third == {gid: (c["score"], c["message"]) for gid, c in batch.cells.items()}


def test_blank_earns_zero_and_grades_cleanly(graded):
    _, _, records = graded
    r = records["blank"]
    assert r.status == "graded", r.reason
    assert r.score == 0, f"the blank release earned points: {r.cells}"


@pytest.fixture(scope="module")
def variants(graded_course):
    """{assignment: {variant: {grade_id: (points, why)}}}: every mutant, run up to the last test
    cell it must fail, through grader.mutation (and the unchanged reference with every cell run, up to the last test cell).
    The alternatives are graded together by the real grader (the "alternatives" submission); they
    are graded one by one only when that submission loses points, to name the one that does."""
    from grader.autograde import golden_reports
    from grader.mutation import grade_variants
    course, _ = graded_course
    results = {}
    for assignment in ASSIGNMENTS:
        release, source = samples.read(course.release(assignment)), samples.read(course.source(assignment))
        reference = samples.solved(release, source)
        mutants, _, _ = samples.catalogue(assignment)
        changes, until = {}, {}
        for mutant in mutants:
            mutated = samples.mutate(reference, mutant)
            changes[f"mutant-{mutant.name}"] = {mutant.cell: samples.answer_cells(mutated)[mutant.cell].source}
            until[f"mutant-{mutant.name}"] = mutant.loses
        results[assignment] = grade_variants(course, assignment, changes, golden_reports(course, assignment, release, source),
                                             until=until)
    return results


def test_every_mutant_loses_its_points(graded, variants):
    _, assignment, _ = graded
    mutants, _, _ = samples.catalogue(assignment)
    problems = [f"{mutant.name} ({mutant.why}) kept full marks in {cell}"
                for mutant in mutants for cell in mutant.loses
                if variants[assignment][f"mutant-{mutant.name}"][cell][0] > 0]
    assert not problems, "\n".join(problems)


def test_correct_alternatives_earn_full_marks(graded):
    """Every correct alternative of the catalogue in one submission, through the real grader. When
    it loses points, each alternative is graded alone (grader.mutation) to name the ones that do."""
    from grader.autograde import golden_reports
    from grader.mutation import grade_variants
    course, assignment, records = graded
    r = records["alternatives"]
    lost = {k: v for k, v in r.cells.items() if v["score"] < v["max_score"]}
    if r.status == "graded" and not lost:
        return
    _, alternatives, _ = samples.catalogue(assignment)
    release, source = samples.read(course.release(assignment)), samples.read(course.source(assignment))
    alone = grade_variants(course, assignment, {a.name: {a.cell: a.code.strip("\n")} for a in alternatives},
                           golden_reports(course, assignment, release, source))
    culprits = {f"{a.name}: {gid}": why[:300] for a in alternatives for gid, (_, why) in alone[a.name].items() if why}
    pytest.fail(f"correct alternative answers lost points together ({r.status} {r.reason}: {lost}); "
                f"graded alone: {culprits or 'none loses points alone'}")


def test_every_cell_run_gives_the_golden_reports(graded, variants):
    """The shared process runs every cell of the reference, the left-out ones included
    (grader.pruning): its reports must still be the golden ones, recorded without them."""
    from grader.mutation import MAIN
    _, assignment, _ = graded
    lost = {gid: why[:300] for gid, (_, why) in variants[assignment][MAIN].items() if why}
    assert not lost, f"the reference run with every cell differs from the golden run: {lost}"


def test_damaged_notebook_fails_with_a_reason_and_batch_goes_on(graded):
    _, _, records = graded
    r = records["damaged"]
    assert r.status == "failed" and "not valid JSON" in r.reason
    assert r.score == 0
    assert records["reference"].status == "graded"


def test_feedback_hides_hidden_tests_and_export_lists_everyone(graded):
    course, assignment, records = graded
    feedback(course, assignment)
    source = samples.read(course.source(assignment))
    hidden_parts = [cell.source.split("### BEGIN HIDDEN TESTS")[1].split("### END HIDDEN TESTS")[0]
                    for cell in source.cells if "### BEGIN HIDDEN TESTS" in cell.source]
    hidden = [line.strip() for part in hidden_parts for line in part.split("\n") if len(line.strip()) > 25]
    assert hidden, "the source notebook has hidden tests"
    for student in ["reference", "blank"]:
        html = course.feedback(assignment, student).read_text()
        import html as html_lib
        text = html_lib.unescape(html)
        leaked = [line for line in hidden if line in text]
        assert not leaked, f"hidden test lines in {student}'s feedback: {leaked[:3]}"
    rows = list(csv.DictReader(open(export(course, assignment))))
    assert {row["student"] for row in rows} == set(records)
    damaged = next(row for row in rows if row["student"] == "damaged")
    assert damaged["status"] == "failed" and damaged["reason"]
