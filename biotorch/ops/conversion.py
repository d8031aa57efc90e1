"""Dtype casts, device transfers, copies and in-place fill helpers."""

from __future__ import annotations

from biotorch import backend
from biotorch.autograd.function import Function
from biotorch.backend import array_module
from biotorch.dtypes import dtype as _dtype
from biotorch.dtypes import to_dtype
from biotorch.tensor import Tensor

__all__ = ["clone"]


class Cast(Function):
    @staticmethod
    def forward(ctx, a, numpy_dtype):
        ctx.input_dtype = a.dtype
        return a.astype(numpy_dtype)

    @staticmethod
    def backward(ctx, grad):
        return grad.astype(ctx.input_dtype), None


class ToDevice(Function):
    @staticmethod
    def forward(ctx, a, device):
        ctx.input_device = backend.device_of(a)
        return backend.to_device(a, device)

    @staticmethod
    def backward(ctx, grad):
        return backend.to_device(grad, ctx.input_device), None


class Clone(Function):
    @staticmethod
    def forward(ctx, a):
        return a.copy()

    @staticmethod
    def backward(ctx, grad):
        return grad


class CopyFrom(Function):
    """The values of ``src`` broadcast to ``dest``'s shape, dtype and device (for ``copy_``)."""

    @staticmethod
    def forward(ctx, dest, src):
        ctx.src_dtype, ctx.src_device = src.dtype, backend.device_of(src)
        xp = array_module(dest)
        moved = backend.to_device(src, backend.device_of(dest))
        return xp.broadcast_to(moved, dest.shape).astype(dest.dtype)

    @staticmethod
    def backward(ctx, grad):
        return None, backend.to_device(grad, ctx.src_device).astype(ctx.src_dtype)


def cast(input: Tensor, dtype: _dtype) -> Tensor:
    """``input`` converted to ``dtype`` (gradients flow back in the input's dtype)."""
    return Cast.apply(input, to_dtype(dtype).numpy)


def to_device(input: Tensor, device) -> Tensor:
    """``input`` copied to ``device`` (gradients flow back to the input's device)."""
    return ToDevice.apply(input, backend.device(device))


def clone(input: Tensor) -> Tensor:
    """A copy of ``input`` with its own storage; differentiable."""
    return Clone.apply(input)


def copy_from(dest: Tensor, src) -> Tensor:
    """The result ``dest.copy_(src)`` writes: ``src`` broadcast, cast and moved to ``dest``."""
    if not isinstance(src, Tensor):
        src = Tensor(array_module(dest._data).asarray(src))
    return CopyFrom.apply(dest.detach(), src)


def full_like_from(dest: Tensor, value) -> Tensor:
    """A tensor shaped like ``dest`` filled with ``value`` (the result ``fill_`` writes)."""
    xp = array_module(dest._data)
    value = value.item() if isinstance(value, Tensor) else value
    return Tensor._make(xp.full(dest.shape, value, dtype=dest._data.dtype), False, None, 0)


def uniform_like(dest: Tensor, a: float, b: float, generator=None) -> Tensor:
    """Uniform [a, b) values shaped like ``dest`` (the result ``uniform_`` writes)."""
    gen = backend.generator_for(dest.device, generator)
    values = gen.random(dest.shape, dest._data.dtype)
    return Tensor._make(values * (b - a) + a, False, None, 0)


def normal_like(dest: Tensor, mean: float, std: float, generator=None) -> Tensor:
    """Normal(mean, std) values shaped like ``dest`` (the result ``normal_`` writes)."""
    gen = backend.generator_for(dest.device, generator)
    values = gen.normal(dest.shape, dest._data.dtype)
    return Tensor._make(values * std + mean, False, None, 0)
