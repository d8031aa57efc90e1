"""Layer and batch normalisation, each one fused op with an analytic backward."""

from __future__ import annotations

from biotorch.autograd.function import Function
from biotorch.backend import array_module

__all__ = ["layer_norm", "batch_norm"]


def _normalize(x, axes: tuple, eps: float):
    """``(x - mean) / sqrt(var + eps)`` over ``axes`` (biased variance); returns
    ``(xhat, mean, var, rstd)`` with the statistics kept as broadcastable arrays."""
    xp = array_module(x)
    mean = x.mean(axis=axes, keepdims=True)
    xhat = xp.subtract(x, mean, out=xp.empty_like(x))
    var = xp.square(xhat).mean(axis=axes, keepdims=True)
    rstd = 1.0 / xp.sqrt(var + eps)
    xhat *= rstd
    return xhat, mean, var, rstd


def _normalized_grad(g, xhat, rstd, axes: tuple):
    """Gradient with respect to ``x`` of ``xhat = normalize(x)`` over ``axes``, given ``g``, the
    gradient with respect to ``xhat``: ``rstd * (g - mean(g) - xhat * mean(g * xhat))``."""
    gx = g - g.mean(axis=axes, keepdims=True)
    gx -= xhat * (g * xhat).mean(axis=axes, keepdims=True)
    gx *= rstd
    return gx


def _affine(xhat, weight, bias):
    """``xhat * weight + bias`` (either may be None; ``xhat`` is not modified)."""
    if weight is None:
        return xhat if bias is None else xhat + bias
    out = xhat * weight
    if bias is not None:
        out += bias
    return out


class LayerNorm(Function):
    @staticmethod
    def forward(ctx, x, weight, bias, axes, eps):
        xhat, _, _, rstd = _normalize(x, axes, eps)
        out = _affine(xhat, weight, bias)
        ctx.axes = axes
        ctx.save_for_backward(xhat, rstd, weight)
        return out

    @staticmethod
    def backward(ctx, grad):
        xhat, rstd, weight = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        gx = None
        if need_x:
            g = grad if weight is None else grad * weight
            gx = _normalized_grad(g, xhat, rstd, ctx.axes)
        # Weight and bias gradients come back in the input's shape; the engine sums them down.
        gw = grad * xhat if need_w else None
        gb = grad if need_b else None
        return gx, gw, gb, None, None


class BatchNorm(Function):
    """Normalise per channel (dimension 1). In training, batch statistics are used and the
    running statistics (arguments 1 and 2, if given) are updated in place."""

    @staticmethod
    def forward(ctx, x, running_mean, running_var, weight, bias, training, momentum, eps):
        xp = array_module(x)
        axes = (0,) + tuple(range(2, x.ndim))
        bshape = (x.shape[1],) + (1,) * (x.ndim - 2)
        if training:
            xhat, mean, var, rstd = _normalize(x, axes, eps)
            if running_mean is not None:
                n = x.size // x.shape[1]
                running_mean *= 1.0 - momentum
                running_mean += (momentum * mean).reshape(-1).astype(running_mean.dtype)
            if running_var is not None:
                running_var *= 1.0 - momentum
                unbiased = var.reshape(-1) * (momentum * n / (n - 1))
                running_var += unbiased.astype(running_var.dtype)
        else:
            rstd = (1.0 / xp.sqrt(running_var + eps)).reshape(bshape).astype(x.dtype)
            xhat = x - running_mean.reshape(bshape).astype(x.dtype)
            xhat *= rstd
        w = None if weight is None else weight.reshape(bshape)
        b = None if bias is None else bias.reshape(bshape)
        ctx.axes, ctx.bshape, ctx.training = axes, bshape, training
        ctx.save_for_backward(xhat, rstd, weight)
        return _affine(xhat, w, b)

    @staticmethod
    def backward(ctx, grad):
        xhat, rstd, weight = ctx.saved_tensors
        need = ctx.needs_input_grad
        gx = gw = gb = None
        if need[0]:
            g = grad if weight is None else grad * weight.reshape(ctx.bshape)
            gx = _normalized_grad(g, xhat, rstd, ctx.axes) if ctx.training else g * rstd
        if need[3]:
            gw = (grad * xhat).sum(axis=ctx.axes)
        if need[4]:
            gb = grad.sum(axis=ctx.axes)
        return gx, None, None, gw, gb, None, None, None


def _check_param(name: str, arg: str, t, shape: tuple) -> None:
    if t is not None and tuple(t.shape) != shape:
        raise RuntimeError(f"{name}: '{arg}' has shape {tuple(t.shape)}, expected {shape}")


def layer_norm(input, normalized_shape, weight=None, bias=None, eps: float = 1e-5):
    """Normalise over the trailing ``normalized_shape`` dimensions (mean 0, biased variance 1),
    then scale by ``weight`` and shift by ``bias`` (both of shape ``normalized_shape``)."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(shape)
    if k > input.ndim or tuple(input.shape[input.ndim - k :]) != shape:
        raise RuntimeError(
            f"layer_norm: normalized_shape={list(shape)} expects an input of shape "
            f"[*, {', '.join(map(str, shape))}], got {list(input.shape)}"
        )
    _check_param("layer_norm", "weight", weight, shape)
    _check_param("layer_norm", "bias", bias, shape)
    axes = tuple(range(input.ndim - k, input.ndim))
    return LayerNorm.apply(input, weight, bias, axes, eps)


def batch_norm(
    input,
    running_mean,
    running_var,
    weight=None,
    bias=None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
):
    """Batch normalisation of an ``(N, C)`` or ``(N, C, L, ...)`` input per channel ``C``.

    In training, normalise with the batch mean and biased variance, and update
    ``running_mean``/``running_var`` in place (``(1 - momentum) * running + momentum * batch``,
    with the unbiased batch variance), as PyTorch. Otherwise use the running statistics.
    """
    if input.ndim < 2:
        raise ValueError(
            f"batch_norm: expected an input of shape (N, C) or (N, C, L, ...), "
            f"got shape {tuple(input.shape)}"
        )
    channels = input.shape[1]
    for arg, t in (("running_mean", running_mean), ("running_var", running_var)):
        if t is None and not training:
            raise RuntimeError(f"batch_norm: {arg} must be given in evaluation mode")
        _check_param("batch_norm", arg, t, (channels,))
    _check_param("batch_norm", "weight", weight, (channels,))
    _check_param("batch_norm", "bias", bias, (channels,))
    if training:
        if input.numel() // channels <= 1:
            raise ValueError(
                f"batch_norm: expected more than 1 value per channel when training, "
                f"got input of shape {tuple(input.shape)}"
            )
        if momentum is None:
            raise TypeError("batch_norm: momentum must be a float, got None")
    out = BatchNorm.apply(input, running_mean, running_var, weight, bias, training, momentum, eps)
    if training:
        for t in (running_mean, running_var):
            if t is not None:
                t._version_box[0] += 1
    return out
