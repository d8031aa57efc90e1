"""Softmax and log-softmax along one dimension: numerically stable, one fused op each."""

from __future__ import annotations

from biotorch.autograd.function import Function
from biotorch.backend import array_module
from biotorch.ops.reduction import normalize_dims

__all__ = ["softmax", "log_softmax"]


def _shifted_by_max(xp, x, axis: int):
    """``x`` minus its maximum along ``axis`` (so ``exp`` cannot overflow), C-contiguous."""
    return xp.subtract(x, x.max(axis=axis, keepdims=True), out=xp.empty(x.shape, x.dtype))


def log_softmax_array(xp, x, axis: int):
    """Stable log-softmax of a raw (non-empty) array along ``axis``; C-contiguous result, for
    fused ops (e.g. cross-entropy) that build on it."""
    out = _shifted_by_max(xp, x, axis)
    LogSoftmax._finish(xp, out, axis)
    return out


class _AlongDim(Function):
    """Shared forward: shift by the maximum along ``axis`` (so ``exp`` cannot overflow), let
    the subclass finish in place, and keep the output for backward."""

    @staticmethod
    def forward(ctx, x, axis):
        xp = array_module(x)
        if x.size == 0:
            out = x.copy()
        else:
            out = _shifted_by_max(xp, x, axis)
            type(ctx)._finish(xp, out, axis)
        ctx.axis = axis
        ctx.save_for_backward(out)
        return out


class Softmax(_AlongDim):
    @staticmethod
    def _finish(xp, out, axis):
        xp.exp(out, out=out)
        out /= out.sum(axis=axis, keepdims=True)

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        xp = array_module(grad)
        g = xp.multiply(grad, out, out=xp.empty_like(out))
        xp.subtract(grad, g.sum(axis=ctx.axis, keepdims=True), out=g)
        g *= out
        return g, None


class LogSoftmax(_AlongDim):
    @staticmethod
    def _finish(xp, out, axis):
        out -= xp.log(xp.exp(out).sum(axis=axis, keepdims=True))

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        xp = array_module(grad)
        g = xp.exp(out, out=xp.empty_like(out))
        g *= grad.sum(axis=ctx.axis, keepdims=True)
        xp.subtract(grad, g, out=g)
        return g, None


def _prepare(name: str, input, dim, dtype):
    """Cast to ``dtype`` if given and resolve ``dim`` to one axis (a 0-d input has none)."""
    if dim is None:
        raise TypeError(
            f"{name}: dim is required (the implicit choice of dimension is deprecated in "
            f"PyTorch); pass e.g. dim=-1"
        )
    if not isinstance(dim, int):
        raise TypeError(f"{name}: dim must be an int, got {dim!r}")
    if dtype is not None:
        input = input.to(dtype)
    if not input.is_floating_point():
        raise RuntimeError(
            f"{name}: expected a floating-point input, got {input.dtype}; pass dtype= "
            f"(e.g. dtype=biotorch.float32) or cast first"
        )
    return input, normalize_dims(dim, input.ndim, name)


def softmax(input, dim: int | None = None, dtype=None):
    """``exp(x) / exp(x).sum(dim)``, computed stably by subtracting the maximum along ``dim``.

    Parameters
    ----------
    input : Tensor
        Floating-point input (or any input with ``dtype`` given).
    dim : int
        The dimension along which the outputs sum to 1.
    dtype : dtype, optional
        Cast the input to this dtype first (useful to compute in float64).
    """
    x, axis = _prepare("softmax", input, dim, dtype)
    return Softmax.apply(x, axis)


def log_softmax(input, dim: int | None = None, dtype=None):
    """``log(softmax(x, dim))``, computed stably as ``x - max - log(sum(exp(x - max)))``.

    Parameters as :func:`softmax`.
    """
    x, axis = _prepare("log_softmax", input, dim, dtype)
    return LogSoftmax.apply(x, axis)
