"""Loss functions, as in ``torch.nn.functional``: each is one fused op with its reduction inside.

Reductions are ``"none"``, ``"mean"`` and ``"sum"`` (``kl_div`` also takes ``"batchmean"``); the
deprecated ``size_average``/``reduce`` arguments are accepted and mapped as PyTorch maps them.
Class-index losses take input ``(C,)``, ``(N, C)`` or ``(N, C, d1, ...)`` (sequence models use
``(N, C, L)``) with targets ``()``, ``(N,)`` or ``(N, d1, ...)``; internally the input is viewed as
``(N, C, D)`` and the target as ``(N, D)``.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from biotorch.autograd.function import Function
from biotorch.autograd.grad_mode import is_grad_enabled
from biotorch.backend import array_module
from biotorch.ops.promotion import promote
from biotorch.ops.softmax import log_softmax_array
from biotorch.tensor import Tensor

__all__ = [
    "binary_cross_entropy_with_logits",
    "binary_cross_entropy",
    "cross_entropy",
    "nll_loss",
    "mse_loss",
    "l1_loss",
    "huber_loss",
    "smooth_l1_loss",
    "poisson_nll_loss",
    "kl_div",
    "margin_ranking_loss",
]

_REDUCTIONS = ("none", "mean", "sum")


# -- reduction helpers (forward and backward) ----------------------------------------------------
def _reduce(loss, reduction: str, count=None):
    """Reduce elementwise ``loss``; the mean divides by ``count`` (default: its size)."""
    if reduction == "none":
        return loss
    total = loss.sum()
    if reduction == "sum":
        return total
    return total / (loss.size if count is None else count)  # nan for an empty batch, as torch


def _upstream(grad, reduction: str, count):
    """The gradient reaching each loss element: ``grad`` (broadcasts), over ``count`` for mean."""
    return grad / count if reduction == "mean" else grad


# -- argument checks ----------------------------------------------------------------------------
def _reduction(name, reduction, size_average=None, reduce=None, allowed=_REDUCTIONS) -> str:
    """Validate ``reduction``, or map the deprecated ``size_average``/``reduce`` to it."""
    if size_average is not None or reduce is not None:
        reduce = True if reduce is None else reduce
        size_average = True if size_average is None else size_average
        reduction = ("mean" if size_average else "sum") if reduce else "none"
        warnings.warn(
            f"{name}: size_average and reduce are deprecated; use reduction={reduction!r}",
            stacklevel=3,
        )
    if reduction not in allowed:
        raise ValueError(
            f"{name}: {reduction!r} is not a valid value for reduction; "
            f"expected one of {', '.join(map(repr, allowed))}"
        )
    return reduction


def _tensors(name: str, **tensors) -> None:
    for arg, value in tensors.items():
        if not isinstance(value, Tensor):
            raise TypeError(f"{name}: expected a Tensor for '{arg}', got {type(value).__name__}")


def _float_pair(name: str, input, target):
    """``input`` and ``target`` checked as Tensors and promoted to one floating dtype."""
    _tensors(name, input=input, target=target)
    input, target = promote(name, input, target)
    if not input.is_floating_point():
        raise TypeError(
            f"{name}: expected floating-point input and target, got {input.dtype} and "
            f"{target.dtype}"
        )
    return input, target


def _constant(name: str, arg: str, value, shape: tuple, dtype):
    """A weight-like tensor: broadcastable to ``shape``, cast to ``dtype``, not requiring grad
    (these losses are not differentiable with respect to it, as in PyTorch)."""
    if value is None:
        return None
    _tensors(name, **{arg: value})
    if value.requires_grad and is_grad_enabled():
        raise RuntimeError(
            f"{name}: the loss is not differentiable with respect to '{arg}', which requires "
            f"grad; pass {arg}.detach()"
        )
    try:
        fits = np.broadcast_shapes(tuple(value.shape), shape) == shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(
            f"{name}: {arg} of shape {tuple(value.shape)} does not broadcast to the input's "
            f"shape {shape}"
        )
    return value.to(dtype)


def _same_shape(name: str, input, target) -> None:
    if input.shape != target.shape:
        raise ValueError(
            f"{name}: target has shape {tuple(target.shape)}, expected the input's shape "
            f"{tuple(input.shape)}"
        )


def _broadcastable(name: str, input, target, warn: bool = True) -> None:
    """PyTorch's rule for regression losses: warn when shapes differ, raise when they clash."""
    a, b = tuple(input.shape), tuple(target.shape)
    if a == b:
        return
    try:
        np.broadcast_shapes(a, b)
    except ValueError:
        raise ValueError(f"{name}: target of shape {b} does not broadcast with input {a}") from None
    if warn:
        warnings.warn(
            f"{name}: using a target size {b} that is different to the input size {a}. This "
            f"will likely lead to incorrect results due to broadcasting. Please ensure they "
            f"have the same size.",
            stacklevel=4,
        )


def _n_c_d(shape: tuple) -> tuple:
    """``(N, C, D)``: an input of shape (C,), (N, C) or (N, C, d1, ...) seen as 3-d."""
    if len(shape) == 1:
        return 1, shape[0], 1
    return shape[0], shape[1], math.prod(shape[2:])


def _class_input(name: str, input, target, weight, ignore_index: int):
    """Check a class-index target against ``input``; return the cast class ``weight``."""
    if input.ndim == 0:
        raise ValueError(f"{name}: input must have shape (C,), (N, C) or (N, C, d1, ...), got ()")
    if not input.is_floating_point():
        raise TypeError(f"{name}: expected a floating-point input, got {input.dtype}")
    if target._data.dtype.kind not in "iu":
        raise TypeError(f"{name}: target must hold integer class indices, got {target.dtype}")
    shape = tuple(input.shape)
    expected = () if len(shape) == 1 else (shape[0],) + shape[2:]
    if tuple(target.shape) != expected:
        raise ValueError(
            f"{name}: target has shape {tuple(target.shape)}, expected {expected} for input of "
            f"shape {shape}"
        )
    n_classes = _n_c_d(shape)[1]
    t = target._data
    bad = (t != ignore_index) & ((t < 0) | (t >= n_classes))
    if bad.any():
        raise IndexError(
            f"{name}: target value {int(t[bad].reshape(-1)[0])} is out of range for "
            f"{n_classes} classes (expected 0 to {n_classes - 1}, or ignore_index="
            f"{ignore_index})"
        )
    return _class_weight(name, weight, n_classes, input.dtype)


def _class_weight(name: str, weight, n_classes: int, dtype):
    if weight is None:
        return None
    _tensors(name, weight=weight)
    if tuple(weight.shape) != (n_classes,):
        raise ValueError(
            f"{name}: weight of shape {tuple(weight.shape)} should hold one value per class, "
            f"shape ({n_classes},)"
        )
    return _constant(name, "weight", weight, (n_classes,), dtype)


# -- class-index helpers -------------------------------------------------------------------------
def _targets(xp, target, weight, ignore_index: int, shape: tuple, dtype):
    """For an ``(N, D)`` view of ``target``: the class of each element (0 where ignored), the
    kept mask, and each element's weight (0 where ignored)."""
    n, _, d = shape
    t = target.reshape(n, d).astype(xp.int64, copy=False)
    keep = t != ignore_index
    safe = xp.where(keep, t, 0)
    w = keep.astype(dtype) if weight is None else weight[safe] * keep
    return safe, keep, w


def _picked(x3, safe):
    """``x3[n, safe[n, d], d]`` for an ``(N, C, D)`` array."""
    return array_module(x3).take_along_axis(x3, safe[:, None, :], axis=1)[:, 0, :]


def _flat_index(xp, safe, n_classes: int):
    """Flat positions of ``(n, safe[n, d], d)`` in a C-contiguous ``(N, C, D)`` array."""
    n, d = safe.shape
    rows = xp.arange(n, dtype=xp.int64)[:, None] * n_classes
    return (rows + safe) * d + xp.arange(d, dtype=xp.int64)


def _per_element(grad, reduction: str, count, shape2):
    """Upstream gradient of each ``(N, D)`` loss element (a 0-d array when reduced)."""
    up = _upstream(grad, reduction, count)
    return up.reshape(shape2) if reduction == "none" else up


def _kept_upstream(xp, grad, reduction: str, count, keep):
    """Upstream gradient of each ``(N, D)`` class-index loss element, 0 where the target is
    ignored: PyTorch skips those, so a mean over no targets (0/0, nan) leaves zero gradients."""
    return xp.where(keep, _per_element(grad, reduction, count, keep.shape), 0.0)


# -- ops ----------------------------------------------------------------------------------------
class _DiffLoss(Function):
    """Elementwise loss of ``input - target`` (broadcast), reduced. Subclasses define
    ``value(xp, diff, param)`` and ``slope(xp, diff, param)``, its derivative."""

    @staticmethod
    def forward(ctx, input, target, reduction, param=None):
        diff = input - target
        ctx.reduction, ctx.param, ctx.count = reduction, param, diff.size
        ctx.save_for_backward(diff)
        return _reduce(type(ctx).value(array_module(diff), diff, param), reduction)

    @staticmethod
    def backward(ctx, grad):
        (diff,) = ctx.saved_tensors
        g = type(ctx).slope(array_module(diff), diff, ctx.param)
        g *= _upstream(grad, ctx.reduction, ctx.count)
        return (g if ctx.needs_input_grad[0] else None), (-g if ctx.needs_input_grad[1] else None)


class MSELoss(_DiffLoss):
    @staticmethod
    def value(xp, diff, param):
        return xp.square(diff)

    @staticmethod
    def slope(xp, diff, param):
        return 2.0 * diff


class L1Loss(_DiffLoss):
    @staticmethod
    def value(xp, diff, param):
        return xp.abs(diff)

    @staticmethod
    def slope(xp, diff, param):
        return xp.sign(diff)


class HuberLoss(_DiffLoss):
    @staticmethod
    def value(xp, diff, delta):
        a = xp.abs(diff)
        return xp.where(a < delta, 0.5 * diff * diff, delta * (a - 0.5 * delta))

    @staticmethod
    def slope(xp, diff, delta):
        return xp.clip(diff, -delta, delta)


class SmoothL1Loss(_DiffLoss):
    @staticmethod
    def value(xp, diff, beta):
        a = xp.abs(diff)
        return xp.where(a < beta, (0.5 / beta) * diff * diff, a - 0.5 * beta)

    @staticmethod
    def slope(xp, diff, beta):
        return xp.clip(diff * (1.0 / beta), -1.0, 1.0)


class MarginRankingLoss(Function):
    @staticmethod
    def forward(ctx, x1, x2, target, reduction, margin):
        diff = x1 - x2
        z = margin - target * diff
        ctx.reduction, ctx.count = reduction, z.size
        ctx.save_for_backward(diff, target, z)
        return _reduce(array_module(z).maximum(z, 0.0), reduction)

    @staticmethod
    def backward(ctx, grad):
        diff, target, z = ctx.saved_tensors
        up = (z >= 0) * _upstream(grad, ctx.reduction, ctx.count)
        needs = ctx.needs_input_grad
        g1 = -target * up if needs[0] or needs[1] else None
        return (
            g1 if needs[0] else None,
            -g1 if needs[1] else None,
            -diff * up if needs[2] else None,
        )


class PoissonNLLLoss(Function):
    @staticmethod
    def forward(ctx, input, target, reduction, log_input, full, eps):
        xp = array_module(input)
        if log_input:
            loss = xp.exp(input) - target * input
        else:
            loss = input - target * xp.log(input + eps)
        if full:
            big = target > 1
            t = xp.where(big, target, 1.0)
            loss = loss + big * (t * xp.log(t) - t + 0.5 * xp.log((2.0 * math.pi) * t))
        ctx.reduction, ctx.count, ctx.log_input, ctx.full, ctx.eps = (
            reduction,
            loss.size,
            log_input,
            full,
            eps,
        )
        ctx.save_for_backward(input, target)
        return _reduce(loss, reduction)

    @staticmethod
    def backward(ctx, grad):
        x, t = ctx.saved_tensors
        xp = array_module(x)
        up = _upstream(grad, ctx.reduction, ctx.count)
        gx = gt = None
        if ctx.needs_input_grad[0]:
            gx = (xp.exp(x) - t if ctx.log_input else 1.0 - t / (x + ctx.eps)) * up
        if ctx.needs_input_grad[1]:
            gt = -x if ctx.log_input else -xp.log(x + ctx.eps)
            if ctx.full:
                big = t > 1
                s = xp.where(big, t, 1.0)
                gt = gt + big * (xp.log(s) + 0.5 / s)
            gt = gt * up
        return gx, gt


class KLDivLoss(Function):
    @staticmethod
    def forward(ctx, input, target, reduction, log_target, count):
        xp = array_module(input)
        if log_target:
            loss = xp.exp(target) * (target - input)
        else:
            loss = xp.where(target == 0, 0.0, target * xp.log(target)) - target * input
        ctx.reduction, ctx.log_target = reduction, log_target
        ctx.count = loss.size if count is None else count
        ctx.save_for_backward(input, target)
        return _reduce(loss, reduction, ctx.count)

    @staticmethod
    def backward(ctx, grad):
        x, t = ctx.saved_tensors
        xp = array_module(x)
        up = _upstream(grad, ctx.reduction, ctx.count)
        e = xp.exp(t) if ctx.log_target else t
        gx = -e * up if ctx.needs_input_grad[0] else None
        gt = None
        if ctx.needs_input_grad[1]:
            if ctx.log_target:
                gt = e * (t - x + 1.0) * up
            else:
                gt = (xp.log(t) + 1.0 - x) * up
        return gx, gt


class BCEWithLogits(Function):
    @staticmethod
    def forward(ctx, input, target, weight, pos_weight, reduction):
        xp = array_module(input)
        # softplus(-x) = -log(sigmoid(x)), computed without overflow.
        sp = xp.log1p(xp.exp(-xp.abs(input))) + xp.maximum(-input, 0.0)
        if pos_weight is not None:
            sp *= (pos_weight - 1.0) * target + 1.0
        loss = (1.0 - target) * input + sp
        if weight is not None:
            loss *= weight
        ctx.reduction, ctx.count = reduction, loss.size
        ctx.save_for_backward(input, target, weight, pos_weight)
        return _reduce(loss, reduction)

    @staticmethod
    def backward(ctx, grad):
        x, t, weight, pos_weight = ctx.saved_tensors
        xp = array_module(x)
        up = _upstream(grad, ctx.reduction, ctx.count)
        if weight is not None:
            up = up * weight
        sp = xp.log1p(xp.exp(-xp.abs(x))) + xp.maximum(-x, 0.0)
        gx = gt = None
        if ctx.needs_input_grad[0]:
            if pos_weight is None:
                gx = xp.exp(-sp) - t  # sigmoid(x) - t
            else:
                gx = (1.0 - t) - ((pos_weight - 1.0) * t + 1.0) * -xp.expm1(-sp)
            gx *= up
        if ctx.needs_input_grad[1]:
            gt = -x if pos_weight is None else (pos_weight - 1.0) * sp - x
            gt = gt * up
        return gx, gt, None, None


def _clamped_log(xp, a):
    """``log(a)`` clamped below at -100, as PyTorch's binary cross entropy."""
    return xp.maximum(xp.log(a), -100.0)


class BCELoss(Function):
    @staticmethod
    def forward(ctx, input, target, weight, reduction):
        xp = array_module(input)
        log_q = _clamped_log(xp, 1.0 - input)
        loss = (target - 1.0) * log_q - target * _clamped_log(xp, input)
        if weight is not None:
            loss *= weight
        ctx.reduction, ctx.count = reduction, loss.size
        ctx.save_for_backward(input, target, weight)
        return _reduce(loss, reduction)

    @staticmethod
    def backward(ctx, grad):
        x, t, weight = ctx.saved_tensors
        xp = array_module(x)
        up = _upstream(grad, ctx.reduction, ctx.count)
        if weight is not None:
            up = up * weight
        gx = gt = None
        if ctx.needs_input_grad[0]:
            gx = (x - t) / xp.maximum((1.0 - x) * x, 1e-12) * up
        if ctx.needs_input_grad[1]:
            gt = (xp.log1p(-x) - xp.log(x)) * up
        return gx, gt, None


class NLLLoss(Function):
    @staticmethod
    def forward(ctx, input, target, weight, ignore_index, reduction):
        xp = array_module(input)
        shape = _n_c_d(input.shape)
        safe, keep, w = _targets(xp, target, weight, ignore_index, shape, input.dtype)
        loss = _picked(input.reshape(shape), safe)
        loss *= -w
        ctx.reduction, ctx.shape, ctx.input_shape = reduction, shape, input.shape
        ctx.count = w.sum() if reduction == "mean" else None
        ctx.safe, ctx.keep, ctx.w = safe, keep, w
        return _reduce(loss.reshape(target.shape), reduction, ctx.count)

    @staticmethod
    def backward(ctx, grad):
        xp = array_module(grad)
        up = _kept_upstream(xp, grad, ctx.reduction, ctx.count, ctx.keep)
        g = xp.zeros(ctx.shape, dtype=ctx.w.dtype)
        g.reshape(-1)[_flat_index(xp, ctx.safe, ctx.shape[1])] = -ctx.w * up
        return g.reshape(ctx.input_shape), None, None


class CrossEntropy(Function):
    """Log-softmax, negative log-likelihood and label smoothing for class-index targets."""

    @staticmethod
    def forward(ctx, input, target, weight, ignore_index, reduction, label_smoothing):
        xp = array_module(input)
        shape = _n_c_d(input.shape)
        lp = log_softmax_array(xp, input.reshape(shape), axis=1)
        safe, keep, w = _targets(xp, target, weight, ignore_index, shape, input.dtype)
        loss = _picked(lp, safe)
        loss *= w * -(1.0 - label_smoothing)
        if label_smoothing:
            wlp = lp if weight is None else lp * weight[:, None]
            loss -= (label_smoothing / shape[1]) * keep * wlp.sum(axis=1)
        ctx.reduction, ctx.label_smoothing, ctx.input_shape = (
            reduction,
            label_smoothing,
            input.shape,
        )
        ctx.count = w.sum() if reduction == "mean" else None
        ctx.safe, ctx.keep, ctx.w = safe, keep, w
        ctx.save_for_backward(lp, weight)
        out = _reduce(loss.reshape(target.shape), reduction, ctx.count)
        if label_smoothing and reduction == "mean":
            # Zero summed weight: PyTorch's nll term is 0/0, so the mean is nan (not ±inf).
            out = xp.where(ctx.count == 0, xp.nan, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        lp, weight = ctx.saved_tensors
        xp = array_module(lp)
        n_classes, ls = lp.shape[1], ctx.label_smoothing
        up = _kept_upstream(xp, grad, ctx.reduction, ctx.count, ctx.keep)
        # d loss / d logits = softmax * sum_c(q_c) - q, with q the coefficient of each -log p_c.
        on_target = (1.0 - ls) * ctx.w * up
        total = on_target
        if ls:
            smooth = (ls / n_classes) * up
            total = on_target + smooth * (n_classes if weight is None else weight.sum())
        g = xp.exp(lp)
        g *= total[:, None, :]
        g.reshape(-1)[_flat_index(xp, ctx.safe, n_classes)] -= on_target
        if ls:
            g -= smooth[:, None, :] if weight is None else smooth[:, None, :] * weight[:, None]
        return g.reshape(ctx.input_shape), None, None


class SoftCrossEntropy(Function):
    """Cross entropy against class probabilities (target of the input's shape)."""

    @staticmethod
    def forward(ctx, input, target, weight, reduction, label_smoothing):
        xp = array_module(input)
        shape = _n_c_d(input.shape)
        lp = log_softmax_array(xp, input.reshape(shape), axis=1)
        q = _soft_coefficients(target.reshape(shape), weight, label_smoothing)
        loss = -(lp * q).sum(axis=1)
        ctx.reduction, ctx.label_smoothing, ctx.count = reduction, label_smoothing, loss.size
        ctx.save_for_backward(lp, target, weight)
        out_shape = () if input.ndim == 1 else (shape[0],) + input.shape[2:]
        return _reduce(loss.reshape(out_shape), reduction)

    @staticmethod
    def backward(ctx, grad):
        lp, target, weight = ctx.saved_tensors
        xp = array_module(lp)
        up = _per_element(grad, ctx.reduction, ctx.count, (lp.shape[0], lp.shape[2]))
        up = up[:, None, :] if ctx.reduction == "none" else up
        gx = gt = None
        if ctx.needs_input_grad[0]:
            q = _soft_coefficients(target.reshape(lp.shape), weight, ctx.label_smoothing)
            gx = xp.exp(lp)
            gx *= q.sum(axis=1, keepdims=True)
            gx -= q
            gx = (gx * up).reshape(target.shape)
        if ctx.needs_input_grad[1]:
            scale = -(1.0 - ctx.label_smoothing)
            gt = lp * scale if weight is None else lp * (weight[:, None] * scale)
            gt = (gt * up).reshape(target.shape)
        return gx, gt, None


def _soft_coefficients(target3, weight, label_smoothing: float):
    """The coefficient of each ``-log p_c``: smoothed target probabilities times class weights."""
    q = target3
    if label_smoothing:
        q = q * (1.0 - label_smoothing) + label_smoothing / target3.shape[1]
    return q if weight is None else q * weight[:, None]


# -- public functions -----------------------------------------------------------------------------
def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    pos_weight: Tensor | None = None,
) -> Tensor:
    """Binary cross entropy of ``sigmoid(input)`` against ``target``, computed stably from logits.

    ``loss = -weight * (pos_weight * target * log σ(x) + (1 - target) * log(1 - σ(x)))``.
    ``target`` must have the input's shape; ``weight`` and ``pos_weight`` broadcast to it (a
    ``pos_weight`` of shape ``(C,)`` weights the positives of each class in the last dimension).
    Differentiable with respect to ``input`` and ``target``.
    """
    name = "binary_cross_entropy_with_logits"
    reduction = _reduction(name, reduction, size_average, reduce)
    input, target = _float_pair(name, input, target)
    _same_shape(name, input, target)
    shape = tuple(input.shape)
    weight = _constant(name, "weight", weight, shape, input.dtype)
    pos_weight = _constant(name, "pos_weight", pos_weight, shape, input.dtype)
    return BCEWithLogits.apply(input, target, weight, pos_weight, reduction=reduction)


def binary_cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """Binary cross entropy of probabilities ``input`` in [0, 1] against ``target``.

    ``loss = -weight * (target * log(x) + (1 - target) * log(1 - x))``, each log clamped at -100
    as in PyTorch. Prefer :func:`binary_cross_entropy_with_logits`, which is stable for saturated
    predictions.
    """
    name = "binary_cross_entropy"
    reduction = _reduction(name, reduction, size_average, reduce)
    input, target = _float_pair(name, input, target)
    _same_shape(name, input, target)
    for arg, t in (("input", input), ("target", target)):
        if t.numel() and (float(t._data.min()) < 0.0 or float(t._data.max()) > 1.0):
            raise ValueError(
                f"{name}: all elements of {arg} should be between 0 and 1, got values in "
                f"[{float(t._data.min()):g}, {float(t._data.max()):g}]"
            )
    weight = _constant(name, "weight", weight, tuple(input.shape), input.dtype)
    return BCELoss.apply(input, target, weight, reduction=reduction)


def cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: bool | None = None,
    ignore_index: int = -100,
    reduce: bool | None = None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Cross entropy between logits ``input`` and class indices or class probabilities.

    ``input`` is ``(C,)``, ``(N, C)`` or ``(N, C, d1, ...)``. An integer ``target`` of shape
    ``()``, ``(N,)`` or ``(N, d1, ...)`` holds class indices (``ignore_index`` entries count for
    nothing, and the weighted mean divides by the summed weights of the other targets: nan, with
    zero gradients, when every target is ignored, as PyTorch); a float
    ``target`` of the input's shape holds probabilities (the mean divides by the number of
    samples). ``label_smoothing`` mixes the target with the uniform distribution, as PyTorch.

    Example
    -------
    >>> logits = biotorch.randn(8, 4, 100, requires_grad=True)  # (batch, classes, length)
    >>> loss = cross_entropy(logits, biotorch.randint(0, 4, (8, 100)), ignore_index=-100)
    """
    name = "cross_entropy"
    reduction = _reduction(name, reduction, size_average, reduce)
    _tensors(name, input=input, target=target)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{name}: label_smoothing must be in [0, 1], got {label_smoothing}")
    if target.is_floating_point():
        if ignore_index >= 0:
            raise ValueError(
                f"{name}: ignore_index={ignore_index} is not supported with class-probability "
                f"(floating-point) targets"
            )
        input, target = _float_pair(name, input, target)
        if input.ndim == 0:
            raise ValueError(f"{name}: input must have shape (C,), (N, C) or (N, C, d1, ...)")
        _same_shape(name, input, target)
        weight = _class_weight(name, weight, _n_c_d(tuple(input.shape))[1], input.dtype)
        return SoftCrossEntropy.apply(
            input, target, weight, reduction=reduction, label_smoothing=float(label_smoothing)
        )
    weight = _class_input(name, input, target, weight, ignore_index)
    return CrossEntropy.apply(
        input,
        target,
        weight,
        ignore_index=ignore_index,
        reduction=reduction,
        label_smoothing=float(label_smoothing),
    )


def nll_loss(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: bool | None = None,
    ignore_index: int = -100,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """Negative log-likelihood of class indices ``target`` under log-probabilities ``input``.

    Shapes as :func:`cross_entropy` with class indices; ``loss = -weight[t] * input[n, t]``, and
    the mean divides by the summed weights of the targets that are not ``ignore_index`` (nan,
    with zero gradients, when every target is ignored, as PyTorch).
    """
    name = "nll_loss"
    reduction = _reduction(name, reduction, size_average, reduce)
    _tensors(name, input=input, target=target)
    weight = _class_input(name, input, target, weight, ignore_index)
    return NLLLoss.apply(input, target, weight, ignore_index=ignore_index, reduction=reduction)


def _weighted(name: str, loss: Tensor, input: Tensor, weight, reduction: str, by_weight: bool):
    """PyTorch's per-element ``weight`` for regression losses (differentiable in ``weight``)."""
    _tensors(name, weight=weight)
    if weight.shape != input.shape:
        raise ValueError(
            f"{name}: weight has shape {tuple(weight.shape)}, expected the input's shape "
            f"{tuple(input.shape)}"
        )
    loss = loss * weight
    if reduction == "none":
        return loss
    if reduction == "sum" or not by_weight:
        return loss.sum() if reduction == "sum" else loss.mean()
    return loss.sum() / weight.sum()


def _regression(name, fn, input, target, reduction, weight, by_weight, param=None):
    input, target = _float_pair(name, input, target)
    _broadcastable(name, input, target)
    if weight is None:
        return fn.apply(input, target, reduction=reduction, param=param)
    loss = fn.apply(input, target, reduction="none", param=param)
    return _weighted(name, loss, input, weight, reduction, by_weight)


def _squared_or_absolute(name: str, op, what: str):
    """``mse_loss`` and ``l1_loss``, which share PyTorch's signature and weighting."""

    def loss(
        input: Tensor,
        target: Tensor,
        size_average: bool | None = None,
        reduce: bool | None = None,
        reduction: str = "mean",
        weight: Tensor | None = None,
    ) -> Tensor:
        reduction = _reduction(name, reduction, size_average, reduce)
        return _regression(name, op, input, target, reduction, weight, True)

    loss.__name__ = loss.__qualname__ = name
    loss.__doc__ = (
        f"{what}; with ``weight`` (of the input's shape) the mean is\n"
        f"    ``sum(weight * loss) / sum(weight)``, as PyTorch."
    )
    return loss


mse_loss = _squared_or_absolute("mse_loss", MSELoss, "Squared error ``(input - target)**2``")
l1_loss = _squared_or_absolute("l1_loss", L1Loss, "Absolute error ``|input - target|``")


def huber_loss(
    input: Tensor,
    target: Tensor,
    reduction: str = "mean",
    delta: float = 1.0,
    weight: Tensor | None = None,
) -> Tensor:
    """Huber loss: ``0.5 * d**2`` where ``|d| < delta``, else ``delta * (|d| - 0.5 * delta)``;
    with ``weight``, the mean is ``mean(weight * loss)``, as PyTorch."""
    reduction = _reduction("huber_loss", reduction)
    if not delta > 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    return _regression("huber_loss", HuberLoss, input, target, reduction, weight, False, delta)


def smooth_l1_loss(
    input: Tensor,
    target: Tensor,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    beta: float = 1.0,
) -> Tensor:
    """Smooth L1: ``0.5 * d**2 / beta`` where ``|d| < beta``, else ``|d| - 0.5 * beta``
    (``beta=0`` is the L1 loss)."""
    reduction = _reduction("smooth_l1_loss", reduction, size_average, reduce)
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    if beta == 0:
        return _regression("smooth_l1_loss", L1Loss, input, target, reduction, None, True)
    return _regression("smooth_l1_loss", SmoothL1Loss, input, target, reduction, None, True, beta)


def poisson_nll_loss(
    input: Tensor,
    target: Tensor,
    log_input: bool = True,
    full: bool = False,
    size_average: bool | None = None,
    eps: float = 1e-8,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """Poisson negative log-likelihood of counts ``target``.

    ``exp(input) - target * input`` when ``log_input`` (input is the log-rate), else
    ``input - target * log(input + eps)``; ``full`` adds the Stirling approximation
    ``target * log(target) - target + 0.5 * log(2π target)`` for targets above 1.
    """
    name = "poisson_nll_loss"
    reduction = _reduction(name, reduction, size_average, reduce)
    input, target = _float_pair(name, input, target)
    _broadcastable(name, input, target, warn=False)
    return PoissonNLLLoss.apply(
        input, target, reduction=reduction, log_input=log_input, full=full, eps=eps
    )


def kl_div(
    input: Tensor,
    target: Tensor,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    log_target: bool = False,
) -> Tensor:
    """Kullback-Leibler divergence ``target * (log(target) - input)`` with log-probabilities
    ``input`` (``target`` is log-probabilities too when ``log_target``).

    ``reduction="batchmean"`` divides the sum by the batch size (the KL divergence per sample);
    ``"mean"`` divides by the number of elements, and warns, as PyTorch.
    """
    name = "kl_div"
    legacy = size_average is not None or reduce is not None
    allowed = _REDUCTIONS + ("batchmean",)
    reduction = _reduction(name, reduction, size_average, reduce, allowed)
    if reduction == "mean" and not legacy:
        warnings.warn(
            "kl_div: reduction='mean' divides the total loss by both the batch size and the "
            "support size; 'batchmean' divides only by the batch size, and matches the KL "
            "divergence's definition.",
            stacklevel=2,
        )
    input, target = _float_pair(name, input, target)
    _broadcastable(name, input, target, warn=False)
    count = None
    if reduction == "batchmean":
        reduction, count = ("mean", input.shape[0]) if input.ndim else ("sum", None)
    return KLDivLoss.apply(input, target, reduction=reduction, log_target=log_target, count=count)


def margin_ranking_loss(
    input1: Tensor,
    input2: Tensor,
    target: Tensor,
    margin: float = 0,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """``max(0, -target * (input1 - input2) + margin)``, with ``target`` in {1, -1} saying which
    input should rank higher."""
    name = "margin_ranking_loss"
    reduction = _reduction(name, reduction, size_average, reduce)
    _tensors(name, input1=input1, input2=input2, target=target)
    if not input1.ndim == input2.ndim == target.ndim:
        raise ValueError(
            f"{name}: all input tensors should have the same number of dimensions, got "
            f"input1 {tuple(input1.shape)}, input2 {tuple(input2.shape)}, target "
            f"{tuple(target.shape)}"
        )
    input1, input2 = _float_pair(name, input1, input2)
    input1, target = promote(name, input1, target)
    input2 = input2.to(input1.dtype)
    try:
        np.broadcast_shapes(tuple(input1.shape), tuple(input2.shape), tuple(target.shape))
    except ValueError:
        raise ValueError(
            f"{name}: shapes input1 {tuple(input1.shape)}, input2 {tuple(input2.shape)} and "
            f"target {tuple(target.shape)} do not broadcast together"
        ) from None
    return MarginRankingLoss.apply(
        input1, input2, target, reduction=reduction, margin=float(margin)
    )
