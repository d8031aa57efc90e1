"""Tensor dtypes (``biotorch.float32`` …), the default dtype and PyTorch's type-promotion rules."""

from __future__ import annotations

import builtins

import numpy as np

__all__ = [
    "dtype",
    "float16",
    "float32",
    "float64",
    "uint8",
    "int8",
    "int16",
    "int32",
    "int64",
    "bool_",
    "get_default_dtype",
    "set_default_dtype",
    "to_dtype",
    "promote_types",
    "result_type",
]


class dtype:
    """A tensor element type; a thin, hashable wrapper around a NumPy dtype."""

    __slots__ = ("name", "numpy", "is_floating_point", "is_signed", "itemsize", "_kind")

    def __init__(self, name: str, numpy_dtype: str) -> None:
        self.name = name
        self.numpy = np.dtype(numpy_dtype)
        self.is_floating_point = self.numpy.kind == "f"
        self.is_signed = self.numpy.kind in "if"
        self.itemsize = self.numpy.itemsize
        # PyTorch's promotion categories: bool < integer < floating point.
        self._kind = {"b": 0, "u": 1, "i": 1, "f": 2}[self.numpy.kind]

    def __repr__(self) -> str:
        return f"biotorch.{self.name}"

    def __reduce__(self):
        return self.name


float16 = dtype("float16", "float16")
float32 = dtype("float32", "float32")
float64 = dtype("float64", "float64")
uint8 = dtype("uint8", "uint8")
int8 = dtype("int8", "int8")
int16 = dtype("int16", "int16")
int32 = dtype("int32", "int32")
int64 = dtype("int64", "int64")
bool_ = dtype("bool", "bool")

_ALL = (float16, float32, float64, uint8, int8, int16, int32, int64, bool_)
_BY_NUMPY = {d.numpy: d for d in _ALL}
_BY_NAME = {d.name: d for d in _ALL}
_BY_NAME.update(half=float16, float=float32, double=float64, short=int16, int=int32, long=int64)
_BY_PYTHON_TYPE = {builtins.float: float64, builtins.int: int64, builtins.bool: bool_}
_default = [float32]


def get_default_dtype() -> dtype:
    """The floating-point dtype of new tensors made from Python floats (``float32`` at start)."""
    return _default[0]


def set_default_dtype(d) -> None:
    """Set the default floating-point dtype (``float16``, ``float32`` or ``float64``)."""
    d = to_dtype(d)
    if not d.is_floating_point:
        raise TypeError(f"set_default_dtype: expected a floating-point dtype, got {d}")
    _default[0] = d


def to_dtype(d) -> dtype:
    """Normalise a biotorch dtype, NumPy dtype, name (``"float32"``) or Python type to a ``dtype``.

    Python ``float``, ``int`` and ``bool`` map to float64, int64 and bool, as in PyTorch.
    """
    if isinstance(d, dtype):
        return d
    if isinstance(d, type) and d in _BY_PYTHON_TYPE:
        return _BY_PYTHON_TYPE[d]
    if isinstance(d, str) and d in _BY_NAME:
        return _BY_NAME[d]
    try:
        return _BY_NUMPY[np.dtype(d)]
    except (TypeError, KeyError):
        supported = ", ".join(x.name for x in _ALL)
        raise TypeError(f"dtype: {d!r} is not a supported dtype (supported: {supported})") from None


def promote_types(a: dtype, b: dtype) -> dtype:
    """The dtype of an operation on two tensors of dtypes ``a`` and ``b`` (PyTorch's rules)."""
    if a is b:
        return a
    if a._kind != b._kind:
        return a if a._kind > b._kind else b
    return _BY_NUMPY[np.promote_types(a.numpy, b.numpy)]


def result_type(dims_and_dtypes, scalars=()) -> dtype:
    """PyTorch's result type for tensors (given as ``(ndim, dtype)`` pairs) and Python scalars.

    Tensors with dimensions decide first; 0-d tensors, then Python scalars, raise the result only
    when they belong to a higher category (bool < integer < float). A Python float meeting integer
    tensors gives the default dtype.
    """
    result = None
    for want_dims in (True, False):
        best = None
        for ndim, d in dims_and_dtypes:
            if (ndim > 0) == want_dims:
                best = d if best is None else promote_types(best, d)
        if best is not None and (result is None or best._kind > result._kind):
            result = best if result is None else promote_types(result, best)
    for s in scalars:
        kind = 0 if isinstance(s, builtins.bool) else 1 if isinstance(s, builtins.int) else 2
        if result is None or kind > result._kind:
            result = (bool_, int64, get_default_dtype())[kind]
    return result
