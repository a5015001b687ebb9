"""The benchmark's classes of CLIP submissions are built from the hostile suite of the quiz; building
them must keep working when either changes (grading them is `make bench`'s job, not this test's)."""
from __future__ import annotations

from grader.course import Course
from tests import bench


def test_the_bench_builds_a_hostile_clip_class(tmp_path):
    expected = bench.class_of(Course(), 14, hostile=10, inbox=tmp_path)     # the kit's released clip
    assert len(expected) == 14 and len(list(tmp_path.iterdir())) == 14
    hostile = {name: want for name, want in expected.items() if name.startswith("h-")}
    assert len(hostile) == 10
    # the expectations are CLIP's (27 points), not the quiz's (10)
    assert hostile["h-infinite-loop"] == ("graded", 27.0) and hostile["h-duplicated-test-cells"] == ("graded", 27.0)
    assert hostile["h-invalid-json"] == ("failed", 0.0) and hostile["h-patched-checks"] == ("flagged", 0.0)
