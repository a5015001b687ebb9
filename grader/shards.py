"""Grading beyond one machine: a class split into shards, graded apart, merged into one gradebook.

    python -m grader autograde clip --shard 3/40     grade the third of 40 shards; write its records
    python -m grader merge clip [SHARD_FOLDER ...]   records of every shard -> gradebook, records, CSV

Each shard job runs in its own copy of the course (a Slurm array task, a Kubernetes indexed pod):
it grades a deterministic share of the submitted students (every 40th of the sorted list, from the
3rd) and writes grader/work/shards/<assignment>/<i>-of-<n>/: shard.json (assignment, shard, the
release it was graded against, students) with one record and one autograded notebook per student.
`merge` copies those folders' contents into this course: it refuses a shard of another assignment,
of another release (its golden fingerprint differs from this course's) or of another split, and a
student found in two shards; it names missing shards. Manual grades in this gradebook are kept.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from .course import Course, Record

SHARD_FILE = "shard.json"


def parse_shard(text: str) -> tuple[int, int]:
    """'3/40' -> (3, 40), 1-based; SystemExit with the rule otherwise."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        index = count = 0
    if not 1 <= index <= count:
        raise SystemExit(f"--shard {text!r}: give I/N with 1 <= I <= N, e.g. --shard 3/40")
    return index, count


def shard_students(students: list[str], index: int, count: int) -> list[str]:
    """The students of shard index/count: every count-th of the sorted list, from the index-th."""
    return sorted(students)[index - 1::count]


def shard_folder(course: Course, assignment: str, index: int, count: int) -> Path:
    return course.work / "shards" / assignment / f"{index:03d}-of-{count:03d}"


def write_shard(course: Course, assignment: str, index: int, count: int, release: str,
                records: list[Record]) -> Path:
    """The shard's folder: shard.json, records/<student>.json, autograded/<student>/<assignment>/."""
    folder = shard_folder(course, assignment, index, count)
    if folder.exists():
        shutil.rmtree(folder)
    (folder / "records").mkdir(parents=True)
    for record in records:
        record.save(folder / "records" / f"{record.student}.json")
        graded = course.autograded(assignment, record.student)
        if graded.is_dir():
            shutil.copytree(graded, folder / "autograded" / record.student / assignment)
    (folder / SHARD_FILE).write_text(json.dumps({"assignment": assignment, "shard": index, "of": count,
                                                 "release": release,
                                                 "students": [r.student for r in records]}, indent=1))
    return folder


def read_shards(folders: list[Path], assignment: str, release: str) -> list[tuple[dict, Path]]:
    """Every shard's description, checked against this course; SystemExit naming what is wrong."""
    shards, owner = [], {}
    for folder in folders:
        try:
            shard = json.loads((folder / SHARD_FILE).read_text())
        except (OSError, ValueError):
            raise SystemExit(f"merge: {folder} is not a shard folder (no readable {SHARD_FILE})") from None
        where = f"shard {shard.get('shard')}/{shard.get('of')} ({folder})"
        if shard.get("assignment") != assignment:
            raise SystemExit(f"merge: {where} graded {shard.get('assignment')!r}, not {assignment!r}")
        if shard.get("release") != release:
            raise SystemExit(f"merge: {where} was graded against another release of {assignment} than this "
                             "course's (the solutions or the release changed since): grade it again with this one")
        for student in shard.get("students", []):
            if student in owner:
                raise SystemExit(f"merge: {student} is in {owner[student]} and in {where}: grade one split only")
            owner[student] = where
        shards.append((shard, folder))
    counts = {shard["of"] for shard, _ in shards}
    if len(counts) > 1:
        raise SystemExit(f"merge: the shards come from different splits ({sorted(counts)} shards): use one")
    return shards


def merge(course: Course, assignment: str, release: str, folders: list[Path] | None = None) -> list[Record]:
    """Write every shard's records into this course: gradebook, autograded notebooks, records."""
    from .autograde import write_grades
    folders = folders or sorted((course.work / "shards" / assignment).glob("*-of-*"))
    if not folders:
        raise SystemExit(f"merge: no shard folders of {assignment} in {course.work / 'shards' / assignment}")
    shards = read_shards(folders, assignment, release)
    count = shards[0][0]["of"]
    missing = sorted(set(range(1, count + 1)) - {shard["shard"] for shard, _ in shards})
    if missing:
        print(f"merge: shards {missing} of {count} are missing: their students have no grade yet")
    merged = []
    for shard, folder in shards:
        for student in shard["students"]:
            graded = Record.load(folder / "records" / f"{student}.json")
            target = course.autograded(assignment, student)
            if target.exists():
                shutil.rmtree(target)
            if (folder / "autograded" / student / assignment).is_dir():
                shutil.copytree(folder / "autograded" / student / assignment, target)
            earned = None if graded.status == "failed" and not graded.cells else \
                {gid: cell.get("auto_score", 0.0) for gid, cell in graded.cells.items()}
            record = write_grades(course, assignment, student, earned, review=graded.status != "graded")
            for gid, cell in record.cells.items():
                cell.update(message=graded.cells.get(gid, {}).get("message", ""),
                            auto_score=graded.cells.get(gid, {}).get("auto_score", 0.0))
            record.status, record.reason, record.notes = graded.status, graded.reason, graded.notes
            record.seconds, record.sandboxed, record.release = graded.seconds, graded.sandboxed, graded.release
            record.save(course.record(assignment, student))
            merged.append(record)
    return sorted(merged, key=lambda r: r.student)
