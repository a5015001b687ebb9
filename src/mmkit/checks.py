"""Checks used by the notebooks' test cells.

Every check raises AssertionError (so nbgrader marks the cell failed) with a message written the
way a teaching assistant would explain it: what was checked, yours against expected, the
largest difference and where it is, and a hint. Checks go from coarse to fine: type, dtype,
shape, then values, so that the first message a student sees names the first thing to fix.
"""
from __future__ import annotations

import numbers

import numpy as np
import torch

__all__ = ["CheckFailed", "check_type", "check_dtype", "check_shape", "check_close",
           "check_equal", "check_true"]


class CheckFailed(AssertionError):
    """A check did not pass; the message says why and what to try."""


def _fail(name: str, problem: str, details: list[str], hint: str | None):
    lines = [f"{name}: {problem}"] + [f"  {d}" for d in details]
    if hint:
        lines.append(f"Hint: {hint}")
    raise CheckFailed("\n".join(lines))


def _describe_type(x) -> str:
    if isinstance(x, torch.Tensor):
        return f"torch.Tensor (dtype {x.dtype}, shape {tuple(x.shape)})"
    if isinstance(x, np.ndarray):
        return f"numpy.ndarray (dtype {x.dtype}, shape {x.shape})"
    return type(x).__name__


def check_true(condition, message: str, hint: str | None = None, name: str = "check") -> None:
    """Fail with message unless condition is exactly True (a tensor must be a single True)."""
    if isinstance(condition, torch.Tensor):
        condition = condition.numel() == 1 and bool(condition.item())
    if condition is not True and condition is not np.True_:
        _fail(name, message, [], hint)


def check_type(yours, expected_type, name: str = "result", hint: str | None = None) -> None:
    if not isinstance(yours, expected_type):
        want = expected_type.__name__ if isinstance(expected_type, type) else \
            " or ".join(t.__name__ for t in expected_type)
        _fail(name, "wrong type.", [f"yours:    {_describe_type(yours)}", f"expected: {want}"],
              hint or "check what your function returns (a missing return gives None)")


def check_dtype(yours, expected_dtype, name: str = "result", hint: str | None = None) -> None:
    if yours.dtype != expected_dtype:
        _fail(name, "wrong dtype.", [f"yours:    {yours.dtype}", f"expected: {expected_dtype}"], hint)


def check_shape(yours, expected_shape, name: str = "result", hint: str | None = None) -> None:
    """expected_shape may hold None for a dimension of any size."""
    shape = tuple(yours.shape)
    expected_shape = tuple(expected_shape)
    ok = len(shape) == len(expected_shape) and all(
        e is None or s == e for s, e in zip(shape, expected_shape))
    if not ok:
        want = "(" + ", ".join("any" if e is None else str(e) for e in expected_shape) + ")"
        _fail(name, "wrong shape.", [f"yours:    {shape}", f"expected: {want}"],
              hint or "print the shape after every line and compare with the shape comments")


def _as_array(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().to("cpu", torch.float64 if x.is_floating_point() else x.dtype).numpy()
    return np.asarray(x)


def _where(index: tuple) -> str:
    return "[" + ", ".join(str(int(i)) for i in index) + "]" if index else "(a scalar)"


def _format(v) -> str:
    return f"{v:.6g}" if isinstance(v, (float, np.floating)) else str(v)


def check_close(yours, expected, name: str = "result", atol: float = 1e-5, rtol: float = 1e-4,
                hint: str | None = None, check_dtype_: bool = True) -> None:
    """Compare a tensor, an array or a number with the expected one, within atol + rtol*|expected|.

    A tensor is expected where expected is a tensor (same dtype unless check_dtype_=False);
    a number may be given as a Python number, a NumPy scalar or a one-element tensor.
    """
    if isinstance(expected, torch.Tensor):
        check_type(yours, torch.Tensor, name, hint=None)
        if check_dtype_:
            check_dtype(yours, expected.dtype, name)
        check_shape(yours, expected.shape, name)
    elif isinstance(expected, np.ndarray):
        check_type(yours, (np.ndarray, torch.Tensor), name)
        check_shape(yours, expected.shape, name)
    elif isinstance(expected, numbers.Number):
        if isinstance(yours, (torch.Tensor, np.ndarray)):
            if yours.size == 1 if isinstance(yours, np.ndarray) else yours.numel() == 1:
                yours = yours.item()
        if not isinstance(yours, numbers.Number) or isinstance(yours, bool):
            _fail(name, "wrong type.", [f"yours:    {_describe_type(yours)}",
                                         "expected: a number (or a one-element tensor)"], hint)
    a, b = _as_array(yours).astype(np.float64), _as_array(expected).astype(np.float64)
    if np.isnan(a).any() and not np.isnan(b).any():
        _fail(name, "contains NaN.", [f"{int(np.isnan(a).sum())} of {a.size} values are NaN"],
              hint or "look for a log or a division of zero, or an infinity times zero")
    bad = ~np.isclose(a, b, atol=atol, rtol=rtol, equal_nan=True)
    if bad.any():
        diff = np.where(np.isnan(a) | np.isnan(b), np.inf, np.abs(a - b))
        index = np.unravel_index(np.argmax(diff), diff.shape) if diff.ndim else ()
        details = [f"yours:    {_format(a[index])}", f"expected: {_format(b[index])}",
                   f"largest difference {_format(float(diff[index]))} at {_where(index)}"]
        if a.size > 1:
            details.append(f"{int(bad.sum())} of {a.size} values differ by more than "
                           f"atol={atol:g} + rtol={rtol:g} x |expected|")
        _fail(name, "wrong values.", details, hint)


def check_equal(yours, expected, name: str = "result", hint: str | None = None) -> None:
    """Exact equality: for integers, token ids, booleans, strings and lists of them."""
    if isinstance(expected, torch.Tensor):
        check_type(yours, torch.Tensor, name)
        check_dtype(yours, expected.dtype, name)
        check_shape(yours, expected.shape, name)
        bad = (yours.detach().cpu() != expected.cpu())
        if bad.any():
            index = tuple(int(i) for i in bad.nonzero()[0])
            _fail(name, "wrong values.", [f"yours:    {_format(yours[index].item())}",
                                          f"expected: {_format(expected[index].item())}",
                                          f"first difference at {_where(index)}; "
                                          f"{int(bad.sum())} of {bad.numel()} values differ"], hint)
        return
    if type(yours) is not type(expected) and not (
            isinstance(yours, numbers.Integral) and isinstance(expected, numbers.Integral)):
        _fail(name, "wrong type.", [f"yours:    {_describe_type(yours)}",
                                    f"expected: {type(expected).__name__}"], hint)
    if yours != expected:
        _fail(name, "wrong value.", [f"yours:    {yours!r}", f"expected: {expected!r}"], hint)

