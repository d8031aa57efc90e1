"""1-D convolution, the hot op of sequence models (DeepSEA, Basset, DanQ).

``conv1d`` is a sum over the ``k`` kernel taps of shifted matrix products. The (padded) input is
laid out once as ``(groups, C_in/groups, stride phases, N * L/stride)``: every tap then reads a
contiguous, offset column range of that matrix, so each tap is one large GEMM over the whole
batch (batched over groups), with no im2col buffer (which would hold ``k`` copies of the input).
Columns that straddle two batch items are computed and dropped (a fraction ``(k-1)d/L``).
The weight gradient is one GEMM per tap, the input gradient the transposed sum of GEMMs.

When the stacked taps are small (the first layer of a DNA model: 4 channels x 19 taps; short
late layers), per-tap GEMMs are thin (inner dimension C_in) or tiny, and each one writes the
whole output; there the taps are stacked into one ``(k * C_in/groups, columns)`` matrix
(im2col, at most ``COLUMNS_MAX_ELEMENTS``) and each pass is a single GEMM. When that matrix
would be larger but a tap stack is at most ``STACK_MAX_DEPTH`` rows (e.g. 128 channels x 5
taps), the columns are taken in chunks of at most ``COLUMNS_MAX_ELEMENTS``: one GEMM per chunk
writes its slice of the output directly, instead of ``k`` GEMMs each followed by an add over
the whole output. The weight gradient of such a chunked layer is one GEMM per tap from the phase
planes saved by the forward (no im2col rebuilt); the planes are a padded copy of the input.
An ungrouped layer whose tap stack is at most ``THIN_MAX_DEPTH`` rows (one-hot DNA: 4 channels)
runs its forward as one GEMM per batch item instead (``_thin_forward``), which writes the
``(N, C_out, L_out)`` output with no re-layout; its backward is the one described above.
"""

from __future__ import annotations

from biotorch.autograd.function import Function
from biotorch.backend import array_module
from biotorch.tensor import Tensor

__all__ = ["conv1d"]

#: Largest stacked-taps (im2col) matrix, in elements, built instead of per-tap GEMMs.
COLUMNS_MAX_ELEMENTS = 1 << 22
#: Deepest tap stack (k * C_in/groups) taken in column chunks when the whole matrix is too big.
STACK_MAX_DEPTH = 1024
_MIN_CHUNK = 256  # narrowest column chunk worth a GEMM
#: Deepest tap stack (k * C_in) whose forward is one GEMM per batch item (see ``_thin_forward``).
THIN_MAX_DEPTH = 256


def int1(name: str, arg: str, value, minimum: int) -> int:
    """An int argument given as ``n`` or ``(n,)``, at least ``minimum``."""
    if isinstance(value, list | tuple) and len(value) == 1:
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(
            f"{name}: expected {arg} to be an int >= {minimum} (or a 1-tuple), got {value!r}"
        )
    return value


def _mm(a, b, out):
    """``out[...] = a @ b``; an elementwise product when the inner dimension is 1 (depthwise)."""
    xp = array_module(a)
    if a.shape[-1] == 1:
        return xp.multiply(a, b, out=out)
    return xp.matmul(a, b, out=out)


class _Geometry:
    """Where each kernel tap reads in the phase-split, flattened input."""

    def __init__(self, n, length, kernel, stride, pad, dilation):
        self.n, self.length, self.stride, self.pad = n, length, stride, pad
        padded = length + pad[0] + pad[1]
        self.out_len = (padded - dilation * (kernel - 1) - 1) // stride + 1
        self.q = -(-padded // stride)  # columns per batch item in each phase plane
        offsets = [k * dilation for k in range(kernel)]
        self.taps = [(o % stride, o // stride) for o in offsets]  # (phase, shift)
        self.cols = n * self.q - offsets[-1] // stride  # columns every tap can read

    def chunks(self, in_per_group) -> list | None:
        """Column ranges for the stacked-taps GEMMs, or None for per-tap GEMMs (see the module
        docstring)."""
        depth = len(self.taps) * in_per_group
        if len(self.taps) == 1:
            return None
        if depth * self.cols <= COLUMNS_MAX_ELEMENTS:
            return [(0, self.cols)]
        width = COLUMNS_MAX_ELEMENTS // depth
        if depth > STACK_MAX_DEPTH or width < _MIN_CHUNK:
            return None
        return [(lo, min(lo + width, self.cols)) for lo in range(0, self.cols, width)]

    def columns(self, planes, lo, hi):
        """Columns ``lo:hi`` of every tap's view stacked: (groups, k * C/groups, hi - lo), the
        im2col matrix."""
        xp = array_module(planes)
        g, cg = planes.shape[:2]
        out = xp.empty((g, len(self.taps), cg, hi - lo), dtype=planes.dtype)
        for k in range(len(self.taps)):
            out[:, k] = self.tap(planes, k, lo, hi)
        return out.reshape(g, len(self.taps) * cg, hi - lo)

    def planes(self, x, groups):
        """``x`` (N, C, L) as zero-padded phase planes (groups, C/groups, stride, N * q)."""
        xp = array_module(x)
        n, c, s, q = self.n, x.shape[1], self.stride, self.q
        if s == 1 and self.pad == (0, 0):
            buf = xp.ascontiguousarray(x.transpose(1, 0, 2))
        else:
            buf = xp.zeros((c, n, q * s), dtype=x.dtype)
            buf[:, :, self.pad[0] : self.pad[0] + self.length] = x.transpose(1, 0, 2)
        if s > 1:
            buf = xp.ascontiguousarray(buf.reshape(c, n, q, s).transpose(0, 3, 1, 2))
        return buf.reshape(groups, c // groups, s, n * q)

    def unplanes(self, planes):
        """The adjoint of :meth:`planes`: (groups, C/groups, stride, N * q) -> (N, C, L)."""
        xp = array_module(planes)
        g, cg, s, _ = planes.shape
        buf = planes.reshape(g * cg, s, self.n, self.q)
        buf = buf.transpose(0, 2, 3, 1).reshape(g * cg, self.n, self.q * s)
        start = self.pad[0]
        return xp.ascontiguousarray(buf[:, :, start : start + self.length].transpose(1, 0, 2))

    def tap(self, planes, k, lo=0, hi=None):
        """Columns ``lo:hi`` (default all) of tap ``k``'s view of the planes."""
        phase, shift = self.taps[k]
        return planes[:, :, phase, shift + lo : shift + (self.cols if hi is None else hi)]


class Conv1d(Function):
    @staticmethod
    def forward(ctx, x, weight, bias, stride=1, padding=(0, 0), dilation=1, groups=1):
        xp = array_module(x)
        ctx.unbatched = x.ndim == 2
        xb = x[None] if ctx.unbatched else x
        geo = _Geometry(xb.shape[0], xb.shape[2], weight.shape[2], stride, padding, dilation)
        ctx.geo, ctx.groups = geo, groups
        ctx.chunks = geo.chunks(weight.shape[1])
        if groups == 1 and weight.shape[1] * weight.shape[2] <= THIN_MAX_DEPTH:
            ctx.save_for_backward(x, weight, None)  # backward builds the planes
            out = _thin_forward(xb, weight, bias, geo, dilation)
            return out[0] if ctx.unbatched else out
        planes = geo.planes(xb, groups)
        wk = _taps_first(weight, groups)
        g, og = wk.shape[1], wk.shape[2]
        # The weight gradient reads the planes (a padded copy of x) instead of rebuilding them.
        ctx.save_for_backward(x, weight, planes if ctx.needs_input_grad[1] else None)
        y = xp.empty((g, og, geo.n * geo.q), dtype=x.dtype)
        acc = y[:, :, : geo.cols]
        if ctx.chunks:
            stacked = _stacked(wk)
            for lo, hi in ctx.chunks:
                xp.matmul(stacked, geo.columns(planes, lo, hi), out=acc[:, :, lo:hi])
        else:
            _mm(wk[0], geo.tap(planes, 0), out=acc)
            tmp = xp.empty_like(acc) if len(wk) > 1 else None
            for k in range(1, len(wk)):
                acc += _mm(wk[k], geo.tap(planes, k), out=tmp)
        y = y.reshape(g * og, geo.n, geo.q)[:, :, : geo.out_len].transpose(1, 0, 2)
        out = xp.empty(y.shape, dtype=x.dtype)
        if bias is None:
            out[...] = y
        else:
            xp.add(y, bias[:, None], out=out)
        return out[0] if ctx.unbatched else out

    @staticmethod
    def backward(ctx, grad):
        x, weight, planes = ctx.saved_tensors
        geo, groups = ctx.geo, ctx.groups
        xp = array_module(grad)
        gy = grad[None] if ctx.unbatched else grad
        n, o, out_len = gy.shape
        wk = _taps_first(weight, groups)
        g, og, cg = wk.shape[1:]
        gflat = xp.empty((g, og, n, geo.q), dtype=grad.dtype)
        gflat[..., :out_len] = gy.reshape(n, g, og, out_len).transpose(1, 2, 0, 3)
        gflat[..., out_len:] = 0
        gflat = gflat.reshape(g, og, n * geo.q)[:, :, : geo.cols]
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            gplanes = xp.zeros((g, cg, geo.stride, n * geo.q), dtype=grad.dtype)
            if ctx.chunks:
                stacked_t = _stacked(wk).swapaxes(-1, -2)
                for lo, hi in ctx.chunks:
                    gcols = xp.matmul(stacked_t, gflat[:, :, lo:hi])
                    per_tap = gcols.reshape(g, len(wk), cg, hi - lo)
                    for k in range(len(wk)):
                        view = geo.tap(gplanes, k, lo, hi)
                        view += per_tap[:, k]
            else:
                tmp = xp.empty((g, cg, geo.cols), dtype=grad.dtype)
                wt = wk.swapaxes(-1, -2)
                for k in range(len(wk)):
                    view = geo.tap(gplanes, k)
                    view += _mm(wt[k], gflat, out=tmp)
            gx = geo.unplanes(gplanes)
            gx = gx[0] if ctx.unbatched else gx
        if ctx.needs_input_grad[1]:
            if planes is None:
                planes = geo.planes(x[None] if ctx.unbatched else x, groups)
            if ctx.chunks and len(ctx.chunks) == 1:
                cols = geo.columns(planes, 0, geo.cols)
                gwk = xp.matmul(gflat, cols.swapaxes(-1, -2))
                gwk = gwk.reshape(g, og, len(wk), cg).transpose(2, 0, 1, 3)
            else:
                gwk = xp.empty(wk.shape, dtype=grad.dtype)
                for k in range(len(wk)):
                    xp.matmul(gflat, geo.tap(planes, k).swapaxes(-1, -2), out=gwk[k])
            gw = gwk.transpose(1, 2, 3, 0).reshape(weight.shape)
        if ctx.needs_input_grad[2]:
            gb = gflat.sum(axis=-1).reshape(o)  # its rows hold gy's and zeros, contiguously
        return gx, gw, gb


def _thin_forward(x, weight, bias, geo, dilation):
    """Forward of a shallow tap stack (one-hot DNA's 4 channels x k taps): each batch item's
    im2col ``(k * C_in, L_out)`` times the stacked weights, batched over items, which writes
    ``(N, C_out, L_out)`` directly (the wide-GEMM layout needs a re-layout copy, and a thin
    inner dimension gains little from one wide GEMM). Items are taken in groups whose im2col
    has at most ``COLUMNS_MAX_ELEMENTS``."""
    xp = array_module(x)
    n, c, length = x.shape
    o, _, k = weight.shape
    stride, (left, right), out_len = geo.stride, geo.pad, geo.out_len
    padded = x
    if left or right:
        padded = xp.zeros((n, c, length + left + right), dtype=x.dtype)
        padded[:, :, left : left + length] = x
    stacked = xp.ascontiguousarray(weight.transpose(0, 2, 1)).reshape(o, k * c)
    out = xp.empty((n, o, out_len), dtype=x.dtype)
    step = max(1, COLUMNS_MAX_ELEMENTS // (k * c * out_len))
    for lo in range(0, n, step):
        hi = min(lo + step, n)
        cols = xp.empty((hi - lo, k, c, out_len), dtype=x.dtype)
        for tap in range(k):
            start = tap * dilation
            cols[:, tap] = padded[lo:hi, :, start : start + (out_len - 1) * stride + 1 : stride]
        xp.matmul(stacked, cols.reshape(hi - lo, k * c, out_len), out=out[lo:hi])
    if bias is not None:
        out += bias[:, None]
    return out


def _taps_first(weight, groups):
    """(C_out, C_in/groups, k) -> contiguous (k, groups, C_out/groups, C_in/groups)."""
    o, cg, k = weight.shape
    w = weight.reshape(groups, o // groups, cg, k).transpose(3, 0, 1, 2)
    return array_module(weight).ascontiguousarray(w)


def _stacked(wk):
    """Taps-first weights (k, groups, C_out/groups, C_in/groups) as the (groups, C_out/groups,
    k * C_in/groups) left factor of the stacked-taps GEMM."""
    k, g, og, cg = wk.shape
    return wk.transpose(1, 2, 0, 3).reshape(g, og, k * cg)


def _padding(padding, kernel: int, stride: int, dilation: int) -> tuple:
    """``padding`` as (left, right), with "same" split as PyTorch splits it."""
    if padding == "valid":
        return (0, 0)
    if padding == "same":
        if stride != 1:
            raise ValueError("conv1d: padding='same' is not supported for strided convolutions")
        total = dilation * (kernel - 1)
        return (total // 2, total - total // 2)
    if isinstance(padding, str):
        raise ValueError(f"conv1d: padding must be an int, 'same' or 'valid', got {padding!r}")
    p = int1("conv1d", "padding", padding, 0)
    return (p, p)


def conv1d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | tuple = 1,
    padding: int | tuple | str = 0,
    dilation: int | tuple = 1,
    groups: int = 1,
) -> Tensor:
    """1-D convolution (cross-correlation) over ``(N, C_in, L)`` or ``(C_in, L)``, as
    ``torch.nn.functional.conv1d``.

    Parameters
    ----------
    input : Tensor
        ``(N, C_in, L)`` or unbatched ``(C_in, L)``.
    weight : Tensor
        ``(C_out, C_in / groups, kernel_size)``.
    bias : Tensor, optional
        ``(C_out,)``.
    stride, dilation : int or 1-tuple
    padding : int, 1-tuple, "same" or "valid"
        Zeros added on both sides; "same" keeps the length (stride 1 only; an odd total is
        padded one more on the right, as PyTorch does).
    groups : int
        Split channels into this many independent convolutions (``groups = C_in``: depthwise).

    Returns
    -------
    Tensor
        ``(N, C_out, L_out)`` with ``L_out = (L + 2 padding - dilation (k - 1) - 1) // stride + 1``.

    Example
    -------
    >>> x = biotorch.randn(8, 4, 1000)                  # one-hot DNA, batch of 8
    >>> w = biotorch.randn(320, 4, 8, requires_grad=True)
    >>> conv1d(x, w, padding="same").shape
    (8, 320, 1000)
    """
    _check_tensor("input", input)
    _check_tensor("weight", weight)
    if input.ndim not in (2, 3):
        raise RuntimeError(
            f"conv1d: expected a 2-D (unbatched) or 3-D (batched) input, got shape "
            f"{tuple(input.shape)}"
        )
    if weight.ndim != 3:
        raise RuntimeError(
            f"conv1d: expected a 3-D weight (out_channels, in_channels/groups, kernel_size), "
            f"got shape {tuple(weight.shape)}"
        )
    stride = int1("conv1d", "stride", stride, 1)
    dilation = int1("conv1d", "dilation", dilation, 1)
    groups = int1("conv1d", "groups", groups, 1)
    out_ch, in_per_group, kernel = weight.shape
    channels, length = input.shape[-2:]
    if channels != in_per_group * groups:
        raise RuntimeError(
            f"conv1d: input has {channels} channels, weight expects {in_per_group * groups} "
            f"({in_per_group} per group x {groups} groups)"
        )
    if out_ch % groups:
        raise RuntimeError(
            f"conv1d: out_channels {out_ch} (weight.shape[0]) is not divisible by groups {groups}"
        )
    if kernel == 0:
        raise RuntimeError(f"conv1d: weight has kernel size 0 (shape {tuple(weight.shape)})")
    if bias is not None:
        _check_tensor("bias", bias)
        if tuple(bias.shape) != (out_ch,):
            raise RuntimeError(
                f"conv1d: bias has shape {tuple(bias.shape)}, expected ({out_ch},) to match "
                f"weight's out_channels"
            )
    given = {"input": input, "weight": weight, "bias": bias}
    given = {name: t for name, t in given.items() if t is not None}
    if len({t.dtype for t in given.values()}) > 1 or not input.is_floating_point():
        names = ", ".join(f"{name}={t.dtype}" for name, t in given.items())
        raise TypeError(f"conv1d: expected floating tensors of one dtype, got {names}")
    pad = _padding(padding, kernel, stride, dilation)
    span = dilation * (kernel - 1) + 1
    if length + pad[0] + pad[1] < span:
        raise RuntimeError(
            f"conv1d: padded input length {length + pad[0] + pad[1]} is shorter than the "
            f"effective kernel size {span} (kernel_size {kernel}, dilation {dilation})"
        )
    if length == 0 or (input.ndim == 3 and input.shape[0] == 0):
        raise RuntimeError(f"conv1d: input of shape {tuple(input.shape)} is empty")
    return Conv1d.apply(
        input, weight, bias, stride=stride, padding=pad, dilation=dilation, groups=groups
    )


def _check_tensor(arg: str, value) -> None:
    if not isinstance(value, Tensor):
        raise TypeError(f"conv1d: expected {arg} to be a Tensor, got {type(value).__name__}")
