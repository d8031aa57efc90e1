"""Inverted dropout: elements (or whole channels) zeroed with probability ``p``, the rest scaled
by ``1 / (1 - p)``; the mask comes from the biotorch generator of the input's device."""

from __future__ import annotations

import numpy as np

from biotorch.autograd.function import Function
from biotorch.backend import device_of, generator_for

__all__ = ["dropout", "dropout1d"]


def _masked(a, mask, scale: float):
    out = a * mask
    if scale != 1.0:
        out *= scale
    return out


class Dropout(Function):
    """``x * mask * scale`` for a boolean keep-mask that broadcasts against ``x``."""

    @staticmethod
    def forward(ctx, x, mask, scale):
        ctx.mask, ctx.scale = mask, scale
        return _masked(x, mask, scale)

    @staticmethod
    def backward(ctx, grad):
        return _masked(grad, ctx.mask, ctx.scale), None, None


def _drop(input, p: float, mask_shape: tuple):
    """Draw a keep-mask of ``mask_shape`` and apply it (out of place)."""
    mask = generator_for(device_of(input._data)).random(mask_shape, np.float32) >= p
    return Dropout.apply(input, mask, 0.0 if p == 1 else 1.0 / (1.0 - p))


def _check_p(name: str, p: float) -> None:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{name}: dropout probability has to be between 0 and 1, but got {p}")


def _run(input, p: float, training: bool, inplace: bool, mask_shape: tuple):
    if not training or p == 0.0 or input.numel() == 0:
        return input
    if inplace:
        return input._inplace(_drop, p, mask_shape)
    return _drop(input, p, mask_shape)


def dropout(input, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Zero each element with probability ``p`` and scale the others by ``1 / (1 - p)``.

    As in PyTorch, the input itself is returned when ``training`` is False or ``p == 0``.
    The mask is drawn from the device's default generator (see ``biotorch.manual_seed``).
    """
    _check_p("dropout", p)
    return _run(input, p, training, inplace, input.shape)


def dropout1d(input, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Zero whole channels of a ``(N, C, L)`` or ``(C, L)`` input with probability ``p``."""
    _check_p("dropout1d", p)
    if input.ndim not in (2, 3):
        raise RuntimeError(
            f"dropout1d: expected a 2-D (C, L) or 3-D (N, C, L) input, got {input.ndim}-D input "
            f"of shape {tuple(input.shape)}"
        )
    return _run(input, p, training, inplace, input.shape[:-1] + (1,))
