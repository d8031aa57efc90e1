"""Activation functions of ``biotorch.nn.functional`` (``relu``, ``sigmoid`` and ``tanh`` are the
elementwise ops, re-exported)."""

from __future__ import annotations

import math

import numpy as np

from biotorch.autograd.function import Function
from biotorch.backend import array_module
from biotorch.ops.elementwise import as_array, relu, sigmoid, sigmoid_array, tanh
from biotorch.tensor import Tensor

__all__ = [
    "relu",
    "sigmoid",
    "tanh",
    "leaky_relu",
    "elu",
    "gelu",
    "softplus",
    "silu",
    "hardtanh",
    "relu6",
]

_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_TANH_SCALE = math.sqrt(2.0 / math.pi)
_TANH_CUBIC = 0.044715

# erfc(z) = t * exp(-z^2 + 0.5 * (c0 + ty * d) - dd), z >= 0, by Clenshaw's recurrence over a
# Chebyshev series (Numerical Recipes, 3rd ed., Erf::erfccheb): relative error < 1e-14.
_ERFC_CHEBYSHEV = (
    -1.3026537197817094, 6.4196979235649026e-1, 1.9476473204185836e-2, -9.561514786808631e-3,
    -9.46595344482036e-4, 3.66839497852761e-4, 4.2523324806907e-5, -2.0278578112534e-5,
    -1.624290004647e-6, 1.303655835580e-6, 1.5626441722e-8, -8.5238095915e-8,
    6.529054439e-9, 5.059343495e-9, -9.91364156e-10, -2.27365122e-10,
    9.6467911e-11, 2.394038e-12, -6.886027e-12, 8.94487e-13, 3.13092e-13,
    -1.12708e-13, 3.81e-16, 7.106e-15, -1.523e-15, -9.4e-17, 1.21e-16, -2.8e-17,
)  # fmt: skip
# erfc(z) = t * exp(-z^2 + P(t)), t = 1 / (1 + z / 2), z >= 0 (Numerical Recipes' erfcc):
# relative error < 1.2e-7, enough for float32 and float16 at a fraction of the cost.
_ERFC_SINGLE = (
    -1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806,
    0.27886807, -1.13520398, 1.48851587, -0.82215223, 0.17087277,
)  # fmt: skip


def _erfc_nonnegative(z):
    """``erfc(z)`` for ``z >= 0``, in ``z``'s float dtype."""
    xp = array_module(z)
    if z.dtype == np.float64:
        t = 2.0 / (z + 2.0)
        ty = t * 4.0 - 2.0
        d = xp.zeros_like(z)
        dd = xp.zeros_like(z)
        for c in _ERFC_CHEBYSHEV[:0:-1]:
            d, dd = ty * d - dd + c, d
        return t * xp.exp(-z * z + (ty * d + _ERFC_CHEBYSHEV[0]) * 0.5 - dd)
    t = 1.0 / (z * 0.5 + 1.0)
    p = xp.full_like(z, _ERFC_SINGLE[-1])
    for c in _ERFC_SINGLE[-2::-1]:
        p *= t
        p += c
    p -= z * z
    xp.exp(p, out=p)
    p *= t
    return p


def normal_cdf(x):
    """The standard normal CDF ``Phi(x) = erfc(-x / sqrt(2)) / 2`` of a float array."""
    xp = array_module(x)
    if xp is not np:
        from cupyx.scipy.special import ndtr

        return ndtr(x)
    half_tail = _erfc_nonnegative(xp.abs(x) * _SQRT_HALF)
    half_tail *= 0.5
    return xp.where(x < 0, half_tail, 1.0 - half_tail)


def _floating(name: str, input) -> Tensor:
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}: expected a Tensor for 'input', got {type(input).__name__}")
    if input._data.dtype.kind != "f":
        raise TypeError(f"{name}: expected a floating-point tensor for 'input', got {input.dtype}")
    return input


class LeakyRelu(Function):
    @staticmethod
    def forward(ctx, a, slope):
        ctx.slope = slope
        positive = a > 0
        ctx.save_for_backward(positive)
        return array_module(a).where(positive, a, a * slope)

    @staticmethod
    def backward(ctx, grad):
        (positive,) = ctx.saved_tensors
        return array_module(grad).where(positive, grad, grad * ctx.slope), None


class Elu(Function):
    @staticmethod
    def forward(ctx, a, alpha):
        xp = array_module(a)
        ctx.alpha = alpha
        ctx.save_for_backward(a)
        negative_part = as_array(xp.expm1(xp.minimum(a, 0.0)))
        negative_part *= alpha
        return xp.where(a > 0, a, negative_part)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        xp = array_module(a)
        slope = as_array(xp.exp(xp.minimum(a, 0.0)))
        slope *= ctx.alpha
        return xp.where(a > 0, grad, grad * slope), None


class Gelu(Function):
    @staticmethod
    def forward(ctx, a):
        cdf = normal_cdf(a)
        ctx.save_for_backward(a, cdf)
        return a * cdf

    @staticmethod
    def backward(ctx, grad):
        a, cdf = ctx.saved_tensors
        xp = array_module(a)
        density = as_array(a * a)
        density *= -0.5
        xp.exp(density, out=density)
        density *= a * _INV_SQRT_2PI
        density += cdf
        return grad * density


class GeluTanh(Function):
    @staticmethod
    def forward(ctx, a):
        inner = as_array(a * a)
        inner *= _TANH_CUBIC
        inner += 1.0
        inner *= a * _TANH_SCALE
        th = array_module(a).tanh(inner, out=inner)
        ctx.save_for_backward(a, th)
        return (th + 1.0) * (a * 0.5)

    @staticmethod
    def backward(ctx, grad):
        a, th = ctx.saved_tensors
        a2 = a * a
        inner_slope = (a2 * (3.0 * _TANH_CUBIC) + 1.0) * _TANH_SCALE
        slope = (1.0 - th * th) * inner_slope * (a * 0.5) + (th + 1.0) * 0.5
        return grad * slope


class Softplus(Function):
    @staticmethod
    def forward(ctx, a, beta, threshold):
        xp = array_module(a)
        z = a * beta if beta != 1 else a
        ctx.save_for_backward(z)
        ctx.threshold = threshold
        soft = xp.log1p(xp.exp(-xp.abs(z)))
        soft += xp.maximum(z, 0.0)
        if beta != 1:
            soft /= beta
        return xp.where(z > threshold, a, soft)

    @staticmethod
    def backward(ctx, grad):
        (z,) = ctx.saved_tensors
        xp = array_module(z)
        return xp.where(z > ctx.threshold, grad, grad * sigmoid_array(z)), None, None


class Silu(Function):
    @staticmethod
    def forward(ctx, a):
        s = sigmoid_array(a)
        ctx.save_for_backward(a, s)
        return a * s

    @staticmethod
    def backward(ctx, grad):
        a, s = ctx.saved_tensors
        slope = 1.0 - s
        slope *= a
        slope += 1.0
        slope *= s
        return grad * slope


class Hardtanh(Function):
    @staticmethod
    def forward(ctx, a, min_val, max_val):
        ctx.save_for_backward(a)
        ctx.bounds = (min_val, max_val)
        return array_module(a).clip(a, min_val, max_val)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        lo, hi = ctx.bounds
        inside = (a > lo) & (a < hi)
        return array_module(grad).where(inside, grad, 0), None, None


def _maybe_inplace(inplace: bool, fn, input: Tensor, *args) -> Tensor:
    return input._inplace(fn, *args) if inplace else fn(input, *args)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """``input`` where positive, ``negative_slope * input`` elsewhere."""
    _floating("leaky_relu", input)
    return _maybe_inplace(inplace, LeakyRelu.apply, input, float(negative_slope))


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``input`` where positive, ``alpha * (exp(input) - 1)`` elsewhere."""
    _floating("elu", input)
    return _maybe_inplace(inplace, Elu.apply, input, float(alpha))


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """Gaussian error linear unit ``input * Phi(input)``.

    ``approximate="tanh"`` uses ``0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 x^3)))``.
    """
    _floating("gelu", input)
    if approximate == "none":
        return Gelu.apply(input)
    if approximate == "tanh":
        return GeluTanh.apply(input)
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """``log(1 + exp(beta * input)) / beta``, linear where ``beta * input > threshold``."""
    _floating("softplus", input)
    return Softplus.apply(input, float(beta), float(threshold))


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """``input * sigmoid(input)`` (also called swish)."""
    _floating("silu", input)
    return _maybe_inplace(inplace, Silu.apply, input)


def hardtanh(
    input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False
) -> Tensor:
    """``input`` clamped to ``[min_val, max_val]``; the gradient passes strictly inside."""
    _floating("hardtanh", input)
    if min_val > max_val:
        raise ValueError(
            f"hardtanh: min_val ({min_val}) must not be greater than max_val ({max_val})"
        )
    return _maybe_inplace(inplace, Hardtanh.apply, input, float(min_val), float(max_val))


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """``min(max(input, 0), 6)``."""
    return hardtanh(input, 0.0, 6.0, inplace)
