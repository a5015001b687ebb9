"""The quiz: a small assignment with the anatomy of the course's notebooks, for the grader's own tests.

A real assignment takes 20 to 30 s to grade; the quiz takes a few. The tests of the grader's
robustness (hostile classes, shards, Gradescope, time limits) grade dozens of notebooks, and what
they test is the grader, not an assignment: they use the quiz. Every real assignment is still graded
end to end by tests/test_grading.py.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from grader.course import Course
from grader.release import release
from grader.samples import Mutant

ASSIGNMENT = "quiz"
FULL = 10.0                 # test_normalize 2, test_similarity 3, test_contrastive_loss 3, test_precision_recall 2
KIT = Path(__file__).resolve().parents[1]
SOURCE = Path(__file__).resolve().parent / "fixtures" / ASSIGNMENT

MUTANTS = [
    Mutant("loss-one-direction", "contrastive_loss",
           "(F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2",
           "F.cross_entropy(logits, labels)", ["test_contrastive_loss"], "images to texts only"),
    Mutant("pr-swapped", "precision_recall", "return float(precision), float(recall)",
           "return float(recall), float(precision)", ["test_precision_recall"], "precision and recall swapped"),
    Mutant("similarity-no-normalize", "similarity", "normalize(a) @ normalize(b).T", "a @ b.T",
           ["test_similarity"], "dot products, not cosines"),
]


def make_kit(folder: Path) -> Path:
    """A kit whose only assignment is the quiz, released: the kit's own code and settings copied (a
    grader that writes its state into grader/work must not write into this kit's), its data linked."""
    folder.mkdir(parents=True)
    for name in ["pyproject.toml", "README.md", "nbgrader_config.py"]:
        shutil.copy(KIT / name, folder / name)
    ignore = shutil.ignore_patterns("__pycache__", "work", "*.egg-info")
    shutil.copytree(KIT / "grader", folder / "grader", ignore=ignore)
    shutil.copytree(KIT / "src" / "mmkit", folder / "src" / "mmkit", ignore=ignore)
    (folder / "data").symlink_to(KIT / "data")
    shutil.copytree(SOURCE, folder / "solutions" / ASSIGNMENT)
    release(Course(folder), [ASSIGNMENT])
    return folder
