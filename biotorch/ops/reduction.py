"""Reductions over one or more dimensions (``dim`` int or tuple, ``keepdim``), and ``cumsum``."""

from __future__ import annotations

import builtins
import math
import operator
from collections import namedtuple

from biotorch.autograd.function import Function
from biotorch.backend import array_module
from biotorch.dtypes import get_default_dtype, to_dtype
from biotorch.tensor import Tensor

__all__ = [
    "sum",
    "mean",
    "var",
    "std",
    "var_mean",
    "std_mean",
    "max",
    "min",
    "amax",
    "amin",
    "argmax",
    "argmin",
    "prod",
    "logsumexp",
    "cumsum",
    "norm",
    "all",
    "any",
]

# The (values, indices) results of max/min with a dim, like torch.return_types.max/min.
_MaxResult = namedtuple("max", ["values", "indices"])
_MinResult = namedtuple("min", ["values", "indices"])


def normalize_dims(dim, ndim: int, name: str = "dim") -> tuple:
    """``dim`` (None, int or sequence) as a sorted tuple of non-negative axes, validated.

    ``None`` and an empty sequence mean every dimension, as in PyTorch's reductions.
    """
    dims = (dim,) if dim is None or not isinstance(dim, list | tuple) else tuple(dim)
    if dim is None or not dims:
        return tuple(range(ndim))
    rank = builtins.max(ndim, 1)
    out = []
    for d in dims:
        try:
            d = operator.index(d)
        except TypeError:
            raise TypeError(
                f"{name}: dim must be an int or a tuple of ints, got {type(d).__name__} {d!r}"
            ) from None
        if not -rank <= d < rank:
            raise IndexError(
                f"{name}: dimension {d} is out of range for a tensor with {ndim} dimensions "
                f"(expected {-rank} to {rank - 1})"
            )
        out.append(d % rank if ndim else 0)
    if len(set(out)) != len(out):
        raise ValueError(f"{name}: dimension {dim} appears more than once")
    return tuple(sorted(out)) if ndim else ()


def _axes(name: str, input, dim) -> tuple:
    """Check that ``input`` is a Tensor and normalize ``dim`` against it."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}: expected a Tensor for 'input', got {type(input).__name__}")
    return normalize_dims(dim, input.ndim, name)


def _one_axis(name: str, input, dim) -> tuple:
    """``(axis,)`` for ops whose ``dim`` is one int in PyTorch (``()`` for a 0-d input)."""
    if dim is None or isinstance(dim, list | tuple):
        raise TypeError(f"{name}: dim must be a single int, got {dim!r}")
    return _axes(name, input, dim)


def _reduced_shape(shape: tuple, axes: tuple, keepdim: bool) -> tuple:
    if keepdim:
        return tuple(1 if i in axes else n for i, n in enumerate(shape))
    return tuple(n for i, n in enumerate(shape) if i not in axes)


def _require_float(name: str, input) -> None:
    if not input.is_floating_point():
        raise RuntimeError(
            f"{name}: expected a floating-point input, got {input.dtype}; cast it first "
            f"(e.g. x.to({get_default_dtype()}))"
        )


def _check_nonempty(name: str, input, axes: tuple, dim) -> None:
    """Reductions without an identity (max, argmax, …) need non-empty reduced dimensions."""
    if dim is None and input.numel() == 0:
        raise RuntimeError(f"{name}: cannot reduce an empty tensor without dim; pass dim=")
    for ax in axes:
        if input.shape[ax] == 0:
            raise IndexError(f"{name}: expected reduction dim {ax} to have non-zero size")


def _count(shape: tuple, axes: tuple) -> int:
    return math.prod(shape[ax] for ax in axes)


def _unsqueeze(arr, axes: tuple, keepdim: bool):
    """A reduced array with its reduced ``axes`` restored as size 1 (a no-op for keepdim)."""
    return arr if keepdim or not axes else array_module(arr).expand_dims(arr, axes)


def _expand_grad(grad, shape, axes, keepdim):
    """Broadcast a reduced gradient back to the input's shape."""
    return array_module(grad).broadcast_to(_unsqueeze(grad, axes, keepdim), shape)


def _safe_div(num, den):
    """``num / den``, with 0 where ``den`` is 0 (the subgradient PyTorch picks at a kink)."""
    xp = array_module(den)
    zero = den == 0
    return xp.where(zero, 0, num / xp.where(zero, 1, den))


def _tie_grad(x, out, grad, axes, keepdim):
    """Gradient of a max/min over ``axes``, split evenly among the elements equal to ``out``."""
    mask = x == _unsqueeze(out, axes, keepdim)
    count = mask.sum(axis=axes, keepdims=True, dtype=grad.dtype)
    return mask * (_unsqueeze(grad, axes, keepdim) / count)


def _centered(a, axes):
    return a - a.mean(axis=axes, keepdims=True)


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
        ctx.count = _count(a.shape, axes)
        if ctx.count == 0:  # nan, as torch, without NumPy's "mean of empty slice" warning
            return a.sum(axis=axes, keepdims=keepdim) * math.nan
        return a.mean(axis=axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx, grad):
        return _expand_grad(grad / ctx.count, ctx.shape, ctx.axes, ctx.keepdim), None, None


class Var(Function):
    @staticmethod
    def forward(ctx, a, axes, correction, keepdim):
        ctx.axes, ctx.keepdim = axes, keepdim
        ctx.dof = builtins.max(_count(a.shape, axes) - correction, 0)
        ctx.save_for_backward(a)
        return array_module(a).var(a, axis=axes, ddof=correction, keepdims=keepdim)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        g = _unsqueeze(grad, ctx.axes, ctx.keepdim) * 2.0
        return _centered(a, ctx.axes) * (g / ctx.dof), None, None, None


class Std(Function):
    @staticmethod
    def forward(ctx, a, axes, correction, keepdim):
        xp = array_module(a)
        ctx.axes, ctx.keepdim = axes, keepdim
        ctx.dof = builtins.max(_count(a.shape, axes) - correction, 0)
        out = xp.asarray(xp.std(a, axis=axes, ddof=correction, keepdims=keepdim))
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, out = ctx.saved_tensors
        axes, keepdim = ctx.axes, ctx.keepdim
        g = _safe_div(_unsqueeze(grad, axes, keepdim), _unsqueeze(out, axes, keepdim) * ctx.dof)
        return _centered(a, axes) * g, None, None, None


class Extreme(Function):
    """max/min over ``axes`` (amax/amin); the gradient is split evenly among ties."""

    @staticmethod
    def forward(ctx, a, axes, keepdim, largest):
        reduce = a.max if largest else a.min
        out = array_module(a).asarray(reduce(axis=axes, keepdims=keepdim))
        ctx.axes, ctx.keepdim = axes, keepdim
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, out = ctx.saved_tensors
        return _tie_grad(a, out, grad, ctx.axes, ctx.keepdim), None, None, None


class ExtremeDim(Function):
    """max/min along one dim with the index of the first extreme; the gradient goes there."""

    @staticmethod
    def forward(ctx, a, dim, keepdim, largest):
        xp = array_module(a)
        x = a.reshape(1) if a.ndim == 0 else a
        pick = xp.argmax if largest else xp.argmin
        idx = pick(x, axis=dim, keepdims=True).astype(xp.int64, copy=False)
        values = xp.take_along_axis(x, idx, axis=dim)
        ctx.idx, ctx.dim, ctx.shape = idx, dim, a.shape
        out_shape = _reduced_shape(a.shape, (dim,), keepdim)
        indices = idx.reshape(out_shape)
        ctx.mark_non_differentiable(indices)
        return values.reshape(out_shape), indices

    @staticmethod
    def backward(ctx, grad, _):
        xp = array_module(grad)
        idx, dim = ctx.idx, ctx.dim
        shape = [1] * idx.ndim
        shape[dim] = ctx.shape[dim] if ctx.shape else 1
        positions = xp.arange(shape[dim]).reshape(shape)
        g = xp.where(positions == idx, grad.reshape(idx.shape), 0)
        return g.reshape(ctx.shape), None, None, None


class Prod(Function):
    @staticmethod
    def forward(ctx, a, axes, keepdim, dtype):
        ctx.axes, ctx.keepdim = axes, keepdim
        ctx.save_for_backward(a)
        return a.prod(axis=axes, keepdims=keepdim, dtype=dtype)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        xp = array_module(a)
        axes = ctx.axes
        zero = a == 0
        n_zero = zero.sum(axis=axes, keepdims=True)
        others = xp.where(zero, 1, a)
        rest = others.prod(axis=axes, keepdims=True)
        # No zero: out / a. One zero: that element gets the product of the rest. More: zero.
        local = xp.where(n_zero == 0, rest / others, xp.where(zero & (n_zero == 1), rest, 0))
        return _unsqueeze(grad, axes, ctx.keepdim) * local, None, None, None


class LogSumExp(Function):
    @staticmethod
    def forward(ctx, a, axes, keepdim):
        xp = array_module(a)
        shift = a.max(axis=axes, keepdims=True)
        shift = xp.where(xp.isfinite(shift), shift, 0)
        out = xp.log(xp.exp(a - shift).sum(axis=axes, keepdims=True)) + shift
        out = out if keepdim else out.reshape(_reduced_shape(a.shape, axes, False))
        ctx.axes, ctx.keepdim = axes, keepdim
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, out = ctx.saved_tensors
        axes, keepdim = ctx.axes, ctx.keepdim
        softmax = array_module(a).exp(a - _unsqueeze(out, axes, keepdim))
        return _unsqueeze(grad, axes, keepdim) * softmax, None, None


class CumSum(Function):
    @staticmethod
    def forward(ctx, a, dim, dtype):
        ctx.dim = dim
        x = a.reshape(1) if a.ndim == 0 else a
        return array_module(a).cumsum(x, axis=dim, dtype=dtype).reshape(a.shape)

    @staticmethod
    def backward(ctx, grad):
        xp = array_module(grad)
        g = grad.reshape(1) if grad.ndim == 0 else grad
        dim = ctx.dim
        return xp.flip(xp.cumsum(xp.flip(g, dim), axis=dim), dim).reshape(grad.shape), None, None


class Norm(Function):
    """Vector p-norm over ``axes`` (p a number, ``inf`` or ``-inf``)."""

    @staticmethod
    def forward(ctx, a, p, axes, keepdim):
        xp = array_module(a)
        ctx.p, ctx.axes, ctx.keepdim = p, axes, keepdim
        mag = xp.abs(a)
        if p == math.inf:
            out = mag.max(axis=axes, keepdims=keepdim)
        elif p == -math.inf:
            out = mag.min(axis=axes, keepdims=keepdim)
        elif p == 0:
            out = (a != 0).sum(axis=axes, keepdims=keepdim, dtype=a.dtype)
        elif p == 1:
            out = mag.sum(axis=axes, keepdims=keepdim)
        elif p == 2:
            out = xp.sqrt((a * a).sum(axis=axes, keepdims=keepdim))
        else:
            out = (mag**p).sum(axis=axes, keepdims=keepdim) ** (1.0 / p)
        out = xp.asarray(out)
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, out = ctx.saved_tensors
        xp = array_module(a)
        p, axes, keepdim = ctx.p, ctx.axes, ctx.keepdim
        if p in (math.inf, -math.inf):
            g = xp.sign(a) * _tie_grad(xp.abs(a), out, grad, axes, keepdim)
        elif p == 0:
            g = xp.zeros_like(a)
        else:
            g = _unsqueeze(grad, axes, keepdim)
            if p == 1:
                g = xp.sign(a) * g
            elif p == 2:
                g = a * _safe_div(g, _unsqueeze(out, axes, keepdim))
            else:
                scale = _safe_div(g, _unsqueeze(out, axes, keepdim) ** (p - 1))
                g = xp.sign(a) * xp.abs(a) ** (p - 1) * scale
        return g, None, None, None


def sum(input, dim=None, keepdim: bool = False, *, dtype=None):
    """Sum over ``dim`` (all dimensions by default); bool and int inputs sum to int64."""
    axes = _axes("sum", input, dim)
    if dtype is None and input._data.dtype.kind in "biu":
        dtype = "int64"
    np_dtype = None if dtype is None else to_dtype(dtype).numpy
    return Sum.apply(input, axes, keepdim, np_dtype)


def mean(input, dim=None, keepdim: bool = False, *, dtype=None):
    """Mean over ``dim`` (all dimensions by default); floating-point inputs only."""
    axes = _axes("mean", input, dim)
    if dtype is not None:
        input = input.to(dtype)
    _require_float("mean", input)
    return Mean.apply(input, axes, keepdim)


def _var_args(name: str, input, dim, unbiased, correction):
    """(axes, correction) from PyTorch's overloads: ``var(x, unbiased)``, ``var(x, dim,
    unbiased, keepdim)`` and ``var(x, dim, correction=…, keepdim=…)``."""
    if isinstance(dim, bool):
        if unbiased is not None:
            raise TypeError(f"{name}: got unbiased twice (as dim={dim} and unbiased={unbiased})")
        dim, unbiased = None, dim
    if unbiased is not None and correction is not None:
        raise TypeError(f"{name}: pass either unbiased or correction, not both")
    if correction is None:
        correction = 0 if unbiased is False else 1
    axes = _axes(name, input, dim)
    _require_float(name, input)
    return axes, correction


def var(input, dim=None, unbiased: bool | None = None, keepdim: bool = False, *, correction=None):
    """Variance over ``dim`` with ``correction`` (Bessel's, 1, by default; ``unbiased=False``
    or ``correction=0`` for the population variance)."""
    axes, correction = _var_args("var", input, dim, unbiased, correction)
    return Var.apply(input, axes, correction, keepdim)


def std(input, dim=None, unbiased: bool | None = None, keepdim: bool = False, *, correction=None):
    """Standard deviation over ``dim``; arguments as :func:`var`. The gradient is 0 where the
    standard deviation is 0, as in PyTorch."""
    axes, correction = _var_args("std", input, dim, unbiased, correction)
    return Std.apply(input, axes, correction, keepdim)


def var_mean(input, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    """``(var(input, …), mean(input, …))`` over the same dimensions."""
    axes, correction = _var_args("var_mean", input, dim, unbiased, correction)
    return Var.apply(input, axes, correction, keepdim), Mean.apply(input, axes, keepdim)


def std_mean(input, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    """``(std(input, …), mean(input, …))`` over the same dimensions."""
    axes, correction = _var_args("std_mean", input, dim, unbiased, correction)
    return Std.apply(input, axes, correction, keepdim), Mean.apply(input, axes, keepdim)


def _extreme(name: str, input, dim, keepdim: bool, largest: bool):
    if isinstance(dim, Tensor):
        from biotorch.ops import elementwise

        return (elementwise.maximum if largest else elementwise.minimum)(input, dim)
    if dim is None:
        if keepdim:
            raise TypeError(f"{name}: keepdim=True needs a dim")
        axes = _axes(name, input, None)
        _check_nonempty(name, input, axes, None)
        return Extreme.apply(input, axes, False, largest)
    axes = _one_axis(name, input, dim)
    _check_nonempty(name, input, axes, dim)
    values, indices = ExtremeDim.apply(input, axes[0] if axes else 0, keepdim, largest)
    return (_MaxResult if largest else _MinResult)(values, indices)


def max(input, dim=None, keepdim: bool = False):
    """``max(input)``: the largest value (the gradient is shared among ties).
    ``max(input, dim, keepdim=False)``: a ``(values, indices)`` namedtuple along ``dim`` (the
    gradient goes to the returned index, the first occurrence). ``max(input, other)``: the
    elementwise :func:`maximum`."""
    return _extreme("max", input, dim, keepdim, True)


def min(input, dim=None, keepdim: bool = False):
    """The smallest value, ``(values, indices)`` along ``dim``, or ``minimum(input, other)``;
    see :func:`max`."""
    return _extreme("min", input, dim, keepdim, False)


def _amax(name: str, input, dim, keepdim: bool, largest: bool):
    axes = _axes(name, input, dim)
    _check_nonempty(name, input, axes, dim)
    return Extreme.apply(input, axes, keepdim, largest)


def amax(input, dim=(), keepdim: bool = False):
    """Largest values over ``dim`` (int or tuple; all by default); the gradient is split evenly
    among ties."""
    return _amax("amax", input, dim, keepdim, True)


def amin(input, dim=(), keepdim: bool = False):
    """Smallest values over ``dim``; see :func:`amax`."""
    return _amax("amin", input, dim, keepdim, False)


def _arg(name: str, input, dim, keepdim: bool, largest: bool):
    axes = _axes(name, input, None) if dim is None else _one_axis(name, input, dim)
    _check_nonempty(name, input, axes, dim)
    data = input._data
    xp = array_module(data)
    flat = dim is None or data.ndim == 0
    x = data.reshape(-1) if flat else data
    out = (xp.argmax if largest else xp.argmin)(x, axis=0 if flat else axes[0])
    out = xp.asarray(out, dtype=xp.int64).reshape(_reduced_shape(data.shape, axes, keepdim))
    return Tensor._make(out, False, None, 0)


def argmax(input, dim=None, keepdim: bool = False):
    """Index of the (first) largest value along ``dim``, or in the flattened input when
    ``dim`` is None; int64, not differentiable."""
    return _arg("argmax", input, dim, keepdim, True)


def argmin(input, dim=None, keepdim: bool = False):
    """Index of the (first) smallest value; see :func:`argmax`."""
    return _arg("argmin", input, dim, keepdim, False)


def prod(input, dim=None, keepdim: bool = False, *, dtype=None):
    """Product over ``dim`` (one int; all dimensions by default); bool and int inputs give
    int64. The gradient is exact when the input has zeros."""
    axes = _axes("prod", input, None) if dim is None else _one_axis("prod", input, dim)
    if dtype is None and input._data.dtype.kind in "biu":
        dtype = "int64"
    np_dtype = None if dtype is None else to_dtype(dtype).numpy
    return Prod.apply(input, axes, keepdim, np_dtype)


def logsumexp(input, dim, keepdim: bool = False):
    """``log(sum(exp(input), dim))``, computed stably (the max is subtracted first)."""
    axes = _axes("logsumexp", input, dim)
    _check_nonempty("logsumexp", input, axes, dim)
    if not input.is_floating_point():
        input = input.to(get_default_dtype())
    return LogSumExp.apply(input, axes, keepdim)


def cumsum(input, dim: int, *, dtype=None):
    """Cumulative sum along ``dim``; bool and int inputs give int64."""
    axes = _one_axis("cumsum", input, dim)
    if dtype is None and input._data.dtype.kind in "biu":
        dtype = "int64"
    np_dtype = None if dtype is None else to_dtype(dtype).numpy
    return CumSum.apply(input, axes[0] if axes else 0, np_dtype)


def norm(input, p="fro", dim=None, keepdim: bool = False, dtype=None):
    """Vector p-norm over ``dim`` (all dimensions by default): ``p`` is ``"fro"`` (the 2-norm),
    a number, ``inf`` or ``-inf``. The gradient at a zero norm is 0, as in PyTorch."""
    if p == "fro":
        p = 2
    elif isinstance(p, str) or not isinstance(p, int | float) or isinstance(p, bool):
        raise ValueError(f"norm: p must be 'fro', a number, inf or -inf, got {p!r}")
    axes = _axes("norm", input, dim)
    if dtype is not None:
        input = input.to(dtype)
    _require_float("norm", input)
    if abs(p) == math.inf:
        _check_nonempty("norm", input, axes, dim)
    return Norm.apply(input, float(p), axes, keepdim)


def _truth(name: str, input, dim, keepdim: bool, every: bool):
    axes = _axes(name, input, dim)
    data = input._data
    out = data.all(axis=axes, keepdims=keepdim) if every else data.any(axis=axes, keepdims=keepdim)
    xp = array_module(data)
    out = xp.asarray(out, dtype=xp.uint8 if data.dtype == xp.uint8 else xp.bool_)
    return Tensor._make(out, False, None, 0)


def all(input, dim=None, keepdim: bool = False):
    """Whether every element over ``dim`` is nonzero (bool; uint8 for uint8 input, as torch)."""
    return _truth("all", input, dim, keepdim, True)


def any(input, dim=None, keepdim: bool = False):
    """Whether any element over ``dim`` is nonzero (bool; uint8 for uint8 input, as torch)."""
    return _truth("any", input, dim, keepdim, False)
