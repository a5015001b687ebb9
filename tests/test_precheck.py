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
    (json.dumps({"cells": [{"cell_type": "weird", "source": ""}]}), "not a code"),
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
    assert integrity.without_decoys(notebook).cells == RELEASE.cells


def test_scan_names_known_tricks_and_passes_honest_code():
    assert integrity.scan(REFERENCE) == []
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
