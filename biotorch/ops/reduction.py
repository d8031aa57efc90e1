"""Reductions over one or more dimensions (``dim`` int or tuple, ``keepdim``)."""

from __future__ import annotations

from biotorch.autograd.function import Function
from biotorch.backend import array_module
from biotorch.dtypes import get_default_dtype, to_dtype

__all__ = ["sum", "mean", "normalize_dims"]


def normalize_dims(dim, ndim: int, name: str = "dim") -> tuple:
    """``dim`` (None, int or sequence) as a sorted tuple of non-negative axes, validated."""
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    rank = max(ndim, 1)
    out = []
    for d in dims:
        if not -rank <= d < rank:
            raise IndexError(
                f"{name}: dimension {d} is out of range for a tensor with {ndim} dimensions "
                f"(expected {-rank} to {rank - 1})"
            )
        out.append(d % rank if ndim else 0)
    if len(set(out)) != len(out):
        raise ValueError(f"{name}: dimension {dim} appears more than once")
    return tuple(sorted(out)) if ndim else ()


def _expand_grad(grad, shape, axes, keepdim):
    """Broadcast a reduced gradient back to the input's shape."""
    xp = array_module(grad)
    if not keepdim:
        grad = xp.expand_dims(grad, axes) if axes else grad
    return xp.broadcast_to(grad, shape)


class Sum(Function):
    @staticmethod
    def forward(ctx, a, axes, keepdim, dtype):
        ctx.shape, ctx.axes, ctx.keepdim = a.shape, axes, keepdim
        return a.sum(axis=axes, keepdims=keepdim, dtype=dtype)

    @staticmethod
    def backward(ctx, grad):
        return _expand_grad(grad, ctx.shape, ctx.axes, ctx.keepdim), None, None, None


class Mean(Function):
    @staticmethod
    def forward(ctx, a, axes, keepdim):
        ctx.shape, ctx.axes, ctx.keepdim = a.shape, axes, keepdim
        count = 1
        for ax in axes:
            count *= a.shape[ax]
        ctx.count = count
        return a.mean(axis=axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx, grad):
        return _expand_grad(grad / ctx.count, ctx.shape, ctx.axes, ctx.keepdim), None, None


def sum(input, dim=None, keepdim: bool = False, *, dtype=None):
    """Sum over ``dim`` (all dimensions by default); bool and int inputs sum to int64."""
    axes = normalize_dims(dim, input.ndim, "sum")
    if dtype is None and input._data.dtype.kind in "biu":
        dtype = "int64"
    np_dtype = None if dtype is None else to_dtype(dtype).numpy
    return Sum.apply(input, axes, keepdim, np_dtype)


def mean(input, dim=None, keepdim: bool = False, *, dtype=None):
    """Mean over ``dim`` (all dimensions by default); floating-point inputs only."""
    if dtype is not None:
        input = input.to(dtype)
    if not input.is_floating_point():
        raise RuntimeError(
            f"mean: expected a floating-point input, got {input.dtype}; pass dtype= or cast first"
            f" (e.g. x.to({get_default_dtype()}))"
        )
    return Mean.apply(input, normalize_dims(dim, input.ndim, "mean"), keepdim)
