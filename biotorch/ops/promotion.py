"""Argument handling shared by the ops: PyTorch's type promotion for mixed operands."""

from __future__ import annotations

import numbers

import numpy as np

from biotorch.dtypes import _BY_NUMPY, result_type
from biotorch.tensor import Tensor

__all__ = ["promote", "is_scalar"]


def is_scalar(value) -> bool:
    """True for Python and NumPy numbers (including bool)."""
    return isinstance(value, numbers.Number | np.bool_)


def _check(name: str, arg: str, value) -> None:
    if not isinstance(value, Tensor) and not is_scalar(value):
        raise TypeError(
            f"{name}: expected a Tensor or a number for '{arg}', got {type(value).__name__}"
        )


def promote(name: str, a, b):
    """Return ``a`` and ``b`` with PyTorch's common dtype.

    Tensors are cast (differentiably) when needed; a Python number stays a number unless it is of
    a higher category than the tensor (an int tensor times 0.5 becomes a float32 tensor times 0.5).
    NumPy then keeps the tensor's dtype for the scalar (NEP 50), as PyTorch does.
    """
    a_is_t, b_is_t = isinstance(a, Tensor), isinstance(b, Tensor)
    if a_is_t and b_is_t:
        if a._data.dtype == b._data.dtype:
            return a, b
        target = result_type([(a.ndim, a.dtype), (b.ndim, b.dtype)])
        return a.to(target), b.to(target)
    if a_is_t or b_is_t:
        # Fast path: a Python number of the tensor's category or lower leaves the dtype alone.
        kind = (a if a_is_t else b)._data.dtype.kind
        scalar_type = type(b if a_is_t else a)
        if (
            scalar_type is bool
            or (scalar_type is float and kind == "f")
            or (scalar_type is int and kind != "b")
        ):
            return a, b
    _check(name, "input", a)
    _check(name, "other", b)
    if a_is_t or b_is_t:
        t, s = (a, b) if a_is_t else (b, a)
        s = s.item() if isinstance(s, np.generic) else s
        target = result_type([(t.ndim, _BY_NUMPY[t._data.dtype])], [s])
        t = t.to(target)
        return (t, s) if a_is_t else (s, t)
    raise TypeError(f"{name}: at least one argument must be a Tensor")
