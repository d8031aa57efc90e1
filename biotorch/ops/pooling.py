"""1-D pooling over the last axis of ``(N, C, L)`` or ``(C, L)``, as ``torch.nn.functional``.

Fixed-window pools loop over the ``k`` kernel taps, never over positions: tap ``j`` is the
strided view ``x_padded[..., j*dilation :: stride]`` of the output's length, so the common
DeepSEA/Basset case (kernel == stride, no padding) is a running maximum over the ``k`` columns
of the ``(L/k, k)`` reshaped view, with no copy of the input (an order of magnitude faster in
NumPy than ``max(axis=-1)`` over that view). Adaptive pools reuse them when the length divides
evenly, and otherwise gather PyTorch's variable bins (``floor(i L / out)`` to
``ceil((i+1) L / out)``) into a padded ``(out, max bin)`` block.
"""

from __future__ import annotations

import math

import numpy as np

from biotorch.autograd.function import Function
from biotorch.backend import array_module
from biotorch.ops.conv import int1
from biotorch.tensor import Tensor

__all__ = ["max_pool1d", "avg_pool1d", "adaptive_max_pool1d", "adaptive_avg_pool1d"]


_MAX_TAPS = 8  # longer tiling windows are reduced as rows (measured: faster from about here)


class _Window:
    """Geometry of a fixed-window pool: output length, padding and the tap views."""

    def __init__(self, name, length, kernel, stride, padding, dilation, ceil_mode):
        span = dilation * (kernel - 1) + 1
        room = length + 2 * padding - span
        out = (room + (stride - 1 if ceil_mode else 0)) // stride + 1 if room >= 0 else 0
        if ceil_mode and out > 0 and (out - 1) * stride >= length + padding:
            out -= 1
        if out < 1:
            raise RuntimeError(
                f"{name}: input length {length} with padding {padding} is too short for "
                f"kernel_size {kernel} (dilation {dilation}): the output would be empty"
            )
        self.length, self.kernel, self.stride, self.dilation = length, kernel, stride, dilation
        self.out, self.left = out, padding
        self.right = max((out - 1) * stride + span - padding - length, 0)
        # Long, unpadded windows that tile the input (global pooling, adaptive pools of a length
        # that divides evenly) reduce the rows of the (out, k) reshape instead of looping taps.
        self.rows = kernel == stride > _MAX_TAPS and dilation == 1 and padding == self.right == 0
        self.overlap = stride < span  # does an input element feed more than one output?

    def full(self, xp, lead, value, dtype):
        """A new array ``lead + (padded length,)`` filled with ``value``."""
        return xp.full(lead + (self.left + self.length + self.right,), value, dtype)

    def pad(self, x, value):
        """``x`` extended along its last axis as far as the windows reach (no copy if it fits)."""
        if self.left == 0 and self.right == 0:
            return x
        buf = self.full(array_module(x), x.shape[:-1], value, x.dtype)
        buf[..., self.left : self.left + self.length] = x
        return buf

    def block(self, x):
        """``x`` as an (out, kernel) block of windows (``rows`` mode), a view."""
        lead = x.shape[:-1]
        return x[..., : self.out * self.kernel].reshape(lead + (self.out, self.kernel))

    def tap(self, padded, j):
        start = j * self.dilation
        return padded[..., start : start + (self.out - 1) * self.stride + 1 : self.stride]

    def crop(self, padded):
        return padded[..., self.left : self.left + self.length]


class MaxPool1d(Function):
    @staticmethod
    def forward(ctx, x, window, return_indices):
        xp = array_module(x)
        if window.rows:
            block = window.block(x)
            y = block.max(axis=-1)
            ctx.window, ctx.first = window, block.argmax(axis=-1)
            return (y, _rows_index(xp, window, ctx.first)) if return_indices else y
        padded = window.pad(x, -math.inf)
        y = window.tap(padded, 0).copy()
        for j in range(1, window.kernel):
            xp.maximum(y, window.tap(padded, j), out=y)
        if not (return_indices or ctx.needs_input_grad[0]):
            return y
        has_nan = bool(xp.isnan(y).any())
        dtype = xp.int8 if window.kernel < 128 else xp.int32
        first = xp.full(y.shape, window.kernel - 1, dtype=dtype)
        for j in range(window.kernel - 2, -1, -1):
            v = window.tap(padded, j)
            hit = (v == y) | xp.isnan(v) if has_nan else v == y
            first = xp.where(hit, j, first).astype(dtype, copy=False)
        start = xp.arange(window.out) * window.stride - window.left
        if window.left:
            # A window that is all -inf picks its first in-bound element, as PyTorch does.
            inbound = xp.maximum(-(start // window.dilation), 0).astype(dtype)
            first = xp.maximum(first, inbound)
        ctx.window, ctx.first = window, first
        if not return_indices:
            return y
        return y, start + first.astype(xp.int64) * window.dilation

    @staticmethod
    def backward(ctx, grad, _index_grad=None):
        window, first = ctx.window, ctx.first
        xp = array_module(grad)
        if window.rows:
            hit = xp.arange(window.kernel) == first[..., None]
            return _rows_grad(xp, window, xp.where(hit, grad[..., None], 0.0))
        padded = window.full(xp, grad.shape[:-1], 0.0, grad.dtype)
        tmp = xp.empty_like(grad) if window.overlap else None
        for j in range(window.kernel):
            view = window.tap(padded, j)
            if window.overlap:
                view += xp.multiply(grad, first == j, out=tmp)
            else:
                xp.multiply(grad, first == j, out=view)
        return xp.ascontiguousarray(window.crop(padded))


class AvgPool1d(Function):
    @staticmethod
    def forward(ctx, x, window, count_include_pad):
        xp = array_module(x)
        if window.rows:
            y = window.block(x).sum(axis=-1)
        else:
            padded = window.pad(x, 0.0)
            y = window.tap(padded, 0).copy()
            for j in range(1, window.kernel):
                y += window.tap(padded, j)
        start = xp.arange(window.out) * window.stride - window.left
        if count_include_pad:
            count = xp.minimum(start + window.kernel, window.length + window.left) - start
        else:
            end = xp.minimum(start + window.kernel, window.length)
            count = end - xp.maximum(start, 0)
        ctx.window, ctx.scale = window, (1.0 / count).astype(x.dtype)
        y *= ctx.scale
        return y

    @staticmethod
    def backward(ctx, grad):
        window = ctx.window
        xp = array_module(grad)
        g = grad * ctx.scale
        if window.rows:
            return _rows_grad(xp, window, g[..., None])
        padded = window.full(xp, grad.shape[:-1], 0.0, grad.dtype)
        for j in range(window.kernel):
            view = window.tap(padded, j)
            if window.overlap:
                view += g
            else:
                view[...] = g
        return xp.ascontiguousarray(window.crop(padded))


def _rows_index(xp, window, first):
    return xp.arange(window.out) * window.kernel + first


def _rows_grad(xp, window, block_grad):
    """The input gradient from a gradient broadcastable to the (out, kernel) block."""
    out = xp.zeros(block_grad.shape[:-2] + (window.length,), block_grad.dtype)
    window.block(out)[...] = block_grad
    return out


class _Bins:
    """PyTorch's adaptive bins as a clamped index block ``(out, widest bin)`` and a mask."""

    def __init__(self, xp, length, out):
        i = xp.arange(out)
        starts = (i * length) // out
        sizes = -((-(i + 1) * length) // out) - starts
        widest = -(-length // out) + 1
        offsets = xp.arange(widest)
        self.index = xp.minimum(starts[:, None] + offsets, (starts + sizes - 1)[:, None])
        self.mask = offsets < sizes[:, None]
        self.sizes, self.length = sizes, length


def _scatter_add_last(values, index, length):
    """Sum ``values`` (..., m) into a new (..., length) array at last-axis ``index``."""
    xp = array_module(values)
    lead = values.shape[:-1]
    rows = math.prod(lead)
    index = xp.broadcast_to(index, values.shape).reshape(rows, -1)
    flat = index + (xp.arange(rows) * length)[:, None]
    out = xp.bincount(flat.ravel(), weights=values.ravel(), minlength=rows * length)
    return out.reshape(lead + (length,)).astype(values.dtype, copy=False)


class AdaptiveMaxPool1d(Function):
    @staticmethod
    def forward(ctx, x, out_len, return_indices):
        xp = array_module(x)
        bins = _Bins(xp, x.shape[-1], out_len)
        block = x[..., bins.index]
        best = block.argmax(axis=-1)
        y = xp.take_along_axis(block, best[..., None], axis=-1)[..., 0]
        index = bins.index[xp.arange(out_len), best]
        ctx.index, ctx.length = index, x.shape[-1]
        return (y, index) if return_indices else y

    @staticmethod
    def backward(ctx, grad, _index_grad=None):
        return _scatter_add_last(grad, ctx.index, ctx.length)


class AdaptiveAvgPool1d(Function):
    @staticmethod
    def forward(ctx, x, out_len):
        xp = array_module(x)
        bins = _Bins(xp, x.shape[-1], out_len)
        ctx.bins = bins
        ctx.scale = (1.0 / bins.sizes).astype(x.dtype)
        return xp.where(bins.mask, x[..., bins.index], 0.0).sum(axis=-1) * ctx.scale

    @staticmethod
    def backward(ctx, grad):
        bins = ctx.bins
        spread = ((grad * ctx.scale)[..., None] * bins.mask).reshape(grad.shape[:-1] + (-1,))
        return _scatter_add_last(spread, bins.index.ravel(), bins.length)


class MaskedMax(Function):
    """Max over the last axis of the positions where ``keep`` (broadcastable, bool) holds.

    The value and gradient of ``x.masked_fill(~keep, -inf).amax(-1)`` (the gradient split
    evenly among the tied maxima of the kept positions) in one op: no filled copy of ``x``, and
    a backward that scatters into zeros at the maxima (a few per row) instead of passing dense
    masks over ``x``.
    """

    @staticmethod
    def forward(ctx, x, keep):
        xp = array_module(x)
        if xp is np:
            out = xp.max(x, axis=-1, where=keep, initial=-math.inf)
        else:
            out = xp.where(keep, x, -math.inf).max(axis=-1)
        ctx.save_for_backward(x, keep, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, keep, out = ctx.saved_tensors
        xp = array_module(x)
        ties = x == out[..., None]
        ties &= keep
        flat = xp.flatnonzero(ties)
        row = flat // x.shape[-1]
        count = xp.maximum(xp.bincount(row, minlength=out.size), 1)  # 0 only in a nan row
        gx = xp.zeros(x.shape, dtype=grad.dtype)
        gx.reshape(-1)[flat] = (grad.reshape(-1) / count.astype(grad.dtype))[row]
        return gx, None


def masked_amax(input: Tensor, mask: Tensor) -> Tensor:
    """``input.masked_fill(~mask, -inf).amax(dim=-1)`` as one op (see :class:`MaskedMax`):
    ``mask`` is a bool tensor broadcastable to ``input``; every row needs a True position."""
    return MaskedMax.apply(input, mask)


def _check_input(name: str, input) -> None:
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}: expected input to be a Tensor, got {type(input).__name__}")
    if input.ndim not in (2, 3) or input.shape[-1] == 0:
        raise RuntimeError(
            f"{name}: expected a non-empty 2-D (C, L) or 3-D (N, C, L) input, got shape "
            f"{tuple(input.shape)}"
        )
    if not input.is_floating_point():
        raise TypeError(f"{name}: expected a floating-point input, got {input.dtype}")


def _window(name, input, kernel_size, stride, padding, dilation, ceil_mode) -> _Window:
    _check_input(name, input)
    kernel = int1(name, "kernel_size", kernel_size, 1)
    if stride is None or (isinstance(stride, list | tuple) and not stride):
        stride = kernel
    stride = int1(name, "stride", stride, 1)
    padding = int1(name, "padding", padding, 0)
    if 2 * padding > kernel:
        raise ValueError(
            f"{name}: padding should be at most half of kernel_size, got padding={padding} "
            f"and kernel_size={kernel}"
        )
    dilation = int1(name, "dilation", dilation, 1)
    return _Window(name, input.shape[-1], kernel, stride, padding, dilation, ceil_mode)


def max_pool1d(
    input: Tensor,
    kernel_size: int,
    stride: int | None = None,
    padding: int = 0,
    dilation: int = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
):
    """Max over sliding windows of the last axis, as ``torch.nn.functional.max_pool1d``.

    ``stride`` defaults to ``kernel_size``; padding counts as ``-inf``; ``return_indices`` also
    returns the int64 positions of the maxima in the unpadded input (the first one on ties).
    The gradient flows to those positions.

    Example
    -------
    >>> max_pool1d(biotorch.randn(8, 320, 993), 4).shape   # DeepSEA's first pooling
    (8, 320, 248)
    """
    window = _window("max_pool1d", input, kernel_size, stride, padding, dilation, ceil_mode)
    return MaxPool1d.apply(input, window=window, return_indices=bool(return_indices))


def avg_pool1d(
    input: Tensor,
    kernel_size: int,
    stride: int | None = None,
    padding: int = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Tensor:
    """Mean over sliding windows of the last axis, as ``torch.nn.functional.avg_pool1d``.

    With ``count_include_pad`` the zero padding counts in the divisor (windows that overhang
    the padding in ``ceil_mode`` do not count the overhang), otherwise only input elements do.
    """
    window = _window("avg_pool1d", input, kernel_size, stride, padding, 1, ceil_mode)
    return AvgPool1d.apply(input, window=window, count_include_pad=bool(count_include_pad))


def _output_size(name: str, input, output_size) -> int:
    _check_input(name, input)
    return int1(name, "output_size", output_size, 1)


def adaptive_max_pool1d(input: Tensor, output_size: int, return_indices: bool = False):
    """Max over ``output_size`` bins ``[floor(i L / out), ceil((i+1) L / out))`` of the last
    axis, as ``torch.nn.functional.adaptive_max_pool1d``."""
    out = _output_size("adaptive_max_pool1d", input, output_size)
    length = input.shape[-1]
    if length % out == 0:
        return max_pool1d(input, length // out, return_indices=return_indices)
    return AdaptiveMaxPool1d.apply(input, out_len=out, return_indices=bool(return_indices))


def adaptive_avg_pool1d(input: Tensor, output_size: int) -> Tensor:
    """Mean over ``output_size`` bins ``[floor(i L / out), ceil((i+1) L / out))`` of the last
    axis, as ``torch.nn.functional.adaptive_avg_pool1d``."""
    out = _output_size("adaptive_avg_pool1d", input, output_size)
    length = input.shape[-1]
    if length % out == 0:
        return avg_pool1d(input, length // out)
    return AdaptiveAvgPool1d.apply(input, out_len=out)
