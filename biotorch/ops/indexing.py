"""Indexing: ``x[key]``, ``x[key] = value``, gather/scatter, masks and ``one_hot``.

``x[key]`` follows torch: integers, slices (positive steps only), ``None`` and ``...`` give a
view; integer index tensors, lists and arrays (broadcast together) and boolean masks give a
copy. As in torch, integers are applied before index arrays, so ``x[0, :, idx]`` keeps the
``idx`` dimension in place where NumPy would move it to the front. Every integer index is
checked against its dimension's size (CuPy would wrap out-of-range indices silently).
Gradients of repeated indices accumulate (``xp.add.at``; ``cupyx.scatter_add`` on the GPU).
"""

from __future__ import annotations

import operator
import warnings

import numpy as np

from biotorch.autograd.function import Function
from biotorch.backend import array_module
from biotorch.ops.elementwise import _masked
from biotorch.ops.promotion import is_scalar
from biotorch.ops.shape import _wrap_dim, expand
from biotorch.tensor import Tensor

__all__ = [
    "index",
    "index_put",
    "gather",
    "scatter",
    "scatter_add",
    "index_select",
    "masked_fill",
    "masked_select",
    "take_along_dim",
    "nonzero",
]


# Dtypes CUDA's atomicAdd (hence ``cupyx.scatter_add``) handles.
_ATOMIC_ADD_DTYPES = frozenset(np.dtype(d) for d in ("float16", "float32", "float64", "int32"))


def _scatter_add(target, key, values) -> None:
    """``target[key] += values`` with repeated indices accumulating."""
    xp = array_module(target)
    values = xp.asarray(values).astype(target.dtype, copy=False)
    if xp is np:
        np.add.at(target, key, values)
    elif target.dtype in _ATOMIC_ADD_DTYPES:
        import cupyx  # the GPU path only: CuPy is already imported when its arrays exist

        cupyx.scatter_add(target, key, values)
    else:  # no atomicAdd for int64, int8, bool…: exact, on the host (rare: no gradients)
        host = xp.asnumpy(target)
        host_key = tuple(k.get() if hasattr(k, "get") else k for k in key)
        np.add.at(host, host_key, xp.asnumpy(values))
        target[...] = xp.asarray(host)


class BasicIndex(Function):
    """``a[key]`` for integers, slices and ``None``: a view."""

    _view_of = 0

    @staticmethod
    def forward(ctx, a, key):
        ctx.shape, ctx.key = a.shape, key
        return a[key]

    @staticmethod
    def backward(ctx, grad):
        out = array_module(grad).zeros(ctx.shape, grad.dtype)
        out[ctx.key] = grad
        return out, None


class AdvancedIndex(Function):
    """``a[basic][advanced]``: a basic-index view, then integer index arrays (a copy)."""

    @staticmethod
    def forward(ctx, a, basic, advanced):
        ctx.shape, ctx.basic, ctx.advanced = a.shape, basic, advanced
        return a[basic][advanced]

    @staticmethod
    def backward(ctx, grad):
        out = array_module(grad).zeros(ctx.shape, grad.dtype)
        _scatter_add(out[ctx.basic], ctx.advanced, grad)
        return out, None, None


class IndexPut(Function):
    """A copy of ``a`` with ``a[basic][advanced]`` set to (or, with ``accumulate``, increased
    by) ``value``; ``advanced`` is None for a basic key."""

    @staticmethod
    def forward(ctx, a, value, basic, advanced, accumulate):
        ctx.basic, ctx.advanced, ctx.accumulate = basic, advanced, accumulate
        ctx.value_ndim = getattr(value, "ndim", 0)
        out = a.copy()
        region = out[basic]
        try:
            if advanced is None:
                if accumulate:
                    region += value
                else:
                    region[...] = value
            elif accumulate:
                _scatter_add(region, advanced, value)
            else:
                region[advanced] = value
        except ValueError:
            target = region.shape if advanced is None else region[advanced].shape
            raise RuntimeError(
                f"index_put: shape mismatch: value of shape {list(value.shape)} cannot be "
                f"broadcast to the indexing result of shape {list(target)}"
            ) from None
        return out

    @staticmethod
    def backward(ctx, grad):
        grad_a = grad_value = None
        if ctx.needs_input_grad[1]:
            grad_value = grad[ctx.basic]
            if ctx.advanced is not None:
                grad_value = grad_value[ctx.advanced]
            elif ctx.accumulate:
                grad_value = grad_value.copy()  # grad_a is grad itself: don't alias it
            extra = ctx.value_ndim - grad_value.ndim
            if extra > 0:
                grad_value = grad_value.reshape((1,) * extra + grad_value.shape)
        if ctx.needs_input_grad[0]:
            grad_a = grad
            if not ctx.accumulate:
                grad_a = grad.copy()
                region = grad_a[ctx.basic]
                if ctx.advanced is None:
                    region[...] = 0
                else:
                    region[ctx.advanced] = 0
        return grad_a, grad_value, None, None, None


class MaskedFill(Function):
    @staticmethod
    def forward(ctx, a, mask, value):
        ctx.save_for_backward(mask)
        xp = array_module(a)
        return xp.where(mask, xp.asarray(value).astype(a.dtype), a)

    @staticmethod
    def backward(ctx, grad):
        (mask,) = ctx.saved_tensors
        grad_a = _masked(grad, ~mask) if ctx.needs_input_grad[0] else None
        grad_value = _masked(grad, mask).sum() if ctx.needs_input_grad[2] else None
        return grad_a, None, grad_value


# -- keys ----------------------------------------------------------------------------------------
def _index_array(item, input: Tensor, xp, name: str):
    """An index given as a Tensor, list or array, as an integer or bool array on the input's
    device."""
    if isinstance(item, Tensor):
        if item.device != input.device:
            raise RuntimeError(
                f"{name}: an index tensor is on {item.device} but the indexed tensor is on "
                f"{input.device}; move the index with .to({str(input.device)!r})"
            )
        arr = item._data
    elif hasattr(item, "__cuda_array_interface__"):
        arr = xp.asarray(item)
    else:
        arr = np.asarray(item)
        if arr.size == 0 and arr.dtype.kind == "f":
            arr = arr.astype(np.int64)
        arr = xp.asarray(arr)
    if arr.dtype == np.uint8:
        warnings.warn(
            f"{name}: indexing with a uint8 tensor treats it as a mask; use a bool tensor",
            UserWarning,
            stacklevel=4,
        )
        arr = arr.astype(bool)
    if arr.dtype.kind not in "biu":
        raise IndexError(
            f"{name}: tensors used as indices must be integer or bool, got {arr.dtype} "
            f"(from {type(item).__name__})"
        )
    return arr


def _check_range(arr, size: int, dim: int, name: str, negative: bool = True) -> None:
    """Raise if an integer index array has an entry outside ``[-size, size)`` (``[0, size)``
    without ``negative``)."""
    if arr.size == 0:
        return
    low, high = int(arr.min()), int(arr.max())
    floor = -size if negative else 0
    if low < floor or high >= size:
        raise IndexError(
            f"{name}: index {low if low < floor else high} is out of bounds for dimension {dim} "
            f"with size {size}"
        )


def _convert(item, input: Tensor, xp, name: str):
    """One key entry as int, slice, None, Ellipsis or an index array."""
    if item is None or item is Ellipsis:
        return item
    if isinstance(item, bool | np.bool_):
        return xp.asarray(bool(item))
    if isinstance(item, int | np.integer):
        return int(item)
    if isinstance(item, slice):
        if item.step is not None and operator.index(item.step) <= 0:
            raise ValueError(f"{name}: slice step must be greater than zero, got {item.step}")
        return item
    if isinstance(item, Tensor | list | tuple | np.ndarray) or hasattr(
        item, "__cuda_array_interface__"
    ):
        return _index_array(item, input, xp, name)
    raise IndexError(
        f"{name}: only integers, slices, None, ..., and integer or bool tensors/lists are valid "
        f"indices, got {type(item).__name__}"
    )


def _width(item) -> int:
    """How many of the input's dimensions a key entry consumes."""
    if item is None or item is Ellipsis:
        return 0
    if isinstance(item, int | slice) or item.dtype != bool:
        return 1
    return item.ndim


def _parse_key(input: Tensor, key, name: str = "index") -> tuple:
    """Split ``key`` into ``(basic, advanced)``: ``input[basic]`` is a view (ints, slices,
    None), and ``advanced`` (a tuple of slices and integer arrays, or None when the key has no
    arrays) indexes that view. Bool masks become the integer arrays of their nonzero entries."""
    xp = array_module(input._data)
    items = [_convert(k, input, xp, name) for k in (key if isinstance(key, tuple) else (key,))]
    ellipses = [i for i, k in enumerate(items) if k is Ellipsis]
    used = sum(_width(k) for k in items)
    if len(ellipses) > 1:
        raise IndexError(f"{name}: an index can only have a single ellipsis ('...')")
    if used > input.ndim:
        raise IndexError(f"{name}: too many indices for a tensor of dimension {input.ndim}")
    fill = [slice(None)] * (input.ndim - used)
    if ellipses:
        items[ellipses[0] : ellipses[0] + 1] = fill
    basic, advanced, has_array, dim = [], [], False, 0
    for k in items:
        if k is None:
            basic.append(None)
            advanced.append(slice(None))
        elif isinstance(k, int):
            size = input.shape[dim]
            if not -size <= k < size:
                raise IndexError(
                    f"{name}: index {k} is out of bounds for dimension {dim} with size {size}"
                )
            basic.append(k)
            dim += 1
        elif isinstance(k, slice):
            basic.append(k)
            advanced.append(slice(None))
            dim += 1
        elif k.dtype == bool and k.ndim == 0:
            basic.append(None)
            advanced.append(xp.zeros(int(bool(k)), dtype=np.int64))
            has_array = True
        elif k.dtype == bool:
            span = input.shape[dim : dim + k.ndim]
            if k.shape != span:
                raise IndexError(
                    f"{name}: the shape of the mask {list(k.shape)} at index {dim} does not "
                    f"match the shape of the indexed tensor {list(input.shape)} at index {dim}"
                )
            basic.extend([slice(None)] * k.ndim)
            advanced.extend(xp.nonzero(k))
            has_array, dim = True, dim + k.ndim
        else:
            _check_range(k, input.shape[dim], dim, name)
            basic.append(slice(None))
            advanced.append(k)
            has_array, dim = True, dim + 1
    basic.append(Ellipsis)  # makes an all-integer key give a 0-d view, not a NumPy scalar
    return tuple(basic), (tuple(advanced) if has_array else None)


def _take(input: Tensor, basic: tuple, advanced) -> Tensor:
    if advanced is None:
        return BasicIndex.apply(input, basic)
    return AdvancedIndex.apply(input, basic, advanced)


def _as_value(value, input: Tensor, name: str):
    """A Tensor, or a number; lists and arrays become tensors of the input's dtype."""
    if isinstance(value, Tensor) or is_scalar(value):
        return value
    xp = array_module(input._data)
    try:
        return Tensor(xp.asarray(np.asarray(value, dtype=input._data.dtype)))
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"{name}: expected a Tensor or a number for 'value', got {type(value).__name__}"
        ) from err


def _put(input: Tensor, basic, advanced, value, accumulate: bool) -> Tensor:
    if isinstance(value, Tensor) and value.device != input.device:
        raise RuntimeError(
            f"index_put: value is on {value.device} but the indexed tensor is on {input.device}"
        )
    return IndexPut.apply(input, value, basic, advanced, accumulate)


def _along_key(index, dim: int) -> tuple:
    """The full integer key of gather/scatter: ``index`` at ``dim``, and each other dimension's
    position (broadcast aranges) elsewhere."""
    xp = array_module(index)
    key = []
    for d, n in enumerate(index.shape):
        if d == dim:
            key.append(index)
        else:
            shape = [1] * index.ndim
            shape[d] = n
            key.append(xp.arange(n).reshape(shape))
    return tuple(key)


def _dim_index(input: Tensor, dim: int, index, name: str, negative: bool = False) -> tuple:
    """Check ``index`` for gather/scatter (an integer Tensor with the input's number of
    dimensions and entries valid along ``dim``); returns ``(dim, raw index)``."""
    if not isinstance(index, Tensor) or index._data.dtype.kind not in "iu":
        raise TypeError(f"{name}: expected an integer Tensor for 'index', got {_describe(index)}")
    if input.ndim == 0:
        raise RuntimeError(f"{name}: input must have at least one dimension; use reshape(1)")
    arr = _index_array(index, input, None, name)
    d = _wrap_dim(dim, input.ndim, name)
    if arr.ndim != input.ndim:
        raise RuntimeError(
            f"{name}: index has {arr.ndim} dimensions but input has {input.ndim}; they must match"
        )
    _check_range(arr, input.shape[d], d, name, negative)
    return d, arr


def _describe(value) -> str:
    if isinstance(value, Tensor):
        return f"a {value.dtype} Tensor"
    return type(value).__name__


def _check_not_larger(index, shape: tuple, skip: int | None, name: str, what: str) -> None:
    for d, (m, n) in enumerate(zip(index.shape, shape, strict=True)):
        if d != skip and m > n:
            raise RuntimeError(
                f"{name}: index of shape {list(index.shape)} is larger than {what} of shape "
                f"{list(shape)} in dimension {d}"
            )


# -- public functions ----------------------------------------------------------------------------
def index(input: Tensor, key) -> Tensor:
    """``input[key]`` with torch's semantics (see the module docstring)."""
    return _take(input, *_parse_key(input, key))


def index_put(input: Tensor, indices, values, accumulate: bool = False) -> Tensor:
    """A copy of ``input`` with ``input[indices]`` set to ``values`` (added with
    ``accumulate=True``, repeated indices adding up); ``x[key] = v`` writes this back into x.

    ``indices`` is any key ``x[...]`` accepts (torch's tuple of index tensors included);
    ``values`` (a Tensor or number) is cast to the input's dtype and broadcast to the indexed
    shape. Gradients: zero for overwritten input entries; the gathered output gradient, summed
    over broadcasting, for ``values``.
    """
    basic, advanced = _parse_key(input, indices, "index_put")
    return _put(input, basic, advanced, _as_value(values, input, "index_put"), accumulate)


def gather(input: Tensor, dim: int, index: Tensor) -> Tensor:
    """``out[i][j][k] = input[i][index[i][j][k]][k]`` for ``dim=1`` (and likewise for any dim);
    ``index`` has the input's number of dimensions and is no larger outside ``dim``."""
    d, idx = _dim_index(input, dim, index, "gather")
    _check_not_larger(idx, input.shape, d, "gather", "input")
    return AdvancedIndex.apply(input, (Ellipsis,), _along_key(idx, d))


def _scatter(input: Tensor, dim: int, index: Tensor, src, accumulate: bool, name: str):
    d, idx = _dim_index(input, dim, index, name)
    _check_not_larger(idx, input.shape, d, name, "input")
    if isinstance(src, Tensor):
        if src.dtype != input.dtype:
            raise RuntimeError(
                f"{name}: src has dtype {src.dtype.name} but input has {input.dtype.name}; they "
                f"must match"
            )
        if src.ndim != idx.ndim:
            raise RuntimeError(
                f"{name}: src has {src.ndim} dimensions but index has {idx.ndim}; they must match"
            )
        _check_not_larger(idx, src.shape, None, name, "src")
        if src.shape != idx.shape:
            src = BasicIndex.apply(src, tuple(slice(0, n) for n in idx.shape))
    elif not is_scalar(src):
        raise TypeError(f"{name}: expected a Tensor or a number for 'src', got {_describe(src)}")
    return _put(input, (Ellipsis,), _along_key(idx, d), src, accumulate)


def scatter(input: Tensor, dim: int, index: Tensor, src=None, *, value=None) -> Tensor:
    """A copy of ``input`` with ``out[i][index[i][j][k]][k] = src[i][j][k]`` for ``dim=1`` (and
    likewise for any dim); ``src`` may be a number (or pass ``value=``). Where indices repeat,
    which write wins is unspecified, as in torch."""
    if (src is None) == (value is None):
        raise TypeError("scatter: pass exactly one of 'src' and 'value'")
    return _scatter(input, dim, index, value if src is None else src, False, "scatter")


def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """A copy of ``input`` with ``out[i][index[i][j][k]][k] += src[i][j][k]`` for ``dim=1`` (and
    likewise for any dim); repeated indices add up."""
    if not isinstance(src, Tensor):
        raise TypeError(f"scatter_add: expected a Tensor for 'src', got {_describe(src)}")
    return _scatter(input, dim, index, src, True, "scatter_add")


def index_select(input: Tensor, dim: int, index: Tensor) -> Tensor:
    """The entries of ``input`` at positions ``index`` (1-d or 0-d integers) along ``dim``."""
    if not isinstance(index, Tensor) or index._data.dtype.kind not in "iu":
        raise TypeError(
            f"index_select: expected an integer Tensor for 'index', got {_describe(index)}"
        )
    if index.ndim > 1:
        raise IndexError(f"index_select: index must be 1-d or 0-d, got shape {list(index.shape)}")
    arr = _index_array(index, input, None, "index_select").reshape(-1)
    d = _wrap_dim(dim, input.ndim, "index_select")
    _check_range(arr, input.shape[d] if input.ndim else 1, d, "index_select", negative=False)
    if input.ndim == 0:
        return AdvancedIndex.apply(input, (None,), (arr,))
    return AdvancedIndex.apply(input, (Ellipsis,), (slice(None),) * d + (arr,))


def masked_fill(input: Tensor, mask: Tensor, value) -> Tensor:
    """``input`` with ``value`` (a number or a 0-d tensor) wherever ``mask`` (bool, broadcast
    with the input) is True."""
    if not isinstance(mask, Tensor) or mask.dtype.name != "bool":
        raise RuntimeError(f"masked_fill: expected a bool Tensor for 'mask', got {_describe(mask)}")
    if isinstance(value, Tensor):
        if value.ndim:
            raise RuntimeError(
                f"masked_fill: value must be a number or a 0-d tensor, got a tensor of shape "
                f"{list(value.shape)}"
            )
    elif not is_scalar(value):
        raise TypeError(f"masked_fill: expected a number for 'value', got {_describe(value)}")
    return MaskedFill.apply(input, mask, value)


def masked_select(input: Tensor, mask: Tensor) -> Tensor:
    """The entries of ``input`` (broadcast with the bool ``mask``) where ``mask`` is True, as a
    1-d tensor."""
    if not isinstance(mask, Tensor) or mask.dtype.name != "bool":
        raise RuntimeError(
            f"masked_select: expected a bool Tensor for 'mask', got {_describe(mask)}"
        )
    shape = np.broadcast_shapes(input.shape, mask.shape)
    return index(expand(input, shape), expand(mask, shape))


def take_along_dim(input: Tensor, indices: Tensor, dim: int | None = None) -> Tensor:
    """Values of ``input`` at ``indices`` along ``dim`` (input and indices broadcast against
    each other elsewhere; negative indices count from the end). Without ``dim``, both are
    flattened first."""
    if dim is None:
        return take_along_dim(input.reshape(-1), indices.reshape(-1), 0)
    if not isinstance(indices, Tensor) or indices.ndim != input.ndim:
        raise RuntimeError(
            f"take_along_dim: input and indices must have the same number of dimensions, got "
            f"{input.ndim} and {getattr(indices, 'ndim', _describe(indices))}"
        )
    d = _wrap_dim(dim, input.ndim, "take_along_dim")
    if input.ndim:
        rest = [list(s) for s in (input.shape, indices.shape)]
        rest[0][d] = rest[1][d] = 1
        common = list(np.broadcast_shapes(tuple(rest[0]), tuple(rest[1])))
        input = expand(input, common[:d] + [input.shape[d]] + common[d + 1 :])
        indices = expand(indices, common[:d] + [indices.shape[d]] + common[d + 1 :])
    d, idx = _dim_index(input, d, indices, "take_along_dim", negative=True)
    return AdvancedIndex.apply(input, (Ellipsis,), _along_key(idx, d))


def nonzero(input: Tensor, *, as_tuple: bool = False):
    """Indices of the nonzero entries: an int64 tensor of shape ``(count, ndim)``, or with
    ``as_tuple`` one 1-d tensor per dimension (a 0-d input counts as 1-d there)."""
    data = input._data
    xp = array_module(data)
    found = xp.nonzero(data.reshape(-1) if data.ndim == 0 else data)
    found = [f.astype(np.int64, copy=False) for f in found]
    if as_tuple:
        return tuple(Tensor._make(f, False, None, 0) for f in found)
    if data.ndim == 0:
        return Tensor._make(xp.zeros((found[0].size, 0), np.int64), False, None, 0)
    return Tensor._make(xp.stack(found, axis=1), False, None, 0)


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 one-hot encoding of class indices: shape ``(*tensor.shape, num_classes)``, where
    ``num_classes=-1`` means ``tensor.max() + 1`` (as ``torch.nn.functional.one_hot``)."""
    if not isinstance(tensor, Tensor) or tensor.dtype.name != "int64":
        raise RuntimeError(
            f"one_hot: expected an int64 (long) Tensor of class indices, got {_describe(tensor)}"
        )
    data = tensor._data
    xp = array_module(data)
    if num_classes == -1:
        if data.size == 0:
            raise RuntimeError("one_hot: cannot infer num_classes from an empty tensor; pass it")
        num_classes = int(data.max()) + 1
    if data.size:
        low, high = int(data.min()), int(data.max())
        if low < 0 or high >= num_classes:
            raise RuntimeError(
                f"one_hot: class values must be in [0, {num_classes}), got "
                f"{low if low < 0 else high}"
            )
    out = (data[..., None] == xp.arange(num_classes)).astype(np.int64)
    return Tensor._make(out, False, None, 0)
