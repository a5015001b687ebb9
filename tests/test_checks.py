"""The check helpers: they pass what is right, and fail with a message that helps."""
import numpy as np
import pytest
import torch

from mmkit.checks import CheckFailed, check_close, check_dtype, check_equal, check_shape, check_true, check_type


def message(call) -> str:
    with pytest.raises(AssertionError) as info:
        call()
    assert isinstance(info.value, CheckFailed)
    return str(info.value)


def test_check_close_passes_within_tolerance():
    check_close(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.0 + 1e-7]), "x")
    check_close(torch.tensor(2.0), 2.0, "a scalar tensor for a number")
    check_close(np.float32(0.5), 0.5, "a numpy scalar")
    check_close(np.ones(3), np.ones(3), "arrays")


def test_check_close_reports_largest_difference_and_where():
    text = message(lambda: check_close(torch.tensor([[1.0, 2.0], [3.0, 4.0]]),
                                       torch.tensor([[1.0, 2.0], [3.5, 4.0]]), "my tensor", hint="look at row 1"))
    assert "my tensor: wrong values" in text
    assert "yours:    3" in text and "expected: 3.5" in text
    assert "largest difference 0.5 at [1, 0]" in text
    assert "1 of 4 values differ" in text
    assert "Hint: look at row 1" in text


def test_checks_go_type_then_dtype_then_shape():
    assert "wrong type" in message(lambda: check_close([1.0, 2.0], torch.tensor([1.0, 2.0]), "x"))
    assert "wrong dtype" in message(lambda: check_close(torch.tensor([1, 2]), torch.tensor([1.0, 2.0]), "x"))
    text = message(lambda: check_close(torch.zeros(2, 3), torch.zeros(3, 2), "x"))
    assert "wrong shape" in text and "(2, 3)" in text and "(3, 2)" in text
    assert "wrong type" in message(lambda: check_close(None, 1.0, "x"))
    assert "wrong type" in message(lambda: check_close(True, 1.0, "x"))


def test_a_count_may_be_a_one_element_integer_tensor():
    check_equal(torch.tensor(16), 16, "count")
    check_equal(np.array([16]), 16, "count")
    assert "wrong type" in message(lambda: check_equal(torch.tensor(16.0), 16, "count"))
    assert "wrong type" in message(lambda: check_equal(torch.tensor(True), 1, "count"))
    assert "wrong value" in message(lambda: check_equal(torch.tensor(15), 16, "count"))


def test_any_float_precision_is_close():
    # a float64 loss of float32 logits is a correct answer; an integer tensor for a float one is not
    check_close(torch.tensor([1.0, 2.0], dtype=torch.float64), torch.tensor([1.0, 2.0]), "x")
    check_close(torch.tensor([1.0], dtype=torch.float16), torch.tensor([1.0]), "x")
    assert "wrong dtype" in message(lambda: check_close(torch.tensor([1.0, 2.0]), torch.tensor([1, 2]), "x"))
    assert "wrong values" in message(lambda: check_close(torch.tensor([1.5], dtype=torch.float64), torch.tensor([1.0]), "x"))


def test_check_close_flags_nan():
    assert "NaN" in message(lambda: check_close(torch.tensor([float("nan"), 1.0]), torch.tensor([0.0, 1.0]), "x"))


def test_check_shape_wildcards():
    check_shape(torch.zeros(4, 7), (None, 7))
    assert "(any, 8)" in message(lambda: check_shape(torch.zeros(4, 7), (None, 8)))


def test_check_equal_exact():
    check_equal(torch.tensor([1, 2]), torch.tensor([1, 2]))
    check_equal([1, 2], [1, 2])
    check_equal(3, 3)
    text = message(lambda: check_equal(torch.tensor([1, 2, 3]), torch.tensor([1, 5, 3]), "ids"))
    assert "first difference at [1]" in text and "yours:    2" in text
    assert "wrong value" in message(lambda: check_equal([1, 2], [1, 3]))
    assert "wrong dtype" in message(lambda: check_equal(torch.tensor([1.0]), torch.tensor([1])))


def test_check_true_needs_real_true():
    check_true(True, "never shown")
    check_true(torch.tensor(True), "never shown")

    class Liar:
        def __bool__(self):
            return True
    assert "not really" in message(lambda: check_true(Liar(), "not really"))
    assert "hint!" in message(lambda: check_true(torch.tensor([True, True]), "two values", hint="hint!"))


def test_type_and_dtype_checks():
    check_type(1.0, float)
    check_dtype(torch.zeros(1, dtype=torch.long), torch.long)
    assert "float or int" in message(lambda: check_type("a", (float, int)))
    assert "missing return" in message(lambda: check_type(None, torch.Tensor))
