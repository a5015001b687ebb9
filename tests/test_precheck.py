"""The pre-check: every submission is carried into a fresh release; damage is repaired or rejected."""
import copy
import json
import zipfile
from pathlib import Path

import nbformat
import pytest

from grader import integrity, precheck, samples
from grader.course import Course
from grader.lms import find_submissions

ROOT = Path(__file__).resolve().parents[1]
COURSE = Course(ROOT)
RELEASE = samples.read(COURSE.release("clip"))
SOURCE = samples.read(COURSE.source("clip"))
REFERENCE = samples.solved(RELEASE, SOURCE)


def text(notebook) -> str:
    return nbformat.writes(notebook)


def answers(notebook) -> dict:
    return {gid: c.source for gid, c in samples.answer_cells(notebook).items()}


def test_a_clean_submission_keeps_its_answers_and_gets_no_notes():
    result = precheck.rebuild(text(REFERENCE), RELEASE)
    assert answers(result.notebook) == answers(REFERENCE)
    assert result.notes == []
    assert [c.metadata.get("nbgrader") for c in result.notebook.cells] == [c.metadata.get("nbgrader") for c in RELEASE.cells]


def test_added_cells_are_kept_in_place():
    student = copy.deepcopy(REFERENCE)
    index = next(i for i, c in enumerate(student.cells) if samples.grade_id(c) == "tokenize")
    student.cells.insert(index + 1, nbformat.v4.new_code_cell("print(tokenize(['a red circle']))"))
    cells = precheck.rebuild(text(student), RELEASE).notebook.cells
    at = next(i for i, c in enumerate(cells) if samples.grade_id(c) == "tokenize")
    assert cells[at + 1].source == "print(tokenize(['a red circle']))"


def test_deleted_and_altered_test_cells_are_restored():
    student = copy.deepcopy(REFERENCE)
    student.cells = [c for c in student.cells if samples.grade_id(c) != "test_clip_loss"]
    for cell in student.cells:
        if samples.grade_id(cell) == "test_recall":
            cell.source = "pass"
            cell.metadata.nbgrader["points"] = 100
    result = precheck.rebuild(text(student), RELEASE)
    restored = {samples.grade_id(c): c for c in result.notebook.cells}
    assert "test_clip_loss" in restored and restored["test_recall"].metadata.nbgrader.points == 2
    assert restored["test_recall"].source == next(c.source for c in RELEASE.cells if samples.grade_id(c) == "test_recall")
    assert any("test_clip_loss" in note for note in result.notes)


def test_duplicated_grade_ids_and_schema_version_are_repaired():
    student = copy.deepcopy(REFERENCE)
    duplicate = copy.deepcopy(next(c for c in student.cells if samples.grade_id(c) == "test_tokenize"))
    student.cells.append(duplicate)
    for cell in student.cells:
        if "nbgrader" in cell.metadata:
            cell.metadata.nbgrader["schema_version"] = 99
    result = precheck.rebuild(text(student), RELEASE)
    ids = [samples.grade_id(c) for c in result.notebook.cells if samples.grade_id(c)]
    assert len(ids) == len(set(ids))
    assert any("duplicated" in n for n in result.notes) and any("schema" in n for n in result.notes)
    assert answers(result.notebook) == answers(REFERENCE)


@pytest.mark.parametrize("bad, why", [
    ("{\"cells\": [", "not valid JSON"),
    ("", "not valid JSON"),
    ("[1, 2]", "not a notebook"),
    (json.dumps({"cells": [{"cell_type": "weird", "source": ""}]}), "none of the answer cells"),
])
def test_unreadable_files_are_rejected_with_a_reason(bad, why):
    with pytest.raises(precheck.Rejected, match=why):
        precheck.rebuild(bad, RELEASE)


def test_decoys_copy_every_test_cell_and_stub_every_answer():
    notebook = copy.deepcopy(RELEASE)
    ids = integrity.add_decoys(notebook, SOURCE, seed=1)
    tests = {samples.grade_id(c): c.source for c in SOURCE.cells if c.metadata.get("nbgrader", {}).get("grade")}
    assert sorted(i[len(integrity.DECOY_PREFIX):] for i in ids) == sorted(tests)
    for cell in notebook.cells:
        name = cell.get("id", "")[len(integrity.DECOY_PREFIX):]
        if name in tests:
            assert cell.source == tests[name], "a decoy must be byte for byte its test cell"
    assert set(integrity.answer_names(SOURCE)) >= {"tokenize", "CLIP", "clip_loss", "recall_at_k"}
    assert integrity.without_grader_cells(notebook).cells == RELEASE.cells


def test_scan_names_known_tricks_and_passes_honest_code():
    for assignment in COURSE.assignments():
        release = samples.read(COURSE.release(assignment))
        assert integrity.scan(samples.solved(release, samples.read(COURSE.source(assignment)))) == [], assignment
    redefined = copy.deepcopy(REFERENCE)
    redefined.cells.append(nbformat.v4.new_code_cell("def check_close(yours, expected, *a, **k):\n    pass"))
    assert any("redefines the checks" in r for r in integrity.scan(redefined))
    cheat = copy.deepcopy(REFERENCE)
    cheat.cells.append(nbformat.v4.new_code_cell(
        "get_ipython().input_transformers_cleanup.append(f)\nimport os\nos._exit(0)"))
    reasons = integrity.scan(cheat)
    assert any("IPython hooks" in r for r in reasons) and any("exits" in r for r in reasons)


def test_lms_zip_names(tmp_path):
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("smithjane_1234_5678_clip.ipynb", "{}")
        z.writestr("doejohn_LATE_1111_2222_clip-1.ipynb", "{}")
        z.writestr("doejohn_1111_2000_clip.ipynb", "{}")            # an older submission
        z.writestr("Ann Lee_998877_assignsubmission_file_/Copy of clip.ipynb", "{}")
        z.writestr("__MACOSX/._x.ipynb", "junk")
        z.writestr("../../etc/evil.ipynb", "{}")
    found, skipped = find_submissions(archive, "clip")
    assert sorted(found) == ["ann-lee", "doejohn", "smithjane"]
    assert any("file was named 'Copy of clip.ipynb'" in n for n in found["ann-lee"][1])
    assert any("2 files" in n and "2222" in n for n in found["doejohn"][1])


# ---- fuzzing: any file is either repaired into a valid release copy or rejected with a reason ----

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

from tests.notebook_fuzz import damaged_file  # noqa: E402

GOOD = json.loads(text(REFERENCE))
TEST_SOURCES = {samples.grade_id(c): c.source for c in RELEASE.cells if c.metadata.get("nbgrader", {}).get("grade")}


def check_rebuilt(data: bytes) -> None:
    """The pre-check's contract for one file."""
    try:
        result = precheck.rebuild(data, RELEASE)
    except precheck.Rejected as rejected:
        assert str(rejected), "a rejection must say why"
        return
    out = nbformat.writes(result.notebook).encode("utf-8")        # writable as a file, valid
    nbformat.validate(nbformat.reads(out.decode("utf-8"), as_version=4))
    tests = {samples.grade_id(c): c.source for c in result.notebook.cells
             if c.metadata.get("nbgrader", {}).get("grade")}
    assert tests == TEST_SOURCES, "test cells must come from the release, every one, unchanged"
    ids = [samples.grade_id(c) for c in result.notebook.cells if samples.grade_id(c)]
    assert len(ids) == len(set(ids))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.randoms(use_true_random=False))
def test_fuzzed_files_are_repaired_or_rejected_never_raised(rng):
    check_rebuilt(damaged_file(GOOD, rng))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=3), max_leaves=10)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_any_value_in_any_field_is_repaired_or_rejected(data):
    notebook = json.loads(json.dumps(GOOD))
    cell = notebook["cells"][data.draw(st.integers(0, len(notebook["cells"]) - 1))]
    where = data.draw(st.sampled_from(["cell", "metadata", "nbgrader"]))
    target = {"cell": cell, "metadata": cell.setdefault("metadata", {}),
              "nbgrader": cell["metadata"].setdefault("nbgrader", {})}[where]
    target[data.draw(st.sampled_from(["cell_type", "source", "metadata", "nbgrader", "grade_id", "id",
                                      "solution", "grade", "points", "schema_version"]))] = data.draw(json_values)
    check_rebuilt(json.dumps(notebook).encode())


@pytest.mark.parametrize("damage, note", [
    (lambda c: c["metadata"].__setitem__("nbgrader", None), "cell id"),
    (lambda c: c.__setitem__("metadata", "oops"), "cell id"),
    (lambda c: c["metadata"]["nbgrader"].__setitem__("grade_id", ["clip_loss"]), "cell id"),
    (lambda c: (c.pop("metadata"), c.pop("id")), "the functions it defines"),
])
def test_answer_cells_with_damaged_metadata_are_found_and_kept(damage, note):
    notebook = json.loads(json.dumps(GOOD))
    cell = next(c for c in notebook["cells"] if c.get("id") == "clip_loss")
    damage(cell)
    result = precheck.rebuild(json.dumps(notebook).encode(), RELEASE)
    assert answers(result.notebook) == answers(REFERENCE)
    assert any(note in n and "clip_loss" in n for n in result.notes), result.notes


def test_a_scratch_copy_of_an_answer_does_not_replace_it():
    notebook = json.loads(json.dumps(GOOD))
    at = next(i for i, c in enumerate(notebook["cells"]) if c.get("id") == "clip_loss")
    notebook["cells"].insert(at - 1, {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                                      "source": "def clip_loss(image_emb, text_emb, logit_scale):\n    return 0\n"})
    result = precheck.rebuild(json.dumps(notebook).encode(), RELEASE)
    assert answers(result.notebook) == answers(REFERENCE)


@pytest.mark.parametrize("data, why", [
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (json.dumps({"cells": [{"cell_type": "code", "source": "x" * 2_000_000}]}).encode(), "characters of source"),
    (b"\xff\xfe" + b"garbage", "not valid JSON"),
])
def test_hostile_files_are_rejected_with_a_reason(data, why):
    with pytest.raises(precheck.Rejected, match=why):
        precheck.rebuild(data, RELEASE)
