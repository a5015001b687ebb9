"""The grader's own verdicts: check reports judged outside the student's process."""
import base64
import copy
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import mmkit.checks as checks
from grader import verdict
from mmkit.checks import check_close, check_equal, check_shape, check_true, check_type


@pytest.fixture
def sent(monkeypatch):
    """The reports the checks send, as the grader would read them."""
    reports = []
    monkeypatch.setattr(checks, "_send", lambda report: reports.append(copy.deepcopy(report)))
    return reports


def run(cell, sent) -> list:
    """The reports of one 'test cell' (a function calling checks); a failing check ends it, as in a kernel."""
    sent.clear()
    try:
        cell()
    except AssertionError:
        pass
    return list(sent)


def reference_cell(value=torch.tensor([1.0, 2.0, 3.0]), expected=torch.tensor([1.0, 2.0, 3.0])):
    def cell():
        check_type(value, torch.Tensor, "f(x)")
        check_shape(value, (3,), "f(x)")
        check_close(value, expected, "f(x)", atol=1e-6, hint="the hint")
        check_equal(int(value.argmax()), 2, "argmax")
        check_true(bool(value.sum() > 0), "the sum must be positive", name="sum")
    return cell


def test_the_reference_passes_against_its_own_golden_reports(sent):
    golden = run(reference_cell(), sent)
    assert len(golden) == 5
    assert verdict.judge_cell(run(reference_cell(), sent), golden) == ""


def test_a_wrong_value_fails_with_the_checks_own_message(sent):
    golden = run(reference_cell(), sent)
    wrong = torch.tensor([1.0, 2.5, 3.0])
    why = verdict.judge_cell(run(reference_cell(wrong, expected=wrong), sent), golden)   # test inputs tampered
    assert "f(x): wrong values" in why and "expected: 2" in why and "Hint: the hint" in why


def test_tolerances_and_expected_values_come_from_the_golden_reports(sent):
    golden = run(reference_cell(), sent)
    student = run(reference_cell(torch.tensor([1.0, 2.0, 3.1]), expected=torch.tensor([1.0, 2.0, 3.1])), sent)
    student[2]["atol"] = 1.0                       # a forged tolerance is ignored
    assert "wrong values" in verdict.judge_cell(student, golden)


def test_skipped_extra_and_reordered_checks_fail(sent):
    golden = run(reference_cell(), sent)
    student = run(reference_cell(), sent)
    assert "only 3 of the 5 checks" in verdict.judge_cell(student[:3], golden)
    assert "reported 6 checks" in verdict.judge_cell(student + student[:1], golden)
    assert "not the test's own check" in verdict.judge_cell(student[1:2] + student[:1] + student[2:], golden)


def test_a_condition_the_kernel_found_false_fails():
    golden = [{"check": "true", "name": "sum", "hint": None, "message": "m", "holds": True}]
    assert "sum: m" in verdict.judge_cell([dict(golden[0], holds=False)], golden)


def test_patched_comparisons_in_the_kernel_do_not_reach_the_grader(sent, monkeypatch):
    golden = run(reference_cell(), sent)
    wrong = torch.tensor([9.0, 9.0, 9.0])
    monkeypatch.setattr(np, "isclose", lambda *a, **k: np.ones(3, dtype=bool))    # as a student's cell could
    student = run(reference_cell(wrong), sent)
    monkeypatch.undo()
    assert "wrong values" in verdict.judge_cell(student, golden)


def test_golden_false_compares_with_the_runs_own_expected_value(sent):
    def cell(value, expected):
        return lambda: check_close(value, expected, "a row drawn at random", golden=False)
    golden = run(cell(torch.tensor([1.0]), torch.tensor([1.0])), sent)
    assert verdict.judge_cell(run(cell(torch.tensor([4.0]), torch.tensor([4.0])), sent), golden) == ""
    assert "wrong values" in verdict.judge_cell(run(cell(torch.tensor([4.0]), torch.tensor([5.0])), sent), golden)


@pytest.mark.parametrize("damage", [
    lambda r: r.update(yours={"t": "tensor", "torch_dtype": "torch.float32", "dtype": "<f4", "shape": [3], "b64": "!!"}),
    lambda r: r.update(yours={"t": "tensor", "torch_dtype": "torch.float32", "dtype": "<f4", "shape": [4],
                              "b64": base64.b64encode(b"\0" * 12).decode()}),
    lambda r: r.update(yours={"t": "ndarray", "dtype": "|O", "shape": [1], "b64": ""}),
    lambda r: r.update(yours={"t": "list", "v": 5}),
    lambda r: r.update(yours="not a value"),
    lambda r: r.update(yours={"t": "eval", "v": "__import__('os')"}),
])
def test_malformed_reports_fail_the_check_without_an_exception(sent, damage):
    golden = run(lambda: check_close(torch.ones(3), torch.ones(3), "ones"), sent)
    report = copy.deepcopy(golden[0])
    damage(report)
    assert "ones" in verdict.judge_cell([report], golden)


values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20)
    | st.builds(lambda xs: torch.tensor(xs), st.lists(st.floats(width=32), max_size=6))
    | st.builds(lambda xs: np.array(xs, dtype=np.int64), st.lists(st.integers(-2**40, 2**40), max_size=6)),
    lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner), max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(values)
def test_encode_decode_round_trip(value):
    back = checks.decode(checks.encode(value))
    if isinstance(value, float) and math.isnan(value):
        assert math.isnan(back)
    else:
        assert checks._same(back, value) or _nan_equal(back, value)


def _nan_equal(a, b):
    if isinstance(a, torch.Tensor):
        return torch.equal(torch.nan_to_num(a, 7.0), torch.nan_to_num(b, 7.0)) and a.dtype == b.dtype
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(
            checks._same(x, y) or _nan_equal(x, y) for x, y in zip(a, b))
    return isinstance(a, float) and math.isnan(a) and math.isnan(b)


json_data = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
                         lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
                         max_leaves=20)


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(st.sampled_from(["check", "name", "yours", "expected", "holds", "message", "t", "v"]),
                       json_data, max_size=6))
def test_any_json_as_a_report_is_judged_never_raised(report):
    golden = [{"check": "close", "name": "x", "hint": None, "atol": 1e-5, "rtol": 1e-4, "check_dtype": True,
               "golden": True, "yours": checks.encode(1.0), "expected": checks.encode(1.0)}]
    assert isinstance(verdict.judge_cell([report], golden), str)


def test_hidden_expected_values_are_kept_out_of_the_kernel():
    source = ("x = f(1)\n"
              "check_close(x, 2.0, 'visible')\n"
              "### BEGIN HIDDEN TESTS\n"
              "ref = g(x) * 2  # é\n"
              "check_close(f(2), ref, 'hidden', atol=1e-5)\n"
              "check_equal(f(3).tolist(),\n"
              "            [1, 2,\n"
              "             3], 'multi-line')\n"
              "check_close(f(4), h(4), 'chosen freely', golden=False)\n"
              "check_equal(yours=f(5), expected=7, name='by keyword')\n"
              "### END HIDDEN TESTS")
    kept = verdict.keep_expected_values(source)
    assert kept.split("### BEGIN")[0] == source.split("### BEGIN")[0], "the visible part must not change"
    assert "check_close(f(2), _mmgrade_kept(ref), 'hidden', atol=1e-5)" in kept
    assert "check_equal(f(3).tolist(),\n            _mmgrade_kept([1, 2,\n             3]), 'multi-line')" in kept
    assert "check_close(f(4), h(4), 'chosen freely', golden=False)" in kept
    assert "expected=_mmgrade_kept(7)" in kept and "ref = g(x) * 2  # é" in kept
    assert verdict.keep_expected_values("check_close(a, b)") == "check_close(a, b)"


def test_a_kept_expected_value_is_judged_by_the_grader_alone(sent):
    golden = run(lambda: check_close(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.0]), "hidden"), sent)
    right = run(lambda: check_close(torch.tensor([1.0, 2.0]), checks.GOLDEN, "hidden"), sent)   # passes in the kernel
    wrong = run(lambda: check_close(torch.tensor([1.0, 5.0]), checks.GOLDEN, "hidden"), sent)
    assert verdict.judge_cell(right, golden) == ""
    assert "wrong values" in verdict.judge_cell(wrong, golden)
    assert "could not read" in verdict.judge_cell(right, right)          # a golden report must hold the value


def test_test_cells_whose_expected_values_all_stay_in_the_kernel_are_known():
    """A test cell passes under a forged check only if none of its hidden checks compares with a
    value the grader keeps (README, what a cheater can still do): these are the two such cells."""
    from grader.course import Course
    from grader.notebooks import read
    course = Course()
    open_cells = []
    for assignment in course.assignments():
        for cell in read(course.source(assignment)).cells:
            if cell.get("metadata", {}).get("nbgrader", {}).get("grade"):
                if verdict.KEPT not in verdict.keep_expected_values(cell.source):
                    open_cells.append(f"{assignment}/{cell.metadata.nbgrader.grade_id}")
    assert sorted(open_cells) == ["valle/test_vq_straight_through", "wavenet/test_chord"]
