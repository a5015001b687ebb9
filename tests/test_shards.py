"""Grading on several machines: two shards graded by separate processes, in separate copies of the
course, merge into the same records and gradebook as one batch."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from grader import samples
from grader.autograde import autograde
from grader.collect import collect
from grader.course import Course
from grader.exports import export, records
from grader.release import make_course
from grader.shards import merge, parse_shard, shard_students
from tests.quiz import ASSIGNMENT, MUTANTS


def test_shards_split_the_class_deterministically():
    students = [f"s{i:02d}" for i in range(10)]
    parts = [shard_students(list(reversed(students)), i, 3) for i in (1, 2, 3)]
    assert sorted(sum(parts, [])) == students and [len(p) for p in parts] == [4, 3, 3]
    assert parse_shard("3/40") == (3, 40)
    for bad in ("0/4", "5/4", "x", "1/0"):
        with pytest.raises(SystemExit, match="I/N"):
            parse_shard(bad)


def grader(course: Course, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "grader", "--course", str(course.root), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(*processes: subprocess.Popen) -> None:
    for process in processes:
        output, _ = process.communicate(timeout=600)
        assert process.returncode == 0, output[-3000:]


@pytest.mark.slow
def test_two_shards_merge_into_the_unsharded_result(tmp_path, quiz_kit):
    course = make_course(tmp_path / "one" / "root", [ASSIGNMENT], kit=quiz_kit)
    release = samples.read(course.release(ASSIGNMENT))
    reference = samples.solved(release, samples.read(course.source(ASSIGNMENT)))
    mutant = samples.mutate(reference, MUTANTS[0])
    inbox = tmp_path / "inbox"
    for name, notebook in [("ann", reference), ("bob", release), ("cy", mutant)]:
        samples.write(notebook, inbox / f"{name}.ipynb")
    (inbox / "dee.ipynb").write_text("{not json")
    collect(course, ASSIGNMENT, inbox)
    copies = [Course(tmp_path / name / "root") for name in ("shard1", "shard2", "merged")]
    for copy in copies:
        shutil.copytree(course.root, copy.root, symlinks=True)
    one_batch = {r.student: r for r in autograde(course, ASSIGNMENT, workers=2, progress=False)}

    finish(*[grader(copy, "autograde", ASSIGNMENT, "--shard", f"{index}/2", "-j", "1")   # as on two machines, at once
             for index, copy in enumerate(copies[:2], start=1)])
    folders = [copy.work / "shards" / ASSIGNMENT / f"{i:03d}-of-002" for i, copy in enumerate(copies[:2], start=1)]
    assert sorted(sum((json.loads((f / "shard.json").read_text())["students"] for f in folders), [])) == \
        ["ann", "bob", "cy", "dee"]
    merged_course = copies[2]
    finish(grader(merged_course, "merge", ASSIGNMENT, *map(str, folders)))

    merged = {r.student: r for r in records(merged_course, ASSIGNMENT)}
    assert set(merged) == set(one_batch)
    for student, record in one_batch.items():
        other = merged[student]
        assert (other.status, other.score, other.max_score, other.reason) == \
            (record.status, record.score, record.max_score, record.reason), student
        assert {g: (c["score"], c["message"]) for g, c in other.cells.items()} == \
            {g: (c["score"], c["message"]) for g, c in record.cells.items()}, student
    assert (merged_course.work / f"grades-{ASSIGNMENT}.csv").read_text() == \
        export(course, ASSIGNMENT).read_text()
    assert merged_course.autograded(ASSIGNMENT, "ann").is_dir()


def test_merge_refuses_a_shard_of_another_release(tmp_path):
    folder = tmp_path / "work" / "001-of-002"
    folder.mkdir(parents=True)
    (folder / "shard.json").write_text(json.dumps({"assignment": ASSIGNMENT, "shard": 1, "of": 2,
                                                   "release": "an older release", "students": ["ann"]}))
    with pytest.raises(SystemExit, match="another release"):
        merge(Course(tmp_path), ASSIGNMENT, "this release", [folder])
    (folder / "shard.json").write_text(json.dumps({"assignment": "clip", "shard": 1, "of": 2,
                                                   "release": "this release", "students": ["ann"]}))
    with pytest.raises(SystemExit, match="graded 'clip'"):
        merge(Course(tmp_path), ASSIGNMENT, "this release", [folder])
