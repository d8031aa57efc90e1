"""Shape ops: views and rearrangements of the same values, with torch's names and semantics.

Views share the input's storage and version counter, as in PyTorch: ``view``, ``reshape`` (when
the layout allows; ``view`` raises where it does not), ``flatten``/``unflatten`` (likewise),
``squeeze``, ``unsqueeze``, ``transpose``/``swapaxes``/``permute``/``t``/``movedim``, ``narrow``,
``expand``, ``split`` and ``chunk``. Every other op returns new storage (``flip`` copies, although
NumPy's flip is a view), so writing into its result never changes the input.
"""

from __future__ import annotations

import math
import operator
from functools import reduce

from biotorch.autograd.function import Function
from biotorch.backend import array_module
from biotorch.dtypes import promote_types
from biotorch.ops.reduction import normalize_dims
from biotorch.tensor import Tensor

__all__ = [
    "reshape",
    "view",
    "view_as",
    "reshape_as",
    "flatten",
    "unflatten",
    "squeeze",
    "unsqueeze",
    "transpose",
    "swapaxes",
    "permute",
    "t",
    "movedim",
    "narrow",
    "expand",
    "expand_as",
    "repeat",
    "flip",
    "roll",
    "cat",
    "concat",
    "concatenate",
    "stack",
    "split",
    "chunk",
    "tril",
    "triu",
]


class View(Function):
    """The same storage in a new shape (the caller checked that no copy is needed)."""

    _view_of = 0

    @staticmethod
    def forward(ctx, a, shape):
        ctx.shape = a.shape
        return a.reshape(shape)

    @staticmethod
    def backward(ctx, grad):
        return grad.reshape(ctx.shape), None


class ReshapeCopy(View):
    """``reshape`` of a layout no view can express: new storage, so not a view."""

    _view_of = None


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


class Expand(Function):
    _view_of = 0

    @staticmethod
    def forward(ctx, a, shape):
        return array_module(a).broadcast_to(a, shape)

    @staticmethod
    def backward(ctx, grad):
        return grad, None  # the engine sums the broadcast dimensions


class Narrow(Function):
    _view_of = 0

    @staticmethod
    def forward(ctx, a, dim, start, length):
        ctx.shape, ctx.key = a.shape, (slice(None),) * dim + (slice(start, start + length),)
        return a[ctx.key]

    @staticmethod
    def backward(ctx, grad):
        out = array_module(grad).zeros(ctx.shape, grad.dtype)
        out[ctx.key] = grad
        return out, None, None, None


class Split(Function):
    """Consecutive pieces along ``dim``; every output is a view of the input."""

    _view_of = 0

    @staticmethod
    def forward(ctx, a, sizes, dim):
        ctx.dim = dim
        bounds = [sum(sizes[: i + 1]) for i in range(len(sizes) - 1)]
        return tuple(array_module(a).split(a, bounds, axis=dim))

    @staticmethod
    def backward(ctx, *grads):
        return array_module(grads[0]).concatenate(grads, axis=ctx.dim), None, None


class Cat(Function):
    @staticmethod
    def forward(ctx, *arrays, dim):
        ctx.dim = dim
        ctx.bounds = [sum(a.shape[dim] for a in arrays[: i + 1]) for i in range(len(arrays) - 1)]
        return array_module(arrays[0]).concatenate(arrays, axis=dim)

    @staticmethod
    def backward(ctx, grad):
        return tuple(array_module(grad).split(grad, ctx.bounds, axis=ctx.dim))


class Stack(Function):
    @staticmethod
    def forward(ctx, *arrays, dim):
        ctx.dim = dim
        return array_module(arrays[0]).stack(arrays, axis=dim)

    @staticmethod
    def backward(ctx, grad):
        return tuple(array_module(grad).moveaxis(grad, ctx.dim, 0))


class Flip(Function):
    @staticmethod
    def forward(ctx, a, dims):
        ctx.dims = dims
        xp = array_module(a)
        return xp.ascontiguousarray(xp.flip(a, dims))

    @staticmethod
    def backward(ctx, grad):
        return array_module(grad).flip(grad, ctx.dims), None


class Roll(Function):
    @staticmethod
    def forward(ctx, a, shifts, dims):
        ctx.shifts, ctx.dims = shifts, dims
        return array_module(a).roll(a, shifts, dims)

    @staticmethod
    def backward(ctx, grad):
        return array_module(grad).roll(grad, tuple(-s for s in ctx.shifts), ctx.dims), None, None


class Repeat(Function):
    @staticmethod
    def forward(ctx, a, repeats):
        padded = (1,) * (len(repeats) - a.ndim) + a.shape
        ctx.shape, ctx.padded, ctx.repeats = a.shape, padded, repeats
        return array_module(a).tile(a.reshape(padded), repeats)

    @staticmethod
    def backward(ctx, grad):
        split = [n for pair in zip(ctx.repeats, ctx.padded, strict=True) for n in pair]
        summed = grad.reshape(split).sum(axis=tuple(range(0, len(split), 2)))
        return summed.reshape(ctx.shape), None


class Triangle(Function):
    """``tril`` (``upper=False``) or ``triu``: zero the entries outside the triangle."""

    @staticmethod
    def forward(ctx, a, diagonal, upper):
        ctx.diagonal, ctx.upper = diagonal, upper
        return _keep_triangle(a, diagonal, upper)

    @staticmethod
    def backward(ctx, grad):
        return _keep_triangle(grad, ctx.diagonal, ctx.upper), None, None


def _keep_triangle(a, diagonal: int, upper: bool):
    xp = array_module(a)
    rows, cols = a.shape[-2:]
    if upper:
        mask = ~xp.tri(rows, cols, diagonal - 1, dtype=bool)
    else:
        mask = xp.tri(rows, cols, diagonal, dtype=bool)
    return xp.where(mask, a, xp.zeros((), a.dtype))


_NUMPY_PAD_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


class Pad(Function):
    """Pad by the positive sizes (a constant, or a reflection/replica/wrap of the input), then
    crop by the negative ones, so reflections index the whole input as torch's do."""

    @staticmethod
    def forward(ctx, a, widths, mode, value):
        xp = array_module(a)
        grow = tuple((max(b, 0), max(e, 0)) for b, e in widths)
        if mode == "constant":
            shape = tuple(n + b + e for n, (b, e) in zip(a.shape, grow, strict=True))
            out = xp.full(shape, value, dtype=a.dtype)
            out[tuple(slice(b, b + n) for n, (b, _) in zip(a.shape, grow, strict=True))] = a
        else:
            out = xp.pad(a, grow, mode=_NUMPY_PAD_MODES[mode])
        ctx.grow, ctx.mode, ctx.padded_shape = grow, mode, out.shape
        ctx.crop = tuple(
            slice(max(-b, 0), n - max(-e, 0)) for (b, e), n in zip(widths, out.shape, strict=True)
        )
        return out[ctx.crop]

    @staticmethod
    def backward(ctx, grad):
        if grad.shape != ctx.padded_shape:
            full = array_module(grad).zeros(ctx.padded_shape, grad.dtype)
            full[ctx.crop] = grad
            grad = full
        for axis, (b, e) in enumerate(ctx.grow):
            if b or e:
                grad = _fold_pad(grad, axis, b, e, ctx.mode)
        return grad, None, None, None


def _along(axis: int, start: int, stop: int) -> tuple:
    return (slice(None),) * axis + (slice(start, stop),)


def _fold_pad(g, axis: int, b: int, e: int, mode: str):
    """The gradient of padding one axis by ``(b, e)``: add each padded cell's gradient back to
    the input cell it copied."""
    xp = array_module(g)
    n = g.shape[axis] - b - e
    core = g[_along(axis, b, b + n)]
    if mode == "constant":
        return core
    core = core.copy()
    left, right = g[_along(axis, 0, b)], g[_along(axis, b + n, b + n + e)]
    if mode == "replicate":
        core[_along(axis, 0, 1)] += left.sum(axis=axis, keepdims=True)
        core[_along(axis, n - 1, n)] += right.sum(axis=axis, keepdims=True)
    elif mode == "reflect":
        core[_along(axis, 1, b + 1)] += xp.flip(left, axis)
        core[_along(axis, n - 1 - e, n - 1)] += xp.flip(right, axis)
    else:
        core[_along(axis, n - b, n)] += left
        core[_along(axis, 0, e)] += right
    return core


# -- argument helpers --------------------------------------------------------------------------
def _wrap_dim(dim, ndim: int, name: str, arg: str = "dim") -> int:
    """``dim`` as a non-negative axis of a tensor with ``ndim`` dimensions (0-d tensors accept
    0 and -1, as in torch)."""
    dim = operator.index(dim)
    rank = max(ndim, 1)
    if not -rank <= dim < rank:
        raise IndexError(
            f"{name}: {arg} {dim} is out of range for a tensor with {ndim} dimensions "
            f"(expected {-rank} to {rank - 1})"
        )
    return dim % rank


def _sizes_arg(sizes) -> tuple:
    """Accept ``f(x, 2, 3)`` and ``f(x, (2, 3))``."""
    if len(sizes) == 1 and isinstance(sizes[0], list | tuple):
        sizes = sizes[0]
    return tuple(operator.index(s) for s in sizes)


def _infer_shape(shape: tuple, numel: int, name: str) -> tuple:
    """``shape`` with its one ``-1`` (if any) filled in, checked against ``numel`` elements."""
    unknown = [i for i, n in enumerate(shape) if n == -1]
    bad = [n for n in shape if n < -1]
    if len(unknown) > 1 or bad:
        what = "only one dimension can be -1" if not bad else f"invalid size {bad[0]}"
        raise RuntimeError(f"{name}: shape {list(shape)} is invalid: {what}")
    known = math.prod(n for n in shape if n != -1)
    if unknown and known and numel % known == 0:
        shape = shape[: unknown[0]] + (numel // known,) + shape[unknown[0] + 1 :]
    elif unknown or known != numel:
        raise RuntimeError(f"{name}: shape {list(shape)} is invalid for an input of size {numel}")
    return shape


def _can_view(old_shape: tuple, old_strides: tuple, new_shape: tuple) -> bool:
    """Whether ``new_shape`` can view storage laid out as ``old_shape``/``old_strides`` (byte
    strides): each run of dimensions that is contiguous in memory must map onto whole new
    dimensions (PyTorch's ``computeStride``)."""
    if not old_shape or math.prod(old_shape) == 0:
        return True
    view_d = len(new_shape) - 1
    chunk_stride = old_strides[-1]
    tensor_numel = view_numel = 1
    for d in range(len(old_shape) - 1, -1, -1):
        tensor_numel *= old_shape[d]
        if d == 0 or (old_shape[d - 1] != 1 and old_strides[d - 1] != tensor_numel * chunk_stride):
            while view_d >= 0 and (view_numel < tensor_numel or new_shape[view_d] == 1):
                view_numel *= new_shape[view_d]
                view_d -= 1
            if view_numel != tensor_numel:
                return False
            if d > 0:
                chunk_stride = old_strides[d - 1]
                tensor_numel = view_numel = 1
    return view_d == -1


def _reshape(input: Tensor, shape: tuple, name: str, copy_ok: bool) -> Tensor:
    shape = _infer_shape(shape, input.numel(), name)
    data = input._data
    if data.flags.c_contiguous or _can_view(data.shape, data.strides, shape):
        return View.apply(input, shape)
    if not copy_ok:
        raise RuntimeError(
            f"{name}: shape {list(shape)} is not compatible with the input's layout (shape "
            f"{list(input.shape)}, strides {[s // data.itemsize for s in data.strides]}): at least "
            f"one dimension spans two non-contiguous blocks; use .reshape(...) instead"
        )
    return ReshapeCopy.apply(input, shape)


# -- public functions --------------------------------------------------------------------------
def reshape(input: Tensor, *shape: int) -> Tensor:
    """``input``'s values in ``shape`` (one size may be -1): a view when the layout allows, else
    a copy."""
    return _reshape(input, _sizes_arg(shape), "reshape", copy_ok=True)


def view(input: Tensor, *shape: int) -> Tensor:
    """A view of ``input`` in ``shape`` (one size may be -1) sharing its storage.

    Raises ``RuntimeError`` when the input's strides allow no such view (e.g. after
    ``transpose``), as torch does; use :func:`reshape`, which copies there.
    """
    return _reshape(input, _sizes_arg(shape), "view", copy_ok=False)


def view_as(input: Tensor, other: Tensor) -> Tensor:
    """``input.view(other.shape)``."""
    return view(input, other.shape)


def reshape_as(input: Tensor, other: Tensor) -> Tensor:
    """``input.reshape(other.shape)``."""
    return reshape(input, other.shape)


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dimensions ``start_dim..end_dim`` into one (a 0-d input becomes 1-d)."""
    start = _wrap_dim(start_dim, input.ndim, "flatten", "start_dim")
    end = _wrap_dim(end_dim, input.ndim, "flatten", "end_dim")
    if start > end:
        raise RuntimeError(
            f"flatten: start_dim {start_dim} comes after end_dim {end_dim} "
            f"for a tensor with {input.ndim} dimensions"
        )
    shape = input.shape
    new = shape[:start] + (math.prod(shape[start : end + 1]),) + shape[end + 1 :]
    return _reshape(input, new, "flatten", copy_ok=True)


def unflatten(input: Tensor, dim: int, sizes) -> Tensor:
    """Split dimension ``dim`` into ``sizes`` (one may be -1)."""
    d = _wrap_dim(dim, input.ndim, "unflatten")
    sizes = _sizes_arg((sizes,))
    inner = _infer_shape(sizes, input.shape[d], f"unflatten (dim {dim})")
    return _reshape(input, input.shape[:d] + inner + input.shape[d + 1 :], "unflatten", True)


def squeeze(input: Tensor, dim: int | tuple | None = None) -> Tensor:
    """Remove size-1 dimensions (all, or those in ``dim``; others in ``dim`` are kept)."""
    dims = normalize_dims(dim, input.ndim, "squeeze")
    shape = tuple(n for i, n in enumerate(input.shape) if n != 1 or i not in dims)
    return View.apply(input, shape)


def unsqueeze(input: Tensor, dim: int) -> Tensor:
    """Insert a size-1 dimension at ``dim`` (``-1`` appends)."""
    d = _wrap_dim(dim, input.ndim + 1, "unsqueeze")
    return View.apply(input, input.shape[:d] + (1,) + input.shape[d:])


def permute(input: Tensor, *dims: int) -> Tensor:
    """Reorder dimensions (``x.permute(2, 0, 1)``); a view."""
    dims = _sizes_arg(dims)
    axes = tuple(_wrap_dim(d, input.ndim, "permute") for d in dims) if input.ndim else ()
    if sorted(axes) != list(range(input.ndim)):
        raise RuntimeError(
            f"permute: dims {list(dims)} are not a permutation of the {input.ndim} dimensions"
        )
    return Permute.apply(input, axes)


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap dimensions ``dim0`` and ``dim1``; a view."""
    axes = list(range(input.ndim))
    if input.ndim:
        a, b = _wrap_dim(dim0, input.ndim, "transpose"), _wrap_dim(dim1, input.ndim, "transpose")
        axes[a], axes[b] = axes[b], axes[a]
    return Permute.apply(input, tuple(axes))


def swapaxes(input: Tensor, axis0: int, axis1: int) -> Tensor:
    """Alias of :func:`transpose`."""
    return transpose(input, axis0, axis1)


def t(input: Tensor) -> Tensor:
    """Transpose a tensor of at most 2 dimensions (0-d and 1-d come back unchanged)."""
    if input.ndim > 2:
        raise RuntimeError(
            f"t: expects a tensor with <= 2 dimensions, got {input.ndim}; use transpose()"
        )
    return Permute.apply(input, tuple(reversed(range(input.ndim))))


def movedim(input: Tensor, source: int | tuple, destination: int | tuple) -> Tensor:
    """Move dimensions ``source`` to positions ``destination`` (the rest keep their order)."""
    src = (source,) if isinstance(source, int) else tuple(source)
    dst = (destination,) if isinstance(destination, int) else tuple(destination)
    if len(src) != len(dst):
        raise RuntimeError(
            f"movedim: source {list(src)} and destination {list(dst)} have different lengths"
        )
    for arg, dims in (("source", src), ("destination", dst)):
        wrapped = [_wrap_dim(d, input.ndim, "movedim", arg) for d in dims]
        if len(set(wrapped)) != len(wrapped):
            raise RuntimeError(f"movedim: repeated dim in {arg} {list(dims)}")
    src = [_wrap_dim(d, input.ndim, "movedim") for d in src]
    dst = [_wrap_dim(d, input.ndim, "movedim") for d in dst]
    order = [d for d in range(input.ndim) if d not in src]
    for d, s in sorted(zip(dst, src, strict=True)):
        order.insert(d, s)
    return Permute.apply(input, tuple(order))


def narrow(input: Tensor, dim: int, start: int, length: int) -> Tensor:
    """A view of ``length`` entries of ``dim`` from ``start`` (which may be negative)."""
    if input.ndim == 0:
        raise RuntimeError("narrow: cannot be applied to a 0-d tensor")
    d = _wrap_dim(dim, input.ndim, "narrow")
    size, start, length = input.shape[d], operator.index(start), operator.index(length)
    if not -size <= start <= size:
        raise IndexError(
            f"narrow: start {start} is out of range for dimension {d} of size {size} "
            f"(expected {-size} to {size})"
        )
    start %= max(size, 1)
    if length < 0 or start + length > size:
        raise RuntimeError(
            f"narrow: start ({start}) + length ({length}) exceeds dimension {d} of size {size}"
            if length >= 0
            else f"narrow: length must be non-negative, got {length}"
        )
    return Narrow.apply(input, d, start, length)


def expand(input: Tensor, *sizes: int) -> Tensor:
    """A view repeating size-1 dimensions (and new leading ones) to ``sizes``; -1 keeps a size.

    Writing into the result is not allowed (its entries share memory), as in torch.
    """
    sizes = _sizes_arg(sizes)
    lead = len(sizes) - input.ndim
    if lead < 0:
        raise RuntimeError(
            f"expand: got {len(sizes)} sizes {list(sizes)} for a tensor with {input.ndim} "
            f"dimensions; give at least one size per dimension"
        )
    shape = []
    for i, n in enumerate(sizes):
        old = input.shape[i - lead] if i >= lead else None
        if n == -1 and old is None:
            raise RuntimeError(f"expand: size -1 is not allowed in new leading dimension {i}")
        n = old if n == -1 else n
        if n < 0 or (old is not None and old != 1 and n != old):
            raise RuntimeError(
                f"expand: the expanded size {n} must match the existing size {old} at "
                f"non-singleton dimension {i} (target sizes {list(sizes)}, tensor sizes "
                f"{list(input.shape)})"
                if n >= 0
                else f"expand: invalid size {n} in {list(sizes)}"
            )
        shape.append(n)
    return Expand.apply(input, tuple(shape))


def expand_as(input: Tensor, other: Tensor) -> Tensor:
    """``input.expand(other.shape)``."""
    return expand(input, other.shape)


def repeat(input: Tensor, *sizes: int) -> Tensor:
    """Tile ``input`` ``sizes[i]`` times along each dimension (extra sizes add leading dims)."""
    sizes = _sizes_arg(sizes)
    if len(sizes) < input.ndim or any(n < 0 for n in sizes):
        raise RuntimeError(
            f"repeat: expected at least {input.ndim} non-negative repeat counts (one per "
            f"dimension), got {list(sizes)}"
        )
    return Repeat.apply(input, sizes)


def flip(input: Tensor, dims: int | tuple) -> Tensor:
    """Reverse the order of entries along ``dims`` (a copy)."""
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    wrapped = [_wrap_dim(d, input.ndim, "flip", "dims") for d in dims]
    if len(set(wrapped)) != len(wrapped):
        raise RuntimeError(f"flip: a dimension appears more than once in dims {list(dims)}")
    return Flip.apply(input, tuple(wrapped) if input.ndim else ())


def roll(input: Tensor, shifts: int | tuple, dims: int | tuple | None = None) -> Tensor:
    """Shift entries circularly by ``shifts`` along ``dims`` (without dims: the flattened
    tensor, shape restored)."""
    shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    if dims is None:
        if len(shifts) != 1:
            raise RuntimeError(f"roll: got {len(shifts)} shifts without dims; give dims")
        return reshape(Roll.apply(reshape(input, -1), shifts, (0,)), input.shape)
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    if len(shifts) != len(dims):
        raise RuntimeError(
            f"roll: shifts {list(shifts)} and dims {list(dims)} must have the same length"
        )
    return Roll.apply(input, shifts, tuple(_wrap_dim(d, input.ndim, "roll") for d in dims))


def _tensor_list(tensors, name: str) -> list:
    """Check a non-empty sequence of Tensors on one device; cast them to their common dtype."""
    if isinstance(tensors, Tensor) or not hasattr(tensors, "__iter__"):
        raise TypeError(
            f"{name}: expected a sequence of Tensors for 'tensors', got {type(tensors).__name__}"
        )
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError(f"{name}: expected a non-empty sequence of Tensors")
    for i, x in enumerate(tensors):
        if not isinstance(x, Tensor):
            raise TypeError(f"{name}: tensors[{i}] is a {type(x).__name__}, expected a Tensor")
        if x.device != tensors[0].device:
            raise RuntimeError(
                f"{name}: expected all tensors on the same device, but tensor 0 is on "
                f"{tensors[0].device} and tensor {i} is on {x.device}"
            )
    target = reduce(promote_types, (x.dtype for x in tensors))
    return [x if x.dtype is target else x.to(target) for x in tensors]


def cat(tensors, dim: int = 0) -> Tensor:
    """Concatenate tensors along an existing dimension ``dim``; dtypes are promoted as in torch.

    1-d empty tensors are skipped, as in torch (``cat([empty, x])`` is ``x``).
    """
    tensors = _tensor_list(tensors, "cat")
    kept = [(i, x) for i, x in enumerate(tensors) if x.shape != (0,)] or list(enumerate(tensors))
    i0, first = kept[0]
    if first.ndim == 0:
        raise RuntimeError(f"cat: tensor {i0} is 0-d and cannot be concatenated; use stack")
    d = _wrap_dim(dim, first.ndim, "cat")
    for i, x in kept[1:]:
        if x.ndim != first.ndim:
            raise RuntimeError(
                f"cat: tensors must have the same number of dimensions: tensor {i0} has "
                f"{first.ndim} and tensor {i} has {x.ndim}"
            )
        for k in range(first.ndim):
            if k != d and x.shape[k] != first.shape[k]:
                raise RuntimeError(
                    f"cat: sizes of tensors must match except in dimension {d}: tensor {i0} has "
                    f"size {first.shape[k]} in dimension {k} but tensor {i} has {x.shape[k]}"
                )
    return Cat.apply(*(x for _, x in kept), dim=d)


concat = cat


def concatenate(tensors, axis: int = 0) -> Tensor:
    """Alias of :func:`cat` with NumPy's argument name."""
    return cat(tensors, axis)


def stack(tensors, dim: int = 0) -> Tensor:
    """Join equal-shaped tensors along a new dimension ``dim``; dtypes are promoted."""
    tensors = _tensor_list(tensors, "stack")
    for i, x in enumerate(tensors):
        if x.shape != tensors[0].shape:
            raise RuntimeError(
                f"stack: expects each tensor to be equal size, but got {list(tensors[0].shape)} "
                f"at entry 0 and {list(x.shape)} at entry {i}"
            )
    d = _wrap_dim(dim, tensors[0].ndim + 1, "stack")
    return Stack.apply(*tensors, dim=d)


def _split(input: Tensor, sizes: list, d: int) -> tuple:
    return Split.apply(input, tuple(sizes), d)


def split(input: Tensor, split_size_or_sections: int | list, dim: int = 0) -> tuple:
    """Views of consecutive pieces along ``dim``: of ``split_size`` entries each (the last may
    be smaller), or of the listed section sizes (which must add up to the dimension's size)."""
    d = _wrap_dim(dim, input.ndim, "split")
    n = input.shape[d] if input.ndim else 1
    if isinstance(split_size_or_sections, int):
        size = split_size_or_sections
        if size < 0 or (size == 0 and n):
            raise RuntimeError(
                f"split: split_size must be positive (0 only for an empty dimension), got {size}"
            )
        sizes = [size] * (n // size) + ([n % size] if n % size else []) if size else [0]
    else:
        sizes = [operator.index(s) for s in split_size_or_sections]
        if sum(sizes) != n or any(s < 0 for s in sizes):
            raise RuntimeError(
                f"split: sections {sizes} must be non-negative and add up to {n}, the size of "
                f"dimension {d}"
            )
    return _split(input, sizes, d)


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple:
    """Split into at most ``chunks`` views of equal size ``ceil(n / chunks)`` along ``dim`` (the
    last may be smaller, and fewer chunks may come back, as in torch)."""
    if chunks <= 0:
        raise RuntimeError(f"chunk: chunks must be positive, got {chunks}")
    d = _wrap_dim(dim, input.ndim, "chunk")
    n = input.shape[d] if input.ndim else 1
    if n == 0:
        return _split(input, [0] * chunks, d)
    return split(input, -(-n // chunks), d)


def tril(input: Tensor, diagonal: int = 0) -> Tensor:
    """The lower triangle of the last two dimensions (entries with ``j <= i + diagonal``)."""
    return _triangle(input, diagonal, False, "tril")


def triu(input: Tensor, diagonal: int = 0) -> Tensor:
    """The upper triangle of the last two dimensions (entries with ``j >= i + diagonal``)."""
    return _triangle(input, diagonal, True, "triu")


def _triangle(input: Tensor, diagonal: int, upper: bool, name: str) -> Tensor:
    if input.ndim < 2:
        raise RuntimeError(f"{name}: input must have at least 2 dimensions, got {input.ndim}")
    return Triangle.apply(input, operator.index(diagonal), upper)


def pad(input: Tensor, pad: tuple, mode: str = "constant", value: float | None = None) -> Tensor:
    """Pad (or, with negative sizes, crop) the last dimensions, as ``torch.nn.functional.pad``.

    ``pad`` lists ``(left, right)`` for the last dimension first, then the one before it, and
    so on. ``mode`` is ``"constant"`` (fill with ``value``, default 0, any number of dims),
    ``"reflect"`` (mirror without repeating the edge; pads smaller than the size),
    ``"replicate"`` (repeat the edge) or ``"circular"`` (wrap around; pads at most the size);
    the last three pad 1 to 3 dimensions of a batched or unbatched input.

    Example: ``pad(x, (2, 1))`` adds two zeros before and one after the last dimension.
    """
    pads = [operator.index(p) for p in pad]
    k = len(pads) // 2
    if len(pads) % 2 or k > input.ndim:
        raise RuntimeError(
            f"pad: pad must have an even length of at most 2 * {input.ndim} (the input's "
            f"dimensions), got {len(pads)} values {pads}"
        )
    if mode not in ("constant", *_NUMPY_PAD_MODES):
        raise NotImplementedError(
            f"pad: mode {mode!r} is not supported; use 'constant', 'reflect', 'replicate' or "
            f"'circular'"
        )
    widths = [(0, 0)] * (input.ndim - k) + [(pads[2 * i], pads[2 * i + 1]) for i in range(k)][::-1]
    if mode != "constant":
        if value is not None and value != 0:
            raise RuntimeError(f"pad: mode {mode!r} doesn't take a value argument")
        if not 1 <= k <= 3 or input.ndim not in (k + 1, k + 2):
            raise NotImplementedError(
                f"pad: mode {mode!r} pads the last 1 to 3 dimensions of a (batched) input with "
                f"one or two more dimensions; got {len(pads)} pad values for a {input.ndim}-d "
                f"input"
            )
    for axis, (b, e) in enumerate(widths):
        n = input.shape[axis]
        limit = n - 1 if mode == "reflect" else n
        if n + b + e < 0 or (mode in ("reflect", "circular") and max(b, e) > limit):
            raise RuntimeError(
                f"pad: padding ({b}, {e}) is invalid for dimension {axis} of size {n}"
                + (f" in mode {mode!r} (at most {limit})" if n + b + e >= 0 else "")
            )
    return Pad.apply(input, tuple(widths), mode, 0.0 if value is None else value)
