"""Where the course's files live, and small helpers over nbgrader's gradebook."""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .config import ROOT, WORK, course_config


@dataclass
class Course:
    root: Path = ROOT

    @property
    def work(self) -> Path:
        return self.root / WORK

    @property
    def db_url(self) -> str:
        return course_config(self.root).CourseDirectory.db_url

    def source(self, assignment: str) -> Path:
        return self.root / "solutions" / assignment / f"{assignment}.ipynb"

    def release(self, assignment: str) -> Path:
        return self.root / "notebooks" / assignment / f"{assignment}.ipynb"

    def submitted(self, assignment: str, student: str) -> Path:
        return self.work / "submitted" / student / assignment / f"{assignment}.ipynb"

    def autograded(self, assignment: str, student: str) -> Path:
        return self.work / "autograded" / student / assignment

    def feedback(self, assignment: str, student: str) -> Path:
        return self.work / "feedback" / student / assignment / f"{assignment}.html"

    def record(self, assignment: str, student: str) -> Path:
        return self.work / "records" / assignment / f"{student}.json"

    def students(self, assignment: str) -> list[str]:
        folder = self.work / "submitted"
        return sorted(p.parent.parent.name for p in folder.glob(f"*/{assignment}/{assignment}.ipynb"))

    def assignments(self) -> list[str]:
        return sorted(p.name for p in (self.root / "solutions").iterdir()
                      if (p / f"{p.name}.ipynb").is_file())


STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def valid_student_id(student: str) -> bool:
    return bool(STUDENT_ID.match(student)) and ".." not in student


@dataclass
class Record:
    """What happened to one submission: the export's row and the per-student JSON file."""
    student: str
    assignment: str
    status: str = "pending"            # graded | failed | flagged
    reason: str = ""
    score: float = 0.0
    max_score: float = 0.0
    cells: dict = field(default_factory=dict)   # grade_id -> {"score", "max_score", "auto_score", "message"}
    seconds: float = 0.0
    notes: list = field(default_factory=list)   # repairs of the pre-check, degraded mode
    sandboxed: bool | None = None               # the code ran in the bubblewrap sandbox (None: it never ran)
    release: str = ""                           # fingerprint of the release it was graded against

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> "Record":
        return cls(**json.loads(path.read_text()))
