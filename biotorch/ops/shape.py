"""Shape ops: views and rearrangements of the same values."""

from __future__ import annotations

from biotorch.autograd.function import Function

__all__ = ["reshape", "view", "transpose", "permute"]


class Reshape(Function):
    _view_of = 0

    @staticmethod
    def forward(ctx, a, shape):
        ctx.shape = a.shape
        return a.reshape(shape)

    @staticmethod
    def backward(ctx, grad):
        return grad.reshape(ctx.shape), None


class Permute(Function):
    _view_of = 0

    @staticmethod
    def forward(ctx, a, axes):
        ctx.axes = axes
        return a.transpose(axes)

    @staticmethod
    def backward(ctx, grad):
        inverse = [0] * len(ctx.axes)
        for i, ax in enumerate(ctx.axes):
            inverse[ax] = i
        return grad.transpose(inverse), None


def _shape_arg(shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], list | tuple):
        return tuple(shape[0])
    return tuple(shape)


def reshape(input, *shape):
    """The same values in a new shape (one dimension may be -1)."""
    shape = _shape_arg(shape)
    try:
        return Reshape.apply(input, shape)
    except ValueError:
        raise RuntimeError(
            f"reshape: shape {list(shape)} is invalid for an input of size {input.numel()}"
        ) from None


view = reshape


def permute(input, *dims):
    """Reorder dimensions (``x.permute(2, 0, 1)``)."""
    dims = _shape_arg(dims)
    if sorted(d % max(input.ndim, 1) for d in dims) != list(range(input.ndim)):
        raise RuntimeError(f"permute: {list(dims)} is not a permutation of {input.ndim} dimensions")
    return Permute.apply(input, tuple(d % input.ndim for d in dims))


def transpose(input, dim0: int, dim1: int):
    """Swap two dimensions."""
    axes = list(range(input.ndim))
    axes[dim0], axes[dim1] = axes[dim1], axes[dim0]
    return Permute.apply(input, tuple(axes))
