"""Elementwise arithmetic, math functions, comparisons and logical ops."""

from __future__ import annotations

from biotorch.autograd.function import Function
from biotorch.backend import array_module
from biotorch.ops.promotion import promote

__all__ = ["add", "sub", "mul", "div", "neg", "exp", "log", "pow"]


class Add(Function):
    @staticmethod
    def forward(ctx, a, b, alpha=1):
        ctx.alpha = alpha
        return a + b if alpha == 1 else a + alpha * b

    @staticmethod
    def backward(ctx, grad):
        return grad, (grad if ctx.alpha == 1 else ctx.alpha * grad)


class Sub(Function):
    @staticmethod
    def forward(ctx, a, b, alpha=1):
        ctx.alpha = alpha
        return a - b if alpha == 1 else a - alpha * b

    @staticmethod
    def backward(ctx, grad):
        return grad, (-grad if ctx.alpha == 1 else -ctx.alpha * grad)


class Mul(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        return (grad * b if ctx.needs_input_grad[0] else None), (
            grad * a if ctx.needs_input_grad[1] else None
        )


class Div(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a / b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        ga = grad / b if ctx.needs_input_grad[0] else None
        gb = -grad * a / (b * b) if ctx.needs_input_grad[1] else None
        return ga, gb


class Neg(Function):
    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def backward(ctx, grad):
        return -grad


class Exp(Function):
    @staticmethod
    def forward(ctx, a):
        out = array_module(a).exp(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * out


class Log(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return array_module(a).log(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad / a


class Pow(Function):
    @staticmethod
    def forward(ctx, a, b):
        out = a**b
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, b, out = ctx.saved_tensors
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = grad * b * a ** (b - 1)
        if ctx.needs_input_grad[1]:
            xp = array_module(out)
            gb = grad * out * xp.log(xp.where(a > 0, a, 1))
        return ga, gb


def add(input, other, *, alpha=1):
    """``input + alpha * other`` with broadcasting."""
    return Add.apply(*promote("add", input, other), alpha=alpha)


def sub(input, other, *, alpha=1):
    """``input - alpha * other`` with broadcasting."""
    return Sub.apply(*promote("sub", input, other), alpha=alpha)


def mul(input, other):
    """Elementwise product with broadcasting."""
    return Mul.apply(*promote("mul", input, other))


def div(input, other):
    """True division (integer inputs give the default float dtype)."""
    a, b = promote("div", input, other)
    return Div.apply(*_to_float(a, b))


def _to_float(*args):
    from biotorch.dtypes import get_default_dtype
    from biotorch.tensor import Tensor

    return tuple(
        a.to(get_default_dtype()) if isinstance(a, Tensor) and not a.is_floating_point() else a
        for a in args
    )


def neg(input):
    return Neg.apply(input)


def exp(input):
    return Exp.apply(*_to_float(input))


def log(input):
    return Log.apply(*_to_float(input))


def pow(input, exponent):
    """``input ** exponent``; either may be a tensor or a number."""
    return Pow.apply(*promote("pow", input, exponent))
