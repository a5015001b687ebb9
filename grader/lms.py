"""Find each student's notebook in a folder or in a learning-management system's zip export."""
from __future__ import annotations

import re
import zipfile
from pathlib import Path, PurePosixPath

from .course import valid_student_id

# File or folder names of common exports; the first that matches gives the student id.
LMS_PATTERNS = [
    # Canvas: login_[LATE_]userid_submissionid_original-name.ipynb
    r"^(?P<student>[A-Za-z0-9.-]+?)_(?:LATE_)?\d+_(?P<order>\d+)_.+\.ipynb$",
    # Moodle: Full Name_123456_assignsubmission_file_/original-name.ipynb
    r"^(?P<student>[^/]+?)_\d+_assignsubmission_file_",
    # Blackboard: Assignment_login_attempt_2026-11-27-10-00-00_original-name.ipynb
    r"_(?P<student>[A-Za-z0-9.-]+)_attempt_(?P<order>\d{4}(?:-\d\d){5})",
]
MAX_FILE_BYTES = 100 * 2**20       # a notebook larger than this is not a submission


def normalise(student: str) -> str:
    """'John Smith' -> 'john-smith': an id that is safe as a folder name."""
    return re.sub(r"[^a-z0-9._-]+", "-", student.strip().lower()).strip("-.")[:64]


def _entries(source: Path) -> list[tuple[str, callable, int]]:
    """(relative path, read(), size) of every .ipynb in a folder or a zip, nothing else."""
    if source.is_dir():
        return [(p.relative_to(source).as_posix(), p.read_bytes, p.stat().st_size)
                for p in sorted(source.rglob("*.ipynb")) if p.is_file() and not p.is_symlink()
                and ".ipynb_checkpoints" not in p.parts]
    if not zipfile.is_zipfile(source):
        raise SystemExit(f"collect: {source} is neither a folder nor a zip file")
    archive = zipfile.ZipFile(source)
    out = []
    for info in archive.infolist():
        name = PurePosixPath(info.filename)
        if info.is_dir() or name.suffix != ".ipynb" or "__MACOSX" in name.parts or name.name.startswith("._"):
            continue
        if name.is_absolute() or ".." in name.parts:      # never trust paths inside an archive
            continue
        out.append((str(name), (lambda info=info: archive.read(info)), info.file_size))
    return out


def student_of(relative: str, assignment: str, pattern: str | None) -> tuple[str | None, str]:
    """The student id a path names, and a sort key among one student's files (later wins)."""
    parts = relative.split("/")
    for regex in ([pattern] if pattern else []) + LMS_PATTERNS:
        match = re.search(regex, relative)
        if match:
            return normalise(match.group("student")), match.groupdict().get("order") or relative
    if len(parts) == 1:                                  # FOLDER/<student>.ipynb
        return normalise(Path(parts[0]).stem), relative
    return normalise(parts[-2]), relative                # FOLDER/<student>/<any>.ipynb


def find_submissions(source: Path, assignment: str, pattern: str | None = None):
    """({student: (notebook bytes, notes)}, [(path, why skipped)]).

    Where a student has several notebooks, the one named <assignment>.ipynb wins, then the
    latest by the export's order (Canvas submission id, Blackboard attempt time)."""
    candidates: dict[str, list] = {}
    skipped = []
    for relative, read, size in _entries(source):
        student, order = student_of(relative, assignment, pattern)
        if not student or not valid_student_id(student):
            skipped.append((relative, "no usable student id in its name"))
        elif size > MAX_FILE_BYTES:
            skipped.append((relative, f"larger than {MAX_FILE_BYTES // 2**20} MB"))
        else:
            preferred = PurePosixPath(relative).name == f"{assignment}.ipynb"
            candidates.setdefault(student, []).append(((preferred, order), relative, read))
    found = {}
    for student, files in candidates.items():
        _, relative, read = max(files, key=lambda f: f[0])
        notes = [f"{len(files)} files for this student: took {relative}"] if len(files) > 1 else []
        name = PurePosixPath(relative).name
        if name != f"{assignment}.ipynb" and Path(name).stem != student:
            notes.append(f"file was named {name!r}")
        found[student] = (read(), notes)
    return found, skipped
